
/*
 * Copyright (C) ws-api authors
 */


/*
 * A JSON Schema validator (drafts 4, 6 and 7) on jansson, for payload
 * validation (SPEC 4.3).
 *
 * Two phases.  Compiling checks every keyword of a schema (one the
 * validator does not implement is an error naming it and where it is)
 * and builds a tree of nodes, so that validating looks no keyword up by
 * name.  Validating answers match, or the first failure: the JSON pointer
 * of the instance and the keyword, in a reason of at most 123 bytes.
 *
 * Pure logic: no nginx objects, so it is unit-tested and fuzzed directly.
 */


#ifndef _NGX_HTTP_WS_API_SCHEMA_H_INCLUDED_
#define _NGX_HTTP_WS_API_SCHEMA_H_INCLUDED_


#include <stddef.h>
#include <jansson.h>

#include "ngx_http_ws_api_regex.h"


/* limits, documented in the README */
#define NGX_HTTP_WS_API_SCHEMA_MAX_DEPTH   64       /* nesting of a schema */
#define NGX_HTTP_WS_API_SCHEMA_MAX_NODES   10000    /* subschemas */
#define NGX_HTTP_WS_API_SCHEMA_MAX_REFS    64       /* $ref hops in a row */
#define NGX_HTTP_WS_API_SCHEMA_MAX_STEPS   10000000 /* per validation */

/* the longest reason of a failed validation, as a close frame holds */
#define NGX_HTTP_WS_API_SCHEMA_REASON      123


typedef struct ngx_http_ws_api_schema_s  ngx_http_ws_api_schema_t;


/*
 * Compiles a schema (an object, or a boolean from draft 6 on).  Returns
 * NULL and a sentence in err (naming the keyword and its JSON pointer in
 * the schema) for a bad or unsupported schema.  The schema may be
 * released afterwards; the regex engine must outlive the result.
 */
ngx_http_ws_api_schema_t *ngx_http_ws_api_schema_compile(json_t *schema,
    const ngx_http_ws_api_regex_t *regex, char *err, size_t err_len);

/*
 * Validates an instance.  Returns 1 when it matches; 0 when it does not,
 * with reason (NGX_HTTP_WS_API_SCHEMA_REASON + 1 bytes, may be NULL) set
 * to "payload fails KEYWORD at \"POINTER\"".
 */
int ngx_http_ws_api_schema_validate(ngx_http_ws_api_schema_t *s,
    json_t *instance, char *reason);

void ngx_http_ws_api_schema_free(ngx_http_ws_api_schema_t *s);

/* the draft a compiled schema follows: 4, 6 or 7 */
int ngx_http_ws_api_schema_draft(ngx_http_ws_api_schema_t *s);


#endif /* _NGX_HTTP_WS_API_SCHEMA_H_INCLUDED_ */
