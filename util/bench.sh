#!/bin/bash
#
# The benchmarks of the Performance issue: the gateway against plain nginx
# (the same binary, the same buffers), HAProxy and Caddy, all relaying to
# the same echo backend (build/ws-bench echo).  "make bench" runs it after
# "make deps" and builds what it needs; the orchestration is
# util/bench/bench.pl (it reuses the test harness, t/lib/WsApi/Test.pm).
#
#     util/bench.sh
#
# Environment (defaults in brackets):
#     BENCH_ROUNDS      rounds of every (workload, proxy) pair [5]
#     BENCH_SECS        measured seconds of a throughput run [2]
#     BENCH_WARMUP      warm-up seconds before each measurement [0.5]
#     BENCH_WINDOW      messages in flight per connection [16]
#     BENCH_FIXED_RATE  messages/s of the text-64-fixed workload [100000]
#     BENCH_IDLE_CONNS  connections of the idle workload [10000, fewer if the
#                       hard RLIMIT_NOFILE cannot take two per connection]
#     BENCH_SEED        seed of the shuffled order [time]
#     BENCH_ONLY        a Perl regex: only the pairs "workload/proxy" it matches
#     BENCH_QUIET_WAIT  seconds to wait for other processes to go quiet [0]
#     BENCH_MAX_OTHER   CPUs other processes may use during a run before it is
#                       run again (once) [0.1]
#     WSAPI_KEEP=1      keep the temporary directory (configurations, logs)
#
# Output: the report on stdout and in build/bench/report.txt, every run in
# build/bench/runs.tsv.
#
# Times move with whatever else the machine runs (the report's "other" and
# noise lines say how much).  util/bench/callgrind.sh counts instructions
# instead (valgrind), per message and per handshake, plain against gateway:
# figures that do not move.

set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)

for f in "$ROOT/build/ws-bench" "$ROOT/build/ngx_http_ws_api_module.so"; do
    if [ ! -x "$f" ] && [ ! -f "$f" ]; then
        echo "bench: $f is missing: run make bench (or make all bench-tools)" >&2
        exit 1
    fi
done

missing=
for p in nginx redis-server haproxy caddy taskset perl; do
    command -v "$p" > /dev/null 2>&1 || missing="$missing $p"
done

if [ -n "$missing" ]; then
    echo "bench: not installed:$missing (run make deps as root)" >&2
    exit 1
fi

if [ "$(nproc)" -lt 2 ]; then
    echo "bench: needs 2 CPUs (proxies on CPU 0, load on CPU 1)" >&2
    exit 1
fi

# 10,000 idle connections: the client and the echo backend each hold one
# descriptor per connection, nginx two
ulimit -n "$(ulimit -Hn)" 2> /dev/null || true

exec perl "$ROOT/util/bench/bench.pl" "$@"
