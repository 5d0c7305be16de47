
/*
 * Copyright (C) ws-api authors
 */


/*
 * The data types of handshake parameters and the extraction of their
 * values from a query string and from request headers (SPEC 4.1).
 *
 * Decisions where the specification is silent:
 *
 * - A query key given without "=" ("?a") or with nothing after it
 *   ("?a=") is present with one empty value; so is a header whose value
 *   is empty or only white space.  An empty value is a valid string and
 *   invalid for every other data type.
 *
 * - Values are split on every ",", so "a,,b" is three values, the middle
 *   one empty, and "a," is two.  In a query string the raw value is split
 *   first and each piece percent-decoded after, so "%2C" is a comma inside
 *   a value and never a separator.  Header values are split the same way,
 *   and spaces and tabs around each element are removed; they are not
 *   percent-decoded.
 *
 * - Query keys and values are decoded as application/x-www-form-urlencoded:
 *   "+" is a space, "%XX" a byte; a "%" not followed by two hexadecimal
 *   digits is kept as it is.  Keys match the parameter name exactly
 *   (case-sensitive) after decoding; header names match in any case.
 *
 * - The checks run in this order: missing, not_array (the values of all
 *   occurrences are counted first), then invalid_type for any value, then
 *   value_not_allowed for any value: a value of the wrong type is reported
 *   even when another value, earlier, is merely not allowed.
 *
 * - date-time follows RFC 3339; a leap second (":60") is accepted where
 *   one can be, at 23:59:60 UTC on the last day of a month (RFC 3339
 *   5.7), and is the same instant as 00:00:00 of the next day; fractional
 *   seconds may have any number of digits, those beyond nanoseconds are
 *   ignored.  "-00:00" is the same as "Z".
 *
 * - date and date-time use the proleptic Gregorian calendar over the
 *   years 0000 to 9999.
 *
 * - The type labels are matched in any case, "Date time" and "date-time"
 *   both; "datetime" is not a data type.  "Query-string" and "query" are
 *   matched in any case; "query string" is not.
 */


#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_ws_api_param.h"


/*
 * Significant digits of a double kept for strtod(): more than the 767
 * that may decide the rounding of a decimal number to a double.
 */
#define NGX_HTTP_WS_API_DBL_DIGITS  800

/* a decimal exponent beyond which every double is zero or infinite */
#define NGX_HTTP_WS_API_DBL_EXP     1000000


static int ngx_http_ws_api_caseeq(const u_char *s, size_t len,
    const char *lit);
static int ngx_http_ws_api_casecmp(const u_char *a, const u_char *b,
    size_t n);
static int ngx_http_ws_api_digits(const u_char *s, size_t n, int *out);
static int ngx_http_ws_api_integer_parse(const u_char *s, size_t len,
    int64_t *out);
static int ngx_http_ws_api_double_parse(const u_char *s, size_t len,
    double *out);
static int ngx_http_ws_api_date_parse(const u_char *s, int64_t *days);
static int ngx_http_ws_api_first_of_month(int64_t days);
static int ngx_http_ws_api_date_time_parse(const u_char *s, size_t len,
    int64_t *sec, uint32_t *nsec);
static int ngx_http_ws_api_value_allowed(const ngx_http_ws_api_param_t *p,
    const ngx_http_ws_api_value_t *v);
static ngx_http_ws_api_reason_e ngx_http_ws_api_check_value(
    const ngx_http_ws_api_param_t *p, const u_char *s, size_t len,
    int *not_allowed);
static const u_char *ngx_http_ws_api_piece(u_char *scratch,
    const u_char *args, const u_char *s, size_t len, size_t *n);
static size_t ngx_http_ws_api_decode(u_char *dst, const u_char *src,
    size_t len);
static int ngx_http_ws_api_hex(u_char c);
static ngx_http_ws_api_reason_e ngx_http_ws_api_param_check_query(
    const ngx_http_ws_api_param_t *p, const u_char *args, size_t args_len,
    u_char *scratch);
static ngx_http_ws_api_reason_e ngx_http_ws_api_param_check_header(
    const ngx_http_ws_api_param_t *p, const ngx_http_ws_api_header_t *headers,
    size_t nheaders);


static const char  *ngx_http_ws_api_type_names[] = {
    "string",
    "date",
    "date-time",
    "integer",
    "double",
    "boolean"
};


static const char  *ngx_http_ws_api_in_names[] = {
    "query",
    "header"
};


static const char  *ngx_http_ws_api_reason_names[] = {
    "ok",
    "missing",
    "not_array",
    "invalid_type",
    "value_not_allowed"
};


int
ngx_http_ws_api_type_parse(const u_char *s, size_t len)
{
    int  i;

    for (i = 0; i < 6; i++) {
        if (ngx_http_ws_api_caseeq(s, len, ngx_http_ws_api_type_names[i])) {
            return i;
        }
    }

    /* the label of the user interface */

    if (ngx_http_ws_api_caseeq(s, len, "date time")) {
        return NGX_HTTP_WS_API_DATE_TIME;
    }

    return -1;
}


const char *
ngx_http_ws_api_type_name(ngx_http_ws_api_type_e type)
{
    if ((unsigned) type > NGX_HTTP_WS_API_BOOLEAN) {
        return "unknown";
    }

    return ngx_http_ws_api_type_names[type];
}


int
ngx_http_ws_api_in_parse(const u_char *s, size_t len)
{
    if (ngx_http_ws_api_caseeq(s, len, "query")
        || ngx_http_ws_api_caseeq(s, len, "query-string"))
    {
        return NGX_HTTP_WS_API_IN_QUERY;
    }

    if (ngx_http_ws_api_caseeq(s, len, "header")) {
        return NGX_HTTP_WS_API_IN_HEADER;
    }

    return -1;
}


const char *
ngx_http_ws_api_in_name(ngx_http_ws_api_in_e in)
{
    if ((unsigned) in > NGX_HTTP_WS_API_IN_HEADER) {
        return "unknown";
    }

    return ngx_http_ws_api_in_names[in];
}


const char *
ngx_http_ws_api_reason_name(ngx_http_ws_api_reason_e reason)
{
    if ((unsigned) reason > NGX_HTTP_WS_API_PARAM_NOT_ALLOWED) {
        return "unknown";
    }

    return ngx_http_ws_api_reason_names[reason];
}


int
ngx_http_ws_api_value_parse(ngx_http_ws_api_type_e type, const u_char *s,
    size_t len, ngx_http_ws_api_value_t *v)
{
    int                      boolean;
    double                   dbl;
    int64_t                  integer;
    uint32_t                 nsec;
    ngx_http_ws_api_value_t  tmp;

    if (v == NULL) {
        v = &tmp;
    }

    integer = 0;
    nsec = 0;
    dbl = 0;
    boolean = 0;

    switch (type) {

    case NGX_HTTP_WS_API_STRING:
        break;

    case NGX_HTTP_WS_API_DATE:
        if (len != 10 || ngx_http_ws_api_date_parse(s, &integer) != 0) {
            return -1;
        }
        break;

    case NGX_HTTP_WS_API_DATE_TIME:
        if (ngx_http_ws_api_date_time_parse(s, len, &integer, &nsec) != 0) {
            return -1;
        }
        break;

    case NGX_HTTP_WS_API_INTEGER:
        if (ngx_http_ws_api_integer_parse(s, len, &integer) != 0) {
            return -1;
        }
        break;

    case NGX_HTTP_WS_API_DOUBLE:
        if (ngx_http_ws_api_double_parse(s, len, &dbl) != 0) {
            return -1;
        }
        break;

    case NGX_HTTP_WS_API_BOOLEAN:
        if (ngx_http_ws_api_caseeq(s, len, "true")) {
            boolean = 1;

        } else if (!ngx_http_ws_api_caseeq(s, len, "false")) {
            return -1;
        }
        break;

    default:
        return -1;
    }

    memset(v, 0, sizeof(ngx_http_ws_api_value_t));

    v->type = type;
    v->data = s;
    v->len = len;

    switch (type) {

    case NGX_HTTP_WS_API_DATE_TIME:
        v->u.time.sec = integer;
        v->u.time.nsec = nsec;
        break;

    case NGX_HTTP_WS_API_DOUBLE:
        v->u.dbl = dbl;
        break;

    case NGX_HTTP_WS_API_BOOLEAN:
        v->u.boolean = boolean;
        break;

    default:
        v->u.integer = integer;
    }

    return 0;
}


int
ngx_http_ws_api_value_equal(const ngx_http_ws_api_value_t *a,
    const ngx_http_ws_api_value_t *b)
{
    if (a->type != b->type) {
        return 0;
    }

    switch (a->type) {

    case NGX_HTTP_WS_API_STRING:
        return a->len == b->len
               && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);

    case NGX_HTTP_WS_API_DATE:
    case NGX_HTTP_WS_API_INTEGER:
        return a->u.integer == b->u.integer;

    case NGX_HTTP_WS_API_DATE_TIME:
        return a->u.time.sec == b->u.time.sec
               && a->u.time.nsec == b->u.time.nsec;

    case NGX_HTTP_WS_API_DOUBLE:
        return a->u.dbl == b->u.dbl;

    case NGX_HTTP_WS_API_BOOLEAN:
        return !a->u.boolean == !b->u.boolean;

    default:
        return 0;
    }
}


ngx_http_ws_api_reason_e
ngx_http_ws_api_param_check(const ngx_http_ws_api_param_t *p,
    const u_char *args, size_t args_len,
    const ngx_http_ws_api_header_t *headers, size_t nheaders,
    u_char *scratch)
{
    if (p->in == NGX_HTTP_WS_API_IN_HEADER) {
        return ngx_http_ws_api_param_check_header(p, headers, nheaders);
    }

    return ngx_http_ws_api_param_check_query(p, args, args_len, scratch);
}


static ngx_http_ws_api_reason_e
ngx_http_ws_api_param_check_query(const ngx_http_ws_api_param_t *p,
    const u_char *args, size_t args_len, u_char *scratch)
{
    int                       pass, not_allowed;
    size_t                    n, count;
    const u_char             *pos, *end, *pair, *eq, *val, *piece, *s;
    ngx_http_ws_api_reason_e  rc;

    if (args == NULL) {
        /* no query string: no arithmetic on a null pointer either */
        args = (const u_char *) "";
        args_len = 0;
    }

    /*
     * The first pass counts the values of the parameter, the second one
     * checks each of them.  Every piece of the query string is decoded
     * into scratch at its own offset, so no two pieces overlap.
     */

    count = 0;
    not_allowed = 0;

    for (pass = 0; pass < 2; pass++) {

        end = args + args_len;

        for (pos = args; pos < end; pos = pair + 1) {

            pair = memchr(pos, '&', end - pos);
            if (pair == NULL) {
                pair = end;
            }

            if (pair == pos || (size_t) (pair - pos) < p->name_len) {
                continue;
            }

            eq = memchr(pos, '=', pair - pos);
            if (eq == NULL) {
                eq = pair;
            }

            s = ngx_http_ws_api_piece(scratch, args, pos, eq - pos, &n);

            if (n != p->name_len || (n && memcmp(s, p->name, n) != 0)) {
                continue;
            }

            val = (eq < pair) ? eq + 1 : pair;

            for ( ;; ) {
                piece = memchr(val, ',', pair - val);
                if (piece == NULL) {
                    piece = pair;
                }

                if (pass == 0) {
                    count++;

                } else {
                    s = ngx_http_ws_api_piece(scratch, args, val, piece - val,
                                              &n);

                    rc = ngx_http_ws_api_check_value(p, s, n, &not_allowed);
                    if (rc != NGX_HTTP_WS_API_PARAM_OK) {
                        return rc;
                    }
                }

                if (piece == pair) {
                    break;
                }

                val = piece + 1;
            }
        }

        if (pass == 0) {
            if (count == 0) {
                return p->required ? NGX_HTTP_WS_API_PARAM_MISSING
                                   : NGX_HTTP_WS_API_PARAM_OK;
            }

            if (count > 1 && !p->array) {
                return NGX_HTTP_WS_API_PARAM_NOT_ARRAY;
            }
        }
    }

    return not_allowed ? NGX_HTTP_WS_API_PARAM_NOT_ALLOWED
                       : NGX_HTTP_WS_API_PARAM_OK;
}


static ngx_http_ws_api_reason_e
ngx_http_ws_api_param_check_header(const ngx_http_ws_api_param_t *p,
    const ngx_http_ws_api_header_t *headers, size_t nheaders)
{
    int                       pass, not_allowed;
    size_t                    i, count;
    const u_char             *val, *end, *piece, *s, *e;
    ngx_http_ws_api_reason_e  rc;

    if (headers == NULL) {
        nheaders = 0;
    }

    count = 0;
    not_allowed = 0;

    for (pass = 0; pass < 2; pass++) {

        for (i = 0; i < nheaders; i++) {

            if (headers[i].name_len != p->name_len
                || !ngx_http_ws_api_casecmp(headers[i].name, p->name,
                                            p->name_len))
            {
                continue;
            }

            val = headers[i].value;
            end = (val != NULL) ? val + headers[i].value_len : NULL;

            for ( ;; ) {
                piece = (val < end) ? memchr(val, ',', end - val) : NULL;
                if (piece == NULL) {
                    piece = end;
                }

                if (pass == 0) {
                    count++;

                } else {
                    s = val;
                    e = piece;

                    while (s < e && (*s == ' ' || *s == '\t')) {
                        s++;
                    }

                    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
                        e--;
                    }

                    rc = ngx_http_ws_api_check_value(p, s, e - s,
                                                     &not_allowed);
                    if (rc != NGX_HTTP_WS_API_PARAM_OK) {
                        return rc;
                    }
                }

                if (piece == end) {
                    break;
                }

                val = piece + 1;
            }
        }

        if (pass == 0) {
            if (count == 0) {
                return p->required ? NGX_HTTP_WS_API_PARAM_MISSING
                                   : NGX_HTTP_WS_API_PARAM_OK;
            }

            if (count > 1 && !p->array) {
                return NGX_HTTP_WS_API_PARAM_NOT_ARRAY;
            }
        }
    }

    return not_allowed ? NGX_HTTP_WS_API_PARAM_NOT_ALLOWED
                       : NGX_HTTP_WS_API_PARAM_OK;
}


/*
 * Checks one value of a parameter: INVALID_TYPE at once, a value that
 * is not allowed only noted, since a later value of the wrong type is
 * reported first.
 */

static ngx_http_ws_api_reason_e
ngx_http_ws_api_check_value(const ngx_http_ws_api_param_t *p,
    const u_char *s, size_t len, int *not_allowed)
{
    ngx_http_ws_api_value_t  v;

    if (ngx_http_ws_api_value_parse(p->type, s, len, &v) != 0) {
        return NGX_HTTP_WS_API_PARAM_INVALID_TYPE;
    }

    if (!*not_allowed && !ngx_http_ws_api_value_allowed(p, &v)) {
        *not_allowed = 1;
    }

    return NGX_HTTP_WS_API_PARAM_OK;
}


static int
ngx_http_ws_api_value_allowed(const ngx_http_ws_api_param_t *p,
    const ngx_http_ws_api_value_t *v)
{
    size_t  i;

    if (p->nvalues == 0) {
        return 1;
    }

    for (i = 0; i < p->nvalues; i++) {
        if (ngx_http_ws_api_value_equal(v, &p->values[i])) {
            return 1;
        }
    }

    return 0;
}


/*
 * A piece of the query string at args, decoded: as written when it has no
 * "%" and no "+" (the common case), else into scratch at its own offset.
 */

static const u_char *
ngx_http_ws_api_piece(u_char *scratch, const u_char *args, const u_char *s,
    size_t len, size_t *n)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] == '%' || s[i] == '+') {
            *n = ngx_http_ws_api_decode(scratch + (s - args), s, len);
            return scratch + (s - args);
        }
    }

    *n = len;

    return s;
}


/* application/x-www-form-urlencoded; dst may be src */

static size_t
ngx_http_ws_api_decode(u_char *dst, const u_char *src, size_t len)
{
    int            hi, lo;
    u_char         c, *d;
    const u_char  *end;

    d = dst;
    end = src + len;

    while (src < end) {
        c = *src++;

        if (c == '+') {
            *d++ = ' ';
            continue;
        }

        if (c == '%' && end - src >= 2) {
            hi = ngx_http_ws_api_hex(src[0]);
            lo = ngx_http_ws_api_hex(src[1]);

            if (hi >= 0 && lo >= 0) {
                *d++ = (u_char) (hi * 16 + lo);
                src += 2;
                continue;
            }
        }

        *d++ = c;
    }

    return d - dst;
}


/* the value of a hexadecimal digit, or -1 */

static int
ngx_http_ws_api_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/* s equals lit in any ASCII case */

static int
ngx_http_ws_api_caseeq(const u_char *s, size_t len, const char *lit)
{
    return strlen(lit) == len
           && ngx_http_ws_api_casecmp(s, (const u_char *) lit, len);
}


/* the n bytes of a and b are the same in any ASCII case */

static int
ngx_http_ws_api_casecmp(const u_char *a, const u_char *b, size_t n)
{
    u_char  ca, cb;
    size_t  i;

    for (i = 0; i < n; i++) {
        ca = a[i];
        cb = b[i];

        if (ca >= 'A' && ca <= 'Z') {
            ca |= 0x20;
        }

        if (cb >= 'A' && cb <= 'Z') {
            cb |= 0x20;
        }

        if (ca != cb) {
            return 0;
        }
    }

    return 1;
}


/* exactly n ASCII digits */

static int
ngx_http_ws_api_digits(const u_char *s, size_t n, int *out)
{
    int     v;
    size_t  i;

    v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        v = v * 10 + (s[i] - '0');
    }

    *out = v;

    return 0;
}


static int
ngx_http_ws_api_integer_parse(const u_char *s, size_t len, int64_t *out)
{
    int            neg;
    uint64_t       v, limit, d;
    const u_char  *end;

    end = s + len;
    neg = 0;

    if (s < end && (*s == '+' || *s == '-')) {
        neg = (*s == '-');
        s++;
    }

    if (s == end) {
        return -1;
    }

    limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    v = 0;

    for ( /* void */ ; s < end; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }

        d = *s - '0';

        if (v > (limit - d) / 10) {
            return -1;
        }

        v = v * 10 + d;
    }

    if (neg) {
        *out = (v == (uint64_t) INT64_MAX + 1) ? INT64_MIN : -(int64_t) v;

    } else {
        *out = (int64_t) v;
    }

    return 0;
}


/*
 * [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?, finite.
 *
 * The grammar is checked here, since strtod() also takes hexadecimal
 * numbers, "inf" and "nan"; the number is then rewritten as its
 * significant digits and a decimal exponent, which is short whatever
 * the length of the input, and converted with strtod().
 */

static int
ngx_http_ws_api_double_parse(const u_char *s, size_t len, double *out)
{
    int            neg, eneg, sticky;
    char          *p, buf[NGX_HTTP_WS_API_DBL_DIGITS + 32];
    double         d;
    size_t         nd;
    int64_t        exp, scale, dropped;
    const u_char  *pos, *end, *int_s, *int_e, *frac_s, *frac_e, *c;

    pos = s;
    end = s + len;
    neg = 0;

    if (pos < end && (*pos == '+' || *pos == '-')) {
        neg = (*pos == '-');
        pos++;
    }

    int_s = pos;

    while (pos < end && *pos >= '0' && *pos <= '9') {
        pos++;
    }

    int_e = pos;
    frac_s = pos;
    frac_e = pos;

    if (pos < end && *pos == '.') {
        pos++;
        frac_s = pos;

        while (pos < end && *pos >= '0' && *pos <= '9') {
            pos++;
        }

        frac_e = pos;
    }

    if (int_s == int_e && frac_s == frac_e) {
        return -1;
    }

    exp = 0;

    if (pos < end && (*pos == 'e' || *pos == 'E')) {
        pos++;
        eneg = 0;

        if (pos < end && (*pos == '+' || *pos == '-')) {
            eneg = (*pos == '-');
            pos++;
        }

        if (pos == end || *pos < '0' || *pos > '9') {
            return -1;
        }

        while (pos < end && *pos >= '0' && *pos <= '9') {
            if (exp < NGX_HTTP_WS_API_DBL_EXP) {
                exp = exp * 10 + (*pos - '0');
            }

            pos++;
        }

        if (eneg) {
            exp = -exp;
        }
    }

    if (pos != end) {
        return -1;
    }

    /* the value is digits * 10^scale */

    p = buf;

    if (neg) {
        *p++ = '-';
    }

    nd = 0;
    dropped = 0;
    sticky = 0;
    scale = exp - (int64_t) (frac_e - frac_s);

    for (c = int_s; c < frac_e; c++) {

        if (c == int_e) {
            c = frac_s;

            if (c == frac_e) {
                break;
            }
        }

        if (nd == 0 && *c == '0') {
            continue;
        }

        if (nd < NGX_HTTP_WS_API_DBL_DIGITS) {
            p[nd++] = *c;
            continue;
        }

        dropped++;

        if (*c != '0') {
            sticky = 1;
        }
    }

    if (nd == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }

    scale += dropped;

    if (sticky) {
        p[nd++] = '1';
        scale--;
    }

    if (scale > NGX_HTTP_WS_API_DBL_EXP) {
        scale = NGX_HTTP_WS_API_DBL_EXP;

    } else if (scale < -NGX_HTTP_WS_API_DBL_EXP) {
        scale = -NGX_HTTP_WS_API_DBL_EXP;
    }

    snprintf(p + nd, sizeof(buf) - (p + nd - buf), "e%lld", (long long) scale);

    errno = 0;
    d = strtod(buf, NULL);

    if (!isfinite(d)) {
        return -1;
    }

    *out = d;

    return 0;
}


/* YYYY-MM-DD, a day of the proleptic Gregorian calendar */

static int
ngx_http_ws_api_date_parse(const u_char *s, int64_t *days)
{
    int      year, month, day, mdays;
    int64_t  y, era, yoe, doy, doe;

    static const int  month_days[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    if (ngx_http_ws_api_digits(s, 4, &year) != 0
        || s[4] != '-'
        || ngx_http_ws_api_digits(s + 5, 2, &month) != 0
        || s[7] != '-'
        || ngx_http_ws_api_digits(s + 8, 2, &day) != 0)
    {
        return -1;
    }

    if (month < 1 || month > 12 || day < 1) {
        return -1;
    }

    mdays = month_days[month - 1];

    if (month == 2
        && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
    {
        mdays = 29;
    }

    if (day > mdays) {
        return -1;
    }

    /* days since 1970-01-01, counted in eras of 400 years */

    y = year - (month <= 2);
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    *days = era * 146097 + doe - 719468;

    return 0;
}


/*
 * RFC 3339: YYYY-MM-DD "T" hh:mm:ss ["." digits] ("Z" | ("+" | "-") hh:mm),
 * "T" and "Z" in any case.  A leap second (ss "60") only at 23:59:60 UTC
 * on the last day of a month.
 */

static int
ngx_http_ws_api_date_time_parse(const u_char *s, size_t len, int64_t *sec,
    uint32_t *nsec)
{
    int       hour, min, second, oh, om, ndigits;
    size_t    i;
    int64_t   days, offset;
    uint32_t  frac;

    if (len < 20
        || ngx_http_ws_api_date_parse(s, &days) != 0
        || (s[10] != 'T' && s[10] != 't')
        || ngx_http_ws_api_digits(s + 11, 2, &hour) != 0
        || s[13] != ':'
        || ngx_http_ws_api_digits(s + 14, 2, &min) != 0
        || s[16] != ':'
        || ngx_http_ws_api_digits(s + 17, 2, &second) != 0)
    {
        return -1;
    }

    if (hour > 23 || min > 59 || second > 60) {
        return -1;
    }

    i = 19;
    frac = 0;

    if (s[i] == '.') {
        i++;
        ndigits = 0;

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (ndigits < 9) {
                frac = frac * 10 + (s[i] - '0');
            }

            ndigits++;
            i++;
        }

        if (ndigits == 0) {
            return -1;
        }

        for ( /* void */ ; ndigits < 9; ndigits++) {
            frac *= 10;
        }
    }

    if (i == len) {
        return -1;
    }

    offset = 0;

    if (s[i] == 'Z' || s[i] == 'z') {
        if (i + 1 != len) {
            return -1;
        }

    } else if (s[i] == '+' || s[i] == '-') {
        if (len - i != 6
            || ngx_http_ws_api_digits(s + i + 1, 2, &oh) != 0
            || s[i + 3] != ':'
            || ngx_http_ws_api_digits(s + i + 4, 2, &om) != 0
            || oh > 23 || om > 59)
        {
            return -1;
        }

        offset = oh * 3600 + om * 60;

        if (s[i] == '-') {
            offset = -offset;
        }

    } else {
        return -1;
    }

    *sec = days * 86400 + hour * 3600 + min * 60 + second - offset;
    *nsec = frac;

    if (second == 60) {

        /* 23:59:59 UTC, the second before it, ends a month */

        days = *sec - 1;
        days = (days >= 0 ? days : days - 86399) / 86400;

        if (*sec - 1 - days * 86400 != 86399
            || !ngx_http_ws_api_first_of_month(days + 1))
        {
            return -1;
        }
    }

    return 0;
}


/* whether the day, counted from 1970-01-01, is the first of a month */

static int
ngx_http_ws_api_first_of_month(int64_t days)
{
    int64_t  era, doe, yoe, doy, mp;

    days += 719468;
    era = (days >= 0 ? days : days - 146096) / 146097;
    doe = days - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;

    return doy - (153 * mp + 2) / 5 == 0;
}
