
/*
 * Copyright (C) ws-api authors
 */


#ifndef _NGX_HTTP_WS_API_ADMIN_H_INCLUDED_
#define _NGX_HTTP_WS_API_ADMIN_H_INCLUDED_


#include "ngx_http_ws_api_module.h"


/* at configuration: the index of $request_id */
ngx_int_t ngx_http_ws_api_admin_init(ngx_conf_t *cf);

/* X-Request-Id: $request_id, on every answer of an admin location */
ngx_int_t ngx_http_ws_api_admin_request_id(ngx_http_request_t *r);

/*
 * The audit line of a write carried out (info):
 * ws_api admin: "<identity>" <op> <kind> "<id>" rev <N>
 * op: create, import, replace, delete, activate, deactivate, version, put;
 * kind: api, user, team (or another resource's); rev: the "rev" of Redis
 * that the change was published under.
 */
void ngx_http_ws_api_admin_audit(ngx_http_request_t *r, ngx_str_t *identity,
    const char *op, const char *kind, ngx_str_t *id, uint64_t rev);


#endif /* _NGX_HTTP_WS_API_ADMIN_H_INCLUDED_ */
