
/*
 * Copyright (C) ws-api authors
 */


/*
 * The admin API of SPEC 3: APIs, users, teams and health, served by the
 * location that has "ws_api_admin".
 *
 * A request goes: route (404, 405), identity (401), body (413, 415),
 * privileges (403, read from Redis unless a superuser), then its
 * operation.  Operations are chains of Redis commands; each reply is
 * handled by the step the request waits in.  Changes to an API are
 * compare-and-set: the definition read is handed back to the script that
 * writes, which refuses if it changed meanwhile, and the change is tried
 * again from the read.
 */


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_admin.h"
#include "ngx_http_ws_api_store.h"
#include "ngx_http_ws_api_cache.h"
#include "ngx_http_ws_api_def.h"
#include "ngx_http_ws_api_asyncapi.h"
#include "ngx_http_ws_api_app.h"

#include <sys/random.h>


static const ngx_http_ws_api_route_t *ngx_http_ws_api_admin_route(
    ngx_http_request_t *r, ngx_str_t *arg, ngx_str_t *arg2);
static void ngx_http_ws_api_admin_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_ws_api_admin_start(ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_auth_step(
    ngx_http_ws_api_admin_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_ws_api_admin_authorized(
    ngx_http_ws_api_admin_t *ctx);
static void ngx_http_ws_api_admin_woken(ngx_event_t *ev);
static ngx_int_t ngx_http_ws_api_admin_finish(ngx_http_ws_api_admin_t *ctx,
    ngx_int_t rc);
static void ngx_http_ws_api_admin_cleanup(void *data);

static ngx_int_t ngx_http_ws_api_admin_health(ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_health_step(
    ngx_http_ws_api_admin_t *ctx, redisReply *reply);
static void ngx_http_ws_api_admin_health_again(ngx_event_t *ev);
static ngx_int_t ngx_http_ws_api_admin_me(ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_list_apis(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_list_apis_step(
    ngx_http_ws_api_admin_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_ws_api_admin_get_api(ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_get_api_done(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_create_api(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_get_asyncapi(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_asyncapi_done(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_replace_api(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_decide_replace(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_delete_api(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_decide_delete(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_activate(ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_deactivate(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_decide_activation(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_new_version(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_decide_version(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_read(ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_read_step(
    ngx_http_ws_api_admin_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_ws_api_admin_write(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_write_step(
    ngx_http_ws_api_admin_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_ws_api_admin_created(ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_changed(ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_deleted(ngx_http_ws_api_admin_t *ctx);

static ngx_int_t ngx_http_ws_api_admin_list_named(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_list_named_step(
    ngx_http_ws_api_admin_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_ws_api_admin_list(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply, size_t first, const char *key);
static json_t *ngx_http_ws_api_admin_named(u_char *name, size_t len,
    json_t *stored);
static ngx_int_t ngx_http_ws_api_admin_get_named(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_get_named_step(
    ngx_http_ws_api_admin_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_ws_api_admin_put_named(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_put_named_step(
    ngx_http_ws_api_admin_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_ws_api_admin_delete_named(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_delete_named_step(
    ngx_http_ws_api_admin_t *ctx, redisReply *reply);

static void ngx_http_ws_api_admin_audited(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_ws_api_admin_parse_body(
    ngx_http_ws_api_admin_t *ctx);
static ngx_int_t ngx_http_ws_api_admin_asyncapi_body(
    ngx_http_ws_api_admin_t *ctx);
static json_t *ngx_http_ws_api_admin_stored(json_t *canonical, const char *id,
    int active, json_int_t revision, const char *created,
    const char *updated);
static json_t *ngx_http_ws_api_admin_output(ngx_http_ws_api_admin_t *ctx,
    json_t *def, ngx_uint_t summary);
static ngx_int_t ngx_http_ws_api_admin_if_match(ngx_http_ws_api_admin_t *ctx,
    json_int_t revision);
static ngx_int_t ngx_http_ws_api_admin_etag(ngx_http_ws_api_admin_t *ctx,
    json_t *def);
static void ngx_http_ws_api_admin_quotes(u_char *p, size_t len);
static int ngx_http_ws_api_admin_compare(const void *one, const void *two);


static ngx_http_ws_api_route_t  ngx_http_ws_api_routes[] = {

    { ngx_string("health"), 1, ngx_null_string, 0, 1, "GET, HEAD",
      { { NGX_HTTP_GET, 0, NGX_HTTP_WS_API_BODY_NONE,
          ngx_http_ws_api_admin_health } } },

    { ngx_string("me"), 1, ngx_null_string, 0, 0, "GET, HEAD",
      { { NGX_HTTP_GET, 0, NGX_HTTP_WS_API_BODY_NONE,
          ngx_http_ws_api_admin_me } } },

    { ngx_string("apis"), 1, ngx_null_string, 0, 0, "GET, HEAD, POST",
      { { NGX_HTTP_GET, 0, NGX_HTTP_WS_API_BODY_NONE,
          ngx_http_ws_api_admin_list_apis },
        { NGX_HTTP_POST, NGX_HTTP_WS_API_MANAGE|NGX_HTTP_WS_API_ACTIVATE,
          NGX_HTTP_WS_API_BODY_REQUIRED, ngx_http_ws_api_admin_create_api } } },

    { ngx_string("apis"), 2, ngx_null_string, 0, 0, "GET, HEAD, PUT, DELETE",
      { { NGX_HTTP_GET, 0, NGX_HTTP_WS_API_BODY_NONE,
          ngx_http_ws_api_admin_get_api },
        { NGX_HTTP_PUT, NGX_HTTP_WS_API_MANAGE|NGX_HTTP_WS_API_ACTIVATE,
          NGX_HTTP_WS_API_BODY_REQUIRED, ngx_http_ws_api_admin_replace_api },
        { NGX_HTTP_DELETE, NGX_HTTP_WS_API_MANAGE|NGX_HTTP_WS_API_ACTIVATE,
          NGX_HTTP_WS_API_BODY_NONE, ngx_http_ws_api_admin_delete_api } } },

    { ngx_string("apis"), 3, ngx_string("activate"), 0, 0, "PUT",
      { { NGX_HTTP_PUT, NGX_HTTP_WS_API_ACTIVATE, NGX_HTTP_WS_API_BODY_NONE,
          ngx_http_ws_api_admin_activate } } },

    { ngx_string("apis"), 3, ngx_string("deactivate"), 0, 0, "PUT",
      { { NGX_HTTP_PUT, NGX_HTTP_WS_API_ACTIVATE, NGX_HTTP_WS_API_BODY_NONE,
          ngx_http_ws_api_admin_deactivate } } },

    { ngx_string("apis"), 3, ngx_string("asyncapi"), 0, 0, "GET, HEAD",
      { { NGX_HTTP_GET, 0, NGX_HTTP_WS_API_BODY_NONE,
          ngx_http_ws_api_admin_get_asyncapi } } },

    { ngx_string("apis"), 3, ngx_string("versions"), 0, 0, "POST",
      { { NGX_HTTP_POST, NGX_HTTP_WS_API_MANAGE|NGX_HTTP_WS_API_ACTIVATE,
          NGX_HTTP_WS_API_BODY_REQUIRED,
          ngx_http_ws_api_admin_new_version } } },

    { ngx_string("users"), 1, ngx_null_string, 0, 0, "GET, HEAD",
      { { NGX_HTTP_GET, NGX_HTTP_WS_API_USERS, NGX_HTTP_WS_API_BODY_NONE,
          ngx_http_ws_api_admin_list_named } } },

    { ngx_string("users"), 2, ngx_null_string, 0, 0, "GET, HEAD, PUT, DELETE",
      { { NGX_HTTP_GET, NGX_HTTP_WS_API_USERS, NGX_HTTP_WS_API_BODY_NONE,
          ngx_http_ws_api_admin_get_named },
        { NGX_HTTP_PUT, NGX_HTTP_WS_API_USERS, NGX_HTTP_WS_API_BODY_OPTIONAL,
          ngx_http_ws_api_admin_put_named },
        { NGX_HTTP_DELETE, NGX_HTTP_WS_API_USERS, NGX_HTTP_WS_API_BODY_NONE,
          ngx_http_ws_api_admin_delete_named } } },

    { ngx_string("teams"), 1, ngx_null_string, 1, 0, "GET, HEAD",
      { { NGX_HTTP_GET, NGX_HTTP_WS_API_USERS, NGX_HTTP_WS_API_BODY_NONE,
          ngx_http_ws_api_admin_list_named } } },

    { ngx_string("teams"), 2, ngx_null_string, 1, 0, "GET, HEAD, PUT, DELETE",
      { { NGX_HTTP_GET, NGX_HTTP_WS_API_USERS, NGX_HTTP_WS_API_BODY_NONE,
          ngx_http_ws_api_admin_get_named },
        { NGX_HTTP_PUT, NGX_HTTP_WS_API_USERS, NGX_HTTP_WS_API_BODY_OPTIONAL,
          ngx_http_ws_api_admin_put_named },
        { NGX_HTTP_DELETE, NGX_HTTP_WS_API_USERS, NGX_HTTP_WS_API_BODY_NONE,
          ngx_http_ws_api_admin_delete_named } } },

    NGX_HTTP_WS_API_APP_ROUTES
};


static const char  *ngx_http_ws_api_privileges[] = {
    "manage_apis", "activate_apis", "manage_users", "manage_applications",
    NULL
};


ngx_int_t
ngx_http_ws_api_admin_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_str_t                        arg, arg2, *su, ct;
    ngx_uint_t                       i, method;
    ngx_pool_cleanup_t              *cln;
    ngx_http_ws_api_admin_t         *ctx;
    ngx_http_ws_api_loc_conf_t      *wlcf;
    ngx_http_ws_api_main_conf_t     *wmcf;
    const ngx_http_ws_api_op_t      *op;
    const ngx_http_ws_api_route_t   *route;

    r->disable_not_modified = 1;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_ws_api_module);
    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_ws_api_module);

    ngx_str_null(&arg2);

    route = ngx_http_ws_api_admin_route(r, &arg, &arg2);

    if (route == NULL || (route->teams && !wmcf->teams)) {
        return ngx_http_ws_api_send_error(r, NGX_HTTP_NOT_FOUND, NULL,
                                          "no such endpoint: %*s",
                                          ngx_min(r->uri.len, 256),
                                          r->uri.data);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_ws_api_admin_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->started = ngx_current_msec;
    ctx->wmcf = wmcf;
    ctx->store = wmcf->store;
    ctx->route = route;
    ctx->arg = arg;
    ctx->arg2 = arg2;

    if (!route->public) {

        if (ngx_http_complex_value(r, wlcf->identity, &ctx->identity)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ctx->identity.len == 0) {
            return ngx_http_ws_api_send_error(r, NGX_HTTP_UNAUTHORIZED, NULL,
                                              "authentication required");
        }
    }

    method = (r->method == NGX_HTTP_HEAD) ? NGX_HTTP_GET : r->method;
    op = NULL;

    for (i = 0; i < 4 && route->ops[i].method; i++) {
        if (route->ops[i].method == method) {
            op = &route->ops[i];
            break;
        }
    }

    if (op == NULL) {
        ngx_str_set(&ct, "");
        ct.data = (u_char *) route->allow;
        ct.len = ngx_strlen(route->allow);

        if (ngx_http_ws_api_admin_header(r, "Allow", &ct) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_ws_api_send_error(r, NGX_HTTP_NOT_ALLOWED, NULL,
                                          "method %V is not allowed here; "
                                          "allowed: %s", &r->method_name,
                                          route->allow);
    }

    ctx->op = op;

    if (ctx->store == NULL) {
        return ngx_http_ws_api_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          NULL, "Redis is unavailable");
    }

    if (wlcf->superusers && ctx->identity.len) {
        su = wlcf->superusers->elts;

        for (i = 0; i < wlcf->superusers->nelts; i++) {
            if (su[i].len == ctx->identity.len
                && ngx_strncmp(su[i].data, ctx->identity.data, su[i].len)
                   == 0)
            {
                ctx->superuser = 1;
                ctx->privileges = NGX_HTTP_WS_API_ALL;
                break;
            }
        }
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_ws_api_admin_cleanup;
    cln->data = ctx;

    if (op->body == NGX_HTTP_WS_API_BODY_NONE
        || (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked))
    {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        rc = ngx_http_ws_api_admin_finish(ctx,
                                          ngx_http_ws_api_admin_start(ctx));

        if (rc == NGX_DONE) {
            r->main->count++;
        }

        return rc;
    }

    /* a JSON body */

    ct = r->headers_in.content_type ? r->headers_in.content_type->value
                                    : (ngx_str_t) ngx_null_string;

    for (i = 0; i < ct.len && ct.data[i] != ';' && ct.data[i] != ' '; i++) {
        /* void */
    }

    ct.len = i;

    ctx->asyncapi = ngx_http_ws_api_asyncapi_content_type((char *) ct.data,
                                                          ct.len);

    if (ctx->asyncapi && op->start != ngx_http_ws_api_admin_create_api) {
        return ngx_http_ws_api_send_error(r,
                                      NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
                                      "an AsyncAPI document creates an API "
                                      "with POST apis only");
    }

    if (!ctx->asyncapi && !((ct.len == sizeof("application/json") - 1
           && ngx_strncasecmp(ct.data, (u_char *) "application/json", ct.len)
              == 0)
          || (ct.len > sizeof("application/+json") - 1
              && ngx_strncasecmp(ct.data, (u_char *) "application/", 12) == 0
              && ngx_strncasecmp(ct.data + ct.len - 5, (u_char *) "+json", 5)
                 == 0)))
    {
        return ngx_http_ws_api_send_error(r,
                                      NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
                                      "the request body must be JSON "
                                      "(Content-Type: application/json)");
    }

    ngx_http_set_ctx(r, ctx, ngx_http_ws_api_module);

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                        ngx_http_ws_api_admin_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * The route of r->uri after the location's prefix: "apis", "apis/{id}",
 * "apis/{id}/activate"...; a trailing slash is allowed.
 */

static const ngx_http_ws_api_route_t *
ngx_http_ws_api_admin_route(ngx_http_request_t *r, ngx_str_t *arg,
    ngx_str_t *arg2)
{
    u_char                    *p, *end, *s;
    ngx_str_t                  seg[4];
    ngx_uint_t                 n, i;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->uri.len < clcf->name.len) {
        return NULL;
    }

    p = r->uri.data + clcf->name.len;
    end = r->uri.data + r->uri.len;

    n = 0;

    while (p < end) {

        if (*p == '/') {
            p++;
            continue;
        }

        if (n == 4) {
            return NULL;
        }

        s = p;

        while (p < end && *p != '/') {
            p++;
        }

        seg[n].data = s;
        seg[n].len = p - s;
        n++;

        if (p < end) {
            /* "a//b" is not "a/b" */
            if (p + 1 < end && p[1] == '/') {
                return NULL;
            }
        }
    }

    if (n == 0) {
        return NULL;
    }

    for (i = 0; i < sizeof(ngx_http_ws_api_routes)
                    / sizeof(ngx_http_ws_api_route_t); i++)
    {
        if (ngx_http_ws_api_routes[i].segments != n
            || ngx_http_ws_api_routes[i].collection.len != seg[0].len
            || ngx_strncmp(ngx_http_ws_api_routes[i].collection.data,
                           seg[0].data, seg[0].len) != 0)
        {
            continue;
        }

        if (n >= 3
            && (ngx_http_ws_api_routes[i].action.len != seg[2].len
                || ngx_strncmp(ngx_http_ws_api_routes[i].action.data,
                               seg[2].data, seg[2].len) != 0))
        {
            continue;
        }

        if (n > 1) {
            *arg = seg[1];
        }

        if (n > 3) {
            *arg2 = seg[3];
        }

        return &ngx_http_ws_api_routes[i];
    }

    return NULL;
}


static void
ngx_http_ws_api_admin_body_handler(ngx_http_request_t *r)
{
    size_t                    len;
    u_char                   *p;
    ngx_buf_t                *last;
    ngx_int_t                 rc;
    ngx_uint_t                n;
    ngx_chain_t              *cl;
    ngx_http_ws_api_admin_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_ws_api_module);

    if (r->request_body == NULL || r->request_body->temp_file) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* one piece, in memory (the body buffer holds the largest body) */

    len = 0;
    n = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (cl->buf->last > cl->buf->pos) {
            len += cl->buf->last - cl->buf->pos;
            last = cl->buf;
            n++;
        }
    }

    if (n == 1) {
        ctx->text.data = last->pos;

    } else if (n > 1) {
        ctx->text.data = ngx_pnalloc(r->pool, len);
        if (ctx->text.data == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        p = ctx->text.data;

        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            if (cl->buf->last > cl->buf->pos) {
                p = ngx_cpymem(p, cl->buf->pos,
                               cl->buf->last - cl->buf->pos);
            }
        }
    }

    ctx->text.len = len;

    rc = ngx_http_ws_api_admin_finish(ctx, ngx_http_ws_api_admin_start(ctx));

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_ws_api_admin_start(ngx_http_ws_api_admin_t *ctx)
{
    ngx_uint_t  local;

    /*
     * an identity that cannot be a user's name (a long certificate DN,
     * say) has no user in Redis: no privileges, no teams
     */

    local = ctx->route->public || ctx->superuser
            || !ngx_http_ws_api_user_name_valid(ctx->identity.data,
                                                ctx->identity.len);

    /*
     * a worker that is still making its connection to Redis (the first,
     * or again after losing it) has the request wait for it; a request
     * that needs no Redis at all (GET /me of a caller read from nothing)
     * goes on
     */

    if (!ctx->waited
        && !(local && ctx->op->start == ngx_http_ws_api_admin_me))
    {
        ctx->waiter.event.handler = ngx_http_ws_api_admin_woken;
        ctx->waiter.event.data = ctx;
        ctx->waiter.event.log = ctx->request->connection->log;

        if (ngx_http_ws_api_store_wait(ctx->store, &ctx->waiter)
            == NGX_AGAIN)
        {
            return NGX_DONE;
        }
    }

    if (local) {
        return ngx_http_ws_api_admin_authorized(ctx);
    }

    return ngx_http_ws_api_admin_wait(ctx,
               ngx_http_ws_api_store_get(ctx->store, "user:", &ctx->identity,
                                         ngx_http_ws_api_admin_reply, ctx),
               ngx_http_ws_api_admin_auth_step);
}


static ngx_int_t
ngx_http_ws_api_admin_auth_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply)
{
    json_t        *user, *privileges, *v;
    size_t         i, k;
    json_error_t   err;

    if (reply->type == REDIS_REPLY_STRING) {

        user = json_loadb(reply->str, reply->len, 0, &err);
        privileges = json_object_get(user, "privileges");

        json_array_foreach(privileges, i, v) {
            for (k = 0; ngx_http_ws_api_privileges[k]; k++) {
                if (json_is_string(v)
                    && ngx_strcmp(json_string_value(v),
                                  ngx_http_ws_api_privileges[k]) == 0)
                {
                    ctx->privileges |= 1 << k;
                }
            }
        }

        v = json_object_get(user, "teams");

        if (json_is_array(v)) {
            ctx->teams = json_incref(v);
        }

        if (!json_is_object(user)) {
            ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                          "ws_api user \"%V\" in Redis is not a JSON object",
                          &ctx->identity);
        }

        json_decref(user);

    } else if (reply->type != REDIS_REPLY_NIL) {
        return ngx_http_ws_api_admin_redis_error(ctx, reply);
    }

    return ngx_http_ws_api_admin_authorized(ctx);
}


static ngx_int_t
ngx_http_ws_api_admin_authorized(ngx_http_ws_api_admin_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->op->privileges && !(ctx->privileges & ctx->op->privileges)) {

        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_FORBIDDEN, NULL,
                   "%s needs the %s privilege",
                   ctx->op->privileges == NGX_HTTP_WS_API_USERS
                   ? "managing users and teams" :
                   ctx->op->privileges == NGX_HTTP_WS_API_APPS
                   ? "managing applications" : "this change",
                   ctx->op->privileges == NGX_HTTP_WS_API_USERS
                   ? "manage_users" :
                   ctx->op->privileges == NGX_HTTP_WS_API_APPS
                   ? "manage_applications" :
                   ctx->op->privileges == NGX_HTTP_WS_API_ACTIVATE
                   ? "activate_apis (Activate/deactivate APIs)"
                   : "manage_apis (Manage APIs) or activate_apis "
                     "(Activate/deactivate APIs)");
    }

    rc = ngx_http_ws_api_admin_parse_body(ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    return ctx->op->start(ctx);
}


/*
 * The connection to Redis is ready, or its attempt failed, or the wait
 * timed out: the request starts again, and then finds Redis or answers
 * 503 as it would have without a wait.
 */

static void
ngx_http_ws_api_admin_woken(ngx_event_t *ev)
{
    ngx_http_ws_api_admin_t *ctx = ev->data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    ngx_http_ws_api_store_unwait(&ctx->waiter);

    ev->timedout = 0;
    ctx->waited = 1;

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "ws_api admin: waited %M ms for Redis%s",
                  ngx_current_msec - ctx->waiter.start,
                  ctx->store->cmd.ready ? "" : ", which is unavailable");

    rc = ngx_http_ws_api_admin_finish(ctx, ngx_http_ws_api_admin_start(ctx));

    if (rc == NGX_DONE) {
        return;
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* the Redis reply of whatever command the request waits for */

void
ngx_http_ws_api_admin_reply(redisReply *reply, void *data)
{
    ngx_http_ws_api_admin_t *ctx = data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    ctx->cmd = NULL;

    if (reply == NULL && ctx->step != ngx_http_ws_api_admin_health_step) {
        rc = ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        NULL, "Redis is unavailable");

    } else if (reply && reply->type == REDIS_REPLY_ARRAY
               && reply->elements == 1
               && reply->element[0]->type == REDIS_REPLY_STRING
               && ngx_strcmp(reply->element[0]->str, "expired") == 0)
    {
        /* the write reached Redis too late to be carried out */

        rc = ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        NULL, "Redis did not answer in time; "
                                        "nothing was changed");

    } else {
        rc = ctx->step(ctx, reply);
    }

    rc = ngx_http_ws_api_admin_finish(ctx, rc);

    if (rc == NGX_DONE) {
        return;
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/*
 * What a step said: NGX_DONE (waits for Redis), NGX_OK (answered, the
 * answer's result in ctx->rc), an HTTP error described in ctx, or
 * NGX_ERROR.
 */

static ngx_int_t
ngx_http_ws_api_admin_finish(ngx_http_ws_api_admin_t *ctx, ngx_int_t rc)
{
    if (rc == NGX_DONE || rc == NGX_ERROR) {
        return rc;
    }

    if (rc == NGX_OK) {
        return ctx->rc;
    }

    return ngx_http_ws_api_send_error(ctx->request, rc, ctx->field, "%s",
                                      ctx->message);
}


static void
ngx_http_ws_api_admin_cleanup(void *data)
{
    ngx_http_ws_api_admin_t *ctx = data;

    /* a client gone while the request waits for Redis */

    ngx_http_ws_api_store_unwait(&ctx->waiter);

    if (ctx->cmd) {
        ngx_http_ws_api_redis_cancel(ctx->cmd);
        ctx->cmd = NULL;
    }

    json_decref(ctx->teams);
    json_decref(ctx->body);
    json_decref(ctx->current);
    json_decref(ctx->next);
    json_decref(ctx->asyncapi_paths);

    if (ctx->next_text) {
        free(ctx->next_text);
    }
}


/* GET /health */

static ngx_int_t
ngx_http_ws_api_admin_health(ngx_http_ws_api_admin_t *ctx)
{
    size_t       len[1];
    const char  *argv[1];

    argv[0] = "PING";
    len[0] = 4;

    if (ctx->store->cmd.ready) {
        ctx->cmd = ngx_http_ws_api_redis_command(&ctx->store->cmd,
                                                 ngx_http_ws_api_admin_reply,
                                                 ctx, 1, argv, len);
        if (ctx->cmd) {
            ctx->step = ngx_http_ws_api_admin_health_step;
            return NGX_DONE;
        }
    }

    return ngx_http_ws_api_admin_health_step(ctx, NULL);
}


static ngx_int_t
ngx_http_ws_api_admin_health_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply)
{
    char                      loaded_at[32];
    json_t                   *doc;
    time_t                    when;
    uint64_t                  rev;
    ngx_tm_t                  tm;
    ngx_uint_t                up, loaded, napis, nactive;
    ngx_http_ws_api_cache_t  *cache;

    up = (reply && reply->type == REDIS_REPLY_STATUS);

    cache = ctx->wmcf->shm_zone->data;

    ngx_http_ws_api_cache_lock(cache);

    loaded = cache->sh->loaded;
    rev = cache->sh->rev;
    napis = cache->sh->napis;
    nactive = cache->sh->nactive;
    when = cache->sh->loaded_at;

    ngx_http_ws_api_cache_unlock(cache);

    /*
     * a fresh nginx loads its definitions in its first milliseconds, as
     * soon as Redis answers: within the timeout, ask again a little later
     */

    if (up && !loaded
        && ngx_current_msec - ctx->started < ctx->wmcf->redis->timeout)
    {
        ctx->waiter.event.handler = ngx_http_ws_api_admin_health_again;
        ctx->waiter.event.data = ctx;
        ctx->waiter.event.log = ctx->request->connection->log;

        ngx_add_timer(&ctx->waiter.event, 10);

        return NGX_DONE;
    }

    if (loaded && ctx->waiter.event.handler
                  == ngx_http_ws_api_admin_health_again)
    {
        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "ws_api admin: waited %M ms for the definitions",
                      ngx_current_msec - ctx->started);
    }

    doc = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I}",
                    "status", (up && loaded) ? "ok" : "unavailable",
                    "redis", up ? "up" : "down",
                    "loaded", (int) loaded,
                    "revision", (json_int_t) rev,
                    "apis", (json_int_t) napis,
                    "activeApis", (json_int_t) nactive);
    if (doc == NULL) {
        return NGX_ERROR;
    }

    if (loaded) {
        ngx_gmtime(when, &tm);
        ngx_sprintf((u_char *) loaded_at, "%4d-%02d-%02dT%02d:%02d:%02dZ%Z",
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                    tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

        json_object_set_new(doc, "loadedAt", json_string(loaded_at));
    }

    if (!(up && loaded)) {
        json_object_set_new(doc, "error",
                            json_pack("{s:i, s:s}", "status", 503, "message",
                                      up ? "definitions not loaded yet"
                                         : "Redis is unreachable"));
    }

    return ngx_http_ws_api_admin_respond(ctx, (up && loaded)
                                              ? NGX_HTTP_OK
                                              : NGX_HTTP_SERVICE_UNAVAILABLE,
                                         doc);
}


static void
ngx_http_ws_api_admin_health_again(ngx_event_t *ev)
{
    ngx_http_ws_api_admin_t *ctx = ev->data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    ev->timedout = 0;

    rc = ngx_http_ws_api_admin_finish(ctx,
                                      ngx_http_ws_api_admin_health(ctx));

    if (rc == NGX_DONE) {
        return;
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/*
 * GET /me: the caller's own name, privileges and teams, for a client
 * (the console) that shows only what the caller may do; the name is null
 * when the identity is not UTF-8
 */

static ngx_int_t
ngx_http_ws_api_admin_me(ngx_http_ws_api_admin_t *ctx)
{
    json_t      *privileges;
    ngx_uint_t   k;

    privileges = json_array();

    for (k = 0; privileges && ngx_http_ws_api_privileges[k]; k++) {
        if ((ctx->privileges & (1 << k))
            && json_array_append_new(privileges,
                              json_string(ngx_http_ws_api_privileges[k])) != 0)
        {
            json_decref(privileges);
            return NGX_ERROR;
        }
    }

    return ngx_http_ws_api_admin_respond(ctx, NGX_HTTP_OK,
               json_pack("{s:o?, s:b, s:o, s:o}",
                         "name", json_stringn((char *) ctx->identity.data,
                                              ctx->identity.len),
                         "superuser", (int) ctx->superuser,
                         "privileges", privileges,
                         "teams", ctx->teams ? json_incref(ctx->teams)
                                             : json_array()));
}


/* GET /apis */

static ngx_int_t
ngx_http_ws_api_admin_list_apis(ngx_http_ws_api_admin_t *ctx)
{
    return ngx_http_ws_api_admin_wait(ctx,
               ngx_http_ws_api_store_eval(ctx->store,
                                          NGX_HTTP_WS_API_SCRIPT_LOAD,
                                          ngx_http_ws_api_admin_reply, ctx,
                                          0, NULL, NULL),
               ngx_http_ws_api_admin_list_apis_step);
}


static ngx_int_t
ngx_http_ws_api_admin_list_apis_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply)
{
    /* the reply of LOAD: rev, the applications, then ids and definitions */

    return ngx_http_ws_api_admin_list(ctx, reply, 2, "apis");
}


/* GET /apis/{id} */

static ngx_int_t
ngx_http_ws_api_admin_get_api(ngx_http_ws_api_admin_t *ctx)
{
    ctx->decide = ngx_http_ws_api_admin_get_api_done;

    return ngx_http_ws_api_admin_read(ctx);
}


static ngx_int_t
ngx_http_ws_api_admin_get_api_done(ngx_http_ws_api_admin_t *ctx)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    if (ngx_http_ws_api_admin_etag(ctx, ctx->current) != NGX_OK) {
        return NGX_ERROR;
    }

    if (r->headers_in.if_none_match
        && ngx_http_ws_api_admin_if_match(ctx,
               json_integer_value(json_object_get(ctx->current, "revision")))
           == NGX_OK)
    {
        r->headers_out.status = NGX_HTTP_NOT_MODIFIED;
        r->header_only = 1;
        ctx->rc = ngx_http_send_header(r);
        return NGX_OK;
    }

    return ngx_http_ws_api_admin_respond(ctx, NGX_HTTP_OK,
               ngx_http_ws_api_admin_output(ctx, ctx->current, 0));
}


/* POST /apis */

static ngx_int_t
ngx_http_ws_api_admin_create_api(ngx_http_ws_api_admin_t *ctx)
{
    char                          id[37], now[32];
    json_t                       *canonical, *v;
    ngx_http_ws_api_def_error_t   err;

    canonical = ngx_http_ws_api_def_canonical(ctx->body,
                                  ctx->wmcf->teams ? NGX_HTTP_WS_API_DEF_TEAMS
                                                   : 0,
                                  &err);
    if (canonical == NULL) {
        ngx_http_ws_api_asyncapi_field(ctx->asyncapi_paths, &err);

        return ngx_http_ws_api_admin_fail(ctx, err.status, err.field, "%s",
                                          err.message);
    }

    v = json_object_get(ctx->body, "isActive");

    if (v && !json_is_false(v)) {
        json_decref(canonical);
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST,
                   "isActive", "an API is created inactive; activate it "
                   "with PUT apis/{id}/activate");
    }

    if (ngx_http_ws_api_admin_own_team(ctx, json_object_get(canonical,
                                                            "teams"))
        != NGX_OK)
    {
        json_decref(canonical);
        return NGX_HTTP_FORBIDDEN;
    }

    ngx_http_ws_api_admin_uuid(id);
    ngx_http_ws_api_admin_now(now);

    ctx->next = ngx_http_ws_api_admin_stored(canonical, id, 0, 1, now, now);

    json_decref(canonical);

    if (ctx->next == NULL) {
        return NGX_ERROR;
    }

    ctx->done = ngx_http_ws_api_admin_created;

    return ngx_http_ws_api_admin_write(ctx);
}


/* GET /apis/{id}/asyncapi */

static ngx_int_t
ngx_http_ws_api_admin_get_asyncapi(ngx_http_ws_api_admin_t *ctx)
{
    ctx->decide = ngx_http_ws_api_admin_asyncapi_done;

    return ngx_http_ws_api_admin_read(ctx);
}


static ngx_int_t
ngx_http_ws_api_admin_asyncapi_done(ngx_http_ws_api_admin_t *ctx)
{
    ctx->rc = ngx_http_ws_api_asyncapi_send(ctx->request, ctx->current);

    return NGX_OK;
}


/* PUT /apis/{id} */

static ngx_int_t
ngx_http_ws_api_admin_replace_api(ngx_http_ws_api_admin_t *ctx)
{
    ctx->decide = ngx_http_ws_api_admin_decide_replace;
    ctx->done = ngx_http_ws_api_admin_changed;

    return ngx_http_ws_api_admin_read(ctx);
}


static ngx_int_t
ngx_http_ws_api_admin_decide_replace(ngx_http_ws_api_admin_t *ctx)
{
    char                          now[32];
    json_t                       *canonical, *v, *cur;
    ngx_http_ws_api_def_error_t   err;

    cur = ctx->current;

    canonical = ngx_http_ws_api_def_canonical(ctx->body,
                                  ctx->wmcf->teams ? NGX_HTTP_WS_API_DEF_TEAMS
                                                   : 0,
                                  &err);
    if (canonical == NULL) {
        return ngx_http_ws_api_admin_fail(ctx, err.status, err.field, "%s",
                                          err.message);
    }

    v = json_object_get(ctx->body, "id");

    if (v && !json_equal(v, json_object_get(cur, "id"))) {
        json_decref(canonical);
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST, "id",
                                          "id is read-only and differs from "
                                          "the id in the path");
    }

    v = json_object_get(ctx->body, "isActive");

    if (v && !json_equal(v, json_object_get(cur, "isActive"))) {
        json_decref(canonical);
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST,
                   "isActive", "isActive is read-only; use PUT "
                   "apis/{id}/activate or apis/{id}/deactivate");
    }

    if (json_is_true(json_object_get(cur, "isActive"))
        && json_is_null(json_object_get(canonical, "wsUrl")))
    {
        json_decref(canonical);
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_CONFLICT, "wsUrl",
                                          "an active API needs its wsUrl; "
                                          "deactivate it first");
    }

    if (ngx_http_ws_api_admin_own_team(ctx, json_object_get(canonical,
                                                            "teams"))
        != NGX_OK)
    {
        json_decref(canonical);
        return NGX_HTTP_FORBIDDEN;
    }

    ngx_http_ws_api_admin_now(now);

    json_decref(ctx->next);

    ctx->next = ngx_http_ws_api_admin_stored(canonical,
                    json_string_value(json_object_get(cur, "id")),
                    json_is_true(json_object_get(cur, "isActive")),
                    json_integer_value(json_object_get(cur, "revision")) + 1,
                    json_string_value(json_object_get(cur, "createdAt")),
                    now);

    json_decref(canonical);

    return ctx->next ? NGX_OK : NGX_ERROR;
}


/* DELETE /apis/{id} */

static ngx_int_t
ngx_http_ws_api_admin_delete_api(ngx_http_ws_api_admin_t *ctx)
{
    ctx->decide = ngx_http_ws_api_admin_decide_delete;
    ctx->done = ngx_http_ws_api_admin_deleted;

    return ngx_http_ws_api_admin_read(ctx);
}


static ngx_int_t
ngx_http_ws_api_admin_decide_delete(ngx_http_ws_api_admin_t *ctx)
{
    if (json_is_true(json_object_get(ctx->current, "isActive"))) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_CONFLICT, "isActive",
                                          "an active API cannot be deleted; "
                                          "deactivate it first");
    }

    json_decref(ctx->next);
    ctx->next = NULL;

    return NGX_OK;
}


/* PUT /apis/{id}/activate and /deactivate */

static ngx_int_t
ngx_http_ws_api_admin_activate(ngx_http_ws_api_admin_t *ctx)
{
    ctx->decide = ngx_http_ws_api_admin_decide_activation;
    ctx->done = ngx_http_ws_api_admin_changed;

    return ngx_http_ws_api_admin_read(ctx);
}


static ngx_int_t
ngx_http_ws_api_admin_deactivate(ngx_http_ws_api_admin_t *ctx)
{
    return ngx_http_ws_api_admin_activate(ctx);
}


static ngx_int_t
ngx_http_ws_api_admin_decide_activation(ngx_http_ws_api_admin_t *ctx)
{
    char     now[32];
    int      activate;
    json_t  *cur;

    cur = ctx->current;
    activate = (ctx->op->start == ngx_http_ws_api_admin_activate);

    if (json_is_true(json_object_get(cur, "isActive")) == activate) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_CONFLICT, "isActive",
                                          "the API is already %s",
                                          activate ? "active" : "inactive");
    }

    if (activate && !json_is_string(json_object_get(cur, "wsUrl"))) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_CONFLICT, "wsUrl",
                                          "the API has no wsUrl yet: set it "
                                          "with PUT apis/{id} first");
    }

    ngx_http_ws_api_admin_now(now);

    json_decref(ctx->next);

    ctx->next = json_deep_copy(cur);
    if (ctx->next == NULL) {
        return NGX_ERROR;
    }

    if (json_object_set_new(ctx->next, "isActive", json_boolean(activate))
        || json_object_set_new(ctx->next, "revision",
                json_integer(json_integer_value(json_object_get(cur,
                                                        "revision")) + 1))
        || json_object_set_new(ctx->next, "updatedAt", json_string(now)))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* POST /apis/{id}/versions */

static ngx_int_t
ngx_http_ws_api_admin_new_version(ngx_http_ws_api_admin_t *ctx)
{
    const char  *key;
    json_t      *v;

    json_object_foreach(ctx->body, key, v) {
        if (ngx_strcmp(key, "newApiVersion") != 0) {
            return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST, key,
                                              "unknown member \"%s\"", key);
        }
    }

    v = json_object_get(ctx->body, "newApiVersion");

    if (!json_is_string(v)
        || !ngx_http_ws_api_name_valid((u_char *) json_string_value(v),
                                       json_string_length(v)))
    {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST,
                   "newApiVersion", "newApiVersion must be 1 to 100 "
                   "letters, digits, \".\", \"_\" or \"-\"");
    }

    if (ngx_http_ws_api_name_dots(json_string_value(v),
                                  json_string_length(v)))
    {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST,
                   "newApiVersion", "newApiVersion \".\" and \"..\" "
                   "cannot be reached through the gateway");
    }

    ctx->decide = ngx_http_ws_api_admin_decide_version;
    ctx->done = ngx_http_ws_api_admin_created;

    return ngx_http_ws_api_admin_read(ctx);
}


static ngx_int_t
ngx_http_ws_api_admin_decide_version(ngx_http_ws_api_admin_t *ctx)
{
    char     id[37], now[32];
    json_t  *copy;

    copy = json_deep_copy(ctx->current);
    if (copy == NULL) {
        return NGX_ERROR;
    }

    if (json_object_set(copy, "apiVersion",
                        json_object_get(ctx->body, "newApiVersion")))
    {
        json_decref(copy);
        return NGX_ERROR;
    }

    ngx_http_ws_api_admin_uuid(id);
    ngx_http_ws_api_admin_now(now);

    json_decref(ctx->next);

    ctx->next = ngx_http_ws_api_admin_stored(copy, id, 0, 1, now, now);

    json_decref(copy);

    return ctx->next ? NGX_OK : NGX_ERROR;
}


/*
 * Reads the API of the path into ctx->current, checks that the caller may
 * see it and If-Match, then lets ctx->decide make ctx->next and writes it
 * (NULL: deletes), or answers (for a read).
 */

static ngx_int_t
ngx_http_ws_api_admin_read(ngx_http_ws_api_admin_t *ctx)
{
    size_t       i;
    ngx_str_t   *id;

    id = &ctx->arg;

    /* a UUID, in the form it was generated */

    if (id->len != 36) {
        goto not_found;
    }

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (id->data[i] != '-') {
                goto not_found;
            }

        } else if (!((id->data[i] >= '0' && id->data[i] <= '9')
                     || (id->data[i] >= 'a' && id->data[i] <= 'f')))
        {
            goto not_found;
        }
    }

    return ngx_http_ws_api_admin_wait(ctx,
               ngx_http_ws_api_store_get(ctx->store, "api:", id,
                                         ngx_http_ws_api_admin_reply, ctx),
               ngx_http_ws_api_admin_read_step);

not_found:

    return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_NOT_FOUND, NULL,
                                      "no API with id \"%*s\"",
                                      ngx_min(id->len, 64), id->data);
}


static ngx_int_t
ngx_http_ws_api_admin_read_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply)
{
    ngx_int_t                     rc;
    json_error_t                  jerr;
    ngx_http_ws_api_def_error_t   err;

    if (reply->type == REDIS_REPLY_NIL) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_NOT_FOUND, NULL,
                                          "no API with id \"%V\"", &ctx->arg);
    }

    if (reply->type != REDIS_REPLY_STRING) {
        return ngx_http_ws_api_admin_redis_error(ctx, reply);
    }

    json_decref(ctx->current);

    ctx->current = json_loadb(reply->str, reply->len, 0, &jerr);

    if (ctx->current == NULL
        || ngx_http_ws_api_def_check_stored(ctx->current,
                                            NGX_HTTP_WS_API_DEF_TEAMS, &err)
           != 0)
    {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "ws_api definition \"%V\" in Redis is invalid",
                      &ctx->arg);

        return ngx_http_ws_api_admin_fail(ctx,
                                          NGX_HTTP_INTERNAL_SERVER_ERROR,
                                          NULL, "the definition stored in "
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
                                          "the API belongs to teams you are "
                                          "not in");
    }

    if (ctx->request->method != NGX_HTTP_GET
        && ctx->request->method != NGX_HTTP_HEAD
        && ctx->request->headers_in.if_match
        && ngx_http_ws_api_admin_if_match(ctx,
               json_integer_value(json_object_get(ctx->current, "revision")))
           != NGX_OK)
    {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_PRECONDITION_FAILED,
                                          NULL, "If-Match does not match "
                                          "the API's current ETag");
    }

    rc = ctx->decide(ctx);

    if (rc != NGX_OK || ctx->done == NULL) {
        /* an error, or a read answered */
        return rc;
    }

    return ngx_http_ws_api_admin_write(ctx);
}


/*
 * Writes ctx->next: a creation when there is no ctx->current (or for a
 * new version), else a compare-and-set replacement, or a deletion when
 * there is no ctx->next.
 */

static ngx_int_t
ngx_http_ws_api_admin_write(ngx_http_ws_api_admin_t *ctx)
{
    int                        argc, create;
    size_t                     i, lens[NGX_HTTP_WS_API_SCRIPT_MAX_ARGS];
    json_t                    *teams, *t, *def;
    const char                *argv[NGX_HTTP_WS_API_SCRIPT_MAX_ARGS];
    ngx_http_ws_api_script_e   script;

#define ngx_http_ws_api_arg(s, n)                                            \
    argv[argc] = (s); lens[argc] = (n); argc++

#define ngx_http_ws_api_arg_json(o, k)                                       \
    ngx_http_ws_api_arg(json_string_value(json_object_get(o, k)),            \
                        json_string_length(json_object_get(o, k)))

    create = (ctx->current == NULL
              || ctx->op->start == ngx_http_ws_api_admin_new_version);

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

    argc = 0;
    def = ctx->next;

    if (create) {
        script = NGX_HTTP_WS_API_SCRIPT_CREATE_API;

        ngx_http_ws_api_arg_json(def, "id");
        ngx_http_ws_api_arg_json(def, "apiName");
        ngx_http_ws_api_arg_json(def, "apiVersion");
        ngx_http_ws_api_arg(ctx->next_text, ngx_strlen(ctx->next_text));

    } else if (def) {
        script = NGX_HTTP_WS_API_SCRIPT_REPLACE_API;

        ngx_http_ws_api_arg_json(def, "id");
        ngx_http_ws_api_arg((char *) ctx->current_text.data,
                            ctx->current_text.len);
        ngx_http_ws_api_arg(ctx->next_text, ngx_strlen(ctx->next_text));
        ngx_http_ws_api_arg_json(ctx->current, "apiName");
        ngx_http_ws_api_arg_json(ctx->current, "apiVersion");
        ngx_http_ws_api_arg_json(def, "apiName");
        ngx_http_ws_api_arg_json(def, "apiVersion");

    } else {
        script = NGX_HTTP_WS_API_SCRIPT_DELETE_API;

        ngx_http_ws_api_arg_json(ctx->current, "id");
        ngx_http_ws_api_arg((char *) ctx->current_text.data,
                            ctx->current_text.len);
        ngx_http_ws_api_arg_json(ctx->current, "apiName");
        ngx_http_ws_api_arg_json(ctx->current, "apiVersion");
    }

    if (def) {
        teams = json_object_get(def, "teams");

        json_array_foreach(teams, i, t) {
            ngx_http_ws_api_arg(json_string_value(t), json_string_length(t));
        }
    }

#undef ngx_http_ws_api_arg_json
#undef ngx_http_ws_api_arg

    return ngx_http_ws_api_admin_wait(ctx,
               ngx_http_ws_api_store_eval(ctx->store, script,
                                          ngx_http_ws_api_admin_reply, ctx,
                                          argc, argv, lens),
               ngx_http_ws_api_admin_write_step);
}


static ngx_int_t
ngx_http_ws_api_admin_write_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply)
{
    redisReply  *status;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_STRING)
    {
        return ngx_http_ws_api_admin_redis_error(ctx, reply);
    }

    status = reply->element[0];

    if (ngx_strcmp(status->str, "ok") == 0) {
        ngx_http_ws_api_admin_audited(ctx, reply);
        return ctx->done(ctx);
    }

    if (ngx_strcmp(status->str, "conflict") == 0) {

        /* changed since it was read: read it again and decide again */

        if (++ctx->attempts < NGX_HTTP_WS_API_ATTEMPTS) {
            return ngx_http_ws_api_admin_read(ctx);
        }

        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_CONFLICT, NULL,
                                          "the API keeps changing; "
                                          "try again");
    }

    if (ngx_strcmp(status->str, "taken") == 0) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_CONFLICT, "apiVersion",
                   "an API named \"%s\" with version \"%s\" exists already",
                   json_string_value(json_object_get(ctx->next, "apiName")),
                   json_string_value(json_object_get(ctx->next,
                                                     "apiVersion")));
    }

    if (ngx_strcmp(status->str, "no_team") == 0 && reply->elements == 2
        && reply->element[1]->type == REDIS_REPLY_STRING)
    {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST, "teams",
                                          "team \"%s\" does not exist",
                                          reply->element[1]->str);
    }

    return ngx_http_ws_api_admin_redis_error(ctx, reply);
}


static ngx_int_t
ngx_http_ws_api_admin_created(ngx_http_ws_api_admin_t *ctx)
{
    u_char                    *p;
    ngx_str_t                  location;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(ctx->request, ngx_http_core_module);

    location.data = ngx_pnalloc(ctx->request->pool,
                                clcf->name.len + sizeof("/apis/") + 36);
    if (location.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(location.data, clcf->name.data, clcf->name.len);

    if (clcf->name.len == 0 || p[-1] != '/') {
        *p++ = '/';
    }

    p = ngx_sprintf(p, "apis/%s",
                    json_string_value(json_object_get(ctx->next, "id")));

    location.len = p - location.data;

    if (ngx_http_ws_api_admin_header(ctx->request, "Location", &location)
        != NGX_OK
        || ngx_http_ws_api_admin_etag(ctx, ctx->next) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_ws_api_admin_respond(ctx, NGX_HTTP_CREATED,
               ngx_http_ws_api_admin_output(ctx, ctx->next, 0));
}


static ngx_int_t
ngx_http_ws_api_admin_changed(ngx_http_ws_api_admin_t *ctx)
{
    if (ngx_http_ws_api_admin_etag(ctx, ctx->next) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_ws_api_admin_respond(ctx, NGX_HTTP_OK,
               ngx_http_ws_api_admin_output(ctx, ctx->next, 0));
}


static ngx_int_t
ngx_http_ws_api_admin_deleted(ngx_http_ws_api_admin_t *ctx)
{
    return ngx_http_ws_api_admin_no_content(ctx);
}


/* users and teams: GET /users, GET /teams */

static ngx_int_t
ngx_http_ws_api_admin_list_named(ngx_http_ws_api_admin_t *ctx)
{
    size_t       lens[1];
    const char  *argv[1];

    argv[0] = (const char *) ctx->route->collection.data;
    lens[0] = ctx->route->collection.len - 1;          /* "user", "team" */

    return ngx_http_ws_api_admin_wait(ctx,
               ngx_http_ws_api_store_eval(ctx->store,
                                          NGX_HTTP_WS_API_SCRIPT_LIST,
                                          ngx_http_ws_api_admin_reply, ctx,
                                          1, argv, lens),
               ngx_http_ws_api_admin_list_named_step);
}


static ngx_int_t
ngx_http_ws_api_admin_list_named_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply)
{
    /* the reply of LIST: names and records */

    return ngx_http_ws_api_admin_list(ctx, reply, 0,
                                      ctx->route->collection.data[0] == 'u'
                                      ? "users" : "teams");
}


/*
 * {key: [...]}: the pairs (name or id, JSON) of the reply from its element
 * first on, as summaries of APIs the caller may see, or as users and
 * teams with their names; sorted
 */

static ngx_int_t
ngx_http_ws_api_admin_list(ngx_http_ws_api_admin_t *ctx, redisReply *reply,
    size_t first, const char *key)
{
    size_t         i, n;
    json_t        *list, *item, *stored, **items;
    ngx_uint_t     apis;
    redisReply    *name, *text;
    json_error_t   err;

    if (reply->type != REDIS_REPLY_ARRAY) {
        return ngx_http_ws_api_admin_redis_error(ctx, reply);
    }

    items = ngx_palloc(ctx->request->pool,
                       (reply->elements / 2 + 1) * sizeof(json_t *));
    if (items == NULL) {
        return NGX_ERROR;
    }

    apis = (key[0] == 'a');
    n = 0;

    for (i = first; i + 1 < reply->elements; i += 2) {

        name = reply->element[i];
        text = reply->element[i + 1];

        if (name->type != REDIS_REPLY_STRING
            || text->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        stored = json_loadb(text->str, text->len, 0, &err);

        if (!json_is_object(stored)
            || (apis && !json_is_string(json_object_get(stored, "apiName"))))
        {
            ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                          "ws_api record \"%*s\" in Redis is invalid, left "
                          "out of the list", (size_t) name->len, name->str);
            json_decref(stored);
            continue;
        }

        if (apis) {
            item = ngx_http_ws_api_admin_visible(ctx, stored)
                   ? ngx_http_ws_api_admin_output(ctx, stored, 1) : NULL;

        } else {
            item = ngx_http_ws_api_admin_named((u_char *) name->str,
                                               name->len, stored);
        }

        json_decref(stored);

        if (item) {
            items[n++] = item;
        }
    }

    ngx_qsort(items, n, sizeof(json_t *), ngx_http_ws_api_admin_compare);

    list = json_array();

    for (i = 0; i < n; i++) {
        if (list) {
            json_array_append(list, items[i]);
        }

        json_decref(items[i]);
    }

    if (list == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_ws_api_admin_respond(ctx, NGX_HTTP_OK,
                                         json_pack("{s:o}", key, list));
}


static ngx_int_t
ngx_http_ws_api_admin_named_valid(ngx_http_ws_api_admin_t *ctx)
{
    if (ctx->route->collection.data[0] == 'u'
        ? ngx_http_ws_api_user_name_valid(ctx->arg.data, ctx->arg.len)
        : ngx_http_ws_api_team_name_valid(ctx->arg.data, ctx->arg.len))
    {
        return NGX_OK;
    }

    return ngx_http_ws_api_admin_fail(ctx,
               ctx->request->method == NGX_HTTP_PUT ? NGX_HTTP_BAD_REQUEST
                                                    : NGX_HTTP_NOT_FOUND,
               "name", "invalid %s name",
               ctx->route->collection.data[0] == 'u' ? "user" : "team");
}


/* a user or a team as the API shows it: its name, then its record */

static json_t *
ngx_http_ws_api_admin_named(u_char *name, size_t len, json_t *stored)
{
    json_t  *item;

    item = json_pack("{s:s%}", "name", name, len);

    if (item && json_object_update(item, stored) != 0) {
        json_decref(item);
        return NULL;
    }

    return item;
}


static ngx_int_t
ngx_http_ws_api_admin_get_named(ngx_http_ws_api_admin_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_ws_api_admin_named_valid(ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_ws_api_admin_wait(ctx,
               ngx_http_ws_api_store_get(ctx->store,
                                         ctx->route->collection.data[0] == 'u'
                                         ? "user:" : "team:",
                                         &ctx->arg,
                                         ngx_http_ws_api_admin_reply, ctx),
               ngx_http_ws_api_admin_get_named_step);
}


static ngx_int_t
ngx_http_ws_api_admin_get_named_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply)
{
    json_t        *item, *stored;
    json_error_t   err;

    if (reply->type == REDIS_REPLY_NIL) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_NOT_FOUND, NULL,
                                          "no %s \"%V\"",
                                          ctx->route->collection.data[0]
                                          == 'u' ? "user" : "team",
                                          &ctx->arg);
    }

    if (reply->type != REDIS_REPLY_STRING) {
        return ngx_http_ws_api_admin_redis_error(ctx, reply);
    }

    stored = json_loadb(reply->str, reply->len, 0, &err);

    if (!json_is_object(stored)) {
        json_decref(stored);
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                          NULL, "the record stored in Redis "
                                          "is invalid");
    }

    item = ngx_http_ws_api_admin_named(ctx->arg.data, ctx->arg.len, stored);

    json_decref(stored);

    if (item == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_ws_api_admin_respond(ctx, NGX_HTTP_OK, item);
}


static ngx_int_t
ngx_http_ws_api_admin_put_named(ngx_http_ws_api_admin_t *ctx)
{
    int                           argc;
    size_t                        i, lens[NGX_HTTP_WS_API_SCRIPT_MAX_ARGS];
    json_t                       *in, *t;
    ngx_int_t                     rc;
    const char                   *argv[NGX_HTTP_WS_API_SCRIPT_MAX_ARGS];
    ngx_http_ws_api_def_error_t   err;

    rc = ngx_http_ws_api_admin_named_valid(ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    /* "name", as GET answers it, may come back: it is the path's */

    t = json_object_get(ctx->body, "name");

    if (t) {
        if (!json_is_string(t) || json_string_length(t) != ctx->arg.len
            || ngx_strncmp(json_string_value(t), ctx->arg.data,
                           ctx->arg.len) != 0)
        {
            return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                              "name", "name is read-only "
                                              "and differs from the name in "
                                              "the path");
        }

        json_object_del(ctx->body, "name");
    }

    if (ctx->route->collection.data[0] == 'u') {
        in = ctx->body ? json_incref(ctx->body) : json_object();

        ctx->next = ngx_http_ws_api_user_canonical(in,
                                  ctx->wmcf->teams ? NGX_HTTP_WS_API_DEF_TEAMS
                                                   : 0,
                                  &err);
        json_decref(in);

    } else {
        ctx->next = ngx_http_ws_api_team_canonical(ctx->body, &err);
    }

    if (ctx->next == NULL) {
        return ngx_http_ws_api_admin_fail(ctx, err.status, err.field, "%s",
                                          err.message);
    }

    ctx->next_text = json_dumps(ctx->next, JSON_COMPACT);
    if (ctx->next_text == NULL) {
        return NGX_ERROR;
    }

    argv[0] = (const char *) ctx->arg.data;
    lens[0] = ctx->arg.len;
    argv[1] = ctx->next_text;
    lens[1] = ngx_strlen(ctx->next_text);
    argc = 2;

    json_array_foreach(json_object_get(ctx->next, "teams"), i, t) {
        argv[argc] = json_string_value(t);
        lens[argc] = json_string_length(t);
        argc++;
    }

    return ngx_http_ws_api_admin_wait(ctx,
               ngx_http_ws_api_store_eval(ctx->store,
                                          ctx->route->collection.data[0]
                                          == 'u'
                                          ? NGX_HTTP_WS_API_SCRIPT_PUT_USER
                                          : NGX_HTTP_WS_API_SCRIPT_PUT_TEAM,
                                          ngx_http_ws_api_admin_reply, ctx,
                                          argc, argv, lens),
               ngx_http_ws_api_admin_put_named_step);
}


static ngx_int_t
ngx_http_ws_api_admin_put_named_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply)
{
    json_t  *out;

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2
        && reply->element[0]->type == REDIS_REPLY_STRING
        && ngx_strcmp(reply->element[0]->str, "no_team") == 0
        && reply->element[1]->type == REDIS_REPLY_STRING)
    {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST, "teams",
                                          "team \"%s\" does not exist",
                                          reply->element[1]->str);
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_STRING
        || ngx_strcmp(reply->element[0]->str, "ok") != 0)
    {
        return ngx_http_ws_api_admin_redis_error(ctx, reply);
    }

    ngx_http_ws_api_admin_audited(ctx, reply);

    out = json_pack("{s:s%}", "name", ctx->arg.data, ctx->arg.len);
    if (out == NULL || json_object_update(out, ctx->next) != 0) {
        json_decref(out);
        return NGX_ERROR;
    }

    return ngx_http_ws_api_admin_respond(ctx, NGX_HTTP_OK, out);
}


static ngx_int_t
ngx_http_ws_api_admin_delete_named(ngx_http_ws_api_admin_t *ctx)
{
    size_t       lens[1];
    ngx_int_t    rc;
    const char  *argv[1];

    rc = ngx_http_ws_api_admin_named_valid(ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    argv[0] = (const char *) ctx->arg.data;
    lens[0] = ctx->arg.len;

    return ngx_http_ws_api_admin_wait(ctx,
               ngx_http_ws_api_store_eval(ctx->store,
                                          ctx->route->collection.data[0]
                                          == 'u'
                                          ? NGX_HTTP_WS_API_SCRIPT_DELETE_USER
                                          : NGX_HTTP_WS_API_SCRIPT_DELETE_TEAM,
                                          ngx_http_ws_api_admin_reply, ctx,
                                          1, argv, lens),
               ngx_http_ws_api_admin_delete_named_step);
}


static ngx_int_t
ngx_http_ws_api_admin_delete_named_step(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply)
{
    const char  *status;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_STRING)
    {
        return ngx_http_ws_api_admin_redis_error(ctx, reply);
    }

    status = reply->element[0]->str;

    if (ngx_strcmp(status, "ok") == 0) {
        ngx_http_ws_api_admin_audited(ctx, reply);
        return ngx_http_ws_api_admin_no_content(ctx);
    }

    if (ngx_strcmp(status, "not_found") == 0) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_NOT_FOUND, NULL,
                                          "no %s \"%V\"",
                                          ctx->route->collection.data[0]
                                          == 'u' ? "user" : "team",
                                          &ctx->arg);
    }

    if (ngx_strcmp(status, "in_use") == 0 && reply->elements == 2
        && reply->element[1]->type == REDIS_REPLY_STRING)
    {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_CONFLICT, NULL,
                                          "team \"%V\" is still assigned "
                                          "to %s", &ctx->arg,
                                          reply->element[1]->str);
    }

    return ngx_http_ws_api_admin_redis_error(ctx, reply);
}


/* the audit and X-Request-Id */

ngx_int_t
ngx_http_ws_api_admin_init(ngx_conf_t *cf)
{
    ngx_str_t                     name = ngx_string("request_id");
    ngx_http_ws_api_main_conf_t  *wmcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_ws_api_module);

    wmcf->request_id = ngx_http_get_variable_index(cf, &name);

    if (wmcf->request_id == NGX_ERROR) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_ws_api_admin_request_id(ngx_http_request_t *r)
{
    ngx_table_elt_t              *h;
    ngx_http_variable_value_t    *v;
    ngx_http_ws_api_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_ws_api_module);

    v = ngx_http_get_indexed_variable(r, wmcf->request_id);

    if (v == NULL || v->not_found || v->len == 0) {
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "X-Request-Id");
    h->value.data = v->data;
    h->value.len = v->len;

    return NGX_OK;
}


void
ngx_http_ws_api_admin_audit(ngx_http_request_t *r, ngx_str_t *identity,
    const char *op, const char *kind, ngx_str_t *id, uint64_t rev)
{
    u_char  who[256], what[256];
    size_t  nwho, nwhat;

    /* whatever the identity (a certificate's DN), one line, quotes kept */

    nwho = ngx_min(identity->len, sizeof(who));
    nwhat = ngx_min(id->len, sizeof(what));

    ngx_memcpy(who, identity->data, nwho);
    ngx_memcpy(what, id->data, nwhat);

    ngx_http_ws_api_json_sanitize(who, nwho);
    ngx_http_ws_api_json_sanitize(what, nwhat);

    ngx_http_ws_api_admin_quotes(who, nwho);
    ngx_http_ws_api_admin_quotes(what, nwhat);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "ws_api admin: \"%*s\" %s %s \"%*s\" rev %uL",
                  nwho, who, op, kind, nwhat, what, rev);
}


/* the audit line of this request's write, which Redis answered "ok" */

static void
ngx_http_ws_api_admin_audited(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply)
{
    json_t                  *def;
    uint64_t                 rev;
    ngx_str_t                id;
    const char              *op, *kind;
    ngx_http_ws_api_admin_pt start;

    rev = 0;

    if (reply->elements > 1) {
        (void) ngx_http_ws_api_store_reply_uint(reply->element[1], &rev);
    }

    start = ctx->op->start;

    op = (start == ngx_http_ws_api_admin_create_api)
         ? (ctx->asyncapi ? "import" : "create")
         : (start == ngx_http_ws_api_admin_replace_api) ? "replace"
         : (start == ngx_http_ws_api_admin_activate) ? "activate"
         : (start == ngx_http_ws_api_admin_deactivate) ? "deactivate"
         : (start == ngx_http_ws_api_admin_new_version) ? "version"
         : (start == ngx_http_ws_api_admin_put_named) ? "put"
         : "delete";

    switch (ctx->route->collection.data[0]) {

    case 'u':
        kind = "user";
        id = ctx->arg;
        break;

    case 't':
        kind = "team";
        id = ctx->arg;
        break;

    default:
        kind = "api";

        def = ctx->next ? ctx->next : ctx->current;
        def = json_object_get(def, "id");

        id.data = (u_char *) json_string_value(def);
        id.len = json_string_length(def);

        if (id.data == NULL) {
            id = ctx->arg;
        }
    }

    ngx_http_ws_api_admin_audit(ctx->request, &ctx->identity, op, kind, &id,
                                rev);
}


/* helpers */

ngx_int_t
ngx_http_ws_api_admin_wait(ngx_http_ws_api_admin_t *ctx,
    ngx_http_ws_api_redis_cmd_t *cmd, ngx_http_ws_api_admin_step_pt step)
{
    if (cmd == NULL) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          NULL, "Redis is unavailable");
    }

    ctx->cmd = cmd;
    ctx->step = step;

    return NGX_DONE;
}


ngx_int_t
ngx_http_ws_api_admin_fail(ngx_http_ws_api_admin_t *ctx, ngx_uint_t status,
    const char *field, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    ngx_vslprintf((u_char *) ctx->message,
                  (u_char *) ctx->message + sizeof(ctx->message) - 1, fmt,
                  args)[0] = '\0';
    va_end(args);

    if (field) {
        ngx_cpystrn((u_char *) ctx->field, (u_char *) field,
                    sizeof(ctx->field));

    } else {
        ctx->field[0] = '\0';
    }

    return status;
}


ngx_int_t
ngx_http_ws_api_admin_redis_error(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply)
{
    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "ws_api redis error: %*s", (size_t) reply->len,
                      reply->str);

    } else {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "ws_api redis sent an unexpected reply of type %d",
                      reply->type);
    }

    return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_SERVICE_UNAVAILABLE, NULL,
                                      "Redis could not carry out the "
                                      "request");
}


/* sends json (whose reference it takes) */

ngx_int_t
ngx_http_ws_api_admin_respond(ngx_http_ws_api_admin_t *ctx,
    ngx_uint_t status, json_t *json)
{
    if (json == NULL) {
        return NGX_ERROR;
    }

    ctx->rc = ngx_http_ws_api_send_json(ctx->request, status, json);

    json_decref(json);

    return NGX_OK;
}


ngx_int_t
ngx_http_ws_api_admin_no_content(ngx_http_ws_api_admin_t *ctx)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    ctx->rc = ngx_http_send_header(r);

    return NGX_OK;
}


static ngx_int_t
ngx_http_ws_api_admin_parse_body(ngx_http_ws_api_admin_t *ctx)
{
    json_error_t  err;

    if (ctx->op->body == NGX_HTTP_WS_API_BODY_NONE) {
        return NGX_OK;
    }

    if (ctx->text.len == 0) {

        if (ctx->op->body == NGX_HTTP_WS_API_BODY_OPTIONAL) {
            return NGX_OK;
        }

        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                          "the request body is empty; a "
                                          "JSON object is expected");
    }

    if (ctx->asyncapi) {
        return ngx_http_ws_api_admin_asyncapi_body(ctx);
    }

    ctx->body = json_loadb((const char *) ctx->text.data, ctx->text.len,
                           JSON_REJECT_DUPLICATES, &err);

    if (ctx->body == NULL) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                          "malformed JSON: %s (line %d, "
                                          "column %d)", err.text, err.line,
                                          err.column);
    }

    if (!json_is_object(ctx->body)) {
        return ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_BAD_REQUEST, NULL,
                                          "the request body must be a JSON "
                                          "object");
    }

    return NGX_OK;
}


/* POST /apis of an AsyncAPI document: the definition it maps to */

static ngx_int_t
ngx_http_ws_api_admin_asyncapi_body(ngx_http_ws_api_admin_t *ctx)
{
    ngx_http_ws_api_def_error_t  err;

    ctx->body = ngx_http_ws_api_asyncapi_import((const char *) ctx->text.data,
                                                ctx->text.len, ctx->asyncapi,
                                                &ctx->asyncapi_paths, &err);
    if (ctx->body == NULL) {
        return ngx_http_ws_api_admin_fail(ctx, err.status, err.field, "%s",
                                          err.message);
    }

    return NGX_OK;
}


/* a definition as stored: id first, the canonical members, then state */

static json_t *
ngx_http_ws_api_admin_stored(json_t *canonical, const char *id, int active,
    json_int_t revision, const char *created, const char *updated)
{
    json_t      *def, *v;
    const char  *key;

    def = json_pack("{s:s}", "id", id);
    if (def == NULL) {
        return NULL;
    }

    json_object_foreach(canonical, key, v) {

        if (ngx_strcmp(key, "id") == 0 || ngx_strcmp(key, "isActive") == 0
            || ngx_strcmp(key, "revision") == 0
            || ngx_strcmp(key, "createdAt") == 0
            || ngx_strcmp(key, "updatedAt") == 0)
        {
            continue;
        }

        if (json_object_set(def, key, v) != 0) {
            goto failed;
        }
    }

    if (json_object_set_new(def, "isActive", json_boolean(active))
        || json_object_set_new(def, "revision", json_integer(revision))
        || json_object_set_new(def, "createdAt", json_string(created))
        || json_object_set_new(def, "updatedAt", json_string(updated)))
    {
        goto failed;
    }

    return def;

failed:

    json_decref(def);
    return NULL;
}


/*
 * A definition as answered (SPEC 3.1): "gatewayEndpoints" after
 * "isActive"; a summary for lists.
 */

static json_t *
ngx_http_ws_api_admin_output(ngx_http_ws_api_admin_t *ctx, json_t *def,
    ngx_uint_t summary)
{
    u_char      *p;
    json_t      *out, *endpoints, *v;
    ngx_str_t   *gw;
    ngx_uint_t   i;
    const char  *key, *name, *version;

    static const char  *summaries[] = {
        "id", "type", "apiName", "apiVersion", "apiDescription", "teams",
        "wsUrl", "isActive", "gatewayEndpoints", "revision", "updatedAt",
        NULL
    };

    endpoints = json_array();
    if (endpoints == NULL) {
        return NULL;
    }

    name = json_string_value(json_object_get(def, "apiName"));
    version = json_string_value(json_object_get(def, "apiVersion"));

    if (json_is_true(json_object_get(def, "isActive")) && name && version) {

        gw = ctx->wmcf->gateways.elts;

        for (i = 0; i < ctx->wmcf->gateways.nelts; i++) {
            p = ngx_pnalloc(ctx->request->pool,
                            gw[i].len + ngx_strlen(name) + ngx_strlen(version)
                            + 3);
            if (p == NULL) {
                json_decref(endpoints);
                return NULL;
            }

            ngx_sprintf(p, "%V%s%s/%s%Z", &gw[i],
                        (gw[i].len && gw[i].data[gw[i].len - 1] == '/')
                        ? "" : "/", name, version);

            json_array_append_new(endpoints, json_string((char *) p));
        }
    }

    out = json_object();
    if (out == NULL) {
        json_decref(endpoints);
        return NULL;
    }

    json_object_foreach(def, key, v) {

        if (summary) {
            for (i = 0; summaries[i]; i++) {
                if (ngx_strcmp(summaries[i], key) == 0) {
                    break;
                }
            }

            if (summaries[i] == NULL) {
                continue;
            }
        }

        json_object_set(out, key, v);

        if (ngx_strcmp(key, "isActive") == 0) {
            json_object_set(out, "gatewayEndpoints", endpoints);
        }
    }

    json_decref(endpoints);

    return out;
}


ngx_int_t
ngx_http_ws_api_admin_visible(ngx_http_ws_api_admin_t *ctx, json_t *def)
{
    size_t   i, k;
    json_t  *teams, *t, *mine;

    if (!ctx->wmcf->teams || ctx->superuser) {
        return 1;
    }

    teams = json_object_get(def, "teams");

    json_array_foreach(teams, i, t) {
        json_array_foreach(ctx->teams, k, mine) {
            if (json_equal(t, mine)) {
                return 1;
            }
        }
    }

    return 0;
}


/*
 * With teams on, a caller who is not a superuser assigns at least one of
 * their own teams to what they create or change, or would lose it.
 */

ngx_int_t
ngx_http_ws_api_admin_own_team(ngx_http_ws_api_admin_t *ctx, json_t *teams)
{
    size_t   i, k;
    json_t  *t, *mine;

    if (!ctx->wmcf->teams || ctx->superuser) {
        return NGX_OK;
    }

    json_array_foreach(teams, i, t) {
        json_array_foreach(ctx->teams, k, mine) {
            if (json_equal(t, mine)) {
                return NGX_OK;
            }
        }
    }

    (void) ngx_http_ws_api_admin_fail(ctx, NGX_HTTP_FORBIDDEN, "teams",
                                      "assign at least one of your own "
                                      "teams to the API");
    return NGX_DECLINED;
}


/*
 * Whether If-Match (or If-None-Match for a read) lists the ETag of the
 * revision: "*" or a strong "N".
 */

static ngx_int_t
ngx_http_ws_api_admin_if_match(ngx_http_ws_api_admin_t *ctx,
    json_int_t revision)
{
    u_char           *p, *end, *start, tag[NGX_INT64_LEN + 2];
    size_t            len;
    ngx_table_elt_t  *h;

    h = (ctx->request->method == NGX_HTTP_GET
         || ctx->request->method == NGX_HTTP_HEAD)
        ? ctx->request->headers_in.if_none_match
        : ctx->request->headers_in.if_match;

    len = ngx_sprintf(tag, "\"%L\"", (int64_t) revision) - tag;

    p = h->value.data;
    end = p + h->value.len;

    while (p < end) {

        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        start = p;

        while (p < end && *p != ',' && *p != ' ' && *p != '\t') {
            p++;
        }

        if (p - start == 1 && *start == '*') {
            return NGX_OK;
        }

        if ((size_t) (p - start) == len && ngx_strncmp(start, tag, len) == 0)
        {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_ws_api_admin_etag(ngx_http_ws_api_admin_t *ctx, json_t *def)
{
    ngx_str_t  etag;

    etag.data = ngx_pnalloc(ctx->request->pool, NGX_INT64_LEN + 2);
    if (etag.data == NULL) {
        return NGX_ERROR;
    }

    etag.len = ngx_sprintf(etag.data, "\"%L\"", (int64_t)
                           json_integer_value(json_object_get(def,
                                                              "revision")))
               - etag.data;

    return ngx_http_ws_api_admin_header(ctx->request, "ETag", &etag);
}


ngx_int_t
ngx_http_ws_api_admin_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    if (ngx_strcmp(key, "Location") == 0) {
        r->headers_out.location = h;
    }

    return NGX_OK;
}


/* a quote or a backslash in a quoted word of a log line: "?" */

static void
ngx_http_ws_api_admin_quotes(u_char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] == '"' || p[i] == '\\') {
            p[i] = '?';
        }
    }
}


/* RFC 3339, UTC, milliseconds */

void
ngx_http_ws_api_admin_now(char *buf)
{
    ngx_tm_t     tm;
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    ngx_gmtime(tp->sec, &tm);

    ngx_sprintf((u_char *) buf, "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ%Z",
                tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec, tp->msec);
}


/* a random (version 4) UUID */

void
ngx_http_ws_api_admin_uuid(char *buf)
{
    u_char      b[16];
    ngx_uint_t  i;

    if (getrandom(b, sizeof(b), GRND_NONBLOCK) != sizeof(b)) {
        for (i = 0; i < sizeof(b); i++) {
            b[i] = (u_char) ngx_random();
        }
    }

    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;

    ngx_sprintf((u_char *) buf,
                "%*xs-%*xs-%*xs-%*xs-%*xs%Z",
                (size_t) 4, b, (size_t) 2, b + 4, (size_t) 2, b + 6,
                (size_t) 2, b + 8, (size_t) 6, b + 10);
}


/* orders APIs by apiName and apiVersion, users and teams by name */

static int
ngx_http_ws_api_admin_compare(const void *one, const void *two)
{
    int          rc;
    json_t      *a, *b;
    const char  *x, *y;

    a = *(json_t **) one;
    b = *(json_t **) two;

    x = json_string_value(json_object_get(a, "apiName"));

    if (x == NULL) {
        x = json_string_value(json_object_get(a, "name"));
        y = json_string_value(json_object_get(b, "name"));

        return ngx_strcmp(x ? x : "", y ? y : "");
    }

    y = json_string_value(json_object_get(b, "apiName"));

    rc = ngx_strcmp(x, y ? y : "");

    if (rc == 0) {
        x = json_string_value(json_object_get(a, "apiVersion"));
        y = json_string_value(json_object_get(b, "apiVersion"));

        rc = ngx_strcmp(x ? x : "", y ? y : "");
    }

    return rc;
}
