
/*
 * Copyright (C) ws-api authors
 */


/*
 * The API-specific policies of SPEC 5: the "policies" member of a
 * definition validated and put in canonical form, durations, origins and
 * CIDRs checked, and the limits the relay enforces per connection.
 *
 * Pure logic with jansson: no nginx objects, so it is unit-tested and
 * fuzzed with the definition code.
 */


#ifndef _NGX_HTTP_WS_API_POLICY_H_INCLUDED_
#define _NGX_HTTP_WS_API_POLICY_H_INCLUDED_


#include <stdint.h>
#include <jansson.h>

#include "ngx_http_ws_api_def.h"


/* limits, documented in the README */
#define NGX_HTTP_WS_API_MAX_ORIGINS       100
#define NGX_HTTP_WS_API_MAX_ORIGIN        256     /* bytes of one origin */
#define NGX_HTTP_WS_API_MAX_CIDRS         1000    /* ipAllow, ipDeny each */
#define NGX_HTTP_WS_API_MAX_RATE          1000000000
#define NGX_HTTP_WS_API_MAX_BYTES         9007199254740992ULL   /* 2^53 */
#define NGX_HTTP_WS_API_MAX_DURATION      (365ULL * 86400 * 1000)  /* ms */


/* directions, as indexes of the limits below */
#define NGX_HTTP_WS_API_FROM_CLIENT       0
#define NGX_HTTP_WS_API_FROM_SERVER       1


/*
 * What the relay enforces on one connection, copied from the API's
 * compiled policies at the handshake (a PUT applies to new connections).
 * 0 means "no limit" everywhere.
 */

typedef struct {
    uint64_t     max_message[2];  /* bytes of a data message, all frames */
    uint64_t     rate[2];         /* messages per rate_per ms */
    uint64_t     rate_per[2];     /* 1000 or 60000 */
    uint64_t     idle;            /* ms without a data message */
    uint64_t     age;             /* ms since the handshake */
} ngx_http_ws_api_limits_t;


/*
 * Validates the "policies" member of a definition (NULL: absent) and
 * returns its canonical form: the members given, in the order of SPEC 5,
 * origins in lower case.  Returns NULL and fills *err, whose field is the
 * path of the bad member ("policies.messageRate.client.per").
 */
json_t *ngx_http_ws_api_policy_canonical(json_t *in,
    ngx_http_ws_api_def_error_t *err);

/* the relay's limits of canonical policies (NULL: none) */
void ngx_http_ws_api_policy_limits(json_t *policies,
    ngx_http_ws_api_limits_t *l);

/* whether any of the relay's limits is set */
int ngx_http_ws_api_policy_limited(const ngx_http_ws_api_limits_t *l);

/*
 * "30s", "10m", "1h30m", "500ms": one or more groups of digits and a unit
 * (ms, s, m, h, d), 1 ms to 365 days.  Returns 0 and *ms, or -1.
 */
int ngx_http_ws_api_duration_parse(const char *s, size_t len, uint64_t *ms);

/*
 * An IPv4 or IPv6 address with an optional prefix length, no host bits
 * set beyond it ("10.0.0.0/8", "2001:db8::/32", "192.0.2.1").  Returns 0,
 * or -1 and a reason.
 */
int ngx_http_ws_api_cidr_check(const char *s, size_t len,
    const char **reason);


#endif /* _NGX_HTTP_WS_API_POLICY_H_INCLUDED_ */
