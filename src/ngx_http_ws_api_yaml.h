
/*
 * Copyright (C) ws-api authors
 */


/*
 * YAML in and out of jansson values, for the AsyncAPI documents.
 *
 * Out: a block-style YAML 1.2 document, every string that a YAML parser
 * (1.2 core schema or 1.1) could read as something else written in
 * double quotes.  In: one document read with libyaml and resolved with
 * the 1.2 core schema (null, booleans, integers, floats; quoted scalars
 * are strings); aliases are refused (no billion laughs), depth and size
 * are bounded.
 *
 * Pure logic: no nginx objects, so it is unit-tested and fuzzed directly.
 */


#ifndef _NGX_HTTP_WS_API_YAML_H_INCLUDED_
#define _NGX_HTTP_WS_API_YAML_H_INCLUDED_


#include "ngx_http_ws_api_def.h"


#define NGX_HTTP_WS_API_YAML_MAX_DEPTH   64       /* nested collections */
#define NGX_HTTP_WS_API_YAML_MAX_NODES   200000   /* scalars, collections */


/*
 * value as a YAML document: a malloc()ed, NUL-terminated string whose
 * length goes to *len; NULL when out of memory or nested too deep
 */
char *ngx_http_ws_api_yaml_dump(json_t *value, size_t *len);

/*
 * one YAML document as a new jansson value; NULL and *err (400, with the
 * line and column) for what is not YAML or cannot be JSON
 */
json_t *ngx_http_ws_api_yaml_load(const char *text, size_t len,
    ngx_http_ws_api_def_error_t *err);


#endif /* _NGX_HTTP_WS_API_YAML_H_INCLUDED_ */
