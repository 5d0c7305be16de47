#!/usr/bin/perl

# SPEC 4.3 on the relay: a text message of an origin with at least one
# schema is gathered whole, validated, and forwarded as one frame only if
# it matches a schema; otherwise 1007 to its sender with a reason naming
# the keyword and the JSON pointer, 1001 to the other side, nothing of it
# forwarded.  Both directions, fragments with a ping between them, a
# message in many small writes, $ref, two schemas of one origin, 1 MiB,
# maxMessageSize (1009), binary messages and APIs without schemas
# unaffected, extensions not offered to the backend of such an API.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;
use WsApi::Api;

my $gw = gateway(backend_opt => { deflate => 1 });
my $t = timeout_scale(10);

my $price = { type => 'object', required => ['price'],
              properties => { price => { type => 'number' } } };

$gw->define(apiName => 'orders',
            messages => [ { origin => 'client', type => 'text',
                            schema => $price },
                          { origin => 'client', type => 'binary' },
                          { origin => 'server', type => 'text' },
                          { origin => 'server', type => 'binary' } ]);

$gw->define(apiName => 'feed',
            messages => [ { origin => 'client', type => 'text' },
                          { origin => 'server', type => 'text',
                            schema => { type => 'object',
                                        required => ['sym'] } } ]);

$gw->define(apiName => 'refs',
            messages => [ { origin => 'client', type => 'text',
                            schema => {
                                definitions => {
                                    n => { type => 'integer', minimum => 0 } },
                                properties => {
                                    n => { '$ref' => '#/definitions/n' } } } },
                          { origin => 'server', type => 'text' } ]);

$gw->define(apiName => 'either',
            messages => [ { origin => 'client', type => 'text',
                            schema => { required => ['a'] } },
                          { origin => 'client', type => 'text',
                            schema => { required => ['b'] } },
                          { origin => 'server', type => 'text' } ]);

$gw->define(apiName => 'big',
            messages => [ { origin => 'client', type => 'text',
                            schema => { type => 'string' } },
                          { origin => 'server', type => 'text' } ]);

$gw->define(apiName => 'small',
            messages => [ { origin => 'client', type => 'text',
                            schema => { type => 'string' } },
                          { origin => 'server', type => 'text' } ],
            policies => { maxMessageSize => { client => 100 } });

$gw->define(apiName => 'plain');

sub backend_texts {
    my ($path) = @_;
    return map { pack('H*', $_->{hex} // '') }
           grep { $_->{opcode} == 1 || $_->{opcode} == 0 }
           $gw->backend->frames(path => "/stream$path");
}

sub backend_close {
    my ($path) = @_;
    my @got = $gw->backend->wait_log(event => 'frame', path => "/stream$path",
                                     where => sub { $_[0]{opcode} == 8 });
    return undef unless @got;
    my $p = pack('H*', $got[0]{hex});
    return [unpack('n', $p), substr($p, 2)];
}

sub client_close_is {
    my ($ws, $code, $reason, $what) = @_;
    my $f = $ws->read_frame($t);
    while ($f && $f->{opcode} != 8) { $f = $ws->read_frame($t) }
    ok($f, "$what: the client gets a close frame") or return;
    is(unpack('n', $f->{payload}), $code, "$what: client close code $code");
    is(substr($f->{payload}, 2), $reason, "$what: client close reason");
}

sub refused {
    my ($path, $send, $reason, $what) = @_;
    my $ws = $gw->connect("/gateway$path");
    is($ws->status, 101, "$what: upgraded");
    $ws->send_text('{"price": 0}') if $path =~ m{^/orders/};
    is($ws->read_message($t)->{payload}, '{"price": 0}',
       "$what: a valid message first") if $path =~ m{^/orders/};
    $send->($ws);
    client_close_is($ws, 1007, $reason, $what);
    my $c = backend_close(substr($path, length('/orders/1.0')));
    is($c->[0], 1001, "$what: backend gets 1001");
    ok($ws->closed_by_peer($t), "$what: connection closed");
    return $ws;
}

# client to backend

{
    my $ws = $gw->connect('/gateway/orders/1.0/valid');
    is($ws->status, 101, 'upgraded');
    $ws->send_text('{"price": 12.5, "sym": "AAPL"}');
    is($ws->read_message($t)->{payload}, '{"price": 12.5, "sym": "AAPL"}',
       'a valid message goes, the echo comes back');
    is(join('|', backend_texts('/valid')), '{"price": 12.5, "sym": "AAPL"}',
       'the backend got it as sent');
    my @f = $gw->backend->frames(path => '/stream/valid');
    ok($f[0]{masked}, 'masked towards the backend');

    $ws->send_binary("\x00\xffnot json");
    my $m = $ws->read_message($t);
    is($m->{opcode}, 2, 'binary messages are not validated');
    is($m->{payload}, "\x00\xffnot json", 'binary echo');

    is($ws->close_handshake(1000, 'bye', $t), 1000, 'close handshake');
}

refused('/orders/1.0/missing', sub { $_[0]->send_text('{"qty": 1}') },
        'payload fails required at ""', 'missing member');
is(join('|', backend_texts('/missing')), '{"price": 0}',
   'missing member: nothing of it forwarded');

refused('/orders/1.0/type', sub { $_[0]->send_text('{"price": "1"}') },
        'payload fails type at "/price"', 'wrong type');
is(join('|', backend_texts('/type')), '{"price": 0}',
   'wrong type: nothing of it forwarded');

refused('/orders/1.0/notjson', sub { $_[0]->send_text('{"price": 1') },
        'payload is not JSON', 'not JSON');
is(join('|', backend_texts('/notjson')), '{"price": 0}',
   'not JSON: nothing of it forwarded');

# fragments with a ping between them: the ping passes at once, the message
# goes as one frame once whole

{
    my $ws = $gw->connect('/gateway/orders/1.0/frag');
    $ws->send_text('{"pri', fin => 0);
    $ws->ping('between');
    my $f = $ws->read_frame($t);
    is($f->{opcode}, 0xA, 'the ping between fragments passes at once');
    is($f->{payload}, 'between', 'pong payload');
    $ws->send_frame(0, 'ce": ', fin => 0);
    $ws->send_frame(0, '7}');
    is($ws->read_message($t)->{payload}, '{"price": 7}',
       'the fragmented message goes whole');
    my @f = grep { $_->{opcode} != 9 }
            $gw->backend->frames(path => '/stream/frag');
    is(scalar @f, 1, 'the backend got one frame');
    is($f[0]{opcode}, 1, 'a text frame');
    ok($f[0]{fin}, 'final');
    my @p = $gw->backend->frames(path => '/stream/frag',);
    is($p[0]{opcode}, 9, 'the backend got the ping before the message');
}

refused('/orders/1.0/badfrag', sub {
            my ($ws) = @_;
            $ws->send_text('{"qty"', fin => 0);
            $ws->ping('x');
            $ws->send_frame(0, ': 2}');
        }, 'payload fails required at ""', 'invalid fragmented message');
is(join('|', backend_texts('/badfrag')), '{"price": 0}',
   'invalid fragmented message: nothing of it forwarded');

# one message in many small writes

{
    my $ws = $gw->connect('/gateway/orders/1.0/slow');
    my $msg = '{"price": 3, "note": "' . ('ab' x 40) . '"}';
    $ws->send_raw(ws_frame(1, $msg), delay => 0.002);
    is($ws->read_message($t)->{payload}, $msg,
       'a message split over many writes goes whole');
    $ws->send_raw(ws_frame(1, '{"a": 1}') . ws_frame(1, '{"price": 4}'),
                  delay => 0.001);
    client_close_is($ws, 1007, 'payload fails required at ""',
                    'an invalid message in many writes');
    is(join('|', backend_texts('/slow')), $msg,
       'nothing after the valid one forwarded');
}

{
    # valid messages pipelined in one write, and behind the handshake
    my $ws = $gw->connect('/gateway/orders/1.0/pipe',
                          raw_extra => ws_frame(1, '{"price": 1}'));
    is($ws->read_message($t)->{payload}, '{"price": 1}',
       'a message sent with the handshake is validated and goes');
    $ws->send_raw(join('', map { ws_frame(1, qq({"price": $_})) } 2 .. 50));
    my @got = map { $ws->read_message($t)->{payload} } 2 .. 50;
    is(join(',', @got), join(',', map { qq({"price": $_}) } 2 .. 50),
       'many messages in one write keep their order');
}

# backend to client

{
    # /silent: the backend echoes nothing but obeys commands
    my $ws = $gw->connect('/gateway/feed/1.0/silent');
    $ws->send_text('not json, and no schema for client messages');
    $gw->backend->wait_log(event => 'message', path => '/stream/silent');
    is(join('|', backend_texts('/silent')),
       'not json, and no schema for client messages',
       'the other direction is not validated');

    my $frames = unpack('H*', ws_frame(1, '{"sym": "A"}', mask => 0));
    $ws->send_text("!send $frames");
    my $f = $ws->read_frame($t);
    is($f->{payload}, '{"sym": "A"}', 'a valid server message goes');
    ok(!$f->{masked}, 'unmasked towards the client');

    $frames = unpack('H*', ws_frame(1, '{"sy', mask => 0, fin => 0)
                           . ws_frame(9, 'srv', mask => 0)
                           . ws_frame(0, 'm": "B"}', mask => 0));
    $ws->send_text("!send $frames");
    $f = $ws->read_frame($t);
    is($f->{opcode}, 9, 'a ping between server fragments passes at once');
    $f = $ws->read_frame($t);
    is($f->{opcode}, 1, 'then the message as one text frame');
    ok($f->{fin}, 'final');
    is($f->{payload}, '{"sym": "B"}', 'whole');

    $frames = unpack('H*', ws_frame(1, '["sym"]', mask => 0));
    $ws->send_text("!send $frames");
    client_close_is($ws, 1001, 'the backend broke a rule of the API',
                    'invalid server message');
    my $c = backend_close('/silent');
    is($c->[0], 1007, 'backend gets 1007');
    is($c->[1], 'payload fails type at ""', 'backend reason');
    ok($ws->closed_by_peer($t), 'connection closed');
}

# $ref, two schemas for one origin

{
    my $ws = $gw->connect('/gateway/refs/1.0/r');
    $ws->send_text('{"n": 5}');
    is($ws->read_message($t)->{payload}, '{"n": 5}', '$ref: valid');
    $ws->send_text('{"n": -1}');
    client_close_is($ws, 1007, 'payload fails minimum at "/n"',
                    '$ref: invalid');
}

{
    my $ws = $gw->connect('/gateway/either/1.0/e');
    $ws->send_text('{"a": 1}');
    is($ws->read_message($t)->{payload}, '{"a": 1}', 'the first schema matches');
    $ws->send_text('{"b": 1}');
    is($ws->read_message($t)->{payload}, '{"b": 1}',
       'the second schema matches');
    $ws->send_text('{"c": 1}');
    client_close_is($ws, 1007, 'payload fails required at ""',
                    'neither matches: the first one\'s reason');
}

# sizes: 1 MiB by default, maxMessageSize when set

{
    my $ws = $gw->connect('/gateway/big/1.0/mib');
    my $msg = '"' . ('x' x (1024 * 1024 - 2)) . '"';
    $ws->send_text(substr($msg, 0, 300000), fin => 0);
    $ws->send_frame(0, substr($msg, 300000));
    my $m = $ws->read_message($t);
    is(length($m->{payload} // ''), 1024 * 1024, 'a 1 MiB message goes');
    ok(($m->{payload} // '') eq $msg, 'intact');

    $ws->send_text('"' . ('y' x (1024 * 1024 - 1)) . '"');
    client_close_is($ws, 1009, 'message too big', 'over 1 MiB');
    my $c = backend_close('/mib');
    is($c->[0], 1001, 'backend gets 1001');
    ok(!grep(/y/, backend_texts('/mib')), 'nothing of it forwarded');
}

{
    my $ws = $gw->connect('/gateway/small/1.0/s');
    $ws->send_text('"' . ('s' x 98) . '"');
    is(length($ws->read_message($t)->{payload}), 100,
       'within maxMessageSize');
    $ws->send_text('"' . ('s' x 60), fin => 0);
    $ws->send_frame(0, ('s' x 40) . '"');
    client_close_is($ws, 1009, 'message too big', 'over maxMessageSize');
}

# every byte in a write of its own, fragments and a ping between them

{
    my $ws = $gw->connect('/gateway/orders/1.0/bytes');
    $ws->send_raw(ws_frame(1, '{"pr', fin => 0) . ws_frame(9, 'b')
                  . ws_frame(0, 'ice": 5', fin => 0) . ws_frame(0, '}'),
                  delay => 0.002);
    my $f = $ws->read_frame($t);
    is($f->{opcode}, 0xA, 'byte by byte: the ping passes');
    is($ws->read_message($t)->{payload}, '{"price": 5}',
       'byte by byte: the message goes whole');
}

# a longer server message (16-bit length) in fragments

{
    my $ws = $gw->connect('/gateway/feed/1.0/silent2');
    my $msg = '{"sym": "' . ('Z' x 300) . '"}';
    my $frames = unpack('H*', ws_frame(1, substr($msg, 0, 100), mask => 0,
                                       fin => 0)
                           . ws_frame(0, substr($msg, 100, 150), mask => 0,
                                      fin => 0)
                           . ws_frame(0, substr($msg, 250), mask => 0));
    $ws->send_text("!send $frames");
    my $f = $ws->read_frame($t);
    is($f->{opcode}, 1, 'a 311-byte server message in three fragments');
    ok($f->{fin}, 'comes as one frame');
    is($f->{payload}, $msg, 'whole');
}

# rules of RFC 6455 inside a message being gathered

refused('/orders/1.0/utf8', sub {
            $_[0]->send_raw(ws_frame(1, qq({"price": 1, "x": "\xc3\x28"})));
        }, 'invalid UTF-8 in a text message', 'invalid UTF-8');
is(join('|', backend_texts('/utf8')), '{"price": 0}',
   'invalid UTF-8: nothing of it forwarded');

{
    my $ws = $gw->connect('/gateway/orders/1.0/nested');
    $ws->send_text('{"price"', fin => 0);
    $ws->send_text('{"price": 1}');
    client_close_is($ws, 1002, 'new data message inside a fragmented message',
                    'a new message inside a gathered one');
    ok(!backend_texts('/nested'), 'nothing of either forwarded');
}

# a new revision's schemas apply to new connections

{
    my $api = $gw->define(apiName => 'revised',
                          messages => [ { origin => 'client', type => 'text',
                                          schema => { required => ['v1'] } },
                                        { origin => 'server', type => 'text' } ]);
    my $old = $gw->connect('/gateway/revised/1.0/old');
    $old->send_text('{"v1": 1}');
    is($old->read_message($t)->{payload}, '{"v1": 1}', 'revision 1 schema');

    my $def = $gw->admin(GET => "apis/$api->{id}")->{json};
    $def->{messages}[0]{schema} = { required => ['v2'] };
    delete $def->{gatewayEndpoints};
    is($gw->admin(PUT => "apis/$api->{id}", $def)->{status}, 200,
       'the schema is replaced');
    ok(poll_until($t, sub {
        my $ws = $gw->connect('/gateway/revised/1.0/probe');
        $ws->send_text('{"v2": 1}');
        my $m = $ws->read_message(2);
        $ws->disconnect;
        $m && $m->{opcode} == 1 && $m->{payload} eq '{"v2": 1}';
    }), 'new connections validate with the new schema');

    $old->send_text('{"v1": 2}');
    is($old->read_message($t)->{payload}, '{"v1": 2}',
       'a live connection keeps the schema it started with');
    my $new = $gw->connect('/gateway/revised/1.0/new');
    $new->send_text('{"v1": 2}');
    client_close_is($new, 1007, 'payload fails required at ""',
                    'the old schema no longer applies to new connections');
}

# an API without schemas, and extensions

{
    my $ws = $gw->connect('/gateway/plain/1.0/p');
    $ws->send_text('{not json');
    is($ws->read_message($t)->{payload}, '{not json',
       'an API without schemas relays anything');
}

{
    my $ws = $gw->connect('/gateway/plain/1.0/deflate',
                          extensions => 'permessage-deflate');
    like($ws->header('sec-websocket-extensions') // '', qr/permessage-deflate/,
         'without schemas permessage-deflate is negotiated');

    $ws = $gw->connect('/gateway/orders/1.0/deflate',
                       extensions => 'permessage-deflate');
    is($ws->status, 101, 'upgraded');
    is($ws->header('sec-websocket-extensions'), undef,
       'with schemas no extension is negotiated');
    my ($h) = $gw->backend->handshakes(path => '/stream/deflate');
    my @h = grep { $_->{path} eq '/stream/deflate' }
            $gw->backend->handshakes();
    ok(!exists $h[-1]{headers}{'sec-websocket-extensions'},
       'the backend is not offered the extension');
    $ws->send_text('{"price": 9}');
    is($ws->read_message($t)->{payload}, '{"price": 9}', 'relays');
}

# TLS on both sides: the filter reads through SSL

{
    my $tg = gateway(
        server => 'listen 127.0.0.1:%%PORT_TLS%% ssl;
                   ssl_certificate %%CERT%%;
                   ssl_certificate_key %%KEY%%;',
        http => 'server {
                     listen 127.0.0.1:%%PORT_WSS%% ssl;
                     ssl_certificate %%CERT%%;
                     ssl_certificate_key %%KEY%%;
                     location / {
                         proxy_pass http://%%BACKEND%%;
                         proxy_http_version 1.1;
                         proxy_set_header Upgrade $http_upgrade;
                         proxy_set_header Connection "upgrade";
                     }
                 }');
    my $wss = $tg->nginx->port('wss');
    $tg->define(apiName => 'secure', wsUrl => "wss://127.0.0.1:$wss/stream",
                messages => [ { origin => 'client', type => 'text',
                                schema => { type => 'string' } },
                              { origin => 'server', type => 'text',
                                schema => { type => 'string' } } ]);

    my $ws = ws_connect(port => $tg->nginx->port('tls'), tls => 1,
                        path => '/gateway/secure/1.0/tls');
    is($ws->status, 101, 'TLS: upgraded');
    my $msg = '"' . ('0123456789abcdef' x 65535) . '"';
    $ws->send_text(substr($msg, 0, 500000), fin => 0);
    $ws->ping('tls');
    $ws->send_frame(0, substr($msg, 500000));
    my $f = $ws->read_frame($t);
    is($f->{opcode}, 0xA, 'TLS: the ping passes');
    my $m = $ws->read_message(30);
    ok(($m->{payload} // '') eq $msg,
       'TLS: a 1 MiB message validated both ways and echoed');
    $ws->send_text('"ok"');
    is($ws->read_message($t)->{payload}, '"ok"', 'TLS: then a small one');
    $ws->send_text('{}');
    client_close_is($ws, 1007, 'payload fails type at ""', 'TLS: invalid');
    ok($ws->closed_by_peer($t), 'TLS: closed');
}

done_testing();
