
/*
 * Copyright (C) ws-api authors
 */


/*
 * Payload validation on the relay (SPEC 4.3).
 *
 * The compiled schemas of an API are kept per worker, once per revision
 * (a set, counted by the connections that use it).
 *
 * A direction whose origin has at least one schema reads through a
 * filter in the relay's recv(): the bytes read are worked on in place, in
 * nginx's buffer.  Frames that need no validation (binary, control) stay
 * where they are, or move down over the bytes taken out before them; a
 * text message is taken out frame by frame, unmasked into a buffer of its
 * own (bounded by maxMessageSize, 1 MiB by default), validated when whole,
 * and put back as one frame (masked with a fresh key towards the backend)
 * if it matches a schema.  What follows it waits, saved, if the rebuilt
 * frame needs more room than the bytes it replaces.  The other direction
 * and APIs without schemas are not filtered.
 */


#ifndef _NGX_HTTP_WS_API_VALIDATE_H_INCLUDED_
#define _NGX_HTTP_WS_API_VALIDATE_H_INCLUDED_


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_frame.h"


/* the largest message gathered when maxMessageSize does not say */
#define NGX_HTTP_WS_API_VALIDATE_MAX   (1024 * 1024)


typedef struct ngx_http_ws_api_schemas_s  ngx_http_ws_api_schemas_t;


typedef struct {
    ngx_http_ws_api_frame_t     frame;      /* the raw stream's parser */
    ngx_http_ws_api_schemas_t  *schemas;
    ngx_uint_t                  dir;        /* NGX_HTTP_WS_API_FROM_... */
    uint64_t                    max;        /* bytes of a message */
    ngx_log_t                  *log;

    u_char                     *data;       /* the message gathered, behind
                                               room for a frame header */
    size_t                      len;
    size_t                      size;

    u_char                     *out;        /* a rebuilt frame to put back */
    size_t                      out_len;

    u_char                     *stash;      /* raw bytes read behind it */
    size_t                      stash_pos;
    size_t                      stash_len;

    u_char                      carry[14];  /* a frame header's first part */
    size_t                      carry_len;

    unsigned                    gathering:1;  /* a text message is open */
    unsigned                    gathered:1;   /* the current frame is its */
    unsigned                    transparent:1;
    unsigned                    to_backend:1;

    int                         error;      /* 0, or the close code */
    const char                 *reason;
    char                        why[NGX_HTTP_WS_API_CLOSE_FRAME_MAX];
} ngx_http_ws_api_validate_t;


/*
 * The compiled schemas of an API at a revision: texts[] are the JSON
 * arrays of the schemas of each origin (len 0: none).  Returns a counted
 * reference, or NULL (logged).
 */
ngx_http_ws_api_schemas_t *ngx_http_ws_api_schemas_get(ngx_str_t *id,
    uint32_t crc, ngx_str_t *texts, ngx_log_t *log);
void ngx_http_ws_api_schemas_release(ngx_http_ws_api_schemas_t *set);

/* whether the set has schemas for messages of that origin */
ngx_uint_t ngx_http_ws_api_schemas_has(ngx_http_ws_api_schemas_t *set,
    ngx_uint_t dir);

/*
 * The filter of one direction; frame is the relay's parser of it, fully
 * configured, max the gathering limit.  NULL: no memory (logged).
 */
ngx_http_ws_api_validate_t *ngx_http_ws_api_validate_create(
    ngx_http_ws_api_schemas_t *set, ngx_uint_t dir,
    ngx_http_ws_api_frame_t *frame, uint64_t max, ngx_log_t *log);
void ngx_http_ws_api_validate_free(ngx_http_ws_api_validate_t *v);

/*
 * Filters the len bytes at p in place (the bytes that came with the
 * handshake).  Returns how many remain at p; raw bytes it could not place
 * yet are kept.
 */
size_t ngx_http_ws_api_validate_filter(ngx_http_ws_api_validate_t *v,
    u_char *p, size_t len);

/*
 * recv() through the filter: what the rebuilt frame and the kept bytes
 * give first, then what recv() reads.  Returns as recv() does; never 0
 * bytes while the socket may hold more.  After a violation (error set)
 * it reads nothing more.
 */
ssize_t ngx_http_ws_api_validate_recv(ngx_http_ws_api_validate_t *v,
    ngx_connection_t *c, ngx_recv_pt recv, u_char *buf, size_t size);

/* whether the filter has bytes to give without reading */
#define ngx_http_ws_api_validate_pending(v)                                  \
    ((v)->out_len || (v)->stash_len || (v)->error)


#endif /* _NGX_HTTP_WS_API_VALIDATE_H_INCLUDED_ */
