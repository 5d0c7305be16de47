#!/usr/bin/perl

# Graceful reload and shutdown under load (SPEC 7, ws_api_shutdown_close
# on, the default): the soak client of t/44 keeps about 1,000 WebSocket
# connections streaming self-checking messages through two workers; then
# nginx is reloaded, and later told to quit.
#
# Asserted at each signal: every connection gets a close frame 1001
# "server going away" within 5 s, at a frame boundary and with nothing
# after it, and its stream then ends; none ends without a close frame
# (what a client would see as 1006); every backend connection gets 1001
# too; no message that does arrive is corrupted, changed or out of order.
# After the reload every client reconnects (after a random delay of up to
# a second, as the README advises), reaches a new worker and streams
# again, and the old workers exit; after the quit nginx exits.
#
# The client is t/lib/soak_client.py --going-away.  WSAPI_SOAK_CONNECTIONS
# and WSAPI_SOAK_SECONDS (the streaming time before each signal, 10 by
# default) change the figures.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use WsApi::Test;
use WsApi::Api;
use WsApi::Hostile;

my $t_start = time;
my $N = soak_connections($ENV{WSAPI_SOAK_CONNECTIONS} // 1000);
my $SECS = $ENV{WSAPI_SOAK_SECONDS} // 10;

my $gw = gateway(main => 'worker_processes 2;');
my $nginx = $gw->nginx;
my $backend = $gw->backend;

$gw->define(
    apiName => 'away',
    messages => [ map { my $o = $_; map { { origin => $o, type => $_ } } qw(text binary) }
                  qw(client server) ],
);

my $mark0 = $nginx->log_mark;

my $soak = start_soak($gw, name => 'soak-away', path => '/gateway/away/1.0', connections => $N,
                      args => sub { ['--duration', 3600, '--interval', 0.5, '--window', 2,
                                     '--going-away', '--reconnect-delay', 1.0,
                                     '--final-file', $_[0]->file('final'),
                                     '--stop-file', $_[0]->file('stop')] });
sub status { $soak->status }

sub flowing {
    my ($name) = @_;
    my $r0 = status()->{received} // 0;
    my $t = poll_until(timeout_scale(10), sub { (status()->{received} // 0) > $r0 + 2 * $N });
    ok($t, sprintf('%s: echoes flow (%s)', $name,
                   $t ? sprintf('%d more within %.1f s', 2 * $N, $t) : 'stalled'));
    is(status()->{lost} // 0, 0, "$name: no connection lost so far");
}

# every connection's 1001 within 5 s of the signal: the client's figures

my @figures;

sub all_went_away {
    my ($name, $t0, $want) = @_;
    ok(poll_until(timeout_scale(30), sub { (status()->{going_away} // 0) >= $want }),
       "$name: every connection got its 1001") or diag(json_encode(status()));
    my $s = status();
    is($s->{going_away}, $want, "$name: $want close frames 1001 in all so far");
    is($s->{lost} // 0, 0, "$name: none ended without a close frame (1006)");
    return $s;
}

flowing('before the reload');
sleep $SECS;

my $t_reload = time;
my $t = $nginx->reload;
ok($t, sprintf('nginx reloaded (new workers in %.2f s)', $t // 0)) or diag($nginx->reload_error);
all_went_away('reload', $t_reload, $N);
my $t_gone = time;
ok(poll_until(timeout_scale(15), sub { scalar($nginx->worker_pids(all => 1)) == 2 }),
   'the old workers have exited');
my $t_old = time;

# the clients reconnect to the new workers and stream again
ok(poll_until(timeout_scale(30), sub { (status()->{reconnected} // 0) >= $N }),
   'every client reconnected after its 1001');
my $t_back = time;
flowing('after the reload');
push @figures, sprintf('reload: %d connections got 1001, the client had them all %.2f s after '
                       . 'the signal, old workers gone after %.2f s, all reconnected after '
                       . '%.2f s', $N, $t_gone - $t_reload, $t_old - $t_reload,
                       $t_back - $t_reload);

sleep $SECS;

# quit: the clients do not come back this time
$soak->touch('final');
my $t_quit = time;
kill 'QUIT', $nginx->pid;
all_went_away('quit', $t_quit, 2 * $N);
my $t_gone2 = time;
ok(poll_until(timeout_scale(15), sub { !WsApi::Test::_alive($nginx->pid) }), 'nginx exited');
push @figures, sprintf('quit: %d connections got 1001, the client had them all %.2f s after '
                       . 'the signal, nginx gone after %.2f s', $N, $t_gone2 - $t_quit,
                       time - $t_quit);

$soak->touch('stop');
ok(poll_until(timeout_scale(30), sub { (status()->{phase} // '') eq 'done' }),
   'the client has finished');
my $res = $soak->result;

# the times of the 1001s, against each signal
my @away = sort { $a <=> $b } @{ $res->{away_times} || [] };
my @first = grep { $_ < $t_quit } @away;
my @second = grep { $_ >= $t_quit } @away;
is(scalar @first, $N, "reload: $N close frames 1001 before the quit");
is(scalar @second, $N, "quit: $N close frames 1001 after it");
my $late1 = @first ? $first[-1] - $t_reload : -1;
my $late2 = @second ? $second[-1] - $t_quit : -1;
cmp_ok($late1, '<', 5 * timeout_scale(1), sprintf('reload: the last 1001 %.3f s after the signal '
       . '(the first %.3f s)', $late1, @first ? $first[0] - $t_reload : -1));
cmp_ok($late2, '<', 5 * timeout_scale(1), sprintf('quit: the last 1001 %.3f s after the signal '
       . '(the first %.3f s)', $late2, @second ? $second[0] - $t_quit : -1));

my @lost = @{ $res->{lost} || [] };
is(scalar @lost, 0, 'no connection ended without a close frame (no 1006)');
diag('  ' . json_encode($_)) for @lost[0 .. ($#lost < 4 ? $#lost : 4)];
my @ap = @{ $res->{away_problems} || [] };
is(scalar @ap, 0, 'every 1001 said "server going away", nothing came after it, '
                  . 'the stream then ended');
diag("  $_") for @ap[0 .. ($#ap < 4 ? $#ap : 4)];
is($res->{corrupt}, 0, 'no message arrived corrupted (its sha1)');
is($res->{out_of_order}, 0, 'no message arrived out of order');
is($res->{mismatch}, 0, 'every echo equals the message sent');
my @errors = @{ $res->{errors} || [] };
diag("  $_") for @errors[0 .. ($#errors < 9 ? $#errors : 9)];
is($res->{received} + $res->{away_dropped}, $res->{sent},
   "every message came back or was in flight at a 1001 ($res->{sent} sent, "
   . "$res->{away_dropped} in flight)");

# the backend side: a 1001 on every one of its 2N connections
my ($backend_away, $backend_msgs) = (0, 0);
if (open my $fh, '<', $backend->log_path) {
    while (my $line = <$fh>) {
        next unless $line =~ /"path":"\/stream\/c\d+"/;
        $backend_msgs++ if $line =~ /"event":"message"/;
        next unless $line =~ /"event":"frame"/ && $line =~ /"opcode":8\b/;
        my $e = eval { json_decode($line) } or next;
        $backend_away++ if ($e->{hex} // '') =~ /^03e9/i;
    }
}
is($backend_away, 2 * $N, 'every backend connection got 1001 (' . 2 * $N . ' connections)');
cmp_ok($backend_msgs, '<=', $res->{sent}, 'the backend got no message that was not sent');
cmp_ok($backend_msgs, '>=', $res->{received}, 'and every message that came back');

no_crash_since($nginx, $mark0, 'no worker died, no alert');

diag(sprintf('soak with 1001: %d connections (established in %.1f s), %d messages sent, %d '
             . 'echoed, %d in flight at a 1001 (%d connections had a message half received), '
             . '%d reconnections; total %.1f s',
             $N, $res->{connect_secs} // 0, $res->{sent} // 0, $res->{received} // 0,
             $res->{away_dropped} // 0, $res->{away_partial} // 0, $res->{reconnected} // 0,
             time - $t_start));
diag("soak with 1001: $_") for @figures;

done_testing;
