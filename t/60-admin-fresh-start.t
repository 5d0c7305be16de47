#!/usr/bin/perl

# Admin API in a fresh worker (SPEC 7, issue 9 item 1): a request that
# reaches a worker still making its first connection to Redis waits for it
# (up to the timeout of ws_api_redis) and is served; 503 only when Redis is
# really away.  (a) nginx started and a create sent in the same instant,
# 50 times; (b) reloads under a continuous admin load; (c) Redis stopped:
# 503 at once; (d) Redis paused, then a fresh start: 503 after about the
# timeout, never a hang.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use POSIX ();
use IO::Socket::INET;
use Time::HiRes ();
use WsApi::Test;
use WsApi::Admin;

my $redis = start_redis();

# a child that must not run the harness' END (it would stop everything)
sub child (&) {
    my ($code) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    return $pid if $pid;
    my $rc = eval { $code->(); 0 } // do { print STDERR "child: $@"; 1 };
    POSIX::_exit($rc);
}

sub slurp_file {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return <$fh>;
}

###############################################################################
# (a) nginx starts while a client already knocks on the admin port

my $runs = 50;
my (%statuses, %health, @waits, @loads, $bad);

# 50 creates, then 10 GET /health (which waits the same way)
for my $i (1 .. $runs + 10) {
    my $health = $i > $runs;
    my $nginx = WsApi::Test::Nginx->new(main => 'worker_processes 2;',
                                        http => admin_http());
    my $port = $nginx->port('admin');
    my $out = tmpdir() . "/fresh-$i.status";

    my $pid = child {
        my $deadline = Time::HiRes::time() + timeout_scale(30);
        my $r;
        while (Time::HiRes::time() < $deadline) {
            $r = $health
                ? http_request(GET => "http://127.0.0.1:$port/rest/apigateway/health",
                               timeout => timeout_scale(10))
                : http_request(POST => "http://127.0.0.1:$port/rest/apigateway/apis",
                               headers => { 'X-User' => 'admin' },
                               json => sample_api(apiName => "fresh$i"),
                               timeout => timeout_scale(10));
            last if $r->{status} != 599;        # not listening yet
            Time::HiRes::sleep(0.001);
        }
        open my $fh, '>', $out or die "$out: $!";
        print $fh "$r->{status} $r->{body}\n";
        close $fh;
    };

    $nginx->start;
    waitpid($pid, 0);

    my $res = slurp_file($out);
    my ($status) = $res =~ /^(\d+)/;
    $status //= 'none';
    ($health ? \%health : \%statuses)->{$status}++;
    if ($status ne ($health ? '200' : '201') && !$bad++) {
        diag("start $i: $res");
    }

    push @waits, $nginx->error_log =~ /waited (\d+) ms for Redis/g;
    push @loads, $nginx->error_log =~ /waited (\d+) ms for the definitions/g;
    $nginx->stop;
}

is($statuses{201} // 0, $runs, "$runs fresh starts: every create sent at start answered 201")
    or diag(explain \%statuses);
ok(!$statuses{503}, 'no 503 right after a start');
is($health{200} // 0, 10, '10 fresh starts: GET /health sent at start answered 200')
    or diag(explain \%health);

{
    my @s = sort { $a <=> $b } @waits;
    note(sprintf "fresh starts: %d of %d requests waited for Redis; waits (ms): %s",
                 scalar @s, $runs + 10, @s ? "min $s[0], median $s[$#s / 2], max $s[-1]" : 'none');
    @s = sort { $a <=> $b } @loads;
    note(sprintf "fresh starts: %d of 10 GET /health waited for the first load; waits (ms): %s",
                 scalar @s, @s ? "min $s[0], max $s[-1]" : 'none');
}

###############################################################################
# (b) reloads under a continuous admin load

{
    my $nginx = start_nginx(main => 'worker_processes 2;', http => admin_http());
    my $port = $nginx->port('admin');
    my $stop = tmpdir() . "/load.stop";
    my $out = tmpdir() . "/load.status";

    my $pid = child {
        my (%count, $n, @odd);
        my $base = "http://127.0.0.1:$port/rest/apigateway";
        until (-e $stop) {
            $n++;
            my $r = $n % 3 == 0
                ? http_request(GET => "$base/health", timeout => timeout_scale(10))
                : $n % 3 == 1
                ? http_request(POST => "$base/apis", headers => { 'X-User' => 'admin' },
                               json => sample_api(apiName => "load$n"),
                               timeout => timeout_scale(10))
                : http_request(GET => "$base/apis", headers => { 'X-User' => 'admin' },
                               timeout => timeout_scale(10));
            $count{ $r->{status} }++;
            push @odd, "$r->{status} $r->{body}" if $r->{status} !~ /^20[01]$/ && @odd < 5;
        }
        open my $fh, '>', $out or die "$out: $!";
        print $fh join(" ", map { "$_=$count{$_}" } sort keys %count), "\n", map { "$_\n" } @odd;
        close $fh;
    };

    my $reloads = 0;
    for (1 .. 6) {
        Time::HiRes::sleep(0.3);
        $reloads++ if $nginx->reload;
    }
    Time::HiRes::sleep(0.3);

    open my $fh, '>', $stop or die;
    close $fh;
    waitpid($pid, 0);

    my $res = slurp_file($out);
    my ($line, @odd) = split /\n/, $res;
    my %count = map { split /=/ } split ' ', $line // '';

    is($reloads, 6, 'six reloads under admin load');
    ok(($count{200} // 0) + ($count{201} // 0) > 50, "requests went on during the reloads ($line)");
    ok(!$count{503}, 'no 503 across the reloads') or diag(join "\n", @odd);
    is(join(',', grep { !/^20[01]$/ } sort keys %count), '', 'every answer 200 or 201')
        or diag(join "\n", @odd);

    my @w = $nginx->error_log =~ /waited (\d+) ms for Redis/g;
    my @s = sort { $a <=> $b } @w;
    note(sprintf "reloads: %d requests waited for Redis; waits (ms): %s",
                 scalar @s, @s ? "min $s[0], max $s[-1]" : 'none');
    $nginx->stop;
}

###############################################################################
# (c) Redis stopped: 503 at once, for a running nginx and for a fresh one

{
    my $r2 = start_redis();
    my $nginx = start_nginx(http => admin_http(redis_opts => 'timeout=1s'), redis => $r2);
    my $A = admin_client($nginx);

    is($A->post('apis', json => sample_api(apiName => 'c1'))->{status}, 201,
       'a create while Redis is up');

    $r2->stop;

    my $t0 = Time::HiRes::time();
    my $r = $A->post('apis', json => sample_api(apiName => 'c2'));
    my $dt = Time::HiRes::time() - $t0;
    error_is($r, 503, undef, 'Redis stopped: a create answers 503');
    like($r->{json}{error}{message} // '', qr/Redis/, 'saying Redis is the cause');
    cmp_ok($dt, '<', timeout_scale(3), sprintf('within the timeout and a reconnect (%.3f s)', $dt));

    # now the last attempt is known to have failed: no wait at all
    Time::HiRes::sleep(0.3);
    $t0 = Time::HiRes::time();
    $r = $A->post('apis', json => sample_api(apiName => 'c3'));
    $dt = Time::HiRes::time() - $t0;
    is($r->{status}, 503, 'again 503');
    cmp_ok($dt, '<', timeout_scale(0.9), sprintf('promptly, not after the timeout (%.3f s)', $dt));

    $r = $A->get('health');
    is($r->{status}, 503, '/health 503 with Redis stopped');

    $nginx->stop;

    # a fresh nginx with Redis away
    $nginx = start_nginx(http => admin_http(redis_opts => 'timeout=1s'), redis => $r2);
    $A = admin_client($nginx);
    $t0 = Time::HiRes::time();
    $r = $A->post('apis', json => sample_api(apiName => 'c4'));
    $dt = Time::HiRes::time() - $t0;
    is($r->{status}, 503, 'fresh nginx, Redis stopped: 503');
    cmp_ok($dt, '<', timeout_scale(3), sprintf('promptly (%.3f s)', $dt));
    $nginx->stop;

    $r2->start;
}

###############################################################################
# (d) Redis paused, then a fresh start: 503 after about the timeout

{
    my $r3 = start_redis();
    my $nginx = WsApi::Test::Nginx->new(http => admin_http(redis_opts => 'timeout=1s'),
                                        redis => $r3);
    my $A = admin_client($nginx);

    $r3->pause;
    $nginx->start;

    # clients that go away while their requests wait: nothing left behind
    my @gone;
    for my $n (1 .. 5) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $nginx->port('admin'),
                                      Proto => 'tcp') or die "connect: $!";
        my $body = json_encode(sample_api(apiName => "gone$n"));
        print $s "POST /rest/apigateway/apis HTTP/1.1\r\nHost: x\r\nX-User: admin\r\n"
               . "Content-Type: application/json\r\nContent-Length: " . length($body)
               . "\r\n\r\n$body";
        push @gone, $s;
    }
    Time::HiRes::sleep(0.05);
    close $_ for @gone;
    my @workers = $nginx->worker_pids;

    my $t0 = Time::HiRes::time();
    my $r = $A->post('apis', json => sample_api(apiName => 'd1'),
                     timeout => timeout_scale(20));
    my $dt = Time::HiRes::time() - $t0;
    is($r->{status}, 503, 'Redis paused at the start: 503');
    cmp_ok($dt, '>', 0.5, sprintf('after waiting (%.3f s)', $dt));
    cmp_ok($dt, '<', timeout_scale(5), 'not hanging: within a few timeouts');

    $r = $A->get('health', timeout => timeout_scale(20));
    is($r->{status}, 503, '/health 503 while Redis is paused');

    ok($nginx->wait_error_log(qr/waited \d+ ms for Redis, which is unavailable/),
       'the wait is logged');

    $r3->resume;

    my $ok = poll_until(timeout_scale(10), sub {
        $A->post('apis', json => sample_api(apiName => 'd2'))->{status} == 201;
    });
    ok($ok, 'Redis resumed: creates served again');
    ok($nginx->is_running, 'nginx still running');
    is(join(',', $nginx->worker_pids), join(',', @workers),
       'the worker that had waiting requests of clients gone is the same');
    unlike($nginx->error_log, qr/exited on signal|\[alert\]/, 'no crash, no alert');
    is($r3->cmd('EXISTS', 'wsapi:name:gone1:1.0'), 0,
       'a create whose wait timed out was not carried out later');
    $nginx->stop;
}

done_testing;
