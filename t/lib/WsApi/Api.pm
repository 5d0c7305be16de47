package WsApi::Api;

# A gateway ready to use: Redis, a backend, nginx with an admin location and
# the canonical gateway location of SPEC section 2, and helpers to define
# APIs through the admin API.
#
#     my $gw = gateway(main => 'worker_processes 2;', location => '...');
#     my $api = $gw->define(apiName => 'echo', messages => [...]);
#     my $ws = $gw->connect('/gateway/echo/1.0');

use strict;
use warnings;

use Exporter 'import';
use WsApi::Test;

our @EXPORT = qw(gateway);

sub gateway {
    my (%opt) = @_;

    my $self = bless { %opt }, __PACKAGE__;

    $self->{redis} = $opt{redis} // start_redis();
    $self->{backend} = $opt{backend} // start_backend(%{ $opt{backend_opt} // {} });

    my $location = $opt{location} // '';
    my $server = $opt{server} // '';
    my $http = $opt{http} // '';
    my $listen = $opt{listen} // '127.0.0.1:%%PORT_GW%%';
    my $redis_options = $opt{redis_options} // '';

    $self->{nginx} = start_nginx(
        main => $opt{main} // '',
        redis => $self->{redis},
        backend => $self->{backend},
        log_format => $opt{log_format}
            // '$status api=$ws_api_name/$ws_api_version close=$ws_api_close_code',
        http => <<"EOF");
    ws_api_redis %%REDIS%% $redis_options;
    $http
    server {
        listen 127.0.0.1:%%PORT_ADMIN%%;
        location /rest/apigateway/ {
            ws_api_admin;
            ws_api_admin_identity \$http_x_user;
            ws_api_admin_superuser admin;
        }
    }
    server {
        listen $listen;
        $server
        location /gateway/ {
            ws_api_gateway;
            proxy_pass \$ws_api_backend;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1h;
            $location
        }
    }
EOF

    return $self;
}

sub redis { $_[0]{redis} }
sub backend { $_[0]{backend} }
sub nginx { $_[0]{nginx} }
sub port { $_[0]{nginx}->port('gw') }

sub admin {
    my ($self, $method, $path, $json) = @_;

    return http_request($method,
        'http://127.0.0.1:' . $self->{nginx}->port('admin')
        . "/rest/apigateway/$path",
        headers => { 'X-User' => 'admin' },
        defined $json ? (json => $json) : ());
}

# Creates an API (wsUrl defaults to the backend's /stream), activates it,
# and waits until the gateway serves it; returns the definition.

sub define {
    my ($self, %def) = @_;

    $def{wsUrl} //= $self->{backend}->url('/stream');

    my $r = $self->admin(POST => 'apis', \%def);
    die "create: $r->{status} $r->{body}" unless $r->{status} == 201;

    my $id = $r->{json}{id};

    $r = $self->admin(PUT => "apis/$id/activate");
    die "activate: $r->{status} $r->{body}" unless $r->{status} == 200;

    my $path = "/gateway/$def{apiName}/" . ($def{apiVersion} // '1.0');

    poll_until(timeout_scale(10), sub {
        my $ws = $self->connect($path, %{ $def{_probe} // {} });
        my $ok = $ws->status != 404 && $ws->status != 503;
        $ws->disconnect;
        $ok;
    }) or die "API $path not served in time";

    return $r->{json};
}

sub connect {
    my ($self, $path, %opt) = @_;

    return ws_connect(port => $self->port, path => $path, %opt);
}

# the backend's log of the connection that asked for $path

sub backend_frames {
    my ($self, $path) = @_;

    return $self->{backend}->frames(path => $path);
}

1;
