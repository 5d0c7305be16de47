
/*
 * Copyright (C) ws-api authors
 */


/*
 * Applications (SPEC 3.4): the admin API's /applications endpoints, their
 * Redis script, and their table in the ws_api_cache zone, where the
 * handshake finds an application by the SHA-256 of its API key or by its
 * id.
 */


#ifndef _NGX_HTTP_WS_API_APP_H_INCLUDED_
#define _NGX_HTTP_WS_API_APP_H_INCLUDED_


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_cache.h"
#include "ngx_http_ws_api_admin.h"


/* limits, documented in the README */
#define NGX_HTTP_WS_API_APP_MAX_NAME     100
#define NGX_HTTP_WS_API_APP_MAX_DESC     1000
#define NGX_HTTP_WS_API_APP_MAX_APIS     100    /* apiIds of one */
#define NGX_HTTP_WS_API_APP_MAX_KEYS     10     /* valid keys of one */
#define NGX_HTTP_WS_API_APP_KEY_BYTES    32     /* random bytes of a key */


/* one application as the handshake reads it */

typedef struct {
    ngx_str_t                      id;
    ngx_str_t                      name;
    ngx_uint_t                     napis;
    ngx_str_t                     *apis;       /* registered API ids */
} ngx_http_ws_api_app_t;


typedef struct {
    u_char                         hash[32];   /* SHA-256 of the key */
    ngx_http_ws_api_app_t         *app;
} ngx_http_ws_api_app_key_t;


/* the whole table: one slab allocation, immutable, replaced whole */

struct ngx_http_ws_api_apps_s {
    ngx_uint_t                     napps;
    ngx_http_ws_api_app_t         *apps;       /* sorted by id */
    ngx_uint_t                     nkeys;
    ngx_http_ws_api_app_key_t     *keys;       /* sorted by hash */
};


/*
 * The table of the LOAD script's list of (id, JSON) pairs, allocated in
 * the zone (without its lock).  NULL: no memory (logged).
 */
ngx_http_ws_api_apps_t *ngx_http_ws_api_app_table(
    ngx_http_ws_api_cache_t *cache, redisReply *list, ngx_log_t *log);

/* with the zone's lock held */
ngx_http_ws_api_app_t *ngx_http_ws_api_app_by_key(
    ngx_http_ws_api_apps_t *apps, const u_char *hash);
ngx_http_ws_api_app_t *ngx_http_ws_api_app_by_id(
    ngx_http_ws_api_apps_t *apps, const u_char *id, size_t len);
ngx_uint_t ngx_http_ws_api_app_registered(ngx_http_ws_api_app_t *app,
    ngx_str_t *api_id);


/* the admin endpoints */

ngx_int_t ngx_http_ws_api_app_list(ngx_http_ws_api_admin_t *ctx);
ngx_int_t ngx_http_ws_api_app_create(ngx_http_ws_api_admin_t *ctx);
ngx_int_t ngx_http_ws_api_app_get(ngx_http_ws_api_admin_t *ctx);
ngx_int_t ngx_http_ws_api_app_replace(ngx_http_ws_api_admin_t *ctx);
ngx_int_t ngx_http_ws_api_app_delete(ngx_http_ws_api_admin_t *ctx);
ngx_int_t ngx_http_ws_api_app_add_key(ngx_http_ws_api_admin_t *ctx);
ngx_int_t ngx_http_ws_api_app_delete_key(ngx_http_ws_api_admin_t *ctx);


/* the routes, in the admin's table */

#define NGX_HTTP_WS_API_APP_ROUTES                                           \
    { ngx_string("applications"), 1, ngx_null_string, 0, 0,                  \
      "GET, HEAD, POST",                                                     \
      { { NGX_HTTP_GET, NGX_HTTP_WS_API_APPS, NGX_HTTP_WS_API_BODY_NONE,     \
          ngx_http_ws_api_app_list },                                        \
        { NGX_HTTP_POST, NGX_HTTP_WS_API_APPS,                               \
          NGX_HTTP_WS_API_BODY_REQUIRED, ngx_http_ws_api_app_create } } },   \
                                                                             \
    { ngx_string("applications"), 2, ngx_null_string, 0, 0,                  \
      "GET, HEAD, PUT, DELETE",                                              \
      { { NGX_HTTP_GET, NGX_HTTP_WS_API_APPS, NGX_HTTP_WS_API_BODY_NONE,     \
          ngx_http_ws_api_app_get },                                         \
        { NGX_HTTP_PUT, NGX_HTTP_WS_API_APPS,                                \
          NGX_HTTP_WS_API_BODY_REQUIRED, ngx_http_ws_api_app_replace },      \
        { NGX_HTTP_DELETE, NGX_HTTP_WS_API_APPS, NGX_HTTP_WS_API_BODY_NONE,  \
          ngx_http_ws_api_app_delete } } },                                  \
                                                                             \
    { ngx_string("applications"), 3, ngx_string("keys"), 0, 0, "POST",       \
      { { NGX_HTTP_POST, NGX_HTTP_WS_API_APPS, NGX_HTTP_WS_API_BODY_NONE,    \
          ngx_http_ws_api_app_add_key } } },                                 \
                                                                             \
    { ngx_string("applications"), 4, ngx_string("keys"), 0, 0, "DELETE",     \
      { { NGX_HTTP_DELETE, NGX_HTTP_WS_API_APPS, NGX_HTTP_WS_API_BODY_NONE,  \
          ngx_http_ws_api_app_delete_key } } }


/*
 * The store's script SAVE_APP (in its table, with its prefix and event
 * macros): ARGV[3] the id, ARGV[4] the JSON read ("" for a creation),
 * ARGV[5] the JSON to write ("" for a deletion).  Compare-and-set; the
 * registered APIs and teams must exist and the name be free; the
 * "appkey:{sha256}" keys follow the application's keys.  The event is
 * {"rev": N, "app": id, "op": ...}.
 */

#define NGX_HTTP_WS_API_APP_SCRIPTS                                          \
    ngx_string(NGX_HTTP_WS_API_LUA_PREFIX                                    \
    "local key = p .. 'app:' .. ARGV[3] "                                    \
    "local cur = redis.call('GET', key) "                                    \
    "if ARGV[4] == '' then "                                                 \
    "  if cur then return {'conflict'} end "                                 \
    "elseif not cur then "                                                   \
    "  return {'not_found'} "                                                \
    "elseif cur ~= ARGV[4] then "                                            \
    "  return {'conflict'} "                                                 \
    "end "                                                                   \
    "local old = {keys = {}} "                                               \
    "if cur then old = cjson.decode(cur) end "                               \
    "local new = nil "                                                       \
    "if ARGV[5] ~= '' then "                                                 \
    "  new = cjson.decode(ARGV[5]) "                                         \
    "  for i, a in ipairs(new.apiIds) do "                                   \
    "    if redis.call('SISMEMBER', p .. 'apis', a) == 0 then "              \
    "      return {'no_api', tostring(i - 1)} "                              \
    "    end "                                                               \
    "  end "                                                                 \
    "  for _, t in ipairs(new.teams) do "                                    \
    "    if redis.call('SISMEMBER', p .. 'teams', t) == 0 then "             \
    "      return {'no_team', t} "                                           \
    "    end "                                                               \
    "  end "                                                                 \
    "  for _, id in ipairs(redis.call('SMEMBERS', p .. 'apps')) do "         \
    "    if id ~= ARGV[3] then "                                             \
    "      local v = redis.call('GET', p .. 'app:' .. id) "                  \
    "      if v then "                                                       \
    "        local ok, d = pcall(cjson.decode, v) "                          \
    "        if ok and type(d) == 'table' and d.name == new.name then "      \
    "          return {'taken'} "                                            \
    "        end "                                                           \
    "      end "                                                             \
    "    end "                                                               \
    "  end "                                                                 \
    "end "                                                                   \
    "local keep = {} "                                                       \
    "if new then "                                                           \
    "  for _, k in ipairs(new.keys) do keep[k.sha256] = true end "           \
    "end "                                                                   \
    "for _, k in ipairs(old.keys or {}) do "                                 \
    "  if not keep[k.sha256] then "                                          \
    "    redis.call('DEL', p .. 'appkey:' .. k.sha256) "                     \
    "  end "                                                                 \
    "end "                                                                   \
    "local op = 'delete' "                                                   \
    "if new then "                                                           \
    "  for _, k in ipairs(new.keys) do "                                     \
    "    redis.call('SET', p .. 'appkey:' .. k.sha256, ARGV[3]) "            \
    "  end "                                                                 \
    "  redis.call('SET', key, ARGV[5]) "                                     \
    "  redis.call('SADD', p .. 'apps', ARGV[3]) "                            \
    "  op = 'put' "                                                          \
    "else "                                                                  \
    "  redis.call('DEL', key) "                                              \
    "  redis.call('SREM', p .. 'apps', ARGV[3]) "                            \
    "end "                                                                   \
    "local rev = redis.call('INCR', p .. 'rev') "                            \
    "redis.call('PUBLISH', p .. 'events', '{\"rev\":' .. rev .. "            \
    "  ',\"app\":' .. cjson.encode(ARGV[3]) .. ',\"op\":\"' .. op .. '\"}') " \
    "return {'ok', rev}")


#endif /* _NGX_HTTP_WS_API_APP_H_INCLUDED_ */
