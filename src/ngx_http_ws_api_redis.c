
/*
 * Copyright (C) ws-api authors
 */


/*
 * A Redis client on nginx's event loop.
 *
 * nginx owns the socket (ngx_event_connect_peer(), c->recv, c->send), so
 * nothing ever blocks and nothing closes a descriptor twice; hiredis is
 * used only for its reply parser.  Commands are pipelined in order; one
 * timer on the read event bounds the wait for the next reply, another
 * bounds the connect.  A lost connection fails every pending command at
 * once and is re-established from a timer with a growing backoff.
 */


#include "ngx_http_ws_api_redis.h"


#define NGX_HTTP_WS_API_REDIS_BACKOFF_MIN  100
#define NGX_HTTP_WS_API_REDIS_BACKOFF_MAX  1000

/*
 * hiredis 0.14 believes what a reply announces: "*1000000000" alone makes
 * it allocate and later walk a billion elements.  The reader here builds
 * replies with its own functions, within these bounds per reply.
 */
#define NGX_HTTP_WS_API_REDIS_MAX_ELEMENTS  (1024 * 1024)
#define NGX_HTTP_WS_API_REDIS_MAX_REPLY     (128 * 1024 * 1024)
#define NGX_HTTP_WS_API_REDIS_MAX_TIME      100000000000LL  /* s, year 5138 */


static void *ngx_http_ws_api_redis_string(const redisReadTask *task,
    char *str, size_t len);
static void *ngx_http_ws_api_redis_array(const redisReadTask *task,
    int elements);
static void *ngx_http_ws_api_redis_integer(const redisReadTask *task,
    long long value);
static void *ngx_http_ws_api_redis_nil(const redisReadTask *task);
static redisReply *ngx_http_ws_api_redis_object(int type, size_t size);
static void *ngx_http_ws_api_redis_link(const redisReadTask *task,
    redisReply *r);


static redisReplyObjectFunctions  ngx_http_ws_api_redis_functions = {
    ngx_http_ws_api_redis_string,
    ngx_http_ws_api_redis_array,
    ngx_http_ws_api_redis_integer,
    ngx_http_ws_api_redis_nil,
    freeReplyObject
};


/* the client whose reader builds a reply now (a worker has one thread) */
static ngx_http_ws_api_redis_t  *ngx_http_ws_api_redis_current;


struct ngx_http_ws_api_redis_cmd_s {
    ngx_queue_t                        queue;
    ngx_http_ws_api_redis_handler_pt   handler;    /* NULL: cancelled */
    void                              *data;
};


static void ngx_http_ws_api_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_http_ws_api_redis_connected(ngx_http_ws_api_redis_t *rc);
static void ngx_http_ws_api_redis_handshake_handler(redisReply *reply,
    void *data);
static void ngx_http_ws_api_redis_time_handler(redisReply *reply,
    void *data);
static void ngx_http_ws_api_redis_read_handler(ngx_event_t *rev);
static void ngx_http_ws_api_redis_write_handler(ngx_event_t *wev);
static ngx_int_t ngx_http_ws_api_redis_flush(ngx_http_ws_api_redis_t *rc);
static ngx_int_t ngx_http_ws_api_redis_process(ngx_http_ws_api_redis_t *rc);
static ngx_http_ws_api_redis_cmd_t *ngx_http_ws_api_redis_queue(
    ngx_http_ws_api_redis_t *rc, ngx_http_ws_api_redis_handler_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);
static void ngx_http_ws_api_redis_fail(ngx_http_ws_api_redis_t *rc,
    const char *why);
static void ngx_http_ws_api_redis_close(ngx_http_ws_api_redis_t *rc);


ngx_int_t
ngx_http_ws_api_redis_init(ngx_http_ws_api_redis_t *rc,
    ngx_http_ws_api_redis_conf_t *conf, ngx_log_t *log)
{
    rc->conf = conf;
    rc->log = log;

    rc->reader = redisReaderCreateWithFunctions(
                                            &ngx_http_ws_api_redis_functions);
    if (rc->reader == NULL) {
        return NGX_ERROR;
    }

    ngx_queue_init(&rc->pending);

    rc->out_size = 4096;
    rc->out = ngx_alloc(rc->out_size, log);
    if (rc->out == NULL) {
        return NGX_ERROR;
    }

    rc->reconnect.handler = ngx_http_ws_api_redis_reconnect_handler;
    rc->reconnect.data = rc;
    rc->reconnect.log = log;
    rc->reconnect.cancelable = 1;

    rc->backoff = NGX_HTTP_WS_API_REDIS_BACKOFF_MIN;
    rc->max_reply = NGX_HTTP_WS_API_REDIS_MAX_REPLY;

    return NGX_OK;
}


void
ngx_http_ws_api_redis_connect(ngx_http_ws_api_redis_t *rc)
{
    ngx_int_t          rv;
    ngx_connection_t  *c;

    if (rc->stopped || rc->connection || ngx_exiting || ngx_terminate
        || ngx_quit)
    {
        return;
    }

    if (rc->reader == NULL) {
        rc->reader = redisReaderCreateWithFunctions(
                                            &ngx_http_ws_api_redis_functions);
        if (rc->reader == NULL) {
            ngx_http_ws_api_redis_fail(rc, "has no reply parser (no memory)");
            return;
        }
    }

    ngx_memzero(&rc->peer, sizeof(ngx_peer_connection_t));

    rc->peer.sockaddr = rc->conf->sockaddr;
    rc->peer.socklen = rc->conf->socklen;
    rc->peer.name = &rc->conf->name;
    rc->peer.get = ngx_event_get_peer;
    rc->peer.log = rc->log;
    rc->peer.log_error = NGX_ERROR_ERR;

    rv = ngx_event_connect_peer(&rc->peer);

    if (rv == NGX_ERROR || rv == NGX_BUSY || rv == NGX_DECLINED) {

        if (rc->peer.connection) {
            ngx_close_connection(rc->peer.connection);
            rc->peer.connection = NULL;
        }

        ngx_http_ws_api_redis_fail(rc, NULL);
        return;
    }

    c = rc->peer.connection;

    c->data = rc;
    c->read->handler = ngx_http_ws_api_redis_read_handler;
    c->write->handler = ngx_http_ws_api_redis_write_handler;
    c->write->cancelable = 1;

    /*
     * the read timer runs while a reply is awaited: on the command
     * connection it keeps an exiting worker (reload, quit) until the
     * replies that admin requests wait for have come, or the timeout
     */

    c->read->cancelable = (rc->channel.len != 0);

    rc->connection = c;

    if (rv == NGX_AGAIN) {
        rc->connecting = 1;
        ngx_add_timer(c->write, rc->conf->timeout);
        return;
    }

    ngx_http_ws_api_redis_connected(rc);
}


void
ngx_http_ws_api_redis_stop(ngx_http_ws_api_redis_t *rc)
{
    rc->stopped = 1;

    if (rc->reconnect.timer_set) {
        ngx_del_timer(&rc->reconnect);
    }

    ngx_http_ws_api_redis_close(rc);

    if (rc->reader) {
        redisReaderFree(rc->reader);
        rc->reader = NULL;
    }

    if (rc->out) {
        ngx_free(rc->out);
        rc->out = NULL;
    }
}


ngx_http_ws_api_redis_cmd_t *
ngx_http_ws_api_redis_command(ngx_http_ws_api_redis_t *rc,
    ngx_http_ws_api_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_http_ws_api_redis_cmd_t  *cmd;

    if (!rc->ready) {
        return NULL;
    }

    cmd = ngx_http_ws_api_redis_queue(rc, handler, data, argc, argv,
                                      argvlen);
    if (cmd == NULL) {
        return NULL;
    }

    /*
     * sent once the current event is handled, together with whatever else
     * it queues; a failure then reaches the handler, never the caller
     */

    if (!rc->connection->write->posted) {
        ngx_post_event(rc->connection->write, &ngx_posted_events);
    }

    return cmd;
}


void
ngx_http_ws_api_redis_cancel(ngx_http_ws_api_redis_cmd_t *cmd)
{
    cmd->handler = NULL;
}


static void
ngx_http_ws_api_redis_reconnect_handler(ngx_event_t *ev)
{
    ngx_http_ws_api_redis_t  *rc = ev->data;

    ngx_http_ws_api_redis_connect(rc);
}


static void
ngx_http_ws_api_redis_connected(ngx_http_ws_api_redis_t *rc)
{
    int                n;
    char               db[NGX_INT_T_LEN];
    size_t             argvlen[3];
    const char        *argv[3];
    ngx_connection_t  *c;

    c = rc->connection;

    rc->connecting = 0;

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (rc->conf->password.len) {
        argv[0] = "AUTH";
        argvlen[0] = 4;
        argv[1] = (const char *) rc->conf->password.data;
        argvlen[1] = rc->conf->password.len;

        if (ngx_http_ws_api_redis_queue(rc,
                                    ngx_http_ws_api_redis_handshake_handler,
                                    rc, 2, argv, argvlen)
            == NULL)
        {
            goto failed;
        }
    }

    if (rc->conf->db) {
        n = ngx_sprintf((u_char *) db, "%ui", rc->conf->db) - (u_char *) db;

        argv[0] = "SELECT";
        argvlen[0] = 6;
        argv[1] = db;
        argvlen[1] = n;

        if (ngx_http_ws_api_redis_queue(rc,
                                    ngx_http_ws_api_redis_handshake_handler,
                                    rc, 2, argv, argvlen)
            == NULL)
        {
            goto failed;
        }
    }

    argv[0] = "CLIENT";
    argvlen[0] = 6;
    argv[1] = "SETNAME";
    argvlen[1] = 7;
    argv[2] = rc->channel.len ? "ws-api-subscriber" : "ws-api";
    argvlen[2] = ngx_strlen(argv[2]);

    if (ngx_http_ws_api_redis_queue(rc,
                                    ngx_http_ws_api_redis_handshake_handler,
                                    rc, 3, argv, argvlen)
        == NULL)
    {
        goto failed;
    }

    if (rc->channel.len == 0) {

        /* Redis' clock, for the deadlines of writes; maybe another Redis */

        argv[0] = "TIME";
        argvlen[0] = 4;

        if (ngx_http_ws_api_redis_queue(rc,
                                        ngx_http_ws_api_redis_time_handler,
                                        rc, 1, argv, argvlen)
            == NULL)
        {
            goto failed;
        }

        rc->clock_known = 0;
        rc->time_pending = 1;
        rc->time_sent = ngx_current_msec;

    } else {
        argv[0] = "SUBSCRIBE";
        argvlen[0] = 9;
        argv[1] = (const char *) rc->channel.data;
        argvlen[1] = rc->channel.len;

        if (ngx_http_ws_api_redis_queue(rc,
                                    ngx_http_ws_api_redis_handshake_handler,
                                    rc, 2, argv, argvlen)
            == NULL)
        {
            goto failed;
        }
    }

    /* the last handshake reply makes the connection ready */

    (void) ngx_http_ws_api_redis_flush(rc);

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        goto failed;
    }

    return;

failed:

    ngx_http_ws_api_redis_fail(rc, "cannot start the handshake");
}


static void
ngx_http_ws_api_redis_handshake_handler(redisReply *reply, void *data)
{
    ngx_http_ws_api_redis_t  *rc = data;

    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, rc->log, 0,
                      "ws_api redis %V refused the connection setup: %*s",
                      &rc->conf->name, (size_t) reply->len, reply->str);

        /* not from inside the reply loop: the loop checks the connection */

        ngx_http_ws_api_redis_fail(rc, NULL);
        return;
    }

    if (!ngx_queue_empty(&rc->pending)) {
        /* more handshake replies to come */
        return;
    }

    if (rc->failures) {
        ngx_log_error(NGX_LOG_NOTICE, rc->log, 0,
                      "ws_api redis %V is reachable again", &rc->conf->name);
    }

    rc->failures = 0;
    rc->backoff = NGX_HTTP_WS_API_REDIS_BACKOFF_MIN;
    rc->ready = 1;
    rc->unreachable = 0;

    if (rc->on_ready) {
        rc->on_ready(rc, reply);
    }
}


void
ngx_http_ws_api_redis_time(ngx_http_ws_api_redis_t *rc)
{
    size_t       len[1];
    const char  *argv[1];

    if (rc->time_pending) {
        return;
    }

    argv[0] = "TIME";
    len[0] = 4;

    if (ngx_http_ws_api_redis_command(rc, ngx_http_ws_api_redis_time_handler,
                                      rc, 1, argv, len)
        != NULL)
    {
        rc->time_pending = 1;
        rc->time_sent = ngx_current_msec;
    }
}


/*
 * TIME: seconds and microseconds.  Redis read its clock at some moment of
 * the round trip: taken at its middle, the offset is off by half the round
 * trip at most.  A measure is kept unless a later one had a round trip not
 * much longer, or it is a minute old: a late reply (a busy worker, a slow
 * network) does not spoil a good measure.
 */

static void
ngx_http_ws_api_redis_time_handler(redisReply *reply, void *data)
{
    ngx_http_ws_api_redis_t  *rc = data;

    int64_t     clock;
    ngx_int_t   sec, usec;
    ngx_msec_t  rtt;

    rc->time_pending = 0;

    if (reply == NULL) {
        return;
    }

    sec = NGX_ERROR;
    usec = NGX_ERROR;

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2
        && reply->element[0]->type == REDIS_REPLY_STRING
        && reply->element[1]->type == REDIS_REPLY_STRING)
    {
        sec = ngx_atoi((u_char *) reply->element[0]->str,
                       reply->element[0]->len);
        usec = ngx_atoi((u_char *) reply->element[1]->str,
                        reply->element[1]->len);
    }

    if (sec == NGX_ERROR || sec > NGX_HTTP_WS_API_REDIS_MAX_TIME
        || usec == NGX_ERROR || usec > 999999)
    {
        ngx_log_error(NGX_LOG_ERR, rc->log, 0,
                      "ws_api redis %V sent a malformed TIME reply",
                      &rc->conf->name);

        if (!rc->ready) {
            ngx_http_ws_api_redis_fail(rc, NULL);
        }

        return;
    }

    rtt = ngx_current_msec - rc->time_sent;

    clock = (int64_t) sec * 1000 + usec / 1000
            - (int64_t) (rc->time_sent + rtt / 2);

    if (!rc->clock_known
        || rtt <= 2 * rc->clock_rtt + 5
        || ngx_current_msec - rc->clock_at > 60000)
    {
        rc->clock = clock;
        rc->clock_rtt = rtt;
        rc->clock_at = ngx_current_msec;
        rc->clock_known = 1;
    }

    if (!rc->ready) {
        ngx_http_ws_api_redis_handshake_handler(reply, data);
    }
}


static void
ngx_http_ws_api_redis_read_handler(ngx_event_t *rev)
{
    u_char                    buf[16384];
    ssize_t                   n;
    ngx_connection_t         *c;
    ngx_http_ws_api_redis_t  *rc;

    c = rev->data;
    rc = c->data;

    if (rev->timedout) {
        ngx_http_ws_api_redis_fail(rc, "timed out");
        return;
    }

    for ( ;; ) {

        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_http_ws_api_redis_fail(rc, "closed the connection");
            return;
        }

        if (redisReaderFeed(rc->reader, (const char *) buf, n) != REDIS_OK) {
            ngx_http_ws_api_redis_fail(rc, "sent a malformed reply");
            return;
        }

        if (ngx_http_ws_api_redis_process(rc) != NGX_OK) {
            return;
        }

        /* what waits in the reader's buffer is a reply not whole yet */

        if (rc->reader->len - rc->reader->pos > rc->max_reply) {
            ngx_http_ws_api_redis_fail(rc, "sent a reply over the size "
                                           "limit");
            return;
        }
    }

    /*
     * a reply begun must end in time, on the subscribed connection too,
     * where no command waits
     */

    if (rc->reader->pos < rc->reader->len || rc->reader->reply != NULL) {
        if (!c->read->timer_set) {
            ngx_add_timer(c->read, rc->conf->timeout);
        }

    } else if (ngx_queue_empty(&rc->pending) && c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_ws_api_redis_fail(rc, "cannot wait for replies");
    }
}


static void
ngx_http_ws_api_redis_write_handler(ngx_event_t *wev)
{
    int                       err;
    socklen_t                 len;
    ngx_uint_t                level;
    ngx_connection_t         *c;
    ngx_http_ws_api_redis_t  *rc;

    c = wev->data;
    rc = c->data;

    if (rc->connecting) {

        if (wev->timedout) {
            ngx_http_ws_api_redis_fail(rc, "did not accept the connection "
                                           "in time");
            return;
        }

        err = 0;
        len = sizeof(int);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len)
            == -1)
        {
            err = ngx_socket_errno;
        }

        if (err) {
            level = rc->failures ? NGX_LOG_INFO : NGX_LOG_ERR;

            ngx_log_error(level, rc->log, err,
                          "ws_api redis connect() to %V failed",
                          &rc->conf->name);
            ngx_http_ws_api_redis_fail(rc, NULL);
            return;
        }

        ngx_http_ws_api_redis_connected(rc);
        return;
    }

    (void) ngx_http_ws_api_redis_flush(rc);
}


static ngx_int_t
ngx_http_ws_api_redis_flush(ngx_http_ws_api_redis_t *rc)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = rc->connection;

    if (c == NULL || rc->connecting) {
        return NGX_OK;
    }

    while (rc->out_pos < rc->out_len && c->write->ready) {

        n = c->send(c, rc->out + rc->out_pos, rc->out_len - rc->out_pos);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR) {
            ngx_http_ws_api_redis_fail(rc, "failed to take a command");
            return NGX_ERROR;
        }

        rc->out_pos += n;
    }

    if (rc->out_pos == rc->out_len) {
        rc->out_pos = 0;
        rc->out_len = 0;
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        ngx_http_ws_api_redis_fail(rc, "cannot wait to send");
        return NGX_ERROR;
    }

    if (!ngx_queue_empty(&rc->pending) && !c->read->timer_set) {
        ngx_add_timer(c->read, rc->conf->timeout);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_ws_api_redis_process(ngx_http_ws_api_redis_t *rc)
{
    void                         *r;
    ngx_queue_t                  *q;
    redisReply                   *reply;
    ngx_connection_t             *c;
    ngx_http_ws_api_redis_cmd_t  *cmd;

    c = rc->connection;

    for ( ;; ) {

        r = NULL;

        ngx_http_ws_api_redis_current = rc;

        if (redisReaderGetReply(rc->reader, &r) != REDIS_OK) {
            ngx_http_ws_api_redis_fail(rc, rc->reply_size > rc->max_reply
                                       ? "sent a reply over the size limit"
                                       : "sent a malformed reply");
            return NGX_ERROR;
        }

        if (r == NULL) {
            break;
        }

        /* a whole reply: the next one has the whole budget */

        rc->reply_size = 0;
        rc->reply_elements = 0;

        reply = r;

        if (rc->ready && rc->channel.len) {

            /* subscribed: every reply is a pushed message */

            if (rc->on_message) {
                rc->on_message(rc, reply);
            }

            freeReplyObject(reply);

        } else {

            if (ngx_queue_empty(&rc->pending)) {
                freeReplyObject(reply);
                ngx_http_ws_api_redis_fail(rc, "sent a reply to nothing");
                return NGX_ERROR;
            }

            q = ngx_queue_head(&rc->pending);
            ngx_queue_remove(q);

            cmd = ngx_queue_data(q, ngx_http_ws_api_redis_cmd_t, queue);

            if (ngx_queue_empty(&rc->pending)) {
                if (c->read->timer_set) {
                    ngx_del_timer(c->read);
                }

            } else {
                ngx_add_timer(c->read, rc->conf->timeout);
            }

            if (cmd->handler) {
                cmd->handler(reply, cmd->data);
            }

            ngx_free(cmd);
            freeReplyObject(reply);
        }

        if (rc->connection != c) {
            /* a handler has closed the connection */
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The reply objects of hiredis (freeReplyObject() frees them), built
 * within the budget of a reply: NULL makes the reader fail.  An object is
 * put in its parent once it is whole, so that a refusal frees nothing
 * twice.
 */

static void *
ngx_http_ws_api_redis_string(const redisReadTask *task, char *str,
    size_t len)
{
    redisReply  *r;

    r = ngx_http_ws_api_redis_object(task->type, len + 1);
    if (r == NULL) {
        return NULL;
    }

    r->str = malloc(len + 1);
    if (r->str == NULL) {
        free(r);
        return NULL;
    }

    ngx_memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;

    return ngx_http_ws_api_redis_link(task, r);
}


static void *
ngx_http_ws_api_redis_array(const redisReadTask *task, int elements)
{
    redisReply               *r;
    ngx_http_ws_api_redis_t  *rc;

    rc = ngx_http_ws_api_redis_current;

    rc->reply_elements += elements;

    if (rc->reply_elements > NGX_HTTP_WS_API_REDIS_MAX_ELEMENTS) {
        rc->reply_size = (size_t) -1;
        return NULL;
    }

    r = ngx_http_ws_api_redis_object(REDIS_REPLY_ARRAY,
                                     elements * sizeof(redisReply *));
    if (r == NULL) {
        return NULL;
    }

    if (elements > 0) {
        r->element = calloc(elements, sizeof(redisReply *));
        if (r->element == NULL) {
            free(r);
            return NULL;
        }
    }

    r->elements = elements;

    return ngx_http_ws_api_redis_link(task, r);
}


static void *
ngx_http_ws_api_redis_integer(const redisReadTask *task, long long value)
{
    redisReply  *r;

    r = ngx_http_ws_api_redis_object(REDIS_REPLY_INTEGER, 0);
    if (r == NULL) {
        return NULL;
    }

    r->integer = value;

    return ngx_http_ws_api_redis_link(task, r);
}


static void *
ngx_http_ws_api_redis_nil(const redisReadTask *task)
{
    redisReply  *r;

    r = ngx_http_ws_api_redis_object(REDIS_REPLY_NIL, 0);
    if (r == NULL) {
        return NULL;
    }

    return ngx_http_ws_api_redis_link(task, r);
}


/* a reply object of the type, its size counted in the reply's budget */

static redisReply *
ngx_http_ws_api_redis_object(int type, size_t size)
{
    redisReply               *r;
    ngx_http_ws_api_redis_t  *rc;

    rc = ngx_http_ws_api_redis_current;

    rc->reply_size += sizeof(redisReply) + size;

    if (rc->reply_size > rc->max_reply) {
        return NULL;
    }

    r = calloc(1, sizeof(redisReply));
    if (r == NULL) {
        return NULL;
    }

    r->type = type;

    return r;
}


static void *
ngx_http_ws_api_redis_link(const redisReadTask *task, redisReply *r)
{
    redisReply  *parent;

    if (task->parent) {
        parent = task->parent->obj;
        parent->element[task->idx] = r;
    }

    return r;
}


static ngx_http_ws_api_redis_cmd_t *
ngx_http_ws_api_redis_queue(ngx_http_ws_api_redis_t *rc,
    ngx_http_ws_api_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    int                           i;
    u_char                       *p, *out;
    size_t                        size;
    ngx_http_ws_api_redis_cmd_t  *cmd;

    /* the RESP array of bulk strings */

    size = sizeof("*\r\n") - 1 + NGX_INT_T_LEN;

    for (i = 0; i < argc; i++) {
        size += sizeof("$\r\n\r\n") - 1 + NGX_SIZE_T_LEN + argvlen[i];
    }

    if (rc->out_len + size > rc->out_size) {

        if (rc->out_pos) {
            ngx_memmove(rc->out, rc->out + rc->out_pos,
                        rc->out_len - rc->out_pos);
            rc->out_len -= rc->out_pos;
            rc->out_pos = 0;
        }

        if (rc->out_len + size > rc->out_size) {
            out = ngx_alloc(ngx_max(rc->out_size * 2, rc->out_len + size),
                            rc->log);
            if (out == NULL) {
                return NULL;
            }

            ngx_memcpy(out, rc->out, rc->out_len);
            ngx_free(rc->out);

            rc->out = out;
            rc->out_size = ngx_max(rc->out_size * 2, rc->out_len + size);
        }
    }

    cmd = ngx_alloc(sizeof(ngx_http_ws_api_redis_cmd_t), rc->log);
    if (cmd == NULL) {
        return NULL;
    }

    cmd->handler = handler;
    cmd->data = data;

    p = rc->out + rc->out_len;

    p = ngx_sprintf(p, "*%d\r\n", argc);

    for (i = 0; i < argc; i++) {
        p = ngx_sprintf(p, "$%uz\r\n", argvlen[i]);
        p = ngx_cpymem(p, argv[i], argvlen[i]);
        *p++ = '\r'; *p++ = '\n';
    }

    rc->out_len = p - rc->out;

    ngx_queue_insert_tail(&rc->pending, &cmd->queue);

    return cmd;
}


/*
 * Drops the connection, fails every pending command and schedules the next
 * attempt; why is logged unless NULL (the caller has logged).
 */

static void
ngx_http_ws_api_redis_fail(ngx_http_ws_api_redis_t *rc, const char *why)
{
    ngx_uint_t  level, down;

    if (why) {
        level = rc->failures ? NGX_LOG_INFO : NGX_LOG_ERR;

        ngx_log_error(level, rc->log, 0, "ws_api redis %V %s",
                      &rc->conf->name, why);
    }

    rc->failures++;

    /*
     * a connection lost once ready is tried again at once: whoever waits
     * for it may wait; a connect attempt that failed is news to tell
     */

    down = !rc->ready;

    ngx_http_ws_api_redis_close(rc);

    if (rc->stopped || ngx_exiting || ngx_terminate || ngx_quit) {
        down = 1;

    } else if (!rc->reconnect.timer_set) {
        ngx_add_timer(&rc->reconnect, rc->backoff);
        rc->backoff = ngx_min(rc->backoff * 2,
                              NGX_HTTP_WS_API_REDIS_BACKOFF_MAX);
    }

    if (down) {
        rc->unreachable = 1;

        if (rc->on_down) {
            rc->on_down(rc, NULL);
        }
    }
}


static void
ngx_http_ws_api_redis_close(ngx_http_ws_api_redis_t *rc)
{
    ngx_queue_t                   failed, *q;
    ngx_http_ws_api_redis_cmd_t  *cmd;

    if (rc->connection) {
        ngx_close_connection(rc->connection);
        rc->connection = NULL;
    }

    rc->connecting = 0;
    rc->ready = 0;
    rc->time_pending = 0;
    rc->out_pos = 0;
    rc->out_len = 0;
    rc->reply_size = 0;
    rc->reply_elements = 0;

    if (rc->reader) {
        redisReaderFree(rc->reader);
        rc->reader = rc->stopped
                     ? NULL
                     : redisReaderCreateWithFunctions(
                                            &ngx_http_ws_api_redis_functions);
    }

    /* the handlers may send commands again: those fail at once */

    ngx_queue_init(&failed);

    if (!ngx_queue_empty(&rc->pending)) {
        failed = rc->pending;
        failed.next->prev = &failed;
        failed.prev->next = &failed;
        ngx_queue_init(&rc->pending);
    }

    while (!ngx_queue_empty(&failed)) {
        q = ngx_queue_head(&failed);
        ngx_queue_remove(q);

        cmd = ngx_queue_data(q, ngx_http_ws_api_redis_cmd_t, queue);

        if (cmd->handler) {
            cmd->handler(NULL, cmd->data);
        }

        ngx_free(cmd);
    }
}
