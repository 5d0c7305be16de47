#!/usr/bin/perl

# Gateway: proxying through the canonical location of SPEC 2 (section 4):
# connect and echo with two real clients, the URL the backend receives
# ($ws_api_backend: extra path, query string, wsUrl ending in "/", percent
# encoding), the variables in the access log, a wss:// backend and a
# host-name backend through "resolver".

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes ();
use WsApi::Test;
use WsApi::Gateway;

my $T0 = Time::HiRes::time();

my $redis = start_redis();
my $backend = start_backend();
my ($crt, $key) = make_cert();
my $dns = start_dns(name => 'ws-backend.wsapi.test');

# a TLS front of the backend (plain proxy_pass), for a wss:// wsUrl
my $tls_server = <<'EOF';
    server {
        listen 127.0.0.1:%%PORT_TLS%% ssl;
        ssl_certificate %%CERT%%;
        ssl_certificate_key %%KEY%%;
        location / {
            proxy_pass http://%%BACKEND%%;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }
    }
    resolver 127.0.0.1:%%DNS_PORT%% ipv6=off valid=1s;
    resolver_timeout 5s;
EOF

my $nginx = start_nginx(
    http       => gw_http(http_extra => $tls_server),
    vars       => { DNS_PORT => $dns->{port} },
    log_format => 'srv=$server_port scheme=$scheme "$request" $status '
                . 'backend=$ws_api_backend id=$ws_api_id name=$ws_api_name '
                . 'version=$ws_api_version close=$ws_api_close_code',
);
my $gw = $nginx->port('gw');
my $tls = $nginx->port('tls');

ok(index($nginx->conf_text, canonical_location()) >= 0,
   'the gateway location is the canonical one of SPEC 2, unchanged');

###############################################################################
# create and activate through the admin API (superuser)

my $name = 'ticker';
my $api = create_api($nginx, {
    apiName => $name, apiVersion => '1.0', wsUrl => $backend->url('/stream'),
    parameters => [
        { name => 'symbol', in => 'query', dataType => 'string', required => true },
    ],
});
like($api->{id}, qr/^[0-9a-f-]{36}$/, "created $api->{id}");
ok(!$api->{isActive}, 'created inactive');
is(gw_handshake($nginx, '/gateway/ticker/1.0/x?symbol=X'), 404, 'not served before the activation');
my $act = activate($nginx, $api->{id});
ok($act->{isActive}, 'activated');
is_deeply($act->{gatewayEndpoints}, ["/gateway/$name/1.0"],
          'gatewayEndpoints names the canonical location');

my $base = "/gateway/$name/1.0";
my $el = wait_status($nginx, "$base?symbol=WAIT", 101, 10);
ok(defined $el, sprintf 'the API answers 101 after activation (%.3fs)', $el // -1);

###############################################################################
# Protocol::WebSocket client (masked frames)

my $ws = gw_connect($nginx, "$base/extra/path?symbol=A%41PL&b=%20x&c&d=1+2&undeclared=yes",
                    lib => 1);
is($ws->status, 101, 'Protocol::WebSocket client: 101 through the gateway');
ok($ws->accept_ok, 'Sec-WebSocket-Accept matches the key');
ok(!$ws->lib_error, 'Protocol::WebSocket accepts the handshake')
    or diag $ws->lib_error;
my ($hs) = $backend->wait_log(event => 'handshake', path => '/stream/extra/path');
ok($hs, 'the backend got the handshake');
is($hs->{path}, '/stream/extra/path', 'backend: wsUrl path + the extra path');
is($hs->{query}, 'symbol=A%41PL&b=%20x&c&d=1+2&undeclared=yes',
   "backend: the client's raw query string, undeclared parameter included");
is($hs->{method}, 'GET', 'backend: GET');
is(lc($hs->{headers}{upgrade} // ''), 'websocket', 'backend: Upgrade: websocket');
like($hs->{headers}{connection} // '', qr/upgrade/i, 'backend: Connection: upgrade');
is($hs->{headers}{'sec-websocket-version'}, '13', 'backend: Sec-WebSocket-Version 13');
my $conn = $hs->{conn};

$ws->send_text('hello gateway');
my $m = $ws->read_message;
is_deeply([$m->{opcode}, $m->{payload}], [1, 'hello gateway'], 'text echoed');
my $bytes = join '', map { chr } 0 .. 255;
$ws->send_binary($bytes);
$m = $ws->read_message;
is_deeply([$m->{opcode}, $m->{payload}], [2, $bytes], 'binary echoed');
my $big = join '', map { chr(($_ * 31) % 256) } 1 .. 200_000;
$ws->send_binary($big);
$m = $ws->read_message(15);
ok($m && $m->{payload} eq $big, '200 kB binary echoed unchanged');
$ws->ping('pp');
$m = $ws->read_message;
is_deeply([$m->{opcode}, $m->{payload}], [10, 'pp'], 'ping answered with pong');
my @frames = $backend->frames(conn => $conn);
ok(@frames >= 3, scalar(@frames) . ' frames reached the backend');
ok(!(grep { !$_->{masked} } @frames), 'every frame the backend got is masked');
is($ws->close_handshake(1000, 'bye'), 1000, 'close 1000 answered');
ok($ws->eof, 'connection closed');

# the access log line is written when the connection ends
my $line_re = qr{^srv=$gw scheme=http "GET \Q$base\E/extra/path\?symbol=A%41PL[^"]*" 101 (.*)$}m;
ok(poll_until(10, sub { $nginx->access_log =~ $line_re }), 'access log line for the connection');
my ($rest) = $nginx->access_log =~ $line_re;
$rest //= '';
my %v = $rest =~ /(\w+)=(\S*)/g;
is($v{backend}, 'http://' . $backend->addr . '/stream/extra/path?symbol=A%41PL&b=%20x&c&d=1+2&undeclared=yes',
   '$ws_api_backend: ws mapped to http, extra path appended, query kept');
is($v{id}, $api->{id}, '$ws_api_id');
is($v{name}, $name, '$ws_api_name');
is($v{version}, '1.0', '$ws_api_version');
is($v{close}, '1000', '$ws_api_close_code: the close code that ended the connection');

# other request headers and the subprotocol reach the backend
$ws = gw_connect($nginx, "$base/hdr?symbol=H", protocol => 'chat, superchat',
                 headers => { 'X-Custom' => 'custom value', 'X-Client-Id' => '17' });
is($ws->status, 101, 'a handshake with extra headers and a subprotocol: 101');
is($ws->header('sec-websocket-protocol'), 'chat', 'the subprotocol chosen by the backend reaches the client');
($hs) = $backend->wait_log(event => 'handshake', path => '/stream/hdr');
is($hs && $hs->{headers}{'x-custom'}, 'custom value', 'an undeclared header passes through');
is($hs && $hs->{headers}{'sec-websocket-protocol'}, 'chat, superchat', 'Sec-WebSocket-Protocol passes through');
$ws->close_handshake;

###############################################################################
# python3-websockets client

my $py = <<'EOF';
import asyncio, json, sys
import websockets

async def main(url, mode):
    out = {}
    if mode == "refused":
        try:
            async with websockets.connect(url, open_timeout=5):
                out["status"] = 101
        except websockets.exceptions.InvalidStatusCode as e:
            out["status"] = e.status_code
        print(json.dumps(out))
        return
    async with websockets.connect(url, open_timeout=5) as ws:
        await ws.send("hello from python")
        out["text"] = await ws.recv()
        await ws.send(bytes(range(256)))
        out["binary_ok"] = (await ws.recv()) == bytes(range(256))
        await ws.send("x" * 100000)
        out["big_len"] = len(await ws.recv())
        pong = await ws.ping(b"py")
        await asyncio.wait_for(pong, 5)
        out["pong"] = True
    out["close_code"] = ws.close_code
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2]))
EOF

sub run_py {
    my ($url, $mode) = @_;
    open(my $ph, '-|', '/usr/bin/python3', '-c', $py, $url, $mode) or die "python3: $!\n";
    my $out = do { local $/; <$ph> };
    close $ph;
    my $j = eval { json_decode($out) };
    diag "python3 said: $out (exit $?)" unless $j;
    return $j || {};
}

my $pr = run_py("ws://127.0.0.1:$gw$base/py?symbol=MSFT", 'echo');
is($pr->{text}, 'hello from python', 'python3-websockets: text echoed');
ok($pr->{binary_ok}, 'python3-websockets: binary echoed');
is($pr->{big_len}, 100000, 'python3-websockets: 100 kB text echoed');
ok($pr->{pong}, 'python3-websockets: ping answered');
is($pr->{close_code}, 1000, 'python3-websockets: closed with 1000');
my ($phs) = $backend->wait_log(event => 'handshake', path => '/stream/py');
is($phs && $phs->{query}, 'symbol=MSFT', 'python3-websockets: backend got /stream/py?symbol=MSFT');
is(run_py("ws://127.0.0.1:$gw/gateway/nosuch/1.0", 'refused')->{status}, 404,
   'python3-websockets: an unknown API is refused with 404');
is(run_py("ws://127.0.0.1:$gw$base", 'refused')->{status}, 400,
   'python3-websockets: a missing required parameter is refused with 400');

###############################################################################
# how the backend URL is built

# the path the backend saw for a client path (a fresh connection each)
sub backend_target {
    my ($client_path) = @_;
    my $before = () = $backend->handshakes;
    my $w = gw_connect($nginx, $client_path);
    my $st = $w->status;
    $w->disconnect;
    return "status $st" unless $st == 101;
    my @h = $backend->wait_log(event => 'handshake', count => $before + 1);
    return @h > $before ? $h[$before]{target} : 'no handshake';
}

my $slash = create_active($nginx, { apiName => 'slash', wsUrl => $backend->url('/base/') });
my $root = create_active($nginx, { apiName => 'root', wsUrl => $backend->url('/') });
ok(defined wait_status($nginx, '/gateway/root/1.0', 101, 10), 'two more APIs active');

my @cases = (
    # wsUrl path, client path, backend target
    ['/base/', '/gateway/slash/1.0/eu',         '/base/eu',        'wsUrl ending in "/" + /eu'],
    ['/base/', '/gateway/slash/1.0',            '/base/',          'wsUrl ending in "/", no extra path'],
    ['/base/', '/gateway/slash/1.0/',           '/base/',          'wsUrl ending in "/", extra path "/"'],
    ['/base/', '/gateway/slash/1.0/a/b?q=1',    '/base/a/b?q=1',   'wsUrl ending in "/" + /a/b?q=1'],
    ['/',      '/gateway/root/1.0/x/y',         '/x/y',            'wsUrl "/" + /x/y'],
    ['/stream', "$base?symbol=S",               '/stream?symbol=S', 'no extra path: wsUrl path alone'],
    ['/stream', "$base/?symbol=S",              '/stream/?symbol=S', 'extra path "/"'],
    ['/stream', "$base/a%20b/c?symbol=S",       '/stream/a%20b/c?symbol=S', 'a space (%20) is re-escaped'],
    ['/stream', "$base/c%3Fd?symbol=S",         '/stream/c%3Fd?symbol=S', '"?" in the path (%3F) stays escaped'],
    ['/stream', "$base/e%25f?symbol=S",         '/stream/e%25f?symbol=S', '"%" in the path (%25) stays escaped'],
    ['/stream', "$base/h%23i?symbol=S",         '/stream/h%23i?symbol=S', '"#" in the path (%23) stays escaped'],
    ['/stream', "$base/%C3%A9t%C3%A9?symbol=S", '/stream/%C3%A9t%C3%A9?symbol=S', 'UTF-8 in the path re-escaped'],
    ['/stream', "$base/%61bc?symbol=S",         '/stream/abc?symbol=S', 'an escaped unreserved character is sent plain'],
);
for my $c (@cases) {
    my ($prefix, $client, $want, $what) = @$c;
    is(backend_target($client), $want, "$what: backend target $want");
}

###############################################################################
# what the backend answers reaches the client; an unreachable backend is 502

my $refusing = create_active($nginx, { apiName => 'refusing', wsUrl => $backend->url('/status/403') });
ok(defined wait_status($nginx, '/gateway/refusing/1.0', 403, 10),
   'a backend that answers 403 to the handshake: the client gets 403');
$ws = gw_connect($nginx, '/gateway/refusing/1.0');
is($ws->json && $ws->json->{backend}, 'status', "... with the backend's body");
my $dead = create_active($nginx, { apiName => 'dead', wsUrl => 'ws://127.0.0.1:' . free_port() . '/x' });
ok(defined wait_status($nginx, '/gateway/dead/1.0', 502, 10), 'a backend that is not listening: 502');
$ws = gw_connect($nginx, '/gateway/dead/1.0');
is($ws->json && $ws->json->{error}{status}, 502, '... answered in JSON');
like($ws->json && $ws->json->{error}{message}, qr/backend/, '... naming the backend');

###############################################################################
# wss:// backend: the gateway speaks TLS to it (proxy_pass https://)

my $secure = create_active($nginx, { apiName => 'secure', wsUrl => "wss://127.0.0.1:$tls/secure" });
ok(defined wait_status($nginx, '/gateway/secure/1.0', 101, 10), 'wss:// API active');
$ws = gw_connect($nginx, '/gateway/secure/1.0/feed?tls=1');
is($ws->status, 101, 'wss:// backend: 101');
$ws->send_text('over tls to the backend');
$m = $ws->read_message;
is($m && $m->{payload}, 'over tls to the backend', 'wss:// backend: echo');
my ($shs) = $backend->wait_log(event => 'handshake', path => '/secure/feed');
is($shs && $shs->{query}, 'tls=1', 'the backend (behind the TLS server) got /secure/feed?tls=1');
is($ws->close_handshake, 1000, 'wss:// backend: close');
my $tls_line = qr{^srv=$tls scheme=https "GET /secure/feed\?tls=1 HTTP/1.1" 101 }m;
ok(poll_until(10, sub { $nginx->access_log =~ $tls_line }),
   'the TLS server logged the request over https (the gateway used TLS)');
my $gw_line = qr{^srv=$gw scheme=http "GET /gateway/secure/1.0/feed\?tls=1 HTTP/1.1" 101 backend=(\S+)}m;
ok(poll_until(10, sub { $nginx->access_log =~ $gw_line }), 'gateway line for the wss:// API');
my ($sb) = $nginx->access_log =~ $gw_line;
is($sb, "https://127.0.0.1:$tls/secure/feed?tls=1", '$ws_api_backend maps wss to https');

###############################################################################
# a host name in wsUrl, resolved through nginx's resolver

my $host = 'ws-backend.wsapi.test';
my $named = create_active($nginx, { apiName => 'named', wsUrl => "ws://$host:" . $backend->port . '/named' });
$el = wait_status($nginx, '/gateway/named/1.0', 101, 10);
ok(defined $el, sprintf 'host-name wsUrl: 101 (%.3fs)', $el // -1);
$ws = gw_connect($nginx, '/gateway/named/1.0/x?n=1');
is($ws->status, 101, 'host-name wsUrl: 101 again');
$ws->send_text('by name');
$m = $ws->read_message;
is($m && $m->{payload}, 'by name', 'host-name wsUrl: echo');
$ws->close_handshake;
my ($nhs) = $backend->wait_log(event => 'handshake', path => '/named/x');
ok($nhs, 'the backend got /named/x');
is($nhs && $nhs->{headers}{host}, "$host:" . $backend->port,
   'the Host header sent to the backend names the wsUrl host');
ok((grep { lc($_) eq "$host 1" } $dns->{queries}->()), "the resolver asked for A $host");

# a name the DNS does not know: the gateway cannot reach it (5xx, not 101)
my $unknown = create_active($nginx, { apiName => 'unknownhost',
                                      wsUrl => 'ws://no-such.wsapi.test:' . $backend->port . '/' });
ok(defined wait_status($nginx, '/gateway/unknownhost/1.0', 502, 10),
   'a wsUrl host that does not resolve: 502');

note(sprintf 'total %.1fs', Time::HiRes::time() - $T0);
done_testing;
