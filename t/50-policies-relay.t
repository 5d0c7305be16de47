#!/usr/bin/perl

# SPEC 5, the policies the relay enforces on a live connection:
# maxMessageSize (1009 to the sender, 1001 to the other side, nothing of
# the message beyond the limit forwarded, a declared 2^62-byte frame too),
# messageRate (1008), idleTimeout and maxConnectionAge (1001 to both), and
# deactivation or deletion of the API (1001 "API deactivated" to both).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;
use WsApi::Api;

my $gw = gateway();
my $t = timeout_scale(10);

# what the backend's side of the connection of $path got in close frames

sub backend_close {
    my ($path) = @_;
    my @got = $gw->backend->wait_log(event => 'frame', path => "/stream$path",
                                     where => sub { $_[0]{opcode} == 8 });
    return undef unless @got;
    my $p = pack('H*', $got[0]{hex});
    return [unpack('n', $p), substr($p, 2)];
}

sub backend_data {
    my ($path) = @_;
    return join('', map { pack('H*', $_->{hex} // '') }
                    grep { $_->{opcode} != 8 && $_->{opcode} != 9
                           && $_->{opcode} != 10 }
                    $gw->backend->frames(path => "/stream$path"));
}

sub client_close_is {
    my ($ws, $code, $reason, $what) = @_;
    my $f = $ws->read_frame($t);
    while ($f && $f->{opcode} != 8) { $f = $ws->read_frame($t) }
    ok($f, "$what: the client gets a close frame") or return;
    is(unpack('n', $f->{payload}), $code, "$what: client close code $code");
    is(substr($f->{payload}, 2), $reason, "$what: client close reason");
}

$gw->define(apiName => 'sized',
            policies => { maxMessageSize => { client => 100, server => 50 } });

{
    my $ws = $gw->connect('/gateway/sized/1.0/small');
    $ws->send_text('x' x 100);
    # the echo of 100 bytes is over the server limit of 50: 1009 to the
    # backend, 1001 to the client
    client_close_is($ws, 1001, 'the backend broke a rule of the API',
                    'server message over its limit');
    my $c = backend_close('/small');
    is($c->[0], 1009, 'backend gets 1009');
    is($c->[1], 'message too big', 'backend reason');
    ok($ws->closed_by_peer($t), 'connection closed');
}

{
    my $ws = $gw->connect('/gateway/sized/1.0/fits');
    $ws->send_text('y' x 50);
    is($ws->read_message($t)->{payload}, 'y' x 50,
       'messages within both limits pass');
    $ws->send_text('a' x 60, fin => 0);
    $ws->send_frame(0, 'b' x 41);
    client_close_is($ws, 1009, 'message too big',
                    'fragmented client message over the limit');
    my $c = backend_close('/fits');
    is($c->[0], 1001, 'backend gets 1001');
    my $data = backend_data('/fits');
    ok($data !~ /b/, 'the fragment that crosses the limit is not forwarded');
    ok($ws->closed_by_peer($t), 'connection closed');
}

{
    my $ws = $gw->connect('/gateway/sized/1.0/huge');
    # a frame header that declares 2^62 bytes, and a little of them
    $ws->send_raw(ws_frame(2, 'z' x 10, len => 2**62));
    client_close_is($ws, 1009, 'message too big', 'declared 2^62-byte frame');
    my $c = backend_close('/huge');
    is($c->[0], 1001, 'backend gets 1001');
    ok(backend_data('/huge') !~ /z/, 'nothing of the huge frame forwarded');
    ok($ws->closed_by_peer($t), 'connection closed');
}

$gw->define(apiName => 'rated',
            policies => { messageRate => { client => { messages => 5,
                                                        per => '1m' } } });

{
    my $ws = $gw->connect('/gateway/rated/1.0/flood');
    for my $i (1 .. 5) {
        $ws->send_text("m$i");
        is($ws->read_message($t)->{payload}, "m$i", "message $i of 5 passes");
    }
    $ws->send_text('m6');
    client_close_is($ws, 1008, 'message rate exceeded', 'sixth message');
    my $c = backend_close('/flood');
    is($c->[0], 1001, 'backend gets 1001');
    ok(backend_data('/flood') !~ /m6/, 'the sixth message is not forwarded');
}

$gw->define(apiName => 'idle', policies => { idleTimeout => '1s' });

{
    my $ws = $gw->connect('/gateway/idle/1.0/i');
    for (1 .. 3) {
        select(undef, undef, undef, 0.4);
        $ws->send_text('keep');
        is($ws->read_message($t)->{payload}, 'keep', 'data keeps it alive');
    }
    client_close_is($ws, 1001, 'idle timeout', 'idle connection');
    my $c = backend_close('/i');
    is($c->[0], 1001, 'backend gets 1001');
    is($c->[1], 'idle timeout', 'backend reason');
}

{
    my $ws = $gw->connect('/gateway/idle/1.0/pings');
    for (1 .. 4) {
        select(undef, undef, undef, 0.3);
        $ws->ping('p');
    }
    client_close_is($ws, 1001, 'idle timeout', 'pings do not count');
}

$gw->define(apiName => 'aged', policies => { maxConnectionAge => '1500ms' });

{
    my $ws = $gw->connect('/gateway/aged/1.0/a');
    $ws->send_text('hi');
    is($ws->read_message($t)->{payload}, 'hi', 'young connection relays');
    client_close_is($ws, 1001, 'connection age limit', 'old connection');
    my $c = backend_close('/a');
    is($c->[0], 1001, 'backend gets 1001');
    is($c->[1], 'connection age limit', 'backend reason');
}

# deactivation and deletion

my $api = $gw->define(apiName => 'live');

{
    my @ws = map { $gw->connect("/gateway/live/1.0/d$_") } 1 .. 3;
    $_->send_text('up') for @ws;
    is($_->read_message($t)->{payload}, 'up', 'live connection relays')
        for @ws;

    my $r = $gw->admin(PUT => "apis/$api->{id}/deactivate");
    is($r->{status}, 200, 'deactivated');
    my $t0 = Time::HiRes::time();
    for my $i (0 .. 2) {
        client_close_is($ws[$i], 1001, 'API deactivated', "connection $i");
    }
    my $dt = Time::HiRes::time() - $t0;
    ok($dt < 1.0 * timeout_scale(1) + 0.5, "closed within a second ($dt s)");
    my $c = backend_close('/d1');
    is($c->[0], 1001, 'backend gets 1001');
    is($c->[1], 'API deactivated', 'backend reason');

    $r = $gw->admin(PUT => "apis/$api->{id}/activate");
    is($r->{status}, 200, 'active again');
    my $ws;
    poll_until($t, sub { $ws = $gw->connect('/gateway/live/1.0/d4');
                         $ws->status == 101 });
    is($ws->status, 101, 'a new connection after activation');
    $ws->send_text('again');
    is($ws->read_message($t)->{payload}, 'again', 'relays');
    $r = $gw->admin(PUT => "apis/$api->{id}/deactivate");
    client_close_is($ws, 1001, 'API deactivated', 'second deactivation');
    $r = $gw->admin(DELETE => "apis/$api->{id}");
    is($r->{status}, 204, 'deleted');
}

done_testing();
