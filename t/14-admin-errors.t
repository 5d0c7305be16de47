#!/usr/bin/perl

# Admin API, errors (SPEC 3.3): every error is JSON
# {"error":{"status","message","field"?}}; 404 unknown path, 405 with
# Allow, 413 over 1 MiB (exactly 1 MiB passes), 415 not JSON, 400
# malformed JSON with Redis unchanged, 401 of auth_basic in JSON too.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Socket::INET;
use IO::Select;
use WsApi::Test;
use WsApi::Admin;

my $redis = start_redis();

my $htpasswd = tmpdir() . '/htpasswd';
{
    open my $fh, '>', $htpasswd or die "$htpasswd: $!";
    print $fh "admin:{PLAIN}secret\n";
    close $fh;
}

my $nginx = start_nginx(
    http => admin_http(http_extra => <<'EOF'),
    server {
        listen 127.0.0.1:%%PORT_BASIC%%;
        location /rest/apigateway/ {
            auth_basic "ws-api";
            auth_basic_user_file %%HTPASSWD%%;
            ws_api_admin;
            ws_api_admin_superuser admin;
        }
    }

    # nginx's own 403 (deny) in an admin location
    server {
        listen 127.0.0.1:%%PORT_DENY%%;
        location /rest/apigateway/ {
            deny all;
            ws_api_admin;
            ws_api_admin_identity $http_x_user;
        }
    }

    # a larger client_max_body_size does not lift the 1 MiB of SPEC 3.3
    server {
        listen 127.0.0.1:%%PORT_BIG%%;
        client_max_body_size 10m;
        location /rest/apigateway/ {
            client_max_body_size 10m;
            ws_api_admin;
            ws_api_admin_identity $http_x_user;
            ws_api_admin_superuser admin;
        }
    }
EOF
    vars => { HTPASSWD => $htpasswd },
);
my $A = admin_client($nginx);
my $port = $nginx->port('admin');

my $id = $A->create(sample_api())->{id};
my $r;

sub allow_set {
    my ($res) = @_;
    my $h = $res->{headers}{allow} // '';
    $h = join(',', @$h) if ref $h;
    return join ',', sort map { uc } grep { length } split /\s*,\s*/, $h;
}

my $before = redis_dump($redis);

###############################################################################
# 404

for my $path ('nope', '', 'api', 'apis/x/y/z', "apis/$id/bogus", "apis/$id/activate/now",
              'APIS', 'users/a/b', 'health/x') {
    error_is($A->get($path), 404, undef, "GET /rest/apigateway/$path: 404");
}
error_is($A->post('nope', json => { apiName => 'x' }), 404, undef, 'POST to an unknown path: 404');
error_is($A->get('apis/00000000-0000-4000-8000-000000000000'), 404, undef, 'an unknown id: 404');
error_is($A->get('apis/123'), 404, undef, 'a malformed id: 404');
$r = $A->get('apis/not-a-uuid');
like($r->{json}{error}{message} // '', qr/not-a-uuid/, 'the 404 message names the id asked for')
    or diag("message: " . ($r->{json}{error}{message} // ''));
like($A->get('apis/00000000-0000-4000-8000-000000000000')->{json}{error}{message} // '',
     qr/00000000-0000-4000-8000-000000000000/, 'also for a well-formed unknown id');
error_is($A->put('apis/123/activate'), 404, undef, 'activate a malformed id: 404');

###############################################################################
# 405 with Allow

my @m405 = (
    [PATCH  => 'apis',                 'GET,HEAD,POST'],
    [DELETE => 'apis',                 'GET,HEAD,POST'],
    [PUT    => 'apis',                 'GET,HEAD,POST'],
    [POST   => "apis/$id",             'DELETE,GET,HEAD,PUT'],
    [PATCH  => "apis/$id",             'DELETE,GET,HEAD,PUT'],
    [GET    => "apis/$id/activate",    'PUT'],
    [POST   => "apis/$id/deactivate",  'PUT'],
    [GET    => "apis/$id/versions",    'POST'],
    [PUT    => "apis/$id/versions",    'POST'],
    [POST   => 'health',               'GET,HEAD'],
    [POST   => 'users',                'GET,HEAD'],
    [POST   => 'users/x',              'DELETE,GET,HEAD,PUT'],
);
for my $c (@m405) {
    my ($m, $path, $allow) = @$c;
    $r = $A->req($m => $path, ($m =~ /^(?:POST|PUT|PATCH)$/ ? (json => { apiName => 'x' }) : ()));
    error_is($r, 405, undef, "$m /$path: 405");
    my $got = allow_set($r);
    my %got = map { $_ => 1 } split /,/, $got;
    ok($got{$m} ? 0 : (!grep { !$got{$_} } grep { $_ ne 'HEAD' } split /,/, $allow),
       "$m /$path: Allow lists " . join(', ', grep { $_ ne 'HEAD' } split /,/, $allow) . " (got: $got)");
}

###############################################################################
# 415: the body must be JSON

for my $ct ('text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'text/json',
            'multipart/form-data; boundary=x') {
    $r = $A->post('apis', body => '{"apiName":"ct"}', headers => { 'Content-Type' => $ct });
    error_is($r, 415, undef, "POST apis with Content-Type $ct: 415");
}
$r = $A->post('apis', body => '{"apiName":"ct"}');
error_is($r, 415, undef, 'POST apis without Content-Type: 415');
error_is($A->put("apis/$id", body => '{"apiName":"ticker"}', headers => { 'Content-Type' => 'text/plain' }),
         415, undef, 'PUT apis/{id} with text/plain: 415');
error_is($A->post("apis/$id/versions", body => '{"newApiVersion":"9"}', headers => { 'Content-Type' => 'text/plain' }),
         415, undef, 'POST versions with text/plain: 415');
error_is($A->put('users/x', body => '{}', headers => { 'Content-Type' => 'text/plain' }),
         415, undef, 'PUT users/{name} with text/plain: 415');

###############################################################################
# 400: malformed JSON

my @malformed = (
    ['truncated',            '{"apiName":'],
    ['unquoted key',         '{apiName:"x"}'],
    ['single quotes',        "{'apiName':'x'}"],
    ['trailing comma',       '{"apiName":"x",}'],
    ['trailing garbage',     '{"apiName":"x"} x'],
    ['two documents',        '{"apiName":"x"}{"apiName":"y"}'],
    ['not JSON at all',      'apiName=x'],
    ['invalid UTF-8',        qq({"apiName":"x","apiDescription":"\xff\xfe"})],
    ['a NUL byte',           qq({"apiName":"x"\x00})],
    ['empty body',           ''],
    ['whitespace only',      "  \n"],
);
for my $c (@malformed) {
    $r = $A->post('apis', body => $c->[1], headers => { 'Content-Type' => 'application/json' });
    error_is($r, 400, undef, "POST apis, malformed JSON ($c->[0]): 400");
}
$r = $A->put("apis/$id", body => '{"apiName":', headers => { 'Content-Type' => 'application/json' });
error_is($r, 400, undef, 'PUT apis/{id}, malformed JSON: 400');
$r = $A->put('users/x', body => '{"privileges":[', headers => { 'Content-Type' => 'application/json' });
error_is($r, 400, undef, 'PUT users/{name}, malformed JSON: 400');
$r = $A->post('apis', body => '{"apiName":"dup","apiName":"dup2"}',
              headers => { 'Content-Type' => 'application/json' });
error_is($r, 400, '*', 'a member given twice: 400 (SPEC silent)');

###############################################################################
# 413: over 1 MiB; exactly 1 MiB passes the size check

my $MiB = 1024 * 1024;
my $head = '{"apiName":"big"}';
my $exact = $head . (' ' x ($MiB - length $head));
is(length $exact, $MiB, 'a body of exactly 1 MiB (valid JSON, padded with spaces)');

$r = $A->post('apis', body => $exact . ' ', headers => { 'Content-Type' => 'application/json' });
error_is($r, 413, undef, '1 MiB + 1 byte: 413');
$r = $A->post('apis', body => $exact . (' ' x $MiB), headers => { 'Content-Type' => 'application/json' });
error_is($r, 413, undef, '2 MiB: 413');
$r = $A->put("apis/$id", body => $exact . ' ', headers => { 'Content-Type' => 'application/json' });
error_is($r, 413, undef, 'PUT apis/{id}, 1 MiB + 1: 413');
# chunked, over 1 MiB
{
    my $chunk = ' ' x 65536;
    my $body = sprintf("%x\r\n%s\r\n", length $head, $head);
    $body .= sprintf("%x\r\n%s\r\n", length $chunk, $chunk) for 1 .. 17;
    $body .= "0\r\n\r\n";
    $r = raw_request(port => $port, data => "POST /rest/apigateway/apis HTTP/1.1\r\nHost: x\r\n"
        . "X-User: admin\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        . "Connection: close\r\n\r\n" . $body);
    error_is($r, 413, undef, 'chunked body over 1 MiB: 413');
}
my $big = admin_client($nginx, port_name => 'big');
$r = $big->post('apis', body => $exact . ' ', headers => { 'Content-Type' => 'application/json' });
error_is($r, 413, undef, 'client_max_body_size 10m: 1 MiB + 1 is still 413');

is_deeply(redis_dump($redis), $before, 'no error so far changed Redis');

$r = $A->post('apis', body => $exact, headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 201, 'exactly 1 MiB: accepted (201)');
is($r->{json}{apiName}, 'big', 'and created');
$r = $big->post('apis', body => $head =~ s/big/big2/r, headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 201, 'the client_max_body_size 10m location works');

###############################################################################
# Content-Type variants that are JSON

$r = $A->post('apis', body => '{"apiName":"charset"}',
              headers => { 'Content-Type' => 'application/json; charset=utf-8' });
is($r->{status}, 201, 'application/json; charset=utf-8: accepted');
$r = $A->post('apis', body => '{"apiName":"upper"}', headers => { 'Content-Type' => 'Application/JSON' });
is($r->{status}, 201, 'Application/JSON (media types are case-insensitive): accepted');

###############################################################################
# 401: the module's own and auth_basic's, both JSON

error_is($A->get('apis', user => undef), 401, undef, 'no identity: 401 in JSON');
my $basic = "http://127.0.0.1:" . $nginx->port('basic') . '/rest/apigateway/apis';
$r = http_request(GET => $basic);
error_is($r, 401, '*', 'auth_basic without credentials: 401 in JSON');
like($r->{headers}{'www-authenticate'} // '', qr/^Basic /, 'with WWW-Authenticate');
$r = http_request(GET => $basic, user => 'admin', password => 'bad');
error_is($r, 401, '*', 'auth_basic with a wrong password: 401 in JSON');
$r = http_request(POST => $basic, json => { apiName => 'x' });
error_is($r, 401, '*', 'auth_basic, POST without credentials: 401 in JSON');
is(http_request(GET => $basic, user => 'admin', password => 'secret')->{status}, 200,
   'auth_basic with the password: 200');

###############################################################################
# 403, 409, 412 are JSON too

$r = admin_client($nginx, port_name => 'deny')->get('apis');
error_is($r, 403, undef, 'nginx\'s own 403 (deny all) in an admin location: JSON');

error_is($A->post('apis', json => { apiName => 'x' }, user => 'nobody'), 403, undef, '403 in JSON');
error_is($A->post('apis', json => sample_api()), 409, '*', '409 in JSON');
error_is($A->put("apis/$id", json => sample_api(), headers => { 'If-Match' => '"99"' }), 412, undef,
         '412 in JSON');

###############################################################################
# request handling around the errors: chunked and slow bodies, HEAD,
# pipelined requests with an error among them

$r = raw_request(port => $port, data => "POST /rest/apigateway/apis HTTP/1.1\r\nHost: x\r\n"
    . "X-User: admin\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    . "Connection: close\r\n\r\n5\r\n{\"api\r\n10\r\nName\":\"chunked\"}\r\n0\r\n\r\n");
is($r->{status}, 201, 'a chunked body is read');
$r = http_request(POST => $A->url('apis'), headers => { 'X-User' => 'admin' },
                  json => { apiName => 'slow' }, byte_delay => 0.002);
is($r->{status}, 201, 'a body sent slowly is read');
$r = $A->req(HEAD => "apis/$id");
is($r->{status}, 200, 'HEAD apis/{id}: 200');
is($r->{headers}{etag}, '"1"', 'with the ETag');
$r = $A->req(HEAD => 'apis/00000000-0000-4000-8000-000000000000');
is($r->{status}, 404, 'HEAD of an unknown id: 404');
{
    my $b1 = '{"apiName":"pipe1"}';
    my $req = "POST /rest/apigateway/apis HTTP/1.1\r\nHost: x\r\nX-User: admin\r\n"
        . "Content-Type: application/json\r\nContent-Length: " . length($b1) . "\r\n\r\n$b1"
        . "PATCH /rest/apigateway/apis HTTP/1.1\r\nHost: x\r\nX-User: admin\r\nContent-Length: 2\r\n\r\n{}"
        . "POST /rest/apigateway/apis HTTP/1.1\r\nHost: x\r\nX-User: admin\r\n"
        . "Content-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"apiName\":"
        . "GET /rest/apigateway/apis HTTP/1.1\r\nHost: x\r\nX-User: admin\r\nConnection: close\r\n\r\n";
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 5) or die $!;
    print $s $req;
    my $all = '';
    my $sel = IO::Select->new($s);
    while ($sel->can_read(timeout_scale(5))) {
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $all .= $buf;
    }
    is_deeply([$all =~ m{^HTTP/1\.1 (\d+)}mg], [201, 405, 400, 200],
              'pipelined on one connection: 201, 405, 400, 200 in order');
}

###############################################################################
# 500 (a definition in Redis that is not valid) is JSON too

my $bad = '11111111-1111-4111-8111-111111111111';
$redis->cmd('SET', "wsapi:api:$bad", '{not json');
$redis->cmd('SADD', 'wsapi:apis', $bad);
error_is($A->get("apis/$bad"), 500, undef, 'an invalid definition in Redis: 500 in JSON (SPEC silent)');
$r = $A->get('apis');
is($r->{status}, 200, 'the list still answers');
ok(!(grep { $_->{id} eq $bad } @{ $r->{json}{apis} || [] }), 'without it');

no_crash($nginx);

done_testing;
