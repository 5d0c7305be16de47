
/*
 * Copyright (C) ws-api authors
 */


/*
 * Regular expressions for the JSON Schema validator ("pattern",
 * "patternProperties"): PCRE2 (the library nginx itself links), UTF mode,
 * unanchored search, with match and depth limits so that no pattern can
 * make a worker spin.
 *
 * Pure logic: no nginx objects; the unit tests and fuzzers link it too.
 */


#ifndef _NGX_HTTP_WS_API_REGEX_H_INCLUDED_
#define _NGX_HTTP_WS_API_REGEX_H_INCLUDED_


#include <stddef.h>


/* the limits of one match, documented in the README */
#define NGX_HTTP_WS_API_REGEX_MATCH_LIMIT   100000
#define NGX_HTTP_WS_API_REGEX_DEPTH_LIMIT   1000


/* what the validator needs of a regex engine */

typedef struct {
    /* a compiled pattern, or NULL and a message in err */
    void  *(*compile)(const char *pattern, size_t len, char *err,
                      size_t err_len);
    /* 1: s matches somewhere, 0: it does not, -1: a limit was reached */
    int    (*match)(void *re, const char *s, size_t len);
    void   (*free)(void *re);
} ngx_http_ws_api_regex_t;


/* the PCRE2 engine */
extern const ngx_http_ws_api_regex_t  ngx_http_ws_api_regex_pcre2;


#endif /* _NGX_HTTP_WS_API_REGEX_H_INCLUDED_ */
