
/*
 * Copyright (C) ws-api authors
 */


/*
 * Directives, configuration, variables, and the registration of the
 * gateway phase handler, the filters and the per-worker Redis store.
 */


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_admin.h"
#include "ngx_http_ws_api_identify.h"
#include "ngx_http_ws_api_cache.h"
#include "ngx_http_ws_api_store.h"
#include "ngx_http_ws_api_relay.h"
#include "ngx_http_ws_api_metrics.h"


#define NGX_HTTP_WS_API_REDIS_PORT     6379
#define NGX_HTTP_WS_API_CACHE_MIN      (64 * 1024)


static ngx_int_t ngx_http_ws_api_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_ws_api_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_ws_api_close_code_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static void *ngx_http_ws_api_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_ws_api_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_ws_api_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_ws_api_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_ws_api_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_ws_api_used_post(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_ws_api_location(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_ws_api_identity(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_ws_api_superuser(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_http_ws_api_used(ngx_conf_t *cf, ngx_command_t *cmd);
static ngx_int_t ngx_http_ws_api_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_ws_api_init_process(ngx_cycle_t *cycle);
static void ngx_http_ws_api_exit_process(ngx_cycle_t *cycle);


/* a post handler that remembers which ws_api_* directive came first */

typedef struct {
    ngx_conf_post_handler_pt    post_handler;
    char                       *name;
} ngx_http_ws_api_used_post_t;


static ngx_http_ws_api_used_post_t  ngx_http_ws_api_cache_post =
    { ngx_http_ws_api_used_post, "ws_api_cache" };

static ngx_http_ws_api_used_post_t  ngx_http_ws_api_teams_post =
    { ngx_http_ws_api_used_post, "ws_api_teams" };

static ngx_http_ws_api_used_post_t  ngx_http_ws_api_shutdown_post =
    { ngx_http_ws_api_used_post, "ws_api_shutdown_close" };


static ngx_command_t  ngx_http_ws_api_commands[] = {

    { ngx_string("ws_api_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_ws_api_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ws_api_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_ws_api_main_conf_t, cache_size),
      &ngx_http_ws_api_cache_post },

    { ngx_string("ws_api_teams"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_ws_api_main_conf_t, teams),
      &ngx_http_ws_api_teams_post },

    { ngx_string("ws_api_shutdown_close"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_ws_api_main_conf_t, shutdown_close),
      &ngx_http_ws_api_shutdown_post },

    { ngx_string("ws_api_gateway"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_ws_api_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_ws_api_loc_conf_t, gateway),
      NULL },

    { ngx_string("ws_api_admin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_ws_api_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_ws_api_loc_conf_t, admin),
      NULL },

    { ngx_string("ws_api_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_ws_api_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ws_api_admin_identity"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_ws_api_identity,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ws_api_admin_superuser"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_ws_api_superuser,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_ws_api_module_ctx = {
    ngx_http_ws_api_add_variables,         /* preconfiguration */
    ngx_http_ws_api_init,                  /* postconfiguration */

    ngx_http_ws_api_create_main_conf,      /* create main configuration */
    ngx_http_ws_api_init_main_conf,        /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_ws_api_create_loc_conf,       /* create location configuration */
    ngx_http_ws_api_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_ws_api_module = {
    NGX_MODULE_V1,
    &ngx_http_ws_api_module_ctx,           /* module context */
    ngx_http_ws_api_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_ws_api_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_ws_api_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_ws_api_vars[] = {

    { ngx_string("ws_api_backend"), NULL, ngx_http_ws_api_variable,
      offsetof(ngx_http_ws_api_ctx_t, backend), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("ws_api_id"), NULL, ngx_http_ws_api_variable,
      offsetof(ngx_http_ws_api_ctx_t, id), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("ws_api_name"), NULL, ngx_http_ws_api_variable,
      offsetof(ngx_http_ws_api_ctx_t, name), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("ws_api_version"), NULL, ngx_http_ws_api_variable,
      offsetof(ngx_http_ws_api_ctx_t, version), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("ws_api_application"), NULL, ngx_http_ws_api_variable,
      offsetof(ngx_http_ws_api_ctx_t, app_name), NGX_HTTP_VAR_NOCACHEABLE,
      0 },

    { ngx_string("ws_api_application_id"), NULL, ngx_http_ws_api_variable,
      offsetof(ngx_http_ws_api_ctx_t, app_id), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("ws_api_close_code"), NULL,
      ngx_http_ws_api_close_code_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_ws_api_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_ws_api_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return ngx_http_ws_api_metrics_add_variables(cf);
}


static ngx_int_t
ngx_http_ws_api_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_str_t              *s;
    ngx_http_ws_api_ctx_t  *ctx;

    ctx = ngx_http_ws_api_gateway_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((char *) ctx + data);

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_ws_api_close_code_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                 *p;
    ngx_http_ws_api_ctx_t  *ctx;

    ctx = ngx_http_ws_api_gateway_ctx(r);

    if (ctx == NULL || ctx->close_code == 0) {
        v->len = 0;
        v->valid = 1;
        v->no_cacheable = 1;
        v->not_found = 0;
        v->data = (u_char *) "";
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%ui", ctx->close_code) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static void *
ngx_http_ws_api_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_ws_api_main_conf_t  *wmcf;

    wmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_ws_api_main_conf_t));
    if (wmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     wmcf->redis = NULL;
     *     wmcf->shm_zone = NULL;
     *     wmcf->used = NULL;
     *     wmcf->store = NULL;
     */

    wmcf->cache_size = NGX_CONF_UNSET_SIZE;
    wmcf->teams = NGX_CONF_UNSET;
    wmcf->shutdown_close = NGX_CONF_UNSET;

    if (ngx_array_init(&wmcf->gateways, cf->pool, 2, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NULL;
    }

    return wmcf;
}


static char *
ngx_http_ws_api_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_ws_api_main_conf_t *wmcf = conf;

    ngx_conf_init_size_value(wmcf->cache_size, 8 * 1024 * 1024);
    ngx_conf_init_value(wmcf->teams, 0);
    ngx_conf_init_value(wmcf->shutdown_close, 1);

    if (wmcf->redis == NULL) {

        if (wmcf->used) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\" requires \"ws_api_redis\" "
                               "in the http block", wmcf->used);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (wmcf->cache_size < NGX_HTTP_WS_API_CACHE_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"ws_api_cache\" size %uz is too small, "
                           "the minimum is 64k", wmcf->cache_size);
        return NGX_CONF_ERROR;
    }

    wmcf->shm_zone = ngx_http_ws_api_cache_add(cf, wmcf);
    if (wmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_ws_api_metrics_add(cf, wmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_ws_api_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_ws_api_loc_conf_t  *wlcf;

    wlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_ws_api_loc_conf_t));
    if (wlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     wlcf->gateway = 0;
     *     wlcf->admin = 0;
     */

    wlcf->identity = NGX_CONF_UNSET_PTR;
    wlcf->superusers = NGX_CONF_UNSET_PTR;

    return wlcf;
}


static char *
ngx_http_ws_api_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_ws_api_loc_conf_t *prev = parent;
    ngx_http_ws_api_loc_conf_t *conf = child;

    ngx_str_t                         name;
    ngx_http_core_loc_conf_t         *clcf;
    ngx_http_compile_complex_value_t  ccv;

    ngx_conf_merge_ptr_value(conf->identity, prev->identity, NULL);
    ngx_conf_merge_ptr_value(conf->superusers, prev->superusers, NULL);

    if (conf->identity == NULL) {
        conf->identity = ngx_palloc(cf->pool,
                                    sizeof(ngx_http_complex_value_t));
        if (conf->identity == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_str_set(&name, "$remote_user");

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &name;
        ccv.complex_value = conf->identity;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        prev->identity = conf->identity;
    }

    if (conf->admin) {

        /*
         * SPEC 3.3: a body over 1 MiB is a 413; bodies are parsed in
         * memory, so the whole of one fits in the body buffer
         */

        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

        if (clcf->client_max_body_size == 0
            || clcf->client_max_body_size > 1024 * 1024)
        {
            clcf->client_max_body_size = 1024 * 1024;
        }

        if (clcf->client_body_buffer_size
            < (size_t) clcf->client_max_body_size)
        {
            clcf->client_body_buffer_size = clcf->client_max_body_size;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_ws_api_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_ws_api_main_conf_t *wmcf = conf;

    ngx_int_t                      n;
    ngx_str_t                     *value, s;
    ngx_url_t                      u;
    ngx_addr_t                     addr;
    ngx_uint_t                     i;
    ngx_http_ws_api_redis_conf_t  *rcf;

    if (wmcf->redis) {
        return "is duplicate";
    }

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_ws_api_redis_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    rcf->name = value[1];

    if (ngx_strncmp(value[1].data, "unix:", 5) == 0) {

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url = value[1];

        if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"ws_api_redis\" has an invalid address "
                               "\"%V\"%s%s", &value[1],
                               u.err ? ": " : "", u.err ? u.err : "");
            return NGX_CONF_ERROR;
        }

        rcf->sockaddr = u.addrs[0].sockaddr;
        rcf->socklen = u.addrs[0].socklen;

    } else {

        /*
         * an IP address only: hiredis and nginx would resolve a name
         * synchronously, which a worker must never do
         */

        if (ngx_parse_addr_port(cf->pool, &addr, value[1].data, value[1].len)
            != NGX_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"ws_api_redis\" has an invalid address "
                               "\"%V\": expected IP:PORT or unix:PATH",
                               &value[1]);
            return NGX_CONF_ERROR;
        }

        if (ngx_inet_get_port(addr.sockaddr) == 0) {
            ngx_inet_set_port(addr.sockaddr, NGX_HTTP_WS_API_REDIS_PORT);
        }

        rcf->sockaddr = addr.sockaddr;
        rcf->socklen = addr.socklen;
    }

    ngx_str_set(&rcf->prefix, "wsapi:");
    rcf->timeout = 1000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {

            n = ngx_atoi(value[i].data + 3, value[i].len - 3);
            if (n == NGX_ERROR) {
                goto invalid;
            }

            rcf->db = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "password=", 9) == 0) {
            rcf->password.data = value[i].data + 9;
            rcf->password.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "prefix=", 7) == 0) {
            rcf->prefix.data = value[i].data + 7;
            rcf->prefix.len = value[i].len - 7;

            if (rcf->prefix.len > 64) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {

            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            rcf->timeout = ngx_parse_time(&s, 0);
            if (rcf->timeout == (ngx_msec_t) NGX_ERROR || rcf->timeout == 0) {
                goto invalid;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"ws_api_redis\" has an unknown option \"%V\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    wmcf->redis = rcf;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"ws_api_redis\" has an invalid value \"%V\"",
                       &value[i]);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_ws_api_used_post(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_ws_api_used_post_t  *up = post;

    ngx_http_ws_api_main_conf_t  *wmcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_ws_api_module);

    if (wmcf->used == NULL) {
        wmcf->used = up->name;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_ws_api_location(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_ws_api_loc_conf_t *wlcf = conf;

    ngx_str_t                    *gw;
    ngx_uint_t                    i;
    ngx_flag_t                   *fp;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_ws_api_main_conf_t  *wmcf;

    ngx_http_ws_api_used(cf, cmd);

    fp = (ngx_flag_t *) ((char *) conf + cmd->offset);

    if (*fp) {
        return "is duplicate";
    }

    if (wlcf->gateway || wlcf->admin) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"ws_api_gateway\" and \"ws_api_admin\" "
                           "cannot share a location");
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->noname || clcf->named || clcf->exact_match
#if (NGX_PCRE)
        || clcf->regex
#endif
        )
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must be in a prefix location",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    *fp = 1;

    if (cmd->offset == offsetof(ngx_http_ws_api_loc_conf_t, admin)) {
        clcf->handler = ngx_http_ws_api_admin_handler;
        return NGX_CONF_OK;
    }

    /* a gateway: remembered for "gatewayEndpoints" */

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_ws_api_module);

    gw = wmcf->gateways.elts;

    for (i = 0; i < wmcf->gateways.nelts; i++) {
        if (gw[i].len == clcf->name.len
            && ngx_strncmp(gw[i].data, clcf->name.data, gw[i].len) == 0)
        {
            return NGX_CONF_OK;
        }
    }

    gw = ngx_array_push(&wmcf->gateways);
    if (gw == NULL) {
        return NGX_CONF_ERROR;
    }

    *gw = clcf->name;

    return NGX_CONF_OK;
}


static char *
ngx_http_ws_api_identity(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_ws_api_loc_conf_t *wlcf = conf;

    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    ngx_http_ws_api_used(cf, cmd);

    if (wlcf->identity != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* a constant would make every caller that identity */

    if (ngx_http_script_variables_count(&value[1]) == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"ws_api_admin_identity\" needs a variable, "
                           "such as $remote_user, not \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    wlcf->identity = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (wlcf->identity == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = wlcf->identity;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_ws_api_superuser(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_ws_api_loc_conf_t *wlcf = conf;

    ngx_str_t   *value, *s;
    ngx_uint_t   i;

    ngx_http_ws_api_used(cf, cmd);

    if (wlcf->superusers != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    wlcf->superusers = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                        sizeof(ngx_str_t));
    if (wlcf->superusers == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"ws_api_admin_superuser\" has an empty name");
            return NGX_CONF_ERROR;
        }

        s = ngx_array_push(wlcf->superusers);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}


static void
ngx_http_ws_api_used(ngx_conf_t *cf, ngx_command_t *cmd)
{
    ngx_http_ws_api_main_conf_t  *wmcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_ws_api_module);

    if (wmcf->used == NULL) {
        wmcf->used = (char *) cmd->name.data;
    }
}


static ngx_int_t
ngx_http_ws_api_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt          *h;
    ngx_http_core_main_conf_t    *cmcf;
    ngx_http_ws_api_main_conf_t  *wmcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_ws_api_module);

    if (wmcf->redis == NULL) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_ws_api_gateway_handler;

    if (ngx_http_ws_api_json_filter_init(cf) != NGX_OK
        || ngx_http_ws_api_admin_init(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_ws_api_relay_init(cf);
}


static ngx_int_t
ngx_http_ws_api_init_process(ngx_cycle_t *cycle)
{
    ngx_http_ws_api_main_conf_t  *wmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    wmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_ws_api_module);

    if (wmcf == NULL || wmcf->redis == NULL) {
        return NGX_OK;
    }

    wmcf->store = ngx_http_ws_api_store_start(cycle, wmcf);
    if (wmcf->store == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_ws_api_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_ws_api_main_conf_t  *wmcf;

    wmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_ws_api_module);

    if (wmcf && wmcf->store) {
        ngx_http_ws_api_store_stop(wmcf->store);
        wmcf->store = NULL;
    }

    ngx_http_ws_api_identify_exit();
}
