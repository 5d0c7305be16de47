
/*
 * Copyright (C) ws-api authors
 */


#ifndef _NGX_HTTP_WS_API_MODULE_H_INCLUDED_
#define _NGX_HTTP_WS_API_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef struct ngx_http_ws_api_store_s  ngx_http_ws_api_store_t;
typedef struct ngx_http_ws_api_relay_s  ngx_http_ws_api_relay_t;
typedef struct ngx_http_ws_api_conns_s  ngx_http_ws_api_conns_t;


/* where the definitions live: the arguments of "ws_api_redis" */

typedef struct {
    ngx_str_t                   name;        /* the address as written */
    struct sockaddr            *sockaddr;
    socklen_t                   socklen;
    ngx_uint_t                  db;
    ngx_str_t                   password;
    ngx_str_t                   prefix;      /* "wsapi:" */
    ngx_msec_t                  timeout;
} ngx_http_ws_api_redis_conf_t;


typedef struct {
    ngx_http_ws_api_redis_conf_t  *redis;    /* NULL: module unused */
    size_t                      cache_size;
    ngx_flag_t                  teams;
    ngx_flag_t                  shutdown_close;
    ngx_shm_zone_t             *shm_zone;
    ngx_shm_zone_t             *metrics_zone;
    ngx_array_t                 gateways;    /* ngx_str_t, location prefixes */
    char                       *used;        /* the first ws_api_* directive
                                                seen, for error messages */
    ngx_http_ws_api_store_t    *store;       /* this worker's, at run time */
    ngx_int_t                   request_id;  /* the index of $request_id */
} ngx_http_ws_api_main_conf_t;


typedef struct {
    ngx_flag_t                  gateway;
    ngx_flag_t                  admin;
    ngx_http_complex_value_t   *identity;
    ngx_array_t                *superusers;  /* ngx_str_t */
} ngx_http_ws_api_loc_conf_t;


/* per request: the metrics of a gateway connection (metrics.c) */

typedef struct {
    void                       *counters;    /* this worker's of the API,
                                                NULL: not upgraded */
    uint64_t                    flushed[2][3];  /* client, server: text,
                                                binary messages and bytes
                                                added to the counters */
    ngx_msec_t                  start;       /* of the upgraded session */
    unsigned                    rejected:1;  /* counted as a rejection */
} ngx_http_ws_api_metrics_conn_t;


/* per request: a gateway request once its API is resolved */

typedef struct {
    ngx_str_t                   id;
    ngx_str_t                   name;
    ngx_str_t                   version;
    ngx_str_t                   backend;     /* $ws_api_backend */
    ngx_uint_t                  messages;    /* NGX_HTTP_WS_API_CLIENT_TEXT..*/
    ngx_uint_t                  close_code;  /* $ws_api_close_code */
    ngx_http_ws_api_relay_t    *relay;
    void                       *limits;      /* ngx_http_ws_api_limits_t of
                                                the API's policies, NULL:
                                                none */
    ngx_http_ws_api_conns_t    *conns;       /* counted for maxConnections */
    ngx_http_ws_api_metrics_conn_t  metrics;
    ngx_str_t                   app_id;      /* $ws_api_application_id */
    ngx_str_t                   app_name;    /* $ws_api_application */
    u_char                     *app_key;     /* SHA-256 of its API key,
                                                NULL: none or a JWT */
    void                       *schemas;     /* ngx_http_ws_api_schemas_t,
                                                NULL: none (SPEC 4.3) */
} ngx_http_ws_api_ctx_t;


#define ngx_http_ws_api_get_main_conf(r)                                     \
    ((ngx_http_ws_api_main_conf_t *)                                         \
         ngx_http_get_module_main_conf(r, ngx_http_ws_api_module))


extern ngx_module_t  ngx_http_ws_api_module;


/* ngx_http_ws_api_json.c: JSON answers */

ngx_int_t ngx_http_ws_api_send_json(ngx_http_request_t *r, ngx_uint_t status,
    void *json);
ngx_int_t ngx_http_ws_api_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *field, const char *fmt, ...);
ngx_int_t ngx_http_ws_api_json_filter_init(ngx_conf_t *cf);
void ngx_http_ws_api_json_sanitize(u_char *p, size_t len);

/* ngx_http_ws_api_admin.c */

ngx_int_t ngx_http_ws_api_admin_handler(ngx_http_request_t *r);

/* ngx_http_ws_api_asyncapi_http.c */

ngx_int_t ngx_http_ws_api_asyncapi_send(ngx_http_request_t *r, void *def);

/* ngx_http_ws_api_gateway.c */

ngx_int_t ngx_http_ws_api_gateway_handler(ngx_http_request_t *r);
ngx_http_ws_api_ctx_t *ngx_http_ws_api_gateway_ctx(ngx_http_request_t *r);


#endif /* _NGX_HTTP_WS_API_MODULE_H_INCLUDED_ */
