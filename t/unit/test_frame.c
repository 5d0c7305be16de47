
/*
 * Copyright (C) ws-api authors
 */


/*
 * Unit tests of the streaming frame parser and its UTF-8 check.
 *
 * Every stream is fed whole, one byte at a time, and cut at every point
 * into two calls (small streams also at every pair of points).  After each
 * call the runner checks the invariants: all bytes consumed, commit never
 * decreasing and never past offset, boundary a real frame boundary and the
 * last one at or before commit.  For a valid stream commit must also equal,
 * at every call, what an independent oracle computes from the frames the
 * test built: the longest prefix whose bytes are all "released" (a header
 * once whole, a held or control frame once whole, a text byte once its
 * character is whole).
 *
 * TEST_SEED sets the seed of the randomized tests, TEST_BENCH_MB the size
 * of the throughput runs (0: none).
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_http_ws_api_frame.h"
#include "tap.h"


#define TEST_FIN                0x80
#define TEST_RSV1               0x40
#define TEST_RSV2               0x20
#define TEST_RSV3               0x10

#define TEST_CONT               0x0
#define TEST_TEXT               0x1
#define TEST_BINARY             0x2
#define TEST_CLOSE              0x8
#define TEST_PING               0x9
#define TEST_PONG               0xa

/* streams longer than this are cut at a sample of points, not all */
#define TEST_ALL_SPLITS_MAX     8192

/* streams at most this long are also cut at every pair of points */
#define TEST_PAIR_SPLITS_MAX    40


typedef struct {
    uint64_t         start;
    uint64_t         plen;
    size_t           hsize;
    u_char           b0;            /* FIN, RSV and opcode */
} test_frame_t;


typedef struct {
    u_char          *buf;
    u_char          *plain;         /* the payload bytes, unmasked */
    size_t           len;
    size_t           cap;
    test_frame_t    *frames;
    size_t           nframes;
    size_t           fcap;
    unsigned         seed;
    int              masking;
    u_char           key[4];
    uint64_t         pay;
} test_stream_t;


typedef struct {
    int              error;         /* 0 or the close code of a violation */
    const char      *reason;        /* the reason, NULL: not checked */
    uint64_t         commit;
    uint64_t         offset;
    int              close_code;    /* 0: not closed */
} test_expect_t;


typedef struct {
    int              rc;
    int              error;
    const char      *reason;
    uint64_t         offset;
    uint64_t         commit;
    uint64_t         boundary;
    int              closed;
    int              close_code;
    char             why[256];      /* the first invariant broken, or "" */
} test_run_t;


static uint64_t  test_rng_state = 0x2545f4914f6cdd1dULL;


static uint64_t
test_rand(void)
{
    uint64_t  x;

    x = test_rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    test_rng_state = x;

    return x;
}


static size_t
test_rand_n(size_t n)
{
    return n ? (size_t) (test_rand() % n) : 0;
}


/* stream builder */

static void
test_stream_init(test_stream_t *s)
{
    memset(s, 0, sizeof(test_stream_t));
}


static void
test_stream_free(test_stream_t *s)
{
    free(s->buf);
    free(s->plain);
    free(s->frames);
    memset(s, 0, sizeof(test_stream_t));
}


static void
test_reserve(test_stream_t *s, size_t n)
{
    if (s->len + n <= s->cap) {
        return;
    }

    while (s->len + n > s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
    }

    s->buf = realloc(s->buf, s->cap);
    s->plain = realloc(s->plain, s->cap);

    if (s->buf == NULL || s->plain == NULL) {
        perror("realloc");
        exit(2);
    }
}


/* raw bytes, outside any frame the test knows of */

static void
test_raw(test_stream_t *s, const void *data, size_t n)
{
    test_reserve(s, n);
    memcpy(s->buf + s->len, data, n);
    memcpy(s->plain + s->len, data, n);
    s->len += n;
}


/*
 * A frame header: b0 is FIN | RSV | opcode, form the length encoding: 0
 * the shortest, 126 or 127 to force one.  A masked frame gets the next
 * key of the stream.
 */

static void
test_header(test_stream_t *s, u_char b0, int masked, uint64_t len, int form)
{
    int           i;
    u_char        h[14];
    size_t        n;
    test_frame_t *fr;

    if (form == 0) {
        form = (len < 126) ? 0 : (len < 65536) ? 126 : 127;
    }

    h[0] = b0;
    h[1] = masked ? 0x80 : 0;

    if (form == 0) {
        h[1] |= (u_char) len;
        n = 2;

    } else if (form == 126) {
        h[1] |= 126;
        h[2] = (u_char) (len >> 8);
        h[3] = (u_char) len;
        n = 4;

    } else {
        h[1] |= 127;

        for (i = 0; i < 8; i++) {
            h[2 + i] = (u_char) (len >> (56 - 8 * i));
        }

        n = 10;
    }

    if (masked) {
        for (i = 0; i < 4; i++) {
            s->key[i] = (u_char) (s->seed * 0x9d + i * 0x35 + 0x11);
        }

        /* now and then a key with a zero byte */

        if (s->seed % 5 == 3) {
            s->key[s->seed % 4] = 0;
        }

        s->seed++;

        memcpy(h + n, s->key, 4);
        n += 4;
    }

    if (s->nframes == s->fcap) {
        s->fcap = s->fcap ? s->fcap * 2 : 16;
        s->frames = realloc(s->frames, s->fcap * sizeof(test_frame_t));

        if (s->frames == NULL) {
            perror("realloc");
            exit(2);
        }
    }

    fr = &s->frames[s->nframes++];
    fr->start = s->len;
    fr->plen = len;
    fr->hsize = n;
    fr->b0 = b0;

    test_raw(s, h, n);

    s->masking = masked;
    s->pay = 0;
}


static void
test_payload(test_stream_t *s, const void *data, size_t n)
{
    size_t         i;
    const u_char  *d;

    d = data;

    test_reserve(s, n);

    for (i = 0; i < n; i++) {
        s->plain[s->len] = d[i];
        s->buf[s->len] = d[i] ^ (s->masking ? s->key[s->pay & 3] : 0);
        s->len++;
        s->pay++;
    }
}


static void
test_frame(test_stream_t *s, u_char b0, int masked, const void *data,
    size_t n)
{
    test_header(s, b0, masked, n, 0);
    test_payload(s, data, n);
}


/* a masked frame with the given key */

static void
test_frame_key(test_stream_t *s, u_char b0, const u_char *key,
    const void *data, size_t n)
{
    test_header(s, b0, 1, n, 0);
    memcpy(s->key, key, 4);
    memcpy(s->buf + s->len - 4, key, 4);
    test_payload(s, data, n);
}


static void
test_str(test_stream_t *s, u_char b0, int masked, const char *str)
{
    test_frame(s, b0, masked, str, strlen(str));
}


static void
test_close(test_stream_t *s, int masked, int code, const char *reason)
{
    u_char  b[125];
    size_t  n;

    b[0] = (u_char) (code >> 8);
    b[1] = (u_char) code;
    n = strlen(reason);
    memcpy(b + 2, reason, n);

    test_frame(s, TEST_FIN | TEST_CLOSE, masked, b, 2 + n);
}


static test_expect_t
test_ok(uint64_t commit, uint64_t offset)
{
    test_expect_t  e;

    memset(&e, 0, sizeof(test_expect_t));
    e.commit = commit;
    e.offset = offset;

    return e;
}


static test_expect_t
test_err(int error, const char *reason, uint64_t commit, uint64_t offset)
{
    test_expect_t  e;

    memset(&e, 0, sizeof(test_expect_t));
    e.error = error;
    e.reason = reason;
    e.commit = commit;
    e.offset = offset;

    return e;
}


static void
test_conf(ngx_http_ws_api_frame_t *f, int masked, size_t hold)
{
    ngx_http_ws_api_frame_init(f);
    f->masked = masked;
    f->hold = hold;
}


/*
 * The oracle: for each byte, the offset from which it may be committed;
 * then, for each offset, the longest prefix of bytes all released.
 */

static void
test_oracle_chars(test_stream_t *s, const size_t *pos, const uint64_t *fend,
    size_t n, uint64_t *rel)
{
    size_t    k, m, l;
    u_char    c;
    uint64_t  last, lim;

    k = 0;

    while (k < n) {
        c = s->plain[pos[k]];
        l = (c < 0x80) ? 1 : (c < 0xe0) ? 2 : (c < 0xf0) ? 3 : 4;

        /*
         * a character's bytes are released when it is whole, or when the
         * frame they are in ends, whichever comes first; a character
         * still incomplete, with its frames
         */

        last = (k + l > n) ? UINT64_MAX : pos[k + l - 1] + 1;

        for (m = k; m < k + l && m < n; m++) {
            lim = (last < fend[m]) ? last : fend[m];

            if (rel[pos[m]] < lim) {
                rel[pos[m]] = lim;
            }
        }

        k += l;
    }
}


static uint64_t *
test_oracle(const ngx_http_ws_api_frame_t *conf, test_stream_t *s)
{
    int            control, checked, held;
    u_char         op;
    size_t         k, n, *pos;
    uint64_t       i, end, mx, c, o, *rel, *oracle, *fend;
    test_frame_t  *fr;

    rel = calloc(s->len + 1, sizeof(uint64_t));
    oracle = calloc(s->len + 1, sizeof(uint64_t));
    pos = calloc(s->len + 1, sizeof(size_t));
    fend = calloc(s->len + 1, sizeof(uint64_t));

    if (rel == NULL || oracle == NULL || pos == NULL || fend == NULL) {
        perror("calloc");
        exit(2);
    }

    checked = 0;
    n = 0;

    for (k = 0; k < s->nframes; k++) {
        fr = &s->frames[k];
        op = fr->b0 & 0xf;
        end = fr->start + fr->hsize + fr->plen;
        control = op & 0x8;

        if (!control && op != TEST_CONT) {
            checked = (op == TEST_TEXT && (fr->b0 & 0x70) == 0);
            n = 0;
        }

        held = !control && checked && fr->hsize + fr->plen <= conf->hold;

        for (i = fr->start; i < fr->start + fr->hsize; i++) {
            rel[i] = (control || held) ? end : fr->start + fr->hsize;
        }

        for (i = fr->start + fr->hsize; i < end; i++) {
            rel[i] = (control || held) ? end : i + 1;

            if (!control && checked) {
                fend[n] = end;
                pos[n++] = i;
            }
        }

        if (!control && (fr->b0 & TEST_FIN) && checked) {
            test_oracle_chars(s, pos, fend, n, rel);
            n = 0;
        }
    }

    if (checked && n) {
        test_oracle_chars(s, pos, fend, n, rel);
    }

    c = 0;
    mx = 0;

    for (o = 0; o <= s->len; o++) {
        while (c < o && (rel[c] > mx ? rel[c] : mx) <= o) {
            mx = rel[c] > mx ? rel[c] : mx;
            c++;
        }

        oracle[o] = c;
    }

    free(rel);
    free(pos);
    free(fend);

    return oracle;
}


/* the runner */

static int
test_is_boundary(test_stream_t *s, uint64_t b, uint64_t commit)
{
    size_t    k;
    uint64_t  end, best;

    best = 0;

    for (k = 0; k < s->nframes; k++) {
        end = s->frames[k].start + s->frames[k].hsize + s->frames[k].plen;

        if (end <= commit && end > best) {
            best = end;
        }
    }

    return b == best;
}


/*
 * Feeds the stream in the pieces that the ncuts offsets in cuts make and
 * checks the invariants after every call.
 */

static void
test_run(const ngx_http_ws_api_frame_t *conf, test_stream_t *s,
    const size_t *cuts, size_t ncuts, const uint64_t *oracle, test_run_t *r)
{
    int                      rc;
    size_t                   k, from, to;
    uint64_t                 prev, off;
    ngx_http_ws_api_frame_t  f;

    f = *conf;
    r->why[0] = '\0';
    prev = 0;
    from = 0;
    rc = NGX_HTTP_WS_API_FRAME_OK;

    for (k = 0; k <= ncuts; k++) {
        to = (k < ncuts) ? cuts[k] : s->len;

        rc = ngx_http_ws_api_frame_parse(&f, s->buf + from, to - from);

        if (r->why[0] == '\0') {

            if (rc == NGX_HTTP_WS_API_FRAME_OK && f.offset != to) {
                snprintf(r->why, sizeof(r->why),
                         "call %zu: offset %llu, expected %zu", k,
                         (unsigned long long) f.offset, to);

            } else if (f.commit < prev) {
                snprintf(r->why, sizeof(r->why),
                         "call %zu: commit went from %llu to %llu", k,
                         (unsigned long long) prev,
                         (unsigned long long) f.commit);

            } else if (f.commit > f.offset) {
                snprintf(r->why, sizeof(r->why),
                         "call %zu: commit %llu past offset %llu", k,
                         (unsigned long long) f.commit,
                         (unsigned long long) f.offset);

            } else if (!test_is_boundary(s, f.boundary, f.commit)) {
                snprintf(r->why, sizeof(r->why),
                         "call %zu: boundary %llu for commit %llu", k,
                         (unsigned long long) f.boundary,
                         (unsigned long long) f.commit);

            } else if (oracle && rc == NGX_HTTP_WS_API_FRAME_OK
                       && f.commit != oracle[f.offset])
            {
                snprintf(r->why, sizeof(r->why),
                         "call %zu: at offset %llu commit %llu, oracle %llu",
                         k, (unsigned long long) f.offset,
                         (unsigned long long) f.commit,
                         (unsigned long long) oracle[f.offset]);

            } else if (rc != NGX_HTTP_WS_API_FRAME_OK
                       && (f.error == 0 || f.reason == NULL
                           || strlen(f.reason) > 123))
            {
                snprintf(r->why, sizeof(r->why),
                         "call %zu: error %d without a proper reason", k,
                         f.error);
            }
        }

        prev = f.commit;
        from = to;

        if (rc != NGX_HTTP_WS_API_FRAME_OK) {
            break;
        }
    }

    if (rc != NGX_HTTP_WS_API_FRAME_OK && r->why[0] == '\0') {

        /* the error sticks, and nothing more is consumed */

        off = f.offset;

        if (ngx_http_ws_api_frame_parse(&f, s->buf, s->len)
            != NGX_HTTP_WS_API_FRAME_ERROR
            || f.offset != off)
        {
            snprintf(r->why, sizeof(r->why), "the error did not stick");
        }
    }

    r->rc = rc;
    r->error = f.error;
    r->reason = f.reason;
    r->offset = f.offset;
    r->commit = f.commit;
    r->boundary = f.boundary;
    r->closed = f.closed;
    r->close_code = f.closed ? f.close_code : 0;
}


/* "" if the run ended as expected, what differs otherwise */

static const char *
test_differs(const test_run_t *r, const test_expect_t *e)
{
    static char  buf[512];

    if (r->why[0]) {
        return r->why;
    }

    if (r->error != e->error
        || (e->reason && (r->reason == NULL || strcmp(r->reason, e->reason))))
    {
        snprintf(buf, sizeof(buf), "error %d \"%s\", expected %d \"%s\"",
                 r->error, r->reason ? r->reason : "",
                 e->error, e->reason ? e->reason : "(any)");
        return buf;
    }

    if ((r->rc == NGX_HTTP_WS_API_FRAME_OK) != (e->error == 0)) {
        snprintf(buf, sizeof(buf), "rc %d with error %d", r->rc, r->error);
        return buf;
    }

    if (r->commit != e->commit || r->offset != e->offset) {
        snprintf(buf, sizeof(buf),
                 "commit %llu offset %llu, expected commit %llu offset %llu",
                 (unsigned long long) r->commit,
                 (unsigned long long) r->offset,
                 (unsigned long long) e->commit,
                 (unsigned long long) e->offset);
        return buf;
    }

    if (r->close_code != e->close_code) {
        snprintf(buf, sizeof(buf), "close code %d, expected %d",
                 r->close_code, e->close_code);
        return buf;
    }

    return "";
}


/*
 * Runs a stream whole, byte by byte, cut at every point (a sample of them
 * for long streams) and, when short, at every pair of points.  Verbose:
 * an assertion for each way and for error and commit; otherwise one for
 * all.
 */

static void
test_check_mode(const char *name, const ngx_http_ws_api_frame_t *conf,
    test_stream_t *s, test_expect_t e, int verbose)
{
    int            k;
    size_t         i, j, n, *cuts, cut[2], step;
    uint64_t      *oracle;
    test_run_t     r;
    const char    *d, *way[4];
    static char    diag[4][600];

    oracle = (e.error == 0) ? test_oracle(conf, s) : NULL;

    for (k = 0; k < 4; k++) {
        way[k] = NULL;
        diag[k][0] = '\0';
    }

    /* whole */

    test_run(conf, s, NULL, 0, oracle, &r);

    if (verbose) {
        is_int(r.error, e.error, "%s: whole: error", name);

        if (e.reason) {
            is_str(r.reason, e.reason, "%s: whole: reason", name);
        }

        is_int(r.commit, e.commit, "%s: whole: commit", name);
    }

    way[0] = "whole";
    snprintf(diag[0], sizeof(diag[0]), "%s", test_differs(&r, &e));

    /* one byte at a time */

    cuts = malloc((s->len + 1) * sizeof(size_t));

    if (cuts == NULL) {
        perror("malloc");
        exit(2);
    }

    for (i = 1; i < s->len; i++) {
        cuts[i - 1] = i;
    }

    test_run(conf, s, cuts, s->len ? s->len - 1 : 0, oracle, &r);

    way[1] = "byte by byte";
    snprintf(diag[1], sizeof(diag[1]), "%s", test_differs(&r, &e));

    free(cuts);

    /* two calls, cut at every point */

    way[2] = "two calls, every cut";
    step = (s->len > TEST_ALL_SPLITS_MAX) ? s->len / 2000 + 1 : 1;

    for (i = 0; i <= s->len && diag[2][0] == '\0'; i++) {

        if (step > 1 && i % step && i > 64 && s->len - i > 64) {

            /* a sample only, but every point near a frame start */

            for (j = 0; j < s->nframes; j++) {
                if (i - s->frames[j].start < 32
                    || s->frames[j].start - i < 32)
                {
                    break;
                }
            }

            if (j == s->nframes) {
                continue;
            }
        }

        cut[0] = i;
        test_run(conf, s, cut, 1, oracle, &r);
        d = test_differs(&r, &e);

        if (d[0]) {
            snprintf(diag[2], sizeof(diag[2]), "cut at %zu: %s", i, d);
        }
    }

    /* three calls, every pair of cuts */

    if (s->len <= TEST_PAIR_SPLITS_MAX) {
        way[3] = "three calls, every pair of cuts";
        n = 0;

        for (i = 0; i <= s->len && diag[3][0] == '\0'; i++) {
            for (j = i; j <= s->len && diag[3][0] == '\0'; j++) {
                cut[0] = i;
                cut[1] = j;
                test_run(conf, s, cut, 2, oracle, &r);
                d = test_differs(&r, &e);
                n++;

                if (d[0]) {
                    snprintf(diag[3], sizeof(diag[3]), "cuts at %zu, %zu: %s",
                             i, j, d);
                }
            }
        }
    }

    if (verbose) {
        for (k = 0; k < 4; k++) {
            if (way[k]) {
                ok(diag[k][0] == '\0', "%s: %s", name, way[k]);

                if (diag[k][0]) {
                    tap_diag("  %s", diag[k]);
                }
            }
        }

    } else {
        for (k = 0; k < 4; k++) {
            if (way[k] && diag[k][0]) {
                break;
            }
        }

        ok(k == 4, "%s", name);

        if (k < 4) {
            tap_diag("  %s: %s", way[k], diag[k]);
        }
    }

    free(oracle);
}


static void
test_check(const char *name, const ngx_http_ws_api_frame_t *conf,
    test_stream_t *s, test_expect_t e)
{
    test_check_mode(name, conf, s, e, 1);
}


static void
test_check_quiet(const char *name, const ngx_http_ws_api_frame_t *conf,
    test_stream_t *s, test_expect_t e)
{
    test_check_mode(name, conf, s, e, 0);
}


/*
 * "stop" set after the first k bytes, for every k: the parser must go on
 * to the next frame boundary and no further, then resume when cleared.
 */

static void
test_stop(const char *name, const ngx_http_ws_api_frame_t *conf,
    test_stream_t *s)
{
    int                      rc;
    size_t                   k, j, i;
    uint64_t                 next, end, off;
    const char              *d;
    static char              buf[256];
    ngx_http_ws_api_frame_t  f;

    d = "";

    for (k = 0; k <= s->len && d[0] == '\0'; k++) {

        next = s->len;

        for (j = 0; j < s->nframes; j++) {
            end = s->frames[j].start + s->frames[j].hsize
                  + s->frames[j].plen;

            if (end >= k && end < next) {
                next = end;
            }
        }

        if (k == 0) {
            next = 0;
        }

        /* the rest in one call, then in single bytes */

        for (i = 0; i < 2 && d[0] == '\0'; i++) {
            f = *conf;

            rc = ngx_http_ws_api_frame_parse(&f, s->buf, k);
            f.stop = 1;

            if (i == 0) {
                rc |= ngx_http_ws_api_frame_parse(&f, s->buf + k,
                                                  s->len - k);

            } else {
                for (j = k; j < s->len; j++) {
                    off = f.offset;
                    rc |= ngx_http_ws_api_frame_parse(&f, s->buf + off, 1);
                }
            }

            if (rc != NGX_HTTP_WS_API_FRAME_OK || f.offset != next
                || f.commit > f.offset)
            {
                snprintf(buf, sizeof(buf),
                         "stop after %zu (%s): rc %d offset %llu, "
                         "expected %llu", k, i ? "bytes" : "whole", rc,
                         (unsigned long long) f.offset,
                         (unsigned long long) next);
                d = buf;
                break;
            }

            f.stop = 0;
            off = f.offset;

            rc = ngx_http_ws_api_frame_parse(&f, s->buf + off, s->len - off);

            if (rc != NGX_HTTP_WS_API_FRAME_OK || f.offset != s->len
                || f.commit != f.offset)
            {
                snprintf(buf, sizeof(buf),
                         "resume after %zu: rc %d offset %llu commit %llu",
                         k, rc, (unsigned long long) f.offset,
                         (unsigned long long) f.commit);
                d = buf;
            }
        }
    }

    ok(d[0] == '\0', "%s: stop at every point", name);

    if (d[0]) {
        tap_diag("  %s", d);
    }
}


/* references for UTF-8: well-formed sequences (Unicode table 3-7) */

static int
test_utf8_ref(const u_char *p, size_t n, size_t *start, size_t *at)
{
    size_t  i, l, k;
    u_char  c, lo, hi;

    i = 0;

    while (i < n) {
        c = p[i];
        lo = 0x80;
        hi = 0xbf;

        if (c < 0x80) {
            i++;
            continue;

        } else if (c >= 0xc2 && c <= 0xdf) {
            l = 2;

        } else if (c >= 0xe0 && c <= 0xef) {
            l = 3;
            lo = (c == 0xe0) ? 0xa0 : 0x80;
            hi = (c == 0xed) ? 0x9f : 0xbf;

        } else if (c >= 0xf0 && c <= 0xf4) {
            l = 4;
            lo = (c == 0xf0) ? 0x90 : 0x80;
            hi = (c == 0xf4) ? 0x8f : 0xbf;

        } else {
            *start = i;
            *at = i;
            return 0;
        }

        for (k = 1; k < l; k++) {

            if (i + k == n) {
                *start = i;
                *at = n;
                return 0;
            }

            if (p[i + k] < lo || p[i + k] > hi) {
                *start = i;
                *at = i + k;
                return 0;
            }

            lo = 0x80;
            hi = 0xbf;
        }

        i += l;
    }

    return 1;
}


/* the second reference: decode, then check the code point */

static int
test_utf8_decode(const u_char *p, size_t n)
{
    size_t    i, l, k;
    uint32_t  cp, min;

    i = 0;

    while (i < n) {

        if (p[i] < 0x80) {
            i++;
            continue;
        }

        if ((p[i] & 0xe0) == 0xc0) {
            l = 2;
            cp = p[i] & 0x1f;
            min = 0x80;

        } else if ((p[i] & 0xf0) == 0xe0) {
            l = 3;
            cp = p[i] & 0x0f;
            min = 0x800;

        } else if ((p[i] & 0xf8) == 0xf0) {
            l = 4;
            cp = p[i] & 0x07;
            min = 0x10000;

        } else {
            return 0;
        }

        if (i + l > n) {
            return 0;
        }

        for (k = 1; k < l; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            cp = cp << 6 | (p[i + k] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }

        i += l;
    }

    return 1;
}


static size_t
test_utf8_encode(uint32_t cp, u_char *p)
{
    if (cp < 0x80) {
        p[0] = (u_char) cp;
        return 1;
    }

    if (cp < 0x800) {
        p[0] = (u_char) (0xc0 | cp >> 6);
        p[1] = (u_char) (0x80 | (cp & 0x3f));
        return 2;
    }

    if (cp < 0x10000) {
        p[0] = (u_char) (0xe0 | cp >> 12);
        p[1] = (u_char) (0x80 | (cp >> 6 & 0x3f));
        p[2] = (u_char) (0x80 | (cp & 0x3f));
        return 3;
    }

    p[0] = (u_char) (0xf0 | cp >> 18);
    p[1] = (u_char) (0x80 | (cp >> 12 & 0x3f));
    p[2] = (u_char) (0x80 | (cp >> 6 & 0x3f));
    p[3] = (u_char) (0x80 | (cp & 0x3f));
    return 4;
}


/* a random valid character, of every length */

static size_t
test_rand_char(u_char *p)
{
    uint32_t  cp;

    switch (test_rand_n(6)) {

    case 0:
    case 1:
        cp = (uint32_t) test_rand_n(0x80);
        break;

    case 2:
        cp = 0x80 + (uint32_t) test_rand_n(0x800 - 0x80);
        break;

    case 3:
        do {
            cp = 0x800 + (uint32_t) test_rand_n(0x10000 - 0x800);
        } while (cp >= 0xd800 && cp <= 0xdfff);
        break;

    case 4:
        cp = 0x10000 + (uint32_t) test_rand_n(0x110000 - 0x10000);
        break;

    default:

        /* the edges */
        switch (test_rand_n(6)) {
        case 0:  cp = 0x7f; break;
        case 1:  cp = 0x7ff; break;
        case 2:  cp = 0xd7ff; break;
        case 3:  cp = 0xe000; break;
        case 4:  cp = 0xffff; break;
        default: cp = 0x10ffff; break;
        }
    }

    return test_utf8_encode(cp, p);
}


/* the tests */

static void
test_utf8_table(void)
{
    int                       i, m, h, valid;
    char                      name[128];
    size_t                    start, at, len, hs;
    test_stream_t             s;
    test_expect_t             e;
    ngx_http_ws_api_frame_t   conf;

    static const struct {
        const char  *name;
        const char  *str;
        size_t       len;
        int          valid;
    } cases[] = {

        { "empty", "", 0, 1 },
        { "ASCII", "Hello, World", 12, 1 },
        { "NUL and DEL", "\x00\x7f", 2, 1 },
        { "2-byte U+0080", "\xc2\x80", 2, 1 },
        { "2-byte U+07FF", "\xdf\xbf", 2, 1 },
        { "3-byte U+0800", "\xe0\xa0\x80", 3, 1 },
        { "3-byte U+20AC", "\xe2\x82\xac", 3, 1 },
        { "3-byte U+D7FF", "\xed\x9f\xbf", 3, 1 },
        { "3-byte U+E000", "\xee\x80\x80", 3, 1 },
        { "3-byte U+FFFF", "\xef\xbf\xbf", 3, 1 },
        { "4-byte U+10000", "\xf0\x90\x80\x80", 4, 1 },
        { "4-byte U+1F600", "\xf0\x9f\x98\x80", 4, 1 },
        { "4-byte U+10FFFF", "\xf4\x8f\xbf\xbf", 4, 1 },
        { "Greek", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11, 1 },
        { "long ASCII then 2-byte",
          "0123456789abcdefghijklmnopqrstuvwxyz\xc3\xa9", 38, 1 },

        { "overlong C0 80", "\xc0\x80", 2, 0 },
        { "overlong C1 BF", "\xc1\xbf", 2, 0 },
        { "overlong E0 80 80", "\xe0\x80\x80", 3, 0 },
        { "overlong E0 9F BF", "\xe0\x9f\xbf", 3, 0 },
        { "overlong F0 80 80 80", "\xf0\x80\x80\x80", 4, 0 },
        { "overlong F0 8F BF BF", "\xf0\x8f\xbf\xbf", 4, 0 },
        { "surrogate ED A0 80", "\xed\xa0\x80", 3, 0 },
        { "surrogate ED BF BF", "\xed\xbf\xbf", 3, 0 },
        { "above U+10FFFF F4 90 80 80", "\xf4\x90\x80\x80", 4, 0 },
        { "F5 80 80 80", "\xf5\x80\x80\x80", 4, 0 },
        { "5-byte form", "\xf8\x88\x80\x80\x80", 5, 0 },
        { "6-byte form", "\xfc\x84\x80\x80\x80\x80", 6, 0 },
        { "FE", "\xfe", 1, 0 },
        { "FF", "\xff", 1, 0 },
        { "lone continuation 80", "\x80", 1, 0 },
        { "lone continuation BF", "\xbf", 1, 0 },
        { "stray continuation", "ab\x80" "cd", 5, 0 },
        { "stray after a character", "\xe2\x82\xac\x80", 4, 0 },
        { "stray after 4 bytes", "\xf0\x9f\x98\x80\x80", 5, 0 },
        { "2-byte then ASCII", "\xc2\x41", 2, 0 },
        { "3-byte cut by ASCII", "abc\xe2\x82\x41", 6, 0 },
        { "lead after lead", "\xc2\xc2\x80", 3, 0 },
        { "invalid after 32 ASCII",
          "0123456789abcdefghijklmnopqrstuv\xc3\x28", 34, 0 },
        { "truncated 2-byte", "\xc2", 1, 0 },
        { "truncated 3-byte", "\xe2\x82", 2, 0 },
        { "truncated 4-byte", "\xf0\x9f\x98", 3, 0 },
        { "truncated after ASCII", "abc\xe2", 4, 0 },
        { "truncated U+10FFFF", "\xf4\x8f\xbf", 3, 0 },
    };

    for (i = 0; i < (int) (sizeof(cases) / sizeof(cases[0])); i++) {

        len = cases[i].len;
        valid = test_utf8_ref((u_char *) cases[i].str, len, &start, &at);

        if (valid != cases[i].valid) {
            tap_diag("the reference disagrees on %s", cases[i].name);
        }

        is_int(ngx_http_ws_api_utf8_valid((u_char *) cases[i].str, len),
               cases[i].valid, "utf8_valid: %s", cases[i].name);

        /* as the payload of a text frame: masked or not, streamed or held */

        for (m = 0; m < 2; m++) {
            for (h = 0; h < 2; h++) {
                test_conf(&conf, m, h ? 1024 : 0);
                test_stream_init(&s);
                test_frame(&s, TEST_FIN | TEST_TEXT, m, cases[i].str, len);
                hs = s.frames[0].hsize;

                if (cases[i].valid) {
                    e = test_ok(s.len, s.len);

                } else {
                    e = test_err(NGX_HTTP_WS_API_CLOSE_INVALID_DATA, NULL,
                                 h ? 0 : hs + start,
                                 (at == len) ? s.len : hs + at + 1);
                }

                snprintf(name, sizeof(name), "text frame %s%s: %s",
                         m ? "masked" : "unmasked", h ? " held" : "",
                         cases[i].name);

                if (m == 0 && h == 0) {
                    test_check(name, &conf, &s, e);

                } else {
                    test_check_quiet(name, &conf, &s, e);
                }

                test_stream_free(&s);
            }
        }
    }
}


/* commit and boundary after the first k bytes, in one call */

static void
test_prefix(const char *name, const ngx_http_ws_api_frame_t *conf,
    test_stream_t *s, size_t k, uint64_t commit, uint64_t boundary)
{
    ngx_http_ws_api_frame_t  f;

    f = *conf;

    (void) ngx_http_ws_api_frame_parse(&f, s->buf, k);

    is_int(f.commit, commit, "%s: commit after %zu bytes", name, k);
    is_int(f.boundary, boundary, "%s: boundary after %zu bytes", name, k);
}


static void
test_lengths(void)
{
    int                      m, i, op;
    char                     name[128];
    u_char                  *data;
    size_t                   n;
    test_stream_t            s;
    ngx_http_ws_api_frame_t  conf;

    static const size_t  lens[] = {
        0, 1, 125, 126, 127, 65535, 65536, 70000
    };

    data = malloc(70000);

    if (data == NULL) {
        perror("malloc");
        exit(2);
    }

    for (n = 0; n < 70000; n++) {
        data[n] = (u_char) ('a' + n % 26);
    }

    for (m = 0; m < 2; m++) {
        for (op = TEST_TEXT; op <= TEST_BINARY; op++) {
            for (i = 0; i < (int) (sizeof(lens) / sizeof(lens[0])); i++) {
                test_conf(&conf, m, 0);
                test_stream_init(&s);
                test_frame(&s, TEST_FIN | op, m, data, lens[i]);

                /* and a small frame after it */
                test_frame(&s, TEST_FIN | op, m, "end", 3);

                snprintf(name, sizeof(name), "%s %s frame of %zu bytes",
                         m ? "masked" : "unmasked",
                         op == TEST_TEXT ? "text" : "binary", lens[i]);

                if (lens[i] == 0 || lens[i] == 126 || lens[i] == 65536) {
                    test_check(name, &conf, &s, test_ok(s.len, s.len));

                } else {
                    test_check_quiet(name, &conf, &s, test_ok(s.len, s.len));
                }

                test_stream_free(&s);
            }
        }
    }

    /* text with characters of every length over the 8-byte paths */

    for (m = 0; m < 2; m++) {
        test_conf(&conf, m, 0);
        test_stream_init(&s);

        for (n = 0; n < 400; ) {
            n += test_rand_char(data + n);
        }

        test_frame(&s, TEST_FIN | TEST_TEXT, m, data, n);

        snprintf(name, sizeof(name), "%s text frame of %zu bytes, mixed "
                 "UTF-8", m ? "masked" : "unmasked", n);
        test_check(name, &conf, &s, test_ok(s.len, s.len));
        test_stream_free(&s);
    }

    /*
     * The 8-byte path entered at an offset that is not a multiple of 4,
     * after a 2-byte character: with the key not rotated to it, every 0xFF
     * below would unmask to 0x7F and the word would pass as ASCII.
     */

    {
        static const u_char  key[4] = { 0x00, 0x80, 0x00, 0x00 };

        test_conf(&conf, 1, 0);
        test_stream_init(&s);
        test_frame_key(&s, TEST_FIN | TEST_TEXT, key,
                       "\xc3\xa9" "a\xff" "b\xff" "c\xff" "d\xff" "tail",
                       14);
        test_check("masked 8-byte path at an unaligned offset", &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_INVALID_DATA, NULL,
                            6 + 3, 6 + 4));
        test_stream_free(&s);

        test_conf(&conf, 1, 0);
        test_stream_init(&s);
        test_frame_key(&s, TEST_FIN | TEST_TEXT, key,
                       "\xc3\xa9" "abcdefghijklmnopqrstuvwxyz\xc3\xa9", 30);
        test_check("masked 8-byte path at an unaligned offset, valid", &conf,
                   &s, test_ok(s.len, s.len));
        test_stream_free(&s);
    }

    free(data);
}


static void
test_fragments(void)
{
    int                      m, h;
    char                     name[128];
    size_t                   k;
    test_stream_t            s;
    ngx_http_ws_api_frame_t  conf;

    for (m = 0; m < 2; m++) {
        for (h = 0; h < 2; h++) {

            test_conf(&conf, m, h ? 64 : 0);

            /* text with ping and pong between the fragments */

            test_stream_init(&s);
            test_str(&s, TEST_TEXT, m, "Hel");
            test_str(&s, TEST_FIN | TEST_PING, m, "x");
            test_str(&s, TEST_CONT, m, "lo");
            test_str(&s, TEST_FIN | TEST_PONG, m, "");
            test_str(&s, TEST_FIN | TEST_CONT, m, "!");

            snprintf(name, sizeof(name), "fragmented text, %s%s",
                     m ? "masked" : "unmasked", h ? ", held" : "");
            test_check(name, &conf, &s, test_ok(s.len, s.len));
            test_stream_free(&s);

            /* binary */

            test_stream_init(&s);
            test_frame(&s, TEST_BINARY, m, "\x00\xff", 2);
            test_str(&s, TEST_FIN | TEST_PONG, m, "pong");
            test_frame(&s, TEST_CONT, m, "\x80", 1);
            test_str(&s, TEST_FIN | TEST_PING, m, "");
            test_frame(&s, TEST_FIN | TEST_CONT, m, "\xc0", 1);
            test_str(&s, TEST_FIN | TEST_TEXT, m, "after");

            snprintf(name, sizeof(name), "fragmented binary, %s%s",
                     m ? "masked" : "unmasked", h ? ", held" : "");
            test_check(name, &conf, &s, test_ok(s.len, s.len));
            test_stream_free(&s);

            /* a 3-byte character split across frames, a ping between */

            test_stream_init(&s);
            test_str(&s, TEST_TEXT, m, "a\xe2");
            test_str(&s, TEST_FIN | TEST_PING, m, "p");
            k = s.len;
            test_str(&s, TEST_FIN | TEST_CONT, m, "\x82\xac");

            snprintf(name, sizeof(name), "U+20AC across frames, %s%s",
                     m ? "masked" : "unmasked", h ? ", held" : "");
            test_check(name, &conf, &s, test_ok(s.len, s.len));

            /* the frame ends inside the character: it goes, the ping too */
            test_prefix(name, &conf, &s, k, k, k);
            test_stream_free(&s);

            /* a 4-byte character split 1 + 2 + 1, ping and pong */

            test_stream_init(&s);
            test_str(&s, TEST_TEXT, m, "\xf0");
            test_str(&s, TEST_FIN | TEST_PING, m, "");
            test_str(&s, TEST_CONT, m, "\x9f\x98");
            test_str(&s, TEST_FIN | TEST_PONG, m, "pong");
            test_str(&s, TEST_FIN | TEST_CONT, m, "\x80z");

            snprintf(name, sizeof(name), "U+1F600 across three frames, %s%s",
                     m ? "masked" : "unmasked", h ? ", held" : "");
            test_check(name, &conf, &s, test_ok(s.len, s.len));
            test_stream_free(&s);

            /* an invalid byte where the character goes on */

            test_stream_init(&s);
            test_str(&s, TEST_TEXT, m, "a\xe2");
            test_str(&s, TEST_FIN | TEST_PING, m, "p");
            k = s.len;
            test_str(&s, TEST_FIN | TEST_CONT, m, "\x82\x41");

            /*
             * the first frame went out with the lead byte; of the frame
             * with the bad byte, its header if it is streamed
             */

            snprintf(name, sizeof(name), "bad continuation in the next "
                     "frame, %s%s", m ? "masked" : "unmasked",
                     h ? ", held" : "");
            test_check(name, &conf, &s,
                       test_err(NGX_HTTP_WS_API_CLOSE_INVALID_DATA,
                                "invalid UTF-8 in a text message",
                                h ? k : k + (m ? 6 : 2), s.len));
            test_stream_free(&s);

            /* the message ends inside a character */

            test_stream_init(&s);
            test_str(&s, TEST_TEXT, m, "a\xe2");
            k = s.len;
            test_str(&s, TEST_FIN | TEST_CONT, m, "\x82");

            snprintf(name, sizeof(name), "message ends inside a character, "
                     "%s%s", m ? "masked" : "unmasked", h ? ", held" : "");
            test_check(name, &conf, &s,
                       test_err(NGX_HTTP_WS_API_CLOSE_INVALID_DATA,
                                "text message ends inside a UTF-8 sequence",
                                h ? k : k + (m ? 6 : 2), s.len));
            test_stream_free(&s);

            /* ... with an empty last frame */

            test_stream_init(&s);
            test_str(&s, TEST_TEXT, m, "a\xf0\x9f");
            test_str(&s, TEST_FIN | TEST_PING, m, "");
            k = s.len;
            test_str(&s, TEST_FIN | TEST_CONT, m, "");

            /* nothing of the empty frame that ends the message */

            snprintf(name, sizeof(name), "empty last frame inside a "
                     "character, %s%s", m ? "masked" : "unmasked",
                     h ? ", held" : "");
            test_check(name, &conf, &s,
                       test_err(NGX_HTTP_WS_API_CLOSE_INVALID_DATA, NULL,
                                k, s.len));
            test_stream_free(&s);

            /* a close frame inside a message with an incomplete character */

            test_stream_init(&s);
            test_str(&s, TEST_TEXT, m, "ab\xc3");
            test_close(&s, m, 1001, "bye");

            /* the frame ends inside a character: it goes, the close too */

            snprintf(name, sizeof(name), "close inside a character, %s%s",
                     m ? "masked" : "unmasked", h ? ", held" : "");
            {
                test_expect_t  e;

                e = test_ok(s.len, s.len);
                e.close_code = 1001;
                test_check(name, &conf, &s, e);
            }
            test_stream_free(&s);
        }
    }
}


static void
test_violations(void)
{
    int                      m, op, i;
    char                     name[128];
    u_char                   hdr[14];
    size_t                   p, hs;
    test_stream_t            s;
    ngx_http_ws_api_frame_t  conf;

    static const char  pad[200];

    static const int  bad_codes[] = {
        0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
        5000, 65535
    };

    for (m = 0; m < 2; m++) {

#define test_begin()                                                          \
        test_stream_init(&s);                                                 \
        test_str(&s, TEST_FIN | TEST_TEXT, m, "hi");                          \
        test_str(&s, TEST_FIN | TEST_PING, m, "p");                           \
        p = s.len

#define test_name(what)                                                       \
        snprintf(name, sizeof(name), "%s, %s", what,                          \
                 m ? "client" : "server")

        test_conf(&conf, m, 0);

        /* masking */

        test_begin();
        test_str(&s, TEST_FIN | TEST_BINARY, !m, "xyz");
        test_name(m ? "frame not masked" : "frame masked");
        test_check(name, &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                            m ? "client frame not masked"
                              : "server frame masked",
                            p, p + 2));
        test_stream_free(&s);

        /* reserved opcodes */

        for (op = 0x3; op <= 0xf; op++) {
            if (op >= TEST_CLOSE && op <= TEST_PONG) {
                continue;
            }

            test_begin();
            test_str(&s, TEST_FIN | op, m, "xyz");
            snprintf(name, sizeof(name), "reserved opcode 0x%x, %s", op,
                     m ? "client" : "server");
            test_check_quiet(name, &conf, &s,
                             test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                                      "reserved opcode", p, p + 1));
            test_stream_free(&s);
        }

        /* control frames: over 125 bytes, fragmented */

        test_begin();
        test_frame(&s, TEST_FIN | TEST_PING, m, pad, 126);
        test_name("ping of 126 bytes");
        test_check(name, &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                            "control frame payload over 125 bytes",
                            p, p + 2));
        test_stream_free(&s);

        test_begin();
        test_header(&s, TEST_FIN | TEST_CLOSE, m, 70000, 127);
        test_name("close with a 64-bit length");
        test_check(name, &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL, NULL, p, p + 2));
        test_stream_free(&s);

        test_begin();
        test_str(&s, TEST_PONG, m, "x");
        test_name("pong without FIN");
        test_check(name, &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                            "fragmented control frame", p, p + 1));
        test_stream_free(&s);

        test_begin();
        test_str(&s, TEST_CLOSE, m, "");
        test_name("close without FIN");
        test_check_quiet(name, &conf, &s,
                         test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                                  "fragmented control frame", p, p + 1));
        test_stream_free(&s);

        /* continuation with no message, new message inside one */

        test_begin();
        test_str(&s, TEST_FIN | TEST_CONT, m, "x");
        test_name("continuation with no message");
        test_check(name, &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                            "continuation frame outside a message",
                            p, p + 1));
        test_stream_free(&s);

        for (op = TEST_TEXT; op <= TEST_BINARY; op++) {
            test_begin();
            test_str(&s, TEST_TEXT, m, "a");
            test_str(&s, TEST_FIN | TEST_PING, m, "");
            p = s.len;
            test_str(&s, TEST_FIN | op, m, "b");
            test_name(op == TEST_TEXT ? "text inside a message"
                                      : "binary inside a message");
            test_check(name, &conf, &s,
                       test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                            "new data message inside a fragmented message",
                            p, p + 1));
            test_stream_free(&s);
        }

        /* after a fragmented message is done, continuation is refused */

        test_begin();
        test_str(&s, TEST_TEXT, m, "a");
        test_str(&s, TEST_FIN | TEST_CONT, m, "b");
        p = s.len;
        test_str(&s, TEST_FIN | TEST_CONT, m, "c");
        test_name("continuation after the last fragment");
        test_check(name, &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL, NULL, p, p + 1));
        test_stream_free(&s);

        /* RSV bits with no extension */

        for (i = 0; i < 3; i++) {
            test_begin();
            test_str(&s, (u_char) (TEST_FIN | TEST_TEXT | (0x40 >> i)), m,
                     "x");
            snprintf(name, sizeof(name), "RSV%d with no extension, %s",
                     i + 1, m ? "client" : "server");
            test_check_quiet(name, &conf, &s,
                         test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                                  "RSV bit set with no extension negotiated",
                                  p, p + 1));
            test_stream_free(&s);
        }

        test_begin();
        test_frame(&s, TEST_FIN | TEST_RSV1 | TEST_BINARY, m, "x", 1);
        test_name("RSV1 on binary with no extension");
        test_check(name, &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL, NULL, p, p + 1));
        test_stream_free(&s);

        /* lengths */

        test_begin();
        test_header(&s, TEST_FIN | TEST_BINARY, m, 0x8000000000000000ULL,
                    127);
        test_raw(&s, "abcdefgh", 8);
        test_name("64-bit length with the top bit");
        test_check(name, &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                            "payload length with the most significant bit "
                            "set", p, p + 10));
        test_stream_free(&s);

        test_begin();
        test_header(&s, TEST_FIN | TEST_BINARY, m, 0xffffffffffffffffULL,
                    127);
        test_name("64-bit length of all ones");
        test_check_quiet(name, &conf, &s,
                         test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL, NULL,
                                  p, p + 10));
        test_stream_free(&s);

        {
            static const struct {
                const char  *what;
                uint64_t     len;
                int          form;
            } nm[] = {
                { "16-bit length of 125", 125, 126 },
                { "16-bit length of 0", 0, 126 },
                { "64-bit length of 65535", 65535, 127 },
                { "64-bit length of 126", 126, 127 },
                { "64-bit length of 0", 0, 127 },
            };

            for (i = 0; i < (int) (sizeof(nm) / sizeof(nm[0])); i++) {
                test_begin();
                test_header(&s, TEST_FIN | TEST_TEXT, m, nm[i].len,
                            nm[i].form);
                test_payload(&s, pad, nm[i].len < 200 ? nm[i].len : 200);
                test_name(nm[i].what);
                test_check(name, &conf, &s,
                           test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                                    "payload length not minimally encoded",
                                    p, p + (nm[i].form == 126 ? 4 : 10)));
                test_stream_free(&s);
            }
        }

        /* close frames */

        test_begin();
        test_str(&s, TEST_FIN | TEST_CLOSE, m, "\x03");
        hs = s.frames[s.nframes - 1].hsize;
        test_name("close with 1 byte");
        test_check(name, &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                            "close frame with a 1-byte payload",
                            p, p + hs + 1));
        test_stream_free(&s);

        for (i = 0; i < (int) (sizeof(bad_codes) / sizeof(bad_codes[0]));
             i++)
        {
            test_begin();
            test_close(&s, m, bad_codes[i], "");
            hs = s.frames[s.nframes - 1].hsize;
            snprintf(name, sizeof(name), "close code %d, %s", bad_codes[i],
                     m ? "client" : "server");

            if (i < 3) {
                test_check(name, &conf, &s,
                           test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                                    "invalid close status code",
                                    p, p + hs + 2));

            } else {
                test_check_quiet(name, &conf, &s,
                                 test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                                          "invalid close status code",
                                          p, p + hs + 2));
            }

            test_stream_free(&s);
        }

        test_begin();
        test_close(&s, m, 1000, "ok\xff");
        test_name("close reason not UTF-8");
        test_check(name, &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_INVALID_DATA,
                            "invalid UTF-8 in a close reason", p, s.len));
        test_stream_free(&s);

        test_begin();
        test_close(&s, m, 1000, "cut \xe2\x82");
        test_name("close reason ends inside a character");
        test_check(name, &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_INVALID_DATA, NULL,
                            p, s.len));
        test_stream_free(&s);

        /* after a close frame */

        test_begin();
        test_close(&s, m, 1000, "");
        p = s.len;
        test_str(&s, TEST_FIN | TEST_PING, m, "");
        test_name("ping after close");
        {
            test_expect_t  e;

            e = test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                         "frame after a close frame", p, p + 1);
            e.close_code = 1000;
            test_check(name, &conf, &s, e);
        }
        test_stream_free(&s);

        test_begin();
        test_str(&s, TEST_FIN | TEST_CLOSE, m, "");
        p = s.len;
        test_str(&s, TEST_FIN | TEST_TEXT, m, "more");
        test_name("text after an empty close");
        {
            test_expect_t  e;

            e = test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                         "frame after a close frame", p, p + 1);
            e.close_code = 1005;
            test_check(name, &conf, &s, e);
        }
        test_stream_free(&s);

        /* a frame that ends inside a character goes before the next one */

        test_begin();
        test_str(&s, TEST_TEXT, m, "a\xe2");
        test_str(&s, (u_char) (TEST_FIN | 0x3), m, "x");
        test_name("reserved opcode after an incomplete character");
        test_check(name, &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL, NULL,
                            s.frames[s.nframes - 1].start,
                            s.frames[s.nframes - 1].start + 1));
        test_stream_free(&s);

#undef test_begin
#undef test_name
    }

    /* RSV rules with extensions */

    test_conf(&conf, 1, 0);
    conf.deflate = 1;

    test_stream_init(&s);
    test_str(&s, TEST_RSV1 | TEST_TEXT, 1, "a");
    p = s.len;
    test_str(&s, TEST_FIN | TEST_RSV1 | TEST_CONT, 1, "b");
    test_check("deflate: RSV1 on a continuation", &conf, &s,
               test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                        "RSV bit set on a continuation frame", p, p + 1));
    test_stream_free(&s);

    test_stream_init(&s);
    test_str(&s, TEST_FIN | TEST_RSV1 | TEST_PING, 1, "");
    test_check("deflate: RSV1 on a ping", &conf, &s,
               test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                        "RSV bit set on a control frame", 0, 1));
    test_stream_free(&s);

    test_stream_init(&s);
    test_str(&s, TEST_FIN | TEST_RSV2 | TEST_TEXT, 1, "x");
    test_check("deflate: RSV2 on text", &conf, &s,
               test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                        "RSV2 or RSV3 set with only permessage-deflate "
                        "negotiated", 0, 1));
    test_stream_free(&s);

    test_stream_init(&s);
    test_str(&s, TEST_FIN | TEST_RSV1 | TEST_RSV3 | TEST_BINARY, 1, "x");
    test_check("deflate: RSV1 and RSV3 on binary", &conf, &s,
               test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL, NULL, 0, 1));
    test_stream_free(&s);

    test_conf(&conf, 0, 0);
    conf.any_rsv = 1;

    test_stream_init(&s);
    test_str(&s, TEST_FIN | TEST_TEXT, 0, "x");
    test_str(&s, TEST_FIN | TEST_RSV2 | TEST_CLOSE, 0, "");
    test_check("any_rsv: RSV2 on a close", &conf, &s,
               test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                        "RSV bit set on a control frame", 3, 4));
    test_stream_free(&s);

    /* 1003: message types not declared */

    for (m = 0; m < 2; m++) {
        for (op = TEST_TEXT; op <= TEST_BINARY; op++) {
            test_conf(&conf, m, 0);
            conf.check = 1;
            conf.text = (op != TEST_TEXT);
            conf.binary = (op != TEST_BINARY);

            test_stream_init(&s);
            test_str(&s, TEST_FIN | TEST_PING, m, "");
            test_str(&s, (u_char) ((op == TEST_TEXT ? TEST_BINARY : TEST_TEXT)
                                   | TEST_FIN), m, "allowed");
            p = s.len;
            test_str(&s, (u_char) op, m, "refused");
            test_str(&s, TEST_FIN | TEST_CONT, m, "!");
            hs = s.frames[s.nframes - 2].hsize;

            snprintf(name, sizeof(name), "undeclared %s message, %s",
                     op == TEST_TEXT ? "text" : "binary",
                     m ? "client" : "server");

            snprintf((char *) hdr, sizeof(hdr), "%s", "");

            test_check(name, &conf, &s,
                       test_err(NGX_HTTP_WS_API_CLOSE_UNSUPPORTED,
                                m ? (op == TEST_TEXT
                                    ? "client text messages are not "
                                      "declared for this API"
                                    : "client binary messages are not "
                                      "declared for this API")
                                  : (op == TEST_TEXT
                                    ? "server text messages are not "
                                      "declared for this API"
                                    : "server binary messages are not "
                                      "declared for this API"),
                                p, p + hs));
            test_stream_free(&s);
        }
    }

    /* a protocol error in the same header comes first */

    test_conf(&conf, 1, 0);
    conf.check = 1;
    conf.binary = 1;

    test_stream_init(&s);
    test_str(&s, TEST_FIN | TEST_TEXT, 0, "x");
    test_check("undeclared and unmasked", &conf, &s,
               test_err(NGX_HTTP_WS_API_CLOSE_PROTOCOL,
                        "client frame not masked", 0, 2));
    test_stream_free(&s);

    /* declared types pass, control frames always */

    test_conf(&conf, 0, 0);
    conf.check = 1;
    conf.text = 1;
    conf.binary = 1;

    test_stream_init(&s);
    test_str(&s, TEST_FIN | TEST_TEXT, 0, "t");
    test_str(&s, TEST_FIN | TEST_BINARY, 0, "b");
    test_str(&s, TEST_FIN | TEST_PING, 0, "");
    test_check("declared text and binary", &conf, &s, test_ok(s.len, s.len));
    test_stream_free(&s);

    test_conf(&conf, 0, 0);
    conf.check = 1;

    test_stream_init(&s);
    test_str(&s, TEST_FIN | TEST_PING, 0, "");
    test_str(&s, TEST_FIN | TEST_PONG, 0, "");
    test_close(&s, 0, 1000, "");
    {
        test_expect_t  e;

        e = test_ok(s.len, s.len);
        e.close_code = 1000;
        test_check("no type declared: control frames pass", &conf, &s, e);
    }
    test_stream_free(&s);
}


static void
test_hold(void)
{
    int                      m;
    char                     name[128];
    size_t                   hs, total;
    test_stream_t            s;
    ngx_http_ws_api_frame_t  conf;

    static const char  text[] =
        "0123456789012345678901234567890123456789012345678901234567890123"
        "0123456789012345678901234567890123456789012345678901234567890123"
        "0123456789012345678901234567890123456789012345678901234567890123"
        "01234567";

    for (m = 0; m < 2; m++) {

        /* a small text frame: committed only whole */

        test_conf(&conf, m, 64);
        test_stream_init(&s);
        test_str(&s, TEST_FIN | TEST_TEXT, m, "hello");

        snprintf(name, sizeof(name), "held text frame, %s",
                 m ? "masked" : "unmasked");
        test_check(name, &conf, &s, test_ok(s.len, s.len));
        test_prefix(name, &conf, &s, s.len - 1, 0, 0);
        test_prefix(name, &conf, &s, s.len, s.len, s.len);

        /* held exactly at the limit, streamed one byte above it */

        total = s.len;

        test_conf(&conf, m, total);
        snprintf(name, sizeof(name), "hold equal to the frame, %s",
                 m ? "masked" : "unmasked");
        test_prefix(name, &conf, &s, total - 1, 0, 0);

        test_conf(&conf, m, total - 1);
        snprintf(name, sizeof(name), "hold one byte short, %s",
                 m ? "masked" : "unmasked");
        test_prefix(name, &conf, &s, total - 1, total - 1, 0);
        test_stream_free(&s);

        /* a large text frame: streamed */

        test_conf(&conf, m, 64);
        test_stream_init(&s);
        test_str(&s, TEST_FIN | TEST_TEXT, m, text);

        snprintf(name, sizeof(name), "streamed text frame, %s",
                 m ? "masked" : "unmasked");
        test_check(name, &conf, &s, test_ok(s.len, s.len));
        test_prefix(name, &conf, &s, 100, 100, 0);
        test_stream_free(&s);

        /* an incomplete character at the end is held back */

        test_conf(&conf, m, 0);
        test_stream_init(&s);
        test_str(&s, TEST_FIN | TEST_TEXT, m, "abc\xe2\x82\xac");
        hs = s.frames[0].hsize;

        snprintf(name, sizeof(name), "incomplete tail held, %s",
                 m ? "masked" : "unmasked");
        test_prefix(name, &conf, &s, hs + 5, hs + 3, 0);
        test_prefix(name, &conf, &s, hs + 6, hs + 6, hs + 6);
        test_stream_free(&s);

        /* a small invalid text message leaks nothing */

        test_conf(&conf, m, 125);
        test_stream_init(&s);
        test_str(&s, TEST_FIN | TEST_TEXT, m, "ab\xc0" "cd");
        hs = s.frames[0].hsize;

        snprintf(name, sizeof(name), "small invalid text, held, %s",
                 m ? "masked" : "unmasked");
        test_check(name, &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_INVALID_DATA, NULL,
                            0, hs + 3));

        test_conf(&conf, m, 0);
        snprintf(name, sizeof(name), "small invalid text, streamed, %s",
                 m ? "masked" : "unmasked");
        test_check(name, &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_INVALID_DATA, NULL,
                            hs + 2, hs + 3));
        test_stream_free(&s);

        /* held fragments; the first ends inside a character */

        test_conf(&conf, m, 64);
        test_stream_init(&s);
        test_str(&s, TEST_TEXT, m, "ab\xe2");
        total = s.len;
        test_str(&s, TEST_FIN | TEST_PING, m, "");
        test_str(&s, TEST_FIN | TEST_CONT, m, "\x82\xac" "cd");

        snprintf(name, sizeof(name), "held fragments, %s",
                 m ? "masked" : "unmasked");
        test_check(name, &conf, &s, test_ok(s.len, s.len));
        test_prefix(name, &conf, &s, total - 1, 0, 0);
        /* the held frame is whole: it goes, its last character cut */
        test_prefix(name, &conf, &s, total, total, total);
        test_stream_free(&s);

        /* binary is never held */

        test_conf(&conf, m, 1000);
        test_stream_init(&s);
        test_frame(&s, TEST_FIN | TEST_BINARY, m, "\xff\xfe\xfd\xfc", 4);

        snprintf(name, sizeof(name), "binary with hold, %s",
                 m ? "masked" : "unmasked");
        test_check(name, &conf, &s, test_ok(s.len, s.len));
        test_prefix(name, &conf, &s, s.len - 2, s.len - 2, 0);
        test_stream_free(&s);

        /* nor is compressed text */

        test_conf(&conf, m, 1000);
        conf.deflate = 1;
        test_stream_init(&s);
        test_frame(&s, TEST_FIN | TEST_RSV1 | TEST_TEXT, m, "\xff\xfe\x00",
                   3);

        snprintf(name, sizeof(name), "compressed text with hold, %s",
                 m ? "masked" : "unmasked");
        test_check(name, &conf, &s, test_ok(s.len, s.len));
        test_prefix(name, &conf, &s, s.len - 1, s.len - 1, 0);
        test_stream_free(&s);
    }
}


static void
test_stops(void)
{
    int                      m, rc;
    u_char                   big[300];
    size_t                   end;
    test_stream_t            s;
    ngx_http_ws_api_frame_t  conf, f;

    memset(big, 'z', sizeof(big));

    for (m = 0; m < 2; m++) {
        test_conf(&conf, m, m ? 32 : 0);

        test_stream_init(&s);
        test_str(&s, TEST_FIN | TEST_TEXT, m, "hello");
        end = s.len;
        test_str(&s, TEST_FIN | TEST_PING, m, "");
        test_frame(&s, TEST_FIN | TEST_BINARY, m, big, sizeof(big));
        test_str(&s, TEST_TEXT, m, "a\xe2");
        test_str(&s, TEST_FIN | TEST_PONG, m, "pong");
        test_str(&s, TEST_FIN | TEST_CONT, m, "\x82\xac");

        /* at a boundary: nothing consumed */

        f = conf;
        f.stop = 1;
        rc = ngx_http_ws_api_frame_parse(&f, s.buf, s.len);
        ok(rc == NGX_HTTP_WS_API_FRAME_OK && f.offset == 0,
           "stop at the start consumes nothing, %s",
           m ? "client" : "server");

        /* mid-frame: up to the end of that frame */

        f = conf;
        rc = ngx_http_ws_api_frame_parse(&f, s.buf, 3);
        f.stop = 1;
        rc |= ngx_http_ws_api_frame_parse(&f, s.buf + 3, s.len - 3);
        ok(rc == NGX_HTTP_WS_API_FRAME_OK && f.offset == end
           && f.commit == end && f.boundary == end,
           "stop mid-frame ends at the frame end, %s",
           m ? "client" : "server");

        rc = ngx_http_ws_api_frame_parse(&f, s.buf + end, s.len - end);
        ok(rc == NGX_HTTP_WS_API_FRAME_OK && f.offset == end,
           "then consumes nothing, %s", m ? "client" : "server");

        /* inside a header */

        f = conf;
        rc = ngx_http_ws_api_frame_parse(&f, s.buf, end + 1);
        f.stop = 1;
        rc |= ngx_http_ws_api_frame_parse(&f, s.buf + end + 1,
                                          s.len - end - 1);
        ok(rc == NGX_HTTP_WS_API_FRAME_OK
           && f.offset == s.frames[1].start + s.frames[1].hsize,
           "stop inside a header ends at the frame end, %s",
           m ? "client" : "server");

        test_stop(m ? "stream, client" : "stream, server", &conf, &s);
        test_stream_free(&s);
    }
}


static void
test_extensions(void)
{
    int                      m;
    size_t                   p;
    test_stream_t            s;
    test_expect_t            e;
    ngx_http_ws_api_frame_t  conf;

    for (m = 0; m < 2; m++) {

        /* permessage-deflate: compressed messages are not checked */

        test_conf(&conf, m, 0);
        conf.deflate = 1;

        test_stream_init(&s);
        test_frame(&s, TEST_RSV1 | TEST_TEXT, m, "\xff\xc0", 2);
        test_str(&s, TEST_FIN | TEST_PING, m, "");
        test_frame(&s, TEST_FIN | TEST_CONT, m, "\x80\xed\xa0\x80", 4);
        test_frame(&s, TEST_FIN | TEST_RSV1 | TEST_BINARY, m, "\x00", 1);
        test_str(&s, TEST_FIN | TEST_TEXT, m, "plain \xc3\xa9");
        test_check(m ? "deflate, client" : "deflate, server", &conf, &s,
                   test_ok(s.len, s.len));

        /* the next uncompressed text message is checked again */

        p = s.len;
        test_frame(&s, TEST_FIN | TEST_TEXT, m, "\xff", 1);
        test_check(m ? "deflate, then bad plain text, client"
                     : "deflate, then bad plain text, server", &conf, &s,
                   test_err(NGX_HTTP_WS_API_CLOSE_INVALID_DATA, NULL,
                            p + s.frames[s.nframes - 1].hsize, s.len));
        test_stream_free(&s);

        /* another extension: any RSV bit on data frames */

        test_conf(&conf, m, 0);
        conf.any_rsv = 1;

        test_stream_init(&s);
        test_frame(&s, TEST_RSV2 | TEST_RSV3 | TEST_TEXT, m, "\xff", 1);
        test_frame(&s, TEST_FIN | TEST_RSV1 | TEST_CONT, m, "\xfe", 1);
        test_frame(&s, TEST_FIN | TEST_RSV1 | TEST_RSV2 | TEST_RSV3
                   | TEST_BINARY, m, "b", 1);
        test_str(&s, TEST_TEXT, m, "ok");
        test_str(&s, TEST_FIN | TEST_RSV3 | TEST_CONT, m, "\xc3\xa9");
        test_check(m ? "any_rsv, client" : "any_rsv, server", &conf, &s,
                   test_ok(s.len, s.len));

        /* RSV on a continuation does not stop the check */

        test_str(&s, TEST_TEXT, m, "ok");
        p = s.len;
        test_frame(&s, TEST_FIN | TEST_RSV1 | TEST_CONT, m, "\xff", 1);
        e = test_err(NGX_HTTP_WS_API_CLOSE_INVALID_DATA, NULL,
                     p + s.frames[s.nframes - 1].hsize, s.len);
        test_check(m ? "any_rsv, checked continuation, client"
                     : "any_rsv, checked continuation, server",
                   &conf, &s, e);
        test_stream_free(&s);
    }
}


static void
test_closes(void)
{
    int                      m, i;
    char                     name[128], reason[124];
    test_stream_t            s;
    test_expect_t            e;
    ngx_http_ws_api_frame_t  conf;

    static const int  good_codes[] = {
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
        1014, 3000, 3999, 4000, 4999
    };

    memset(reason, 'r', 123);
    reason[123] = '\0';

    for (m = 0; m < 2; m++) {
        test_conf(&conf, m, 0);

        test_stream_init(&s);
        test_str(&s, TEST_FIN | TEST_CLOSE, m, "");
        e = test_ok(s.len, s.len);
        e.close_code = NGX_HTTP_WS_API_CLOSE_NO_STATUS;
        test_check(m ? "empty close, client" : "empty close, server",
                   &conf, &s, e);
        test_stream_free(&s);

        test_stream_init(&s);
        test_str(&s, TEST_FIN | TEST_TEXT, m, "last");
        test_close(&s, m, 1000, "bye");
        e = test_ok(s.len, s.len);
        e.close_code = 1000;
        test_check(m ? "close 1000 bye, client" : "close 1000 bye, server",
                   &conf, &s, e);
        test_stream_free(&s);

        test_stream_init(&s);
        test_close(&s, m, 4999, "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80");
        e = test_ok(s.len, s.len);
        e.close_code = 4999;
        test_check(m ? "close with a UTF-8 reason, client"
                     : "close with a UTF-8 reason, server", &conf, &s, e);
        test_stream_free(&s);

        test_stream_init(&s);
        test_close(&s, m, 1001, reason);
        e = test_ok(s.len, s.len);
        e.close_code = 1001;
        test_check(m ? "close of 125 bytes, client"
                     : "close of 125 bytes, server", &conf, &s, e);
        test_stream_free(&s);

        for (i = 0; i < (int) (sizeof(good_codes) / sizeof(good_codes[0]));
             i++)
        {
            test_stream_init(&s);
            test_close(&s, m, good_codes[i], "");
            e = test_ok(s.len, s.len);
            e.close_code = good_codes[i];
            snprintf(name, sizeof(name), "close code %d, %s", good_codes[i],
                     m ? "client" : "server");
            test_check_quiet(name, &conf, &s, e);
            test_stream_free(&s);
        }

        /* between the fragments of a message */

        test_stream_init(&s);
        test_str(&s, TEST_TEXT, m, "part");
        test_close(&s, m, 1000, "");
        e = test_ok(s.len, s.len);
        e.close_code = 1000;
        test_check(m ? "close inside a message, client"
                     : "close inside a message, server", &conf, &s, e);
        test_stream_free(&s);
    }
}


static void
test_close_builder(void)
{
    int                      i, rc;
    char                     reason[300];
    u_char                   buf[NGX_HTTP_WS_API_CLOSE_FRAME_MAX + 16];
    u_char                   got[NGX_HTTP_WS_API_CLOSE_FRAME_MAX];
    size_t                   n, k, j;
    ngx_http_ws_api_frame_t  f;

    static const u_char  key[4] = { 0x12, 0x34, 0x00, 0xff };

    static const struct {
        const char  *what;
        size_t       ascii;       /* that many 'a' ... */
        const char  *tail;        /* ... then this */
        size_t       expect;      /* the reason length written */
    } cuts[] = {
        { "short reason", 3, "", 3 },
        { "123 bytes", 123, "", 123 },
        { "200 bytes, cut", 200, "", 123 },
        { "2-byte character across the cut", 122, "\xc3\xa9z", 122 },
        { "2-byte character ending at 123", 121, "\xc3\xa9z", 123 },
        { "3-byte character across the cut", 121, "\xe2\x82\xac", 121 },
        { "3-byte character, 2 bytes over", 122, "\xe2\x82\xac", 122 },
        { "4-byte character across the cut", 120, "\xf0\x9f\x98\x80", 120 },
        { "4-byte character ending at 123", 119, "\xf0\x9f\x98\x80", 123 },
    };

    /* the exact bytes */

    n = ngx_http_ws_api_frame_close(buf, 1000, "bye", NULL);
    ok(n == 7 && memcmp(buf, "\x88\x05\x03\xe8" "bye", 7) == 0,
       "close frame 1000 bye, unmasked");

    n = ngx_http_ws_api_frame_close(buf, 1001, "bye", key);
    ok(n == 11 && buf[0] == 0x88 && buf[1] == 0x85
       && memcmp(buf + 2, key, 4) == 0
       && (buf[6] ^ key[0]) == 0x03 && (buf[7] ^ key[1]) == 0xe9
       && (buf[8] ^ key[2]) == 'b' && (buf[9] ^ key[3]) == 'y'
       && (buf[10] ^ key[0]) == 'e',
       "close frame 1001 bye, masked");

    n = ngx_http_ws_api_frame_close(buf, 1002, NULL, NULL);
    ok(n == 4 && memcmp(buf, "\x88\x02\x03\xea", 4) == 0,
       "close frame with no reason");

    n = ngx_http_ws_api_frame_close(buf, 0, "ignored", NULL);
    ok(n == 2 && buf[0] == 0x88 && buf[1] == 0x00,
       "close frame with no code");

    ngx_http_ws_api_frame_init(&f);
    rc = ngx_http_ws_api_frame_parse(&f, buf, n);
    ok(rc == NGX_HTTP_WS_API_FRAME_OK && f.closed && f.close_code == 1005,
       "close frame with no code parses as 1005");

    /* cut reasons, parsed back by both kinds of parser */

    for (i = 0; i < (int) (sizeof(cuts) / sizeof(cuts[0])); i++) {
        memset(reason, 'a', cuts[i].ascii);
        strcpy(reason + cuts[i].ascii, cuts[i].tail);

        for (k = 0; k < 2; k++) {
            memset(buf, 0xee, sizeof(buf));

            n = ngx_http_ws_api_frame_close(buf, 3001, reason,
                                            k ? key : NULL);

            ngx_http_ws_api_frame_init(&f);
            f.masked = (k == 1);
            rc = ngx_http_ws_api_frame_parse(&f, buf, n);

            /* the reason as written, unmasked */

            for (j = 0; j < cuts[i].expect; j++) {
                got[j] = buf[(k ? 8 : 4) + j] ^ (k ? key[(2 + j) & 3] : 0);
            }

            ok(n == 2 + (k ? 4 : 0) + 2 + cuts[i].expect
               && n <= NGX_HTTP_WS_API_CLOSE_FRAME_MAX
               && buf[n] == 0xee
               && rc == NGX_HTTP_WS_API_FRAME_OK && f.offset == n
               && f.commit == n && f.closed && f.close_code == 3001
               && f.ctrl_len == 2 + cuts[i].expect
               && memcmp(got, reason, cuts[i].expect) == 0,
               "close frame, %s, %s: %zu bytes", cuts[i].what,
               k ? "masked" : "unmasked", n);
        }
    }

    n = ngx_http_ws_api_frame_close(buf, 1000, reason, key);
    is_int(n, NGX_HTTP_WS_API_CLOSE_FRAME_MAX,
           "the largest close frame is NGX_HTTP_WS_API_CLOSE_FRAME_MAX");
}


static void
test_misc(void)
{
    int                      rc;
    test_stream_t            s;
    ngx_http_ws_api_frame_t  f;

    memset(&f, 0xff, sizeof(f));
    ngx_http_ws_api_frame_init(&f);
    ok(f.masked == 0 && f.deflate == 0 && f.any_rsv == 0 && f.check == 0
       && f.stop == 0 && f.hold == 0 && f.offset == 0 && f.commit == 0
       && f.boundary == 0 && f.closed == 0 && f.error == 0
       && f.reason == NULL && f.hlen == 0 && f.payload == 0,
       "init zeroes the parser");

    rc = ngx_http_ws_api_frame_parse(&f, (u_char *) "", 0);
    ok(rc == NGX_HTTP_WS_API_FRAME_OK && f.offset == 0,
       "an empty call consumes nothing");

    /* the input is never written to */

    test_stream_init(&s);
    test_str(&s, TEST_FIN | TEST_TEXT, 1, "do not touch \xc3\xa9");
    test_str(&s, TEST_FIN | TEST_PING, 1, "ping");
    {
        u_char  *copy;

        copy = malloc(s.len);
        memcpy(copy, s.buf, s.len);

        ngx_http_ws_api_frame_init(&f);
        f.masked = 1;
        rc = ngx_http_ws_api_frame_parse(&f, s.buf, s.len);

        ok(rc == NGX_HTTP_WS_API_FRAME_OK && memcmp(copy, s.buf, s.len) == 0,
           "the input buffer is not modified");
        free(copy);
    }
    test_stream_free(&s);

    /* every reason fits a close frame */

    ok(strlen("RSV2 or RSV3 set with only permessage-deflate negotiated")
       <= 123, "reasons fit");
}


/* exhaustive and randomized UTF-8 against the references */

static void
test_utf8_exhaustive(void)
{
    int       bad;
    u_char    b[4];
    size_t    start, at, n;
    uint32_t  i, cp;

    static const u_char  near[] = {
        0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1,
        0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff
    };

    bad = 0;

    for (i = 0; i < 256 && !bad; i++) {
        b[0] = (u_char) i;
        bad = ngx_http_ws_api_utf8_valid(b, 1) != test_utf8_ref(b, 1, &start,
                                                                &at);
    }

    ok(!bad, "UTF-8: every 1-byte string");

    for (i = 0; i < 65536 && !bad; i++) {
        b[0] = (u_char) (i >> 8);
        b[1] = (u_char) i;
        bad = ngx_http_ws_api_utf8_valid(b, 2) != test_utf8_ref(b, 2, &start,
                                                                &at)
              || test_utf8_decode(b, 2) != test_utf8_ref(b, 2, &start, &at);
    }

    ok(!bad, "UTF-8: every 2-byte string");

    for (i = 0x800000; i < 0x1000000 && !bad; i++) {
        b[0] = (u_char) (i >> 16);
        b[1] = (u_char) (i >> 8);
        b[2] = (u_char) i;
        bad = ngx_http_ws_api_utf8_valid(b, 3) != test_utf8_ref(b, 3, &start,
                                                                &at)
              || test_utf8_decode(b, 3) != test_utf8_ref(b, 3, &start, &at);
    }

    ok(!bad, "UTF-8: every 3-byte string from 80 00 00");

    for (i = 0; i < 20 * 20 * 20 * 20 && !bad; i++) {
        b[0] = near[i % 20];
        b[1] = near[i / 20 % 20];
        b[2] = near[i / 400 % 20];
        b[3] = near[i / 8000];
        bad = ngx_http_ws_api_utf8_valid(b, 4) != test_utf8_ref(b, 4, &start,
                                                                &at)
              || test_utf8_decode(b, 4) != test_utf8_ref(b, 4, &start, &at);
    }

    ok(!bad, "UTF-8: 4-byte strings of edge bytes");

    for (i = 0xf0000000; i <= 0xf4ffffff && !bad; i += 0x010101) {
        b[0] = (u_char) (i >> 24);
        b[1] = (u_char) (i >> 16);
        b[2] = (u_char) (i >> 8);
        b[3] = (u_char) i;
        bad = ngx_http_ws_api_utf8_valid(b, 4) != test_utf8_ref(b, 4, &start,
                                                                &at)
              || test_utf8_decode(b, 4) != test_utf8_ref(b, 4, &start, &at);
    }

    ok(!bad, "UTF-8: a lattice of 4-byte strings from F0 to F4");

    for (cp = 0; cp <= 0x10ffff && !bad; cp++) {
        n = test_utf8_encode(cp, b);
        bad = ngx_http_ws_api_utf8_valid(b, n)
              != !(cp >= 0xd800 && cp <= 0xdfff);
    }

    ok(!bad, "UTF-8: every code point, surrogates refused");
}


/* random strings as text frames, split, against the reference */

static void
test_utf8_random(void)
{
    int                      k, m, frag, valid, bad;
    u_char                   str[64];
    size_t                   n, i, start, at, half, hs1, hs2, pp, *cuts;
    test_run_t               r;
    const char              *d;
    test_stream_t            s;
    test_expect_t            e;
    ngx_http_ws_api_frame_t  conf;

    static const u_char  alphabet[] = {
        0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf,
        0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff
    };

    bad = 0;
    cuts = malloc(64 * sizeof(size_t));

    for (k = 0; k < 20000 && !bad; k++) {

        n = 1 + test_rand_n(40);

        if (test_rand_n(3) == 0) {
            for (i = 0; i + 4 <= n; ) {
                i += test_rand_char(str + i);
            }

            n = i;

        } else {
            for (i = 0; i < n; i++) {
                str[i] = test_rand_n(4) ? alphabet[test_rand_n(22)]
                                        : (u_char) test_rand();
            }
        }

        valid = test_utf8_ref(str, n, &start, &at);

        if (ngx_http_ws_api_utf8_valid(str, n) != valid) {
            bad = 1;
            break;
        }

        m = (int) test_rand_n(2);
        frag = n > 1 && test_rand_n(2);
        half = frag ? 1 + test_rand_n(n - 1) : n;

        test_conf(&conf, m, 0);
        test_stream_init(&s);

        test_frame(&s, frag ? TEST_TEXT : TEST_FIN | TEST_TEXT, m, str, half);
        hs1 = s.frames[0].hsize;
        hs2 = 0;
        pp = 0;

        if (frag) {
            test_str(&s, TEST_FIN | TEST_PING, m, "p");
            pp = s.len - hs1 - half;
            test_frame(&s, TEST_FIN | TEST_CONT, m, str + half, n - half);
            hs2 = s.frames[2].hsize;
        }

        /* the stream offset of byte j of the message */

#define test_at(j)  ((j) < half ? hs1 + (j) : hs1 + pp + hs2 + (j))

        if (valid) {
            e = test_ok(s.len, s.len);

        } else {

            /*
             * a sequence begun in the first fragment went out with it: of
             * the second, up to its payload
             */

            e = test_err(NGX_HTTP_WS_API_CLOSE_INVALID_DATA, NULL,
                         test_at((frag && start < half && at >= half)
                                 ? half : start),
                         at == n ? s.len : test_at(at) + 1);
        }

#undef test_at

        /* whole, and at random cuts */

        for (i = 0; i < 4 && !bad; i++) {
            size_t  nc, c;

            nc = i ? 1 + test_rand_n(6) : 0;

            for (c = 0; c < nc; c++) {
                cuts[c] = test_rand_n(s.len + 1);
            }

            /* sort */
            for (c = 1; c < nc; c++) {
                size_t  j, v;

                v = cuts[c];

                for (j = c; j > 0 && cuts[j - 1] > v; j--) {
                    cuts[j] = cuts[j - 1];
                }

                cuts[j] = v;
            }

            test_run(&conf, &s, cuts, nc, NULL, &r);
            d = test_differs(&r, &e);

            if (d[0]) {
                tap_diag("  random text #%d (%zu bytes, %s): %s", k, n,
                         valid ? "valid" : "invalid", d);
                bad = 1;
            }
        }

        test_stream_free(&s);
    }

    free(cuts);

    ok(!bad, "UTF-8: 20000 random strings, as text frames cut at random");
}


/* random valid streams, fed in random pieces */

static void
test_random_stream(test_stream_t *s, ngx_http_ws_api_frame_t *conf,
    int *close_code)
{
    int      k, nmsg, nfrag, fr, text, comp, m, c;
    u_char  *data, b0, rsv, ctl[125];
    size_t   len, n, a, b, *cuts, i;

    static const size_t  holds[] = { 0, 10, 64, 125, 300, 70000 };

    ngx_http_ws_api_frame_init(conf);
    conf->masked = (unsigned) test_rand_n(2);
    conf->deflate = test_rand_n(3) == 0;
    conf->any_rsv = test_rand_n(5) == 0;
    conf->hold = holds[test_rand_n(6)];

    if (test_rand_n(2)) {
        conf->check = 1;
        conf->text = 1;
        conf->binary = 1;
    }

    m = conf->masked;
    *close_code = 0;

    data = malloc(70000);
    cuts = malloc(8 * sizeof(size_t));

    nmsg = 1 + (int) test_rand_n(12);

    for (k = 0; k < nmsg; k++) {

        text = (int) test_rand_n(2);
        comp = (conf->deflate || conf->any_rsv) && test_rand_n(3) == 0;

        c = (int) test_rand_n(100);
        len = (c < 35) ? test_rand_n(12)
              : (c < 75) ? test_rand_n(300)
              : (c < 98) ? test_rand_n(5000)
              : 65536 + test_rand_n(3000);

        if (text && !comp) {
            for (n = 0; n < len; ) {
                n += test_rand_char(data + n);
            }

            len = n;

        } else {
            for (n = 0; n < len; n++) {
                data[n] = (u_char) test_rand();
            }
        }

        nfrag = 1 + (int) test_rand_n(4);

        for (fr = 0; fr < nfrag - 1; fr++) {
            cuts[fr] = test_rand_n(len + 1);
        }

        cuts[nfrag - 1] = len;

        for (fr = 1; fr < nfrag - 1; fr++) {
            for (i = fr; i > 0 && cuts[i - 1] > cuts[i]; i--) {
                n = cuts[i];
                cuts[i] = cuts[i - 1];
                cuts[i - 1] = n;
            }
        }

        a = 0;

        for (fr = 0; fr < nfrag; fr++) {
            b = cuts[fr];
            rsv = 0;

            if (fr == 0 && comp) {
                rsv = conf->any_rsv ? (u_char) (1 + test_rand_n(7)) << 4
                                    : TEST_RSV1;

            } else if (fr > 0 && conf->any_rsv && test_rand_n(2)) {
                rsv = (u_char) test_rand_n(8) << 4;
            }

            b0 = (fr == nfrag - 1 ? TEST_FIN : 0)
                 | (fr ? TEST_CONT : text ? TEST_TEXT : TEST_BINARY) | rsv;

            test_frame(s, b0, m, data + a, b - a);
            a = b;

            /* control frames, between fragments or messages */

            while (test_rand_n(10) < 3) {
                n = test_rand_n(3) ? test_rand_n(8) : test_rand_n(126);

                for (i = 0; i < n; i++) {
                    ctl[i] = (u_char) test_rand();
                }

                test_frame(s, TEST_FIN | (test_rand_n(2) ? TEST_PING
                                                         : TEST_PONG),
                           m, ctl, n);
            }
        }
    }

    if (test_rand_n(3) == 0) {
        c = test_rand_n(2) ? 1000 + (int) test_rand_n(4)
                           : 3000 + (int) test_rand_n(2000);
        ctl[0] = (u_char) (c >> 8);
        ctl[1] = (u_char) c;

        for (n = 2; n + 4 <= 125 && test_rand_n(20); ) {
            n += test_rand_char(ctl + n);
        }

        test_frame(s, TEST_FIN | TEST_CLOSE, m, ctl, n);
        *close_code = c;
    }

    free(data);
    free(cuts);
}


static void
test_random(void)
{
    int                      k, bad, code, w;
    size_t                   i, nc, c, pos, *cuts;
    uint64_t                *oracle;
    test_run_t               r;
    const char              *d;
    test_stream_t            s;
    test_expect_t            e;
    ngx_http_ws_api_frame_t  conf;

    bad = 0;

    for (k = 0; k < 300 && !bad; k++) {
        test_stream_init(&s);
        test_random_stream(&s, &conf, &code);

        e = test_ok(s.len, s.len);
        e.close_code = code;

        oracle = test_oracle(&conf, &s);
        cuts = malloc((s.len + 1) * sizeof(size_t));

        for (w = 0; w < 12 && !bad; w++) {

            if (w == 0) {
                nc = 0;

            } else if (w == 1) {
                if (s.len > 30000) {
                    continue;
                }

                /* byte by byte */
                for (nc = 0; nc + 1 < s.len; nc++) {
                    cuts[nc] = nc + 1;
                }

            } else if (w < 6) {

                /* small pieces */
                nc = 0;

                for (pos = test_rand_n(18); pos < s.len;
                     pos += 1 + test_rand_n(w * 40))
                {
                    cuts[nc++] = pos;
                }

            } else {

                /* a few random cuts */
                nc = 1 + test_rand_n(8);

                for (c = 0; c < nc; c++) {
                    cuts[c] = test_rand_n(s.len + 1);
                }

                for (c = 1; c < nc; c++) {
                    for (i = c; i > 0 && cuts[i - 1] > cuts[i]; i--) {
                        pos = cuts[i];
                        cuts[i] = cuts[i - 1];
                        cuts[i - 1] = pos;
                    }
                }
            }

            test_run(&conf, &s, cuts, nc, oracle, &r);
            d = test_differs(&r, &e);

            if (d[0]) {
                tap_diag("  random stream #%d (%zu bytes, %zu frames, "
                         "masked %d deflate %d any_rsv %d hold %zu), "
                         "way %d: %s", k, s.len, s.nframes, conf.masked,
                         conf.deflate, conf.any_rsv, conf.hold, w, d);
                bad = 1;
            }
        }

        /* stop, at a few random points */

        for (w = 0; w < 8 && !bad; w++) {
            ngx_http_ws_api_frame_t  f;
            uint64_t                 next, end;
            size_t                   j;

            pos = test_rand_n(s.len + 1);
            next = s.len;

            for (j = 0; j < s.nframes; j++) {
                end = s.frames[j].start + s.frames[j].hsize
                      + s.frames[j].plen;

                if (end >= pos && end < next) {
                    next = end;
                }
            }

            if (pos == 0) {
                next = 0;
            }

            f = conf;
            (void) ngx_http_ws_api_frame_parse(&f, s.buf, pos);
            f.stop = 1;

            if (ngx_http_ws_api_frame_parse(&f, s.buf + pos, s.len - pos)
                != NGX_HTTP_WS_API_FRAME_OK
                || f.offset != next
                || f.commit != oracle[next])
            {
                tap_diag("  random stream #%d: stop after %zu: offset %llu, "
                         "expected %llu", k, pos,
                         (unsigned long long) f.offset,
                         (unsigned long long) next);
                bad = 1;
            }
        }

        free(cuts);
        free(oracle);
        test_stream_free(&s);
    }

    ok(!bad, "300 random valid streams, fed in random pieces, match the "
       "oracle");
}


/* throughput, for information */

static size_t
test_bench_stream(u_char *buf, size_t total, size_t plen, u_char op,
    int masked, const u_char *text, size_t tlen)
{
    size_t  len, n, i, t, hs;
    u_char  key[4];

    len = 0;
    t = 0;

    while (len + 14 + plen <= total) {
        n = plen;

        /* whole characters only */
        while (n && (text[(t + n) % tlen] & 0xc0) == 0x80) {
            n--;
        }

        buf[len] = 0x80 | op;
        buf[len + 1] = masked ? 0x80 : 0;

        if (n < 126) {
            buf[len + 1] |= (u_char) n;
            hs = 2;

        } else if (n < 65536) {
            buf[len + 1] |= 126;
            buf[len + 2] = (u_char) (n >> 8);
            buf[len + 3] = (u_char) n;
            hs = 4;

        } else {
            buf[len + 1] |= 127;

            for (i = 0; i < 8; i++) {
                buf[len + 2 + i] = (u_char) ((uint64_t) n >> (56 - 8 * i));
            }

            hs = 10;
        }

        key[0] = 0x5a;
        key[1] = (u_char) len;
        key[2] = 0xc3;
        key[3] = (u_char) (len >> 8);

        if (masked) {
            memcpy(buf + len + hs, key, 4);
            hs += 4;
        }

        len += hs;

        for (i = 0; i < n; i++) {
            buf[len + i] = text[(t + i) % tlen] ^ (masked ? key[i & 3] : 0);
        }

        t += n;
        len += n;
    }

    return len;
}


static double
test_now(void)
{
    struct timespec  ts;

    /* CPU time: the machine may be busy with other work */

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static void
test_bench_one(const char *name, const u_char *buf, size_t len, int masked,
    size_t hold, size_t read)
{
    int                      k, rc;
    size_t                   off, n, calls;
    double                   t, best;
    ngx_http_ws_api_frame_t  f;

    best = 0;
    rc = NGX_HTTP_WS_API_FRAME_OK;
    calls = (len + read - 1) / read;

    for (k = 0; k < 5; k++) {
        ngx_http_ws_api_frame_init(&f);
        f.masked = masked;
        f.hold = hold;

        t = test_now();

        for (off = 0; off < len; off += n) {
            n = (len - off < read) ? len - off : read;
            rc |= ngx_http_ws_api_frame_parse(&f, buf + off, n);
        }

        t = test_now() - t;

        if (best == 0 || t < best) {
            best = t;
        }
    }

    if (rc != NGX_HTTP_WS_API_FRAME_OK || f.commit != len) {
        tap_diag("bench %s: error %d %s", name, f.error,
                 f.reason ? f.reason : "");
    }

    tap_diag("%-44s %8.0f MB/s %7.1f ns/read", name, len / 1e6 / best,
             best * 1e9 / calls);
}


static void
test_bench(size_t mb)
{
    int            k;
    u_char        *buf, *copy, *ascii, *mixed;
    size_t         total, len, i, n, off;
    double         t, best;

    static const char  sample[] =
        "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln, "
        "\xe6\x9d\xb1\xe4\xba\xac\xe3\x81\xa7\xe3\x81\x99, "
        "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, "
        "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 "
        "\xf0\x9f\x98\x80 {\"id\": 42, \"name\": \"Z\xc3\xbcrich\"} ";

    total = mb << 20;

    buf = malloc(total);
    copy = malloc(total);
    ascii = malloc(4096);
    mixed = malloc(4096 + sizeof(sample));

    if (buf == NULL || copy == NULL || ascii == NULL || mixed == NULL) {
        perror("malloc");
        exit(2);
    }

    for (i = 0; i < 4096; i++) {
        ascii[i] = (u_char) (' ' + test_rand_n(95));
    }

    for (n = 0; n + sizeof(sample) - 1 <= 4096; n += sizeof(sample) - 1) {
        memcpy(mixed + n, sample, sizeof(sample) - 1);
    }

    tap_diag("throughput, %zu MiB in 16 KiB reads, best of 5, CPU time:",
             mb);

    memset(buf, 0, total);
    memset(copy, 0, total);

    best = 0;

    for (k = 0; k < 5; k++) {
        t = test_now();

        for (off = 0; off < total; off += 16384) {
            memcpy(copy + off, buf + off,
                   total - off < 16384 ? total - off : 16384);
        }

        t = test_now() - t;

        if (best == 0 || t < best) {
            best = t;
        }
    }

    tap_diag("%-44s %8.0f MB/s", "memcpy of the same (for scale)",
             total / 1e6 / best);

    len = test_bench_stream(buf, total, 1 << 20, TEST_TEXT, 1, ascii, 4096);
    test_bench_one("masked ASCII text, 1 MiB frames", buf, len, 1, 0, 16384);

    len = test_bench_stream(buf, total, 1 << 20, TEST_TEXT, 0, ascii, 4096);
    test_bench_one("unmasked ASCII text, 1 MiB frames", buf, len, 0, 0,
                   16384);

    len = test_bench_stream(buf, total, 1 << 20, TEST_TEXT, 1, mixed, n);
    test_bench_one("masked mixed UTF-8 text, 1 MiB frames", buf, len, 1, 0,
                   16384);

    len = test_bench_stream(buf, total, 1 << 20, TEST_TEXT, 0, mixed, n);
    test_bench_one("unmasked mixed UTF-8 text, 1 MiB frames", buf, len, 0, 0,
                   16384);

    len = test_bench_stream(buf, total, 4096, TEST_TEXT, 1, ascii, 4096);
    test_bench_one("masked ASCII text, 4 KiB frames", buf, len, 1, 0, 16384);
    test_bench_one("masked ASCII text, 4 KiB frames, held", buf, len, 1,
                   8192, 16384);

    len = test_bench_stream(buf, total, 100, TEST_TEXT, 1, ascii, 4096);
    test_bench_one("masked ASCII text, 100-byte frames, held", buf, len, 1,
                   8192, 16384);

    len = test_bench_stream(buf, total, 1 << 20, TEST_BINARY, 1, ascii, 4096);
    test_bench_one("masked binary, 1 MiB frames", buf, len, 1, 0, 16384);

    len = test_bench_stream(buf, total, 64, TEST_BINARY, 1, ascii, 4096);
    test_bench_one("masked binary, 64-byte frames", buf, len, 1, 0, 16384);

    free(buf);
    free(copy);
    free(ascii);
    free(mixed);
}


int
main(void)
{
    char      *env;
    uint64_t   seed;
    size_t     mb;

    env = getenv("TEST_SEED");
    seed = env ? strtoull(env, NULL, 0) : 0x2545f4914f6cdd1dULL;
    test_rng_state = seed ? seed : 1;

    tap_diag("seed 0x%llx", (unsigned long long) seed);

    test_misc();
    test_utf8_table();
    test_lengths();
    test_fragments();
    test_violations();
    test_hold();
    test_stops();
    test_extensions();
    test_closes();
    test_close_builder();
    test_utf8_exhaustive();
    test_utf8_random();
    test_random();

    env = getenv("TEST_BENCH_MB");
    mb = env ? (size_t) strtoul(env, NULL, 10) : 64;

    if (mb) {
        test_bench(mb);
    }

    return tap_done();
}
