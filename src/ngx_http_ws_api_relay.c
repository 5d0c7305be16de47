
/*
 * Copyright (C) ws-api authors
 */


/*
 * The relay's checks (SPEC 4.2): every frame of an upgraded gateway
 * connection, in both directions, is parsed as nginx's own relay
 * (ngx_http_upstream_process_upgraded()) sends it.
 *
 * A header filter sees the backend's 101 before a byte is relayed and
 * wraps send() and recv() of both connections; the state lives in the
 * request.  The send() wrapper parses the bytes nginx wants to send and
 * sends only what the parser committed: a held frame header, a held UTF-8
 * sequence or a small text frame being held stays in nginx's own buffer,
 * compacted when it runs out of room, so nothing is copied or allocated
 * per frame.  The send() wrapper keeps the buffer's pos and last itself
 * and always answers 0.
 *
 * On a violation, the stream that carried it is cut at the start of the
 * offending frame and ends with a close frame 1001; the stream towards
 * the offender ends, at its next frame boundary, with a close frame of
 * the violation's code.  Close frames are written into nginx's buffer, so
 * nginx's own write events and timeouts send them.  What either peer
 * sends after that is read and dropped by the recv() wrapper; nginx ends
 * the request when a peer closes, or a timer does.
 */


#include "ngx_http_ws_api_relay.h"
#include "ngx_http_ws_api_frame.h"
#include "ngx_http_ws_api_def.h"
#include "ngx_http_ws_api_cache.h"
#include "ngx_http_ws_api_metrics.h"
#include "ngx_http_ws_api_validate.h"
#include "ngx_http_ws_api_identify.h"


/* time for the close handshake after a violation */
#define NGX_HTTP_WS_API_CLOSE_TIMEOUT   5000

/* how often a worker looks for live connections to end (deactivated or
   deleted API, worker exiting) */
#define NGX_HTTP_WS_API_WATCH_INTERVAL  250

/* bytes dropped in one go before other events get their turn */
#define NGX_HTTP_WS_API_DISCARD_MAX     65536


typedef enum {
    NGX_HTTP_WS_API_RELAYING = 0,
    NGX_HTTP_WS_API_FINISHING,       /* to the next frame boundary, then a
                                        close frame */
    NGX_HTTP_WS_API_CLOSING,         /* what is left and a close frame */
    NGX_HTTP_WS_API_CLOSED,          /* the close frame is sent */
    NGX_HTTP_WS_API_ABORTED          /* cannot end cleanly: nothing more */
} ngx_http_ws_api_stream_state_e;


typedef struct {
    ngx_http_ws_api_frame_t          frame;

    ngx_buf_t                       *buf;         /* nginx's, of the stream */
    ngx_connection_t                *src;
    ngx_connection_t                *dst;
    ngx_send_pt                      send;        /* dst's own */
    ngx_recv_pt                      recv;        /* src's own */

    uint64_t                         sent;        /* offset of buf->pos */
    size_t                           pending;     /* a send to repeat as is
                                                     (SSL) */

    ngx_http_ws_api_stream_state_e   state;
    ngx_uint_t                       close_code;
    const char                      *close_reason;
    uint64_t                         close_at;    /* where the close frame
                                                     goes */
    uint64_t                         close_end;   /* where it ends, once
                                                     written */
    unsigned                         inserted:1;  /* the close frame is in
                                                     the buffer */
    unsigned                         to_backend:1;

    ngx_http_ws_api_validate_t      *gather;      /* payload validation of
                                                     its text messages;
                                                     NULL: none */
} ngx_http_ws_api_stream_t;


struct ngx_http_ws_api_relay_s {
    ngx_http_request_t              *request;
    ngx_http_ws_api_ctx_t           *ctx;
    ngx_http_ws_api_stream_t         up;          /* client to backend */
    ngx_http_ws_api_stream_t         down;        /* backend to client */
    ngx_event_t                      timer;       /* close deadline */

    ngx_queue_t                      queue;       /* the worker's relays */
    ngx_event_t                      policy;      /* idleTimeout,
                                                     maxConnectionAge */
    ngx_msec_t                       start;
    uint64_t                         seen[2];     /* offsets at the last
                                                     idle check */
    ngx_http_ws_api_limits_t        *limits;      /* NULL: none */
    ngx_uint_t                       end_code;    /* why the gateway ended */
    const char                      *end_reason;  /*   it, if it did */
};


static ngx_int_t ngx_http_ws_api_relay_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_ws_api_relay_hook(ngx_http_request_t *r,
    ngx_http_ws_api_ctx_t *ctx);
static void ngx_http_ws_api_relay_extensions(ngx_http_request_t *r,
    ngx_http_ws_api_relay_t *relay);
static ngx_http_ws_api_stream_t *ngx_http_ws_api_relay_stream(
    ngx_connection_t *c, ngx_uint_t sending, ngx_http_ws_api_relay_t **relay);
static ssize_t ngx_http_ws_api_relay_send(ngx_connection_t *c, u_char *buf,
    size_t size);
static ssize_t ngx_http_ws_api_relay_recv(ngx_connection_t *c, u_char *buf,
    size_t size);
static void ngx_http_ws_api_relay_parse(ngx_http_ws_api_relay_t *relay,
    ngx_http_ws_api_stream_t *s);
static void ngx_http_ws_api_relay_violation(ngx_http_ws_api_relay_t *relay,
    ngx_http_ws_api_stream_t *s);
static void ngx_http_ws_api_relay_close(ngx_http_ws_api_stream_t *s,
    ngx_uint_t code, const char *reason, uint64_t at);
static void ngx_http_ws_api_relay_insert(ngx_http_ws_api_stream_t *s);
static void ngx_http_ws_api_relay_timeout(ngx_event_t *ev);
static void ngx_http_ws_api_relay_limits(ngx_http_ws_api_relay_t *relay,
    ngx_http_ws_api_limits_t *l);
static void ngx_http_ws_api_relay_finish(ngx_http_ws_api_stream_t *s,
    ngx_uint_t code, const char *reason);
static void ngx_http_ws_api_relay_policy_timer(ngx_event_t *ev);
static void ngx_http_ws_api_relay_watch(ngx_event_t *ev);
static ngx_int_t ngx_http_ws_api_relay_validate(ngx_http_ws_api_relay_t *relay,
    ngx_http_ws_api_schemas_t *set);
static void ngx_http_ws_api_relay_invalid(ngx_http_ws_api_relay_t *relay,
    ngx_http_ws_api_stream_t *s);


/* this worker's live relays, and the timer that watches them */

static ngx_queue_t  ngx_http_ws_api_relays;
static ngx_event_t  ngx_http_ws_api_watch;
static ngx_http_ws_api_cache_t  *ngx_http_ws_api_watch_cache;
static ngx_uint_t   ngx_http_ws_api_watch_rev;
static ngx_uint_t   ngx_http_ws_api_watch_generation;
static ngx_flag_t   ngx_http_ws_api_watch_shutdown;


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


ngx_int_t
ngx_http_ws_api_relay_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_ws_api_relay_header_filter;

    return NGX_OK;
}


/*
 * The backend's 101 on its way to the client: nginx has not relayed a
 * byte yet (ngx_http_upstream_send_response() sends the header first).
 */

static ngx_int_t
ngx_http_ws_api_relay_header_filter(ngx_http_request_t *r)
{
    ngx_http_ws_api_ctx_t  *ctx;

    if (r->headers_out.status != NGX_HTTP_SWITCHING_PROTOCOLS
        || r->upstream == NULL
        || !r->upstream->upgrade
        || r->upstream->peer.connection == NULL)
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_ws_api_gateway_ctx(r);

    if (ctx == NULL || ctx->relay) {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_ws_api_relay_hook(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_ws_api_relay_hook(ngx_http_request_t *r, ngx_http_ws_api_ctx_t *ctx)
{
    size_t                     len, size;
    ngx_buf_t                 *b;
    ngx_connection_t             *c, *pc;
    ngx_http_upstream_t          *u;
    ngx_http_ws_api_relay_t      *relay;
    ngx_http_ws_api_stream_t     *up, *down;
    ngx_http_ws_api_main_conf_t  *wmcf;

    c = r->connection;
    u = r->upstream;
    pc = u->peer.connection;

    /*
     * the request's pool has filled its first pages by now: a block of
     * its own would cost a page per connection, an allocation of its own
     * costs what it holds (freed by ngx_http_ws_api_relay_cleanup(),
     * which the gateway registered)
     */

    relay = ngx_calloc(sizeof(ngx_http_ws_api_relay_t), c->log);
    if (relay == NULL) {
        return NGX_ERROR;
    }

    ctx->relay = relay;

    /*
     * the client's buffer, as nginx would make it; bytes the client sent
     * behind its handshake move there from r->header_in, so that one
     * buffer holds the whole stream
     */

    b = &u->from_client;

    len = r->header_in->last - r->header_in->pos;
    size = ngx_max(u->conf->buffer_size, len);

    b->start = ngx_palloc(r->pool, size);
    if (b->start == NULL) {
        return NGX_ERROR;
    }

    b->pos = b->start;
    b->last = ngx_cpymem(b->start, r->header_in->pos, len);
    b->end = b->start + size;
    b->temporary = 1;
    b->tag = u->output.tag;

    r->header_in->pos = r->header_in->last;

    relay->request = r;
    relay->ctx = ctx;

    up = &relay->up;
    down = &relay->down;

    ngx_http_ws_api_frame_init(&up->frame);
    ngx_http_ws_api_frame_init(&down->frame);

    up->frame.masked = 1;
    up->frame.check = ctx->messages ? 1 : 0;
    up->frame.text = (ctx->messages & NGX_HTTP_WS_API_CLIENT_TEXT) ? 1 : 0;
    up->frame.binary = (ctx->messages & NGX_HTTP_WS_API_CLIENT_BINARY) ? 1 : 0;
    up->frame.hold = b->end - b->start;

    up->buf = b;
    up->src = c;
    up->dst = pc;
    up->send = pc->send;
    up->recv = c->recv;
    up->to_backend = 1;

    down->frame.check = ctx->messages ? 1 : 0;
    down->frame.text = (ctx->messages & NGX_HTTP_WS_API_SERVER_TEXT) ? 1 : 0;
    down->frame.binary = (ctx->messages & NGX_HTTP_WS_API_SERVER_BINARY)
                         ? 1 : 0;
    down->frame.hold = u->buffer.end - u->buffer.start;

    down->buf = &u->buffer;
    down->src = pc;
    down->dst = c;
    down->send = c->send;
    down->recv = pc->recv;

    ngx_http_ws_api_relay_extensions(r, relay);

    relay->timer.handler = ngx_http_ws_api_relay_timeout;
    relay->timer.data = relay;
    relay->timer.log = c->log;

    relay->start = ngx_current_msec;

    ngx_http_ws_api_metrics_open(ctx);

    if (ctx->limits) {
        ngx_http_ws_api_relay_limits(relay, ctx->limits);
    }

    if (ctx->schemas
        && ngx_http_ws_api_relay_validate(relay, ctx->schemas) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the worker's list: deactivation and shutdown end its relays */

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_ws_api_module);

    if (ngx_http_ws_api_watch.handler == NULL) {
        ngx_queue_init(&ngx_http_ws_api_relays);

        ngx_http_ws_api_watch.handler = ngx_http_ws_api_relay_watch;
        ngx_http_ws_api_watch.log = ngx_cycle->log;
        ngx_http_ws_api_watch.cancelable = 1;
    }

    ngx_http_ws_api_watch_cache = wmcf->shm_zone->data;
    ngx_http_ws_api_watch_shutdown = wmcf->shutdown_close;

    if (ngx_queue_empty(&ngx_http_ws_api_relays)) {
        ngx_http_ws_api_watch_rev = ngx_http_ws_api_watch_cache->sh->rev;
        ngx_http_ws_api_watch_generation =
                                ngx_http_ws_api_watch_cache->sh->generation;
    }

    ngx_queue_insert_tail(&ngx_http_ws_api_relays, &relay->queue);

    if (!ngx_http_ws_api_watch.timer_set) {
        ngx_add_timer(&ngx_http_ws_api_watch, NGX_HTTP_WS_API_WATCH_INTERVAL);
    }

    c->send = ngx_http_ws_api_relay_send;
    c->recv = ngx_http_ws_api_relay_recv;
    pc->send = ngx_http_ws_api_relay_send;
    pc->recv = ngx_http_ws_api_relay_recv;


    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "ws_api relay hooked, %uz bytes pipelined, %uz behind "
                   "the 101", len, (size_t) (u->buffer.last - u->buffer.pos));

    return NGX_OK;
}


/*
 * The extensions the backend accepted: permessage-deflate allows RSV1 on
 * a message's first frame; another extension allows any RSV bit.
 */

static void
ngx_http_ws_api_relay_extensions(ngx_http_request_t *r,
    ngx_http_ws_api_relay_t *relay)
{
    u_char           *p, *end, *name;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0
            || h[i].key.len != sizeof("Sec-WebSocket-Extensions") - 1
            || ngx_strncasecmp(h[i].key.data,
                               (u_char *) "Sec-WebSocket-Extensions",
                               h[i].key.len) != 0)
        {
            continue;
        }

        /* "name; param, name2": the name of each element */

        p = h[i].value.data;
        end = p + h[i].value.len;

        while (p < end) {

            while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
                p++;
            }

            name = p;

            while (p < end && *p != ';' && *p != ',' && *p != ' '
                   && *p != '\t')
            {
                p++;
            }

            if (p > name) {
                if ((size_t) (p - name) == sizeof("permessage-deflate") - 1
                    && ngx_strncasecmp(name, (u_char *) "permessage-deflate",
                                       p - name) == 0)
                {
                    relay->up.frame.deflate = 1;
                    relay->down.frame.deflate = 1;

                } else {
                    relay->up.frame.any_rsv = 1;
                    relay->down.frame.any_rsv = 1;
                }
            }

            while (p < end && *p != ',') {
                p++;
            }
        }
    }
}


void
ngx_http_ws_api_relay_cleanup(void *data)
{
    ngx_http_ws_api_ctx_t *ctx = data;

    ngx_connection_t             *c;
    ngx_http_ws_api_relay_t      *relay;
    ngx_http_ws_api_main_conf_t  *wmcf;

    relay = ctx->relay;

    ngx_http_ws_api_metrics_close(ctx, relay ? &relay->up.frame : NULL,
                                  relay ? &relay->down.frame : NULL);
    if (relay) {
        if (relay->up.gather) {
            ngx_http_ws_api_validate_free(relay->up.gather);
        }

        if (relay->down.gather) {
            ngx_http_ws_api_validate_free(relay->down.gather);
        }
    }

    if (ctx->schemas) {
        ngx_http_ws_api_schemas_release(ctx->schemas);
    }

    if (ctx->conns) {
        /* however the connection ended: counted once, released once */
        wmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                   ngx_http_ws_api_module);
        ngx_http_ws_api_cache_conn_done(wmcf->shm_zone->data, ctx->conns);
    }

    if (relay == NULL) {
        ngx_free(ctx);
        return;
    }

    ngx_queue_remove(&relay->queue);

    if (relay->timer.timer_set) {
        ngx_del_timer(&relay->timer);
    }

    if (relay->policy.timer_set) {
        ngx_del_timer(&relay->policy);
    }

    if (relay->policy.posted) {
        ngx_delete_posted_event(&relay->policy);
    }

    if (relay->timer.posted) {
        ngx_delete_posted_event(&relay->timer);
    }

    /*
     * the client connection may outlive the request a moment (lingering
     * close); the backend's is closed already
     */

    c = relay->request->connection;

    c->send = relay->down.send;
    c->recv = relay->up.recv;

    ngx_free(relay);
    ngx_free(ctx);
}


/* the stream a connection sends (sending) or receives, and its relay */

static ngx_http_ws_api_stream_t *
ngx_http_ws_api_relay_stream(ngx_connection_t *c, ngx_uint_t sending,
    ngx_http_ws_api_relay_t **relay)
{
    ngx_http_request_t     *r;
    ngx_http_ws_api_ctx_t  *ctx;

    r = c->data;
    ctx = ngx_http_get_module_ctx(r, ngx_http_ws_api_module);

    *relay = ctx->relay;

    if (c == r->connection) {
        return sending ? &ctx->relay->down : &ctx->relay->up;
    }

    return sending ? &ctx->relay->up : &ctx->relay->down;
}


static ssize_t
ngx_http_ws_api_relay_send(ngx_connection_t *c, u_char *buf, size_t size)
{
    ssize_t                    n;
    size_t                     want;
    uint64_t                   limit;
    ngx_buf_t                 *b;
    ngx_http_ws_api_relay_t   *relay;
    ngx_http_ws_api_stream_t  *s;

    s = ngx_http_ws_api_relay_stream(c, 1, &relay);
    b = s->buf;

    if (buf != b->pos) {
        /* not the relay's buffer: not ours to check */
        return s->send(c, buf, size);
    }

    if (s->state <= NGX_HTTP_WS_API_FINISHING) {
        ngx_http_ws_api_relay_parse(relay, s);
    }

    if (s->state == NGX_HTTP_WS_API_FINISHING
        && s->frame.offset == s->frame.boundary
        && s->frame.commit == s->frame.boundary)
    {
        /* the frame under way is out: now the close frame */
        ngx_http_ws_api_relay_close(s, s->close_code, s->close_reason,
                                    s->frame.boundary);
    }

    switch (s->state) {

    case NGX_HTTP_WS_API_RELAYING:
    case NGX_HTTP_WS_API_FINISHING:
        limit = s->frame.commit;
        break;

    case NGX_HTTP_WS_API_CLOSING:

        if (!s->inserted) {
            ngx_http_ws_api_relay_insert(s);
        }

        limit = s->inserted ? s->close_end : s->close_at;
        break;

    default: /* NGX_HTTP_WS_API_CLOSED, NGX_HTTP_WS_API_ABORTED */

        b->pos = b->start;
        b->last = b->start;
        return 0;
    }

    if (limit > s->sent) {

        want = limit - s->sent;

        n = s->send(c, b->pos, want);

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (n == NGX_AGAIN) {
            s->pending = want;

        } else {
            s->pending = 0;
            s->sent += n;
            b->pos += n;
        }
    }

    if (s->state == NGX_HTTP_WS_API_CLOSING && s->inserted
        && s->sent == s->close_end)
    {
        s->state = NGX_HTTP_WS_API_CLOSED;
        b->last = b->pos;
    }

    if (b->pos == b->last) {
        b->pos = b->start;
        b->last = b->start;

    } else if (s->pending == 0 && b->pos != b->start
               && (size_t) (b->end - b->last) < (size_t) (b->end - b->start) / 4)
    {
        /* held bytes: room for the rest of them */

        b->last = ngx_movemem(b->start, b->pos, b->last - b->pos);
        b->pos = b->start;
    }

    /* the position is kept here: nginx is not to move it */

    return 0;
}


static ssize_t
ngx_http_ws_api_relay_recv(ngx_connection_t *c, u_char *buf, size_t size)
{
    size_t                     dropped;
    ssize_t                    n;
    ngx_buf_t                 *b;
    ngx_http_ws_api_relay_t   *relay;
    ngx_http_ws_api_stream_t  *s;

    s = ngx_http_ws_api_relay_stream(c, 0, &relay);

    if (s->state >= NGX_HTTP_WS_API_CLOSING) {

        /* nothing more is relayed from this peer: read and drop */

        for (dropped = 0; dropped < NGX_HTTP_WS_API_DISCARD_MAX;
             dropped += n)
        {
            n = s->recv(c, buf, size);

            if (n <= 0) {
                return n;
            }
        }

        ngx_post_event(c->read, &ngx_posted_events);

        return NGX_AGAIN;
    }

    if (s->gather) {
        n = ngx_http_ws_api_validate_recv(s->gather, c, s->recv, buf, size);

        if (s->gather->gathering && relay->limits) {
            /* a message coming is not idle (idleTimeout) */
            s->frame.data_at = ngx_current_msec;
        }

        if (n == NGX_AGAIN && s->gather->error) {
            /* a message refused, nothing of it to relay: now */
            ngx_http_ws_api_relay_parse(relay, s);

            if (c->read->ready) {
                ngx_post_event(c->read, &ngx_posted_events);
            }
        }

    } else {
        n = s->recv(c, buf, size);
    }

    if (n == 0 || n == NGX_ERROR) {

        /*
         * the peer is gone: what it sent is checked, and bytes held back
         * for more can never be sent
         */

        b = s->buf;

        ngx_http_ws_api_relay_parse(relay, s);

        if (s->state <= NGX_HTTP_WS_API_FINISHING
            && (uint64_t) (b->last - b->pos) > s->frame.commit - s->sent
            && s->pending == 0)
        {
            b->last = b->pos + (s->frame.commit - s->sent);
        }
    }

    return n;
}


/* parses what the stream's buffer holds beyond what was parsed */

static void
ngx_http_ws_api_relay_parse(ngx_http_ws_api_relay_t *relay,
    ngx_http_ws_api_stream_t *s)
{
    int         rc;
    uint64_t    end;
    ngx_buf_t  *b;

    if (s->state > NGX_HTTP_WS_API_FINISHING) {
        return;
    }

    b = s->buf;

    end = s->sent + (b->last - b->pos);

    if (s->frame.offset >= end) {
        if (s->gather) {
            ngx_http_ws_api_relay_invalid(relay, s);
        }

        return;
    }

    s->frame.now = ngx_current_msec;

    rc = ngx_http_ws_api_frame_parse(&s->frame,
                                     b->pos + (s->frame.offset - s->sent),
                                     end - s->frame.offset);

    if (s->frame.closed && relay->ctx->close_code == 0) {
        relay->ctx->close_code = s->frame.close_code;
    }

    if (rc == NGX_HTTP_WS_API_FRAME_ERROR) {
        ngx_http_ws_api_relay_violation(relay, s);
        return;
    }

    if (s->gather) {
        ngx_http_ws_api_relay_invalid(relay, s);
    }
}


/*
 * Payload validation (SPEC 4.3): the streams of the origins that have
 * schemas read through the filter of ngx_http_ws_api_validate.c, which
 * gathers and checks their text messages; the relay's own parser checks
 * the filtered stream, that never holds a text frame back.
 */

static ngx_int_t
ngx_http_ws_api_relay_validate(ngx_http_ws_api_relay_t *relay,
    ngx_http_ws_api_schemas_t *set)
{
    size_t                     n;
    uint64_t                   max;
    ngx_uint_t                 i;
    ngx_http_ws_api_stream_t  *s;

    for (i = 0; i < 2; i++) {

        if (!ngx_http_ws_api_schemas_has(set, i)) {
            continue;
        }

        s = (i == NGX_HTTP_WS_API_FROM_CLIENT) ? &relay->up : &relay->down;

        max = relay->limits ? relay->limits->max_message[i] : 0;

        if (max == 0) {
            max = NGX_HTTP_WS_API_VALIDATE_MAX;
        }

        s->frame.hold = 0;

        s->gather = ngx_http_ws_api_validate_create(set, i, &s->frame, max,
                                                    s->src->log);
        if (s->gather == NULL) {
            return NGX_ERROR;
        }

        /* what came with the handshake */

        n = ngx_http_ws_api_validate_filter(s->gather, s->buf->pos,
                                            s->buf->last - s->buf->pos);
        s->buf->last = s->buf->pos + n;

        if (ngx_http_ws_api_validate_pending(s->gather)) {
            s->src->read->ready = 1;
        }
    }

    return NGX_OK;
}


/*
 * The filter refused a message: once what it let go before it is parsed,
 * the relay ends as on any violation, nothing of the message sent
 */

static void
ngx_http_ws_api_relay_invalid(ngx_http_ws_api_relay_t *relay,
    ngx_http_ws_api_stream_t *s)
{
    ngx_buf_t  *b;

    if (s->gather == NULL || s->gather->error == 0
        || s->state != NGX_HTTP_WS_API_RELAYING
        || s->frame.error)
    {
        return;
    }

    b = s->buf;

    if (s->frame.offset != s->sent + (b->last - b->pos)
        || s->frame.hlen || s->frame.payload)
    {
        return;
    }

    s->frame.error = s->gather->error;
    s->frame.reason = s->gather->reason;
    s->frame.commit = s->frame.offset;
    s->frame.boundary = s->frame.offset;

    ngx_http_ws_api_relay_violation(relay, s);
}


static void
ngx_http_ws_api_relay_violation(ngx_http_ws_api_relay_t *relay,
    ngx_http_ws_api_stream_t *s)
{
    ngx_http_request_t        *r;
    ngx_http_ws_api_ctx_t     *ctx;
    ngx_http_ws_api_stream_t  *o;

    r = relay->request;
    ctx = relay->ctx;

    o = (s == &relay->up) ? &relay->down : &relay->up;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "ws_api \"%V\" version \"%V\": %s broke a rule, closed "
                  "with %d: %s", &ctx->name, &ctx->version,
                  s->to_backend ? "client" : "backend", s->frame.error,
                  s->frame.reason);

    if (ctx->close_code == 0) {
        ctx->close_code = s->frame.error;
    }

    ngx_http_ws_api_metrics_violation(ctx, s->to_backend, s->frame.error);

    /* lets the client read its close frame before the connection ends */

    r->lingering_close = 1;

    /* the receiver of the offending frame: "going away" in its place */

    ngx_http_ws_api_relay_close(s, NGX_HTTP_WS_API_CLOSE_GOING_AWAY,
                                s->to_backend ? "the client broke a rule "
                                                "of the API"
                                              : "the backend broke a rule "
                                                "of the API",
                                s->frame.boundary);

    /* the offender: the code, once the frame it is being sent is out */

    ngx_http_ws_api_relay_finish(o, s->frame.error, s->frame.reason);

    relay->end_code = s->frame.error;
    relay->end_reason = s->frame.reason;

    if (!relay->timer.timer_set) {
        ngx_add_timer(&relay->timer, NGX_HTTP_WS_API_CLOSE_TIMEOUT);
    }
}


/*
 * Ends a live connection from the gateway's side: a close frame of code
 * and reason to the client, 1001 and the reason to the backend, each at
 * its stream's next frame boundary.  One way for deactivation,
 * idleTimeout, maxConnectionAge, shutdown and revoked credentials.
 */

void
ngx_http_ws_api_relay_end(ngx_http_ws_api_relay_t *relay, ngx_uint_t code,
    const char *reason)
{
    ngx_http_request_t  *r;

    if (relay->up.state != NGX_HTTP_WS_API_RELAYING
        || relay->down.state != NGX_HTTP_WS_API_RELAYING)
    {
        /* ending already */
        return;
    }

    r = relay->request;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "ws_api \"%V\" version \"%V\": closed with %ui: %s",
                  &relay->ctx->name, &relay->ctx->version, code, reason);

    if (relay->ctx->close_code == 0) {
        relay->ctx->close_code = code;
    }

    relay->end_code = code;
    relay->end_reason = reason;

    r->lingering_close = 1;

    ngx_http_ws_api_relay_finish(&relay->up, NGX_HTTP_WS_API_CLOSE_GOING_AWAY,
                                 reason);
    ngx_http_ws_api_relay_finish(&relay->down, code, reason);

    if (!relay->timer.timer_set) {
        ngx_add_timer(&relay->timer, NGX_HTTP_WS_API_CLOSE_TIMEOUT);
    }
}


/* a close frame on a stream, once the frame it is sending is out */

static void
ngx_http_ws_api_relay_finish(ngx_http_ws_api_stream_t *s, ngx_uint_t code,
    const char *reason)
{
    if (s->state != NGX_HTTP_WS_API_RELAYING) {
        return;
    }

    if (s->frame.error) {
        s->state = NGX_HTTP_WS_API_ABORTED;

    } else if (s->sent + s->pending <= s->frame.boundary) {
        ngx_http_ws_api_relay_close(s, code, reason, s->frame.boundary);

    } else {
        s->state = NGX_HTTP_WS_API_FINISHING;
        s->close_code = code;
        s->close_reason = reason;
        s->frame.stop = 1;
    }
}


/* the relay's part of the API's policies */

static void
ngx_http_ws_api_relay_limits(ngx_http_ws_api_relay_t *relay,
    ngx_http_ws_api_limits_t *l)
{
    int                        i;
    ngx_msec_t                 at;
    ngx_http_ws_api_stream_t  *s;

    relay->limits = l;

    for (i = 0; i < 2; i++) {
        s = (i == NGX_HTTP_WS_API_FROM_CLIENT) ? &relay->up : &relay->down;

        s->frame.limits = 1;
        s->frame.max_message = l->max_message[i];
        s->frame.now = relay->start;
        s->frame.data_at = relay->start;

        if (l->rate[i]) {
            s->frame.rate_cost = l->rate_per[i];
            s->frame.rate_fill = l->rate[i];
            s->frame.rate_cap = l->rate[i] * l->rate_per[i];
            s->frame.tokens = s->frame.rate_cap;
            s->frame.rate_at = relay->start;
        }
    }

    if (l->idle == 0 && l->age == 0) {
        return;
    }

    relay->policy.handler = ngx_http_ws_api_relay_policy_timer;
    relay->policy.data = relay;
    relay->policy.log = relay->request->connection->log;

    at = l->idle ? l->idle : l->age;

    if (l->age && l->age < at) {
        at = l->age;
    }

    ngx_add_timer(&relay->policy, at);
}


/* idleTimeout or maxConnectionAge may have come */

static void
ngx_http_ws_api_relay_policy_timer(ngx_event_t *ev)
{
    ngx_http_ws_api_relay_t *relay = ev->data;

    int                        i;
    uint64_t                   last, left, t;
    ngx_msec_t                 now;
    ngx_http_ws_api_limits_t  *l;
    ngx_http_ws_api_stream_t  *s;

    l = relay->limits;
    now = ngx_current_msec;

    if (l->age && now - relay->start >= l->age) {
        ngx_http_ws_api_relay_end(relay, NGX_HTTP_WS_API_CLOSE_GOING_AWAY,
                                  "connection age limit");
        return;
    }

    left = l->age ? l->age - (now - relay->start) : (uint64_t) -1;

    if (l->idle) {
        last = relay->start;

        for (i = 0; i < 2; i++) {
            s = i ? &relay->down : &relay->up;

            if (s->frame.data_at > last) {
                last = s->frame.data_at;
            }

            /* a long data frame still streaming is not idle */

            if (s->frame.offset > relay->seen[i] && s->frame.payload
                && s->frame.opcode < 0x8)
            {
                last = now;
            }

            relay->seen[i] = s->frame.offset;
        }

        if (now - last >= l->idle) {
            ngx_http_ws_api_relay_end(relay,
                                      NGX_HTTP_WS_API_CLOSE_GOING_AWAY,
                                      "idle timeout");
            return;
        }

        t = l->idle - (now - last);

        if (t < left) {
            left = t;
        }
    }

    ngx_add_timer(&relay->policy, (ngx_msec_t) left);
}


/*
 * Every 250 ms while the worker has live relays: those of an API that is
 * gone or inactive now (looked up only when the zone changed), or all of
 * them when the worker is exiting, are ended with 1001; those of an
 * application deleted, no longer registered for the API, or whose API
 * key is deleted, with 1008 to the client.
 */

static void
ngx_http_ws_api_relay_watch(ngx_event_t *ev)
{
    ngx_str_t                 id;
    ngx_uint_t                rev, generation;
    const char               *revoked;
    ngx_queue_t              *q, *next;
    ngx_http_ws_api_entry_t  *e;
    ngx_http_ws_api_cache_t  *cache;
    ngx_http_ws_api_relay_t  *relay;

    if (ngx_queue_empty(&ngx_http_ws_api_relays)) {
        return;
    }

    if (ngx_exiting || ngx_quit || ngx_terminate) {

        if (ngx_http_ws_api_watch_shutdown) {

            for (q = ngx_queue_head(&ngx_http_ws_api_relays);
                 q != ngx_queue_sentinel(&ngx_http_ws_api_relays);
                 q = next)
            {
                next = ngx_queue_next(q);
                relay = ngx_queue_data(q, ngx_http_ws_api_relay_t, queue);

                ngx_http_ws_api_relay_end(relay,
                                          NGX_HTTP_WS_API_CLOSE_GOING_AWAY,
                                          "server going away");
            }
        }

        goto again;
    }

    if (ngx_http_ws_api_metrics_due()) {
        for (q = ngx_queue_head(&ngx_http_ws_api_relays);
             q != ngx_queue_sentinel(&ngx_http_ws_api_relays);
             q = ngx_queue_next(q))
        {
            relay = ngx_queue_data(q, ngx_http_ws_api_relay_t, queue);
            ngx_http_ws_api_metrics_flush(relay->ctx, &relay->up.frame,
                                          &relay->down.frame);
        }
    }

    cache = ngx_http_ws_api_watch_cache;

    rev = cache->sh->rev;
    generation = cache->sh->generation;

    if (rev == ngx_http_ws_api_watch_rev
        && generation == ngx_http_ws_api_watch_generation)
    {
        goto again;
    }

    ngx_http_ws_api_watch_rev = rev;
    ngx_http_ws_api_watch_generation = generation;

    for (q = ngx_queue_head(&ngx_http_ws_api_relays);
         q != ngx_queue_sentinel(&ngx_http_ws_api_relays);
         q = next)
    {
        next = ngx_queue_next(q);
        relay = ngx_queue_data(q, ngx_http_ws_api_relay_t, queue);

        id = relay->ctx->id;
        revoked = NULL;

        ngx_http_ws_api_cache_lock(cache);

        e = ngx_http_ws_api_cache_find_id(cache, &id);
        rev = (e != NULL && e->active);

        if (rev && relay->ctx->app_id.len) {
            revoked = ngx_http_ws_api_identify_revoked(cache, &id,
                                                       &relay->ctx->app_id,
                                                       relay->ctx->app_key);
        }

        ngx_http_ws_api_cache_unlock(cache);

        if (!rev) {
            ngx_http_ws_api_relay_end(relay,
                                      NGX_HTTP_WS_API_CLOSE_GOING_AWAY,
                                      "API deactivated");

        } else if (revoked) {
            ngx_http_ws_api_relay_end(relay, NGX_HTTP_WS_API_CLOSE_POLICY,
                                      revoked);
        }
    }

again:

    if (!ngx_queue_empty(&ngx_http_ws_api_relays)) {
        ngx_add_timer(ev, NGX_HTTP_WS_API_WATCH_INTERVAL);
    }
}


/*
 * Ends a stream with a close frame at offset at, which is a frame
 * boundary; nothing after it is sent.  A stream that carried a close
 * frame already ends there without another; one whose next frame went
 * out in part just stops.
 */

static void
ngx_http_ws_api_relay_close(ngx_http_ws_api_stream_t *s, ngx_uint_t code,
    const char *reason, uint64_t at)
{
    ngx_buf_t  *b;

    b = s->buf;

    if (at < s->sent + s->pending) {
        s->state = NGX_HTTP_WS_API_ABORTED;
        return;
    }

    s->state = NGX_HTTP_WS_API_CLOSING;
    s->close_code = code;
    s->close_reason = reason;
    s->close_at = at;

    b->last = b->pos + (at - s->sent);

    if (s->frame.closed) {
        s->close_end = at;
        s->inserted = 1;

    } else {
        ngx_http_ws_api_relay_insert(s);
    }

    /* nginx sends a stream only when it has something to send */

    if (s->dst->write->ready && !s->dst->write->posted) {
        ngx_post_event(s->dst->write, &ngx_posted_events);
    }
}


/* writes the close frame into the buffer, once there is room */

static void
ngx_http_ws_api_relay_insert(ngx_http_ws_api_stream_t *s)
{
    u_char      frame[NGX_HTTP_WS_API_CLOSE_FRAME_MAX], *at;
    size_t      len, off;
    uint32_t    key;
    ngx_buf_t  *b;

    b = s->buf;
    off = s->close_at - s->sent;

    key = (uint32_t) ngx_random();

    len = ngx_http_ws_api_frame_close(frame, s->close_code, s->close_reason,
                                      s->to_backend ? (u_char *) &key : NULL);

    if (len > (size_t) (b->end - b->pos) - off) {

        if (s->pending) {
            /* a send to repeat holds the buffer where it is: later */
            return;
        }

        if (len > (size_t) (b->end - b->start) - off) {
            /* after what comes before it is sent */
            return;
        }

        b->last = ngx_movemem(b->start, b->pos, off);
        b->pos = b->start;
    }

    at = b->pos + off;

    b->last = ngx_cpymem(at, frame, len);

    s->close_end = s->close_at + len;
    s->inserted = 1;
}


static void
ngx_http_ws_api_relay_timeout(ngx_event_t *ev)
{
    ngx_http_ws_api_relay_t *relay = ev->data;

    ngx_connection_t     *c;
    ngx_http_request_t   *r;
    ngx_http_upstream_t  *u;

    r = relay->request;
    c = r->connection;
    u = r->upstream;

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "ws_api \"%V\" version \"%V\": close handshake timed out",
                  &relay->ctx->name, &relay->ctx->version);

    /*
     * as if both peers had closed with nothing left to send: nginx's own
     * handler ends the request the way it always does
     */

    relay->up.state = NGX_HTTP_WS_API_ABORTED;
    relay->down.state = NGX_HTTP_WS_API_ABORTED;

    u->buffer.pos = u->buffer.last;
    u->from_client.pos = u->from_client.last;

    c->read->eof = 1;
    c->read->ready = 0;

    if (u->peer.connection) {
        u->peer.connection->read->eof = 1;
        u->peer.connection->read->ready = 0;
    }

    r->read_event_handler(r);

    ngx_http_run_posted_requests(c);
}


ngx_http_ws_api_frame_t *
ngx_http_ws_api_relay_frame(ngx_http_ws_api_relay_t *relay, ngx_uint_t client)
{
    return client ? &relay->up.frame : &relay->down.frame;
}
