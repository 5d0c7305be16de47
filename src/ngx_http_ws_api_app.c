
/*
 * Copyright (C) ws-api authors
 */


/*
 * Applications (SPEC 3.4), the callers the identifyAndAccess policy
 * identifies.  In Redis: "app:{id}" the application as JSON, with the ids
 * and SHA-256 (hex) of its keys but never a key, "apps" the set of ids,
 * "appkey:{sha256}" the id of the key's application.  A key is 32 random
 * bytes from OpenSSL, base64url, returned once: at creation and by POST
 * applications/{id}/keys, which adds a key and keeps the others valid
 * until DELETE applications/{id}/keys/{keyId}.
 *
 * Every change goes through one script (SAVE_APP) that compares the
 * application with what was read, checks the APIs and teams it names and
 * writes the keys' index with it, so a refused change changes nothing.
 * Its event makes every nginx load the application table again into the
 * zone, which the handshake reads: by key hash, by id.
 */


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_store.h"
#include "ngx_http_ws_api_cache.h"
#include "ngx_http_ws_api_def.h"
#include "ngx_http_ws_api_admin.h"
#include "ngx_http_ws_api_app.h"
#include "ngx_http_ws_api_jwt.h"

#include <openssl/rand.h>


static ngx_int_t ngx_http_ws_api_app_list_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply);
static json_t *ngx_http_ws_api_app_canonical(ngx_http_ws_api_admin_t *ctx,
    json_t *in);
static ngx_int_t ngx_http_ws_api_app_new_key(ngx_http_ws_api_admin_t *ctx,
    json_t *app);
static ngx_int_t ngx_http_ws_api_app_read(ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_app_read_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_ws_api_app_decide_get(ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_app_decide_replace(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_app_decide_delete(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_app_decide_add_key(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_app_decide_delete_key(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_app_write(ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_app_write_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply);
static void ngx_http_ws_api_app_audited(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_ws_api_app_created(ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_app_changed(ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_app_key_added(ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_app_deleted(ngx_http_ws_api_admin_t *ctx);
static json_t *ngx_http_ws_api_app_output(json_t *app, ngx_uint_t secret,
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_app_uuid_valid(ngx_str_t *id);
static ngx_int_t ngx_http_ws_api_app_stored_valid(json_t *app,
    const char *id, size_t id_len);
static int ngx_http_ws_api_app_cmp_id(const void *one, const void *two);
static int ngx_http_ws_api_app_cmp_key(const void *one, const void *two);
static int ngx_http_ws_api_app_cmp_name(const void *one, const void *two);


/* GET /applications */

ngx_int_t
ngx_http_ws_api_app_list(ngx_http_ws_api_admin_t *ctx)
{
    size_t       lens[1];
    const char  *argv[1];

    argv[0] = "app";
    lens[0] = 3;

    return ngx_http_ws_api_admin_wait(ctx,
               ngx_http_ws_api_store_eval(ctx->store,
                                          NGX_HTTP_WS_API_SCRIPT_LIST,
                                          ngx_http_ws_api_admin_reply, ctx,
                                          1, argv, lens),
               ngx_http_ws_api_app_list_step);
}


static ngx_int_t
ngx_http_ws_api_app_list_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply)
{
    size_t         i, n;
    json_t        *app, *list, **items;
    json_error_t   err;

    if (reply->type != REDIS_REPLY_ARRAY) {
        return ngx_http_ws_api_admin_redis_error(ctx, reply);
    }

    items = ngx_palloc(ctx->request->pool,
                       (reply->elements / 2 + 1) * sizeof(json_t *));
    if (items == NULL) {
        return NGX_ERROR;
    }

    n = 0;

    for (i = 0; i + 1 < reply->elements; i += 2) {

        if (reply->element[i + 1]->type != REDIS_REPLY_STRING) {
            continue;
        }

        app = json_loadb(reply->element[i + 1]->str,
                         reply->element[i + 1]->len, 0, &err);

        if (!ngx_http_ws_api_app_stored_valid(app, reply->element[i]->str,
                                              reply->element[i]->len))
        {
            ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                          "ws_api application \"%*s\" in Redis is invalid",
                          ngx_min(reply->element[i]->len, 64),
                          reply->element[i]->str);
            json_decref(app);
            continue;
        }

        if (!ngx_http_ws_api_admin_visible(ctx, app)) {
            json_decref(app);
            continue;
        }

        items[n++] = app;
    }

    qsort(items, n, sizeof(json_t *), ngx_http_ws_api_app_cmp_name);

    list = json_array();

    for (i = 0; i < n; i++) {
        if (list) {
            json_array_append_new(list,
                                  ngx_http_ws_api_app_output(items[i], 0,
                                                             ctx));
        }

        json_decref(items[i]);
    }

    if (list == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_ws_api_admin_respond(ctx, NGX_HTTP_OK,
                                         json_pack("{s:o}", "applications",
                                                   list));
}


/* POST /applications */

ngx_int_t
ngx_http_ws_api_app_create(ngx_http_ws_api_admin_t *ctx)
{
    char     id[37], now[32];
    json_t  *app;

    app = ngx_http_ws_api_app_canonical(ctx, ctx->body);
    if (app == NULL) {
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_http_ws_api_admin_own_team(ctx, json_object_get(app, "teams"))
        != NGX_OK)
    {
        json_decref(app);
        return NGX_HTTP_FORBIDDEN;
    }

    ngx_http_ws_api_admin_uuid(id);
    ngx_http_ws_api_admin_now(now);

    if (json_object_set_new(app, "id", json_string(id)) != 0
        || json_object_set_new(app, "keys", json_array()) != 0
        || json_object_set_new(app, "revision", json_integer(1)) != 0
        || json_object_set_new(app, "createdAt", json_string(now)) != 0
        || json_object_set_new(app, "updatedAt", json_string(now)) != 0
        || ngx_http_ws_api_app_new_key(ctx, app) != NGX_OK)
    {
        json_decref(app);
        return NGX_ERROR;
    }

    ctx->next = app;
    ctx->done = ngx_http_ws_api_app_created;

    return ngx_http_ws_api_app_write(ctx);
}


/* GET /applications/{id} */

ngx_int_t
ngx_http_ws_api_app_get(ngx_http_ws_api_admin_t *ctx)
{
    ctx->decide = ngx_http_ws_api_app_decide_get;

    return ngx_http_ws_api_app_read(ctx);
}


static ngx_int_t
ngx_http_ws_api_app_decide_get(ngx_http_ws_api_admin_t *ctx)
{
    return ngx_http_ws_api_admin_respond(ctx, NGX_HTTP_OK,
               ngx_http_ws_api_app_output(ctx->current, 0, ctx));
}


/* PUT /applications/{id}: name, description, teams, apiIds; keys stay */

ngx_int_t
ngx_http_ws_api_app_replace(ngx_http_ws_api_admin_t *ctx)
{
    json_t  *app;

    /* checked once, before the read */

    app = ngx_http_ws_api_app_canonical(ctx, ctx->body);
    if (app == NULL) {
        return NGX_HTTP_BAD_REQUEST;
    }

    json_decref(app);

    ctx->decide = ngx_http_ws_api_app_decide_replace;
    ctx->done = ngx_http_ws_api_app_changed;

    return ngx_http_ws_api_app_read(ctx);
}


static ngx_int_t
ngx_http_ws_api_app_decide_replace(ngx_http_ws_api_admin_t *ctx)
{
    char        now[32];
    json_t     *app, *cur;
    json_int_t  revision;

    app = ngx_http_ws_api_app_canonical(ctx, ctx->body);
    if (app == NULL) {
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_http_ws_api_admin_own_team(ctx, json_object_get(app, "teams"))
        != NGX_OK)
    {
        json_decref(app);
        return NGX_HTTP_FORBIDDEN;
    }

    cur = ctx->current;
    revision = json_integer_value(json_object_get(cur, "revision"));

    ngx_http_ws_api_admin_now(now);

    if (json_object_set(app, "id", json_object_get(cur, "id")) != 0
        || json_object_set(app, "keys", json_object_get(cur, "keys")) != 0
        || json_object_set_new(app, "revision", json_integer(revision + 1))
           != 0
        || json_object_set(app, "createdAt", json_object_get(cur,
                                                             "createdAt"))
           != 0
        || json_object_set_new(app, "updatedAt", json_string(now)) != 0)
    {
        json_decref(app);
        return NGX_ERROR;
    }

    json_decref(ctx->next);
    ctx->next = app;

    return NGX_OK;
}


/* DELETE /applications/{id} */

ngx_int_t
ngx_http_ws_api_app_delete(ngx_http_ws_api_admin_t *ctx)
{
    ctx->decide = ngx_http_ws_api_app_decide_delete;
    ctx->done = ngx_http_ws_api_app_deleted;

    return ngx_http_ws_api_app_read(ctx);
}


static ngx_int_t
ngx_http_ws_api_app_decide_delete(ngx_http_ws_api_admin_t *ctx)
{
    json_decref(ctx->next);
    ctx->next = NULL;

    return NGX_OK;
}


/* POST /applications/{id}/keys: one more key, the others stay valid */

ngx_int_t
ngx_http_ws_api_app_add_key(ngx_http_ws_api_admin_t *ctx)
{
    ctx->decide = ngx_http_ws_api_app_decide_add_key;
    ctx->done = ngx_http_ws_api_app_key_added;

    return ngx_http_ws_api_app_read(ctx);
}


static ngx_int_t
ngx_http_ws_api_app_decide_add_key(ngx_http_ws_api_admin_t *ctx)
{
    char        now[32];
    json_t     *app;
    json_int_t  revision;

    if (json_array_size(json_object_get(ctx->current, "keys"))
        >= NGX_HTTP_WS_API_APP_MAX_KEYS)
    {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_CONFLICT, NULL,
                   "the application has %d keys already, as many as it may "
                   "have; delete one first", NGX_HTTP_WS_API_APP_MAX_KEYS);
    }

    app = json_deep_copy(ctx->current);
    if (app == NULL) {
        return NGX_ERROR;
    }

    revision = json_integer_value(json_object_get(app, "revision"));
    ngx_http_ws_api_admin_now(now);

    if (json_object_set_new(app, "revision", json_integer(revision + 1)) != 0
        || json_object_set_new(app, "updatedAt", json_string(now)) != 0
        || ngx_http_ws_api_app_new_key(ctx, app) != NGX_OK)
    {
        json_decref(app);
        return NGX_ERROR;
    }

    json_decref(ctx->next);
    ctx->next = app;

    return NGX_OK;
}


/* DELETE /applications/{id}/keys/{keyId}: the key stops working */

ngx_int_t
ngx_http_ws_api_app_delete_key(ngx_http_ws_api_admin_t *ctx)
{
    ctx->decide = ngx_http_ws_api_app_decide_delete_key;
    ctx->done = ngx_http_ws_api_app_deleted;

    return ngx_http_ws_api_app_read(ctx);
}


static ngx_int_t
ngx_http_ws_api_app_decide_delete_key(ngx_http_ws_api_admin_t *ctx)
{
    char         now[32];
    size_t       i;
    json_t      *app, *keys, *k;
    json_int_t   revision;
    const char  *id;

    app = json_deep_copy(ctx->current);
    if (app == NULL) {
        return NGX_ERROR;
    }

    keys = json_object_get(app, "keys");

    json_array_foreach(keys, i, k) {
        id = json_string_value(json_object_get(k, "id"));

        if (id && ngx_strlen(id) == ctx->arg2.len
            && ngx_strncmp(id, ctx->arg2.data, ctx->arg2.len) == 0)
        {
            break;
        }
    }

    if (i == json_array_size(keys)) {
        json_decref(app);
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_NOT_FOUND, NULL,
                                          "the application has no key with "
                                          "id \"%*s\"",
                                          ngx_min(ctx->arg2.len, 64),
                                          ctx->arg2.data);
    }

    json_array_remove(keys, i);

    revision = json_integer_value(json_object_get(app, "revision"));
    ngx_http_ws_api_admin_now(now);

    if (json_object_set_new(app, "revision", json_integer(revision + 1)) != 0
        || json_object_set_new(app, "updatedAt", json_string(now)) != 0)
    {
        json_decref(app);
        return NGX_ERROR;
    }

    json_decref(ctx->next);
    ctx->next = app;

    return NGX_OK;
}


/*
 * The members a client gives, checked: {"name", "description", "teams",
 * "apiIds"}; the read-only ones (id, keys, revision, createdAt,
 * updatedAt) are ignored, so a GET can be PUT back.  NULL: a 400 told in
 * ctx.
 */

static json_t *
ngx_http_ws_api_app_canonical(ngx_http_ws_api_admin_t *ctx, json_t *in)
{
    char           f[64];
    size_t         i, j, len;
    json_t        *v, *name, *desc, *teams, *apis, *out;
    ngx_str_t      id;
    const char    *key, *s;
    const u_char  *p;

    json_object_keylen_foreach(in, key, len, v) {
        if (!((len == 4 && ngx_strncmp(key, "name", 4) == 0)
              || (len == 11 && ngx_strncmp(key, "description", 11) == 0)
              || (len == 5 && ngx_strncmp(key, "teams", 5) == 0)
              || (len == 6 && ngx_strncmp(key, "apiIds", 6) == 0)
              || (len == 2 && ngx_strncmp(key, "id", 2) == 0)
              || (len == 4 && ngx_strncmp(key, "keys", 4) == 0)
              || (len == 8 && ngx_strncmp(key, "revision", 8) == 0)
              || (len == 9 && ngx_strncmp(key, "createdAt", 9) == 0)
              || (len == 9 && ngx_strncmp(key, "updatedAt", 9) == 0)))
        {
            (void) ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST,
                       NULL, "unknown member \"%*s\"; expected name, "
                       "description, teams or apiIds", ngx_min(len, 64),
                       key);
            return NULL;
        }
    }

    name = json_object_get(in, "name");
    s = json_string_value(name);
    len = json_string_length(name);

    for (i = 0; s && i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_'
              || s[i] == '-'))
        {
            break;
        }
    }

    if (s == NULL || len == 0 || len > NGX_HTTP_WS_API_APP_MAX_NAME
        || i < len)
    {
        (void) ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST, "name",
                   "name is required: 1 to %d letters, digits, \".\", "
                   "\"_\" or \"-\"", NGX_HTTP_WS_API_APP_MAX_NAME);
        return NULL;
    }

    desc = json_object_get(in, "description");

    if (desc && !json_is_null(desc)
        && (!json_is_string(desc)
            || json_string_length(desc) > NGX_HTTP_WS_API_APP_MAX_DESC))
    {
        (void) ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST,
                   "description", "description must be a string of at "
                   "most %d bytes", NGX_HTTP_WS_API_APP_MAX_DESC);
        return NULL;
    }

    teams = json_object_get(in, "teams");

    if (teams && !json_is_null(teams)) {

        if (!json_is_array(teams)
            || json_array_size(teams) > NGX_HTTP_WS_API_MAX_TEAMS)
        {
            (void) ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST,
                       "teams", "teams must be an array of at most %d team "
                       "names", NGX_HTTP_WS_API_MAX_TEAMS);
            return NULL;
        }

        if (json_array_size(teams) && !ctx->wmcf->teams) {
            (void) ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST,
                       "teams", "teams are off (ws_api_teams)");
            return NULL;
        }

        json_array_foreach(teams, i, v) {
            ngx_snprintf((u_char *) f, sizeof(f), "teams[%uz]%Z", i);

            if (!json_is_string(v)
                || !ngx_http_ws_api_user_name_valid(
                        (u_char *) json_string_value(v),
                        json_string_length(v)))
            {
                (void) ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                                  f, "%s must be the name of "
                                                  "a team", f);
                return NULL;
            }

            for (j = 0; j < i; j++) {
                if (json_equal(v, json_array_get(teams, j))) {
                    (void) ngx_http_ws_api_admin_fail(ctx,
                               NGX_HTTP_BAD_REQUEST, f, "%s is a duplicate",
                               f);
                    return NULL;
                }
            }
        }
    }

    apis = json_object_get(in, "apiIds");

    if (apis && !json_is_null(apis)) {

        if (!json_is_array(apis)
            || json_array_size(apis) > NGX_HTTP_WS_API_APP_MAX_APIS)
        {
            (void) ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST,
                       "apiIds", "apiIds must be an array of at most %d API "
                       "ids", NGX_HTTP_WS_API_APP_MAX_APIS);
            return NULL;
        }

        json_array_foreach(apis, i, v) {
            ngx_snprintf((u_char *) f, sizeof(f), "apiIds[%uz]%Z", i);

            p = (const u_char *) json_string_value(v);
            id.data = (u_char *) p;
            id.len = json_string_length(v);

            if (p == NULL || ngx_http_ws_api_app_uuid_valid(&id) != NGX_OK) {
                (void) ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                                  f, "%s must be the id of "
                                                  "an API", f);
                return NULL;
            }

            for (j = 0; j < i; j++) {
                if (json_equal(v, json_array_get(apis, j))) {
                    (void) ngx_http_ws_api_admin_fail(ctx,
                               NGX_HTTP_BAD_REQUEST, f, "%s is a duplicate",
                               f);
                    return NULL;
                }
            }
        }
    }

    out = json_pack("{s:O, s:s%, s:o, s:o}",
                    "name", name,
                    "description",
                    json_is_string(desc) ? json_string_value(desc) : "",
                    json_is_string(desc) ? json_string_length(desc) : 0,
                    "teams",
                    json_is_array(teams) ? json_deep_copy(teams)
                                         : json_array(),
                    "apiIds",
                    json_is_array(apis) ? json_deep_copy(apis)
                                        : json_array());
    if (out == NULL) {
        (void) ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                          "out of memory");
    }

    return out;
}


/* a new key for app: its hash in the JSON, the key itself in ctx only */

static ngx_int_t
ngx_http_ws_api_app_new_key(ngx_http_ws_api_admin_t *ctx, json_t *app)
{
    char     now[32];
    u_char   raw[NGX_HTTP_WS_API_APP_KEY_BYTES], kid[8], hex[64];
    size_t   len;
    json_t  *key;

    if (RAND_bytes(raw, sizeof(raw)) != 1 || RAND_bytes(kid, sizeof(kid)) != 1)
    {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "ws_api: RAND_bytes() failed");
        return NGX_ERROR;
    }

    len = ngx_http_ws_api_base64url_encode((u_char *) ctx->secret, raw,
                                           sizeof(raw));
    ctx->secret[len] = '\0';

    ngx_hex_dump((u_char *) ctx->secret_id, kid, sizeof(kid))[0] = '\0';

    ngx_http_ws_api_sha256_hex(hex, (u_char *) ctx->secret, len);

    ngx_explicit_memzero(raw, sizeof(raw));

    ngx_http_ws_api_admin_now(now);

    key = json_pack("{s:s, s:s%, s:s}", "id", ctx->secret_id,
                    "sha256", hex, (size_t) 64, "createdAt", now);

    if (key == NULL
        || json_array_append_new(json_object_get(app, "keys"), key) != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* reads the application of the path into ctx->current, then decides */

static ngx_int_t
ngx_http_ws_api_app_read(ngx_http_ws_api_admin_t *ctx)
{
    if (ngx_http_ws_api_app_uuid_valid(&ctx->arg) != NGX_OK) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_NOT_FOUND, NULL,
                                          "no application with id \"%*s\"",
                                          ngx_min(ctx->arg.len, 64),
                                          ctx->arg.data);
    }

    return ngx_http_ws_api_admin_wait(ctx,
               ngx_http_ws_api_store_get(ctx->store, "app:", &ctx->arg,
                                         ngx_http_ws_api_admin_reply, ctx),
               ngx_http_ws_api_app_read_step);
}


static ngx_int_t
ngx_http_ws_api_app_read_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply)
{
    ngx_int_t     rc;
    json_error_t  jerr;

    if (reply->type == REDIS_REPLY_NIL) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_NOT_FOUND, NULL,
                                          "no application with id \"%V\"",
                                          &ctx->arg);
    }

    if (reply->type != REDIS_REPLY_STRING) {
        return ngx_http_ws_api_admin_redis_error(ctx, reply);
    }

    json_decref(ctx->current);

    ctx->current = json_loadb(reply->str, reply->len, 0, &jerr);

    if (!ngx_http_ws_api_app_stored_valid(ctx->current,
                                          (char *) ctx->arg.data,
                                          ctx->arg.len))
    {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "ws_api application \"%V\" in Redis is invalid",
                      &ctx->arg);

        return ngx_http_ws_api_admin_fail(ctx,
                                          NGX_HTTP_INTERNAL_SERVER_ERROR,
                                          NULL, "the application stored in "
                                          "Redis is invalid");
    }

    ctx->current_text.len = reply->len;
    ctx->current_text.data = ngx_pnalloc(ctx->request->pool, reply->len);
    if (ctx->current_text.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ctx->current_text.data, reply->str, reply->len);

    if (!ngx_http_ws_api_admin_visible(ctx, ctx->current)) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_FORBIDDEN, NULL,
                                          "the application belongs to teams "
                                          "you are not in");
    }

    rc = ctx->decide(ctx);

    if (rc != NGX_OK || ctx->done == NULL) {
        /* an error, or a read answered */
        return rc;
    }

    return ngx_http_ws_api_app_write(ctx);
}


/* ctx->next written over ctx->current (NULL: created; next NULL: deleted) */

static ngx_int_t
ngx_http_ws_api_app_write(ngx_http_ws_api_admin_t *ctx)
{
    size_t       lens[3];
    const char  *argv[3];

    if (ctx->next_text) {
        free(ctx->next_text);
        ctx->next_text = NULL;
    }

    if (ctx->next) {
        ctx->next_text = json_dumps(ctx->next, JSON_COMPACT);
        if (ctx->next_text == NULL) {
            return NGX_ERROR;
        }
    }

    if (ctx->next) {
        argv[0] = json_string_value(json_object_get(ctx->next, "id"));

    } else {
        argv[0] = json_string_value(json_object_get(ctx->current, "id"));
    }

    lens[0] = ngx_strlen(argv[0]);

    argv[1] = ctx->current ? (const char *) ctx->current_text.data : "";
    lens[1] = ctx->current ? ctx->current_text.len : 0;

    argv[2] = ctx->next_text ? ctx->next_text : "";
    lens[2] = ngx_strlen(argv[2]);

    return ngx_http_ws_api_admin_wait(ctx,
               ngx_http_ws_api_store_eval(ctx->store,
                                          NGX_HTTP_WS_API_SCRIPT_SAVE_APP,
                                          ngx_http_ws_api_admin_reply, ctx,
                                          3, argv, lens),
               ngx_http_ws_api_app_write_step);
}


static ngx_int_t
ngx_http_ws_api_app_write_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply)
{
    char         f[32];
    redisReply  *status;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_STRING)
    {
        return ngx_http_ws_api_admin_redis_error(ctx, reply);
    }

    status = reply->element[0];

    if (ngx_strcmp(status->str, "ok") == 0) {
        ngx_http_ws_api_app_audited(ctx, reply);
        return ctx->done(ctx);
    }

    if (ngx_strcmp(status->str, "conflict") == 0 && ctx->current) {

        /* changed since it was read: read it again and decide again */

        if (++ctx->attempts < NGX_HTTP_WS_API_ATTEMPTS) {
            return ngx_http_ws_api_app_read(ctx);
        }

        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_CONFLICT, NULL,
                                          "the application keeps changing; "
                                          "try again");
    }

    if (ngx_strcmp(status->str, "not_found") == 0) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_NOT_FOUND, NULL,
                                          "no application with id \"%V\"",
                                          &ctx->arg);
    }

    if (ngx_strcmp(status->str, "taken") == 0) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_CONFLICT, "name",
                   "an application named \"%s\" exists already",
                   json_string_value(json_object_get(ctx->next, "name")));
    }

    if (reply->elements == 2 && reply->element[1]->type == REDIS_REPLY_STRING)
    {
        if (ngx_strcmp(status->str, "no_team") == 0) {
            return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                              "teams",
                                              "team \"%s\" does not exist",
                                              reply->element[1]->str);
        }

        if (ngx_strcmp(status->str, "no_api") == 0) {
            ngx_snprintf((u_char *) f, sizeof(f), "apiIds[%s]%Z",
                         reply->element[1]->str);

            return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST, f,
                                              "%s names no API", f);
        }
    }

    return ngx_http_ws_api_admin_redis_error(ctx, reply);
}


/* the audit line of a write that Redis answered "ok" */

static void
ngx_http_ws_api_app_audited(ngx_http_ws_api_admin_t *ctx, redisReply *reply)
{
    json_t                    *id;
    uint64_t                   rev;
    ngx_str_t                  s;
    const char                *op;
    ngx_http_ws_api_admin_pt   start;

    rev = 0;

    if (reply->elements > 1) {
        (void) ngx_http_ws_api_store_reply_uint(reply->element[1], &rev);
    }

    start = ctx->op->start;

    op = (start == ngx_http_ws_api_app_create) ? "create"
         : (start == ngx_http_ws_api_app_replace) ? "replace"
         : (start == ngx_http_ws_api_app_add_key) ? "add_key"
         : (start == ngx_http_ws_api_app_delete_key) ? "delete_key"
         : "delete";

    id = json_object_get(ctx->next ? ctx->next : ctx->current, "id");

    s.data = (u_char *) json_string_value(id);
    s.len = json_string_length(id);

    if (s.data == NULL) {
        s = ctx->arg;
    }

    ngx_http_ws_api_admin_audit(ctx->request, &ctx->identity, op,
                                "application", &s, rev);
}


static ngx_int_t
ngx_http_ws_api_app_created(ngx_http_ws_api_admin_t *ctx)
{
    u_char                    *p;
    ngx_str_t                  location;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(ctx->request, ngx_http_core_module);

    location.data = ngx_pnalloc(ctx->request->pool,
                                clcf->name.len + sizeof("/applications/")
                                + 36);
    if (location.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(location.data, clcf->name.data, clcf->name.len);

    if (clcf->name.len == 0 || p[-1] != '/') {
        *p++ = '/';
    }

    p = ngx_sprintf(p, "applications/%s",
                    json_string_value(json_object_get(ctx->next, "id")));

    location.len = p - location.data;

    if (ngx_http_ws_api_admin_header(ctx->request, "Location", &location)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_ws_api_admin_respond(ctx, NGX_HTTP_CREATED,
               ngx_http_ws_api_app_output(ctx->next, 1, ctx));
}


static ngx_int_t
ngx_http_ws_api_app_changed(ngx_http_ws_api_admin_t *ctx)
{
    return ngx_http_ws_api_admin_respond(ctx, NGX_HTTP_OK,
               ngx_http_ws_api_app_output(ctx->next, 0, ctx));
}


static ngx_int_t
ngx_http_ws_api_app_key_added(ngx_http_ws_api_admin_t *ctx)
{
    return ngx_http_ws_api_admin_respond(ctx, NGX_HTTP_CREATED,
               ngx_http_ws_api_app_output(ctx->next, 1, ctx));
}


static ngx_int_t
ngx_http_ws_api_app_deleted(ngx_http_ws_api_admin_t *ctx)
{
    return ngx_http_ws_api_admin_no_content(ctx);
}


/*
 * The application as a client sees it: the keys by id and creation time
 * only; with secret, the new key ("apiKey") and its id ("keyId"), this
 * once
 */

static json_t *
ngx_http_ws_api_app_output(json_t *app, ngx_uint_t secret,
    ngx_http_ws_api_admin_t *ctx)
{
    size_t   i;
    json_t  *out, *keys, *k;

    out = json_deep_copy(app);
    if (out == NULL) {
        return NULL;
    }

    keys = json_object_get(out, "keys");

    json_array_foreach(keys, i, k) {
        json_object_del(k, "sha256");
    }

    if (secret
        && (json_object_set_new(out, "apiKey", json_string(ctx->secret)) != 0
            || json_object_set_new(out, "keyId", json_string(ctx->secret_id))
               != 0))
    {
        json_decref(out);
        return NULL;
    }

    return out;
}


/* a UUID in the form ngx_http_ws_api_admin_uuid() makes */

static ngx_int_t
ngx_http_ws_api_app_uuid_valid(ngx_str_t *id)
{
    size_t  i;

    if (id->len != 36) {
        return NGX_DECLINED;
    }

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (id->data[i] != '-') {
                return NGX_DECLINED;
            }

        } else if (!((id->data[i] >= '0' && id->data[i] <= '9')
                     || (id->data[i] >= 'a' && id->data[i] <= 'f')))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* what the handshake and the endpoints rely on in a stored application */

static ngx_int_t
ngx_http_ws_api_app_stored_valid(json_t *app, const char *id, size_t id_len)
{
    size_t   i;
    json_t  *v, *k, *h;

    v = json_object_get(app, "id");

    if (!json_is_string(v) || json_string_length(v) != id_len
        || ngx_strncmp(json_string_value(v), id, id_len) != 0
        || !json_is_string(json_object_get(app, "name"))
        || !json_is_array(json_object_get(app, "teams"))
        || !json_is_array(json_object_get(app, "apiIds"))
        || !json_is_array(json_object_get(app, "keys")))
    {
        return 0;
    }

    json_array_foreach(json_object_get(app, "apiIds"), i, v) {
        if (!json_is_string(v)) {
            return 0;
        }
    }

    json_array_foreach(json_object_get(app, "keys"), i, k) {
        h = json_object_get(k, "sha256");

        if (!json_is_string(h) || json_string_length(h) != 64
            || !json_is_string(json_object_get(k, "id")))
        {
            return 0;
        }
    }

    return 1;
}


/* the zone's table */

ngx_http_ws_api_apps_t *
ngx_http_ws_api_app_table(ngx_http_ws_api_cache_t *cache, redisReply *list,
    ngx_log_t *log)
{
    u_char                      *p;
    size_t                       size, i, j, m, n, napps, nkeys, napis;
    json_t                     **docs, *v, *k;
    ngx_int_t                    c;
    ngx_str_t                   *api;
    const char                  *h;
    json_error_t                 err;
    ngx_http_ws_api_app_t       *app;
    ngx_http_ws_api_apps_t      *apps;
    ngx_http_ws_api_app_key_t   *key;

    n = list->elements / 2;

    docs = ngx_alloc((n + 1) * sizeof(json_t *), log);
    if (docs == NULL) {
        return NULL;
    }

    size = sizeof(ngx_http_ws_api_apps_t);
    napps = 0;
    nkeys = 0;
    napis = 0;

    for (i = 0; i < n; i++) {
        docs[napps] = NULL;

        if (list->element[2 * i]->type != REDIS_REPLY_STRING
            || list->element[2 * i + 1]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        v = json_loadb(list->element[2 * i + 1]->str,
                       list->element[2 * i + 1]->len, 0, &err);

        if (!ngx_http_ws_api_app_stored_valid(v, list->element[2 * i]->str,
                                              list->element[2 * i]->len))
        {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "ws_api application \"%*s\" in Redis is invalid",
                          ngx_min(list->element[2 * i]->len, 64),
                          list->element[2 * i]->str);
            json_decref(v);
            continue;
        }

        docs[napps++] = v;

        nkeys += json_array_size(json_object_get(v, "keys"));
        napis += json_array_size(json_object_get(v, "apiIds"));

        size += json_string_length(json_object_get(v, "id"))
                + json_string_length(json_object_get(v, "name"));

        json_array_foreach(json_object_get(v, "apiIds"), j, k) {
            size += json_string_length(k);
        }
    }

    size += napps * sizeof(ngx_http_ws_api_app_t)
            + nkeys * sizeof(ngx_http_ws_api_app_key_t)
            + napis * sizeof(ngx_str_t);

    apps = ngx_slab_alloc(cache->shpool, size);

    if (apps == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "ws_api_cache is full: the applications are not "
                      "loaded, the zone needs to be larger");
        goto done;
    }

    apps->napps = napps;
    apps->apps = (ngx_http_ws_api_app_t *) (apps + 1);
    apps->nkeys = 0;
    apps->keys = (ngx_http_ws_api_app_key_t *) (apps->apps + napps);

    /* the applications first, sorted, then their keys point to them */

    qsort(docs, napps, sizeof(json_t *), ngx_http_ws_api_app_cmp_id);

    /* the structures hold pointers: each array stays aligned */

    app = apps->apps;
    key = apps->keys;
    api = (ngx_str_t *) (apps->keys + nkeys);
    p = (u_char *) (api + napis);

    for (i = 0; i < napps; i++, app++) {
        v = json_object_get(docs[i], "id");
        app->id.len = json_string_length(v);
        app->id.data = p;
        p = ngx_cpymem(p, json_string_value(v), app->id.len);

        v = json_object_get(docs[i], "name");
        app->name.len = json_string_length(v);
        app->name.data = p;
        p = ngx_cpymem(p, json_string_value(v), app->name.len);

        app->apis = api;
        app->napis = 0;

        json_array_foreach(json_object_get(docs[i], "apiIds"), j, k) {
            api->len = json_string_length(k);
            api->data = p;
            p = ngx_cpymem(p, json_string_value(k), api->len);
            api++;
            app->napis++;
        }

        json_array_foreach(json_object_get(docs[i], "keys"), j, k) {
            h = json_string_value(json_object_get(k, "sha256"));

            for (m = 0; m < 64; m++) {
                c = h[m];
                c = (c >= '0' && c <= '9') ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : 16;

                if (c == 16) {
                    break;
                }

                if (m % 2 == 0) {
                    key->hash[m / 2] = (u_char) (c << 4);

                } else {
                    key->hash[m / 2] |= (u_char) c;
                }
            }

            if (m < 64) {
                continue;
            }

            key->app = app;
            key++;
            apps->nkeys++;
        }
    }

    qsort(apps->keys, apps->nkeys, sizeof(ngx_http_ws_api_app_key_t),
          ngx_http_ws_api_app_cmp_key);

done:

    for (i = 0; i < napps; i++) {
        json_decref(docs[i]);
    }

    ngx_free(docs);

    return apps;
}


ngx_http_ws_api_app_t *
ngx_http_ws_api_app_by_key(ngx_http_ws_api_apps_t *apps, const u_char *hash)
{
    int                         rc;
    ngx_uint_t                  lo, hi, mid;
    ngx_http_ws_api_app_key_t  *keys;

    if (apps == NULL) {
        return NULL;
    }

    keys = apps->keys;
    lo = 0;
    hi = apps->nkeys;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        rc = ngx_memcmp(hash, keys[mid].hash, 32);

        if (rc == 0) {
            return keys[mid].app;
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


ngx_http_ws_api_app_t *
ngx_http_ws_api_app_by_id(ngx_http_ws_api_apps_t *apps, const u_char *id,
    size_t len)
{
    ngx_int_t               rc;
    ngx_uint_t              lo, hi, mid;
    ngx_http_ws_api_app_t  *app;

    if (apps == NULL) {
        return NULL;
    }

    lo = 0;
    hi = apps->napps;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        app = &apps->apps[mid];

        rc = ngx_memn2cmp((u_char *) id, app->id.data, len, app->id.len);

        if (rc == 0) {
            return app;
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


ngx_uint_t
ngx_http_ws_api_app_registered(ngx_http_ws_api_app_t *app, ngx_str_t *api_id)
{
    ngx_uint_t  i;

    for (i = 0; i < app->napis; i++) {
        if (app->apis[i].len == api_id->len
            && ngx_memcmp(app->apis[i].data, api_id->data, api_id->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* the orders of the table, by ngx_memn2cmp() as the lookups */

static int
ngx_http_ws_api_app_cmp_id(const void *one, const void *two)
{
    json_t  *a, *b;

    a = json_object_get(*(json_t **) one, "id");
    b = json_object_get(*(json_t **) two, "id");

    return (int) ngx_memn2cmp((u_char *) json_string_value(a),
                              (u_char *) json_string_value(b),
                              json_string_length(a), json_string_length(b));
}


static int
ngx_http_ws_api_app_cmp_key(const void *one, const void *two)
{
    const ngx_http_ws_api_app_key_t  *a = one, *b = two;

    return ngx_memcmp(a->hash, b->hash, 32);
}


/* GET /applications by name */

static int
ngx_http_ws_api_app_cmp_name(const void *one, const void *two)
{
    const char  *a, *b;

    a = json_string_value(json_object_get(*(json_t **) one, "name"));
    b = json_string_value(json_object_get(*(json_t **) two, "name"));

    return ngx_strcmp(a ? a : "", b ? b : "");
}
