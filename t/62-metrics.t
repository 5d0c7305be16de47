#!/usr/bin/perl

# SPEC 7: "ws_api_metrics" (Prometheus text exposition) and the access-log
# variables $ws_api_messages_in/_out, $ws_api_bytes_in/_out and
# $ws_api_duration.  Handshakes accepted and refused for several reasons,
# messages both ways, a message refused with 1003, closes: the scrape shows
# them summed over 2 workers, passes "promtool check metrics", keeps its
# counts across "nginx -s reload", and never shows a client address or a
# parameter value; the access log line of a session has its counts.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;
use WsApi::Api;

my $promtool = -x '/usr/bin/promtool' ? '/usr/bin/promtool' : undef;

my $gw = gateway(
    main => 'worker_processes 2;',
    listen => '127.0.0.1:%%PORT_GW%% reuseport',
    server => 'location /metrics { ws_api_metrics; }',
    log_format => '$pid $ws_api_name/$ws_api_version in=$ws_api_messages_in '
        . 'out=$ws_api_messages_out bin=$ws_api_bytes_in '
        . 'bout=$ws_api_bytes_out dur=$ws_api_duration '
        . 'close=$ws_api_close_code $request_uri');
my $t = timeout_scale(10);

sub scrape {
    my $r = http_request(GET => 'http://127.0.0.1:' . $gw->port . '/metrics');
    return $r;
}

# the samples of a scrape: "name{labels}" => value
sub samples {
    my ($body) = @_;
    my %s;
    for (split /\n/, $body) {
        next if /^#/ || !/\S/;
        my ($k, $v) = /^(\S+(?:\{.*\})?) (\S+)$/ or next;
        $s{$k} = $v;
    }
    return \%s;
}

sub delta {
    my ($before, $after, $key) = @_;
    return ($after->{$key} // 0) - ($before->{$key} // 0);
}

$gw->define(apiName => 'm1',
    parameters => [
        { name => 'sym', in => 'query', dataType => 'string',
          required => JSON::PP::false, values => ['a', 'b'] },
        { name => 'n', in => 'query', dataType => 'integer',
          required => JSON::PP::false },
        { name => 'X-Need', in => 'header', dataType => 'string',
          required => JSON::PP::false },
    ],
    messages => [ { origin => 'client', type => 'text' },
                  { origin => 'server', type => 'text' } ]);

# the probes of define() have ended
poll_until($t, sub {
    (samples(scrape()->{body})->{'ws_api_connections_active{api="m1/1.0"}'}
     // 1) == 0;
});

$gw->define(apiName => 'm2',
            policies => { allowedOrigins => ['https://app.example'] });
my $closed = free_port();
$gw->define(apiName => 'm3', wsUrl => "ws://127.0.0.1:$closed/stream");

my $r = scrape();
is($r->{status}, 200, 'scrape answers 200');
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
     'the exposition format\'s content type');
my $s0 = samples($r->{body});

# refused handshakes

my $ws = $gw->connect('/gateway/nope/1.0');
is($ws->status, 404, 'unknown API: 404');
$r = http_request(GET => 'http://127.0.0.1:' . $gw->port . '/gateway/m1/1.0');
is($r->{status}, 426, 'not an upgrade: 426');
$ws = $gw->connect('/gateway/m1/1.0?sym=zzz');
is($ws->status, 400, 'a value not allowed: 400');
$ws = $gw->connect('/gateway/m1/1.0?n=abc');
is($ws->status, 400, 'not an integer: 400');
$ws = $gw->connect('/gateway/m1/1.0', key => 'short');
is($ws->status, 400, 'a bad key: 400');

$ws = $gw->connect('/gateway/m2/1.0', origin => 'https://evil.example');
is($ws->status, 403, 'an Origin not allowed: 403');
$ws = $gw->connect('/gateway/m3/1.0');
is($ws->status, 502, 'a backend that is not there: 502');

# sessions, spread over the two workers by reuseport

my $n = 12;

for my $i (1 .. $n) {
    my $ws = $gw->connect("/gateway/m1/1.0/s$i?sym=a&secret=XYZSECRET");
    is($ws->status, 101, "session $i upgraded") or next;
    for (1 .. 3) {
        $ws->send_text('hello');
        my $m = $ws->read_message($t);
        is($m && $m->{payload}, 'hello', "session $i echo $_") if $_ == 1;
    }
    is($ws->close_handshake(1000, 'bye', $t), 1000, "session $i closed 1000");
}

{
    my $ws = $gw->connect('/gateway/m1/1.0/bin?sym=b');
    is($ws->status, 101, 'upgraded for an undeclared message');
    $ws->send_binary('zz');
    my $f = $ws->read_frame($t);
    $f = $ws->read_frame($t) while $f && $f->{opcode} != 8;
    is($f && unpack('n', $f->{payload}), 1003, 'undeclared binary: 1003');
    $ws->closed_by_peer($t);
}

my $s1;
poll_until($t, sub {
    $s1 = samples(scrape()->{body});
    ($s1->{'ws_api_closes_total{api="m1/1.0",code="1003"}'} // 0)
        - ($s0->{'ws_api_closes_total{api="m1/1.0",code="1003"}'} // 0) >= 1
    && delta($s0, $s1,
             'ws_api_connection_duration_seconds_count{api="m1/1.0"}') >= $n + 1;
});

my %want = (
    'ws_api_handshakes_total{api="m1/1.0",result="accepted"}' => $n + 1,
    'ws_api_handshakes_total{api="m1/1.0",result="rejected"}' => 4,
    'ws_api_handshakes_total{api="",result="rejected"}' => 1,
    'ws_api_handshakes_rejected_total{api="",reason="not_found"}' => 1,
    'ws_api_handshakes_rejected_total{api="m2/1.0",reason="origin_not_allowed"}' => 1,
    'ws_api_handshakes_total{api="m3/1.0",result="failed"}' => 1,
    'ws_api_handshakes_rejected_total{api="m1/1.0",reason="not_upgrade"}' => 1,
    'ws_api_handshakes_rejected_total{api="m1/1.0",reason="value_not_allowed"}' => 1,
    'ws_api_handshakes_rejected_total{api="m1/1.0",reason="invalid_type"}' => 1,
    'ws_api_handshakes_rejected_total{api="m1/1.0",reason="bad_key"}' => 1,
    'ws_api_messages_total{api="m1/1.0",direction="client",type="text"}' => 3 * $n,
    'ws_api_messages_total{api="m1/1.0",direction="server",type="text"}' => 3 * $n,
    'ws_api_messages_total{api="m1/1.0",direction="client",type="binary"}' => 0,
    'ws_api_message_bytes_total{api="m1/1.0",direction="client"}' => 15 * $n,
    'ws_api_message_bytes_total{api="m1/1.0",direction="server"}' => 15 * $n,
    'ws_api_messages_rejected_total{api="m1/1.0",direction="client",reason="not_declared"}' => 1,
    'ws_api_closes_total{api="m1/1.0",code="1000"}' => $n,
    'ws_api_closes_total{api="m1/1.0",code="1003"}' => 1,
    'ws_api_connection_duration_seconds_count{api="m1/1.0"}' => $n + 1,
    'ws_api_connection_duration_seconds_bucket{api="m1/1.0",le="1"}' => $n + 1,
    'ws_api_connection_duration_seconds_bucket{api="m1/1.0",le="+Inf"}' => $n + 1,
);

for my $k (sort keys %want) {
    is(delta($s0, $s1, $k), $want{$k}, "$k +$want{$k}");
}

is($s1->{'ws_api_connections_active{api="m1/1.0"}'}, 0, 'no live connection');
is($s1->{ws_api_redis_up}, 1, 'ws_api_redis_up 1');
ok($s1->{ws_api_definitions_revision} >= 2, 'ws_api_definitions_revision');

# the sessions were served by both workers (reuseport), and the scrape,
# whichever worker answers, has all of them

my %pids = map { /^(\d+) m1\/1\.0 in=3/ ? ($1 => 1) : () }
           split /\n/, $gw->nginx->access_log;
is(scalar(keys %pids), 2, 'the sessions went to both workers')
    or diag($gw->nginx->access_log);

for (1 .. 4) {
    my $s = samples(scrape()->{body});
    is($s->{'ws_api_closes_total{api="m1/1.0",code="1000"}'},
       $s1->{'ws_api_closes_total{api="m1/1.0",code="1000"}'},
       "scrape $_: the same sums");
}

# nothing a client chose, besides the API's name, is a label

my $body = scrape()->{body};
unlike($body, qr/127\.0\.0\.1/, 'no client address in the metrics');
unlike($body, qr/XYZSECRET|zzz|abc|nope|evil/,
       'no parameter value, path or origin');

SKIP: {
    skip 'promtool is missing (make deps installs prometheus)', 1
        unless $promtool;
    my $file = tmpdir() . '/scrape.txt';
    open my $fh, '>', $file or die;
    print $fh $body;
    close $fh;
    my $out = `$promtool check metrics < $file 2>&1`;
    is($?, 0, 'promtool check metrics passes') or diag($out);
}

# a live session: counted as active, its messages within a second or so

{
    my $ws = $gw->connect('/gateway/m1/1.0/live?sym=a');
    is($ws->status, 101, 'live session');
    $ws->send_text('abc');
    $ws->read_message($t);
    my $s;
    ok(poll_until($t, sub {
        $s = samples(scrape()->{body});
        delta($s1, $s, 'ws_api_messages_total{api="m1/1.0",direction="client",type="text"}') == 1;
    }), 'a live session\'s message is counted while it lasts');
    is($s->{'ws_api_connections_active{api="m1/1.0"}'}, 1, 'one active');
    $ws->close_handshake(1000, '', $t);
    poll_until($t, sub {
        $s = samples(scrape()->{body});
        $s->{'ws_api_connections_active{api="m1/1.0"}'} == 0;
    });
    is($s->{'ws_api_connections_active{api="m1/1.0"}'}, 0, 'none once closed');
    $s1 = $s;
}

# the access log: in is what the client sent, out what it was sent

{
    my @lines = grep { m{ /gateway/m1/1\.0/s1\?} } split /\n/, $gw->nginx->access_log;
    is(scalar @lines, 1, 'one log line for session 1');
    like($lines[0], qr{ m1/1\.0 in=3 out=3 bin=15 bout=15 dur=\d+\.\d{3} close=1000 },
         'its counts, bytes, duration and close code') or diag($lines[0]);
    @lines = grep { m{ /gateway/m1/1\.0/bin\?} } split /\n/, $gw->nginx->access_log;
    like($lines[0] // '', qr{ in=0 out=0 bin=0 bout=0 dur=\d+\.\d{3} close=1003 },
         'the refused binary message is not counted');
    @lines = grep { m{ /gateway/m1/1\.0\?sym=zzz} } split /\n/, $gw->nginx->access_log;
    like($lines[0] // '', qr{ in=- out=- bin=- bout=- dur=- },
         'a refused handshake has no counts');
}

# a reload keeps the counts, one to 3 workers too (the slots are sized for
# 4); the new workers add to them

ok($gw->nginx->reload(main => 'worker_processes 3;'), 'reload to 3 workers');

my $s2 = samples(scrape()->{body});
for my $k (sort keys %want) {
    next if $k =~ /rejected|api=""/;
    is($s2->{$k}, $s1->{$k}, "after the reload: $k");
}

{
    my $ws = $gw->connect('/gateway/m1/1.0/after?sym=a');
    $ws->send_text('hello');
    $ws->read_message($t);
    $ws->close_handshake(1000, '', $t);
}

my $s3;
poll_until($t, sub {
    $s3 = samples(scrape()->{body});
    delta($s2, $s3, 'ws_api_closes_total{api="m1/1.0",code="1000"}') == 1;
});
is(delta($s2, $s3, 'ws_api_closes_total{api="m1/1.0",code="1000"}'), 1,
   'a session after the reload adds to the counts');
is(delta($s2, $s3, 'ws_api_messages_total{api="m1/1.0",direction="client",type="text"}'),
   1, 'its message too');

# only GET

$r = http_request(POST => 'http://127.0.0.1:' . $gw->port . '/metrics', body => 'x');
is($r->{status}, 405, 'POST: 405');

# conf/nginx.conf (sharing the Redis, so it serves m1): its log_format
# ws_api in the gateway's access log, its /metrics on the admin port

{
    my $nginx = start_nginx(http => sample_http(), redis => $gw->redis);
    my $admin = 'http://127.0.0.1:' . $nginx->port('admin');
    my $ws;
    ok(poll_until($t, sub {
        $ws = ws_connect(port => $nginx->port('gw'), path => '/gateway/m1/1.0/conf?sym=a');
        $ws->status == 101;
    }), 'the sample configuration serves m1');
    $ws->send_text('12345678');
    $ws->read_message($t);
    $ws->close_handshake(1000, '', $t);
    my $log = $nginx->dir . '/gateway.log';
    my $line;
    poll_until($t, sub { $line = (-e $log) ? `cat $log` : ''; $line =~ /conf/ });
    like($line, qr{"GET /gateway/m1/1\.0/conf\?sym=a" 101 \d+ api=m1/1\.0 app=\S* in=1 out=1 bytes_in=8 bytes_out=8 duration=\d+\.\d{3} close=1000 },
         'the sample log_format ws_api') or diag($line);
    my $r = http_request(GET => "$admin/metrics");
    like($r->{body}, qr/^ws_api_handshakes_total\{api="m1\/1\.0",result="accepted"\} \d+$/m,
         'the sample serves /metrics');
}

done_testing;
