
/*
 * Copyright (C) ws-api authors
 */


/*
 * The identifyAndAccess policy at the handshake (SPEC 3.4, 5): an API key
 * (header x-Gateway-APIKey or query apiKey) or a JWT (Authorization:
 * Bearer or query access_token) names an application, which must be
 * registered for the API.  Reads the zone only; JWT keys are compiled
 * once per worker and policy.
 */


#ifndef _NGX_HTTP_WS_API_IDENTIFY_H_INCLUDED_
#define _NGX_HTTP_WS_API_IDENTIFY_H_INCLUDED_


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_cache.h"


/* why a handshake is refused, after those of the gateway */
#define NGX_HTTP_WS_API_REFUSE_ANONYMOUS       10   /* 401 */
#define NGX_HTTP_WS_API_REFUSE_CREDENTIALS     11   /* 401 */
#define NGX_HTTP_WS_API_REFUSE_NOT_REGISTERED  12   /* 403 */

/* JWT key sets kept compiled by a worker */
#define NGX_HTTP_WS_API_IDENTIFY_KEYSETS       32


typedef struct {
    ngx_str_t                      app_id;     /* in the request's pool */
    ngx_str_t                      app_name;
    u_char                        *key_hash;   /* SHA-256 of the API key
                                                  it came with, NULL: a
                                                  JWT; in the pool */
    const char                    *detail;     /* why refused */
    unsigned                       bearer:1;   /* a JWT was refused */
} ngx_http_ws_api_ident_t;


/*
 * With the zone locked: identifies the caller of the API api_id under its
 * policy; removes apiKey and access_token from r->args.  Returns NGX_OK
 * (ident filled, or empty for an anonymous caller), one of the refusals
 * above, or NGX_ERROR.
 */
ngx_int_t ngx_http_ws_api_identify(ngx_http_request_t *r,
    ngx_http_ws_api_policy_t *pol, ngx_http_ws_api_cache_t *cache,
    ngx_str_t *api_id, ngx_http_ws_api_ident_t *ident);

/*
 * With the zone locked: whether the application a live connection of the
 * API api_id was identified as (and the key it came with, if any) is
 * still allowed to use it.  Returns NULL, or the close reason.
 */
const char *ngx_http_ws_api_identify_revoked(ngx_http_ws_api_cache_t *cache,
    ngx_str_t *api_id, ngx_str_t *app_id, u_char *key_hash);

/* the worker exits: its compiled JWT key sets go */
void ngx_http_ws_api_identify_exit(void);

/* sends the 401 (with WWW-Authenticate) or 403 of a refusal */
ngx_int_t ngx_http_ws_api_identify_reject(ngx_http_request_t *r,
    ngx_int_t why, ngx_http_ws_api_policy_t *pol,
    ngx_http_ws_api_ident_t *ident);


#endif /* _NGX_HTTP_WS_API_IDENTIFY_H_INCLUDED_ */
