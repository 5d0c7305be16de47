#!/bin/bash
#
# The handshake cost of the identifyAndAccess policy, in user-space
# instructions of the nginx worker (valgrind's callgrind), per method:
# the API of util/bench.sh without policies, then the same API with
# identifyAndAccess and an API key in x-Gateway-APIKey, and with a JWT in
# Authorization: Bearer signed HS256, RS256 (2048 bits) and ES256 (keys
# made by openssl here).  The JWT keys are compiled once per worker, so
# the figures are those of verifying a token.
#
#     util/bench/callgrind-identify.sh   (after make all bench-tools; valgrind)
#
# Output: a table on stdout and in build/bench/callgrind-identify.txt; the
# callgrind files in build/bench/callgrind-identify/.

set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build/bench
CG=$OUT/callgrind-identify
TOOL=$ROOT/build/ws-bench
MODULE=$ROOT/build/ngx_http_ws_api_module.so

for c in valgrind callgrind_control callgrind_annotate nginx redis-server perl openssl; do
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

# keys for the tokens
openssl genrsa -out "$TMP/rsa.pem" 2048 2> /dev/null
openssl pkey -in "$TMP/rsa.pem" -pubout -out "$TMP/rsa.pub" 2> /dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/ec.pem" 2> /dev/null
openssl pkey -in "$TMP/ec.pem" -pubout -out "$TMP/ec.pub" 2> /dev/null

# the API of util/bench.sh without policies ("1.0") and with
# identifyAndAccess ("apikey", "jwt"), one application registered to both;
# prints the API key, then a token per algorithm
perl -MHTTP::Tiny -MJSON::PP -MDigest::SHA=hmac_sha256 -MMIME::Base64=encode_base64url -e '
    my ($admin, $echo, $tmp) = @ARGV;
    my $ua = HTTP::Tiny->new;
    my $json = JSON::PP->new->canonical;
    sub slurp { local (@ARGV, $/) = @_; <> }
    my $secret = "a secret of the bench, thirty-two bytes or more";
    my $params = $json->decode(q{[{"name":"sym","in":"query","dataType":"string","required":true},
        {"name":"limit","in":"query","dataType":"integer","required":true},
        {"name":"live","in":"query","dataType":"boolean","required":true,"values":["true","false"]},
        {"name":"X-Since","in":"header","dataType":"date-time","required":true},
        {"name":"X-Ratio","in":"header","dataType":"double","required":true}]});
    my %pol = (
        "1.0" => {},
        apikey => { identifyAndAccess => { methods => ["apiKey"] } },
        jwt => { identifyAndAccess => { methods => ["jwt"], jwt => {
            keys => [ { kty => "oct", k => encode_base64url($secret) },
                      slurp("$tmp/rsa.pub"), slurp("$tmp/ec.pub") ],
            issuer => "https://idp.bench", audience => "ws-api" } } },
    );
    sub call {
        my ($m, $path, $body) = @_;
        my $r = $ua->request($m, "http://127.0.0.1:$admin/rest/apigateway/$path", {
            headers => { "X-User" => "admin", "Content-Type" => "application/json" },
            defined $body ? (content => $json->encode($body)) : () });
        die "$m $path: $r->{status} $r->{content}\n" unless $r->{status} =~ /^20/;
        return $json->decode($r->{content});
    }
    my @ids;
    for my $v (sort keys %pol) {
        my $d = call(POST => "apis", { apiName => "bench-text", apiVersion => $v,
            wsUrl => "ws://127.0.0.1:$echo/echo", parameters => $params,
            messages => [ { origin => "client", type => "text" }, { origin => "server", type => "text" } ],
            policies => $pol{$v} });
        call(PUT => "apis/$d->{id}/activate");
        push @ids, $d->{id};
    }
    my $app = call(POST => "applications", { name => "bench", apiIds => \@ids });
    print "$app->{apiKey}\n";
    for my $alg (qw(HS256 RS256 ES256)) {
        my $in = encode_base64url($json->encode({ alg => $alg, typ => "JWT" })) . "."
            . encode_base64url($json->encode({ iss => "https://idp.bench", aud => "ws-api",
                                               exp => time + 86400, sub => $app->{id} }));
        my $sig;
        if ($alg eq "HS256") {
            $sig = hmac_sha256($in, $secret);
        } else {
            open(my $f, ">", "$tmp/in") or die; print $f $in; close $f;
            my $k = $alg eq "RS256" ? "$tmp/rsa.pem" : "$tmp/ec.pem";
            system("openssl dgst -sha256 -sign $k -out $tmp/sig $tmp/in") == 0 or die;
            $sig = slurp("$tmp/sig");
            if ($alg eq "ES256") {
                my @b = unpack("C*", $sig); my $i = 2; my $rs = "";
                for (1 .. 2) {
                    my $l = $b[$i + 1];
                    my $v = pack("C*", @b[$i + 2 .. $i + 1 + $l]); $v =~ s/^\x00+//;
                    $rs .= ("\x00" x (32 - length $v)) . $v; $i += 2 + $l;
                }
                $sig = $rs;
            }
        }
        print "$in." . encode_base64url($sig) . "\n";
    }' "$ADMIN" "$ECHO" "$TMP" > "$TMP/creds"

KEY=$(sed -n 1p "$TMP/creds")
HS=$(sed -n 2p "$TMP/creds")
RS=$(sed -n 3p "$TMP/creds")
ES=$(sed -n 4p "$TMP/creds")

Q='sym=ACME&limit=100&live=true'
H=(-H 'X-Since: 2026-11-28T10:15:00.250+01:00' -H 'X-Ratio: 0.75')

# the gateway serves the APIs and knows the application once loaded
for _ in $(seq 1 100); do
    if "$TOOL" handshake --url "ws://127.0.0.1:$GW/gateway/bench-text/apikey?$Q" "${H[@]}" \
           -H "x-Gateway-APIKey: $KEY" -c 1 -n 1 --quiet > /dev/null 2>&1; then
        break
    fi
    sleep 0.1
done

mkdir -p "$CG"
rm -f "$CG/"*

measure() {
    local name=$1 out n ir file
    shift

    callgrind_control -z "$NGINX" > /dev/null 2>&1
    out=$(taskset -c 1 "$TOOL" "$@" 2> /dev/null | grep '^mode=') || true
    callgrind_control -d "$name" "$NGINX" > /dev/null 2>&1
    file=$(ls -t "$TMP"/cg."$NGINX".* | head -1)
    cp "$file" "$CG/$name.out"

    n=$(echo "$out" | grep -o -E 'handshakes=[0-9]+' | cut -d= -f2)
    ir=$(grep -m1 -E '^(summary|totals):' "$file" | awk '{print $2}')

    if [ -z "$n" ] || [ "$n" = 0 ]; then
        echo "callgrind: $name made no progress: $out" >&2
        exit 1
    fi

    echo "$name $n $ir"
}

U="ws://127.0.0.1:$GW/gateway/bench-text"

{
    # a first handshake of each method compiles nothing more afterwards
    "$TOOL" handshake --url "$U/jwt?$Q" "${H[@]}" -H "Authorization: Bearer $HS" -c 1 -n 1 --quiet \
        > /dev/null 2>&1 || true

    measure none handshake --url "$U/1.0?$Q" "${H[@]}" -c 4 -n 400
    measure apikey handshake --url "$U/apikey?$Q" "${H[@]}" -H "x-Gateway-APIKey: $KEY" -c 4 -n 400
    measure apikey-query handshake --url "$U/apikey?$Q&apiKey=$KEY" "${H[@]}" -c 4 -n 400
    measure jwt-hs256 handshake --url "$U/jwt?$Q" "${H[@]}" -H "Authorization: Bearer $HS" -c 4 -n 400
    measure jwt-rs256 handshake --url "$U/jwt?$Q" "${H[@]}" -H "Authorization: Bearer $RS" -c 4 -n 400
    measure jwt-es256 handshake --url "$U/jwt?$Q" "${H[@]}" -H "Authorization: Bearer $ES" -c 4 -n 400
} > "$TMP/counts"

cp "$TMP/counts" "$CG/counts.txt"

{
    echo "user-space instructions (callgrind Ir) of the nginx worker per handshake,"
    echo "identifyAndAccess by method against the same API without the policy;"
    echo "module $(git -C "$ROOT" describe --always --dirty 2> /dev/null)"
    echo
    perl -e '
        my (%c, @order);
        while (<>) { my ($name, $n, $ir) = split; $c{$name} = $ir / $n; push @order, $name }
        printf "%-14s %12s %12s %8s\n", "method", "Ir", "extra Ir", "ratio";
        for my $k (@order) {
            printf "%-14s %12.0f %+12.0f %8.2f\n", $k, $c{$k}, $c{$k} - $c{none}, $c{$k} / $c{none};
        }
    ' "$TMP/counts"
} | tee "$OUT/callgrind-identify.txt"
