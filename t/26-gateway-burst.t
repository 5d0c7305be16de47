#!/usr/bin/perl

# Gateway: a burst of concurrent changes (SPEC 6).  Two nginx, two workers
# each, one Redis; four clients at once create and activate APIs through
# both admin APIs, then deactivate them.  Every change is enforced by both
# nginx, and the workers follow the burst event by event: the definitions
# are not all read again from Redis for each change (the "SMEMBERS" of a
# whole load, counted in Redis' commandstats, stays rare).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes ();
use POSIX ();
use WsApi::Test;
use WsApi::Gateway;

my $WRITERS = 4;
my $PID = $$;    # the writers are children: their $$ differs
my $PER_WRITER = 40;
my $DEADLINE = timeout_scale(20);

my $redis = start_redis();
my $backend = start_backend();

my %opt = (
    http => gw_http(gw_listen => 'listen 127.0.0.1:%%PORT_GW%% reuseport;'),
    main => 'worker_processes 2;',
);
my $A = start_nginx(%opt);
my $B = start_nginx(%opt);

# both nginx have loaded the (empty) store
my $probe = create_active($A, { apiName => uniq_name('probe'), wsUrl => $backend->url('/p') });
ok(wait_status($_, "/gateway/$probe->{apiName}/1.0", 101, $DEADLINE), 'both nginx serve a first API')
    for $A, $B;

sub smembers_calls { ($redis->info('commandstats')->{smembers} // {})->{calls} // 0 }

# $WRITERS processes at once, each through A and B in turn; each runs
# $work->($writer, $i, $nginx) $PER_WRITER times.  True if all succeeded.
sub burst {
    my ($work) = @_;
    my @pids;
    for my $w (1 .. $WRITERS) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            my $ok = eval {
                $work->($w, $_, $_ % 2 ? $A : $B) for 1 .. $PER_WRITER;
                1;
            };
            print STDERR "writer $w: $@" unless $ok;
            POSIX::_exit($ok ? 0 : 1);
        }
        push @pids, $pid;
    }
    my $ok = 1;
    for (@pids) {
        waitpid($_, 0);
        $ok = 0 if $?;
    }
    return $ok;
}

my $writes = $WRITERS * $PER_WRITER * 2;
my @names = map { my $w = $_; map { "burst-$PID-$w-$_" } 1 .. $PER_WRITER } 1 .. $WRITERS;

my $loads0 = smembers_calls();
my $t0 = Time::HiRes::time();
ok(burst(sub {
    my ($w, $i, $ng) = @_;
    create_active($ng, { apiName => "burst-$PID-$w-$i", wsUrl => $backend->url("/b$w-$i") });
}), "$WRITERS clients at once: $writes writes (create, activate) through both nginx");
my $burst_s = Time::HiRes::time() - $t0;

# every API served by both nginx (every worker: reuseport spreads the probes)
sub all_status {
    my ($status) = @_;
    for my $ng ($A, $B) {
        for my $name (@names) {
            for (1 .. 2) {
                return 0 unless gw_handshake($ng, "/gateway/$name/1.0") == $status;
            }
        }
    }
    return 1;
}

my $t1 = Time::HiRes::time();
ok(poll_until($DEADLINE, sub { all_status(101) }), 'every API of the burst is served by both nginx');
my $seen_s = Time::HiRes::time() - $t1;

my $loads = smembers_calls() - $loads0;
cmp_ok($loads, '<=', $writes / 20,
       "whole loads during the burst: $loads for $writes changes (the others applied one by one)");
diag(sprintf '%d writes by %d clients in %.2fs; all served %.2fs after the last; %d whole loads',
             $writes, $WRITERS, $burst_s, $seen_s, $loads);

# the same for deactivations
my %id;
for my $ng ($A) {
    my $list = admin_req($ng, GET => 'apis')->{json};
    my @apis = ref $list eq 'HASH' ? @{ $list->{apis} // [] } : @{ $list // [] };
    $id{ $_->{apiName} } = $_->{id} for @apis;
}
is(scalar(grep { defined $id{$_} } @names), scalar @names, 'every API of the burst is listed');

$loads0 = smembers_calls();
ok(burst(sub {
    my ($w, $i, $ng) = @_;
    deactivate($ng, $id{"burst-$PID-$w-$i"});
}), "$WRITERS clients at once: " . scalar(@names) . ' deactivations');
ok(poll_until($DEADLINE, sub { all_status(404) }), 'no API of the burst is served any more by either nginx');
$loads = smembers_calls() - $loads0;
cmp_ok($loads, '<=', @names / 10, "whole loads during the deactivations: $loads");

is(gw_handshake($_, "/gateway/$probe->{apiName}/1.0"), 101, 'the first API is still served')
    for $A, $B;

done_testing;
