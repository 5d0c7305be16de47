#!/usr/bin/perl

# Admin API and Redis (SPEC 6): the key layout, "rev" and the "events"
# channel, atomic writes under concurrency, failed requests leave Redis
# as it was, the prefix= db= password= options and unix sockets, 503
# while Redis is down, /health, nginx starting while Redis is down, and
# definitions surviving an nginx restart.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes ();
use WsApi::Test;
use WsApi::Admin;

my $redis = start_redis();
my $nginx = start_nginx(main => 'worker_processes 2;', http => admin_http(teams => 1, http_extra => <<'EOF'));
    server {
        listen 127.0.0.1:%%PORT_STATIC%%;
        location / { return 200 "static\n"; }
    }
EOF
my $A = admin_client($nginx);
my $r;

sub rev { return $redis->cmd('GET', 'wsapi:rev') // 0 }

# events: the channel "{prefix}events" of SPEC 6, and nothing on "events"
my $sub = $redis->client;
$sub->cmd('SUBSCRIBE', 'wsapi:events', 'events');

sub next_events {
    my ($n, $timeout) = @_;
    my @e;
    my $deadline = Time::HiRes::time() + timeout_scale($timeout // 5);
    while (@e < $n && Time::HiRes::time() < $deadline) {
        my $m = $sub->next_reply($deadline - Time::HiRes::time());
        last unless $m;
        next unless ref $m eq 'ARRAY' && $m->[0] eq 'message';
        push @e, { channel => $m->[1], payload => $m->[2],
                   json => eval { json_decode($m->[2]) } };
    }
    return @e;
}

sub no_more_events {
    my @e = next_events(1, 0.3);
    return !@e;
}

###############################################################################
# layout: api:{id}, apis, name:{apiName}:{apiVersion}, rev, user:, team:

my $rev0 = rev();
$r = $A->post('apis', json => sample_api());
is($r->{status}, 201, 'create');
my $api = $r->{json};
my $id = $api->{id};

my $stored = $redis->cmd('GET', "wsapi:api:$id");
ok(defined $stored, 'wsapi:api:{id} holds the definition');
my $sj = eval { json_decode($stored) } // {};
is(ref $sj, 'HASH', 'as a JSON object');
my %expect = %$api;
delete $expect{gatewayEndpoints};
is_deeply({ map { $_ => $sj->{$_} } grep { $_ ne 'gatewayEndpoints' } keys %$sj }, \%expect,
          'the stored JSON is the definition that GET answers (gatewayEndpoints aside)');
ok((grep { $_ eq $id } $redis->cmd('SMEMBERS', 'wsapi:apis')), 'wsapi:apis holds the id');
is($redis->cmd('TYPE', 'wsapi:apis'), 'set', 'wsapi:apis is a set');
is($redis->cmd('GET', 'wsapi:name:ticker:1.0'), $id, 'wsapi:name:ticker:1.0 holds the id');
is(rev(), $rev0 + 1, 'wsapi:rev incremented');
like(rev(), qr/^\d+$/, 'wsapi:rev is an integer');

my @ev = next_events(1);
is(scalar @ev, 1, 'one event for the creation (SPEC 6)');
is($ev[0]{channel}, 'wsapi:events', 'published on the channel "{prefix}events" only (SPEC 6)');
json_is($ev[0]{json}, { rev => $rev0 + 1, id => $id, op => 'put' },
        'event {"rev":N,"id":"...","op":"put"}');

# every change: rev + 1 and one event, in order
my @changes = (
    ['PUT apis/{id}',       sub { $A->put("apis/$id", json => sample_api(apiDescription => 'v2')) }, 200, $id, 'put'],
    ['activate',            sub { $A->put("apis/$id/activate") }, 200, $id, 'put'],
    ['deactivate',          sub { $A->put("apis/$id/deactivate") }, 200, $id, 'put'],
);
for my $c (@changes) {
    my ($name, $do, $status, $eid, $op) = @$c;
    my $before = rev();
    $r = $do->();
    is($r->{status}, $status, "$name: $status");
    is(rev(), $before + 1, "$name: rev + 1");
    my @e = next_events(1);
    json_is($e[0]{json}, { rev => $before + 1, id => $eid, op => $op }, "$name: event");
}
my $before_rev = rev();
$r = $A->post("apis/$id/versions", json => { newApiVersion => '2.0' });
is($r->{status}, 201, 'versions: 201');
my $v2 = $r->{json}{id};
is(rev(), $before_rev + 1, 'versions: rev + 1');
json_is((next_events(1))[0]{json}, { rev => $before_rev + 1, id => $v2, op => 'put' },
        'versions: event names the new id');
is($redis->cmd('GET', 'wsapi:name:ticker:2.0'), $v2, 'name:ticker:2.0 holds the new id');

# a rename moves the name key
$before_rev = rev();
$r = $A->put("apis/$v2", json => sample_api(apiName => 'renamed', apiVersion => '2.0'));
is($r->{status}, 200, 'rename');
is($redis->cmd('GET', 'wsapi:name:renamed:2.0'), $v2, 'name:renamed:2.0 set');
is($redis->cmd('EXISTS', 'wsapi:name:ticker:2.0'), 0, 'name:ticker:2.0 removed');
json_is((next_events(1))[0]{json}, { rev => $before_rev + 1, id => $v2, op => 'put' }, 'rename: event');

# delete
$before_rev = rev();
is($A->del("apis/$v2")->{status}, 204, 'delete');
is($redis->cmd('EXISTS', "wsapi:api:$v2"), 0, 'api:{id} removed');
is($redis->cmd('EXISTS', 'wsapi:name:renamed:2.0'), 0, 'name key removed');
ok(!(grep { $_ eq $v2 } $redis->cmd('SMEMBERS', 'wsapi:apis')), 'id removed from apis');
is(rev(), $before_rev + 1, 'delete: rev + 1');
json_is((next_events(1))[0]{json}, { rev => $before_rev + 1, id => $v2, op => 'delete' },
        'event {"rev":N,"id":"...","op":"delete"}');

# users and teams
$before_rev = rev();
is($A->put('teams/trading', json => { description => 'desk' })->{status}, 200, 'PUT team');
my $team = eval { json_decode($redis->cmd('GET', 'wsapi:team:trading') // '') };
is(ref $team, 'HASH', 'wsapi:team:trading holds JSON');
is($team->{description}, 'desk', 'with the description');
is($A->put('users/bob', json => { privileges => ['manage_apis'], teams => ['trading'] })->{status}, 200,
   'PUT user');
my $user = eval { json_decode($redis->cmd('GET', 'wsapi:user:bob') // '') };
is(ref $user, 'HASH', 'wsapi:user:bob holds JSON');
is_deeply([$user->{privileges}, $user->{teams}], [['manage_apis'], ['trading']], 'privileges and teams');
is($A->del('users/bob')->{status}, 204, 'DELETE user');
is($redis->cmd('EXISTS', 'wsapi:user:bob'), 0, 'user:bob removed');
is($A->del('teams/trading')->{status}, 204, 'DELETE team');
is($redis->cmd('EXISTS', 'wsapi:team:trading'), 0, 'team:trading removed');
is(rev(), $before_rev + 4, 'user and team changes increment rev too');
@ev = next_events(4);
is_deeply([map { $_->{json}{rev} } @ev], [map { $before_rev + $_ } 1 .. 4],
          'user and team changes are published, with their rev');
is_deeply([map { $_->{json}{op} } @ev], [qw(put put delete delete)], 'with op put / delete');
ok(!(grep { !grep { defined && !ref && $_ =~ /^(?:bob|trading)$/ } values %{ $_->{json} || {} } } @ev),
   'each names the user or team');
ok(no_more_events(), 'no other event');

###############################################################################
# reads and failed requests change nothing, publish nothing

my $dump = redis_dump($redis);
$before_rev = rev();
my @fail = (
    ['GET apis',                 sub { $A->get('apis') },                                       200],
    ['GET apis/{id}',            sub { $A->get("apis/$id") },                                   200],
    ['GET health',               sub { $A->get('health') },                                     200],
    ['GET users',                sub { $A->get('users') },                                      200],
    ['invalid definition',       sub { $A->post('apis', json => { apiName => 'bad name' }) },   400],
    ['unknown member',           sub { $A->post('apis', json => { apiName => 'x', foo => 1 }) }, 400],
    ['malformed JSON',           sub { $A->post('apis', json => '{"apiName":') },               400],
    ['taken name',               sub { $A->post('apis', json => sample_api()) },                409],
    ['stale If-Match',           sub { $A->put("apis/$id", json => sample_api(), headers => { 'If-Match' => '"1"' }) }, 412],
    ['no privilege',             sub { $A->post('apis', json => { apiName => 'y' }, user => 'nobody') }, 403],
    ['no identity',              sub { $A->post('apis', json => { apiName => 'y' }, user => undef) }, 401],
    ['not JSON',                 sub { $A->post('apis', body => '{}', headers => { 'Content-Type' => 'text/plain' }) }, 415],
    ['too large',                sub { $A->post('apis', json => '{"apiName":"z"}' . (' ' x (1024 * 1024))) }, 413],
    ['activate without wsUrl',   sub { my $b = $A->create({ apiName => 'nourl' }); $dump = redis_dump($redis);
                                       $before_rev = rev(); next_events(1); $A->put("apis/$b->{id}/activate") }, 409],
    ['deactivate inactive',      sub { $A->put("apis/$id/deactivate") },                        409],
    ['unknown team',             sub { $A->post('apis', json => { apiName => 'q', teams => ['ghost'] }) }, 400],
    ['user with unknown team',   sub { $A->put('users/u', json => { privileges => [], teams => ['ghost'] }) }, 400],
    ['unknown id',               sub { $A->del('apis/00000000-0000-4000-8000-000000000000') }, 404],
);
for my $c (@fail) {
    my ($name, $do, $status) = @$c;
    $r = $do->();
    is($r->{status}, $status, "$name: $status");
    is_deeply(redis_dump($redis), $dump, "$name: Redis byte for byte as it was");
}
is(rev(), $before_rev, 'rev unchanged');
ok(no_more_events(), 'nothing published');

###############################################################################
# atomic writes: concurrent requests

my $aport = $nginx->port('admin');

sub parallel {
    my (@reqs) = @_;
    my @socks;
    for my $q (@reqs) {
        my $body = defined $q->{json} ? json_encode($q->{json}) : '';
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $aport, Timeout => 5)
            or die "connect: $!";
        $s->autoflush(1);
        push @socks, [$s, "$q->{method} /rest/apigateway/$q->{path} HTTP/1.1\r\nHost: x\r\n"
            . "X-User: admin\r\nConnection: close\r\nContent-Type: application/json\r\n"
            . "Content-Length: " . length($body) . "\r\n\r\n$body", ''];
    }
    # every request is written before any answer is read
    syswrite($_->[0], $_->[1]) for @socks;
    my $sel = IO::Select->new(map { $_->[0] } @socks);
    my %buf;
    my $deadline = Time::HiRes::time() + timeout_scale(10);
    while ($sel->count && Time::HiRes::time() < $deadline) {
        for my $s ($sel->can_read(0.5)) {
            my $n = sysread($s, my $chunk, 65536);
            if ($n) { $buf{"$s"} .= $chunk } else { $sel->remove($s); close $s }
        }
    }
    return map { my ($st) = ($buf{"$_->[0]"} // '') =~ m{^HTTP/1\.\d (\d{3})}; $st // 0 } @socks;
}

my ($rounds, $ok_rounds, @bad) = (25, 0);
for my $i (1 .. $rounds) {
    my @st = parallel(map { { method => 'POST', path => 'apis', json => { apiName => "race$i", apiDescription => "n$_" } } } 1 .. 2);
    my $s = join ',', sort @st;
    if ($s eq '201,409') { $ok_rounds++ } else { push @bad, "round $i: $s" }
}
is($ok_rounds, $rounds, "two concurrent creates of one name and version: one 201, one 409 ($rounds rounds)")
    or diag(join '; ', @bad);
my @names = grep { /^wsapi:name:race\d+:1\.0$/ } $redis->cmd('KEYS', 'wsapi:name:race*');
is(scalar @names, $rounds, 'one name key per round');
my @race_apis = grep { $_->{apiName} =~ /^race\d+$/ } @{ $A->get('apis')->{json}{apis} || [] };
is(scalar @race_apis, $rounds, 'one API per round');
ok(!(grep { $redis->cmd('GET', "wsapi:name:$_->{apiName}:1.0") ne $_->{id} } @race_apis),
   'each name key holds the id of the API that won');

# more at once
my @st = parallel(map { { method => 'POST', path => 'apis', json => { apiName => 'crowd' } } } 1 .. 8);
is(join(',', sort @st), '201,409,409,409,409,409,409,409', 'eight concurrent creates: one 201, seven 409');

# activation races
my $aid = $A->create({ apiName => 'flip', wsUrl => 'ws://b.internal:1/x' })->{id};
($ok_rounds, @bad) = (0);
for my $i (1 .. 10) {
    my @s = parallel(map { { method => 'PUT', path => "apis/$aid/activate" } } 1 .. 2);
    my $s = join ',', sort @s;
    my @d = parallel(map { { method => 'PUT', path => "apis/$aid/deactivate" } } 1 .. 2);
    my $d = join ',', sort @d;
    if ($s eq '200,409' && $d eq '200,409') { $ok_rounds++ } else { push @bad, "round $i: $s / $d" }
}
is($ok_rounds, 10, 'two concurrent activations (deactivations): one 200, one 409 (10 rounds)')
    or diag(join '; ', @bad);
is($A->get("apis/$aid")->{json}{revision}, 21, 'exactly one change per round was written');

# two APIs renamed to one free name at once
($ok_rounds, @bad) = (0);
for my $i (1 .. 10) {
    my $x = $A->create({ apiName => "rx$i" })->{id};
    my $y = $A->create({ apiName => "ry$i" })->{id};
    my @s = parallel({ method => 'PUT', path => "apis/$x", json => { apiName => "rz$i" } },
                     { method => 'PUT', path => "apis/$y", json => { apiName => "rz$i" } });
    my $s = join ',', sort @s;
    my $names = join ',', sort map { $_->{apiName} } grep { $_->{id} eq $x || $_->{id} eq $y }
                @{ $A->get('apis')->{json}{apis} || [] };
    if ($s eq '200,409' && ($names eq "rx$i,rz$i" || $names eq "ry$i,rz$i")) { $ok_rounds++ }
    else { push @bad, "round $i: $s ($names)" }
}
is($ok_rounds, 10, 'two concurrent renames to one name: one 200, one 409, the names consistent')
    or diag(join '; ', @bad);

# concurrent replacements of one API: none is lost
my $cid = $A->create({ apiName => 'counter' })->{id};
my @s = parallel(map { { method => 'PUT', path => "apis/$cid", json => { apiName => 'counter', apiDescription => "w$_" } } } 1 .. 4);
is(join(',', @s), '200,200,200,200', 'four concurrent PUTs without If-Match: all 200 (SPEC silent)');
is($A->get("apis/$cid")->{json}{revision}, 5, 'four revisions written, none lost');

# the layout is consistent after all this
my %ids = map { $_ => 1 } $redis->cmd('SMEMBERS', 'wsapi:apis');
my @api_keys = map { s/^wsapi:api://r } $redis->cmd('KEYS', 'wsapi:api:*');
is_deeply([sort @api_keys], [sort keys %ids], 'apis set and api:{id} keys agree');
my %name_ids = map { $redis->cmd('GET', $_) => 1 } $redis->cmd('KEYS', 'wsapi:name:*');
is_deeply([sort keys %name_ids], [sort keys %ids], 'every API has exactly one name key');
next_events(1000, 1);    # drain

###############################################################################
# Redis down: admin writes 503, /health 503; back again once it returns

is($A->get('health')->{status}, 200, 'GET health: 200 while Redis is up');
my $n_apis = () = $redis->cmd('SMEMBERS', 'wsapi:apis');
my $hh;
ok(poll_until(5, sub { $hh = $A->get('health', user => undef)->{json};
                       ($hh->{revision} // -1) == rev() && ($hh->{apis} // -1) == $n_apis }),
   "health: the revision loaded and the count of APIs ($n_apis) (member names: SPEC silent)")
    or diag(json_encode($hh));
my $h = $A->get('health', user => undef)->{json};
is(ref $h, 'HASH', 'health answers JSON');

$sub->stop;
$redis->stop;
ok(poll_until(10, sub { $A->post('apis', json => { apiName => 'down' })->{status} == 503 }),
   'Redis stopped: a create answers 503');
my $t0 = Time::HiRes::time();
error_is($A->post('apis', json => { apiName => 'down2' }), 503, undef, 'POST apis: 503 in JSON');
error_is($A->put("apis/$id", json => sample_api()), 503, undef, 'PUT apis/{id}: 503');
error_is($A->del("apis/$id"), 503, undef, 'DELETE apis/{id}: 503');
error_is($A->put("apis/$id/activate"), 503, undef, 'activate: 503');
error_is($A->post("apis/$id/versions", json => { newApiVersion => '7' }), 503, undef, 'versions: 503');
error_is($A->put('users/x', json => { privileges => [] }), 503, undef, 'PUT users/{name}: 503');
error_is($A->put('teams/x'), 503, undef, 'PUT teams/{name}: 503');
$r = $A->get('health', user => undef);
is($r->{status}, 503, 'GET health: 503 while Redis is down');
is($r->{json}{error}{status}, 503, 'with an error in JSON');
cmp_ok(Time::HiRes::time() - $t0, '<', timeout_scale(5), 'the 503 answers come at once');
is(http_request(GET => 'http://127.0.0.1:' . $nginx->port('static') . '/')->{status}, 200,
   'nginx serves other locations meanwhile');

$redis->start;
ok(poll_until(10, sub { $A->get('health')->{status} == 200 }), 'Redis back: health 200 again');
$r = $A->post('apis', json => { apiName => 'back' });
is($r->{status}, 201, 'Redis back: writes work again');
is($A->get("apis/$r->{json}{id}")->{status}, 200, 'and reads');

###############################################################################
# Redis that accepts connections but does not answer (SIGSTOP)

my $before_pause = redis_dump($redis);
$redis->pause;
$t0 = Time::HiRes::time();
my $slow = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $aport) or die $!;
my $body = json_encode({ apiName => 'paused' });
print $slow "POST /rest/apigateway/apis HTTP/1.1\r\nHost: x\r\nX-User: admin\r\nConnection: close\r\n"
    . "Content-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
my $t1 = Time::HiRes::time();
$r = http_request(GET => 'http://127.0.0.1:' . $nginx->port('static') . '/', timeout => 5);
is($r->{status}, 200, 'a write waits for a stalled Redis: nginx still serves other requests');
cmp_ok(Time::HiRes::time() - $t1, '<', timeout_scale(0.5), 'at once (the event loop is not blocked)');
my $answer = '';
IO::Select->new($slow)->can_read(timeout_scale(10));
sysread($slow, $answer, 65536);
close $slow;
my ($paused_status) = $answer =~ m{^HTTP/1\.\d (\d+)};
is($paused_status, 503, 'the write answers 503 once the Redis timeout expires');
cmp_ok(Time::HiRes::time() - $t0, '<', timeout_scale(8), sprintf('within %.1fs', Time::HiRes::time() - $t0));
$redis->resume;
ok(poll_until(10, sub { $A->get('health')->{status} == 200 }), 'Redis answers again: health 200');
Time::HiRes::sleep(0.5);
is_deeply(redis_dump($redis), $before_pause,
          'the write answered 503 was not carried out later (a rejected request changes nothing)');

# a client that leaves while its write waits for Redis
$redis->pause;
for my $i (1 .. 5) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $aport) or die $!;
    my $b = json_encode({ apiName => "gone$i" });
    print $s "POST /rest/apigateway/apis HTTP/1.1\r\nHost: x\r\nX-User: admin\r\n"
        . "Content-Type: application/json\r\nContent-Length: " . length($b) . "\r\n\r\n$b";
    close $s;
}
Time::HiRes::sleep(0.3);
$redis->resume;
ok(poll_until(10, sub { $A->get('health')->{status} == 200 }), 'clients that left while Redis stalled: nginx fine');
unlike($nginx->error_log, qr/exited on signal|\[alert\]/, 'no worker crashed');

###############################################################################
# definitions survive an nginx restart

my $act = $A->create(sample_api(apiName => 'survivor', wsUrl => 'ws://b.internal:1/x'));
is($A->put("apis/$act->{id}/activate")->{status}, 200, 'an active API');
my $list = $A->get('apis')->{json};
my $one = $A->get("apis/$act->{id}")->{json};
$nginx->stop;
my $nginx2 = start_nginx(http => admin_http(teams => 1));
my $A2 = admin_client($nginx2);
ok(poll_until(10, sub { $A2->get('health')->{status} == 200 }), 'a new nginx on the same Redis');
json_is($A2->get("apis/$act->{id}")->{json}, $one, 'GET answers the same definition');
json_is($A2->get('apis')->{json}, $list, 'GET apis answers the same list');

###############################################################################
# nginx starts while Redis is down and catches up

my $late = start_redis();
my $late_port = $late->port;
$late->stop;
my $nginx3 = start_nginx(http => admin_http(), redis => $late);
my $A3 = admin_client($nginx3);
is($A3->get('health')->{status}, 503, 'nginx started with Redis down: health 503');
error_is($A3->post('apis', json => { apiName => 'early' }), 503, undef, 'writes 503');
$late->start;
is($late->port, $late_port, '(Redis started on the same port)');
ok(poll_until(15, sub { $A3->get('health')->{status} == 200 }), 'Redis up: health 200');
is($A3->post('apis', json => { apiName => 'late' })->{status}, 201, 'writes work');

###############################################################################
# prefix= and db= ; password= ; unix:

my $pfx = start_nginx(http => admin_http(redis_opts => 'db=3 prefix=acme/'), redis => $redis);
my $P = admin_client($pfx);
my $db0 = redis_dump($redis);
$r = $P->post('apis', json => sample_api());
is($r->{status}, 201, 'prefix=acme/ db=3: create (the name is free there)');
my $pid = $r->{json}{id};
is_deeply(redis_dump($redis), $db0, 'db 0 untouched');
my $c3 = $redis->client;
$c3->cmd('SELECT', 3);
ok(defined $c3->cmd('GET', "acme/api:$pid"), 'acme/api:{id} in db 3');
is($c3->cmd('GET', 'acme/name:ticker:1.0'), $pid, 'acme/name:ticker:1.0 in db 3');
ok((grep { $_ eq $pid } $c3->cmd('SMEMBERS', 'acme/apis')), 'acme/apis in db 3');
is($c3->cmd('GET', 'acme/rev'), 1, 'acme/rev in db 3');
ok(!(grep { !/^acme\// } $c3->cmd('KEYS', '*')), 'every key in db 3 has the prefix');
$c3->stop;
error_is($A2->get("apis/$pid"), 404, undef, 'the default prefix does not see it');
ok(!(grep { $_->{id} eq $pid } @{ $A2->get('apis')->{json}{apis} || [] }), 'nor lists it');
ok((grep { $_->{id} eq $pid } @{ $P->get('apis')->{json}{apis} || [] }), 'the prefixed nginx lists it');

my $secret = start_redis(password => 's3cret');
my $pw = start_nginx(http => admin_http(redis_opts => 'password=s3cret'), redis => $secret);
my $W = admin_client($pw);
ok(poll_until(10, sub { $W->get('health')->{status} == 200 }), 'password=: health 200');
is($W->post('apis', json => { apiName => 'pw' })->{status}, 201, 'password=: create');
my $badpw = start_nginx(http => admin_http(redis_opts => 'password=wrong'), redis => $secret);
is(admin_client($badpw)->get('health')->{status}, 503, 'a wrong password: health 503');
is(admin_client($badpw)->post('apis', json => { apiName => 'pw2' })->{status}, 503, 'a wrong password: writes 503');

my $ux = start_redis(unixsocket => 1);
my $un = start_nginx(http => admin_http() =~ s/%%REDIS%%/%%REDIS_UNIX%%/r, redis => $ux);
my $U = admin_client($un);
ok(poll_until(10, sub { $U->get('health')->{status} == 200 }), 'unix: socket: health 200');
$r = $U->post('apis', json => { apiName => 'unix' });
is($r->{status}, 201, 'unix: socket: create');
ok(defined $ux->cmd('GET', "wsapi:api:$r->{json}{id}"), 'written through the socket');

no_crash($nginx, $nginx2, $nginx3, $pfx, $pw, $badpw, $un);

done_testing;
