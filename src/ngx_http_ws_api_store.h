
/*
 * Copyright (C) ws-api authors
 */


#ifndef _NGX_HTTP_WS_API_STORE_H_INCLUDED_
#define _NGX_HTTP_WS_API_STORE_H_INCLUDED_


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_redis.h"
#include "ngx_http_ws_api_cache.h"
#include "ngx_http_ws_api_def.h"


/* the Lua scripts of the store, see ngx_http_ws_api_store.c */

typedef enum {
    NGX_HTTP_WS_API_SCRIPT_LOAD = 0,
    NGX_HTTP_WS_API_SCRIPT_GET_APIS,
    NGX_HTTP_WS_API_SCRIPT_CREATE_API,
    NGX_HTTP_WS_API_SCRIPT_REPLACE_API,
    NGX_HTTP_WS_API_SCRIPT_DELETE_API,
    NGX_HTTP_WS_API_SCRIPT_LIST,
    NGX_HTTP_WS_API_SCRIPT_PUT_USER,
    NGX_HTTP_WS_API_SCRIPT_DELETE_USER,
    NGX_HTTP_WS_API_SCRIPT_PUT_TEAM,
    NGX_HTTP_WS_API_SCRIPT_DELETE_TEAM,
    NGX_HTTP_WS_API_SCRIPT_SAVE_APP,
    NGX_HTTP_WS_API_SCRIPT_LAST
} ngx_http_ws_api_script_e;


#define NGX_HTTP_WS_API_SCRIPT_MAX_ARGS  (16 + NGX_HTTP_WS_API_MAX_TEAMS)


/*
 * Events that come while a load is on wait for it in a ring, so that a
 * burst of changes reads only the definitions changed, those in a row in
 * one script; the whole is loaded again only when the ring overflows or a
 * revision is missing.
 */
#define NGX_HTTP_WS_API_EVENTS  64

typedef struct {
    uint64_t                       rev;
    u_char                         id_len;
    u_char                         has_id;     /* an API's; else a user's
                                                  or a team's */
    u_char                         id[64];
} ngx_http_ws_api_event_t;


/*
 * A request that needs Redis while this worker's command connection is
 * still being made waits for it: its event is posted once the connection
 * is ready or its attempt failed, or fires on its own timer (the timeout
 * of ws_api_redis).  The waiter's owner sets event.handler, event.data and
 * event.log; ngx_http_ws_api_store_unwait() is safe in any state.
 */

typedef struct {
    ngx_queue_t                    queue;
    ngx_event_t                    event;
    ngx_msec_t                     start;
    unsigned                       queued:1;
} ngx_http_ws_api_store_waiter_t;


struct ngx_http_ws_api_store_s {
    ngx_http_ws_api_main_conf_t   *wmcf;
    ngx_http_ws_api_cache_t       *cache;
    ngx_http_ws_api_redis_t        cmd;        /* commands */
    ngx_http_ws_api_redis_t        sub;        /* SUBSCRIBE "events" */
    ngx_event_t                    timer;      /* looks at "rev" */
    ngx_uint_t                     ticks;
    ngx_log_t                      log;

    ngx_queue_t                    waiters;    /* for "cmd" to be ready */

    ngx_http_ws_api_event_t        events[NGX_HTTP_WS_API_EVENTS];
    ngx_uint_t                     first;      /* of the ring */
    ngx_uint_t                     nevents;
    ngx_http_ws_api_event_t        batch[NGX_HTTP_WS_API_EVENTS];
    ngx_uint_t                     nbatch;     /* the APIs' events being
                                                  loaded */
    uint64_t                       batch_rev;  /* the last event's, users'
                                                  and teams' too */

    uint64_t                       behind;     /* a "rev" the zone was
                                                  behind at behind_at */
    ngx_msec_t                     behind_at;

    unsigned                       loading:1;
    unsigned                       again:1;    /* look at "rev" after it */
    unsigned                       force:1;    /* the timer looks at "rev"
                                                  whatever the last look */
    unsigned                       eager:1;    /* events may be lost: load
                                                  the whole if behind */
};


ngx_http_ws_api_store_t *ngx_http_ws_api_store_start(ngx_cycle_t *cycle,
    ngx_http_ws_api_main_conf_t *wmcf);
void ngx_http_ws_api_store_stop(ngx_http_ws_api_store_t *store);

/*
 * NGX_AGAIN: the waiter waits for the command connection; NGX_DECLINED:
 * no need (ready) or no use (the last attempt failed, none will come).
 */
ngx_int_t ngx_http_ws_api_store_wait(ngx_http_ws_api_store_t *store,
    ngx_http_ws_api_store_waiter_t *w);
void ngx_http_ws_api_store_unwait(ngx_http_ws_api_store_waiter_t *w);

/*
 * Runs a script with ARGV = the key prefix, a deadline (for a write), then
 * the argc arguments.  A write past its deadline answers {"expired"} and
 * changes nothing.  Same contract as ngx_http_ws_api_redis_command().
 */
ngx_http_ws_api_redis_cmd_t *ngx_http_ws_api_store_eval(
    ngx_http_ws_api_store_t *store, ngx_http_ws_api_script_e script,
    ngx_http_ws_api_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen);

/* GET of the key prefix + name */
ngx_http_ws_api_redis_cmd_t *ngx_http_ws_api_store_get(
    ngx_http_ws_api_store_t *store, const char *kind, ngx_str_t *name,
    ngx_http_ws_api_redis_handler_pt handler, void *data);

/* parses an unsigned decimal reply (string or integer) */
ngx_int_t ngx_http_ws_api_store_reply_uint(redisReply *reply,
    uint64_t *value);


#endif /* _NGX_HTTP_WS_API_STORE_H_INCLUDED_ */
