package WsApi::Gateway;

# Shared helpers of the gateway tests (t/2*.t): the canonical gateway
# location of SPEC 2 (word for word), an admin server, a small admin
# client, handshakes through the gateway and the error forms of SPEC 3.3
# and 4.1.

use strict;
use warnings;

use Test::More ();
use Exporter 'import';
use JSON::PP ();
use Time::HiRes ();
use POSIX ();
use WsApi::Test;

our @EXPORT = qw(
    canonical_location gw_http admin_req create_api activate deactivate
    create_active replace_api get_api gw_connect gw_handshake wait_status
    error_is gw_error_is param_error_is header_of true false uniq_name
    start_dns
);

=head1 NAME

WsApi::Gateway - helpers for the gateway tests (t/2*.t)

=head1 FUNCTIONS

    canonical_location()   the location block of SPEC 2, unchanged
    gw_http(%o)            http{} text: ws_api_redis %%REDIS%% timeout=500ms
                           (redis_opts => '...' replaces "timeout=500ms"),
                           an admin server on %%PORT_ADMIN%% (location
                           /rest/apigateway/, identity $http_x_user, superuser
                           admin), a gateway server on %%PORT_GW%% with the
                           canonical location; gw_extra (inside the gateway
                           server), http_extra (end of http{})
    admin_req($nginx, $method, $path, %opt)  http_request to the admin API as
                           "admin" (user => NAME overrides, undef: none)
    create_api($nginx, $def)   POST apis; dies unless 201; returns the body
    activate / deactivate ($nginx, $id)  PUT apis/{id}/activate...; dies unless 200
    create_active($nginx, $def)  both; returns the created body
    replace_api($nginx, $id, $def)  PUT apis/{id}; dies unless 200
    get_api($nginx, $id)
    gw_connect($nginx, $path, %opt)   ws_connect to the gateway port
    gw_handshake($nginx, $path, %opt) the same, the connection then dropped;
                           returns the status
    wait_status($nginx, $path, $status, $secs, %opt)  poll until a handshake
                           answers $status; elapsed seconds or undef
    error_is($res, $status, $name, %extra)   the JSON error of SPEC 3.3 ($res:
                           a ws or an http_request result); %extra: members of
                           "error" that must be present with these values;
                           no other members than status/message/field and those
    param_error_is($ws, $param, $in, $reason, $name)
    uniq_name($prefix)     a fresh apiName
    start_dns(name => 'x.test', addr => '127.0.0.1')  t/lib/dns_responder.py on
                           a free UDP port: {port, pid, queries => sub {...}};
                           stopped at the end of the test

=cut

sub true  { JSON::PP::true }
sub false { JSON::PP::false }

sub canonical_location {
    return <<'EOF';
location /gateway/ {
    ws_api_gateway;
    proxy_pass $ws_api_backend;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
    proxy_read_timeout 1h;
}
EOF
}

sub gw_http {
    my (%o) = @_;
    my $ropts = exists $o{redis_opts} ? $o{redis_opts} : 'timeout=500ms';
    $ropts = defined $ropts && length $ropts ? " $ropts" : '';
    my $loc = canonical_location();
    my $gw_extra = $o{gw_extra} // '';
    my $http_extra = $o{http_extra} // '';
    my $gw_listen = $o{gw_listen} // 'listen 127.0.0.1:%%PORT_GW%%;';
    return <<"EOF";
    ws_api_redis %%REDIS%%$ropts;

    server {
        listen 127.0.0.1:%%PORT_ADMIN%%;
        location /rest/apigateway/ {
            ws_api_admin;
            ws_api_admin_identity \$http_x_user;
            ws_api_admin_superuser admin;
        }
    }

    server {
        $gw_listen
$loc
$gw_extra
    }
$http_extra
EOF
}

sub admin_req {
    my ($nginx, $method, $path, %opt) = @_;
    my $user = exists $opt{user} ? delete $opt{user} : 'admin';
    my %h = %{ delete $opt{headers} || {} };
    $h{'X-User'} = $user if defined $user;
    my $port = delete $opt{port} // $nginx->port('admin');
    return http_request($method, "http://127.0.0.1:$port/rest/apigateway/$path",
                        headers => \%h, %opt);
}

sub create_api {
    my ($nginx, $def) = @_;
    my $r = admin_req($nginx, POST => 'apis', json => $def);
    die "create failed: $r->{status} $r->{body}\n" unless $r->{status} == 201;
    return $r->{json};
}

sub activate {
    my ($nginx, $id) = @_;
    my $r = admin_req($nginx, PUT => "apis/$id/activate");
    die "activate failed: $r->{status} $r->{body}\n" unless $r->{status} == 200;
    return $r->{json};
}

sub deactivate {
    my ($nginx, $id) = @_;
    my $r = admin_req($nginx, PUT => "apis/$id/deactivate");
    die "deactivate failed: $r->{status} $r->{body}\n" unless $r->{status} == 200;
    return $r->{json};
}

sub create_active {
    my ($nginx, $def) = @_;
    my $c = create_api($nginx, $def);
    activate($nginx, $c->{id});
    return $c;
}

sub get_api {
    my ($nginx, $id) = @_;
    my $r = admin_req($nginx, GET => "apis/$id");
    die "get failed: $r->{status} $r->{body}\n" unless $r->{status} == 200;
    return $r->{json};
}

sub replace_api {
    my ($nginx, $id, $def) = @_;
    my %d = %$def;
    delete @d{qw(id isActive gatewayEndpoints revision createdAt updatedAt)};
    my $r = admin_req($nginx, PUT => "apis/$id", json => \%d);
    die "replace failed: $r->{status} $r->{body}\n" unless $r->{status} == 200;
    return $r->{json};
}

sub gw_connect {
    my ($nginx, $path, %opt) = @_;
    my $port = delete $opt{port} // $nginx->port('gw');
    return ws_connect(port => $port, path => $path, timeout => 5, %opt);
}

sub gw_handshake {
    my ($nginx, $path, %opt) = @_;
    my $ws = gw_connect($nginx, $path, %opt);
    my $st = $ws->status;
    $ws->disconnect;
    return $st;
}

sub wait_status {
    my ($nginx, $path, $status, $secs, %opt) = @_;
    return poll_until($secs, sub { gw_handshake($nginx, $path, %opt) == $status });
}

my $N = 0;
sub uniq_name { my ($p) = @_; return ($p // 'api') . '-' . $$ . '-' . ++$N }

# the value of a header of an answer (ws object or http_request hash)
sub header_of {
    my ($res, $name) = @_;
    my $v = ref $res eq 'HASH' ? $res->{headers}{ lc $name } : $res->header($name);
    return ref $v ? join(', ', @$v) : $v;
}

sub _parts {
    my ($res) = @_;
    return ref $res eq 'HASH' ? ($res->{status}, $res->{body}) : ($res->status, $res->body);
}

sub error_is {
    my ($res, $status, $name, %extra) = @_;
    my ($st, $body) = _parts($res);
    my @why;
    push @why, "status $st, expected $status" if $st != $status;
    my $ct = header_of($res, 'content-type') // '';
    push @why, "Content-Type \"$ct\", expected application/json"
        unless $ct =~ m{^application/json\s*(?:;|$)}i;
    my $j = eval { json_decode($body // '') };
    if (ref $j ne 'HASH' || ref $j->{error} ne 'HASH') {
        push @why, 'body is not {"error":{...}}';
    } else {
        my $e = $j->{error};
        push @why, 'top-level members other than error: ' . join(',', grep { $_ ne 'error' } sort keys %$j)
            if keys %$j != 1;
        push @why, 'error.status is ' . ($e->{status} // 'missing') . ", expected $status"
            unless defined $e->{status} && !ref $e->{status} && $e->{status} =~ /^\d+$/
                && $e->{status} == $status;
        push @why, 'error.message missing or empty'
            unless defined $e->{message} && !ref $e->{message} && length $e->{message};
        my %allowed = map { $_ => 1 } qw(status message field), keys %extra;
        my @more = grep { !$allowed{$_} } sort keys %$e;
        push @why, "error has unexpected members: @more" if @more;
        for my $k (sort keys %extra) {
            my $want = $extra{$k};
            if (ref $want eq 'Regexp') {
                push @why, "error.$k is \"" . ($e->{$k} // '(none)') . "\", expected $want"
                    unless defined $e->{$k} && $e->{$k} =~ $want;
            } else {
                push @why, "error.$k is \"" . ($e->{$k} // '(none)') . "\", expected \"$want\""
                    unless defined $e->{$k} && !ref $e->{$k} && $e->{$k} eq $want;
            }
        }
    }
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = Test::More::ok(!@why, $name);
    unless ($ok) {
        Test::More::diag("  $_") for @why;
        Test::More::diag('  body: ' . substr($body // '', 0, 600));
    }
    return $ok;
}

sub gw_error_is { goto &error_is }

my @DNS;

sub start_dns {
    my (%o) = @_;
    my $dir = tmpdir();
    my $n = @DNS + 1;
    my $pf = "$dir/dns-$n.port";
    my $log = "$dir/dns-$n.log";
    my $py = $ENV{WSAPI_PYTHON} // '/usr/bin/python3';
    my $pid = fork // die "fork: $!\n";
    if (!$pid) {
        exec($py, repo_root() . '/t/lib/dns_responder.py', '--name', $o{name},
             '--addr', $o{addr} // '127.0.0.1', '--port-file', $pf, '--log', $log)
            or POSIX::_exit(127);
    }
    push @DNS, $pid;
    poll_until(10, sub { -s $pf }) or die "dns_responder did not start\n";
    open my $fh, '<', $pf or die "$pf: $!\n";
    my $port = <$fh>;
    return {
        port => $port + 0, pid => $pid,
        queries => sub { open my $l, '<', $log or return (); map { chomp; $_ } <$l> },
    };
}

END {
    local $?;
    for my $pid (@DNS) {
        kill 'TERM', $pid;
        waitpid($pid, 0);
    }
}

sub param_error_is {
    my ($ws, $param, $in, $reason, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return error_is($ws, 400, $name, parameter => $param, in => $in, reason => $reason);
}

1;
