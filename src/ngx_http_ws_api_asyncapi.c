
/*
 * Copyright (C) ws-api authors
 */


#include "ngx_http_ws_api_asyncapi.h"
#include "ngx_http_ws_api_yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdarg.h>


/* a document path longer than its buffer is cut, on purpose */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif


static json_t *ngx_http_ws_api_asyncapi_params(json_t *def, const char *in);
static json_t *ngx_http_ws_api_asyncapi_value(const char *type,
    json_t *value);
static json_t *ngx_http_ws_api_asyncapi_message(json_t *m, const char *api,
    const char *name);
static json_t *ngx_http_ws_api_asyncapi_refs(json_t *v, const char *from,
    const char *to);
static void ngx_http_ws_api_asyncapi_payload_ptr(char *buf, size_t size,
    const char *channel, const char *message);
static json_t *ngx_http_ws_api_asyncapi_deref(json_t *doc, json_t *node,
    char *path, size_t size, ngx_http_ws_api_def_error_t *err);
static int ngx_http_ws_api_asyncapi_query(json_t *doc, json_t *schema,
    const char *in, const char *path, json_t *params, json_t *ppaths,
    ngx_http_ws_api_def_error_t *err);
static int ngx_http_ws_api_asyncapi_param(json_t *doc, json_t *prop,
    const char *name, const char *in, int required, char *path,
    json_t *params, json_t *ppaths, ngx_http_ws_api_def_error_t *err);
static int ngx_http_ws_api_asyncapi_fail(ngx_http_ws_api_def_error_t *err,
    const char *field, const char *fmt, ...);


#define ngx_http_ws_api_asyncapi_str(o, k)                                   \
    json_string_value(json_object_get(o, k))


/* export */

json_t *
ngx_http_ws_api_asyncapi_export(json_t *def,
    const ngx_http_ws_api_asyncapi_env_t *env)
{
    char         name[64], ref[256], address[256];
    size_t       i, n, counts[4];
    json_t      *doc, *info, *servers, *channel, *messages, *ws, *v, *m;
    json_t      *ops, *recv, *send, *op, *x;
    const char  *api, *version, *desc, *origin, *type;

    api = ngx_http_ws_api_asyncapi_str(def, "apiName");
    version = ngx_http_ws_api_asyncapi_str(def, "apiVersion");
    desc = ngx_http_ws_api_asyncapi_str(def, "apiDescription");

    if (api == NULL || version == NULL) {
        return NULL;
    }

    doc = json_pack("{s:s}", "asyncapi", "3.0.0");
    info = json_pack("{s:s, s:s}", "title", api, "version", version);

    if (doc == NULL || info == NULL) {
        goto failed;
    }

    if (desc && desc[0]) {
        json_object_set_new(info, "description", json_string(desc));
    }

    json_object_set_new(doc, "info", info);

    /* one server for each gateway location */

    if (env && env->host && env->ngateways) {
        servers = json_object();
        json_object_set_new(doc, "servers", servers);

        for (i = 0; i < env->ngateways; i++) {
            if (i == 0) {
                snprintf(name, sizeof(name), "gateway");

            } else {
                snprintf(name, sizeof(name), "gateway%zu", i + 1);
            }

            json_object_set_new(servers, name,
                                json_pack("{s:s, s:s, s:s}",
                                          "host", env->host,
                                          "protocol", env->tls ? "wss" : "ws",
                                          "pathname", env->gateways[i]));
        }
    }

    /* the channel: the connection to {prefix}{apiName}/{apiVersion} */

    snprintf(address, sizeof(address), "%s/%s", api, version);

    messages = json_object();
    ws = json_pack("{s:s}", "method", "GET");
    channel = json_pack("{s:s, s:o, s:{s:o}}", "address", address,
                        "messages", messages, "bindings", "ws", ws);
    if (channel == NULL) {
        goto failed;
    }

    json_object_set_new(doc, "channels", json_pack("{s:o}", api, channel));

    v = ngx_http_ws_api_asyncapi_params(def, "query");
    if (v) {
        json_object_set_new(ws, "query", v);
    }

    v = ngx_http_ws_api_asyncapi_params(def, "header");
    if (v) {
        json_object_set_new(ws, "headers", v);
    }

    json_object_set_new(ws, "bindingVersion", json_string("0.1.0"));

    /* messages, and the operations of the gateway's view */

    recv = json_array();
    send = json_array();
    memset(counts, 0, sizeof(counts));

    json_array_foreach(json_object_get(def, "messages"), i, m) {
        origin = ngx_http_ws_api_asyncapi_str(m, "origin");
        type = ngx_http_ws_api_asyncapi_str(m, "type");

        if (origin == NULL || type == NULL) {
            continue;
        }

        n = (strcmp(origin, "client") ? 2 : 0) + (strcmp(type, "text") ? 1 : 0);

        snprintf(name, sizeof(name), "%s%s%zu", origin,
                 strcmp(type, "text") ? "Binary" : "Text", ++counts[n]);

        json_object_set_new(messages, name,
                            ngx_http_ws_api_asyncapi_message(m, api, name));

        snprintf(ref, sizeof(ref), "#/channels/%s/messages/%s", api, name);

        json_array_append_new(n < 2 ? recv : send,
                              json_pack("{s:s}", "$ref", ref));
    }

    snprintf(ref, sizeof(ref), "#/channels/%s", api);

    ops = json_object();

    if (json_array_size(recv)) {
        op = json_pack("{s:s, s:{s:s}, s:s, s:O}", "action", "receive",
                       "channel", "$ref", ref,
                       "summary", "Messages the gateway receives from "
                                  "clients and relays to the backend",
                       "messages", recv);
        json_object_set_new(ops, "receiveClientMessages", op);
    }

    if (json_array_size(send)) {
        op = json_pack("{s:s, s:{s:s}, s:s, s:O}", "action", "send",
                       "channel", "$ref", ref,
                       "summary", "Messages the gateway sends to clients "
                                  "from the backend",
                       "messages", send);
        json_object_set_new(ops, "sendServerMessages", op);
    }

    json_decref(recv);
    json_decref(send);

    if (json_object_size(ops)) {
        json_object_set_new(doc, "operations", ops);

    } else {
        json_decref(ops);
    }

    /* what AsyncAPI has no place for */

    x = json_object();
    json_object_set_new(doc, "x-ws-api", x);

    v = json_object_get(def, "teams");
    json_object_set_new(x, "teams", v ? json_incref(v) : json_array());

    v = json_object_get(def, "wsUrl");
    json_object_set_new(x, "wsUrl", v ? json_incref(v) : json_null());

    v = json_object_get(def, "policies");
    json_object_set_new(x, "policies", v ? json_incref(v) : json_object());

    return doc;

failed:

    json_decref(doc);
    json_decref(info);
    return NULL;
}


/* a JSON Schema object of the query or header parameters, or NULL */

static json_t *
ngx_http_ws_api_asyncapi_params(json_t *def, const char *in)
{
    size_t       i, k;
    json_t      *schema, *props, *required, *p, *s, *t, *values, *e;
    const char  *type, *d;

    props = NULL;
    required = json_array();

    json_array_foreach(json_object_get(def, "parameters"), i, p) {

        if (strcmp(ngx_http_ws_api_asyncapi_str(p, "in") ?: "", in) != 0) {
            continue;
        }

        if (props == NULL) {
            props = json_object();
        }

        type = ngx_http_ws_api_asyncapi_str(p, "dataType");
        if (type == NULL) {
            type = "string";
        }

        t = json_object();

        if (strcmp(type, "integer") == 0) {
            json_object_set_new(t, "type", json_string("integer"));
            json_object_set_new(t, "format", json_string("int64"));

        } else if (strcmp(type, "double") == 0) {
            json_object_set_new(t, "type", json_string("number"));

        } else if (strcmp(type, "boolean") == 0) {
            json_object_set_new(t, "type", json_string("boolean"));

        } else {
            json_object_set_new(t, "type", json_string("string"));

            if (strcmp(type, "date") == 0 || strcmp(type, "date-time") == 0) {
                json_object_set_new(t, "format", json_string(type));
            }
        }

        values = json_object_get(p, "values");

        if (json_array_size(values)) {
            e = json_array();

            json_array_foreach(values, k, s) {
                json_array_append_new(e,
                                      ngx_http_ws_api_asyncapi_value(type, s));
            }

            json_object_set_new(t, "enum", e);
        }

        if (json_is_true(json_object_get(p, "array"))) {
            s = json_pack("{s:s, s:o}", "type", "array", "items", t);

        } else {
            s = t;
        }

        d = ngx_http_ws_api_asyncapi_str(p, "description");

        if (d && d[0]) {
            json_object_set_new(s, "description", json_string(d));
        }

        json_object_set_new(props, ngx_http_ws_api_asyncapi_str(p, "name"), s);

        if (json_is_true(json_object_get(p, "required"))) {
            json_array_append(required, json_object_get(p, "name"));
        }
    }

    if (props == NULL) {
        json_decref(required);
        return NULL;
    }

    schema = json_pack("{s:s, s:o}", "type", "object", "properties", props);

    if (json_array_size(required)) {
        json_object_set_new(schema, "required", required);

    } else {
        json_decref(required);
    }

    return schema;
}


/* a stored value (a string) in the JSON type of its data type */

static json_t *
ngx_http_ws_api_asyncapi_value(const char *type, json_t *value)
{
    const char  *s;

    s = json_string_value(value);

    if (s == NULL) {
        return json_incref(value);
    }

    if (strcmp(type, "integer") == 0) {
        return json_integer(strtoll(s, NULL, 10));
    }

    if (strcmp(type, "double") == 0) {
        return json_real(strtod(s, NULL));
    }

    if (strcmp(type, "boolean") == 0) {
        return json_boolean(strcasecmp(s, "true") == 0);
    }

    return json_incref(value);
}


static json_t *
ngx_http_ws_api_asyncapi_message(json_t *m, const char *api, const char *name)
{
    int          text;
    char         ptr[512];
    json_t      *out, *sample, *v;
    const char  *s, *d;

    text = (strcmp(ngx_http_ws_api_asyncapi_str(m, "type") ?: "", "text")
            == 0);
    s = ngx_http_ws_api_asyncapi_str(m, "samplePayload");
    d = ngx_http_ws_api_asyncapi_str(m, "description");

    sample = NULL;

    if (text && s && s[0]) {
        sample = json_loads(s, JSON_DECODE_ANY, NULL);
    }

    out = json_pack("{s:s}", "name", name);
    if (out == NULL) {
        json_decref(sample);
        return NULL;
    }

    if (d && d[0]) {
        json_object_set_new(out, "description", json_string(d));
    }

    json_object_set_new(out, "contentType",
                        json_string(!text ? "application/octet-stream"
                                    : sample ? "application/json"
                                    : "text/plain"));

    v = json_object_get(m, "schema");

    if (v) {
        /* a local $ref of the schema is relative to the document here */
        ngx_http_ws_api_asyncapi_payload_ptr(ptr, sizeof(ptr), api, name);
        json_object_set_new(out, "payload",
                            ngx_http_ws_api_asyncapi_refs(v, "#", ptr));
    }

    if (s && s[0]) {
        json_object_set_new(out, "examples",
                            json_pack("[{s:o}]", "payload",
                                      sample ? sample : json_string(s)));
    }

    json_object_set_new(out, "x-ws-origin",
                        json_string(ngx_http_ws_api_asyncapi_str(m, "origin")));
    json_object_set_new(out, "x-ws-opcode", json_string(text ? "text"
                                                             : "binary"));

    return out;
}


/* import */

json_t *
ngx_http_ws_api_asyncapi_import(const char *text, size_t len, int type,
    json_t **paths, ngx_http_ws_api_def_error_t *err)
{
    json_t        *doc, *def;
    json_error_t   jerr;

    memset(err, 0, sizeof(*err));

    if (type == NGX_HTTP_WS_API_ASYNCAPI_YAML) {
        doc = ngx_http_ws_api_yaml_load(text, len, err);
        if (doc == NULL) {
            return NULL;
        }

    } else {
        doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (doc == NULL) {
            ngx_http_ws_api_asyncapi_fail(err, NULL,
                                          "malformed JSON: %s (line %d, "
                                          "column %d)", jerr.text, jerr.line,
                                          jerr.column);
            return NULL;
        }
    }

    def = ngx_http_ws_api_asyncapi_map(doc, paths, err);

    json_decref(doc);

    return def;
}


json_t *
ngx_http_ws_api_asyncapi_map(json_t *doc, json_t **paths,
    ngx_http_ws_api_def_error_t *err)
{
    int          origins;
    char         path[256], mpath[256], opath[256], ptr[512];
    size_t       i, k;
    json_t      *def, *info, *v, *x, *channels, *channel, *chan, *ws;
    json_t      *messages, *m, *ops, *op, *refs, *r, *target, *params;
    json_t      *ppaths, *mpaths, *defmsgs, *dm;
    const char  *key, *ckey, *mkey, *s, *opcode, *ct, *action;

    memset(err, 0, sizeof(*err));
    *paths = NULL;

    def = json_object();
    params = json_array();
    defmsgs = json_array();
    ppaths = json_array();
    mpaths = json_array();

    if (!json_is_object(doc)) {
        ngx_http_ws_api_asyncapi_fail(err, NULL, "an AsyncAPI document must "
                                      "be an object");
        goto failed;
    }

    s = ngx_http_ws_api_asyncapi_str(doc, "asyncapi");

    if (s == NULL || strncmp(s, "3.", 2) != 0) {
        ngx_http_ws_api_asyncapi_fail(err, "asyncapi", "asyncapi must be a "
                                      "3.x version string such as "
                                      "\"3.0.0\"");
        goto failed;
    }

    /* info */

    info = json_object_get(doc, "info");

    if (!json_is_object(info)) {
        ngx_http_ws_api_asyncapi_fail(err, "info", "info must be an object");
        goto failed;
    }

    {
        static const char  *from[] = { "title", "version", "description" };
        static const char  *to[] = { "apiName", "apiVersion",
                                     "apiDescription" };

        for (i = 0; i < 3; i++) {
            v = json_object_get(info, from[i]);

            if (v == NULL && i == 2) {
                continue;
            }

            if (!json_is_string(v)) {
                snprintf(path, sizeof(path), "info.%s", from[i]);
                ngx_http_ws_api_asyncapi_fail(err, path, "%s must be a "
                                              "string%s", path,
                                              i == 1 ? " (quote it in YAML: "
                                                       "\"1.0\")" : "");
                goto failed;
            }

            json_object_set(def, to[i], v);
        }
    }

    /* x-ws-api */

    x = json_object_get(doc, "x-ws-api");

    if (x && !json_is_object(x)) {
        ngx_http_ws_api_asyncapi_fail(err, "x-ws-api", "x-ws-api must be an "
                                      "object");
        goto failed;
    }

    json_object_foreach(x, key, v) {
        if (strcmp(key, "teams") && strcmp(key, "wsUrl")
            && strcmp(key, "policies"))
        {
            snprintf(path, sizeof(path), "x-ws-api.%s", key);
            ngx_http_ws_api_asyncapi_fail(err, path, "unknown member \"%s\" "
                                          "in x-ws-api; expected teams, "
                                          "wsUrl, policies", key);
            goto failed;
        }

        if (strcmp(key, "teams") == 0 && json_is_array(v)
            && json_array_size(v) == 0)
        {
            continue;
        }

        json_object_set(def, key, v);
    }

    /* the channel */

    channels = json_object_get(doc, "channels");

    if (!json_is_object(channels) || json_object_size(channels) != 1) {
        ngx_http_ws_api_asyncapi_fail(err, "channels", "channels must hold "
                                      "exactly one channel: a WebSocket API "
                                      "is one connection");
        goto failed;
    }

    ckey = json_object_iter_key(json_object_iter(channels));
    snprintf(path, sizeof(path), "channels.%s", ckey);

    chan = json_object_get(channels, ckey);
    channel = ngx_http_ws_api_asyncapi_deref(doc, chan, path, sizeof(path),
                                             err);
    if (channel == NULL) {
        goto failed;
    }

    if (json_object_get(channel, "parameters")) {
        k = strlen(path);
        snprintf(path + k, sizeof(path) - k, ".parameters");
        ngx_http_ws_api_asyncapi_fail(err, path, "channel parameters cannot "
                                      "be mapped: the gateway's address is "
                                      "{apiName}/{apiVersion}");
        goto failed;
    }

    ws = json_object_get(json_object_get(channel, "bindings"), "ws");

    json_object_foreach(ws, key, v) {
        snprintf(mpath, sizeof(mpath), "%s.bindings.ws.%s", path, key);

        if (strcmp(key, "method") == 0) {
            if (!json_is_string(v) || strcmp(json_string_value(v), "GET")) {
                ngx_http_ws_api_asyncapi_fail(err, mpath, "%s must be GET",
                                              mpath);
                goto failed;
            }

        } else if (strcmp(key, "query") == 0 || strcmp(key, "headers") == 0) {
            if (ngx_http_ws_api_asyncapi_query(doc, v,
                                               key[0] == 'q' ? "query"
                                                             : "header",
                                               mpath, params, ppaths, err)
                != 0)
            {
                goto failed;
            }

        } else if (strcmp(key, "bindingVersion") && strncmp(key, "x-", 2)) {
            ngx_http_ws_api_asyncapi_fail(err, mpath, "unknown member %s",
                                          mpath);
            goto failed;
        }
    }

    /* messages: the origin from the operations, else x-ws-origin */

    messages = json_object_get(channel, "messages");
    ops = json_object_get(doc, "operations");

    json_object_foreach(messages, mkey, m) {
        snprintf(mpath, sizeof(mpath), "%s.messages.%s", path, mkey);

        target = m;
        m = ngx_http_ws_api_asyncapi_deref(doc, m, mpath, sizeof(mpath), err);
        if (m == NULL) {
            goto failed;
        }

        origins = 0;

        json_object_foreach(ops, key, op) {
            snprintf(opath, sizeof(opath), "operations.%s", key);

            op = ngx_http_ws_api_asyncapi_deref(doc, op, opath, sizeof(opath),
                                                err);
            if (op == NULL) {
                goto failed;
            }

            action = ngx_http_ws_api_asyncapi_str(op, "action");

            if (action == NULL
                || (strcmp(action, "send") && strcmp(action, "receive")))
            {
                k = strlen(opath);
                snprintf(opath + k, sizeof(opath) - k, ".action");
                ngx_http_ws_api_asyncapi_fail(err, opath, "%s must be send "
                                              "or receive", opath);
                goto failed;
            }

            r = json_object_get(op, "channel");
            s = ngx_http_ws_api_asyncapi_str(r, "$ref");
            snprintf(opath + strlen(opath), 1, "%s", "");

            if (r == NULL
                || (r != chan && r != channel
                    && ngx_http_ws_api_asyncapi_deref(doc, r, opath,
                                                      sizeof(opath), err)
                       != channel))
            {
                snprintf(opath, sizeof(opath), "operations.%s.channel", key);
                ngx_http_ws_api_asyncapi_fail(err, opath, "%s must refer "
                                              "to the document's channel "
                                              "(\"#/channels/%s\")", opath,
                                              ckey);
                goto failed;
            }

            (void) s;

            refs = json_object_get(op, "messages");

            if (refs == NULL) {
                /* all the channel's messages */
                origins |= (action[0] == 'r') ? 1 : 2;
                continue;
            }

            json_array_foreach(refs, k, r) {
                snprintf(opath, sizeof(opath), "operations.%s.messages[%zu]",
                         key, k);

                v = ngx_http_ws_api_asyncapi_deref(doc, r, opath,
                                                   sizeof(opath), err);
                if (v == NULL) {
                    goto failed;
                }

                if (v == m || v == target) {
                    origins |= (action[0] == 'r') ? 1 : 2;
                }
            }
        }

        s = ngx_http_ws_api_asyncapi_str(m, "x-ws-origin");
        k = strlen(mpath);

        if (s) {
            if (strcmp(s, "client") && strcmp(s, "server")) {
                snprintf(mpath + k, sizeof(mpath) - k, ".x-ws-origin");
                ngx_http_ws_api_asyncapi_fail(err, mpath, "%s must be client "
                                              "or server", mpath);
                goto failed;
            }

            if (origins && origins != (s[0] == 'c' ? 1 : 2)) {
                snprintf(mpath + k, sizeof(mpath) - k, ".x-ws-origin");
                ngx_http_ws_api_asyncapi_fail(err, mpath, "%s contradicts "
                                              "the operations that use the "
                                              "message", mpath);
                goto failed;
            }

            origins = (s[0] == 'c') ? 1 : 2;
        }

        if (origins == 0) {
            ngx_http_ws_api_asyncapi_fail(err, mpath, "no operation sends "
                                          "or receives %s, and it has no "
                                          "x-ws-origin", mpath);
            goto failed;
        }

        if (json_object_get(m, "headers") || json_object_get(m, "traits")) {
            snprintf(mpath + k, sizeof(mpath) - k, ".%s",
                     json_object_get(m, "headers") ? "headers" : "traits");
            ngx_http_ws_api_asyncapi_fail(err, mpath, "%s cannot be mapped: "
                                          "WebSocket messages have no "
                                          "headers or traits here", mpath);
            goto failed;
        }

        opcode = ngx_http_ws_api_asyncapi_str(m, "x-ws-opcode");
        ct = ngx_http_ws_api_asyncapi_str(m, "contentType");

        if (json_object_get(m, "x-ws-opcode")
            && (opcode == NULL
                || (strcmp(opcode, "text") && strcmp(opcode, "binary"))))
        {
            snprintf(mpath + k, sizeof(mpath) - k, ".x-ws-opcode");
            ngx_http_ws_api_asyncapi_fail(err, mpath, "%s must be text or "
                                          "binary", mpath);
            goto failed;
        }

        if (opcode == NULL) {
            opcode = (ct && strcmp(ct, "application/octet-stream") == 0)
                     ? "binary" : "text";
        }

        dm = json_pack("{s:s, s:s}", "origin", "client", "type", opcode);

        v = json_object_get(m, "description");
        if (v) {
            json_object_set(dm, "description", v);
        }

        v = json_object_get(json_array_get(json_object_get(m, "examples"), 0),
                            "payload");

        if (json_is_string(v)
            && !(ct && strcmp(ct, "application/json") == 0))
        {
            json_object_set(dm, "samplePayload", v);

        } else if (v) {
            json_object_set_new(dm, "samplePayload",
                                json_string_nocheck(""));
            s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (s) {
                json_object_set_new(dm, "samplePayload", json_string(s));
                free((char *) s);
            }
        }

        v = json_object_get(m, "payload");
        if (v) {
            /* back to refs relative to the schema, as the export wrote them */
            ngx_http_ws_api_asyncapi_payload_ptr(ptr, sizeof(ptr), ckey,
                                                 mkey);
            json_object_set_new(dm, "schema",
                                ngx_http_ws_api_asyncapi_refs(v, ptr, "#"));
        }

        if (origins & 1) {
            json_array_append(defmsgs, dm);
            json_array_append_new(mpaths, json_string(mpath));
        }

        if (origins & 2) {
            if (origins & 1) {
                dm = json_deep_copy(dm);
                json_decref(dm);
            }

            json_object_set_new(dm, "origin", json_string("server"));
            json_array_append(defmsgs, dm);
            json_array_append_new(mpaths, json_string(mpath));
        }

        json_decref(dm);
    }

    json_object_set(def, "parameters", params);
    json_object_set(def, "messages", defmsgs);

    *paths = json_pack("{s:O, s:O}", "parameters", ppaths, "messages",
                       mpaths);

    json_decref(params);
    json_decref(defmsgs);
    json_decref(ppaths);
    json_decref(mpaths);

    return def;

failed:

    json_decref(def);
    json_decref(params);
    json_decref(defmsgs);
    json_decref(ppaths);
    json_decref(mpaths);

    return NULL;
}


/* follows local $refs ("#/components/messages/tick"); path follows too */

static json_t *
ngx_http_ws_api_asyncapi_deref(json_t *doc, json_t *node, char *path,
    size_t size, ngx_http_ws_api_def_error_t *err)
{
    char         seg[256], *o;
    size_t       hops, len;
    const char  *ref, *p, *e;

    for (hops = 0; json_is_object(node); hops++) {

        ref = ngx_http_ws_api_asyncapi_str(node, "$ref");

        if (ref == NULL) {
            return node;
        }

        if (hops == NGX_HTTP_WS_API_ASYNCAPI_MAX_REFS
            || strncmp(ref, "#/", 2) != 0)
        {
            ngx_http_ws_api_asyncapi_fail(err, path, "%s: only local "
                                          "references (\"#/...\"), at most "
                                          "%d deep, are supported", path,
                                          NGX_HTTP_WS_API_ASYNCAPI_MAX_REFS);
            return NULL;
        }

        node = doc;
        path[0] = '\0';
        len = 0;

        for (p = ref + 2; *p; p = *e ? e + 1 : e) {
            e = strchr(p, '/');
            if (e == NULL) {
                e = p + strlen(p);
            }

            /* ~1 is "/", ~0 is "~" */

            for (o = seg; p < e && o < seg + sizeof(seg) - 1; p++) {
                if (*p == '~' && p + 1 < e && (p[1] == '0' || p[1] == '1')) {
                    *o++ = (p[1] == '1') ? '/' : '~';
                    p++;

                } else {
                    *o++ = *p;
                }
            }

            *o = '\0';

            if (json_is_array(node)) {
                node = json_array_get(node, strtoul(seg, NULL, 10));
                len += snprintf(path + len, size - len, "[%s]", seg);

            } else {
                node = json_object_get(node, seg);
                len += snprintf(path + len, size - len, "%s%s",
                                len ? "." : "", seg);
            }

            if (len >= size) {
                len = size - 1;
            }

            if (node == NULL) {
                ngx_http_ws_api_asyncapi_fail(err, path, "the reference "
                                              "\"%s\" leads nowhere", ref);
                return NULL;
            }
        }
    }

    return node;
}


/* bindings.ws.query or .headers: a JSON Schema of type object */

static int
ngx_http_ws_api_asyncapi_query(json_t *doc, json_t *schema, const char *in,
    const char *path, json_t *params, json_t *ppaths,
    ngx_http_ws_api_def_error_t *err)
{
    char         p[256], pp[256];
    size_t       i;
    json_t      *props, *required, *v;
    const char  *key, *name;

    snprintf(p, sizeof(p), "%s", path);

    schema = ngx_http_ws_api_asyncapi_deref(doc, schema, p, sizeof(p), err);
    if (schema == NULL) {
        return -1;
    }

    json_object_foreach(schema, key, v) {
        snprintf(pp, sizeof(pp), "%s.%s", p, key);

        if (strcmp(key, "type") == 0) {
            if (!json_is_string(v) || strcmp(json_string_value(v), "object")) {
                return ngx_http_ws_api_asyncapi_fail(err, pp, "%s must be "
                                                     "object", pp);
            }

        } else if (strcmp(key, "properties") && strcmp(key, "required")
                   && strcmp(key, "description") && strcmp(key, "title")
                   && strncmp(key, "x-", 2)
                   && !(strcmp(key, "additionalProperties") == 0
                        && json_is_true(v)))
        {
            return ngx_http_ws_api_asyncapi_fail(err, pp, "%s cannot be "
                                                 "mapped to a parameter "
                                                 "check", pp);
        }
    }

    required = json_object_get(schema, "required");
    props = json_object_get(schema, "properties");

    json_array_foreach(required, i, v) {
        if (!json_is_string(v)
            || json_object_get(props, json_string_value(v)) == NULL)
        {
            snprintf(pp, sizeof(pp), "%s.required[%zu]", p, i);
            return ngx_http_ws_api_asyncapi_fail(err, pp, "%s names no "
                                                 "property", pp);
        }
    }

    json_object_foreach(props, name, v) {
        int  req = 0;

        json_array_foreach(required, i, schema) {
            if (strcmp(json_string_value(schema), name) == 0) {
                req = 1;
            }
        }

        snprintf(pp, sizeof(pp), "%s.properties.%s", p, name);

        if (ngx_http_ws_api_asyncapi_param(doc, v, name, in, req, pp, params,
                                           ppaths, err)
            != 0)
        {
            return -1;
        }
    }

    return 0;
}


static int
ngx_http_ws_api_asyncapi_param(json_t *doc, json_t *prop, const char *name,
    const char *in, int required, char *path, json_t *params, json_t *ppaths,
    ngx_http_ws_api_def_error_t *err)
{
    int          array;
    char         f[300], vpath[300];
    json_t      *t, *p, *v, *e;
    const char  *type, *format, *key, *dt;

    prop = ngx_http_ws_api_asyncapi_deref(doc, prop, path, 256, err);
    if (prop == NULL) {
        return -1;
    }

    if (!json_is_object(prop)) {
        return ngx_http_ws_api_asyncapi_fail(err, path, "%s must be a schema "
                                             "object", path);
    }

    t = prop;
    array = 0;
    snprintf(vpath, sizeof(vpath), "%s", path);

    type = ngx_http_ws_api_asyncapi_str(prop, "type");

    if (type && strcmp(type, "array") == 0) {
        array = 1;
        t = json_object_get(prop, "items");
        snprintf(vpath, sizeof(vpath), "%s.items", path);

        if (t == NULL) {
            t = json_object();
            json_decref(t);
            t = NULL;
        }
    }

    /* the keywords a parameter check can honour */

    for (p = prop; p; p = (array && p == prop) ? t : NULL) {
        json_object_foreach(p, key, v) {
            if (strcmp(key, "type") && strcmp(key, "format")
                && strcmp(key, "description") && strcmp(key, "title")
                && strcmp(key, "examples") && strcmp(key, "$comment")
                && strncmp(key, "x-", 2)
                && !(strcmp(key, "items") == 0 && array && p == prop)
                && !(strcmp(key, "enum") == 0 && !(array && p == prop)))
            {
                snprintf(f, sizeof(f), "%s.%s", p == prop ? path : vpath,
                         key);
                return ngx_http_ws_api_asyncapi_fail(err, f, "%s cannot be "
                                                     "mapped to a parameter "
                                                     "check", f);
            }
        }
    }

    type = t ? ngx_http_ws_api_asyncapi_str(t, "type") : NULL;
    format = t ? ngx_http_ws_api_asyncapi_str(t, "format") : NULL;

    snprintf(f, sizeof(f), "%s.type", vpath);

    if (t && json_object_get(t, "type") && type == NULL) {
        return ngx_http_ws_api_asyncapi_fail(err, f, "%s must be a string",
                                             f);
    }

    if (type == NULL || strcmp(type, "string") == 0) {
        dt = "string";

        if (format && (strcmp(format, "date") == 0
                       || strcmp(format, "date-time") == 0))
        {
            dt = format;
            format = NULL;
        }

    } else if (strcmp(type, "integer") == 0) {
        dt = "integer";

        if (format && strcmp(format, "int64") == 0) {
            format = NULL;
        }

    } else if (strcmp(type, "number") == 0) {
        dt = "double";

        if (format && strcmp(format, "double") == 0) {
            format = NULL;
        }

    } else if (strcmp(type, "boolean") == 0) {
        dt = "boolean";

    } else {
        return ngx_http_ws_api_asyncapi_fail(err, f, "%s \"%s\" cannot be "
                                             "mapped; a parameter is a "
                                             "string, integer, number, "
                                             "boolean or an array of one",
                                             f, type);
    }

    if (format) {
        snprintf(f, sizeof(f), "%s.format", vpath);
        return ngx_http_ws_api_asyncapi_fail(err, f, "%s \"%s\" cannot be "
                                             "checked by the gateway", f,
                                             format);
    }

    p = json_pack("{s:s, s:s, s:s, s:b, s:b}", "name", name, "in", in,
                  "dataType", dt, "required", required, "array", array);

    v = json_object_get(prop, "description");
    if (v) {
        json_object_set(p, "description", v);
    }

    e = t ? json_object_get(t, "enum") : NULL;
    if (e) {
        json_object_set(p, "values", e);
    }

    json_array_append_new(params, p);

    snprintf(f, sizeof(f), "%s.enum", vpath);
    json_array_append_new(ppaths, json_pack("{s:s, s:s}", "p", path,
                                            "v", f));

    return 0;
}


/* a definition's field as the document path it came from */

void
ngx_http_ws_api_asyncapi_field(json_t *paths, ngx_http_ws_api_def_error_t *err)
{
    char         out[sizeof(err->field)];
    size_t       i;
    json_t      *p;
    const char  *f, *rest, *base;

    f = err->field;

    if (f[0] == '\0' || paths == NULL) {
        return;
    }

    if (strcmp(f, "apiName") == 0) {
        snprintf(out, sizeof(out), "info.title");

    } else if (strcmp(f, "apiVersion") == 0) {
        snprintf(out, sizeof(out), "info.version");

    } else if (strcmp(f, "apiDescription") == 0) {
        snprintf(out, sizeof(out), "info.description");

    } else if (strncmp(f, "teams", 5) == 0 || strncmp(f, "policies", 8) == 0
               || strcmp(f, "wsUrl") == 0)
    {
        snprintf(out, sizeof(out), "x-ws-api.%s", f);

    } else if (sscanf(f, "parameters[%zu]", &i) == 1) {
        p = json_array_get(json_object_get(paths, "parameters"), i);
        rest = strchr(f, ']') + 1;
        base = ngx_http_ws_api_asyncapi_str(p, "p");

        if (base == NULL) {
            return;
        }

        if (strncmp(rest, ".values", 7) == 0) {
            snprintf(out, sizeof(out), "%s%s",
                     ngx_http_ws_api_asyncapi_str(p, "v"), rest + 7);

        } else if (strcmp(rest, ".description") == 0) {
            snprintf(out, sizeof(out), "%s%s", base, rest);

        } else {
            snprintf(out, sizeof(out), "%s", base);
        }

    } else if (sscanf(f, "messages[%zu]", &i) == 1) {
        base = json_string_value(
                   json_array_get(json_object_get(paths, "messages"), i));
        rest = strchr(f, ']') + 1;

        if (base == NULL) {
            return;
        }

        if (strcmp(rest, ".samplePayload") == 0) {
            snprintf(out, sizeof(out), "%s.examples[0].payload", base);

        } else if (strncmp(rest, ".schema", 7) == 0) {
            snprintf(out, sizeof(out), "%s.payload%s", base, rest + 7);

        } else if (strcmp(rest, ".description") == 0) {
            snprintf(out, sizeof(out), "%s%s", base, rest);

        } else if (strcmp(rest, ".type") == 0) {
            snprintf(out, sizeof(out), "%s.x-ws-opcode", base);

        } else {
            snprintf(out, sizeof(out), "%s", base);
        }

    } else {
        return;
    }

    memcpy(err->field, out, sizeof(out));
}


int
ngx_http_ws_api_asyncapi_content_type(const char *p, size_t len)
{
    size_t  n;

    for (n = 0; n < len && p[n] != ';' && p[n] != ' '; n++) {
        /* void */
    }

    if (n == sizeof("application/vnd.aai.asyncapi+json") - 1) {
        if (strncasecmp(p, "application/vnd.aai.asyncapi+json", n) == 0) {
            return NGX_HTTP_WS_API_ASYNCAPI_JSON;
        }

        if (strncasecmp(p, "application/vnd.aai.asyncapi+yaml", n) == 0) {
            return NGX_HTTP_WS_API_ASYNCAPI_YAML;
        }
    }

    return NGX_HTTP_WS_API_ASYNCAPI_NONE;
}


int
ngx_http_ws_api_asyncapi_accept(const char *p, size_t len, const char **media)
{
    size_t       i, n;
    const char  *s, *e, *q;

    static const char  *yaml[] = {
        "application/yaml", "application/x-yaml", "text/yaml",
        "application/vnd.aai.asyncapi+yaml", NULL
    };

    *media = "application/json";

    for (s = p; s < p + len; s = e + 1) {
        e = memchr(s, ',', p + len - s);
        if (e == NULL) {
            e = p + len;
        }

        while (s < e && *s == ' ') {
            s++;
        }

        for (n = 0; s + n < e && s[n] != ';' && s[n] != ' '; n++) {
            /* void */
        }

        /* q=0 refuses the type */

        for (q = s + n; q + 3 < e + 0 && !(q[0] == 'q' && q[1] == '='); q++) {
            /* void */
        }

        if (q + 3 <= e && q[0] == 'q' && q[1] == '=' && q[2] == '0'
            && (q + 3 == e || q[3] != '.' || strspn(q + 4, "0") >= (size_t)
                                              (e - q - 4)))
        {
            continue;
        }

        if (n == 16 && strncasecmp(s, "application/json", 16) == 0) {
            return NGX_HTTP_WS_API_ASYNCAPI_JSON;
        }

        for (i = 0; yaml[i]; i++) {
            if (strlen(yaml[i]) == n && strncasecmp(s, yaml[i], n) == 0) {
                *media = yaml[i];
                return NGX_HTTP_WS_API_ASYNCAPI_YAML;
            }
        }
    }

    return NGX_HTTP_WS_API_ASYNCAPI_JSON;
}


static int
ngx_http_ws_api_asyncapi_fail(ngx_http_ws_api_def_error_t *err,
    const char *field, const char *fmt, ...)
{
    va_list  args;

    err->status = 400;

    va_start(args, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, args);
    va_end(args);

    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");

    return -1;
}


/*
 * A copy of a schema whose "$ref" strings that are "from" or start with
 * "from/" start with "to" instead: a message's payload in the document is
 * at "#/channels/{c}/messages/{m}/payload", where a schema's own local
 * references ("#/definitions/x") would no longer resolve.  A NULL on no
 * memory is taken by json_object_set_new() as a failure of its own.
 */

static json_t *
ngx_http_ws_api_asyncapi_refs(json_t *v, const char *from, const char *to)
{
    char        *buf;
    size_t       i, n, len;
    json_t      *out, *e, *c;
    const char  *key, *ref;

    if (json_is_array(v)) {
        out = json_array();

        json_array_foreach(v, i, e) {
            if (out == NULL
                || json_array_append_new(out,
                       ngx_http_ws_api_asyncapi_refs(e, from, to)) != 0)
            {
                json_decref(out);
                return NULL;
            }
        }

        return out;
    }

    if (!json_is_object(v)) {
        return json_incref(v);
    }

    out = json_object();
    n = strlen(from);

    json_object_foreach(v, key, e) {
        if (out == NULL) {
            return NULL;
        }

        ref = json_string_value(e);

        if (strcmp(key, "$ref") == 0 && ref && strncmp(ref, from, n) == 0
            && (ref[n] == '\0' || ref[n] == '/'))
        {
            len = strlen(to) + strlen(ref + n) + 1;
            buf = malloc(len);
            c = NULL;

            if (buf) {
                snprintf(buf, len, "%s%s", to, ref + n);
                c = json_string(buf);
                free(buf);
            }

        } else {
            c = ngx_http_ws_api_asyncapi_refs(e, from, to);
        }

        if (json_object_set_new(out, key, c) != 0) {
            json_decref(out);
            return NULL;
        }
    }

    return out;
}


/* "#/channels/{channel}/messages/{message}/payload", keys escaped */

static void
ngx_http_ws_api_asyncapi_payload_ptr(char *buf, size_t size,
    const char *channel, const char *message)
{
    size_t       k;
    const char  *p, *part[2];
    size_t       j;

    part[0] = channel;
    part[1] = message;

    k = snprintf(buf, size, "#/channels/");

    for (j = 0; j < 2; j++) {
        for (p = part[j]; *p && k + 3 < size; p++) {
            if (*p == '~' || *p == '/') {
                buf[k++] = '~';
                buf[k++] = (*p == '~') ? '0' : '1';

            } else {
                buf[k++] = *p;
            }
        }

        if (k + 11 < size) {
            k += snprintf(buf + k, size - k, j ? "/payload" : "/messages/");
        }
    }

    buf[k < size ? k : size - 1] = '\0';
}
