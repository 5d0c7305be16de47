#!/usr/bin/perl

# Directives (SPEC 2): "nginx -t" refuses a wrong configuration with a
# message that names the directive: ws_api_redis missing while another
# ws_api_* directive is used, bad addresses, unknown options, bad db= and
# timeout= values, ws_api_gateway / ws_api_admin outside a prefix
# location, duplicates, wrong contexts; valid configurations pass.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;
use WsApi::Admin;

my $GW = <<'EOF';
            proxy_pass $ws_api_backend;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
EOF

# an http{} text: ws_api_redis (unless undef) and a server with the given text
sub conf {
    my (%o) = @_;
    my $redis = exists $o{redis} ? $o{redis} : '127.0.0.1:6379';
    my $http = defined $redis ? "ws_api_redis $redis;\n" : '';
    $http .= ($o{http} // '') . "\n";
    $http .= "server {\n    listen 127.0.0.1:%%PORT_A%%;\n" . ($o{server} // '') . "\n}\n";
    return $http;
}

sub fails {
    my ($http, $re, $name) = @_;
    my ($rc, $out) = nginx_test(http => $http);
    my @res = ref $re eq 'ARRAY' ? @$re : ($re);
    my @miss = grep { $out !~ $_ } (qr/\[emerg\]/, qr/nginx\.conf:\d+/, @res);
    my $ok = ok($rc != 0 && !@miss, "nginx -t fails: $name");
    diag("exit code $rc; missing in the output: @miss\n$out") unless $ok;
    return $ok;
}

sub passes {
    my ($http, $name) = @_;
    my ($rc, $out) = nginx_test(http => $http);
    my $ok = ok($rc == 0, "nginx -t passes: $name");
    diag($out) unless $ok;
    return $ok;
}

###############################################################################
# valid configurations

passes('server { listen 127.0.0.1:%%PORT_A%%; location / { return 200; } }',
       'the module loaded, no ws_api directive');
passes(admin_http() =~ s/%%REDIS%%/127.0.0.1:6379/r, 'the typical configuration');
passes(<<"EOF", 'every directive, in each of its contexts');
ws_api_redis 127.0.0.1:6379 db=2 password=p\@ss prefix=app: timeout=500ms;
ws_api_cache 16m;
ws_api_teams on;
ws_api_admin_identity \$http_x_user;
ws_api_admin_superuser root;
server {
    listen 127.0.0.1:%%PORT_A%%;
    ws_api_admin_identity \$remote_user;
    ws_api_admin_superuser admin ops;
    location /rest/apigateway/ {
        ws_api_admin;
        ws_api_admin_identity \$ssl_client_s_dn;
        ws_api_admin_superuser "CN=admin";
    }
    location /gateway/ {
        ws_api_gateway;
$GW
        proxy_read_timeout 1h;
    }
    location ^~ /ws/ {
        ws_api_gateway;
$GW
    }
    location /outer/ {
        location /outer/inner/ {
            ws_api_gateway;
$GW
        }
    }
}
server {
    listen 127.0.0.1:%%PORT_B%%;
    location /gateway/ {
        ws_api_gateway;
$GW
    }
}
EOF
for my $addr ('127.0.0.1:6379', '10.1.2.3:1', '[::1]:6379', 'unix:/run/redis/redis.sock') {
    passes(conf(redis => $addr), "ws_api_redis $addr");
}
for my $opt ('db=0', 'db=15', 'timeout=2s', 'timeout=250ms', 'prefix=x', 'password=secret',
             'db=1 prefix=a: timeout=1s password=pw') {
    passes(conf(redis => "127.0.0.1:6379 $opt"), "ws_api_redis with $opt");
}
passes(conf(http => 'ws_api_teams off;'), 'ws_api_teams off');
passes(conf(http => 'ws_api_cache 1m;'), 'ws_api_cache 1m');

###############################################################################
# ws_api_redis missing while another ws_api_* directive is used

my %uses = (
    ws_api_cache           => { http => 'ws_api_cache 16m;' },
    'ws_api_teams on'      => { http => 'ws_api_teams on;' },
    'ws_api_teams off'     => { http => 'ws_api_teams off;' },
    ws_api_gateway         => { server => "location /gateway/ { ws_api_gateway; $GW }" },
    ws_api_admin           => { server => 'location /rest/apigateway/ { ws_api_admin; }' },
    ws_api_admin_identity  => { http => 'ws_api_admin_identity $http_x_user;' },
    ws_api_admin_superuser => { server => 'ws_api_admin_superuser admin;' },
);
for my $d (sort keys %uses) {
    fails(conf(redis => undef, %{ $uses{$d} }), qr/ws_api_redis/, "$d without ws_api_redis");
}

###############################################################################
# ws_api_redis: addresses, options, values

for my $addr ('localhost:6379', 'redis.example.com:6379', 'garbage', '127.0.0.1:99999',
              '127.0.0.1:abc', '300.1.2.3:6379', 'unix:', ':6379', 'http://127.0.0.1:6379') {
    fails(conf(redis => $addr), [qr/ws_api_redis/, qr/\Q$addr\E/], "ws_api_redis $addr");
}
for my $opt ('foo=bar', 'database=1', 'tls', 'db', 'prefix') {
    fails(conf(redis => "127.0.0.1:6379 $opt"), [qr/ws_api_redis/, qr/\Q$opt\E/],
          "ws_api_redis with the unknown option $opt");
}
for my $opt ('db=abc', 'db=-1', 'db=', 'db=1.5', 'timeout=abc', 'timeout=', 'timeout=-1s',
             'timeout=0') {
    fails(conf(redis => "127.0.0.1:6379 $opt"), [qr/ws_api_redis/, qr/\Q$opt\E/],
          "ws_api_redis $opt");
}
fails(conf(redis => ''), qr/ws_api_redis/, 'ws_api_redis without an address');

###############################################################################
# ws_api_gateway and ws_api_admin only in a prefix location

for my $d (qw(ws_api_gateway ws_api_admin)) {
    for my $c (['a regex location',                  "location ~ ^/x/ { $d; }"],
               ['a case-insensitive regex location', "location ~* ^/x/ { $d; }"],
               ['an exact location',                 "location = /x/ { $d; }"],
               ['a named location',                  "location \@x { $d; }"],
               ['an if block',                       "location /x/ { if (\$arg_a) { $d; } }"],
               ['the server block',                  "$d;"]) {
        fails(conf(server => $c->[1]), qr/\Q$d\E/, "$d in $c->[0]");
    }
    fails(conf(http => "$d;"), qr/\Q$d\E/, "$d in the http block");
    fails(conf(server => "location /x/ { $d on; }"), qr/\Q$d\E/, "$d with an argument");
}

###############################################################################
# duplicates, contexts, values of the other directives

fails(conf(http => 'ws_api_redis 127.0.0.1:6380;'), [qr/ws_api_redis/, qr/duplicate/],
      'ws_api_redis twice');
fails(conf(server => "location /g/ { ws_api_gateway; ws_api_gateway; $GW }"),
      [qr/ws_api_gateway/, qr/duplicate/], 'ws_api_gateway twice in a location');
fails(conf(server => 'location /a/ { ws_api_admin; ws_api_admin; }'),
      [qr/ws_api_admin/, qr/duplicate/], 'ws_api_admin twice in a location');
fails(conf(server => "location /a/ { ws_api_admin; ws_api_gateway; $GW }"),
      qr/ws_api_gateway|ws_api_admin/, 'ws_api_admin and ws_api_gateway in one location');
fails(conf(http => "ws_api_teams on;\nws_api_teams off;"), [qr/ws_api_teams/, qr/duplicate/],
      'ws_api_teams twice');
fails(conf(http => "ws_api_cache 8m;\nws_api_cache 16m;"), [qr/ws_api_cache/, qr/duplicate/],
      'ws_api_cache twice');
fails(conf(server => 'location /a/ { ws_api_admin; ws_api_admin_identity $http_a; ws_api_admin_identity $http_b; }'),
      [qr/ws_api_admin_identity/, qr/duplicate/], 'ws_api_admin_identity twice in a location');
fails(conf(server => 'location /a/ { ws_api_admin; ws_api_admin_superuser a; ws_api_admin_superuser b; }'),
      [qr/ws_api_admin_superuser/, qr/duplicate/], 'ws_api_admin_superuser twice in a location');

fails(conf(server => 'ws_api_redis 127.0.0.1:6379;'), qr/ws_api_redis/, 'ws_api_redis in a server');
fails(conf(server => 'ws_api_teams on;'), qr/ws_api_teams/, 'ws_api_teams in a server');
fails(conf(server => 'location /c/ { ws_api_cache 8m; }'), qr/ws_api_cache/, 'ws_api_cache in a location');

fails(conf(http => 'ws_api_teams maybe;'), qr/ws_api_teams/, 'ws_api_teams maybe');
fails(conf(http => 'ws_api_cache lots;'), qr/ws_api_cache/, 'ws_api_cache lots');
fails(conf(http => 'ws_api_cache 1k;'), qr/ws_api_cache/, 'ws_api_cache 1k (too small to be of use)');
fails(conf(http => 'ws_api_admin_superuser;'), qr/ws_api_admin_superuser/,
      'ws_api_admin_superuser without a name');
fails(conf(http => 'ws_api_admin_identity;'), qr/ws_api_admin_identity/,
      'ws_api_admin_identity without a value');
fails(conf(http => 'ws_api_admin_identity $a $b;'), qr/ws_api_admin_identity/,
      'ws_api_admin_identity with two values');
fails(conf(http => 'ws_api_admin_identity admin;'),
      [qr/ws_api_admin_identity/, qr/needs a variable/],
      'ws_api_admin_identity with a constant: every caller would be "admin"');

done_testing;
