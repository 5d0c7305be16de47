package WsApi::Admin;

# Shared helpers of the admin API tests (t/1*.t): the typical
# configuration, a small client for the admin location, the error form of
# SPEC 3.3, and a full dump of Redis to compare before and after.

use strict;
use warnings;

use Test::More ();
use Exporter 'import';
use JSON::PP ();
use WsApi::Test;

our @EXPORT = qw(
    admin_http admin_client error_is redis_dump sample_api minimal_api
    uuid_like rfc3339_like true false no_crash
);

=head1 NAME

WsApi::Admin - helpers for the admin API tests

=head1 FUNCTIONS

    admin_http(%opt)      the "typical" http{} text: ws_api_redis %%REDIS%% OPTS;
                          an admin server on %%PORT_ADMIN%% (location /rest/apigateway/,
                          identity $http_x_user, superuser admin) and a gateway server
                          on %%PORT_GW%% (location /gateway/).
                          opt: teams => 1 (ws_api_teams on), redis_opts => 'prefix=x: db=2',
                          admin_extra => text inside the admin location,
                          identity => '$http_x_user' (undef: no directive, the
                          default $remote_user), superuser => 'admin' (undef: none),
                          http_extra => text at the end of http{},
                          gw_extra => text inside the gateway server{}.
    admin_client($nginx, %opt)  a WsApi::Admin::Client (port_name => 'admin',
                          base => '/rest/apigateway/', user => 'admin')
        ->req($method, $path, %opt)   http_request to base.$path; opt as http_request,
                          plus user => NAME (the X-User header; undef: none)
        ->get / ->post / ->put / ->del ($path, %opt)
        ->create($def, %opt)   POST apis, dies unless 201; returns the body
        ->url($path)
    error_is($res, $status, $field, $name)   the SPEC 3.3 error form: status, JSON
                          content type, {"error":{"status","message","field"?}};
                          $field undef: no "field" member; '*': any or none;
                          a qr//: "field" matches it; else "field" equals it.
                          The message must be a clean sentence (no control
                          characters, no unexpanded %X format).
    redis_dump($redis, db => 0)   {key => [type, value]} of every key (strings as
                          bytes, sets sorted, hashes as hashes, lists, zsets)
    sample_api(%over)     the definition of SPEC 3.1 (no teams), members overridden
                          ('-name' => 1 removes a member)
    minimal_api(%over)    {apiName => ...} only
    uuid_like, rfc3339_like  regexes
    no_crash(@nginx)      one test: no worker died (signal, non-zero exit code) and no
                          sanitizer report in the error logs of these nginx

=cut

sub true  { JSON::PP::true }
sub false { JSON::PP::false }

our $UUID = qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
our $RFC3339 = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/;

sub uuid_like    { $UUID }
sub rfc3339_like { $RFC3339 }

sub admin_http {
    my (%o) = @_;
    my $redis_opts = defined $o{redis_opts} ? " $o{redis_opts}" : '';
    my $teams = $o{teams} ? "ws_api_teams on;\n" : '';
    my $identity = exists $o{identity} ? $o{identity} : '$http_x_user';
    my $superuser = exists $o{superuser} ? $o{superuser} : 'admin';
    my $loc = "ws_api_admin;\n";
    $loc .= "            ws_api_admin_identity $identity;\n" if defined $identity;
    $loc .= "            ws_api_admin_superuser $superuser;\n" if defined $superuser;
    $loc .= "            $o{admin_extra}\n" if defined $o{admin_extra};
    my $gw_extra = $o{gw_extra} // '';
    my $http_extra = $o{http_extra} // '';
    return <<"EOF";
    ws_api_redis %%REDIS%%$redis_opts;
    $teams
    server {
        listen 127.0.0.1:%%PORT_ADMIN%%;
        location /rest/apigateway/ {
            $loc
        }
    }

    server {
        listen 127.0.0.1:%%PORT_GW%%;
        location /gateway/ {
            ws_api_gateway;
            proxy_pass \$ws_api_backend;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
        }
        $gw_extra
    }
    $http_extra
EOF
}

sub admin_client {
    my ($nginx, %opt) = @_;
    return WsApi::Admin::Client->new(nginx => $nginx, %opt);
}

sub error_is {
    my ($res, $status, $field, $name) = @_;
    my @why;
    push @why, "status $res->{status}, expected $status" if $res->{status} != $status;
    my $ct = $res->{headers}{'content-type'} // '';
    $ct = join(', ', @$ct) if ref $ct;
    push @why, "Content-Type \"$ct\", expected application/json"
        unless $ct =~ m{^application/json\s*(?:;|$)}i;
    my $j = eval { json_decode($res->{body}) };
    if (ref $j ne 'HASH' || ref $j->{error} ne 'HASH') {
        push @why, "body is not {\"error\":{...}}";
    } else {
        my $e = $j->{error};
        push @why, "top-level members other than error: " . join(',', grep { $_ ne 'error' } sort keys %$j)
            if keys %$j != 1;
        my @extra = grep { !/^(?:status|message|field)$/ } sort keys %$e;
        push @why, "error has members other than status/message/field: @extra" if @extra;
        push @why, "error.status is " . ($e->{status} // 'missing') . ", expected $status"
            unless defined $e->{status} && !ref $e->{status} && $e->{status} =~ /^\d+$/
                && $e->{status} == $status;
        push @why, "error.message missing or empty"
            unless defined $e->{message} && !ref $e->{message} && length $e->{message};
        # a human sentence: no control characters, no unexpanded format
        push @why, "error.message is not a clean sentence: " . json_encode($e->{message})
            if defined $e->{message} && !ref $e->{message}
                && $e->{message} =~ /[\x00-\x1f\x7f]|%[a-zA-Z]/;
        if (!defined $field) {
            push @why, "error.field is \"$e->{field}\", expected none" if exists $e->{field};
        } elsif (ref $field eq 'Regexp') {
            push @why, "error.field is \"" . ($e->{field} // '(none)') . "\", expected to match $field"
                unless defined $e->{field} && $e->{field} =~ $field;
        } elsif ($field ne '*') {
            push @why, "error.field is \"" . ($e->{field} // '(none)') . "\", expected \"$field\""
                unless defined $e->{field} && $e->{field} eq $field;
        }
    }
    my $ok = Test::More->builder->ok(!@why, $name);
    unless ($ok) {
        Test::More::diag("  $_") for @why;
        Test::More::diag("  body: " . substr($res->{body} // '', 0, 600));
    }
    return $ok;
}

sub redis_dump {
    my ($redis, %opt) = @_;
    my $c = $redis->client;
    $c->cmd('SELECT', $opt{db} // 0);
    my %d;
    for my $k (sort $c->cmd('KEYS', '*')) {
        my $t = $c->cmd('TYPE', $k);
        my $v;
        if    ($t eq 'string') { $v = $c->cmd('GET', $k) }
        elsif ($t eq 'set')    { $v = [sort $c->cmd('SMEMBERS', $k)] }
        elsif ($t eq 'hash')   { $v = { $c->cmd('HGETALL', $k) } }
        elsif ($t eq 'list')   { $v = [$c->cmd('LRANGE', $k, 0, -1)] }
        elsif ($t eq 'zset')   { $v = [$c->cmd('ZRANGE', $k, 0, -1, 'WITHSCORES')] }
        else                   { $v = $c->cmd('DUMP', $k) }
        $d{$k} = [$t, $v, $c->cmd('PTTL', $k)];
    }
    $c->stop;
    return \%d;
}

sub no_crash {
    my (@nginx) = @_;
    my @bad;
    for my $n (@nginx) {
        my $log = $n->error_log // '';
        push @bad, $1 while $log =~ /^(.*(?:exited on signal|exited with code [1-9]|runtime error:|AddressSanitizer|\[alert\]).*)$/mg;
    }
    my $ok = Test::More->builder->ok(!@bad, 'no worker crashed, no sanitizer report, no alert');
    Test::More::diag("  $_") for @bad;
    return $ok;
}

sub sample_api {
    my (%over) = @_;
    my $d = {
        type           => 'websocket',
        apiName        => 'ticker',
        apiVersion     => '1.0',
        apiDescription => 'Live prices',
        wsUrl          => 'ws://prices.internal:9001/stream',
        parameters     => [
            { name => 'symbol', description => '', in => 'query', dataType => 'string',
              required => true, array => true, values => ['AAPL', 'MSFT'] },
            { name => 'X-Client-Id', in => 'header', dataType => 'integer' },
        ],
        messages => [
            { origin => 'client', type => 'text', samplePayload => '{"subscribe":"AAPL"}',
              description => 'subscribe' },
            { origin => 'server', type => 'binary', samplePayload => '',
              description => 'price tick' },
        ],
        policies => {},
    };
    for my $k (keys %over) {
        if ($k =~ /^-(.*)/) { delete $d->{$1} }      # '-wsUrl' => 1 deletes wsUrl
        else                { $d->{$k} = $over{$k} }
    }
    return $d;
}

sub minimal_api {
    my (%over) = @_;
    return { apiName => 'basic', %over };
}

package WsApi::Admin::Client;

use strict;
use warnings;
use WsApi::Test;

sub new {
    my ($class, %o) = @_;
    my $self = bless {
        nginx => $o{nginx},
        port  => $o{port},
        port_name => $o{port_name} // 'admin',
        base  => $o{base} // '/rest/apigateway/',
        user  => exists $o{user} ? $o{user} : 'admin',
    }, $class;
    return $self;
}

sub port {
    my ($self) = @_;
    return $self->{port} // $self->{nginx}->port($self->{port_name});
}

sub url {
    my ($self, $path) = @_;
    return "http://127.0.0.1:" . $self->port . $self->{base} . ($path // '');
}

sub req {
    my ($self, $method, $path, %opt) = @_;
    my $user = exists $opt{user} ? delete $opt{user} : $self->{user};
    my %h = %{ delete $opt{headers} || {} };
    $h{'X-User'} = $user if defined $user;
    return http_request($method, $self->url($path), headers => \%h, %opt);
}

sub get  { my $s = shift; $s->req(GET    => @_) }
sub post { my $s = shift; $s->req(POST   => @_) }
sub put  { my $s = shift; $s->req(PUT    => @_) }
sub del  { my $s = shift; $s->req(DELETE => @_) }

sub create {
    my ($self, $def, %opt) = @_;
    my $r = $self->post('apis', json => $def, %opt);
    die "create failed: $r->{status} $r->{body}\n" unless $r->{status} == 201;
    return $r->{json};
}

1;
