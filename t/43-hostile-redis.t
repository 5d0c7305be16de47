#!/usr/bin/perl

# A hostile Redis (issue "Hardening", deliverable 3).  A fake Redis
# (t/lib/fake_redis.py) stands between nginx and a real Redis and answers
# chosen commands with malformed replies: garbage, a wrong type, a bulk
# length that lies, an array where a string is expected, nested arrays, a
# reply that never ends, silence; it also pushes such replies on the
# subscribed connections.  The real Redis, written to directly, serves
# definitions that are not JSON or break the rules, and keys of the wrong
# type.
#
# Each time: the workers keep serving (an API loaded before keeps working,
# with its parameter checks), the admin API answers (200, or a JSON 503),
# no worker crashes, and the error log has a clear line; once the fault is
# gone, everything recovers.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use WsApi::Test;
use WsApi::Hostile;
use WsApi::Admin qw(admin_http);

my $t_start = time;

my $redis = start_redis();
my $fake = start_fake_redis(upstream => $redis);
my $backend = start_backend();

# the typical admin and gateway servers of WsApi::Admin, nginx talking to
# the fake Redis (%%REDIS%% is its address)
my $nginx = start_nginx(main => 'worker_processes 2;', redis => $fake,
                        http => admin_http(redis_opts => 'timeout=500ms'));

my $ADMIN = 'http://127.0.0.1:' . $nginx->port('admin') . '/rest/apigateway/';
my $GW = $nginx->port('gw');

sub admin {
    my ($method, $path, $json, %opt) = @_;
    return http_request($method, "$ADMIN$path", timeout => timeout_scale(3),
                        headers => { 'X-User' => $opt{user} // 'admin' },
                        defined $json ? (json => $json) : ());
}

sub healthy {
    return poll_until(timeout_scale(8), sub { admin(GET => 'health')->{status} == 200 });
}

# the API loaded before any fault: a required parameter, so that a served
# handshake shows its definition is intact
my $steady = admin(POST => 'apis', {
    apiName => 'steady', wsUrl => $backend->url('/steady'),
    parameters => [ { name => 'symbol', required => JSON::PP::true, values => ['AAPL'] } ],
})->{json};
my $SID = $steady->{id} or BAIL_OUT('cannot create the API');
is(admin(PUT => "apis/$SID/activate")->{status}, 200, 'an active API, through the fake Redis');
my $STEADY_JSON = $redis->cmd('GET', "wsapi:api:$SID");

sub handshake {
    my ($path) = @_;
    my $ws = ws_connect(port => $GW, path => $path, timeout => timeout_scale(3));
    my $ok = $ws->status == 101 && $ws->send_text('echo?')
             && (($ws->read_message(timeout_scale(3)) // {})->{payload} // '') eq 'echo?';
    my $st = $ws->status;
    $ws->disconnect;
    return $ok ? 101 : $st == 101 ? 'no echo' : $st;
}

ok(poll_until(timeout_scale(10), sub { handshake('/gateway/steady/1.0?symbol=AAPL') eq '101' }),
   'the gateway serves it');

my $mark0 = $nginx->log_mark;
my $created = 0;

# the workers keep serving: the API loaded before (on both workers, so a few
# connections), its parameter check, an admin answer; a clear line in the
# error log
sub still_serving {
    my ($name, %opt) = @_;
    my @hs = map { handshake('/gateway/steady/1.0?symbol=AAPL') } 1 .. 4;
    is("@hs", '101 101 101 101', "$name: the API loaded before is still served");
    is(handshake('/gateway/steady/1.0?symbol=IBM'), 400, "$name: with its parameter check");
    my $r = admin(GET => 'apis');
    ok(($r->{status} == 200 && ref $r->{json} eq 'HASH' && ref $r->{json}{apis} eq 'ARRAY')
       || ($r->{status} == 503 && ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH'),
       sprintf('%s: the admin API answers %s', $name, $r->{status}))
        or diag('  ' . printable($r->{body}));
    my $t0 = time;
    $r = admin(GET => 'health');
    my $secs = time - $t0;
    ok($r->{status} =~ /^(?:200|503)$/ && ref $r->{json} eq 'HASH' && $secs < 2,
       sprintf('%s: ... promptly (/health: %s in %.3f s)', $name, $r->{status}, $secs));
    if (my $re = $opt{log}) {
        ok($nginx->wait_error_log($re, timeout_scale(3), from => $opt{mark}),
           "$name: the error log says so ($re)")
            or diag('  log: ' . printable(join ' | ', grep { !/\[(?:notice|info)\]/ }
                                           split /\n/, $nginx->error_log(from => $opt{mark})));
    }
    my @crash = crash_lines($nginx, from => $opt{mark});
    ok(!@crash, "$name: no worker crashed");
    diag("  $_") for @crash[0 .. ($#crash < 4 ? $#crash : 4)];
}

# the fault is gone: health, a write (both workers must have reconnected,
# after their backoff: the write is tried until it passes), the new API
# served
sub recovers {
    my ($name) = @_;
    $fake->clear;
    $fake->drop;
    ok(healthy(), "$name: once the fault is gone, /health answers 200");
    my $api = 'after' . ++$created;
    my $r;
    my $t0 = time;
    poll_until(timeout_scale(6), sub {
        $r = admin(POST => 'apis', { apiName => $api, wsUrl => $backend->url('/after') });
        $r->{status} != 503;
    });
    is($r->{status}, 201, sprintf('%s: ... and a write works (%.1f s)', $name, time - $t0))
        or diag('  ' . printable($r->{body}));
    # each worker reconnects on its own: one may still be in its backoff
    my $a = $r;
    poll_until(timeout_scale(6), sub {
        $a = admin(PUT => "apis/$r->{json}{id}/activate");
        $a->{status} != 503;
    }) if $r->{status} == 201;
    $t0 = time;
    ok(poll_until(timeout_scale(6), sub { handshake("/gateway/$api/1.0") eq '101' }),
       "$name: ... and the API it creates is served")
        or diag(sprintf('  activate: %s %s; not served after %.1f s; log: %s', $a->{status},
                        printable($a->{body}), time - $t0,
                        printable(join ' | ', grep { !/\[(?:notice|info)\]/ } split /\n/,
                                  substr($nginx->error_log, -2000))));
}

# an array of bulk strings for the fake's "arr:" (commas escaped)
sub arr { return 'arr:' . join(',', map { (my $x = $_) =~ s/\\/\\x5c/g; $x =~ s/,/\\x2c/g; $x } @_) }

my %LOG = (
    malformed => qr/\[error\].*ws_api redis \S+ sent a malformed reply/,
    timeout   => qr/\[error\].*ws_api redis \S+ timed out/,
    # a reply that never ends: cut at the timeout or at the size limit
    endless   => qr/\[error\].*ws_api redis \S+ (?:timed out|sent a reply over the size limit)/,
    rev       => qr/\[(?:error|warn)\].*ws_api.*"wsapi:rev"/,
    any       => qr/\[(?:error|warn)\].*ws_api.*(?:redis|Redis)/,
);

###############################################################################
# malformed replies to the check of "rev" (GET), which every nginx sends
# after each (re)connection and once a second

for my $c (['garbage', 'malformed'], ['array', 'rev'], ['nested', 'any'], ['error', 'any'],
           ['lie-long', 'timeout'], ['endless', 'endless'], ['endless-array', 'endless'],
           ['silence', 'timeout'], ['close', 'any'])
{
    my ($action, $log) = @$c;
    my $name = "GET rev answered with $action";
    my $mark = $nginx->log_mark;
    my $rss0 = worker_rss($nginx);
    $fake->rule('GET', $action);
    $fake->drop;           # reconnections ask for rev at once
    sleep 0.6;
    still_serving($name, log => $log && $LOG{$log}, mark => $mark);
    if ($action =~ /endless/) {
        my $rss1 = worker_rss($nginx);
        my $grew = 0;
        for (keys %$rss1) { my $d = $rss1->{$_} - ($rss0->{$_} // $rss1->{$_}); $grew = $d if $d > $grew }
        my $sent = $fake->stats->{endless_bytes};
        diag(sprintf('%s: the fake sent %.0f MB in all; worker RSS grew by %.0f MB at most',
                     $name, $sent / 1e6, $grew / 1e3));
    }
    recovers($name);
}

###############################################################################
# malformed replies to the script that loads every definition (EVAL), forced
# by a rev that jumps

for my $action (qw(garbage int nested lie-long))
{
    my $name = "the full load answered with $action";
    my $mark = $nginx->log_mark;
    $fake->rule('EVAL:SMEMBERS', $action);
    $redis->cmd('INCRBY', 'wsapi:rev', 5);
    sleep 0.6;
    still_serving($name, log => $LOG{any}, mark => $mark);
    recovers($name);
}

###############################################################################
# malformed replies to the admin API's writes: a JSON 503, Redis unchanged

for my $action (qw(garbage int error silence), 'arr:weird', 'bulk:ok')
{
    my $name = "a write answered with $action";
    my $before = redis_state($redis);
    $fake->rule('EVAL:SETNX', $action);
    my $t0 = time;
    my $r = admin(POST => 'apis', { apiName => 'never' });
    my $secs = time - $t0;
    json_error_ok($r, [500, 503], name => sprintf('%s: a JSON 5xx error (%.2f s)', $name, $secs));
    cmp_ok($secs, '<', 2, "$name: within the timeout");
    is_deeply(redis_state($redis), $before, "$name: Redis unchanged");
    still_serving($name, mark => $nginx->log_mark);
    recovers($name);
}

###############################################################################
# Redis' clock (TIME, asked at each connection): absurd values

for my $action (arr('9223372036854775807', '999999'), arr('-9223372036854775808', '0'),
                arr('abc', 'def'))
{
    my $name = "TIME answered with $action";
    my $mark = $nginx->log_mark;
    $fake->rule('TIME', $action);
    $fake->drop;
    sleep 0.6;
    still_serving($name, mark => $mark);
    my $r = admin(POST => 'apis', { apiName => 'clock' . ++$created });
    ok($r->{status} == 201 || ($r->{status} == 503 && ref $r->{json} eq 'HASH'),
       "$name: a write answers 201 or a JSON 503 ($r->{status})");
    recovers($name);
}

# the reply to TIME comes late, but within the timeout (a slow network, or a
# worker busy when it arrived): Redis itself answers at once, so writes
# must still work

{
    my $name = 'TIME answered 300 ms late (the timeout is 500 ms)';
    $fake->rule('TIME', 'delay:300');
    $fake->drop;
    ok(healthy(), "$name: /health answers 200");
    sleep 0.5;
    my @st = map { admin(POST => 'apis', { apiName => 'late' . ++$created }) } 1 .. 3;
    is(join(' ', map { $_->{status} } @st), '201 201 201', "$name: writes work")
        or diag('  ' . printable($st[0]{body}));
    recovers($name);
}

###############################################################################
# the connection setup refused or garbled (CLIENT SETNAME, SUBSCRIBE)

for my $c (['CLIENT', 'error'], ['CLIENT', 'garbage'], ['SUBSCRIBE', 'int'], ['SUBSCRIBE', 'silence'])
{
    my ($cmd, $action) = @$c;
    my $name = "$cmd answered with $action";
    my $mark = $nginx->log_mark;
    $fake->rule($cmd, $action);
    $fake->drop;
    sleep 0.6;
    still_serving($name, log => $LOG{any}, mark => $mark);
    if ($cmd eq 'SUBSCRIBE') {
        # without events, the once-a-second check of rev still propagates
        my $r = admin(POST => 'apis', { apiName => 'nosub' . ++$created, wsUrl => $backend->url('/nosub') });
        admin(PUT => "apis/$r->{json}{id}/activate");
        ok(poll_until(timeout_scale(5), sub { handshake("/gateway/nosub$created/1.0") eq '101' }),
           "$name: a change is still enforced (by the check of rev)");
    }
    recovers($name);
}

###############################################################################
# pushed on the subscribed connections

for my $action ('garbage', 'nested', arr('message', 'wsapi:events'),
                arr('message', 'wsapi:events', 'not json'), arr('message', 'wsapi:events', '{"rev":1e999}'),
                arr('message', 'wsapi:events', '{"rev":-1,"id":5}'),
                arr('message', 'wsapi:events', '{"rev":99999999999999999999,"id":"x"}'),
                arr('message', 'wsapi:events', '{"rev":3,"id":"' . ('i' x 5000) . '"}'),
                arr('message', 'wsapi:events', '{"rev":3,"id":"\u0000\xff"}'),
                arr('', '', '', ''), 'lie-short')
{
    my $name = 'pushed: ' . printable(length $action > 60 ? substr($action, 0, 60) . '...' : $action);
    my $mark = $nginx->log_mark;
    my $n = $fake->inject($action);
    ok($n >= 2, "$name: pushed to $n subscribed connections");
    sleep 0.3;
    still_serving($name, mark => $mark);
    my $r = admin(POST => 'apis', { apiName => 'push' . ++$created, wsUrl => $backend->url('/push') });
    admin(PUT => "apis/$r->{json}{id}/activate");
    ok(poll_until(timeout_scale(5), sub { handshake("/gateway/push$created/1.0") eq '101' }),
       "$name: a change made afterwards is enforced");
    recovers($name);
}

# a pushed reply that never ends: the subscribed connection has no timeout,
# so the worker must not keep all of it

{
    my $name = 'pushed: a reply that never ends';
    my $mark = $nginx->log_mark;
    my $rss0 = worker_rss($nginx);
    my $n = $fake->inject('endless');
    sleep 3;
    my $rss1 = worker_rss($nginx);
    my $sent = $fake->stats->{endless_bytes};
    my $grew = 0;
    for (keys %$rss1) { my $d = $rss1->{$_} - ($rss0->{$_} // $rss1->{$_}); $grew = $d if $d > $grew }
    still_serving($name, mark => $mark);
    cmp_ok($grew, '<', 64_000, sprintf('%s: the workers do not keep it (%.0f MB sent to %d '
           . 'connections in 3 s; a worker grew by %.0f MB)', $name, $sent / 1e6, $n, $grew / 1e3));
    recovers($name);
}

###############################################################################
# definitions in Redis that are not JSON, or break the rules (written to the
# real Redis directly, as another tool could)

{
    my @bad = (
        ['not JSON',                 'not json'],
        ['an array',                 '[1,2,3]'],
        ['10,000 levels of nesting', ('[' x 10_000) . (']' x 10_000)],
        ['invalid UTF-8',            qq({"id":"%ID%","apiName":"bad\xff"})],
        ['a NUL',                    '{"id":"%ID%","apiName":"bad\u0000"}'],
        ['duplicate keys',           '{"id":"%ID%","apiName":"a","apiName":"b"}'],
        ['a bad apiName',            '{"id":"%ID%","type":"websocket","apiName":"bad name!","apiVersion":"1.0","isActive":true}'],
        ['another id',               '{"id":"00000000-0000-4000-8000-000000000000","apiName":"other","apiVersion":"1.0","isActive":true}'],
        ['an invalid wsUrl',         '{"id":"%ID%","apiName":"badurl","apiVersion":"1.0","wsUrl":"ws://[::1","isActive":true}'],
        ['10,000 parameters',        '{"id":"%ID%","apiName":"many","apiVersion":"1.0","isActive":true,"parameters":['
                                     . join(',', map { qq({"name":"p$_"}) } 1 .. 10_000) . ']}'],
        ['1 MB of description',      '{"id":"%ID%","apiName":"huge","apiVersion":"1.0","isActive":true,"apiDescription":"'
                                     . ('d' x 1_000_000) . '"}'],
    );
    my $i = 0;
    for my $c (@bad) {
        my ($what, $json) = @$c;
        my $id = sprintf('badbad%02d-0000-4000-8000-%012d', ++$i, $i);
        $json =~ s/%ID%/$id/g;
        my $name = "a definition in Redis: $what";
        my $mark = $nginx->log_mark;
        $redis->cmd('SET', "wsapi:api:$id", $json);
        $redis->cmd('SADD', 'wsapi:apis', $id);
        my $rev = $redis->cmd('INCR', 'wsapi:rev');
        $redis->cmd('PUBLISH', 'wsapi:events', qq({"rev":$rev,"id":"$id","op":"put"}));
        still_serving($name, mark => $mark, log => qr/\[(?:error|warn)\].*ws_api.*\Q$id\E/);
        my $r = admin(GET => "apis/$id");
        ok($r->{status} >= 400 && ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH',
           "$name: GET apis/{id} is a JSON error ($r->{status})")
            or diag('  ' . printable($r->{body}));
        $r = admin(GET => 'apis');
        is($r->{status}, 200, "$name: GET apis answers 200");
        ok(grep({ ($_->{id} // '') eq $SID } @{ $r->{json}{apis} || [] }), "$name: ... with the others");
        my ($listed) = grep { ($_->{id} // '') eq $id } @{ $r->{json}{apis} || [] };
        diag("$name: GET apis lists it, GET apis/{id} answers a JSON error") if $listed;
        # and a full load (a rev that jumps) reads it again, the same way
        $redis->cmd('INCRBY', 'wsapi:rev', 10);
        sleep 0.3;
        still_serving("$name, full load", mark => $mark);
        $redis->cmd('DEL', "wsapi:api:$id");
        $redis->cmd('SREM', 'wsapi:apis', $id);
        $redis->cmd('INCR', 'wsapi:rev');
    }
}

# the loaded API's own definition replaced by garbage: the version loaded
# before stays in service; then restored

{
    my $name = "the served API's definition replaced by garbage";
    my $mark = $nginx->log_mark;
    $redis->cmd('SET', "wsapi:api:$SID", '{"id":"' . $SID . '","apiName":');
    my $rev = $redis->cmd('INCR', 'wsapi:rev');
    $redis->cmd('PUBLISH', 'wsapi:events', qq({"rev":$rev,"id":"$SID","op":"put"}));
    still_serving($name, mark => $mark, log => qr/\[error\].*ws_api.*\Q$SID\E/);
    $redis->cmd('INCRBY', 'wsapi:rev', 10);
    sleep 0.3;
    still_serving("$name, full load", mark => $mark);
    $redis->cmd('SET', "wsapi:api:$SID", $STEADY_JSON);
    $redis->cmd('INCR', 'wsapi:rev');
    ok(healthy(), "$name: restored");
}

# keys of the wrong type or value

for my $c (['rev is not a number', sub { $redis->cmd('SET', 'wsapi:rev', 'abc') }],
           ['rev is a list', sub { $redis->cmd('DEL', 'wsapi:rev'); $redis->cmd('RPUSH', 'wsapi:rev', 1) }],
           ['apis is a string', sub { $redis->cmd('RENAME', 'wsapi:apis', 'saved:apis');
                                      $redis->cmd('SET', 'wsapi:apis', 'x'); $redis->cmd('SET', 'wsapi:rev', 1000) }],
           ['a definition is a hash', sub { $redis->cmd('RENAME', "wsapi:api:$SID", 'saved:api');
                                            $redis->cmd('HSET', "wsapi:api:$SID", 'apiName', 'steady');
                                            $redis->cmd('SET', 'wsapi:rev', 1000) }])
{
    my ($what, $break) = @$c;
    my $state = redis_state($redis);
    my $mark = $nginx->log_mark;
    $break->();
    sleep 0.6;
    still_serving($what, mark => $mark, log => $LOG{any});
    # restore
    $redis->cmd('DEL', 'wsapi:rev', 'wsapi:apis', "wsapi:api:$SID");
    $redis->cmd('RENAME', 'saved:apis', 'wsapi:apis') if $redis->cmd('EXISTS', 'saved:apis');
    $redis->cmd('RENAME', 'saved:api', "wsapi:api:$SID") if $redis->cmd('EXISTS', 'saved:api');
    for my $k (sort keys %$state) {
        next if $redis->cmd('EXISTS', $k);
        my ($type, $v) = @{ $state->{$k} };
        $redis->cmd('SET', $k, $v) if $type eq 'string';
        $redis->cmd('SADD', $k, @$v) if $type eq 'set';
    }
    $redis->cmd('INCRBY', 'wsapi:rev', 1000);
    ok(healthy(), "$what: restored, /health answers 200");
}

# a user that is not JSON: a 403, not a crash

{
    $redis->cmd('SET', 'wsapi:user:mallory', "{\"privileges\":[\"manage_apis\"\xff");
    $redis->cmd('SADD', 'wsapi:users', 'mallory');
    my $mark = $nginx->log_mark;
    my $r = admin(POST => 'apis', { apiName => 'by-mallory' }, user => 'mallory');
    json_error_ok($r, 403, name => 'a user whose JSON is broken: 403 JSON error');
    ok($nginx->wait_error_log(qr/\[error\].*ws_api user "mallory"/, timeout_scale(3), from => $mark),
       'a user whose JSON is broken: the error log says so');
    $r = admin(GET => 'users');
    ok($r->{status} == 200 || ($r->{status} >= 500 && ref $r->{json} eq 'HASH'),
       "GET users with a broken user: 200 or a JSON error ($r->{status})");
}

no_crash_since($nginx, $mark0, 'no worker crashed, no alert, in the whole file');
my $st = $fake->stats;
diag(sprintf('43-hostile-redis: %.1f s; the fake Redis saw %d connections, %s; rules fired %d times',
             time - $t_start, $st->{connections},
             join(', ', map { "$_ $st->{commands}{$_}" } sort keys %{ $st->{commands} }),
             eval { my $t = 0; $t += $_ for values %{ $st->{fired} }; $t }));

done_testing;
