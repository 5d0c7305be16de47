#!/bin/bash
#
# Instructions that the nginx worker executes in user space (valgrind's
# callgrind) per echoed message and per handshake, plain proxy_pass against
# the gateway, with the locations and APIs of util/bench.sh, and the gateway
# with APIs that carry every policy (limits that never trigger).  Counts of
# instructions do not move with the noise of a shared machine, as times do;
# the kernel's part (most of a relay) is not in them.
#
#     util/bench/callgrind.sh      (after make all bench-tools; needs valgrind)
#
# Output: a table on stdout and in build/bench/callgrind.txt; the callgrind
# files are kept in build/bench/callgrind/ (callgrind_annotate FILE).

set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build/bench
TOOL=$ROOT/build/ws-bench
MODULE=$ROOT/build/ngx_http_ws_api_module.so

for c in valgrind callgrind_control callgrind_annotate nginx redis-server perl; do
    command -v $c > /dev/null || { echo "callgrind: $c is missing (apt-get install valgrind)" >&2; exit 1; }
done

[ -x "$TOOL" ] && [ -f "$MODULE" ] || { echo "callgrind: run make all bench-tools first" >&2; exit 1; }

TMP=$(mktemp -d /tmp/wsapi-callgrind-XXXXXX)
PIDS=

cleanup() {
    for p in $PIDS; do
        kill "$p" 2> /dev/null || true
    done
    for p in $PIDS; do
        wait "$p" 2> /dev/null || true
    done
    rm -rf "$TMP"
}

trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    perl -MIO::Socket::INET -e \
        'print IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)->sockport'
}

wait_port() {
    for _ in $(seq 1 300); do
        if (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "callgrind: nothing listens on $1" >&2
    exit 1
}

REDIS=$(free_port)
ECHO=$(free_port)
ADMIN=$(free_port)
GW=$(free_port)

redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no \
    > "$TMP/redis.log" 2>&1 &
PIDS="$PIDS $!"

taskset -c 1 "$TOOL" echo --listen "127.0.0.1:$ECHO" > "$TMP/echo.log" 2>&1 &
PIDS="$PIDS $!"

cp "$MODULE" "$TMP/module.so"
mkdir -p "$TMP/client_body" "$TMP/proxy"

BUFFERS='proxy_buffer_size 64k; proxy_buffers 4 64k; proxy_busy_buffers_size 128k;'
UPGRADE='proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade"; proxy_read_timeout 1h;'

cat > "$TMP/nginx.conf" <<EOF
load_module $TMP/module.so;
daemon off;
master_process off;
$( [ "$(id -u)" = 0 ] && echo 'user root;' )
pid $TMP/nginx.pid;
error_log $TMP/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/client_body;
    proxy_temp_path $TMP/proxy;
    ws_api_redis 127.0.0.1:$REDIS;
    server {
        listen 127.0.0.1:$ADMIN;
        location /rest/apigateway/ {
            ws_api_admin;
            ws_api_admin_identity \$http_x_user;
            ws_api_admin_superuser admin;
        }
    }
    server {
        listen 127.0.0.1:$GW;
        location /gateway/ {
            ws_api_gateway;
            proxy_pass \$ws_api_backend;
            $UPGRADE
            $BUFFERS
        }
        location /plain/ {
            proxy_pass http://127.0.0.1:$ECHO;
            $UPGRADE
            $BUFFERS
        }
    }
}
EOF

wait_port "$REDIS"
wait_port "$ECHO"

taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.%p" \
    nginx -p "$TMP/" -c "$TMP/nginx.conf" > "$TMP/valgrind.log" 2>&1 &
NGINX=$!
PIDS="$PIDS $NGINX"

wait_port "$ADMIN"
wait_port "$GW"

# the two APIs of util/bench.sh: 5 declared parameters, the client and
# server messages of one type; and each again as version "policies" with
# every policy of SPEC 5, at limits that never trigger
perl -MHTTP::Tiny -e '
    my ($admin, $echo) = @ARGV;
    my $ua = HTTP::Tiny->new;
    my $params = q{[{"name":"sym","in":"query","dataType":"string","required":true},
        {"name":"limit","in":"query","dataType":"integer","required":true},
        {"name":"live","in":"query","dataType":"boolean","required":true,"values":["true","false"]},
        {"name":"X-Since","in":"header","dataType":"date-time","required":true},
        {"name":"X-Ratio","in":"header","dataType":"double","required":true}]};
    my $policies = q{{"maxMessageSize":{"client":1048576,"server":1048576},
        "messageRate":{"client":{"messages":1000000000,"per":"1s"},
                       "server":{"messages":1000000000,"per":"1s"}},
        "maxConnections":100000,"idleTimeout":"1h","maxConnectionAge":"1d",
        "allowedOrigins":["https://bench.example"],
        "ipAllow":["127.0.0.0/8"],"ipDeny":["10.0.0.0/8"]}};
    for my $vt (map { my $v = $_; map { [$v, $_] } qw(text binary) }
                "1.0", "policies") {
        my ($v, $t) = @$vt;
        my $r = $ua->post("http://127.0.0.1:$admin/rest/apigateway/apis", {
            headers => { "X-User" => "admin", "Content-Type" => "application/json" },
            content => qq({"apiName":"bench-$t","apiVersion":"$v",)
                . qq("wsUrl":"ws://127.0.0.1:$echo/echo",)
                . qq("parameters":$params,"messages":[{"origin":"client","type":"$t"},)
                . qq({"origin":"server","type":"$t"}])
                . ($v eq "1.0" ? "}" : qq(,"policies":$policies})) });
        die "create bench-$t: $r->{status} $r->{content}\n" unless $r->{status} == 201;
        my ($id) = $r->{content} =~ /"id":"([^"]+)"/;
        $r = $ua->put("http://127.0.0.1:$admin/rest/apigateway/apis/$id/activate",
                      { headers => { "X-User" => "admin" } });
        die "activate bench-$t: $r->{status} $r->{content}\n" unless $r->{status} == 200;
    }
    # payload validation (SPEC 4.3): the same JSON messages without schemas
    # (version 1.0) and with a schema for each origin (version "schema")
    my $schema = q{{"type":"array","minItems":2,"items":[{"type":"string",
        "minLength":16,"maxLength":16},{"type":"string"}]}};
    for my $v ("1.0", "schema") {
        my $s = $v eq "schema" ? qq(,"schema":$schema) : "";
        my $r = $ua->post("http://127.0.0.1:$admin/rest/apigateway/apis", {
            headers => { "X-User" => "admin", "Content-Type" => "application/json" },
            content => qq({"apiName":"bench-json","apiVersion":"$v",)
                . qq("wsUrl":"ws://127.0.0.1:$echo/echo",)
                . qq("parameters":$params,"messages":[{"origin":"client","type":"text"$s},)
                . qq({"origin":"server","type":"text"$s}]}) });
        die "create bench-json: $r->{status} $r->{content}\n" unless $r->{status} == 201;
        my ($id) = $r->{content} =~ /"id":"([^"]+)"/;
        $r = $ua->put("http://127.0.0.1:$admin/rest/apigateway/apis/$id/activate",
                      { headers => { "X-User" => "admin" } });
        die "activate bench-json: $r->{status} $r->{content}\n" unless $r->{status} == 200;
    }' "$ADMIN" "$ECHO"

Q='sym=ACME&limit=100&live=true'
H=(-H 'X-Since: 2026-11-28T10:15:00.250+01:00' -H 'X-Ratio: 0.75')

# the gateway serves the APIs once the worker has loaded them
for _ in $(seq 1 100); do
    if "$TOOL" handshake --url "ws://127.0.0.1:$GW/gateway/bench-text/1.0?$Q" "${H[@]}" \
           -c 1 -n 1 --quiet > /dev/null 2>&1; then
        break
    fi
    sleep 0.1
done

mkdir -p "$OUT/callgrind"
rm -f "$OUT/callgrind/"*

# measure NAME ws-bench-arguments...: the instructions between a zeroing and
# a dump of the counters, per message echoed (or per handshake)
measure() {
    local name=$1 out n ir file
    shift

    callgrind_control -z "$NGINX" > /dev/null 2>&1
    out=$(taskset -c 1 "$TOOL" "$@" 2> /dev/null | grep '^mode=') || true
    callgrind_control -d "$name" "$NGINX" > /dev/null 2>&1
    file=$(ls -t "$TMP"/cg."$NGINX".* | head -1)
    cp "$file" "$OUT/callgrind/$name.out"

    n=$(echo "$out" | grep -o -E '(msgs|handshakes)=[0-9]+' | cut -d= -f2)
    ir=$(grep -m1 -E '^(summary|totals):' "$file" | awk '{print $2}')

    if [ -z "$n" ] || [ "$n" = 0 ]; then
        echo "callgrind: $name made no progress: $out" >&2
        exit 1
    fi

    echo "$name $n $ir"
}

# connections are set up inside each measurement: a run's handshakes are
# taken off with the handshake's own count
{
    for p in plain gateway policies; do
        # the location and the version: the policies APIs are the gateway's
        case $p in
            policies) L=gateway; V=policies ;;
            *) L=$p; V=1.0 ;;
        esac
        measure "$p-handshake" handshake --url "ws://127.0.0.1:$GW/$L/bench-text/$V?$Q" \
            "${H[@]}" -c 4 -n 400
        measure "$p-text-64" throughput --url "ws://127.0.0.1:$GW/$L/bench-text/$V?$Q" \
            "${H[@]}" -c 50 -w 16 -s 64 --text --rate 5000 -d 3 --warmup 0
        measure "$p-binary-64" throughput --url "ws://127.0.0.1:$GW/$L/bench-binary/$V?$Q" \
            "${H[@]}" -c 50 -w 16 -s 64 --binary --rate 5000 -d 3 --warmup 0
        measure "$p-text-16k" throughput --url "ws://127.0.0.1:$GW/$L/bench-text/$V?$Q" \
            "${H[@]}" -c 20 -w 16 -s 16384 --text --rate 2000 -d 3 --warmup 0
        measure "$p-binary-16k" throughput --url "ws://127.0.0.1:$GW/$L/bench-binary/$V?$Q" \
            "${H[@]}" -c 20 -w 16 -s 16384 --binary --rate 2000 -d 3 --warmup 0
    done
    for v in 1.0 schema; do
        measure "json-$v-64" throughput --url "ws://127.0.0.1:$GW/gateway/bench-json/$v?$Q" \
            "${H[@]}" -c 50 -w 16 -s 64 --json-text --rate 1000 -d 3 --warmup 0
        measure "json-$v-1k" throughput --url "ws://127.0.0.1:$GW/gateway/bench-json/$v?$Q" \
            "${H[@]}" -c 50 -w 16 -s 1024 --json-text --rate 200 -d 3 --warmup 0
    done
} > "$TMP/counts"

cp "$TMP/counts" "$OUT/callgrind/counts.txt"

# the module's own instructions (its functions, exclusive) per message:
# what the policies add, free of the batching that moves nginx's share
for p in gateway policies; do
    for w in text-64 binary-64 text-16k binary-16k; do
        ir=$(callgrind_annotate --threshold=100 "$OUT/callgrind/$p-$w.out" 2> /dev/null \
             | grep 'module.so\]' | awk '{ gsub(",", "", $1); s += $1 } END { print s }')
        n=$(awk -v k="$p-$w" '$1 == k { print $2 }' "$TMP/counts")
        echo "$p $w $ir $n"
    done
done > "$TMP/module"

perl -e '
    my %c;
    open my $fh, "<", $ARGV[0] or die;
    while (<$fh>) { my ($name, $n, $ir) = split; $c{$name} = [$n, $ir] }
    my %conns = ("text-64" => 50, "binary-64" => 50, "text-16k" => 20, "binary-16k" => 20);
    my %per;
    for my $p (qw(plain gateway policies)) {
        my ($n, $ir) = @{ $c{"$p-handshake"} };
        $per{$p}{handshake} = $ir / $n;
        for my $w (keys %conns) {
            my ($m, $i) = @{ $c{"$p-$w"} };
            $per{$p}{$w} = ($i - $conns{$w} * $per{$p}{handshake}) / $m;
        }
    }
    printf "%-11s %12s %12s %9s %10s %12s %12s\n", "per", "plain Ir", "gateway Ir", "ratio",
        "extra Ir", "policies Ir", "vs gateway";
    for my $w (qw(handshake text-64 binary-64 text-16k binary-16k)) {
        printf "%-11s %12.0f %12.0f %9.2f %10.0f %12.0f %+12.0f\n", $w, $per{plain}{$w},
            $per{gateway}{$w}, $per{gateway}{$w} / $per{plain}{$w},
            $per{gateway}{$w} - $per{plain}{$w}, $per{policies}{$w},
            $per{policies}{$w} - $per{gateway}{$w};
    }
    print "\npayload validation (SPEC 4.3): JSON messages, a schema for each origin\n";
    printf "%-11s %12s %12s %9s %10s\n", "per", "no schema Ir", "schema Ir", "ratio",
        "extra Ir";
    for my $w (qw(64 1k)) {
        my %v;
        for my $s (qw(1.0 schema)) {
            my ($m, $i) = @{ $c{"json-$s-$w"} };
            $v{$s} = ($i - 50 * $per{gateway}{handshake}) / $m;
        }
        printf "%-11s %12.0f %12.0f %9.2f %10.0f\n", "json-$w", $v{"1.0"}, $v{schema},
            $v{schema} / $v{"1.0"}, $v{schema} - $v{"1.0"};
    }
' "$TMP/counts" > "$TMP/table"

{
    echo "user-space instructions (callgrind Ir) of the nginx worker, per echoed message"
    echo "(a message each way) or per handshake; module $(git -C "$ROOT" describe --always --dirty 2> /dev/null)"
    echo
    cat "$TMP/table"
    echo
    echo "the module's own instructions per echoed message (exclusive Ir of its functions)"
    perl -e '
        my %m;
        open my $fh, "<", $ARGV[0] or die;
        while (<$fh>) { my ($p, $w, $ir, $n) = split; $m{$w}{$p} = $ir / $n }
        printf "%-11s %12s %12s %12s\n", "per", "gateway", "policies", "extra";
        for my $w (qw(text-64 binary-64 text-16k binary-16k)) {
            printf "%-11s %12.0f %12.0f %+12.0f\n", $w, $m{$w}{gateway}, $m{$w}{policies},
                $m{$w}{policies} - $m{$w}{gateway};
        }
    ' "$TMP/module"
    echo
    for w in handshake text-64 binary-64 text-16k binary-16k; do
        echo "gateway-$w: the module's functions (exclusive Ir of the whole run)"
        callgrind_annotate --threshold=100 "$OUT/callgrind/gateway-$w.out" 2> /dev/null \
            | grep 'module.so\]' | head -6 | sed -e 's/ \[.*//' -e 's/^/    /'
    done
} | tee "$OUT/callgrind.txt"
