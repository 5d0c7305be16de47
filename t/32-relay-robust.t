#!/usr/bin/perl

# What plain nginx proxying survives, the checked relay survives too
# (the list of nginx-tests' proxy_websocket.t and more): frames larger than
# proxy_buffer_size, large and small frames interleaved and kept in order,
# a frame in the same packet as the handshake, bytes behind the backend's
# 101, 1 MiB messages, a message in 1000 fragments, close handshakes in
# both directions, peers that vanish mid-frame.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(sha1_hex);
use WsApi::Test;
use WsApi::Api;

my $gw = gateway(location => 'proxy_buffer_size 4k;',
                 backend_opt => { handshake_extra => "\x81\x05ahead" });

$gw->define(apiName => 'r',
            messages => [ map { my $o = $_; map { { origin => $o, type => $_ } }
                                qw(text binary) } qw(client server) ]);

# bytes the backend sent right behind its 101, and bytes the client sent
# right behind its handshake, in the same packets

{
    my $ws = $gw->connect('/gateway/r/1.0/pipelined',
                          raw_extra => ws_frame(1, 'with the handshake'));
    is($ws->status, 101, 'upgraded');

    my $m = $ws->read_message(10);
    is($m->{payload}, 'ahead', 'a frame behind the 101 reaches the client');
    is($ws->read_message(10)->{payload}, 'with the handshake',
       'a frame in the handshake packet reaches the backend and comes back');
}

# frames over the buffer (4k), interleaved with small ones, in order

{
    my $ws = $gw->connect('/gateway/r/1.0/interleaved');
    is($ws->read_message(10)->{payload}, 'ahead', 'greeting');

    my @sent;

    for my $i (1 .. 6) {
        my $big = join('', map { chr(($_ * 7 + $i) % 256) } 1 .. 100_000);
        my $text = ('0123456789' x 10_000) . $i;
        push @sent, [2, $big], [1, "small $i"], [1, $text];
    }

    $ws->send_frame($_->[0], $_->[1]) for @sent;

    my $ok = 1;

    for my $s (@sent) {
        my $m = $ws->read_message(20);
        $ok = 0 unless $m && $m->{opcode} == $s->[0]
                       && $m->{payload} eq $s->[1];
    }

    ok($ok, '18 frames (100 kB binary, small text, 100 kB text) echoed '
       . 'intact and in order through a 4k buffer');
}

# 1 MiB messages both ways, one frame and fragmented

{
    my $ws = $gw->connect('/gateway/r/1.0/mib');
    $ws->read_message(10);

    my $mib = 'abcdefghijklmnopqrstuvwxyz' x 40330;
    $mib = substr($mib, 0, 1 << 20);

    $ws->send_text($mib);
    my $m = $ws->read_message(30);
    is(length($m->{payload} // ''), 1 << 20, '1 MiB text echoed');
    is(sha1_hex($m->{payload} // ''), sha1_hex($mib), 'intact');

    my $bin = join('', map { chr($_ % 251) } 1 .. (1 << 20));
    $ws->send_binary($bin);
    $m = $ws->read_message(30);
    is(sha1_hex($m->{payload} // ''), sha1_hex($bin), '1 MiB binary echoed');

    $ws->send_text('!text 1048576');
    $m = $ws->read_message(30);
    is(length($m->{payload} // ''), 1 << 20, '1 MiB text from the backend');

    # 1000 fragments each way

    my @parts = map { sprintf('%04d:', $_) . ('x' x 60) } 1 .. 1000;

    for my $i (0 .. $#parts) {
        $ws->send_frame($i == 0 ? 1 : 0, $parts[$i],
                        fin => $i == $#parts ? 1 : 0);
    }

    $m = $ws->read_message(30);
    is($m->{payload}, join('', @parts),
       'a message in 1000 fragments reaches the backend whole');

    $ws->send_text('!frag 65000 1000');
    $m = $ws->read_message(30);
    is($m->{frames}, 1000, 'the backend sends a message in 1000 fragments');
    is(length($m->{payload} // ''), 65000, 'it arrives whole');
}

# the backend closes first

{
    my $ws = $gw->connect('/gateway/r/1.0/backend-closes');
    $ws->read_message(10);

    $ws->send_text('!close 1000 bye');
    my $f = $ws->read_frame(10);
    is($f->{opcode}, 8, 'close from the backend');
    is(unpack('n', $f->{payload}), 1000, 'code 1000');
    is(substr($f->{payload}, 2), 'bye', 'reason');

    $ws->close(1000, 'bye');
    ok($ws->closed_by_peer(10), 'the backend closes, nginx closes');

    my $close = $gw->backend->wait_log(event => 'frame',
                                       path => '/stream/backend-closes',
                                       where => sub { $_[0]{opcode} == 8 });
    ok($close, 'the client\'s answer reached the backend');
}

# a large text frame that breaks UTF-8 after part of it went out: 1007 to
# the client; the backend, inside the frame, is closed without a close frame

{
    my $ws = $gw->connect('/gateway/r/1.0/late-utf8');
    $ws->read_message(10);

    $ws->send_text(('a' x 50_000) . "\xff" . ('b' x 50_000));

    my $f = $ws->read_frame(10);
    is($f && unpack('n', $f->{payload}), 1007, 'client gets 1007');
    ok($ws->closed_by_peer(10), 'closed');

    my @frames = $gw->backend->frames(path => '/stream/late-utf8');
    ok(!grep({ ($_->{len} // 0) > 50_000 } @frames),
       'the backend never got the whole frame');
}

# a client that vanishes mid-frame, and one that sends a partial header

for my $cut (["mid-frame", substr(ws_frame(1, 'x' x 1000), 0, 500)],
             ["mid-header", substr(ws_frame(2, 'x' x 70000), 0, 5)])
{
    my $ws = $gw->connect("/gateway/r/1.0/$cut->[0]");
    $ws->read_message(10);
    $ws->send_raw($cut->[1]);
    $ws->disconnect;

    ok($gw->backend->wait_log(event => 'disconnect',
                              path => "/stream/$cut->[0]", timeout => 10),
       "$cut->[0]: the backend connection is closed");
}

# many connections at once, each with its own stream

{
    my @ws = map { $gw->connect("/gateway/r/1.0/many$_") } 1 .. 50;
    $_->read_message(10) for @ws;

    $ws[$_]->send_text("conn $_ " . ('z' x ($_ * 100))) for 0 .. $#ws;

    my $ok = 0;
    for my $i (0 .. $#ws) {
        my $m = $ws[$i]->read_message(10);
        $ok++ if $m && $m->{payload} eq "conn $i " . ('z' x ($i * 100));
    }
    is($ok, 50, '50 concurrent connections each get their own echo');
}

unlike($gw->nginx->error_log, qr/\[(alert|crit|emerg)\]|exited on signal/,
       'no alert or crash in the error log');

done_testing;
