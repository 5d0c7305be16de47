package WsApi::Test;

# Test harness for the ws-api suite, in the style of nginx-tests.
# See the POD below (perldoc t/lib/WsApi/Test.pm) for the full API.

use strict;
use warnings;

use Test::More ();
use Carp ();
use Exporter 'import';
use Cwd qw(abs_path);
use File::Basename qw(dirname basename);
use File::Path qw(make_path remove_tree);
use File::Temp ();
use IO::Socket::INET;
use IO::Select;
use Socket ();
use POSIX ();
use Scalar::Util ();
use Time::HiRes ();
use JSON::PP ();
use MIME::Base64 qw(encode_base64);

our @EXPORT = qw(
    start_redis start_nginx nginx_test start_backend
    http_request raw_request ws_connect ws_frame
    poll_until json_encode json_decode json_is
    free_port tmpdir repo_root module_path make_cert
    stop_all stray_processes timeout_scale sample_http
);

our $VERSION = '1.0';

=head1 NAME

WsApi::Test - test harness for the ws-api nginx module (t/*.t)

=head1 SYNOPSIS

    use FindBin; use lib "$FindBin::Bin/lib";
    use Test::More;
    use WsApi::Test;

    my $redis   = start_redis();
    my $backend = start_backend();
    my $nginx   = start_nginx(http => <<'EOF');
        ws_api_redis %%REDIS%%;
        server {
            listen 127.0.0.1:%%PORT_GW%%;
            location /gateway/ { ws_api_gateway; proxy_pass $ws_api_backend; ... }
        }
    EOF
    my $ws = ws_connect(port => $nginx->port('gw'), path => '/gateway/x/1.0');
    is($ws->status, 101, 'upgraded');
    $ws->send_text('hello');
    is($ws->read_message->{payload}, 'hello', 'echoed');
    done_testing;

Every process the harness starts runs on free ports, lives in the test file's
own temporary directory and is stopped at the end (END block, also when the
test dies or gets SIGINT/SIGTERM; a SIGKILLed test still takes its children
down through PR_SET_PDEATHSIG).  Objects live until the end of the test
file, not of their scope: call ->stop to stop one earlier.  When a test fails, the tails of the nginx
error logs, backend logs and Redis logs are printed with diag().

=head1 ENVIRONMENT

    WSAPI_KEEP=1           keep the temporary directory (its path is printed)
    WSAPI_TMPDIR=DIR       where temporary directories go (default /tmp)
    WSAPI_MODULE=PATH      the module .so (default REPO/build/ngx_http_ws_api_module.so)
    WSAPI_NGINX=PATH       nginx binary (default /usr/sbin/nginx)
    WSAPI_REDIS=PATH       redis-server binary (default: redis-server)
    WSAPI_PYTHON=PATH      python for the backend (default /usr/bin/python3)
    WSAPI_DEBUG=1          nginx error_log level debug instead of info
    WSAPI_TIMEOUT_SCALE=N  multiply every default deadline by N (slow machines)

=head1 FUNCTIONS (exported)

=head2 General

    tmpdir()                 the test file's temporary directory (created on demand)
    repo_root()              absolute path of the repository
    module_path()            the module .so that load_module uses
    sample_http()            the http block of conf/nginx.conf with %%REDIS%%,
                             %%PORT_ADMIN%%, %%PORT_GW%%, %%TMP%% for its
                             address, ports and build/run/, html/ absolute
    free_port()              a free TCP port on 127.0.0.1 (bind port 0), never the same twice
    poll_until($secs, sub{}) call sub until it returns true; elapsed seconds
                             (a true string like "0.153") or undef on timeout
    timeout_scale($secs)     $secs times WSAPI_TIMEOUT_SCALE
    json_encode($data)       canonical UTF-8 JSON
    json_decode($bytes)      decoded data (dies on bad JSON)
    json_is($got, $expected, $name)  is_deeply with both sides printed on failure
    make_cert()              self-signed cert for CN/SAN localhost+127.0.0.1:
                             returns ($cert_path, $key_path)
    stop_all()               stop everything started so far (END does it too)
    stray_processes()        processes still alive that the harness started or
                             whose command line names the temp dir ("pid cmdline")

=head2 Redis: start_redis(%opt) -> WsApi::Test::Redis

Options: C<password>, C<unixsocket> (1: also listen on TMP/redis-N/redis.sock),
C<args> (extra redis-server arguments), C<port> (fixed port), C<timeout>.
Started with CLI arguments only, persistence off (C<save "">, C<appendonly no>),
C<set-proc-title no> so its command line names the temp dir, and
C<enable-debug-command local> (DEBUG SLEEP simulates a slow Redis).

    ->port / ->addr          port, "127.0.0.1:PORT"
    ->unixsocket             socket path (with unixsocket => 1)
    ->cmd(@args)             run a command; replies: scalars, undef for nil,
                             arrays (list in list context, array ref in scalar);
                             dies on an error reply or a timeout
    ->try_cmd(@args)         ($reply, $error_message): does not die on error replies
    ->info($section)         INFO parsed to a hash; 'commandstats' gives
                             {get => {calls => 3, usec => ..., ...}, ...}
    ->flushall               FLUSHALL
    ->stop(save => 0)        stop (SIGTERM: unsaved data is lost, like a crash)
    ->start                  start again on the same port
    ->restart                SHUTDOWN SAVE, then start: data survives (RDB in its dir)
    ->pause / ->resume       SIGSTOP / SIGCONT: Redis accepts TCP but never answers
    ->client                 another connection (WsApi::Test::Redis::Client): ->cmd,
                             ->try_cmd, ->next_reply($timeout) (pushed replies, e.g.
                             after SUBSCRIBE; undef on timeout), ->stop
    ->monitor                WsApi::Test::Redis::Monitor (MONITOR on its own connection):
        ->commands(sync => 1, all => 0)  commands seen so far as
                             {time, db, client, args => [...], cmd => 'get'}; sync
                             waits until every command sent before the call is in;
                             the harness's own ->cmd connection is left out unless all
        ->clear              forget what was seen
        ->stop
    ->pid, ->dir, ->log (contents of redis.log), ->is_running

=head2 nginx

start_nginx(%opt) -> WsApi::Test::Nginx, nginx_test(%opt) -> ($exit_code, $output)

Options:

    http             text inside http {}
    main             text at top level (e.g. "worker_processes 2;")
    events           text inside events {} (default worker_connections 4096)
    load_module      1 (default): load_module the ws-api module first
    redis, backend   objects used for %%REDIS%% / %%BACKEND%% (default: the
                     last one started)
    vars             {NAME => value} for extra %%NAME%% placeholders
    ports            {name => port} to pin named ports
    error_log_level  info (debug with WSAPI_DEBUG=1)
    access_log       1 (default): TMP/access.log; 0: none; or a path
    log_format       format string for the access log (named "wsapi_test")
    temp_paths       1 (default): client_body/proxy/... temp paths inside TMP
    test             1 (default): run "nginx -t" first, die if it fails
    timeout          startup deadline (default 20 s)

Placeholders: %%PORT_NAME%% (a free port, allocated on demand, the same for the
same NAME, see ->port('name')), %%TMP%% (this nginx's directory), %%REDIS%%
(127.0.0.1:PORT), %%REDIS_PORT%%, %%REDIS_UNIX%% (unix:PATH), %%BACKEND%%
(127.0.0.1:PORT), %%BACKEND_PORT%%, %%MODULE%%, %%ROOT%% (repository),
%%CERT%% / %%KEY%% (make_cert), and any %%NAME%% from vars.  An unknown
placeholder is an error.

The generated nginx.conf never includes /etc/nginx: daemon off, master_process on,
pid/error_log/temp paths in TMP, "user root;" when run as root, worker_processes 1
unless main sets it.  nginx runs as a child process; start waits until every
listen port is listening and the workers are up.

    ->port('name')           the port for %%PORT_NAME%% (allocated if new)
    ->reload(%opt)           optionally new http/main/events/vars/... (any start
                             option), then HUP; waits until a new generation of
                             workers replaced the old ones; returns the elapsed
                             seconds, or false (and ->reload_error) if nginx -t
                             (skipped with test => 0) or the reload failed
                             ([emerg] in the log); on failure the previous
                             configuration is written back
    ->stop(graceful => 1)    QUIT (waits for open connections), then TERM, then
                             KILL after deadlines (graceful => 0: TERM first)
    ->error_log(from => $mark)  contents of error.log (from a ->log_mark offset)
    ->log_mark               current size of error.log
    ->wait_error_log(qr//, $timeout, from => $mark)  elapsed or undef
    ->access_log             contents of access.log; ->access_log_path
    ->worker_pids(all => 0)  worker PIDs (all => 1: also those shutting down)
    ->pid, ->dir, ->conf (path), ->conf_text, ->is_running

=head2 WebSocket test backend: start_backend(%opt) -> WsApi::Test::Backend

t/lib/ws_backend.py (see its docstring for the protocol and control commands).
Options: C<deflate>, C<handshake_extra> (bytes), C<no_echo>, C<log_max>, C<args>.

    ->port, ->addr, ->url($path)   "ws://127.0.0.1:PORT$path"
    ->log(%filter)           parsed log entries (hash refs, JSON booleans as 1/0);
                             filters: event, conn,
                             path (string or qr//), where => sub { $_[0]->{...} }
    ->handshakes(%f), ->frames(%f), ->messages(%f)  (messages leaves out "!"
                             commands unless commands => 1)
    ->wait_log(%filter, count => 1, timeout => 10)  entries, or () on timeout
                             (scalar context: the first entry, or undef)
    ->last_conn              id of the last connection that sent a handshake
    ->stop, ->pid, ->log_path, ->is_running

=head2 HTTP

    http_request($method, $url, %opt) -> {status, reason, headers, body, json, error}
        opt: headers => {..}, body => bytes, json => data (encoded, content-type
        set), user/password (basic auth), timeout, byte_delay (seconds between
        bytes: sent through raw_request).  headers: lower-case names, array refs
        for repeated headers.  json keeps JSON::PP booleans (the contract has
        real booleans: compare with JSON::PP::true/false).  Never dies on
        4xx/5xx; transport errors give 599.
    raw_request(port => , data => $bytes | method/path/headers/body, host,
        tls, byte_delay, chunk => 1, timeout) -> same hash plus raw, eof
        (raw socket: slow senders, malformed requests).

=head2 WebSocket client: ws_connect(%opt) -> WsApi::Test::WS

Options: port (required), host (127.0.0.1), path ('/'), tls, lib (1: the
handshake and frames go through Protocol::WebSocket), timeout (10), headers
(hash or array of pairs), key / version / upgrade / connection (override; undef
leaves the header out), method, protocol, extensions, origin, host_header,
raw_extra (bytes sent right after the request in the same write), request
(a complete raw request instead), wait => 0 (send only; ->read_handshake
later).

    ->status, ->reason, ->headers, ->header($name), ->body, ->json  (the answer;
                             for non-101 answers body/json hold the error)
    ->accept_ok              Sec-WebSocket-Accept matched the key
    ->send_frame($opcode, $payload, fin => 1, mask => 1, rsv => 0, mask_key,
                 len => declared length override)   true if written
    ->send_text, ->send_binary, ->ping, ->pong, ->close($code, $reason)
                             (close() sends 1000, close(undef) no payload)
    ->send_raw($bytes, delay => $secs_per_byte)
    ->read_frame($timeout)   {opcode, fin, rsv, masked, payload, len} or undef
                             (timeout or EOF: see ->eof)
    ->read_message($timeout) next message: data fragments reassembled
                             ({opcode, payload, frames, rsv, compressed}),
                             control frames returned as they come
    ->closed_by_peer($timeout)  true once the peer closed TCP (frames read
                             meanwhile are kept in ->skipped)
    ->close_handshake($code, $reason, $timeout)  send close, wait for the
                             answer and EOF; returns the code received
    ->close_code_received, ->close_reason_received  (first close frame seen;
                             1005 when it had no payload)
    ->read_bytes($n, $timeout)  exactly $n raw bytes off the stream (or undef)
    ->request                the handshake request as sent
    ->lib_error              what Protocol::WebSocket objected to (lib => 1)
    ->eof, ->disconnect (drop TCP), ->sock
    ws_frame($opcode, $payload, %opt)  the bytes of one frame (same options as
                             send_frame), for hand-built sequences

=cut

# ---------------------------------------------------------------------------
# globals

my $MAIN_PID = $$;
my $ROOT;
my $TMP;
my %USED_PORTS;
my @OBJECTS;        # everything started, kept alive until END (stop_all, diagnostics)
my %PIDS;           # pid => description, for stray_processes
my $CERT;
my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

$SIG{PIPE} = 'IGNORE';
for my $sig (qw(INT TERM HUP)) {
    next if defined $SIG{$sig} && $SIG{$sig} ne 'DEFAULT' && $SIG{$sig} ne '';
    my $num = { INT => 2, TERM => 15, HUP => 1 }->{$sig};
    $SIG{$sig} = sub {
        Test::More::diag("WsApi::Test: caught SIG$sig, cleaning up");
        exit 128 + $num;
    };
}

sub timeout_scale {
    my ($t) = @_;
    return $t * ($ENV{WSAPI_TIMEOUT_SCALE} || 1);
}

sub repo_root {
    return $ROOT //= abs_path(dirname(abs_path(__FILE__)) . '/../../..');
}

# The body of "http { ... }" of conf/nginx.conf (what "make run" starts),
# its ports and paths moved to a test's own: %%REDIS%%, %%PORT_ADMIN%%,
# %%PORT_GW%%, %%TMP%%, and html/ from the repository.

sub sample_http {
    my $conf = do {
        local $/;
        open my $fh, '<', repo_root() . '/conf/nginx.conf' or die $!;
        <$fh>;
    };
    my ($http) = $conf =~ /^http\s*\{\n(.*)^\}/ms or return undef;

    $http =~ s/127\.0\.0\.1:6380/%%REDIS%%/g;
    $http =~ s/127\.0\.0\.1:8081/127.0.0.1:%%PORT_ADMIN%%/g;
    $http =~ s/127\.0\.0\.1:8080/127.0.0.1:%%PORT_GW%%/g;
    $http =~ s{\.\./build/run/}{%%TMP%%/}g;
    $http =~ s{build/run/tmp/}{%%TMP%%/}g;
    $http =~ s{build/run/}{%%TMP%%/}g;
    my $html = repo_root() . '/html/';
    $http =~ s{(alias\s+)html/;}{$1$html;}g;
    return $http;
}

sub module_path {
    return $ENV{WSAPI_MODULE} // repo_root() . '/build/ngx_http_ws_api_module.so';
}

sub tmpdir {
    return $TMP if defined $TMP;
    my $base = $ENV{WSAPI_TMPDIR} // '/tmp';
    make_path($base) unless -d $base;
    (my $name = basename($0)) =~ s/\.t$//;
    $name =~ s/[^A-Za-z0-9_.-]+/_/g;
    $TMP = File::Temp::tempdir("wsapi-$name-XXXXXX", DIR => $base, CLEANUP => 0);
    chmod 0755, $TMP;
    return $TMP;
}

sub _subdir {
    my ($kind) = @_;
    my $t = tmpdir();
    my $n = 1;
    $n++ while -e "$t/$kind-$n";
    make_path("$t/$kind-$n");
    return "$t/$kind-$n";
}

sub free_port {
    for (1 .. 50) {
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
            Listen => 1, ReuseAddr => 0,
        ) or die "free_port: $!";
        my $port = $s->sockport;
        close $s;
        next if $USED_PORTS{$port}++;
        return $port;
    }
    die "free_port: no free port found";
}

sub poll_until {
    my ($timeout, $code) = @_;
    my $start = Time::HiRes::time();
    my $deadline = $start + $timeout;
    my $delay = 0.01;
    while (1) {
        return sprintf('%.3f', Time::HiRes::time() - $start) if $code->();
        last if Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep($delay);
        $delay = $delay * 1.5 > 0.2 ? 0.2 : $delay * 1.5;
    }
    return undef;
}

sub json_encode { $JSON->encode($_[0]) }
sub json_decode { $JSON->decode($_[0]) }

sub json_is {
    my ($got, $expected, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = Test::More::is_deeply($got, $expected, $name);
    unless ($ok) {
        my $pretty = JSON::PP->new->utf8->canonical->pretty->allow_nonref
            ->allow_blessed->convert_blessed;
        Test::More::diag("got:      " . eval { $pretty->encode($got) } // "$got");
        Test::More::diag("expected: " . eval { $pretty->encode($expected) } // "$expected");
    }
    return $ok;
}

sub make_cert {
    my (%opt) = @_;
    return @$CERT if $CERT;
    my $dir = tmpdir();
    my ($crt, $key) = ("$dir/cert.pem", "$dir/key.pem");
    my ($rc, $out) = _run_capture([
        'openssl', 'req', '-x509', '-newkey', 'ec',
        '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', $key, '-out', $crt, '-days', '2',
        '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]);
    die "make_cert: openssl failed: $out" if $rc;
    chmod 0644, $key;
    $CERT = [$crt, $key];
    return @$CERT;
}

# ---------------------------------------------------------------------------
# processes

# Objects stay referenced here until END: perl frees the test file's lexicals
# before END blocks run, and the failure diagnostics need the objects.
sub _register {
    my ($obj) = @_;
    push @OBJECTS, $obj;
}

# Make the child die with us even if we are SIGKILLed (Linux prctl).
sub _set_pdeathsig {
    my %nr = (x86_64 => 157, aarch64 => 167, i686 => 172, i386 => 172);
    my ($arch) = (POSIX::uname())[4];
    my $nr = $nr{$arch} or return;
    syscall($nr, 1, 15);    # PR_SET_PDEATHSIG, SIGTERM
}

# Fork and exec @$cmd with stdout/stderr to $out (a file). Returns the pid.
sub _spawn {
    my ($cmd, $out, $what) = @_;
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        _set_pdeathsig();
        open STDIN, '<', '/dev/null';
        if (defined $out) {
            open STDOUT, '>>', $out or POSIX::_exit(126);
            open STDERR, '>&', \*STDOUT;
        }
        { no warnings 'exec'; exec { $cmd->[0] } @$cmd; }
        print STDERR "exec $cmd->[0]: $!\n";
        POSIX::_exit(127);
    }
    $PIDS{$pid} = $what // $cmd->[0];
    return $pid;
}

sub _run_capture {
    my ($cmd) = @_;
    my $out = tmpdir() . "/.capture.$$." . int(rand(1e9));
    my $pid = _spawn($cmd, $out, "capture");
    waitpid($pid, 0);
    my $rc = $? >> 8;
    delete $PIDS{$pid};
    my $text = _slurp($out) // '';
    unlink $out;
    return ($rc, $text);
}

# Is $pid alive (and not a zombie)? Reaps it if it is our child.
sub _alive {
    my ($pid) = @_;
    return 0 unless $pid;
    my $r = waitpid($pid, POSIX::WNOHANG());
    return 0 if $r == $pid;
    return 0 unless kill 0, $pid;
    my $stat = _slurp("/proc/$pid/stat") // return 0;
    return 0 if $stat =~ /\)\s+[ZX]\s/;
    return 1;
}

# Signal $pid with each signal in turn, waiting up to the deadline after each.
sub _terminate {
    my ($pid, @steps) = @_;
    @steps = (TERM => 10, KILL => 5) unless @steps;
    while (my ($sig, $wait) = splice @steps, 0, 2) {
        return 1 unless _alive($pid);
        kill $sig, $pid;
        return 1 if poll_until(timeout_scale($wait), sub { !_alive($pid) });
    }
    return !_alive($pid);
}

sub _slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return undef;
    local $/;
    my $data = <$fh>;
    return $data // '';
}

sub _tail {
    my ($text, $n) = @_;
    return '' unless defined $text;
    my @l = split /\n/, $text;
    @l = @l[-$n .. -1] if @l > $n;
    return join("\n", map { length > 1000 ? substr($_, 0, 1000) . '...' : $_ } @l);
}

sub _cmdline {
    my ($pid) = @_;
    my $c = _slurp("/proc/$pid/cmdline") // return undef;
    $c =~ s/\0+$//;
    $c =~ s/\0/ /g;
    return $c;
}

# children of $pid: [pid, cmdline]
sub _children {
    my ($ppid) = @_;
    my @out;
    opendir(my $dh, '/proc') or return;
    for my $p (grep { /^\d+$/ } readdir $dh) {
        my $stat = _slurp("/proc/$p/stat") // next;
        my $i = rindex($stat, ')');
        my ($state, $pp) = split ' ', substr($stat, $i + 1);
        next unless defined $pp && $pp == $ppid && $state ne 'Z';
        push @out, [$p, _cmdline($p) // ''];
    }
    return @out;
}

sub stray_processes {
    my @out;
    my %seen;
    if (defined $TMP) {
        opendir(my $dh, '/proc') or return;
        for my $p (grep { /^\d+$/ } readdir $dh) {
            next if $p == $$;
            my $c = _cmdline($p) // next;
            next unless index($c, $TMP) >= 0;
            next unless _alive($p);
            push @out, "$p $c" unless $seen{$p}++;
        }
    }
    for my $p (sort keys %PIDS) {
        next if $seen{$p};
        next unless _alive($p);
        my $c = _cmdline($p) // next;
        next unless $c =~ /nginx|redis|python|ws_backend/;
        push @out, "$p $c";
    }
    return @out;
}

sub stop_all {
    my (%opt) = @_;
    for my $obj (reverse @OBJECTS) {
        next unless defined $obj;
        eval { $obj->stop(graceful => 0) };
        Test::More::diag("stop: $@") if $@;
    }
}

sub _dump_diagnostics {
    for my $obj (@OBJECTS) {
        next unless defined $obj;
        eval { $obj->diagnostics; 1 } or Test::More::diag("diagnostics: $@");
    }
}

END {
    if ($$ == $MAIN_PID) {
        my $exit = $?;
        local ($?, $@, $!);
        my $failed = $exit != 0 || !Test::More->builder->is_passing;
        _dump_diagnostics() if $failed;
        stop_all();
        @OBJECTS = ();
        if (my @stray = stray_processes()) {
            Test::More::diag("killing stray processes: @stray");
            kill 'KILL', map { (split ' ')[0] } @stray;
        }
        if (defined $TMP) {
            if ($ENV{WSAPI_KEEP}) {
                Test::More::diag("WSAPI_KEEP: files kept in $TMP");
            } else {
                remove_tree($TMP);
            }
        }
    }
}

# ---------------------------------------------------------------------------
# Redis

sub start_redis {
    my $r = WsApi::Test::Redis->new(@_);
    $r->start;
    return $r;
}

package WsApi::Test::Redis;

use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes ();
use Errno qw(EINTR);

my $LAST_REDIS;

sub last_started { $LAST_REDIS }

sub new {
    my ($class, %opt) = @_;
    my $self = bless {
        opt     => \%opt,
        dir     => WsApi::Test::_subdir('redis'),
        port    => $opt{port},
        fixed   => defined $opt{port},
        timeout => $opt{timeout} // WsApi::Test::timeout_scale(10),
        buf     => '',
    }, $class;
    $self->{unixsocket} = "$self->{dir}/redis.sock" if $opt{unixsocket};
    WsApi::Test::_register($self);
    return $self;
}

sub port       { $_[0]{port} }
sub addr       { "127.0.0.1:$_[0]{port}" }
sub unixsocket { $_[0]{unixsocket} }
sub pid        { $_[0]{pid} }
sub dir        { $_[0]{dir} }
sub log        { WsApi::Test::_slurp("$_[0]{dir}/redis.log") // '' }
sub is_running { WsApi::Test::_alive($_[0]{pid}) }

sub start {
    my ($self) = @_;
    die "redis already running" if $self->is_running;
    my $bin = $ENV{WSAPI_REDIS} // 'redis-server';
    my $err = '';
    for my $attempt (1 .. 5) {
        $self->{port} = WsApi::Test::free_port() unless $self->{fixed} || ($attempt == 1 && $self->{port});
        my $d = $self->{dir};
        my @cmd = ($bin,
            '--port', $self->{port}, '--bind', '127.0.0.1',
            '--dir', $d, '--dbfilename', 'dump.rdb',
            '--save', '', '--appendonly', 'no',
            '--daemonize', 'no', '--logfile', "$d/redis.log",
            '--set-proc-title', 'no', '--protected-mode', 'no',
            '--enable-debug-command', 'local', '--loglevel', 'notice');
        push @cmd, '--requirepass', $self->{opt}{password} if defined $self->{opt}{password};
        push @cmd, '--unixsocket', $self->{unixsocket}, '--unixsocketperm', '777'
            if $self->{unixsocket};
        push @cmd, @{ $self->{opt}{args} || [] };
        my $logpos = -s "$d/redis.log" // 0;
        $self->{pid} = WsApi::Test::_spawn(\@cmd, "$d/redis.stdout", "redis-server");
        $self->_disconnect;
        my $up = WsApi::Test::poll_until(WsApi::Test::timeout_scale(15), sub {
            return 1 unless $self->is_running;
            my (undef, $e) = eval { $self->try_cmd('PING') };
            return !$@ && !$e;
        });
        if ($up && $self->is_running) {
            $LAST_REDIS = $self;
            Scalar::Util::weaken($LAST_REDIS);
            return $self;
        }
        my $log = substr($self->log, $logpos);
        $err = "redis-server did not start (port $self->{port}):\n"
            . WsApi::Test::_tail($log . (WsApi::Test::_slurp("$d/redis.stdout") // ''), 20);
        WsApi::Test::_terminate($self->{pid}, KILL => 5);
        last if $self->{fixed} || $log !~ /Address already in use/;
    }
    die $err;
}

sub stop {
    my ($self, %opt) = @_;
    return unless $self->{pid};
    $self->resume if $self->{paused};
    if ($opt{save} && $self->is_running) {
        $self->_shutdown('SAVE');
    }
    WsApi::Test::_terminate($self->{pid}, TERM => 10, KILL => 5);
    $self->_disconnect;
    delete $self->{pid};
}

sub _shutdown {
    my ($self, $how) = @_;
    eval {
        my $s = $self->_connect;
        $self->_write(WsApi::Test::Redis::_encode('SHUTDOWN', $how));
        # the connection closes on success; an error reply means it refused
        my $r = eval { $self->_read_reply };
        die "SHUTDOWN $how: $r->{message}\n" if ref $r eq 'WsApi::Test::Redis::Error';
    };
    die $@ if $@ && $@ =~ /^SHUTDOWN/;
    WsApi::Test::poll_until(WsApi::Test::timeout_scale(15), sub { !$self->is_running });
    $self->_disconnect;
}

sub restart {
    my ($self) = @_;
    $self->resume if $self->{paused};
    $self->_shutdown('SAVE');
    WsApi::Test::_terminate($self->{pid}, KILL => 5);
    $self->start;
}

sub _state {
    my ($self) = @_;
    my $stat = WsApi::Test::_slurp("/proc/$self->{pid}/stat") // return '';
    return (split ' ', substr($stat, rindex($stat, ')') + 1))[0];
}

sub pause {
    my ($self) = @_;
    kill 'STOP', $self->{pid};
    $self->{paused} = 1;
    WsApi::Test::poll_until(WsApi::Test::timeout_scale(5), sub { $self->_state =~ /^[Tt]$/ });
}

sub resume {
    my ($self) = @_;
    kill 'CONT', $self->{pid};
    $self->{paused} = 0;
    WsApi::Test::poll_until(WsApi::Test::timeout_scale(5), sub { $self->_state !~ /^[Tt]$/ });
}

sub flushall { $_[0]->cmd('FLUSHALL') }

sub diagnostics {
    my ($self) = @_;
    Test::More::diag("---- redis $self->{dir} (port $self->{port}) log tail:\n"
        . WsApi::Test::_tail($self->log, 15));
}

sub DESTROY {
    my ($self) = @_;
    return unless $$ == $MAIN_PID;
    local ($?, $@);
    eval { $self->stop } if $self->{pid};
}

# -- client -------------------------------------------------------------

sub _encode {
    my @args = @_;
    my $s = '*' . scalar(@args) . "\r\n";
    for my $a (@args) {
        $a = '' unless defined $a;
        utf8::encode($a) if utf8::is_utf8($a);
        $s .= '$' . length($a) . "\r\n$a\r\n";
    }
    return $s;
}

sub _connect {
    my ($self) = @_;
    return $self->{sock} if $self->{sock};
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Proto => 'tcp',
        Timeout => $self->{timeout},
    ) or die "redis connect 127.0.0.1:$self->{port}: $!\n";
    $s->autoflush(1);
    $self->{sock} = $s;
    $self->{buf} = '';
    $self->{client_addr} = '127.0.0.1:' . $s->sockport;
    if (defined $self->{opt}{password}) {
        $self->_write(_encode('AUTH', $self->{opt}{password}));
        my $r = $self->_read_reply;
        die "redis AUTH: $r->{message}\n" if ref $r eq 'WsApi::Test::Redis::Error';
    }
    return $s;
}

sub _disconnect {
    my ($self) = @_;
    close $self->{sock} if $self->{sock};
    delete $self->{sock};
    $self->{buf} = '';
}

sub client_addr { $_[0]{client_addr} }

sub _write {
    my ($self, $data) = @_;
    my $s = $self->{sock};
    my $off = 0;
    my $sel = IO::Select->new($s);
    my $deadline = Time::HiRes::time() + $self->{timeout};
    while ($off < length $data) {
        my $n = syswrite($s, $data, length($data) - $off, $off);
        if (defined $n) { $off += $n; next; }
        next if $! == EINTR;
        die "redis write: $!\n" unless $!{EAGAIN} || $!{EWOULDBLOCK};
        die "redis write: timeout\n" if Time::HiRes::time() > $deadline;
        $sel->can_write(0.1);
    }
}

sub _fill {
    my ($self, $deadline) = @_;
    my $s = $self->{sock} or die "redis: not connected\n";
    my $sel = IO::Select->new($s);
    while (1) {
        my $left = $deadline - Time::HiRes::time();
        die "redis: timeout after $self->{timeout}s\n" if $left <= 0;
        next unless $sel->can_read($left > 0.5 ? 0.5 : $left);
        my $n = sysread($s, $self->{buf}, 65536, length $self->{buf});
        if (!defined $n) {
            next if $! == EINTR;
            die "redis read: $!\n";
        }
        die "redis: connection closed\n" if $n == 0;
        return;
    }
}

sub _line {
    my ($self, $deadline) = @_;
    while ((my $i = index($self->{buf}, "\r\n")) < 0) {
        $self->_fill($deadline);
    }
    my $i = index($self->{buf}, "\r\n");
    my $line = substr($self->{buf}, 0, $i);
    substr($self->{buf}, 0, $i + 2, '');
    return $line;
}

sub _read_reply {
    my ($self, $deadline) = @_;
    $deadline //= Time::HiRes::time() + $self->{timeout};
    my $line = $self->_line($deadline);
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    if ($t eq '+') { return $v }
    if ($t eq '-') { return bless { message => $v }, 'WsApi::Test::Redis::Error' }
    if ($t eq ':') { return 0 + $v }
    if ($t eq '$') {
        return undef if $v < 0;
        $self->_fill($deadline) while length($self->{buf}) < $v + 2;
        my $data = substr($self->{buf}, 0, $v);
        substr($self->{buf}, 0, $v + 2, '');
        return $data;
    }
    if ($t eq '*') {
        return undef if $v < 0;
        return [map { $self->_read_reply($deadline) } 1 .. $v];
    }
    die "redis: bad reply line '$line'\n";
}

sub _call {
    my ($self, @args) = @_;
    my $r = eval {
        $self->_connect;
        $self->_write(_encode(@args));
        $self->_read_reply;
    };
    if ($@) {
        $self->_disconnect;
        die $@;
    }
    return $r;
}

sub cmd {
    my ($self, @args) = @_;
    my $r = $self->_call(@args);
    if (ref $r eq 'WsApi::Test::Redis::Error') {
        Carp::croak("redis error on '@args[0..($#args > 3 ? 3 : $#args)]': $r->{message}");
    }
    return wantarray && ref $r eq 'ARRAY' ? @$r : $r;
}

sub try_cmd {
    my ($self, @args) = @_;
    my $r = $self->_call(@args);
    return (undef, $r->{message}) if ref $r eq 'WsApi::Test::Redis::Error';
    return ($r, undef);
}

sub info {
    my ($self, $section) = @_;
    my $text = $self->cmd('INFO', defined $section ? $section : ());
    my %h;
    for my $line (split /\r?\n/, $text) {
        next if $line =~ /^#/ || $line !~ /:/;
        my ($k, $v) = split /:/, $line, 2;
        if ($v =~ /^[a-z_]+=[^,]*(,[a-z_]+=[^,]*)*$/i) {
            $v = { map { split /=/, $_, 2 } split /,/, $v };
        }
        $k =~ s/^cmdstat_//;
        $h{$k} = $v;
    }
    return \%h;
}

sub monitor {
    my ($self) = @_;
    return WsApi::Test::Redis::Monitor->new($self);
}

sub client {
    my ($self) = @_;
    return WsApi::Test::Redis::Client->new($self);
}

# One more connection to the same Redis: ->cmd, ->try_cmd, ->next_reply, ->stop.
package WsApi::Test::Redis::Client;

use strict;
use warnings;

our @ISA = ('WsApi::Test::Redis');

sub new {
    my ($class, $redis) = @_;
    return bless {
        redis => $redis, port => $redis->{port}, opt => $redis->{opt},
        timeout => $redis->{timeout}, buf => '',
    }, $class;
}

# The next reply pushed by Redis (SUBSCRIBE messages), undef on timeout.
sub next_reply {
    my ($self, $timeout) = @_;
    $self->_connect;
    my $r = eval { $self->_read_reply(Time::HiRes::time() + ($timeout // $self->{timeout})) };
    return $r;
}

sub stop        { $_[0]->_disconnect }
sub start       { die "a Redis client cannot start a server\n" }
sub DESTROY     { $_[0]->_disconnect }
sub diagnostics { }

package WsApi::Test::Redis::Monitor;

use strict;
use warnings;

our @ISA = ('WsApi::Test::Redis');

sub new {
    my ($class, $redis) = @_;
    my $self = bless {
        redis   => $redis,
        port    => $redis->{port},
        opt     => $redis->{opt},
        timeout => $redis->{timeout},
        buf     => '',
        seen    => [],
        n       => 0,
    }, $class;
    $self->_connect;
    $self->_write(WsApi::Test::Redis::_encode('MONITOR'));
    my $r = $self->_read_reply;
    die "MONITOR: $r->{message}\n" if ref $r;
    return $self;
}

sub _parse_line {
    my ($line) = @_;
    my ($time, $db, $client, $rest) = $line =~ /^(\d+\.\d+) \[(\d+) ([^\]]*)\] (.*)$/
        or return undef;
    my @args;
    while ($rest =~ /"((?:[^"\\]|\\.)*)"/g) {
        my $a = $1;
        $a =~ s/\\x([0-9a-fA-F]{2})/chr hex $1/ge;
        $a =~ s/\\([nrtab"\\])/{n=>"\n", r=>"\r", t=>"\t", a=>"\a", b=>"\b", '"'=>'"', '\\'=>'\\'}->{$1}/ge;
        push @args, $a;
    }
    return { time => $time, db => $db, client => $client, args => \@args,
             cmd => lc($args[0] // '') };
}

# Read what MONITOR sent. sync => 1 (default): first run ECHO marker through the
# main connection and read until it shows up, so that every command sent
# before this call is included. sync => 0: take what has arrived, no waiting.
sub commands {
    my ($self, %opt) = @_;
    my $marker;
    if ($opt{sync} // 1) {
        $marker = "wsapi-monitor-sync-" . ++$self->{n} . "-$$";
        $self->{redis}->cmd('ECHO', $marker);
    } else {
        my $sel = IO::Select->new($self->{sock});
        while ($sel->can_read(0)) {
            my $n = sysread($self->{sock}, $self->{buf}, 65536, length $self->{buf});
            last unless $n;
        }
    }
    my $deadline = Time::HiRes::time() + $self->{timeout};
    while (1) {
        while ((my $i = index($self->{buf}, "\r\n")) >= 0) {
            my $line = substr($self->{buf}, 0, $i);
            substr($self->{buf}, 0, $i + 2, '');
            $line =~ s/^\+//;
            my $c = _parse_line($line) or next;
            if ($c->{cmd} eq 'echo' && ($c->{args}[1] // '') =~ /^wsapi-monitor-sync-/) {
                undef $marker if defined $marker && $c->{args}[1] eq $marker;
                next;
            }
            push @{ $self->{seen} }, $c;
        }
        last unless defined $marker;
        $self->_fill($deadline);
    }
    my $me = $self->{redis}->client_addr // '';
    return grep { $opt{all} || $_->{client} ne $me } @{ $self->{seen} };
}

sub clear { $_[0]{seen} = [] }

sub stop { $_[0]->_disconnect }

sub DESTROY { $_[0]->_disconnect }

sub diagnostics { }

# ---------------------------------------------------------------------------
# nginx

package WsApi::Test;

sub start_nginx {
    my $n = WsApi::Test::Nginx->new(@_);
    $n->start;
    return $n;
}

sub nginx_test {
    my $n = WsApi::Test::Nginx->new(@_, _no_register => 1);
    $n->write_conf;
    return $n->run_test;
}

package WsApi::Test::Nginx;

use strict;
use warnings;

sub new {
    my ($class, %opt) = @_;
    my $self = bless {
        opt   => \%opt,
        dir   => WsApi::Test::_subdir('nginx'),
        ports => { %{ $opt{ports} || {} } },
        fixed => { map { $_ => 1 } keys %{ $opt{ports} || {} } },
        seen_pids => {},
    }, $class;
    $self->{opt}{load_module} //= 1;
    WsApi::Test::_register($self) unless $opt{_no_register};
    return $self;
}

sub port {
    my ($self, $name) = @_;
    $name = lc $name;
    return $self->{ports}{$name} //= WsApi::Test::free_port();
}

sub pid             { $_[0]{pid} }
sub dir             { $_[0]{dir} }
sub conf            { "$_[0]{dir}/nginx.conf" }
sub conf_text       { $_[0]{conf_text} }
sub error_log_path  { "$_[0]{dir}/error.log" }
sub access_log_path {
    my ($self) = @_;
    my $al = $self->{opt}{access_log} // 1;
    return $al =~ m{/} ? $al : "$self->{dir}/access.log";
}
sub is_running      { WsApi::Test::_alive($_[0]{pid}) }
sub reload_error    { $_[0]{reload_error} }

sub _placeholders {
    my ($self, $text) = @_;
    my $opt = $self->{opt};
    my $dir = $self->{dir};
    my $redis = sub {
        $opt->{redis} // WsApi::Test::Redis::last_started()
            // die "%%REDIS%% used but no Redis started\n";
    };
    my $backend = sub {
        $opt->{backend} // WsApi::Test::Backend::last_started()
            // die "%%BACKEND%% used but no backend started\n";
    };
    my %fixed = (
        TMP          => sub { $dir },
        ROOT         => sub { WsApi::Test::repo_root() },
        MODULE       => sub { WsApi::Test::module_path() },
        REDIS        => sub { $redis->()->addr },
        REDIS_PORT   => sub { $redis->()->port },
        REDIS_UNIX   => sub { 'unix:' . ($redis->()->unixsocket // die "Redis has no unixsocket\n") },
        BACKEND      => sub { $backend->()->addr },
        BACKEND_PORT => sub { $backend->()->port },
        CERT         => sub { (WsApi::Test::make_cert())[0] },
        KEY          => sub { (WsApi::Test::make_cert())[1] },
    );
    $text =~ s{%%(\w+)%%}{
        my $k = $1;
        $k =~ /^PORT_(\w+)$/ ? $self->port($1)
        : exists $opt->{vars}{$k} ? $opt->{vars}{$k}
        : $fixed{$k} ? $fixed{$k}->()
        : die "unknown placeholder %%$k%%\n"
    }ge;
    return $text;
}

sub _render {
    my ($self) = @_;
    my $opt = $self->{opt};
    my $dir = $self->{dir};
    my $main = $self->_placeholders($opt->{main} // '');
    my $http = $self->_placeholders($opt->{http} // '');
    my $level = $opt->{error_log_level} // ($ENV{WSAPI_DEBUG} ? 'debug' : 'info');
    my $has = sub { my ($t, $d) = @_; $t =~ /(?:^|[;{}\s])\Q$d\E\s/m };

    my $c = "# generated by WsApi::Test\n";
    if ($opt->{load_module}) {
        my $so = WsApi::Test::module_path();
        die "module $so not found (run make)\n" unless -f $so;
        $c .= "load_module $so;\n";
    }
    $c .= "daemon off;\n" unless $has->($main, 'daemon');
    $c .= "master_process on;\n" unless $has->($main, 'master_process');
    $c .= "worker_processes 1;\n" unless $has->($main, 'worker_processes');
    $c .= "user root;\n" if $> == 0 && !$has->($main, 'user');
    $c .= "pid $dir/nginx.pid;\n" unless $has->($main, 'pid');
    $c .= "error_log $dir/error.log $level;\n";
    $c .= "\n$main\n" if length $main;
    unless ($main =~ /(?:^|[;}\s])events\s*\{/) {
        my $ev = $self->_placeholders($opt->{events} // 'worker_connections 4096;');
        $c .= "events {\n    $ev\n}\n";
    }
    $c .= "\nhttp {\n";
    if ($opt->{temp_paths} // 1) {
        for my $t (qw(client_body proxy fastcgi uwsgi scgi)) {
            $c .= "    ${t}_temp_path $dir/${t}_temp;\n" unless $has->($http, "${t}_temp_path");
        }
    }
    if (my $al = $opt->{access_log} // 1) {
        my $path = $self->access_log_path;
        if (defined $opt->{log_format}) {
            (my $f = $self->_placeholders($opt->{log_format})) =~ s/'/\\'/g;
            $c .= "    log_format wsapi_test '$f';\n";
            $c .= "    access_log $path wsapi_test;\n";
        } else {
            $c .= "    access_log $path;\n";
        }
    }
    $c .= "\n$http\n}\n";
    return $c;
}

sub write_conf {
    my ($self) = @_;
    my $text = $self->_render;
    open my $fh, '>', $self->conf or die "write $self->{dir}/nginx.conf: $!";
    print $fh $text;
    close $fh;
    $self->{conf_text} = $text;
    return $text;
}

sub _nginx_bin { $ENV{WSAPI_NGINX} // '/usr/sbin/nginx' }

sub _cmd {
    my ($self, @extra) = @_;
    return (_nginx_bin(), '-p', "$self->{dir}/", '-c', $self->conf,
            '-e', "$self->{dir}/error.log", @extra);
}

# (exit code, output) of nginx -t on the current configuration
sub run_test {
    my ($self) = @_;
    return WsApi::Test::_run_capture([$self->_cmd('-t')]);
}

# [host, port] of every TCP listen directive
sub _listens {
    my ($self) = @_;
    my @l;
    my %seen;
    while ($self->{conf_text} =~ /(?:^|[;{}])\s*listen\s+([^\s;]+)/mg) {
        my $a = $1;
        next if $a =~ /^unix:/;
        my ($host, $port) = $a =~ /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/
            ? ($1 // $2, $3) : $a =~ /^(\d+)$/ ? ('*', $1) : next;
        push @l, [$host, $port] unless $seen{$port}++;
    }
    return @l;
}

sub _listening_ports {
    my %p;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $f or next;
        <$fh>;
        while (<$fh>) {
            my @f = split;
            next unless $f[3] eq '0A';
            $p{ hex((split /:/, $f[1])[-1]) } = 1;
        }
    }
    return \%p;
}

sub _expected_workers {
    my ($self) = @_;
    my ($n) = $self->{conf_text} =~ /(?:^|[;{}])\s*worker_processes\s+(\d+|auto)\s*;/m;
    return 1 if !defined $n || $n eq 'auto';
    return $n;
}

sub worker_pids {
    my ($self, %opt) = @_;
    return () unless $self->{pid};
    my @w = grep {
        $_->[1] =~ /^nginx: worker process/ &&
        ($opt{all} || $_->[1] !~ /shutting down/)
    } WsApi::Test::_children($self->{pid});
    $self->{seen_pids}{ $_->[0] } = $PIDS{ $_->[0] } = 'nginx worker' for @w;
    my @pids = sort { $a <=> $b } map { $_->[0] } @w;
    return @pids;
}

sub _ready {
    my ($self) = @_;
    my $listening = _listening_ports();
    for my $l ($self->_listens) {
        return 0 unless $listening->{ $l->[1] };
    }
    my @w = $self->worker_pids;
    return @w >= $self->_expected_workers;
}

sub start {
    my ($self) = @_;
    die "nginx already running\n" if $self->is_running;
    my $timeout = $self->{opt}{timeout} // WsApi::Test::timeout_scale(20);
    my $err;
    for my $attempt (1 .. 4) {
        $self->write_conf;
        if ($self->{opt}{test} // 1) {
            my ($rc, $out) = $self->run_test;
            die "nginx -t failed for $self->{dir}/nginx.conf:\n$out\n" . _numbered($self->{conf_text})
                if $rc;
        }
        my $logpos = -s $self->error_log_path // 0;
        $self->{pid} = WsApi::Test::_spawn([$self->_cmd], "$self->{dir}/nginx.stderr", 'nginx master');
        my $t = WsApi::Test::poll_until($timeout, sub {
            return 1 unless $self->is_running;
            return $self->_ready;
        });
        return $self if $t && $self->is_running;
        my $log = substr(WsApi::Test::_slurp($self->error_log_path) // '', $logpos)
            . (WsApi::Test::_slurp("$self->{dir}/nginx.stderr") // '');
        $err = ($t ? "nginx exited at startup" : "nginx not ready after ${timeout}s")
            . " ($self->{dir}):\n" . WsApi::Test::_tail($log, 30);
        WsApi::Test::_terminate($self->{pid}, TERM => 5, KILL => 5);
        $self->_kill_workers;
        delete $self->{pid};
        last unless $log =~ /Address already in use/;
        # lost a port race: pick new ports for everything not pinned
        delete $self->{ports}{$_} for grep { !$self->{fixed}{$_} } keys %{ $self->{ports} };
    }
    die $err;
}

sub _numbered {
    my ($text) = @_;
    my $i = 0;
    return join '', map { sprintf "%3d  %s\n", ++$i, $_ } split /\n/, $text;
}

sub log_mark { -s $_[0]->error_log_path // 0 }

sub error_log {
    my ($self, %opt) = @_;
    my $t = WsApi::Test::_slurp($self->error_log_path) // '';
    return $opt{from} ? substr($t, $opt{from}) : $t;
}

sub access_log { WsApi::Test::_slurp($_[0]->access_log_path) // '' }

sub wait_error_log {
    my ($self, $re, $timeout, %opt) = @_;
    return WsApi::Test::poll_until($timeout // WsApi::Test::timeout_scale(10),
        sub { $self->error_log(%opt) =~ $re });
}

sub reload {
    my ($self, %new) = @_;
    delete $self->{reload_error};
    my $timeout = delete $new{timeout} // WsApi::Test::timeout_scale(20);
    my $test = delete $new{test} // 1;
    my %saved = (opt => { %{ $self->{opt} } }, conf_text => $self->{conf_text});
    my $restore = sub {
        # keep nginx.conf in step with what nginx runs
        $self->{opt} = $saved{opt};
        $self->write_conf;
        return 0;
    };
    if (%new) {
        $self->{opt}{$_} = $new{$_} for keys %new;
        eval { $self->write_conf; 1 } or do {
            $self->{reload_error} = $@;
            return $restore->();
        };
        if ($test) {
            my ($rc, $out) = $self->run_test;
            if ($rc) {
                $self->{reload_error} = $out;
                return $restore->();
            }
        }
    }
    my %old = map { $_ => 1 } $self->worker_pids(all => 1);
    my $mark = $self->log_mark;
    kill 'HUP', $self->{pid};
    my $failed;
    my $t = WsApi::Test::poll_until($timeout, sub {
        my $log = $self->error_log(from => $mark);
        if ($log =~ /\[emerg\][^\n]*/) {
            $failed = $&;
            return 1;
        }
        my @w = $self->worker_pids;
        return 0 if grep { $old{$_} } @w;
        return @w >= $self->_expected_workers;
    });
    if ($failed || !$t) {
        $self->{reload_error} = $failed // "no new workers after ${timeout}s";
        $restore->() if %new;
        return 0;
    }
    return $t;
}

sub _kill_workers {
    my ($self) = @_;
    for my $p (keys %{ $self->{seen_pids} }) {
        kill 'KILL', $p if WsApi::Test::_alive($p)
            && (WsApi::Test::_cmdline($p) // '') =~ /^nginx/;
    }
}

sub stop {
    my ($self, %opt) = @_;
    my $pid = $self->{pid} or return;
    $self->worker_pids(all => 1);   # remember them
    my @steps = ($opt{graceful} // 1)
        ? (QUIT => 10, TERM => 5, KILL => 5)
        : (TERM => 10, KILL => 5);
    WsApi::Test::_terminate($pid, map { $_ =~ /^\d+$/ ? WsApi::Test::timeout_scale($_) : $_ } @steps);
    WsApi::Test::poll_until(WsApi::Test::timeout_scale(5), sub {
        !grep { WsApi::Test::_alive($_) } keys %{ $self->{seen_pids} };
    });
    $self->_kill_workers;
    delete $self->{pid};
}

sub diagnostics {
    my ($self) = @_;
    Test::More::diag("---- nginx $self->{dir} error.log tail:\n"
        . WsApi::Test::_tail($self->error_log, 30));
}

sub DESTROY {
    my ($self) = @_;
    return unless $$ == $MAIN_PID;
    local ($?, $@);
    eval { $self->stop(graceful => 0) } if $self->{pid};
}

# ---------------------------------------------------------------------------
# backend

package WsApi::Test;

sub start_backend {
    my $b = WsApi::Test::Backend->new(@_);
    $b->start;
    return $b;
}

package WsApi::Test::Backend;

use strict;
use warnings;

my $LAST_BACKEND;

sub last_started { $LAST_BACKEND }

sub new {
    my ($class, %opt) = @_;
    my $dir = WsApi::Test::tmpdir();
    my $n = 1;
    $n++ while -e "$dir/backend-$n.log";
    my $self = bless {
        opt     => \%opt,
        name    => "backend-$n",
        dir     => $dir,
        entries => [],
        pos     => 0,
        partial => '',
    }, $class;
    open my $fh, '>', $self->log_path or die "create $self->{name}.log: $!";
    close $fh;
    WsApi::Test::_register($self);
    return $self;
}

sub port       { $_[0]{port} }
sub addr       { "127.0.0.1:$_[0]{port}" }
sub url        { "ws://127.0.0.1:$_[0]{port}" . ($_[1] // '/') }
sub pid        { $_[0]{pid} }
sub log_path   { "$_[0]{dir}/$_[0]{name}.log" }
sub is_running { WsApi::Test::_alive($_[0]{pid}) }

sub start {
    my ($self) = @_;
    my $opt = $self->{opt};
    my $py = $ENV{WSAPI_PYTHON} // '/usr/bin/python3';
    my $script = WsApi::Test::repo_root() . '/t/lib/ws_backend.py';
    my $pf = "$self->{dir}/$self->{name}.port";
    unlink $pf;
    my @cmd = ($py, $script, '--port', $opt->{port} // 0, '--port-file', $pf,
               '--log', $self->log_path);
    push @cmd, '--deflate' if $opt->{deflate};
    push @cmd, '--no-echo' if $opt->{no_echo};
    push @cmd, '--log-max', $opt->{log_max} if defined $opt->{log_max};
    push @cmd, '--handshake-extra', unpack('H*', $opt->{handshake_extra})
        if defined $opt->{handshake_extra} && length $opt->{handshake_extra};
    push @cmd, @{ $opt->{args} || [] };
    my $stderr = "$self->{dir}/$self->{name}.stderr";
    $self->{pid} = WsApi::Test::_spawn(\@cmd, $stderr, 'ws_backend.py');
    my $t = WsApi::Test::poll_until(WsApi::Test::timeout_scale(15), sub {
        -s $pf || !$self->is_running;
    });
    if ($t && -s $pf && $self->is_running) {
        ($self->{port}) = (WsApi::Test::_slurp($pf) =~ /(\d+)/);
        $LAST_BACKEND = $self;
        Scalar::Util::weaken($LAST_BACKEND);
        return $self;
    }
    my $e = WsApi::Test::_slurp($stderr) // '';
    WsApi::Test::_terminate($self->{pid}, KILL => 5);
    die "backend did not start: " . WsApi::Test::_tail($e, 20) . "\n";
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    WsApi::Test::_terminate($self->{pid}, TERM => 10, KILL => 5);
    delete $self->{pid};
}

sub _read_new {
    my ($self) = @_;
    open my $fh, '<:raw', $self->log_path or return;
    seek $fh, $self->{pos}, 0;
    local $/;
    my $data = <$fh> // '';
    $self->{pos} += length $data;
    $data = $self->{partial} . $data;
    my $end = rindex($data, "\n");
    $self->{partial} = substr($data, $end + 1);
    for my $line (split /\n/, substr($data, 0, $end + 1)) {
        next unless length $line;
        my $e = eval { _plain_booleans(WsApi::Test::json_decode($line)) };
        push @{ $self->{entries} }, $e // { event => 'unparsable', line => $line };
    }
}

# JSON true/false -> 1/0, so that log entries compare with is_deeply
sub _plain_booleans {
    my ($e) = @_;
    for my $v (values %$e) {
        $v = $v ? 1 : 0 if JSON::PP::is_bool($v);
    }
    return $e;
}

sub log {
    my ($self, %f) = @_;
    $self->_read_new;
    my @e = @{ $self->{entries} };
    for my $k (grep { !/^(where|count|timeout|commands)$/ } keys %f) {
        my $v = $f{$k};
        @e = grep {
            my $x = $_->{$k};
            ref $v eq 'Regexp' ? (defined $x && $x =~ $v)
            : !defined $v ? !defined $x
            : (defined $x && $x eq $v)
        } @e;
    }
    @e = grep { $f{where}->($_) } @e if $f{where};
    return @e;
}

sub handshakes { my ($self, %f) = @_; $self->log(%f, event => 'handshake') }
sub frames     { my ($self, %f) = @_; $self->log(%f, event => 'frame') }

sub messages {
    my ($self, %f) = @_;
    my $all = delete $f{commands};
    my @m = $self->log(%f, event => 'message');
    return $all ? @m : grep { !$_->{command} } @m;
}

sub wait_log {
    my ($self, %f) = @_;
    my $count = $f{count} // 1;
    my $timeout = $f{timeout} // WsApi::Test::timeout_scale(10);
    my @got;
    WsApi::Test::poll_until($timeout, sub {
        @got = $f{event} && $f{event} eq 'message' ? $self->messages(%f) : $self->log(%f);
        @got >= $count;
    }) or return wantarray ? () : undef;
    return wantarray ? @got : $got[0];
}

sub last_conn {
    my ($self) = @_;
    my @h = $self->handshakes;
    return @h ? $h[-1]{conn} : undef;
}

sub diagnostics {
    my ($self) = @_;
    my @lines = split /\n/, (WsApi::Test::_slurp($self->log_path) // '');
    @lines = @lines[-25 .. -1] if @lines > 25;
    Test::More::diag("---- $self->{name} (port " . ($self->{port} // '?') . ") log tail:\n"
        . join("\n", map { length > 400 ? substr($_, 0, 400) . '...' : $_ } @lines));
    my $err = WsApi::Test::_slurp("$self->{dir}/$self->{name}.stderr");
    Test::More::diag("---- $self->{name} stderr:\n" . WsApi::Test::_tail($err, 15))
        if defined $err && length $err;
}

sub DESTROY {
    my ($self) = @_;
    return unless $$ == $MAIN_PID;
    local ($?, $@);
    eval { $self->stop } if $self->{pid};
}

# ---------------------------------------------------------------------------
# sockets: connection with deadlines, non-blocking, TLS-aware

package WsApi::Test::Socket;

use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes ();
use Errno qw(EINTR ECONNRESET EPIPE);

sub connect {
    my ($class, %opt) = @_;
    my $host = $opt{host} // '127.0.0.1';
    my $timeout = $opt{timeout} // WsApi::Test::timeout_scale(10);
    my $sock;
    if ($opt{tls}) {
        require IO::Socket::SSL;
        $sock = IO::Socket::SSL->new(
            PeerAddr => $host, PeerPort => $opt{port}, Timeout => $timeout,
            SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_NONE(),
            SSL_hostname => $opt{sni} // 'localhost',
            %{ $opt{ssl_options} || {} },
        ) or die "TLS connect $host:$opt{port}: $! $IO::Socket::SSL::SSL_ERROR\n";
    } else {
        $sock = IO::Socket::INET->new(
            PeerAddr => $host, PeerPort => $opt{port}, Proto => 'tcp',
            Timeout => $timeout,
        ) or die "connect $host:$opt{port}: $!\n";
    }
    $sock->blocking(0);
    setsockopt($sock, Socket::IPPROTO_TCP(), Socket::TCP_NODELAY(), 1);
    return bless {
        sock => $sock, tls => $opt{tls}, rbuf => '', eof => 0,
        host => $host, port => $opt{port}, timeout => $timeout,
    }, $class;
}

sub sock { $_[0]{sock} }
sub eof  { $_[0]{eof} }

# Read what is available into rbuf, waiting up to $timeout seconds.
# Returns bytes read, 0 on EOF, undef on timeout.
sub _read_some {
    my ($self, $timeout) = @_;
    my $s = $self->{sock};
    return 0 if $self->{eof};
    my $deadline = Time::HiRes::time() + ($timeout // 0);
    my $sel = IO::Select->new($s);
    while (1) {
        my $n = sysread($s, $self->{rbuf}, 262144, length $self->{rbuf});
        if (defined $n) {
            if ($n == 0) { $self->{eof} = 1; return 0 }
            return $n;
        }
        if ($! == ECONNRESET || $! == EPIPE) {
            $self->{eof} = 1;
            $self->{reset} = 1;
            return 0;
        }
        unless ($!{EAGAIN} || $!{EWOULDBLOCK} || $! == EINTR) {
            $self->{eof} = 1;
            $self->{error} = "$!";
            return 0;
        }
        my $left = $deadline - Time::HiRes::time();
        return undef if $left <= 0;
        next if $self->{tls} && $s->pending;
        if ($self->{tls} && $IO::Socket::SSL::SSL_ERROR == IO::Socket::SSL::SSL_WANT_WRITE()) {
            $sel->can_write($left > 0.2 ? 0.2 : $left);
        } else {
            $sel->can_read($left > 0.2 ? 0.2 : $left);
        }
    }
}

# Write all of $data; reads into rbuf while the peer does not accept more, so
# that a big write against an echoing peer never deadlocks.
sub _write_all {
    my ($self, $data, $timeout) = @_;
    my $s = $self->{sock};
    my $deadline = Time::HiRes::time() + ($timeout // $self->{timeout});
    my $off = 0;
    my $sel = IO::Select->new($s);
    while ($off < length $data) {
        my $n = syswrite($s, $data, length($data) - $off, $off);
        if (defined $n && $n > 0) { $off += $n; next }
        if (!defined $n && !($!{EAGAIN} || $!{EWOULDBLOCK} || $! == EINTR)) {
            $self->{error} = "write: $!";
            return 0;
        }
        if (Time::HiRes::time() > $deadline) {
            $self->{error} = 'write: timeout';
            return 0;
        }
        my ($r, $w) = IO::Select->select($sel, $sel, undef, 0.2);
        if ($r && @$r && !$self->{eof}) {
            $self->_read_some(0);
        }
    }
    return 1;
}

sub send_raw {
    my ($self, $data, %opt) = @_;
    if (my $d = $opt{delay}) {
        my $chunk = $opt{chunk} // 1;
        for (my $i = 0; $i < length $data; $i += $chunk) {
            $self->_write_all(substr($data, $i, $chunk)) or return 0;
            Time::HiRes::sleep($d) if $i + $chunk < length $data;
        }
        return 1;
    }
    return $self->_write_all($data);
}

# Exactly $n raw bytes from the stream (undef on timeout or EOF before $n).
sub read_bytes {
    my ($self, $n, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // $self->{timeout});
    while (length($self->{rbuf}) < $n) {
        return undef unless $self->_read_some($deadline - Time::HiRes::time());
    }
    return substr($self->{rbuf}, 0, $n, '');
}

sub disconnect {
    my ($self) = @_;
    close $self->{sock} if $self->{sock};
    $self->{eof} = 1;
}

# Read an HTTP response head (and, unless it is a 101, its body).
sub read_response {
    my ($self, %opt) = @_;
    my $deadline = Time::HiRes::time() + ($opt{timeout} // $self->{timeout});
    my $i;
    while (($i = index($self->{rbuf}, "\r\n\r\n")) < 0) {
        my $n = $self->_read_some($deadline - Time::HiRes::time());
        unless ($n) {
            $self->{error} = defined $n ? 'connection closed before a response' : 'timeout waiting for the response';
            $self->{status} = 0;
            $self->{headers} = {};
            return $self;
        }
    }
    my $head = substr($self->{rbuf}, 0, $i);
    $self->{raw_head} = substr($self->{rbuf}, 0, $i + 4);
    substr($self->{rbuf}, 0, $i + 4, '');
    my ($first, @lines) = split /\r\n/, $head;
    @{$self}{qw(http_version status reason)} = $first =~ m{^(HTTP/\d\.\d)\s+(\d+)\s*(.*)$};
    $self->{status} //= 0;
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        $k = lc $k;
        if (exists $h{$k}) {
            $h{$k} = [ref $h{$k} ? @{ $h{$k} } : $h{$k}, $v];
        } else {
            $h{$k} = $v;
        }
    }
    $self->{headers} = \%h;
    return $self if $self->{status} == 101 || $opt{head_only};
    # body
    my $te = $self->header('transfer-encoding') // '';
    my $cl = $self->header('content-length');
    my $body;
    if ($opt{method} && $opt{method} eq 'HEAD' or $self->{status} == 204 or $self->{status} == 304) {
        $body = '';
    } elsif ($te =~ /chunked/i) {
        $body = '';
        while (1) {
            my $j;
            while (($j = index($self->{rbuf}, "\r\n")) < 0) {
                last unless $self->_read_some($deadline - Time::HiRes::time());
            }
            last if $j < 0;
            my ($size) = substr($self->{rbuf}, 0, $j) =~ /^([0-9a-fA-F]+)/;
            last unless defined $size;
            $size = hex $size;
            while (length($self->{rbuf}) < $j + 2 + $size + 2) {
                last unless $self->_read_some($deadline - Time::HiRes::time());
            }
            $body .= substr($self->{rbuf}, $j + 2, $size);
            substr($self->{rbuf}, 0, $j + 2 + $size + 2, '');
            last if $size == 0;
        }
    } elsif (defined $cl) {
        while (length($self->{rbuf}) < $cl) {
            last unless $self->_read_some($deadline - Time::HiRes::time());
        }
        $body = substr($self->{rbuf}, 0, $cl, '');
    } else {
        1 while $self->_read_some($deadline - Time::HiRes::time());
        $body = $self->{rbuf};
        $self->{rbuf} = '';
    }
    $self->{body} = $body;
    $self->{json} = WsApi::Test::_maybe_json($body, $self->header('content-type'));
    return $self;
}

sub status  { $_[0]{status} }
sub reason  { $_[0]{reason} }
sub headers { $_[0]{headers} }
sub body    { $_[0]{body} }
sub json    { $_[0]{json} }
sub error   { $_[0]{error} }

sub header {
    my ($self, $name) = @_;
    my $v = $self->{headers}{ lc $name };
    return ref $v ? join(', ', @$v) : $v;
}

sub DESTROY {
    my ($self) = @_;
    close $self->{sock} if $self->{sock};
}

# ---------------------------------------------------------------------------
# HTTP

package WsApi::Test;

sub _maybe_json {
    my ($body, $ct) = @_;
    return undef unless defined $body && length $body;
    return undef unless ($ct // '') =~ /json/i || $body =~ /^\s*[\{\[]/;
    return eval { json_decode($body) };
}

sub http_request {
    my ($method, $url, %opt) = @_;
    my %h = %{ $opt{headers} || {} };
    my $body = $opt{body};
    if (exists $opt{json}) {
        $body = ref $opt{json} ? json_encode($opt{json}) : $opt{json};
        $h{'Content-Type'} //= 'application/json';
    }
    if (defined $opt{user}) {
        $h{'Authorization'} = 'Basic ' . encode_base64("$opt{user}:" . ($opt{password} // ''), '');
    }
    if ($opt{byte_delay}) {
        my ($scheme, $host, $port, $path) = $url =~ m{^(https?)://([^/:]+)(?::(\d+))?(/.*)?$}
            or die "http_request: bad url $url";
        return raw_request(
            tls => $scheme eq 'https', host => $host,
            port => $port // ($scheme eq 'https' ? 443 : 80),
            method => $method, path => $path // '/', headers => \%h, body => $body,
            byte_delay => $opt{byte_delay}, timeout => $opt{timeout},
        );
    }
    require HTTP::Tiny;
    my $ua = HTTP::Tiny->new(
        timeout => $opt{timeout} // timeout_scale(30), keep_alive => 0,
        max_redirect => 0, verify_SSL => 0, agent => 'wsapi-test/1.0',
        SSL_options => { SSL_verify_mode => 0 },
    );
    my $res = $ua->request($method, $url, {
        headers => \%h, (defined $body ? (content => $body) : ()),
    });
    my %r = (
        status  => $res->{status},
        reason  => $res->{reason},
        headers => $res->{headers} || {},
        body    => $res->{content} // '',
    );
    $r{error} = $r{body} if $r{status} == 599;
    $r{json} = _maybe_json($r{body}, $r{headers}{'content-type'});
    return \%r;
}

sub raw_request {
    my (%opt) = @_;
    my $data = $opt{data};
    unless (defined $data) {
        my $host = $opt{host} // '127.0.0.1';
        my %h = (Host => "$host:$opt{port}", Connection => 'close', %{ $opt{headers} || {} });
        $h{'Content-Length'} //= length $opt{body} if defined $opt{body};
        $data = ($opt{method} // 'GET') . ' ' . ($opt{path} // '/') . " HTTP/1.1\r\n"
            . join('', map { "$_: $h{$_}\r\n" } sort keys %h) . "\r\n"
            . ($opt{body} // '');
    }
    my $c = eval { WsApi::Test::Socket->connect(%opt) }
        or return { status => 599, error => $@, headers => {}, body => '' };
    my $ok = $c->send_raw($data, delay => $opt{byte_delay}, chunk => $opt{chunk});
    $c->read_response(timeout => $opt{timeout}, method => $opt{method});
    my %r = (
        status  => $c->{status} || ($ok ? 0 : 599),
        reason  => $c->{reason},
        headers => $c->{headers} || {},
        body    => $c->{body} // '',
        json    => $c->{json},
        raw     => ($c->{raw_head} // '') . ($c->{body} // ''),
        eof     => $c->{eof},
        error   => $c->{error},
    );
    $c->disconnect;
    return \%r;
}

# ---------------------------------------------------------------------------
# WebSocket

my $WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

sub ws_frame {
    my ($opcode, $payload, %o) = @_;
    $payload //= '';
    utf8::encode($payload) if utf8::is_utf8($payload);
    my $mask = $o{mask} // 1;
    my $rsv = $o{rsv} // 0;
    $rsv |= 4 if $o{rsv1};
    $rsv |= 2 if $o{rsv2};
    $rsv |= 1 if $o{rsv3};
    my $b0 = (($o{fin} // 1) ? 0x80 : 0) | (($rsv & 7) << 4) | ($opcode & 0x0f);
    my $len = $o{len} // length $payload;
    my $m = $mask ? 0x80 : 0;
    my $f = pack('C', $b0);
    if    ($len < 126)   { $f .= pack('C', $m | $len) }
    elsif ($len < 65536) { $f .= pack('Cn', $m | 126, $len) }
    else                 { $f .= pack('CQ>', $m | 127, $len) }
    if ($mask) {
        my $key = $o{mask_key} // pack('N', int(rand(2**32)));
        $f .= $key;
        $f .= _mask($payload, $key);
    } else {
        $f .= $payload;
    }
    return $f;
}

sub _mask {
    my ($data, $key) = @_;
    return '' unless length $data;
    my $k = $key x (int(length($data) / 4) + 1);
    return $data ^ substr($k, 0, length $data);
}

sub ws_connect {
    my (%opt) = @_;
    die "ws_connect: port required\n" unless $opt{port};
    my $ws = WsApi::Test::WS->connect(%opt);
    $ws->handshake(%opt);
    return $ws;
}

package WsApi::Test::WS;

use strict;
use warnings;
use MIME::Base64 qw(encode_base64);
use Digest::SHA qw(sha1);
use Time::HiRes ();

our @ISA = ('WsApi::Test::Socket');

sub handshake {
    my ($self, %opt) = @_;
    my $host = $opt{host} // '127.0.0.1';
    my $path = $opt{path} // '/';
    my @hdr = ref $opt{headers} eq 'ARRAY' ? @{ $opt{headers} }
            : map { ($_ => $opt{headers}{$_}) } sort keys %{ $opt{headers} || {} };
    my $req;
    $self->{lib} = $opt{lib};
    if (defined $opt{request}) {
        $req = $opt{request};
        ($self->{key}) = $req =~ /^Sec-WebSocket-Key:\s*(\S+)/mi;
    } elsif ($opt{lib}) {
        require Protocol::WebSocket::Handshake::Client;
        require Protocol::WebSocket::Request;
        my $scheme = $opt{tls} ? 'wss' : 'ws';
        my $hs = Protocol::WebSocket::Handshake::Client->new(
            url => "$scheme://$host:$opt{port}$path",
            req => Protocol::WebSocket::Request->new(headers => \@hdr),
        );
        $hs->req->subprotocol($opt{protocol}) if defined $opt{protocol};
        $req = $hs->to_string;
        ($self->{key}) = $req =~ /^Sec-WebSocket-Key:\s*(\S+)/mi;
        $self->{hs} = $hs;
        $self->{pw} = Protocol::WebSocket::Frame->new(
            max_payload_size => 0, max_fragments_amount => 1_000_000);
    } else {
        my $key = exists $opt{key} ? $opt{key}
            : encode_base64(join('', map { chr int rand 256 } 1 .. 16), '');
        $self->{key} = $key;
        my @h = (Host => $opt{host_header} // "$host:$opt{port}");
        my %def = (upgrade => ['Upgrade', 'websocket'], connection => ['Connection', 'Upgrade']);
        for my $k (qw(upgrade connection)) {
            my $v = exists $opt{$k} ? $opt{$k} : $def{$k}[1];
            push @h, $def{$k}[0] => $v if defined $v;
        }
        push @h, 'Sec-WebSocket-Key' => $key if defined $key;
        my $ver = exists $opt{version} ? $opt{version} : 13;
        push @h, 'Sec-WebSocket-Version' => $ver if defined $ver;
        push @h, 'Sec-WebSocket-Protocol' => $opt{protocol} if defined $opt{protocol};
        push @h, 'Sec-WebSocket-Extensions' => $opt{extensions} if defined $opt{extensions};
        push @h, 'Origin' => $opt{origin} if defined $opt{origin};
        push @h, @hdr;
        $req = ($opt{method} // 'GET') . " $path " . ($opt{http_version} // 'HTTP/1.1') . "\r\n";
        while (my ($k, $v) = splice @h, 0, 2) {
            $req .= "$k: $v\r\n";
        }
        $req .= "\r\n";
    }
    $self->{request} = $req;
    $self->_write_all($req . ($opt{raw_extra} // '')) or do {
        $self->{status} = 0;
        return $self;
    };
    return $self if defined $opt{wait} && !$opt{wait};
    return $self->read_handshake(%opt);
}

sub read_handshake {
    my ($self, %opt) = @_;
    $self->read_response(timeout => $opt{timeout}, method => $opt{method});
    if ($self->{status} == 101) {
        my $expect = defined $self->{key}
            ? encode_base64(sha1($self->{key} . $WS_GUID), '') : '';
        $self->{accept_ok} = ($self->header('sec-websocket-accept') // '') eq $expect ? 1 : 0;
        if ($self->{hs}) {
            my $head = $self->{raw_head};
            $self->{hs}->parse($head);
            $self->{lib_error} = $self->{hs}->error unless $self->{hs}->is_done;
        }
    }
    return $self;
}

sub accept_ok { $_[0]{accept_ok} }
sub lib_error { $_[0]{lib_error} }
sub request   { $_[0]{request} }
sub skipped   { $_[0]{skipped} || [] }

sub close_code_received   { $_[0]{close_code} }
sub close_reason_received { $_[0]{close_reason} }

sub send_frame {
    my ($self, $opcode, $payload, %o) = @_;
    $payload //= '';
    my $bytes;
    if ($self->{hs} && !grep { exists $o{$_} } qw(len mask_key)) {
        my $rsv = ($o{rsv} // 0) | ($o{rsv1} ? 4 : 0) | ($o{rsv2} ? 2 : 0) | ($o{rsv3} ? 1 : 0);
        utf8::encode($payload) if utf8::is_utf8($payload);
        $bytes = $self->{hs}->build_frame(
            buffer => $payload, opcode => $opcode, fin => ($o{fin} // 1) ? 1 : 0,
            masked => $o{mask} // 1, max_payload_size => 0,
            rsv => [($rsv >> 2) & 1, ($rsv >> 1) & 1, $rsv & 1],
        )->to_bytes;
    } else {
        $bytes = WsApi::Test::ws_frame($opcode, $payload, %o);
    }
    return $self->_write_all($bytes);
}

sub send_text   { my ($s, $p, %o) = @_; $s->send_frame(1, $p, %o) }
sub send_binary { my ($s, $p, %o) = @_; $s->send_frame(2, $p, %o) }
sub ping        { my ($s, $p, %o) = @_; $s->send_frame(9, $p // '', %o) }
sub pong        { my ($s, $p, %o) = @_; $s->send_frame(10, $p // '', %o) }

sub close {
    my ($self, @a) = @_;
    my $payload = '';
    my $code = @a ? $a[0] : 1000;
    $payload = pack('n', $code) . ($a[1] // '') if defined $code;
    $self->{close_sent} = 1;
    return $self->send_frame(8, $payload);
}

# parse one frame from rbuf (raw mode)
sub _parse_frame {
    my ($self) = @_;
    my $b = \$self->{rbuf};
    return undef if length $$b < 2;
    my ($b0, $b1) = unpack('CC', $$b);
    my $len = $b1 & 0x7f;
    my $off = 2;
    if ($len == 126) {
        return undef if length $$b < 4;
        $len = unpack('n', substr($$b, 2, 2));
        $off = 4;
    } elsif ($len == 127) {
        return undef if length $$b < 10;
        $len = unpack('Q>', substr($$b, 2, 8));
        $off = 10;
    }
    my $masked = $b1 & 0x80 ? 1 : 0;
    my $key;
    if ($masked) {
        return undef if length $$b < $off + 4;
        $key = substr($$b, $off, 4);
        $off += 4;
    }
    return undef if length $$b < $off + $len;
    my $payload = substr($$b, $off, $len);
    substr($$b, 0, $off + $len, '');
    $payload = WsApi::Test::_mask($payload, $key) if $masked;
    return {
        opcode => $b0 & 0x0f, fin => $b0 & 0x80 ? 1 : 0, rsv => ($b0 >> 4) & 7,
        masked => $masked, payload => $payload, len => $len,
    };
}

# parse one message from rbuf (lib mode: Protocol::WebSocket::Frame)
sub _parse_lib {
    my ($self) = @_;
    my $f = $self->{pw};
    $f->append($self->{rbuf}) if length $self->{rbuf};
    $self->{rbuf} = '';
    my $payload = eval { $f->next_bytes };
    if ($@) {
        $self->{lib_error} = $@;
        return undef;
    }
    return undef unless defined $payload;
    my @rsv = @{ $f->rsv || [0, 0, 0] };
    return {
        opcode => $f->opcode, fin => $f->fin ? 1 : 0,
        rsv => ($rsv[0] << 2) | ($rsv[1] << 1) | $rsv[2],
        masked => $f->masked ? 1 : 0, payload => $payload, len => length $payload,
    };
}

sub _note_frame {
    my ($self, $f) = @_;
    if ($f->{opcode} == 8 && !defined $self->{close_code}) {
        if (length $f->{payload} >= 2) {
            $self->{close_code} = unpack('n', $f->{payload});
            $self->{close_reason} = substr($f->{payload}, 2);
        } else {
            $self->{close_code} = 1005;
            $self->{close_reason} = '';
        }
    }
    return $f;
}

sub read_frame {
    my ($self, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // $self->{timeout});
    while (1) {
        my $f = $self->{hs} ? $self->_parse_lib : $self->_parse_frame;
        return $self->_note_frame($f) if $f;
        my $left = $deadline - Time::HiRes::time();
        return undef if $left <= 0 || $self->{eof};
        my $n = $self->_read_some($left);
        return undef unless defined $n;   # timeout
        return undef if $n == 0 && !length $self->{rbuf} && !$self->{hs};
    }
}

sub read_message {
    my ($self, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // $self->{timeout});
    while (1) {
        my $f = $self->read_frame($deadline - Time::HiRes::time()) or return undef;
        return $f if $self->{hs};
        return $f if $f->{opcode} >= 8;
        if ($f->{opcode} == 1 || $f->{opcode} == 2) {
            $self->{partial} = { opcode => $f->{opcode}, payload => $f->{payload},
                                 frames => 1, rsv => $f->{rsv},
                                 compressed => $f->{rsv} & 4 ? 1 : 0 };
        } elsif ($f->{opcode} == 0 && $self->{partial}) {
            $self->{partial}{payload} .= $f->{payload};
            $self->{partial}{frames}++;
        } else {
            return $f;  # unexpected continuation or unknown opcode: hand it over
        }
        if ($f->{fin}) {
            my $m = delete $self->{partial};
            $m->{fin} = 1;
            $m->{len} = length $m->{payload};
            return $m;
        }
    }
}

sub closed_by_peer {
    my ($self, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // $self->{timeout});
    while (!$self->{eof}) {
        my $left = $deadline - Time::HiRes::time();
        return 0 if $left <= 0;
        my $f = $self->read_frame($left);
        push @{ $self->{skipped} }, $f if $f;
    }
    # frames that were still buffered
    while (my $f = $self->{hs} ? $self->_parse_lib : $self->_parse_frame) {
        push @{ $self->{skipped} }, $self->_note_frame($f);
    }
    return 1;
}

# close_handshake() sends 1000, close_handshake(undef) a close without payload.
sub close_handshake {
    my ($self, @a) = @_;
    my $timeout = $a[2];
    $self->close(!@a ? () : defined $a[0] ? ($a[0], $a[1]) : (undef));
    $self->closed_by_peer($timeout);
    return $self->{close_code};
}

1;
