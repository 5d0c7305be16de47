#!/bin/sh
#
# Starts (or stops) what "make run" runs: Redis with persistence on, a demo
# WebSocket echo backend, and nginx with conf/nginx.conf; everything lives
# in build/run/.
#
#     util/run.sh start | stop | status

set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=$ROOT/build/run

REDIS_PORT=6380
BACKEND_PORT=9001

start() {
    mkdir -p "$RUN/redis" "$RUN/tmp"

    # nginx workers run as "nobody": they read the password file and write
    # temporary files here
    chmod 755 "$ROOT/build" "$RUN"
    chown nobody "$RUN/tmp" 2>/dev/null || true

    if ! redis-cli -p $REDIS_PORT ping >/dev/null 2>&1; then
        redis-server --port $REDIS_PORT --bind 127.0.0.1 \
            --dir "$RUN/redis" --appendonly yes \
            --daemonize yes --pidfile "$RUN/redis.pid" \
            --logfile "$RUN/redis.log"

        i=0
        until redis-cli -p $REDIS_PORT ping >/dev/null 2>&1; do
            i=$((i + 1))
            [ $i -lt 100 ] || { echo "redis did not start, see $RUN/redis.log"; exit 1; }
            sleep 0.1
        done
    fi

    if [ ! -f "$RUN/htpasswd" ]; then
        printf 'admin:%s\n' "$(openssl passwd -apr1 admin)" > "$RUN/htpasswd"
        chmod 644 "$RUN/htpasswd"
    fi

    if [ ! -f "$RUN/backend.pid" ] || ! kill -0 "$(cat "$RUN/backend.pid")" 2>/dev/null; then
        /usr/bin/python3 "$ROOT/t/lib/ws_backend.py" --port $BACKEND_PORT \
            --log "$RUN/backend.log" > "$RUN/backend.out" 2>&1 &
        echo $! > "$RUN/backend.pid"
    fi

    if ! su nobody -s /bin/sh -c "test -r '$RUN/htpasswd'" 2>/dev/null; then
        echo "warning: nginx workers (user nobody) cannot read $RUN/htpasswd;"
        echo "         move the repository to a directory they can enter"
    fi

    nginx -p "$ROOT/" -c conf/nginx.conf -t -q

    if [ -f "$RUN/nginx.pid" ] && kill -0 "$(cat "$RUN/nginx.pid")" 2>/dev/null; then
        nginx -p "$ROOT/" -c conf/nginx.conf -s reload
    else
        nginx -p "$ROOT/" -c conf/nginx.conf
    fi

    cat <<MSG
ws-api is running:
  admin API  http://127.0.0.1:8081/rest/apigateway/   (user admin, password admin)
  console    http://127.0.0.1:8081/console/            (the admin console, same user)
  gateway    ws://127.0.0.1:8080/gateway/{apiName}/{apiVersion}
  Redis      127.0.0.1:$REDIS_PORT  (data in build/run/redis)
  backend    ws://127.0.0.1:$BACKEND_PORT/  (a demo echo server)
  logs       build/run/error.log, build/run/access.log
stop it with: make stop
MSG
}

stop() {
    if [ -f "$RUN/nginx.pid" ]; then
        nginx -p "$ROOT/" -c conf/nginx.conf -s quit 2>/dev/null || true
    fi

    if [ -f "$RUN/backend.pid" ]; then
        kill "$(cat "$RUN/backend.pid")" 2>/dev/null || true
        rm -f "$RUN/backend.pid"
    fi

    redis-cli -p $REDIS_PORT shutdown 2>/dev/null || true
    echo "ws-api stopped"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop"; exit 2 ;;
esac
