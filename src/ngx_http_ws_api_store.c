
/*
 * Copyright (C) ws-api authors
 */


/*
 * Redis on nginx's event loop: each worker keeps two connections, one for
 * commands and one subscribed to the "{prefix}events" channel, and keeps the
 * ws_api_cache zone in step with Redis.
 *
 * Every change increments "rev" and publishes {"rev": N, ...}.  The zone
 * records the rev it holds.  An event that is exactly the next rev of an
 * API is loaded alone; anything else (a gap: a message lost while
 * disconnected, a flushed Redis, the first start) is a whole load, which
 * reads "rev" and every definition atomically in one script.  "rev" is
 * also compared after every (re)connection and once a second by one
 * worker of the nginx.  One worker at a time loads, under a lease kept in
 * the zone; the others read the result from the zone.
 *
 * Writes are Lua scripts, so each is atomic: its checks and its writes
 * happen together or not at all.
 */


#include "ngx_http_ws_api_store.h"
#include "ngx_http_ws_api_app.h"


#define NGX_HTTP_WS_API_CHECK_INTERVAL  1000
#define NGX_HTTP_WS_API_RETRY           100


/*
 * parts shared by the scripts: ARGV[1] is the key prefix, ARGV[2] the
 * deadline of a write in Redis' clock (ms since the epoch; "0" for none),
 * past which the script changes nothing: a write that nginx gave up on
 * (and answered 503) is never carried out late
 */

#define NGX_HTTP_WS_API_LUA_PREFIX                                           \
    "local p = ARGV[1] "                                                     \
    "if ARGV[2] ~= '0' then "                                                \
    "  local t = redis.call('TIME') "                                        \
    "  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "        \
    "     > tonumber(ARGV[2]) then "                                         \
    "    return {'expired'} "                                                \
    "  end "                                                                 \
    "end "

#define NGX_HTTP_WS_API_LUA_TEAMS(first)                                     \
    "for i = " first ", #ARGV do "                                           \
    "  if redis.call('SISMEMBER', p .. 'teams', ARGV[i]) == 0 then "         \
    "    return {'no_team', ARGV[i]} "                                       \
    "  end "                                                                 \
    "end "

/*
 * the event goes to "{prefix}events", the channel every worker listens to
 * (SPEC 6): gateways with other prefixes on the same Redis do not hear it
 */

#define NGX_HTTP_WS_API_LUA_EVENT(kind, who, op)                             \
    "local rev = redis.call('INCR', p .. 'rev') "                            \
    "local event = '{\"rev\":' .. rev .. "                                   \
    "  ',\"" kind "\":' .. cjson.encode(" who ") .. ',\"op\":\"" op "\"}' "  \
    "redis.call('PUBLISH', p .. 'events', event) "


static ngx_str_t  ngx_http_ws_api_scripts[] = {

    /* LOAD: rev, then id and definition of every API */

    ngx_string(
    NGX_HTTP_WS_API_LUA_PREFIX
    "local apps = {} "
    "for _, id in ipairs(redis.call('SMEMBERS', p .. 'apps')) do "
    "  local v = redis.call('GET', p .. 'app:' .. id) "
    "  if v then "
    "    apps[#apps + 1] = id "
    "    apps[#apps + 1] = v "
    "  end "
    "end "
    "local out = {redis.call('GET', p .. 'rev') or '0', apps} "
    "for _, id in ipairs(redis.call('SMEMBERS', p .. 'apis')) do "
    "  local v = redis.call('GET', p .. 'api:' .. id) "
    "  if v then "
    "    out[#out + 1] = id "
    "    out[#out + 1] = v "
    "  end "
    "end "
    "return out"),

    /* GET_APIS id...: rev and the definitions (nil for none) */

    ngx_string(
    NGX_HTTP_WS_API_LUA_PREFIX
    "local out = {redis.call('GET', p .. 'rev') or '0'} "
    "for i = 3, #ARGV do "
    "  out[#out + 1] = redis.call('GET', p .. 'api:' .. ARGV[i]) "
    "end "
    "return out"),

    /* CREATE_API id name version json team... */

    ngx_string(
    NGX_HTTP_WS_API_LUA_PREFIX
    NGX_HTTP_WS_API_LUA_TEAMS("7")
    "if redis.call('SETNX', p .. 'name:' .. ARGV[4] .. ':' .. ARGV[5], "
    "              ARGV[3]) == 0 then "
    "  return {'taken'} "
    "end "
    "redis.call('SET', p .. 'api:' .. ARGV[3], ARGV[6]) "
    "redis.call('SADD', p .. 'apis', ARGV[3]) "
    NGX_HTTP_WS_API_LUA_EVENT("id", "ARGV[3]", "put")
    "return {'ok', rev}"),

    /* REPLACE_API id old new old-name old-version name version team... */

    ngx_string(
    NGX_HTTP_WS_API_LUA_PREFIX
    "local key = p .. 'api:' .. ARGV[3] "
    "if redis.call('GET', key) ~= ARGV[4] then "
    "  return {'conflict'} "
    "end "
    NGX_HTTP_WS_API_LUA_TEAMS("10")
    "local old = p .. 'name:' .. ARGV[6] .. ':' .. ARGV[7] "
    "local new = p .. 'name:' .. ARGV[8] .. ':' .. ARGV[9] "
    "if old ~= new then "
    "  if redis.call('SETNX', new, ARGV[3]) == 0 then "
    "    return {'taken'} "
    "  end "
    "  if redis.call('GET', old) == ARGV[3] then "
    "    redis.call('DEL', old) "
    "  end "
    "end "
    "redis.call('SET', key, ARGV[5]) "
    NGX_HTTP_WS_API_LUA_EVENT("id", "ARGV[3]", "put")
    "return {'ok', rev}"),

    /* DELETE_API id old name version */

    ngx_string(
    NGX_HTTP_WS_API_LUA_PREFIX
    "local key = p .. 'api:' .. ARGV[3] "
    "if redis.call('GET', key) ~= ARGV[4] then "
    "  return {'conflict'} "
    "end "
    "local name = p .. 'name:' .. ARGV[5] .. ':' .. ARGV[6] "
    "if redis.call('GET', name) == ARGV[3] then "
    "  redis.call('DEL', name) "
    "end "
    "redis.call('DEL', key) "
    "redis.call('SREM', p .. 'apis', ARGV[3]) "
    NGX_HTTP_WS_API_LUA_EVENT("id", "ARGV[3]", "delete")
    "return {'ok', rev}"),

    /* LIST kind ("user" or "team"): name and JSON of each */

    ngx_string(
    NGX_HTTP_WS_API_LUA_PREFIX
    "local out = {} "
    "for _, n in ipairs(redis.call('SMEMBERS', p .. ARGV[3] .. 's')) do "
    "  local v = redis.call('GET', p .. ARGV[3] .. ':' .. n) "
    "  if v then "
    "    out[#out + 1] = n "
    "    out[#out + 1] = v "
    "  end "
    "end "
    "return out"),

    /* PUT_USER name json team... */

    ngx_string(
    NGX_HTTP_WS_API_LUA_PREFIX
    NGX_HTTP_WS_API_LUA_TEAMS("5")
    "local created = redis.call('SADD', p .. 'users', ARGV[3]) "
    "redis.call('SET', p .. 'user:' .. ARGV[3], ARGV[4]) "
    NGX_HTTP_WS_API_LUA_EVENT("user", "ARGV[3]", "put")
    "return {'ok', rev, created}"),

    /* DELETE_USER name */

    ngx_string(
    NGX_HTTP_WS_API_LUA_PREFIX
    "if redis.call('DEL', p .. 'user:' .. ARGV[3]) == 0 then "
    "  return {'not_found'} "
    "end "
    "redis.call('SREM', p .. 'users', ARGV[3]) "
    NGX_HTTP_WS_API_LUA_EVENT("user", "ARGV[3]", "delete")
    "return {'ok', rev}"),

    /* PUT_TEAM name json */

    ngx_string(
    NGX_HTTP_WS_API_LUA_PREFIX
    "local created = redis.call('SADD', p .. 'teams', ARGV[3]) "
    "redis.call('SET', p .. 'team:' .. ARGV[3], ARGV[4]) "
    NGX_HTTP_WS_API_LUA_EVENT("team", "ARGV[3]", "put")
    "return {'ok', rev, created}"),

    /* DELETE_TEAM name: refused while an API or a user has the team */

    ngx_string(
    NGX_HTTP_WS_API_LUA_PREFIX
    "local key = p .. 'team:' .. ARGV[3] "
    "if redis.call('EXISTS', key) == 0 then "
    "  return {'not_found'} "
    "end "
    "local function has(v) "
    "  local ok, d = pcall(cjson.decode, v) "
    "  if ok and type(d) == 'table' and type(d.teams) == 'table' then "
    "    for _, t in ipairs(d.teams) do "
    "      if t == ARGV[3] then return d end "
    "    end "
    "  end "
    "  return nil "
    "end "
    "for _, id in ipairs(redis.call('SMEMBERS', p .. 'apis')) do "
    "  local d = has(redis.call('GET', p .. 'api:' .. id) or '{}') "
    "  if d then "
    "    return {'in_use', 'API ' .. tostring(d.apiName) .. ' ' "
    "                      .. tostring(d.apiVersion)} "
    "  end "
    "end "
    "for _, n in ipairs(redis.call('SMEMBERS', p .. 'users')) do "
    "  if has(redis.call('GET', p .. 'user:' .. n) or '{}') then "
    "    return {'in_use', 'user ' .. n} "
    "  end "
    "end "
    "for _, id in ipairs(redis.call('SMEMBERS', p .. 'apps')) do "
    "  local d = has(redis.call('GET', p .. 'app:' .. id) or '{}') "
    "  if d then "
    "    return {'in_use', 'application ' .. tostring(d.name)} "
    "  end "
    "end "
    "redis.call('DEL', key) "
    "redis.call('SREM', p .. 'teams', ARGV[3]) "
    NGX_HTTP_WS_API_LUA_EVENT("team", "ARGV[3]", "delete")
    "return {'ok', rev}"),

    NGX_HTTP_WS_API_APP_SCRIPTS
};


static void ngx_http_ws_api_store_ready(ngx_http_ws_api_redis_t *rc,
    redisReply *reply);
static void ngx_http_ws_api_store_message(ngx_http_ws_api_redis_t *rc,
    redisReply *reply);
static void ngx_http_ws_api_store_down(ngx_http_ws_api_redis_t *rc,
    redisReply *reply);
static void ngx_http_ws_api_store_wake(ngx_http_ws_api_store_t *store,
    ngx_uint_t post);
static void ngx_http_ws_api_store_timer_handler(ngx_event_t *ev);
static void ngx_http_ws_api_store_check(ngx_http_ws_api_store_t *store,
    ngx_uint_t force);
static void ngx_http_ws_api_store_rev_handler(redisReply *reply, void *data);
static void ngx_http_ws_api_store_event(ngx_http_ws_api_store_t *store,
    uint64_t rev, const char *id, size_t id_len);
static void ngx_http_ws_api_store_reload(ngx_http_ws_api_store_t *store);
static void ngx_http_ws_api_store_drop(ngx_http_ws_api_store_t *store);
static void ngx_http_ws_api_store_next(ngx_http_ws_api_store_t *store);
static void ngx_http_ws_api_store_get_apis_handler(redisReply *reply,
    void *data);
static void ngx_http_ws_api_store_load(ngx_http_ws_api_store_t *store);
static void ngx_http_ws_api_store_load_handler(redisReply *reply,
    void *data);
static ngx_int_t ngx_http_ws_api_store_lease(ngx_http_ws_api_store_t *store);
static void ngx_http_ws_api_store_done(ngx_http_ws_api_store_t *store,
    ngx_uint_t release);
static void ngx_http_ws_api_store_retry(ngx_http_ws_api_store_t *store);


ngx_http_ws_api_store_t *
ngx_http_ws_api_store_start(ngx_cycle_t *cycle,
    ngx_http_ws_api_main_conf_t *wmcf)
{
    u_char                   *p;
    ngx_http_ws_api_store_t  *store;

    store = ngx_pcalloc(cycle->pool, sizeof(ngx_http_ws_api_store_t));
    if (store == NULL) {
        return NULL;
    }

    store->wmcf = wmcf;
    store->cache = wmcf->shm_zone->data;

    if (ngx_http_ws_api_redis_init(&store->cmd, wmcf->redis, cycle->log)
        != NGX_OK
        || ngx_http_ws_api_redis_init(&store->sub, wmcf->redis, cycle->log)
           != NGX_OK)
    {
        return NULL;
    }

    store->cmd.on_ready = ngx_http_ws_api_store_ready;
    store->cmd.on_down = ngx_http_ws_api_store_down;
    store->cmd.data = store;

    ngx_queue_init(&store->waiters);

    /* events are small: a long one is not an event */

    store->sub.max_reply = 64 * 1024;

    p = ngx_pnalloc(cycle->pool, wmcf->redis->prefix.len + sizeof("events"));
    if (p == NULL) {
        return NULL;
    }

    store->sub.channel.data = p;
    store->sub.channel.len = ngx_sprintf(p, "%Vevents%Z", &wmcf->redis->prefix)
                             - p - 1;

    store->sub.on_ready = ngx_http_ws_api_store_ready;
    store->sub.on_message = ngx_http_ws_api_store_message;
    store->sub.data = store;

    store->timer.handler = ngx_http_ws_api_store_timer_handler;
    store->timer.data = store;
    store->timer.log = cycle->log;
    store->timer.cancelable = 1;

    ngx_add_timer(&store->timer,
                  NGX_HTTP_WS_API_CHECK_INTERVAL + ngx_random() % 250);

    ngx_http_ws_api_redis_connect(&store->cmd);
    ngx_http_ws_api_redis_connect(&store->sub);

    return store;
}


void
ngx_http_ws_api_store_stop(ngx_http_ws_api_store_t *store)
{
    if (store->timer.timer_set) {
        ngx_del_timer(&store->timer);
    }

    ngx_http_ws_api_redis_stop(&store->sub);
    ngx_http_ws_api_redis_stop(&store->cmd);

    /* the worker exits: nothing of a request may point here any more */

    ngx_http_ws_api_store_wake(store, 0);
}


ngx_int_t
ngx_http_ws_api_store_wait(ngx_http_ws_api_store_t *store,
    ngx_http_ws_api_store_waiter_t *w)
{
    ngx_http_ws_api_redis_t  *rc;

    rc = &store->cmd;

    if (rc->ready || rc->unreachable || rc->stopped || ngx_exiting
        || ngx_terminate || ngx_quit
        || (rc->connection == NULL && !rc->reconnect.timer_set))
    {
        return NGX_DECLINED;
    }

    if (!w->queued) {
        ngx_queue_insert_tail(&store->waiters, &w->queue);
        w->queued = 1;
        w->start = ngx_current_msec;

        /* not cancelable: an exiting worker answers it first */

        ngx_add_timer(&w->event, store->wmcf->redis->timeout);
    }

    return NGX_AGAIN;
}


void
ngx_http_ws_api_store_unwait(ngx_http_ws_api_store_waiter_t *w)
{
    if (w->queued) {
        ngx_queue_remove(&w->queue);
        w->queued = 0;
    }

    if (w->event.timer_set) {
        ngx_del_timer(&w->event);
    }

    if (w->event.posted) {
        ngx_delete_posted_event(&w->event);
    }
}


/*
 * Every waiter leaves the queue; its event is posted (it looks at the
 * connection itself), or, when the worker exits, only forgotten.
 */

static void
ngx_http_ws_api_store_wake(ngx_http_ws_api_store_t *store, ngx_uint_t post)
{
    ngx_queue_t                     *q;
    ngx_http_ws_api_store_waiter_t  *w;

    while (!ngx_queue_empty(&store->waiters)) {
        q = ngx_queue_head(&store->waiters);

        w = ngx_queue_data(q, ngx_http_ws_api_store_waiter_t, queue);

        ngx_http_ws_api_store_unwait(w);

        if (post) {
            ngx_post_event(&w->event, &ngx_posted_events);
        }
    }
}


static void
ngx_http_ws_api_store_down(ngx_http_ws_api_redis_t *rc, redisReply *reply)
{
    ngx_http_ws_api_store_t  *store = rc->data;

    ngx_http_ws_api_store_wake(store, 1);
}


ngx_http_ws_api_redis_cmd_t *
ngx_http_ws_api_store_eval(ngx_http_ws_api_store_t *store,
    ngx_http_ws_api_script_e script, ngx_http_ws_api_redis_handler_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen)
{
    int                       i;
    u_char                    deadline[NGX_INT64_LEN];
    size_t                    lens[NGX_HTTP_WS_API_SCRIPT_MAX_ARGS + 5];
    const char               *args[NGX_HTTP_WS_API_SCRIPT_MAX_ARGS + 5];
    ngx_http_ws_api_redis_t  *rc;

    if (argc > NGX_HTTP_WS_API_SCRIPT_MAX_ARGS) {
        return NULL;
    }

    rc = &store->cmd;

    args[0] = "EVAL";
    lens[0] = 4;
    args[1] = (const char *) ngx_http_ws_api_scripts[script].data;
    lens[1] = ngx_http_ws_api_scripts[script].len;
    args[2] = "0";
    lens[2] = 1;
    args[3] = (const char *) store->wmcf->redis->prefix.data;
    lens[3] = store->wmcf->redis->prefix.len;

    /*
     * a write must run within half the timeout; nginx waits the whole
     * timeout for its answer, which leaves the other half for the reply
     * (and for the error of Redis' clock, a round trip)
     */

    args[4] = (const char *) deadline;

    if (script >= NGX_HTTP_WS_API_SCRIPT_CREATE_API
        && script != NGX_HTTP_WS_API_SCRIPT_LIST)
    {
        lens[4] = ngx_sprintf(deadline, "%L",
                              (int64_t) ngx_current_msec + rc->clock
                              + (int64_t) store->wmcf->redis->timeout / 2)
                  - deadline;

    } else {
        deadline[0] = '0';
        lens[4] = 1;
    }

    for (i = 0; i < argc; i++) {
        args[5 + i] = argv[i];
        lens[5 + i] = argvlen[i];
    }

    return ngx_http_ws_api_redis_command(rc, handler, data, argc + 5, args,
                                         lens);
}


ngx_http_ws_api_redis_cmd_t *
ngx_http_ws_api_store_get(ngx_http_ws_api_store_t *store, const char *kind,
    ngx_str_t *name, ngx_http_ws_api_redis_handler_pt handler, void *data)
{
    u_char       key[1024], *p;
    size_t       lens[2];
    const char  *args[2];

    if (store->wmcf->redis->prefix.len + ngx_strlen(kind) + name->len
        > sizeof(key))
    {
        return NULL;
    }

    p = ngx_sprintf(key, "%V%s%V", &store->wmcf->redis->prefix, kind, name);

    args[0] = "GET";
    lens[0] = 3;
    args[1] = (const char *) key;
    lens[1] = p - key;

    return ngx_http_ws_api_redis_command(&store->cmd, handler, data, 2, args,
                                         lens);
}


ngx_int_t
ngx_http_ws_api_store_reply_uint(redisReply *reply, uint64_t *value)
{
    size_t     i;
    uint64_t   v;

    if (reply == NULL) {
        return NGX_ERROR;
    }

    if (reply->type == REDIS_REPLY_INTEGER) {
        if (reply->integer < 0) {
            return NGX_ERROR;
        }

        *value = reply->integer;
        return NGX_OK;
    }

    if (reply->type == REDIS_REPLY_NIL) {
        *value = 0;
        return NGX_OK;
    }

    if (reply->type != REDIS_REPLY_STRING || reply->len == 0
        || reply->len > 19)
    {
        return NGX_ERROR;
    }

    v = 0;

    for (i = 0; i < reply->len; i++) {
        if (reply->str[i] < '0' || reply->str[i] > '9') {
            return NGX_ERROR;
        }

        v = v * 10 + (reply->str[i] - '0');
    }

    *value = v;

    return NGX_OK;
}


static void
ngx_http_ws_api_store_ready(ngx_http_ws_api_redis_t *rc, redisReply *reply)
{
    ngx_http_ws_api_store_t  *store = rc->data;

    /* after every (re)connection: compare "rev", events may be lost */

    store->eager = 1;

    if (rc == &store->cmd) {
        ngx_http_ws_api_store_wake(store, 1);
        ngx_http_ws_api_store_check(store, 1);

    } else {
        ngx_http_ws_api_store_retry(store);
    }
}


static void
ngx_http_ws_api_store_message(ngx_http_ws_api_redis_t *rc, redisReply *reply)
{
    ngx_http_ws_api_store_t  *store = rc->data;

    json_t        *event, *rev, *id;
    redisReply    *payload;
    json_error_t   err;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[0]->len != sizeof("message") - 1
        || ngx_strncmp(reply->element[0]->str, "message", 7) != 0)
    {
        return;
    }

    payload = reply->element[2];

    if (payload->type != REDIS_REPLY_STRING) {
        return;
    }

    event = json_loadb(payload->str, payload->len, 0, &err);

    rev = json_object_get(event, "rev");
    id = json_object_get(event, "id");

    if (!json_is_integer(rev) || json_integer_value(rev) <= 0
        || (id && !json_is_string(id)))
    {
        ngx_log_error(NGX_LOG_WARN, rc->log, 0,
                      "ws_api ignored a malformed event: \"%*s\"",
                      ngx_min(payload->len, 256), payload->str);

        /* whatever it meant, "rev" tells */

        ngx_http_ws_api_store_retry(store);

        json_decref(event);
        return;
    }

    if (json_object_get(event, "app")) {

        /* applications are few: their table is loaded again whole */

        json_decref(event);
        ngx_http_ws_api_store_reload(store);
        return;
    }

    ngx_http_ws_api_store_event(store, json_integer_value(rev),
                                id ? json_string_value(id) : NULL,
                                id ? json_string_length(id) : 0);

    json_decref(event);
}


static void
ngx_http_ws_api_store_timer_handler(ngx_event_t *ev)
{
    ngx_http_ws_api_store_t  *store = ev->data;

    ngx_uint_t  force;

    if (ngx_exiting) {
        return;
    }

    force = store->force;
    store->force = 0;

    ngx_http_ws_api_store_check(store, force);

    /* Redis' clock, for the deadlines of writes, every 10 s or so */

    if (++store->ticks % 10 == 0) {
        ngx_http_ws_api_redis_time(&store->cmd);
    }

    ngx_add_timer(ev, NGX_HTTP_WS_API_CHECK_INTERVAL + ngx_random() % 250);
}


/*
 * Compares the zone's rev with Redis' "rev": at most once a second per
 * nginx unless forced.
 */

static void
ngx_http_ws_api_store_check(ngx_http_ws_api_store_t *store, ngx_uint_t force)
{
    ngx_http_ws_api_sh_t  *sh;
    size_t                 lens[2];
    u_char                 key[128], *p;
    const char            *args[2];

    if (store->loading) {
        store->again = 1;
        return;
    }

    if (!store->cmd.ready) {
        return;
    }

    sh = store->cache->sh;

    ngx_http_ws_api_cache_lock(store->cache);

    if (!force && sh->loaded
        && ngx_current_msec - sh->checked < NGX_HTTP_WS_API_CHECK_INTERVAL)
    {
        ngx_http_ws_api_cache_unlock(store->cache);
        return;
    }

    sh->checked = ngx_current_msec;

    ngx_http_ws_api_cache_unlock(store->cache);

    p = ngx_sprintf(key, "%Vrev", &store->wmcf->redis->prefix);

    args[0] = "GET";
    lens[0] = 3;
    args[1] = (const char *) key;
    lens[1] = p - key;

    if (ngx_http_ws_api_redis_command(&store->cmd,
                                      ngx_http_ws_api_store_rev_handler,
                                      store, 2, args, lens)
        == NULL)
    {
        return;
    }

    store->loading = 1;
}


static void
ngx_http_ws_api_store_rev_handler(redisReply *reply, void *data)
{
    ngx_http_ws_api_store_t  *store = data;

    uint64_t               rev;
    ngx_http_ws_api_sh_t  *sh;

    store->loading = 0;

    if (ngx_http_ws_api_store_reply_uint(reply, &rev) != NGX_OK) {

        if (reply) {
            ngx_log_error(NGX_LOG_ERR, store->cmd.log, 0,
                          "ws_api: the \"%Vrev\" key in Redis is not a number",
                          &store->wmcf->redis->prefix);
        }

        ngx_http_ws_api_store_done(store, 0);
        return;
    }

    sh = store->cache->sh;

    ngx_http_ws_api_cache_lock(store->cache);

    if (sh->loaded && sh->rev == rev) {
        store->behind = 0;
        ngx_http_ws_api_cache_unlock(store->cache);
        ngx_http_ws_api_store_done(store, 0);
        return;
    }

    /*
     * Behind while the events come: in a burst of writes the events of the
     * last changes may still be on their way, and each of them costs one
     * definition where a load costs all.  The whole is loaded only if the
     * zone is still behind a "rev" seen a retry earlier, or at once after
     * a (re)connection or a missing event.
     */

    if (sh->loaded && rev > sh->rev && !store->eager && store->sub.ready) {

        if (store->behind == 0 || sh->rev >= store->behind) {
            store->behind = rev;
            store->behind_at = ngx_current_msec;
        }

        if (ngx_current_msec - store->behind_at < NGX_HTTP_WS_API_RETRY) {
            ngx_http_ws_api_cache_unlock(store->cache);
            ngx_http_ws_api_store_retry(store);
            ngx_http_ws_api_store_done(store, 0);
            return;
        }
    }

    if (ngx_http_ws_api_store_lease(store) != NGX_OK) {
        ngx_http_ws_api_cache_unlock(store->cache);

        /* another worker is loading: look again soon */

        ngx_http_ws_api_store_retry(store);
        ngx_http_ws_api_store_done(store, 0);
        return;
    }

    ngx_http_ws_api_cache_unlock(store->cache);

    store->eager = 0;
    store->behind = 0;

    ngx_http_ws_api_store_load(store);
}


static void
ngx_http_ws_api_store_event(ngx_http_ws_api_store_t *store, uint64_t rev,
    const char *id, size_t id_len)
{
    ngx_http_ws_api_event_t  *ev;

    if (store->nevents == NGX_HTTP_WS_API_EVENTS) {

        /* those another worker has applied meanwhile go first */

        ngx_http_ws_api_cache_lock(store->cache);
        ngx_http_ws_api_store_drop(store);
        ngx_http_ws_api_cache_unlock(store->cache);
    }

    if (store->nevents == NGX_HTTP_WS_API_EVENTS || id_len > sizeof(ev->id)) {
        /* this one is lost */
        ngx_http_ws_api_store_reload(store);
        return;
    }

    ev = &store->events[(store->first + store->nevents)
                        % NGX_HTTP_WS_API_EVENTS];
    store->nevents++;

    ev->rev = rev;
    ev->has_id = (id != NULL);
    ev->id_len = (u_char) id_len;

    if (id_len) {
        ngx_memcpy(ev->id, id, id_len);
    }

    ngx_http_ws_api_store_next(store);
}


/*
 * An event is missing: only a whole load is sure to be right.  It reads
 * what Redis holds after every event received, so they all go.
 */

static void
ngx_http_ws_api_store_reload(ngx_http_ws_api_store_t *store)
{
    store->nevents = 0;
    store->eager = 1;

    if (store->loading) {
        store->again = 1;
        return;
    }

    ngx_http_ws_api_store_check(store, 1);
}


/* drops the events whose changes the zone has; called with it locked */

static void
ngx_http_ws_api_store_drop(ngx_http_ws_api_store_t *store)
{
    ngx_http_ws_api_sh_t  *sh;

    sh = store->cache->sh;

    while (store->nevents
           && sh->loaded && store->events[store->first].rev <= sh->rev)
    {
        store->first = (store->first + 1) % NGX_HTTP_WS_API_EVENTS;
        store->nevents--;
    }
}


/*
 * Applies the events waiting in the ring: those whose revisions follow the
 * zone's, in one script call for all of their definitions.
 */

static void
ngx_http_ws_api_store_next(ngx_http_ws_api_store_t *store)
{
    size_t                    lens[NGX_HTTP_WS_API_EVENTS];
    uint64_t                  rev;
    ngx_uint_t                n, nids;
    const char               *args[NGX_HTTP_WS_API_EVENTS];
    ngx_http_ws_api_sh_t     *sh;
    ngx_http_ws_api_event_t  *ev;

    if (store->loading || store->nevents == 0) {
        return;
    }

    sh = store->cache->sh;

    ngx_http_ws_api_cache_lock(store->cache);

    ngx_http_ws_api_store_drop(store);

    if (store->nevents == 0) {
        ngx_http_ws_api_cache_unlock(store->cache);
        return;
    }

    if (!sh->loaded || store->events[store->first].rev != sh->rev + 1) {
        /* a gap */
        ngx_http_ws_api_cache_unlock(store->cache);
        ngx_http_ws_api_store_reload(store);
        return;
    }

    /* the revisions in a row; those of users and teams only count */

    rev = sh->rev;
    nids = 0;

    for (n = 0; n < store->nevents; n++) {
        ev = &store->events[(store->first + n) % NGX_HTTP_WS_API_EVENTS];

        if (ev->rev != rev + 1) {
            break;
        }

        rev = ev->rev;

        if (ev->has_id) {
            store->batch[nids] = *ev;
            args[nids] = (const char *) store->batch[nids].id;
            lens[nids] = ev->id_len;
            nids++;
        }
    }

    if (nids == 0) {
        sh->rev = rev;

        ngx_http_ws_api_cache_unlock(store->cache);

        ngx_http_ws_api_store_next(store);
        return;
    }

    if (ngx_http_ws_api_store_lease(store) != NGX_OK) {

        /* another worker is at it: the events wait, "rev" is looked at */

        ngx_http_ws_api_cache_unlock(store->cache);
        ngx_http_ws_api_store_retry(store);
        return;
    }

    ngx_http_ws_api_cache_unlock(store->cache);

    if (ngx_http_ws_api_store_eval(store, NGX_HTTP_WS_API_SCRIPT_GET_APIS,
                                   ngx_http_ws_api_store_get_apis_handler,
                                   store, (int) nids, args, lens)
        == NULL)
    {
        store->nevents = 0;
        ngx_http_ws_api_store_done(store, 1);
        return;
    }

    /* the batch is out of the ring: it may be emptied meanwhile */

    store->first = (store->first + n) % NGX_HTTP_WS_API_EVENTS;
    store->nevents -= n;

    store->nbatch = nids;
    store->batch_rev = rev;
    store->loading = 1;
}


static void
ngx_http_ws_api_store_get_apis_handler(redisReply *reply, void *data)
{
    ngx_http_ws_api_store_t  *store = data;

    uint64_t                  rev;
    ngx_str_t                 id, json;
    ngx_uint_t                k, n, invalid[NGX_HTTP_WS_API_EVENTS];
    redisReply               *def;
    ngx_http_ws_api_sh_t     *sh;
    ngx_http_ws_api_event_t  *evs;
    ngx_http_ws_api_entry_t  *e[NGX_HTTP_WS_API_EVENTS], *old;

    store->loading = 0;

    evs = store->batch;
    n = store->nbatch;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 1 + n
        || ngx_http_ws_api_store_reply_uint(reply->element[0], &rev)
           != NGX_OK)
    {
        /* lost with the connection: a whole load follows the next one */
        store->nevents = 0;
        ngx_http_ws_api_store_done(store, 1);
        return;
    }

    if (rev < store->batch_rev) {
        /* Redis went back (a restore, a flush): load the whole, lease kept */
        store->nevents = 0;
        ngx_http_ws_api_store_load(store);
        return;
    }

    /*
     * A "rev" past the batch's means that more has changed since: those
     * changes have their own events.  The definitions read are at least as
     * new as the events, so the zone holds every change up to the batch's.
     */

    for (k = 0; k < n; k++) {
        def = reply->element[1 + k];
        e[k] = NULL;
        invalid[k] = 0;

        if (def->type != REDIS_REPLY_STRING) {
            continue;
        }

        id.data = evs[k].id;
        id.len = evs[k].id_len;
        json.data = (u_char *) def->str;
        json.len = def->len;

        e[k] = ngx_http_ws_api_cache_compile(store->cache, &id, &json,
                                             &invalid[k], store->cmd.log);

        if (e[k] == NULL && !invalid[k]) {

            /* no memory: logged; "rev" stays behind, so it is retried */

            while (k--) {
                if (e[k]) {
                    ngx_http_ws_api_cache_free(store->cache, e[k]);
                }
            }

            store->nevents = 0;
            ngx_http_ws_api_store_done(store, 1);
            return;
        }
    }

    sh = store->cache->sh;

    ngx_http_ws_api_cache_lock(store->cache);

    if (sh->lease_pid != ngx_pid) {

        /* the lease ran out and another worker took over */

        ngx_http_ws_api_cache_unlock(store->cache);

        for (k = 0; k < n; k++) {
            if (e[k]) {
                ngx_http_ws_api_cache_free(store->cache, e[k]);
            }
        }

        ngx_http_ws_api_store_done(store, 0);
        return;
    }

    for (k = 0; k < n; k++) {

        /* an invalid definition keeps the one loaded before, if any */

        if (invalid[k]) {
            continue;
        }

        id.data = evs[k].id;
        id.len = evs[k].id_len;

        old = ngx_http_ws_api_cache_find_id(store->cache, &id);

        if (old) {
            ngx_http_ws_api_cache_remove(store->cache, old);
            ngx_slab_free_locked(store->cache->shpool, old);
        }

        if (e[k]) {
            ngx_http_ws_api_cache_insert(store->cache, e[k]);
        }
    }

    sh->rev = store->batch_rev;
    sh->lease = 0;
    sh->lease_pid = 0;

    ngx_http_ws_api_cache_unlock(store->cache);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, store->cmd.log, 0,
                   "ws_api loaded %ui definitions, rev %uL",
                   n, store->batch_rev);

    ngx_http_ws_api_store_done(store, 0);
}


static void
ngx_http_ws_api_store_load(ngx_http_ws_api_store_t *store)
{
    if (ngx_http_ws_api_store_eval(store, NGX_HTTP_WS_API_SCRIPT_LOAD,
                                   ngx_http_ws_api_store_load_handler,
                                   store, 0, NULL, NULL)
        == NULL)
    {
        ngx_http_ws_api_store_done(store, 1);
        return;
    }

    store->loading = 1;
}


static void
ngx_http_ws_api_store_load_handler(redisReply *reply, void *data)
{
    ngx_http_ws_api_store_t  *store = data;

    size_t                     i;
    uint32_t                   crc;
    uint64_t                   rev;
    ngx_str_t                  id, json;
    ngx_uint_t                 generation, invalid, n, nloaded;
    ngx_queue_t               *q, *next;
    redisReply               **el;
    ngx_http_ws_api_sh_t      *sh;
    ngx_http_ws_api_apps_t    *apps;
    ngx_http_ws_api_entry_t   *e, *old, **fresh;

    store->loading = 0;
    apps = NULL;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements % 2 != 0
        || reply->element[1]->type != REDIS_REPLY_ARRAY
        || ngx_http_ws_api_store_reply_uint(reply->element[0], &rev)
           != NGX_OK)
    {
        if (reply) {
            ngx_log_error(NGX_LOG_ERR, store->cmd.log, 0,
                          "ws_api: Redis sent a malformed list of "
                          "definitions");
        }

        ngx_http_ws_api_store_done(store, 1);
        return;
    }

    sh = store->cache->sh;
    el = reply->element;

    fresh = ngx_alloc((reply->elements / 2 + 1) * sizeof(void *),
                      store->cmd.log);
    if (fresh == NULL) {
        ngx_http_ws_api_store_done(store, 1);
        return;
    }

    /*
     * compiled outside the lock: only the lease holder changes entries, so
     * reading the old ones is safe
     */

    generation = sh->generation + 1;
    n = 0;
    nloaded = 0;

    apps = ngx_http_ws_api_app_table(store->cache, el[1], store->cmd.log);
    if (apps == NULL) {
        goto failed;
    }

    for (i = 2; i + 1 < reply->elements; i += 2) {

        if (el[i]->type != REDIS_REPLY_STRING
            || el[i + 1]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        id.data = (u_char *) el[i]->str;
        id.len = el[i]->len;
        json.data = (u_char *) el[i + 1]->str;
        json.len = el[i + 1]->len;

        old = ngx_http_ws_api_cache_find_id(store->cache, &id);

        if (old) {
            ngx_crc32_init(crc);
            ngx_crc32_update(&crc, json.data, json.len);
            ngx_crc32_final(crc);

            if (old->crc == crc && old->json_len == json.len) {
                old->mark = generation;
                nloaded++;
                continue;
            }
        }

        e = ngx_http_ws_api_cache_compile(store->cache, &id, &json,
                                          &invalid, store->cmd.log);

        if (e) {
            fresh[n++] = e;
            nloaded++;
            continue;
        }

        if (!invalid) {
            goto failed;
        }

        if (old) {
            /* an invalid definition keeps the one loaded before */
            old->mark = generation;
        }
    }

    ngx_http_ws_api_cache_lock(store->cache);

    if (sh->lease_pid != ngx_pid) {
        ngx_http_ws_api_cache_unlock(store->cache);
        goto failed;
    }

    for (q = ngx_queue_head(&sh->queue);
         q != ngx_queue_sentinel(&sh->queue);
         q = next)
    {
        next = ngx_queue_next(q);

        old = ngx_queue_data(q, ngx_http_ws_api_entry_t, queue);

        if (old->mark != generation) {
            ngx_http_ws_api_cache_remove(store->cache, old);
            ngx_slab_free_locked(store->cache->shpool, old);
        }
    }

    for (i = 0; i < n; i++) {
        fresh[i]->mark = generation;
        ngx_http_ws_api_cache_insert(store->cache, fresh[i]);
    }

    if (sh->apps) {
        ngx_slab_free_locked(store->cache->shpool, sh->apps);
    }

    sh->apps = apps;
    apps = NULL;

    sh->generation = generation;
    sh->rev = rev;
    sh->loaded = 1;
    sh->loaded_at = ngx_time();
    sh->lease = 0;
    sh->lease_pid = 0;

    ngx_http_ws_api_cache_unlock(store->cache);

    ngx_free(fresh);

    ngx_log_error(NGX_LOG_INFO, store->cmd.log, 0,
                  "ws_api loaded %ui definitions, rev %uL", nloaded, rev);

    ngx_http_ws_api_store_done(store, 0);
    return;

failed:

    while (n) {
        ngx_http_ws_api_cache_free(store->cache, fresh[--n]);
    }

    if (apps) {
        ngx_slab_free(store->cache->shpool, apps);
    }

    ngx_free(fresh);

    ngx_http_ws_api_store_done(store, 1);
}


/* with the lock held */

static ngx_int_t
ngx_http_ws_api_store_lease(ngx_http_ws_api_store_t *store)
{
    ngx_http_ws_api_sh_t  *sh;

    sh = store->cache->sh;

    if (sh->lease_pid && sh->lease_pid != ngx_pid
        && (ngx_msec_int_t) (sh->lease - ngx_current_msec) > 0)
    {
        return NGX_DECLINED;
    }

    sh->lease = ngx_current_msec + 4 * store->wmcf->redis->timeout + 1000;
    sh->lease_pid = ngx_pid;

    return NGX_OK;
}


static void
ngx_http_ws_api_store_done(ngx_http_ws_api_store_t *store,
    ngx_uint_t release)
{
    ngx_http_ws_api_sh_t  *sh;

    if (release) {
        sh = store->cache->sh;

        ngx_http_ws_api_cache_lock(store->cache);

        if (sh->lease_pid == ngx_pid) {
            sh->lease = 0;
            sh->lease_pid = 0;
        }

        ngx_http_ws_api_cache_unlock(store->cache);
    }

    ngx_http_ws_api_store_next(store);

    if (store->again && !store->loading) {
        store->again = 0;
        ngx_http_ws_api_store_check(store, 1);
    }
}


/* compare "rev" soon, whatever the last look said */

static void
ngx_http_ws_api_store_retry(ngx_http_ws_api_store_t *store)
{
    if (ngx_exiting) {
        return;
    }

    store->force = 1;

    ngx_add_timer(&store->timer, NGX_HTTP_WS_API_RETRY);
}
