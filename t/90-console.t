#!/usr/bin/perl

# The admin console (html/) in a real browser: Debian's chromium, headless,
# driven by selenium (t/lib/console_test.py) against the http block of
# conf/nginx.conf (admin API, console location, gateway) moved to the
# test's ports: the seed's steps, errors next to their fields, basic
# information saved first and completed later, activation, "Try it" with
# an echo and a 1003, versions, and a caller without activate_apis.
# Screenshots of each step in build/console/.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;

my @need = ('/usr/bin/chromium', '/usr/bin/chromedriver');

for (@need) {
    plan skip_all => "$_ is not installed (make deps installs chromium, "
                     . "chromium-driver and python3-selenium)" unless -x $_;
}

plan skip_all => 'python3-selenium is not installed (make deps)'
    if system('/usr/bin/python3', '-c', 'import selenium') != 0;

my $http = sample_http();
ok($http, 'conf/nginx.conf has an http block');
like($http, qr{location /console/ \{}, '... with the console location');

my $redis = start_redis();
my $backend = start_backend();
my $nginx = start_nginx(http => $http, access_log => 0, temp_paths => 0);

my $htpasswd = $nginx->dir . '/htpasswd';

for my $user (qw(admin viewer)) {
    system('sh', '-c', "printf '$user:%s\\n' \"\$(openssl passwd -apr1 $user)\""
           . " >> $htpasswd") == 0 or die 'htpasswd';
}

my $port = $nginx->port('admin');
my $A = "http://127.0.0.1:$port/rest/apigateway";
my %auth = (user => 'admin', password => 'admin');

my $r = http_request(GET => "http://127.0.0.1:$port/console/");
is($r->{status}, 401, 'the console needs the admin credentials');

$r = http_request(GET => "http://127.0.0.1:$port/console/", %auth);
is($r->{status}, 200, 'the console with them');
like($r->{headers}{'content-type'}, qr{^text/html}, '... as HTML');

$r = http_request(GET => "http://127.0.0.1:$port/console/console.js", %auth);
like($r->{headers}{'content-type'}, qr{^application/javascript},
     'its script as JavaScript');

$r = http_request(GET => "http://127.0.0.1:$port/console/config.json");
is($r->{json} && $r->{json}{gatewayUrl},
   'ws://127.0.0.1:' . $nginx->port('gw'), 'config.json names the gateway');

$r = http_request(GET => "$A/me", %auth);
json_is($r->{json}, { name => 'admin', superuser => JSON::PP::true,
                      privileges => [qw(manage_apis activate_apis
                                        manage_users manage_applications)],
                      teams => [] }, 'GET /me: the superuser');

for my $team (qw(trading ops)) {
    $r = http_request(PUT => "$A/teams/$team", %auth, json => {});
    is($r->{status}, 200, "team $team");
}

$r = http_request(PUT => "$A/users/viewer", %auth, json => {
    privileges => ['manage_apis'], teams => ['trading'] });
is($r->{status}, 200, 'user viewer: manage_apis, team trading');

$r = http_request(GET => "$A/me", user => 'viewer', password => 'viewer');
json_is($r->{json}, { name => 'viewer', superuser => JSON::PP::false,
                      privileges => ['manage_apis'], teams => ['trading'] },
        'GET /me: a user');

my $shots = repo_root() . '/build/console';
system('rm', '-rf', $shots);

my @cmd = ('/usr/bin/python3', "$FindBin::Bin/lib/console_test.py",
           '--url', "http://127.0.0.1:$port/console/",
           '--user', 'admin', '--password', 'admin',
           '--viewer', 'viewer:viewer',
           '--backend', $backend->url('/stream'),
           '--shots', $shots, '--scale', timeout_scale(1));

open my $py, '-|', @cmd or die "console_test.py: $!";

my ($plan, $seen) = (undef, 0);

while (my $line = <$py>) {
    if ($line =~ /^(not )?ok \d+ - (.*)$/) {
        ok(!$1, "browser: $2");
        $seen++;
    } elsif ($line =~ /^1\.\.(\d+)$/) {
        $plan = $1;
    } else {
        chomp $line;
        diag($line);
    }
}

close $py;

ok($plan && $plan == $seen && $seen >= 25,
   "the browser ran all its checks (${\($seen)})");
is($? >> 8, 0, 'console_test.py succeeded');

# what the console did, as the admin API and the backend saw it

$r = http_request(GET => "$A/apis", %auth);
my @apis = @{ $r->{json}{apis} || [] };
is(scalar @apis, 2, 'two APIs: ticker 1.0 and 2.0');

my ($one) = grep { $_->{apiVersion} eq '1.0' } @apis;
$r = http_request(GET => "$A/apis/$one->{id}", %auth);
my $def = $r->{json};

is($def->{isActive}, JSON::PP::true, 'ticker 1.0 is active');
is_deeply($def->{teams}, ['trading'], 'its team');
is($def->{apiDescription}, 'Live prices', 'its description');
is($def->{wsUrl}, $backend->url('/stream'), 'its WS Url');
json_is([ map { [@$_{qw(name in dataType required array)}, $_->{values}] }
          @{ $def->{parameters} } ],
        [ ['symbol', 'query', 'string', JSON::PP::true, JSON::PP::true,
           ['AAPL', 'MSFT']],
          ['X-Client-Id', 'header', 'integer', JSON::PP::false,
           JSON::PP::false, []] ], 'its parameters');
json_is([ map { [@$_{qw(origin type samplePayload description)}] }
          @{ $def->{messages} } ],
        [ ['client', 'text', '{"subscribe":"AAPL"}', 'subscribe'],
          ['server', 'text', '', 'price tick'] ], 'its messages');
is($def->{revision}, 3, 'created, completed, activated: revision 3');

my @msgs = $backend->messages;
is(scalar(grep { $_->{opcode} && $_->{opcode} == 2 } @msgs), 0,
   'the backend never got the binary message');
ok(scalar(grep { defined $_->{text} && $_->{text} eq '{"subscribe":"AAPL"}' }
          @msgs), '... but got the text message');

ok(-s "$shots/01-apis.png" && -s "$shots/11-try-it-1003.png",
   'screenshots in build/console/');

done_testing;
