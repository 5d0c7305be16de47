
/*
 * Copyright (C) ws-api authors
 */


/*
 * libFuzzer target: the streaming frame parser, its UTF-8 check and the
 * close frame builder (src/ngx_http_ws_api_frame.h).
 *
 * The input is 8 bytes of configuration, then the stream:
 *
 *   0     bit 0 masked, 1 deflate, 2 any_rsv, 3 check, 4 text, 5 binary,
 *         6 hold on, 7 unused
 *   1     hold, in bytes, when bit 6 is set
 *   2, 3  where the stream is split into two calls (modulo its length)
 *   4, 5  where "stop" is set (modulo its length)
 *   6     the close code of the close frame round trip
 *   7     bit 0 masked, bit 1 no reason (the reason is the stream)
 *
 * An independent model, written byte by byte from the contract of the
 * header and RFC 6455, says for every prefix of the stream what commit,
 * boundary and the close state must be, whether it is a frame boundary,
 * and where the first violation is and its code.  The parser is then fed
 * the stream whole, one byte at a time, in two calls, and with "stop"
 * set part way; after every call the result must be the model's, and the
 * invariants of the contract must hold: commit never decreases, commit
 * <= offset, boundary <= commit, every call after an error returns an
 * error and consumes nothing, error codes 1002, 1003 or 1007, a reason of
 * at most 123 bytes, the same reason whatever the pieces.  Every complete
 * text message the model checks is also held against
 * ngx_http_ws_api_utf8_valid(), and so is the stream itself.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_ws_api_frame.h"
#include "fuzz.h"


#define FUZZ_CONF_LEN      8

/* the longest reason given to the close frame builder */
#define FUZZ_REASON_MAX    300


typedef struct {
    unsigned        masked:1;
    unsigned        deflate:1;
    unsigned        any_rsv:1;
    unsigned        check:1;
    unsigned        text:1;
    unsigned        binary:1;
    size_t          hold;
} fuzz_conf_t;


/* what the model expects after x bytes, for x = 0 .. valid */

typedef struct {
    uint64_t       *commit;
    uint64_t       *boundary;
    int            *close_code;     /* 0 until a close frame is whole */
    u_char         *at_start;       /* x is a frame boundary */
    size_t          valid;          /* the last x known */
    int             error;          /* the first violation, or 0 */
    uint64_t        error_at;       /* offset after the byte showing it */
} fuzz_expect_t;


static void fuzz_conf_apply(const fuzz_conf_t *cf,
    ngx_http_ws_api_frame_t *f);
static void fuzz_model(const fuzz_conf_t *cf, const u_char *p, size_t len,
    fuzz_expect_t *e);
static uint64_t fuzz_last_start(const uint64_t *starts, size_t n,
    uint64_t commit);
static int fuzz_close_code_valid(int code);
static void fuzz_call(ngx_http_ws_api_frame_t *f, const u_char *s,
    size_t end, const fuzz_expect_t *e);
static void fuzz_same(const ngx_http_ws_api_frame_t *a,
    const ngx_http_ws_api_frame_t *b, const char *what);
static void fuzz_close_trip(const u_char *conf, const u_char *s, size_t len);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                   len, k, i;
    fuzz_conf_t              cf;
    const u_char            *s;
    fuzz_expect_t            e;
    ngx_http_ws_api_frame_t  whole, f;

    if (size < FUZZ_CONF_LEN) {
        return 0;
    }

    memset(&cf, 0, sizeof(fuzz_conf_t));

    cf.masked = data[0] & 1;
    cf.deflate = (data[0] >> 1) & 1;
    cf.any_rsv = (data[0] >> 2) & 1;
    cf.check = (data[0] >> 3) & 1;
    cf.text = (data[0] >> 4) & 1;
    cf.binary = (data[0] >> 5) & 1;
    cf.hold = (data[0] & 0x40) ? data[1] : 0;

    s = data + FUZZ_CONF_LEN;
    len = size - FUZZ_CONF_LEN;

    /* the UTF-8 check alone, against the reference decoder */

    fuzz_assert(ngx_http_ws_api_utf8_valid(s, len)
                == fuzz_utf8_valid(s, len));

    if (len > 1) {
        fuzz_assert(ngx_http_ws_api_utf8_valid(s + 1, len - 1)
                    == fuzz_utf8_valid(s + 1, len - 1));
    }

    fuzz_close_trip(data, s, len);

    e.commit = calloc(len + 1, sizeof(uint64_t));
    e.boundary = calloc(len + 1, sizeof(uint64_t));
    e.close_code = calloc(len + 1, sizeof(int));
    e.at_start = calloc(len + 1, 1);

    if (e.commit == NULL || e.boundary == NULL || e.close_code == NULL
        || e.at_start == NULL)
    {
        abort();
    }

    fuzz_model(&cf, s, len, &e);

    /* whole */

    ngx_http_ws_api_frame_init(&whole);
    fuzz_conf_apply(&cf, &whole);
    fuzz_call(&whole, s, len, &e);

    /* one byte at a time, and on after an error */

    ngx_http_ws_api_frame_init(&f);
    fuzz_conf_apply(&cf, &f);

    for (i = 1; i <= len; i++) {
        fuzz_call(&f, s, i, &e);
    }

    fuzz_same(&whole, &f, "one byte at a time");

    /* in two calls */

    k = (data[2] | data[3] << 8) % (len + 1);

    ngx_http_ws_api_frame_init(&f);
    fuzz_conf_apply(&cf, &f);
    fuzz_call(&f, s, k, &e);
    fuzz_call(&f, s, len, &e);

    fuzz_same(&whole, &f, "split in two");

    /* "stop" set after k bytes, then cleared */

    k = (data[4] | data[5] << 8) % (len + 1);

    ngx_http_ws_api_frame_init(&f);
    fuzz_conf_apply(&cf, &f);
    fuzz_call(&f, s, k, &e);

    f.stop = 1;
    fuzz_call(&f, s, len, &e);
    fuzz_call(&f, s, len, &e);

    f.stop = 0;
    fuzz_call(&f, s, len, &e);

    fuzz_same(&whole, &f, "stopped and resumed");

    /* "stop" from the start: nothing at all is consumed */

    ngx_http_ws_api_frame_init(&f);
    fuzz_conf_apply(&cf, &f);
    f.stop = 1;
    fuzz_call(&f, s, len, &e);

    fuzz_assert(f.offset == 0 && f.commit == 0 && f.error == 0);

    free(e.commit);
    free(e.boundary);
    free(e.close_code);
    free(e.at_start);

    return 0;
}


static void
fuzz_conf_apply(const fuzz_conf_t *cf, ngx_http_ws_api_frame_t *f)
{
    f->masked = cf->masked;
    f->deflate = cf->deflate;
    f->any_rsv = cf->any_rsv;
    f->check = cf->check;
    f->text = cf->text;
    f->binary = cf->binary;
    f->hold = cf->hold;
}


/*
 * The model: the stream one byte at a time, the rules of RFC 6455 and of
 * the header checked as soon as the part they are about is whole, and
 * commit as the contract defines it: the start of the frame under way,
 * or what is consumed of a data frame that is not held; never past the
 * start of an incomplete UTF-8 sequence of a checked text message while
 * the frame that has it is coming (its bytes in that frame: a sequence
 * begun in an earlier frame went out with it).  After a violation,
 * boundary is the start of the offending frame.
 */

static void
fuzz_model(const fuzz_conf_t *cf, const u_char *p, size_t len,
    fuzz_expect_t *e)
{
    int           op, fin, rsv, masking, in_payload, in_message, msg_check,
                  held, closed, close_code, err, text, code;
    u_char        c, hdr[14], key[4], ctrl[125], l7;
    size_t        i, k, hlen, hsize, ext_end, nstarts, mlen;
    uint64_t      x, fstart, pstart, plen, pos, seq_start, commit, boundary,
                  base, bad, *starts;
    u_char       *msg;
    fuzz_utf8_t   u;

    starts = malloc((len + 1) * sizeof(uint64_t));
    msg = malloc(len + 1);

    if (starts == NULL || msg == NULL) {
        abort();
    }

    op = 0;
    fin = 0;
    rsv = 0;
    masking = 0;
    in_payload = 0;
    in_message = 0;
    msg_check = 0;
    held = 0;
    closed = 0;
    close_code = 0;
    hlen = 0;
    hsize = 0;
    ext_end = 0;
    mlen = 0;
    fstart = 0;
    pstart = 0;
    plen = 0;
    pos = 0;
    seq_start = 0;
    commit = 0;
    boundary = 0;
    memset(key, 0, 4);
    memset(&u, 0, sizeof(fuzz_utf8_t));

    starts[0] = 0;
    nstarts = 1;

    e->error = 0;
    e->error_at = 0;
    e->valid = 0;
    e->commit[0] = 0;
    e->boundary[0] = 0;
    e->close_code[0] = 0;
    e->at_start[0] = 1;

    for (i = 0; i < len; i++) {
        x = i + 1;
        c = p[i];
        err = 0;
        bad = UINT64_MAX;       /* an invalid UTF-8 sequence starts here */

        if (!in_payload) {

            hdr[hlen++] = c;

            if (hlen == 1) {
                fin = c >> 7;
                rsv = (c >> 4) & 7;
                op = c & 0xf;

                if (closed) {
                    err = 1002;

                } else if ((op > 2 && op < 8) || op > 10) {
                    err = 1002;

                } else if (op & 8) {
                    if (!fin || rsv) {
                        err = 1002;
                    }

                } else if (op == 0) {
                    if (!in_message || (rsv && !cf->any_rsv)) {
                        err = 1002;
                    }

                } else {
                    if (in_message
                        || (rsv && !cf->any_rsv
                            && !(cf->deflate && rsv == 4)))
                    {
                        err = 1002;
                    }
                }

            } else if (hlen == 2) {
                masking = c >> 7;
                l7 = c & 0x7f;

                if (masking != cf->masked || ((op & 8) && l7 > 125)) {
                    err = 1002;
                }

                ext_end = 2 + (l7 == 126 ? 2 : 0) + (l7 == 127 ? 8 : 0);
                hsize = ext_end + (masking ? 4 : 0);
                plen = l7;
            }

            if (!err && hlen > 2 && hlen == ext_end) {
                if (ext_end == 4) {
                    plen = (uint64_t) hdr[2] << 8 | hdr[3];

                    if (plen < 126) {
                        err = 1002;
                    }

                } else {
                    plen = 0;

                    for (k = 2; k < 10; k++) {
                        plen = plen << 8 | hdr[k];
                    }

                    if ((hdr[2] & 0x80) || plen < 65536) {
                        err = 1002;
                    }
                }
            }

            if (!err && hlen >= 2 && hlen == hsize) {

                /* the header is whole: the frame begins */

                if (masking) {
                    memcpy(key, hdr + hsize - 4, 4);

                } else {
                    memset(key, 0, 4);
                }

                hlen = 0;
                pos = 0;
                held = 0;
                in_payload = 1;
                pstart = x;

                if (!(op & 8)) {

                    if (op != 0) {
                        text = (op == 1);

                        if (cf->check && !(text ? cf->text : cf->binary)) {
                            err = 1003;
                        }

                        msg_check = text && rsv == 0;
                        memset(&u, 0, sizeof(fuzz_utf8_t));
                        mlen = 0;
                    }

                    in_message = !fin;
                    held = msg_check && hsize + plen <= cf->hold;
                }
            }

        } else {

            /* a byte of payload */

            c ^= key[pos & 3];
            pos++;

            if (op & 8) {
                ctrl[pos - 1] = c;

            } else if (msg_check) {
                msg[mlen++] = c;

                if (u.need == 0) {
                    seq_start = x - 1;
                }

                if (fuzz_utf8_step(&u, c) != 0) {
                    err = 1007;
                    bad = (u.need == 0) ? x - 1 : seq_start;

                    if (bad < pstart) {
                        bad = pstart;
                    }

                    fuzz_assert(!ngx_http_ws_api_utf8_valid(msg, mlen));
                }
            }
        }

        /* the end of a frame */

        if (!err && in_payload && pos == plen) {

            if (op == 8) {

                if (plen == 1) {
                    err = 1002;

                } else if (plen) {
                    code = ctrl[0] << 8 | ctrl[1];

                    if (!fuzz_close_code_valid(code)) {
                        err = 1002;

                    } else if (!fuzz_utf8_valid(ctrl + 2, plen - 2)) {
                        err = 1007;
                    }
                }

                if (!err) {
                    closed = 1;
                    close_code = plen ? (ctrl[0] << 8 | ctrl[1]) : 1005;
                }

            } else if (!(op & 8) && fin && msg_check) {

                if (u.need) {
                    err = 1007;

                    /* what the frame has before the sequence, if any */

                    bad = (plen == 0) ? commit
                                      : (seq_start > pstart) ? seq_start
                                                             : pstart;

                    fuzz_assert(!ngx_http_ws_api_utf8_valid(msg, mlen));

                } else {
                    fuzz_assert(ngx_http_ws_api_utf8_valid(msg, mlen));
                    msg_check = 0;
                }
            }

            if (!err) {
                in_payload = 0;
                held = 0;
                fstart = x;
                starts[nstarts++] = x;
            }
        }

        if (err) {

            /*
             * Nothing more is committed, but for invalid UTF-8: up to the
             * sequence it breaks, and nothing of a held frame.
             */

            if (bad != UINT64_MAX) {
                commit = (held && bad > fstart) ? fstart : bad;
            }

            boundary = fstart;

            e->commit[x] = commit;
            e->boundary[x] = boundary;
            e->close_code[x] = close_code;
            e->error = err;
            e->error_at = x;
            e->valid = x;

            break;
        }

        if (!in_payload || (op & 8)) {
            base = fstart;

        } else {
            base = held ? fstart : x;

            /* an incomplete sequence: its bytes in this frame wait */

            if (msg_check && u.need) {
                bad = (seq_start > pstart) ? seq_start : pstart;

                if (bad < base) {
                    base = bad;
                }
            }
        }

        commit = base;
        boundary = fuzz_last_start(starts, nstarts, commit);

        e->commit[x] = commit;
        e->boundary[x] = boundary;
        e->close_code[x] = close_code;
        e->at_start[x] = !in_payload && hlen == 0;
        e->valid = x;
    }

    free(starts);
    free(msg);
}


/* the last frame boundary at or before commit */

static uint64_t
fuzz_last_start(const uint64_t *starts, size_t n, uint64_t commit)
{
    size_t  lo, hi, mid;

    /* starts[0] is 0 and they grow: the last one <= commit */

    lo = 0;
    hi = n;

    while (hi - lo > 1) {
        mid = lo + (hi - lo) / 2;

        if (starts[mid] <= commit) {
            lo = mid;

        } else {
            hi = mid;
        }
    }

    return starts[lo];
}


/* RFC 6455 7.4: the codes a close frame may carry */

static int
fuzz_close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003)
           || (code >= 1007 && code <= 1014)
           || (code >= 3000 && code <= 4999);
}


/*
 * Feeds the parser what it has not consumed of s[0 .. end), as the relay
 * does, and holds the result against the model and the contract.
 */

static void
fuzz_call(ngx_http_ws_api_frame_t *f, const u_char *s, size_t end,
    const fuzz_expect_t *e)
{
    int                      rc, want_error;
    size_t                   reason_len;
    uint64_t                 x, limit;
    ngx_http_ws_api_frame_t  before;

    before = *f;

    fuzz_assert(before.offset <= end);

    rc = ngx_http_ws_api_frame_parse(f, s + before.offset,
                                     end - before.offset);

    fuzz_assert(rc == NGX_HTTP_WS_API_FRAME_OK
                || rc == NGX_HTTP_WS_API_FRAME_ERROR);

    fuzz_assert((rc == NGX_HTTP_WS_API_FRAME_ERROR) == (f->error != 0));

    if (before.error) {
        fuzz_assert(rc == NGX_HTTP_WS_API_FRAME_ERROR);
        fuzz_assert(f->offset == before.offset);
        fuzz_assert(f->commit == before.commit);
        fuzz_assert(f->boundary == before.boundary);
        fuzz_assert(f->error == before.error);
        fuzz_assert(f->reason == before.reason);
        fuzz_assert(f->closed == before.closed);
        fuzz_assert(f->close_code == before.close_code);
        return;
    }

    /* the contract */

    fuzz_assert(f->offset >= before.offset && f->offset <= end);
    fuzz_assert(f->commit >= before.commit);
    fuzz_assert(f->commit <= f->offset);
    fuzz_assert(f->boundary <= f->commit);
    fuzz_assert(f->boundary >= before.boundary);
    fuzz_assert(!before.closed || f->closed);

    if (f->error) {
        fuzz_assert(f->error == NGX_HTTP_WS_API_CLOSE_PROTOCOL
                    || f->error == NGX_HTTP_WS_API_CLOSE_UNSUPPORTED
                    || f->error == NGX_HTTP_WS_API_CLOSE_INVALID_DATA);
        fuzz_assert(f->reason != NULL);

        reason_len = strlen(f->reason);

        fuzz_assert(reason_len > 0 && reason_len <= 123);
    }

    /* where it must have stopped: a violation, a boundary or the end */

    limit = end;

    if (f->stop) {
        for (x = before.offset; x < end && x <= e->valid; x++) {
            if (e->at_start[x]) {
                limit = x;
                break;
            }
        }
    }

    want_error = e->error && e->error_at <= limit;

    fuzz_assert_msg(want_error == (f->error != 0),
                    "error %d at %llu, the model: %d at %llu "
                    "(fed %llu to %llu)",
                    f->error, (unsigned long long) f->offset, e->error,
                    (unsigned long long) e->error_at,
                    (unsigned long long) before.offset,
                    (unsigned long long) end);

    if (want_error) {
        fuzz_assert(f->error == e->error);
        fuzz_assert(f->offset == e->error_at);

    } else {
        fuzz_assert_msg(f->offset == limit, "offset %llu, expected %llu",
                        (unsigned long long) f->offset,
                        (unsigned long long) limit);
    }

    x = f->offset;

    fuzz_assert(x <= e->valid);

    fuzz_assert_msg(f->commit == e->commit[x] && f->boundary == e->boundary[x],
                    "at offset %llu commit %llu boundary %llu, the model: "
                    "commit %llu boundary %llu",
                    (unsigned long long) x,
                    (unsigned long long) f->commit,
                    (unsigned long long) f->boundary,
                    (unsigned long long) e->commit[x],
                    (unsigned long long) e->boundary[x]);

    fuzz_assert(f->closed == (e->close_code[x] != 0));
    fuzz_assert(!f->closed || f->close_code == e->close_code[x]);
}


/* the same result, however the stream was cut */

static void
fuzz_same(const ngx_http_ws_api_frame_t *a, const ngx_http_ws_api_frame_t *b,
    const char *what)
{
    fuzz_assert_msg(a->offset == b->offset && a->commit == b->commit
                    && a->boundary == b->boundary && a->error == b->error
                    && a->closed == b->closed
                    && a->close_code == b->close_code,
                    "%s: not the same as whole", what);

    fuzz_assert_msg((a->reason == NULL && b->reason == NULL)
                    || (a->reason && b->reason
                        && strcmp(a->reason, b->reason) == 0),
                    "%s: reason \"%s\", whole \"%s\"", what,
                    b->reason ? b->reason : "(null)",
                    a->reason ? a->reason : "(null)");
}


/*
 * ngx_http_ws_api_frame_close(): the frame it writes, with the reason cut
 * at a character boundary, parses back to the same code and reason.
 */

static void
fuzz_close_trip(const u_char *conf, const u_char *s, size_t len)
{
    int                      code, rc, want_ok;
    char                     reason[FUZZ_REASON_MAX + 1];
    u_char                  *buf, *payload, plain[127], key[4];
    size_t                   n, rlen, cut, i, want;
    const char              *r;
    const u_char            *mask;
    ngx_http_ws_api_frame_t  f;

    static const int  codes[] = {
        0, 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
        1013, 1014, 3000, 4999, 999, 1004, 1005, 1006, 1015, 2999, 5000
    };

    if (conf[6] < 128) {
        code = codes[conf[6] % (sizeof(codes) / sizeof(codes[0]))];

    } else {
        code = ((conf[6] & 0x7f) << 8 | conf[7]) + 1;
    }

    memcpy(key, conf + 2, 4);
    mask = (conf[7] & 1) ? key : NULL;

    rlen = 0;

    while (rlen < len && rlen < FUZZ_REASON_MAX && s[rlen] != '\0') {
        rlen++;
    }

    memcpy(reason, s, rlen);
    reason[rlen] = '\0';

    r = (conf[7] & 2) ? NULL : reason;

    /* exactly the room promised, so that ASan sees a byte more */

    buf = malloc(NGX_HTTP_WS_API_CLOSE_FRAME_MAX);
    if (buf == NULL) {
        abort();
    }

    n = ngx_http_ws_api_frame_close(buf, code, r, mask);

    cut = 0;

    if (code && r) {
        cut = rlen;

        if (cut > 123) {
            cut = 123;

            while (cut && ((u_char) reason[cut] & 0xc0) == 0x80) {
                cut--;
            }
        }
    }

    want = 2 + (mask ? 4 : 0) + (code ? 2 + cut : 0);

    fuzz_assert_msg(n == want, "close frame of %zu bytes, expected %zu",
                    n, want);
    fuzz_assert(n <= NGX_HTTP_WS_API_CLOSE_FRAME_MAX);
    fuzz_assert(buf[0] == 0x88);
    fuzz_assert(buf[1] == ((mask ? 0x80 : 0) | (code ? 2 + cut : 0)));

    payload = buf + 2 + (mask ? 4 : 0);

    if (mask) {
        fuzz_assert(memcmp(buf + 2, key, 4) == 0);
    }

    for (i = 0; i < n - (size_t) (payload - buf); i++) {
        plain[i] = payload[i] ^ (mask ? key[i & 3] : 0);
    }

    if (code) {
        fuzz_assert(plain[0] == ((code >> 8) & 0xff)
                    && plain[1] == (code & 0xff));
        fuzz_assert(memcmp(plain + 2, reason, cut) == 0);
    }

    /* a valid reason stays valid once cut */

    if (r && fuzz_utf8_valid((u_char *) reason, rlen)) {
        fuzz_assert(fuzz_utf8_valid(plain + 2, cut));
    }

    /* and the parser reads it back */

    ngx_http_ws_api_frame_init(&f);
    f.masked = (mask != NULL);

    rc = ngx_http_ws_api_frame_parse(&f, buf, n);

    want_ok = code == 0
              || (fuzz_close_code_valid(code)
                  && fuzz_utf8_valid(plain + 2, cut));

    fuzz_assert_msg(want_ok == (rc == NGX_HTTP_WS_API_FRAME_OK),
                    "close frame %d, %zu bytes of reason: %s", code, cut,
                    f.reason ? f.reason : "accepted");

    if (want_ok) {
        fuzz_assert(f.closed && f.offset == n && f.commit == n);
        fuzz_assert(f.close_code == (code ? code : 1005));

    } else if (!fuzz_close_code_valid(code)) {
        fuzz_assert(f.error == NGX_HTTP_WS_API_CLOSE_PROTOCOL);

    } else {
        fuzz_assert(f.error == NGX_HTTP_WS_API_CLOSE_INVALID_DATA);
    }

    free(buf);
}
