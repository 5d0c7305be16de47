#!/usr/bin/perl

# Hostile frames (issue "Hardening", deliverable 3): lengths of 2^63 and
# 2^63 - 1, every reserved opcode, 100,000 empty continuation frames, a
# ping flood, a backend that sends invalid frames, a client that sends half
# a header and stalls, 1,000 connections that each send one invalid frame
# at once.
#
# Each ends with the right close code (or a clean close), the worker keeps
# serving other connections, and what the other side received is checked:
# nothing of an offending frame, a 1001 close.  One worker, so that a
# worker that blocks shows at once.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Select;
use POSIX ();
use Time::HiRes qw(time sleep);
use WsApi::Test;
use WsApi::Api;
use WsApi::Hostile;

my $t_start = time;

my $gw = gateway(location => 'proxy_buffer_size 4k;');
my $nginx = $gw->nginx;
my $backend = $gw->backend;

$gw->define(apiName => 'f');

# the connections that check that the worker keeps serving go to their own
# backend, so that what is measured is nginx, not the busy test backend
my $backend2 = start_backend();
$gw->define(apiName => 'g', wsUrl => $backend2->url('/g'));

# and the 100,000-frame message has its own, whose log it fills
my $backend3 = start_backend();
$gw->define(apiName => 'e', wsUrl => $backend3->url('/e'));

# the backend's log entries whose line matches $re, decoded (the harness
# decodes every line, which is slow for 100,000 of them)
sub log_lines {
    my ($b, $re) = @_;
    open my $fh, '<', $b->log_path or return ();
    return map { json_decode($_) } grep { $_ =~ $re } <$fh>;
}

# writes what the socket takes within $secs; the bytes written
sub push_bytes {
    my ($sock, $bytes, $secs) = @_;
    my $off = 0;
    my $deadline = time + $secs;
    my $sel = IO::Select->new($sock);
    while ($off < length $bytes && time < $deadline) {
        my $w = syswrite($sock, $bytes, length($bytes) - $off, $off);
        if ($w) { $off += $w; next }
        last unless !defined $w && $!{EAGAIN};
        $sel->can_write(0.1);
    }
    return $off;
}

# an API whose backend is the test itself, to see every byte and every EOF
my $stub = stub_backend();
{
    my $r = $gw->admin(POST => 'apis', { apiName => 'stub', wsUrl => $stub->url('/stub') });
    $gw->admin(PUT => "apis/$r->{json}{id}/activate");
    # without a key the module refuses the handshake itself (400) once it
    # knows the API (404 before): the stub is never contacted
    ok(poll_until(timeout_scale(10), sub {
        my $ws = $gw->connect('/gateway/stub/1.0', key => undef);
        $ws->disconnect;
        $ws->status == 400;
    }), 'the stub API is served');
}

my $mark0 = $nginx->log_mark;
my $n = 0;

sub rss_total { my $r = worker_rss($nginx); my $t = 0; $t += $_ for values %$r; $t }

# a normal connection still works, and quickly
sub serving {
    my ($name, $limit) = @_;
    my $t0 = time;
    my $ws = $gw->connect('/gateway/g/1.0/alive', timeout => timeout_scale(5));
    my $ok = $ws->status == 101 && $ws->send_text("alive: $name")
             && (($ws->read_message(timeout_scale(5)) // {})->{payload} // '') eq "alive: $name";
    $ws->disconnect;
    my $secs = time - $t0;
    ok($ok && $secs < ($limit // timeout_scale(2)),
       sprintf('%s: another connection is served (%.3f s)', $name, $secs))
        or revive($nginx, $gw->port);
}

# the close frame the client reads next: [code, reason] or [] (none)
sub close_of {
    my ($ws, $timeout) = @_;
    my $deadline = time + ($timeout // timeout_scale(10));
    while (time < $deadline) {
        my $f = $ws->read_frame($deadline - time) or last;
        return [unpack('n', $f->{payload}), substr($f->{payload}, 2)] if $f->{opcode} == 8;
    }
    return [];
}

sub backend_close_code {
    my ($path) = @_;
    my $f = $backend->wait_log(event => 'frame', path => $path, timeout => timeout_scale(10),
                               where => sub { $_[0]{opcode} == 8 });
    return $f ? unpack('n', pack('H*', $f->{hex})) : undef;
}

# the client sends a good message, then $bytes: it gets $code, the backend
# 1001, and nothing of $bytes reaches the backend
sub client_breaks {
    my ($name, $bytes, $code) = @_;
    my $path = 'c' . ++$n;
    my $ws = $gw->connect("/gateway/f/1.0/$path");
    $ws->send_text('before');
    $ws->read_message(timeout_scale(10));
    $ws->send_raw($bytes);
    is(close_of($ws)->[0], $code, "$name: the client gets $code");
    ok($ws->closed_by_peer(timeout_scale(10)), "$name: the connection is closed");
    is(backend_close_code("/stream/$path"), 1001, "$name: the backend gets 1001");
    my @frames = $backend->frames(path => "/stream/$path");
    is(join(',', map { $_->{opcode} } @frames), '1,8',
       "$name: the backend got the good message and the close, nothing else");
}

###############################################################################
# payload lengths of 2^63 (invalid: the most significant bit) and 2^63 - 1

my $L63  = "\x80\x00\x00\x00\x00\x00\x00\x00";
my $L63m = "\x7f\xff\xff\xff\xff\xff\xff\xff";

client_breaks('length 2^63, binary', "\x82\xff$L63" . "\0\0\0\0" . 'abc', 1002);
client_breaks('length 2^63, text', "\x81\xff$L63" . "\0\0\0\0" . 'abc', 1002);
client_breaks('length 2^64 - 1', "\x82\xff" . ("\xff" x 8) . "\0\0\0\0", 1002);
client_breaks('length 2^63 - 1 in a ping', "\x89\xff$L63m" . "\0\0\0\0", 1002);
serving('lengths of 2^63');

# 2^63 - 1 is a valid header: the frame streams to the backend, and never
# completes; the client goes away, and the backend connection is closed
{
    my $ws = $gw->connect('/gateway/stub/1.0/huge', wait => 0);
    my $b = $stub->accept_ws(timeout_scale(10));
    $ws->read_handshake;
    is($ws->status, 101, '2^63 - 1: upgraded through the stub backend');
    my $payload = 'x' x 100_000;
    my $key = "\x11\x22\x33\x44";
    $ws->send_raw("\x82\xff$L63m$key" . WsApi::Test::_mask($payload, $key));
    my $got = $stub->read_all($b, timeout_scale(5), 14 + 100_000);
    is(length $got, 14 + 100_000, '2^63 - 1: the header and the first 100 kB stream to the backend');
    is(substr($got, 0, 10), "\x82\xff$L63m", '2^63 - 1: the header as sent');
    serving('2^63 - 1 frame in progress');
    $ws->disconnect;
    ok(defined $stub->eof($b, timeout_scale(10)),
       '2^63 - 1: the client goes away mid-frame: the backend connection is closed');

    # the same from the backend
    $ws = $gw->connect('/gateway/stub/1.0/huge-down', wait => 0);
    $b = $stub->accept_ws(timeout_scale(10));
    $ws->read_handshake;
    syswrite($b, "\x82\x7f$L63m" . ('y' x 1000));
    my $bytes = $ws->read_bytes(1010, timeout_scale(5));
    is(substr($bytes // '', 0, 10), "\x82\x7f$L63m", '2^63 - 1 from the backend: the header reaches the client');
    close $b;
    ok($ws->closed_by_peer(timeout_scale(10)),
       '2^63 - 1 from the backend: it goes away mid-frame: the client connection is closed');
    serving('2^63 - 1 frames');
}

###############################################################################
# every reserved opcode, both ways

for my $op (3 .. 7, 0xB .. 0xF) {
    client_breaks(sprintf('reserved opcode 0x%X', $op), ws_frame($op, 'reserved'), 1002);
}

# the backend sends $bytes: it gets $code, the client 1001 and nothing of
# the offending frame ($before: the frames before it in $bytes, which pass;
# $streamed: a text frame larger than the buffer, streamed as it is checked,
# so the client's connection is closed inside it, without a close frame)
sub backend_breaks {
    my ($name, $bytes, $code, %opt) = @_;
    my $path = 'b' . ++$n;
    my $ws = $gw->connect("/gateway/f/1.0/$path");
    $ws->send_text('!send ' . unpack('H*', $bytes));
    my @got;
    my $f;
    if ($opt{streamed}) {
        my $start = $ws->read_bytes(10, timeout_scale(10)) // '';
        ok($ws->closed_by_peer(timeout_scale(10)), "$name: the client's connection is closed");
        my $all = $start . $ws->{rbuf};
        ok(length($all) < length($bytes) && index($all, "\xff") < 0,
           "$name: the invalid byte never reached the client (" . length($all) . ' bytes of '
           . length($bytes) . ' did)');
        is(backend_close_code("/stream/$path"), $code, "$name: the backend gets $code");
        return;
    }
    while ($f = $ws->read_frame(timeout_scale(10))) {
        last if $f->{opcode} == 8;
        push @got, $f;
    }
    is($f && unpack('n', $f->{payload}), 1001, "$name: the client gets 1001");
    is(join(',', map { "$_->{opcode}:$_->{payload}" } @got), $opt{before} // '',
       "$name: nothing of the offending frame reached the client");
    ok($ws->closed_by_peer(timeout_scale(10)), "$name: the connection is closed");
    is(backend_close_code("/stream/$path"), $code, "$name: the backend gets $code");
}

for my $op (3 .. 7, 0xB .. 0xF) {
    backend_breaks(sprintf('backend: reserved opcode 0x%X', $op), ws_frame($op, 'r', mask => 0), 1002);
}
serving('reserved opcodes');

###############################################################################
# a backend that sends invalid frames (through the backend's !send)

{
    my @bad = (
        ['a masked frame',            ws_frame(1, 'masked', mask => 1),                    1002],
        ['RSV1 without an extension', ws_frame(1, 'x', mask => 0, rsv => 4),               1002],
        ['RSV2 and RSV3',             ws_frame(2, 'x', mask => 0, rsv => 3),               1002],
        ['length 2^63',               "\x82\x7f$L63" . 'abc',                              1002],
        ['a ping of 126 bytes',       ws_frame(9, 'p' x 126, mask => 0),                   1002],
        ['a fragmented ping',         ws_frame(9, 'p', mask => 0, fin => 0),               1002],
        ['a continuation outside a message', ws_frame(0, 'c', mask => 0),                  1002],
        ['a text frame inside a fragmented message',
         ws_frame(1, 'a', mask => 0, fin => 0) . ws_frame(1, 'b', mask => 0),              1002, before => '1:a'],
        ['a non-minimal 64-bit length', "\x81\x7f" . pack('Q>', 5) . 'hello',              1002],
        ['a non-minimal 16-bit length', "\x81\x7e" . pack('n', 5) . 'hello',               1002],
        ['a close of one byte',       ws_frame(8, "\x03", mask => 0),                      1002],
        ['a close with code 1005',    ws_frame(8, pack('n', 1005), mask => 0),             1002],
        ['a close with code 999',     ws_frame(8, pack('n', 999), mask => 0),              1002],
        ['a close with code 65535',   ws_frame(8, pack('n', 65535), mask => 0),            1002],
        ['invalid UTF-8',             ws_frame(1, "ok\xff", mask => 0),                    1007],
        ['a surrogate',               ws_frame(1, "\xed\xa0\x80", mask => 0),              1007],
        ['invalid UTF-8 in a close reason', ws_frame(8, pack('n', 1000) . "\xc0\x80", mask => 0), 1007],
        ['100 kB of text, invalid UTF-8 at the end',
         ws_frame(1, ('a' x 100_000) . "\xff", mask => 0),                                1007, streamed => 1],
    );
    backend_breaks("backend: $_->[0]", @$_[1 .. $#$_]) for @bad;
    serving('a backend sending invalid frames');
}

###############################################################################
# 100,000 empty continuation frames in one binary message: passes, memory
# stays flat, the worker keeps serving meanwhile

{
    my $N = 100_000;
    my $rss0 = rss_total();
    my $t0 = time;
    my $child = in_child(sub {
        my $ws = $gw->connect('/gateway/e/1.0/empty-conts');
        $ws->send_frame(2, 'head', fin => 0);
        my $empty = ws_frame(0, '', fin => 0, mask_key => "\1\2\3\4");
        for (1 .. $N / 1000) { $ws->send_raw($empty x 1000) or return { error => 'write failed' } }
        $ws->send_frame(0, 'tail', fin => 1);
        my $m = $ws->read_message(timeout_scale(60));
        $ws->close;
        return { payload => $m ? $m->{payload} : undef, opcode => $m ? $m->{opcode} : undef };
    });
    my @lat;
    while (1) {
        my $t1 = time;
        my $ws = $gw->connect('/gateway/g/1.0/beside-conts');
        $ws->send_text('beside');
        my $m = $ws->read_message(timeout_scale(5));
        $ws->disconnect;
        push @lat, $m && $m->{payload} eq 'beside' ? time - $t1 : 99;
        last if @lat >= 3 && (waitpid($child->pid, POSIX::WNOHANG()) != 0 || time - $t0 > 30);
        sleep 0.2;
    }
    my $res = $child->wait(timeout_scale(60));
    is("$res->{opcode} " . ($res->{payload} // 'none'), '2 headtail',
       sprintf('%d empty continuation frames: the message arrives whole (%.1f s)', $N, time - $t0));
    my $max = 0; $max = $_ > $max ? $_ : $max for @lat;
    cmp_ok($max, '<', 2, sprintf('... meanwhile %d other connections were served, the slowest in %.3f s',
                                 scalar @lat, $max));
    my $rss1 = rss_total();
    cmp_ok($rss1 - $rss0, '<', 10_000, "... worker memory stays flat ($rss0 kB -> $rss1 kB)");
    my ($msg) = log_lines($backend3, qr/"event":"message".*"path":"\/e\/empty-conts"/);
    is($msg && $msg->{frames}, $N + 2, "... the backend got all " . ($N + 2) . ' frames');

    serving('empty continuation frames');
}

# a character of a text message split across fragments, with more frames
# between its pieces than nginx's buffer holds (proxy_buffer_size 4k here):
# empty continuations, or pings (control frames may come between the
# fragments of a message).  Valid RFC 6455: all of it must reach the backend.

for my $c (['100,000 empty continuation frames', ws_frame(0, '', fin => 0, mask_key => "\1\2\3\4") x 100_000],
           ['100 pings of 125 bytes', ws_frame(9, 'p' x 125, mask_key => "\1\2\3\4") x 100],
           ['20 pings of 125 bytes', ws_frame(9, 'p' x 125, mask_key => "\1\2\3\4") x 20],
           ['5 pings of 125 bytes', ws_frame(9, 'p' x 125, mask_key => "\1\2\3\4") x 5])
{
    my ($what, $between) = @$c;
    my $rss0 = rss_total();
    my $ws = $gw->connect('/gateway/stub/1.0/split-char', wait => 0);
    my $b = $stub->accept_ws(timeout_scale(10));
    $ws->read_handshake;
    my $bytes = ws_frame(1, "caf\xe2", fin => 0) . $between
              . ws_frame(0, "\x82", fin => 0) . $between . ws_frame(0, "\xac!", fin => 1);
    my $t0 = time;
    my $sent = push_bytes($ws->sock, $bytes, timeout_scale(3));
    my $got = $stub->read_all($b, timeout_scale(3), length $bytes);
    is(length $got, length $bytes, sprintf('a euro sign split across 3 fragments with %s between '
       . 'its pieces: all %d bytes reach the backend (%d sent, %d arrived, %.1f s)', $what,
       length $bytes, $sent, length $got, time - $t0));
    push_bytes($ws->sock, ws_frame(8, pack('n', 1000)), 1);
    my $closed = $stub->read_all($b, timeout_scale(1));
    ok(length $closed, "... and so does the client's close frame after it");
    cmp_ok(rss_total() - $rss0, '<', 10_000, '... worker memory stays flat');
    $ws->disconnect;
    close $b;
    serving("split character with $what");
}

###############################################################################
# a client flooding pings without reading: every ping is answered, others
# are served meanwhile, memory stays flat

{
    my $N = 20_000;
    my $rss0 = rss_total();
    my $t0 = time;
    my $child = in_child(sub {
        my $ws = $gw->connect('/gateway/f/1.0/ping-flood');
        my $ping = ws_frame(9, 'p' x 125, mask_key => "\1\2\3\4");
        for (1 .. $N / 500) { $ws->send_raw($ping x 500) or return { error => 'write failed' } }
        my $pongs = 0;
        while (my $f = $ws->read_frame(timeout_scale(10))) {
            $pongs++ if $f->{opcode} == 10 && $f->{payload} eq 'p' x 125;
            last if $pongs == $N;
        }
        $ws->send_text('after the flood');
        my $m = $ws->read_message(timeout_scale(10));
        return { pongs => $pongs, after => $m ? $m->{payload} : undef };
    });
    my @lat;
    while (1) {
        my $t1 = time;
        my $ws = $gw->connect('/gateway/g/1.0/beside-pings');
        $ws->send_text('beside');
        my $m = $ws->read_message(timeout_scale(5));
        $ws->disconnect;
        push @lat, $m && $m->{payload} eq 'beside' ? time - $t1 : 99;
        last if @lat >= 3 && (waitpid($child->pid, POSIX::WNOHANG()) != 0 || time - $t0 > 30);
        sleep 0.1;
    }
    my $res = $child->wait(timeout_scale(60));
    is($res->{pongs}, $N, sprintf('a flood of %d pings: every one answered with its pong (%.1f s)',
                                  $N, time - $t0));
    is($res->{after}, 'after the flood', '... and the connection still relays messages');
    my $max = 0; $max = $_ > $max ? $_ : $max for @lat;
    cmp_ok($max, '<', 2, sprintf('... meanwhile %d other connections were served, the slowest in %.3f s',
                                 scalar @lat, $max));
    my $rss1 = rss_total();
    cmp_ok($rss1 - $rss0, '<', 10_000, "... worker memory stays flat ($rss0 kB -> $rss1 kB)");
}

###############################################################################
# a client that sends half a header and stalls: nothing of it reaches the
# backend, other connections are unaffected, and when it goes away the
# backend connection is closed

for my $cut ([1, 'one byte'], [2, 'two bytes of a 64-bit length'], [9, 'part of the 64-bit length'],
             [12, 'part of the mask key'])
{
    my ($len, $what) = @$cut;
    my $ws = $gw->connect("/gateway/stub/1.0/half$len", wait => 0);
    my $b = $stub->accept_ws(timeout_scale(10));
    $ws->read_handshake;
    my $frame = ws_frame(2, 'z' x 70_000);
    $ws->send_raw(substr($frame, 0, $len));
    serving("half a header ($what) pending");
    is(length($stub->read_all($b, 1)), 0, "half a header ($what): no byte of it reached the backend");
    $ws->send_raw(substr($frame, $len, 100));
    my $got = $stub->read_all($b, timeout_scale(5), $len + 100);
    is(length $got, $len + 100, "half a header ($what): completed later, it streams on");
    $ws->disconnect;
    ok(defined $stub->eof($b, timeout_scale(10)),
       "half a header ($what): the client goes away: the backend connection is closed");
}

{
    # stalled inside a small text frame, which is held until it is whole
    my $ws = $gw->connect('/gateway/stub/1.0/half-text', wait => 0);
    my $b = $stub->accept_ws(timeout_scale(10));
    $ws->read_handshake;
    my $frame = ws_frame(1, 'held until whole');
    $ws->send_raw(substr($frame, 0, 10));
    is(length($stub->read_all($b, 1)), 0, 'half a small text frame: nothing reaches the backend');
    serving('half a small text frame pending');
    $ws->disconnect;
    ok(defined $stub->eof($b, timeout_scale(10)),
       'half a small text frame: the client goes away: the backend connection is closed');
}

###############################################################################
# 1,000 connections that each send one invalid frame at once

{
    my $N = 1000;
    my $t0 = time;
    my $rss0 = rss_total();
    my @ws;
    for my $i (1 .. $N) {
        my $ws = $gw->connect("/gateway/f/1.0/k$i", timeout => timeout_scale(10));
        last unless $ws->status == 101;
        push @ws, $ws;
    }
    is(scalar @ws, $N, sprintf('%d connections upgraded (%.1f s)', $N, time - $t0));

    # one write each, as fast as possible: a mix of protocol errors
    my @bad = (ws_frame(3, 'x'), ws_frame(1, 'x', mask => 0), ws_frame(9, 'p' x 126),
               ws_frame(0, 'c'), ws_frame(1, "\xff"), ws_frame(8, pack('n', 999)));
    my @want = (1002, 1002, 1002, 1002, 1007, 1002);
    my $t1 = time;
    for my $i (0 .. $#ws) {
        syswrite($ws[$i]->sock, $bad[$i % @bad]);
    }

    # collect every close frame and EOF with one select loop
    my %by_fd = map { fileno($ws[$_]->sock) => $_ } 0 .. $#ws;
    my (%code, %eof);
    my $sel = IO::Select->new(map { $_->sock } @ws);
    my $deadline = time + timeout_scale(30);
    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read(0.5)) {
            my $i = $by_fd{ fileno $s };
            my $ws = $ws[$i];
            my $r = sysread($s, $ws->{rbuf}, 65536, length $ws->{rbuf});
            if (defined $r && $r > 0) {
                while (my $f = $ws->_parse_frame) {
                    next unless $f->{opcode} == 8;
                    # answer the close, so that nginx closes at once
                    syswrite($s, ws_frame(8, substr($f->{payload}, 0, 2))) unless defined $code{$i};
                    $code{$i} //= unpack('n', $f->{payload});
                }
                next;
            }
            next if !defined $r && $!{EAGAIN};
            $eof{$i} = 1;
            $sel->remove($s);
        }
    }
    my $right = grep { ($code{$_} // 0) == $want[$_ % @want] } 0 .. $#ws;
    is($right, scalar @ws, sprintf('all %d got their close code (1002 or 1007) (%.1f s)',
                                   scalar @ws, time - $t1));
    is(scalar(keys %eof), scalar @ws, 'all of them were closed');

    my $closes = 0;
    my @frames;
    poll_until(timeout_scale(20), sub {
        @frames = log_lines($backend, qr/"event":"frame".*"path":"\/stream\/k\d+"/);
        $closes = grep { $_->{opcode} == 8 && unpack('n', pack('H*', $_->{hex})) == 1001 } @frames;
        $closes >= @ws;
    });
    is($closes, scalar @ws, 'the backend got 1001 on every one of them');
    my @leaked = grep { $_->{opcode} != 8 } @frames;
    is(scalar @leaked, 0, 'and nothing of the invalid frames');
    $_->disconnect for @ws;
    serving("$N connections breaking the rules at once");
    my $rss1 = rss_total();
    diag("worker RSS before/after the $N connections: $rss0 / $rss1 kB");
}

# policies (SPEC 5): a 2^62-byte message to an API with maxMessageSize, and
# a flood of messages past messageRate
{
    my $backend4 = start_backend();
    $gw->define(apiName => 'lim', wsUrl => $backend4->url('/lim'),
                policies => { maxMessageSize => { client => 65536 },
                              messageRate => { client => { messages => 100,
                                                           per => '1m' } } });

    my $ws = $gw->connect('/gateway/lim/1.0/huge');
    my $head = ws_frame(2, '', len => 2**62);
    my $sent = push_bytes($ws->sock, $head . ('h' x 1_000_000), 5);
    my $f = $ws->read_frame(timeout_scale(10));
    $f = $ws->read_frame(timeout_scale(10)) while $f && $f->{opcode} != 8;
    is($f && unpack('n', $f->{payload}), 1009,
       "a 2^62-byte message: 1009 ($sent bytes pushed)");
    is($f && substr($f->{payload}, 2), 'message too big', 'reason');
    ok($ws->closed_by_peer(timeout_scale(10)), 'and closed');
    my @got = $backend4->wait_log(event => 'frame', path => '/lim/huge',
                                  where => sub { $_[0]{opcode} == 8 });
    is(@got && unpack('n', pack('H*', $got[0]{hex})), 1001,
       'the backend got 1001');
    my @data = grep { $_->{opcode} != 8 } $backend4->frames(path => '/lim/huge');
    is(scalar @data, 0, 'and nothing of the huge message');

    $ws = $gw->connect('/gateway/lim/1.0/flood');
    my $flood = join('', map { ws_frame(1, "f$_") } 1 .. 5000);
    $sent = push_bytes($ws->sock, $flood, 5);
    my $code;
    my $echoes = 0;
    while (my $m = $ws->read_frame(timeout_scale(10))) {
        if ($m->{opcode} == 8) { $code = unpack('n', $m->{payload}); last }
        $echoes++;
    }
    is($code, 1008, "a flood of 5000 messages: 1008 ($sent bytes pushed)");
    ok($echoes <= 100, "at most 100 echoes came back ($echoes)");
    ok($ws->closed_by_peer(timeout_scale(10)), 'and closed');
    my @msgs = grep { $_->{opcode} == 1 } $backend4->frames(path => '/lim/flood');
    is(scalar @msgs, 100, 'the backend got exactly the 100 messages the rate '
       . 'allows');
    $ws->disconnect;
    serving('policy floods');
}

no_crash_since($nginx, $mark0, 'no worker crashed or hung, no alert, in the whole file');
diag(sprintf('42-hostile-frames: %.1f s', time - $t_start));

done_testing;
