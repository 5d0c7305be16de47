#!/usr/bin/perl

# A fault soak (issue "Hardening", deliverable 4): about 1,000 WebSocket
# connections relay self-checking messages (each carries its connection,
# its sequence number and the sha1 of its data; the client checks every
# echo for order, equality and integrity) for about a minute, while Redis
# restarts twice, nginx reloads twice, and the API is changed twice through
# the admin API (a parameter added, then made required).
#
# Asserted: no worker dies, no established connection is lost, no message
# arrives corrupted, changed or out of order, the relay never stalls for a
# second, every connection ends with a clean close handshake, and the
# changes apply to new connections.  The soak runs with
# ws_api_shutdown_close off, so that the old workers keep their
# connections across the reloads; t/45-soak-going-away.t puts the same
# load through a reload and a quit with it on.
#
# The client is t/lib/soak_client.py (asyncio, one process for every
# connection).  WSAPI_SOAK_CONNECTIONS and WSAPI_SOAK_SECONDS change the
# figures (1000 and 60 by default).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use WsApi::Test;
use WsApi::Api;
use WsApi::Hostile;

sub true () { JSON::PP::true }

my $t_start = time;
my $N = soak_connections($ENV{WSAPI_SOAK_CONNECTIONS} // 1000);
my $SECS = $ENV{WSAPI_SOAK_SECONDS} // 60;

# the connections live through both reloads: the old workers keep them
# (t/45 and t/52 test the default, 1001 "server going away" on reload)
my $gw = gateway(main => 'worker_processes 2;',
                 http => 'ws_api_shutdown_close off;');
my $nginx = $gw->nginx;
my $redis = $gw->redis;
my $backend = $gw->backend;

my $api = $gw->define(
    apiName => 'soak',
    parameters => [ { name => 'client', dataType => 'string', required => true } ],
    messages => [ map { my $o = $_; map { { origin => $o, type => $_ } } qw(text binary) }
                  qw(client server) ],
);

my $mark0 = $nginx->log_mark;

# all connected
my $soak = start_soak($gw, name => 'soak', path => '/gateway/soak/1.0', connections => $N,
                      args => ['--query', '?client=soak', '--duration', $SECS,
                               '--interval', 1.0, '--window', 2]);
sub status { $soak->status }
my $run0 = time;

# the faults, spread over the run; after each, the echoes keep coming
my (@events, $restarts, $reloads, $updates);

sub flowing {
    my ($name) = @_;
    my $r0 = status()->{received} // 0;
    my $t = poll_until(timeout_scale(5), sub { (status()->{received} // 0) > $r0 + 100 });
    ok($t, sprintf('%s: echoes keep coming (%s)', $name, $t ? "100 more within ${t}s" : 'stalled'));
    is(status()->{lost} // 0, 0, "$name: no connection lost so far");
}

sub at {
    my ($when) = @_;
    my $wait = $run0 + $when * $SECS / 60 - time;
    sleep $wait if $wait > 0;
}

sub event { push @events, sprintf('%5.1f s %s', time - $run0, $_[0]) }

at(6);
{
    event('Redis restart');
    $redis->restart;
    $restarts++;
    ok(poll_until(timeout_scale(10), sub { $gw->admin(GET => 'health')->{status} == 200 }),
       'Redis restarted: the admin API is healthy again');
    flowing('Redis restart');
}

at(14);
{
    event('nginx reload');
    my $t = $nginx->reload;
    ok($t, "nginx reloaded (new workers in ${t}s)") or diag($nginx->reload_error);
    $reloads++;
    my @all = $nginx->worker_pids(all => 1);
    cmp_ok(scalar @all, '>', 2, 'the old workers are still there, with their connections');
    flowing('reload 1');
}

at(22);
{
    event('API update: a parameter added');
    my $def = $gw->admin(GET => "apis/$api->{id}")->{json};
    push @{ $def->{parameters} }, { name => 'tier', dataType => 'integer' };
    delete $def->{$_} for qw(gatewayEndpoints);
    my $r = $gw->admin(PUT => "apis/$api->{id}", $def);
    is($r->{status}, 200, 'the API is updated through the admin API (a parameter added)');
    $updates++;
    ok(poll_until(timeout_scale(5), sub {
        my $ws = $gw->connect('/gateway/soak/1.0/probe?client=x&tier=high');
        $ws->disconnect;
        $ws->status == 400;
    }), 'new connections get the new parameter checked');
    my $ws = $gw->connect('/gateway/soak/1.0/probe?client=x&tier=2');
    is($ws->status, 101, '... and pass when it is valid');
    $ws->disconnect;
    flowing('API update 1');
}

at(30);
{
    event('nginx reload');
    my $t = $nginx->reload;
    ok($t, "nginx reloaded again (new workers in ${t}s)") or diag($nginx->reload_error);
    $reloads++;
    flowing('reload 2');
}

at(38);
{
    event('Redis restart');
    $redis->restart;
    $restarts++;
    ok(poll_until(timeout_scale(10), sub { $gw->admin(GET => 'health')->{status} == 200 }),
       'Redis restarted again: the admin API is healthy again');
    flowing('Redis restart 2');
}

at(46);
{
    event('API update: the parameter made required');
    my $def = $gw->admin(GET => "apis/$api->{id}")->{json};
    $_->{required} = true for grep { $_->{name} eq 'tier' } @{ $def->{parameters} };
    delete $def->{gatewayEndpoints};
    my $r = $gw->admin(PUT => "apis/$api->{id}", $def);
    is($r->{status}, 200, 'the API is updated again (the parameter made required)');
    $updates++;
    ok(poll_until(timeout_scale(5), sub {
        my $ws = $gw->connect('/gateway/soak/1.0/probe?client=x');
        $ws->disconnect;
        $ws->status == 400;
    }), 'new connections without it are refused');
    flowing('API update 2');
}

# the end: the client stops sending, waits for its echoes, closes
ok(poll_until($SECS + timeout_scale(60), sub { (status()->{phase} // '') eq 'done' }),
   'the client has finished');
my $res = $soak->result;

my @lost = @{ $res->{lost} || [] };
is(scalar @lost, 0, 'no established connection was lost');
diag('  ' . json_encode($_)) for @lost[0 .. ($#lost < 4 ? $#lost : 4)];
is($res->{corrupt}, 0, 'no message arrived corrupted (its sha1)');
is($res->{out_of_order}, 0, 'no message arrived out of order');
is($res->{mismatch}, 0, 'every echo equals the message sent');
is($res->{received}, $res->{sent}, "every message came back ($res->{sent} sent)");
is($res->{closed_ok}, $res->{established}, 'every connection ended with a close handshake (1000)');
my @cp = @{ $res->{close_problems} || [] };
diag("  $_") for @cp[0 .. ($#cp < 4 ? $#cp : 4)];
my @errors = @{ $res->{errors} || [] };
diag("  $_") for @errors[0 .. ($#errors < 9 ? $#errors : 9)];

# echoes every second of the run: a stall of the relay would show
my @ps = @{ $res->{per_second} || [] };
my $first = int($res->{connect_secs} // 0) + 2;
my $last = $first + int($res->{run_secs} // 0) - 4;
my @run = @ps[$first .. ($last < $#ps ? $last : $#ps)];
my ($min) = sort { $a <=> $b } @run;
ok(@run && $min > 0, sprintf('echoes every second of the run (the slowest second had %d)',
                             $min // -1));

# the backend got exactly what was sent
my $backend_msgs = 0;
if (open my $fh, '<', $backend->log_path) {
    while (<$fh>) { $backend_msgs++ if /"event":"message"/ && /"path":"\/stream\/c\d+"/ }
}
is($backend_msgs, $res->{sent}, 'the backend received every message once');

# with the connections gone, the old workers finish their graceful exit
ok(poll_until(timeout_scale(15), sub { scalar($nginx->worker_pids(all => 1)) == 2 }),
   'the workers of the old configurations exit once their connections are closed');

no_crash_since($nginx, $mark0, 'no worker died, no alert, during the soak');

my $mb = sub { sprintf '%.1f MB', ($_[0] // 0) / 1e6 };
diag(sprintf('soak: %d connections (%d established in %.1f s), %.1f s of traffic, %d messages '
             . 'each way (%s sent, %s received), max echo latency %.0f ms, %d pings, '
             . '%d reloads, %d Redis restarts, %d API updates; total %.1f s',
             $N, $res->{established} // 0, $res->{connect_secs} // 0, $res->{run_secs} // 0,
             $res->{sent} // 0, $mb->($res->{bytes_sent}), $mb->($res->{bytes_received}),
             $res->{max_latency_ms} // 0, $res->{pings} // 0, $reloads // 0, $restarts // 0,
             $updates // 0, time - $t_start));
diag("soak: $_") for @events;

done_testing;
