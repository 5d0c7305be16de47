#!/usr/bin/perl

# Admin API, identity and privileges (SPEC 2: ws_api_admin_identity,
# ws_api_admin_superuser; SPEC 3.2: privileges): 401 without an identity,
# superusers, privileges of users kept in Redis, and the default identity
# $remote_user with auth_basic.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;
use WsApi::Admin;

my $redis = start_redis();

# an htpasswd file: crypt() SHA-512 and the {PLAIN} scheme
my $htpasswd = tmpdir() . '/htpasswd';
{
    open my $fh, '>', $htpasswd or die "$htpasswd: $!";
    for my $u (qw(alice bob carol)) {
        my $hash = crypt("$u-pw", '$6$' . substr("salt$u" x 2, 0, 16) . '$');
        die "crypt() does not support SHA-512\n" unless ($hash // '') =~ /^\$6\$/;
        print $fh "$u:$hash\n";
    }
    print $fh "dave:{PLAIN}dave-pw\n";
    close $fh;
    chmod 0644, $htpasswd;
}

my $nginx = start_nginx(
    http => admin_http(superuser => 'admin root2', http_extra => <<'EOF'),
    # the default identity: $remote_user, from auth_basic
    server {
        listen 127.0.0.1:%%PORT_BASIC%%;
        location /rest/apigateway/ {
            auth_basic "ws-api admin";
            auth_basic_user_file %%HTPASSWD%%;
            ws_api_admin;
            ws_api_admin_superuser alice;
        }
    }

    # superusers and identity inherited from the server level
    server {
        listen 127.0.0.1:%%PORT_INHERIT%%;
        ws_api_admin_identity $http_x_user;
        ws_api_admin_superuser boss;
        location /admin/ {
            ws_api_admin;
        }
    }
EOF
    vars => { HTPASSWD => $htpasswd },
);

my $A = admin_client($nginx);
my $gwurl = 'ws://backend.internal:9000/feed';

sub as { my $u = shift; return admin_client($nginx, user => $u) }

my $nobody = '00000000-0000-4000-8000-000000000000';

###############################################################################
# no identity: 401

my $anon = as(undef);
my $r = $anon->get('apis');
error_is($r, 401, undef, 'GET apis without an identity: 401');
error_is($anon->post('apis', json => { apiName => 'x' }), 401, undef, 'POST apis without an identity: 401');
error_is($anon->get("apis/$nobody"), 401, undef, 'GET apis/{id} without an identity: 401');
error_is($anon->get('users'), 401, undef, 'GET users without an identity: 401');
error_is($anon->put('users/x', json => {}), 401, undef, 'PUT users/x without an identity: 401');
error_is(as('')->get('apis'), 401, undef, 'an empty identity: 401');
is($anon->get('health')->{status}, 200, 'GET health needs no identity');
is_deeply([$redis->cmd('KEYS', '*')], [], 'nothing written to Redis');

###############################################################################
# superusers: every privilege without any user in Redis

for my $su (qw(admin root2)) {
    my $c = as($su);
    $r = $c->post('apis', json => { apiName => "su-$su", wsUrl => $gwurl });
    is($r->{status}, 201, "superuser $su: create");
    my $id = $r->{json}{id};
    is($c->put("apis/$id/activate")->{status}, 200, "superuser $su: activate");
    is($c->put("apis/$id/deactivate")->{status}, 200, "superuser $su: deactivate");
    is($c->post("apis/$id/versions", json => { newApiVersion => '2' })->{status}, 201,
       "superuser $su: new version");
    is($c->del("apis/$id")->{status}, 204, "superuser $su: delete");
    is($c->get('users')->{status}, 200, "superuser $su: GET users");
    is($c->put("users/made-by-$su", json => { privileges => [] })->{status}, 200,
       "superuser $su: PUT users/{name}");
}
my $r2 = as('Admin')->post('apis', json => { apiName => 'case' });
error_is($r2, 403, undef, 'superuser names are case-sensitive: Admin is not admin (SPEC silent)');

###############################################################################
# users in Redis, created by the superuser

my %users = (
    activator => ['activate_apis'],
    manager   => ['manage_apis'],
    usermgr   => ['manage_users'],
    reader    => [],
    both      => ['manage_apis', 'activate_apis'],
);
for my $u (sort keys %users) {
    $r = $A->put("users/$u", json => { privileges => $users{$u} });
    is($r->{status}, 200, "PUT users/$u: 200");
    is_deeply($r->{json}{privileges}, $users{$u}, "users/$u: privileges answered");
}

# GET answers {"name","privileges","teams"}; it can be PUT back
$r = $A->get('users/both');
is($r->{status}, 200, 'GET users/{name}: 200');
json_is($r->{json}, { name => 'both', privileges => ['manage_apis', 'activate_apis'], teams => [] },
        'GET users/{name}: name, privileges, teams');
is($A->put('users/both', json => $r->{json})->{status}, 200, 'the GET answer can be PUT back');
json_is($A->get('users/both')->{json}, $r->{json}, 'unchanged by the round trip');

$r = $A->get('users');
is($r->{status}, 200, 'GET users: 200');
my %listed = map { ($_->{name} // '') => $_ } @{ $r->{json}{users} || [] };
ok((grep { $listed{$_} } keys %users) == keys %users, 'GET users lists every user');
is_deeply($listed{manager}{privileges}, ['manage_apis'], 'with their privileges');

# user validation
my $before = redis_dump($redis);
error_is($A->put('users/x', json => { privileges => ['superpower'] }), 400, qr/^privileges/,
         'an unknown privilege: 400');
error_is($A->put('users/x', json => { privileges => 'manage_apis' }), 400, 'privileges',
         'privileges not an array: 400');
error_is($A->put('users/x', json => { privileges => [], role => 'admin' }), 400, 'role',
         'an unknown member: 400');
error_is($A->put('users/x', json => { privileges => [], name => 'y' }), 400, 'name',
         'a name that differs from the path: 400');
error_is($A->put('users/x', json => '[1]'), 400, '*', 'a JSON array: 400');
is_deeply(redis_dump($redis), $before, 'invalid users changed nothing');
error_is($A->get('users/ghost'), 404, undef, 'GET an unknown user: 404');
error_is($A->del('users/ghost'), 404, undef, 'DELETE an unknown user: 404');

###############################################################################
# activate_apis alone: create AND activate (SEED: "Manage APIs or
# Activate/deactivate APIs")

my $act = as('activator');
$r = $act->post('apis', json => { apiName => 'by-activator' });
is($r->{status}, 201, 'activate_apis: can create');
my $aid = $r->{json}{id};
is($act->get("apis/$aid")->{status}, 200, 'activate_apis: can read');
is($act->put("apis/$aid", json => { apiName => 'by-activator', wsUrl => $gwurl })->{status}, 200,
   'activate_apis: can replace');
is($act->put("apis/$aid/activate")->{status}, 200, 'activate_apis: can activate');
is($act->put("apis/$aid/deactivate")->{status}, 200, 'activate_apis: can deactivate');
is($act->post("apis/$aid/versions", json => { newApiVersion => '9' })->{status}, 201,
   'activate_apis: can make a new version');
is($act->del("apis/$aid")->{status}, 204, 'activate_apis: can delete');
error_is($act->get('users'), 403, undef, 'activate_apis: GET users 403');
error_is($act->put('users/activator', json => { privileges => ['manage_users'] }), 403, undef,
         'activate_apis: cannot grant itself manage_users');

###############################################################################
# manage_apis alone: create, but not activate

my $man = as('manager');
$r = $man->post('apis', json => { apiName => 'by-manager', wsUrl => $gwurl });
is($r->{status}, 201, 'manage_apis: can create');
my $mid = $r->{json}{id};
is($man->put("apis/$mid", json => { apiName => 'by-manager', wsUrl => $gwurl, apiDescription => 'x' })->{status},
   200, 'manage_apis: can replace');
$before = redis_dump($redis);
$r = $man->put("apis/$mid/activate");
error_is($r, 403, undef, 'manage_apis: activate 403');
like($r->{json}{error}{message} // '', qr/activate/i, 'the message names the missing privilege');
is_deeply(redis_dump($redis), $before, 'the refused activation changed nothing');
is($A->put("apis/$mid/activate")->{status}, 200, '(the superuser activates it)');
error_is($man->put("apis/$mid/deactivate"), 403, undef, 'manage_apis: deactivate 403');
is($A->put("apis/$mid/deactivate")->{status}, 200, '(the superuser deactivates it)');
is($man->post("apis/$mid/versions", json => { newApiVersion => '2' })->{status}, 201,
   'manage_apis: can make a new version');
is($man->del("apis/$mid")->{status}, 204, 'manage_apis: can delete');
error_is($man->get('users'), 403, undef, 'manage_apis: GET users 403');
error_is($man->del('users/reader'), 403, undef, 'manage_apis: DELETE users 403');

# both
my $both = as('both');
$r = $both->post('apis', json => { apiName => 'by-both', wsUrl => $gwurl });
is($both->put("apis/$r->{json}{id}/activate")->{status}, 200, 'manage_apis + activate_apis: activate');

###############################################################################
# manage_users alone; no privilege at all; an identity unknown to Redis

my $um = as('usermgr');
is($um->get('users')->{status}, 200, 'manage_users: GET users');
is($um->put('users/temp', json => { privileges => ['manage_apis'] })->{status}, 200,
   'manage_users: PUT users/{name}');
is($um->get('users/temp')->{status}, 200, 'manage_users: GET users/{name}');
is($um->del('users/temp')->{status}, 204, 'manage_users: DELETE users/{name}');
error_is($um->post('apis', json => { apiName => 'by-usermgr' }), 403, undef, 'manage_users: create API 403');
is($um->get('apis')->{status}, 200, 'manage_users: GET apis (any privilege)');

my $id0 = $A->post('apis', json => { apiName => 'target', wsUrl => $gwurl })->{json}{id};
for my $who (qw(reader stranger)) {
    my $c = as($who);
    my $what = $who eq 'reader' ? 'no privilege' : 'unknown to Redis';
    is($c->get('apis')->{status}, 200, "$what: GET apis 200");
    is($c->get("apis/$id0")->{status}, 200, "$what: GET apis/{id} 200");
    $before = redis_dump($redis);
    error_is($c->post('apis', json => { apiName => "by-$who" }), 403, undef, "$what: create 403");
    error_is($c->put("apis/$id0", json => { apiName => 'target' }), 403, undef, "$what: replace 403");
    error_is($c->del("apis/$id0"), 403, undef, "$what: delete 403");
    error_is($c->put("apis/$id0/activate"), 403, undef, "$what: activate 403");
    error_is($c->post("apis/$id0/versions", json => { newApiVersion => '5' }), 403, undef,
             "$what: new version 403");
    error_is($c->get('users'), 403, undef, "$what: GET users 403");
    is_deeply(redis_dump($redis), $before, "$what: the refusals changed nothing");
}

# privileges apply at once
is($A->put('users/reader', json => { privileges => ['manage_apis'] })->{status}, 200,
   'reader is given manage_apis');
is(as('reader')->post('apis', json => { apiName => 'by-reader' })->{status}, 201,
   'reader can create at once');
is($A->del('users/reader')->{status}, 204, 'the user is deleted');
error_is(as('reader')->post('apis', json => { apiName => 'by-reader2' }), 403, undef,
         'a deleted user can no longer create');

###############################################################################
# the default identity $remote_user, with auth_basic

my $basic = $nginx->port('basic');
sub basic { my ($m, $path, %o) = @_;
            http_request($m, "http://127.0.0.1:$basic/rest/apigateway/$path", %o) }

$r = basic(GET => 'apis');
error_is($r, 401, '*', 'auth_basic, no credentials: 401 in JSON');
like($r->{headers}{'www-authenticate'} // '', qr/^Basic realm="ws-api admin"/,
     'WWW-Authenticate kept');
error_is(basic(GET => 'apis', user => 'alice', password => 'wrong'), 401, '*',
         'auth_basic, a wrong password: 401 in JSON');
error_is(basic(GET => 'apis', user => 'eve', password => 'eve-pw'), 401, '*',
         'auth_basic, an unknown user: 401 in JSON');

$r = basic(POST => 'apis', user => 'alice', password => 'alice-pw', json => { apiName => 'basic-alice', wsUrl => $gwurl });
is($r->{status}, 201, 'alice (superuser by $remote_user): create');
is(basic(PUT => "apis/$r->{json}{id}/activate", user => 'alice', password => 'alice-pw')->{status}, 200,
   'alice: activate');

is($A->put('users/bob', json => { privileges => ['manage_apis'] })->{status}, 200, 'bob: manage_apis');
$r = basic(POST => 'apis', user => 'bob', password => 'bob-pw', json => { apiName => 'basic-bob', wsUrl => $gwurl });
is($r->{status}, 201, 'bob (user in Redis): create');
error_is(basic(PUT => "apis/$r->{json}{id}/activate", user => 'bob', password => 'bob-pw'), 403, undef,
         'bob: activate 403');
is(basic(GET => 'apis', user => 'carol', password => 'carol-pw')->{status}, 200,
   'carol (authenticated, not in Redis): GET apis');
error_is(basic(POST => 'apis', user => 'carol', password => 'carol-pw', json => { apiName => 'c' }), 403, undef,
         'carol: create 403');
is(basic(GET => 'apis', user => 'dave', password => 'dave-pw')->{status}, 200, 'dave ({PLAIN}): GET apis');
$r = http_request(GET => "http://127.0.0.1:$basic/rest/apigateway/apis",
                  headers => { 'X-User' => 'admin' });
error_is($r, 401, '*', 'the X-User header means nothing where the identity is $remote_user');

###############################################################################
# directives inherited from the server level

my $inh = admin_client($nginx, port_name => 'inherit', base => '/admin/', user => 'boss');
is($inh->post('apis', json => { apiName => 'inherited' })->{status}, 201,
   'superuser and identity set at the server level apply in the location');
error_is($inh->get('apis', user => undef), 401, undef, 'inherited identity: 401 without it');
error_is($inh->post('apis', json => { apiName => 'x2' }, user => 'admin'), 403, undef,
         'admin is not a superuser there');

no_crash($nginx);

done_testing;
