#!/usr/bin/perl

# SPEC 4.2: each data message's origin and type must be declared; control
# frames always pass; an API without messages passes everything.  On a
# violation the sender gets 1003, the other side 1001, nothing of the
# offending message is forwarded, $ws_api_close_code and an info line
# record it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;
use WsApi::Api;

my $gw = gateway();

$gw->define(apiName => 'texts',
            messages => [ { origin => 'client', type => 'text' },
                          { origin => 'server', type => 'text' } ]);
$gw->define(apiName => 'anything');
$gw->define(apiName => 'binaries',
            messages => [ { origin => 'Client', type => 'Binary' },
                          { origin => 'Server', type => 'Binary' } ]);

# declared messages pass both ways, control frames too

{
    my $ws = $gw->connect('/gateway/texts/1.0/pass');
    is($ws->status, 101, 'upgraded');

    $ws->send_text('hello');
    is($ws->read_message(10)->{payload}, 'hello', 'client text passes, '
       . 'server text passes');

    $ws->ping('p1');
    my $f = $ws->read_frame(10);
    is($f->{opcode}, 0xA, 'ping passes, the pong comes back');
    is($f->{payload}, 'p1', 'pong payload');

    $ws->send_text('!ping srv');
    $f = $ws->read_frame(10);
    is($f->{opcode}, 0x9, 'ping from the backend passes');

    is($ws->close_handshake(1000, 'bye', 10), 1000, 'close handshake passes');
}

# client binary on a text-only API: 1003 to the client, 1001 to the backend

{
    my $mark = $gw->nginx->log_mark;

    my $ws = $gw->connect('/gateway/texts/1.0/client-binary');
    $ws->send_text('before');
    is($ws->read_message(10)->{payload}, 'before', 'text before');

    $ws->send_binary("\x01\x02secret");

    my $f = $ws->read_frame(10);
    is($f->{opcode}, 8, 'client gets a close frame');
    is(unpack('n', $f->{payload}), 1003, 'with 1003');
    is(substr($f->{payload}, 2),
       'client binary messages are not declared for this API', 'reason');
    ok($ws->closed_by_peer(10), 'connection closed');

    my @got = $gw->backend->wait_log(event => 'frame',
                                     path => '/stream/client-binary',
                                     where => sub { $_[0]{opcode} == 8 });
    is(scalar @got, 1, 'backend got a close frame');
    is(substr(pack('H*', $got[0]{hex}), 0, 2), pack('n', 1001),
       'backend close code 1001');

    my @data = grep { $_->{opcode} != 8 }
               $gw->backend->frames(path => '/stream/client-binary');
    is(join(',', map { $_->{opcode} } @data), '1', 'backend got the text only');
    ok(!grep({ ($_->{hex} // '') =~ /736563726574/ } @data),
       'nothing of the binary message reached the backend');

    ok($gw->nginx->wait_error_log(
           qr/\[info\].*ws_api "texts" version "1\.0": client broke a rule, closed with 1003/,
           10, from => $mark), 'info log names the API and the code');
}

# server binary on a text-only API: 1003 to the backend, 1001 to the client

{
    my $ws = $gw->connect('/gateway/texts/1.0/server-binary');
    $ws->send_text('!binary 16');

    my $f = $ws->read_frame(10);
    is($f->{opcode}, 8, 'client gets a close frame');
    is(unpack('n', $f->{payload}), 1001, 'with 1001');
    ok($ws->closed_by_peer(10), 'connection closed');

    my $close = $gw->backend->wait_log(event => 'frame',
                                       path => '/stream/server-binary',
                                       where => sub { $_[0]{opcode} == 8 });
    ok($close, 'backend got a close frame');
    my $payload = pack('H*', $close->{hex} // '');
    is(unpack('n', $payload), 1003, 'backend close code 1003');
    is(substr($payload, 2),
       'server binary messages are not declared for this API', 'reason');
    ok(!$ws->skipped || !grep({ $_->{opcode} == 2 } @{ $ws->skipped }),
       'nothing of the binary message reached the client');
}

# an API that declares no message passes every data message

{
    my $ws = $gw->connect('/gateway/anything/1.0/any');
    $ws->send_binary("\x00\xff");
    my $m = $ws->read_message(10);
    is($m->{opcode}, 2, 'binary passes');
    is($m->{payload}, "\x00\xff", 'intact');
    $ws->send_text('text');
    is($ws->read_message(10)->{payload}, 'text', 'text passes');
    is($ws->close_handshake(1000, '', 10), 1000, 'closed normally');
}

# the type is the opcode of the first frame of a fragmented message

{
    my $ws = $gw->connect('/gateway/binaries/1.0/frag');
    $ws->send_frame(2, 'ab', fin => 0);
    $ws->send_frame(0, 'cd', fin => 0);
    $ws->ping('between');
    $ws->send_frame(0, 'ef', fin => 1);

    my $f = $ws->read_frame(10);
    is($f->{opcode}, 0xA, 'pong for the ping between fragments');
    my $m = $ws->read_message(10);
    is($m->{opcode}, 2, 'fragmented binary message passes');
    is($m->{payload}, 'abcdef', 'reassembled');

    $ws->send_frame(1, 'text', fin => 0);
    $f = $ws->read_frame(10);
    is(unpack('n', $f->{payload} // ''), 1003,
       'a fragmented text message on a binary API: 1003 at its first frame');
}

# $ws_api_close_code in the access log

{
    my $log;
    poll_until(10, sub {
        $log = $gw->nginx->access_log;
        $log =~ /api=texts\/1\.0 close=1003/;
    });
    like($log, qr/101 api=texts\/1\.0 close=1003/, 'access log: 1003');
    like($log, qr/101 api=texts\/1\.0 close=1000/, 'access log: 1000');
    like($log, qr/101 api=anything\/1\.0 close=1000/,
         'access log: normal close');
}

done_testing;
