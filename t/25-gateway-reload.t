#!/usr/bin/perl

# Gateway and "nginx -s reload": an established WebSocket connection keeps
# working through reloads (served by the old worker), the loaded
# definitions are kept (the shared zone is reused: a new connection right
# after a reload succeeds even while Redis is down), and the new workers
# follow changes.  With ws_api_shutdown_close off.

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
# the old workers keep their connections (t/52 tests the default,
# ws_api_shutdown_close on: 1001 "server going away" on reload)
my $http = gw_http(http_extra => "ws_api_shutdown_close off;");
my $nginx = start_nginx(http => $http, main => 'worker_processes 2;',
                        log_format => '$pid "$request" $status close=$ws_api_close_code');

my $api = create_active($nginx, { apiName => 'rl', wsUrl => $backend->url('/rl'),
    parameters => [ { name => 'token', in => 'query', dataType => 'integer', required => true } ] });
my $other = create_active($nginx, { apiName => 'rl2', wsUrl => $backend->url('/rl2') });
ok(defined wait_status($nginx, '/gateway/rl/1.0?token=1', 101, 10), 'APIs active');

sub echo {
    my ($ws, $text) = @_;
    $ws->send_text($text) or return 'send failed';
    my $m = $ws->read_message(5);
    return $m ? $m->{payload} : 'nothing';
}

sub fresh_ok {
    my ($path, $text) = @_;
    my $ws = gw_connect($nginx, $path);
    return 'status ' . $ws->status unless $ws->status == 101;
    my $got = echo($ws, $text);
    $ws->close_handshake(1000, '', 5);
    return $got eq $text ? 'ok' : "echo: $got";
}

###############################################################################
# an established connection through reloads

my $live = gw_connect($nginx, '/gateway/rl/1.0/live?token=1');
is($live->status, 101, 'a connection');
is(echo($live, 'before'), 'before', 'relays before the reload');
my $lib = gw_connect($nginx, '/gateway/rl2/1.0/lib', lib => 1);
is($lib->status, 101, 'a second connection (Protocol::WebSocket)');
is(echo($lib, 'lib before'), 'lib before', 'relays before the reload');

my @old = $nginx->worker_pids;
my $el = $nginx->reload;
ok($el, sprintf 'reload (%.3fs)', $el || -1);
my @new = $nginx->worker_pids;
ok(!(grep { my $o = $_; grep { $_ == $o } @new } @old), "new workers (@new) replaced the old ones (@old)");
ok(scalar($nginx->worker_pids(all => 1)) > @new, 'an old worker is still running for the open connections');

is(echo($live, 'after reload'), 'after reload', 'the established connection relays after the reload');
is(echo($lib, 'lib after'), 'lib after', 'the Protocol::WebSocket connection too');
$live->send_text('!frag 3000 7');
my $m = $live->read_message(5);
is($m && $m->{len}, 3000, 'a fragmented message from the backend after the reload');
$live->ping('after');
$m = $live->read_message(5);
is_deeply([$m && $m->{opcode}, $m && $m->{payload}], [10, 'after'], 'ping/pong after the reload');
is(fresh_ok('/gateway/rl/1.0/fresh?token=2', 'fresh'), 'ok', 'a new connection right after the reload');
param_error_is(gw_connect($nginx, '/gateway/rl/1.0/fresh'), 'token', 'query', 'missing',
               'the new workers check the parameters');

# the new workers follow changes (they subscribed)
deactivate($nginx, $other->{id});
$el = poll_until(10, sub { gw_handshake($nginx, '/gateway/rl2/1.0/x') == 404 });
ok(defined $el && $el <= 1.0, sprintf 'a deactivation after the reload is enforced (%.3fs)', $el // -1);
is(echo($lib, 'lib still'), 'lib still', 'an established connection of a deactivated API goes on');
activate($nginx, $other->{id});
ok(defined wait_status($nginx, '/gateway/rl2/1.0/x', 101, 10), 'activated again');

###############################################################################
# Redis stopped, then reload: the zone (and its definitions) is reused

$redis->cmd('SAVE');
$redis->stop;
ok(poll_until(10, sub { admin_req($nginx, GET => 'health')->{status} == 503 }), 'Redis down (/health 503)');

$el = $nginx->reload;
ok($el, sprintf 'reload with Redis down (%.3fs)', $el || -1);
my $t = Time::HiRes::time();
my $ws = gw_connect($nginx, '/gateway/rl/1.0/zone?token=3');
my $dt = Time::HiRes::time() - $t;
is($ws->status, 101, sprintf 'a new connection right after the reload, Redis down: 101 (%.3fs)', $dt);
is(echo($ws, 'zone reused'), 'zone reused', 'and relays');
$ws->close_handshake;
isnt(gw_handshake($nginx, '/gateway/nosuch/1.0'), 503, 'not "not loaded yet": the definitions are there');
is(gw_handshake($nginx, '/gateway/nosuch/1.0'), 404, 'an unknown API: 404');
param_error_is(gw_connect($nginx, '/gateway/rl/1.0/zone'), 'token', 'query', 'missing',
               'the parameters are there too');
my $good = 0;
$good += fresh_ok("/gateway/rl/1.0/zone-$_?token=$_", "z$_") eq 'ok' ? 1 : 0 for 1 .. 20;
is($good, 20, '20 new connections after the reload, Redis down');
is(echo($live, 'two reloads'), 'two reloads', 'the first connection still relays after a second reload');

# a reload that adds a server block keeps the zone too
$el = $nginx->reload(http => $http . "server { listen 127.0.0.1:%%PORT_EXTRA%%; return 200 'extra\\n'; }\n");
ok($el, 'reload with a new server block, Redis down');
is(http_request(GET => 'http://127.0.0.1:' . $nginx->port('extra') . '/')->{status}, 200, 'the new server answers');
is(fresh_ok('/gateway/rl/1.0/third?token=4', 'third'), 'ok', 'the gateway still serves after a third reload');
is(echo($live, 'three reloads'), 'three reloads', 'the first connection still relays');
is(echo($lib, 'lib three'), 'lib three', 'the second too');

###############################################################################
# Redis back: everything goes on; old workers leave once their connections close

$redis->start;
ok(defined poll_until(15, sub { admin_req($nginx, GET => 'health')->{status} == 200 }), 'Redis back (/health 200)');
is(fresh_ok('/gateway/rl/1.0/back?token=5', 'back'), 'ok', 'a new connection');

my $live_pid_re = qr{^(\d+) "GET /gateway/rl/1\.0/live\?token=1 HTTP/1\.1" 101 close=(\S*)}m;
is($live->close_handshake(1000, 'bye'), 1000, 'the first connection closes normally (1000)');
is($lib->close_handshake(1000, 'bye'), 1000, 'the second too');
ok(poll_until(10, sub { $nginx->access_log =~ $live_pid_re }), 'its access log line is written');
my ($pid, $code) = $nginx->access_log =~ $live_pid_re;
ok(defined $pid && (grep { $_ == $pid } @old), "it was served to the end by an original worker ($pid)");
is($code, '1000', '$ws_api_close_code 1000 in its log line');
$el = poll_until(10, sub { scalar($nginx->worker_pids(all => 1)) == scalar($nginx->worker_pids) });
ok(defined $el, sprintf 'the old workers exit once their connections are closed (%.3fs)', $el // -1);

note(sprintf 'total %.1fs', Time::HiRes::time() - $T0);
done_testing;
