
/*
 * Copyright (C) ws-api authors
 */


#ifndef _NGX_HTTP_WS_API_RELAY_H_INCLUDED_
#define _NGX_HTTP_WS_API_RELAY_H_INCLUDED_


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_frame.h"


/* registers the header filter that hooks an upgraded connection */
ngx_int_t ngx_http_ws_api_relay_init(ngx_conf_t *cf);

/*
 * A pool cleanup of the gateway's context: frees the relay's state, if
 * any, and the context (neither is in the request's pool, which is full
 * by then)
 */
void ngx_http_ws_api_relay_cleanup(void *data);

/*
 * Ends a live connection: a close frame of code and reason to the client
 * and 1001 with the reason to the backend, each at a frame boundary
 * (idleTimeout, maxConnectionAge, deactivation, shutdown: 1001;
 * revoked credentials: 1008); the relay keeps them as end_code and
 * end_reason
 */
void ngx_http_ws_api_relay_end(ngx_http_ws_api_relay_t *relay,
    ngx_uint_t code, const char *reason);

/* the parser of what the client sends (client 1) or the backend sends */
ngx_http_ws_api_frame_t *ngx_http_ws_api_relay_frame(
    ngx_http_ws_api_relay_t *relay, ngx_uint_t client);


#endif /* _NGX_HTTP_WS_API_RELAY_H_INCLUDED_ */
