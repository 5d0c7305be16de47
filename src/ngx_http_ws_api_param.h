
/*
 * Copyright (C) ws-api authors
 */


/*
 * Handshake parameters: the six data types, allowed values, and the
 * extraction of values from a query string and from request headers.
 *
 * Pure logic: no nginx objects, so it is unit-tested and fuzzed directly.
 */


#ifndef _NGX_HTTP_WS_API_PARAM_H_INCLUDED_
#define _NGX_HTTP_WS_API_PARAM_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


typedef enum {
    NGX_HTTP_WS_API_STRING = 0,
    NGX_HTTP_WS_API_DATE,
    NGX_HTTP_WS_API_DATE_TIME,
    NGX_HTTP_WS_API_INTEGER,
    NGX_HTTP_WS_API_DOUBLE,
    NGX_HTTP_WS_API_BOOLEAN
} ngx_http_ws_api_type_e;


typedef enum {
    NGX_HTTP_WS_API_IN_QUERY = 0,
    NGX_HTTP_WS_API_IN_HEADER
} ngx_http_ws_api_in_e;


/* why a handshake parameter was refused */

typedef enum {
    NGX_HTTP_WS_API_PARAM_OK = 0,
    NGX_HTTP_WS_API_PARAM_MISSING,
    NGX_HTTP_WS_API_PARAM_NOT_ARRAY,
    NGX_HTTP_WS_API_PARAM_INVALID_TYPE,
    NGX_HTTP_WS_API_PARAM_NOT_ALLOWED
} ngx_http_ws_api_reason_e;


/* a value parsed according to its data type */

typedef struct {
    ngx_http_ws_api_type_e      type;
    union {
        int64_t                 integer;   /* integer; date: days since
                                              1970-01-01 */
        double                  dbl;       /* double */
        int                     boolean;   /* boolean: 0 or 1 */
        struct {
            int64_t             sec;       /* date-time: the instant, UTC */
            uint32_t            nsec;
        } time;
    } u;
    const u_char               *data;      /* the text as given */
    size_t                      len;
} ngx_http_ws_api_value_t;


/* a declared parameter, compiled */

typedef struct {
    const u_char               *name;
    size_t                      name_len;
    ngx_http_ws_api_in_e        in;
    ngx_http_ws_api_type_e      type;
    unsigned                    required:1;
    unsigned                    array:1;
    const ngx_http_ws_api_value_t  *values;    /* allowed values */
    size_t                      nvalues;       /* 0: any value */
} ngx_http_ws_api_param_t;


/* a request header as received, name in any case */

typedef struct {
    const u_char               *name;
    size_t                      name_len;
    const u_char               *value;
    size_t                      value_len;
} ngx_http_ws_api_header_t;


/*
 * The data type named by s: the canonical names ("string", "date",
 * "date-time", "integer", "double", "boolean") and the labels ("String",
 * "Date", "Date time", "Integer", "Double", "Boolean"), in any case.
 * Returns -1 for anything else.
 */
int ngx_http_ws_api_type_parse(const u_char *s, size_t len);
const char *ngx_http_ws_api_type_name(ngx_http_ws_api_type_e type);

/* "query" / "Query-string" and "header" / "Header", any case; -1 else */
int ngx_http_ws_api_in_parse(const u_char *s, size_t len);
const char *ngx_http_ws_api_in_name(ngx_http_ws_api_in_e in);

/* "missing", "not_array", "invalid_type", "value_not_allowed" */
const char *ngx_http_ws_api_reason_name(ngx_http_ws_api_reason_e reason);

/*
 * Parses s as a value of the type.  Returns 0 and fills *v (when v is not
 * NULL; v->data and v->len point to s), or -1 if s is not of the type.
 */
int ngx_http_ws_api_value_parse(ngx_http_ws_api_type_e type, const u_char *s,
    size_t len, ngx_http_ws_api_value_t *v);

/* whether two parsed values of the same type are the same value */
int ngx_http_ws_api_value_equal(const ngx_http_ws_api_value_t *a,
    const ngx_http_ws_api_value_t *b);

/*
 * Checks one declared parameter against a request's query string (raw,
 * as after '?', still percent-encoded) and headers.  scratch must hold
 * at least args_len bytes (percent-decoding happens there).  Returns
 * NGX_HTTP_WS_API_PARAM_OK or the reason of the refusal.
 */
ngx_http_ws_api_reason_e ngx_http_ws_api_param_check(
    const ngx_http_ws_api_param_t *p, const u_char *args, size_t args_len,
    const ngx_http_ws_api_header_t *headers, size_t nheaders,
    u_char *scratch);


#endif /* _NGX_HTTP_WS_API_PARAM_H_INCLUDED_ */
