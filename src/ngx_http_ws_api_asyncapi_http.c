
/*
 * Copyright (C) ws-api authors
 */


/*
 * GET /apis/{id}/asyncapi: the document of a stored definition, as JSON
 * or (Accept: application/yaml) YAML, with servers for the gateway
 * locations on the host the request names.
 */


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_asyncapi.h"
#include "ngx_http_ws_api_yaml.h"


ngx_int_t
ngx_http_ws_api_asyncapi_send(ngx_http_request_t *r, void *def)
{
    char                            *yaml;
    size_t                           len;
    json_t                          *doc;
    ngx_int_t                        rc;
    ngx_str_t                       *gw, host;
    ngx_buf_t                       *b;
    ngx_uint_t                       i;
    const char                      *media;
    ngx_chain_t                      out;
    ngx_http_ws_api_main_conf_t     *wmcf;
    ngx_http_ws_api_asyncapi_env_t   env;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_ws_api_module);

    ngx_memzero(&env, sizeof(env));

    host = r->headers_in.host ? r->headers_in.host->value
                              : r->headers_in.server;

    env.host = (const char *) ngx_pnalloc(r->pool, host.len + 1);
    env.gateways = ngx_palloc(r->pool, (wmcf->gateways.nelts + 1)
                                       * sizeof(char *));
    if (env.host == NULL || env.gateways == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn((u_char *) env.host, host.data, host.len + 1);

#if (NGX_HTTP_SSL)
    env.tls = (r->connection->ssl != NULL);
#endif

    gw = wmcf->gateways.elts;

    for (i = 0; i < wmcf->gateways.nelts; i++) {
        env.gateways[i] = (const char *) ngx_pnalloc(r->pool, gw[i].len + 1);
        if (env.gateways[i] == NULL) {
            return NGX_ERROR;
        }

        ngx_cpystrn((u_char *) env.gateways[i], gw[i].data, gw[i].len + 1);
    }

    env.ngateways = wmcf->gateways.nelts;

    doc = ngx_http_ws_api_asyncapi_export(def, &env);
    if (doc == NULL) {
        return NGX_ERROR;
    }

    media = "application/json";

    if (r->headers_in.accept == NULL
        || ngx_http_ws_api_asyncapi_accept(
               (const char *) r->headers_in.accept->value.data,
               r->headers_in.accept->value.len, &media)
           != NGX_HTTP_WS_API_ASYNCAPI_YAML)
    {
        rc = ngx_http_ws_api_send_json(r, NGX_HTTP_OK, doc);
        json_decref(doc);
        return rc;
    }

    yaml = ngx_http_ws_api_yaml_dump(doc, &len);

    json_decref(doc);

    if (yaml == NULL) {
        return NGX_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        free(yaml);
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->last, yaml, len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    free(yaml);

    out.buf = b;
    out.next = NULL;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type.data = (u_char *) media;
    r->headers_out.content_type.len = ngx_strlen(media);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}
