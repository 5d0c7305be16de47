
/*
 * Copyright (C) ws-api authors
 */


/*
 * The streaming WebSocket frame parser (RFC 6455) with its UTF-8 check.
 * It keeps about 150 bytes of state per direction: nothing of a payload
 * is copied, not even a control frame's (a close reason is checked as it
 * streams).
 *
 * One parser follows one direction of one connection.  It is fed the
 * bytes of the stream in order, in pieces of any size, and works on them
 * in place: no allocation, no copy of payloads.  It tells the caller how
 * much of the stream may be forwarded ("commit"): never the bytes of a
 * frame whose header is incomplete or breaks a rule, never an invalid
 * UTF-8 sequence nor an incomplete one while its frame is coming (a frame
 * that ends inside a character is let go whole, so that the frames behind
 * it never wait for the character's end), and a text frame of at most
 * "hold" bytes only once it is whole and valid.
 *
 * Pure logic: no nginx objects, so it is unit-tested and fuzzed directly.
 */


#ifndef _NGX_HTTP_WS_API_FRAME_H_INCLUDED_
#define _NGX_HTTP_WS_API_FRAME_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


#define NGX_HTTP_WS_API_FRAME_OK        0
#define NGX_HTTP_WS_API_FRAME_ERROR    -1

/* close codes */
#define NGX_HTTP_WS_API_CLOSE_NORMAL           1000
#define NGX_HTTP_WS_API_CLOSE_GOING_AWAY       1001
#define NGX_HTTP_WS_API_CLOSE_PROTOCOL         1002
#define NGX_HTTP_WS_API_CLOSE_UNSUPPORTED      1003
#define NGX_HTTP_WS_API_CLOSE_NO_STATUS        1005
#define NGX_HTTP_WS_API_CLOSE_INVALID_DATA     1007
#define NGX_HTTP_WS_API_CLOSE_POLICY           1008
#define NGX_HTTP_WS_API_CLOSE_TOO_BIG          1009

/* the largest close frame ngx_http_ws_api_frame_close() writes */
#define NGX_HTTP_WS_API_CLOSE_FRAME_MAX        (2 + 4 + 2 + 123)


typedef struct {
    /* configuration: set after ngx_http_ws_api_frame_init() */

    unsigned     masked:1;     /* frames must be masked (client to backend);
                                  otherwise they must not be */
    unsigned     deflate:1;    /* permessage-deflate negotiated: RSV1 may be
                                  set on the first frame of a data message,
                                  which is then compressed (no UTF-8 check) */
    unsigned     any_rsv:1;    /* another extension negotiated: any RSV bit
                                  may be set on data frames (never on control
                                  frames); a message whose first frame has
                                  one is not UTF-8 checked */
    unsigned     check:1;      /* data message types are restricted to: */
    unsigned     text:1;       /*   text messages allowed */
    unsigned     binary:1;     /*   binary messages allowed */

    unsigned     stop:1;       /* may be set at any time: consume nothing
                                  past the next frame boundary */

    unsigned     limits:1;     /* the policy limits below are in force */

    uint64_t     max_message;  /* bytes of a data message, all its frames
                                  (1009 beyond); 0: any */
    uint64_t     rate_cost;    /* a token bucket of data messages (1008
                                  when empty): a message costs this many */
    uint64_t     rate_fill;    /*   units, the bucket gains rate_fill units
                                  a ms, up to rate_cap; rate_cost 0: no
                                  limit */
    uint64_t     rate_cap;
    uint64_t     tokens;       /*   units in the bucket at rate_at */
    uint64_t     rate_at;
    uint64_t     now;          /* ms, set by the caller before each call
                                  while limits is set */

    size_t       hold;         /* a frame of a UTF-8 checked text message
                                  (continuations too) of at most this many
                                  bytes, header included, is committed only
                                  whole; 0: all are streamed */

    /* results */

    uint64_t     offset;       /* bytes consumed since the stream began */
    uint64_t     commit;       /* bytes that may be forwarded: never
                                  decreases; it stays at an incomplete UTF-8
                                  sequence while the frame that has it is
                                  coming */
    uint64_t     boundary;     /* the last frame boundary at or before
                                  commit; after a violation, the start of
                                  the offending frame */
    unsigned     closed:1;     /* a whole close frame has been consumed */
    int          close_code;   /* its status code, 1005 if it had none */

    uint64_t     data_at;      /* "now" at the last data frame's header,
                                  while limits is set */

    int          error;        /* after a violation: 1002, 1003, 1007,
                                  1008 or 1009;
                                  offset then ends with the byte that showed
                                  it */
    const char  *reason;       /* the rule broken, at most 123 bytes */

    uint64_t     messages[2];  /* data messages whose first frame was
                                  admitted: text, binary */
    uint64_t     data_bytes;   /* payload bytes of the data frames admitted
                                  (as on the wire: compressed ones as they
                                  are) */

    /* private state */

    u_char       hdr[14];      /* a frame header being collected */
    u_char       hlen;         /* bytes of it so far */
    u_char       opcode;       /* of the current frame */
    u_char       fin;
    u_char       rsv;
    u_char       mask[4];
    u_char       masking;      /* the current frame is masked */
    u_char       in_message;   /* a fragmented data message is open */
    u_char       msg_text;     /* it is a text message ... */
    u_char       msg_check;    /* ... whose UTF-8 is checked */
    uint64_t     frame_start;  /* offset of the current frame's header */
    uint64_t     payload;      /* payload bytes of the current frame left */
    uint64_t     pos;          /* payload bytes of it consumed */
    uint32_t     utf8;         /* UTF-8 decoder state */
    u_char       ctrl[2];      /* a close frame's status code */
    u_char       ctrl_len;     /* a control frame's payload length */
    uint32_t     ctrl_utf8;    /* UTF-8 decoder state of a close reason */
    u_char       hsize;        /* the size of the current frame's header */
    u_char       held;         /* the current frame is committed only whole */
    uint64_t     seq_start;    /* offset of an incomplete UTF-8 sequence */
    uint64_t     msg_size;     /* payload bytes of the data message so far,
                                  while limits is set */
} ngx_http_ws_api_frame_t;


/* zeroes the parser: every configuration flag off, hold 0 */
void ngx_http_ws_api_frame_init(ngx_http_ws_api_frame_t *f);

/*
 * Consumes the next len bytes of the stream (fewer when "stop" is set and
 * a frame boundary is reached: offset tells).  Returns
 * NGX_HTTP_WS_API_FRAME_OK, or NGX_HTTP_WS_API_FRAME_ERROR on a violation:
 * error and reason are set, commit is at most the start of the offending
 * frame (or of the invalid UTF-8 sequence in a text frame longer than
 * hold), and every later call returns NGX_HTTP_WS_API_FRAME_ERROR.
 */
int ngx_http_ws_api_frame_parse(ngx_http_ws_api_frame_t *f, const u_char *p,
    size_t len);

/*
 * Writes a close frame with the code and reason (at most 123 bytes, cut
 * otherwise, at a UTF-8 character boundary; NULL for none) to buf, which
 * holds NGX_HTTP_WS_API_CLOSE_FRAME_MAX bytes; masked with the 4 bytes of
 * mask unless mask is NULL.  A code of 0 writes a close frame with no
 * payload.  Returns its size.
 */
size_t ngx_http_ws_api_frame_close(u_char *buf, int code, const char *reason,
    const u_char *mask);

/* whether the len bytes at p are valid UTF-8 (RFC 3629) */
int ngx_http_ws_api_utf8_valid(const u_char *p, size_t len);


#endif /* _NGX_HTTP_WS_API_FRAME_H_INCLUDED_ */
