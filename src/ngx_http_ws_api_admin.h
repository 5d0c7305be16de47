
/*
 * Copyright (C) ws-api authors
 */


/*
 * The admin API's shared machinery: a request's context, its routes and
 * the steps that wait for Redis, the error and JSON answers, teams and
 * the helpers that other resources of the admin API (applications, in
 * ngx_http_ws_api_app.c) use.
 */


#ifndef _NGX_HTTP_WS_API_ADMIN_H_INCLUDED_
#define _NGX_HTTP_WS_API_ADMIN_H_INCLUDED_


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_store.h"


#define NGX_HTTP_WS_API_MANAGE         0x01
#define NGX_HTTP_WS_API_ACTIVATE       0x02
#define NGX_HTTP_WS_API_USERS          0x04
#define NGX_HTTP_WS_API_APPS           0x08
#define NGX_HTTP_WS_API_ALL            0x0f

#define NGX_HTTP_WS_API_BODY_NONE      0
#define NGX_HTTP_WS_API_BODY_OPTIONAL  1
#define NGX_HTTP_WS_API_BODY_REQUIRED  2

/* compare-and-set attempts of a change before a 409 */
#define NGX_HTTP_WS_API_ATTEMPTS       5


typedef struct ngx_http_ws_api_admin_s  ngx_http_ws_api_admin_t;

typedef ngx_int_t (*ngx_http_ws_api_admin_pt)(ngx_http_ws_api_admin_t *ctx);
typedef ngx_int_t (*ngx_http_ws_api_admin_step_pt)(
    ngx_http_ws_api_admin_t *ctx, redisReply *reply);


typedef struct {
    ngx_uint_t                       method;
    ngx_uint_t                       privileges;  /* any of; 0: anyone */
    ngx_uint_t                       body;
    ngx_http_ws_api_admin_pt         start;
} ngx_http_ws_api_op_t;


typedef struct {
    ngx_str_t                        collection;  /* "apis" */
    ngx_uint_t                       segments;    /* 1, 2 or 3 */
    ngx_str_t                        action;      /* "activate" */
    unsigned                         teams:1;     /* only with teams on */
    unsigned                         public:1;    /* no identity needed */
    const char                      *allow;
    ngx_http_ws_api_op_t             ops[4];
} ngx_http_ws_api_route_t;


struct ngx_http_ws_api_admin_s {
    ngx_http_request_t              *request;
    ngx_http_ws_api_store_t         *store;
    ngx_http_ws_api_main_conf_t     *wmcf;
    const ngx_http_ws_api_route_t   *route;
    const ngx_http_ws_api_op_t      *op;

    ngx_str_t                        arg;         /* {id} or {name} */
    ngx_str_t                        arg2;        /* {keyId} */
    ngx_str_t                        identity;
    ngx_uint_t                       privileges;
    json_t                          *teams;       /* the caller's */

    ngx_str_t                        text;        /* the request body */
    json_t                          *body;
    json_t                          *current;     /* as read from Redis */
    ngx_str_t                        current_text;
    json_t                          *next;        /* to be written */
    char                            *next_text;

    ngx_http_ws_api_admin_pt         decide;      /* current -> next */
    ngx_http_ws_api_admin_pt         done;        /* answers a success */
    ngx_uint_t                       attempts;

    ngx_http_ws_api_redis_cmd_t     *cmd;         /* awaited */
    ngx_http_ws_api_admin_step_pt    step;        /* takes its reply */

    ngx_int_t                        rc;          /* of the answer sent */
    char                             field[128];
    char                             message[512];

    int                              asyncapi;    /* the body's type */
    json_t                          *asyncapi_paths;

    char                             secret[64];  /* a new API key */
    char                             secret_id[24];

    ngx_http_ws_api_store_waiter_t   waiter;      /* for Redis at start */
    ngx_msec_t                       started;

    unsigned                         superuser:1;
    unsigned                         waited:1;
};


/* the reply of whatever command the request waits for: ctx->step runs */
void ngx_http_ws_api_admin_reply(redisReply *reply, void *data);

/* waits for cmd (NULL: a 503), whose reply goes to step */
ngx_int_t ngx_http_ws_api_admin_wait(ngx_http_ws_api_admin_t *ctx,
    ngx_http_ws_api_redis_cmd_t *cmd, ngx_http_ws_api_admin_step_pt step);

/* an error answer: returns status, the message and field kept in ctx */
ngx_int_t ngx_http_ws_api_admin_fail(ngx_http_ws_api_admin_t *ctx,
    ngx_uint_t status, const char *field, const char *fmt, ...);
ngx_int_t ngx_http_ws_api_admin_redis_error(ngx_http_ws_api_admin_t *ctx,
    redisReply *reply);

/* sends json (whose reference it takes); NGX_OK */
ngx_int_t ngx_http_ws_api_admin_respond(ngx_http_ws_api_admin_t *ctx,
    ngx_uint_t status, json_t *json);
ngx_int_t ngx_http_ws_api_admin_no_content(ngx_http_ws_api_admin_t *ctx);

/* teams: whether the caller sees a record; whether it keeps one of its own */
ngx_int_t ngx_http_ws_api_admin_visible(ngx_http_ws_api_admin_t *ctx,
    json_t *def);
ngx_int_t ngx_http_ws_api_admin_own_team(ngx_http_ws_api_admin_t *ctx,
    json_t *teams);

ngx_int_t ngx_http_ws_api_admin_header(ngx_http_request_t *r,
    const char *key, ngx_str_t *value);
void ngx_http_ws_api_admin_now(char *buf);        /* 32 bytes */
void ngx_http_ws_api_admin_uuid(char *buf);       /* 37 bytes */


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
