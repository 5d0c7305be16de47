#!/usr/bin/perl

# The admin console (html/) in a real browser: headless Chromium driven by
# t/lib/console_test.py (python3-selenium) against the http block of
# conf/nginx.conf, as "make run" serves it. It follows the seed's steps:
# Create API, Create from scratch, WebSocket, Basic information saved
# alone, Technical information completed later (a bad WS URL's error next
# to its field first), Activate, then "Try it": a declared text message
# is echoed, an undeclared binary one closes with 1003. Screenshots of
# each step go to build/console/.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;

for my $bin ('/usr/bin/chromium', '/usr/bin/chromedriver') {
    plan skip_all => "$bin is missing (make deps installs it)" unless -x $bin;
}
plan skip_all => 'python3-selenium is missing (make deps installs it)'
    if system('/usr/bin/python3 -c "import selenium" 2>/dev/null') != 0;

my $http = sample_http();
ok($http, 'conf/nginx.conf has an http block');
like($http, qr!location /console/ \{[^}]*alias\s+/\S+/html/;!s,
     'the sample serves the console from html/');

my $redis = start_redis();
my $backend = start_backend();
my $nginx = start_nginx(http => $http, access_log => 0, temp_paths => 0);

system('sh', '-c', 'printf "admin:%s\n" "$(openssl passwd -apr1 admin)" > '
       . $nginx->dir . '/htpasswd') == 0 or die 'htpasswd';

my $console = 'http://127.0.0.1:' . $nginx->port('admin') . '/console/';

my $r = http_request(GET => $console);
is($r->{status}, 401, 'the console asks for the admin credentials');
$r = http_request(GET => $console, user => 'admin', password => 'admin');
is($r->{status}, 200, 'and serves the page with them');
like($r->{body}, qr/<script src="console\.js"/, '... which loads console.js');
$r = http_request(GET => "${console}config.json", user => 'admin',
                  password => 'admin');
is($r->{json} && $r->{json}{gatewayUrl},
   'ws://127.0.0.1:' . $nginx->port('gw'), 'config.json names the gateway');

# GET /me: what the console shows and hides is the caller's own record
my $A = 'http://127.0.0.1:' . $nginx->port('admin') . '/rest/apigateway';
my %admin = (user => 'admin', password => 'admin');
$r = http_request(GET => "$A/me", %admin);
json_is($r->{json}, { name => 'admin', superuser => JSON::PP::true,
                      privileges => [qw(manage_apis activate_apis manage_users)],
                      teams => [] }, 'GET /me: a superuser');
is(http_request(PUT => "$A/teams/trading", %admin)->{status}, 200, 'a team');
is(http_request(PUT => "$A/users/alice", %admin,
                json => { privileges => ['manage_apis'], teams => ['trading'] })->{status},
   200, 'a user alice with manage_apis only');
system('sh', '-c', 'printf "alice:%s
" "$(openssl passwd -apr1 alice)" >> '
       . $nginx->dir . '/htpasswd') == 0 or die 'htpasswd';
$r = http_request(GET => "$A/me", user => 'alice', password => 'alice');
json_is($r->{json}, { name => 'alice', superuser => JSON::PP::false,
                      privileges => ['manage_apis'], teams => ['trading'] },
        'GET /me: her privileges and teams (no activate: no Activate button)');
$r = http_request(GET => "$A/me");
is($r->{status}, 401, 'GET /me without credentials: 401');
$r = http_request(POST => "$A/me", %admin, json => {});
is($r->{status}, 405, 'POST /me: 405');

my $shots = repo_root() . '/build/console';
my $t0 = time;
local $ENV{CONSOLE_BACKEND} = $backend->url('/');
open my $py, '-|', '/usr/bin/python3', repo_root() . '/t/lib/console_test.py',
    '--console', $console, '--user', 'admin', '--password', 'admin',
    '--shots', $shots, '--timeout', timeout_scale(20)
    or die "console_test.py: $!";

my $steps = 0;
while (my $line = <$py>) {
    chomp $line;
    if ($line =~ /^(not )?ok \d+ - (.*)$/) {
        ok(!$1, "browser: $2");
        $steps++;
    } elsif ($line =~ /^# (.*)$/) {
        diag($1) if $1 !~ /^screenshot /;
    }
}
close $py;
is($? >> 8, 0, 'console_test.py exited cleanly');
cmp_ok($steps, '>=', 13, "the whole session ran ($steps steps, "
       . (time - $t0) . " s)");
ok(-s "$shots/08-try-it-1003.png", 'screenshots in build/console/');

done_testing;
