
/*
 * Copyright (C) ws-api authors
 */


/*
 * libFuzzer target: the data types of handshake parameters
 * (ngx_http_ws_api_value_parse() and ngx_http_ws_api_value_equal() of
 * src/ngx_http_ws_api_param.h).
 *
 * The input is parsed as each of the six data types; so are the two
 * parts it has on either side of its first newline.  The invariants:
 *
 *  - a parsed value points to the text, has its type, equals itself, and
 *    the answer is the same without a value to fill in;
 *  - equality is symmetric, never true across types, and transitive over
 *    the three values;
 *  - integer and double agree with strtoll() and strtod() of glibc on
 *    every text of their grammar;
 *  - boolean is "true" or "false" in any case;
 *  - a date or a date-time written back out by a formatter of its own
 *    (glibc's gmtime_r()) parses to the same value, and the instant of a
 *    date-time is the one timegm() gives for its fields;
 *  - the type and location names read back as themselves.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_http_ws_api_param.h"
#include "fuzz.h"


#define FUZZ_NTYPES  6


static void fuzz_value(ngx_http_ws_api_type_e type, const u_char *s,
    size_t len, ngx_http_ws_api_value_t *v, int *ok);
static void fuzz_integer(const u_char *s, size_t len, int ok,
    const ngx_http_ws_api_value_t *v);
static void fuzz_double(const u_char *s, size_t len, int ok,
    const ngx_http_ws_api_value_t *v);
static int fuzz_double_grammar(const u_char *s, size_t len);
static void fuzz_date(const u_char *s, size_t len, int ok,
    const ngx_http_ws_api_value_t *v);
static void fuzz_date_time(const u_char *s, size_t len,
    const ngx_http_ws_api_value_t *v);
static size_t fuzz_format(char *buf, size_t size, int64_t sec,
    uint32_t nsec, int offset, int digits);
static int fuzz_digits(const u_char *s, size_t n);
static void fuzz_names(const u_char *s, size_t len);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                       ok[3][FUZZ_NTYPES];
    size_t                    len[3], i, t, u;
    const u_char             *s[3], *nl;
    ngx_http_ws_api_value_t   v[3][FUZZ_NTYPES];

    /* the input, and its parts before and after the first newline */

    s[0] = data;
    len[0] = size;

    nl = memchr(data, '\n', size);

    if (nl) {
        s[1] = data;
        len[1] = nl - data;
        s[2] = nl + 1;
        len[2] = size - len[1] - 1;

    } else {
        s[1] = data;
        len[1] = size;
        s[2] = data;
        len[2] = size;
    }

    for (i = 0; i < 3; i++) {
        for (t = 0; t < FUZZ_NTYPES; t++) {
            fuzz_value(t, s[i], len[i], &v[i][t], &ok[i][t]);
        }
    }

    /* equality: symmetric, never across types, transitive */

    for (t = 0; t < FUZZ_NTYPES; t++) {
        for (u = 0; u < FUZZ_NTYPES; u++) {
            if (!ok[1][t] || !ok[2][u]) {
                continue;
            }

            fuzz_assert(ngx_http_ws_api_value_equal(&v[1][t], &v[2][u])
                        == ngx_http_ws_api_value_equal(&v[2][u], &v[1][t]));

            if (t != u) {
                fuzz_assert(!ngx_http_ws_api_value_equal(&v[1][t],
                                                         &v[2][u]));
            }
        }

        if (ok[0][t] && ok[1][t] && ok[2][t]
            && ngx_http_ws_api_value_equal(&v[0][t], &v[1][t])
            && ngx_http_ws_api_value_equal(&v[1][t], &v[2][t]))
        {
            fuzz_assert(ngx_http_ws_api_value_equal(&v[0][t], &v[2][t]));
        }

        /* strings: the same bytes */

        if (t == NGX_HTTP_WS_API_STRING) {
            fuzz_assert(ngx_http_ws_api_value_equal(&v[1][t], &v[2][t])
                        == (len[1] == len[2]
                            && memcmp(s[1], s[2], len[1]) == 0));
        }
    }

    fuzz_names(data, size);

    return 0;
}


static void
fuzz_value(ngx_http_ws_api_type_e type, const u_char *s, size_t len,
    ngx_http_ws_api_value_t *v, int *ok)
{
    int  rc;

    rc = ngx_http_ws_api_value_parse(type, s, len, v);

    fuzz_assert(rc == 0 || rc == -1);
    fuzz_assert(ngx_http_ws_api_value_parse(type, s, len, NULL) == rc);

    *ok = (rc == 0);

    if (*ok) {
        fuzz_assert(v->type == type && v->data == s && v->len == len);
        fuzz_assert(ngx_http_ws_api_value_equal(v, v));
    }

    switch (type) {

    case NGX_HTTP_WS_API_STRING:
        fuzz_assert(*ok);
        break;

    case NGX_HTTP_WS_API_BOOLEAN:
        fuzz_assert(*ok == ((len == 4
                             && strncasecmp((char *) s, "true", 4) == 0)
                            || (len == 5
                                && strncasecmp((char *) s, "false", 5) == 0)));

        if (*ok) {
            fuzz_assert(v->u.boolean == (len == 4));
        }

        break;

    case NGX_HTTP_WS_API_INTEGER:
        fuzz_integer(s, len, *ok, v);
        break;

    case NGX_HTTP_WS_API_DOUBLE:
        fuzz_double(s, len, *ok, v);
        break;

    case NGX_HTTP_WS_API_DATE:
        fuzz_date(s, len, *ok, v);
        break;

    case NGX_HTTP_WS_API_DATE_TIME:
        if (*ok) {
            fuzz_date_time(s, len, v);
        }

        break;
    }
}


/* [+-]?[0-9]+ within int64_t, as strtoll() has it */

static void
fuzz_integer(const u_char *s, size_t len, int ok,
    const ngx_http_ws_api_value_t *v)
{
    int        sign;
    char      *copy, *end;
    long long  n;

    sign = (len > 0 && (s[0] == '+' || s[0] == '-'));

    if (len == (size_t) sign || !fuzz_digits(s + sign, len - sign)) {
        fuzz_assert(!ok);
        return;
    }

    copy = strndup((const char *) s, len);
    fuzz_assert(copy != NULL);

    errno = 0;
    n = strtoll(copy, &end, 10);

    fuzz_assert(*end == '\0');
    fuzz_assert_msg(ok == (errno != ERANGE), "\"%s\" %s", copy,
                    ok ? "accepted" : "refused");

    if (ok) {
        fuzz_assert(v->u.integer == n);
    }

    free(copy);
}


/* the decimal grammar, as strtod() reads it, to the same double */

static void
fuzz_double(const u_char *s, size_t len, int ok,
    const ngx_http_ws_api_value_t *v)
{
    char    *copy, *end;
    double   d;

    if (!fuzz_double_grammar(s, len)) {
        fuzz_assert_msg(!ok, "\"%.*s\" accepted as a double", (int) len, s);
        return;
    }

    copy = strndup((const char *) s, len);
    fuzz_assert(copy != NULL);

    d = strtod(copy, &end);

    fuzz_assert(*end == '\0');
    fuzz_assert_msg(ok == (isfinite(d) != 0), "\"%s\" %s", copy,
                    ok ? "accepted" : "refused");

    if (ok) {
        fuzz_assert_msg(memcmp(&d, &v->u.dbl, sizeof(double)) == 0,
                        "\"%s\": %.17g, strtod() %.17g", copy, v->u.dbl, d);
    }

    free(copy);
}


/* [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)? */

static int
fuzz_double_grammar(const u_char *s, size_t len)
{
    size_t  i, n, f;

    i = 0;

    if (i < len && (s[i] == '+' || s[i] == '-')) {
        i++;
    }

    for (n = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++, n++) {
        /* void */
    }

    f = 0;

    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, f++) {
            /* void */
        }
    }

    if (n == 0 && f == 0) {
        return 0;
    }

    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;

        if (i < len && (s[i] == '+' || s[i] == '-')) {
            i++;
        }

        if (i == len || s[i] < '0' || s[i] > '9') {
            return 0;
        }

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
    }

    return i == len;
}


/* YYYY-MM-DD: accepted when it is a day, written back the same */

static void
fuzz_date(const u_char *s, size_t len, int ok,
    const ngx_http_ws_api_value_t *v)
{
    int   y, m, d, mdays, leap;
    char  buf[64];

    static const int  month_days[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    if (len != 10 || !fuzz_digits(s, 4) || s[4] != '-'
        || !fuzz_digits(s + 5, 2) || s[7] != '-' || !fuzz_digits(s + 8, 2))
    {
        fuzz_assert(!ok);
        return;
    }

    y = atoi((const char *) s);
    m = (s[5] - '0') * 10 + s[6] - '0';
    d = (s[8] - '0') * 10 + s[9] - '0';

    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    mdays = (m >= 1 && m <= 12) ? month_days[m - 1] + (m == 2 && leap) : 0;

    fuzz_assert_msg(ok == (d >= 1 && d <= mdays), "\"%.10s\" %s", s,
                    ok ? "accepted" : "refused");

    if (!ok) {
        return;
    }

    fuzz_format(buf, sizeof(buf), v->u.integer * 86400, 0, 0, -1);

    fuzz_assert_msg(memcmp(buf, s, 10) == 0, "\"%.10s\" written back as %s",
                    s, buf);
}


/*
 * A date-time accepted: its instant is timegm() of its fields less the
 * offset, and it is written back out, in UTC or with an offset that
 * keeps the year within 0000 to 9999, with and without its fraction.
 */

static void
fuzz_date_time(const u_char *s, size_t len,
    const ngx_http_ws_api_value_t *v)
{
    int                      offset, sign, digits;
    char                     buf[64];
    size_t                   i, n;
    time_t                   t;
    uint32_t                 nsec;
    struct tm                tm;
    ngx_http_ws_api_value_t  back;

    fuzz_assert(len >= 20);

    memset(&tm, 0, sizeof(struct tm));

    tm.tm_year = atoi((const char *) s) - 1900;
    tm.tm_mon = (s[5] - '0') * 10 + s[6] - '0' - 1;
    tm.tm_mday = (s[8] - '0') * 10 + s[9] - '0';
    tm.tm_hour = (s[11] - '0') * 10 + s[12] - '0';
    tm.tm_min = (s[14] - '0') * 10 + s[15] - '0';
    tm.tm_sec = (s[17] - '0') * 10 + s[18] - '0';

    t = timegm(&tm);

    i = 19;
    nsec = 0;
    digits = 0;

    if (s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (digits < 9) {
                nsec = nsec * 10 + (s[i] - '0');
            }

            digits++;
        }

        for (n = digits; n < 9; n++) {
            nsec *= 10;
        }
    }

    offset = 0;

    if (s[i] == '+' || s[i] == '-') {
        sign = (s[i] == '-') ? -1 : 1;
        offset = sign * (((s[i + 1] - '0') * 10 + s[i + 2] - '0') * 3600
                         + ((s[i + 4] - '0') * 10 + s[i + 5] - '0') * 60);
    }

    fuzz_assert_msg(v->u.time.sec == (int64_t) t - offset
                    && v->u.time.nsec == nsec,
                    "\"%.*s\": %lld.%09u, timegm() %lld.%09u", (int) len, s,
                    (long long) v->u.time.sec, v->u.time.nsec,
                    (long long) t - offset, nsec);

    /* written back out */

    for (digits = -1; digits <= 9; digits += 10) {

        n = fuzz_format(buf, sizeof(buf), v->u.time.sec, v->u.time.nsec, 1,
                        digits);

        fuzz_assert_msg(ngx_http_ws_api_value_parse(NGX_HTTP_WS_API_DATE_TIME,
                                                    (u_char *) buf, n, &back)
                        == 0,
                        "\"%.*s\" written back as \"%s\", refused",
                        (int) len, s, buf);

        fuzz_assert_msg(ngx_http_ws_api_value_equal(v, &back)
                        && ngx_http_ws_api_value_equal(&back, v),
                        "\"%.*s\" written back as \"%s\", another value",
                        (int) len, s, buf);
    }
}


/*
 * The instant sec.nsec as RFC 3339 with gmtime_r(); date only when
 * datetime is 0; the fraction trimmed (digits -1) or with 9 digits, and
 * an offset of +-23:59 when UTC is outside the years 0000 to 9999.
 */

static size_t
fuzz_format(char *buf, size_t size, int64_t sec, uint32_t nsec,
    int datetime, int digits)
{
    int        offset, n, len;
    char       frac[16], zone[8];
    time_t     t;
    struct tm  tm;

    offset = 0;

    if (sec < -62167219200LL) {                 /* 0000-01-01T00:00:00Z */
        offset = 23 * 3600 + 59 * 60;

    } else if (sec >= 253402300800LL) {         /* 10000-01-01T00:00:00Z */
        offset = -(23 * 3600 + 59 * 60);
    }

    t = (time_t) (sec + offset);

    fuzz_assert(gmtime_r(&t, &tm) != NULL);

    if (!datetime) {
        len = snprintf(buf, size, "%04d-%02d-%02d", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday);
        return len;
    }

    frac[0] = '\0';

    if (digits == 9 || nsec) {
        n = snprintf(frac, sizeof(frac), ".%09u", nsec);

        while (digits != 9 && n > 2 && frac[n - 1] == '0') {
            frac[--n] = '\0';
        }
    }

    if (offset == 0) {
        snprintf(zone, sizeof(zone), "Z");

    } else {
        snprintf(zone, sizeof(zone), "%c23:59", offset > 0 ? '+' : '-');
    }

    len = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%s%s",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, frac, zone);

    return len;
}


static int
fuzz_digits(const u_char *s, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/* the names of types and locations read back as themselves */

static void
fuzz_names(const u_char *s, size_t len)
{
    int          t;
    const char  *name;

    t = ngx_http_ws_api_type_parse(s, len);

    if (t >= 0) {
        fuzz_assert(t < FUZZ_NTYPES);

        name = ngx_http_ws_api_type_name(t);

        fuzz_assert(ngx_http_ws_api_type_parse((const u_char *) name,
                                               strlen(name))
                    == t);
        fuzz_assert((strlen(name) == len && strncasecmp(name, (char *) s, len)
                                             == 0)
                    || (len == 9 && strncasecmp("date time", (char *) s, 9)
                                    == 0));
    }

    t = ngx_http_ws_api_in_parse(s, len);

    if (t >= 0) {
        name = ngx_http_ws_api_in_name(t);

        fuzz_assert(ngx_http_ws_api_in_parse((const u_char *) name,
                                             strlen(name))
                    == t);
        fuzz_assert((strlen(name) == len && strncasecmp(name, (char *) s, len)
                                             == 0)
                    || (len == 12 && strncasecmp("query-string", (char *) s,
                                                 12)
                                     == 0));
    }
}
