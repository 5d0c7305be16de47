#!/usr/bin/perl

# The relay's checks over TLS on either side (a TLS client, a wss://
# backend), and with permessage-deflate negotiated between client and
# backend: RSV1 accepted on a message's first frame only, the type from
# that frame's opcode, no UTF-8 check inside compressed messages.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(sha1_hex);
use Compress::Raw::Zlib;
use WsApi::Test;
use WsApi::Api;

my $gw = gateway(
    backend_opt => { deflate => 1 },
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

my $wss = $gw->nginx->port('wss');

$gw->define(apiName => 'plain',
            messages => [ { origin => 'client', type => 'text' },
                          { origin => 'server', type => 'text' } ]);
$gw->define(apiName => 'secure', wsUrl => "wss://127.0.0.1:$wss/stream",
            messages => [ { origin => 'client', type => 'text' },
                          { origin => 'server', type => 'text' } ]);

sub deflate {
    my ($data) = @_;
    my ($d) = Compress::Raw::Zlib::Deflate->new(-WindowBits => -15,
                                                -AppendOutput => 1);
    my $out = '';
    $d->deflate($data, $out);
    $d->flush($out, Z_SYNC_FLUSH);
    $out =~ s/\x00\x00\xff\xff\z//;
    return $out;
}

sub inflate {
    my ($data) = @_;
    my ($i) = Compress::Raw::Zlib::Inflate->new(-WindowBits => -15);
    my $out;
    $i->inflate($data . "\x00\x00\xff\xff", $out);
    return $out;
}

# TLS to the gateway, TLS to the backend, both

for my $case (['TLS client', 'plain', 1], ['wss:// backend', 'secure', 0],
              ['TLS on both sides', 'secure', 1])
{
    my ($name, $api, $tls) = @$case;

    my $ws = ws_connect(port => $tls ? $gw->nginx->port('tls') : $gw->port,
                        tls => $tls, path => "/gateway/$api/1.0/t$tls");
    is($ws->status, 101, "$name: upgraded");

    my $big = ('0123456789abcdef' x 65536);
    $ws->send_text($big);
    my $m = $ws->read_message(30);
    is(sha1_hex($m->{payload} // ''), sha1_hex($big), "$name: 1 MiB echoed");

    $ws->send_binary('no');
    my $f = $ws->read_frame(10);
    is($f && unpack('n', $f->{payload}), 1003, "$name: 1003");
    ok($ws->closed_by_peer(10), "$name: closed");
}

# permessage-deflate

{
    my $ws = $gw->connect('/gateway/plain/1.0/deflate',
                          extensions => 'permessage-deflate');
    is($ws->status, 101, 'upgraded');
    like($ws->header('sec-websocket-extensions') // '', qr/permessage-deflate/,
         'the backend accepted permessage-deflate');

    $ws->send_frame(1, deflate('compressed hello'), rsv => 4);
    my $f = $ws->read_frame(10);
    is($f->{rsv}, 4, 'a compressed message comes back compressed');
    is(inflate($f->{payload}), 'compressed hello', 'and intact');

    my $m = $gw->backend->wait_log(event => 'message', path => '/stream/deflate');
    is($m && $m->{text}, 'compressed hello', 'the backend got it');

    # a compressed message fragmented: RSV1 on the first frame only

    my $z = deflate('abc' x 1000);
    my $half = int(length($z) / 2);
    $ws->send_frame(1, substr($z, 0, $half), rsv => 4, fin => 0);
    $ws->send_frame(0, substr($z, $half), fin => 1);
    $f = $ws->read_frame(10);
    is(inflate($f->{payload}), 'abc' x 1000, 'fragmented compressed message');

    # no UTF-8 check inside compressed data (it is compressed)

    $ws->send_frame(1, deflate("\xff\xfe"), rsv => 4);
    $f = $ws->read_frame(10);
    is($f->{opcode}, 1, 'compressed text is not UTF-8 checked');

    # RSV1 on a continuation frame is a protocol error

    $ws->send_frame(1, deflate('x'), rsv => 4, fin => 0);
    $ws->send_frame(0, deflate('y'), rsv => 4, fin => 1);
    $f = $ws->read_frame(10);
    is($f && unpack('n', $f->{payload}), 1002, 'RSV1 on a continuation: 1002');
    ok($ws->closed_by_peer(10), 'closed');
}

{
    my $ws = $gw->connect('/gateway/plain/1.0/deflate-binary',
                          extensions => 'permessage-deflate');

    $ws->send_frame(2, deflate('binary'), rsv => 4);
    my $f = $ws->read_frame(10);
    is($f && unpack('n', $f->{payload}), 1003,
       'a compressed binary message on a text API: 1003 (type from the '
       . 'first frame)');
    ok(!$gw->backend->messages(path => '/stream/deflate-binary'),
       'it did not reach the backend');
}

unlike($gw->nginx->error_log, qr/\[(alert|crit|emerg)\]|exited on signal/,
       'no alert or crash in the error log');

done_testing;
