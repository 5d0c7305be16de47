#!/usr/bin/perl

# Admin API, the life of an API (SEED steps 6-9, SPEC 3.2): saved with its
# basic information only, completed later, activated and deactivated,
# deleted; new versions; gatewayEndpoints per gateway location while
# active.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;
use WsApi::Admin;

my $redis = start_redis();
my $backend = start_backend();

# two gateway locations in two servers: gatewayEndpoints lists both
my $nginx = start_nginx(main => 'worker_processes 2;', http => admin_http(http_extra => <<'EOF'));
    server {
        listen 127.0.0.1:%%PORT_EDGE%%;
        location /edge/ws/ {
            ws_api_gateway;
            proxy_pass $ws_api_backend;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }
        location /other/ {
            return 200 "not a gateway\n";
        }
    }
EOF
my $A = admin_client($nginx);
my $gw = $nginx->port('gw');

# the members of SPEC 3.1
my @MEMBERS = sort qw(id type apiName apiVersion apiDescription teams wsUrl parameters messages
                      policies isActive gatewayEndpoints revision createdAt updatedAt);

sub gateway_status {
    my ($path, $port, %h) = @_;
    my $ws = ws_connect(port => $port // $gw, path => $path, timeout => 5, headers => \%h);
    my $s = $ws->status;
    $ws->disconnect if $s == 101;
    return $s;
}

###############################################################################
# save now, complete later

my $r = $A->post('apis', json => { apiName => 'quotes', apiVersion => '1.0',
                                    apiDescription => 'Live quotes' });
is($r->{status}, 201, 'created with its basic information alone');
my $id = $r->{json}{id};
is($r->{json}{isActive}, false, 'inactive');
ok(!defined $r->{json}{wsUrl}, 'no wsUrl yet');
is_deeply($r->{json}{gatewayEndpoints}, [], 'no gateway endpoints');

my $before = redis_dump($redis);
$r = $A->put("apis/$id/activate");
error_is($r, 409, '*', 'activation refused while wsUrl is missing: 409');
like($r->{json}{error}{message} // '', qr/wsUrl/, 'the message names wsUrl');
is_deeply(redis_dump($redis), $before, 'the refused activation changed nothing');
is($A->get("apis/$id")->{json}{isActive}, false, 'still inactive');

# wsUrl null is "missing" too
$r = $A->put("apis/$id", json => { apiName => 'quotes', apiDescription => 'Live quotes',
                                    wsUrl => undef });
is($r->{status}, 200, 'PUT with wsUrl null: 200');
error_is($A->put("apis/$id/activate"), 409, '*', 'still refused with wsUrl null: 409');

# complete the technical information
$r = $A->put("apis/$id", json => {
    apiName => 'quotes', apiVersion => '1.0', apiDescription => 'Live quotes',
    wsUrl => $backend->url('/quotes'),
    parameters => [{ name => 'symbol', in => 'Query-string', dataType => 'String', required => true }],
    messages => [{ origin => 'Client', type => 'Text' }, { origin => 'Server', type => 'Text' }],
});
is($r->{status}, 200, 'technical information added later with PUT');
is($r->{json}{wsUrl}, $backend->url('/quotes'), 'wsUrl set');
is($r->{json}{isActive}, false, 'still inactive after the PUT');
my $rev = $r->{json}{revision};

is(gateway_status('/gateway/quotes/1.0?symbol=A'), 404, 'gateway: 404 while inactive');

###############################################################################
# activate

$r = $A->put("apis/$id/activate");
is($r->{status}, 200, 'PUT apis/{id}/activate: 200');
like($r->{headers}{'content-type'}, qr{^application/json}, 'JSON answer');
is($r->{json}{id}, $id, 'the answer is the API');
is($r->{json}{isActive}, true, 'isActive true');
is($r->{json}{revision}, $rev + 1, 'revision incremented');
is($r->{headers}{etag}, '"' . ($rev + 1) . '"', 'ETag of the new revision');
is_deeply([sort @{ $r->{json}{gatewayEndpoints} || [] }],
          ['/edge/ws/quotes/1.0', '/gateway/quotes/1.0'],
          'gatewayEndpoints: one per gateway location, prefix + apiName/apiVersion');
is($r->{json}{wsUrl}, $backend->url('/quotes'), 'definition unchanged otherwise');
is_deeply([sort keys %{ $r->{json} }], \@MEMBERS, 'the answer carries the whole definition (SPEC 3.2)');
my $activated = $r->{json};

$r = $A->get("apis/$id");
json_is($r->{json}, $activated, 'GET answers what activate answered');
is($r->{json}{isActive}, true, 'GET: active');
is_deeply([sort @{ $r->{json}{gatewayEndpoints} || [] }],
          ['/edge/ws/quotes/1.0', '/gateway/quotes/1.0'], 'GET: gatewayEndpoints');
my ($sum) = grep { $_->{id} eq $id } @{ $A->get('apis')->{json}{apis} || [] };
is($sum->{isActive}, true, 'the list shows it active');

my $el = poll_until(5, sub { gateway_status('/gateway/quotes/1.0?symbol=A') == 101 });
ok($el, 'gateway: the activated API upgrades');
cmp_ok($el // 99, '<=', timeout_scale(1), 'within one second of the activation (SPEC 6)');
is(gateway_status('/edge/ws/quotes/1.0?symbol=A', $nginx->port('edge')), 101, 'and on the other gateway location');

$before = redis_dump($redis);
error_is($A->put("apis/$id/activate"), 409, '*', 'activate again: 409');
error_is($A->del("apis/$id"), 409, '*', 'DELETE while active: 409');
is_deeply(redis_dump($redis), $before, 'neither changed anything');
is($A->get("apis/$id")->{status}, 200, 'the API is still there');

# changes to an active API apply to new connections
my $live = $A->get("apis/$id")->{json};
$r = $A->put("apis/$id", json => { %$live, apiDescription => 'edited live',
    parameters => [@{ $live->{parameters} }, { name => 'X-Token', in => 'header', required => true }] });
is($r->{status}, 200, 'PUT on an active API: 200');
is($r->{json}{isActive}, true, 'stays active');
is(scalar @{ $r->{json}{gatewayEndpoints} || [] }, 2, 'keeps its gateway endpoints');
ok(poll_until(5, sub { gateway_status('/gateway/quotes/1.0?symbol=A') == 400 }),
   'gateway: a new connection without the new required header is refused');
is(gateway_status('/gateway/quotes/1.0?symbol=A', undef, 'X-Token' => 't'), 101,
   'with it, it upgrades');
$r = $A->put("apis/$id", json => $live);
is($r->{status}, 200, 'PUT back the previous definition');
ok(poll_until(5, sub { gateway_status('/gateway/quotes/1.0?symbol=A') == 101 }),
   'gateway: the header is no longer needed');
$r = $A->put("apis/$id", json => { apiName => 'quotes', wsUrl => undef });
error_is($r, 409, '*', 'removing the wsUrl of an active API: 409 (SPEC silent)');

###############################################################################
# new versions

my $src = $A->get("apis/$id")->{json};
$r = $A->post("apis/$id/versions", json => { newApiVersion => '2.0' });
is($r->{status}, 201, 'POST apis/{id}/versions: 201');
my $v2 = $r->{json};
isnt($v2->{id}, $id, 'a new id');
like($v2->{id} // '', uuid_like(), 'a UUID');
like($r->{headers}{location} // '', qr{/rest/apigateway/apis/\Q$v2->{id}\E$}, 'Location of the copy');
is($r->{headers}{etag}, '"1"', 'ETag "1"');
is($v2->{apiVersion}, '2.0', 'the new version');
is($v2->{isActive}, false, 'the copy is inactive although the source is active');
is_deeply($v2->{gatewayEndpoints}, [], 'no gateway endpoints');
is($v2->{revision}, 1, 'revision 1');
json_is({ map { $_ => $v2->{$_} } qw(apiName apiDescription wsUrl parameters messages policies teams type) },
        { map { $_ => $src->{$_} } qw(apiName apiDescription wsUrl parameters messages policies teams type) },
        'the copy has the definition of the source');
json_is($A->get("apis/$id")->{json}, $src, 'the source is unchanged');
json_is($A->get("apis/$v2->{id}")->{json}, $v2, 'GET the copy');

$before = redis_dump($redis);
error_is($A->post("apis/$id/versions", json => { newApiVersion => '2.0' }), 409, '*',
         'the same new version again: 409');
error_is($A->post("apis/$id/versions", json => { newApiVersion => '1.0' }), 409, '*',
         'the source\'s own version: 409');
error_is($A->post("apis/$id/versions", json => { newApiVersion => 'two point oh' }), 400,
         'newApiVersion', 'an invalid version: 400 on newApiVersion');
error_is($A->post("apis/$id/versions", json => { newApiVersion => '' }), 400,
         'newApiVersion', 'an empty version: 400');
error_is($A->post("apis/$id/versions", json => { newApiVersion => 3 }), 400,
         'newApiVersion', 'a number: 400');
error_is($A->post("apis/$id/versions", json => {}), 400, '*', 'newApiVersion missing: 400');
error_is($A->post("apis/$id/versions", json => { newApiVersion => '3.0', apiName => 'x' }), 400, '*',
         'an unknown member: 400');
error_is($A->post("apis/$id/versions", json => '{"newApiVersion":'), 400, undef,
         'malformed JSON: 400');
error_is($A->post('apis/00000000-0000-4000-8000-000000000000/versions', json => { newApiVersion => '3.0' }),
         404, undef, 'versions of an unknown id: 404');
is_deeply(redis_dump($redis), $before, 'the refused versions changed nothing');

# a version of an inactive API, from the copy
$r = $A->post("apis/$v2->{id}/versions", json => { newApiVersion => '3.0-beta' });
is($r->{status}, 201, 'a version of a version');
my $v3 = $r->{json}{id};

# both versions active side by side
$r = $A->put("apis/$v2->{id}/activate");
is($r->{status}, 200, 'activate version 2.0');
is_deeply([sort @{ $r->{json}{gatewayEndpoints} || [] }],
          ['/edge/ws/quotes/2.0', '/gateway/quotes/2.0'], 'its own gateway endpoints');
ok(poll_until(5, sub { gateway_status('/gateway/quotes/2.0?symbol=A') == 101 }),
   'gateway: version 2.0 upgrades');
is(gateway_status('/gateway/quotes/1.0?symbol=A'), 101, 'version 1.0 still upgrades');
is(gateway_status('/gateway/quotes/3.0-beta?symbol=A'), 404, 'the inactive 3.0-beta: 404');

###############################################################################
# deactivate

$r = $A->put("apis/$id/deactivate");
is($r->{status}, 200, 'PUT apis/{id}/deactivate: 200');
is_deeply([sort keys %{ $r->{json} }], \@MEMBERS, 'the answer carries the whole definition');
is($r->{json}{isActive}, false, 'isActive false');
is_deeply($r->{json}{gatewayEndpoints}, [], 'gatewayEndpoints empty while inactive');
ok(defined $r->{headers}{etag}, 'ETag');
is($A->get("apis/$id")->{json}{isActive}, false, 'GET: inactive');
$el = poll_until(5, sub { gateway_status('/gateway/quotes/1.0?symbol=A') == 404 });
ok($el, 'gateway: 404 once deactivated');
cmp_ok($el // 99, '<=', timeout_scale(1), 'within one second of the deactivation (SPEC 6)');

$before = redis_dump($redis);
error_is($A->put("apis/$id/deactivate"), 409, '*', 'deactivate again: 409');
error_is($A->put("apis/$v3/deactivate"), 409, '*', 'deactivate a never activated API: 409');
is_deeply(redis_dump($redis), $before, 'the refused deactivations changed nothing');

error_is($A->put('apis/00000000-0000-4000-8000-000000000000/activate'), 404, undef,
         'activate an unknown id: 404');
error_is($A->put('apis/00000000-0000-4000-8000-000000000000/deactivate'), 404, undef,
         'deactivate an unknown id: 404');

# activate again, then delete once inactive
$r = $A->put("apis/$id/activate");
is($r->{status}, 200, 'activate again after a deactivation');
is($A->put("apis/$id/deactivate")->{status}, 200, 'and deactivate');

$r = $A->del("apis/$id");
is($r->{status}, 204, 'DELETE once inactive: 204');
error_is($A->get("apis/$id"), 404, undef, 'gone');
is($A->put("apis/$v2->{id}/deactivate")->{status}, 200, 'deactivate 2.0');
is($A->del("apis/$v2->{id}")->{status}, 204, 'delete 2.0');
is($A->del("apis/$v3")->{status}, 204, 'delete 3.0-beta');
is_deeply($A->get('apis')->{json}{apis}, [], 'no API left');

# a saved basic API can be deleted without ever being completed
$r = $A->post('apis', json => { apiName => 'draft' });
is($A->del("apis/$r->{json}{id}")->{status}, 204, 'an incomplete draft can be deleted');

no_crash($nginx);

done_testing;
