
/*
 * Copyright (C) ws-api authors
 */


/*
 * The gateway's handshake checks (SPEC 4.1), at the precontent phase of a
 * location with "ws_api_gateway", before nginx contacts the backend:
 * the API of /{apiName}/{apiVersion} (404), a WebSocket upgrade (426,
 * 400), then each declared parameter (400).  Only the shared zone is read:
 * no Redis command is sent while a client connects.  A request that passes
 * gets the context that $ws_api_backend and the relay read.
 */


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_cache.h"
#include "ngx_http_ws_api_param.h"
#include "ngx_http_ws_api_def.h"
#include "ngx_http_ws_api_relay.h"
#include "ngx_http_ws_api_metrics.h"
#include "ngx_http_ws_api_identify.h"
#include "ngx_http_ws_api_validate.h"


#define NGX_HTTP_WS_API_UPGRADE_REQUIRED  426

/* request headers looked at on the stack; more go to the request's pool */
#define NGX_HTTP_WS_API_STACK_HEADERS     48

/* why a policy refuses a handshake */
#define NGX_HTTP_WS_API_REFUSE_IP         1
#define NGX_HTTP_WS_API_REFUSE_ORIGIN     2
#define NGX_HTTP_WS_API_REFUSE_CONNS      3


/* why a request is not a WebSocket upgrade, checked before the lock */

typedef enum {
    NGX_HTTP_WS_API_UPGRADE_OK = 0,
    NGX_HTTP_WS_API_UPGRADE_METHOD,
    NGX_HTTP_WS_API_UPGRADE_VERSION,
    NGX_HTTP_WS_API_UPGRADE_HEADER,
    NGX_HTTP_WS_API_UPGRADE_CONNECTION,
    NGX_HTTP_WS_API_UPGRADE_WS_VERSION,
    NGX_HTTP_WS_API_UPGRADE_KEY
} ngx_http_ws_api_upgrade_e;


/* the request headers of a handshake, lower case, and their hashes */

static ngx_str_t  ngx_http_ws_api_headers[] = {
    ngx_string("upgrade"),
    ngx_string("connection"),
    ngx_string("sec-websocket-version"),
    ngx_string("sec-websocket-key")
};

static ngx_uint_t  ngx_http_ws_api_hashes[4];


static ngx_int_t ngx_http_ws_api_gateway_path(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *version, ngx_str_t *extra);
static ngx_http_ws_api_upgrade_e ngx_http_ws_api_gateway_upgrade(
    ngx_http_request_t *r);
static ngx_uint_t ngx_http_ws_api_gateway_token(ngx_str_t *value,
    const char *token);
static ngx_int_t ngx_http_ws_api_gateway_key(ngx_str_t *value);
static ngx_int_t ngx_http_ws_api_gateway_refuse(ngx_http_request_t *r,
    ngx_http_ws_api_upgrade_e why);
static ngx_int_t ngx_http_ws_api_gateway_params(ngx_http_request_t *r,
    ngx_http_ws_api_entry_t *e, json_t **error);
static json_t *ngx_http_ws_api_gateway_param_error(
    const ngx_http_ws_api_param_t *p, ngx_http_ws_api_reason_e reason);
static ngx_int_t ngx_http_ws_api_gateway_policy(ngx_http_request_t *r,
    ngx_http_ws_api_entry_t *e, ngx_http_ws_api_cache_t *cache,
    ngx_http_ws_api_ident_t *ident);
static ngx_int_t ngx_http_ws_api_gateway_origin(ngx_http_request_t *r,
    ngx_http_ws_api_policy_t *pol);
static ngx_int_t ngx_http_ws_api_gateway_reject(ngx_http_request_t *r,
    ngx_int_t why, ngx_http_ws_api_entry_t *e,
    ngx_http_ws_api_ident_t *ident);
static void ngx_http_ws_api_gateway_extensions(ngx_http_request_t *r);
static ngx_int_t ngx_http_ws_api_gateway_accept(ngx_http_request_t *r,
    ngx_http_ws_api_entry_t *e, ngx_str_t *extra);
static ngx_int_t ngx_http_ws_api_gateway_send(ngx_http_request_t *r,
    ngx_int_t rc);


ngx_http_ws_api_ctx_t *
ngx_http_ws_api_gateway_ctx(ngx_http_request_t *r)
{
    ngx_http_ws_api_loc_conf_t  *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_ws_api_module);

    if (wlcf == NULL || !wlcf->gateway) {
        return NULL;
    }

    return ngx_http_get_module_ctx(r, ngx_http_ws_api_module);
}


ngx_int_t
ngx_http_ws_api_gateway_handler(ngx_http_request_t *r)
{
    json_t                       *error;
    ngx_int_t                     rc;
    ngx_str_t                     name, version, extra;
    ngx_uint_t                    loaded;
    ngx_int_t                     why;
    ngx_http_ws_api_ctx_t        *ctx;
    ngx_http_ws_api_entry_t      *e;
    ngx_http_ws_api_cache_t      *cache;
    ngx_http_ws_api_loc_conf_t   *wlcf;
    ngx_http_ws_api_ident_t       ident;
    ngx_http_ws_api_upgrade_e     upgrade;
    ngx_http_ws_api_main_conf_t  *wmcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_ws_api_module);

    if (!wlcf->gateway || r != r->main
        || ngx_http_get_module_ctx(r, ngx_http_ws_api_module))
    {
        return NGX_DECLINED;
    }

    if (ngx_http_ws_api_gateway_path(r, &name, &version, &extra) != NGX_OK) {
        ngx_http_ws_api_metrics_reject(r, NULL, NULL, "not_found");
        return ngx_http_ws_api_gateway_send(r,
                   ngx_http_ws_api_send_error(r, NGX_HTTP_NOT_FOUND, NULL,
                       "no API at this path; expected "
                       "{apiName}/{apiVersion} after the gateway prefix"));
    }

    upgrade = ngx_http_ws_api_gateway_upgrade(r);

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_ws_api_module);
    cache = wmcf->shm_zone->data;

    error = NULL;

    ngx_http_ws_api_cache_lock(cache);

    loaded = cache->sh->loaded;
    e = ngx_http_ws_api_cache_find(cache, &name, &version);

    if (e == NULL || !e->active) {
        ngx_http_ws_api_cache_unlock(cache);

        ngx_http_ws_api_metrics_reject(r, NULL, NULL,
                                       loaded ? "not_found" : "not_loaded");

        if (!loaded) {
            return ngx_http_ws_api_gateway_send(r,
                       ngx_http_ws_api_send_error(r,
                           NGX_HTTP_SERVICE_UNAVAILABLE, NULL,
                           "the API definitions are not loaded yet"));
        }

        return ngx_http_ws_api_gateway_send(r,
                   ngx_http_ws_api_send_error(r, NGX_HTTP_NOT_FOUND, NULL,
                       "no active API \"%V\" version \"%V\"",
                       &name, &version));
    }

    if (upgrade != NGX_HTTP_WS_API_UPGRADE_OK) {
        ngx_http_ws_api_cache_unlock(cache);

        ngx_http_ws_api_metrics_reject(r, &name, &version,
            upgrade == NGX_HTTP_WS_API_UPGRADE_KEY ? "bad_key"
            : upgrade == NGX_HTTP_WS_API_UPGRADE_WS_VERSION ? "bad_version"
            : "not_upgrade");

        return ngx_http_ws_api_gateway_send(r,
                   ngx_http_ws_api_gateway_refuse(r, upgrade));
    }

    rc = ngx_http_ws_api_gateway_params(r, e, &error);

    why = NGX_OK;
    ngx_memzero(&ident, sizeof(ngx_http_ws_api_ident_t));

    if (rc == NGX_OK && e->policy) {
        why = ngx_http_ws_api_gateway_policy(r, e, cache, &ident);

        if (why == NGX_ERROR) {
            rc = NGX_ERROR;
        }
    }

    if (rc == NGX_OK && why == NGX_OK) {
        rc = ngx_http_ws_api_gateway_accept(r, e, &extra);

        if (rc == NGX_OK) {
            ctx = ngx_http_get_module_ctx(r, ngx_http_ws_api_module);
            ctx->app_id = ident.app_id;
            ctx->app_name = ident.app_name;
            ctx->app_key = ident.key_hash;
        }
    }

    if (rc == NGX_OK && why == NGX_OK && e->policy
        && e->policy->max_connections)
    {
        /* the last check of SPEC 5: counted once the context holds it */

        ctx = ngx_http_get_module_ctx(r, ngx_http_ws_api_module);

        why = ngx_http_ws_api_cache_conn_add(cache, &e->id,
                                             e->policy->max_connections,
                                             &ctx->conns);
        if (why == NGX_DECLINED) {
            why = NGX_HTTP_WS_API_REFUSE_CONNS;

        } else if (why == NGX_ERROR) {
            rc = NGX_ERROR;
        }
    }

    if (why != NGX_OK && rc == NGX_OK) {
        rc = ngx_http_ws_api_gateway_reject(r, why, e, &ident);
        ngx_http_ws_api_cache_unlock(cache);

        return ngx_http_ws_api_gateway_send(r, rc);
    }

    ngx_http_ws_api_cache_unlock(cache);

    if (rc == NGX_OK) {
        return NGX_DECLINED;
    }

    if (rc == NGX_DECLINED) {

        /* a parameter was refused: error is what to answer */

        if (error == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_ws_api_send_json(r, NGX_HTTP_BAD_REQUEST, error);
        json_decref(error);

        return ngx_http_ws_api_gateway_send(r, rc);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/* {apiName}/{apiVersion}[/extra] after the location's prefix */

static ngx_int_t
ngx_http_ws_api_gateway_path(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *version, ngx_str_t *extra)
{
    u_char                    *p, *end;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->uri.len < clcf->name.len) {
        return NGX_DECLINED;
    }

    p = r->uri.data + clcf->name.len;
    end = r->uri.data + r->uri.len;

    if (p < end && *p == '/') {
        p++;
    }

    name->data = p;

    while (p < end && *p != '/') {
        p++;
    }

    name->len = p - name->data;

    if (p == end) {
        return NGX_DECLINED;
    }

    version->data = ++p;

    while (p < end && *p != '/') {
        p++;
    }

    version->len = p - version->data;

    extra->data = p;
    extra->len = end - p;

    if (!ngx_http_ws_api_name_valid(name->data, name->len)
        || !ngx_http_ws_api_name_valid(version->data, version->len))
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_http_ws_api_upgrade_e
ngx_http_ws_api_gateway_upgrade(ngx_http_request_t *r)
{
    ngx_str_t        *version, *key;
    ngx_uint_t        i, k, upgrade, connection, nversions, nkeys;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (r->method != NGX_HTTP_GET) {
        return NGX_HTTP_WS_API_UPGRADE_METHOD;
    }

    if (r->http_version < NGX_HTTP_VERSION_11
#if (NGX_HTTP_V2)
        || r->stream
#endif
       )
    {
        return NGX_HTTP_WS_API_UPGRADE_VERSION;
    }

    upgrade = 0;
    connection = 0;
    version = NULL;
    key = NULL;
    nversions = 0;
    nkeys = 0;

    /* nginx has hashed each header's name in lower case already */

    if (ngx_http_ws_api_hashes[0] == 0) {
        for (i = 0; i < 4; i++) {
            ngx_http_ws_api_hashes[i] = ngx_hash_key(
                                        ngx_http_ws_api_headers[i].data,
                                        ngx_http_ws_api_headers[i].len);
        }
    }

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

        for (k = 0; k < 4; k++) {
            if (h[i].hash == ngx_http_ws_api_hashes[k]
                && h[i].key.len == ngx_http_ws_api_headers[k].len
                && ngx_strncmp(h[i].lowcase_key,
                               ngx_http_ws_api_headers[k].data,
                               h[i].key.len)
                   == 0)
            {
                break;
            }
        }

        switch (k) {

        case 0:
            upgrade |= ngx_http_ws_api_gateway_token(&h[i].value,
                                                     "websocket");
            break;

        case 1:
            connection |= ngx_http_ws_api_gateway_token(&h[i].value,
                                                        "upgrade");
            break;

        case 2:
            version = &h[i].value;
            nversions++;
            break;

        case 3:
            key = &h[i].value;
            nkeys++;
            break;

        default:
            break;
        }
    }

    if (!upgrade) {
        return NGX_HTTP_WS_API_UPGRADE_HEADER;
    }

    if (!connection) {
        return NGX_HTTP_WS_API_UPGRADE_CONNECTION;
    }

    /* a repeated header is not one value */

    if (nversions != 1 || version->len != 2
        || version->data[0] != '1' || version->data[1] != '3')
    {
        return NGX_HTTP_WS_API_UPGRADE_WS_VERSION;
    }

    if (nkeys != 1 || ngx_http_ws_api_gateway_key(key) != NGX_OK) {
        return NGX_HTTP_WS_API_UPGRADE_KEY;
    }

    return NGX_HTTP_WS_API_UPGRADE_OK;
}


/* whether a comma-separated header value has the token, in any case */

static ngx_uint_t
ngx_http_ws_api_gateway_token(ngx_str_t *value, const char *token)
{
    u_char  *p, *end, *start, *last;
    size_t   len;

    len = ngx_strlen(token);

    p = value->data;
    end = p + value->len;

    while (p < end) {

        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        start = p;

        while (p < end && *p != ',') {
            p++;
        }

        last = p;

        while (last > start && (last[-1] == ' ' || last[-1] == '\t')) {
            last--;
        }

        if ((size_t) (last - start) == len
            && ngx_strncasecmp(start, (u_char *) token, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* Sec-WebSocket-Key: 16 bytes in base64, which is 24 characters */

static ngx_int_t
ngx_http_ws_api_gateway_key(ngx_str_t *value)
{
    u_char     buf[18];
    ngx_str_t  key, decoded;

    key = *value;

    while (key.len && (key.data[0] == ' ' || key.data[0] == '\t')) {
        key.data++;
        key.len--;
    }

    while (key.len
           && (key.data[key.len - 1] == ' ' || key.data[key.len - 1] == '\t'))
    {
        key.len--;
    }

    if (key.len != 24 || key.data[22] != '=' || key.data[23] != '=') {
        return NGX_DECLINED;
    }

    decoded.data = buf;

    if (ngx_decode_base64(&decoded, &key) != NGX_OK || decoded.len != 16) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_ws_api_gateway_refuse(ngx_http_request_t *r,
    ngx_http_ws_api_upgrade_e why)
{
    ngx_table_elt_t  *h;

    if (why == NGX_HTTP_WS_API_UPGRADE_KEY) {
        return ngx_http_ws_api_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          NULL, "Sec-WebSocket-Key must be "
                                          "16 bytes in base64");
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;

    /* nginx knows no reason phrase for 426 */

    ngx_str_set(&r->headers_out.status_line, "426 Upgrade Required");

    if (why == NGX_HTTP_WS_API_UPGRADE_WS_VERSION) {
        ngx_str_set(&h->key, "Sec-WebSocket-Version");
        ngx_str_set(&h->value, "13");

        return ngx_http_ws_api_send_error(r, NGX_HTTP_WS_API_UPGRADE_REQUIRED, NULL,
                                          "Sec-WebSocket-Version must be 13");
    }

    ngx_str_set(&h->key, "Upgrade");
    ngx_str_set(&h->value, "websocket");

    return ngx_http_ws_api_send_error(r, NGX_HTTP_WS_API_UPGRADE_REQUIRED, NULL,
               "%s",
               why == NGX_HTTP_WS_API_UPGRADE_METHOD
               ? "a WebSocket handshake is a GET request"
               : why == NGX_HTTP_WS_API_UPGRADE_VERSION
               ? "a WebSocket handshake needs HTTP/1.1"
               : why == NGX_HTTP_WS_API_UPGRADE_HEADER
               ? "this endpoint needs \"Upgrade: websocket\""
               : "this endpoint needs \"Connection: Upgrade\"");
}


/*
 * Checks each declared parameter (with the lock held: the parameters
 * live in the zone).  NGX_DECLINED: *error is the answer's body.
 */

static ngx_int_t
ngx_http_ws_api_gateway_params(ngx_http_request_t *r,
    ngx_http_ws_api_entry_t *e, json_t **error)
{
    u_char                     stack_scratch[2048], *scratch;
    ngx_uint_t                 i, n, nheaders, want_headers;
    ngx_list_part_t           *part;
    ngx_table_elt_t           *h;
    ngx_http_ws_api_header_t   stack_headers[NGX_HTTP_WS_API_STACK_HEADERS];
    ngx_http_ws_api_header_t  *headers;
    ngx_http_ws_api_reason_e   reason;

    if (e->nparams == 0) {
        return NGX_OK;
    }

    want_headers = 0;

    for (n = 0; n < e->nparams; n++) {
        if (e->params[n].in == NGX_HTTP_WS_API_IN_HEADER) {
            want_headers = 1;
            break;
        }
    }

    /*
     * the request's pool is kept for the life of the connection: what
     * is needed only here lives on the stack when it fits
     */

    headers = NULL;
    nheaders = 0;

    if (want_headers) {

        n = 0;

        for (part = &r->headers_in.headers.part; part; part = part->next) {
            n += part->nelts;
        }

        headers = stack_headers;

        if (n > NGX_HTTP_WS_API_STACK_HEADERS) {
            headers = ngx_palloc(r->pool,
                                 n * sizeof(ngx_http_ws_api_header_t));
            if (headers == NULL) {
                return NGX_ERROR;
            }
        }

        for (part = &r->headers_in.headers.part; part; part = part->next) {
            h = part->elts;

            for (i = 0; i < part->nelts; i++) {
                headers[nheaders].name = h[i].key.data;
                headers[nheaders].name_len = h[i].key.len;
                headers[nheaders].value = h[i].value.data;
                headers[nheaders].value_len = h[i].value.len;
                nheaders++;
            }
        }
    }

    scratch = stack_scratch;

    if (r->args.len > sizeof(stack_scratch)) {
        scratch = ngx_pnalloc(r->pool, r->args.len);
        if (scratch == NULL) {
            return NGX_ERROR;
        }
    }

    for (n = 0; n < e->nparams; n++) {

        reason = ngx_http_ws_api_param_check(&e->params[n], r->args.data,
                                             r->args.len, headers, nheaders,
                                             scratch);

        if (reason != NGX_HTTP_WS_API_PARAM_OK) {
            ngx_http_ws_api_metrics_reject(r, &e->name, &e->version,
                                       ngx_http_ws_api_reason_name(reason));
            *error = ngx_http_ws_api_gateway_param_error(&e->params[n],
                                                         reason);
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static json_t *
ngx_http_ws_api_gateway_param_error(const ngx_http_ws_api_param_t *p,
    ngx_http_ws_api_reason_e reason)
{
    u_char      message[512], *m, *last;
    size_t      i, len;
    const char  *in;

    in = (p->in == NGX_HTTP_WS_API_IN_HEADER) ? "header" : "query parameter";
    len = ngx_min(p->name_len, 256);

    m = message;
    last = message + sizeof(message) - 1;

    switch (reason) {

    case NGX_HTTP_WS_API_PARAM_MISSING:
        m = ngx_slprintf(m, last, "required %s \"%*s\" is missing", in,
                         len, p->name);
        break;

    case NGX_HTTP_WS_API_PARAM_NOT_ARRAY:
        m = ngx_slprintf(m, last, "%s \"%*s\" takes a single value", in,
                         len, p->name);
        break;

    case NGX_HTTP_WS_API_PARAM_INVALID_TYPE:
        m = ngx_slprintf(m, last, "%s \"%*s\" must be of type %s", in,
                         len, p->name, ngx_http_ws_api_type_name(p->type));
        break;

    default: /* NGX_HTTP_WS_API_PARAM_NOT_ALLOWED */
        m = ngx_slprintf(m, last, "%s \"%*s\" has a value that is not "
                         "allowed; allowed:", in, len, p->name);

        for (i = 0; i < p->nvalues && last - m > 80; i++) {
            m = ngx_slprintf(m, last, "%s \"%*s\"", i ? "," : "",
                             ngx_min(p->values[i].len, 64),
                             p->values[i].data);
        }

        if (i < p->nvalues) {
            m = ngx_slprintf(m, last, " ...");
        }
    }

    *m = '\0';

    /* a value may have been cut inside a character */

    ngx_http_ws_api_json_sanitize(message, m - message);

    return json_pack("{s:{s:i, s:s, s:s%, s:s, s:s}}", "error",
                     "status", 400,
                     "message", (char *) message,
                     "parameter", (const char *) p->name, p->name_len,
                     "in", ngx_http_ws_api_in_name(p->in),
                     "reason", ngx_http_ws_api_reason_name(reason));
}


/*
 * The API's policies at the handshake (SPEC 5), in their order: ipAllow
 * and ipDeny on the address nginx sees ($remote_addr, after realip), then
 * allowedOrigins.  maxConnections comes last, once the request passed
 * everything else.  Returns NGX_OK or why it is refused.
 */

static ngx_int_t
ngx_http_ws_api_gateway_policy(ngx_http_request_t *r,
    ngx_http_ws_api_entry_t *e, ngx_http_ws_api_cache_t *cache,
    ngx_http_ws_api_ident_t *ident)
{
    struct sockaddr           *sa;
    ngx_http_ws_api_policy_t  *pol;

    pol = e->policy;
    sa = r->connection->sockaddr;

    if (pol->deny.nelts && ngx_cidr_match(sa, &pol->deny) == NGX_OK) {
        return NGX_HTTP_WS_API_REFUSE_IP;
    }

    if (pol->allow.nelts && ngx_cidr_match(sa, &pol->allow) != NGX_OK) {
        return NGX_HTTP_WS_API_REFUSE_IP;
    }

    if (pol->origins_set && ngx_http_ws_api_gateway_origin(r, pol) != NGX_OK)
    {
        return NGX_HTTP_WS_API_REFUSE_ORIGIN;
    }

    if (pol->identify) {
        return ngx_http_ws_api_identify(r, pol, cache, &e->id, ident);
    }

    return NGX_OK;
}


/* every Origin header of the request is among the allowed ones */

static ngx_int_t
ngx_http_ws_api_gateway_origin(ngx_http_request_t *r,
    ngx_http_ws_api_policy_t *pol)
{
    ngx_uint_t        i, k;
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

        if (h[i].key.len != sizeof("origin") - 1
            || ngx_strncmp(h[i].lowcase_key, "origin", h[i].key.len) != 0)
        {
            continue;
        }

        for (k = 0; k < pol->norigins; k++) {
            if (h[i].value.len == pol->origins[k].len
                && ngx_strncasecmp(h[i].value.data, pol->origins[k].data,
                                   h[i].value.len)
                   == 0)
            {
                break;
            }
        }

        if (k == pol->norigins) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* the JSON error of SPEC 3.3 with the reason of a refused policy */

static ngx_int_t
ngx_http_ws_api_gateway_reject(ngx_http_request_t *r, ngx_int_t why,
    ngx_http_ws_api_entry_t *e, ngx_http_ws_api_ident_t *ident)
{
    json_t           *error;
    ngx_int_t         rc;
    ngx_uint_t        status;
    const char       *reason, *message;
    ngx_table_elt_t  *h;

    if (why >= NGX_HTTP_WS_API_REFUSE_ANONYMOUS) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ws_api \"%V\" version \"%V\": handshake refused, %s",
                      &e->name, &e->version, ident->detail);

        ngx_http_ws_api_metrics_reject(r, &e->name, &e->version,
            why == NGX_HTTP_WS_API_REFUSE_NOT_REGISTERED
            ? "application_not_registered"
            : why == NGX_HTTP_WS_API_REFUSE_ANONYMOUS
              ? "credentials_required" : "invalid_credentials");

        return ngx_http_ws_api_identify_reject(r, why, e->policy, ident);
    }

    switch (why) {

    case NGX_HTTP_WS_API_REFUSE_IP:
        status = NGX_HTTP_FORBIDDEN;
        reason = "ip_not_allowed";
        message = "the client address is not allowed for this API";
        break;

    case NGX_HTTP_WS_API_REFUSE_ORIGIN:
        status = NGX_HTTP_FORBIDDEN;
        reason = "origin_not_allowed";
        message = "the Origin of this request is not allowed for this API";
        break;

    default: /* NGX_HTTP_WS_API_REFUSE_CONNS */
        status = NGX_HTTP_TOO_MANY_REQUESTS;
        reason = "connection_limit";
        message = "the API has as many connections as it allows; "
                  "retry later";

        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Retry-After");
        ngx_str_set(&h->value, "1");
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "ws_api \"%V\" version \"%V\": handshake refused, %s",
                  &e->name, &e->version, reason);

    ngx_http_ws_api_metrics_reject(r, &e->name, &e->version, reason);

    error = json_pack("{s:{s:i, s:s, s:s}}", "error",
                      "status", (int) status,
                      "message", message,
                      "reason", reason);
    if (error == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_ws_api_send_json(r, status, error);
    json_decref(error);

    return rc;
}


/* the request passes: what the proxy and the relay need, copied out */

static ngx_int_t
ngx_http_ws_api_gateway_accept(ngx_http_request_t *r,
    ngx_http_ws_api_entry_t *e, ngx_str_t *extra)
{
    u_char                 *p;
    size_t                  len, escape;
    ngx_str_t               path;
    ngx_uint_t              limited;
    ngx_pool_cleanup_t     *cln;
    ngx_http_ws_api_ctx_t  *ctx;

    /*
     * The context and its strings live as long as the connection, and
     * the request's pool is nearly full by the time a WebSocket is idle:
     * they are an allocation of their own, freed with the relay's state
     * by the cleanup (which the pool holds).
     */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    path = *extra;

    /* "/stream/" and "/eu" make "/stream/eu" */

    if (path.len && e->backend.len
        && e->backend.data[e->backend.len - 1] == '/')
    {
        path.data++;
        path.len--;
    }

    escape = 2 * ngx_escape_uri(NULL, path.data, path.len, NGX_ESCAPE_URI);

    len = e->id.len + e->name.len + e->version.len + e->backend.len
          + path.len + escape + 1 + r->args.len;

    limited = (e->policy && e->policy->limited);

    if (limited) {
        len += sizeof(ngx_http_ws_api_limits_t);
    }

    ctx = ngx_alloc(sizeof(ngx_http_ws_api_ctx_t) + len, r->connection->log);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(ctx, sizeof(ngx_http_ws_api_ctx_t));

    cln->handler = ngx_http_ws_api_relay_cleanup;
    cln->data = ctx;

    p = (u_char *) (ctx + 1);

    if (limited) {

        /* a PUT of new policies applies to new connections */

        ctx->limits = p;
        p = ngx_cpymem(p, &e->policy->limits,
                       sizeof(ngx_http_ws_api_limits_t));
    }

    ctx->id.data = p;
    ctx->id.len = e->id.len;
    p = ngx_cpymem(p, e->id.data, e->id.len);

    ctx->name.data = p;
    ctx->name.len = e->name.len;
    p = ngx_cpymem(p, e->name.data, e->name.len);

    ctx->version.data = p;
    ctx->version.len = e->version.len;
    p = ngx_cpymem(p, e->version.data, e->version.len);

    ctx->backend.data = p;
    p = ngx_cpymem(p, e->backend.data, e->backend.len);

    if (escape) {
        p = (u_char *) ngx_escape_uri(p, path.data, path.len,
                                      NGX_ESCAPE_URI);

    } else {
        p = ngx_cpymem(p, path.data, path.len);
    }

    if (r->args.len) {
        *p++ = '?';
        p = ngx_cpymem(p, r->args.data, r->args.len);
    }

    ctx->backend.len = p - ctx->backend.data;

    ctx->messages = e->messages;

    ngx_http_set_ctx(r, ctx, ngx_http_ws_api_module);

    if (e->schemas[0].len || e->schemas[1].len) {

        /* compiled once per revision in each worker */

        ctx->schemas = ngx_http_ws_api_schemas_get(&e->id, e->crc, e->schemas,
                                                   r->connection->log);
        if (ctx->schemas == NULL) {
            return NGX_ERROR;
        }

        ngx_http_ws_api_gateway_extensions(r);
    }

    return NGX_OK;
}


/*
 * An API with schemas: the client's Sec-WebSocket-Extensions is not
 * passed on, so that no extension (permessage-deflate) transforms the
 * payloads to validate.  The header is renamed to one that the proxy
 * module always sets itself, and so never passes.
 */

static void
ngx_http_ws_api_gateway_extensions(ngx_http_request_t *r)
{
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

        if (h[i].key.len == sizeof("Sec-WebSocket-Extensions") - 1
            && ngx_strncasecmp(h[i].key.data,
                               (u_char *) "Sec-WebSocket-Extensions",
                               h[i].key.len) == 0)
        {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "ws_api extensions not passed on: \"%V\"",
                           &h[i].value);

            ngx_str_set(&h[i].key, "Keep-Alive");
            h[i].lowcase_key = (u_char *) "keep-alive";
            h[i].hash = ngx_hash_key(h[i].lowcase_key, h[i].key.len);
        }
    }
}


/*
 * The gateway answered the request itself: finalized here, the phase
 * handler says NGX_DONE.
 */

static ngx_int_t
ngx_http_ws_api_gateway_send(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}
