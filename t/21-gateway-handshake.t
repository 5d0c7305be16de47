#!/usr/bin/perl

# Gateway: the handshake checks of SPEC 4.1, in their order: the API (404),
# the WebSocket upgrade (426, 400), then the parameters (400); each answer's
# status, JSON error body and headers; and none of the refused handshakes
# reaches the backend.

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
my $nginx = start_nginx(http => gw_http());

my $hs = create_active($nginx, { apiName => 'hs', apiVersion => '1.0',
                                 wsUrl => $backend->url('/hs') });
my $prm = create_active($nginx, { apiName => 'prm', apiVersion => '1.0',
                                  wsUrl => $backend->url('/prm'),
                                  parameters => [ { name => 'symbol', in => 'query',
                                                    dataType => 'string', required => true } ] });
my $inactive = create_api($nginx, { apiName => 'sleepy', apiVersion => '1.0',
                                    wsUrl => $backend->url('/sleepy') });
my $gone = create_active($nginx, { apiName => 'gone', apiVersion => '1.0',
                                   wsUrl => $backend->url('/gone') });
ok(defined wait_status($nginx, '/gateway/gone/1.0', 101, 10), 'APIs active');
deactivate($nginx, $gone->{id});
my $el = wait_status($nginx, '/gateway/gone/1.0/poll', 404, 10);
ok(defined $el, sprintf 'deactivated API refused (%.3fs)', $el // -1);

# every refused request has "refused" in its path: the backend must never see one
my $n = 0;
sub refused {
    my ($api, %opt) = @_;
    $n++;
    return gw_connect($nginx, "/gateway/$api/refused-$n", %opt);
}

sub no_upgrade_headers {
    my ($ws, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok(!defined $ws->header('sec-websocket-accept'), "$name: no Sec-WebSocket-Accept");
}

###############################################################################
# 1. the API: 404

my $ws;
for my $c (['nosuch/1.0', 'an unknown name'],
           ['hs/2.0', 'an unknown version of a known name'],
           ['sleepy/1.0', 'an API that was never activated'],
           ['gone/1.0', 'a deactivated API']) {
    my ($api, $what) = @$c;
    $ws = refused($api);
    error_is($ws, 404, "$what: 404 with the JSON error");
    no_upgrade_headers($ws, $what);
}
$ws = gw_connect($nginx, '/gateway/hs/refused');
is($ws->status, 404, 'a path without a version: 404');
$ws = gw_connect($nginx, '/gateway/');
is($ws->status, 404, 'the bare gateway prefix: 404');

# 404 wins over 426 and 400
$ws = refused('nosuch/1.0', method => 'POST', upgrade => undef, connection => undef,
              version => 8, key => undef);
error_is($ws, 404, 'an unknown API with a bad handshake (POST, no Upgrade, version 8, no key): 404');
ok(!defined $ws->header('sec-websocket-version'), '... and no Sec-WebSocket-Version header');
$ws = refused('sleepy/1.0', upgrade => undef);
error_is($ws, 404, 'an inactive API without Upgrade: 404, not 426');
$ws = refused('gone/1.0', key => 'short');
error_is($ws, 404, 'a deactivated API with a bad key: 404, not 400');
$ws = refused('nosuch/1.0', version => 8);
error_is($ws, 404, 'an unknown API with version 8: 404, not 426');

###############################################################################
# 2. the upgrade: 426 with Upgrade: websocket

for my $c ([{ method => 'POST' },                 'POST'],
           [{ method => 'PUT' },                  'PUT'],
           [{ method => 'DELETE' },               'DELETE'],
           [{ upgrade => undef },                 'no Upgrade header'],
           [{ upgrade => 'h2c' },                 'Upgrade: h2c'],
           [{ connection => undef },              'no Connection header'],
           [{ connection => 'keep-alive' },       'Connection: keep-alive (without upgrade)'],
           [{ connection => 'close' },            'Connection: close'],
           [{ upgrade => undef, connection => undef, key => undef, version => undef },
                                                  'a plain GET']) {
    my ($opt, $what) = @$c;
    $ws = refused('hs/1.0', %$opt);
    error_is($ws, 426, "$what: 426 with the JSON error");
    is(lc(header_of($ws, 'upgrade') // ''), 'websocket', "$what: Upgrade: websocket");
    is($ws->reason, 'Upgrade Required', "$what: reason phrase Upgrade Required");
    no_upgrade_headers($ws, $what);
}
$ws = refused('hs/1.0', method => 'HEAD');
is($ws->status, 426, 'HEAD: 426');
is(lc(header_of($ws, 'upgrade') // ''), 'websocket', 'HEAD: Upgrade: websocket');
$ws = refused('hs/1.0', http_version => 'HTTP/1.0');
error_is($ws, 426, 'an upgrade request in HTTP/1.0: 426 (RFC 6455 needs HTTP/1.1)');
{
    my $r = http_request(GET => "http://127.0.0.1:" . $nginx->port('gw') . '/gateway/hs/1.0/refused-plain');
    error_is($r, 426, 'a plain HTTP GET (HTTP::Tiny): 426');
    is(lc(header_of($r, 'upgrade') // ''), 'websocket', 'a plain HTTP GET: Upgrade: websocket');
}

# Sec-WebSocket-Version not 13: 426 with Sec-WebSocket-Version: 13
for my $c ([8, 'Sec-WebSocket-Version: 8'], [12, 'version 12'], [14, 'version 14'],
           [undef, 'no Sec-WebSocket-Version'], ['13x', 'version "13x"'],
           ['', 'an empty Sec-WebSocket-Version']) {
    my ($v, $what) = @$c;
    $ws = refused('hs/1.0', version => $v);
    error_is($ws, 426, "$what: 426 with the JSON error");
    is(header_of($ws, 'sec-websocket-version'), '13', "$what: Sec-WebSocket-Version: 13");
    no_upgrade_headers($ws, $what);
}

# Sec-WebSocket-Key not 16 bytes of base64: 400
for my $c ([undef, 'no Sec-WebSocket-Key'],
           ['', 'an empty key'],
           ['AAECAwQFBgcICQoLDA0O', '15 bytes in base64 (short)'],
           ['AAECAwQFBgcICQoLDA0ODxA=', '17 bytes in base64 (long)'],
           ['short', 'a short key'],
           ['!!!!!!!!!!!!!!!!!!!!!!==', '24 characters that are not base64'],
           ['AAECAwQFBgcICQoLDA0ODw', '16 bytes without the padding']) {
    my ($k, $what) = @$c;
    $ws = refused('hs/1.0', key => $k);
    error_is($ws, 400, "$what: 400 with the JSON error");
    no_upgrade_headers($ws, $what);
}

# order inside step 2: the upgrade, then the version, then the key
$ws = refused('hs/1.0', method => 'POST', version => 8, key => undef);
error_is($ws, 426, 'POST with version 8 and no key: 426');
is(lc(header_of($ws, 'upgrade') // ''), 'websocket', '... for the method (Upgrade: websocket)');
$ws = refused('hs/1.0', upgrade => undef, key => 'short');
error_is($ws, 426, 'no Upgrade and a bad key: 426, not 400');
$ws = refused('hs/1.0', version => 8, key => 'short');
error_is($ws, 426, 'version 8 and a bad key: 426, not 400');
is(header_of($ws, 'sec-websocket-version'), '13', '... with Sec-WebSocket-Version: 13');

# step 2 comes before step 3 (parameters)
$ws = refused('prm/1.0', upgrade => undef);
error_is($ws, 426, 'a missing required parameter and no Upgrade: 426');
$ws = refused('prm/1.0', key => 'short');
error_is($ws, 400, 'a missing required parameter and a bad key: 400 ...');
ok(!exists $ws->json->{error}{parameter}, '... for the key, not for the parameter')
    if ref $ws->json eq 'HASH';
$ws = refused('prm/1.0');
param_error_is($ws, 'symbol', 'query', 'missing', 'a good handshake without the parameter: 400 missing');

###############################################################################
# variants that are valid upgrades

for my $c ([{ upgrade => 'WebSocket' },                     'Upgrade: WebSocket (any case)'],
           [{ connection => 'keep-alive, Upgrade' },        'Connection: keep-alive, Upgrade'],
           [{ connection => 'UPGRADE' },                    'Connection: UPGRADE']) {
    my ($opt, $what) = @$c;
    $ws = gw_connect($nginx, '/gateway/hs/1.0/accepted', %$opt);
    is($ws->status, 101, "$what: 101");
    ok($ws->accept_ok, "$what: Sec-WebSocket-Accept matches");
    $ws->disconnect;
}
$ws = gw_connect($nginx, '/gateway/prm/1.0/accepted?symbol=X');
is($ws->status, 101, 'everything right: 101');
$ws->send_text('through');
is($ws->read_message->{payload}, 'through', 'and relayed');
$ws->close_handshake;

###############################################################################
# nothing refused reached the backend

my $sentinel = gw_connect($nginx, '/gateway/hs/1.0/sentinel');
is($sentinel->status, 101, 'a last good connection');
ok($backend->wait_log(event => 'handshake', path => '/hs/sentinel'),
   'the backend logged it (every earlier handshake is in its log)');
$sentinel->disconnect;
my @leaked = $backend->log(where => sub { ($_[0]->{path} // '') =~ /refused/ });
is(scalar(@leaked), 0, "none of the $n refused handshakes reached the backend (no connect, no handshake)")
    or diag explain \@leaked;
my @conns = $backend->log(event => 'connect');
my @hss = $backend->handshakes;
is(scalar(@conns), scalar(@hss), 'the backend had no connection without a handshake')
    or diag scalar(@conns) . ' connections, ' . scalar(@hss) . ' handshakes';

note(sprintf 'total %.1fs', Time::HiRes::time() - $T0);
done_testing;
