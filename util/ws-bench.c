
/*
 * Copyright (C) ws-api authors
 */


/*
 * ws-bench: the instrument of the performance work.  One file, libc only,
 * one thread, edge-triggered epoll.
 *
 *   ws-bench echo --listen 127.0.0.1:PORT
 *       a WebSocket echo backend: every data frame comes back unmasked with
 *       the same opcode and FIN bit (a message sent as one frame comes back
 *       as one frame), ping is answered with pong, close with close.
 *
 *   ws-bench throughput --url ws://HOST:PORT/PATH?QUERY [-H 'N: v']...
 *       -c CONNS -w WINDOW -s SIZE --text|--binary -d SECS [--warmup SECS]
 *       CONNS connections each keep WINDOW messages in flight; every
 *       payload starts with its send time (CLOCK_MONOTONIC, nanoseconds:
 *       16 hex digits for text, 8 bytes little-endian for binary; with
 *       --json-text, a text that is the JSON array ["STAMP","abc..."]).  With
 *       --rate R, messages go out at R per second in all (each connection
 *       still within its window): the proxies' CPU at the same load.
 *
 *   ws-bench handshake --url ... -c CONCURRENCY (-n TOTAL | -d SECS)
 *       connect, upgrade (Sec-WebSocket-Accept checked), masked close,
 *       wait for the close frame or EOF, close; CONCURRENCY at a time.
 *       The latency is connect() to the 101.
 *
 *   ws-bench idle --url ... -c N --hold SECS [--ping-every SECS]
 *       [--batch N] [--rss-pid PID]
 *       N connections, at most --batch (500) of them connecting at a time
 *       (the listen backlog), held, then closed; "ready established=N" on
 *       stderr once they are all up.  --rss-pid: VmRSS and VmData of that
 *       process before the first connection and at the end of the hold.
 *
 * Every mode closes a connection with a masked close frame and then waits
 * for the server's close frame and EOF (RFC 6455 7.1.1: the server closes
 * the TCP connection first, so the TIME_WAIT is not here).
 *
 * Common options: --cpu-pid PID (repeatable: CPU seconds of that process,
 * all its threads, over the measured window: cpu_s, cpu_util), --aux-pid
 * PID (the same, reported as aux_cpu_s), --quiet, --json.  The figures also
 * hold this process's CPU (self_cpu_s) and the whole machine's from
 * /proc/stat (host_cpu_s: user, nice and system of every process), so that
 * CPU taken by processes outside the benchmark can be told apart.
 *
 * Output: one line of key=value figures (or a JSON object) on stdout;
 * progress and the first error on stderr.  Exit status 0 when there was
 * progress and no error, 1 otherwise, 2 on a usage or setup error.
 */


#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>


#define WB_RBUF_SIZE      (256 * 1024)
#define WB_HEADROOM       16
#define WB_REQ_MAX        8192
#define WB_MAX_EVENTS     1024
#define WB_MAX_PIDS       8
#define WB_OUT_HIGH       (4 * 1024 * 1024)
#define WB_CLOSE_GRACE    5.0
#define WB_EOF_GRACE      2.0
#define WB_HS_TIMEOUT     10.0

#define WB_WS_GUID        "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#define WB_OP_CONT        0x0
#define WB_OP_TEXT        0x1
#define WB_OP_BINARY      0x2
#define WB_OP_CLOSE       0x8
#define WB_OP_PING        0x9
#define WB_OP_PONG        0xa

/* latency histogram: exact below 128 ns, then 64 buckets per power of two */
#define WB_HIST_SUB       64
#define WB_HIST_SIZE      (128 + WB_HIST_SUB * 58)


typedef struct {
    unsigned char          *data;
    size_t                  pos;          /* first byte not sent */
    size_t                  len;          /* end of the bytes */
    size_t                  cap;
} wb_buf_t;


typedef struct {
    unsigned char           hdr[14];
    unsigned                hlen;         /* header bytes collected */
    unsigned                need;         /* header bytes of this frame */
    unsigned                in_payload:1;
    unsigned                fin:1;
    unsigned                masked:1;
    unsigned                opcode;
    uint64_t                len;
    uint64_t                remain;
    uint64_t                off;          /* payload bytes seen */
    unsigned char           mask[4];
} wb_frame_t;


typedef struct {
    int                     fd;
    unsigned                handshake:1;  /* still reading the request */
    unsigned                closing:1;    /* close sent: close when flushed */
    unsigned                paused:1;     /* reading stopped: output full */
    wb_frame_t              f;
    unsigned                ctl_len;
    unsigned char           ctl[125];
    char                   *req;
    size_t                  req_len;
    wb_buf_t                out;
} wb_echo_conn_t;


typedef enum {
    WB_FREE = 0,
    WB_CONNECTING,
    WB_UPGRADING,                          /* request sent, waiting for 101 */
    WB_OPEN,
    WB_CLOSING,                            /* close sent, waiting for close */
    WB_CLOSED,                             /* close got, waiting for EOF */
    WB_DONE
} wb_state_e;


typedef struct {
    int                     fd;
    wb_state_e              state;
    unsigned                pong_due:1;
    uint64_t                started;      /* connect() */
    uint64_t                deadline;
    char                   *resp;
    size_t                  resp_len;
    char                    accept[32];
    wb_buf_t                out;
    wb_frame_t              f;
    unsigned                stamp_len;
    size_t                  seen;         /* payload bytes of the message */
    unsigned char           stamp[16];
    unsigned char           last;         /* last payload byte seen */
    unsigned                ctl_len;
    unsigned char           ctl[125];
    unsigned                inflight;
} wb_conn_t;


typedef enum {
    WB_MODE_THROUGHPUT,
    WB_MODE_HANDSHAKE,
    WB_MODE_IDLE
} wb_mode_e;


typedef struct {
    wb_mode_e               mode;
    const char             *url;
    char                   *host;         /* the Host header */
    char                   *target;       /* path and query */
    struct sockaddr_storage addr;
    socklen_t               addrlen;
    char                   *headers;      /* "Name: value\r\n"... */
    size_t                  headers_len;
    long                    conns;
    long                    window;
    size_t                  size;
    int                     binary;
    int                     json_text;    /* text that is a JSON array */
    int                     type_set;
    double                  secs;
    double                  warmup;
    long                    total;
    double                  hold;
    double                  ping_every;
    double                  rate;         /* messages/s to send, 0: free */
    long                    batch;
    int                     quiet;
    int                     json;
    int                     cpu_pids[WB_MAX_PIDS];
    int                     ncpu_pids;
    int                     aux_pids[WB_MAX_PIDS];
    int                     naux_pids;
} wb_opts_t;


typedef struct {
    uint64_t                hist[WB_HIST_SIZE];
    uint64_t                count;
    uint64_t                max;
} wb_hist_t;


static void wb_usage(void);
static void wb_die(const char *fmt, ...);
static uint64_t wb_now(void);
static uint32_t wb_rand32(void);
static void wb_sha1(const unsigned char *data, size_t len,
    unsigned char out[20]);
static size_t wb_base64(const unsigned char *in, size_t len, char *out);
static void wb_accept_key(const char *key, size_t len, char out[32]);
static const char *wb_header_value(const char *hdrs, const char *name,
    size_t *len);
static unsigned char *wb_buf_reserve(wb_buf_t *b, size_t n);
static void wb_buf_free(wb_buf_t *b);
static int wb_buf_send(int fd, wb_buf_t *b);
static int wb_frame_header(wb_frame_t *f, const unsigned char *p, size_t n,
    const char **err);
static void wb_mask_copy(unsigned char *dst, const unsigned char *src,
    size_t n, const unsigned char mask[4], uint64_t off);
static void wb_hist_add(wb_hist_t *h, uint64_t v);
static double wb_hist_quantile(wb_hist_t *h, double q);
static double wb_proc_cpu(const int *pids, int n);
static void wb_host_cpu(double out[3]);
static double wb_self_cpu(void);
static void wb_raise_nofile(long need);
static int wb_nonblock_socket(int family);
static void wb_epoll_add(int fd, void *ptr, uint32_t events);

static int wb_echo_main(int argc, char **argv);
static void wb_echo_event(wb_echo_conn_t *c, uint32_t ev);
static int wb_echo_request(wb_echo_conn_t *c, unsigned char *p, size_t n);
static int wb_echo_frames(wb_echo_conn_t *c, unsigned char *p, size_t n);
static int wb_echo_send(wb_echo_conn_t *c, unsigned char *p, size_t n);
static int wb_echo_flush(wb_echo_conn_t *c);
static void wb_echo_close(wb_echo_conn_t *c);

static int wb_client_main(wb_mode_e mode, int argc, char **argv);
static void wb_parse_url(wb_opts_t *o, const char *url);
static void wb_conn_start(wb_conn_t *c);
static void wb_conn_event(wb_conn_t *c, uint32_t ev);
static int wb_conn_response(wb_conn_t *c, unsigned char *p, size_t n);
static int wb_conn_frames(wb_conn_t *c, unsigned char *p, size_t n);
static int wb_conn_frame_done(wb_conn_t *c);
static void wb_conn_send_msg(wb_conn_t *c);
static void wb_conn_send_control(wb_conn_t *c, unsigned opcode,
    const unsigned char *payload, size_t len);
static int wb_conn_flush(wb_conn_t *c);
static void wb_conn_fail(wb_conn_t *c, const char *fmt, ...);
static void wb_conn_finish(wb_conn_t *c);
static void wb_conn_close(wb_conn_t *c);


static int              wb_ep = -1;
static int              wb_listen_fd = -1;
static uint64_t         wb_rng;
static uint64_t         wb_t0;
static unsigned char    wb_rbuf[WB_HEADROOM + WB_RBUF_SIZE];

/* client state */
static wb_opts_t        wb_o;
static wb_conn_t       *wb_conns;
static wb_hist_t        wb_hist;
static unsigned char   *wb_tmpl;              /* payload without the stamp */
static unsigned         wb_stamp_size;
static unsigned         wb_stamp_off;          /* 2 for --json-text */
static char            *wb_request;
static size_t           wb_request_len;
static char             wb_first_error[256];

enum {
    WB_PHASE_SETUP,                          /* connecting */
    WB_PHASE_WARMUP,
    WB_PHASE_MEASURE,
    WB_PHASE_HOLD,                           /* idle: all connected */
    WB_PHASE_CLOSING,
    WB_PHASE_OVER
};

static int              wb_phase;
static long             wb_started;           /* connections started */
static long             wb_pending;           /* connecting or upgrading */
static long             wb_active;            /* not done */
static long             wb_open_now;          /* open right now */
static long             wb_established;       /* ever reached 101 */
static long             wb_errors;
static long             wb_close_errors;
static uint64_t         wb_msgs;
static uint64_t         wb_handshakes;
static uint64_t         wb_pings;
static uint64_t         wb_pongs;


int
main(int argc, char **argv)
{
    uint64_t  seed;

    signal(SIGPIPE, SIG_IGN);

    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
        seed = wb_now() ^ ((uint64_t) getpid() << 32);
    }

    wb_rng = seed | 1;
    wb_t0 = wb_now();

    if (argc < 2) {
        wb_usage();
        return 2;
    }

    if (strcmp(argv[1], "echo") == 0) {
        return wb_echo_main(argc - 1, argv + 1);
    }

    if (strcmp(argv[1], "throughput") == 0) {
        return wb_client_main(WB_MODE_THROUGHPUT, argc - 1, argv + 1);
    }

    if (strcmp(argv[1], "handshake") == 0) {
        return wb_client_main(WB_MODE_HANDSHAKE, argc - 1, argv + 1);
    }

    if (strcmp(argv[1], "idle") == 0) {
        return wb_client_main(WB_MODE_IDLE, argc - 1, argv + 1);
    }

    wb_usage();

    return 2;
}


static void
wb_usage(void)
{
    fprintf(stderr,
        "usage: ws-bench echo --listen ADDR:PORT\n"
        "       ws-bench throughput --url ws://HOST:PORT/PATH?QUERY "
        "[-H 'Name: value']...\n"
        "                -c CONNS -w WINDOW -s SIZE "
        "--text|--binary|--json-text -d SECS [--warmup SECS] "
        "[--rate MSGS/S]\n"
        "       ws-bench handshake --url URL [-H ...] -c CONCURRENCY "
        "-n TOTAL | -d SECS\n"
        "       ws-bench idle --url URL [-H ...] -c N --hold SECS "
        "[--ping-every SECS] [--batch N] [--rss-pid PID]\n"
        "common: --cpu-pid PID, --aux-pid PID (CPU over the measured "
        "window), --quiet, --json\n");
}


static void
wb_die(const char *fmt, ...)
{
    va_list  ap;

    fprintf(stderr, "ws-bench: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");

    exit(2);
}


static uint64_t
wb_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


/* xorshift64*: masks and keys need to vary, not to be secret */

static uint32_t
wb_rand32(void)
{
    wb_rng ^= wb_rng >> 12;
    wb_rng ^= wb_rng << 25;
    wb_rng ^= wb_rng >> 27;

    return (uint32_t) ((wb_rng * 0x2545F4914F6CDD1DULL) >> 32);
}


/* SHA-1 (FIPS 180-4), only for Sec-WebSocket-Accept */

#define wb_rol(x, n)  (((x) << (n)) | ((x) >> (32 - (n))))

static void
wb_sha1_block(uint32_t h[5], const unsigned char *p)
{
    int       i;
    uint32_t  w[80], a, b, c, d, e, f, k, t;

    for (i = 0; i < 16; i++) {
        w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16
               | (uint32_t) p[4 * i + 2] << 8 | p[4 * i + 3];
    }

    for (i = 16; i < 80; i++) {
        w[i] = wb_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }

    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];

    for (i = 0; i < 80; i++) {
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;

        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;

        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;

        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }

        t = wb_rol(a, 5) + f + e + k + w[i];
        e = d; d = c; c = wb_rol(b, 30); b = a; a = t;
    }

    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}


static void
wb_sha1(const unsigned char *data, size_t len, unsigned char out[20])
{
    int            i;
    size_t         n;
    uint32_t       h[5] = { 0x67452301, 0xEFCDAB89, 0x98BADCFE,
                            0x10325476, 0xC3D2E1F0 };
    uint64_t       bits;
    unsigned char  block[128];

    for (n = len; n >= 64; n -= 64, data += 64) {
        wb_sha1_block(h, data);
    }

    memset(block, 0, sizeof(block));
    memcpy(block, data, n);
    block[n] = 0x80;

    bits = (uint64_t) len * 8;
    n = (n < 56) ? 64 : 128;

    for (i = 0; i < 8; i++) {
        block[n - 1 - i] = (unsigned char) (bits >> (8 * i));
    }

    wb_sha1_block(h, block);

    if (n == 128) {
        wb_sha1_block(h, block + 64);
    }

    for (i = 0; i < 20; i++) {
        out[i] = (unsigned char) (h[i / 4] >> (24 - 8 * (i % 4)));
    }
}


static size_t
wb_base64(const unsigned char *in, size_t len, char *out)
{
    size_t       i;
    uint32_t     v;
    char        *o;
    static const char  tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    o = out;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }

    if (i < len) {
        v = (uint32_t) in[i] << 16;

        if (i + 1 < len) {
            v |= (uint32_t) in[i + 1] << 8;
        }

        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = (i + 1 < len) ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }

    *o = '\0';

    return o - out;
}


static void
wb_accept_key(const char *key, size_t len, char out[32])
{
    unsigned char  buf[128], digest[20];

    if (len > sizeof(buf) - sizeof(WB_WS_GUID)) {
        len = sizeof(buf) - sizeof(WB_WS_GUID);
    }

    memcpy(buf, key, len);
    memcpy(buf + len, WB_WS_GUID, sizeof(WB_WS_GUID) - 1);

    wb_sha1(buf, len + sizeof(WB_WS_GUID) - 1, digest);
    wb_base64(digest, 20, out);
}


/*
 * The value of header "name" in a header block (lines ending in CRLF,
 * after the first line), spaces trimmed; NULL if absent.
 */

static const char *
wb_header_value(const char *hdrs, const char *name, size_t *len)
{
    size_t       nlen;
    const char  *p, *v, *e;

    nlen = strlen(name);
    p = strstr(hdrs, "\r\n");

    while (p != NULL && p[2] != '\r' && p[2] != '\0') {
        p += 2;
        e = strstr(p, "\r\n");

        if (e == NULL) {
            return NULL;
        }

        if ((size_t) (e - p) > nlen && p[nlen] == ':'
            && strncasecmp(p, name, nlen) == 0)
        {
            v = p + nlen + 1;

            while (v < e && (*v == ' ' || *v == '\t')) {
                v++;
            }

            while (e > v && (e[-1] == ' ' || e[-1] == '\t')) {
                e--;
            }

            *len = e - v;

            return v;
        }

        p = e;
    }

    return NULL;
}


static unsigned char *
wb_buf_reserve(wb_buf_t *b, size_t n)
{
    size_t          cap;
    unsigned char  *d;

    if (b->cap - b->len >= n) {
        return b->data + b->len;
    }

    if (b->pos > 0) {
        memmove(b->data, b->data + b->pos, b->len - b->pos);
        b->len -= b->pos;
        b->pos = 0;

        if (b->cap - b->len >= n) {
            return b->data + b->len;
        }
    }

    cap = b->cap ? b->cap * 2 : 4096;

    while (cap - b->len < n) {
        cap *= 2;
    }

    d = realloc(b->data, cap);
    if (d == NULL) {
        wb_die("out of memory");
    }

    b->data = d;
    b->cap = cap;

    return b->data + b->len;
}


static void
wb_buf_free(wb_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->pos = b->len = b->cap = 0;
}


/*
 * Sends what b holds to fd.  0 when all of it went (b is then emptied) or
 * the socket is full (EAGAIN, the rest stays in b); -1 on an error, errno
 * tells which.
 */

static int
wb_buf_send(int fd, wb_buf_t *b)
{
    ssize_t  sent;

    while (b->len > b->pos) {
        sent = send(fd, b->data + b->pos, b->len - b->pos, MSG_NOSIGNAL);

        if (sent > 0) {
            b->pos += sent;
            continue;
        }

        if (sent == -1 && errno == EINTR) {
            continue;
        }

        if (sent == -1 && errno == EAGAIN) {
            return 0;
        }

        return -1;
    }

    b->pos = b->len = 0;

    return 0;
}


/*
 * Collects header bytes; returns how many of p were used.  When the
 * header is complete, f->in_payload is set and f->remain is the payload
 * length (possibly 0).  -1 on a malformed header.
 */

static int
wb_frame_header(wb_frame_t *f, const unsigned char *p, size_t n,
    const char **err)
{
    size_t    used;
    unsigned  i, l, at;

    used = 0;

    while (used < n) {
        f->hdr[f->hlen++] = p[used++];

        if (f->hlen == 2) {
            l = f->hdr[1] & 0x7f;
            f->need = 2 + (l == 126 ? 2 : (l == 127 ? 8 : 0))
                      + ((f->hdr[1] & 0x80) ? 4 : 0);
        }

        if (f->hlen < 2 || f->hlen < f->need) {
            continue;
        }

        f->fin = f->hdr[0] >> 7;
        f->opcode = f->hdr[0] & 0x0f;
        f->masked = f->hdr[1] >> 7;
        l = f->hdr[1] & 0x7f;
        at = 2;

        if (l == 126) {
            f->len = (uint64_t) f->hdr[2] << 8 | f->hdr[3];
            at = 4;

        } else if (l == 127) {
            f->len = 0;

            for (i = 0; i < 8; i++) {
                f->len = f->len << 8 | f->hdr[2 + i];
            }

            at = 10;

        } else {
            f->len = l;
        }

        if (f->masked) {
            memcpy(f->mask, f->hdr + at, 4);

        } else {
            memset(f->mask, 0, 4);
        }

        f->hlen = 0;
        f->in_payload = 1;
        f->remain = f->len;
        f->off = 0;

        if (f->hdr[0] & 0x70) {
            *err = "RSV bit set";
            return -1;
        }

        if (f->len >> 63) {
            *err = "frame length with the top bit set";
            return -1;
        }

        switch (f->opcode) {
        case WB_OP_CONT:
        case WB_OP_TEXT:
        case WB_OP_BINARY:
            break;

        case WB_OP_CLOSE:
        case WB_OP_PING:
        case WB_OP_PONG:
            if (f->len > 125 || !f->fin) {
                *err = "control frame fragmented or over 125 bytes";
                return -1;
            }

            break;

        default:
            *err = "reserved opcode";
            return -1;
        }

        break;
    }

    return (int) used;
}


/* dst = src XOR mask, the mask aligned at payload offset off; dst <= src */

static void
wb_mask_copy(unsigned char *dst, const unsigned char *src, size_t n,
    const unsigned char mask[4], uint64_t off)
{
    size_t         i;
    uint64_t       m, v;
    unsigned char  rot[8];

    for (i = 0; i < 8; i++) {
        rot[i] = mask[(off + i) & 3];
    }

    memcpy(&m, rot, 8);

    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(&v, src + i, 8);
        v ^= m;
        memcpy(dst + i, &v, 8);
    }

    for ( /* void */ ; i < n; i++) {
        dst[i] = src[i] ^ rot[i & 7];
    }
}


static void
wb_hist_add(wb_hist_t *h, uint64_t v)
{
    unsigned  msb, shift, idx;

    if (v < 128) {
        idx = (unsigned) v;

    } else {
        msb = 63 - __builtin_clzll(v);
        shift = msb - 6;
        idx = 128 + (shift - 1) * WB_HIST_SUB
              + (unsigned) ((v >> shift) - WB_HIST_SUB);

        if (idx >= WB_HIST_SIZE) {
            idx = WB_HIST_SIZE - 1;
        }
    }

    h->hist[idx]++;
    h->count++;

    if (v > h->max) {
        h->max = v;
    }
}


/* the value at quantile q, the middle of its bucket (1.6% wide at most) */

static double
wb_hist_quantile(wb_hist_t *h, double q)
{
    unsigned  i, shift;
    uint64_t  rank, seen, lo;

    if (h->count == 0) {
        return 0;
    }

    rank = (uint64_t) (q * (double) h->count);

    if (rank >= h->count) {
        rank = h->count - 1;
    }

    seen = 0;

    for (i = 0; i < WB_HIST_SIZE; i++) {
        seen += h->hist[i];

        if (seen > rank) {
            break;
        }
    }

    if (i < 128) {
        return i;
    }

    shift = (i - 128) / WB_HIST_SUB + 1;
    lo = (uint64_t) ((i - 128) % WB_HIST_SUB + WB_HIST_SUB) << shift;

    return (double) lo + (double) ((1ULL << shift) - 1) / 2;
}


/* utime + stime of processes (the kernel sums their threads), seconds */

static double
wb_proc_cpu(const int *pids, int n)
{
    int     i, k;
    FILE   *fp;
    char    path[64], buf[1024], *p;
    double  total;
    unsigned long long  ut, st;

    total = 0;

    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/proc/%d/stat", pids[i]);

        fp = fopen(path, "r");
        if (fp == NULL) {
            continue;
        }

        if (fgets(buf, sizeof(buf), fp) == NULL) {
            fclose(fp);
            continue;
        }

        fclose(fp);

        p = strrchr(buf, ')');
        if (p == NULL) {
            continue;
        }

        /* after ") ": field 3 (state); utime and stime are 14 and 15 */

        for (k = 3; k <= 14 && p != NULL; k++) {
            p = strchr(p + 1, ' ');
        }

        if (p != NULL && sscanf(p, " %llu %llu", &ut, &st) == 2) {
            total += (double) (ut + st) / sysconf(_SC_CLK_TCK);
        }
    }

    return total;
}


/*
 * The whole machine from /proc/stat, seconds: [0] user, nice and system
 * time of every process (ours and others'), [1] softirq, [2] steal.
 */

static void
wb_host_cpu(double out[3])
{
    FILE   *fp;
    double  tck;
    unsigned long long  v[8];

    out[0] = out[1] = out[2] = 0;

    fp = fopen("/proc/stat", "r");
    if (fp == NULL) {
        return;
    }

    if (fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
               &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8)
    {
        tck = sysconf(_SC_CLK_TCK);
        out[0] = (v[0] + v[1] + v[2]) / tck;
        out[1] = v[6] / tck;
        out[2] = v[7] / tck;
    }

    fclose(fp);
}


static double
wb_self_cpu(void)
{
    struct rusage  ru;

    getrusage(RUSAGE_SELF, &ru);

    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
           + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}


static void
wb_raise_nofile(long need)
{
    struct rlimit  rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        wb_die("getrlimit: %s", strerror(errno));
    }

    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
        (void) getrlimit(RLIMIT_NOFILE, &rl);
    }

    if (need > 0 && (rlim_t) need + 32 > rl.rlim_cur) {
        wb_die("%ld connections need %ld file descriptors, but "
               "RLIMIT_NOFILE is %llu (hard limit %llu): raise it "
               "(ulimit -Hn, /etc/security/limits.conf or run as root "
               "with a higher limit)", need, need + 32,
               (unsigned long long) rl.rlim_cur,
               (unsigned long long) rl.rlim_max);
    }
}


static int
wb_nonblock_socket(int family)
{
    int  fd, one;

    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return -1;
    }

    one = 1;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    return fd;
}


static void
wb_epoll_add(int fd, void *ptr, uint32_t events)
{
    struct epoll_event  ev;

    ev.events = events;
    ev.data.ptr = ptr;

    if (epoll_ctl(wb_ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        wb_die("epoll_ctl: %s", strerror(errno));
    }
}


/* the echo backend */

static int
wb_echo_main(int argc, char **argv)
{
    int                  i, k, n, fd, one, told;
    char                *addr, *colon;
    struct epoll_event   evs[WB_MAX_EVENTS];
    wb_echo_conn_t      *c;
    struct sockaddr_in   sin;

    addr = NULL;
    told = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            addr = argv[++i];

        } else if (strcmp(argv[i], "--quiet") == 0) {
            /* nothing to say anyway */

        } else {
            wb_usage();
            return 2;
        }
    }

    if (addr == NULL || (colon = strrchr(addr, ':')) == NULL) {
        wb_die("echo needs --listen ADDR:PORT");
    }

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t) atoi(colon + 1));
    *colon = '\0';

    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
        wb_die("echo: \"%s\" is not an IPv4 address", addr);
    }

    wb_raise_nofile(0);

    wb_listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          0);
    if (wb_listen_fd == -1) {
        wb_die("socket: %s", strerror(errno));
    }

    one = 1;
    (void) setsockopt(wb_listen_fd, SOL_SOCKET, SO_REUSEADDR, &one,
                      sizeof(one));

    if (bind(wb_listen_fd, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
        wb_die("bind %s:%s: %s", addr, colon + 1, strerror(errno));
    }

    if (listen(wb_listen_fd, 4096) != 0) {
        wb_die("listen: %s", strerror(errno));
    }

    wb_ep = epoll_create1(EPOLL_CLOEXEC);
    if (wb_ep == -1) {
        wb_die("epoll_create1: %s", strerror(errno));
    }

    /* level-triggered: a full descriptor table must not lose the edge */
    wb_epoll_add(wb_listen_fd, NULL, EPOLLIN);

    for ( ;; ) {
        n = epoll_wait(wb_ep, evs, WB_MAX_EVENTS, -1);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            wb_die("epoll_wait: %s", strerror(errno));
        }

        for (i = 0; i < n; i++) {
            c = evs[i].data.ptr;

            if (c != NULL) {
                wb_echo_event(c, evs[i].events);
                continue;
            }

            for (k = 0; k < 256; k++) {
                fd = accept4(wb_listen_fd, NULL, NULL,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd == -1) {
                    if ((errno == EMFILE || errno == ENFILE) && !told) {
                        fprintf(stderr, "ws-bench echo: accept: %s\n",
                                strerror(errno));
                        told = 1;
                    }

                    break;
                }

                c = calloc(1, sizeof(wb_echo_conn_t));
                if (c == NULL) {
                    wb_die("out of memory");
                }

                c->fd = fd;
                c->handshake = 1;

                (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
                                  sizeof(one));

                wb_epoll_add(fd, c,
                             EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);

                /* the request is often there already */
                wb_echo_event(c, EPOLLIN);
            }
        }
    }

    return 0;
}


static void
wb_echo_event(wb_echo_conn_t *c, uint32_t ev)
{
    int      rc, drain;
    ssize_t  n;

    drain = (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;

    if (c->out.len > c->out.pos) {
        if (wb_echo_flush(c) != 0) {
            wb_echo_close(c);
            return;
        }
    }

    if (c->closing) {
        if (c->out.len == c->out.pos) {
            wb_echo_close(c);
        }

        return;
    }

    if (c->paused) {
        if (c->out.len - c->out.pos > WB_OUT_HIGH / 2) {
            return;
        }

        /* the edges that came while paused are gone: read to EAGAIN */
        c->paused = 0;
        drain = 1;

    } else if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        return;
    }

    for ( ;; ) {
        n = recv(c->fd, wb_rbuf + WB_HEADROOM, WB_RBUF_SIZE, 0);

        if (n > 0) {
            if (c->handshake) {
                rc = wb_echo_request(c, wb_rbuf + WB_HEADROOM, n);

            } else {
                rc = wb_echo_frames(c, wb_rbuf + WB_HEADROOM, n);
            }

            if (rc != 0 || (c->closing && c->out.len == c->out.pos)) {
                wb_echo_close(c);
                return;
            }

            if (c->closing) {
                return;
            }

            if (c->out.len - c->out.pos >= WB_OUT_HIGH) {
                c->paused = 1;
                return;
            }

            /*
             * A short read emptied the socket: new data brings a new
             * edge.  A FIN that came with the data does not, hence drain.
             */

            if ((size_t) n < WB_RBUF_SIZE && !drain) {
                return;
            }

            continue;
        }

        if (n == 0) {
            wb_echo_close(c);
            return;
        }

        if (errno == EAGAIN) {
            return;
        }

        if (errno != EINTR) {
            wb_echo_close(c);
            return;
        }
    }
}


static int
wb_echo_request(wb_echo_conn_t *c, unsigned char *p, size_t n)
{
    int          len;
    char        *end, accept[32], resp[256];
    size_t       prev, klen, used;
    const char  *key;
    static const char  bad[] = "HTTP/1.1 400 Bad Request\r\n"
                               "Content-Length: 0\r\n"
                               "Connection: close\r\n\r\n";

    if (c->req == NULL) {
        c->req = malloc(WB_REQ_MAX + 1);
        if (c->req == NULL) {
            wb_die("out of memory");
        }
    }

    prev = c->req_len;
    used = n < WB_REQ_MAX - prev ? n : WB_REQ_MAX - prev;

    memcpy(c->req + prev, p, used);
    c->req_len += used;
    c->req[c->req_len] = '\0';

    end = memmem(c->req, c->req_len, "\r\n\r\n", 4);

    if (end == NULL) {
        if (c->req_len == WB_REQ_MAX) {
            (void) wb_echo_send(c, (unsigned char *) bad, sizeof(bad) - 1);
            c->closing = 1;
        }

        return 0;
    }

    end[4] = '\0';
    key = wb_header_value(c->req, "Sec-WebSocket-Key", &klen);

    if (key == NULL || klen == 0 || klen > 64) {
        free(c->req);
        c->req = NULL;
        c->closing = 1;

        return wb_echo_send(c, (unsigned char *) bad, sizeof(bad) - 1);
    }

    wb_accept_key(key, klen, accept);

    len = snprintf(resp, sizeof(resp),
                   "HTTP/1.1 101 Switching Protocols\r\n"
                   "Upgrade: websocket\r\n"
                   "Connection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\n\r\n", accept);

    /* what followed the request in this read: frames */
    used = (end + 4 - c->req) - prev;

    free(c->req);
    c->req = NULL;
    c->handshake = 0;

    if (wb_echo_send(c, (unsigned char *) resp, len) != 0) {
        return -1;
    }

    if (used < n) {
        return wb_echo_frames(c, p + used, n - used);
    }

    return 0;
}


static unsigned char *
wb_put_header(unsigned char *w, unsigned b0, uint64_t len)
{
    int  i;

    *w++ = (unsigned char) b0;

    if (len < 126) {
        *w++ = (unsigned char) len;

    } else if (len < 65536) {
        *w++ = 126;
        *w++ = (unsigned char) (len >> 8);
        *w++ = (unsigned char) len;

    } else {
        *w++ = 127;

        for (i = 7; i >= 0; i--) {
            *w++ = (unsigned char) (len >> (8 * i));
        }
    }

    return w;
}


/*
 * Client frames in p (inside wb_rbuf, after WB_HEADROOM bytes) are
 * turned into server frames in place: a server header is 4 bytes shorter
 * than the client's, and the headroom takes a header whose first bytes
 * came in an earlier read, so the output never overtakes the input.
 */

static int
wb_echo_frames(wb_echo_conn_t *c, unsigned char *p, size_t n)
{
    int             k;
    size_t          m;
    wb_frame_t     *f;
    const char     *err;
    unsigned char  *w, *start, *end, ctl[2 + 125];

    f = &c->f;
    start = w = p - WB_HEADROOM;
    end = p + n;

    while (p < end) {

        if (!f->in_payload) {
            k = wb_frame_header(f, p, end - p, &err);
            if (k < 0) {
                return -1;
            }

            p += k;

            if (!f->in_payload) {
                break;
            }

            if (f->opcode & 0x08) {
                c->ctl_len = 0;

            } else {
                w = wb_put_header(w, f->hdr[0], f->len);
            }

            if (f->remain > 0) {
                continue;
            }

        } else {
            m = (size_t) (end - p) < f->remain ? (size_t) (end - p)
                                               : (size_t) f->remain;

            if (f->opcode & 0x08) {
                wb_mask_copy(c->ctl + c->ctl_len, p, m, f->mask, f->off);
                c->ctl_len += m;

            } else {
                wb_mask_copy(w, p, m, f->mask, f->off);
                w += m;
            }

            p += m;
            f->off += m;
            f->remain -= m;

            if (f->remain > 0) {
                continue;
            }
        }

        /* a frame is complete */

        f->in_payload = 0;

        if (!(f->opcode & 0x08) || f->opcode == WB_OP_PONG) {
            continue;
        }

        /* ping or close: what is echoed so far goes first */

        if (w > start && wb_echo_send(c, start, w - start) != 0) {
            return -1;
        }

        start = w = p;

        ctl[0] = 0x80 | (f->opcode == WB_OP_PING ? WB_OP_PONG : WB_OP_CLOSE);
        ctl[1] = (unsigned char) c->ctl_len;
        memcpy(ctl + 2, c->ctl, c->ctl_len);

        if (wb_echo_send(c, ctl, 2 + c->ctl_len) != 0) {
            return -1;
        }

        if (f->opcode == WB_OP_CLOSE) {
            c->closing = 1;
            return 0;
        }
    }

    if (w > start) {
        return wb_echo_send(c, start, w - start);
    }

    return 0;
}


static int
wb_echo_send(wb_echo_conn_t *c, unsigned char *p, size_t n)
{
    ssize_t  sent;

    if (c->out.len == c->out.pos) {

        while (n > 0) {
            sent = send(c->fd, p, n, MSG_NOSIGNAL);

            if (sent > 0) {
                p += sent;
                n -= sent;
                continue;
            }

            if (sent == -1 && errno == EINTR) {
                continue;
            }

            if (sent == -1 && errno == EAGAIN) {
                break;
            }

            return -1;
        }

        if (n == 0) {
            return 0;
        }
    }

    memcpy(wb_buf_reserve(&c->out, n), p, n);
    c->out.len += n;

    return 0;
}


static int
wb_echo_flush(wb_echo_conn_t *c)
{
    if (wb_buf_send(c->fd, &c->out) != 0) {
        return -1;
    }

    /* all sent (not EAGAIN): a big buffer is given back */
    if (c->out.len == 0 && c->out.cap > 1024 * 1024) {
        wb_buf_free(&c->out);
    }

    return 0;
}


static void
wb_echo_close(wb_echo_conn_t *c)
{
    close(c->fd);
    free(c->req);
    wb_buf_free(&c->out);
    free(c);
}


/* the load client: throughput, handshake, idle */

static double
wb_arg_num(int argc, char **argv, int *i)
{
    char    *end;
    double   v;

    if (*i + 1 >= argc) {
        wb_die("%s needs a value", argv[*i]);
    }

    (*i)++;
    v = strtod(argv[*i], &end);

    if (end == argv[*i] || *end != '\0' || v < 0) {
        wb_die("%s: \"%s\" is not a number", argv[*i - 1], argv[*i]);
    }

    return v;
}


static void
wb_parse_url(wb_opts_t *o, const char *url)
{
    int               rc;
    char             *hp, *host, *port, *slash, *p;
    struct addrinfo   hints, *ai;

    if (strncmp(url, "ws://", 5) != 0) {
        wb_die("--url must be ws://HOST[:PORT][/PATH][?QUERY]: \"%s\"", url);
    }

    hp = strdup(url + 5);
    slash = strpbrk(hp, "/?");

    if (slash == NULL) {
        o->target = strdup("/");

    } else if (*slash == '?') {
        o->target = malloc(strlen(slash) + 2);
        sprintf(o->target, "/%s", slash);
        *slash = '\0';

    } else {
        o->target = strdup(slash);
        *slash = '\0';
    }

    o->host = strdup(hp);

    if (hp[0] == '[') {
        host = hp + 1;
        p = strchr(host, ']');

        if (p == NULL) {
            wb_die("bad IPv6 address in \"%s\"", url);
        }

        *p++ = '\0';
        port = (*p == ':') ? p + 1 : "80";

    } else {
        host = hp;
        p = strchr(hp, ':');
        port = "80";

        if (p != NULL) {
            *p = '\0';
            port = p + 1;
        }
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        wb_die("%s: %s", url, gai_strerror(rc));
    }

    memcpy(&o->addr, ai->ai_addr, ai->ai_addrlen);
    o->addrlen = ai->ai_addrlen;

    freeaddrinfo(ai);
    free(hp);
}


static void
wb_add_header(wb_opts_t *o, const char *h)
{
    size_t  len;

    if (strchr(h, ':') == NULL || strpbrk(h, "\r\n") != NULL) {
        wb_die("-H wants 'Name: value', not \"%s\"", h);
    }

    len = strlen(h);
    o->headers = realloc(o->headers, o->headers_len + len + 3);

    if (o->headers == NULL) {
        wb_die("out of memory");
    }

    memcpy(o->headers + o->headers_len, h, len);
    memcpy(o->headers + o->headers_len + len, "\r\n", 3);
    o->headers_len += len + 2;
}


static void
wb_counter_set(wb_conn_t *c, wb_state_e state)
{
    if (c->state == WB_CONNECTING || c->state == WB_UPGRADING) {
        wb_pending--;

    } else if (c->state == WB_OPEN) {
        wb_open_now--;
    }

    if (state == WB_CONNECTING || state == WB_UPGRADING) {
        wb_pending++;

    } else if (state == WB_OPEN) {
        wb_open_now++;
    }

    c->state = state;
}


static void
wb_conn_start(wb_conn_t *c)
{
    int            fd;
    char           key[32];
    size_t         len;
    uint32_t       r[4];
    unsigned char *d;

    wb_started++;
    wb_active++;

    memset(&c->f, 0, sizeof(wb_frame_t));
    c->out.pos = c->out.len = 0;
    c->resp_len = 0;
    c->inflight = 0;
    c->pong_due = 0;
    c->started = wb_now();
    c->deadline = c->started + (uint64_t) (WB_HS_TIMEOUT * 1e9);
    c->fd = -1;
    c->state = WB_FREE;

    r[0] = wb_rand32();
    r[1] = wb_rand32();
    r[2] = wb_rand32();
    r[3] = wb_rand32();

    wb_base64((unsigned char *) r, 16, key);
    wb_accept_key(key, 24, c->accept);

    len = wb_request_len + 24 + 4;
    d = wb_buf_reserve(&c->out, len);
    memcpy(d, wb_request, wb_request_len);
    memcpy(d + wb_request_len, key, 24);
    memcpy(d + wb_request_len + 24, "\r\n\r\n", 4);
    c->out.len += len;

    fd = wb_nonblock_socket(wb_o.addr.ss_family);

    if (fd == -1) {
        wb_counter_set(c, WB_CONNECTING);
        wb_conn_fail(c, "socket: %s", strerror(errno));
        return;
    }

    c->fd = fd;
    wb_counter_set(c, WB_CONNECTING);

    if (connect(fd, (struct sockaddr *) &wb_o.addr, wb_o.addrlen) != 0
        && errno != EINPROGRESS)
    {
        wb_conn_fail(c, "connect: %s", strerror(errno));
        return;
    }

    wb_epoll_add(fd, c, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
}


static void
wb_conn_event(wb_conn_t *c, uint32_t ev)
{
    int        rc, err, drain;
    ssize_t    n;
    socklen_t  len;

    if (c->state == WB_DONE || c->state == WB_FREE) {
        return;
    }

    if (c->state == WB_CONNECTING) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }

        err = 0;
        len = sizeof(err);
        (void) getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);

        if (err != 0) {
            wb_conn_fail(c, "connect: %s", strerror(err));
            return;
        }

        wb_counter_set(c, WB_UPGRADING);
    }

    if (c->out.len > c->out.pos && wb_conn_flush(c) != 0) {
        return;
    }

    if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        return;
    }

    drain = (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;

    for ( ;; ) {
        n = recv(c->fd, wb_rbuf, WB_RBUF_SIZE, 0);

        if (n > 0) {
            if (c->state == WB_UPGRADING) {
                rc = wb_conn_response(c, wb_rbuf, n);

            } else {
                rc = wb_conn_frames(c, wb_rbuf, n);
            }

            if (rc != 0) {
                return;
            }

            if (c->out.len > c->out.pos && wb_conn_flush(c) != 0) {
                return;
            }

            if ((size_t) n < WB_RBUF_SIZE && !drain) {
                return;
            }

            continue;
        }

        if (n == 0) {
            if (c->state == WB_CLOSING || c->state == WB_CLOSED) {
                /* the close handshake may end with EOF */
                wb_conn_finish(c);

            } else {
                wb_conn_fail(c, "connection closed by the peer%s",
                             c->state == WB_UPGRADING
                             ? " before the handshake's answer" : "");
            }

            return;
        }

        if (errno == EAGAIN) {
            return;
        }

        if (errno != EINTR) {
            wb_conn_fail(c, "recv: %s", strerror(errno));
            return;
        }
    }
}


static int
wb_conn_response(wb_conn_t *c, unsigned char *p, size_t n)
{
    char        *end, *eol;
    size_t       prev, used, alen;
    uint64_t     now;
    const char  *accept;

    if (c->resp == NULL) {
        c->resp = malloc(WB_REQ_MAX + 1);
        if (c->resp == NULL) {
            wb_die("out of memory");
        }
    }

    prev = c->resp_len;
    used = n < WB_REQ_MAX - prev ? n : WB_REQ_MAX - prev;

    memcpy(c->resp + prev, p, used);
    c->resp_len += used;
    c->resp[c->resp_len] = '\0';

    end = memmem(c->resp, c->resp_len, "\r\n\r\n", 4);

    if (end == NULL) {
        if (c->resp_len == WB_REQ_MAX) {
            wb_conn_fail(c, "handshake answer over %d bytes", WB_REQ_MAX);
            return -1;
        }

        return 0;
    }

    end[4] = '\0';

    if (strncmp(c->resp, "HTTP/1.1 101 ", 13) != 0) {
        eol = strstr(c->resp, "\r\n");
        wb_conn_fail(c, "handshake answered \"%.*s\"",
                     (int) (eol - c->resp), c->resp);
        return -1;
    }

    accept = wb_header_value(c->resp, "Sec-WebSocket-Accept", &alen);

    if (accept == NULL || alen != strlen(c->accept)
        || memcmp(accept, c->accept, alen) != 0)
    {
        wb_conn_fail(c, "bad or missing Sec-WebSocket-Accept");
        return -1;
    }

    used = (end + 4 - c->resp) - prev;

    free(c->resp);
    c->resp = NULL;
    c->resp_len = 0;

    wb_counter_set(c, WB_OPEN);
    wb_established++;

    now = wb_now();

    switch (wb_o.mode) {

    case WB_MODE_THROUGHPUT:
        c->deadline = 0;

        if (wb_phase < WB_PHASE_CLOSING && wb_o.rate == 0) {
            while (c->inflight < (unsigned) wb_o.window) {
                wb_conn_send_msg(c);
            }
        }

        break;

    case WB_MODE_HANDSHAKE:
        wb_hist_add(&wb_hist, now - c->started);
        wb_conn_send_control(c, WB_OP_CLOSE, (unsigned char *) "\x03\xe8", 2);
        wb_counter_set(c, WB_CLOSING);
        c->deadline = now + (uint64_t) (WB_CLOSE_GRACE * 1e9);
        break;

    case WB_MODE_IDLE:
        c->deadline = 0;
        break;
    }

    if (used < n) {
        return wb_conn_frames(c, p + used, n - used);
    }

    return 0;
}


static int
wb_conn_frames(wb_conn_t *c, unsigned char *p, size_t n)
{
    int             k;
    size_t          m;
    unsigned        want;
    wb_frame_t     *f;
    const char     *err;
    unsigned char  *end;

    if (c->state == WB_CLOSED) {
        return 0;
    }

    f = &c->f;
    end = p + n;

    while (p < end) {

        if (!f->in_payload) {
            k = wb_frame_header(f, p, end - p, &err);
            if (k < 0) {
                wb_conn_fail(c, "bad frame from the server: %s", err);
                return -1;
            }

            p += k;

            if (!f->in_payload) {
                break;
            }

            if (f->masked) {
                wb_conn_fail(c, "masked frame from the server");
                return -1;
            }

            if (f->opcode & 0x08) {
                c->ctl_len = 0;

            } else if (c->state == WB_OPEN) {
                if (wb_o.mode != WB_MODE_THROUGHPUT) {
                    wb_conn_fail(c, "unexpected data frame");
                    return -1;
                }

                want = wb_o.binary ? WB_OP_BINARY : WB_OP_TEXT;

                if (f->opcode != want || !f->fin || f->len != wb_o.size) {
                    wb_conn_fail(c, "echo is not one %s frame of %zu bytes: "
                                 "opcode %u, fin %u, length %llu",
                                 wb_o.binary ? "binary" : "text", wb_o.size,
                                 f->opcode, f->fin,
                                 (unsigned long long) f->len);
                    return -1;
                }

                c->stamp_len = 0;
                c->seen = 0;
            }

            if (f->remain > 0) {
                continue;
            }

        } else {
            m = (size_t) (end - p) < f->remain ? (size_t) (end - p)
                                               : (size_t) f->remain;

            if (f->opcode & 0x08) {
                memcpy(c->ctl + c->ctl_len, p, m);
                c->ctl_len += m;

            } else if (c->stamp_len < wb_stamp_size) {
                /* the stamp's bytes among the m at payload offset seen */
                size_t  lo, hi;

                lo = c->seen > wb_stamp_off ? c->seen : wb_stamp_off;
                hi = c->seen + m < wb_stamp_off + wb_stamp_size
                     ? c->seen + m : wb_stamp_off + wb_stamp_size;

                if (lo < hi) {
                    memcpy(c->stamp + lo - wb_stamp_off, p + lo - c->seen,
                           hi - lo);
                    c->stamp_len = hi - wb_stamp_off;
                }
            }

            c->seen += m;

            if (m > 0) {
                c->last = p[m - 1];
            }

            p += m;
            f->remain -= m;

            if (f->remain > 0) {
                continue;
            }
        }

        f->in_payload = 0;

        k = wb_conn_frame_done(c);
        if (k != 0) {
            return k;
        }

        if (c->state == WB_CLOSED) {
            /* nothing may follow a close frame: read on only for EOF */
            return 0;
        }
    }

    return 0;
}


static int
wb_conn_frame_done(wb_conn_t *c)
{
    int        i, d;
    uint64_t   stamp, now;
    unsigned   code;

    switch (c->f.opcode) {

    case WB_OP_TEXT:
    case WB_OP_BINARY:
    case WB_OP_CONT:
        if (c->state != WB_OPEN) {
            return 0;
        }

        stamp = 0;

        if (wb_o.binary) {
            for (i = 7; i >= 0; i--) {
                stamp = stamp << 8 | c->stamp[i];
            }

        } else {
            for (i = 0; i < 16; i++) {
                d = c->stamp[i];
                d = (d >= '0' && d <= '9') ? d - '0'
                    : (d >= 'a' && d <= 'f') ? d - 'a' + 10 : -1;

                if (d < 0) {
                    stamp = 0;
                    break;
                }

                stamp = stamp << 4 | (unsigned) d;
            }
        }

        now = wb_now();

        if (stamp < wb_t0 || stamp > now
            || (wb_o.size > wb_stamp_size
                && c->last != wb_tmpl[wb_o.size - 1]))
        {
            wb_conn_fail(c, "echo does not carry what was sent");
            return -1;
        }

        if (wb_phase == WB_PHASE_MEASURE) {
            wb_hist_add(&wb_hist, now - stamp);
            wb_msgs++;
        }

        c->inflight--;

        if (wb_phase < WB_PHASE_CLOSING && wb_o.rate == 0) {
            wb_conn_send_msg(c);
        }

        return 0;

    case WB_OP_PING:
        wb_conn_send_control(c, WB_OP_PONG, c->ctl, c->ctl_len);
        return 0;

    case WB_OP_PONG:
        if (c->pong_due) {
            c->pong_due = 0;
            wb_pongs++;
        }

        return 0;

    default: /* WB_OP_CLOSE */
        if (c->state == WB_CLOSING) {
            /*
             * The server closes the TCP connection first (RFC 6455 7.1.1):
             * the TIME_WAIT stays on its side, and connect() here does
             * not slow down searching ports among thousands of them.
             */
            wb_counter_set(c, WB_CLOSED);
            c->deadline = wb_now() + (uint64_t) (WB_EOF_GRACE * 1e9);
            return 0;
        }

        code = c->ctl_len >= 2 ? (unsigned) c->ctl[0] << 8 | c->ctl[1] : 1005;

        wb_conn_fail(c, "closed by the server: %u %.*s", code,
                     c->ctl_len > 2 ? (int) c->ctl_len - 2 : 0,
                     c->ctl + 2);
        return -1;
    }
}


static void
wb_conn_send_msg(wb_conn_t *c)
{
    int            i;
    size_t         hl, size;
    uint32_t       m;
    uint64_t       now;
    unsigned char *d, stamp[16];
    static const char  hex[] = "0123456789abcdef";

    size = wb_o.size;
    hl = size < 126 ? 2 : (size < 65536 ? 4 : 10);

    d = wb_buf_reserve(&c->out, hl + 4 + size);
    d[0] = 0x80 | (wb_o.binary ? WB_OP_BINARY : WB_OP_TEXT);

    if (hl == 2) {
        d[1] = 0x80 | (unsigned char) size;

    } else if (hl == 4) {
        d[1] = 0x80 | 126;
        d[2] = (unsigned char) (size >> 8);
        d[3] = (unsigned char) size;

    } else {
        d[1] = 0x80 | 127;

        for (i = 0; i < 8; i++) {
            d[2 + i] = (unsigned char) ((uint64_t) size >> (56 - 8 * i));
        }
    }

    m = wb_rand32();
    memcpy(d + hl, &m, 4);

    now = wb_now();

    if (wb_o.binary) {
        for (i = 0; i < 8; i++) {
            stamp[i] = (unsigned char) (now >> (8 * i));
        }

    } else {
        for (i = 0; i < 16; i++) {
            stamp[i] = hex[(now >> (60 - 4 * i)) & 0x0f];
        }
    }

    wb_mask_copy(d + hl + 4, wb_tmpl, wb_stamp_off, d + hl, 0);
    wb_mask_copy(d + hl + 4 + wb_stamp_off, stamp, wb_stamp_size, d + hl,
                 wb_stamp_off);
    wb_mask_copy(d + hl + 4 + wb_stamp_off + wb_stamp_size,
                 wb_tmpl + wb_stamp_off + wb_stamp_size,
                 size - wb_stamp_off - wb_stamp_size, d + hl,
                 wb_stamp_off + wb_stamp_size);

    c->out.len += hl + 4 + size;
    c->inflight++;
}


static void
wb_conn_send_control(wb_conn_t *c, unsigned opcode,
    const unsigned char *payload, size_t len)
{
    uint32_t        m;
    unsigned char  *d;

    d = wb_buf_reserve(&c->out, 6 + len);
    d[0] = 0x80 | opcode;
    d[1] = 0x80 | (unsigned char) len;

    m = wb_rand32();
    memcpy(d + 2, &m, 4);

    wb_mask_copy(d + 6, payload, len, d + 2, 0);

    c->out.len += 6 + len;
}


static int
wb_conn_flush(wb_conn_t *c)
{
    if (wb_buf_send(c->fd, &c->out) != 0) {
        wb_conn_fail(c, "send: %s", strerror(errno));
        return -1;
    }

    return 0;
}


static void
wb_conn_fail(wb_conn_t *c, const char *fmt, ...)
{
    va_list  ap;

    if (c->state == WB_DONE) {
        return;
    }

    if (c->state == WB_CLOSED) {
        /* the close handshake is over: a reset now is no error */
        wb_conn_finish(c);
        return;
    }

    wb_errors++;

    if (c->state == WB_CLOSING) {
        wb_close_errors++;
    }

    if (wb_first_error[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(wb_first_error, sizeof(wb_first_error), fmt, ap);
        va_end(ap);
    }

    wb_conn_close(c);
}


static void
wb_conn_finish(wb_conn_t *c)
{
    if (wb_o.mode == WB_MODE_HANDSHAKE) {
        wb_handshakes++;
    }

    wb_conn_close(c);
}


static void
wb_conn_close(wb_conn_t *c)
{
    if (c->fd != -1) {
        close(c->fd);
        c->fd = -1;
    }

    free(c->resp);
    c->resp = NULL;
    c->resp_len = 0;

    if (c->out.cap > 65536) {
        wb_buf_free(&c->out);
    }

    c->out.pos = c->out.len = 0;

    wb_counter_set(c, WB_DONE);
    wb_active--;
}


/* VmRSS and VmData of a process, KiB; -1 if unknown */

static void
wb_proc_mem_kb(int pid, long *rss, long *data)
{
    FILE  *fp;
    char   path[64], line[256];

    *rss = *data = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);

    fp = fopen(path, "r");
    if (fp == NULL) {
        return;
    }

    while (fgets(line, sizeof(line), fp) != NULL) {
        (void) sscanf(line, "VmRSS: %ld", rss);
        (void) sscanf(line, "VmData: %ld", data);
    }

    fclose(fp);
}


/* the one line of figures: key=value pairs, or a JSON object */

static char    wb_out_line[2048];
static size_t  wb_out_len;

static void
wb_out(const char *key, const char *fmt, ...)
{
    int      quote;
    char     val[256];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);

    if (wb_o.json) {
        quote = strspn(val, "0123456789.-") != strlen(val) || val[0] == '\0';
        wb_out_len += snprintf(wb_out_line + wb_out_len,
                               sizeof(wb_out_line) - wb_out_len,
                               "%s\"%s\": %s%s%s", wb_out_len ? ", " : "{",
                               key, quote ? "\"" : "", val, quote ? "\"" : "");

    } else {
        wb_out_len += snprintf(wb_out_line + wb_out_len,
                               sizeof(wb_out_line) - wb_out_len,
                               "%s%s=%s", wb_out_len ? " " : "", key, val);
    }

    if (wb_out_len >= sizeof(wb_out_line)) {
        wb_out_len = sizeof(wb_out_line) - 1;
    }
}


static void
wb_pump(uint64_t now, uint64_t t_end)
{
    long  i;

    switch (wb_o.mode) {

    case WB_MODE_HANDSHAKE:
        for (i = 0; i < wb_o.conns; i++) {
            if (wb_conns[i].state != WB_DONE && wb_conns[i].state != WB_FREE) {
                continue;
            }

            if (wb_o.total > 0 ? wb_started >= wb_o.total : now >= t_end) {
                return;
            }

            wb_conn_start(&wb_conns[i]);
        }

        return;

    default:
        while (wb_started < wb_o.conns && wb_pending < wb_o.batch) {
            wb_conn_start(&wb_conns[wb_started]);
        }

        return;
    }
}


static void
wb_timeouts(uint64_t now)
{
    long        i;
    wb_conn_t  *c;

    for (i = 0; i < wb_o.conns; i++) {
        c = &wb_conns[i];

        if (c->state == WB_DONE || c->state == WB_FREE || c->deadline == 0
            || now < c->deadline)
        {
            continue;
        }

        if (c->state == WB_CLOSED) {
            /* no EOF after the close frames: close here, no error */
            wb_conn_finish(c);
            continue;
        }

        wb_conn_fail(c, c->state == WB_CLOSING
                        ? "the close frame was not answered in time"
                        : "handshake timed out");
    }
}


static void
wb_close_all(uint64_t now)
{
    long        i;
    wb_conn_t  *c;

    for (i = 0; i < wb_o.conns; i++) {
        c = &wb_conns[i];

        if (c->state != WB_OPEN) {
            continue;
        }

        wb_conn_send_control(c, WB_OP_CLOSE, (unsigned char *) "\x03\xe8", 2);
        wb_counter_set(c, WB_CLOSING);
        c->deadline = now + (uint64_t) (WB_CLOSE_GRACE * 1e9);

        (void) wb_conn_flush(c);
    }
}


/*
 * --rate: the messages due since the start are sent now, one connection
 * after the other, each within its window; a proxy that cannot keep up
 * shows as a rate below the one asked for.
 */

static void
wb_pace(uint64_t now, uint64_t start)
{
    long              i, idle;
    double            due;
    wb_conn_t        *c;
    static long       next;
    static uint64_t   sent;

    due = (double) (now - start) / 1e9 * wb_o.rate - (double) sent;
    idle = 0;

    while (due >= 1 && idle < wb_o.conns) {
        c = &wb_conns[next];
        next = (next + 1) % wb_o.conns;

        if (c->state != WB_OPEN || c->inflight >= (unsigned) wb_o.window) {
            idle++;
            continue;
        }

        idle = 0;
        wb_conn_send_msg(c);
        sent++;
        due -= 1;
    }

    if (due > wb_o.rate / 100) {
        /* behind by over 10 ms: what cannot be sent is not owed */
        sent += (uint64_t) (due - wb_o.rate / 100);
    }

    for (i = 0; i < wb_o.conns; i++) {
        c = &wb_conns[i];

        if (c->state == WB_OPEN && c->out.len > c->out.pos) {
            (void) wb_conn_flush(c);
        }
    }
}


static void
wb_ping_all(void)
{
    long        i;
    wb_conn_t  *c;

    for (i = 0; i < wb_o.conns; i++) {
        c = &wb_conns[i];

        if (c->state != WB_OPEN) {
            continue;
        }

        wb_conn_send_control(c, WB_OP_PING, (unsigned char *) "ws-bench", 8);
        c->pong_due = 1;
        wb_pings++;

        (void) wb_conn_flush(c);
    }
}


static int
wb_client_main(wb_mode_e mode, int argc, char **argv)
{
    int                  i, n, timeout, rss_pid;
    long                 rss0, rss1, data0, data1;
    char                *url;
    size_t               j;
    double               secs, cpu0, cpu1, aux0, aux1, self0, self1, ramp,
                         host0[3], host1[3];
    uint64_t             now, t_meas0, t_meas1, t_warm, t_end, t_ping,
                         t_tick, t_pace, next, msgs;
    struct epoll_event   evs[WB_MAX_EVENTS];

    memset(&wb_o, 0, sizeof(wb_o));
    wb_o.mode = mode;
    wb_o.warmup = 1.0;
    wb_o.batch = 500;
    url = NULL;
    rss_pid = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
            url = argv[++i];

        } else if (strcmp(argv[i], "-H") == 0 && i + 1 < argc) {
            wb_add_header(&wb_o, argv[++i]);

        } else if (strcmp(argv[i], "-c") == 0) {
            wb_o.conns = (long) wb_arg_num(argc, argv, &i);

        } else if (strcmp(argv[i], "-w") == 0) {
            wb_o.window = (long) wb_arg_num(argc, argv, &i);

        } else if (strcmp(argv[i], "-s") == 0) {
            wb_o.size = (size_t) wb_arg_num(argc, argv, &i);

        } else if (strcmp(argv[i], "-n") == 0) {
            wb_o.total = (long) wb_arg_num(argc, argv, &i);

        } else if (strcmp(argv[i], "-d") == 0) {
            wb_o.secs = wb_arg_num(argc, argv, &i);

        } else if (strcmp(argv[i], "--warmup") == 0) {
            wb_o.warmup = wb_arg_num(argc, argv, &i);

        } else if (strcmp(argv[i], "--hold") == 0) {
            wb_o.hold = wb_arg_num(argc, argv, &i);

        } else if (strcmp(argv[i], "--rate") == 0) {
            wb_o.rate = wb_arg_num(argc, argv, &i);

        } else if (strcmp(argv[i], "--ping-every") == 0) {
            wb_o.ping_every = wb_arg_num(argc, argv, &i);

        } else if (strcmp(argv[i], "--batch") == 0) {
            wb_o.batch = (long) wb_arg_num(argc, argv, &i);

        } else if (strcmp(argv[i], "--text") == 0) {
            wb_o.binary = 0;
            wb_o.type_set = 1;

        } else if (strcmp(argv[i], "--binary") == 0) {
            wb_o.binary = 1;
            wb_o.type_set = 1;

        } else if (strcmp(argv[i], "--json-text") == 0) {
            wb_o.binary = 0;
            wb_o.json_text = 1;
            wb_o.type_set = 1;

        } else if (strcmp(argv[i], "--cpu-pid") == 0) {
            if (wb_o.ncpu_pids == WB_MAX_PIDS) {
                wb_die("too many --cpu-pid");
            }

            wb_o.cpu_pids[wb_o.ncpu_pids++] = (int) wb_arg_num(argc, argv, &i);

        } else if (strcmp(argv[i], "--aux-pid") == 0) {
            if (wb_o.naux_pids == WB_MAX_PIDS) {
                wb_die("too many --aux-pid");
            }

            wb_o.aux_pids[wb_o.naux_pids++] = (int) wb_arg_num(argc, argv, &i);

        } else if (strcmp(argv[i], "--rss-pid") == 0) {
            rss_pid = (int) wb_arg_num(argc, argv, &i);

        } else if (strcmp(argv[i], "--quiet") == 0) {
            wb_o.quiet = 1;

        } else if (strcmp(argv[i], "--json") == 0) {
            wb_o.json = 1;

        } else {
            fprintf(stderr, "ws-bench: unknown option \"%s\"\n", argv[i]);
            wb_usage();
            return 2;
        }
    }

    if (url == NULL || wb_o.conns < 1) {
        wb_die("--url and -c are required");
    }

    switch (mode) {

    case WB_MODE_THROUGHPUT:
        if (wb_o.window < 1 || wb_o.secs <= 0 || !wb_o.type_set) {
            wb_die("throughput needs -w, -s, --text or --binary, and -d");
        }

        wb_stamp_size = wb_o.binary ? 8 : 16;
        wb_stamp_off = wb_o.json_text ? 2 : 0;

        if (wb_o.size < wb_stamp_size + (wb_o.json_text ? 7 : 0)) {
            wb_die("-s must be at least %u for %s messages (the timestamp)",
                   wb_stamp_size + (wb_o.json_text ? 7 : 0),
                   wb_o.binary ? "binary" : "text");
        }

        break;

    case WB_MODE_HANDSHAKE:
        if (wb_o.total < 1 && wb_o.secs <= 0) {
            wb_die("handshake needs -n TOTAL or -d SECS");
        }

        break;

    case WB_MODE_IDLE:
        if (wb_o.batch < 1) {
            wb_die("--batch must be at least 1");
        }

        break;
    }

    wb_parse_url(&wb_o, url);
    wb_raise_nofile(wb_o.conns);

    /* the request up to the key, which is per connection */

    wb_request = malloc(256 + strlen(wb_o.target) + strlen(wb_o.host)
                        + wb_o.headers_len);
    if (wb_request == NULL) {
        wb_die("out of memory");
    }

    wb_request_len = sprintf(wb_request,
                             "GET %s HTTP/1.1\r\n"
                             "Host: %s\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Version: 13\r\n"
                             "%.*s"
                             "Sec-WebSocket-Key: ",
                             wb_o.target, wb_o.host, (int) wb_o.headers_len,
                             wb_o.headers ? wb_o.headers : "");

    /* printable for text, so that the message is valid UTF-8 */

    wb_tmpl = malloc(wb_o.size + 1);
    if (wb_tmpl == NULL) {
        wb_die("out of memory");
    }

    for (j = 0; j < wb_o.size; j++) {
        wb_tmpl[j] = wb_o.binary ? (unsigned char) (j * 7 + 3)
                                 : (unsigned char) ('a' + j % 26);
    }

    if (wb_o.json_text && wb_o.size >= 23) {
        /* ["STAMP","abc..."]: the stamp a string at offset 2 */
        memcpy(wb_tmpl, "[\"", 2);
        memcpy(wb_tmpl + 18, "\",\"", 3);
        memcpy(wb_tmpl + wb_o.size - 2, "\"]", 2);
    }

    wb_conns = calloc(wb_o.conns, sizeof(wb_conn_t));
    if (wb_conns == NULL) {
        wb_die("out of memory");
    }

    for (i = 0; i < wb_o.conns; i++) {
        wb_conns[i].fd = -1;
    }

    wb_ep = epoll_create1(EPOLL_CLOEXEC);
    if (wb_ep == -1) {
        wb_die("epoll_create1: %s", strerror(errno));
    }

    now = wb_now();
    t_meas0 = now;
    t_meas1 = 0;
    t_warm = 0;
    t_end = 0;
    t_ping = 0;
    t_tick = now;
    t_pace = now;
    cpu0 = cpu1 = aux0 = aux1 = 0;
    self0 = self1 = 0;
    host0[0] = host0[1] = host0[2] = 0;
    host1[0] = host1[1] = host1[2] = 0;
    rss0 = rss1 = data0 = data1 = -1;
    msgs = 0;
    ramp = 0;
    wb_phase = WB_PHASE_SETUP;

    if (rss_pid) {
        wb_proc_mem_kb(rss_pid, &rss0, &data0);
    }

    if (mode == WB_MODE_HANDSHAKE) {
        wb_phase = WB_PHASE_MEASURE;
        cpu0 = wb_proc_cpu(wb_o.cpu_pids, wb_o.ncpu_pids);
        aux0 = wb_proc_cpu(wb_o.aux_pids, wb_o.naux_pids);
        self0 = wb_self_cpu();
        wb_host_cpu(host0);
        t_end = now + (uint64_t) (wb_o.secs * 1e9);
    }

    wb_pump(now, t_end);

    while (wb_phase != WB_PHASE_OVER) {

        next = now + 100000000;

        if (wb_phase == WB_PHASE_WARMUP && t_warm < next) {
            next = t_warm;
        }

        if ((wb_phase == WB_PHASE_MEASURE || wb_phase == WB_PHASE_HOLD)
            && t_end < next)
        {
            next = t_end;
        }

        if (wb_phase == WB_PHASE_HOLD && t_ping && t_ping < next) {
            next = t_ping;
        }

        if (wb_o.rate > 0 && wb_phase < WB_PHASE_CLOSING
            && now + 1000000 < next)
        {
            next = now + 1000000;
        }

        timeout = next > now ? (int) ((next - now + 999999) / 1000000) : 0;

        n = epoll_wait(wb_ep, evs, WB_MAX_EVENTS, timeout);

        if (n == -1 && errno != EINTR) {
            wb_die("epoll_wait: %s", strerror(errno));
        }

        for (i = 0; i < n; i++) {
            wb_conn_event(evs[i].data.ptr, evs[i].events);
        }

        now = wb_now();

        if (wb_o.rate > 0 && wb_phase < WB_PHASE_CLOSING
            && wb_phase != WB_PHASE_SETUP)
        {
            wb_pace(now, t_pace);
        }

        if (now - t_tick >= 100000000) {
            wb_timeouts(now);
            t_tick = now;
        }

        switch (wb_phase) {

        case WB_PHASE_SETUP:
            wb_pump(now, t_end);

            if (wb_started < wb_o.conns || wb_pending > 0) {
                break;
            }

            ramp = (now - t_meas0) / 1e9;

            if (wb_open_now == 0) {
                wb_phase = WB_PHASE_OVER;
                break;
            }

            if (mode == WB_MODE_IDLE) {
                fprintf(stderr, "ws-bench: ready established=%ld\n",
                        wb_open_now);
                wb_phase = WB_PHASE_HOLD;
                t_meas0 = now;
                t_end = now + (uint64_t) (wb_o.hold * 1e9);

                if (wb_o.ping_every > 0) {
                    t_ping = now + (uint64_t) (wb_o.ping_every * 1e9);
                }

                break;
            }

            wb_phase = WB_PHASE_WARMUP;
            t_warm = now + (uint64_t) (wb_o.warmup * 1e9);
            t_pace = now;

            /* fall through */

        case WB_PHASE_WARMUP:
            if (now < t_warm) {
                break;
            }

            memset(&wb_hist, 0, sizeof(wb_hist));
            wb_msgs = 0;
            cpu0 = wb_proc_cpu(wb_o.cpu_pids, wb_o.ncpu_pids);
            aux0 = wb_proc_cpu(wb_o.aux_pids, wb_o.naux_pids);
            self0 = wb_self_cpu();
            wb_host_cpu(host0);
            t_meas0 = wb_now();
            t_end = t_meas0 + (uint64_t) (wb_o.secs * 1e9);
            wb_phase = WB_PHASE_MEASURE;
            break;

        case WB_PHASE_MEASURE:
            if (mode == WB_MODE_HANDSHAKE) {
                wb_pump(now, t_end);

                if (wb_active > 0) {
                    break;
                }

            } else if (now < t_end && wb_open_now > 0) {
                break;
            }

            t_meas1 = wb_now();
            cpu1 = wb_proc_cpu(wb_o.cpu_pids, wb_o.ncpu_pids);
            aux1 = wb_proc_cpu(wb_o.aux_pids, wb_o.naux_pids);
            self1 = wb_self_cpu();
            wb_host_cpu(host1);
            msgs = wb_msgs;
            wb_phase = WB_PHASE_CLOSING;
            wb_close_all(now);
            break;

        case WB_PHASE_HOLD:
            if (t_ping && now >= t_ping) {
                wb_ping_all();
                t_ping += (uint64_t) (wb_o.ping_every * 1e9);
            }

            if (now < t_end && wb_open_now > 0) {
                break;
            }

            t_meas1 = wb_now();

            if (rss_pid) {
                wb_proc_mem_kb(rss_pid, &rss1, &data1);
            }

            wb_phase = WB_PHASE_CLOSING;
            wb_close_all(now);
            break;

        case WB_PHASE_CLOSING:
            if (wb_active == 0) {
                wb_phase = WB_PHASE_OVER;
            }

            break;
        }
    }

    if (t_meas1 == 0) {
        t_meas1 = wb_now();
    }

    secs = (t_meas1 - t_meas0) / 1e9;

    if (mode == WB_MODE_IDLE && wb_pings > wb_pongs) {
        wb_errors += wb_pings - wb_pongs;

        if (wb_first_error[0] == '\0') {
            snprintf(wb_first_error, sizeof(wb_first_error),
                     "%llu pings not answered",
                     (unsigned long long) (wb_pings - wb_pongs));
        }
    }

    switch (mode) {

    case WB_MODE_THROUGHPUT:
        wb_out("mode", "throughput");
        wb_out("conns", "%ld", wb_o.conns);
        wb_out("window", "%ld", wb_o.window);
        wb_out("size", "%zu", wb_o.size);
        wb_out("type", "%s", wb_o.binary ? "binary" : "text");
        wb_out("secs", "%.2f", secs);
        wb_out("msgs", "%llu", (unsigned long long) msgs);
        wb_out("rate", "%.1f", secs > 0 ? msgs / secs : 0);

        if (wb_o.rate > 0) {
            wb_out("target_rate", "%.0f", wb_o.rate);
        }

        break;

    case WB_MODE_HANDSHAKE:
        wb_out("mode", "handshake");
        wb_out("conc", "%ld", wb_o.conns);
        wb_out("total", "%ld", wb_o.total);
        wb_out("handshakes", "%llu", (unsigned long long) wb_handshakes);
        wb_out("secs", "%.2f", secs);
        wb_out("rate", "%.1f", secs > 0 ? wb_handshakes / secs : 0);
        break;

    case WB_MODE_IDLE:
        wb_out("mode", "idle");
        wb_out("conns", "%ld", wb_o.conns);
        wb_out("established", "%ld", wb_established);
        wb_out("ramp_s", "%.2f", ramp);
        wb_out("hold_s", "%.2f", secs);
        wb_out("pings", "%llu", (unsigned long long) wb_pings);
        wb_out("pongs", "%llu", (unsigned long long) wb_pongs);

        if (rss_pid) {
            wb_out("rss_before_kb", "%ld", rss0);
            wb_out("rss_after_kb", "%ld", rss1);
            wb_out("data_before_kb", "%ld", data0);
            wb_out("data_after_kb", "%ld", data1);
        }

        break;
    }

    if (mode != WB_MODE_IDLE) {
        wb_out("p50_us", "%.1f", wb_hist_quantile(&wb_hist, 0.50) / 1e3);
        wb_out("p99_us", "%.1f", wb_hist_quantile(&wb_hist, 0.99) / 1e3);
        wb_out("max_us", "%.1f", wb_hist.max / 1e3);
    }

    wb_out("errors", "%ld", wb_errors);
    wb_out("close_errors", "%ld", wb_close_errors);

    if (mode != WB_MODE_IDLE) {
        if (wb_o.ncpu_pids) {
            wb_out("cpu_s", "%.3f", cpu1 - cpu0);
            wb_out("cpu_util", "%.3f", secs > 0 ? (cpu1 - cpu0) / secs : 0);
        }

        if (wb_o.naux_pids) {
            wb_out("aux_cpu_s", "%.3f", aux1 - aux0);
        }

        wb_out("self_cpu_s", "%.3f", self1 - self0);

        /* what every process of the machine used, for the noise */
        wb_out("host_cpu_s", "%.3f", host1[0] - host0[0]);
        wb_out("host_softirq_s", "%.3f", host1[1] - host0[1]);
        wb_out("host_steal_s", "%.3f", host1[2] - host0[2]);
    }

    printf("%s%s\n", wb_out_line, wb_o.json ? "}" : "");
    fflush(stdout);

    if (wb_errors > 0 && !wb_o.quiet) {
        fprintf(stderr, "ws-bench: %ld error%s, the first: %s\n", wb_errors,
                wb_errors == 1 ? "" : "s", wb_first_error);
    }

    if (wb_errors > 0) {
        return 1;
    }

    switch (mode) {
    case WB_MODE_THROUGHPUT:
        return msgs == 0;
    case WB_MODE_HANDSHAKE:
        return wb_handshakes == 0;
    default:
        return wb_established < wb_o.conns;
    }
}
