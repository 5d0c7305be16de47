
/*
 * Copyright (C) ws-api authors
 */


#include "ngx_http_ws_api_validate.h"
#include "ngx_http_ws_api_schema.h"
#include "ngx_http_ws_api_policy.h"
#include "ngx_http_ws_api_regex.h"


/* room kept in front of a gathered message for its rebuilt header */
#define NGX_HTTP_WS_API_VALIDATE_HEAD  14

/* opcodes (RFC 6455) */
#define NGX_HTTP_WS_API_VOP_CONT       0x0
#define NGX_HTTP_WS_API_VOP_TEXT       0x1


struct ngx_http_ws_api_schemas_s {
    ngx_queue_t                   queue;
    ngx_uint_t                    refs;
    ngx_uint_t                    current;   /* the latest of its API */
    uint32_t                      crc;
    ngx_uint_t                    n[2];
    ngx_http_ws_api_schema_t    **schema[2];
    size_t                        id_len;
    u_char                        id[1];
};


static ngx_int_t ngx_http_ws_api_schemas_compile(
    ngx_http_ws_api_schemas_t *set, ngx_uint_t dir, ngx_str_t *text,
    ngx_log_t *log);
static void ngx_http_ws_api_schemas_free(ngx_http_ws_api_schemas_t *set);
static size_t ngx_http_ws_api_validate_run(ngx_http_ws_api_validate_t *v,
    u_char *p, size_t n, size_t *left);
static ngx_int_t ngx_http_ws_api_validate_step(ngx_http_ws_api_validate_t *v,
    u_char **qp, u_char *end, u_char **wp);
static void ngx_http_ws_api_validate_fail(ngx_http_ws_api_validate_t *v,
    u_char *q, u_char *end, u_char **wp);
static ngx_int_t ngx_http_ws_api_validate_message(
    ngx_http_ws_api_validate_t *v);
static void ngx_http_ws_api_validate_release(ngx_http_ws_api_validate_t *v);
static void ngx_http_ws_api_validate_xor(u_char *dst, const u_char *src,
    size_t n, const u_char *key, uint64_t pos);


/* this worker's compiled schema sets */

static ngx_queue_t  ngx_http_ws_api_schema_sets;
static ngx_uint_t   ngx_http_ws_api_schema_sets_init;


ngx_http_ws_api_schemas_t *
ngx_http_ws_api_schemas_get(ngx_str_t *id, uint32_t crc, ngx_str_t *texts,
    ngx_log_t *log)
{
    ngx_uint_t                  i;
    ngx_queue_t                *q, *next;
    ngx_http_ws_api_schemas_t  *set, *s;

    if (!ngx_http_ws_api_schema_sets_init) {
        ngx_queue_init(&ngx_http_ws_api_schema_sets);
        ngx_http_ws_api_schema_sets_init = 1;
    }

    for (q = ngx_queue_head(&ngx_http_ws_api_schema_sets);
         q != ngx_queue_sentinel(&ngx_http_ws_api_schema_sets);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_http_ws_api_schemas_t, queue);

        if (s->current && s->crc == crc && s->id_len == id->len
            && ngx_memcmp(s->id, id->data, id->len) == 0)
        {
            s->refs++;
            return s;
        }
    }

    /* a revision not seen yet in this worker: compiled once */

    set = ngx_calloc(sizeof(ngx_http_ws_api_schemas_t) + id->len, log);
    if (set == NULL) {
        return NULL;
    }

    set->crc = crc;
    set->id_len = id->len;
    ngx_memcpy(set->id, id->data, id->len);

    for (i = 0; i < 2; i++) {
        if (ngx_http_ws_api_schemas_compile(set, i, &texts[i], log)
            != NGX_OK)
        {
            ngx_http_ws_api_schemas_free(set);
            return NULL;
        }
    }

    /* the API's older sets go when their last connection does */

    for (q = ngx_queue_head(&ngx_http_ws_api_schema_sets);
         q != ngx_queue_sentinel(&ngx_http_ws_api_schema_sets);
         q = next)
    {
        next = ngx_queue_next(q);
        s = ngx_queue_data(q, ngx_http_ws_api_schemas_t, queue);

        if (s->id_len == id->len
            && ngx_memcmp(s->id, id->data, id->len) == 0)
        {
            s->current = 0;

            if (s->refs == 0) {
                ngx_queue_remove(&s->queue);
                ngx_http_ws_api_schemas_free(s);
            }
        }
    }

    set->current = 1;
    set->refs = 1;
    ngx_queue_insert_tail(&ngx_http_ws_api_schema_sets, &set->queue);

    return set;
}


static ngx_int_t
ngx_http_ws_api_schemas_compile(ngx_http_ws_api_schemas_t *set,
    ngx_uint_t dir, ngx_str_t *text, ngx_log_t *log)
{
    char           err[256];
    size_t         i, n;
    json_t        *a, *v;
    json_error_t   jerr;

    if (text->len == 0) {
        return NGX_OK;
    }

    a = json_loadb((const char *) text->data, text->len, 0, &jerr);

    if (!json_is_array(a)) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "ws_api schemas of \"%*s\" not loaded: %s",
                      set->id_len, set->id, jerr.text);
        json_decref(a);
        return NGX_ERROR;
    }

    n = json_array_size(a);

    set->schema[dir] = ngx_calloc(n * sizeof(ngx_http_ws_api_schema_t *),
                                  log);
    if (set->schema[dir] == NULL) {
        json_decref(a);
        return NGX_ERROR;
    }

    json_array_foreach(a, i, v) {
        set->schema[dir][i] = ngx_http_ws_api_schema_compile(v,
                                             &ngx_http_ws_api_regex_pcre2,
                                             err, sizeof(err));
        if (set->schema[dir][i] == NULL) {
            /* checked when it was defined: another build, or no memory */
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "ws_api schema of \"%*s\" not compiled: %s",
                          set->id_len, set->id, err);
            json_decref(a);
            return NGX_ERROR;
        }

        set->n[dir]++;
    }

    json_decref(a);

    return NGX_OK;
}


static void
ngx_http_ws_api_schemas_free(ngx_http_ws_api_schemas_t *set)
{
    ngx_uint_t  i, j;

    for (i = 0; i < 2; i++) {
        for (j = 0; j < set->n[i]; j++) {
            ngx_http_ws_api_schema_free(set->schema[i][j]);
        }

        if (set->schema[i]) {
            ngx_free(set->schema[i]);
        }
    }

    ngx_free(set);
}


void
ngx_http_ws_api_schemas_release(ngx_http_ws_api_schemas_t *set)
{
    if (--set->refs == 0 && !set->current) {
        ngx_queue_remove(&set->queue);
        ngx_http_ws_api_schemas_free(set);
    }
}


ngx_uint_t
ngx_http_ws_api_schemas_has(ngx_http_ws_api_schemas_t *set, ngx_uint_t dir)
{
    return set->n[dir] != 0;
}


ngx_http_ws_api_validate_t *
ngx_http_ws_api_validate_create(ngx_http_ws_api_schemas_t *set,
    ngx_uint_t dir, ngx_http_ws_api_frame_t *frame, uint64_t max,
    ngx_log_t *log)
{
    ngx_http_ws_api_validate_t  *v;

    v = ngx_calloc(sizeof(ngx_http_ws_api_validate_t), log);
    if (v == NULL) {
        return NULL;
    }

    v->schemas = set;
    v->dir = dir;
    v->log = log;
    v->to_backend = (dir == NGX_HTTP_WS_API_FROM_CLIENT);

    /*
     * the same rules as the relay's parser, which checks the filtered
     * stream again; the size limit applies here, before a byte is
     * gathered; the rate is the relay's to count
     */

    v->frame = *frame;
    v->frame.rate_cost = 0;
    v->max = max;
    v->frame.hold = 0;
    v->frame.stop = 0;

    return v;
}


void
ngx_http_ws_api_validate_free(ngx_http_ws_api_validate_t *v)
{
    ngx_http_ws_api_validate_release(v);

    if (v->stash) {
        ngx_free(v->stash);
    }

    ngx_free(v);
}


size_t
ngx_http_ws_api_validate_filter(ngx_http_ws_api_validate_t *v, u_char *p,
    size_t len)
{
    size_t   n, left;

    n = ngx_http_ws_api_validate_run(v, p, len, &left);

    if (left) {
        v->stash = ngx_alloc(left, v->log);

        if (v->stash == NULL) {
            v->error = NGX_HTTP_WS_API_CLOSE_GOING_AWAY;
            v->reason = "out of memory";
            return n;
        }

        ngx_memcpy(v->stash, p + len - left, left);
        v->stash_pos = 0;
        v->stash_len = left;
    }

    return n;
}


ssize_t
ngx_http_ws_api_validate_recv(ngx_http_ws_api_validate_t *v,
    ngx_connection_t *c, ngx_recv_pt recv, u_char *buf, size_t size)
{
    u_char   *r;
    size_t    produced, room, k, m, left, total;
    ssize_t   n;

    produced = 0;

    for ( ;; ) {

        if (v->error) {
            break;
        }

        if (v->out_len) {

            /* the rebuilt frame first */

            k = ngx_min(v->out_len, size - produced);

            ngx_memcpy(buf + produced, v->out, k);
            v->out += k;
            v->out_len -= k;
            produced += k;

            if (v->out_len) {
                break;
            }

            ngx_http_ws_api_validate_release(v);
        }

        room = size - produced;

        if (room <= v->carry_len) {
            break;
        }

        r = buf + produced;

        ngx_memcpy(r, v->carry, v->carry_len);

        if (v->stash_len) {

            /* the bytes read behind a rebuilt frame */

            k = ngx_min(v->stash_len, room - v->carry_len);

            ngx_memcpy(r + v->carry_len, v->stash + v->stash_pos, k);
            v->stash_pos += k;
            v->stash_len -= k;

            if (v->stash_len == 0) {
                ngx_free(v->stash);
                v->stash = NULL;
                v->stash_pos = 0;
            }

        } else {

            if (produced) {
                /* what there is; the socket is read next time */
                break;
            }

            n = recv(c, r + v->carry_len, room - v->carry_len);

            if (n <= 0) {
                /* NGX_AGAIN, the end, or an error: nothing is pending */
                return n;
            }

            k = n;
        }

        total = v->carry_len + k;
        v->carry_len = 0;

        m = ngx_http_ws_api_validate_run(v, r, total, &left);

        produced += m;

        if (left) {

            if (v->stash) {
                /* they came from the stash: still there */
                v->stash_pos -= left;
                v->stash_len += left;

            } else {
                v->stash = ngx_alloc(left, v->log);

                if (v->stash == NULL) {
                    v->error = NGX_HTTP_WS_API_CLOSE_GOING_AWAY;
                    v->reason = "out of memory";
                    break;
                }

                ngx_memcpy(v->stash, r + total - left, left);
                v->stash_pos = 0;
                v->stash_len = left;
            }
        }

        if (produced == size) {
            break;
        }
    }

    if (ngx_http_ws_api_validate_pending(v)) {
        /* nginx reads again only when told there is something */
        c->read->ready = 1;
    }

    return produced ? (ssize_t) produced : NGX_AGAIN;
}


/*
 * Filters the n raw bytes at p in place.  Returns how many bytes are left
 * at p to relay; *left tells how many raw bytes at the end of the n were
 * not filtered (they wait behind a rebuilt frame that is not all out).
 */

static size_t
ngx_http_ws_api_validate_run(ngx_http_ws_api_validate_t *v, u_char *p,
    size_t n, size_t *left)
{
    u_char  *q, *w, *end;

    q = p;
    w = p;
    end = p + n;

    *left = 0;

    while (q < end) {

        if (v->error) {
            break;
        }

        if (v->transparent) {
            /* the relay's parser finds what broke the rules */
            if (w != q) {
                ngx_memmove(w, q, end - q);
            }

            w += end - q;
            break;
        }

        if (v->out_len) {
            /* the rebuilt frame did not fit: the rest waits */
            *left = end - q;
            break;
        }

        if (ngx_http_ws_api_validate_step(v, &q, end, &w) != NGX_OK) {
            break;
        }
    }

    return w - p;
}


/* one frame header, or the part of a frame's payload that is here */

static ngx_int_t
ngx_http_ws_api_validate_step(ngx_http_ws_api_validate_t *v, u_char **qp,
    u_char *end, u_char **wp)
{
    u_char                   *q, *w, *d, l7, op;
    size_t                    hsize, k, need, size;
    uint64_t                  pos;
    ngx_http_ws_api_frame_t  *f;

    q = *qp;
    w = *wp;
    f = &v->frame;

    if (f->payload == 0) {

        /* a frame header: taken only whole */

        if (end - q < 2) {
            goto carry;
        }

        l7 = q[1] & 0x7f;
        hsize = 2 + (l7 == 126 ? 2 : 0) + (l7 == 127 ? 8 : 0)
                + ((q[1] & 0x80) ? 4 : 0);

        if ((size_t) (end - q) < hsize) {
            goto carry;
        }

        op = q[0] & 0xf;

        v->gathered = (op == NGX_HTTP_WS_API_VOP_TEXT
                       || (op == NGX_HTTP_WS_API_VOP_CONT && v->gathering));

        if (ngx_http_ws_api_frame_parse(f, q, hsize)
            != NGX_HTTP_WS_API_FRAME_OK)
        {
            ngx_http_ws_api_validate_fail(v, q, end, wp);
            return NGX_ERROR;
        }

        if (v->gathered) {

            if (op == NGX_HTTP_WS_API_VOP_TEXT) {
                v->gathering = 1;
                v->len = 0;
            }

            /* the gathering limit: the message is refused before a byte */

            if (f->payload > v->max - v->len) {
                v->frame.error = NGX_HTTP_WS_API_CLOSE_TOO_BIG;
                v->frame.reason = "message too big";
                ngx_http_ws_api_validate_fail(v, q, end, wp);
                return NGX_ERROR;
            }

            need = NGX_HTTP_WS_API_VALIDATE_HEAD + v->len + f->payload;

            if (need > v->size) {
                size = 2 * v->size;

                if (size > NGX_HTTP_WS_API_VALIDATE_HEAD + v->max) {
                    size = NGX_HTTP_WS_API_VALIDATE_HEAD + v->max;
                }

                if (size < need) {
                    size = need;
                }

                d = realloc(v->data, size);

                if (d == NULL) {
                    ngx_log_error(NGX_LOG_ALERT, v->log, ngx_errno,
                                  "realloc(%uz) failed", size);
                    v->error = NGX_HTTP_WS_API_CLOSE_GOING_AWAY;
                    v->reason = "out of memory";
                    return NGX_ERROR;
                }

                v->data = d;
                v->size = size;
            }

        } else {
            if (w != q) {
                ngx_memmove(w, q, hsize);
            }

            w += hsize;
        }

        q += hsize;

    } else {

        k = ngx_min(f->payload, (uint64_t) (end - q));
        pos = f->pos;

        if (ngx_http_ws_api_frame_parse(f, q, k)
            != NGX_HTTP_WS_API_FRAME_OK)
        {
            ngx_http_ws_api_validate_fail(v, q, end, wp);
            return NGX_ERROR;
        }

        if (v->gathered) {
            d = v->data + NGX_HTTP_WS_API_VALIDATE_HEAD + v->len;

            ngx_http_ws_api_validate_xor(d, q, k, f->mask, pos);

            v->len += k;

        } else {
            if (w != q) {
                ngx_memmove(w, q, k);
            }

            w += k;
        }

        q += k;
    }

    *qp = q;
    *wp = w;

    if (f->payload || !v->gathered || !f->fin) {
        return NGX_OK;
    }

    /* the last frame of a text message: validated */

    v->gathering = 0;
    v->gathered = 0;

    if (ngx_http_ws_api_validate_message(v) != NGX_OK) {
        return NGX_ERROR;
    }

    /* in the place of the frames it came in, if there is room */

    k = ngx_min(v->out_len, (size_t) (q - w));

    ngx_memcpy(w, v->out, k);
    v->out += k;
    v->out_len -= k;
    *wp = w + k;

    if (v->out_len == 0) {
        ngx_http_ws_api_validate_release(v);
    }

    return NGX_OK;

carry:

    ngx_memcpy(v->carry, q, end - q);
    v->carry_len = end - q;
    *qp = end;

    return NGX_OK;
}


/*
 * The raw parser found a violation at q: inside a message being gathered
 * (or in the header of one) the filter reports it itself, as nothing of
 * the message went; elsewhere the bytes go on unfiltered and the relay's
 * parser finds the same.
 */

static void
ngx_http_ws_api_validate_fail(ngx_http_ws_api_validate_t *v, u_char *q,
    u_char *end, u_char **wp)
{
    if (v->gathering || v->gathered) {
        v->error = v->frame.error;
        v->reason = v->frame.reason;
        ngx_http_ws_api_validate_release(v);
        return;
    }

    v->transparent = 1;

    if (*wp != q) {
        ngx_memmove(*wp, q, end - q);
    }

    *wp += end - q;
}


/* a whole text message: JSON that matches a schema, rebuilt as a frame */

static ngx_int_t
ngx_http_ws_api_validate_message(ngx_http_ws_api_validate_t *v)
{
    u_char                      *h;
    size_t                       hlen, len;
    uint32_t                     key;
    json_t                      *json;
    ngx_uint_t                   i, j;
    json_error_t                 jerr;
    ngx_http_ws_api_schemas_t   *set;

    set = v->schemas;
    len = v->len;

    json = json_loadb((const char *) v->data + NGX_HTTP_WS_API_VALIDATE_HEAD,
                      len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

    if (json == NULL) {
        v->error = NGX_HTTP_WS_API_CLOSE_INVALID_DATA;
        v->reason = "payload is not JSON";
        ngx_http_ws_api_validate_release(v);
        return NGX_ERROR;
    }

    /* the first schema's failure is the one reported */

    for (i = 0; i < set->n[v->dir]; i++) {
        if (ngx_http_ws_api_schema_validate(set->schema[v->dir][i], json,
                                            i ? NULL : v->why))
        {
            break;
        }
    }

    json_decref(json);

    if (i == set->n[v->dir]) {
        v->error = NGX_HTTP_WS_API_CLOSE_INVALID_DATA;
        v->reason = v->why;
        ngx_http_ws_api_validate_release(v);
        return NGX_ERROR;
    }

    /* one frame, the header just before the payload */

    hlen = 2 + (len < 126 ? 0 : (len < 65536 ? 2 : 8))
           + (v->to_backend ? 4 : 0);

    h = v->data + NGX_HTTP_WS_API_VALIDATE_HEAD - hlen;

    h[0] = 0x80 | NGX_HTTP_WS_API_VOP_TEXT;

    if (len < 126) {
        h[1] = (u_char) len;
        j = 2;

    } else if (len < 65536) {
        h[1] = 126;
        h[2] = (u_char) (len >> 8);
        h[3] = (u_char) len;
        j = 4;

    } else {
        h[1] = 127;

        for (j = 0; j < 8; j++) {
            h[2 + j] = (u_char) ((uint64_t) len >> (8 * (7 - j)));
        }

        j = 10;
    }

    if (v->to_backend) {
        h[1] |= 0x80;

        key = (uint32_t) ngx_random();
        ngx_memcpy(h + j, &key, 4);

        ngx_http_ws_api_validate_xor(h + hlen, h + hlen, len, h + j, 0);
    }

    v->out = h;
    v->out_len = hlen + len;

    return NGX_OK;
}


/* dst = src XOR the masking key, aligned at payload offset pos */

static void
ngx_http_ws_api_validate_xor(u_char *dst, const u_char *src, size_t n,
    const u_char *key, uint64_t pos)
{
    size_t    i;
    u_char    k[8];
    uint64_t  k64, w;

    for (i = 0; i < 8; i++) {
        k[i] = key[(pos + i) & 3];
    }

    ngx_memcpy(&k64, k, 8);

    for (i = 0; i + 8 <= n; i += 8) {
        ngx_memcpy(&w, src + i, 8);
        w ^= k64;
        ngx_memcpy(dst + i, &w, 8);
    }

    for ( /* void */ ; i < n; i++) {
        dst[i] = src[i] ^ k[i & 7];
    }
}


/* the memory of a message, after it went or failed */

static void
ngx_http_ws_api_validate_release(ngx_http_ws_api_validate_t *v)
{
    if (v->data) {
        free(v->data);
        v->data = NULL;
    }

    v->size = 0;
    v->len = 0;
    v->out = NULL;
    v->out_len = 0;
}
