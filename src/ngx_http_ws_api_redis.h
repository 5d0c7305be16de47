
/*
 * Copyright (C) ws-api authors
 */


#ifndef _NGX_HTTP_WS_API_REDIS_H_INCLUDED_
#define _NGX_HTTP_WS_API_REDIS_H_INCLUDED_


#include "ngx_http_ws_api_module.h"
#include <hiredis/hiredis.h>


typedef struct ngx_http_ws_api_redis_s      ngx_http_ws_api_redis_t;
typedef struct ngx_http_ws_api_redis_cmd_s  ngx_http_ws_api_redis_cmd_t;

/*
 * A reply handler: reply is NULL when the command failed (not connected,
 * timed out, connection lost).  The reply is freed after the call.
 */
typedef void (*ngx_http_ws_api_redis_handler_pt)(redisReply *reply,
    void *data);

/* called once a connection is usable, and on every message when
 * subscribed */
typedef void (*ngx_http_ws_api_redis_event_pt)(ngx_http_ws_api_redis_t *rc,
    redisReply *reply);


struct ngx_http_ws_api_redis_s {
    ngx_http_ws_api_redis_conf_t     *conf;
    ngx_log_t                        *log;
    ngx_peer_connection_t             peer;
    ngx_connection_t                 *connection;
    redisReader                      *reader;

    ngx_queue_t                       pending;   /* awaiting a reply */

    u_char                           *out;       /* formatted commands */
    size_t                            out_pos;
    size_t                            out_len;
    size_t                            out_size;

    ngx_event_t                       reconnect;
    ngx_msec_t                        backoff;

    ngx_str_t                         channel;   /* SUBSCRIBE to this */

    ngx_http_ws_api_redis_event_pt    on_ready;
    ngx_http_ws_api_redis_event_pt    on_message;
    ngx_http_ws_api_redis_event_pt    on_down;   /* a connect attempt
                                                    failed (reply NULL) */
    void                             *data;

    ngx_uint_t                        failures;  /* connects in a row */

    int64_t                           clock;     /* Redis' clock (ms since
                                                    the epoch) minus
                                                    ngx_current_msec */
    ngx_msec_t                        clock_rtt; /* of that measure */
    ngx_msec_t                        clock_at;  /* when it was taken */
    ngx_msec_t                        time_sent; /* TIME under way since */

    size_t                            max_reply; /* bytes of one reply */
    size_t                            reply_size;     /* so far */
    size_t                            reply_elements; /* so far */

    unsigned                          connecting:1;
    unsigned                          ready:1;
    unsigned                          stopped:1;
    unsigned                          clock_known:1;
    unsigned                          time_pending:1;
    unsigned                          unreachable:1; /* the last connect
                                                        attempt failed, or
                                                        none will come */
};


ngx_int_t ngx_http_ws_api_redis_init(ngx_http_ws_api_redis_t *rc,
    ngx_http_ws_api_redis_conf_t *conf, ngx_log_t *log);
void ngx_http_ws_api_redis_connect(ngx_http_ws_api_redis_t *rc);
void ngx_http_ws_api_redis_stop(ngx_http_ws_api_redis_t *rc);

/*
 * Sends a command of argc arguments (argv[i] of argvlen[i] bytes).
 * Returns the command (to cancel it), or NULL if it cannot be sent now:
 * the handler is then not called.
 */
ngx_http_ws_api_redis_cmd_t *ngx_http_ws_api_redis_command(
    ngx_http_ws_api_redis_t *rc, ngx_http_ws_api_redis_handler_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);

/* the handler of a command sent will not be called */
void ngx_http_ws_api_redis_cancel(ngx_http_ws_api_redis_cmd_t *cmd);

/* asks Redis' clock again (it is asked at every connection) */
void ngx_http_ws_api_redis_time(ngx_http_ws_api_redis_t *rc);


#endif /* _NGX_HTTP_WS_API_REDIS_H_INCLUDED_ */
