#!/usr/bin/perl

# SPEC 4.2: RFC 6455 is enforced in both directions.  A protocol error
# gets 1002 to its sender and 1001 to the other side, nothing of the
# offending frame is forwarded; invalid UTF-8 gets 1007.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;
use WsApi::Api;

my $gw = gateway();

$gw->define(apiName => 'p');

my $n = 0;

# sends the frame bytes after a good message; expects $code back, 1001 at
# the backend, and the frame never at the backend

sub client_breaks {
    my ($name, $bytes, $code, $reason, $forwarded) = @_;

    my $path = 'c' . ++$n;
    my $ws = $gw->connect("/gateway/p/1.0/$path");

    $ws->send_text('ok');
    is($ws->read_message(10)->{payload}, 'ok', "$name: good message first");

    $ws->send_raw($bytes);

    my $f = $ws->read_frame(10);
    is($f && $f->{opcode}, 8, "$name: close frame");
    is(unpack('n', $f->{payload} // ''), $code, "$name: $code");
    like(substr($f->{payload} // '', 2), $reason, "$name: reason")
        if $reason;
    ok($ws->closed_by_peer(10), "$name: closed");

    my $close = $gw->backend->wait_log(event => 'frame', path => "/stream/$path",
                                       where => sub { $_[0]{opcode} == 8 });
    is(unpack('n', pack('H*', $close ? $close->{hex} : '')), 1001,
       "$name: backend got 1001");

    # the good message, the fragments of the message before the bad one,
    # and the close

    my @frames = $gw->backend->frames(path => "/stream/$path");
    is(scalar(@frames), 2 + ($forwarded // 0),
       "$name: nothing of the offending frame reached the backend");
}

client_breaks('unmasked client frame', ws_frame(1, 'x', mask => 0), 1002,
              qr/mask/);
client_breaks('reserved opcode 3', ws_frame(3, 'x'), 1002, qr/opcode/);
client_breaks('reserved opcode 0xB', ws_frame(0xB, 'x'), 1002, qr/opcode/);
client_breaks('control frame of 126 bytes', ws_frame(9, 'x' x 126), 1002,
              qr/125/);
client_breaks('fragmented ping', ws_frame(9, 'x', fin => 0), 1002);
client_breaks('continuation outside a message', ws_frame(0, 'x'), 1002,
              qr/continuation/);
client_breaks('text inside a fragmented message',
              ws_frame(1, 'a', fin => 0) . ws_frame(1, 'b'), 1002, undef, 1);
client_breaks('RSV1 without an extension', ws_frame(1, 'x', rsv => 4), 1002,
              qr/RSV/);
client_breaks('RSV3', ws_frame(2, 'x', rsv => 1), 1002);
client_breaks('length with the high bit set',
              "\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00" . "\0" x 4, 1002);
client_breaks('non-minimal 16-bit length',
              "\x81\xfe\x00\x05" . "\x00\x00\x00\x00" . 'hello', 1002);
client_breaks('close with a one-byte payload', ws_frame(8, "\x03"), 1002);
client_breaks('close with code 1005', ws_frame(8, pack('n', 1005)), 1002);
client_breaks('close with code 999', ws_frame(8, pack('n', 999)), 1002);

client_breaks('invalid UTF-8', ws_frame(1, "ab\xffcd"), 1007, qr/UTF-8/);
client_breaks('overlong UTF-8', ws_frame(1, "\xc0\x80"), 1007);
client_breaks('UTF-16 surrogate', ws_frame(1, "\xed\xa0\x80"), 1007);
client_breaks('above U+10FFFF', ws_frame(1, "\xf4\x90\x80\x80"), 1007);
client_breaks('sequence cut at the end of the message',
              ws_frame(1, "abc\xe2\x82"), 1007);
# the first fragment ends inside a character: it goes (frames behind it
# never wait for a character's end); the bad one does not
client_breaks('invalid UTF-8 in the last fragment',
              ws_frame(1, "\xe2", fin => 0) . ws_frame(0, "\x82\xff"), 1007,
              undef, 1);
client_breaks('invalid UTF-8 in a close reason',
              ws_frame(8, pack('n', 1000) . "\xff"), 1007);

# UTF-8 split across fragments, with a ping between, and across reads

{
    my $ws = $gw->connect('/gateway/p/1.0/utf8-split');

    $ws->send_frame(1, "\xe2", fin => 0);
    $ws->ping('between');
    $ws->send_frame(0, "\x82", fin => 0);
    $ws->send_frame(0, "\xac!", fin => 1);

    is($ws->read_frame(10)->{opcode}, 0xA, 'pong between fragments');
    my $m = $ws->read_message(10);
    is($m->{payload}, "\xe2\x82\xac!", 'a euro sign split over three '
       . 'fragments passes');

    my $bytes = ws_frame(1, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    $ws->send_raw($bytes, delay => 0.002);
    is($ws->read_message(10)->{payload}, "caf\xc3\xa9 \xf0\x9f\x98\x80",
       'a message sent one byte at a time passes');
}

# the backend breaks the rules: 1002 or 1007 to it, 1001 to the client

sub backend_breaks {
    my ($name, $bytes, $code) = @_;

    my $path = 'b' . ++$n;
    my $ws = $gw->connect("/gateway/p/1.0/$path");

    $ws->send_text('!send ' . unpack('H*', $bytes));

    my $f = $ws->read_frame(10);
    is($f && $f->{opcode}, 8, "$name: client gets a close frame");
    is(unpack('n', $f ? $f->{payload} : ''), 1001, "$name: with 1001");

    my $close = $gw->backend->wait_log(event => 'frame', path => "/stream/$path",
                                       where => sub { $_[0]{opcode} == 8 });
    is(unpack('n', pack('H*', $close ? $close->{hex} : '')), $code,
       "$name: backend got $code");
    ok($ws->closed_by_peer(10), "$name: closed");
}

backend_breaks('masked server frame', ws_frame(1, 'x', mask => 1), 1002);
backend_breaks('server reserved opcode', ws_frame(4, 'x', mask => 0), 1002);
backend_breaks('server invalid UTF-8', ws_frame(1, "\xff", mask => 0), 1007);
backend_breaks('server RSV2', ws_frame(1, 'x', mask => 0, rsv => 2), 1002);

# a frame after a close frame

{
    my $ws = $gw->connect('/gateway/p/1.0/after-close');
    my $start = time;
    $ws->send_raw(ws_frame(8, pack('n', 1000)) . ws_frame(1, 'late'));

    my $f = $ws->read_frame(10);
    is($f && $f->{opcode}, 8, 'close comes back');
    ok($ws->closed_by_peer(10), 'closed');
    ok(!grep({ ($_->{text} // '') eq 'late' }
             $gw->backend->frames(path => '/stream/after-close')),
       'the frame after the close frame did not reach the backend');
    ok($gw->backend->wait_log(event => 'frame', path => '/stream/after-close',
                              where => sub { $_[0]{opcode} == 8 }),
       'the close frame before it did');
}

# a violation while the other direction is inside a large frame: the close
# frame waits for that frame's end

{
    my $ws = $gw->connect('/gateway/p/1.0/mid-frame');
    $ws->send_text('!binary 4000000');
    select(undef, undef, undef, 0.05);
    $ws->send_raw(ws_frame(2, 'x', mask => 0));

    my $m = $ws->read_message(20);
    is($m && length($m->{payload}), 4000000,
       'the 4 MB message under way reaches the client whole');
    my $f = $ws->read_frame(10);
    is($f && unpack('n', $f->{payload}), 1002, '... then the 1002 close frame');
    ok($ws->closed_by_peer(10), 'closed');
}

my $log = $gw->nginx->error_log;
unlike($log, qr/\[(alert|crit|emerg)\]|exited on signal/,
       'no alert or crash in the error log');

done_testing;
