
/*
 * Copyright (C) ws-api authors
 */


#define PCRE2_CODE_UNIT_WIDTH  8

#include <stdio.h>
#include <stdlib.h>
#include <pcre2.h>

#include "ngx_http_ws_api_regex.h"


/* a pattern with its match data and limits, made once */

typedef struct {
    pcre2_code           *code;
    pcre2_match_data     *data;
    pcre2_match_context  *mctx;
} ngx_http_ws_api_pcre2_t;


static void *ngx_http_ws_api_pcre2_compile(const char *pattern, size_t len,
    char *err, size_t err_len);
static int ngx_http_ws_api_pcre2_match(void *re, const char *s, size_t len);
static void ngx_http_ws_api_pcre2_free(void *re);


const ngx_http_ws_api_regex_t  ngx_http_ws_api_regex_pcre2 = {
    ngx_http_ws_api_pcre2_compile,
    ngx_http_ws_api_pcre2_match,
    ngx_http_ws_api_pcre2_free
};


static void *
ngx_http_ws_api_pcre2_compile(const char *pattern, size_t len, char *err,
    size_t err_len)
{
    int                       rc;
    PCRE2_SIZE                off;
    PCRE2_UCHAR               msg[128];
    ngx_http_ws_api_pcre2_t  *re;

    re = calloc(1, sizeof(ngx_http_ws_api_pcre2_t));
    if (re == NULL) {
        snprintf(err, err_len, "no memory");
        return NULL;
    }

    /* UCP: \d, \w and \s as ECMAScript's Unicode-aware classes */

    re->code = pcre2_compile((PCRE2_SPTR) pattern, len,
                             PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK
                             | PCRE2_DOLLAR_ENDONLY, &rc, &off, NULL);
    if (re->code == NULL) {
        pcre2_get_error_message(rc, msg, sizeof(msg));
        snprintf(err, err_len, "%s at offset %zu", (char *) msg,
                 (size_t) off);
        free(re);
        return NULL;
    }

    re->data = pcre2_match_data_create_from_pattern(re->code, NULL);
    re->mctx = pcre2_match_context_create(NULL);

    if (re->data == NULL || re->mctx == NULL) {
        snprintf(err, err_len, "no memory");
        ngx_http_ws_api_pcre2_free(re);
        return NULL;
    }

    pcre2_set_match_limit(re->mctx, NGX_HTTP_WS_API_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(re->mctx, NGX_HTTP_WS_API_REGEX_DEPTH_LIMIT);

    return re;
}


static int
ngx_http_ws_api_pcre2_match(void *p, const char *s, size_t len)
{
    int                       rc;
    ngx_http_ws_api_pcre2_t  *re = p;

    /* the strings come from jansson: valid UTF-8 */

    rc = pcre2_match(re->code, (PCRE2_SPTR) s, len, 0, PCRE2_NO_UTF_CHECK,
                     re->data, re->mctx);

    if (rc >= 0) {
        return 1;
    }

    return (rc == PCRE2_ERROR_NOMATCH) ? 0 : -1;
}


static void
ngx_http_ws_api_pcre2_free(void *p)
{
    ngx_http_ws_api_pcre2_t  *re = p;

    if (re == NULL) {
        return;
    }

    pcre2_match_data_free(re->data);
    pcre2_match_context_free(re->mctx);
    pcre2_code_free(re->code);
    free(re);
}
