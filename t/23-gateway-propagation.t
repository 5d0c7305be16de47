#!/usr/bin/perl

# Gateway: propagation (SPEC 6).  Two nginx, two workers each, one Redis:
# a change made through one nginx's admin API (activation, a parameter
# added, deactivation) is enforced by every worker of both within one
# second; a change whose pub/sub message is lost (written to Redis behind
# the module's back, "rev" incremented, nothing published) is caught up by
# the periodic "rev" comparison.  Every time is measured and reported.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes ();
use WsApi::Test;
use WsApi::Gateway;

my $T0 = Time::HiRes::time();

my $PER_NGINX = 20;          # handshakes per nginx and poll round
my $DEADLINE = 10;           # how long a poll may take before it fails
my $SPEC_LIMIT = 1.0;        # SPEC 6: within one second
my $CATCHUP_LIMIT = 2.0;     # a lost message: the once-a-second "rev" comparison

my $redis = start_redis();
my $backend = start_backend();

# reuseport: the kernel spreads new connections over both workers
my %opt = (
    http       => gw_http(gw_listen => 'listen 127.0.0.1:%%PORT_GW%% reuseport;'),
    main       => 'worker_processes 2;',
    log_format => '$pid $request $status',
);
my $A = start_nginx(%opt);
my $B = start_nginx(%opt);
my %workers = (A => [$A->worker_pids], B => [$B->worker_pids]);
is(scalar(@{ $workers{A} }) + scalar(@{ $workers{B} }), 4,
   "two nginx sharing one Redis, two workers each (A: @{$workers{A}}, B: @{$workers{B}})");

# one poll round: $PER_NGINX handshakes on each nginx; true if every answer
# satisfies $want.  The paths carry a round number, to find them in the
# access logs.
my $ROUND = 0;
my %round_of;    # what => round number that agreed
sub round {
    my ($query, $headers, $want) = @_;
    $ROUND++;
    my $all = 1;
    for my $ng ($A, $B) {
        for my $i (1 .. $PER_NGINX) {
            my $ws = gw_connect($ng, "/gateway/prop/1.0/r$ROUND-$i" . (defined $query ? "?$query" : ''),
                                headers => $headers || []);
            $all = 0 unless $want->($ws);
            $ws->disconnect;
        }
    }
    return $all;
}

sub is_101 { $_[0]->status == 101 }
sub is_404 { $_[0]->status == 404 }
sub is_missing_token {
    my ($ws) = @_;
    return $ws->status == 400 && ref $ws->json eq 'HASH'
        && ($ws->json->{error}{parameter} // '') eq 'token'
        && ($ws->json->{error}{reason} // '') eq 'missing';
}

# after a change made at $t0: poll rounds until one agrees; then one more
# round must agree too (no worker left behind).  Returns (seconds until the
# end of the first agreeing round, seconds until its start) or ().
sub measure {
    my ($what, $t0, $query, $headers, $want) = @_;
    my ($start, $end);
    while (Time::HiRes::time() - $t0 < $DEADLINE) {
        my $rs = Time::HiRes::time();
        if (round($query, $headers, $want)) {
            ($start, $end) = ($rs - $t0, Time::HiRes::time() - $t0);
            $round_of{$what} = $ROUND;
            last;
        }
    }
    unless (defined $end) {
        fail("$what: not enforced by every worker of both nginx within ${DEADLINE}s");
        return ();
    }
    my $again = round($query, $headers, $want);
    ok($again, "$what: the next round agrees too");
    return ($end, $start);
}

# the worker pids that served round $r in an nginx's access log
sub pids_of_round {
    my ($ng, $r) = @_;
    my %p;
    for (split /\n/, $ng->access_log) {
        $p{$1} = 1 if m{^(\d+) GET /gateway/prop/1\.0/r$r-\d+};
    }
    return sort keys %p;
}

sub covered {
    my ($what) = @_;
    my $r = $round_of{$what} or return;
    for my $name (qw(A B)) {
        my $ng = $name eq 'A' ? $A : $B;
        my @p;
        poll_until(5, sub { @p = pids_of_round($ng, $r); @p == 2 });
        is_deeply(\@p, [sort @{ $workers{$name} }],
                  "$what: both workers of nginx $name answered in the agreeing round");
    }
}

my %measured;
sub report {
    my ($what, $limit, $end, $start) = @_;
    return unless defined $end;
    $measured{$what} = $end;
    diag(sprintf '%-45s enforced everywhere after %.3fs (agreeing round began at %.3fs)',
         $what, $end, $start);
    cmp_ok($end, '<=', $limit, sprintf "$what: enforced everywhere within %.1fs (%.3fs)", $limit, $end);
}

###############################################################################
# the API, created inactive through A

my $api = create_api($A, { apiName => 'prop', wsUrl => $backend->url('/prop') });
ok(poll_until($DEADLINE, sub { round(undef, undef, \&is_404) }), 'an inactive API: 404 everywhere');

# activation through A
my $t = Time::HiRes::time();
activate($A, $api->{id});
my $admin_time = Time::HiRes::time() - $t;
report('activation through A', $SPEC_LIMIT, measure('activation through A', $t, undef, undef, \&is_101));
covered('activation through A');
note(sprintf 'the activate request itself took %.3fs', $admin_time);

# a required parameter added through B
my $def = get_api($B, $api->{id});
$def->{parameters} = [ { name => 'token', in => 'query', dataType => 'integer', required => true } ];
$t = Time::HiRes::time();
replace_api($B, $api->{id}, $def);
report('parameter added through B', $SPEC_LIMIT,
       measure('parameter added through B', $t, undef, undef, \&is_missing_token));
covered('parameter added through B');
ok(round('token=1', undef, \&is_101), 'with the parameter given: 101 everywhere');

# the backend changed through A (a backend path that answers 418), then back through B
$def = get_api($A, $api->{id});
$def->{wsUrl} = $backend->url('/status/418');
$t = Time::HiRes::time();
replace_api($A, $api->{id}, $def);
report('wsUrl changed through A', $SPEC_LIMIT,
       measure('wsUrl changed through A', $t, 'token=1', undef, sub { $_[0]->status == 418 }));
$def->{wsUrl} = $backend->url('/prop');
$t = Time::HiRes::time();
replace_api($B, $api->{id}, $def);
report('wsUrl changed back through B', $SPEC_LIMIT,
       measure('wsUrl changed back through B', $t, 'token=1', undef, \&is_101));

# deactivation through A
$t = Time::HiRes::time();
deactivate($A, $api->{id});
report('deactivation through A', $SPEC_LIMIT,
       measure('deactivation through A', $t, 'token=1', undef, \&is_404));
covered('deactivation through A');

###############################################################################
# a lost pub/sub message: Redis changed behind the module's back

my $key = "wsapi:api:$api->{id}";
my $stored = $redis->cmd('GET', $key);
ok(defined $stored, "the definition is stored under $key");
my $json = json_decode($stored);
ok(!$json->{isActive}, 'stored as inactive');

my $mon = $redis->monitor;
$json->{isActive} = JSON::PP::true;
$t = Time::HiRes::time();
$redis->cmd('SET', $key, json_encode($json));
my $rev = $redis->cmd('INCR', 'wsapi:rev');
note("rev is now $rev, nothing published");
report('activation without a pub/sub message', $CATCHUP_LIMIT,
       measure('activation without a pub/sub message', $t, 'token=1', undef, \&is_101));
covered('activation without a pub/sub message');
ok(!(grep { $_->{cmd} eq 'publish' } $mon->commands(sync => 1, all => 1)),
   'no PUBLISH was sent meanwhile (the change came through the "rev" comparison)');
$mon->stop;

$json->{isActive} = JSON::PP::false;
$t = Time::HiRes::time();
$redis->cmd('SET', $key, json_encode($json));
$redis->cmd('INCR', 'wsapi:rev');
report('deactivation without a pub/sub message', $CATCHUP_LIMIT,
       measure('deactivation without a pub/sub message', $t, 'token=1', undef, \&is_404));
covered('deactivation without a pub/sub message');

# a deleted API, behind the back: gone everywhere
$json->{isActive} = JSON::PP::true;
$redis->cmd('SET', $key, json_encode($json));
$redis->cmd('INCR', 'wsapi:rev');
ok(poll_until($DEADLINE, sub { round('token=1', undef, \&is_101) }), 'active again (behind the back)');
$t = Time::HiRes::time();
$redis->cmd('DEL', $key);
$redis->cmd('SREM', 'wsapi:apis', $api->{id});
$redis->cmd('DEL', 'wsapi:name:prop:1.0');
$redis->cmd('INCR', 'wsapi:rev');
report('deletion without a pub/sub message', $CATCHUP_LIMIT,
       measure('deletion without a pub/sub message', $t, 'token=1', undef, \&is_404));

diag(join "\n", 'measured propagation times:',
     map { sprintf '  %-45s %.3fs', $_, $measured{$_} } sort { $measured{$a} <=> $measured{$b} } keys %measured);
note(sprintf 'total %.1fs, %d rounds of %d handshakes', Time::HiRes::time() - $T0, $ROUND, 2 * $PER_NGINX);
done_testing;
