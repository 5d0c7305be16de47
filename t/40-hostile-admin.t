#!/usr/bin/perl

# Hostile admin requests (issue "Hardening", deliverable 3): bodies nested
# 10,000 levels deep, 1 MB strings, invalid UTF-8 and NUL bytes, 10,000
# parameters or values, deep unknown members, duplicate keys, numbers such
# as 1e999 and -0 where strings or booleans belong, a body sent one byte at
# a time, a chunked body over 1 MiB, a Content-Length that lies, path
# traversal and odd paths, huge headers.
#
# Each case must end in a clear 4xx JSON error (or, where nginx itself
# refuses the request before any location, nginx's own 4xx), change nothing
# in Redis (a full dump of every key and value, rev included, is compared),
# and leave the worker serving: a normal request right after it is
# answered.  One worker, so that a worker that hangs shows at once (it is
# then killed, so that the next cases still run).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Socket::INET;
use Socket qw(SHUT_WR);
use Time::HiRes qw(time sleep);
use WsApi::Test;
use WsApi::Hostile;
use WsApi::Admin qw(admin_http);

my $redis = start_redis();
my $backend = start_backend();

# the typical admin and gateway servers of WsApi::Admin (nginx's defaults
# otherwise), and two more admin servers
my $nginx = start_nginx(http => admin_http(http_extra => <<'EOF'));
    # a short client_body_timeout, for bodies that never complete
    server {
        listen 127.0.0.1:%%PORT_SLOW%%;
        client_body_timeout 1s;
        location /rest/apigateway/ {
            ws_api_admin;
            ws_api_admin_identity $http_x_user;
            ws_api_admin_superuser admin;
        }
    }

    # header buffers large enough for a 16 KB header to reach the module
    server {
        listen 127.0.0.1:%%PORT_BIGHDR%%;
        large_client_header_buffers 4 64k;
        location /rest/apigateway/ {
            ws_api_admin;
            ws_api_admin_identity $http_x_user;
            ws_api_admin_superuser admin;
        }
    }
EOF

my %port = map { $_ => $nginx->port($_) } qw(admin slow bighdr gw);
my $BASE = '/rest/apigateway/';
my $T = timeout_scale(5);

sub admin {
    my ($method, $path, %opt) = @_;
    my $p = delete $opt{port} // $port{admin};
    my %h = ('X-User' => 'admin', %{ delete $opt{headers} || {} });
    delete $h{'X-User'} if exists $opt{user} && !defined delete $opt{user};
    return http_request($method, "http://127.0.0.1:$p$BASE$path",
                        headers => \%h, timeout => $T, %opt);
}

sub post_raw {
    my ($path, $body, %opt) = @_;
    return admin($opt{method} // 'POST', $path, body => $body,
                 headers => { 'Content-Type' => 'application/json',
                              %{ $opt{headers} || {} } });
}

# the state every rejected request must leave alone: an active API with
# parameters and messages, an inactive one, a user

my $api = admin(POST => 'apis', json => {
    apiName => 'steady', wsUrl => $backend->url('/stream'),
    apiDescription => "caf\x{e9}",
    parameters => [ { name => 'symbol', required => JSON::PP::true,
                      values => ['AAPL', 'MSFT'] },
                    { name => 'X-Client-Id', in => 'header', dataType => 'integer' } ],
    messages => [ { origin => 'client', type => 'text' },
                  { origin => 'server', type => 'text' } ],
})->{json};
my $ID = $api->{id} or BAIL_OUT('cannot create the first API');
is(admin(PUT => "apis/$ID/activate")->{status}, 200, 'an active API');
my $idle = admin(POST => 'apis', json => { apiName => 'idle', apiVersion => '2.0' })->{json};
is(admin(PUT => 'users/alice', json => { privileges => ['manage_apis'] })->{status}, 200,
   'a user');

ok(poll_until($T, sub {
    my $ws = ws_connect(port => $port{gw}, path => '/gateway/steady/1.0?symbol=AAPL');
    my $ok = $ws->status == 101;
    $ws->disconnect;
    $ok;
}), 'the gateway serves the API');

my $BASELINE = redis_state($redis);
my $REV = $BASELINE->{'wsapi:rev'}[1];
my $APIS = admin(GET => 'apis')->{body};

# after each case: Redis exactly as before, rev included, and a normal
# request right after is answered as before

sub unchanged {
    my ($name) = @_;
    my $now = redis_state($redis);
    my @diff = grep { !defined $now->{$_} || !defined $BASELINE->{$_}
                      || json_encode($now->{$_}) ne json_encode($BASELINE->{$_}) }
               sort keys %{ { %$now, %$BASELINE } };
    ok(!@diff, "$name: Redis unchanged")
        or diag('  changed keys: ' . join(', ', map { printable($_) } @diff[0 .. ($#diff < 9 ? $#diff : 9)]));
    is($now->{'wsapi:rev'}[1], $REV, "$name: rev unchanged") if @diff;
    my $t0 = time;
    my $r = admin(GET => 'apis', timeout => timeout_scale(3));
    ok($r->{status} == 200 && $r->{body} eq $APIS,
       "$name: a normal request right after is served")
        or diag(sprintf('  GET apis: %s after %.1fs %s', $r->{status}, time - $t0,
                        printable($r->{body})));
    revive($nginx, $port{admin}, 0) if $r->{status} == 599;
}

# $status: what it must be; field: the field the 400 names

sub rejects {
    my ($name, $res, $status, %opt) = @_;
    my $want = ref $status ? join(' or ', @$status) : $status;
    json_error_ok($res, $status, name => "$name: $want JSON error", %opt);
    unchanged($name);
}

my $mark0 = $nginx->log_mark;
my $t_start = time;

###############################################################################
# nesting: 10,000 levels of arrays and of objects (jansson stops at 2048)

{
    my $N = 10_000;
    my %bodies = (
        'arrays at the top'          => ('[' x $N) . (']' x $N),
        'objects at the top'         => ('{"a":' x $N) . '1' . ('}' x $N),
        'arrays in parameters'       => '{"apiName":"deep","parameters":' . ('[' x $N) . (']' x $N) . '}',
        'objects in apiDescription'  => '{"apiName":"deep","apiDescription":' . ('{"d":' x $N) . '"x"' . ('}' x $N) . '}',
        'mixed in a parameter'       => '{"apiName":"deep","parameters":[{"name":"p","values":'
                                        . ('[{"v":' x ($N / 2)) . '0' . ('}]' x ($N / 2)) . '}]}',
        'never closed'               => '{"apiName":"deep","teams":' . ('[' x $N),
    );
    for my $k (sort keys %bodies) {
        rejects("$N levels, $k", post_raw('apis', $bodies{$k}), 400);
    }
    rejects("$N levels in a PUT of the active API",
            post_raw("apis/$ID", '{"apiName":"steady","messages":' . ('[' x $N) . (']' x $N) . '}',
                     method => 'PUT'), 400);
    rejects("$N levels in a user",
            post_raw('users/bob', '{"privileges":' . ('[' x $N) . (']' x $N) . '}', method => 'PUT'),
            400);
}

###############################################################################
# deep unknown members: nested below jansson's limit, so the definition
# check sees them

{
    my $deep = ('{"x":[' x 900) . '1' . (']}' x 900);
    rejects('a deep unknown top-level member',
            post_raw('apis', qq({"apiName":"u","zzz":$deep})), 400, field => 'zzz');
    rejects('a deep unknown member in a parameter',
            post_raw('apis', qq({"apiName":"u","parameters":[{"name":"p","zzz":$deep}]})), 400,
            field => 'parameters[0].zzz');
    rejects('a deep unknown member in a message',
            post_raw('apis', qq({"apiName":"u","messages":[{"origin":"client","type":"text","zzz":$deep}]})),
            400, field => 'messages[0].zzz');
    rejects('deep nesting where a string belongs',
            post_raw('apis', qq({"apiName":$deep})), 400, field => 'apiName');
    rejects('a deep policy', post_raw('apis', qq({"apiName":"u","policies":{"rate":$deep}})),
            400, field => qr/^policies/);
    rejects('a deep unknown member in a user',
            post_raw('users/bob', qq({"privileges":[],"zzz":$deep}), method => 'PUT'), 400);
}

###############################################################################
# 1 MB strings: over the member's limit (400 naming it), or with the body
# over 1 MiB (413)

{
    my $MB = 1_000_000;
    my $s = 'a' x $MB;
    rejects('apiDescription of 1 MB', post_raw('apis', qq({"apiName":"big","apiDescription":"$s"})),
            400, field => 'apiDescription');
    rejects('apiDescription of 1 MB of two-byte characters',
            post_raw('apis', qq({"apiName":"big","apiDescription":") . ("\xc3\xa9" x ($MB / 2)) . '"}'),
            400, field => 'apiDescription');
    rejects('apiDescription of 1 MB of \u escapes (6 bytes each in the body)',
            post_raw('apis', qq({"apiName":"big","apiDescription":") . ('\u00e9' x 170_000) . '"}'),
            400, field => 'apiDescription');
    rejects('apiName of 1 MB', post_raw('apis', qq({"apiName":"$s"})), 400, field => 'apiName');
    rejects('apiVersion of 1 MB', post_raw('apis', qq({"apiName":"big","apiVersion":"$s"})),
            400, field => 'apiVersion');
    rejects('wsUrl of 1 MB', post_raw('apis', qq({"apiName":"big","wsUrl":"ws://h/$s"})),
            400, field => 'wsUrl');
    rejects('a parameter name of 1 MB',
            post_raw('apis', qq({"apiName":"big","parameters":[{"name":"$s"}]})),
            400, field => 'parameters[0].name');
    rejects('an allowed value of 1 MB',
            post_raw('apis', qq({"apiName":"big","parameters":[{"name":"p","values":["$s"]}]})),
            400, field => 'parameters[0].values[0]');
    rejects('a samplePayload of 1 MB',
            post_raw('apis', qq({"apiName":"big","messages":[{"origin":"client","type":"text","samplePayload":"$s"}]})),
            400, field => 'messages[0].samplePayload');
    my $e = json_error_ok(post_raw('apis', qq({"apiName":"big","$s":1})), 400,
                          name => 'an unknown member named with 1 MB: 400 JSON error');
    ok(length($e->{message} // '') < 1000 && length($e->{field} // '') < 1000,
       'an unknown member named with 1 MB: message and field are cut short');
    unchanged('an unknown member named with 1 MB');
    rejects('a user name of 1 MB in a team list',
            post_raw('users/bob', qq({"teams":["$s"]}), method => 'PUT'), 400);

    my $MiB = 'b' x (1 << 20);
    rejects('apiDescription of 1 MiB (body over 1 MiB)',
            post_raw('apis', qq({"apiName":"big","apiDescription":"$MiB"})), 413);
    rejects('PUT of the active API with a body over 1 MiB',
            post_raw("apis/$ID", qq({"apiName":"steady","apiDescription":"$MiB"}), method => 'PUT'),
            413);
}

###############################################################################
# invalid UTF-8 and NUL bytes, raw and as \u0000, in names and descriptions

{
    my %bad = (
        'byte 0xff'             => "\xff",
        'overlong slash'        => "\xc0\xaf",
        'UTF-16 surrogate'      => "\xed\xa0\x80",
        'above U+10FFFF'        => "\xf4\x90\x80\x80",
        'five-byte form'        => "\xf8\x88\x80\x80\x80",
        'lone continuation'     => "\x80",
        'cut sequence'          => "\xe2\x82",
        'raw NUL'               => "\x00",
        'escaped NUL'           => '\u0000',
        'escaped lone surrogate' => '\ud800',
    );
    my %where = (
        apiName        => sub { qq({"apiName":"a$_[0]b"}) },
        apiDescription => sub { qq({"apiName":"u8","apiDescription":"a$_[0]b"}) },
        'parameter name' => sub { qq({"apiName":"u8","parameters":[{"name":"p$_[0]"}]}) },
        'parameter description' => sub { qq({"apiName":"u8","parameters":[{"name":"p","description":"$_[0]"}]}) },
        'allowed value' => sub { qq({"apiName":"u8","parameters":[{"name":"p","values":["$_[0]"]}]}) },
        'message description' => sub { qq({"apiName":"u8","messages":[{"origin":"client","type":"text","description":"$_[0]"}]}) },
        'member name'   => sub { qq({"apiName":"u8","api$_[0]Description":""}) },
    );
    for my $b (sort keys %bad) {
        for my $w (sort keys %where) {
            my $res = post_raw('apis', $where{$w}->($bad{$b}));
            json_error_ok($res, 400, name => "$b in $w: 400 JSON error");
        }
        unchanged("$b in names and descriptions");
    }
    rejects('invalid UTF-8 in a PUT of the active API',
            post_raw("apis/$ID", qq({"apiName":"steady","apiDescription":"\xff\xfe"}), method => 'PUT'), 400);
    rejects('NUL in a PUT of the active API',
            post_raw("apis/$ID", qq({"apiName":"steady","apiDescription":"a\\u0000b"}), method => 'PUT'), 400);
    rejects('invalid UTF-8 in a user\'s privileges',
            post_raw('users/bob', qq({"privileges":["manage_apis\xff"]}), method => 'PUT'), 400);
    rejects('a NUL byte between tokens', post_raw('apis', qq({"apiName":"u8"\x00,"apiVersion":"1"})), 400);
    rejects('a UTF-8 byte order mark', post_raw('apis', qq(\xef\xbb\xbf{"apiName":"bom"})), 400);
    rejects('UTF-16', post_raw('apis', "\xff\xfe" . join("\0", split //, '{"apiName":"u16"}') . "\0"), 400);
    rejects('a control character in a token (the message stays clean)',
            post_raw('apis', qq({"apiName": \x1b[2J})), 400);
}

###############################################################################
# 10,000 parameters, values, messages (limits: 100)

{
    my $N = 10_000;
    rejects("$N parameters",
            admin(POST => 'apis', json => { apiName => 'many',
                parameters => [ map { { name => "p$_" } } 1 .. $N ] }),
            400, field => 'parameters');
    rejects("$N allowed values",
            admin(POST => 'apis', json => { apiName => 'many',
                parameters => [ { name => 'p', values => [ map { "v$_" } 1 .. $N ] } ] }),
            400, field => 'parameters[0].values');
    rejects("$N integer values as JSON numbers",
            admin(POST => 'apis', json => { apiName => 'many',
                parameters => [ { name => 'p', dataType => 'integer', values => [ 1 .. $N ] } ] }),
            400, field => 'parameters[0].values');
    rejects("$N messages",
            admin(POST => 'apis', json => { apiName => 'many',
                messages => [ map { { origin => 'client', type => 'text' } } 1 .. $N ] }),
            400, field => 'messages');
    rejects("$N teams", admin(POST => 'apis', json => { apiName => 'many',
                                                           teams => [ map { "t$_" } 1 .. $N ] }),
            400, field => qr/^teams/);
    rejects("$N parameters in a PUT of the active API",
            admin(PUT => "apis/$ID", json => { apiName => 'steady',
                parameters => [ map { { name => "p$_" } } 1 .. $N ] }),
            400, field => 'parameters');
    rejects("$N privileges for a user",
            admin(PUT => 'users/bob', json => { privileges => [ ('manage_apis') x $N ] }), 400);
    rejects("$N empty objects as parameters",
            post_raw('apis', '{"apiName":"many","parameters":[' . join(',', ('{}') x $N) . ']}'),
            400, field => qr/^parameters/);
}

###############################################################################
# duplicate keys

rejects('apiName twice', post_raw('apis', '{"apiName":"d1","apiName":"d2"}'), 400);
rejects('the same member twice with the same value',
        post_raw('apis', '{"apiName":"d1","apiDescription":"x","apiDescription":"x"}'), 400);
rejects('a duplicate spelled with an escape',
        post_raw('apis', '{"apiName":"d1","api\u004eame":"d2"}'), 400);
rejects('a duplicate inside a parameter',
        post_raw('apis', '{"apiName":"d1","parameters":[{"name":"a","name":"b"}]}'), 400);
rejects('a duplicate inside a message',
        post_raw('apis', '{"apiName":"d1","messages":[{"origin":"client","origin":"server","type":"text"}]}'),
        400);
rejects('duplicate keys in a PUT of the active API',
        post_raw("apis/$ID", '{"apiName":"steady","apiName":"other"}', method => 'PUT'), 400);
rejects('duplicate keys in a user',
        post_raw('users/alice', '{"privileges":[],"privileges":["manage_users"]}', method => 'PUT'), 400);

###############################################################################
# numbers where strings and booleans belong: 1e999, -0, huge integers

{
    my @cases = (
        ['apiName 1e999',        '{"apiName":1e999}'],
        ['apiName -0',           '{"apiName":-0}',                                       'apiName'],
        ['apiName -0.0',         '{"apiName":-0.0}',                                     'apiName'],
        ['apiVersion 1.0 as a number', '{"apiName":"n","apiVersion":1.0}',              'apiVersion'],
        ['apiDescription -1e999', '{"apiName":"n","apiDescription":-1e999}'],
        ['wsUrl -0',             '{"apiName":"n","wsUrl":-0}',                           'wsUrl'],
        ['required -0',          '{"apiName":"n","parameters":[{"name":"p","required":-0}]}', 'parameters[0].required'],
        ['required 1',           '{"apiName":"n","parameters":[{"name":"p","required":1}]}',  'parameters[0].required'],
        ['array 1e999',          '{"apiName":"n","parameters":[{"name":"p","array":1e999}]}'],
        ['array 1e-999',         '{"apiName":"n","parameters":[{"name":"p","array":1e-999}]}', 'parameters[0].array'],
        ['name 2^64',            '{"apiName":"n","parameters":[{"name":18446744073709551616}]}'],
        ['integer value 1e999',  '{"apiName":"n","parameters":[{"name":"p","dataType":"integer","values":[1e999]}]}'],
        ['integer value 2^63',   '{"apiName":"n","parameters":[{"name":"p","dataType":"integer","values":[9223372036854775808]}]}'],
        ['integer value of 400 digits', '{"apiName":"n","parameters":[{"name":"p","dataType":"integer","values":[' . ('9' x 400) . ']}]}'],
        ['integer value 1.5',    '{"apiName":"n","parameters":[{"name":"p","dataType":"integer","values":[1.5]}]}', 'parameters[0].values[0]'],
        ['boolean value -0',     '{"apiName":"n","parameters":[{"name":"p","dataType":"boolean","values":[-0]}]}', 'parameters[0].values[0]'],
        ['double value -1e999',  '{"apiName":"n","parameters":[{"name":"p","dataType":"double","values":[-1e999]}]}'],
        ['string value -0',      '{"apiName":"n","parameters":[{"name":"p","values":[-0]}]}', 'parameters[0].values[0]'],
        ['origin 0',             '{"apiName":"n","messages":[{"origin":0,"type":"text"}]}', 'messages[0].origin'],
        ['isActive -0',          '{"apiName":"n","isActive":-0}',                         'isActive'],
        ['revision 1e999',       '{"apiName":"n","revision":1e999}'],
        ['teams 1e999',          '{"apiName":"n","teams":1e999}'],
        ['policies -0',          '{"apiName":"n","policies":-0}',                         'policies'],
        ['an exponent of 10,000 digits', '{"apiName":"n","apiDescription":1e' . ('9' x 10_000) . '}'],
        ['a mantissa of 100,000 digits', '{"apiName":"n","apiDescription":' . ('7' x 100_000) . '}'],
    );
    for my $c (@cases) {
        rejects($c->[0], post_raw('apis', $c->[1]), 400, defined $c->[2] ? (field => $c->[2]) : ());
    }
    rejects('privileges -0 for a user', post_raw('users/bob', '{"privileges":-0}', method => 'PUT'), 400);
    rejects('newApiVersion 1e999', post_raw("apis/$ID/versions", '{"newApiVersion":1e999}'), 400);
    rejects('newApiVersion -0', post_raw("apis/$ID/versions", '{"newApiVersion":-0}'), 400);
}

###############################################################################
# a body sent one byte at a time: it completes, and while it trickles the
# worker serves other admin and gateway requests promptly

{
    my $def = json_encode({ apiName => 'trickled', apiDescription => 'one byte at a time',
                            parameters => [ { name => 'q', dataType => 'integer' } ] });
    my $delay = 0.01;
    my $child = in_child(sub {
        my $t0 = time;
        my $r = raw_request(port => $port{admin}, method => 'POST', path => "${BASE}apis",
                            headers => { 'X-User' => 'admin', 'Content-Type' => 'application/json' },
                            body => $def, byte_delay => $delay, timeout => 60);
        return { status => $r->{status}, body => $r->{body}, secs => time - $t0 };
    });

    sleep 0.3;
    my (@admin, @gw);
    my $until = time + 2.5;
    while (time < $until) {
        my $t0 = time;
        my $r = admin(GET => "apis/$ID", timeout => 5);
        push @admin, [time - $t0, $r->{status}];
        $t0 = time;
        my $ws = ws_connect(port => $port{gw}, path => '/gateway/steady/1.0?symbol=MSFT', timeout => 5);
        my $ok = $ws->status == 101 && $ws->send_text('while trickling')
                 && (($ws->read_message(5) // {})->{payload} // "") eq "while trickling";
        $ws->disconnect;
        push @gw, [time - $t0, $ok ? 101 : $ws->status];
        sleep 0.1;
    }
    my $slowest = sub { my $m = 0; $m = $_->[0] > $m ? $_->[0] : $m for @_; sprintf '%.3f', $m };
    ok(@admin >= 3 && !grep({ $_->[1] != 200 } @admin),
       'while a body trickles in: ' . scalar(@admin) . ' admin requests answered 200');
    cmp_ok($slowest->(@admin), '<', 2, 'while a body trickles in: the slowest admin request '
           . 'took ' . $slowest->(@admin) . ' s');
    ok(@gw >= 3 && !grep({ $_->[1] != 101 } @gw),
       'while a body trickles in: ' . scalar(@gw) . ' gateway connections upgraded and echoed');
    cmp_ok($slowest->(@gw), '<', 2, 'while a body trickles in: the slowest gateway connection '
           . 'took ' . $slowest->(@gw) . ' s');

    my $res = $child->wait(90);
    is($res->{status}, 201, sprintf('a body sent one byte at a time (%d bytes of request, '
       . '%s s apart) completes: 201 after %.1f s', length($def) + 150, $delay, $res->{secs}))
        or diag('  body: ' . printable($res->{body}));
    my $created = eval { json_decode($res->{body}) } // {};
    is(admin(GET => "apis/" . ($created->{id} // 'none'))->{json}{apiDescription},
       'one byte at a time', 'the trickled definition was stored whole');
    # the new baseline
    $BASELINE = redis_state($redis);
    $REV = $BASELINE->{'wsapi:rev'}[1];
    $APIS = admin(GET => 'apis')->{body};
}

# slower than client_body_timeout (1s on this port): nginx gives up on the
# body (nginx 1.22 closes a request that timed out without an answer, or
# answers 408); never a 2xx, never a hung worker

{
    my $t0 = time;
    my $child = in_child(sub {
        my $body = '{"apiName":"too-slow"}';
        my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port{slow}) or die $!;
        syswrite($c, "POST ${BASE}apis HTTP/1.1\r\nHost: x\r\nX-User: admin\r\n"
                     . "Content-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n");
        my $answer = '';
        for my $ch (split //, $body) {
            last unless syswrite($c, $ch);
            my $sel = IO::Select->new($c);
            if ($sel->can_read(1.6)) {
                sysread($c, $answer, 65536, length $answer) or last;
            }
        }
        $c->blocking(0);
        my $sel = IO::Select->new($c);
        while ($sel->can_read(3)) { sysread($c, $answer, 65536, length $answer) or last }
        return { answer => $answer, secs => time - $t0 };
    });
    sleep 0.5;
    my $t1 = time;
    my $r = admin(GET => "apis/$ID", port => $port{slow}, timeout => 5);
    ok($r->{status} == 200 && time - $t1 < 2, sprintf('while a body is slower than '
       . 'client_body_timeout, the same server answers others (%.3f s)', time - $t1));
    my $res = $child->wait(30);
    my ($status) = $res->{answer} =~ m{^HTTP/1\.[01] (\d+)};
    ok(!defined $status || $status == 408,
       'a body slower than client_body_timeout: ' . (defined $status ? "answered $status"
       : sprintf('closed without an answer after %.1f s', $res->{secs})))
        or diag('  answer: ' . printable($res->{answer}));
    cmp_ok($res->{secs}, '<', timeout_scale(8), 'it ends soon after the timeout');
    if (defined $status) {
        like($res->{answer}, qr{\r\nContent-Type: application/json}i, 'the 408 is JSON');
    }
    unchanged('a body slower than client_body_timeout');
}

###############################################################################
# chunked bodies

sub chunked {
    my ($body, $size) = @_;
    my $out = '';
    for (my $i = 0; $i < length $body; $i += $size) {
        my $c = substr($body, $i, $size);
        $out .= sprintf("%x\r\n%s\r\n", length $c, $c);
    }
    return $out . "0\r\n\r\n";
}

sub raw_admin {
    my ($head, $body, %opt) = @_;
    return raw_request(port => $opt{port} // $port{admin}, timeout => $T,
                       data => "$head\r\nHost: x\r\nX-User: admin\r\n"
                               . "Content-Type: application/json\r\nConnection: close\r\n"
                               . ($opt{headers} // '') . "\r\n" . $body);
}

{
    my $big = '{"apiName":"chunky","apiDescription":"' . ('c' x (1 << 20)) . '"}';
    rejects('a chunked body over 1 MiB (64 KB chunks)',
            raw_admin("POST ${BASE}apis HTTP/1.1", chunked($big, 65536),
                      headers => "Transfer-Encoding: chunked\r\n"), 413);
    rejects('a chunked body over 1 MiB in one chunk',
            raw_admin("POST ${BASE}apis HTTP/1.1", chunked($big, length $big),
                      headers => "Transfer-Encoding: chunked\r\n"), 413);
    rejects('a chunk announcing 2^63 bytes',
            raw_admin("POST ${BASE}apis HTTP/1.1", "7fffffffffffffff\r\n{}",
                      headers => "Transfer-Encoding: chunked\r\n"), [400, 413]);
    rejects('a chunk size that is not hexadecimal',
            raw_admin("POST ${BASE}apis HTTP/1.1", "zz\r\n{}\r\n0\r\n\r\n",
                      headers => "Transfer-Encoding: chunked\r\n"), 400);
    # and a chunked body under the limit is a body like any other
    my $r = raw_admin("POST ${BASE}apis HTTP/1.1", chunked('{"apiName":"chunked-ok"}', 3),
                      headers => "Transfer-Encoding: chunked\r\n");
    is($r->{status}, 201, 'a small chunked body in 3-byte chunks: 201');
    $BASELINE = redis_state($redis);
    $REV = $BASELINE->{'wsapi:rev'}[1];
    $APIS = admin(GET => 'apis')->{body};
}

###############################################################################
# a Content-Length that lies

{
    my $body = '{"apiName":"liar"}';
    rejects('Content-Length shorter than the body',
            raw_admin("POST ${BASE}apis HTTP/1.1", $body,
                      headers => "Content-Length: 10\r\n"), 400);

    rejects('Content-Length over 1 MiB with a small body',
            raw_admin("POST ${BASE}apis HTTP/1.1", $body,
                      headers => "Content-Length: 2000000\r\n"), 413);

    # longer than the body: the client then closes its side, or just waits
    for my $how ('half-closes', 'waits past client_body_timeout') {
        my $t0 = time;
        my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $how =~ /waits/ ? $port{slow} : $port{admin})
            or die $!;
        syswrite($c, "POST ${BASE}apis HTTP/1.1\r\nHost: x\r\nX-User: admin\r\n"
                     . "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n$body");
        shutdown($c, SHUT_WR) if $how =~ /half/;
        my $answer = '';
        my $sel = IO::Select->new($c);
        while ($sel->can_read(timeout_scale(6))) {
            sysread($c, $answer, 65536, length $answer) or last;
        }
        my ($status) = $answer =~ m{^HTTP/1\.[01] (\d+)};
        ok(!defined $status || ($status >= 400 && $status < 500),
           "Content-Length longer than the body, the client $how: "
           . (defined $status ? "answered $status" : sprintf('closed without an answer after %.1f s', time - $t0)))
            or diag('  answer: ' . printable($answer));
        json_error_ok({ status => $status, body => substr($answer, index($answer, "\r\n\r\n") + 4),
                        headers => { 'content-type' => ($answer =~ /^Content-Type:\s*(\S+)/mi)[0] } },
                      qr/^4\d\d$/, name => "... and the answer is a JSON error")
            if defined $status;
        unchanged("Content-Length longer than the body, the client $how");
    }

    # refused by nginx while it reads the headers (before any location)
    for my $c (['two Content-Length headers', "Content-Length: 18\r\nContent-Length: 5\r\n"],
               ['a negative Content-Length', "Content-Length: -18\r\n"],
               ['Content-Length and chunked', "Content-Length: 18\r\nTransfer-Encoding: chunked\r\n"],
               ['Content-Length of 30 digits', "Content-Length: " . ('9' x 30) . "\r\n"])
    {
        my $r = raw_admin("POST ${BASE}apis HTTP/1.1", $body, headers => $c->[1]);
        ok($r->{status} >= 400 && $r->{status} < 500, "$c->[0]: $r->{status}")
            or diag('  ' . printable($r->{raw}));
        unchanged($c->[0]);
    }
}

###############################################################################
# path traversal and odd paths

{
    my $users = admin(GET => 'users');
    for my $p ('apis/../users', 'apis/%2e%2e/users', "apis/$ID/../../users", 'apis/./../users') {
        my $r = raw_admin("GET $BASE$p HTTP/1.1", '');
        is("$r->{status} $r->{body}", "$users->{status} $users->{body}",
           "GET $p is GET users after nginx's normalisation, inside the location");
    }

    # nginx refuses these itself, before any location: its own 400 or 414
    for my $c (['above the root', "GET $BASE../../../etc/passwd HTTP/1.1"],
               ['%00 in the id',  "GET ${BASE}apis/%00 HTTP/1.1"],
               ['a raw NUL',      "GET ${BASE}apis/\x00 HTTP/1.1"],
               ['an id of 10,000 characters', "GET ${BASE}apis/" . ('a' x 10_000) . ' HTTP/1.1'],
               ['DELETE with %00',  "DELETE ${BASE}apis/$ID%00 HTTP/1.1"],
               ['a user named with %00', "PUT ${BASE}users/a%00b HTTP/1.1"])
    {
        my $r = raw_admin($c->[1], '');
        ok($r->{status} == 400 || $r->{status} == 414, "$c->[0]: nginx answers $r->{status}")
            or diag('  ' . printable($r->{raw}));
        unchanged($c->[0]);
    }

    my $uuidish = 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz';
    my @odd = (
        [GET    => 'apis/' . ('a' x 4000),       'an id of 4,000 characters'],
        [GET    => "apis/$uuidish",              'an id with non-hex characters'],
        [PUT    => "apis/$uuidish",              'PUT to an id with non-hex characters', '{"apiName":"x"}'],
        [DELETE => "apis/$uuidish",              'DELETE of an id with non-hex characters'],
        [PUT    => "apis/$uuidish/activate",     'activate an id with non-hex characters'],
        [POST   => "apis/$uuidish/versions",     'new version of an id with non-hex characters', '{"newApiVersion":"2"}'],
        [GET    => 'apis/' . uc($ID),            'the id in upper case'],
        [DELETE => "apis/$ID%20",                'the id and a space'],
        [DELETE => 'apis/*',                     'a glob as the id'],
        [GET    => 'apis/%0d%0aFLUSHALL%0d%0a',  'CR LF and a Redis command in the id'],
        [DELETE => "apis/$idle->{id}%0d%0aFLUSHALL", 'DELETE with a Redis command behind a real id'],
        [GET    => 'apis/a%2Fb',                 'an encoded slash in the id'],
        [GET    => 'apis/%ff%fe',                'invalid UTF-8 in the id'],
        [GET    => '%ff%fe',                     'invalid UTF-8 as the path'],
        [GET    => "\xff\xfe",                   'raw invalid UTF-8 as the path'],
        [GET    => ("%e2%82%ac" x 100),           'a long path of euro signs'],
        [GET    => ("\xc3\xa9" x 200),           'a long path of two-byte characters'],
        [GET    => "apis/$ID/activate/now",      'an extra segment'],
        [PUT    => "apis/$ID/%61ctivate",        'an encoded action (it is decoded: the API is active)'],
        [DELETE => 'users/..',                   'DELETE users/..'],
        [DELETE => 'users/%2e%2e%2fapis',        'DELETE users/../apis, encoded'],
        [PUT    => 'users/%ff',                  'a user named with invalid UTF-8', '{}'],
        [PUT    => 'users/' . ('u' x 3000),      'a user name of 3,000 bytes', '{}'],
        [PUT    => 'teams/x',                    'teams while teams are off', '{}'],
    );
    for my $c (@odd) {
        my ($m, $p, $name, $body) = @$c;
        my $r = raw_admin("$m $BASE$p HTTP/1.1", $body // '',
                          headers => 'Content-Length: ' . length($body // '') . "\r\n");
        my $e = json_error_ok($r, qr/^4\d\d$/, name => "$name: a 4xx JSON error");
        if ($name =~ /non-hex|4,000/ && $e) {
            is($r->{status}, 404, "$name: 404");
            like($e->{message} // '', qr/no API/, "$name: the message says no API has the id");
        }
        unchanged($name);
    }

    my $r = raw_admin("PATCH ${BASE}apis HTTP/1.1", '{}', headers => "Content-Length: 2\r\n");
    my $e = json_error_ok($r, 405, name => 'PATCH apis: 405 JSON error');
    like($e->{message} // '', qr/PATCH.*GET/, 'the 405 message names the method and what is allowed');
    $r = raw_admin("XYZZY ${BASE}apis HTTP/1.1", '');
    json_error_ok($r, [400, 405], name => 'an unknown method: 400 or 405 JSON error');
    unchanged('odd methods');
}

###############################################################################
# huge headers: an If-Match of 16 KB, a 16 KB identity

{
    my $etag = '"' . ('9' x 16382) . '"';
    my $body = '{"apiName":"steady"}';
    my $hdr = "Content-Length: " . length($body) . "\r\nIf-Match: $etag\r\n";

    my $r = raw_admin("PUT ${BASE}apis/$ID HTTP/1.1", $body, headers => $hdr);
    ok($r->{status} == 400 || $r->{status} == 431 || $r->{status} == 494,
       "If-Match of 16 KB with nginx's default header buffers: refused by nginx ($r->{status})");
    unchanged('If-Match of 16 KB, default buffers');

    rejects('If-Match of 16 KB that reaches the module',
            raw_admin("PUT ${BASE}apis/$ID HTTP/1.1", $body, headers => $hdr, port => $port{bighdr}),
            412);
    rejects('If-Match of 16 KB on DELETE',
            raw_admin("DELETE ${BASE}apis/$idle->{id} HTTP/1.1", '',
                      headers => "If-Match: $etag\r\n", port => $port{bighdr}), 412);
    rejects('If-Match of 16 KB of binary bytes',
            raw_admin("PUT ${BASE}apis/$ID/deactivate HTTP/1.1", '',
                      headers => 'If-Match: ' . join('', map { chr(0x80 + $_ % 0x7f) } 1 .. 16384) . "\r\n",
                      port => $port{bighdr}), [400, 412]);
    rejects('If-Match: a list of 2,000 ETags',
            raw_admin("DELETE ${BASE}apis/$idle->{id} HTTP/1.1", '',
                      headers => 'If-Match: ' . join(', ', map { "\"$_\"" } 100 .. 2099) . "\r\n",
                      port => $port{bighdr}), 412);

    # a 16 KB identity that no user has: no privilege, so a write is a 403
    $r = raw_request(port => $port{admin}, timeout => $T,
                     data => "PUT ${BASE}apis/$ID/deactivate HTTP/1.1\r\nHost: x\r\nX-User: "
                             . ('y' x 2048) . "\r\nConnection: close\r\n\r\n");
    rejects('an identity of 2 KB (no such user) deactivating', $r, 403);

    my $who = 'x' x 16384;
    $r = raw_request(port => $port{bighdr}, timeout => $T,
                     data => "PUT ${BASE}apis/$ID/deactivate HTTP/1.1\r\nHost: x\r\nX-User: $who\r\n"
                             . "Connection: close\r\n\r\n");
    rejects('an identity of 16 KB (no such user) deactivating', $r, 403);
    $r = raw_request(port => $port{bighdr}, timeout => $T,
                     data => "GET ${BASE}apis HTTP/1.1\r\nHost: x\r\nX-User: $who\r\n"
                             . "Connection: close\r\n\r\n");
    is($r->{status}, 200, 'an identity of 16 KB may still list the APIs (any identity may)');
    $r = raw_request(port => $port{bighdr}, timeout => $T,
                     data => "DELETE ${BASE}apis/$idle->{id} HTTP/1.1\r\nHost: x\r\nX-User: \xff\xfe\xe2\x82\r\n"
                             . "Connection: close\r\n\r\n");
    rejects('an identity of invalid UTF-8 deleting', $r, 403);
}

###############################################################################

no_crash_since($nginx, $mark0, 'no worker crashed or hung, no alert, in the whole file');
diag(sprintf('40-hostile-admin: %.1f s', time - $t_start));

done_testing;
