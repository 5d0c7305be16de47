#!/usr/bin/perl

# The benchmark orchestration behind util/bench.sh (see there for the
# environment).  One nginx (worker_processes 1, the module loaded) serves
# the gateway location and a plain proxy_pass location side by side;
# HAProxy and Caddy are pure pass-through proxies; all of them relay to
# the same echo backend.  Every proxy runs on CPU 0, the load client and
# the echo backend on CPU 1.  Each round runs every (workload, proxy) pair
# once, in a shuffled order; the report takes medians over the rounds.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../../t/lib";

use WsApi::Test;
use POSIX ();
use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use List::Util qw(shuffle sum min max);
use Time::HiRes qw(time sleep);

$| = 1;

my $T0 = time;
my $ROOT = repo_root();
my $TOOL = "$ROOT/build/ws-bench";    # a copy in the temporary directory, below
my $OUT = "$ROOT/build/bench";

my $ROUNDS = $ENV{BENCH_ROUNDS} // 5;
my $SECS = $ENV{BENCH_SECS} // 2;
my $WARMUP = $ENV{BENCH_WARMUP} // 0.5;
my $WINDOW = $ENV{BENCH_WINDOW} // 16;
my $FIXED_RATE = $ENV{BENCH_FIXED_RATE} // 100000;
# A proxied connection takes two descriptors in the nginx worker, which
# cannot have more than the hard RLIMIT_NOFILE (20000 in some sandboxes,
# where even root lacks CAP_SYS_RESOURCE): 10,000 unless that is too many.
my $NOFILE = `sh -c 'ulimit -Hn'` =~ /^(\d+)/ ? $1 : 1048576;
my $IDLE = $ENV{BENCH_IDLE_CONNS}
    // min(10000, int(($NOFILE - 200) / 2 / 100) * 100);
my $SEED = $ENV{BENCH_SEED} // (int(time) ^ $$);
my $ONLY = $ENV{BENCH_ONLY};
my $HS_TOTAL = 1600;
my $HS_CONC = 16;
my $IDLE_HOLD = 2;
my $ADMIN_WARMUP = 10;       # creates not counted: the connection, the scripts' first run
my $ADMIN_CREATES = 1000;    # p99 of 200 would be the second worst of them
my $ACTIVATIONS = 50;

# what the load client sends: the 5 declared parameters, valid
my $QUERY = 'sym=ACME&limit=100&live=true';
my @HEADERS = ('X-Since: 2026-11-28T10:15:00.250+01:00', 'X-Ratio: 0.75');

my $BUFFERS = 'proxy_buffer_size 64k; proxy_buffers 4 64k; '
    . 'proxy_busy_buffers_size 128k;';

srand($SEED);

die "bench: $TOOL not built (make bench-tools)\n" unless -x $TOOL;
mkdir $OUT;

# Copies of the module and the tool: a rebuild while the benchmark runs
# (the reloads before the idle runs load the module again) must not mix
# two builds in one report.
my $tmp = tmpdir();
my $MODULE_SRC = module_path();
my $BUILD_INFO = sprintf('%s, built %s',
    `git -C '$ROOT' describe --always --dirty 2>/dev/null` =~ s/\s+$//r || 'no git',
    POSIX::strftime('%Y-%m-%d %H:%M:%S', localtime((stat $MODULE_SRC)[9] // 0)));
system('cp', $MODULE_SRC, "$tmp/module.so") == 0 or die "bench: cannot copy $MODULE_SRC\n";
system('cp', $TOOL, "$tmp/ws-bench") == 0 or die "bench: cannot copy $TOOL\n";
$ENV{WSAPI_MODULE} = "$tmp/module.so";
$TOOL = "$tmp/ws-bench";

# ---------------------------------------------------------------------------
# processes started here (Redis and nginx are the harness's)

my %MINE;

sub pin {
    my ($cpu, $pid) = @_;
    system("taskset -a -p -c $cpu $pid > /dev/null") == 0
        or die "bench: taskset -p -c $cpu $pid failed\n";
}

sub spawn {
    my ($name, $log, $env, @cmd) = @_;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        syscall(157, 1, 15) if (POSIX::uname())[4] eq 'x86_64';   # PDEATHSIG
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $log or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        $ENV{$_} = $env->{$_} for keys %$env;
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    $MINE{$pid} = $name;
    return $pid;
}

sub alive {
    my ($pid) = @_;
    return 0 if waitpid($pid, POSIX::WNOHANG()) == $pid;
    return kill 0, $pid;
}

sub stop_mine {
    for my $pid (keys %MINE) {
        kill 'TERM', $pid;
    }
    for my $pid (keys %MINE) {
        poll_until(5, sub { !alive($pid) }) or kill 'KILL', $pid;
        waitpid($pid, 0);
        delete $MINE{$pid};
    }
}

END { stop_mine() if %MINE }

sub listening {
    my ($port) = @_;
    for my $table ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $table or next;
        while (<$fh>) {
            my @f = split;
            return 1 if $f[3] && $f[3] eq '0A' && $f[1] =~ /:(\w+)$/ && hex($1) == $port;
        }
    }
    return 0;
}

sub wait_listening {
    my ($name, $port, $pid, $log) = @_;
    poll_until(20, sub { die "bench: $name exited:\n" . slurp($log) unless alive($pid);
                         listening($port) })
        or die "bench: $name not listening on $port after 20 s:\n" . slurp($log);
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return <$fh> // '';
}

sub spit {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "write $path: $!";
    print $fh $text;
    close $fh;
}

sub cpus_allowed {
    my ($pid) = @_;
    slurp("/proc/$pid/status") =~ /^Cpus_allowed_list:\s*(\S+)/m;
    return $1 // '?';
}

# the machine's busy CPU (user, nice, system of every process), in cores,
# over $secs, before anything of the benchmark runs
sub machine_busy {
    my ($secs) = @_;
    my $sample = sub {
        my @v = split ' ', (split /\n/, slurp('/proc/stat'))[0];
        return $v[1] + $v[2] + $v[3];
    };
    my ($b0, $t0) = ($sample->(), time);
    sleep $secs;
    return ($sample->() - $b0) / POSIX::sysconf(POSIX::_SC_CLK_TCK()) / (time - $t0);
}

my $QUIET_WAIT = $ENV{BENCH_QUIET_WAIT} // 0;
my $busy = machine_busy(1);
my $t_quiet = time;
while ($busy > 0.1 && time - $t_quiet < $QUIET_WAIT) {
    $busy = machine_busy(2);
}
printf "bench: before the start, other processes use %.2f CPUs%s\n", $busy,
    $busy > 0.1 ? ' (the machine is busy: figures will be noisy)' : '';

# ---------------------------------------------------------------------------
# setup

pin(1, $$);    # this script, the harness's children, the load and the echo

my $redis = start_redis();

my $echo_port = free_port();
my $echo = spawn('echo', "$tmp/echo.log", {}, 'taskset', '-c', '1', $TOOL,
                 'echo', '--listen', "127.0.0.1:$echo_port");
wait_listening('ws-bench echo', $echo_port, $echo, "$tmp/echo.log");

my $nofile = min($NOFILE, 1048576);
# more than the descriptors: under pressure nginx closes connections that
# wait for their request once fewer than 1/16 of worker_connections are
# free, so worker_connections must not be what runs out first
my $wconns = 2 * $IDLE + 2000;

sub gateway_location {
    my ($prefix, $buffers) = @_;
    return <<"EOF";
        location $prefix {
            ws_api_gateway;
            proxy_pass \$ws_api_backend;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1h;
            $buffers
        }
EOF
}

sub plain_location {
    my ($prefix, $buffers) = @_;
    return <<"EOF";
        location $prefix {
            proxy_pass http://%%ECHO%%;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1h;
            $buffers
        }
EOF
}

my $nginx = start_nginx(
    main => "worker_processes 1;\nworker_cpu_affinity 01;\n"
          . "worker_rlimit_nofile $nofile;",
    events => "worker_connections $wconns;",
    access_log => 0,
    error_log_level => 'warn',
    vars => { ECHO => "127.0.0.1:$echo_port" },
    http => <<"EOF"
    ws_api_redis %%REDIS%%;

    server {
        listen 127.0.0.1:%%PORT_ADMIN%%;
        location /rest/apigateway/ {
            ws_api_admin;
            ws_api_admin_identity \$http_x_user;
            ws_api_admin_superuser admin;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_GW%%;

        # the main setting: 64k buffers in both locations
@{[ gateway_location('/gateway/', $BUFFERS) ]}
@{[ plain_location('/plain/', $BUFFERS) ]}
        # nginx's default buffers (one page, 4k), for the 16 KiB workloads
@{[ gateway_location('/gateway4k/', '') ]}
@{[ plain_location('/plain4k/', '') ]}
    }
EOF
);

my $gw_port = $nginx->port('gw');
my $admin_port = $nginx->port('admin');

# The admin client: one keep-alive connection, each request in one write
# (a client that writes headers and body apart meets Nagle and delayed
# ACKs: 40 ms that would be the client's, not the module's).
my $admin_sock;

sub admin {
    my ($method, $path, $data) = @_;
    my $r = admin_exchange($method, $path, defined $data ? json_encode($data) : '');
    $r->{json} = eval { json_decode($r->{content}) } if length $r->{content};
    return $r;
}

# one exchange, the body already encoded and the answer's not decoded: what
# the latencies time (JSON::PP, pure Perl, takes longer than the server)
sub admin_exchange {
    my ($method, $path, $body) = @_;
    my $req = "$method /rest/apigateway/$path HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        . "X-User: admin\r\n"
        . (length $body ? "Content-Type: application/json\r\n" : '')
        . 'Content-Length: ' . length($body) . "\r\n\r\n$body";

    for my $try (1, 2) {
        $admin_sock //= do {
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $admin_port,
                                          Proto => 'tcp', Timeout => 10)
                or die "bench: admin connect: $!\n";
            setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
            $s;
        };
        my $r = http_exchange($admin_sock, $req);
        if (!$r) {
            undef $admin_sock;    # the server closed the keep-alive connection
            next;
        }
        undef $admin_sock if ($r->{headers}{connection} // '') =~ /close/i;
        return $r;
    }
    die "bench: $method $path: no answer\n";
}

sub http_exchange {
    my ($s, $req) = @_;
    my $off = 0;
    while ($off < length $req) {
        my $n = syswrite($s, $req, length($req) - $off, $off);
        return undef unless $n;
        $off += $n;
    }
    my $buf = '';
    my $end;
    until (($end = index($buf, "\r\n\r\n")) >= 0) {
        my $n = sysread($s, $buf, 65536, length $buf);
        return undef unless $n;
    }
    my ($head, $rest) = (substr($buf, 0, $end), substr($buf, $end + 4));
    my ($status) = $head =~ m{^HTTP/1\.1 (\d{3})} or return undef;
    my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } split /\r\n/, $head;
    my $len = $h{'content-length'} // 0;
    while (length $rest < $len) {
        my $n = sysread($s, $rest, $len - length $rest, length $rest);
        return undef unless $n;
    }
    return { status => $status, headers => \%h, content => $rest };
}

sub api_definition {
    my ($name, $type) = @_;
    return {
        apiName => $name, apiVersion => '1.0',
        apiDescription => 'ws-api benchmark',
        wsUrl => "ws://127.0.0.1:$echo_port/echo",
        parameters => [
            { name => 'sym', in => 'query', dataType => 'string', required => JSON::PP::true },
            { name => 'limit', in => 'query', dataType => 'integer', required => JSON::PP::true },
            { name => 'live', in => 'query', dataType => 'boolean', required => JSON::PP::true,
              values => ['true', 'false'] },
            { name => 'X-Since', in => 'header', dataType => 'date-time', required => JSON::PP::true },
            { name => 'X-Ratio', in => 'header', dataType => 'double', required => JSON::PP::true },
        ],
        messages => [
            { origin => 'client', type => $type },
            { origin => 'server', type => $type },
        ],
    };
}

# a handshake through $port: the status code answered (0 on failure)
sub probe {
    my ($port, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5) or return 0;
    $s->autoflush(1);
    print $s "GET $path HTTP/1.1\r\nHost: 127.0.0.1:$port\r\n"
        . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        . "Sec-WebSocket-Version: 13\r\n"
        . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        . join('', map { "$_\r\n" } @HEADERS) . "\r\n";
    my $line = '';
    while ($line !~ /\n/) {
        my $n = sysread($s, $line, 512, length $line);
        last unless $n;
    }
    close $s;
    return $line =~ m{^HTTP/1\.1 (\d{3})} ? $1 : 0;
}

# every policy of SPEC 5, at limits that never trigger (the "policies"
# runs: their cost over the gateway's)
my %POLICIES = (
    maxMessageSize => { client => 1048576, server => 1048576 },
    messageRate => { client => { messages => 1000000000, per => '1s' },
                     server => { messages => 1000000000, per => '1s' } },
    maxConnections => 100000, idleTimeout => '1h', maxConnectionAge => '1d',
    allowedOrigins => ['https://bench.example'],
    ipAllow => ['127.0.0.0/8'], ipDeny => ['10.0.0.0/8'],
);

# the APIs of the gateway runs: each declares the 5 parameters and the
# client and server messages of its own type; p-bench-* carry every policy
# (SPEC 4.3): bench-json declares text messages without schemas,
# s-bench-json the same with a schema for each origin (JSON arrays of
# ws-bench --json-text)
my $SCHEMA = { type => 'array', minItems => 2,
               items => [ { type => 'string', minLength => 16, maxLength => 16 },
                          { type => 'string' } ] };

for my $type (qw(text binary p-text p-binary json s-json)) {
    my $def = api_definition("bench-$type", $type =~ /json/ ? 'text'
                                            : $type =~ s/^p-//r);
    if ($type =~ /^p-/) {
        $def->{apiName} = "p-bench-" . ($type =~ s/^p-//r);
        $def->{policies} = \%POLICIES;
    }
    if ($type eq 's-json') {
        $def->{apiName} = 's-bench-json';
        $_->{schema} = $SCHEMA for @{ $def->{messages} };
    }
    my $r = admin(POST => 'apis', $def);
    die "bench: creating $def->{apiName}: $r->{status} $r->{content}\n"
        unless $r->{status} == 201;
    my $id = $r->{json}{id};
    $r = admin(PUT => "apis/$id/activate");
    die "bench: activating $def->{apiName}: $r->{status} $r->{content}\n"
        unless $r->{status} == 200;
    my $path = "/gateway/$def->{apiName}/1.0?$QUERY";
    poll_until(10, sub { probe($gw_port, $path) == 101 })
        or die "bench: the gateway does not serve $def->{apiName}\n";
}

# HAProxy and Caddy: pass-through, single-threaded, on loopback, no logs

my $hap_port = free_port();
spit("$tmp/haproxy.cfg", <<"EOF");
# written by util/bench/bench.pl: no "log" line, so nothing is logged
global
    nbthread 1
    maxconn 4096
    # the buffer size of the nginx locations (HAProxy's default is 16k)
    tune.bufsize 65536

defaults
    mode http
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout http-request 10s

frontend bench
    bind 127.0.0.1:$hap_port
    default_backend echo

backend echo
    server echo 127.0.0.1:$echo_port
EOF

my $hap = spawn('haproxy', "$tmp/haproxy.log", {}, 'taskset', '-c', '0',
                'haproxy', '-db', '-f', "$tmp/haproxy.cfg");
wait_listening('haproxy', $hap_port, $hap, "$tmp/haproxy.log");

my $caddy_port = free_port();
mkdir "$tmp/caddy";
spit("$tmp/caddy/Caddyfile", <<"EOF");
# written by util/bench/bench.pl: no admin endpoint, no automatic HTTPS,
# no access log (Caddy has none unless asked)
{
	admin off
	auto_https off
}

http://127.0.0.1:$caddy_port {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$echo_port
}
EOF

my $caddy = spawn('caddy', "$tmp/caddy.log",
                  { GOMAXPROCS => 1, HOME => "$tmp/caddy",
                    XDG_CONFIG_HOME => "$tmp/caddy", XDG_DATA_HOME => "$tmp/caddy" },
                  'taskset', '-c', '0', 'caddy', 'run',
                  '--config', "$tmp/caddy/Caddyfile", '--adapter', 'caddyfile');
wait_listening('caddy', $caddy_port, $caddy, "$tmp/caddy.log");

sub nginx_worker {
    my @w = $nginx->worker_pids;
    die "bench: nginx has " . scalar(@w) . " workers\n" unless @w == 1;
    return $w[0];
}

my %PROXY = (
    'gateway'    => { port => $gw_port, prefix => '/gateway/', pid => \&nginx_worker },
    'policies'   => { port => $gw_port, prefix => '/gateway/p-', pid => \&nginx_worker },
    'plain'      => { port => $gw_port, prefix => '/plain/', pid => \&nginx_worker },
    'plain-b'    => { port => $gw_port, prefix => '/plain/', pid => \&nginx_worker },
    'schema'     => { port => $gw_port, prefix => '/gateway/s-', pid => \&nginx_worker },
    'gateway-4k' => { port => $gw_port, prefix => '/gateway4k/', pid => \&nginx_worker },
    'plain-4k'   => { port => $gw_port, prefix => '/plain4k/', pid => \&nginx_worker },
    'haproxy'    => { port => $hap_port, prefix => '/gateway/', pid => sub { $hap } },
    'caddy'      => { port => $caddy_port, prefix => '/gateway/', pid => sub { $caddy } },
);

my @MAIN = qw(gateway policies plain plain-b haproxy caddy);

my @WORKLOADS = (
    { name => 'text-64', kind => 'tp', conns => 50, size => 64, type => 'text',
      proxies => [@MAIN] },
    { name => 'binary-64', kind => 'tp', conns => 50, size => 64, type => 'binary',
      proxies => [@MAIN] },
    # the same load for every proxy: CPU per message without the batching
    # that a saturated proxy gets
    { name => 'text-64-fixed', kind => 'tp', conns => 50, size => 64, type => 'text',
      rate => $FIXED_RATE, proxies => [@MAIN] },
    { name => 'text-16k', kind => 'tp', conns => 20, size => 16384, type => 'text',
      proxies => [@MAIN, 'gateway-4k', 'plain-4k'] },
    { name => 'binary-16k', kind => 'tp', conns => 20, size => 16384, type => 'binary',
      proxies => [@MAIN, 'gateway-4k', 'plain-4k'] },
    # payload validation: the same JSON messages, with and without schemas
    { name => 'json-64', kind => 'tp', conns => 50, size => 64, type => 'json',
      proxies => ['gateway', 'schema', 'plain'] },
    { name => 'json-1k', kind => 'tp', conns => 50, size => 1024, type => 'json',
      proxies => ['gateway', 'schema', 'plain'] },
    { name => 'handshake', kind => 'hs', type => 'text', proxies => [@MAIN] },
    { name => 'idle', kind => 'idle', type => 'text', proxies => ['gateway', 'plain'] },
);

my %WL = map { $_->{name} => $_ } @WORKLOADS;

sub baseline { $_[0] =~ /-4k$/ ? 'plain-4k' : 'plain' }

my %pinning = (
    'nginx worker' => cpus_allowed(nginx_worker()),
    'haproxy' => cpus_allowed($hap),
    'caddy' => cpus_allowed($caddy),
    'echo' => cpus_allowed($echo),
    'load client' => cpus_allowed($$),
);
printf "bench: pinning (Cpus_allowed_list): %s\n",
    join(', ', map { "$_ $pinning{$_}" } sort keys %pinning);
die "bench: pinning is not as intended\n"
    if grep { $pinning{$_} ne '0' } 'nginx worker', 'haproxy', 'caddy'
    or grep { $pinning{$_} ne '1' } 'echo', 'load client';

# ---------------------------------------------------------------------------
# runs

sub run_tool {
    my (@args) = @_;
    my $out = "$tmp/run.out";
    my $t = time;
    my $pid = spawn('ws-bench', $out, {}, $TOOL, @args);
    waitpid($pid, 0);
    $t = time - $t;
    my $rc = $? >> 8;
    delete $MINE{$pid};
    my $text = slurp($out);
    my ($line) = grep { /^mode=/ } split /\n/, $text;
    my %kv = map { split /=/, $_, 2 } split ' ', $line // '';
    my ($err) = $text =~ /^ws-bench: (.*error.*)$/m;
    $kv{error_text} = $err // ($line ? '' : $text);
    $kv{rc} = $rc;
    $kv{wall_s} = sprintf('%.2f', $t);
    return \%kv;
}

sub url {
    my ($proxy, $type) = @_;
    my $p = $PROXY{$proxy};
    return "ws://127.0.0.1:$p->{port}$p->{prefix}bench-$type/1.0?$QUERY";
}

sub run_pair {
    my ($wl, $proxy, %opt) = @_;
    my $w = $WL{$wl};
    my $p = $PROXY{$proxy};
    my @common = ('--url', url($proxy, $w->{type}), map({ ('-H', $_) } @HEADERS));
    my $r;

    if ($w->{kind} eq 'tp') {
        $r = run_tool('throughput', @common, '-c', $w->{conns}, '-w', $WINDOW,
                      '-s', $w->{size},
                      $w->{type} eq 'json' ? '--json-text' : "--$w->{type}",
                      '-d', $opt{secs} // $SECS, '--warmup', $opt{warmup} // $WARMUP,
                      $w->{rate} ? ('--rate', $w->{rate}) : (),
                      '--cpu-pid', $p->{pid}->(), '--aux-pid', $echo);
        $r->{count} = $r->{msgs};

    } elsif ($w->{kind} eq 'hs') {
        $r = run_tool('handshake', @common, '-c', $HS_CONC, '-n', $opt{total} // $HS_TOTAL,
                      '--cpu-pid', $p->{pid}->(), '--aux-pid', $echo);
        $r->{count} = $r->{handshakes};

    } else {
        # a fresh worker, so that memory freed by earlier runs is not reused
        $nginx->reload or die "bench: nginx reload: " . $nginx->reload_error . "\n";
        poll_until(10, sub { probe($gw_port, "/gateway/bench-text/1.0?$QUERY") == 101 })
            or die "bench: the gateway is not serving after the reload\n";
        $r = run_tool('idle', @common, '-c', $IDLE, '--hold', $IDLE_HOLD,
                      '--ping-every', 1, '--batch', 500,
                      '--rss-pid', $p->{pid}->());
        if (($r->{established} // 0) > 0 && ($r->{rss_after_kb} // -1) >= 0) {
            $r->{kib_per_conn} = ($r->{rss_after_kb} - $r->{rss_before_kb}) / $r->{established};
            $r->{data_kib_per_conn} = ($r->{data_after_kb} - $r->{data_before_kb}) / $r->{established};
        }
    }

    if ($w->{kind} ne 'idle' && $r->{secs} && defined $r->{cpu_s}) {
        my $ours = $r->{cpu_s} + ($r->{self_cpu_s} // 0) + ($r->{aux_cpu_s} // 0);
        $r->{load_util} = (($r->{self_cpu_s} // 0) + ($r->{aux_cpu_s} // 0)) / $r->{secs};
        # CPU used meanwhile by processes that are not part of the run
        $r->{other_util} = max(0, (($r->{host_cpu_s} // $ours) - $ours) / $r->{secs});
        # CPU seconds per million echoed messages, or per 1000 handshakes
        my $per = $w->{kind} eq 'tp' ? 1e6 : 1e3;
        $r->{cpu_per} = $r->{count} ? $r->{cpu_s} / ($r->{count} / $per) : undef;
    }

    return $r;
}

my @FIELDS = qw(rate p50_us p99_us msgs handshakes secs errors close_errors
                cpu_s cpu_util cpu_per load_util other_util self_cpu_s aux_cpu_s
                host_cpu_s host_softirq_s host_steal_s
                established rss_before_kb rss_after_kb kib_per_conn
                data_before_kb data_after_kb data_kib_per_conn attempts wall_s rc);

open my $tsv, '>', "$OUT/runs.tsv" or die "write $OUT/runs.tsv: $!";
print $tsv join("\t", 'round', 'order', 'workload', 'proxy', @FIELDS, 'error_text'), "\n";

my %RESULTS;    # workload => proxy => [run, ...]
my $failures = 0;

sub record {
    my ($round, $order, $wl, $proxy, $r) = @_;
    print $tsv join("\t", $round, $order, $wl, $proxy,
                    map({ $r->{$_} // '' } @FIELDS), $r->{error_text} // ''), "\n";
    $tsv->flush;
    push @{ $RESULTS{$wl}{$proxy} }, $r;
}

sub short {
    my ($r) = @_;
    return "FAILED rc=$r->{rc}: $r->{error_text}" if $r->{rc} || !defined $r->{rate} && !defined $r->{established};
    return sprintf('%d conns, %.1f KiB/conn', $r->{established}, $r->{kib_per_conn} // 0)
        if defined $r->{established};
    return sprintf('%.0f/s p99 %.0f us cpu %.2f load %.2f other %.2f', $r->{rate}, $r->{p99_us},
                   $r->{cpu_util} // 0, $r->{load_util} // 0, $r->{other_util} // 0);
}

my @pairs;
for my $w (@WORKLOADS) {
    for my $p (@{ $w->{proxies} }) {
        push @pairs, [$w->{name}, $p] if !defined $ONLY || "$w->{name}/$p" =~ /$ONLY/;
    }
}

die "bench: BENCH_ONLY=$ONLY matches no pair\n" unless @pairs;

printf "bench: %d pairs, %d rounds, runs of %.1f + %.1f s, window %d, seed %d\n",
    scalar(@pairs), $ROUNDS, $WARMUP, $SECS, $WINDOW, $SEED;

# warm-up: every proxy once, not recorded
{
    my %seen;
    for my $pair (@pairs) {
        my ($wl, $proxy) = @$pair;
        next if $WL{$wl}{kind} eq 'idle' || $seen{ $WL{$wl}{kind} . $proxy }++;
        my $r = run_pair($wl, $proxy, secs => 1, warmup => 0.3, total => 400);
        printf "warm-up  %-13s %-10s %s\n", $wl, $proxy, short($r);
    }
}

# A run during which other processes of the machine used more than
# $MAX_OTHER CPUs is run again, once; the less disturbed of the two is kept
# (chosen by the disturbance, not by the figures).  A machine that stays
# busy gets no more than a quarter of the runs again: the time is bounded.
my $MAX_OTHER = $ENV{BENCH_MAX_OTHER} // 0.1;
my $MAX_RERUNS = int(@pairs * $ROUNDS / 4);
my ($reruns, $disturbed) = (0, 0);

for my $round (1 .. $ROUNDS) {
    my $order = 0;
    for my $pair (shuffle @pairs) {
        my ($wl, $proxy) = @$pair;
        my $r = run_pair($wl, $proxy);
        $r->{attempts} = 1;
        if (($r->{other_util} // 0) > $MAX_OTHER && $reruns < $MAX_RERUNS) {
            printf "round %d     %-13s %-10s disturbed (other %.2f CPUs): again\n",
                $round, $wl, $proxy, $r->{other_util};
            my $again = run_pair($wl, $proxy);
            $reruns++;
            $again->{attempts} = 2;
            $r = $again if ($again->{other_util} // 0) < $r->{other_util};
        }
        $disturbed++ if ($r->{other_util} // 0) > $MAX_OTHER;
        $failures++ if $r->{rc};
        record($round, ++$order, $wl, $proxy, $r);
        printf "round %d %2d  %-13s %-10s %s\n", $round, $order, $wl, $proxy, short($r);
    }
}

my $t_rounds = time - $T0;

# ---------------------------------------------------------------------------
# the admin API: creations, and activations seen by a second nginx

my (@create_ms, @visible_ms, @ids, $nginx2);

sub admin_measurements {
    for my $i (1 .. $ADMIN_WARMUP + $ADMIN_CREATES) {
        my $def = api_definition(sprintf('bench-admin-%04d', $i), 'text');
        my $body = json_encode($def);
        my $t = time;
        my $r = admin_exchange(POST => 'apis', $body);
        push @create_ms, (time - $t) * 1e3 if $i > $ADMIN_WARMUP;
        die "bench: POST /apis: $r->{status} $r->{content}\n" unless $r->{status} == 201;
        push @ids, [json_decode($r->{content})->{id}, $def->{apiName}];
    }

    $nginx2 = start_nginx(
        access_log => 0,
        error_log_level => 'warn',
        http => <<"EOF");
        ws_api_redis %%REDIS%%;
        server {
            listen 127.0.0.1:%%PORT_GW%%;
@{[ gateway_location('/gateway/', $BUFFERS) ]}
        }
EOF

    my $gw2 = $nginx2->port('gw');
    poll_until(10, sub { probe($gw2, "/gateway/bench-text/1.0?$QUERY") == 101 })
        or die "bench: the second nginx does not serve bench-text\n";

    for my $i (0 .. $ACTIVATIONS - 1) {
        my ($id, $name) = @{ $ids[$i] };
        my $path = "/gateway/$name/1.0?$QUERY";
        die "bench: $name is served before its activation\n" unless probe($gw2, $path) == 404;
        my $t = time;
        my $r = admin_exchange(PUT => "apis/$id/activate", "");
        die "bench: activate: $r->{status} $r->{content}\n" unless $r->{status} == 200;
        my $status;
        poll_until(5, sub { $status = probe($gw2, $path); $status != 404 })
            or die "bench: $name not served by the second nginx after 5 s\n";
        push @visible_ms, (time - $t) * 1e3;
        die "bench: $name answered $status on the second nginx\n" unless $status == 101;
    }
}

my $admin_ok = eval { admin_measurements(); 1 };

my $admin_error = $@;
if (!$admin_ok) {
    print "bench: the admin measurements failed: $admin_error";
    $failures++;
}

# ---------------------------------------------------------------------------
# the report

sub median {
    my @v = sort { $a <=> $b } grep { defined } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

sub quantile {
    my ($q, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return $v[ min($#v, int($q * @v)) ];
}

sub fmt {
    my ($f, $v) = @_;
    return defined $v ? sprintf($f, $v) : '-';
}

sub stat_of {
    my ($wl, $proxy, $key) = @_;
    return median(map { $_->{$key} } @{ $RESULTS{$wl}{$proxy} // [] });
}

my @report;
my ($sysname, $host, $release) = POSIX::uname();
my ($cpu_model) = slurp('/proc/cpuinfo') =~ /^model name\s*:\s*(.*)$/m;
my $nginx_v = `nginx -v 2>&1`;
my ($hap_v) = `haproxy -v 2>&1` =~ /version (\S+)/;
my ($caddy_v) = `caddy version 2>&1` =~ /^(\S+)/;
chomp $nginx_v;
$nginx_v =~ s/^nginx version: //;

push @report,
    'ws-api benchmark, ' . POSIX::strftime('%Y-%m-%d %H:%M:%S %Z', localtime),
    "module: $BUILD_INFO",
    sprintf('machine: %d CPUs (%s), Linux %s; %s, HAProxy %s, Caddy %s',
            scalar(grep { /^processor/ } split /\n/, slurp('/proc/cpuinfo')),
            $cpu_model // '?', $release, $nginx_v, $hap_v // '?', $caddy_v // '?'),
    sprintf('pinning: nginx worker (worker_processes 1), haproxy (nbthread 1), caddy (GOMAXPROCS=1) '
            . 'on CPU 0; ws-bench load client and echo backend on CPU 1'),
    sprintf('runs: %d rounds, every pair once per round in a shuffled order (seed %d); '
            . 'throughput runs %.1f s warm-up + %.1f s measured, window %d messages per connection',
            $ROUNDS, $SEED, $WARMUP, $SECS, $WINDOW),
    'buffers: proxy_buffer_size 64k; proxy_buffers 4 64k; proxy_busy_buffers_size 128k in '
        . 'gateway and plain; gateway-4k and plain-4k: nginx defaults (4k); HAProxy tune.bufsize 64k; '
        . 'Caddy its defaults',
    'gateway APIs: 5 declared parameters sent by the client (3 query: string, integer, boolean '
        . 'with values; 2 headers: date-time, double); text runs use an API declaring client text + '
        . 'server text, binary runs one declaring client binary + server binary',
    sprintf('machine busy before the start: %.2f CPUs used by other processes%s', $busy,
            $busy > 0.1 ? ' -- NOT QUIET, expect noise' : ''),
    '',
    'rate: echoes/s (a message each way through the proxy) or handshakes/s; p99 of the round trip '
        . '(or connect -> 101); cpu/M: proxy CPU seconds (utime+stime, all threads) per million echoes, '
        . 'or per 1000 handshakes; util: proxy CPU / wall time (1.00 = CPU 0 saturated); load: CPU 1 '
        . '(client + echo) / wall time; other: CPU used meanwhile by processes outside the benchmark '
        . '(in cores; above ~0.05 the figures are disturbed); x plain: ratio to plain nginx with the same buffers '
        . '(rate, then cpu/M). Medians over the rounds. With util near 1.00 the proxy is the '
        . 'bottleneck; with load near 1.00 it is the load side (CPU 1), and only cpu/M compares '
        . 'the proxies; with neither, the run was slowed by something else (see other).',
    '';

my $hdr = sprintf('%-13s %-10s %9s %8s %8s %8s %5s %5s %5s %7s %7s %6s',
                  'workload', 'proxy', 'rate', 'p50 ms', 'p99 ms', 'cpu/M', 'util',
                  'load', 'other', 'rate x', 'cpu x', 'errors');
push @report, $hdr, '-' x length $hdr;

for my $w (@WORKLOADS) {
    next if $w->{kind} eq 'idle' || !$RESULTS{ $w->{name} };
    for my $proxy (@{ $w->{proxies} }) {
        my $runs = $RESULTS{ $w->{name} }{$proxy} or next;
        my $rate = stat_of($w->{name}, $proxy, 'rate');
        my $cpu = stat_of($w->{name}, $proxy, 'cpu_per');
        my $brate = stat_of($w->{name}, baseline($proxy), 'rate');
        my $bcpu = stat_of($w->{name}, baseline($proxy), 'cpu_per');
        my $errors = sum(map { ($_->{errors} // 0) + ($_->{rc} && !$_->{errors} ? 1 : 0) } @$runs);
        push @report, sprintf('%-13s %-10s %9s %8s %8s %8s %5s %5s %5s %7s %7s %6d',
            $w->{name}, $proxy, fmt('%.0f', $rate),
            fmt('%.2f', (stat_of($w->{name}, $proxy, 'p50_us') // 0) / 1e3),
            fmt('%.2f', (stat_of($w->{name}, $proxy, 'p99_us') // 0) / 1e3),
            fmt($w->{kind} eq 'hs' ? '%.3f' : '%.2f', $cpu),
            fmt('%.2f', stat_of($w->{name}, $proxy, 'cpu_util')),
            fmt('%.2f', stat_of($w->{name}, $proxy, 'load_util')),
            fmt('%.2f', stat_of($w->{name}, $proxy, 'other_util')),
            $rate && $brate ? sprintf('%.3f', $rate / $brate) : '-',
            $cpu && $bcpu ? sprintf('%.3f', $cpu / $bcpu) : '-',
            $errors);
    }
}

push @report, '',
    'handshake: cpu/M is CPU seconds per 1000 handshakes; '
        . "$HS_TOTAL handshakes, $HS_CONC at a time, each: connect, 101, close frames, EOF.",
    sprintf('text-64-fixed: every proxy is offered the same %d messages/s; rate is what came back '
            . '(below %d: the proxy could not keep up)', $FIXED_RATE, $FIXED_RATE * 0.97),
    '';

# the noise: plain-b against plain, round by round
push @report, 'noise: plain-b / plain (the same location, two labels), per round: median [min .. max]';
for my $w (@WORKLOADS) {
    my $pa = $RESULTS{ $w->{name} }{plain} or next;
    my $pb = $RESULTS{ $w->{name} }{'plain-b'} or next;
    my (@rr, @cr);
    for my $i (0 .. min($#$pa, $#$pb)) {
        push @rr, $pb->[$i]{rate} / $pa->[$i]{rate}
            if $pa->[$i]{rate} && defined $pb->[$i]{rate};
        push @cr, $pb->[$i]{cpu_per} / $pa->[$i]{cpu_per}
            if $pa->[$i]{cpu_per} && defined $pb->[$i]{cpu_per};
    }
    next unless @rr;
    push @report, sprintf('  %-13s rate %.3f [%.3f .. %.3f]   cpu/M %s',
        $w->{name}, median(@rr), min(@rr), max(@rr),
        @cr ? sprintf('%.3f [%.3f .. %.3f]', median(@cr), min(@cr), max(@cr)) : '-');
}

# buffer sizing
my @bufrows;
for my $wl (qw(text-16k binary-16k)) {
    for my $proxy (qw(gateway plain)) {
        my $r64 = stat_of($wl, $proxy, 'rate');
        my $r4 = stat_of($wl, "$proxy-4k", 'rate');
        next unless $r64 && $r4;
        push @bufrows, sprintf('  %-11s %-8s rate %8.0f (64k) %8.0f (4k) 4k/64k %.3f   cpu/M %s (64k) %s (4k)',
            $wl, $proxy, $r64, $r4, $r4 / $r64,
            fmt('%.2f', stat_of($wl, $proxy, 'cpu_per')),
            fmt('%.2f', stat_of($wl, "$proxy-4k", 'cpu_per')));
    }
}
push @report, '', 'buffer sizing, 16 KiB messages (proxy_buffer_size 64k vs the 4k default):', @bufrows
    if @bufrows;

# idle connections
if (my $idle = $RESULTS{idle}) {
    my %k;
    push @report, '', sprintf('idle: %d connections held %d s (pinged every 1 s), '
        . 'RSS growth of the nginx worker (fresh after a reload) per connection:', $IDLE, $IDLE_HOLD);
    for my $proxy (qw(gateway plain)) {
        my $runs = $idle->{$proxy} or next;
        $k{$proxy} = median(map { $_->{kib_per_conn} } @$runs);
        push @report, sprintf('  %-8s %s KiB RSS per connection (VmData %s KiB; established %s, errors %d; runs: %s)',
            $proxy, fmt('%.2f', $k{$proxy}),
            fmt('%.1f', median(map { $_->{data_kib_per_conn} } @$runs)),
            median(map { $_->{established} } @$runs) // '-',
            sum(map { $_->{errors} // 0 } @$runs),
            join(' ', map { fmt('%.2f', $_->{kib_per_conn}) } @$runs));
    }
    push @report, sprintf('  gateway - plain: %.2f KiB per connection', $k{gateway} - $k{plain})
        if defined $k{gateway} && defined $k{plain};
}

push @report, sprintf('  (%d, not 10,000: the hard RLIMIT_NOFILE is %d and an nginx worker '
    . 'needs two descriptors per proxied connection)', $IDLE, $NOFILE)
    if $RESULTS{idle} && $IDLE < 10000;

push @report, '';
push @report,
    sprintf('admin create (%d POST /apis after %d not counted, keep-alive, sequential): '
            . 'p50 %.2f ms, p99 %.2f ms, max %.2f ms',
            scalar @create_ms, $ADMIN_WARMUP, quantile(0.5, @create_ms), quantile(0.99, @create_ms),
            max(@create_ms))
    if @create_ms;
push @report,
    sprintf('activation visible on a second nginx (%d activations via the first, '
            . 'from the PUT sent to the first non-404 handshake): p50 %.1f ms, p99 %.1f ms, max %.1f ms',
            scalar @visible_ms, quantile(0.5, @visible_ms), quantile(0.99, @visible_ms), max(@visible_ms))
    if @visible_ms;
push @report, "admin measurements FAILED: $admin_error" unless $admin_ok;

my $total = time - $T0;
push @report, '',
    sprintf('disturbed runs (other processes over %.2f CPUs): %d run again (at most %d), '
            . '%d of %d kept disturbed', $MAX_OTHER, $reruns, $MAX_RERUNS, $disturbed,
            scalar(@pairs) * $ROUNDS),
    sprintf('time: %.0f s in all (%.0f s of rounds and warm-up); failed runs: %d; runs in %s',
            $total, $t_rounds, $failures, "build/bench/runs.tsv");

my $text = join("\n", @report) . "\n";
spit("$OUT/report.txt", $text);
print "\n", $text;

$nginx2->stop if $nginx2;
stop_mine();

exit($failures ? 1 : 0);
