#!/usr/bin/perl

# Self-test of the test harness (t/lib/WsApi/Test.pm, t/lib/ws_backend.py),
# against plain nginx (stock proxying, no ws-api module) and a real Redis.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes ();
use Digest::SHA qw(sha1_hex);
use Compress::Raw::Zlib;
use WsApi::Test;

my $T0 = Time::HiRes::time();

###############################################################################
# Redis

my $redis = start_redis();
ok($redis->port, 'redis listens on port ' . $redis->port);
is($redis->cmd('PING'), 'PONG', 'PING');
is($redis->cmd('SET', 'k', 'v'), 'OK', 'SET');
is($redis->cmd('GET', 'k'), 'v', 'GET');
is($redis->cmd('GET', 'missing'), undef, 'nil is undef');
is($redis->cmd('INCR', 'n'), 1, 'integer reply');
my $bin = "a\0b\r\n\xff" x 1000;
$redis->cmd('SET', 'bin', $bin);
is($redis->cmd('GET', 'bin'), $bin, 'binary-safe bulk strings');
$redis->cmd('RPUSH', 'l', 'a', 'b', 'c');
is_deeply([$redis->cmd('LRANGE', 'l', 0, -1)], [qw(a b c)], 'array reply in list context');
is_deeply(scalar $redis->cmd('LRANGE', 'l', 0, -1), [qw(a b c)], 'array ref in scalar context');
eval { $redis->cmd('INCR', 'k') };
like($@, qr/not an integer/, 'error reply dies');
my ($reply, $err) = $redis->try_cmd('INCR', 'k');
like($err, qr/not an integer/, 'try_cmd returns the error');
is_deeply([$redis->try_cmd('GET', 'k')], ['v', undef], 'try_cmd success');

my $cs = $redis->info('commandstats');
cmp_ok($cs->{get}{calls}, '>=', 3, "commandstats: get called $cs->{get}{calls} times");
is($redis->info('keyspace')->{db0}{keys}, 4, 'INFO keyspace parsed');

# MONITOR
my $mon = $redis->monitor;
my $other = $redis->client;    # a second connection
$other->cmd('SET', 'seen', 'by monitor');
$redis->cmd('GET', 'self');
my @c = $mon->commands;
ok((grep { $_->{cmd} eq 'set' && $_->{args}[1] eq 'seen' } @c), 'monitor sees another client');
ok(!(grep { $_->{cmd} eq 'get' && ($_->{args}[1] // '') eq 'self' } @c),
   'monitor leaves out the harness connection');
ok((grep { $_->{cmd} eq 'get' && ($_->{args}[1] // '') eq 'self' } $mon->commands(all => 1)),
   'monitor all => 1 includes it');
$mon->clear;
is(scalar($mon->commands), 0, 'monitor clear');
$mon->stop;

my $sub = $redis->client;
is_deeply(scalar $sub->cmd('SUBSCRIBE', 'events'), ['subscribe', 'events', 1], 'SUBSCRIBE');
$redis->cmd('PUBLISH', 'events', '{"rev":1}');
is_deeply($sub->next_reply(5), ['message', 'events', '{"rev":1}'], 'published message received');
is($sub->next_reply(0.1), undef, 'next_reply: undef on timeout');
$sub->stop;
$other->stop;

# restart keeps data (SHUTDOWN SAVE + RDB), same port; commandstats reset
my $port = $redis->port;
my $pid = $redis->pid;
$redis->restart;
is($redis->port, $port, 'restart: same port');
isnt($redis->pid, $pid, 'restart: new process');
is($redis->cmd('GET', 'k'), 'v', 'restart: data survived');
is($redis->cmd('GET', 'bin'), $bin, 'restart: binary data survived');
$cs = $redis->info('commandstats');
is($cs->{get}{calls}, 2, 'restart: commandstats start again');
is_deeply([$redis->cmd('CONFIG', 'GET', 'save')], ['save', ''], 'persistence off (save "")');

# pause: the port accepts connections, nothing answers
$redis->pause;
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $redis->port,
                                  Timeout => 5);
    ok($s, 'paused redis: TCP connect still works');
    syswrite($s, "PING\r\n");
    ok(!IO::Select->new($s)->can_read(0.3), 'paused redis: no answer');
    $redis->resume;
    ok(IO::Select->new($s)->can_read(5), 'resumed redis answers the waiting client');
}
is($redis->cmd('PING'), 'PONG', 'resumed');

# stop / start: same port, unsaved data lost
$redis->cmd('SET', 'volatile', 1);
$redis->stop;
ok(!$redis->is_running, 'stopped');
$redis->start;
is($redis->port, $port, 'start again: same port');
is($redis->cmd('GET', 'volatile'), undef, 'stop loses unsaved data');
is($redis->cmd('GET', 'k'), 'v', 'saved data is back');

# password and unix socket
my $r2 = start_redis(password => 'pw', unixsocket => 1);
is($r2->cmd('PING'), 'PONG', 'redis with a password: the harness authenticates');
ok(-S $r2->unixsocket, 'unix socket ' . $r2->unixsocket);
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $r2->port, Timeout => 5);
    syswrite($s, "PING\r\n");
    IO::Select->new($s)->can_read(5);
    sysread($s, my $buf, 100);
    like($buf, qr/NOAUTH/, 'and clients without it are refused');
}
$r2->stop;

###############################################################################
# nginx -t

my ($rc, $out) = nginx_test(load_module => 0, http => 'bogus_directive on;');
isnt($rc, 0, 'nginx_test: bad config fails');
like($out, qr/unknown directive "bogus_directive"/, 'nginx_test: message in the output');

($rc, $out) = nginx_test(load_module => 0, http => 'server { listen 127.0.0.1:%%PORT_X%%; }');
is($rc, 0, 'nginx_test: good config passes') or diag $out;
like($out, qr/syntax is ok/, 'nginx_test: syntax is ok');

($rc, $out) = nginx_test(load_module => 1, http => '');
is($rc, 0, 'nginx_test: the ws-api module loads (' . module_path() . ')') or diag $out;

eval { nginx_test(load_module => 0, http => '%%NO_SUCH%%') };
like($@, qr/unknown placeholder %%NO_SUCH%%/, 'unknown placeholder is an error');

###############################################################################
# backends and nginx

my $backend = start_backend(deflate => 1);
ok($backend->port, 'backend on port ' . $backend->port);
my $extra_frame = "\x81\x0bfrom-behind";    # an unmasked text frame
my $backend2 = start_backend(handshake_extra => $extra_frame);

my ($crt, $key) = make_cert();
ok(-s $crt && -s $key, 'self-signed certificate');

my $proxy = <<'EOF';
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 60s;
EOF

my $http = <<"EOF";
    server {
        listen 127.0.0.1:%%PORT_HTTP%%;
        client_max_body_size 4m;
        location / {
            proxy_pass http://%%BACKEND%%;
$proxy
        }
        location /b2/ {
            proxy_pass http://%%B2%%;
$proxy
        }
        location = /small-limit {
            client_max_body_size 1k;
            proxy_pass http://%%BACKEND%%;
        }
    }
    server {
        listen 127.0.0.1:%%PORT_TLS%% ssl;
        ssl_certificate %%CERT%%;
        ssl_certificate_key %%KEY%%;
        location / {
            proxy_pass http://%%BACKEND%%;
$proxy
        }
    }
EOF

my $pinned = free_port();
my $nginx = start_nginx(
    load_module => 0,
    ports       => { pinned => $pinned },
    log_format  => '$request $status $upstream_addr pinned=%%PORT_PINNED%%',
    backend     => $backend,
    vars        => { B2 => $backend2->addr },
    main        => 'worker_processes 2;',
    http        => $http,
);
my $hp = $nginx->port('http');
my $tp = $nginx->port('tls');
ok($hp && $tp && $hp != $tp, "nginx listens on $hp and $tp (TLS)");
is(scalar(my @w = $nginx->worker_pids), 2, 'two workers (main => worker_processes 2)');
unlike($nginx->conf_text, qr{/etc/nginx|load_module}, 'config does not include /etc/nginx');

###############################################################################
# HTTP

my $r = http_request(GET => "http://127.0.0.1:$hp/plain/x?a=1&b=%20");
is($r->{status}, 200, 'http_request GET 200');
is($r->{json}{request}{path}, '/plain/x', 'JSON body decoded');
is($r->{json}{request}{query}, 'a=1&b=%20', 'query as sent');

$r = http_request(GET => "http://127.0.0.1:$hp/status/404");
is($r->{status}, 404, '404 does not die');
is($r->{json}{status}, 404, '404 body');
$r = http_request(GET => "http://127.0.0.1:$hp/status/503");
is($r->{status}, 503, '503 does not die');

my $big = join '', map { chr(($_ * 7) % 256) } 1 .. 1024 * 1024 + 17;
$r = http_request(POST => "http://127.0.0.1:$hp/upload", body => $big,
                  headers => { 'Content-Type' => 'application/octet-stream' });
is($r->{status}, 200, '1 MiB request body');
is($r->{json}{request}{body_len}, length $big, 'backend got all of it');
is($r->{json}{request}{body_sha1}, sha1_hex($big), 'unchanged');

$r = http_request(GET => "http://127.0.0.1:$hp/bytes/" . 3 * 1024 * 1024);
is(length $r->{body}, 3 * 1024 * 1024, '3 MiB response body');

$r = http_request(POST => "http://127.0.0.1:$hp/small-limit", body => 'x' x 2048);
is($r->{status}, 413, '413 from nginx');

$r = http_request(PUT => "http://127.0.0.1:$hp/json", json => { a => [1, 2] },
                  user => 'alice', password => 's3cret');
is($r->{json}{request}{headers}{authorization}, 'Basic YWxpY2U6czNjcmV0', 'basic auth header');
is($r->{json}{request}{headers}{'content-type'}, 'application/json', 'json => sets content type');
is($r->{json}{request}{method}, 'PUT', 'method');

$r = http_request(GET => "https://127.0.0.1:$tp/over-tls");
is($r->{json}{request}{path}, '/over-tls', 'https request');

# slow sender: one byte per 2 ms
my $t = Time::HiRes::time();
$r = http_request(POST => "http://127.0.0.1:$hp/slow", body => 'z' x 40, byte_delay => 0.002);
my $took = Time::HiRes::time() - $t;
is($r->{status}, 200, 'slow request answered');
is($r->{json}{request}{body_len}, 40, 'slow body complete');
cmp_ok($took, '>=', 0.1, sprintf('slow request took %.2fs', $took));

$r = raw_request(port => $hp, data => "GARBAGE\r\n\r\n");
is($r->{status}, 400, 'raw_request: malformed request gets 400');

$r = http_request(GET => "http://127.0.0.1:" . free_port() . "/");
is($r->{status}, 599, 'connection refused: 599, no die');

###############################################################################
# WebSocket through nginx: raw client

my $ws = ws_connect(port => $hp, path => '/ws/echo?a=1&b=%20x&c', protocol => 'chat, superchat');
is($ws->status, 101, 'raw client: 101');
ok($ws->accept_ok, 'Sec-WebSocket-Accept matches');
is($ws->header('sec-websocket-protocol'), 'chat', 'first subprotocol echoed');
my ($hs) = $backend->wait_log(event => 'handshake', path => '/ws/echo');
is($hs->{query}, 'a=1&b=%20x&c', 'backend log: raw query as sent');
is($hs->{headers}{'sec-websocket-protocol'}, 'chat, superchat', 'backend log: headers');
my $conn = $hs->{conn};

ok($ws->send_text('hello'), 'send_text');
my $m = $ws->read_message;
is_deeply([$m->{opcode}, $m->{payload}], [1, 'hello'], 'text echoed');

my $utf8 = "h\xc3\xa9llo \xe2\x82\xac";
$ws->send_text($utf8);
is($ws->read_message->{payload}, $utf8, 'UTF-8 text echoed');

my $bytes = join '', map { chr } 0 .. 255;
$ws->send_binary($bytes);
$m = $ws->read_message;
is_deeply([$m->{opcode}, $m->{payload}], [2, $bytes], 'binary echoed');

my $mib = join '', map { chr(($_ * 13) % 256) } 1 .. 1024 * 1024;
$ws->send_binary($mib);
$m = $ws->read_message(20);
is($m->{len}, length $mib, '1 MiB message echoed');
ok($m->{payload} eq $mib, '1 MiB message unchanged');
my ($bm) = $backend->wait_log(event => 'message', conn => $conn, len => length $mib);
is($bm->{sha1}, sha1_hex($mib), 'backend log: sha1 of the 1 MiB message');

# 100 fragments
my @parts = map { "part$_;" } 1 .. 100;
for my $i (0 .. $#parts) {
    $ws->send_frame($i == 0 ? 1 : 0, $parts[$i], fin => $i == $#parts);
}
$m = $ws->read_message;
is($m->{payload}, join('', @parts), '100 fragments reassembled and echoed');
my ($fm) = $backend->wait_log(event => 'message', conn => $conn, frames => 100);
ok($fm, 'backend saw one message of 100 frames');
is(scalar($backend->frames(conn => $conn, opcode => 0)), 99, 'backend saw 99 continuation frames');

# ping/pong (also a control frame between fragments)
$ws->ping('p1');
my $f = $ws->read_frame;
is_deeply([$f->{opcode}, $f->{payload}, $f->{masked}], [10, 'p1', 0], 'pong with ping payload');
$ws->send_frame(1, 'frag-', fin => 0);
$ws->ping('mid');
$ws->send_frame(0, 'ment', fin => 1);
$m = $ws->read_message;
is_deeply([$m->{opcode}, $m->{payload}], [10, 'mid'], 'pong for a ping between fragments');
is($ws->read_message->{payload}, 'frag-ment', 'then the message');

# backend control commands
$ws->send_text('!text 70000');
$m = $ws->read_message;
is($m->{len}, 70000, '!text 70000 (64-bit length)');
like($m->{payload}, qr/^abcdefghijklmnopqrstuvwxyzabc/, 'text pattern');
$ws->send_text('!binary 300');
$m = $ws->read_message;
is_deeply([$m->{opcode}, $m->{len}], [2, 300], '!binary 300');
$ws->send_text('!frag 1000 10');
$m = $ws->read_message;
is_deeply([$m->{frames}, $m->{len}], [10, 1000], '!frag 1000 10');
$ws->send_text('!burst 50 100');
my @burst = map { $ws->read_message } 1 .. 50;
is_deeply([map { substr($_->{payload}, 0, 8) } @burst], [map { sprintf '%08d', $_ } 0 .. 49],
          '!burst: 50 messages in order');
my $raw = "\xf2\x03abc" . "\x8a\x00" . "\x01\x02hi";    # RSV bits set, pong, non-final text
$ws->send_text('!send ' . unpack('H*', $raw));
is($ws->read_bytes(length $raw), $raw, '!send: raw bytes reach the client unchanged');
ok(!(grep { ($_->{text} // '') =~ /^!send/ } $backend->messages(conn => $conn)),
   'messages() leaves out commands');
ok((grep { ($_->{text} // '') =~ /^!send/ } $backend->messages(conn => $conn, commands => 1)),
   'messages(commands => 1) includes them');
$ws->send_text('!ping hey');
$f = $ws->read_frame;
is_deeply([$f->{opcode}, $f->{payload}], [9, 'hey'], '!ping');

# timeouts
is($ws->read_frame(0.2), undef, 'read_frame: undef on timeout');
ok(!$ws->eof, 'not eof');
ok(!$ws->closed_by_peer(0.2), 'closed_by_peer: false while the connection is open');
ok($ws->send_raw(ws_frame(1, 'slowly'), delay => 0.005), 'send_raw with a delay per byte');
is($ws->read_message->{payload}, 'slowly', 'slow frame echoed');

# close handshake, client initiated
ok($ws->close(1000, 'done'), 'close 1000 sent');
$f = $ws->read_frame;
is($f->{opcode}, 8, 'close frame received');
is($ws->close_code_received, 1000, 'client sees code 1000');
is($ws->close_reason_received, 'done', 'and the reason');
ok($ws->closed_by_peer, 'connection closed after the close handshake');
my ($cf) = $backend->wait_log(event => 'frame', conn => $conn, opcode => 8);
is(substr($cf->{hex}, 0, 4), '03e8', 'backend sees code 1000');
ok($backend->wait_log(event => 'disconnect', conn => $conn), 'backend saw the disconnect');

# close handshake, backend initiated
$ws = ws_connect(port => $hp, path => '/ws/bclose');
$ws->send_text('!close 4001 going away');
$f = $ws->read_frame;
is_deeply([$f->{opcode}, $ws->close_code_received, $ws->close_reason_received],
          [8, 4001, 'going away'], 'backend-initiated close');
$ws->close(4001);
ok($ws->closed_by_peer, 'backend closes TCP after the answer');

# close without payload: 1005
$ws = ws_connect(port => $hp, path => '/ws/empty-close');
is($ws->close_handshake(undef), 1005, 'empty close echoed: 1005');

# bytes pipelined with the handshake
$ws = ws_connect(port => $hp, path => '/ws/pipelined',
                 raw_extra => ws_frame(1, 'pipelined') . ws_frame(2, "\x00\x01"));
is($ws->status, 101, 'pipelined: 101');
is($ws->read_message->{payload}, 'pipelined', 'pipelined frame echoed');
is($ws->read_message->{payload}, "\x00\x01", 'second pipelined frame echoed');
my $pc = $backend->last_conn;
is_deeply([map { $_->{text} } $backend->wait_log(event => 'message', path => '/ws/pipelined', count => 2)],
          ['pipelined', "\x00\x01"], 'pipelined frames reached the backend');
$ws->close_handshake;

# bytes pipelined behind the 101 by the backend
$ws = ws_connect(port => $hp, path => '/b2/x');
is($ws->status, 101, 'handshake_extra backend: 101');
$m = $ws->read_message(5);
is_deeply([$m->{opcode}, $m->{payload}], [1, 'from-behind'], 'frame sent with the 101 arrives');
$ws->send_text('after');
is($ws->read_message->{payload}, 'after', 'and the connection works');
$ws->close_handshake;

# non-101 answers
$ws = ws_connect(port => $hp, path => '/status/403');
is($ws->status, 403, 'backend /status/403');
is($ws->json->{status}, 403, 'body of a non-101 answer');
$ws = ws_connect(port => $hp, path => '/ws/nokey', key => undef, version => undef);
is($backend->wait_log(event => 'handshake', path => '/ws/nokey')->{headers}{'sec-websocket-key'},
   undef, 'key => undef leaves the header out');

# an invalid frame, sent as is
$ws = ws_connect(port => $hp, path => '/ws/invalid');
$ws->send_frame(2, 'unmasked', mask => 0, rsv => 5);
my ($if) = $backend->wait_log(event => 'frame', path => '/ws/invalid');
is_deeply([@{$if}{qw(masked rsv text)}], [0, 5, 'unmasked'], 'invalid frame reaches the backend as sent');
$ws->disconnect;

# permessage-deflate (backend started with deflate => 1)
$ws = ws_connect(port => $hp, path => '/ws/deflate', extensions => 'permessage-deflate; client_max_window_bits');
like($ws->header('sec-websocket-extensions') // '', qr/^permessage-deflate/, 'permessage-deflate negotiated');
my $plain = 'compress me ' x 50;
my ($d) = Compress::Raw::Zlib::Deflate->new(-WindowBits => -15, -AppendOutput => 1);
my $z = '';
$d->deflate($plain, $z);
$d->flush($z, Z_SYNC_FLUSH);
$z =~ s/\x00\x00\xff\xff$//;
$ws->send_text($z, rsv1 => 1);
$m = $ws->read_message;
ok($m->{compressed}, 'echo comes back compressed (RSV1)');
my ($i) = Compress::Raw::Zlib::Inflate->new(-WindowBits => -15);
my $unz = '';
$i->inflate($m->{payload} . "\x00\x00\xff\xff", $unz);
is($unz, $plain, 'and inflates to the message');
my ($dm) = $backend->wait_log(event => 'message', path => '/ws/deflate');
is_deeply([$dm->{compressed} ? 1 : 0, $dm->{text}], [1, $plain], 'backend log has it decompressed');
$ws->close_handshake;

###############################################################################
# WebSocket through nginx: Protocol::WebSocket client

my $lws = ws_connect(lib => 1, port => $hp, path => '/lib/echo?x=1');
is($lws->status, 101, 'lib client: 101');
ok($lws->accept_ok, 'lib client: accept ok');
ok(!$lws->lib_error, 'Protocol::WebSocket accepted the handshake');
like($lws->request, qr/^Upgrade: WebSocket\r$/mi, 'request built by Protocol::WebSocket');
$lws->send_text('lib hello');
is($lws->read_message->{payload}, 'lib hello', 'lib: text');
$lws->send_binary($bytes);
$m = $lws->read_message;
is_deeply([$m->{opcode}, $m->{payload}], [2, $bytes], 'lib: binary');
$lws->send_binary($mib);
ok($lws->read_message(20)->{payload} eq $mib, 'lib: 1 MiB');
for my $i (0 .. $#parts) {
    $lws->send_frame($i == 0 ? 1 : 0, $parts[$i], fin => $i == $#parts);
}
is($lws->read_message->{payload}, join('', @parts), 'lib: 100 fragments');
my ($lh) = $backend->wait_log(event => 'handshake', path => '/lib/echo');
ok((grep { $_->{frames} == 100 } $backend->messages(conn => $lh->{conn})), 'lib: backend got 100 frames');
ok(!(grep { !$_->{masked} } $backend->frames(conn => $lh->{conn})), 'lib: every frame masked');
$lws->ping('lp');
$m = $lws->read_message;
is_deeply([$m->{opcode}, $m->{payload}], [10, 'lp'], 'lib: ping/pong');
$lws->send_text('!frag 500 5');
is($lws->read_message->{len}, 500, 'lib: fragmented message from the backend reassembled');
is($lws->close_handshake(1000, 'bye'), 1000, 'lib: close 1000 answered');
ok($lws->eof, 'lib: closed');
my ($lc) = $backend->wait_log(event => 'frame', conn => $lh->{conn}, opcode => 8);
is(substr($lc->{hex}, 0, 4), '03e8', 'lib: backend sees close 1000');

# TLS
$ws = ws_connect(tls => 1, port => $tp, path => '/tls/ws');
is($ws->status, 101, 'wss: 101');
$ws->send_text('over tls');
is($ws->read_message->{payload}, 'over tls', 'wss: echo');
$ws->send_binary($mib);
ok($ws->read_message(20)->{payload} eq $mib, 'wss: 1 MiB');
is($ws->close_handshake, 1000, 'wss: close');
$lws = ws_connect(lib => 1, tls => 1, port => $tp, path => '/tls/lib');
$lws->send_text('lib over tls');
is($lws->read_message->{payload}, 'lib over tls', 'wss lib: echo');
$lws->close_handshake;

###############################################################################
# reload

my $live = ws_connect(port => $hp, path => '/ws/live');
$live->send_text('before');
is($live->read_message->{payload}, 'before', 'live connection before reload');
my @old = $nginx->worker_pids;
my $mark = $nginx->log_mark;
my $el = $nginx->reload;
ok($el, "reload done in ${\($el // 'n/a')}s");
my @new = $nginx->worker_pids;
is(scalar(@new), 2, 'two new workers');
ok(!(grep { my $o = $_; grep { $_ == $o } @new } @old), 'all workers replaced');
ok(scalar($nginx->worker_pids(all => 1)) > 2, 'an old worker is still shutting down (live connection)');
like($nginx->error_log(from => $mark), qr/reconfiguring/, 'error log shows the reconfiguration');
$live->send_text('after reload');
is($live->read_message->{payload}, 'after reload', 'live connection survives the reload');
my $fresh = ws_connect(port => $hp, path => '/ws/fresh');
$fresh->send_text('new');
is($fresh->read_message->{payload}, 'new', 'new connection after reload');
$fresh->close_handshake;

# reload with a new configuration, then a broken one
$el = $nginx->reload(http => $http . "server { listen 127.0.0.1:%%PORT_EXTRA%%; return 200 'extra\n'; }\n");
ok($el, 'reload with a new server block');
is(http_request(GET => 'http://127.0.0.1:' . $nginx->port('extra') . '/')->{body}, "extra\n",
   'new port serves');
ok(!$nginx->reload(http => 'bogus_directive on;'), 'reload with a broken config fails');
like($nginx->reload_error, qr/unknown directive/, 'reload_error says why');
ok(!$nginx->reload(http => 'bogus_directive on;', test => 0), 'HUP with a broken config fails');
like($nginx->reload_error, qr/\[emerg\].*unknown directive/, 'reload_error has the [emerg] line');
unlike($nginx->conf_text, qr/bogus/, 'the previous configuration is written back');
ok($nginx->reload, 'reload again with it');
$live->send_text('still');
is($live->read_message->{payload}, 'still', 'live connection still works');
is(http_request(GET => "http://127.0.0.1:$hp/plain")->{status}, 200, 'nginx still serves');
is($live->close_handshake, 1000, 'close the live connection');
my $gone = poll_until(10, sub { $nginx->worker_pids(all => 1) == 2 });
ok($gone, "old worker exits once the connection is closed (${\($gone // 'n/a')}s)");

like($nginx->access_log, qr{^GET /ws/echo\?a=1&b=%20x&c HTTP/1.1 101 127.0.0.1:\d+ pinned=$pinned$}m,
     'access log with log_format, pinned port');
ok($nginx->wait_error_log(qr/reconfiguring/, 1), 'wait_error_log');

###############################################################################
# poll_until

my $n = 0;
my $el2 = poll_until(5, sub { ++$n >= 3 });
ok($el2, "poll_until returns the elapsed time ($el2 s)");
ok(!defined poll_until(0.2, sub { 0 }), 'poll_until: undef on timeout');
json_is(json_decode(json_encode({ b => [1, 'x'], a => undef })), { a => undef, b => [1, 'x'] },
        'json round trip');
is(json_encode({ b => 1, a => 2 }), '{"a":2,"b":1}', 'canonical JSON');

###############################################################################
# everything stops

my @pids = ($nginx->pid, $nginx->worker_pids(all => 1), $redis->pid, $backend->pid, $backend2->pid);
my $tmp = tmpdir();
ok(scalar(grep { kill 0, $_ } @pids) == @pids, 'all processes alive before stop_all');
my @before = pgrep($tmp);
cmp_ok(scalar(@before), '>=', 4, 'pgrep finds them by the temp dir name (' . scalar(@before) . ')');
stop_all();
is_deeply([pgrep($tmp)], [], 'no process left with the temp dir name in its command line');
is_deeply([stray_processes()], [], 'no stray processes');
ok(!(grep { WsApi::Test::_alive($_) } @pids), 'nginx master, workers, redis, backends are gone');

note(sprintf 'total %.1fs', Time::HiRes::time() - $T0);
done_testing;

# pgrep -f, in Perl (no procps needed): live processes whose command line
# contains $pattern, this test excepted
sub pgrep {
    my ($pattern) = @_;
    opendir(my $dh, '/proc') or die "/proc: $!";
    my @p;
    for my $pid (grep { /^\d+$/ && $_ != $$ } readdir $dh) {
        open my $fh, '<', "/proc/$pid/cmdline" or next;
        my $cmd = do { local $/; <$fh> } // '';
        push @p, $pid if index($cmd, $pattern) >= 0 && WsApi::Test::_alive($pid);
    }
    return @p;
}
