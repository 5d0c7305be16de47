#!/usr/bin/perl

# SPEC 5, the policies checked at the handshake, after the parameters, in
# the order ipAllow/ipDeny, allowedOrigins, maxConnections: 403
# ip_not_allowed on $remote_addr (real_ip applies), 403 origin_not_allowed,
# 429 connection_limit with Retry-After: 1, counted across the workers of
# one nginx and per nginx.  The backend sees no refused handshake.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;
use WsApi::Api;

my $t = timeout_scale(10);

my $gw = gateway(main => 'worker_processes 2;',
                 listen => '127.0.0.1:%%PORT_GW%% reuseport',
                 server => 'set_real_ip_from 127.0.0.1; '
                           . 'real_ip_header X-Real-IP;');

sub refused {
    my ($ws, $status, $reason, $what) = @_;
    is($ws->status, $status, "$what: $status");
    my $j = eval { json_decode($ws->body) } // {};
    is($j->{error}{status}, $status, "$what: JSON error status");
    is($j->{error}{reason}, $reason, "$what: reason $reason");
    ok(length($j->{error}{message} // ''), "$what: a message");
}

sub backend_saw {
    my ($path) = @_;
    return scalar $gw->backend->handshakes(path => "/stream$path");
}

$gw->define(apiName => 'ips',
            parameters => [ { name => 'n', in => 'query', required => JSON::PP::true } ],
            policies => { ipAllow => [ '10.0.0.0/8', '2001:db8::/32' ],
                          ipDeny => [ '10.9.0.0/16' ] });

{
    my $ws = $gw->connect('/gateway/ips/1.0/a?n=1',
                          headers => { 'X-Real-IP' => '10.1.2.3' });
    is($ws->status, 101, 'an allowed IPv4 address passes');
    $ws->send_text('hi');
    is($ws->read_message($t)->{payload}, 'hi', 'and relays');

    $ws = $gw->connect('/gateway/ips/1.0/b?n=1',
                       headers => { 'X-Real-IP' => '2001:db8::5' });
    is($ws->status, 101, 'an allowed IPv6 address passes');

    $ws = $gw->connect('/gateway/ips/1.0/c?n=1');
    refused($ws, 403, 'ip_not_allowed', '127.0.0.1 is not in ipAllow');

    $ws = $gw->connect('/gateway/ips/1.0/d?n=1',
                       headers => { 'X-Real-IP' => '10.9.1.1' });
    refused($ws, 403, 'ip_not_allowed', 'an address in ipDeny');

    $ws = $gw->connect('/gateway/ips/1.0/e?n=1',
                       headers => { 'X-Real-IP' => '2001:db9::1' });
    refused($ws, 403, 'ip_not_allowed', 'an IPv6 address outside ipAllow');

    $ws = $gw->connect('/gateway/ips/1.0/f',
                       headers => { 'X-Real-IP' => '10.9.1.1' });
    is($ws->status, 400, 'the parameters are checked first');

    is(backend_saw($_), 0, "backend saw no handshake for $_")
        for qw(/c /d /e /f);
}

$gw->define(apiName => 'origins',
            policies => { allowedOrigins => [ 'https://app.example.com',
                                              'http://localhost:8080' ] });

{
    my $ws = $gw->connect('/gateway/origins/1.0/a',
                          headers => { Origin => 'https://app.example.com' });
    is($ws->status, 101, 'a listed origin passes');

    $ws = $gw->connect('/gateway/origins/1.0/b',
                       headers => { Origin => 'HTTP://LOCALHOST:8080' });
    is($ws->status, 101, 'origins compare in any case');

    $ws = $gw->connect('/gateway/origins/1.0/c');
    is($ws->status, 101, 'no Origin passes (not a browser)');

    $ws = $gw->connect('/gateway/origins/1.0/d',
                       headers => { Origin => 'https://evil.example.net' });
    refused($ws, 403, 'origin_not_allowed', 'another site');

    $ws = $gw->connect('/gateway/origins/1.0/e',
                       headers => { Origin => 'https://app.example.com:8443' });
    refused($ws, 403, 'origin_not_allowed', 'another port');

    is(backend_saw($_), 0, "backend saw no handshake for $_") for qw(/d /e);
}

# maxConnections, across both workers of this nginx

my $api = $gw->define(apiName => 'few', policies => { maxConnections => 3 });

{
    my @ws;
    poll_until($t, sub {
        my $ws = $gw->connect('/gateway/few/1.0/n');
        push @ws, $ws if $ws->status == 101;
        @ws == 3;
    });
    is(scalar @ws, 3, 'three connections');

    my $ws = $gw->connect('/gateway/few/1.0/over');
    refused($ws, 429, 'connection_limit', 'the fourth');
    is($ws->header('Retry-After'), '1', 'Retry-After: 1');
    is(backend_saw('/over'), 0, 'backend saw no handshake for the fourth');

    for (1 .. 6) {
        my $w = $gw->connect('/gateway/few/1.0/over2');
        is($w->status, 429, "still refused, try $_ (any worker)");
    }

    # a PUT does not reset the count (it is kept by API id)
    my $def = $gw->admin(GET => "apis/$api->{id}")->{json};
    delete @$def{qw(id isActive revision createdAt updatedAt gatewayEndpoints)};
    $def->{apiDescription} = 'changed';
    is($gw->admin(PUT => "apis/$api->{id}", $def)->{status}, 200, 'PUT');
    poll_until($t, sub {
        $gw->admin(GET => "apis/$api->{id}")->{json}{apiDescription} eq 'changed'
    });
    select(undef, undef, undef, 0.5);
    $ws = $gw->connect('/gateway/few/1.0/after-put');
    is($ws->status, 429, 'still counted after a PUT');

    # a second nginx on the same Redis counts its own
    my $gw2 = gateway(redis => $gw->redis, backend => $gw->backend);
    my @ws2;
    poll_until($t, sub {
        my $w = $gw2->connect('/gateway/few/1.0/second');
        push @ws2, $w if $w->status == 101;
        @ws2 == 3;
    });
    is(scalar @ws2, 3, 'the second nginx takes three of its own');
    is($gw2->connect('/gateway/few/1.0/second-over')->status, 429,
       'and refuses its fourth');

    # a connection that ends, however it ends, frees its place
    $ws[0]->close_handshake(1000, '', $t);
    $ws[1]->disconnect;
    my $n = 0;
    poll_until($t, sub {
        my $w = $gw->connect('/gateway/few/1.0/again');
        if ($w->status == 101) { push @ws, $w; $n++ }
        $n == 2;
    });
    is($n, 2, 'two places free again after two connections ended');
    is($gw->connect('/gateway/few/1.0/full')->status, 429, 'then full again');
}

done_testing();
