
/*
 * Copyright (C) ws-api authors
 */


#ifndef _NGX_HTTP_WS_API_METRICS_H_INCLUDED_
#define _NGX_HTTP_WS_API_METRICS_H_INCLUDED_


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_frame.h"


/* the zone "ws_api_metrics", sized for the workers (init_main_conf) */
ngx_int_t ngx_http_ws_api_metrics_add(ngx_conf_t *cf,
    ngx_http_ws_api_main_conf_t *wmcf);

/* the "ws_api_metrics" directive */
char *ngx_http_ws_api_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* $ws_api_messages_in, ..._out, $ws_api_bytes_in, ..._out, $ws_api_duration */
ngx_int_t ngx_http_ws_api_metrics_add_variables(ngx_conf_t *cf);

/*
 * A handshake the gateway refused, with the reason of its JSON error;
 * name NULL: no API resolved (counted under api="")
 */
void ngx_http_ws_api_metrics_reject(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *version, const char *reason);

/* the backend's 101: the session begins */
void ngx_http_ws_api_metrics_open(ngx_http_ws_api_ctx_t *ctx);

/* a message refused with a close code; client: sent by the client */
void ngx_http_ws_api_metrics_violation(ngx_http_ws_api_ctx_t *ctx,
    ngx_uint_t client, ngx_uint_t code);

/* adds what the parsers counted since the last flush (once a second) */
void ngx_http_ws_api_metrics_flush(ngx_http_ws_api_ctx_t *ctx,
    ngx_http_ws_api_frame_t *up, ngx_http_ws_api_frame_t *down);

/* 1 once a second of ticks every NGX_HTTP_WS_API_METRICS_TICK ms */
#define NGX_HTTP_WS_API_METRICS_TICK  250
ngx_uint_t ngx_http_ws_api_metrics_due(void);

/*
 * The request's end (its pool cleanup): the last flush, the close code,
 * the duration; up and down NULL: never upgraded
 */
void ngx_http_ws_api_metrics_close(ngx_http_ws_api_ctx_t *ctx,
    ngx_http_ws_api_frame_t *up, ngx_http_ws_api_frame_t *down);


#endif /* _NGX_HTTP_WS_API_METRICS_H_INCLUDED_ */
