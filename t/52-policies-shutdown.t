#!/usr/bin/perl

# SPEC 7, ws_api_shutdown_close: a worker that exits (nginx -s reload,
# nginx -s quit) sends 1001 "server going away" to both sides of each
# WebSocket connection and exits; no connection ends without a close frame
# (1006); a worker_shutdown_timeout shorter than the close handshake cuts
# only the wait for clients that do not answer.  With
# "ws_api_shutdown_close off" the old worker keeps them.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes ();
use WsApi::Test;
use WsApi::Api;

my $t = timeout_scale(10);
my $N = 20;

sub open_all {
    my ($gw, $tag) = @_;
    my @ws = map { $gw->connect("/gateway/echo/1.0/$tag$_") } 1 .. $N;
    $_->send_text('up') for @ws;
    my $up = grep { ($_->read_message($t) // {})->{payload} eq 'up' } @ws;
    is($up, $N, "$tag: $N connections relay");
    return @ws;
}

# every client gets 1001 "server going away", then the end of the stream

sub all_going_away {
    my ($gw, $tag, $t0, @ws) = @_;
    my ($ok, $late) = (0, 0);
    for my $ws (@ws) {
        my $f = $ws->read_frame($t);
        $f = $ws->read_frame($t) while $f && $f->{opcode} != 8;
        $ok++ if $f && unpack('n', $f->{payload}) == 1001
                 && substr($f->{payload}, 2) eq 'server going away';
    }
    my $dt = Time::HiRes::time() - $t0;
    is($ok, $N, "$tag: every client got 1001 server going away");
    ok($dt < 5 * timeout_scale(1), "$tag: within 5 s ($dt s)");
    diag(sprintf("%s: %d connections, the last 1001 %.3f s after the signal",
                 $tag, $N, $dt));
    my $closed = grep { $_->closed_by_peer($t) } @ws;
    is($closed, $N, "$tag: every connection then closed");

    my $backend = 0;
    for my $i (1 .. $N) {
        my @c = $gw->backend->wait_log(event => 'frame',
                                       path => "/stream/$tag$i",
                                       where => sub { $_[0]{opcode} == 8 });
        my $p = @c ? pack('H*', $c[0]{hex}) : '';
        $backend++ if length $p >= 2 && unpack('n', $p) == 1001;
    }
    is($backend, $N, "$tag: every backend connection got 1001");
}

my $gw = gateway(main => 'worker_processes 2;');
$gw->define(apiName => 'echo');

{
    my @ws = open_all($gw, 'reload');
    my $t0 = Time::HiRes::time();
    ok($gw->nginx->reload, 'reloaded');
    all_going_away($gw, 'reload', $t0, @ws);

    my $ws = $gw->connect('/gateway/echo/1.0/after');
    is($ws->status, 101, 'a client reconnects to a new worker');
    $ws->send_text('back');
    is($ws->read_message($t)->{payload}, 'back', 'and relays');
}

{
    my @ws = open_all($gw, 'quit');
    my $t0 = Time::HiRes::time();
    kill 'QUIT', $gw->nginx->pid;
    all_going_away($gw, 'quit', $t0, @ws);
    ok(poll_until($t, sub { !WsApi::Test::_alive($gw->nginx->pid) }),
   "nginx exited");
}

# worker_shutdown_timeout shorter than the close handshake's 5 s: the
# clients, which do not answer the close, still get 1001 first, and the
# old worker is gone at the timeout, without an alert

{
    my $gw3 = gateway(main => "worker_processes 1;\nworker_shutdown_timeout 1s;");
    $gw3->define(apiName => 'echo');
    my $mark = $gw3->nginx->log_mark;
    my @ws = map { $gw3->connect("/gateway/echo/1.0/cut$_") } 1 .. 3;
    $_->send_text('up') for @ws;
    is(scalar(grep { ($_->read_message($t) // {})->{payload} eq 'up' } @ws), 3,
       'shutdown timeout: 3 connections relay');
    my @old = $gw3->nginx->worker_pids;
    my $t0 = Time::HiRes::time();
    ok($gw3->nginx->reload, 'shutdown timeout: reloaded');
    my $ok = 0;
    for my $ws (@ws) {
        my $f = $ws->read_frame($t);
        $f = $ws->read_frame($t) while $f && $f->{opcode} != 8;
        $ok++ if $f && unpack('n', $f->{payload}) == 1001;
    }
    is($ok, 3, 'shutdown timeout: every client got 1001 first');
    my $gone = poll_until($t, sub { !grep { kill 0, $_ } @old });
    my $dt = Time::HiRes::time() - $t0;
    ok($gone && $dt < 4, sprintf('shutdown timeout: the old worker exited at the timeout '
                                 . '(%.2f s after the signal), not after the 5 s close handshake',
                                 $dt));
    my @bad = grep { /\[(alert|crit|emerg)\]/ } split /\n/, $gw3->nginx->error_log(from => $mark);
    is(scalar @bad, 0, 'shutdown timeout: no alert') or diag(join "\n", @bad);
}

my $gw2 = gateway(http => 'ws_api_shutdown_close off;');
$gw2->define(apiName => 'echo');

{
    my $ws = $gw2->connect('/gateway/echo/1.0/kept');
    $ws->send_text('a');
    is($ws->read_message($t)->{payload}, 'a', 'off: relays');
    ok($gw2->nginx->reload, 'off: reloaded');
    select(undef, undef, undef, 1.5);
    $ws->send_text('b');
    my $m = $ws->read_message($t);
    is($m->{opcode}, 1, 'off: the old worker keeps the connection');
    is($m->{payload}, 'b', 'off: and relays');
    $ws->close_handshake(1000, '', $t);
}

done_testing();
