
/*
 * Copyright (C) ws-api authors
 */


#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define NGX_HTTP_WS_API_SSE2  1
#define NGX_HTTP_WS_API_AVX2  1
#else
#define NGX_HTTP_WS_API_SSE2  0
#define NGX_HTTP_WS_API_AVX2  0
#endif

#include "ngx_http_ws_api_frame.h"


#define NGX_HTTP_WS_API_OP_CONT        0x0
#define NGX_HTTP_WS_API_OP_TEXT        0x1
#define NGX_HTTP_WS_API_OP_BINARY      0x2
#define NGX_HTTP_WS_API_OP_CLOSE       0x8
#define NGX_HTTP_WS_API_OP_PING        0x9
#define NGX_HTTP_WS_API_OP_PONG        0xa

#define ngx_http_ws_api_op_control(op)  ((op) & 0x8)


/*
 * The UTF-8 automaton (RFC 3629).  A state is a bit offset into a 64-bit
 * row: each byte class has a row that holds, at the offset of every
 * state, the 6-bit offset of the next state.  One step is then a shift
 * and a mask, and the dependency from one byte to the next is as short as
 * it can be.  The states:
 *
 *    0  accept: between characters
 *    6  reject (stays there)
 *   12  one continuation byte to go (80..BF)
 *   18  two continuation bytes to go (80..BF, 80..BF)
 *   24  after E0: A0..BF, then one (no overlong 3-byte forms)
 *   30  after ED: 80..9F, then one (no surrogates)
 *   36  after F0: 90..BF, then two (no overlong 4-byte forms)
 *   42  after F1..F3: 80..BF, then two
 *   48  after F4: 80..8F, then two (nothing above U+10FFFF)
 */

#define NGX_HTTP_WS_API_UTF8_ACCEPT    0
#define NGX_HTTP_WS_API_UTF8_REJECT    6

#define ngx_http_ws_api_utf8_row(a, r, c1, c2, e0, ed, f0, f1, f4)           \
    ((uint64_t) (a) | (uint64_t) (r) << 6 | (uint64_t) (c1) << 12            \
     | (uint64_t) (c2) << 18 | (uint64_t) (e0) << 24                        \
     | (uint64_t) (ed) << 30 | (uint64_t) (f0) << 36                        \
     | (uint64_t) (f1) << 42 | (uint64_t) (f4) << 48)

#define ngx_http_ws_api_utf8_step(s, c)                                      \
    ((ngx_http_ws_api_utf8_dfa[ngx_http_ws_api_utf8_class[c]] >> (s)) & 63)

/* the high bit of every byte of a word: any byte that is not ASCII */
#define NGX_HTTP_WS_API_UTF8_HIGH      0x8080808080808080ULL


static size_t ngx_http_ws_api_frame_fast(ngx_http_ws_api_frame_t *f,
    const u_char *p, size_t len);
static int ngx_http_ws_api_frame_whole(ngx_http_ws_api_frame_t *f,
    const u_char *p);
static int ngx_http_ws_api_frame_header(ngx_http_ws_api_frame_t *f,
    const u_char *p, size_t len, size_t *used);
static int ngx_http_ws_api_frame_first(ngx_http_ws_api_frame_t *f);
static int ngx_http_ws_api_frame_second(ngx_http_ws_api_frame_t *f);
static int ngx_http_ws_api_frame_length(ngx_http_ws_api_frame_t *f);
static uint64_t ngx_http_ws_api_frame_payload(ngx_http_ws_api_frame_t *f);
static int ngx_http_ws_api_frame_start(ngx_http_ws_api_frame_t *f);
static int ngx_http_ws_api_frame_admit(ngx_http_ws_api_frame_t *f,
    uint64_t payload, int first);
static int ngx_http_ws_api_frame_text(ngx_http_ws_api_frame_t *f,
    const u_char *p, size_t n);
static int ngx_http_ws_api_frame_end(ngx_http_ws_api_frame_t *f);
static void ngx_http_ws_api_frame_done(ngx_http_ws_api_frame_t *f);
static int ngx_http_ws_api_frame_close_valid(ngx_http_ws_api_frame_t *f);
static uint64_t ngx_http_ws_api_frame_held_from(ngx_http_ws_api_frame_t *f);
static void ngx_http_ws_api_frame_sync(ngx_http_ws_api_frame_t *f);
static int ngx_http_ws_api_frame_fail(ngx_http_ws_api_frame_t *f, int code,
    const char *reason);
static uint32_t ngx_http_ws_api_key32(const u_char *key, uint64_t pos);
static size_t ngx_http_ws_api_ascii(const u_char *p, size_t n, uint32_t k32);
static size_t ngx_http_ws_api_ascii_blocks(const u_char *p, size_t n,
    uint32_t k32);
static size_t ngx_http_ws_api_utf8_run(uint32_t *state, const u_char *p,
    size_t n, const u_char *key, uint64_t pos);
static size_t ngx_http_ws_api_utf8_lead(const u_char *p, size_t n,
    const u_char *key, uint64_t pos);


/* the class of every byte: the index of its row below */

static const u_char  ngx_http_ws_api_utf8_class[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 00 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 10 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 20 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 30 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 40 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 50 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 60 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 70 */
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 80 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 90 */
     3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  /* a0 */
     3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  /* b0 */
    11, 11,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* c0 */
     4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* d0 */
     5,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  7,  6,  6,  /* e0 */
     8,  9,  9,  9, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11   /* f0 */
};


/* the next state from the states 0, 6, 12, ..., 48, for each class */

static const uint64_t  ngx_http_ws_api_utf8_dfa[12] = {

    /* 0: 00..7F */
    ngx_http_ws_api_utf8_row( 0, 6,  6,  6,  6,  6,  6,  6,  6),

    /* 1: 80..8F */
    ngx_http_ws_api_utf8_row( 6, 6,  0, 12,  6, 12,  6, 18, 18),

    /* 2: 90..9F */
    ngx_http_ws_api_utf8_row( 6, 6,  0, 12,  6, 12, 18, 18,  6),

    /* 3: A0..BF */
    ngx_http_ws_api_utf8_row( 6, 6,  0, 12, 12,  6, 18, 18,  6),

    /* 4: C2..DF */
    ngx_http_ws_api_utf8_row(12, 6,  6,  6,  6,  6,  6,  6,  6),

    /* 5: E0 */
    ngx_http_ws_api_utf8_row(24, 6,  6,  6,  6,  6,  6,  6,  6),

    /* 6: E1..EC, EE..EF */
    ngx_http_ws_api_utf8_row(18, 6,  6,  6,  6,  6,  6,  6,  6),

    /* 7: ED */
    ngx_http_ws_api_utf8_row(30, 6,  6,  6,  6,  6,  6,  6,  6),

    /* 8: F0 */
    ngx_http_ws_api_utf8_row(36, 6,  6,  6,  6,  6,  6,  6,  6),

    /* 9: F1..F3 */
    ngx_http_ws_api_utf8_row(42, 6,  6,  6,  6,  6,  6,  6,  6),

    /* 10: F4 */
    ngx_http_ws_api_utf8_row(48, 6,  6,  6,  6,  6,  6,  6,  6),

    /* 11: C0, C1, F5..FF */
    ngx_http_ws_api_utf8_row( 6, 6,  6,  6,  6,  6,  6,  6,  6)
};


static const u_char  ngx_http_ws_api_frame_nokey[4];


void
ngx_http_ws_api_frame_init(ngx_http_ws_api_frame_t *f)
{
    memset(f, 0, sizeof(ngx_http_ws_api_frame_t));
}


int
ngx_http_ws_api_frame_parse(ngx_http_ws_api_frame_t *f, const u_char *p,
    size_t len)
{
    size_t  n, i;
    u_char  c;

    if (f->error) {
        return NGX_HTTP_WS_API_FRAME_ERROR;
    }

    while (len) {

        if (f->hlen || f->payload == 0) {

            /* between two frames, or inside a header */

            if (f->hlen == 0 && f->stop) {
                break;
            }

            n = (f->hlen == 0) ? ngx_http_ws_api_frame_fast(f, p, len) : 0;

            if (n) {
                p += n;
                len -= n;

                if (f->payload && f->payload <= len
                    && ngx_http_ws_api_frame_whole(f, p))
                {
                    p += f->pos;
                    len -= f->pos;
                    continue;
                }

                if (f->payload == 0) {
                    if (ngx_http_ws_api_frame_end(f)
                        != NGX_HTTP_WS_API_FRAME_OK)
                    {
                        return NGX_HTTP_WS_API_FRAME_ERROR;
                    }

                } else {
                    /* a new message: no character is incomplete yet */
                    f->commit = f->held ? f->frame_start : f->offset;
                    f->boundary = f->frame_start;
                }

                continue;
            }

            if (ngx_http_ws_api_frame_header(f, p, len, &n)
                != NGX_HTTP_WS_API_FRAME_OK)
            {
                return NGX_HTTP_WS_API_FRAME_ERROR;
            }

            p += n;
            len -= n;

            continue;
        }

        n = (f->payload < len) ? (size_t) f->payload : len;

        if (ngx_http_ws_api_op_control(f->opcode)) {

            /* a close frame's code is kept, its reason checked as it comes */

            for (i = 0; f->opcode == NGX_HTTP_WS_API_OP_CLOSE && i < n; i++) {
                c = p[i] ^ f->mask[(f->pos + i) & 3];

                if (f->pos + i < 2) {
                    f->ctrl[f->pos + i] = c;

                } else if (f->ctrl_utf8 != NGX_HTTP_WS_API_UTF8_REJECT) {
                    f->ctrl_utf8 = ngx_http_ws_api_utf8_step(f->ctrl_utf8, c);
                }
            }

        } else if (f->msg_check) {
            if (ngx_http_ws_api_frame_text(f, p, n)
                != NGX_HTTP_WS_API_FRAME_OK)
            {
                return NGX_HTTP_WS_API_FRAME_ERROR;
            }
        }

        f->offset += n;
        f->pos += n;
        f->payload -= n;
        p += n;
        len -= n;

        if (f->payload == 0) {
            if (ngx_http_ws_api_frame_end(f) != NGX_HTTP_WS_API_FRAME_OK) {
                return NGX_HTTP_WS_API_FRAME_ERROR;
            }

        } else if (!ngx_http_ws_api_op_control(f->opcode)) {
            ngx_http_ws_api_frame_sync(f);
        }
    }

    return NGX_HTTP_WS_API_FRAME_OK;
}


/*
 * The header of the frame at p when it is all there and is the common
 * case: a whole text or binary message in one frame, with no RSV bit,
 * masked as it must be, of a type allowed, its length in shortest form.
 * Takes it as ngx_http_ws_api_frame_header() would and returns its size,
 * or 0: anything else goes the general way, which also reports the
 * violations.
 */

static size_t
ngx_http_ws_api_frame_fast(ngx_http_ws_api_frame_t *f, const u_char *p,
    size_t len)
{
    int       text;
    u_char    b0, b1, l7;
    size_t    hsize;
    uint64_t  payload;

    if (len < 2 || f->closed || f->in_message) {
        return 0;
    }

    b0 = p[0];
    b1 = p[1];

    if ((b0 != 0x81 && b0 != 0x82) || (b1 >> 7) != f->masked) {
        return 0;
    }

    text = (b0 == 0x81);

    if (f->check && !(text ? f->text : f->binary)) {
        return 0;
    }

    l7 = b1 & 0x7f;
    hsize = 2 + (f->masked ? 4 : 0);

    if (l7 < 126) {
        payload = l7;

    } else if (l7 == 126) {
        hsize += 2;

        if (len < hsize) {
            return 0;
        }

        payload = (uint64_t) p[2] << 8 | p[3];

        if (payload < 126) {
            return 0;
        }

    } else {
        hsize += 8;

        if (len < hsize || (p[2] & 0x80)) {
            return 0;
        }

        payload = (uint64_t) p[2] << 56 | (uint64_t) p[3] << 48
                  | (uint64_t) p[4] << 40 | (uint64_t) p[5] << 32
                  | (uint64_t) p[6] << 24 | (uint64_t) p[7] << 16
                  | (uint64_t) p[8] << 8 | p[9];

        if (payload < 65536) {
            return 0;
        }
    }

    if (len < hsize) {
        return 0;
    }

    if (f->limits && ngx_http_ws_api_frame_admit(f, payload, 1) != 0) {
        /* the general way reports it */
        return 0;
    }

    if (f->masked) {
        memcpy(f->mask, p + hsize - 4, 4);

    } else {
        memset(f->mask, 0, 4);
    }

    f->fin = 1;
    f->rsv = 0;
    f->opcode = b0 & 0xf;
    f->masking = f->masked;
    f->hsize = (u_char) hsize;
    f->payload = payload;
    f->pos = 0;
    f->msg_text = text;
    f->msg_check = text;
    f->utf8 = NGX_HTTP_WS_API_UTF8_ACCEPT;
    f->in_message = 0;
    f->held = text && hsize + payload <= f->hold;
    f->offset += hsize;

    f->messages[!text]++;
    f->data_bytes += payload;

    return hsize;
}


/*
 * The payload of a frame that ngx_http_ws_api_frame_fast() took, all of it
 * at p: a whole message, checked and ended at once.  Returns 0 if it is
 * not valid text, which the general way then reports.
 */

static int
ngx_http_ws_api_frame_whole(ngx_http_ws_api_frame_t *f, const u_char *p)
{
    size_t    n;
    uint32_t  s;

    n = (size_t) f->payload;

    if (f->msg_check) {
        s = NGX_HTTP_WS_API_UTF8_ACCEPT;

        if (ngx_http_ws_api_utf8_run(&s, p, n, f->mask, 0) != n
            || s != NGX_HTTP_WS_API_UTF8_ACCEPT)
        {
            return 0;
        }

        f->msg_check = 0;
    }

    f->offset += n;
    f->pos = n;
    f->payload = 0;

    ngx_http_ws_api_frame_done(f);

    return 1;
}


/*
 * Collects a frame header from up to len bytes, checking each part as soon
 * as it is whole, in the same order whatever the pieces: the first byte,
 * the second, the extended length, then the header as a whole.  On a
 * violation offset ends with the part that broke the rule.
 */

static int
ngx_http_ws_api_frame_header(ngx_http_ws_api_frame_t *f, const u_char *p,
    size_t len, size_t *used)
{
    size_t  n, end, ext;

    *used = 0;

    if (f->hlen == 0) {
        f->hdr[0] = p[0];
        f->hlen = 1;
        f->offset++;
        (*used)++;

        if (ngx_http_ws_api_frame_first(f) != NGX_HTTP_WS_API_FRAME_OK) {
            return NGX_HTTP_WS_API_FRAME_ERROR;
        }
    }

    if (f->hlen == 1) {
        if (*used == len) {
            return NGX_HTTP_WS_API_FRAME_OK;
        }

        f->hdr[1] = p[*used];
        f->hlen = 2;
        f->offset++;
        (*used)++;

        if (ngx_http_ws_api_frame_second(f) != NGX_HTTP_WS_API_FRAME_OK) {
            return NGX_HTTP_WS_API_FRAME_ERROR;
        }
    }

    /* the extended length, then the masking key */

    while (f->hlen < f->hsize) {

        ext = f->hsize - (f->masking ? 4 : 0);
        end = (f->hlen < ext) ? ext : f->hsize;

        n = end - f->hlen;

        if (n > len - *used) {
            n = len - *used;
        }

        memcpy(f->hdr + f->hlen, p + *used, n);

        f->hlen += n;
        f->offset += n;
        *used += n;

        if (f->hlen < end) {
            return NGX_HTTP_WS_API_FRAME_OK;
        }

        if (end == ext && ext > 2) {
            if (ngx_http_ws_api_frame_length(f) != NGX_HTTP_WS_API_FRAME_OK) {
                return NGX_HTTP_WS_API_FRAME_ERROR;
            }
        }
    }

    return ngx_http_ws_api_frame_start(f);
}


static int
ngx_http_ws_api_frame_first(ngx_http_ws_api_frame_t *f)
{
    u_char       op, fin, rsv;
    const char  *reason;

    fin = f->hdr[0] >> 7;
    rsv = (f->hdr[0] >> 4) & 0x7;
    op = f->hdr[0] & 0xf;

    if (f->closed) {
        reason = "frame after a close frame";
        goto failed;
    }

    if ((op > NGX_HTTP_WS_API_OP_BINARY && op < NGX_HTTP_WS_API_OP_CLOSE)
        || op > NGX_HTTP_WS_API_OP_PONG)
    {
        reason = "reserved opcode";
        goto failed;
    }

    if (ngx_http_ws_api_op_control(op)) {

        if (!fin) {
            reason = "fragmented control frame";
            goto failed;
        }

        if (rsv) {
            reason = "RSV bit set on a control frame";
            goto failed;
        }

    } else if (op == NGX_HTTP_WS_API_OP_CONT) {

        if (!f->in_message) {
            reason = "continuation frame outside a message";
            goto failed;
        }

        if (rsv && !f->any_rsv) {
            reason = f->deflate ? "RSV bit set on a continuation frame"
                                : "RSV bit set with no extension negotiated";
            goto failed;
        }

    } else {

        if (f->in_message) {
            reason = "new data message inside a fragmented message";
            goto failed;
        }

        /* permessage-deflate: RSV1 alone, on the first frame */

        if (rsv && !f->any_rsv && (!f->deflate || rsv != 0x4)) {
            reason = f->deflate ? "RSV2 or RSV3 set with only "
                                  "permessage-deflate negotiated"
                                : "RSV bit set with no extension negotiated";
            goto failed;
        }
    }

    f->fin = fin;
    f->rsv = rsv;
    f->opcode = op;

    return NGX_HTTP_WS_API_FRAME_OK;

failed:

    return ngx_http_ws_api_frame_fail(f, NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                                      reason);
}


static int
ngx_http_ws_api_frame_second(ngx_http_ws_api_frame_t *f)
{
    u_char       len;
    const char  *reason;

    f->masking = f->hdr[1] >> 7;
    len = f->hdr[1] & 0x7f;

    if (f->masked && !f->masking) {
        reason = "client frame not masked";
        goto failed;
    }

    if (!f->masked && f->masking) {
        reason = "server frame masked";
        goto failed;
    }

    if (ngx_http_ws_api_op_control(f->opcode) && len > 125) {
        reason = "control frame payload over 125 bytes";
        goto failed;
    }

    f->hsize = 2 + (len == 126 ? 2 : 0) + (len == 127 ? 8 : 0)
               + (f->masking ? 4 : 0);

    return NGX_HTTP_WS_API_FRAME_OK;

failed:

    return ngx_http_ws_api_frame_fail(f, NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                                      reason);
}


static int
ngx_http_ws_api_frame_length(ngx_http_ws_api_frame_t *f)
{
    u_char       len;
    const char  *reason;

    len = f->hdr[1] & 0x7f;

    if (len == 127 && (f->hdr[2] & 0x80)) {
        reason = "payload length with the most significant bit set";
        goto failed;
    }

    if (ngx_http_ws_api_frame_payload(f) < (len == 126 ? 126 : 65536)) {
        reason = "payload length not minimally encoded";
        goto failed;
    }

    return NGX_HTTP_WS_API_FRAME_OK;

failed:

    return ngx_http_ws_api_frame_fail(f, NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                                      reason);
}


/* the payload length of a header whose length part is whole */

static uint64_t
ngx_http_ws_api_frame_payload(ngx_http_ws_api_frame_t *f)
{
    u_char  len;

    len = f->hdr[1] & 0x7f;

    if (len < 126) {
        return len;
    }

    if (len == 126) {
        return (uint64_t) f->hdr[2] << 8 | f->hdr[3];
    }

    return (uint64_t) f->hdr[2] << 56 | (uint64_t) f->hdr[3] << 48
           | (uint64_t) f->hdr[4] << 40 | (uint64_t) f->hdr[5] << 32
           | (uint64_t) f->hdr[6] << 24 | (uint64_t) f->hdr[7] << 16
           | (uint64_t) f->hdr[8] << 8 | f->hdr[9];
}


/* the header is whole and each part of it valid: the frame begins */

static int
ngx_http_ws_api_frame_start(ngx_http_ws_api_frame_t *f)
{
    int          text;
    const char  *reason;

    if (f->masking) {
        memcpy(f->mask, f->hdr + f->hsize - 4, 4);

    } else {
        memset(f->mask, 0, 4);
    }

    f->payload = ngx_http_ws_api_frame_payload(f);
    f->hlen = 0;
    f->pos = 0;
    f->held = 0;

    if (ngx_http_ws_api_op_control(f->opcode)) {
        f->ctrl_len = (u_char) f->payload;
        f->ctrl_utf8 = NGX_HTTP_WS_API_UTF8_ACCEPT;

        if (f->payload == 0) {
            return ngx_http_ws_api_frame_end(f);
        }

        return NGX_HTTP_WS_API_FRAME_OK;
    }

    if (f->opcode != NGX_HTTP_WS_API_OP_CONT) {

        /* the first frame of a data message */

        text = (f->opcode == NGX_HTTP_WS_API_OP_TEXT);

        if (f->check && !(text ? f->text : f->binary)) {

            if (f->masked) {
                reason = text
                    ? "client text messages are not declared for this API"
                    : "client binary messages are not declared for this API";

            } else {
                reason = text
                    ? "server text messages are not declared for this API"
                    : "server binary messages are not declared for this API";
            }

            return ngx_http_ws_api_frame_fail(f,
                                      NGX_HTTP_WS_API_CLOSE_UNSUPPORTED,
                                      reason);
        }

        f->msg_text = text;
        f->msg_check = text && f->rsv == 0;
        f->utf8 = NGX_HTTP_WS_API_UTF8_ACCEPT;
    }

    if (f->limits) {
        switch (ngx_http_ws_api_frame_admit(f, f->payload,
                                            f->opcode != NGX_HTTP_WS_API_OP_CONT))
        {
        case NGX_HTTP_WS_API_CLOSE_TOO_BIG:
            return ngx_http_ws_api_frame_fail(f, NGX_HTTP_WS_API_CLOSE_TOO_BIG,
                                              "message too big");

        case NGX_HTTP_WS_API_CLOSE_POLICY:
            return ngx_http_ws_api_frame_fail(f, NGX_HTTP_WS_API_CLOSE_POLICY,
                                              "message rate exceeded");

        default:
            break;
        }
    }

    /* counted for $ws_api_messages_in and the metrics */

    if (f->opcode != NGX_HTTP_WS_API_OP_CONT) {
        f->messages[f->opcode != NGX_HTTP_WS_API_OP_TEXT]++;
    }

    f->data_bytes += f->payload;

    f->in_message = !f->fin;
    f->held = f->msg_check && f->hsize + f->payload <= f->hold;

    if (f->payload == 0) {
        /* it commits the frame, or not if the frame breaks a rule */
        return ngx_http_ws_api_frame_end(f);
    }

    ngx_http_ws_api_frame_sync(f);

    return NGX_HTTP_WS_API_FRAME_OK;
}


/*
 * The policy limits at the header of a data frame of payload bytes, the
 * first of its message or not: 0 and the frame counted, or the close code
 * of the limit it would break, nothing counted.  The declared length is
 * enough to know, so a message over its limit is refused before a byte of
 * the frame that crosses it goes.
 */

static int
ngx_http_ws_api_frame_admit(ngx_http_ws_api_frame_t *f, uint64_t payload,
    int first)
{
    uint64_t  size, tokens, elapsed;

    /* payload < 2^63 and msg_size <= max_message <= 2^53: no overflow */

    size = first ? payload : f->msg_size + payload;

    if (f->max_message && size > f->max_message) {
        return NGX_HTTP_WS_API_CLOSE_TOO_BIG;
    }

    if (first && f->rate_cost) {
        elapsed = f->now - f->rate_at;

        if (elapsed >= f->rate_cost) {
            /* the bucket is full again after a whole period */
            tokens = f->rate_cap;

        } else {
            tokens = f->tokens + elapsed * f->rate_fill;

            if (tokens > f->rate_cap) {
                tokens = f->rate_cap;
            }
        }

        if (tokens < f->rate_cost) {
            return NGX_HTTP_WS_API_CLOSE_POLICY;
        }

        f->tokens = tokens - f->rate_cost;
        f->rate_at = f->now;
    }

    f->msg_size = size;
    f->data_at = f->now;

    return 0;
}


/* checks n bytes of the payload of a text frame, at f->offset */

static int
ngx_http_ws_api_frame_text(ngx_http_ws_api_frame_t *f, const u_char *p,
    size_t n)
{
    size_t    i, j;
    uint32_t  s;
    uint64_t  bad;

    s = f->utf8;

    i = ngx_http_ws_api_utf8_run(&s, p, n, f->mask, f->pos);

    if (i == n) {

        if (s != NGX_HTTP_WS_API_UTF8_ACCEPT) {
            j = ngx_http_ws_api_utf8_lead(p, n, f->mask, f->pos);

            if (j < n) {
                f->seq_start = f->offset + j;
            }
        }

        f->utf8 = s;

        return NGX_HTTP_WS_API_FRAME_OK;
    }

    /*
     * The byte at i is invalid: commit up to the sequence it breaks, but
     * nothing of a frame that is committed only whole.
     */

    if (s == NGX_HTTP_WS_API_UTF8_ACCEPT) {
        bad = f->offset + i;

    } else {
        j = ngx_http_ws_api_utf8_lead(p, i, f->mask, f->pos);
        bad = (j < i) ? f->offset + j : f->seq_start;
    }

    /* the bytes of a sequence begun in an earlier frame went out with it */

    if (bad < f->frame_start + f->hsize) {
        bad = f->frame_start + f->hsize;
    }

    if (f->held) {
        bad = f->frame_start;
    }

    f->commit = bad;
    f->boundary = f->frame_start;

    f->offset += i + 1;

    return ngx_http_ws_api_frame_fail(f, NGX_HTTP_WS_API_CLOSE_INVALID_DATA,
                                      "invalid UTF-8 in a text message");
}


/* the payload of the current frame has been consumed */

static int
ngx_http_ws_api_frame_end(ngx_http_ws_api_frame_t *f)
{
    if (ngx_http_ws_api_op_control(f->opcode)) {

        if (f->opcode == NGX_HTTP_WS_API_OP_CLOSE) {
            if (ngx_http_ws_api_frame_close_valid(f)
                != NGX_HTTP_WS_API_FRAME_OK)
            {
                return NGX_HTTP_WS_API_FRAME_ERROR;
            }

            f->closed = 1;
            f->close_code = f->ctrl_len ? (f->ctrl[0] << 8 | f->ctrl[1])
                                        : NGX_HTTP_WS_API_CLOSE_NO_STATUS;
        }

    } else if (f->fin && f->msg_check) {

        if (f->utf8 != NGX_HTTP_WS_API_UTF8_ACCEPT) {

            /* what the frame has before the sequence; an empty frame, no */

            if (f->offset > f->frame_start + f->hsize) {
                ngx_http_ws_api_frame_sync(f);
            }

            f->boundary = f->frame_start;

            return ngx_http_ws_api_frame_fail(f,
                                      NGX_HTTP_WS_API_CLOSE_INVALID_DATA,
                                      "text message ends inside a UTF-8 "
                                      "sequence");
        }

        f->msg_check = 0;
    }

    ngx_http_ws_api_frame_done(f);

    return NGX_HTTP_WS_API_FRAME_OK;
}


/*
 * A frame is whole and valid: it is committed, a character it ends inside
 * included (ngx_http_ws_api_frame_held_from() holds only the frame coming),
 * and the next frame starts here.
 */

static void
ngx_http_ws_api_frame_done(ngx_http_ws_api_frame_t *f)
{
    f->frame_start = f->offset;
    f->held = 0;
    f->commit = f->offset;
    f->boundary = f->offset;
}


static int
ngx_http_ws_api_frame_close_valid(ngx_http_ws_api_frame_t *f)
{
    int  code;

    if (f->ctrl_len == 0) {
        return NGX_HTTP_WS_API_FRAME_OK;
    }

    if (f->ctrl_len == 1) {
        return ngx_http_ws_api_frame_fail(f, NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                                          "close frame with a 1-byte payload");
    }

    code = f->ctrl[0] << 8 | f->ctrl[1];

    if (code < 1000
        || (code > 1003 && code < 1007)
        || (code > 1014 && code < 3000)
        || code > 4999)
    {
        return ngx_http_ws_api_frame_fail(f, NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                                          "invalid close status code");
    }

    if (f->ctrl_utf8 != NGX_HTTP_WS_API_UTF8_ACCEPT) {
        return ngx_http_ws_api_frame_fail(f,
                                          NGX_HTTP_WS_API_CLOSE_INVALID_DATA,
                                          "invalid UTF-8 in a close reason");
    }

    return NGX_HTTP_WS_API_FRAME_OK;
}


/*
 * Where an incomplete UTF-8 sequence makes the commit stop: its first byte
 * in the current frame.  Only bytes of the frame being received are held:
 * a frame that ends inside a sequence is let go with the bytes it has, or
 * the control frames and fragments behind it would wait for the
 * sequence's end, and fill the relay's buffer.
 */

static uint64_t
ngx_http_ws_api_frame_held_from(ngx_http_ws_api_frame_t *f)
{
    uint64_t  from;

    if (!f->msg_check || f->utf8 == NGX_HTTP_WS_API_UTF8_ACCEPT) {
        return UINT64_MAX;
    }

    from = f->frame_start + f->hsize;

    return (f->seq_start > from) ? f->seq_start : from;
}


/*
 * Commits what has been consumed of a data frame, or up to its start if it
 * is committed only whole, or up to an incomplete UTF-8 sequence of a text
 * message if it comes first.
 */

static void
ngx_http_ws_api_frame_sync(ngx_http_ws_api_frame_t *f)
{
    uint64_t  limit, from;

    limit = f->held ? f->frame_start : f->offset;

    from = ngx_http_ws_api_frame_held_from(f);

    f->commit = (from < limit) ? from : limit;
    f->boundary = f->frame_start;
}


static int
ngx_http_ws_api_frame_fail(ngx_http_ws_api_frame_t *f, int code,
    const char *reason)
{
    f->error = code;
    f->reason = reason;

    return NGX_HTTP_WS_API_FRAME_ERROR;
}


size_t
ngx_http_ws_api_frame_close(u_char *buf, int code, const char *reason,
    const u_char *mask)
{
    size_t   len, n, i;
    u_char  *p;

    len = 0;

    if (code) {
        len = reason ? strlen(reason) : 0;

        if (len > 123) {
            len = 123;

            /* do not cut a UTF-8 sequence */

            while (len && ((u_char) reason[len] & 0xc0) == 0x80) {
                len--;
            }
        }
    }

    n = code ? 2 + len : 0;

    p = buf;

    *p++ = 0x80 | NGX_HTTP_WS_API_OP_CLOSE;
    *p++ = (mask ? 0x80 : 0) | (u_char) n;

    if (mask) {
        memcpy(p, mask, 4);
        p += 4;
    }

    if (code) {
        p[0] = (u_char) (code >> 8);
        p[1] = (u_char) code;

        if (len) {
            memcpy(p + 2, reason, len);
        }

        if (mask) {
            for (i = 0; i < n; i++) {
                p[i] ^= mask[i & 3];
            }
        }
    }

    return (size_t) (p - buf) + n;
}


int
ngx_http_ws_api_utf8_valid(const u_char *p, size_t len)
{
    uint32_t  s;

    s = NGX_HTTP_WS_API_UTF8_ACCEPT;

    return ngx_http_ws_api_utf8_run(&s, p, len, ngx_http_ws_api_frame_nokey,
                                    0)
           == len
           && s == NGX_HTTP_WS_API_UTF8_ACCEPT;
}


/*
 * Runs the automaton from *state over n bytes at p, unmasked with key from
 * payload position pos.  Returns n, or the index of the first byte that
 * is not valid, with *state the state before it.  A run of ASCII goes 16,
 * then 8 bytes at a time, the key applied as one 64-bit XOR.
 */

static size_t
ngx_http_ws_api_utf8_run(uint32_t *state, const u_char *p, size_t n,
    const u_char *key, uint64_t pos)
{
    size_t    i;
    u_char    c, k[4];
    uint32_t  s, next, k32;

    k32 = ngx_http_ws_api_key32(key, pos);
    memcpy(k, &k32, 4);

    s = *state;
    i = 0;

    for ( ;; ) {

        /*
         * ASCII byte by byte; a run that reaches a 16-byte step with more
         * to come goes on wide (the key's rotation is the same there)
         */

        while (s == NGX_HTTP_WS_API_UTF8_ACCEPT && i < n
               && ((p[i] ^ k[i & 3]) & 0x80) == 0)
        {
            if ((i & 15) == 0 && n - i >= 16) {
                i += ngx_http_ws_api_ascii(p + i, n - i, k32);
                break;
            }

            i++;
        }

        if (i == n) {
            break;
        }

        c = p[i] ^ k[i & 3];

        next = ngx_http_ws_api_utf8_step(s, c);

        if (next == NGX_HTTP_WS_API_UTF8_REJECT) {
            break;
        }

        s = next;
        i++;
    }

    *state = s;

    return i;
}


/*
 * The masking key as a 32-bit word whose bytes, in memory order, mask the
 * 4 bytes of the payload from pos on: XORed with a word loaded from there,
 * it unmasks it.
 */

static uint32_t
ngx_http_ws_api_key32(const u_char *key, uint64_t pos)
{
    u_char    k[4];
    uint32_t  k32;

    k[0] = key[pos & 3];
    k[1] = key[(pos + 1) & 3];
    k[2] = key[(pos + 2) & 3];
    k[3] = key[(pos + 3) & 3];

    memcpy(&k32, k, 4);

    return k32;
}


/*
 * How many bytes from p, up to n, are ASCII once unmasked with k32: whole
 * blocks with AVX2 where the CPU has it, SSE2 (every x86-64 has it) or
 * 64-bit words, then words and bytes.  ASCII text is checked about as
 * fast as it is copied.
 */

static size_t
ngx_http_ws_api_ascii(const u_char *p, size_t n, uint32_t k32)
{
    size_t    i;
    u_char    k[4];
    uint64_t  w, mask;

    i = 0;

    if (n >= 64) {
        i = ngx_http_ws_api_ascii_blocks(p, n, k32);
    }

    mask = (uint64_t) k32 << 32 | k32;

    while (n - i >= 8) {
        memcpy(&w, p + i, 8);

        if ((w ^ mask) & NGX_HTTP_WS_API_UTF8_HIGH) {
            break;
        }

        i += 8;
    }

    memcpy(k, &k32, 4);

    while (i < n && ((p[i] ^ k[i & 3]) & 0x80) == 0) {
        i++;
    }

    return i;
}


#if (NGX_HTTP_WS_API_AVX2)

__attribute__((target("avx2")))
static size_t
ngx_http_ws_api_ascii_avx2(const u_char *p, size_t n, uint32_t k32)
{
    size_t   i;
    __m256i  m, a, b, c, d;

    m = _mm256_set1_epi32((int) k32);

    /* 128 bytes a step while there are, then 64 */

    for (i = 0; n - i >= 128; i += 128) {
        a = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *) (p + i)),
                             m);
        b = _mm256_xor_si256(
                _mm256_loadu_si256((const __m256i *) (p + i + 32)), m);
        c = _mm256_xor_si256(
                _mm256_loadu_si256((const __m256i *) (p + i + 64)), m);
        d = _mm256_xor_si256(
                _mm256_loadu_si256((const __m256i *) (p + i + 96)), m);

        if (_mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(a, b),
                                                 _mm256_or_si256(c, d))))
        {
            break;
        }
    }

    for ( /* void */ ; n - i >= 64; i += 64) {
        a = _mm256_loadu_si256((const __m256i *) (p + i));
        b = _mm256_loadu_si256((const __m256i *) (p + i + 32));

        if (_mm256_movemask_epi8(_mm256_or_si256(_mm256_xor_si256(a, m),
                                                 _mm256_xor_si256(b, m))))
        {
            break;
        }
    }

    return i;
}

#endif


/* whole 64-byte blocks of ASCII from p */

static size_t
ngx_http_ws_api_ascii_blocks(const u_char *p, size_t n, uint32_t k32)
{
    size_t    i;
#if (NGX_HTTP_WS_API_SSE2)
    __m128i   m, a, b, c, d;
#else
    uint64_t  w[8], mask;
#endif

#if (NGX_HTTP_WS_API_AVX2)

    static int  avx2 = -1;

    if (avx2 == -1) {
        __builtin_cpu_init();
        avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
    }

    if (avx2) {
        return ngx_http_ws_api_ascii_avx2(p, n, k32);
    }

#endif

#if (NGX_HTTP_WS_API_SSE2)

    m = _mm_set1_epi32((int) k32);

    for (i = 0; n - i >= 64; i += 64) {
        a = _mm_xor_si128(_mm_loadu_si128((const __m128i *) (p + i)), m);
        b = _mm_xor_si128(_mm_loadu_si128((const __m128i *) (p + i + 16)), m);
        c = _mm_xor_si128(_mm_loadu_si128((const __m128i *) (p + i + 32)), m);
        d = _mm_xor_si128(_mm_loadu_si128((const __m128i *) (p + i + 48)), m);

        if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b),
                                           _mm_or_si128(c, d))))
        {
            break;
        }
    }

#else

    mask = (uint64_t) k32 << 32 | k32;

    for (i = 0; n - i >= 64; i += 64) {
        memcpy(w, p + i, 64);

        if (((w[0] ^ mask) | (w[1] ^ mask) | (w[2] ^ mask) | (w[3] ^ mask)
             | (w[4] ^ mask) | (w[5] ^ mask) | (w[6] ^ mask) | (w[7] ^ mask))
            & NGX_HTTP_WS_API_UTF8_HIGH)
        {
            break;
        }
    }

#endif

    return i;
}


/*
 * The index of the first byte of the UTF-8 sequence that the n bytes at p
 * end inside, if it is among them; n otherwise.
 */

static size_t
ngx_http_ws_api_utf8_lead(const u_char *p, size_t n, const u_char *key,
    uint64_t pos)
{
    size_t  j, last;

    last = (n > 3) ? n - 3 : 0;

    for (j = n; j > last; j--) {
        if (((p[j - 1] ^ key[(pos + j - 1) & 3]) & 0xc0) != 0x80) {
            return j - 1;
        }
    }

    return n;
}
