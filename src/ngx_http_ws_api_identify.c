
/*
 * Copyright (C) ws-api authors
 */


/*
 * identifyAndAccess at the handshake.  The credentials of the methods the
 * policy lists are looked for in its order: an API key in the header
 * x-Gateway-APIKey, else the query parameter apiKey; a JWT in
 * Authorization: Bearer, else the query parameter access_token.  Both
 * query parameters are removed from the query the backend gets, whatever
 * the methods.  The first method with credentials decides:
 *
 *   - an API key is found by its SHA-256 in the zone's application table;
 *   - a JWT is verified with the policy's keys (compiled once per worker
 *     and key set, kept by their text), then its client_id, else sub,
 *     names the application by id.
 *
 * No credentials: 401 unless allowAnonymous; unknown or bad credentials:
 * 401; an application not registered for the API: 403.
 */


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_cache.h"
#include "ngx_http_ws_api_app.h"
#include "ngx_http_ws_api_jwt.h"
#include "ngx_http_ws_api_identify.h"


/* a JWT key set compiled by this worker */

typedef struct {
    uint32_t                       crc;        /* of the policy's "jwt" */
    size_t                         len;
    u_char                        *text;
    ngx_http_ws_api_jwt_t         *jwt;
    ngx_uint_t                     used;       /* the tick of its last use */
} ngx_http_ws_api_keyset_t;


static void ngx_http_ws_api_identify_query(ngx_http_request_t *r,
    ngx_str_t *key, ngx_str_t *token);
static ngx_int_t ngx_http_ws_api_identify_headers(ngx_http_request_t *r,
    ngx_str_t *key, ngx_str_t *token);
static ngx_int_t ngx_http_ws_api_identify_key(ngx_http_request_t *r,
    ngx_http_ws_api_cache_t *cache, ngx_str_t *api_id, ngx_str_t *key,
    ngx_http_ws_api_ident_t *ident);
static ngx_int_t ngx_http_ws_api_identify_jwt(ngx_http_request_t *r,
    ngx_http_ws_api_policy_t *pol, ngx_http_ws_api_cache_t *cache,
    ngx_str_t *api_id, ngx_str_t *token, ngx_http_ws_api_ident_t *ident);
static ngx_int_t ngx_http_ws_api_identify_app(ngx_http_request_t *r,
    ngx_http_ws_api_app_t *app, ngx_str_t *api_id,
    ngx_http_ws_api_ident_t *ident);
static ngx_http_ws_api_jwt_t *ngx_http_ws_api_identify_keyset(
    ngx_str_t *conf, uint32_t crc, ngx_log_t *log);


static ngx_http_ws_api_keyset_t
    ngx_http_ws_api_keysets[NGX_HTTP_WS_API_IDENTIFY_KEYSETS];
static ngx_uint_t  ngx_http_ws_api_keysets_tick;


ngx_int_t
ngx_http_ws_api_identify(ngx_http_request_t *r, ngx_http_ws_api_policy_t *pol,
    ngx_http_ws_api_cache_t *cache, ngx_str_t *api_id,
    ngx_http_ws_api_ident_t *ident)
{
    ngx_str_t   qkey, qtoken, hkey, htoken, *key, *token;
    ngx_uint_t  i, jwt;

    ngx_memzero(ident, sizeof(ngx_http_ws_api_ident_t));

    ngx_str_null(&qkey);
    ngx_str_null(&qtoken);
    ngx_str_null(&hkey);
    ngx_str_null(&htoken);

    ngx_http_ws_api_identify_query(r, &qkey, &qtoken);

    if (ngx_http_ws_api_identify_headers(r, &hkey, &htoken) != NGX_OK) {
        return NGX_ERROR;
    }

    key = hkey.data ? &hkey : &qkey;
    token = htoken.data ? &htoken : &qtoken;

    for (i = 0; i < 2; i++) {
        jwt = (i == 0) ? pol->jwt_first : !pol->jwt_first;

        if (jwt && pol->jwt && token->data) {
            return ngx_http_ws_api_identify_jwt(r, pol, cache, api_id, token,
                                                ident);
        }

        if (!jwt && pol->api_key && key->data) {
            return ngx_http_ws_api_identify_key(r, cache, api_id, key,
                                                ident);
        }
    }

    if (pol->anonymous) {
        return NGX_OK;
    }

    ident->detail = "credentials are required for this API";

    return NGX_HTTP_WS_API_REFUSE_ANONYMOUS;
}


/*
 * The first apiKey and access_token of the query, percent-decoded in
 * place of a copy; r->args loses every one of them
 */

static void
ngx_http_ws_api_identify_query(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *token)
{
    u_char     *p, *end, *start, *eq, *args, *out, *dst, *src;
    ngx_str_t  *which;

    if (r->args.len == 0) {
        return;
    }

    args = ngx_pnalloc(r->pool, r->args.len);
    if (args == NULL) {
        return;
    }

    out = args;
    p = r->args.data;
    end = p + r->args.len;

    while (p < end) {
        start = p;

        while (p < end && *p != '&') {
            p++;
        }

        for (eq = start; eq < p && *eq != '='; eq++) {
            /* void */
        }

        which = NULL;

        if (eq - start == 6 && ngx_strncmp(start, "apiKey", 6) == 0) {
            which = key;

        } else if (eq - start == 12
                   && ngx_strncmp(start, "access_token", 12) == 0)
        {
            which = token;
        }

        if (which == NULL) {
            if (out > args) {
                *out++ = '&';
            }

            out = ngx_cpymem(out, start, p - start);

        } else if (which->data == NULL && eq < p) {
            dst = ngx_pnalloc(r->pool, p - eq);

            if (dst) {
                which->data = dst;
                src = eq + 1;
                ngx_unescape_uri(&dst, &src, p - eq - 1, NGX_UNESCAPE_URI);
                which->len = dst - which->data;
            }
        }

        if (p < end) {
            p++;
        }
    }

    r->args.data = args;
    r->args.len = out - args;
}


/* x-Gateway-APIKey and Authorization: Bearer */

static ngx_int_t
ngx_http_ws_api_identify_headers(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *token)
{
    ngx_str_t         v;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (key->data == NULL
            && h[i].key.len == sizeof("x-gateway-apikey") - 1
            && ngx_strncmp(h[i].lowcase_key, "x-gateway-apikey",
                           h[i].key.len) == 0)
        {
            *key = h[i].value;
        }
    }

    if (r->headers_in.authorization) {
        v = r->headers_in.authorization->value;

        if (v.len > 7 && ngx_strncasecmp(v.data, (u_char *) "Bearer ", 7)
                         == 0)
        {
            v.data += 7;
            v.len -= 7;

            while (v.len && v.data[0] == ' ') {
                v.data++;
                v.len--;
            }

            *token = v;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_ws_api_identify_key(ngx_http_request_t *r,
    ngx_http_ws_api_cache_t *cache, ngx_str_t *api_id, ngx_str_t *key,
    ngx_http_ws_api_ident_t *ident)
{
    u_char                  hash[32];
    ngx_http_ws_api_app_t  *app;

    ngx_http_ws_api_sha256(hash, key->data, key->len);

    app = ngx_http_ws_api_app_by_key(cache->sh->apps, hash);

    if (app == NULL) {
        ident->detail = "the API key is not valid";
        return NGX_HTTP_WS_API_REFUSE_CREDENTIALS;
    }

    /* kept, so that the key's revocation ends the connection */

    ident->key_hash = ngx_pnalloc(r->pool, sizeof(hash));
    if (ident->key_hash == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ident->key_hash, hash, sizeof(hash));

    return ngx_http_ws_api_identify_app(r, app, api_id, ident);
}


static ngx_int_t
ngx_http_ws_api_identify_jwt(ngx_http_request_t *r,
    ngx_http_ws_api_policy_t *pol, ngx_http_ws_api_cache_t *cache,
    ngx_str_t *api_id, ngx_str_t *token, ngx_http_ws_api_ident_t *ident)
{
    u_char                     id[NGX_HTTP_WS_API_JWT_MAX_CLAIM + 1];
    size_t                     id_len;
    ngx_http_ws_api_jwt_t     *jwt;
    ngx_http_ws_api_app_t     *app;
    ngx_http_ws_api_jwt_rc_e   rc;

    ident->bearer = 1;

    jwt = ngx_http_ws_api_identify_keyset(&pol->jwt_conf, pol->jwt_crc,
                                          r->connection->log);
    if (jwt == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_ws_api_jwt_verify(jwt, token->data, token->len,
                                    (int64_t) ngx_time(), id, &id_len);

    if (rc != NGX_HTTP_WS_API_JWT_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ws_api: JWT refused: %s",
                      ngx_http_ws_api_jwt_rc_text(rc));

        ident->detail = ngx_http_ws_api_jwt_rc_text(rc);
        return NGX_HTTP_WS_API_REFUSE_CREDENTIALS;
    }

    app = ngx_http_ws_api_app_by_id(cache->sh->apps, id, id_len);

    if (app == NULL) {
        ident->detail = "the token names no application";
        return NGX_HTTP_WS_API_REFUSE_CREDENTIALS;
    }

    return ngx_http_ws_api_identify_app(r, app, api_id, ident);
}


static ngx_int_t
ngx_http_ws_api_identify_app(ngx_http_request_t *r,
    ngx_http_ws_api_app_t *app, ngx_str_t *api_id,
    ngx_http_ws_api_ident_t *ident)
{
    u_char  *p;

    /* copied out of the zone: the variables outlive the lock */

    p = ngx_pnalloc(r->pool, app->id.len + app->name.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ident->app_id.data = p;
    ident->app_id.len = app->id.len;
    p = ngx_cpymem(p, app->id.data, app->id.len);

    ident->app_name.data = p;
    ident->app_name.len = app->name.len;
    ngx_memcpy(p, app->name.data, app->name.len);

    if (!ngx_http_ws_api_app_registered(app, api_id)) {
        ident->detail = "the application is not registered for this API";
        return NGX_HTTP_WS_API_REFUSE_NOT_REGISTERED;
    }

    return NGX_OK;
}


const char *
ngx_http_ws_api_identify_revoked(ngx_http_ws_api_cache_t *cache,
    ngx_str_t *api_id, ngx_str_t *app_id, u_char *key_hash)
{
    ngx_http_ws_api_app_t   *app;
    ngx_http_ws_api_apps_t  *apps;

    apps = cache->sh->apps;

    if (apps == NULL) {
        /* no table loaded (yet): nothing to decide on */
        return NULL;
    }

    app = ngx_http_ws_api_app_by_id(apps, app_id->data, app_id->len);

    if (app == NULL) {
        return "application deleted";
    }

    if (!ngx_http_ws_api_app_registered(app, api_id)) {
        return "application not registered for this API";
    }

    if (key_hash && ngx_http_ws_api_app_by_key(apps, key_hash) != app) {
        return "API key revoked";
    }

    return NULL;
}


/*
 * The compiled key set of a policy's "jwt" text: this worker's, found by
 * the text, so a new revision of the API with the same keys costs
 * nothing and one with new keys compiles them once.
 */

static ngx_http_ws_api_jwt_t *
ngx_http_ws_api_identify_keyset(ngx_str_t *conf, uint32_t crc, ngx_log_t *log)
{
    char                       err[160], field[64];
    json_t                    *json;
    ngx_uint_t                 i, victim;
    json_error_t               jerr;
    ngx_http_ws_api_keyset_t  *ks;

    /* the CRC was computed when the definition was loaded into the zone */

    victim = 0;

    for (i = 0; i < NGX_HTTP_WS_API_IDENTIFY_KEYSETS; i++) {
        ks = &ngx_http_ws_api_keysets[i];

        if (ks->jwt && ks->crc == crc && ks->len == conf->len
            && ngx_memcmp(ks->text, conf->data, conf->len) == 0)
        {
            ks->used = ++ngx_http_ws_api_keysets_tick;
            return ks->jwt;
        }

        if (ks->used < ngx_http_ws_api_keysets[victim].used) {
            victim = i;
        }
    }

    /* the least recently used goes */

    ks = &ngx_http_ws_api_keysets[victim];

    if (ks->jwt) {
        ngx_http_ws_api_jwt_free(ks->jwt);
        ngx_free(ks->text);
        ngx_memzero(ks, sizeof(ngx_http_ws_api_keyset_t));
    }

    ks->text = ngx_alloc(conf->len, log);
    if (ks->text == NULL) {
        return NULL;
    }

    ngx_memcpy(ks->text, conf->data, conf->len);

    json = json_loadb((char *) conf->data, conf->len, 0, &jerr);

    ks->jwt = ngx_http_ws_api_jwt_create(json, err, sizeof(err), field,
                                         sizeof(field));
    json_decref(json);

    if (ks->jwt == NULL) {
        /* checked when the API was saved: a key OpenSSL no longer takes */

        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "ws_api: the jwt keys of a policy do not compile: "
                      "%s %s", field, err);
        ngx_free(ks->text);
        ks->text = NULL;
        return NULL;
    }

    ks->crc = crc;
    ks->len = conf->len;
    ks->used = ++ngx_http_ws_api_keysets_tick;

    return ks->jwt;
}


ngx_int_t
ngx_http_ws_api_identify_reject(ngx_http_request_t *r, ngx_int_t why,
    ngx_http_ws_api_policy_t *pol, ngx_http_ws_api_ident_t *ident)
{
    json_t           *error;
    ngx_int_t         rc;
    ngx_uint_t        status;
    const char       *reason;
    ngx_table_elt_t  *h;

    if (why == NGX_HTTP_WS_API_REFUSE_NOT_REGISTERED) {
        status = NGX_HTTP_FORBIDDEN;
        reason = "application_not_registered";

    } else {
        status = NGX_HTTP_UNAUTHORIZED;
        reason = (why == NGX_HTTP_WS_API_REFUSE_ANONYMOUS)
                 ? "credentials_required" : "invalid_credentials";

        /* a challenge for each method, in the policy's order */

        if (pol->api_key && !pol->jwt_first) {
            h = ngx_list_push(&r->headers_out.headers);
            if (h == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            h->hash = 1;
            ngx_str_set(&h->key, "WWW-Authenticate");
            ngx_str_set(&h->value, "APIKey realm=\"ws-api\"");
        }

        if (pol->jwt) {
            h = ngx_list_push(&r->headers_out.headers);
            if (h == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            h->hash = 1;
            ngx_str_set(&h->key, "WWW-Authenticate");

            if (ident->bearer) {
                ngx_str_set(&h->value,
                            "Bearer realm=\"ws-api\", error=\"invalid_token\"");

            } else {
                ngx_str_set(&h->value, "Bearer realm=\"ws-api\"");
            }
        }

        if (pol->api_key && pol->jwt_first) {
            h = ngx_list_push(&r->headers_out.headers);
            if (h == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            h->hash = 1;
            ngx_str_set(&h->key, "WWW-Authenticate");
            ngx_str_set(&h->value, "APIKey realm=\"ws-api\"");
        }
    }

    error = json_pack("{s:{s:i, s:s, s:s}}", "error",
                      "status", (int) status,
                      "message", ident->detail ? ident->detail
                                               : "identification failed",
                      "reason", reason);
    if (error == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_ws_api_send_json(r, status, error);
    json_decref(error);

    return rc;
}


void
ngx_http_ws_api_identify_exit(void)
{
    ngx_uint_t                 i;
    ngx_http_ws_api_keyset_t  *ks;

    for (i = 0; i < NGX_HTTP_WS_API_IDENTIFY_KEYSETS; i++) {
        ks = &ngx_http_ws_api_keysets[i];

        if (ks->jwt) {
            ngx_http_ws_api_jwt_free(ks->jwt);
            ngx_free(ks->text);
        }

        ngx_memzero(ks, sizeof(ngx_http_ws_api_keyset_t));
    }
}
