
/*
 * Copyright (C) ws-api authors
 */


/*
 * AsyncAPI 3.0.0 (SPEC 8): a stored definition as a document, and a
 * document as a definition to create, with the document paths of what a
 * definition's validation refuses.
 *
 * Pure logic with jansson: no nginx objects, so it is unit-tested and
 * fuzzed directly.  The admin answer is in ngx_http_ws_api_asyncapi_http.c.
 */


#ifndef _NGX_HTTP_WS_API_ASYNCAPI_H_INCLUDED_
#define _NGX_HTTP_WS_API_ASYNCAPI_H_INCLUDED_


#include "ngx_http_ws_api_def.h"


/* media types of a document */
#define NGX_HTTP_WS_API_ASYNCAPI_NONE   0
#define NGX_HTTP_WS_API_ASYNCAPI_JSON   1
#define NGX_HTTP_WS_API_ASYNCAPI_YAML   2

#define NGX_HTTP_WS_API_ASYNCAPI_MAX_REFS  16   /* $ref hops to a node */


/* where the API is served, for "servers" */

typedef struct {
    const char          *host;       /* the admin request's Host; NULL:
                                        no servers */
    unsigned             tls:1;      /* wss */
    const char         **gateways;   /* location prefixes, "/gateway/" */
    size_t               ngateways;
} ngx_http_ws_api_asyncapi_env_t;


/*
 * The document of a definition as stored (SPEC 3.1), or NULL when out of
 * memory.
 */
json_t *ngx_http_ws_api_asyncapi_export(json_t *def,
    const ngx_http_ws_api_asyncapi_env_t *env);

/*
 * A request body of type (NGX_HTTP_WS_API_ASYNCAPI_JSON or _YAML) taken
 * to the definition to create, for ngx_http_ws_api_def_canonical().
 * *paths (owned by the caller) remembers where each part came from, for
 * ngx_http_ws_api_asyncapi_field().  NULL and *err (400 with the
 * document path in err->field) for what is not a document or cannot be
 * mapped.
 */
json_t *ngx_http_ws_api_asyncapi_import(const char *text, size_t len,
    int type, json_t **paths, ngx_http_ws_api_def_error_t *err);

/* the same from a document already parsed */
json_t *ngx_http_ws_api_asyncapi_map(json_t *doc, json_t **paths,
    ngx_http_ws_api_def_error_t *err);

/*
 * Rewrites err->field, a definition path ("parameters[1].values[0]"),
 * into the document path it came from
 * ("channels.ticker.bindings.ws.query.properties.symbol.items.enum[0]").
 */
void ngx_http_ws_api_asyncapi_field(json_t *paths,
    ngx_http_ws_api_def_error_t *err);

/*
 * The type of a Content-Type value (parameters after ";" ignored):
 * application/vnd.aai.asyncapi+json or +yaml, else NONE
 */
int ngx_http_ws_api_asyncapi_content_type(const char *p, size_t len);

/*
 * The type an Accept value asks for: YAML for application/yaml,
 * application/x-yaml, text/yaml or application/vnd.aai.asyncapi+yaml
 * unless JSON is listed first or the YAML type has q=0; else JSON.  The
 * media type to answer with goes to *media.
 */
int ngx_http_ws_api_asyncapi_accept(const char *p, size_t len,
    const char **media);


#endif /* _NGX_HTTP_WS_API_ASYNCAPI_H_INCLUDED_ */
