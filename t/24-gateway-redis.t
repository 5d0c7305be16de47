#!/usr/bin/perl

# Gateway and Redis (SPEC 4.1, 6): the handshake path sends no command to
# Redis; while Redis is down the gateway keeps serving what it has, admin
# writes and /health answer 503; nginx starts while Redis is down and
# catches up when it returns; a hung Redis (SIGSTOP) makes admin requests
# fail within about the configured timeout and never blocks the gateway.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Socket::INET;
use IO::Select;
use POSIX qw(ceil);
use Time::HiRes ();
use WsApi::Test;
use WsApi::Gateway;

my $T0 = Time::HiRes::time();
my $TIMEOUT = 0.5;    # ws_api_redis ... timeout=500ms

my $redis = start_redis();
my $backend = start_backend();

# one worker: whatever the admin side waits for, the same event loop must
# keep serving the gateway
my $N = start_nginx(http => gw_http(redis_opts => 'timeout=500ms'));

my $api = create_active($N, { apiName => 'r', wsUrl => $backend->url('/r') });
my $papi = create_active($N, { apiName => 'rp', wsUrl => $backend->url('/rp'),
    parameters => [ { name => 'token', in => 'query', dataType => 'integer', required => true } ] });
ok(defined wait_status($N, '/gateway/rp/1.0?token=1', 101, 10), 'two APIs active');

sub echo_ok {
    my ($ng, $path, $text) = @_;
    my $ws = gw_connect($ng, $path);
    return "status " . $ws->status unless $ws->status == 101;
    $ws->send_text($text);
    my $m = $ws->read_message(5);
    my $got = $m ? $m->{payload} : 'nothing';
    $ws->close_handshake(1000, '', 5);
    return $got eq $text ? 'ok' : "echo: $got";
}

sub total_calls {
    my $cs = $redis->info('commandstats');
    my $n = 0;
    $n += $cs->{$_}{calls} for grep { !/^(?:info|monitor)$/ } keys %$cs;
    return ($n, $cs);
}

###############################################################################
# the handshake path sends no command to Redis

{
    my $HANDSHAKES = 300;
    my $mon = $redis->monitor;
    my ($before, $cs0) = total_calls();
    my $t = Time::HiRes::time();
    my $ok = 0;
    for my $i (1 .. $HANDSHAKES) {
        my $path = $i % 3 ? "/gateway/r/1.0/burst-$i" : "/gateway/rp/1.0/burst-$i?token=$i";
        my $ws = gw_connect($N, $path);
        $ok++ if $ws->status == 101 && $ws->close_handshake(1000, '', 5) == 1000;
    }
    my $secs = Time::HiRes::time() - $t;
    my ($after, $cs1) = total_calls();
    my @cmds = $mon->commands(sync => 1);
    $mon->stop;
    is($ok, $HANDSHAKES, sprintf '%d full handshakes (101, close 1000) in %.2fs', $HANDSHAKES, $secs);

    # budget: the once-a-second "rev" comparison (GET rev) of this nginx and
    # a little slack (reconnection check, a PING): 3 commands per started second
    my $budget = 3 * (ceil($secs) + 1);
    my $delta = $after - $before;
    diag(sprintf 'Redis commands during %d handshakes (%.2fs): %d (budget %d = 3 per second); MONITOR saw: %s',
         $HANDSHAKES, $secs, $delta, $budget,
         join(', ', map { join(' ', @{ $_->{args} }) } @cmds) || 'nothing');
    cmp_ok($delta, '<=', $budget, "commandstats: $delta calls, within the budget of $budget (not one per handshake)");
    my @eval = grep { $_->{cmd} =~ /^(?:eval|evalsha|fcall)$/ } @cmds;
    is(scalar(@eval), 0, 'no EVAL/EVALSHA during the burst');
    my @get = grep { $_->{cmd} =~ /^(?:get|mget|hget|hgetall|smembers|exists)$/
                     && ($_->{args}[1] // '') ne 'wsapi:rev' } @cmds;
    is(scalar(@get), 0, 'no read of a definition during the burst (GET only of "rev")')
        or diag explain \@get;
    for my $c (qw(eval evalsha get)) {
        my $d = ($cs1->{$c}{calls} // 0) - ($cs0->{$c}{calls} // 0);
        cmp_ok($d, '<', $HANDSHAKES / 10, "commandstats $c: +$d");
    }
}

###############################################################################
# a hung Redis (SIGSTOP): admin answers 503 within about the timeout, the
# gateway keeps serving

my $live = gw_connect($N, '/gateway/r/1.0/live-paused');
is($live->status, 101, 'a connection opened before the pause');

$redis->pause;

{
    my $t = Time::HiRes::time();
    my $r = admin_req($N, POST => 'apis', json => { apiName => 'during-pause', wsUrl => $backend->url('/p') },
                      timeout => 20);
    my $el = Time::HiRes::time() - $t;
    error_is($r, 503, sprintf 'paused Redis: POST apis answers 503 (%.3fs)', $el);
    diag(sprintf 'paused Redis: POST /apis answered %d after %.3fs (timeout=500ms)', $r->{status}, $el);
    cmp_ok($el, '<=', 4 * $TIMEOUT, sprintf 'paused Redis: the 503 comes within about the timeout (%.3fs <= %.1fs)',
           $el, 4 * $TIMEOUT);

    $t = Time::HiRes::time();
    $r = admin_req($N, PUT => "apis/$api->{id}/deactivate", timeout => 20);
    $el = Time::HiRes::time() - $t;
    error_is($r, 503, sprintf 'paused Redis: PUT deactivate answers 503 (%.3fs)', $el);
    cmp_ok($el, '<=', 4 * $TIMEOUT, sprintf 'paused Redis: within about the timeout (%.3fs)', $el);

    $t = Time::HiRes::time();
    $r = admin_req($N, GET => 'health', timeout => 20);
    $el = Time::HiRes::time() - $t;
    is($r->{status}, 503, sprintf 'paused Redis: GET /health answers 503 (%.3fs)', $el);
    cmp_ok($el, '<=', 4 * $TIMEOUT, sprintf 'paused Redis: /health within about the timeout (%.3fs)', $el);

    # an admin request left waiting on the hung Redis does not hold up the
    # gateway (one worker: the same event loop)
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $N->port('admin'), Timeout => 5);
    my $body = json_encode({ apiName => 'pending', wsUrl => $backend->url('/p') });
    print $s "POST /rest/apigateway/apis HTTP/1.1\r\nHost: x\r\nX-User: admin\r\n"
           . "Content-Type: application/json\r\nContent-Length: " . length($body)
           . "\r\nConnection: close\r\n\r\n$body";
    $t = Time::HiRes::time();
    my @lat;
    my $good = 0;
    for my $i (1 .. 20) {
        my $h = Time::HiRes::time();
        $good++ if echo_ok($N, "/gateway/r/1.0/paused-$i", "paused $i") eq 'ok';
        push @lat, Time::HiRes::time() - $h;
    }
    my ($max) = sort { $b <=> $a } @lat;
    is($good, 20, sprintf 'paused Redis: 20 new connections accepted and relayed (%.3fs)', Time::HiRes::time() - $t);
    cmp_ok($max, '<', 0.4, sprintf 'paused Redis: no handshake waited for Redis (slowest %.3fs)', $max);
    is(gw_handshake($N, '/gateway/rp/1.0/paused'), 400, 'paused Redis: parameters still checked (400)');
    is(gw_handshake($N, '/gateway/nosuch/1.0'), 404, 'paused Redis: an unknown API is still 404');
    my $ans = '';
    if (IO::Select->new($s)->can_read(10)) { sysread($s, $ans, 4096) }
    like($ans, qr{^HTTP/1\.1 503 }, 'the admin request pending meanwhile got its 503');

    $live->send_text('still here');
    my $m = $live->read_message(5);
    is($m && $m->{payload}, 'still here', 'paused Redis: the established connection relays');
}

$redis->resume;
{
    my $el = poll_until(10, sub {
        admin_req($N, GET => 'health')->{status} == 200 });
    ok(defined $el, sprintf 'resumed Redis: /health 200 again (%.3fs)', $el // -1);
    my $r = admin_req($N, POST => 'apis', json => { apiName => 'after-pause', wsUrl => $backend->url('/p') });
    is($r->{status}, 201, 'resumed Redis: admin writes work again');
    is(admin_req($N, GET => 'apis/' . $api->{id})->{json}{isActive} ? 1 : 0, 1,
       'the deactivation refused during the pause changed nothing');
}

###############################################################################
# Redis down: the gateway keeps serving what it has

$redis->cmd('SAVE');    # the definitions survive the stop (RDB)
my $live2 = gw_connect($N, '/gateway/r/1.0/live-down');
is($live2->status, 101, 'a connection opened before Redis stops');
$redis->stop;
ok(!$redis->is_running, 'Redis stopped');

{
    my $el = poll_until(10, sub { admin_req($N, GET => 'health')->{status} == 503 });
    ok(defined $el, sprintf 'Redis down: GET /health answers 503 (after %.3fs)', $el // -1);
    my $h = admin_req($N, GET => 'health');
    like($h->{headers}{'content-type'} // '', qr{^application/json}, 'Redis down: /health answers JSON');

    my $r = admin_req($N, POST => 'apis', json => { apiName => 'during-down', wsUrl => $backend->url('/d') });
    error_is($r, 503, 'Redis down: POST apis answers 503');
    $r = admin_req($N, PUT => "apis/$api->{id}/deactivate");
    error_is($r, 503, 'Redis down: PUT deactivate answers 503');
    $r = admin_req($N, PUT => "apis/$api->{id}", json => { apiName => 'r', wsUrl => $backend->url('/x') });
    error_is($r, 503, 'Redis down: PUT apis/{id} answers 503');
    $r = admin_req($N, DELETE => "apis/$api->{id}");
    is($r->{status}, 503, 'Redis down: DELETE apis/{id} answers 503');

    my $good = 0;
    $good += echo_ok($N, "/gateway/r/1.0/down-$_", "down $_") eq 'ok' ? 1 : 0 for 1 .. 20;
    is($good, 20, 'Redis down: 20 new connections to an active API accepted and relayed');
    is(echo_ok($N, '/gateway/rp/1.0/down?token=5', 'with token'), 'ok', 'Redis down: with its parameter: relayed');
    my $ws = gw_connect($N, '/gateway/rp/1.0/down');
    param_error_is($ws, 'token', 'query', 'missing', 'Redis down: parameters still checked');
    error_is(gw_connect($N, '/gateway/nosuch/1.0'), 404, 'Redis down: an unknown API is still 404');
    $live2->send_text('redis is down');
    my $m = $live2->read_message(5);
    is($m && $m->{payload}, 'redis is down', 'Redis down: the established connection relays');
}

###############################################################################
# nginx starts while Redis is down, and catches up when it returns

my $C = start_nginx(http => gw_http(redis_opts => 'timeout=500ms'));
ok($C->is_running, 'a second nginx starts while Redis is down');
{
    my $ws = gw_connect($C, '/gateway/r/1.0');
    error_is($ws, 503, 'never loaded: the gateway answers 503');
    is($ws->json && $ws->json->{error}{message}, 'the API definitions are not loaded yet',
       'never loaded: "the API definitions are not loaded yet"');
    error_is(gw_connect($C, '/gateway/nosuch/1.0'), 503, 'never loaded: an unknown API is 503 too (nothing is known)');
    is(admin_req($C, GET => 'health')->{status}, 503, 'never loaded: /health 503');
    error_is(admin_req($C, POST => 'apis', json => { apiName => 'x', wsUrl => $backend->url('/x') }),
             503, 'never loaded: admin writes 503');
    is(echo_ok($N, '/gateway/r/1.0/still', 'still'), 'ok', 'the first nginx still serves');
}

my $t = Time::HiRes::time();
$redis->start;
ok($redis->is_running, 'Redis started again (data from the RDB)');
{
    my $el = poll_until(15, sub { gw_handshake($C, '/gateway/r/1.0/catchup') == 101 });
    ok(defined $el, sprintf 'the nginx started without Redis loads the definitions once it is back (%.3fs)', $el // -1);
    diag(sprintf 'nginx started while Redis was down: serving %.3fs after Redis came back',
         Time::HiRes::time() - $t);
    is(echo_ok($C, '/gateway/r/1.0/caught-up', 'caught up'), 'ok', 'and relays');
    my $ws = gw_connect($C, '/gateway/rp/1.0/caught-up');
    param_error_is($ws, 'token', 'query', 'missing', 'with the parameters of the definition');
    error_is(gw_connect($C, '/gateway/nosuch/1.0'), 404, 'an unknown API is now 404');
    $el = poll_until(15, sub { admin_req($C, GET => 'health')->{status} == 200 });
    ok(defined $el, 'its /health answers 200');
    $el = poll_until(15, sub { admin_req($N, GET => 'health')->{status} == 200 });
    ok(defined $el, sprintf 'the first nginx reconnected too (/health 200, %.3fs)', $el // -1);
    my $r = admin_req($N, POST => 'apis', json => { apiName => 'after-down', wsUrl => $backend->url('/a') });
    is($r->{status}, 201, 'admin writes work again');
    # a change made now reaches the nginx that started without Redis
    $t = Time::HiRes::time();
    deactivate($N, $api->{id});
    $el = poll_until(10, sub { gw_handshake($C, '/gateway/r/1.0/after') == 404 });
    ok(defined $el && $el <= 1.0, sprintf 'a deactivation through the first nginx reaches it (%.3fs)', $el // -1);
}

$live->close_handshake;
$live2->close_handshake;
note(sprintf 'total %.1fs', Time::HiRes::time() - $T0);
done_testing;
