
/*
 * Copyright (C) ws-api authors
 */


/*
 * libFuzzer target: the extraction of a handshake parameter from a query
 * string and request headers (ngx_http_ws_api_param_check() of
 * src/ngx_http_ws_api_param.h).
 *
 * The input is a byte of configuration, then lines:
 *
 *   byte 0    bit 0 in header (else query), bits 1-3 the data type (6 and
 *             7: string), bit 4 required, bit 5 array, bit 6 an empty
 *             query string given as NULL, as nginx has it, bit 7 unused
 *   line 1    the parameter name (not empty)
 *   line 2    the query string, raw
 *   then      headers, "name:value", up to an empty line
 *   then      the allowed values, one a line (those not of the type are
 *             left out)
 *
 * Every buffer is allocated to its exact size, so that ASan sees a read
 * or a write one byte past it, scratch too (args_len bytes).  The result
 * must be the one of an independent reference, written from the
 * decisions documented in ngx_http_ws_api_param.c, and stay the same for
 * equivalent requests built differently: header names in another case,
 * white space around header elements, a header cut into one header per
 * element, headers or pairs in reverse order, every byte of a query key
 * and value percent-encoded, the other location's input left out.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_ws_api_param.h"
#include "fuzz.h"


#define FUZZ_MAX_HEADERS  64
#define FUZZ_MAX_VALUES   64


typedef struct {
    const u_char              *args;
    size_t                     args_len;
    ngx_http_ws_api_header_t   headers[FUZZ_MAX_HEADERS];
    size_t                     nheaders;
} fuzz_request_t;


static ngx_http_ws_api_reason_e fuzz_check(const ngx_http_ws_api_param_t *p,
    const fuzz_request_t *r, int null_args, int no_headers);
static ngx_http_ws_api_reason_e fuzz_reference(
    const ngx_http_ws_api_param_t *p, const fuzz_request_t *r);
static size_t fuzz_decode(u_char *dst, const u_char *src, size_t len);
static int fuzz_hex(u_char c);
static int fuzz_name_eq(const u_char *a, size_t alen, const u_char *b,
    size_t blen);
static u_char *fuzz_dup(const u_char *s, size_t len);
static void fuzz_request_free(fuzz_request_t *r);
static void fuzz_headers_case(const fuzz_request_t *in, fuzz_request_t *out,
    const u_char *bits, size_t nbits);
static void fuzz_headers_spread(const fuzz_request_t *in,
    fuzz_request_t *out);
static void fuzz_query_encode(const fuzz_request_t *in, fuzz_request_t *out,
    int reverse);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                       null_args;
    u_char                   *input;
    size_t                    n, len, nvalues;
    const u_char             *p, *end, *line, *eol, *colon;
    fuzz_request_t            r, r2;
    ngx_http_ws_api_param_t   param;
    ngx_http_ws_api_value_t   values[FUZZ_MAX_VALUES];
    ngx_http_ws_api_reason_e  rc, want;

    if (size < 2) {
        return 0;
    }

    memset(&param, 0, sizeof(ngx_http_ws_api_param_t));
    memset(&r, 0, sizeof(fuzz_request_t));

    param.in = (data[0] & 1) ? NGX_HTTP_WS_API_IN_HEADER
                             : NGX_HTTP_WS_API_IN_QUERY;
    param.type = (data[0] >> 1) & 7;

    if (param.type > NGX_HTTP_WS_API_BOOLEAN) {
        param.type = NGX_HTTP_WS_API_STRING;
    }

    param.required = (data[0] >> 4) & 1;
    param.array = (data[0] >> 5) & 1;
    null_args = (data[0] >> 6) & 1;

    /* a copy of its own: the allowed values point into it */

    input = fuzz_dup(data + 1, size - 1);
    p = input;
    end = input + size - 1;

    /* the name */

    eol = memchr(p, '\n', end - p);
    if (eol == NULL || eol == p) {
        free(input);
        return 0;
    }

    param.name = p;
    param.name_len = eol - p;
    p = eol + 1;

    /* the query string */

    eol = memchr(p, '\n', end - p);
    len = (eol ? eol : end) - p;

    r.args = fuzz_dup(p, len);
    r.args_len = len;
    p = eol ? eol + 1 : end;

    /* headers up to an empty line */

    while (p < end && r.nheaders < FUZZ_MAX_HEADERS) {
        line = p;
        eol = memchr(p, '\n', end - p);
        len = (eol ? eol : end) - p;
        p = eol ? eol + 1 : end;

        if (len == 0) {
            break;
        }

        colon = memchr(line, ':', len);
        n = colon ? (size_t) (colon - line) : len;

        r.headers[r.nheaders].name = fuzz_dup(line, n);
        r.headers[r.nheaders].name_len = n;

        if (colon) {
            r.headers[r.nheaders].value = fuzz_dup(colon + 1, len - n - 1);
            r.headers[r.nheaders].value_len = len - n - 1;

        } else {
            r.headers[r.nheaders].value = fuzz_dup(line, 0);
            r.headers[r.nheaders].value_len = 0;
        }

        r.nheaders++;
    }

    /* the allowed values */

    nvalues = 0;

    while (p < end && nvalues < FUZZ_MAX_VALUES) {
        line = p;
        eol = memchr(p, '\n', end - p);
        len = (eol ? eol : end) - p;
        p = eol ? eol + 1 : end;

        if (ngx_http_ws_api_value_parse(param.type, line, len,
                                        &values[nvalues])
            == 0)
        {
            nvalues++;
        }
    }

    param.values = values;
    param.nvalues = nvalues;

    /* the request as given, against the reference */

    want = fuzz_reference(&param, &r);
    rc = fuzz_check(&param, &r, null_args, 0);

    fuzz_assert_msg(rc == want, "result %d, the reference %d", rc, want);

    /* the other location's input does not matter */

    if (param.in == NGX_HTTP_WS_API_IN_HEADER) {
        fuzz_assert(fuzz_check(&param, &r, 1, 0) == want);

    } else {
        fuzz_assert(fuzz_check(&param, &r, null_args, 1) == want);
    }

    /* header names in another case, headers in reverse order */

    fuzz_headers_case(&r, &r2, data, size);
    fuzz_assert(fuzz_check(&param, &r2, null_args, 0) == want);
    fuzz_request_free(&r2);

    /* one header per element, with white space around it */

    fuzz_headers_spread(&r, &r2);
    fuzz_assert(fuzz_check(&param, &r2, null_args, 0) == want);
    fuzz_request_free(&r2);

    /* the query string percent-encoded, pairs in both orders */

    fuzz_query_encode(&r, &r2, 0);
    fuzz_assert_msg(fuzz_check(&param, &r2, null_args, 0) == want,
                    "\"%.*s\" encoded as \"%.*s\"", (int) r.args_len, r.args,
                    (int) r2.args_len, r2.args);
    fuzz_request_free(&r2);

    fuzz_query_encode(&r, &r2, 1);
    fuzz_assert_msg(fuzz_check(&param, &r2, null_args, 0) == want,
                    "\"%.*s\" reversed as \"%.*s\"", (int) r.args_len, r.args,
                    (int) r2.args_len, r2.args);
    fuzz_request_free(&r2);

    fuzz_request_free(&r);
    free(input);

    return 0;
}


/* ngx_http_ws_api_param_check() as the gateway calls it */

static ngx_http_ws_api_reason_e
fuzz_check(const ngx_http_ws_api_param_t *p, const fuzz_request_t *r,
    int null_args, int no_headers)
{
    u_char                    *scratch;
    const u_char              *args;
    ngx_http_ws_api_reason_e   rc;

    args = r->args;
    scratch = NULL;

    if (r->args_len) {
        scratch = malloc(r->args_len);
        fuzz_assert(scratch != NULL);

    } else if (null_args) {
        args = NULL;
    }

    rc = ngx_http_ws_api_param_check(p, args, r->args_len,
                                     no_headers ? NULL : r->headers,
                                     r->nheaders, scratch);

    free(scratch);

    fuzz_assert(rc == NGX_HTTP_WS_API_PARAM_OK
                || rc == NGX_HTTP_WS_API_PARAM_MISSING
                || rc == NGX_HTTP_WS_API_PARAM_NOT_ARRAY
                || rc == NGX_HTTP_WS_API_PARAM_INVALID_TYPE
                || rc == NGX_HTTP_WS_API_PARAM_NOT_ALLOWED);

    fuzz_assert(strcmp(ngx_http_ws_api_reason_name(rc), "unknown") != 0);

    return rc;
}


/*
 * The reference: every value of the parameter collected first (query
 * pairs split on "&", the key before the first "=", the value split on
 * "," and each piece decoded; headers of the name in any case, split on
 * "," and each element trimmed of spaces and tabs), then the checks in
 * their documented order.
 */

static ngx_http_ws_api_reason_e
fuzz_reference(const ngx_http_ws_api_param_t *p, const fuzz_request_t *r)
{
    int                       invalid, not_allowed, allowed;
    u_char                   *buf, *key, **val;
    size_t                    i, j, n, count, klen, max, *vlen;
    const u_char             *s, *e, *pair, *next, *eq, *piece, *pend;
    ngx_http_ws_api_value_t   v;

    /* at most a value for each byte and one more, in either location */

    max = r->args_len + 1;

    for (i = 0; i < r->nheaders; i++) {
        max += r->headers[i].value_len + 1;
    }

    val = malloc(max * sizeof(u_char *));
    vlen = malloc(max * sizeof(size_t));
    fuzz_assert(val != NULL && vlen != NULL);

    count = 0;
    buf = NULL;

    if (p->in == NGX_HTTP_WS_API_IN_QUERY) {

        /* decoding never makes a piece longer: room for all of them */

        buf = malloc(r->args_len + 1);
        key = malloc(r->args_len + 1);
        fuzz_assert(buf != NULL && key != NULL);

        n = 0;
        s = r->args;
        e = r->args + r->args_len;

        for (pair = s; pair < e; pair = next + 1) {
            next = memchr(pair, '&', e - pair);
            if (next == NULL) {
                next = e;
            }

            if (next == pair) {
                continue;
            }

            eq = memchr(pair, '=', next - pair);

            klen = fuzz_decode(key, pair, (eq ? eq : next) - pair);

            if (klen != p->name_len || memcmp(key, p->name, klen) != 0) {
                continue;
            }

            piece = eq ? eq + 1 : next;

            for ( ;; ) {
                pend = memchr(piece, ',', next - piece);
                if (pend == NULL) {
                    pend = next;
                }

                val[count] = buf + n;
                vlen[count] = fuzz_decode(buf + n, piece, pend - piece);
                n += vlen[count];
                count++;

                if (pend == next) {
                    break;
                }

                piece = pend + 1;
            }
        }

        free(key);

    } else {

        for (i = 0; i < r->nheaders; i++) {
            if (!fuzz_name_eq(r->headers[i].name, r->headers[i].name_len,
                              p->name, p->name_len))
            {
                continue;
            }

            s = r->headers[i].value;
            e = s + r->headers[i].value_len;

            for (piece = s; ; piece = pend + 1) {
                pend = memchr(piece, ',', e - piece);
                if (pend == NULL) {
                    pend = e;
                }

                s = piece;
                next = pend;

                while (s < next && (*s == ' ' || *s == '\t')) {
                    s++;
                }

                while (next > s && (next[-1] == ' ' || next[-1] == '\t')) {
                    next--;
                }

                val[count] = (u_char *) s;
                vlen[count] = next - s;
                count++;

                if (pend == e) {
                    break;
                }
            }
        }
    }

    fuzz_assert(count <= max);

    invalid = 0;
    not_allowed = 0;

    for (i = 0; i < count; i++) {
        if (ngx_http_ws_api_value_parse(p->type, val[i], vlen[i], &v) != 0) {
            invalid = 1;
            continue;
        }

        allowed = (p->nvalues == 0);

        for (j = 0; j < p->nvalues; j++) {
            if (ngx_http_ws_api_value_equal(&v, &p->values[j])) {
                allowed = 1;
            }
        }

        if (!allowed) {
            not_allowed = 1;
        }
    }

    free(buf);
    free(val);
    free(vlen);

    if (count == 0) {
        return p->required ? NGX_HTTP_WS_API_PARAM_MISSING
                           : NGX_HTTP_WS_API_PARAM_OK;
    }

    if (count > 1 && !p->array) {
        return NGX_HTTP_WS_API_PARAM_NOT_ARRAY;
    }

    if (invalid) {
        return NGX_HTTP_WS_API_PARAM_INVALID_TYPE;
    }

    if (not_allowed) {
        return NGX_HTTP_WS_API_PARAM_NOT_ALLOWED;
    }

    return NGX_HTTP_WS_API_PARAM_OK;
}


/* "+" a space, "%XX" a byte, any other "%" as it is */

static size_t
fuzz_decode(u_char *dst, const u_char *src, size_t len)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < len; i++) {
        if (src[i] == '+') {
            dst[n++] = ' ';

        } else if (src[i] == '%' && len - i >= 3
                   && fuzz_hex(src[i + 1]) >= 0 && fuzz_hex(src[i + 2]) >= 0)
        {
            dst[n++] = (u_char) (fuzz_hex(src[i + 1]) * 16
                                 + fuzz_hex(src[i + 2]));
            i += 2;

        } else {
            dst[n++] = src[i];
        }
    }

    return n;
}


static int
fuzz_hex(u_char c)
{
    static const char  digits[] = "0123456789abcdef0123456789ABCDEF";
    const char        *d;

    if (c == '\0') {
        return -1;
    }

    d = strchr(digits, c);

    return d ? (int) ((d - digits) & 15) : -1;
}


/* header names: ASCII letters in any case, any other byte as it is */

static int
fuzz_name_eq(const u_char *a, size_t alen, const u_char *b, size_t blen)
{
    size_t  i;
    u_char  ca, cb;

    if (alen != blen) {
        return 0;
    }

    for (i = 0; i < alen; i++) {
        ca = a[i];
        cb = b[i];

        if (ca >= 'a' && ca <= 'z') {
            ca -= 'a' - 'A';
        }

        if (cb >= 'a' && cb <= 'z') {
            cb -= 'a' - 'A';
        }

        if (ca != cb) {
            return 0;
        }
    }

    return 1;
}


/* a buffer of exactly len bytes (one, never read, when len is 0) */

static u_char *
fuzz_dup(const u_char *s, size_t len)
{
    u_char  *d;

    d = malloc(len ? len : 1);
    fuzz_assert(d != NULL);

    if (len) {
        memcpy(d, s, len);
    }

    return d;
}


static void
fuzz_request_free(fuzz_request_t *r)
{
    size_t  i;

    free((u_char *) r->args);

    for (i = 0; i < r->nheaders; i++) {
        free((u_char *) r->headers[i].name);
        free((u_char *) r->headers[i].value);
    }
}


/* the headers in reverse order, each letter of a name flipped by a bit */

static void
fuzz_headers_case(const fuzz_request_t *in, fuzz_request_t *out,
    const u_char *bits, size_t nbits)
{
    size_t                           i, j, k;
    u_char                          *name, c;
    const ngx_http_ws_api_header_t  *h;

    memset(out, 0, sizeof(fuzz_request_t));

    out->args = fuzz_dup(in->args, in->args_len);
    out->args_len = in->args_len;

    k = 0;

    for (i = 0; i < in->nheaders; i++) {
        h = &in->headers[in->nheaders - 1 - i];

        name = fuzz_dup(h->name, h->name_len);

        for (j = 0; j < h->name_len; j++, k++) {
            c = name[j] | 0x20;

            if (c >= 'a' && c <= 'z' && (bits[(k / 8) % nbits] >> (k % 8) & 1))
            {
                name[j] ^= 0x20;
            }
        }

        out->headers[i].name = name;
        out->headers[i].name_len = h->name_len;
        out->headers[i].value = fuzz_dup(h->value, h->value_len);
        out->headers[i].value_len = h->value_len;
    }

    out->nheaders = in->nheaders;
}


/*
 * Each header cut into one header per element, while there is room, with
 * a space before and a tab after it.
 */

static void
fuzz_headers_spread(const fuzz_request_t *in, fuzz_request_t *out)
{
    size_t                           i, n, len;
    u_char                          *v;
    const u_char                    *s, *e, *piece;
    const ngx_http_ws_api_header_t  *h;

    memset(out, 0, sizeof(fuzz_request_t));

    out->args = fuzz_dup(in->args, in->args_len);
    out->args_len = in->args_len;

    n = 0;

    for (i = 0; i < in->nheaders; i++) {
        h = &in->headers[i];
        s = h->value;
        e = s + h->value_len;

        for ( ;; ) {
            piece = memchr(s, ',', e - s);

            if (piece == NULL || n + (in->nheaders - i) >= FUZZ_MAX_HEADERS) {
                piece = e;
            }

            len = piece - s;

            v = malloc(len + 2);
            fuzz_assert(v != NULL);

            v[0] = ' ';
            memcpy(v + 1, s, len);
            v[len + 1] = '\t';

            out->headers[n].name = fuzz_dup(h->name, h->name_len);
            out->headers[n].name_len = h->name_len;
            out->headers[n].value = v;
            out->headers[n].value_len = len + 2;
            n++;

            if (piece == e) {
                break;
            }

            s = piece + 1;
        }
    }

    out->nheaders = n;
}


/*
 * Every byte of every key and value piece percent-encoded, hexadecimal
 * digits in either case, the pairs in the same or the reverse order.
 */

static void
fuzz_query_encode(const fuzz_request_t *in, fuzz_request_t *out, int reverse)
{
    u_char         *args, *a, *tmp;
    size_t          i, k, n, len, npairs;
    const u_char   *s, *e, *pair, *next, *eq, *piece, *pend;
    const u_char  **pairs, **ends;

    static const char  upper[] = "0123456789ABCDEF";
    static const char  lower[] = "0123456789abcdef";

    memset(out, 0, sizeof(fuzz_request_t));

    s = in->args;
    e = in->args + in->args_len;

    /* the pairs, empty ones too */

    pairs = malloc((in->args_len + 1) * sizeof(u_char *));
    ends = malloc((in->args_len + 1) * sizeof(u_char *));
    fuzz_assert(pairs != NULL && ends != NULL);

    npairs = 0;

    for (pair = s; ; pair = next + 1) {
        next = memchr(pair, '&', e - pair);
        if (next == NULL) {
            next = e;
        }

        pairs[npairs] = pair;
        ends[npairs] = next;
        npairs++;

        if (next == e) {
            break;
        }
    }

    /* each byte at most "%XX", "&" and "=" unchanged */

    len = in->args_len * 3;

    args = malloc(len ? len : 1);
    tmp = malloc(in->args_len ? in->args_len : 1);
    fuzz_assert(args != NULL && tmp != NULL);

    a = args;

    for (i = 0; i < npairs; i++) {
        pair = pairs[reverse ? npairs - 1 - i : i];
        next = ends[reverse ? npairs - 1 - i : i];

        if (i) {
            *a++ = '&';
        }

        eq = memchr(pair, '=', next - pair);

        for (piece = pair; ; piece = pend + 1) {

            /* the key, then the pieces of the value */

            if (piece == pair) {
                pend = eq ? eq : next;

            } else {
                pend = memchr(piece, ',', next - piece);
                if (pend == NULL) {
                    pend = next;
                }
            }

            n = fuzz_decode(tmp, piece, pend - piece);

            for (k = 0; k < n; k++) {
                *a++ = '%';
                *a++ = ((tmp[k] ^ k) & 1 ? upper : lower)[tmp[k] >> 4];
                *a++ = ((tmp[k] ^ k) & 2 ? upper : lower)[tmp[k] & 15];
            }

            if (pend == next) {
                break;
            }

            *a++ = (piece == pair) ? '=' : ',';
        }
    }

    free(tmp);
    free(pairs);
    free(ends);

    out->args = fuzz_dup(args, a - args);
    out->args_len = a - args;

    free(args);

    /* the headers as they are */

    for (i = 0; i < in->nheaders; i++) {
        out->headers[i].name = fuzz_dup(in->headers[i].name,
                                        in->headers[i].name_len);
        out->headers[i].name_len = in->headers[i].name_len;
        out->headers[i].value = fuzz_dup(in->headers[i].value,
                                         in->headers[i].value_len);
        out->headers[i].value_len = in->headers[i].value_len;
    }

    out->nheaders = in->nheaders;
}
