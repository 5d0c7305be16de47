#!/usr/bin/perl

# Hostile handshakes (issue "Hardening", deliverable 3): a 100 KB query
# string, 1,000 query parameters, a header repeated 1,000 times,
# percent-encoding garbage, invalid UTF-8 in query values, an integer of
# 10,000 digits, a double of 10,000 digits, paths of garbage.
#
# Each ends in a clear 4xx (a JSON error of SPEC 4.1 when the module
# refuses it, nginx's own 4xx when nginx refuses the request line or the
# headers first), or passes when it is valid, with what the backend
# receives checked; after each, the worker still serves a normal
# connection.  A refused handshake never reaches the backend.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(sha1_hex);
use Time::HiRes qw(time);
use WsApi::Test;
use WsApi::Api;
use WsApi::Hostile;

sub true () { JSON::PP::true }

my $t_start = time;

# the canonical gateway on PORT_GW (nginx's default header buffers), the
# same location on PORT_BIG with buffers large enough for a 100 KB query;
# handshakes go to PORT_BIG unless said otherwise
my $gw = gateway(http => <<'EOF');
    server {
        listen 127.0.0.1:%%PORT_BIG%%;
        large_client_header_buffers 4 256k;
        location /gateway/ {
            ws_api_gateway;
            proxy_pass $ws_api_backend;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }
    }
EOF
my $nginx = $gw->nginx;
my $backend = $gw->backend;
my $BIG = $nginx->port('big');

$gw->define(apiName => 'h', parameters => [
    { name => 's',  dataType => 'string' },
    { name => 'i',  dataType => 'integer' },
    { name => 'd',  dataType => 'double' },
    { name => 'b',  dataType => 'boolean' },
    { name => 'dt', dataType => 'date' },
    { name => 'ts', dataType => 'date-time' },
    { name => 'n',  dataType => 'integer', array => true },
    { name => 'v',  dataType => 'string', values => ['ok', "caf\x{e9}"] },
    { name => 'e',  dataType => 'string', values => [ "\x{20ac}" x 30, "\x{e9}" x 40, 'b' ] },
    (map { my $w = $_; { name => $w, dataType => 'string',
                         values => [ map { sprintf('%04d', $_) . ("\x{20ac}" x 20) } 1 .. 100 ] } }
         qw(w ww www)),
    { name => 'X-One',  in => 'header', dataType => 'string' },
    { name => 'X-Many', in => 'header', dataType => 'integer', array => true },
    { name => 'X-Small', in => 'header', dataType => 'integer', array => true,
      values => [1 .. 5] },
]);

my $n = 0;

sub backend_handshakes { scalar $backend->handshakes(path => qr{^/stream/hs\d+$}) }

# a normal connection still works
sub serving {
    my ($name) = @_;
    my $ws = $gw->connect('/gateway/h/1.0/alive?s=x', timeout => timeout_scale(5));
    my $ok = $ws->status == 101 && $ws->send_text("alive after $name")
             && (($ws->read_message(timeout_scale(5)) // {})->{payload} // '') eq "alive after $name";
    $ws->disconnect;
    ok($ok, "$name: the worker still serves a normal connection")
        or revive($nginx, $gw->port);
}

# a handshake with the query and headers; returns the WS object
sub hs {
    my ($query, %opt) = @_;
    my $path = '/gateway/h/1.0/hs' . ++$n . (defined $query ? "?$query" : '');
    my $ws = ws_connect(port => $opt{port} // $BIG, path => $path,
                        headers => $opt{headers} || [], timeout => timeout_scale(10));
    $ws->{my_path} = $path;
    $ws->disconnect;
    return $ws;
}

sub res { my ($ws) = @_; return { status => $ws->status, headers => $ws->headers, body => $ws->body } }

# refused by the module: 400 with the parameter and the reason, no backend
sub refused {
    my ($name, $ws, $param, $reason) = @_;
    my $before = backend_handshakes();
    my $e = json_error_ok(res($ws), 400, name => "$name: 400 JSON error", extra => 1);
    is(($e->{parameter} // '') . ' ' . ($e->{reason} // ''), "$param $reason",
       "$name: parameter \"$param\", reason $reason");
    serving($name);
    is(backend_handshakes(), $before, "$name: the backend was not contacted");
}

# passes: 101, and the backend got the query as sent
sub passes {
    my ($name, $ws) = @_;
    is($ws->status, 101, "$name: passes") or diag('  ' . printable($ws->body));
    if ($ws->status == 101) {
        my ($path, $query) = $ws->{my_path} =~ /^\/gateway\/h\/1\.0(\/[^?]*)(?:\?(.*))?$/s;
        my $h = $backend->wait_log(event => 'handshake', path => "/stream$path",
                                   timeout => timeout_scale(5));
        is(sha1_hex($h ? $h->{query} // '' : 'none'), sha1_hex($query // ''),
           "$name: the backend got the query string untouched ("
           . length($query // '') . ' bytes)');
    }
    serving($name);
}

# refused by nginx before the module sees it
sub nginx_refuses {
    my ($name, $ws, @codes) = @_;
    my $before = backend_handshakes();
    ok((grep { $ws->status == $_ } @codes), "$name: nginx refuses it with " . $ws->status)
        or diag('  ' . printable($ws->body));
    serving($name);
    is(backend_handshakes(), $before, "$name: the backend was not contacted");
}

my $mark0 = $nginx->log_mark;

###############################################################################
# a 100 KB query string

{
    my $q = 's=' . ('a' x 100_000);
    nginx_refuses('100 KB query, default header buffers', hs($q, port => $gw->port), 414);
    passes('100 KB string value, large buffers', hs($q));
    refused('100 KB integer value, large buffers', hs('i=' . ('1' x 100_000)),
            'i', 'invalid_type');
    refused('100 KB value where values are listed', hs('v=' . ('o' x 100_000)),
            'v', 'value_not_allowed');
    passes('100 KB of undeclared parameters', hs(join('&', map { "u$_=" . ('z' x 10) } 1 .. 7000)));
    passes('100 KB in one undeclared key', hs(('k' x 100_000) . '=1'));
    refused('100 KB of percent-encoded bytes in an integer',
            hs('i=' . ('%39' x 33_000)), 'i', 'invalid_type');
    passes('100 KB of percent-encoded bytes in a string',
           hs('s=' . ('%e2%82%ac' x 11_000)));
}

###############################################################################
# 1,000 query parameters, declared and not

{
    my $N = 1000;
    passes("$N undeclared parameters", hs(join('&', map { "u$_=$_" } 1 .. $N)));
    passes("$N undeclared parameters with the same name", hs(join('&', ('u=1') x $N)));
    refused("a non-array string given $N times", hs(join('&', map { "s=$_" } 1 .. $N)),
            's', 'not_array');
    refused("a non-array integer given as $N comma-separated values", hs('i=' . join(',', 1 .. $N)),
            'i', 'not_array');
    passes("an array integer given $N times", hs(join('&', map { "n=$_" } 1 .. $N)));
    passes("an array integer given as $N comma-separated values", hs('n=' . join(',', 1 .. $N)));
    refused("an array integer given $N times, one of them not an integer",
            hs(join('&', map { $_ == 777 ? 'n=x' : "n=$_" } 1 .. $N)), 'n', 'invalid_type');
    refused("$N empty values of an array integer", hs('n=' . (',' x ($N - 1))), 'n', 'invalid_type');
    passes("10,000 parameters (declared and not), large buffers",
           hs(join('&', (map { "n=$_" } 1 .. 5000), (map { "x$_" } 1 .. 5000))));
    refused("10,000 separators only", hs('&' x 10_000 . 's=1&s=2'), 's', 'not_array');
}

###############################################################################
# a header repeated 1,000 times (on the port with nginx's default buffers)
#
# The Debian nginx refuses a request of more than 1,000 header lines itself
# (400 "client sent too many header lines"): 1,000 repeats plus the
# handshake's own headers are over it.  990 repeats reach the module.

{
    my @hs = ('Sec-WebSocket-Version', 'Host', 'Upgrade', 'Connection', 'Sec-WebSocket-Key');
    nginx_refuses('X-One repeated 1,000 times',
                  hs('s=x', headers => [ map { ('X-One' => "v$_") } 1 .. 1000 ]), 400);
    my $N = 990;
    refused("X-One (array false) repeated $N times",
            hs('s=x', headers => [ map { ('X-One' => "v$_") } 1 .. $N ]), 'X-One', 'not_array');
    passes("X-Many (array true, integer) repeated $N times",
           hs('s=x', headers => [ map { ('X-Many' => $_) } 1 .. $N ]));
    refused("X-Many repeated $N times, one not an integer",
            hs('s=x', headers => [ map { ('X-Many' => $_ == 500 ? '5x' : $_) } 1 .. $N ]),
            'X-Many', 'invalid_type');
    refused("X-Small (values 1 to 5) repeated $N times, one out of them",
            hs('s=x', headers => [ map { ('X-Small' => $_ == 900 ? 6 : 1 + $_ % 5) } 1 .. $N ]),
            'X-Small', 'value_not_allowed');
    passes("X-Small repeated $N times, every one allowed",
           hs('s=x', headers => [ map { ('X-Small' => 1 + $_ % 5) } 1 .. $N ]));
    passes("an undeclared header repeated $N times",
           hs('s=x', headers => [ map { ('X-Other' => $_) } 1 .. $N ]));
    refused('X-One with 10,000 comma-separated values',
            hs('s=x', headers => [ 'X-One' => join(',', 1 .. 10_000) ]),
            'X-One', 'not_array');
    passes('X-Many with 10,000 comma-separated values',
           hs('s=x', headers => [ 'X-Many' => join(' , ', 1 .. 10_000) ]));
    refused('X-Many of 100 KB of digits', hs('s=x', headers => [ 'X-Many' => '7' x 100_000 ]), 'X-Many', 'invalid_type');
}

###############################################################################
# percent-encoding garbage: kept as it is (a malformed escape is no escape)

{
    for my $g ('%', '%%', '%zz', '%00', '%0', '%g0', '%%%%', '%2', 'a%', '%%41', '%e2%82', '%ff%fe%fd',
               '+%+', '%u0041')
    {
        passes("s=$g (a string takes any bytes)", hs("s=$g"));
    }
    passes('garbage in the keys', hs('%=1&%%=2&%zz=3&%00=4&=5&&&=&s%00=6&%73%=7'));
    passes('an encoded key: %73 is s', hs('%73=1'));
    refused('the encoded key counts: s and %73', hs('s=1&%73=2'), 's', 'not_array');
    refused('an encoded comma is inside the value: i=1%2C2', hs('i=1%2C2'), 'i', 'invalid_type');
    passes('an encoded digit is a digit: i=%31%32', hs('i=%31%32'));
    for my $g ('%', '%zz', '%00', '1%00', '%001', '%2', '1%', '%%31', '+1%20')
    {
        refused("i=$g", hs("i=$g"), 'i', 'invalid_type');
    }
    refused('b=tru%65%00', hs('b=tru%65%00'), 'b', 'invalid_type');
    refused('dt=2024-02-2%39%00', hs('dt=2024-02-2%39%00'), 'dt', 'invalid_type');
}

###############################################################################
# invalid UTF-8 in query values: strings are bytes; typed values are refused

{
    for my $bad ('%ff', '%c0%80', '%ed%a0%80', '%f4%90%80%80', '%e2%82', "\xff\xfe")
    {
        my $p = printable($bad);
        passes("s=$p", hs("s=x$bad"));
        refused("i=1$p", hs("i=1$bad"), 'i', 'invalid_type');
        refused("d=1.5$p", hs("d=1.5$bad"), 'd', 'invalid_type');
        refused("b=true$p", hs("b=true$bad"), 'b', 'invalid_type');
        refused("dt=2026-11-28$p", hs("dt=2026-11-28$bad"), 'dt', 'invalid_type');
        refused("ts=...$p", hs("ts=2026-11-28T10:15:00$bad" . 'Z'), 'ts', 'invalid_type');
        refused("v=caf$p (not an allowed value)", hs("v=caf$bad"), 'v', 'value_not_allowed');
    }
    passes('v=caf%c3%a9: an allowed value in UTF-8', hs('v=caf%c3%a9'));
    refused('X-Many with invalid UTF-8', hs('s=x', headers => [ 'X-Many' => "1\xff" ]),
            'X-Many', 'invalid_type');
}

###############################################################################
# allowed values with multi-byte characters: a value that is not allowed is
# a 400 whose message lists them (cut where it must be, never into invalid
# UTF-8)

refused('a value not allowed, allowed values of 30 euro signs', hs('e=zz'), 'e', 'value_not_allowed');
for my $w (qw(w ww www)) {
    refused("a value not allowed, 100 allowed values of 64 bytes ($w)", hs("$w=zz"), $w,
            'value_not_allowed');
}
passes('an allowed value of 30 euro signs', hs('e=' . ('%e2%82%ac' x 30)));

###############################################################################
# an integer of 10,000 digits, a double of 10,000 digits

{
    my $D = 10_000;
    refused("an integer of $D digits", hs('i=' . ('9' x $D)), 'i', 'invalid_type');
    refused("an integer of $D digits, negative", hs('i=-' . ('9' x $D)), 'i', 'invalid_type');
    passes("an integer of $D digits, all leading zeros but one", hs('i=' . ('0' x ($D - 1)) . '7'));
    passes("-0 with $D zeros", hs('i=-' . ('0' x $D)));
    refused('one past 2^63 - 1', hs('i=9223372036854775808'), 'i', 'invalid_type');
    passes('2^63 - 1', hs('i=9223372036854775807'));
    passes('-2^63', hs('i=-9223372036854775808'));
    refused('a lone sign', hs('i=-'), 'i', 'invalid_type');
    refused("an integer of $D digits as 1,000 values of an array", hs('n=' . join(',', ('1' x 10) x 999, '9' x 20)),
            'n', 'invalid_type');

    refused("a double of $D digits (1e10000)", hs('d=' . ('9' x $D)), 'd', 'invalid_type');
    refused("a double of $D digits, negative", hs('d=-' . ('9' x $D)), 'd', 'invalid_type');
    passes("a double of $D digits after the point", hs('d=0.' . ('9' x $D)));
    passes("a double of $D digits that is small", hs('d=' . ('0' x ($D - 3)) . '1.5'));
    passes("a double with $D digits either side of the point",
           hs('d=' . ('0' x $D) . '.' . ('5' x $D)));
    refused("an exponent of $D digits", hs('d=1e' . ('9' x $D)), 'd', 'invalid_type');
    passes("a negative exponent of $D digits (underflows to 0, finite)", hs('d=1e-' . ('9' x $D)));
    refused("a double of $D digits then garbage", hs('d=' . ('1' x $D) . 'x'), 'd', 'invalid_type');
    refused('nan', hs('d=nan'), 'd', 'invalid_type');
    refused('1e309', hs('d=1e309'), 'd', 'invalid_type');
    refused("a date of $D characters", hs('dt=2024-02-29' . ('9' x $D)), 'dt', 'invalid_type');
    refused("a date-time with $D fraction digits and garbage",
            hs('ts=2026-11-28T10:15:00.' . ('1' x $D) . 'Zx'), 'ts', 'invalid_type');
    passes("a date-time with $D fraction digits", hs('ts=2026-11-28T10:15:00.' . ('1' x $D) . 'Z'));
}

###############################################################################
# paths of garbage: no API there (404 JSON), or normalised by nginx

{
    for my $c (['%ff%fe as the name', '/gateway/%ff%fe/1.0'],
               ['%ff as the version', '/gateway/h/%ff'],
               ['a name of 200 two-byte characters', '/gateway/' . ('%c3%a9' x 200) . '/1.0'],
               ['a name of 5,000 characters', '/gateway/' . ('n' x 5000) . '/1.0'],
               ['a version of 100 euro signs', '/gateway/h/' . ('%e2%82%ac' x 100)],
               ['dot segments above the API', '/gateway/h/1.0/../../x/1.0'])
    {
        my $before = backend_handshakes();
        my $ws = ws_connect(port => $gw->port, path => $c->[1], timeout => timeout_scale(5));
        $ws->disconnect;
        json_error_ok(res($ws), 404, name => "$c->[0]: 404 JSON error");
        serving($c->[0]);
    }
    my $ws = ws_connect(port => $gw->port, path => '/gateway/h%2F1.0/hs-slash?s=1');
    is($ws->status, 101, 'an encoded slash between name and version is a slash (nginx decodes it)');
    $ws->disconnect;
    $ws = ws_connect(port => $gw->port, path => '/gateway/h/1.0/a/%2e%2e/hs-dots?s=1');
    is($ws->status, 101, 'dot segments inside the extra path are resolved');
    $ws->disconnect;
    ok($backend->wait_log(event => 'handshake', path => '/stream/hs-dots', timeout => 5),
       'and the backend gets the normalised path');
}

###############################################################################
# the upgrade headers themselves, hostile

{
    my $ws = ws_connect(port => $BIG, path => '/gateway/h/1.0/hs-key', key => 'A' x 100_000);
    json_error_ok(res($ws), 400, name => 'a Sec-WebSocket-Key of 100 KB: 400 JSON error');
    $ws = ws_connect(port => $gw->port, path => '/gateway/h/1.0/hs-key',
                     headers => [ map { ('Sec-WebSocket-Key' => 'dGhlIHNhbXBsZSBub25jZQ==') } 1 .. 500 ]);
    json_error_ok(res($ws), 400, name => 'Sec-WebSocket-Key repeated 500 times: 400 JSON error');
    $ws = ws_connect(port => $gw->port, path => '/gateway/h/1.0/hs-ver',
                     headers => [ map { ('Sec-WebSocket-Version' => 13) } 1 .. 500 ]);
    json_error_ok(res($ws), 426, name => 'Sec-WebSocket-Version repeated 500 times: 426 JSON error');
    $ws = ws_connect(port => $BIG, path => '/gateway/h/1.0/hs-conn?s=x',
                     connection => join(', ', ('keep-alive') x 10_000, 'Upgrade'));
    is($ws->status, 101, 'Connection with 10,000 tokens before "Upgrade": 101');
    $ws->disconnect;
    serving('hostile upgrade headers');
}

no_crash_since($nginx, $mark0, 'no worker crashed or hung, no alert, in the whole file');
diag(sprintf('41-hostile-handshake: %.1f s', time - $t_start));

done_testing;
