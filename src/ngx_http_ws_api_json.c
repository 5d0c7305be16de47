
/*
 * Copyright (C) ws-api authors
 */


/*
 * JSON answers: a document, an error in the form of SPEC 3.3, and a
 * header filter that gives the errors nginx itself produces in an admin
 * location (401 of auth_basic, 413 of a body too large, 500...) or in a
 * gateway location (502 and 504 when the backend fails) the same JSON
 * form.  A backend's own answers are left as they are.  Every answer of an
 * admin location, its own or nginx's, carries X-Request-Id.
 */


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_admin.h"
#include "ngx_http_ws_api_frame.h"
#include <jansson.h>


static ngx_int_t ngx_http_ws_api_json_prepare(ngx_http_request_t *r,
    ngx_uint_t status, json_t *json, ngx_chain_t *out);
static ngx_int_t ngx_http_ws_api_json_header_filter(ngx_http_request_t *r);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static ngx_str_t  ngx_http_ws_api_json_type = ngx_string("application/json");


ngx_int_t
ngx_http_ws_api_send_json(ngx_http_request_t *r, ngx_uint_t status,
    void *json)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    if (ngx_http_ws_api_json_prepare(r, status, json, &out) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}


/* the body and the headers of a JSON answer */

static ngx_int_t
ngx_http_ws_api_json_prepare(ngx_http_request_t *r, ngx_uint_t status,
    json_t *json, ngx_chain_t *out)
{
    size_t      len;
    ngx_buf_t  *b;

    len = json_dumpb(json, NULL, 0, JSON_COMPACT);
    if (len == 0) {
        return NGX_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, len + 1);
    if (b == NULL) {
        return NGX_ERROR;
    }

    if (json_dumpb(json, (char *) b->last, len, JSON_COMPACT) != len) {
        return NGX_ERROR;
    }

    b->last += len;
    *b->last++ = '\n';

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out->buf = b;
    out->next = NULL;

    r->headers_out.status = status;
    r->headers_out.content_type = ngx_http_ws_api_json_type;
    r->headers_out.content_type_len = ngx_http_ws_api_json_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    return NGX_OK;
}


/*
 * {"error": {"status": 400, "message": "...", "field": "..."}}; field may
 * be NULL.  The message is formatted with ngx_vslprintf().
 */

ngx_int_t
ngx_http_ws_api_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *field, const char *fmt, ...)
{
    u_char     message[512], *last;
    json_t    *doc, *err;
    va_list    args;
    ngx_int_t  rc;

    va_start(args, fmt);
    last = ngx_vslprintf(message, message + sizeof(message) - 1, fmt, args);
    va_end(args);

    *last = '\0';

    /* what a client sent may be in it: JSON takes valid UTF-8 only */

    ngx_http_ws_api_json_sanitize(message, last - message);

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    err = json_pack("{s:i, s:s}", "status", (int) status, "message",
                    (char *) message);
    if (err == NULL) {
        return NGX_ERROR;
    }

    if (field && field[0]
        && json_object_set_new(err, "field", json_string(field)) != 0)
    {
        json_decref(err);
        return NGX_ERROR;
    }

    doc = json_pack("{s:o}", "error", err);
    if (doc == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_ws_api_send_json(r, status, doc);

    json_decref(doc);

    return rc;
}


/*
 * Makes a text valid UTF-8 without control characters, in place: what is
 * not (a byte of a broken or cut sequence, a control character) becomes
 * "?".  For messages that quote what a client sent.
 */

void
ngx_http_ws_api_json_sanitize(u_char *p, size_t len)
{
    u_char  *last;
    size_t   n;

    last = p + len;

    while (p < last) {

        if (*p < 0x80) {
            if (*p < 0x20 || *p == 0x7f) {
                *p = '?';
            }

            p++;
            continue;
        }

        n = (*p >= 0xc2 && *p <= 0xdf) ? 2
            : (*p >= 0xe0 && *p <= 0xef) ? 3
            : (*p >= 0xf0 && *p <= 0xf4) ? 4 : 0;

        if (n && (size_t) (last - p) >= n
            && ngx_http_ws_api_utf8_valid(p, n))
        {
            p += n;
            continue;
        }

        *p++ = '?';
    }
}


ngx_int_t
ngx_http_ws_api_json_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_ws_api_json_header_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_ws_api_json_header_filter(ngx_http_request_t *r)
{
    json_t                      *doc;
    ngx_int_t                    rc;
    const char                  *message;
    ngx_chain_t                  out;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_ws_api_loc_conf_t  *wlcf;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_ws_api_module);

    if (wlcf->admin && ngx_http_ws_api_admin_request_id(r) != NGX_OK) {
        return NGX_ERROR;
    }

    if (r->headers_out.status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_next_header_filter(r);
    }

    /*
     * an admin location; or a gateway location, unless the answer is the
     * backend's own (then the backend's status line was read)
     */

    if (!(wlcf->admin
          || (wlcf->gateway
              && (r->upstream == NULL
                  || r->upstream->headers_in.status_n == 0)))
        || (r->headers_out.content_type.len == ngx_http_ws_api_json_type.len
            && ngx_strncmp(r->headers_out.content_type.data,
                           ngx_http_ws_api_json_type.data,
                           ngx_http_ws_api_json_type.len)
               == 0))
    {
        return ngx_http_next_header_filter(r);
    }

    /* an error page of nginx's own: answered in JSON instead */

    switch (r->headers_out.status) {

    case NGX_HTTP_UNAUTHORIZED:
        message = "authentication required";
        break;

    case NGX_HTTP_FORBIDDEN:
        message = "access forbidden";
        break;

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        doc = json_pack("{s:{s:i, s:s+}}", "error", "status", 413,
                        "message", "request body is larger than ",
                        clcf->client_max_body_size == 1024 * 1024
                        ? "1 MiB" : "client_max_body_size");
        goto send;

    case NGX_HTTP_REQUEST_TIME_OUT:
        message = "request timed out";
        break;

    case NGX_HTTP_INTERNAL_SERVER_ERROR:
        message = "internal error";
        break;

    case NGX_HTTP_BAD_GATEWAY:
        message = "the backend cannot be reached or answered badly";
        break;

    case NGX_HTTP_GATEWAY_TIME_OUT:
        message = "the backend did not answer in time";
        break;

    default:
        message = "request refused";
    }

    doc = json_pack("{s:{s:i, s:s}}", "error", "status",
                    (int) r->headers_out.status, "message", message);

send:

    if (doc == NULL) {
        return NGX_ERROR;
    }

    /*
     * the JSON is sent now, in place of the page; r->header_only keeps
     * nginx from sending the page after it
     */

    rc = ngx_http_ws_api_json_prepare(r, r->headers_out.status, doc, &out);

    json_decref(doc);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    rc = ngx_http_output_filter(r, &out);

    r->header_only = 1;

    return rc;
}
