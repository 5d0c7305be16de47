
/*
 * Copyright (C) ws-api authors
 */


/*
 * The API-specific policies of SPEC 5: validation, canonical forms and
 * the relay's limits.
 *
 * Decisions where the specification is silent:
 *
 * - Every policy is optional, and so is each direction ("client",
 *   "server") of maxMessageSize and messageRate; an empty object sets no
 *   limit.  Unknown members are refused at every level.
 *
 * - Byte counts and maxConnections are JSON integers from 1 to 2^53;
 *   messageRate's "messages" is 1 to 10^9, its "per" is "1s" or "1m".
 *
 * - Durations are strings of one or more groups of digits and a unit
 *   (ms, s, m, h, d), as nginx writes them ("1h30m"), 1 ms to 365 days,
 *   kept as given.
 *
 * - Origins are "scheme://host[:port]" as browsers send them: no path,
 *   no trailing "/", written in lower case; duplicates are refused.
 *
 * - CIDRs are IPv4 or IPv6 addresses with an optional prefix length (a
 *   bare address is one host); an address with bits set beyond its
 *   prefix is refused ("10.0.0.1/8"), since it is a typo more often than
 *   not.  They are kept as given.
 */


#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "ngx_http_ws_api_policy.h"
#include "ngx_http_ws_api_jwt.h"


/* a member of "policies": its name and its check */

typedef json_t *(*ngx_http_ws_api_policy_pt)(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err);

typedef struct {
    const char                 *name;
    ngx_http_ws_api_policy_pt   canonical;
} ngx_http_ws_api_policy_member_t;


static json_t *ngx_http_ws_api_policy_bytes(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_policy_sizes(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_policy_rates(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_policy_rate(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_policy_count(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_policy_integer(json_t *v, const char *field,
    json_int_t max, ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_policy_duration(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_policy_origins(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err);
static int ngx_http_ws_api_origin_check(const char *s, size_t len);
static json_t *ngx_http_ws_api_policy_cidrs(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_policy_directions(json_t *v,
    const char *field, ngx_http_ws_api_policy_pt each,
    ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_policy_identify(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err);
static uint64_t ngx_http_ws_api_policy_ms(json_t *v);


/*
 * The members in the order of SPEC 5 and of the canonical form; another
 * policy is one more line here and its check.
 */

static ngx_http_ws_api_policy_member_t  ngx_http_ws_api_policies[] = {
    { "maxMessageSize",    ngx_http_ws_api_policy_sizes },
    { "messageRate",       ngx_http_ws_api_policy_rates },
    { "maxConnections",    ngx_http_ws_api_policy_count },
    { "idleTimeout",       ngx_http_ws_api_policy_duration },
    { "maxConnectionAge",  ngx_http_ws_api_policy_duration },
    { "allowedOrigins",    ngx_http_ws_api_policy_origins },
    { "ipAllow",           ngx_http_ws_api_policy_cidrs },
    { "ipDeny",            ngx_http_ws_api_policy_cidrs },
    { "identifyAndAccess", ngx_http_ws_api_policy_identify },
    { NULL, NULL }
};


static const char  *ngx_http_ws_api_policy_directions_known[] = {
    "client",
    "server",
    NULL
};


static const char  *ngx_http_ws_api_policy_rate_known[] = {
    "messages",
    "per",
    NULL
};


json_t *
ngx_http_ws_api_policy_canonical(json_t *in, ngx_http_ws_api_def_error_t *err)
{
    char                              field[128],
                                      q[NGX_HTTP_WS_API_QUOTE + 8];
    size_t                            len;
    json_t                           *out, *v, *c;
    const char                       *key;
    ngx_http_ws_api_policy_member_t  *m;

    if (in != NULL && !json_is_object(in)) {
        ngx_http_ws_api_def_fail(err, "policies",
                                 "policies must be an object");
        return NULL;
    }

    json_object_keylen_foreach(in, key, len, v) {

        for (m = ngx_http_ws_api_policies; m->name; m++) {
            if (strlen(m->name) == len && memcmp(key, m->name, len) == 0) {
                break;
            }
        }

        if (m->name == NULL) {
            ngx_http_ws_api_def_quote(q, key, len);
            snprintf(field, sizeof(field), "policies.%s", q);
            ngx_http_ws_api_def_fail(err, field,
                                     "unknown policy \"%s\"; expected "
                                     "maxMessageSize, messageRate, "
                                     "maxConnections, idleTimeout, "
                                     "maxConnectionAge, allowedOrigins, "
                                     "ipAllow, ipDeny or identifyAndAccess",
                                     q);
            return NULL;
        }
    }

    out = json_object();
    if (out == NULL) {
        ngx_http_ws_api_def_nomem(err);
        return NULL;
    }

    for (m = ngx_http_ws_api_policies; in != NULL && m->name; m++) {
        v = json_object_get(in, m->name);

        if (v == NULL) {
            continue;
        }

        snprintf(field, sizeof(field), "policies.%s", m->name);

        c = m->canonical(v, field, err);
        if (c == NULL) {
            json_decref(out);
            return NULL;
        }

        if (json_object_set_new(out, m->name, c) != 0) {
            ngx_http_ws_api_def_nomem(err);
            json_decref(out);
            return NULL;
        }
    }

    return out;
}


void
ngx_http_ws_api_policy_limits(json_t *policies, ngx_http_ws_api_limits_t *l)
{
    int          i;
    json_t      *v, *d;
    const char  *per;

    static const char  *dirs[] = { "client", "server" };

    memset(l, 0, sizeof(ngx_http_ws_api_limits_t));

    v = json_object_get(policies, "maxMessageSize");

    for (i = 0; i < 2; i++) {
        d = json_object_get(v, dirs[i]);

        if (json_is_integer(d)) {
            l->max_message[i] = (uint64_t) json_integer_value(d);
        }
    }

    v = json_object_get(policies, "messageRate");

    for (i = 0; i < 2; i++) {
        d = json_object_get(v, dirs[i]);

        if (!json_is_object(d)) {
            continue;
        }

        per = json_string_value(json_object_get(d, "per"));

        l->rate[i] = (uint64_t) json_integer_value(json_object_get(d,
                                                                "messages"));
        l->rate_per[i] = (per && strcmp(per, "1m") == 0) ? 60000 : 1000;
    }

    l->idle = ngx_http_ws_api_policy_ms(json_object_get(policies,
                                                        "idleTimeout"));
    l->age = ngx_http_ws_api_policy_ms(json_object_get(policies,
                                                       "maxConnectionAge"));
}


int
ngx_http_ws_api_policy_limited(const ngx_http_ws_api_limits_t *l)
{
    return l->max_message[0] || l->max_message[1] || l->rate[0]
           || l->rate[1] || l->idle || l->age;
}


int
ngx_http_ws_api_duration_parse(const char *s, size_t len, uint64_t *ms)
{
    size_t    i;
    uint64_t  n, unit, total;

    if (len == 0) {
        return -1;
    }

    total = 0;
    i = 0;

    while (i < len) {

        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        n = 0;

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            n = n * 10 + (s[i++] - '0');

            if (n > NGX_HTTP_WS_API_MAX_DURATION) {
                return -1;
            }
        }

        if (i == len) {
            return -1;
        }

        switch (s[i++]) {

        case 'm':
            if (i < len && s[i] == 's') {
                i++;
                unit = 1;

            } else {
                unit = 60000;
            }

            break;

        case 's':
            unit = 1000;
            break;

        case 'h':
            unit = 3600000;
            break;

        case 'd':
            unit = 86400000;
            break;

        default:
            return -1;
        }

        total += n * unit;

        if (total > NGX_HTTP_WS_API_MAX_DURATION) {
            return -1;
        }
    }

    if (total == 0) {
        return -1;
    }

    *ms = total;

    return 0;
}


int
ngx_http_ws_api_cidr_check(const char *s, size_t len, const char **reason)
{
    int            family, bits, max, i;
    char           buf[64];
    size_t         alen;
    u_char         addr[16];
    const char    *slash;

    slash = memchr(s, '/', len);
    alen = slash ? (size_t) (slash - s) : len;

    if (alen == 0 || alen >= sizeof(buf)) {
        *reason = "expected an IPv4 or IPv6 address with an optional "
                  "prefix length";
        return -1;
    }

    memcpy(buf, s, alen);
    buf[alen] = '\0';

    family = memchr(buf, ':', alen) ? AF_INET6 : AF_INET;
    max = (family == AF_INET6) ? 128 : 32;

    if (inet_pton(family, buf, addr) != 1) {
        *reason = "expected an IPv4 or IPv6 address with an optional "
                  "prefix length";
        return -1;
    }

    bits = max;

    if (slash) {
        s = slash + 1;
        len -= alen + 1;

        if (len == 0 || len > 3 || (len > 1 && s[0] == '0')) {
            *reason = "invalid prefix length";
            return -1;
        }

        bits = 0;

        for (i = 0; i < (int) len; i++) {
            if (s[i] < '0' || s[i] > '9') {
                *reason = "invalid prefix length";
                return -1;
            }

            bits = bits * 10 + (s[i] - '0');
        }

        if (bits > max) {
            *reason = "the prefix length is too long for the address";
            return -1;
        }
    }

    for (i = bits; i < max; i++) {
        if (addr[i / 8] & (0x80 >> (i % 8))) {
            *reason = "the address has bits set beyond its prefix length";
            return -1;
        }
    }

    return 0;
}


/* maxMessageSize: {"client": BYTES, "server": BYTES} */

static json_t *
ngx_http_ws_api_policy_bytes(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err)
{
    return ngx_http_ws_api_policy_integer(v, field,
                                          NGX_HTTP_WS_API_MAX_BYTES, err);
}


static json_t *
ngx_http_ws_api_policy_sizes(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err)
{
    return ngx_http_ws_api_policy_directions(v, field,
                                             ngx_http_ws_api_policy_bytes,
                                             err);
}


/* messageRate: {"client": {"messages": N, "per": "1s"}, "server": ...} */

static json_t *
ngx_http_ws_api_policy_rates(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err)
{
    return ngx_http_ws_api_policy_directions(v, field,
                                             ngx_http_ws_api_policy_rate,
                                             err);
}


static json_t *
ngx_http_ws_api_policy_rate(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err)
{
    char         f[160], q[NGX_HTTP_WS_API_QUOTE + 8];
    json_t      *out, *n, *per;
    const char  *s;

    if (!json_is_object(v)) {
        ngx_http_ws_api_def_fail(err, field,
                                 "%s must be an object with \"messages\" "
                                 "and \"per\"", field);
        return NULL;
    }

    if (ngx_http_ws_api_def_members(v, ngx_http_ws_api_policy_rate_known,
                                    field, "a message rate", err)
        != 0)
    {
        return NULL;
    }

    snprintf(f, sizeof(f), "%s.messages", field);

    if (json_object_get(v, "messages") == NULL) {
        ngx_http_ws_api_def_fail(err, f, "%s is required", f);
        return NULL;
    }

    n = ngx_http_ws_api_policy_integer(json_object_get(v, "messages"), f,
                                       NGX_HTTP_WS_API_MAX_RATE, err);
    if (n == NULL) {
        return NULL;
    }

    snprintf(f, sizeof(f), "%s.per", field);

    per = json_object_get(v, "per");

    if (per == NULL) {
        ngx_http_ws_api_def_fail(err, f, "%s is required", f);
        json_decref(n);
        return NULL;
    }

    s = json_string_value(per);

    if (s == NULL
        || json_string_length(per) != 2
        || (strcmp(s, "1s") != 0 && strcmp(s, "1m") != 0))
    {
        if (s == NULL) {
            ngx_http_ws_api_def_fail(err, f, "%s must be a string", f);

        } else {
            ngx_http_ws_api_def_fail(err, f,
                                     "unknown period \"%s\"; expected "
                                     "\"1s\" or \"1m\"",
                                     ngx_http_ws_api_def_quote(q, s,
                                                   json_string_length(per)));
        }

        json_decref(n);
        return NULL;
    }

    out = json_object();

    if (out == NULL
        || json_object_set_new(out, "messages", n) != 0
        || json_object_set_new(out, "per", json_string(s)) != 0)
    {
        json_decref(out);
        ngx_http_ws_api_def_nomem(err);
        return NULL;
    }

    return out;
}


/* maxConnections: an integer >= 1 */

static json_t *
ngx_http_ws_api_policy_count(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err)
{
    return ngx_http_ws_api_policy_integer(v, field,
                                          NGX_HTTP_WS_API_MAX_BYTES, err);
}


static json_t *
ngx_http_ws_api_policy_integer(json_t *v, const char *field, json_int_t max,
    ngx_http_ws_api_def_error_t *err)
{
    json_t      *out;
    json_int_t   n;

    if (!json_is_integer(v)
        || (n = json_integer_value(v)) < 1 || n > max)
    {
        ngx_http_ws_api_def_fail(err, field,
                                 "%s must be an integer from 1 to %"
                                 JSON_INTEGER_FORMAT, field, max);
        return NULL;
    }

    out = json_integer(n);
    if (out == NULL) {
        ngx_http_ws_api_def_nomem(err);
    }

    return out;
}


/* idleTimeout, maxConnectionAge: "30s", "10m" */

static json_t *
ngx_http_ws_api_policy_duration(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err)
{
    char      q[NGX_HTTP_WS_API_QUOTE + 8];
    json_t   *out;
    uint64_t  ms;

    if (!json_is_string(v)) {
        ngx_http_ws_api_def_fail(err, field,
                                 "%s must be a duration string such as "
                                 "\"30s\" or \"10m\"", field);
        return NULL;
    }

    if (ngx_http_ws_api_duration_parse(json_string_value(v),
                                       json_string_length(v), &ms)
        != 0)
    {
        ngx_http_ws_api_def_fail(err, field,
                                 "invalid duration \"%s\" in %s: expected "
                                 "digits and a unit (ms, s, m, h, d), such "
                                 "as \"30s\" or \"1h30m\", from 1ms to "
                                 "365d",
                                 ngx_http_ws_api_def_quote(q,
                                     json_string_value(v),
                                     json_string_length(v)),
                                 field);
        return NULL;
    }

    out = json_stringn(json_string_value(v), json_string_length(v));
    if (out == NULL) {
        ngx_http_ws_api_def_nomem(err);
    }

    return out;
}


/* allowedOrigins: ["https://app.example.com", ...] */

static json_t *
ngx_http_ws_api_policy_origins(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err)
{
    char         f[160], buf[NGX_HTTP_WS_API_MAX_ORIGIN],
                 q[NGX_HTTP_WS_API_QUOTE + 8];
    size_t       i, j, k, len;
    json_t      *out, *o;
    const char  *s;

    if (!json_is_array(v)) {
        ngx_http_ws_api_def_fail(err, field, "%s must be an array", field);
        return NULL;
    }

    if (json_array_size(v) > NGX_HTTP_WS_API_MAX_ORIGINS) {
        ngx_http_ws_api_def_fail(err, field, "too many origins in %s "
                                 "(at most %d)", field,
                                 NGX_HTTP_WS_API_MAX_ORIGINS);
        return NULL;
    }

    out = json_array();
    if (out == NULL) {
        ngx_http_ws_api_def_nomem(err);
        return NULL;
    }

    json_array_foreach(v, i, o) {
        snprintf(f, sizeof(f), "%s[%zu]", field, i);

        if (!json_is_string(o)) {
            ngx_http_ws_api_def_fail(err, f, "%s must be a string", f);
            goto failed;
        }

        s = json_string_value(o);
        len = json_string_length(o);

        if (len >= sizeof(buf) || !ngx_http_ws_api_origin_check(s, len)) {
            ngx_http_ws_api_def_fail(err, f,
                                     "invalid origin \"%s\": expected "
                                     "scheme://host[:port] with no path, "
                                     "such as \"https://app.example.com\"",
                                     ngx_http_ws_api_def_quote(q, s, len));
            goto failed;
        }

        for (k = 0; k < len; k++) {
            buf[k] = (s[k] >= 'A' && s[k] <= 'Z') ? s[k] + 32 : s[k];
        }

        for (j = 0; j < i; j++) {
            o = json_array_get(out, j);

            if (json_string_length(o) == len
                && memcmp(json_string_value(o), buf, len) == 0)
            {
                ngx_http_ws_api_def_fail(err, f, "duplicate origin \"%s\"",
                                         ngx_http_ws_api_def_quote(q, buf,
                                                                   len));
                goto failed;
            }
        }

        if (json_array_append_new(out, json_stringn(buf, len)) != 0) {
            ngx_http_ws_api_def_nomem(err);
            goto failed;
        }
    }

    return out;

failed:

    json_decref(out);

    return NULL;
}


/* scheme://host[:port]: the serialised origin of RFC 6454 */

static int
ngx_http_ws_api_origin_check(const char *s, size_t len)
{
    size_t       i, port;
    const char  *end;

    end = s + len;

    if (s == end || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) {
        return 0;
    }

    while (s < end && ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
                       || (*s >= '0' && *s <= '9')
                       || *s == '+' || *s == '-' || *s == '.'))
    {
        s++;
    }

    if (end - s < 4 || memcmp(s, "://", 3) != 0) {
        return 0;
    }

    s += 3;

    if (*s == '[') {
        while (s < end && *s != ']') {
            if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')
                  || (*s >= 'A' && *s <= 'F') || *s == ':' || *s == '.'
                  || *s == '['))
            {
                return 0;
            }

            s++;
        }

        if (s == end) {
            return 0;
        }

        s++;

    } else {
        i = 0;

        while (s < end && ((*s >= 'a' && *s <= 'z')
                           || (*s >= 'A' && *s <= 'Z')
                           || (*s >= '0' && *s <= '9')
                           || *s == '-' || *s == '.'))
        {
            s++;
            i++;
        }

        if (i == 0) {
            return 0;
        }
    }

    if (s == end) {
        return 1;
    }

    if (*s++ != ':' || s == end || end - s > 5) {
        return 0;
    }

    port = 0;

    while (s < end) {
        if (*s < '0' || *s > '9') {
            return 0;
        }

        port = port * 10 + (*s++ - '0');
    }

    return port >= 1 && port <= 65535;
}


/* ipAllow, ipDeny: ["10.0.0.0/8", "2001:db8::/32", ...] */

static json_t *
ngx_http_ws_api_policy_cidrs(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err)
{
    char         f[160], q[NGX_HTTP_WS_API_QUOTE + 8];
    size_t       i;
    json_t      *out, *c;
    const char  *reason;

    if (!json_is_array(v)) {
        ngx_http_ws_api_def_fail(err, field, "%s must be an array", field);
        return NULL;
    }

    if (json_array_size(v) > NGX_HTTP_WS_API_MAX_CIDRS) {
        ngx_http_ws_api_def_fail(err, field, "too many CIDRs in %s "
                                 "(at most %d)", field,
                                 NGX_HTTP_WS_API_MAX_CIDRS);
        return NULL;
    }

    out = json_array();
    if (out == NULL) {
        ngx_http_ws_api_def_nomem(err);
        return NULL;
    }

    json_array_foreach(v, i, c) {
        snprintf(f, sizeof(f), "%s[%zu]", field, i);

        if (!json_is_string(c)) {
            ngx_http_ws_api_def_fail(err, f, "%s must be a string", f);
            goto failed;
        }

        if (ngx_http_ws_api_cidr_check(json_string_value(c),
                                       json_string_length(c), &reason)
            != 0)
        {
            ngx_http_ws_api_def_fail(err, f, "invalid CIDR \"%s\": %s",
                                     ngx_http_ws_api_def_quote(q,
                                         json_string_value(c),
                                         json_string_length(c)),
                                     reason);
            goto failed;
        }

        if (json_array_append_new(out,
                                  json_stringn(json_string_value(c),
                                               json_string_length(c)))
            != 0)
        {
            ngx_http_ws_api_def_nomem(err);
            goto failed;
        }
    }

    return out;

failed:

    json_decref(out);

    return NULL;
}


/* {"client": X, "server": X}, each optional, each checked by each() */

static json_t *
ngx_http_ws_api_policy_directions(json_t *v, const char *field,
    ngx_http_ws_api_policy_pt each, ngx_http_ws_api_def_error_t *err)
{
    int      i;
    char     f[160];
    json_t  *out, *d, *c;

    static const char  *dirs[] = { "client", "server" };

    if (!json_is_object(v)) {
        ngx_http_ws_api_def_fail(err, field,
                                 "%s must be an object with \"client\" "
                                 "and/or \"server\"", field);
        return NULL;
    }

    if (ngx_http_ws_api_def_members(v,
                                    ngx_http_ws_api_policy_directions_known,
                                    field, field, err)
        != 0)
    {
        return NULL;
    }

    out = json_object();
    if (out == NULL) {
        ngx_http_ws_api_def_nomem(err);
        return NULL;
    }

    for (i = 0; i < 2; i++) {
        d = json_object_get(v, dirs[i]);

        if (d == NULL) {
            continue;
        }

        snprintf(f, sizeof(f), "%s.%s", field, dirs[i]);

        c = each(d, f, err);
        if (c == NULL) {
            json_decref(out);
            return NULL;
        }

        if (json_object_set_new(out, dirs[i], c) != 0) {
            ngx_http_ws_api_def_nomem(err);
            json_decref(out);
            return NULL;
        }
    }

    return out;
}


/*
 * identifyAndAccess: {"methods": ["apiKey", "jwt"], "allowAnonymous": false,
 * "jwt": {"keys": [...], "issuer": "...", "audience": "..."}}; methods
 * required, one or both, no duplicates; "jwt" required with the jwt method
 * and refused without it; its keys compiled here once to check them.
 */

static json_t *
ngx_http_ws_api_policy_identify(json_t *v, const char *field,
    ngx_http_ws_api_def_error_t *err)
{
    char                    f[160], jf[128], msg[200],
                            q[NGX_HTTP_WS_API_QUOTE + 8];
    size_t                  i, len;
    json_t                 *out, *methods, *m, *anon, *conf;
    const char             *key, *s;
    unsigned                api_key, jwt;
    ngx_http_ws_api_jwt_t  *compiled;

    if (!json_is_object(v)) {
        ngx_http_ws_api_def_fail(err, field, "%s must be an object", field);
        return NULL;
    }

    json_object_keylen_foreach(v, key, len, m) {
        if (!((len == 7 && memcmp(key, "methods", 7) == 0)
              || (len == 14 && memcmp(key, "allowAnonymous", 14) == 0)
              || (len == 3 && memcmp(key, "jwt", 3) == 0)))
        {
            ngx_http_ws_api_def_quote(q, key, len);
            snprintf(f, sizeof(f), "%s.%s", field, q);
            ngx_http_ws_api_def_fail(err, f, "unknown member \"%s\"; "
                                     "expected methods, allowAnonymous or "
                                     "jwt", q);
            return NULL;
        }
    }

    methods = json_object_get(v, "methods");
    snprintf(f, sizeof(f), "%s.methods", field);

    if (!json_is_array(methods) || json_array_size(methods) == 0) {
        ngx_http_ws_api_def_fail(err, f, "%s must be an array of "
                                 "\"apiKey\" and/or \"jwt\"", f);
        return NULL;
    }

    api_key = 0;
    jwt = 0;

    json_array_foreach(methods, i, m) {
        snprintf(f, sizeof(f), "%s.methods[%zu]", field, i);

        s = json_string_value(m);

        if (s != NULL && strcmp(s, "apiKey") == 0 && !api_key) {
            api_key = 1;

        } else if (s != NULL && strcmp(s, "jwt") == 0 && !jwt) {
            jwt = 1;

        } else {
            ngx_http_ws_api_def_fail(err, f, "%s must be \"apiKey\" or "
                                     "\"jwt\", each at most once", f);
            return NULL;
        }
    }

    anon = json_object_get(v, "allowAnonymous");

    if (anon && !json_is_boolean(anon)) {
        snprintf(f, sizeof(f), "%s.allowAnonymous", field);
        ngx_http_ws_api_def_fail(err, f, "%s must be true or false", f);
        return NULL;
    }

    conf = json_object_get(v, "jwt");
    snprintf(f, sizeof(f), "%s.jwt", field);

    if (jwt && conf == NULL) {
        ngx_http_ws_api_def_fail(err, f, "the jwt method needs %s with its "
                                 "keys", f);
        return NULL;
    }

    if (!jwt && conf != NULL) {
        ngx_http_ws_api_def_fail(err, f, "%s is given but \"jwt\" is not "
                                 "among the methods", f);
        return NULL;
    }

    if (conf) {
        compiled = ngx_http_ws_api_jwt_create(conf, msg, sizeof(msg), jf,
                                              sizeof(jf));
        if (compiled == NULL) {
            if (jf[0]) {
                snprintf(f, sizeof(f), "%s.jwt.%s", field, jf);
            }

            ngx_http_ws_api_def_fail(err, f, "%s: %s", f, msg);
            return NULL;
        }

        ngx_http_ws_api_jwt_free(compiled);
    }

    out = json_pack("{s:O, s:b}", "methods", methods, "allowAnonymous",
                    json_is_true(anon));

    if (out == NULL || (conf && json_object_set(out, "jwt", conf) != 0)) {
        json_decref(out);
        ngx_http_ws_api_def_nomem(err);
        return NULL;
    }

    return out;
}


static uint64_t
ngx_http_ws_api_policy_ms(json_t *v)
{
    uint64_t  ms;

    if (!json_is_string(v)
        || ngx_http_ws_api_duration_parse(json_string_value(v),
                                          json_string_length(v), &ms)
           != 0)
    {
        return 0;
    }

    return ms;
}
