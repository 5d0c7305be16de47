#!/usr/bin/perl

# Gateway: handshake parameters (SPEC 4.1 step 3): query and header
# parameters, the four reasons (missing, not_array, invalid_type,
# value_not_allowed) and which one wins, the data types with their edge
# cases, percent-decoding, arrays, header names in any case, allowed values
# compared by type, and many parameters at once.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes ();
use WsApi::Test;
use WsApi::Gateway;

my $T0 = Time::HiRes::time();

my $redis = start_redis();
my $backend = start_backend();
my $nginx = start_nginx(http => gw_http());

sub q_param { my ($name, $type, %o) = @_; return { name => $name, in => 'query', dataType => $type, %o } }
sub h_param { my ($name, $type, %o) = @_; return { name => $name, in => 'header', dataType => $type, %o } }

my %apis = (
    types => [
        q_param('s', 'string'), q_param('i', 'integer'), q_param('d', 'double'),
        q_param('b', 'boolean'), q_param('dt', 'date'), q_param('ts', 'date-time'),
    ],
    htypes => [
        h_param('X-Int', 'integer'), h_param('X-Dbl', 'double'), h_param('X-Bool', 'boolean'),
        h_param('X-Date', 'date'), h_param('X-Ts', 'date-time'), h_param('X-Str', 'string'),
    ],
    arr => [
        q_param('sym', 'string', required => true, array => true,
                values => ['AAPL', 'MSFT', 'New York', "caf\x{e9}"]),
        q_param('one', 'string'),
        q_param('n', 'integer', array => true),
        h_param('X-One', 'string'),
        h_param('X-Many', 'integer', array => true),
        h_param('X-Client-Id', 'integer'),
    ],
    vals => [
        q_param('vi', 'integer', values => ['5', '10']),
        q_param('vd', 'double', values => ['1.5']),
        q_param('vb', 'boolean', values => ['true']),
        q_param('vdate', 'date', values => ['2024-02-29']),
        q_param('vts', 'date-time', values => ['2026-11-28T10:15:00Z']),
        q_param('va', 'integer', array => true, values => ['5', '7']),
        h_param('X-V', 'integer', values => ['5']),
    ],
    order => [
        q_param('p1', 'string', required => true),
        h_param('X-P2', 'integer', required => true),
        q_param('p3', 'integer', values => ['1']),
    ],
    many => [ map { q_param("p$_", 'integer', required => true) } 1 .. 50 ],
    mixed => [ (map { q_param("q$_", 'integer', required => true, values => ['1', '2']) } 1 .. 25),
               (map { h_param("X-H$_", 'boolean', required => true) } 1 .. 25) ],
);

for my $name (sort keys %apis) {
    create_active($nginx, { apiName => $name, wsUrl => $backend->url("/$name"),
                            parameters => $apis{$name} });
}
my $N101 = 0;    # handshakes answered 101
my $el = poll_until(10, sub {
    !grep { hs($_)->status == 404 } keys %apis });
ok(defined $el, sprintf '%d APIs with parameters active (%.3fs)', scalar(keys %apis), $el // -1);

# a handshake; the answer (the connection is dropped)
sub hs {
    my ($api, $query, $headers) = @_;
    my $path = "/gateway/$api/1.0" . (defined $query ? "?$query" : '');
    my $ws = gw_connect($nginx, $path, headers => $headers || []);
    $ws->disconnect;
    $N101++ if $ws->status == 101;
    return $ws;
}

sub ok_hs {
    my ($api, $query, $headers, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ws = hs($api, $query, $headers);
    is($ws->status, 101, "$name: 101") or diag $ws->body;
}

sub bad_hs {
    my ($api, $query, $headers, $param, $in, $reason, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    param_error_is(hs($api, $query, $headers), $param, $in, $reason, "$name: 400 $reason ($in $param)");
}

###############################################################################
# required false and absent; undeclared parameters

ok_hs('types', undef, undef, 'no parameter given, none required');
ok_hs('types', 'other=1&x', [ 'X-Other' => 'y' ], 'only undeclared parameters');

###############################################################################
# data types in the query string

my @query_cases = (
    # param, value (raw, as in the URL), ok?
    [s  => '',                      1, 'string: empty'],
    [s  => 'anything%20at%00all',   1, 'string: anything'],
    [i  => '0',                     1, 'integer 0'],
    [i  => '42',                    1, 'integer 42'],
    [i  => '-42',                   1, 'integer -42'],
    [i  => '%2B5',                  1, 'integer +5 (%2B)'],
    [i  => '007',                   1, 'integer with leading zeros'],
    [i  => '9223372036854775807',   1, 'integer 2^63-1'],
    [i  => '-9223372036854775808',  1, 'integer -2^63'],
    [i  => '9223372036854775808',   0, 'integer 2^63 (overflow)'],
    [i  => '-9223372036854775809',  0, 'integer -2^63-1 (overflow)'],
    [i  => '99999999999999999999999', 0, 'integer far out of range'],
    [i  => '1.0',                   0, 'integer 1.0'],
    [i  => '1e3',                   0, 'integer 1e3'],
    [i  => '0x10',                  0, 'integer 0x10'],
    [i  => 'abc',                   0, 'integer abc'],
    [i  => '',                      0, 'integer empty'],
    [i  => '-',                     0, 'integer "-" alone'],
    [i  => '%2B',                   0, 'integer "+" alone'],
    [i  => '5%20',                  0, 'integer "5 " (trailing space)'],
    [i  => '--5',                   0, 'integer --5'],
    [d  => '1.5',                   1, 'double 1.5'],
    [d  => '-2',                    1, 'double -2'],
    [d  => '%2B2.5',                1, 'double +2.5'],
    [d  => '1e308',                 1, 'double 1e308'],
    [d  => '1.7976931348623157e308', 1, 'double DBL_MAX'],
    [d  => '1E5',                   1, 'double 1E5'],
    [d  => '2.5e-3',                1, 'double 2.5e-3'],
    [d  => '1e-400',                1, 'double 1e-400 (underflows to a finite value)'],
    [d  => '1e309',                 0, 'double 1e309 (overflow)'],
    [d  => '-1e309',                0, 'double -1e309 (overflow)'],
    [d  => '1.8e308',               0, 'double 1.8e308 (overflow)'],
    [d  => 'nan',                   0, 'double nan'],
    [d  => 'NaN',                   0, 'double NaN'],
    [d  => 'inf',                   0, 'double inf'],
    [d  => '-inf',                  0, 'double -inf'],
    [d  => 'Infinity',              0, 'double Infinity'],
    [d  => '0x1p3',                 0, 'double 0x1p3 (hexadecimal)'],
    [d  => 'abc',                   0, 'double abc'],
    [d  => '',                      0, 'double empty'],
    [d  => '1e',                    0, 'double 1e'],
    [b  => 'true',                  1, 'boolean true'],
    [b  => 'false',                 1, 'boolean false'],
    [b  => 'TRUE',                  1, 'boolean TRUE'],
    [b  => 'False',                 1, 'boolean False'],
    [b  => '1',                     0, 'boolean 1'],
    [b  => 'yes',                   0, 'boolean yes'],
    [b  => 'truex',                 0, 'boolean truex'],
    [b  => '',                      0, 'boolean empty'],
    [dt => '2024-02-29',            1, 'date 2024-02-29 (leap year)'],
    [dt => '2000-02-29',            1, 'date 2000-02-29 (leap year, century)'],
    [dt => '2026-12-31',            1, 'date 2026-12-31'],
    [dt => '2023-02-29',            0, 'date 2023-02-29 (not a leap year)'],
    [dt => '1900-02-29',            0, 'date 1900-02-29 (century, not a leap year)'],
    [dt => '2024-04-31',            0, 'date 2024-04-31'],
    [dt => '2024-13-01',            0, 'date month 13'],
    [dt => '2024-00-10',            0, 'date month 0'],
    [dt => '2024-01-00',            0, 'date day 0'],
    [dt => '2024-1-01',             0, 'date 2024-1-01 (one-digit month)'],
    [dt => '20240101',              0, 'date 20240101'],
    [dt => '2024-02-29T00:00:00Z',  0, 'date with a time'],
    [ts => '2026-11-28T10:15:00Z',  1, 'date-time with Z'],
    [ts => '2026-11-28T10:15:00z',  1, 'date-time with z'],
    [ts => '2026-11-28t10:15:00Z',  1, 'date-time with t'],
    [ts => '2026-11-28T10:15:00%2B05:30', 1, 'date-time +05:30'],
    [ts => '2026-11-28T10:15:00-08:00', 1, 'date-time -08:00'],
    [ts => '2026-11-28T10:15:00.123Z', 1, 'date-time .123'],
    [ts => '2026-11-28T10:15:00.123456789%2B01:00', 1, 'date-time nanoseconds and offset'],
    [ts => '2026-11-28T23:59:59Z',  1, 'date-time 23:59:59'],
    [ts => '2024-02-29T00:00:00Z',  1, 'date-time on 2024-02-29'],
    [ts => '2016-12-31T23:59:60Z',  1, 'date-time 2016-12-31T23:59:60Z (a real leap second, valid RFC 3339)'],
    [ts => '2026-11-28T24:00:00Z',  0, 'date-time T24:00:00'],
    [ts => '2026-11-28T10:60:00Z',  0, 'date-time minute 60'],
    [ts => '2026-11-28T10:15:61Z',  0, 'date-time second 61'],
    [ts => '2023-02-29T10:15:00Z',  0, 'date-time on 2023-02-29'],
    [ts => '2026-11-28T10:15:00',   0, 'date-time without an offset'],
    [ts => '2026-11-28T10:15Z',     0, 'date-time without seconds'],
    [ts => '2026-11-28T10:15:00.Z', 0, 'date-time with an empty fraction'],
    [ts => '2026-11-28T10:15:00%2B0530', 0, 'date-time offset +0530'],
    [ts => '2026-11-28T10:15:00%2B24:00', 0, 'date-time offset +24:00'],
    [ts => '2026-11-28',            0, 'date-time: a date alone'],
    [ts => '',                      0, 'date-time empty'],
);
for my $c (@query_cases) {
    my ($p, $v, $ok, $what) = @$c;
    if ($ok) { ok_hs('types', "$p=$v", undef, "query $what") }
    else     { bad_hs('types', "$p=$v", undef, $p, 'query', 'invalid_type', "query $what") }
}

###############################################################################
# data types in headers (values are not percent-decoded; "+" is a plus)

my @header_cases = (
    ['X-Int',  '+5',                         1, 'integer +5'],
    ['X-Int',  '-9223372036854775808',       1, 'integer -2^63'],
    ['X-Int',  '9223372036854775808',        0, 'integer 2^63'],
    ['X-Int',  'five',                       0, 'integer five'],
    ['X-Int',  '%35',                        0, 'integer %35 (not decoded in a header)'],
    ['X-Dbl',  '1e308',                      1, 'double 1e308'],
    ['X-Dbl',  '1e309',                      0, 'double 1e309'],
    ['X-Dbl',  'inf',                        0, 'double inf'],
    ['X-Bool', 'TRUE',                       1, 'boolean TRUE'],
    ['X-Bool', 'no',                         0, 'boolean no'],
    ['X-Date', '2024-02-29',                 1, 'date 2024-02-29'],
    ['X-Date', '2023-02-29',                 0, 'date 2023-02-29'],
    ['X-Ts',   '2026-11-28T10:15:00+05:30',  1, 'date-time +05:30'],
    ['X-Ts',   '2026-11-28T10:15:00.5Z',     1, 'date-time .5Z'],
    ['X-Ts',   '2026-11-28T24:00:00Z',       0, 'date-time T24:00:00'],
    ['X-Str',  'a b;c',                      1, 'string'],
);
for my $c (@header_cases) {
    my ($h, $v, $ok, $what) = @$c;
    if ($ok) { ok_hs('htypes', undef, [ $h => $v ], "header $what") }
    else     { bad_hs('htypes', undef, [ $h => $v ], $h, 'header', 'invalid_type', "header $what") }
}

###############################################################################
# header names in any case; the name in the error is the declared one

ok_hs('htypes', undef, [ 'x-int' => '1' ], 'header name in lower case');
ok_hs('htypes', undef, [ 'X-INT' => '1' ], 'header name in upper case');
bad_hs('htypes', undef, [ 'x-int' => 'x' ], 'X-Int', 'header', 'invalid_type',
     'header sent as x-int, error names the declared X-Int');
bad_hs('arr', 'sym=AAPL', [ 'x-client-id' => 'abc' ], 'X-Client-Id', 'header', 'invalid_type',
     'X-Client-Id sent in lower case is checked');

###############################################################################
# percent-decoding and "+" in the query string

ok_hs('arr', 'sym=%41APL', undef, '%41APL is AAPL');
ok_hs('arr', 'sym=%41%41%50%4c', undef, 'all percent-encoded (lower-case hex)');
ok_hs('arr', '%73ym=AAPL', undef, 'a percent-encoded key (%73ym is sym)');
ok_hs('arr', 'sym=New+York', undef, '"+" is a space: New+York is "New York"');
ok_hs('arr', 'sym=New%20York', undef, '%20: New York');
ok_hs('arr', 'sym=caf%C3%A9', undef, 'UTF-8 percent-encoded: caf%C3%A9');
bad_hs('arr', 'sym=AAP', undef, 'sym', 'query', 'value_not_allowed', 'AAP is not allowed');
bad_hs('arr', 'sym=aapl', undef, 'sym', 'query', 'value_not_allowed', 'string values compare exactly (aapl)');
bad_hs('arr', 'sym=New%2BYork', undef, 'sym', 'query', 'value_not_allowed', '%2B is a plus, not a space');

###############################################################################
# arrays

ok_hs('arr', 'sym=AAPL&sym=MSFT', undef, 'array: the key repeated');
ok_hs('arr', 'sym=AAPL,MSFT', undef, 'array: a comma-separated value');
ok_hs('arr', 'sym=AAPL,MSFT&sym=New+York', undef, 'array: both forms together');
bad_hs('arr', 'sym=AAPL%2CMSFT', undef, 'sym', 'query', 'value_not_allowed',
     '%2C is not a separator: one value "AAPL,MSFT"');
bad_hs('arr', 'sym=AAPL,XYZ', undef, 'sym', 'query', 'value_not_allowed', 'array: one of the values not allowed');
ok_hs('arr', 'sym=AAPL&n=1,2&n=3', undef, 'integer array: 1,2 and 3');
bad_hs('arr', 'sym=AAPL&n=1,x', undef, 'n', 'query', 'invalid_type', 'integer array: one value not an integer');
ok_hs('arr', 'sym=AAPL&one=a%2Cb', undef, 'not an array: %2C keeps one value "a,b"');
bad_hs('arr', 'sym=AAPL&one=a&one=b', undef, 'one', 'query', 'not_array', 'not an array: the key repeated');
bad_hs('arr', 'sym=AAPL&one=a,b', undef, 'one', 'query', 'not_array', 'not an array: a comma-separated value');
bad_hs('arr', 'sym=AAPL&one=a&one=a', undef, 'one', 'query', 'not_array', 'not an array: the same value twice');

ok_hs('arr', 'sym=AAPL', [ 'X-Many' => '1', 'X-Many' => '2' ], 'header array: the header repeated');
ok_hs('arr', 'sym=AAPL', [ 'X-Many' => '1, 2,3' ], 'header array: a comma-separated value');
ok_hs('arr', 'sym=AAPL', [ 'X-Many' => '1, 2', 'x-many' => '3' ], 'header array: both forms');
bad_hs('arr', 'sym=AAPL', [ 'X-Many' => '1, two' ], 'X-Many', 'header', 'invalid_type',
     'header array: one value not an integer');
ok_hs('arr', 'sym=AAPL', [ 'X-One' => 'single' ], 'header not an array: one value');
bad_hs('arr', 'sym=AAPL', [ 'X-One' => 'a', 'X-One' => 'b' ], 'X-One', 'header', 'not_array',
     'header not an array: the header repeated');
bad_hs('arr', 'sym=AAPL', [ 'X-One' => 'a', 'x-one' => 'b' ], 'X-One', 'header', 'not_array',
     'header not an array: repeated in two cases');
bad_hs('arr', 'sym=AAPL', [ 'X-One' => 'a, b' ], 'X-One', 'header', 'not_array',
     'header not an array: a comma-separated value');

# missing
bad_hs('arr', undef, undef, 'sym', 'query', 'missing', 'a required query parameter absent');
bad_hs('arr', 'SYM=AAPL', undef, 'sym', 'query', 'missing', 'query names are case-sensitive (SYM is not sym)');
bad_hs('arr', 'other=AAPL', [ 'sym' => 'AAPL' ], 'sym', 'query', 'missing',
     'a query parameter given as a header does not count');

###############################################################################
# allowed values compared by type

ok_hs('vals', 'vi=5', undef, 'integer 5 among [5, 10]');
ok_hs('vals', 'vi=05', undef, 'integer 05 matches allowed 5');
ok_hs('vals', 'vi=%2B5', undef, 'integer +5 matches allowed 5');
ok_hs('vals', 'vi=010', undef, 'integer 010 matches allowed 10');
bad_hs('vals', 'vi=6', undef, 'vi', 'query', 'value_not_allowed', 'integer 6 not among [5, 10]');
ok_hs('vals', 'vd=1.50', undef, 'double 1.50 matches allowed 1.5');
ok_hs('vals', 'vd=15e-1', undef, 'double 15e-1 matches allowed 1.5');
bad_hs('vals', 'vd=1.51', undef, 'vd', 'query', 'value_not_allowed', 'double 1.51 not allowed');
ok_hs('vals', 'vb=TRUE', undef, 'boolean TRUE matches allowed true');
bad_hs('vals', 'vb=false', undef, 'vb', 'query', 'value_not_allowed', 'boolean false not allowed');
ok_hs('vals', 'vdate=2024-02-29', undef, 'date among the allowed');
bad_hs('vals', 'vdate=2024-02-28', undef, 'vdate', 'query', 'value_not_allowed', 'another date not allowed');
ok_hs('vals', 'vts=2026-11-28T10:15:00Z', undef, 'date-time: the same text');
ok_hs('vals', 'vts=2026-11-28T11:15:00%2B01:00', undef, 'date-time: the same instant at +01:00');
ok_hs('vals', 'vts=2026-11-28T05:15:00-05:00', undef, 'date-time: the same instant at -05:00');
ok_hs('vals', 'vts=2026-11-28T10:15:00.000z', undef, 'date-time: .000z is the same instant');
ok_hs('vals', 'vts=2026-11-28T15:45:00%2B05:30', undef, 'date-time: the same instant at +05:30');
bad_hs('vals', 'vts=2026-11-28T10:15:00%2B01:00', undef, 'vts', 'query', 'value_not_allowed',
     'date-time: the same wall time at +01:00 is another instant');
bad_hs('vals', 'vts=2026-11-28T10:15:00.001Z', undef, 'vts', 'query', 'value_not_allowed',
     'date-time: one millisecond later');
ok_hs('vals', 'va=5,7&va=05', undef, 'integer array: every value allowed');
bad_hs('vals', 'va=5,8', undef, 'va', 'query', 'value_not_allowed', 'integer array: 8 not allowed');
ok_hs('vals', undef, [ 'X-V' => '+5' ], 'header integer +5 matches allowed 5');
bad_hs('vals', undef, [ 'X-V' => '4' ], 'X-V', 'header', 'value_not_allowed', 'header integer 4 not allowed');

###############################################################################
# which reason wins

bad_hs('vals', 'vi=x&vi=6', undef, 'vi', 'query', 'not_array', 'not_array wins over invalid_type and value_not_allowed');
bad_hs('vals', 'vi=6,x', undef, 'vi', 'query', 'not_array', 'not_array wins (comma form)');
bad_hs('vals', 'va=8,x', undef, 'va', 'query', 'invalid_type', 'invalid_type wins over value_not_allowed (8 comes first)');
bad_hs('vals', 'va=x,8', undef, 'va', 'query', 'invalid_type', 'invalid_type wins over value_not_allowed');
bad_hs('order', undef, undef, 'p1', 'query', 'missing', 'two required parameters missing: the first declared');
bad_hs('order', 'p1=a', undef, 'X-P2', 'header', 'missing', 'a required header missing');
bad_hs('order', 'p1=a', [ 'X-P2' => 'x' ], 'X-P2', 'header', 'invalid_type', 'a required header of the wrong type');
bad_hs('order', 'p1=a&p1=b&p3=2', [ 'X-P2' => 'x' ], 'p1', 'query', 'not_array',
     'several parameters wrong: the first declared one is reported');
bad_hs('order', 'p1=a&p3=2', [ 'X-P2' => '1' ], 'p3', 'query', 'value_not_allowed', 'a value not allowed');
ok_hs('order', 'p1=a&p3=1', [ 'X-P2' => '1' ], 'everything right');

###############################################################################
# many parameters: each is checked

my @all = map { "p$_=$_" } 1 .. 50;
ok_hs('many', join('&', @all), undef, '50 required integer parameters');
ok_hs('many', join('&', reverse @all), undef, '50 parameters in reverse order');
for my $k (1, 26, 37, 50) {
    my $q = join '&', grep { $_ ne "p$k=$k" } @all;
    bad_hs('many', $q, undef, "p$k", 'query', 'missing', "50 parameters, p$k left out");
    ($q = join '&', @all) =~ s/\bp$k=$k\b/p$k=x/;
    bad_hs('many', $q, undef, "p$k", 'query', 'invalid_type', "50 parameters, p$k not an integer");
}
my @mq = map { "q$_=" . (1 + $_ % 2) } 1 .. 25;
my @mh = map { ("X-H$_" => ($_ % 2 ? 'true' : 'FALSE')) } 1 .. 25;
ok_hs('mixed', join('&', @mq), \@mh, '25 query and 25 header parameters');
{
    my @h = @mh;
    splice @h, 2 * 19, 2;    # X-H20 left out
    bad_hs('mixed', join('&', @mq), \@h, 'X-H20', 'header', 'missing', '25 + 25: X-H20 left out');
    @h = @mh;
    $h[2 * 24 + 1] = 'maybe';
    bad_hs('mixed', join('&', @mq), \@h, 'X-H25', 'header', 'invalid_type', '25 + 25: X-H25 not a boolean');
    my @q = @mq;
    $q[12] = 'q13=3';
    bad_hs('mixed', join('&', @q), \@mh, 'q13', 'query', 'value_not_allowed', '25 + 25: q13 not allowed');
}

###############################################################################
# a passing handshake is relayed, with the query string unchanged

my $ws = gw_connect($nginx, '/gateway/arr/1.0/x?sym=%41APL,MSFT&sym=New+York&n=1&extra=1',
                    headers => [ 'X-Many' => '1, 2', 'x-client-id' => '7' ]);
is($ws->status, 101, 'a handshake with parameters: 101');
$ws->send_text('params ok');
is($ws->read_message->{payload}, 'params ok', 'relayed');
my ($bh) = $backend->wait_log(event => 'handshake', path => '/arr/x');
is($bh && $bh->{query}, 'sym=%41APL,MSFT&sym=New+York&n=1&extra=1', 'the backend got the query string as sent');
is($bh && $bh->{headers}{'x-many'}, '1, 2', 'and the header as sent');
$ws->close_handshake;
$N101++;
my @bhs = $backend->wait_log(event => 'handshake', count => $N101);
is(scalar(@bhs), $N101, "the backend got exactly the $N101 handshakes that passed: none of the refused ones");

note(sprintf 'total %.1fs', Time::HiRes::time() - $T0);
done_testing;
