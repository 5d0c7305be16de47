
/*
 * Copyright (C) ws-api authors
 */


/*
 * The metrics of SPEC 7 (Prometheus text exposition, version 0.0.4) and
 * the access-log variables of a gateway connection.
 *
 * The counters live in a shared zone of their own, "ws_api_metrics": a
 * table of up to NGX_HTTP_WS_API_METRICS_APIS records, one per API label
 * ("{apiName}/{apiVersion}"; record 0 is api="", for a handshake that
 * names no API, and for the APIs beyond the table's size).  Each record
 * holds one block of counters per worker slot: a worker adds to its own
 * slot with plain additions, no lock and no atomic, and a scrape sums the
 * slots.  A record is found (or made) under the zone's mutex when a
 * session begins or a handshake is refused, never while messages flow.
 *
 * The slots are 2 x W, W the worker count rounded up to a power of two,
 * at least 4: the workers of one configuration use one half, those of the
 * next (after a reload) the other, so that old workers finishing their
 * connections never add to the slot a new worker adds to.  The zone keeps
 * its data across a reload; a new worker count of the same W keeps it too,
 * another W makes a new zone (the counters start again from zero, which
 * Prometheus takes as a counter reset).
 *
 * The relay's parsers count the messages and bytes of their connection;
 * they are added to the slot once a second (the relay's watch timer) and
 * when the connection ends, so the hot path does no more than the
 * parser's own two additions per frame.
 */


#include "ngx_http_ws_api_metrics.h"
#include "ngx_http_ws_api_relay.h"
#include "ngx_http_ws_api_cache.h"
#include "ngx_http_ws_api_store.h"
#include "ngx_http_ws_api_def.h"


#define NGX_HTTP_WS_API_METRICS_APIS     256
#define NGX_HTTP_WS_API_METRICS_LABEL    (2 * NGX_HTTP_WS_API_MAX_NAME + 1)

/* handshake results */
#define NGX_HTTP_WS_API_METRICS_ACCEPTED  0
#define NGX_HTTP_WS_API_METRICS_REJECTED  1
#define NGX_HTTP_WS_API_METRICS_FAILED    2
#define NGX_HTTP_WS_API_METRICS_RESULTS   3

/* closes: 1000..1015, then these */
#define NGX_HTTP_WS_API_METRICS_C3XXX     16
#define NGX_HTTP_WS_API_METRICS_C4XXX     17
#define NGX_HTTP_WS_API_METRICS_CNONE     18
#define NGX_HTTP_WS_API_METRICS_COTHER    19
#define NGX_HTTP_WS_API_METRICS_CODES     20

#define NGX_HTTP_WS_API_METRICS_BUCKETS   7


static const char  *ngx_http_ws_api_metrics_results[] = {
    "accepted", "rejected", "failed"
};

/* the reasons of the handshake's JSON errors, and those of SPEC 4.1 */

static const char  *ngx_http_ws_api_metrics_reasons[] = {
    "other",
    "not_found",
    "not_loaded",
    "not_upgrade",
    "bad_version",
    "bad_key",
    "missing",
    "not_array",
    "invalid_type",
    "value_not_allowed",
    "ip_not_allowed",
    "origin_not_allowed",
    "credentials_required",
    "invalid_credentials",
    "application_not_registered",
    "connection_limit",
    NULL
};

#define NGX_HTTP_WS_API_METRICS_REASONS  16

/* messages refused, by close code */

static const char  *ngx_http_ws_api_metrics_violations[] = {
    "other",            /* any other code */
    "protocol_error",   /* 1002 */
    "not_declared",     /* 1003 */
    "invalid_payload",  /* 1007 */
    "rate_exceeded",    /* 1008 */
    "too_big"           /* 1009 */
};

#define NGX_HTTP_WS_API_METRICS_VIOLATIONS  6

static const ngx_uint_t  ngx_http_ws_api_metrics_bounds[] = {
    1, 10, 60, 300, 1800, 3600      /* seconds; then +Inf */
};


typedef struct {
    int64_t                      active;
    uint64_t                     handshakes[NGX_HTTP_WS_API_METRICS_RESULTS];
    uint64_t                     rejected[NGX_HTTP_WS_API_METRICS_REASONS];
    uint64_t                     messages[2][2];  /* client, server: text,
                                                     binary */
    uint64_t                     bytes[2];
    uint64_t                     refused[2][NGX_HTTP_WS_API_METRICS_VIOLATIONS];
    uint64_t                     closes[NGX_HTTP_WS_API_METRICS_CODES];
    uint64_t                     duration[NGX_HTTP_WS_API_METRICS_BUCKETS];
    uint64_t                     duration_ms;
} ngx_http_ws_api_counters_t;


typedef struct {
    size_t                       len;
    ngx_uint_t                   used;
    u_char                       label[NGX_HTTP_WS_API_METRICS_LABEL];
} ngx_http_ws_api_record_t;


typedef struct {
    ngx_uint_t                   nslots;      /* 2 x W */
    ngx_uint_t                   reloads;     /* configurations that used
                                                 the zone, less one */
    ngx_uint_t                   nrecords;
    ngx_http_ws_api_record_t     records[NGX_HTTP_WS_API_METRICS_APIS];
    /* then the counters: [record][slot] */
} ngx_http_ws_api_metrics_sh_t;


/* one a configuration (cycle) */

typedef struct {
    ngx_http_ws_api_metrics_sh_t  *sh;
    ngx_slab_pool_t              *shpool;
    ngx_uint_t                    workers;    /* W */
    ngx_uint_t                    half;       /* of the slots */
} ngx_http_ws_api_metrics_t;


static ngx_int_t ngx_http_ws_api_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_ws_api_metrics_t *ngx_http_ws_api_metrics_get(void);
static ngx_http_ws_api_counters_t *ngx_http_ws_api_metrics_counters(
    ngx_http_ws_api_metrics_t *m, ngx_uint_t rec, ngx_uint_t slot);
static ngx_http_ws_api_counters_t *ngx_http_ws_api_metrics_find(
    ngx_http_ws_api_metrics_t *m, ngx_str_t *name, ngx_str_t *version);
static ngx_int_t ngx_http_ws_api_metrics_handler(ngx_http_request_t *r);
static u_char *ngx_http_ws_api_metrics_label(u_char *p,
    ngx_http_ws_api_record_t *rec);
static ngx_int_t ngx_http_ws_api_metrics_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_str_t  ngx_http_ws_api_metrics_name = ngx_string("ws_api_metrics");

static ngx_uint_t  ngx_http_ws_api_metrics_ticks;


/* the access-log variables: which count */

#define NGX_HTTP_WS_API_VAR_MESSAGES_IN   0
#define NGX_HTTP_WS_API_VAR_MESSAGES_OUT  1
#define NGX_HTTP_WS_API_VAR_BYTES_IN      2
#define NGX_HTTP_WS_API_VAR_BYTES_OUT     3
#define NGX_HTTP_WS_API_VAR_DURATION      4

static ngx_http_variable_t  ngx_http_ws_api_metrics_vars[] = {

    { ngx_string("ws_api_messages_in"), NULL,
      ngx_http_ws_api_metrics_variable, NGX_HTTP_WS_API_VAR_MESSAGES_IN,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("ws_api_messages_out"), NULL,
      ngx_http_ws_api_metrics_variable, NGX_HTTP_WS_API_VAR_MESSAGES_OUT,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("ws_api_bytes_in"), NULL,
      ngx_http_ws_api_metrics_variable, NGX_HTTP_WS_API_VAR_BYTES_IN,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("ws_api_bytes_out"), NULL,
      ngx_http_ws_api_metrics_variable, NGX_HTTP_WS_API_VAR_BYTES_OUT,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("ws_api_duration"), NULL,
      ngx_http_ws_api_metrics_variable, NGX_HTTP_WS_API_VAR_DURATION,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_ws_api_metrics_add(ngx_conf_t *cf, ngx_http_ws_api_main_conf_t *wmcf)
{
    size_t                      size;
    ngx_int_t                   n;
    ngx_uint_t                  w;
    ngx_core_conf_t            *ccf;
    ngx_shm_zone_t             *shm_zone;
    ngx_http_ws_api_metrics_t  *m;

    /*
     * worker_processes is known here when it comes before "http", as it
     * does in every configuration nginx ships; otherwise "auto" is assumed
     */

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    n = ccf->worker_processes;

    if (n == NGX_CONF_UNSET) {
        n = ngx_ncpu;
    }

    for (w = 4; w < (ngx_uint_t) n; w *= 2) { /* void */ }

    m = ngx_pcalloc(cf->pool, sizeof(ngx_http_ws_api_metrics_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    m->workers = w;

    size = sizeof(ngx_http_ws_api_metrics_sh_t)
           + NGX_HTTP_WS_API_METRICS_APIS * 2 * w
             * sizeof(ngx_http_ws_api_counters_t);

    /* the slab pool's own pages and page descriptors */

    size = ngx_align(size + size / 32 + 16 * ngx_pagesize, ngx_pagesize);

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_ws_api_metrics_name, size,
                                     &ngx_http_ws_api_metrics_name);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_ws_api_metrics_init_zone;
    shm_zone->data = m;

    wmcf->metrics_zone = shm_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_ws_api_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_ws_api_metrics_t *om = data;

    size_t                      size;
    ngx_http_ws_api_metrics_t  *m;

    m = shm_zone->data;

    if (om) {
        /* a reload: the counters go on; the other half of the slots */

        m->sh = om->sh;
        m->shpool = om->shpool;

        m->sh->reloads++;
        m->half = m->sh->reloads & 1;

        return NGX_OK;
    }

    m->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    size = sizeof(ngx_http_ws_api_metrics_sh_t)
           + NGX_HTTP_WS_API_METRICS_APIS * 2 * m->workers
             * sizeof(ngx_http_ws_api_counters_t);

    m->sh = ngx_slab_alloc(m->shpool, size);
    if (m->sh == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(m->sh, size);

    m->sh->nslots = 2 * m->workers;
    m->sh->nrecords = 1;
    m->sh->records[0].used = 1;

    m->half = 0;

    return NGX_OK;
}


char *
ngx_http_ws_api_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_ws_api_main_conf_t  *wmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_ws_api_metrics_handler;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_ws_api_module);

    if (wmcf->used == NULL) {
        wmcf->used = "ws_api_metrics";
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_ws_api_metrics_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_ws_api_metrics_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* the current configuration's; NULL: the module is not in use */

static ngx_http_ws_api_metrics_t *
ngx_http_ws_api_metrics_get(void)
{
    ngx_http_ws_api_main_conf_t  *wmcf;

    wmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_ws_api_module);

    if (wmcf == NULL || wmcf->metrics_zone == NULL) {
        return NULL;
    }

    return wmcf->metrics_zone->data;
}


static ngx_http_ws_api_counters_t *
ngx_http_ws_api_metrics_counters(ngx_http_ws_api_metrics_t *m,
    ngx_uint_t rec, ngx_uint_t slot)
{
    ngx_http_ws_api_counters_t  *base;

    base = (ngx_http_ws_api_counters_t *) (m->sh + 1);

    return base + rec * m->sh->nslots + slot;
}


/* this worker's counters of an API (name NULL: api=""), under the mutex */

static ngx_http_ws_api_counters_t *
ngx_http_ws_api_metrics_find(ngx_http_ws_api_metrics_t *m, ngx_str_t *name,
    ngx_str_t *version)
{
    u_char                        label[NGX_HTTP_WS_API_METRICS_LABEL];
    size_t                        len;
    ngx_uint_t                    i, slot;
    ngx_http_ws_api_record_t     *rec;
    ngx_http_ws_api_metrics_sh_t *sh;

    sh = m->sh;
    i = 0;

    if (name && name->len + 1 + version->len <= sizeof(label)) {
        len = ngx_sprintf(label, "%V/%V", name, version) - label;

        ngx_shmtx_lock(&m->shpool->mutex);

        for (i = 1; i < sh->nrecords; i++) {
            rec = &sh->records[i];

            if (rec->len == len && ngx_memcmp(rec->label, label, len) == 0) {
                break;
            }
        }

        if (i == sh->nrecords) {

            if (i < NGX_HTTP_WS_API_METRICS_APIS) {
                rec = &sh->records[i];
                ngx_memcpy(rec->label, label, len);
                rec->len = len;
                rec->used = 1;
                sh->nrecords++;

            } else {
                /* the table is full: counted under api="" */
                i = 0;
            }
        }

        ngx_shmtx_unlock(&m->shpool->mutex);
    }

    slot = m->half * (sh->nslots / 2) + ngx_worker % (sh->nslots / 2);

    return ngx_http_ws_api_metrics_counters(m, i, slot);
}


void
ngx_http_ws_api_metrics_reject(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *version, const char *reason)
{
    ngx_uint_t                   i;
    ngx_http_ws_api_ctx_t       *ctx;
    ngx_http_ws_api_metrics_t   *m;
    ngx_http_ws_api_counters_t  *c;

    m = ngx_http_ws_api_metrics_get();
    if (m == NULL) {
        return;
    }

    c = ngx_http_ws_api_metrics_find(m, name, version);

    for (i = 1; ngx_http_ws_api_metrics_reasons[i]; i++) {
        if (ngx_strcmp(ngx_http_ws_api_metrics_reasons[i], reason) == 0) {
            break;
        }
    }

    if (ngx_http_ws_api_metrics_reasons[i] == NULL) {
        i = 0;
    }

    c->handshakes[NGX_HTTP_WS_API_METRICS_REJECTED]++;
    c->rejected[i]++;

    /* a context made before the refusal (maxConnections): counted here */

    ctx = ngx_http_get_module_ctx(r, ngx_http_ws_api_module);

    if (ctx) {
        ctx->metrics.rejected = 1;
    }
}


void
ngx_http_ws_api_metrics_open(ngx_http_ws_api_ctx_t *ctx)
{
    ngx_http_ws_api_metrics_t   *m;
    ngx_http_ws_api_counters_t  *c;

    ctx->metrics.start = ngx_current_msec;

    m = ngx_http_ws_api_metrics_get();
    if (m == NULL) {
        return;
    }

    c = ngx_http_ws_api_metrics_find(m, &ctx->name, &ctx->version);

    c->handshakes[NGX_HTTP_WS_API_METRICS_ACCEPTED]++;
    c->active++;

    ctx->metrics.counters = c;
}


void
ngx_http_ws_api_metrics_violation(ngx_http_ws_api_ctx_t *ctx,
    ngx_uint_t client, ngx_uint_t code)
{
    ngx_uint_t                   i;
    ngx_http_ws_api_counters_t  *c;

    c = ctx->metrics.counters;

    if (c == NULL) {
        return;
    }

    switch (code) {
    case NGX_HTTP_WS_API_CLOSE_PROTOCOL:
        i = 1;
        break;
    case NGX_HTTP_WS_API_CLOSE_UNSUPPORTED:
        i = 2;
        break;
    case NGX_HTTP_WS_API_CLOSE_INVALID_DATA:
        i = 3;
        break;
    case NGX_HTTP_WS_API_CLOSE_POLICY:
        i = 4;
        break;
    case NGX_HTTP_WS_API_CLOSE_TOO_BIG:
        i = 5;
        break;
    default:
        i = 0;
    }

    c->refused[client ? 0 : 1][i]++;
}


void
ngx_http_ws_api_metrics_flush(ngx_http_ws_api_ctx_t *ctx,
    ngx_http_ws_api_frame_t *up, ngx_http_ws_api_frame_t *down)
{
    ngx_uint_t                   d;
    uint64_t                    *f;
    ngx_http_ws_api_frame_t     *fr;
    ngx_http_ws_api_counters_t  *c;

    c = ctx->metrics.counters;

    if (c == NULL) {
        return;
    }

    for (d = 0; d < 2; d++) {
        fr = d ? down : up;
        f = ctx->metrics.flushed[d];

        c->messages[d][0] += fr->messages[0] - f[0];
        c->messages[d][1] += fr->messages[1] - f[1];
        c->bytes[d] += fr->data_bytes - f[2];

        f[0] = fr->messages[0];
        f[1] = fr->messages[1];
        f[2] = fr->data_bytes;
    }
}


ngx_uint_t
ngx_http_ws_api_metrics_due(void)
{
    return (++ngx_http_ws_api_metrics_ticks
            % (1000 / NGX_HTTP_WS_API_METRICS_TICK)) == 0;
}


void
ngx_http_ws_api_metrics_close(ngx_http_ws_api_ctx_t *ctx,
    ngx_http_ws_api_frame_t *up, ngx_http_ws_api_frame_t *down)
{
    ngx_uint_t                   i, code;
    ngx_msec_t                   ms;
    ngx_http_ws_api_metrics_t   *m;
    ngx_http_ws_api_counters_t  *c;

    c = ctx->metrics.counters;

    if (c == NULL) {

        if (ctx->metrics.rejected) {
            return;
        }

        /* past the gateway's checks, but the backend did not switch */

        m = ngx_http_ws_api_metrics_get();
        if (m == NULL) {
            return;
        }

        c = ngx_http_ws_api_metrics_find(m, &ctx->name, &ctx->version);
        c->handshakes[NGX_HTTP_WS_API_METRICS_FAILED]++;

        return;
    }

    if (up && down) {
        ngx_http_ws_api_metrics_flush(ctx, up, down);
    }

    code = ctx->close_code;

    if (code >= 1000 && code <= 1015) {
        i = code - 1000;

    } else if (code >= 3000 && code <= 3999) {
        i = NGX_HTTP_WS_API_METRICS_C3XXX;

    } else if (code >= 4000 && code <= 4999) {
        i = NGX_HTTP_WS_API_METRICS_C4XXX;

    } else if (code == 0) {
        i = NGX_HTTP_WS_API_METRICS_CNONE;

    } else {
        i = NGX_HTTP_WS_API_METRICS_COTHER;
    }

    c->closes[i]++;

    ms = ngx_current_msec - ctx->metrics.start;

    for (i = 0; i < NGX_HTTP_WS_API_METRICS_BUCKETS - 1; i++) {
        if (ms <= ngx_http_ws_api_metrics_bounds[i] * 1000) {
            break;
        }
    }

    c->duration[i]++;
    c->duration_ms += ms;

    c->active--;

    ctx->metrics.counters = NULL;
    ctx->metrics.rejected = 1;
}


/* the scrape */

typedef struct {
    ngx_http_ws_api_record_t    *rec;
    ngx_http_ws_api_counters_t   sum;
} ngx_http_ws_api_metrics_row_t;


#define ngx_http_ws_api_metrics_text(p, s)                                   \
    ngx_cpymem(p, s, sizeof(s) - 1)


static ngx_int_t
ngx_http_ws_api_metrics_handler(ngx_http_request_t *r)
{
    u_char                         *p;
    size_t                          len;
    int64_t                         active;
    uint64_t                       *src, *dst, cum, rev;
    ngx_int_t                       rc;
    ngx_buf_t                      *b;
    ngx_uint_t                      i, j, k, n, s, nrows, up;
    ngx_chain_t                     out;
    ngx_http_ws_api_cache_t        *cache;
    ngx_http_ws_api_metrics_t      *m;
    ngx_http_ws_api_counters_t     *c;
    ngx_http_ws_api_metrics_row_t  *rows, *row;
    ngx_http_ws_api_main_conf_t    *wmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_ws_api_module);
    m = ngx_http_ws_api_metrics_get();

    if (m == NULL || wmcf->shm_zone == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the records and the sums of their slots */

    ngx_shmtx_lock(&m->shpool->mutex);
    nrows = m->sh->nrecords;
    ngx_shmtx_unlock(&m->shpool->mutex);

    rows = ngx_pcalloc(r->pool, nrows * sizeof(ngx_http_ws_api_metrics_row_t));
    if (rows == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = sizeof(ngx_http_ws_api_counters_t) / sizeof(uint64_t);

    for (i = 0; i < nrows; i++) {
        row = &rows[i];
        row->rec = &m->sh->records[i];

        active = 0;

        for (s = 0; s < m->sh->nslots; s++) {
            c = ngx_http_ws_api_metrics_counters(m, i, s);

            active += c->active;

            src = (uint64_t *) c;
            dst = (uint64_t *) &row->sum;

            for (k = 1; k < n; k++) {
                dst[k] += src[k];
            }
        }

        row->sum.active = active > 0 ? active : 0;
    }

    cache = wmcf->shm_zone->data;
    rev = cache->sh->rev;
    up = (wmcf->store && wmcf->store->cmd.ready) ? 1 : 0;

    /* a line is at most its name, the label and 2 numbers */

    len = 4096 + nrows * (NGX_HTTP_WS_API_METRICS_LABEL * 2 + 160)
                 * (NGX_HTTP_WS_API_METRICS_RESULTS
                    + NGX_HTTP_WS_API_METRICS_REASONS + 4 + 2
                    + 2 * NGX_HTTP_WS_API_METRICS_VIOLATIONS
                    + NGX_HTTP_WS_API_METRICS_CODES
                    + NGX_HTTP_WS_API_METRICS_BUCKETS + 4);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->pos;

    /* the record 0 (api="") shows only what it counted */

#define ngx_http_ws_api_metrics_skip(i, v)  ((i) == 0 && (v) == 0)

    p = ngx_http_ws_api_metrics_text(p,
            "# HELP ws_api_connections_active Live WebSocket connections.\n"
            "# TYPE ws_api_connections_active gauge\n");

    for (i = 1; i < nrows; i++) {
        p = ngx_http_ws_api_metrics_text(p, "ws_api_connections_active{api=\"");
        p = ngx_http_ws_api_metrics_label(p, rows[i].rec);
        p = ngx_sprintf(p, "\"} %L\n", rows[i].sum.active);
    }

    p = ngx_http_ws_api_metrics_text(p,
            "# HELP ws_api_handshakes_total WebSocket handshakes by result.\n"
            "# TYPE ws_api_handshakes_total counter\n");

    for (i = 0; i < nrows; i++) {
        for (j = 0; j < NGX_HTTP_WS_API_METRICS_RESULTS; j++) {
            if (ngx_http_ws_api_metrics_skip(i, rows[i].sum.handshakes[j])) {
                continue;
            }

            p = ngx_http_ws_api_metrics_text(p, "ws_api_handshakes_total{api=\"");
            p = ngx_http_ws_api_metrics_label(p, rows[i].rec);
            p = ngx_sprintf(p, "\",result=\"%s\"} %uL\n",
                            ngx_http_ws_api_metrics_results[j],
                            rows[i].sum.handshakes[j]);
        }
    }

    p = ngx_http_ws_api_metrics_text(p,
            "# HELP ws_api_handshakes_rejected_total Handshakes the gateway "
            "refused, by reason.\n"
            "# TYPE ws_api_handshakes_rejected_total counter\n");

    for (i = 0; i < nrows; i++) {
        for (j = 0; j < NGX_HTTP_WS_API_METRICS_REASONS; j++) {
            if (rows[i].sum.rejected[j] == 0) {
                continue;
            }

            p = ngx_http_ws_api_metrics_text(p,
                    "ws_api_handshakes_rejected_total{api=\"");
            p = ngx_http_ws_api_metrics_label(p, rows[i].rec);
            p = ngx_sprintf(p, "\",reason=\"%s\"} %uL\n",
                            ngx_http_ws_api_metrics_reasons[j],
                            rows[i].sum.rejected[j]);
        }
    }

    p = ngx_http_ws_api_metrics_text(p,
            "# HELP ws_api_messages_total Data messages relayed, by sender "
            "and type.\n"
            "# TYPE ws_api_messages_total counter\n");

    for (i = 1; i < nrows; i++) {
        for (j = 0; j < 4; j++) {
            p = ngx_http_ws_api_metrics_text(p, "ws_api_messages_total{api=\"");
            p = ngx_http_ws_api_metrics_label(p, rows[i].rec);
            p = ngx_sprintf(p, "\",direction=\"%s\",type=\"%s\"} %uL\n",
                            (j >> 1) ? "server" : "client",
                            (j & 1) ? "binary" : "text",
                            rows[i].sum.messages[j >> 1][j & 1]);
        }
    }

    p = ngx_http_ws_api_metrics_text(p,
            "# HELP ws_api_message_bytes_total Payload bytes of the data "
            "messages relayed, by sender.\n"
            "# TYPE ws_api_message_bytes_total counter\n");

    for (i = 1; i < nrows; i++) {
        for (j = 0; j < 2; j++) {
            p = ngx_http_ws_api_metrics_text(p,
                    "ws_api_message_bytes_total{api=\"");
            p = ngx_http_ws_api_metrics_label(p, rows[i].rec);
            p = ngx_sprintf(p, "\",direction=\"%s\"} %uL\n",
                            j ? "server" : "client", rows[i].sum.bytes[j]);
        }
    }

    p = ngx_http_ws_api_metrics_text(p,
            "# HELP ws_api_messages_rejected_total Messages refused by the "
            "relay's checks, by sender and reason.\n"
            "# TYPE ws_api_messages_rejected_total counter\n");

    for (i = 1; i < nrows; i++) {
        for (j = 0; j < 2 * NGX_HTTP_WS_API_METRICS_VIOLATIONS; j++) {
            k = j % NGX_HTTP_WS_API_METRICS_VIOLATIONS;
            cum = rows[i].sum.refused[j / NGX_HTTP_WS_API_METRICS_VIOLATIONS][k];

            if (cum == 0) {
                continue;
            }

            p = ngx_http_ws_api_metrics_text(p,
                    "ws_api_messages_rejected_total{api=\"");
            p = ngx_http_ws_api_metrics_label(p, rows[i].rec);
            p = ngx_sprintf(p, "\",direction=\"%s\",reason=\"%s\"} %uL\n",
                            j / NGX_HTTP_WS_API_METRICS_VIOLATIONS
                            ? "server" : "client",
                            ngx_http_ws_api_metrics_violations[k], cum);
        }
    }

    p = ngx_http_ws_api_metrics_text(p,
            "# HELP ws_api_closes_total Connections ended, by the first "
            "close code (none: no close frame).\n"
            "# TYPE ws_api_closes_total counter\n");

    for (i = 1; i < nrows; i++) {
        for (j = 0; j < NGX_HTTP_WS_API_METRICS_CODES; j++) {
            if (rows[i].sum.closes[j] == 0) {
                continue;
            }

            p = ngx_http_ws_api_metrics_text(p, "ws_api_closes_total{api=\"");
            p = ngx_http_ws_api_metrics_label(p, rows[i].rec);

            switch (j) {
            case NGX_HTTP_WS_API_METRICS_C3XXX:
                p = ngx_http_ws_api_metrics_text(p, "\",code=\"3xxx");
                break;
            case NGX_HTTP_WS_API_METRICS_C4XXX:
                p = ngx_http_ws_api_metrics_text(p, "\",code=\"4xxx");
                break;
            case NGX_HTTP_WS_API_METRICS_CNONE:
                p = ngx_http_ws_api_metrics_text(p, "\",code=\"none");
                break;
            case NGX_HTTP_WS_API_METRICS_COTHER:
                p = ngx_http_ws_api_metrics_text(p, "\",code=\"other");
                break;
            default:
                p = ngx_sprintf(p, "\",code=\"%ui", 1000 + j);
            }

            p = ngx_sprintf(p, "\"} %uL\n", rows[i].sum.closes[j]);
        }
    }

    p = ngx_http_ws_api_metrics_text(p,
            "# HELP ws_api_connection_duration_seconds How long upgraded "
            "connections lasted.\n"
            "# TYPE ws_api_connection_duration_seconds histogram\n");

    for (i = 1; i < nrows; i++) {
        cum = 0;

        for (j = 0; j < NGX_HTTP_WS_API_METRICS_BUCKETS; j++) {
            cum += rows[i].sum.duration[j];

            p = ngx_http_ws_api_metrics_text(p,
                    "ws_api_connection_duration_seconds_bucket{api=\"");
            p = ngx_http_ws_api_metrics_label(p, rows[i].rec);

            if (j < NGX_HTTP_WS_API_METRICS_BUCKETS - 1) {
                p = ngx_sprintf(p, "\",le=\"%ui\"} %uL\n",
                                ngx_http_ws_api_metrics_bounds[j], cum);

            } else {
                p = ngx_sprintf(p, "\",le=\"+Inf\"} %uL\n", cum);
            }
        }

        p = ngx_http_ws_api_metrics_text(p,
                "ws_api_connection_duration_seconds_sum{api=\"");
        p = ngx_http_ws_api_metrics_label(p, rows[i].rec);
        p = ngx_sprintf(p, "\"} %uL.%03uL\n",
                        rows[i].sum.duration_ms / 1000,
                        rows[i].sum.duration_ms % 1000);

        p = ngx_http_ws_api_metrics_text(p,
                "ws_api_connection_duration_seconds_count{api=\"");
        p = ngx_http_ws_api_metrics_label(p, rows[i].rec);
        p = ngx_sprintf(p, "\"} %uL\n", cum);
    }

    p = ngx_sprintf(p,
            "# HELP ws_api_redis_up Whether the answering worker is "
            "connected to Redis.\n"
            "# TYPE ws_api_redis_up gauge\n"
            "ws_api_redis_up %ui\n"
            "# HELP ws_api_definitions_revision The Redis revision of the "
            "definitions in shared memory.\n"
            "# TYPE ws_api_definitions_revision gauge\n"
            "ws_api_definitions_revision %uL\n", up, rev);

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* a label value, escaped as the exposition format wants */

static u_char *
ngx_http_ws_api_metrics_label(u_char *p, ngx_http_ws_api_record_t *rec)
{
    size_t   i;
    u_char   ch;

    for (i = 0; i < rec->len; i++) {
        ch = rec->label[i];

        switch (ch) {
        case '\\':
            *p++ = '\\';
            *p++ = '\\';
            break;
        case '"':
            *p++ = '\\';
            *p++ = '"';
            break;
        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;
        default:
            *p++ = ch;
        }
    }

    return p;
}


/*
 * The access-log variables: the counts of the relay's parsers ("in" is
 * what the client sent, "out" what the backend sent towards the client),
 * not found for a request that was never upgraded.
 */

static ngx_int_t
ngx_http_ws_api_metrics_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                   *p;
    uint64_t                  n;
    ngx_msec_t                ms;
    ngx_http_ws_api_ctx_t    *ctx;
    ngx_http_ws_api_frame_t  *f;

    ctx = ngx_http_ws_api_gateway_ctx(r);

    if (ctx == NULL || ctx->relay == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;

    if (data == NGX_HTTP_WS_API_VAR_DURATION) {
        ms = ngx_current_msec - ctx->metrics.start;
        p = ngx_sprintf(p, "%M.%03M", ms / 1000, ms % 1000);

    } else {
        f = ngx_http_ws_api_relay_frame(ctx->relay,
                                  data == NGX_HTTP_WS_API_VAR_MESSAGES_IN
                                  || data == NGX_HTTP_WS_API_VAR_BYTES_IN);

        if (data <= NGX_HTTP_WS_API_VAR_MESSAGES_OUT) {
            n = f->messages[0] + f->messages[1];

        } else {
            n = f->data_bytes;
        }

        p = ngx_sprintf(p, "%uL", n);
    }

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
