#!/usr/bin/perl

# The Debian package: "make deb" builds libnginx-mod-http-ws-api with
# dh-sequence-nginx, dpkg installs it into the stock nginx, and the
# README's session runs against nginx started with the sample
# configuration and the module loaded through the installed snippet
# (/etc/nginx/modules-enabled/50-mod-http-ws-api.conf). The package is
# purged at the end, leaving the system as it was.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;
use WsApi::Readme;

plan skip_all => 'tests the package, not the sanitized module (make test-asan)'
    if $ENV{WSAPI_NGINX} || $ENV{WSAPI_MODULE};
plan skip_all => 'needs root (dpkg -i)' if $> != 0;

my $PKG = 'libnginx-mod-http-ws-api';
my $SNIPPET = '/etc/nginx/modules-enabled/50-mod-http-ws-api.conf';
my $SO = '/usr/lib/nginx/modules/ngx_http_ws_api_module.so';
my $root = repo_root();

sub installed {
    my $s = `dpkg-query -W -f='\${Status}' $PKG 2>/dev/null`;
    return $s =~ /install ok installed/;
}

my $was = installed();
my $t0 = time;
my $out = `make -s -C $root deb 2>&1`;
is($?, 0, 'make deb (' . (time - $t0) . ' s)') or diag($out);
my ($deb) = glob("$root/build/deb/${PKG}_*_*.deb");
ok($deb && -s $deb, 'build/deb/ holds the package') or BAIL_OUT('no .deb');

my @files = split /\n/, `dpkg-deb -c $deb`;
ok((grep { m{\./usr/lib/nginx/modules/ngx_http_ws_api_module\.so$} } @files),
   'it ships the module in /usr/lib/nginx/modules');
ok((grep { m{\./usr/share/nginx/modules-available/mod-http-ws-api\.conf$} } @files),
   'and its load snippet in /usr/share/nginx/modules-available');
like(`dpkg-deb -f $deb Depends`, qr/nginx-abi-1\.22\.1-\d+/,
     'it depends on the nginx ABI it was built for');

$out = `dpkg -i $deb 2>&1`;
is($?, 0, 'dpkg -i') or diag($out);
ok(installed(), "$PKG is installed");
ok(-f $SO, "$SO is there");
is(readlink($SNIPPET), '/usr/share/nginx/modules-available/mod-http-ws-api.conf',
   'the snippet is enabled in /etc/nginx/modules-enabled');
my $snippet = do { local (@ARGV, $/) = $SNIPPET; <> };
like($snippet, qr{^load_module modules/ngx_http_ws_api_module\.so;}m,
     'it loads the module from nginx\'s module directory');

# the stock nginx, the sample configuration, the installed module: the
# snippet's relative path is resolved against the stock nginx's prefix,
# as /etc/nginx/nginx.conf would (the test's nginx has its own -p)
my ($prefix) = `/usr/sbin/nginx -V 2>&1` =~ /--prefix=(\S+)/;
(my $load = $snippet) =~ s{load_module\s+(?!/)(\S+);}{load_module $prefix/$1;}g;
subtest 'the README session against the installed module' => sub {
    WsApi::Readme::session(load_module => 0, main => $load);
    done_testing;
};

unless ($was) {
    $out = `dpkg --purge $PKG 2>&1`;
    is($?, 0, 'dpkg --purge') or diag($out);
    ok(!installed(), 'the package is gone');
    ok(!-e $SNIPPET && !-e $SO, 'and so are the module and its snippet');
}

# a failure half-way must not leave the package behind either
END {
    local $?;
    system("dpkg --purge $PKG >/dev/null 2>&1") if !$was && installed();
}

done_testing;
