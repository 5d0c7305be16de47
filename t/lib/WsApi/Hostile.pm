package WsApi::Hostile;

# Helpers of the hostile-input tests (t/4*.t): a full Redis dump to prove
# that a rejected request changed nothing, the JSON error form of SPEC 3.3,
# the signs of a crashed or hung worker, worker memory, work done in a
# forked child while the parent measures, and a stub WebSocket backend
# driven by the test itself.

use strict;
use warnings;

use Exporter 'import';
use Test::More ();
use POSIX ();
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);
use Digest::SHA qw(sha1);
use MIME::Base64 qw(encode_base64);
use WsApi::Test;
use WsApi::Admin ();

our @EXPORT = qw(
    redis_state json_error_ok clean_message crash_lines no_crash_since
    worker_rss in_child responsive revive stub_backend printable start_fake_redis
    soak_connections start_soak
);

=head1 NAME

WsApi::Hostile - helpers for the hostile-input tests

=head1 FUNCTIONS

    redis_state($redis)   {key => [type, value, ttl]} of every key of db 0
                          (strings as bytes, sets sorted, hashes, lists, zsets)
    json_error_ok($res, $status, %opt)   ONE test: the status ($status a number,
                          an array ref of numbers, or a qr// on the number), a JSON
                          content type, a body {"error": {"status": <the same>,
                          "message": "clean sentence", ...}}.  opt: name, field
                          (string or qr//: error.field must match), extra => 1
                          (members other than status/message/field allowed: the
                          gateway's parameter, in, reason).  Returns the error object.
    clean_message($msg)   why $msg is not a clean sentence (control characters,
                          an unexpanded format such as "%V" or "*s"), or ''
    crash_lines($nginx, from => $mark)  error log lines that show a crash, a
                          sanitizer report or an alert
    no_crash_since($nginx, $mark, $name)  ONE test: no such line since $mark
    worker_rss($nginx)    {pid => VmRSS in kB} of the current workers
    in_child(sub { ... }) runs the code in a forked child (no test output, no
                          END blocks); returns a handle: ->wait($timeout) gives
                          the code's return value (any Perl data, through JSON)
    responsive($port, $timeout)  a plain GET on the port answers (any status)
                          within $timeout: the elapsed seconds or undef
    revive($nginx, $port, $check)  when the workers do not answer (hung), kill
                          them (the master starts new ones) and wait for an answer;
                          returns true if it had to.  $check 0: they are known not to
                          answer, kill them at once
    stub_backend()        a WsApi::Hostile::Stub: a listening socket the test drives
                          by hand (->port, ->url($path), ->accept_ws($timeout): the
                          accepted connection after a 101, ->read_all($conn, $secs),
                          ->eof($conn, $secs))
    printable($bytes)     the bytes with non-printables as \xNN, cut to 300
    start_fake_redis(upstream => $redis)  t/lib/fake_redis.py in front of a real
                          Redis (a WsApi::Test::Redis): a WsApi::Hostile::FakeRedis
                          (->port, ->addr, ->ctl(@words): a FAKE command, its reply;
                          ->rule($match, $action, $count), ->clear, ->inject($action),
                          ->drop, ->stats (decoded), ->log (entries), ->stop).  Stopped
                          at the end of the test.
    soak_connections($n)  $n, or fewer when RLIMIT_NOFILE cannot hold them (each
                          takes a descriptor in the client, two in nginx, one in
                          the backend), with a diag saying so
    start_soak($gw, name => $dir_name, path => $path, connections => $n,
               args => [...])  t/lib/soak_client.py (t/44, t/45) against the
                          gateway's port, its files in tmpdir()/$dir_name, the
                          extra arguments after the others (or sub { [...] },
                          given the soak, to name its files); waits until the
                          connections are made and tests (TWO tests) that all $n
                          are.  A WsApi::Hostile::Soak: ->status (the client's
                          status file, decoded, {} while unreadable), ->file($name)
                          (out, status, log, or any other name: a path in its
                          directory), ->touch($name) (creates that file),
                          ->result (waits for the client, its final figures).
                          Killed at the end of the test.

=cut

sub printable {
    my ($s) = @_;
    $s //= '';
    $s = substr($s, 0, 300) . '...' if length $s > 300;
    $s =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    return $s;
}

# WsApi::Admin's redis_dump, with the values of the other types (streams...)
# as the hex of their DUMP
sub redis_state {
    my ($redis) = @_;
    my $d = WsApi::Admin::redis_dump($redis);
    $_->[1] = unpack('H*', $_->[1] // '')
        for grep { $_->[0] !~ /^(?:string|set|hash|list|zset)$/ } values %$d;
    return $d;
}

sub clean_message {
    my ($m) = @_;
    return 'no message' unless defined $m && !ref $m && length $m;
    my @why;
    push @why, 'control characters' if $m =~ /[\x00-\x1f\x7f]/;
    push @why, 'an unexpanded format' if $m =~ /%[a-zA-Z]|%\.?\*|(?<![\w%])\*s\b/;
    return join(', ', @why);
}

sub json_error_ok {
    my ($res, $status, %opt) = @_;
    my $name = $opt{name} // "JSON error $status";
    my @why;
    my $got = $res->{status} // 0;
    my $status_ok = ref $status eq 'ARRAY' ? (grep { $_ == $got } @$status)
                  : ref $status eq 'Regexp' ? $got =~ $status
                  : $got == $status;
    push @why, "status $got" . ($res->{error} ? " ($res->{error})" : '')
        unless $status_ok;
    my $ct = $res->{headers}{'content-type'} // '';
    $ct = join(', ', @$ct) if ref $ct;
    push @why, "Content-Type \"$ct\" is not application/json"
        unless $ct =~ m{^application/json\s*(?:;|$)}i;
    my $j = eval { json_decode($res->{body} // '') };
    my $e;
    if (ref $j ne 'HASH' || ref $j->{error} ne 'HASH') {
        push @why, 'body is not {"error": {...}}';
    } else {
        $e = $j->{error};
        push @why, "error.status " . ($e->{status} // 'missing') . " is not the status $got"
            unless defined $e->{status} && !ref $e->{status} && $e->{status} eq $got;
        if (my $bad = clean_message($e->{message})) {
            push @why, "error.message: $bad: " . printable(json_encode($e->{message}));
        }
        unless ($opt{extra}) {
            my @extra = grep { !/^(?:status|message|field)$/ } sort keys %$e;
            push @why, "unexpected members in error: @extra" if @extra;
        }
        if (defined $opt{field}) {
            my $f = $e->{field};
            push @why, 'error.field is ' . ($f // '(none)') . ", expected $opt{field}"
                unless defined $f && (ref $opt{field} ? $f =~ $opt{field} : $f eq $opt{field});
        }
    }
    my $ok = Test::More->builder->ok(!@why, $name);
    unless ($ok) {
        Test::More::diag("  $_") for @why;
        Test::More::diag('  body: ' . printable($res->{body}));
    }
    return $e;
}

sub soak_connections {
    my ($n) = @_;
    my $limit = POSIX::sysconf(POSIX::_SC_OPEN_MAX()) // 1024;
    return $n if $limit >= 2 * $n + 200;
    my $m = int(($limit - 200) / 2);
    Test::More::diag("RLIMIT_NOFILE is $limit: $m connections instead of $n");
    return $m;
}

my @SOAKS;
END { kill 'TERM', $_->{pid} for grep { $_->{pid} && kill 0, $_->{pid} } @SOAKS }

sub start_soak {
    my ($gw, %o) = @_;
    my $dir = tmpdir() . "/$o{name}";
    mkdir $dir;
    my $self = bless { dir => $dir }, 'WsApi::Hostile::Soak';
    # the harness's own spawn: the client dies with the test (PR_SET_PDEATHSIG)
    $self->{pid} = WsApi::Test::_spawn(
        [$ENV{WSAPI_PYTHON} // '/usr/bin/python3', repo_root() . '/t/lib/soak_client.py',
         '--port', $gw->port, '--path', $o{path}, '--connections', $o{connections},
         '--out', $self->file('out'), '--status', $self->file('status'),
         @{ ref $o{args} eq 'CODE' ? $o{args}->($self) : $o{args} || [] }],
        $self->file('log'), 'soak_client.py');
    push @SOAKS, $self;

    my $tb = Test::More->builder;
    $tb->ok(WsApi::Test::poll_until(timeout_scale(60),
                                    sub { defined $self->status->{connect_secs} }),
            'the client has made its connections');
    my $st = $self->status;
    $tb->is_num($st->{established}, $o{connections},
                sprintf('%d of %d connections established in %.1f s', $st->{established} // 0,
                        $o{connections}, $st->{connect_secs} // -1));
    return $self;
}

my $CRASH = qr/exited on signal|exited with code [1-9]|AddressSanitizer|LeakSanitizer|runtime error:|\[alert\]|\[emerg\]/;

sub crash_lines {
    my ($nginx, %opt) = @_;
    my $log = $nginx->error_log(from => $opt{from} // 0);
    return grep { /$CRASH/ } split /\n/, $log;
}

sub no_crash_since {
    my ($nginx, $mark, $name) = @_;
    my @bad = crash_lines($nginx, from => $mark);
    my $ok = Test::More->builder->ok(!@bad, $name // 'no worker crashed, no alert');
    Test::More::diag("  $_") for @bad[0 .. ($#bad < 9 ? $#bad : 9)];
    return $ok;
}

sub worker_rss {
    my ($nginx) = @_;
    my %rss;
    for my $pid ($nginx->worker_pids) {
        open my $fh, '<', "/proc/$pid/status" or next;
        while (<$fh>) {
            $rss{$pid} = $1 if /^VmRSS:\s+(\d+)/;
        }
    }
    return \%rss;
}

sub in_child {
    my ($code) = @_;
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        close $r;
        my $out = eval { { ok => 1, value => $code->() } } // { ok => 0, error => "$@" };
        my $text = eval { json_encode($out) } // json_encode({ ok => 0, error => "encode: $@" });
        syswrite($w, $text);
        close $w;
        POSIX::_exit(0);
    }
    close $w;
    return bless { pid => $pid, fh => $r }, 'WsApi::Hostile::Child';
}

sub responsive {
    my ($port, $timeout) = @_;
    my $t0 = time;
    my $r = raw_request(port => $port, timeout => $timeout // 3,
                        data => "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    return undef unless $r->{status};
    return sprintf('%.3f', time - $t0) || '0.001';
}

sub revive {
    my ($nginx, $port, $check) = @_;
    return 0 if ($check // 1) && responsive($port, timeout_scale(3));
    Test::More::diag('workers do not answer: killing them (the master starts new ones)');
    my @old = $nginx->worker_pids;
    kill 'KILL', @old;
    poll_until(timeout_scale(10), sub {
        my %old = map { $_ => 1 } @old;
        my @w = grep { !$old{$_} } $nginx->worker_pids;
        @w && responsive($port, 2);
    });
    return 1;
}

sub stub_backend {
    return WsApi::Hostile::Stub->new;
}

my @FAKES;
my $MAIN = $$;

sub start_fake_redis {
    my (%opt) = @_;
    my $dir = tmpdir() . '/fake-redis-' . (@FAKES + 1);
    mkdir $dir;
    my @cmd = ($ENV{WSAPI_PYTHON} // '/usr/bin/python3', repo_root() . '/t/lib/fake_redis.py',
               '--upstream', $opt{upstream}->addr, '--port-file', "$dir/port",
               '--log', "$dir/fake.log");
    # the harness's own spawn: dies with the test (PR_SET_PDEATHSIG)
    my $pid = WsApi::Test::_spawn(\@cmd, "$dir/stderr", 'fake_redis.py');
    poll_until(timeout_scale(10), sub { -s "$dir/port" }) or die "fake redis did not start\n";
    open my $fh, '<', "$dir/port" or die;
    my $port = <$fh>;
    my $self = bless { pid => $pid, dir => $dir, port => $port + 0 }, 'WsApi::Hostile::FakeRedis';
    push @FAKES, $self;
    return $self;
}

END {
    if ($$ == $MAIN) {
        local ($?, $!);
        $_->stop for @FAKES;
    }
}

package WsApi::Hostile::Soak;

my %SOAK_FILES = (out => 'result.json', status => 'status.json', log => 'client.log');

sub file { "$_[0]{dir}/" . ($SOAK_FILES{$_[1]} // $_[1]) }

sub status {
    my ($self) = @_;
    open my $fh, '<', $self->file('status') or return {};
    local $/;
    return eval { WsApi::Test::json_decode(<$fh>) } // {};
}

sub touch {
    my ($self, $name) = @_;
    open my $fh, '>', $self->file($name) or die $self->file($name) . ": $!";
    close $fh;
}

sub result {
    my ($self) = @_;
    waitpid($self->{pid}, 0);
    delete $self->{pid};
    open my $fh, '<', $self->file('out') or return {};
    local $/;
    return eval { WsApi::Test::json_decode(<$fh> // '') } // {};
}


package WsApi::Hostile::Child;

use Time::HiRes qw(time);
use IO::Select;

sub pid { $_[0]{pid} }

sub wait {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // 60);
    my $buf = '';
    my $sel = IO::Select->new($self->{fh});
    while (time < $deadline) {
        next unless $sel->can_read(0.2);
        my $n = sysread($self->{fh}, $buf, 65536, length $buf);
        last unless $n;
    }
    if (time >= $deadline) {
        kill 'KILL', $self->{pid};
    }
    waitpid($self->{pid}, 0);
    close $self->{fh};
    my $out = eval { WsApi::Test::json_decode($buf) } // { ok => 0, error => 'no result' };
    die "child: $out->{error}\n" unless $out->{ok};
    return $out->{value};
}

package WsApi::Hostile::FakeRedis;

use IO::Socket::INET;

sub port { $_[0]{port} }
sub addr { '127.0.0.1:' . $_[0]{port} }
sub pid  { $_[0]{pid} }

sub ctl {
    my ($self, @words) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Timeout => 5)
        or die "fake redis: $!\n";
    my @a = ('FAKE', @words);
    print $s '*' . @a . "\r\n" . join('', map { '$' . length($_) . "\r\n$_\r\n" } @a);
    my $line = <$s> // '';
    my $out = $line;
    if ($line =~ /^\$(\d+)/) {
        read($s, $out, $1 + 2);
        $out = substr($out, 0, $1);
    }
    close $s;
    $out =~ s/\r\n$//;
    return $out;
}

sub rule   { my $s = shift; $s->ctl('RULE', @_) }
sub clear  { $_[0]->ctl('CLEAR') }
sub inject { $_[0]->ctl('INJECT', $_[1]) =~ /^:(\d+)/ ? $1 : 0 }
sub drop   { $_[0]->ctl('DROP') }
sub stats  { WsApi::Test::json_decode($_[0]->ctl('STATS')) }

sub log {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/fake.log" or return ();
    return map { eval { WsApi::Test::json_decode($_) } // () } <$fh>;
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'TERM', $self->{pid};
    waitpid($self->{pid}, 0);
    delete $self->{pid};
}

package WsApi::Hostile::Stub;

use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);
use Digest::SHA qw(sha1);
use MIME::Base64 qw(encode_base64);

sub new {
    my ($class) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 128, ReuseAddr => 1)
        or die "stub backend: $!\n";
    return bless { listen => $l }, $class;
}

sub port { $_[0]{listen}->sockport }
sub url  { 'ws://127.0.0.1:' . $_[0]->port . ($_[1] // '/') }

# accepts one connection, reads the handshake, answers 101
sub accept_ws {
    my ($self, $timeout) = @_;
    my $sel = IO::Select->new($self->{listen});
    return undef unless $sel->can_read($timeout // 10);
    my $c = $self->{listen}->accept or return undef;
    $c->blocking(0);
    my $req = '';
    my $deadline = time + ($timeout // 10);
    my $cs = IO::Select->new($c);
    while ($req !~ /\r\n\r\n/ && time < $deadline) {
        next unless $cs->can_read(0.2);
        my $n = sysread($c, $req, 65536, length $req);
        return undef unless $n;
    }
    my ($key) = $req =~ /^Sec-WebSocket-Key:\s*(\S+)/mi;
    my $accept = encode_base64(sha1(($key // '') . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'), '');
    syswrite($c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 . "Connection: Upgrade\r\nSec-WebSocket-Accept: $accept\r\n\r\n");
    $self->{request}{$c} = $req;
    return $c;
}

# every byte that arrives on $c within $secs (stops early at EOF)
sub read_all {
    my ($self, $c, $secs, $want) = @_;
    my $buf = '';
    my $deadline = time + $secs;
    my $sel = IO::Select->new($c);
    while (time < $deadline) {
        last if defined $want && length $buf >= $want;
        next unless $sel->can_read(0.1);
        my $n = sysread($c, $buf, 65536, length $buf);
        last if defined $n && $n == 0;
        last if !defined $n && !$!{EAGAIN};
    }
    return $buf;
}

# seconds until $c reaches EOF (or a reset), undef if not within $secs
sub eof {
    my ($self, $c, $secs) = @_;
    my $t0 = time;
    my $sel = IO::Select->new($c);
    while (time - $t0 < $secs) {
        next unless $sel->can_read(0.1);
        my $n = sysread($c, my $buf, 65536);
        return sprintf('%.3f', time - $t0) || '0.001' if defined $n && $n == 0;
        return sprintf('%.3f', time - $t0) || '0.001' if !defined $n && !$!{EAGAIN};
    }
    return undef;
}

1;
