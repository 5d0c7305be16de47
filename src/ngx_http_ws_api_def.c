
/*
 * Copyright (C) ws-api authors
 */


/*
 * The API definition of SPEC 3.1, users and teams: validation and
 * canonical forms.
 *
 * Decisions where the specification is silent:
 *
 * - JSON null stands for "absent" only in wsUrl; anywhere else it is a
 *   member of the wrong type.
 *
 * - Unknown members are refused at every level (the definition, each
 *   parameter, each message, a user, a team); the read-only members of a
 *   definition (id, isActive, revision, createdAt, updatedAt,
 *   gatewayEndpoints) are accepted with any value and dropped.
 *
 * - An empty "teams" is accepted while teams are off, so that a
 *   definition read with GET can be sent back with PUT.  Team names are
 *   compared byte for byte.
 *
 * - apiName and apiVersion are 1 to 100 of [A-Za-z0-9._-], as SPEC 3.1
 *   says ("." and ".." included, though nginx's URI normalisation keeps a
 *   client from reaching such an API through the gateway).  Team and user
 *   names are path segments of the admin API (/teams/{name}) and may not
 *   be "." or "..".
 *
 * - type is "websocket" exactly, as SPEC 3.1 says.
 *
 * - wsUrl: the scheme is matched in any case and written in lower case,
 *   the rest is kept as given.  The host is a DNS name (labels of 1 to 63
 *   letters, digits and "-", not starting or ending with "-", 253 bytes
 *   at most, no trailing dot), an IPv4 address (a name whose last label
 *   is all digits must be one) or an IPv6 address in brackets (no zone).
 *   The port is 1 to 5 digits, 1 to 65535.  Only printable ASCII is
 *   allowed: no space, no control character, no byte over 0x7e, no "?",
 *   no "#", no "@" before the path.
 *
 * - Allowed values keep their text as given ("+5" stays "+5"); JSON
 *   numbers become strings (integers in decimal; reals that are whole
 *   numbers below 2^53 in decimal too, other reals in the shortest "%g"
 *   form that reads back to the same double), JSON booleans "true" or
 *   "false".  A JSON number is taken for an integer or double parameter
 *   only, a JSON boolean for a boolean one only, and the resulting text
 *   must be of the data type ("1.5" is not an integer).
 *
 * - Several messages may share an origin and a type (a client may send
 *   many kinds of text messages).
 *
 * - A stored definition must be exactly canonical: every canonical member
 *   present and equal to what ngx_http_ws_api_def_canonical() makes of
 *   it, plus id, isActive, revision, createdAt and updatedAt (RFC 3339);
 *   nothing else, not even gatewayEndpoints, which is computed.
 *
 * - Privileges of a user keep the order given and must be unique.
 */


#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_ws_api_param.h"
#include "ngx_http_ws_api_def.h"
#include "ngx_http_ws_api_policy.h"
#include "ngx_http_ws_api_schema.h"


static const char *ngx_http_ws_api_def_field(char *buf, size_t size,
    const char *prefix, const char *key);
static const char *ngx_http_ws_api_def_word(json_t *in, const char *prefix,
    const char *key, const char *one, const char *two, const char *what,
    ngx_http_ws_api_def_error_t *err);
static void ngx_http_ws_api_def_utf8_cut(char *s);
static int ngx_http_ws_api_def_utf8_valid(const u_char *s, size_t len);
static int ngx_http_ws_api_def_caseeq(const char *s, size_t len,
    const char *lit);
static json_t *ngx_http_ws_api_def_string(json_t *obj, const char *key,
    const char *prefix, const char *dflt, size_t max,
    ngx_http_ws_api_def_error_t *err);
static int ngx_http_ws_api_def_boolean(json_t *obj, const char *key,
    const char *prefix, ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_def_name(json_t *obj, const char *key,
    const char *dflt, ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_def_teams(json_t *obj, unsigned flags,
    ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_def_url(json_t *obj,
    ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_def_params(json_t *obj,
    ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_def_param(json_t *in, size_t i,
    ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_def_values(json_t *in,
    ngx_http_ws_api_type_e type, const char *prefix,
    ngx_http_ws_api_def_error_t *err);
static void ngx_http_ws_api_def_real(char *buf, size_t size, double d);
static json_t *ngx_http_ws_api_def_messages_canonical(json_t *obj,
    ngx_http_ws_api_def_error_t *err);
static json_t *ngx_http_ws_api_def_message(json_t *in, size_t i,
    ngx_http_ws_api_def_error_t *err);
static int ngx_http_ws_api_def_schema(json_t *in, json_t *out,
    const char *prefix, const char *type, ngx_http_ws_api_def_error_t *err);
static int ngx_http_ws_api_def_uuid(const char *s, size_t len);
static int ngx_http_ws_api_url_check(const char *url, size_t len,
    ngx_http_ws_api_url_t *u, const char **reason);
static int ngx_http_ws_api_host_check(const char *host, size_t len);


static const char  *ngx_http_ws_api_def_known[] = {
    "type",
    "apiName",
    "apiVersion",
    "apiDescription",
    "teams",
    "wsUrl",
    "parameters",
    "messages",
    "policies",
    "id",
    "isActive",
    "revision",
    "createdAt",
    "updatedAt",
    "gatewayEndpoints",
    NULL
};


static const char  *ngx_http_ws_api_def_stored_known[] = {
    "type",
    "apiName",
    "apiVersion",
    "apiDescription",
    "teams",
    "wsUrl",
    "parameters",
    "messages",
    "policies",
    "id",
    "isActive",
    "revision",
    "createdAt",
    "updatedAt",
    NULL
};


static const char  *ngx_http_ws_api_def_param_known[] = {
    "name",
    "description",
    "in",
    "dataType",
    "required",
    "array",
    "values",
    NULL
};


static const char  *ngx_http_ws_api_def_message_known[] = {
    "origin",
    "type",
    "samplePayload",
    "description",
    "schema",
    NULL
};


static const char  *ngx_http_ws_api_def_user_known[] = {
    "privileges",
    "teams",
    NULL
};


static const char  *ngx_http_ws_api_def_team_known[] = {
    "description",
    NULL
};


static const char  *ngx_http_ws_api_def_privileges[] = {
    "manage_apis",
    "activate_apis",
    "manage_users",
    "manage_applications",
    NULL
};


json_t *
ngx_http_ws_api_def_canonical(json_t *in, unsigned flags,
    ngx_http_ws_api_def_error_t *err)
{
    char         q[NGX_HTTP_WS_API_QUOTE + 8];
    json_t      *v, *out;
    const char  *s;

    if (!json_is_object(in)) {
        ngx_http_ws_api_def_fail(err, "",
                                 "the API definition must be a JSON object");
        return NULL;
    }

    if (ngx_http_ws_api_def_members(in, ngx_http_ws_api_def_known, "",
                                    "the API definition", err)
        != 0)
    {
        return NULL;
    }

    v = json_object_get(in, "type");

    if (v != NULL) {
        if (!json_is_string(v)) {
            ngx_http_ws_api_def_fail(err, "type", "type must be a string");
            return NULL;
        }

        s = json_string_value(v);

        if (json_string_length(v) != sizeof("websocket") - 1
            || strcmp(s, "websocket") != 0)
        {
            ngx_http_ws_api_def_fail(err, "type",
                                     "unsupported API type \"%s\"; "
                                     "only \"websocket\" is supported",
                                     ngx_http_ws_api_def_quote(q, s,
                                                  json_string_length(v)));
            return NULL;
        }
    }

    /*
     * The members are made in the order of the output; a value given to
     * json_object_set_new() is released by it even when it fails.
     */

    out = json_object();
    if (out == NULL) {
        ngx_http_ws_api_def_nomem(err);
        return NULL;
    }

    if (json_object_set_new(out, "type", json_string("websocket")) != 0) {
        goto nomem;
    }

    v = ngx_http_ws_api_def_name(in, "apiName", NULL, err);
    if (v == NULL) {
        goto failed;
    }

    if (json_object_set_new(out, "apiName", v) != 0) {
        goto nomem;
    }

    v = ngx_http_ws_api_def_name(in, "apiVersion", "1.0", err);
    if (v == NULL) {
        goto failed;
    }

    if (json_object_set_new(out, "apiVersion", v) != 0) {
        goto nomem;
    }

    v = ngx_http_ws_api_def_string(in, "apiDescription", "", "",
                                   NGX_HTTP_WS_API_MAX_DESCRIPTION, err);
    if (v == NULL) {
        goto failed;
    }

    if (json_object_set_new(out, "apiDescription", v) != 0) {
        goto nomem;
    }

    v = ngx_http_ws_api_def_teams(in, flags, err);
    if (v == NULL) {
        goto failed;
    }

    if (json_object_set_new(out, "teams", v) != 0) {
        goto nomem;
    }

    v = ngx_http_ws_api_def_url(in, err);
    if (v == NULL) {
        goto failed;
    }

    if (json_object_set_new(out, "wsUrl", v) != 0) {
        goto nomem;
    }

    v = ngx_http_ws_api_def_params(in, err);
    if (v == NULL) {
        goto failed;
    }

    if (json_object_set_new(out, "parameters", v) != 0) {
        goto nomem;
    }

    v = ngx_http_ws_api_def_messages_canonical(in, err);
    if (v == NULL) {
        goto failed;
    }

    if (json_object_set_new(out, "messages", v) != 0) {
        goto nomem;
    }

    v = ngx_http_ws_api_policy_canonical(json_object_get(in, "policies"),
                                         err);
    if (v == NULL) {
        goto failed;
    }

    if (json_object_set_new(out, "policies", v) != 0) {
        goto nomem;
    }

    return out;

nomem:

    ngx_http_ws_api_def_nomem(err);

failed:

    json_decref(out);

    return NULL;
}


int
ngx_http_ws_api_def_check_stored(json_t *def, unsigned flags,
    ngx_http_ws_api_def_error_t *err)
{
    json_t      *canon, *v, *stored;
    json_int_t   rev;
    const char  *key;

    if (!json_is_object(def)) {
        ngx_http_ws_api_def_fail(err, "",
                                 "a stored API definition must be a JSON "
                                 "object");
        return -1;
    }

    if (ngx_http_ws_api_def_members(def, ngx_http_ws_api_def_stored_known,
                                    "", "a stored API definition", err)
        != 0)
    {
        return -1;
    }

    canon = ngx_http_ws_api_def_canonical(def, flags, err);
    if (canon == NULL) {
        return -1;
    }

    json_object_foreach(canon, key, v) {
        stored = json_object_get(def, key);

        if (stored == NULL || !json_equal(stored, v)) {
            ngx_http_ws_api_def_fail(err, key,
                                     "%s of a stored API definition is "
                                     "missing or not in canonical form", key);
            json_decref(canon);
            return -1;
        }
    }

    json_decref(canon);

    v = json_object_get(def, "id");

    if (!json_is_string(v)
        || !ngx_http_ws_api_def_uuid(json_string_value(v),
                                     json_string_length(v)))
    {
        ngx_http_ws_api_def_fail(err, "id",
                                 "id of a stored API definition must be "
                                 "a UUID");
        return -1;
    }

    if (!json_is_boolean(json_object_get(def, "isActive"))) {
        ngx_http_ws_api_def_fail(err, "isActive",
                                 "isActive of a stored API definition must "
                                 "be a boolean");
        return -1;
    }

    v = json_object_get(def, "revision");
    rev = json_is_integer(v) ? json_integer_value(v) : 0;

    if (rev < 1) {
        ngx_http_ws_api_def_fail(err, "revision",
                                 "revision of a stored API definition must "
                                 "be an integer of at least 1");
        return -1;
    }

    v = json_object_get(def, "createdAt");

    if (!json_is_string(v)
        || ngx_http_ws_api_value_parse(NGX_HTTP_WS_API_DATE_TIME,
                                       (const u_char *) json_string_value(v),
                                       json_string_length(v), NULL)
           != 0)
    {
        ngx_http_ws_api_def_fail(err, "createdAt",
                                 "createdAt of a stored API definition must "
                                 "be an RFC 3339 date-time");
        return -1;
    }

    v = json_object_get(def, "updatedAt");

    if (!json_is_string(v)
        || ngx_http_ws_api_value_parse(NGX_HTTP_WS_API_DATE_TIME,
                                       (const u_char *) json_string_value(v),
                                       json_string_length(v), NULL)
           != 0)
    {
        ngx_http_ws_api_def_fail(err, "updatedAt",
                                 "updatedAt of a stored API definition must "
                                 "be an RFC 3339 date-time");
        return -1;
    }

    return 0;
}


unsigned
ngx_http_ws_api_def_messages(json_t *def)
{
    int          client, binary;
    size_t       i;
    json_t      *messages, *m, *origin, *type;
    unsigned     mask;
    const char  *o, *t;

    mask = 0;
    messages = json_object_get(def, "messages");

    json_array_foreach(messages, i, m) {
        origin = json_object_get(m, "origin");
        type = json_object_get(m, "type");

        if (!json_is_string(origin) || !json_is_string(type)) {
            continue;
        }

        o = json_string_value(origin);
        t = json_string_value(type);

        if (ngx_http_ws_api_def_caseeq(o, json_string_length(origin),
                                       "client"))
        {
            client = 1;

        } else if (ngx_http_ws_api_def_caseeq(o, json_string_length(origin),
                                              "server"))
        {
            client = 0;

        } else {
            continue;
        }

        if (ngx_http_ws_api_def_caseeq(t, json_string_length(type), "text")) {
            binary = 0;

        } else if (ngx_http_ws_api_def_caseeq(t, json_string_length(type),
                                              "binary"))
        {
            binary = 1;

        } else {
            continue;
        }

        if (client) {
            mask |= binary ? NGX_HTTP_WS_API_CLIENT_BINARY
                           : NGX_HTTP_WS_API_CLIENT_TEXT;

        } else {
            mask |= binary ? NGX_HTTP_WS_API_SERVER_BINARY
                           : NGX_HTTP_WS_API_SERVER_TEXT;
        }
    }

    return mask;
}


int
ngx_http_ws_api_url_parse(const char *url, size_t len,
    ngx_http_ws_api_url_t *u)
{
    const char  *reason;

    return ngx_http_ws_api_url_check(url, len, u, &reason);
}


int
ngx_http_ws_api_name_valid(const u_char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_HTTP_WS_API_MAX_NAME) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z')
              || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '.' || s[i] == '_' || s[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


int
ngx_http_ws_api_team_name_valid(const u_char *s, size_t len)
{
    /* a path segment of its own: /teams/{name} */

    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
    {
        return 0;
    }

    return ngx_http_ws_api_name_valid(s, len);
}


int
ngx_http_ws_api_user_name_valid(const u_char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_HTTP_WS_API_MAX_USER) {
        return 0;
    }

    /* as with team names: a path segment of its own */

    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
    {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f || s[i] == '/') {
            return 0;
        }
    }

    return ngx_http_ws_api_def_utf8_valid(s, len);
}


json_t *
ngx_http_ws_api_user_canonical(json_t *in, unsigned flags,
    ngx_http_ws_api_def_error_t *err)
{
    char          field[48], q[NGX_HTTP_WS_API_QUOTE + 8];
    size_t        i, j, len;
    json_t       *v, *p, *out, *privs;
    const char   *s, **k;

    if (!json_is_object(in)) {
        ngx_http_ws_api_def_fail(err, "", "a user must be a JSON object");
        return NULL;
    }

    if (ngx_http_ws_api_def_members(in, ngx_http_ws_api_def_user_known, "",
                                    "a user", err)
        != 0)
    {
        return NULL;
    }

    v = json_object_get(in, "privileges");

    if (v != NULL && !json_is_array(v)) {
        ngx_http_ws_api_def_fail(err, "privileges",
                                 "privileges must be an array");
        return NULL;
    }

    out = json_object();
    if (out == NULL) {
        ngx_http_ws_api_def_nomem(err);
        return NULL;
    }

    privs = json_array();

    if (json_object_set_new(out, "privileges", privs) != 0) {
        goto nomem;
    }

    json_array_foreach(v, i, p) {
        snprintf(field, sizeof(field), "privileges[%zu]", i);

        if (!json_is_string(p)) {
            ngx_http_ws_api_def_fail(err, field, "%s must be a string",
                                     field);
            goto failed;
        }

        s = json_string_value(p);
        len = json_string_length(p);

        for (k = ngx_http_ws_api_def_privileges; *k; k++) {
            if (strlen(*k) == len && memcmp(s, *k, len) == 0) {
                break;
            }
        }

        if (*k == NULL) {
            ngx_http_ws_api_def_fail(err, field,
                                     "unknown privilege \"%s\"; expected "
                                     "manage_apis, activate_apis, "
                                     "manage_users or manage_applications",
                                     ngx_http_ws_api_def_quote(q, s, len));
            goto failed;
        }

        for (j = 0; j < json_array_size(privs); j++) {
            if (strcmp(json_string_value(json_array_get(privs, j)), *k) == 0)
            {
                ngx_http_ws_api_def_fail(err, field,
                                         "duplicate privilege \"%s\"", *k);
                goto failed;
            }
        }

        if (json_array_append_new(privs, json_string(*k)) != 0) {
            goto nomem;
        }
    }

    v = ngx_http_ws_api_def_teams(in, flags, err);
    if (v == NULL) {
        goto failed;
    }

    if (json_object_set_new(out, "teams", v) != 0) {
        goto nomem;
    }

    return out;

nomem:

    ngx_http_ws_api_def_nomem(err);

failed:

    json_decref(out);

    return NULL;
}


json_t *
ngx_http_ws_api_team_canonical(json_t *in, ngx_http_ws_api_def_error_t *err)
{
    json_t  *out, *desc;

    if (in == NULL) {
        desc = json_string("");

    } else {
        if (!json_is_object(in)) {
            ngx_http_ws_api_def_fail(err, "", "a team must be a JSON object");
            return NULL;
        }

        if (ngx_http_ws_api_def_members(in, ngx_http_ws_api_def_team_known,
                                        "", "a team", err)
            != 0)
        {
            return NULL;
        }

        desc = ngx_http_ws_api_def_string(in, "description", "", "",
                                          NGX_HTTP_WS_API_MAX_DESCRIPTION,
                                          err);
        if (desc == NULL) {
            return NULL;
        }
    }

    out = json_object();
    if (out == NULL) {
        json_decref(desc);
        ngx_http_ws_api_def_nomem(err);
        return NULL;
    }

    if (json_object_set_new(out, "description", desc) != 0) {
        json_decref(out);
        ngx_http_ws_api_def_nomem(err);
        return NULL;
    }

    return out;
}


static json_t *
ngx_http_ws_api_def_name(json_t *obj, const char *key, const char *dflt,
    ngx_http_ws_api_def_error_t *err)
{
    char     q[NGX_HTTP_WS_API_QUOTE + 8];
    json_t  *v, *s;

    v = json_object_get(obj, key);

    if (v == NULL) {
        if (dflt == NULL) {
            ngx_http_ws_api_def_fail(err, key, "%s is required", key);
            return NULL;
        }

        s = json_string(dflt);

    } else if (!json_is_string(v)) {
        ngx_http_ws_api_def_fail(err, key, "%s must be a string", key);
        return NULL;

    } else if (!ngx_http_ws_api_name_valid(
                   (const u_char *) json_string_value(v),
                   json_string_length(v)))
    {
        ngx_http_ws_api_def_fail(err, key,
                                 "invalid %s \"%s\": expected 1 to 100 "
                                 "letters, digits, \".\", \"_\" or \"-\"",
                                 key,
                                 ngx_http_ws_api_def_quote(q,
                                     json_string_value(v),
                                     json_string_length(v)));
        return NULL;

    } else if (ngx_http_ws_api_name_dots(json_string_value(v),
                                        json_string_length(v)))
    {
        ngx_http_ws_api_def_fail(err, key,
                                 "invalid %s \"%s\": \".\" and \"..\" "
                                 "cannot be reached through the gateway",
                                 key, json_string_value(v));
        return NULL;

    } else {
        s = json_stringn(json_string_value(v), json_string_length(v));
    }

    if (s == NULL) {
        ngx_http_ws_api_def_nomem(err);
    }

    return s;
}


/* "." and "..": path segments that the URI's normalisation takes away */

int
ngx_http_ws_api_name_dots(const char *s, size_t len)
{
    return (len == 1 && s[0] == '.')
           || (len == 2 && s[0] == '.' && s[1] == '.');
}


static json_t *
ngx_http_ws_api_def_teams(json_t *obj, unsigned flags,
    ngx_http_ws_api_def_error_t *err)
{
    char         field[96], q[NGX_HTTP_WS_API_QUOTE + 8];
    size_t       i, j, len;
    json_t      *v, *t, *out, *prev;
    const char  *s;

    v = json_object_get(obj, "teams");

    if (v != NULL) {
        if (!json_is_array(v)) {
            ngx_http_ws_api_def_fail(err, "teams", "teams must be an array");
            return NULL;
        }

        if (json_array_size(v) > 0 && !(flags & NGX_HTTP_WS_API_DEF_TEAMS)) {
            ngx_http_ws_api_def_fail(err, "teams",
                                     "teams are not enabled "
                                     "(ws_api_teams is off)");
            return NULL;
        }

        if (json_array_size(v) > NGX_HTTP_WS_API_MAX_TEAMS) {
            ngx_http_ws_api_def_fail(err, "teams",
                                     "too many teams (at most %d)",
                                     NGX_HTTP_WS_API_MAX_TEAMS);
            return NULL;
        }
    }

    out = json_array();
    if (out == NULL) {
        ngx_http_ws_api_def_nomem(err);
        return NULL;
    }

    json_array_foreach(v, i, t) {
        snprintf(field, sizeof(field), "teams[%zu]", i);

        if (!json_is_string(t)) {
            ngx_http_ws_api_def_fail(err, field, "%s must be a string", field);
            goto failed;
        }

        s = json_string_value(t);
        len = json_string_length(t);

        if (!ngx_http_ws_api_team_name_valid((const u_char *) s, len)) {
            ngx_http_ws_api_def_fail(err, field,
                                     "invalid team name \"%s\": expected 1 "
                                     "to 100 letters, digits, \".\", \"_\" "
                                     "or \"-\"",
                                     ngx_http_ws_api_def_quote(q, s, len));
            goto failed;
        }

        for (j = 0; j < i; j++) {
            prev = json_array_get(out, j);

            if (json_string_length(prev) == len
                && memcmp(json_string_value(prev), s, len) == 0)
            {
                ngx_http_ws_api_def_fail(err, field, "duplicate team \"%s\"",
                                         ngx_http_ws_api_def_quote(q, s, len));
                goto failed;
            }
        }

        if (json_array_append_new(out, json_stringn(s, len)) != 0) {
            ngx_http_ws_api_def_nomem(err);
            goto failed;
        }
    }

    return out;

failed:

    json_decref(out);

    return NULL;
}


static json_t *
ngx_http_ws_api_def_url(json_t *obj, ngx_http_ws_api_def_error_t *err)
{
    char                   buf[NGX_HTTP_WS_API_MAX_URL + 8];
    json_t                *v, *s;
    size_t                 len, skip;
    const char            *url, *reason;
    ngx_http_ws_api_url_t  u;

    v = json_object_get(obj, "wsUrl");

    if (v == NULL || json_is_null(v)) {
        s = json_null();

    } else if (!json_is_string(v)) {
        ngx_http_ws_api_def_fail(err, "wsUrl",
                                 "wsUrl must be a string or null");
        return NULL;

    } else {
        url = json_string_value(v);
        len = json_string_length(v);

        if (ngx_http_ws_api_url_check(url, len, &u, &reason) != 0) {
            ngx_http_ws_api_def_fail(err, "wsUrl", "invalid wsUrl: %s",
                                     reason);
            return NULL;
        }

        /* the scheme in lower case, the rest as given */

        skip = u.tls ? sizeof("wss://") - 1 : sizeof("ws://") - 1;

        memcpy(buf, u.tls ? "wss://" : "ws://", skip);
        memcpy(buf + skip, url + skip, len - skip);

        s = json_stringn(buf, len);
    }

    if (s == NULL) {
        ngx_http_ws_api_def_nomem(err);
    }

    return s;
}


static json_t *
ngx_http_ws_api_def_params(json_t *obj, ngx_http_ws_api_def_error_t *err)
{
    char         field[96], q[NGX_HTTP_WS_API_QUOTE + 8];
    size_t       i, j, len;
    json_t      *v, *item, *out, *p, *prev, *name, *pname;
    const char  *in, *s;

    v = json_object_get(obj, "parameters");

    if (v != NULL) {
        if (!json_is_array(v)) {
            ngx_http_ws_api_def_fail(err, "parameters",
                                     "parameters must be an array");
            return NULL;
        }

        if (json_array_size(v) > NGX_HTTP_WS_API_MAX_PARAMS) {
            ngx_http_ws_api_def_fail(err, "parameters",
                                     "too many parameters (at most %d)",
                                     NGX_HTTP_WS_API_MAX_PARAMS);
            return NULL;
        }
    }

    out = json_array();
    if (out == NULL) {
        ngx_http_ws_api_def_nomem(err);
        return NULL;
    }

    json_array_foreach(v, i, item) {
        p = ngx_http_ws_api_def_param(item, i, err);
        if (p == NULL) {
            goto failed;
        }

        /* names are unique per location, header names in any case */

        name = json_object_get(p, "name");
        in = json_string_value(json_object_get(p, "in"));
        s = json_string_value(name);
        len = json_string_length(name);

        for (j = 0; j < i; j++) {
            prev = json_array_get(out, j);
            pname = json_object_get(prev, "name");

            if (strcmp(json_string_value(json_object_get(prev, "in")), in)
                != 0
                || json_string_length(pname) != len)
            {
                continue;
            }

            if ((in[0] == 'q'
                 && memcmp(json_string_value(pname), s, len) == 0)
                || (in[0] == 'h'
                    && ngx_http_ws_api_def_caseeq(json_string_value(pname),
                                                  len, s)))
            {
                snprintf(field, sizeof(field), "parameters[%zu].name", i);
                ngx_http_ws_api_def_fail(err, field,
                                         "duplicate %s parameter \"%s\"", in,
                                         ngx_http_ws_api_def_quote(q, s, len));
                json_decref(p);
                goto failed;
            }
        }

        if (json_array_append_new(out, p) != 0) {
            ngx_http_ws_api_def_nomem(err);
            goto failed;
        }
    }

    return out;

failed:

    json_decref(out);

    return NULL;
}


static json_t *
ngx_http_ws_api_def_param(json_t *in, size_t i,
    ngx_http_ws_api_def_error_t *err)
{
    int                     type, where, required, array;
    char                    prefix[48], field[96],
                            q[NGX_HTTP_WS_API_QUOTE + 8];
    size_t                  len, k;
    json_t                 *v, *out;
    const u_char           *s;

    static const u_char     tchar[] = "!#$%&'*+-.^_`|~";

    snprintf(prefix, sizeof(prefix), "parameters[%zu]", i);

    if (!json_is_object(in)) {
        ngx_http_ws_api_def_fail(err, prefix, "%s must be an object", prefix);
        return NULL;
    }

    if (ngx_http_ws_api_def_members(in, ngx_http_ws_api_def_param_known,
                                    prefix, "a parameter", err)
        != 0)
    {
        return NULL;
    }

    /* name */

    ngx_http_ws_api_def_field(field, sizeof(field), prefix, "name");

    v = json_object_get(in, "name");

    if (v == NULL) {
        ngx_http_ws_api_def_fail(err, field, "%s is required", field);
        return NULL;
    }

    if (!json_is_string(v)) {
        ngx_http_ws_api_def_fail(err, field, "%s must be a string", field);
        return NULL;
    }

    s = (const u_char *) json_string_value(v);
    len = json_string_length(v);

    if (len == 0 || len > NGX_HTTP_WS_API_MAX_PARAM_NAME) {
        ngx_http_ws_api_def_fail(err, field, "%s must be 1 to %d bytes long",
                                 field, NGX_HTTP_WS_API_MAX_PARAM_NAME);
        return NULL;
    }

    for (k = 0; k < len; k++) {
        if (s[k] < 0x20 || s[k] == 0x7f) {
            ngx_http_ws_api_def_fail(err, field,
                                     "%s must not contain control "
                                     "characters", field);
            return NULL;
        }
    }

    /* in */

    v = json_object_get(in, "in");
    where = NGX_HTTP_WS_API_IN_QUERY;

    if (v != NULL) {
        ngx_http_ws_api_def_field(field, sizeof(field), prefix, "in");

        if (!json_is_string(v)) {
            ngx_http_ws_api_def_fail(err, field, "%s must be a string", field);
            return NULL;
        }

        where = ngx_http_ws_api_in_parse(
                                  (const u_char *) json_string_value(v),
                                  json_string_length(v));
        if (where < 0) {
            ngx_http_ws_api_def_fail(err, field,
                                     "unknown parameter location \"%s\"; "
                                     "expected query or header",
                                     ngx_http_ws_api_def_quote(q,
                                         json_string_value(v),
                                         json_string_length(v)));
            return NULL;
        }
    }

    if (where == NGX_HTTP_WS_API_IN_HEADER) {

        /* an HTTP field name: tchar of RFC 9110 */

        for (k = 0; k < len; k++) {
            if (!((s[k] >= 'a' && s[k] <= 'z')
                  || (s[k] >= 'A' && s[k] <= 'Z')
                  || (s[k] >= '0' && s[k] <= '9')
                  || (s[k] < 0x80 && strchr((const char *) tchar, s[k]))))
            {
                ngx_http_ws_api_def_field(field, sizeof(field), prefix,
                                          "name");
                ngx_http_ws_api_def_fail(err, field,
                                         "\"%s\" is not a valid header name",
                                         ngx_http_ws_api_def_quote(q,
                                             (const char *) s, len));
                return NULL;
            }
        }
    }

    /* dataType */

    v = json_object_get(in, "dataType");
    type = NGX_HTTP_WS_API_STRING;

    if (v != NULL) {
        ngx_http_ws_api_def_field(field, sizeof(field), prefix, "dataType");

        if (!json_is_string(v)) {
            ngx_http_ws_api_def_fail(err, field, "%s must be a string", field);
            return NULL;
        }

        type = ngx_http_ws_api_type_parse(
                                  (const u_char *) json_string_value(v),
                                  json_string_length(v));
        if (type < 0) {
            ngx_http_ws_api_def_fail(err, field,
                                     "unknown data type \"%s\"; expected "
                                     "string, date, date-time, integer, "
                                     "double or boolean",
                                     ngx_http_ws_api_def_quote(q,
                                         json_string_value(v),
                                         json_string_length(v)));
            return NULL;
        }
    }

    required = ngx_http_ws_api_def_boolean(in, "required", prefix, err);
    if (required < 0) {
        return NULL;
    }

    array = ngx_http_ws_api_def_boolean(in, "array", prefix, err);
    if (array < 0) {
        return NULL;
    }

    out = json_object();

    if (out == NULL
        || json_object_set_new(out, "name", json_stringn((const char *) s,
                                                         len))
           != 0)
    {
        goto nomem;
    }

    v = ngx_http_ws_api_def_string(in, "description", prefix, "",
                                   NGX_HTTP_WS_API_MAX_DESCRIPTION, err);
    if (v == NULL) {
        goto failed;
    }

    if (json_object_set_new(out, "description", v) != 0
        || json_object_set_new(out, "in",
                               json_string(ngx_http_ws_api_in_name(where)))
           != 0
        || json_object_set_new(out, "dataType",
                               json_string(ngx_http_ws_api_type_name(type)))
           != 0
        || json_object_set_new(out, "required", json_boolean(required)) != 0
        || json_object_set_new(out, "array", json_boolean(array)) != 0)
    {
        goto nomem;
    }

    v = ngx_http_ws_api_def_values(json_object_get(in, "values"), type,
                                   prefix, err);
    if (v == NULL) {
        goto failed;
    }

    if (json_object_set_new(out, "values", v) != 0) {
        goto nomem;
    }

    return out;

nomem:

    ngx_http_ws_api_def_nomem(err);

failed:

    json_decref(out);

    return NULL;
}


static json_t *
ngx_http_ws_api_def_values(json_t *in, ngx_http_ws_api_type_e type,
    const char *prefix, ngx_http_ws_api_def_error_t *err)
{
    char                     field[64], num[32],
                             q[NGX_HTTP_WS_API_QUOTE + 8];
    size_t                   i, k, len;
    json_t                  *v, *out, *s;
    const char              *text;
    ngx_http_ws_api_value_t  parsed[NGX_HTTP_WS_API_MAX_VALUES];

    ngx_http_ws_api_def_field(field, sizeof(field), prefix, "values");

    if (in != NULL) {
        if (!json_is_array(in)) {
            ngx_http_ws_api_def_fail(err, field, "%s must be an array",
                                     field);
            return NULL;
        }

        if (json_array_size(in) > NGX_HTTP_WS_API_MAX_VALUES) {
            ngx_http_ws_api_def_fail(err, field,
                                     "too many values in %s (at most %d)",
                                     field, NGX_HTTP_WS_API_MAX_VALUES);
            return NULL;
        }
    }

    out = json_array();
    if (out == NULL) {
        ngx_http_ws_api_def_nomem(err);
        return NULL;
    }

    json_array_foreach(in, i, v) {
        snprintf(field, sizeof(field), "%s.values[%zu]", prefix, i);

        if (json_is_string(v)) {
            text = json_string_value(v);
            len = json_string_length(v);

        } else if (json_is_integer(v)
                   && (type == NGX_HTTP_WS_API_INTEGER
                       || type == NGX_HTTP_WS_API_DOUBLE))
        {
            len = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                           json_integer_value(v));
            text = num;

        } else if (json_is_real(v)
                   && (type == NGX_HTTP_WS_API_INTEGER
                       || type == NGX_HTTP_WS_API_DOUBLE))
        {
            ngx_http_ws_api_def_real(num, sizeof(num), json_real_value(v));
            len = strlen(num);
            text = num;

        } else if (json_is_boolean(v) && type == NGX_HTTP_WS_API_BOOLEAN) {
            text = json_is_true(v) ? "true" : "false";
            len = strlen(text);

        } else {
            ngx_http_ws_api_def_fail(err, field, "%s must be a string%s",
                field,
                (type == NGX_HTTP_WS_API_INTEGER
                 || type == NGX_HTTP_WS_API_DOUBLE) ? " or a number"
                : (type == NGX_HTTP_WS_API_BOOLEAN) ? " or a boolean" : "");
            goto failed;
        }

        if (len > NGX_HTTP_WS_API_MAX_VALUE) {
            ngx_http_ws_api_def_fail(err, field,
                                     "%s is longer than %d bytes", field,
                                     NGX_HTTP_WS_API_MAX_VALUE);
            goto failed;
        }

        s = json_stringn(text, len);

        if (json_array_append_new(out, s) != 0) {
            ngx_http_ws_api_def_nomem(err);
            goto failed;
        }

        /* parsed[] points into the strings of the array, which live on */

        if (ngx_http_ws_api_value_parse(type,
                                        (const u_char *) json_string_value(s),
                                        len, &parsed[i])
            != 0)
        {
            ngx_http_ws_api_def_fail(err, field, "\"%s\" is not a valid %s",
                                     ngx_http_ws_api_def_quote(q, text, len),
                                     ngx_http_ws_api_type_name(type));
            goto failed;
        }

        for (k = 0; k < i; k++) {
            if (ngx_http_ws_api_value_equal(&parsed[k], &parsed[i])) {
                ngx_http_ws_api_def_fail(err, field,
                                         "duplicate value \"%s\" in %s.values",
                                         ngx_http_ws_api_def_quote(q, text,
                                                                   len),
                                         prefix);
                goto failed;
            }
        }
    }

    return out;

failed:

    json_decref(out);

    return NULL;
}


/*
 * A JSON real as text: a whole number below 2^53 without a fraction or
 * an exponent ("2000" for 2e3), anything else the shortest "%.*g" that
 * reads back as the same double.
 */

static void
ngx_http_ws_api_def_real(char *buf, size_t size, double d)
{
    int  prec;

    if (d > -9007199254740992.0 && d < 9007199254740992.0
        && d == (double) (long long) d)
    {
        snprintf(buf, size, "%.0f", d);
        return;
    }

    for (prec = 1; prec < 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);

        if (strtod(buf, NULL) == d) {
            return;
        }
    }

    snprintf(buf, size, "%.17g", d);
}


static json_t *
ngx_http_ws_api_def_messages_canonical(json_t *obj,
    ngx_http_ws_api_def_error_t *err)
{
    size_t   i;
    json_t  *v, *item, *out, *m;

    v = json_object_get(obj, "messages");

    if (v != NULL) {
        if (!json_is_array(v)) {
            ngx_http_ws_api_def_fail(err, "messages",
                                     "messages must be an array");
            return NULL;
        }

        if (json_array_size(v) > NGX_HTTP_WS_API_MAX_MESSAGES) {
            ngx_http_ws_api_def_fail(err, "messages",
                                     "too many messages (at most %d)",
                                     NGX_HTTP_WS_API_MAX_MESSAGES);
            return NULL;
        }
    }

    out = json_array();
    if (out == NULL) {
        ngx_http_ws_api_def_nomem(err);
        return NULL;
    }

    json_array_foreach(v, i, item) {
        m = ngx_http_ws_api_def_message(item, i, err);

        if (m == NULL) {
            json_decref(out);
            return NULL;
        }

        if (json_array_append_new(out, m) != 0) {
            ngx_http_ws_api_def_nomem(err);
            json_decref(out);
            return NULL;
        }
    }

    return out;
}


/*
 * A required member that is one of two words, in any case: the word in
 * lower case, or NULL and *err
 */

static const char *
ngx_http_ws_api_def_word(json_t *in, const char *prefix, const char *key,
    const char *one, const char *two, const char *what,
    ngx_http_ws_api_def_error_t *err)
{
    char     field[96], q[NGX_HTTP_WS_API_QUOTE + 8];
    json_t  *v;

    ngx_http_ws_api_def_field(field, sizeof(field), prefix, key);

    v = json_object_get(in, key);

    if (v == NULL) {
        ngx_http_ws_api_def_fail(err, field, "%s is required", field);
        return NULL;
    }

    if (!json_is_string(v)) {
        ngx_http_ws_api_def_fail(err, field, "%s must be a string", field);
        return NULL;
    }

    if (ngx_http_ws_api_def_caseeq(json_string_value(v),
                                   json_string_length(v), one))
    {
        return one;
    }

    if (ngx_http_ws_api_def_caseeq(json_string_value(v),
                                   json_string_length(v), two))
    {
        return two;
    }

    ngx_http_ws_api_def_fail(err, field,
                             "unknown %s \"%s\"; expected %s or %s", what,
                             ngx_http_ws_api_def_quote(q, json_string_value(v),
                                                       json_string_length(v)),
                             one, two);
    return NULL;
}


static json_t *
ngx_http_ws_api_def_message(json_t *in, size_t i,
    ngx_http_ws_api_def_error_t *err)
{
    char         prefix[48];
    json_t      *v, *out;
    const char  *origin, *type;

    snprintf(prefix, sizeof(prefix), "messages[%zu]", i);

    if (!json_is_object(in)) {
        ngx_http_ws_api_def_fail(err, prefix, "%s must be an object", prefix);
        return NULL;
    }

    if (ngx_http_ws_api_def_members(in, ngx_http_ws_api_def_message_known,
                                    prefix, "a message", err)
        != 0)
    {
        return NULL;
    }

    origin = ngx_http_ws_api_def_word(in, prefix, "origin", "client",
                                      "server", "message origin", err);
    if (origin == NULL) {
        return NULL;
    }

    type = ngx_http_ws_api_def_word(in, prefix, "type", "text", "binary",
                                    "message type", err);
    if (type == NULL) {
        return NULL;
    }

    out = json_object();

    if (out == NULL
        || json_object_set_new(out, "origin", json_string(origin)) != 0
        || json_object_set_new(out, "type", json_string(type)) != 0)
    {
        goto nomem;
    }

    v = ngx_http_ws_api_def_string(in, "samplePayload", prefix, "",
                                   NGX_HTTP_WS_API_MAX_PAYLOAD, err);
    if (v == NULL) {
        goto failed;
    }

    if (json_object_set_new(out, "samplePayload", v) != 0) {
        goto nomem;
    }

    v = ngx_http_ws_api_def_string(in, "description", prefix, "",
                                   NGX_HTTP_WS_API_MAX_DESCRIPTION, err);
    if (v == NULL) {
        goto failed;
    }

    if (json_object_set_new(out, "description", v) != 0) {
        goto nomem;
    }

    if (ngx_http_ws_api_def_schema(in, out, prefix, type, err) != 0) {
        goto failed;
    }

    return out;

nomem:

    ngx_http_ws_api_def_nomem(err);

failed:

    json_decref(out);

    return NULL;
}


/*
 * "schema": a JSON Schema for text messages (SPEC 4.3), compiled here so
 * that an unsupported keyword or a bad schema is a 400, kept as given; a
 * non-empty samplePayload must match it.  A schema on a binary message
 * is refused: binary payloads are never validated.
 */

static int
ngx_http_ws_api_def_schema(json_t *in, json_t *out, const char *prefix,
    const char *type, ngx_http_ws_api_def_error_t *err)
{
    char                       field[96], msg[200];
    char                       why[NGX_HTTP_WS_API_SCHEMA_REASON + 1];
    json_t                    *v, *sample;
    const char                *payload;
    ngx_http_ws_api_schema_t  *s;

    v = json_object_get(in, "schema");

    if (v == NULL) {
        return 0;
    }

    ngx_http_ws_api_def_field(field, sizeof(field), prefix, "schema");

    if (strcmp(type, "text") != 0) {
        ngx_http_ws_api_def_fail(err, field, "%s: a schema applies to text "
                                 "messages only", field);
        return -1;
    }

    if (!json_is_object(v) && !json_is_boolean(v)) {
        ngx_http_ws_api_def_fail(err, field, "%s must be a JSON Schema (an "
                                 "object or a boolean)", field);
        return -1;
    }

    s = ngx_http_ws_api_schema_compile(v, &ngx_http_ws_api_regex_pcre2, msg,
                                       sizeof(msg));
    if (s == NULL) {
        ngx_http_ws_api_def_fail(err, field, "%s: %s", field, msg);
        return -1;
    }

    payload = json_string_value(json_object_get(out, "samplePayload"));

    if (payload && payload[0] != '\0') {
        sample = json_loads(payload, JSON_DECODE_ANY, NULL);

        if (sample == NULL) {
            ngx_http_ws_api_schema_free(s);
            ngx_http_ws_api_def_field(field, sizeof(field), prefix,
                                      "samplePayload");
            ngx_http_ws_api_def_fail(err, field, "%s is not JSON, as its "
                                     "schema requires", field);
            return -1;
        }

        if (!ngx_http_ws_api_schema_validate(s, sample, why)) {
            json_decref(sample);
            ngx_http_ws_api_schema_free(s);
            ngx_http_ws_api_def_field(field, sizeof(field), prefix,
                                      "samplePayload");
            ngx_http_ws_api_def_fail(err, field, "%s does not match its "
                                     "schema: %s", field, why);
            return -1;
        }

        json_decref(sample);
    }

    ngx_http_ws_api_schema_free(s);

    if (json_object_set_new(out, "schema", json_deep_copy(v)) != 0) {
        ngx_http_ws_api_def_nomem(err);
        return -1;
    }

    return 0;
}


/* a string member: the default when absent, a copy otherwise */

static json_t *
ngx_http_ws_api_def_string(json_t *obj, const char *key, const char *prefix,
    const char *dflt, size_t max, ngx_http_ws_api_def_error_t *err)
{
    char     field[64];
    json_t  *v, *s;

    v = json_object_get(obj, key);

    ngx_http_ws_api_def_field(field, sizeof(field), prefix, key);

    if (v == NULL) {
        s = json_string(dflt);

    } else if (!json_is_string(v)) {
        ngx_http_ws_api_def_fail(err, field, "%s must be a string", field);
        return NULL;

    } else if (json_string_length(v) > max) {
        ngx_http_ws_api_def_fail(err, field, "%s is longer than %zu bytes",
                                 field, max);
        return NULL;

    } else {
        s = json_stringn(json_string_value(v), json_string_length(v));
    }

    if (s == NULL) {
        ngx_http_ws_api_def_nomem(err);
    }

    return s;
}


/* a boolean member, false when absent; -1 and err if not a boolean */

static int
ngx_http_ws_api_def_boolean(json_t *obj, const char *key, const char *prefix,
    ngx_http_ws_api_def_error_t *err)
{
    char     field[64];
    json_t  *v;

    v = json_object_get(obj, key);

    if (v == NULL) {
        return 0;
    }

    if (!json_is_boolean(v)) {
        ngx_http_ws_api_def_field(field, sizeof(field), prefix, key);
        ngx_http_ws_api_def_fail(err, field, "%s must be a boolean", field);
        return -1;
    }

    return json_is_true(v);
}


/* every member of obj is among known */

int
ngx_http_ws_api_def_members(json_t *obj, const char **known,
    const char *prefix, const char *what, ngx_http_ws_api_def_error_t *err)
{
    char         field[128], q[NGX_HTTP_WS_API_QUOTE + 8];
    size_t       len;
    json_t      *value;
    const char  *key, **k;

    json_object_keylen_foreach(obj, key, len, value) {

        for (k = known; *k; k++) {
            if (strlen(*k) == len && memcmp(key, *k, len) == 0) {
                break;
            }
        }

        if (*k == NULL) {
            ngx_http_ws_api_def_quote(q, key, len);
            ngx_http_ws_api_def_field(field, sizeof(field), prefix, q);
            ngx_http_ws_api_def_fail(err, field, "unknown member \"%s\" in %s",
                                     q, what);
            return -1;
        }
    }

    return 0;
}


void
ngx_http_ws_api_def_fail(ngx_http_ws_api_def_error_t *err, const char *field,
    const char *fmt, ...)
{
    va_list  args;

    if (err == NULL) {
        return;
    }

    err->status = 400;

    va_start(args, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, args);
    va_end(args);

    snprintf(err->field, sizeof(err->field), "%s", field);

    /* both go into a JSON answer: no cut UTF-8 sequence at the end */

    ngx_http_ws_api_def_utf8_cut(err->message);
    ngx_http_ws_api_def_utf8_cut(err->field);
}


void
ngx_http_ws_api_def_nomem(ngx_http_ws_api_def_error_t *err)
{
    if (err == NULL) {
        return;
    }

    err->status = 500;
    snprintf(err->message, sizeof(err->message), "out of memory");
    err->field[0] = '\0';
}


/* "prefix.key", or "key" when prefix is empty */

static const char *
ngx_http_ws_api_def_field(char *buf, size_t size, const char *prefix,
    const char *key)
{
    if (prefix[0] == '\0') {
        snprintf(buf, size, "%s", key);

    } else {
        snprintf(buf, size, "%s.%s", prefix, key);
    }

    ngx_http_ws_api_def_utf8_cut(buf);

    return buf;
}


/*
 * A string quoted in a message: its first NGX_HTTP_WS_API_QUOTE bytes,
 * cut on a character boundary and followed by "..." when longer, control
 * characters shown as "?"; buf holds NGX_HTTP_WS_API_QUOTE + 8 bytes.
 */

const char *
ngx_http_ws_api_def_quote(char *buf, const char *s, size_t len)
{
    u_char  c;
    size_t  i, n;

    n = len;

    if (n > NGX_HTTP_WS_API_QUOTE) {
        n = NGX_HTTP_WS_API_QUOTE;

        while (n > 0 && (((u_char) s[n]) & 0xc0) == 0x80) {
            n--;
        }
    }

    for (i = 0; i < n; i++) {
        c = s[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
    }

    if (n < len) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }

    buf[n] = '\0';

    return buf;
}


/* removes an incomplete UTF-8 sequence at the end of s */

static void
ngx_http_ws_api_def_utf8_cut(char *s)
{
    u_char  c;
    size_t  len, i, need;

    len = strlen(s);
    i = len;

    while (i > 0 && len - i < 4 && (((u_char) s[i - 1]) & 0xc0) == 0x80) {
        i--;
    }

    if (i == 0) {
        if (len > 0 && (((u_char) s[0]) & 0xc0) == 0x80) {
            s[0] = '\0';
        }

        return;
    }

    c = s[i - 1];

    if (c < 0x80) {
        return;
    }

    need = (c >= 0xf0) ? 4 : (c >= 0xe0) ? 3 : (c >= 0xc0) ? 2 : 1;

    if (len - (i - 1) < need) {
        s[i - 1] = '\0';
    }
}


static int
ngx_http_ws_api_def_utf8_valid(const u_char *s, size_t len)
{
    u_char    c;
    size_t    i, n, k;
    uint32_t  cp, min;

    for (i = 0; i < len; i += n) {
        c = s[i];

        if (c < 0x80) {
            n = 1;
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
            cp = c & 0x1f;
            min = 0x80;

        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            cp = c & 0x0f;
            min = 0x800;

        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            cp = c & 0x07;
            min = 0x10000;

        } else {
            return 0;
        }

        if (len - i < n) {
            return 0;
        }

        for (k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            cp = (cp << 6) | (s[i + k] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


/* s equals lit in any ASCII case */

static int
ngx_http_ws_api_def_caseeq(const char *s, size_t len, const char *lit)
{
    u_char  a, b;
    size_t  i;

    if (strlen(lit) != len) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        a = s[i];
        b = lit[i];

        if (a >= 'A' && a <= 'Z') {
            a |= 0x20;
        }

        if (b >= 'A' && b <= 'Z') {
            b |= 0x20;
        }

        if (a != b) {
            return 0;
        }
    }

    return 1;
}


/* 8-4-4-4-12 hexadecimal digits, any case */

static int
ngx_http_ws_api_def_uuid(const char *s, size_t len)
{
    u_char  c;
    size_t  i;

    if (len != 36) {
        return 0;
    }

    for (i = 0; i < 36; i++) {
        c = s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return 0;
            }

            continue;
        }

        if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a'
                                          && (c | 0x20) <= 'f')))
        {
            return 0;
        }
    }

    return 1;
}


static int
ngx_http_ws_api_url_check(const char *url, size_t len,
    ngx_http_ws_api_url_t *u, const char **reason)
{
    char         buf[64];
    u_char       c, addr[16];
    size_t       i, p, auth, end;
    unsigned     port;
    const char  *close;

    if (len > NGX_HTTP_WS_API_MAX_URL) {
        *reason = "it is longer than 2048 bytes";
        return -1;
    }

    for (i = 0; i < len; i++) {
        c = url[i];

        if (c <= 0x20 || c >= 0x7f) {
            *reason = "only printable ASCII without spaces is allowed";
            return -1;
        }

        if (c == '?') {
            *reason = "a query string is not allowed";
            return -1;
        }

        if (c == '#') {
            *reason = "a fragment is not allowed";
            return -1;
        }
    }

    memset(u, 0, sizeof(ngx_http_ws_api_url_t));

    if (len >= 5 && ngx_http_ws_api_def_caseeq(url, 5, "ws://")) {
        p = 5;

    } else if (len >= 6 && ngx_http_ws_api_def_caseeq(url, 6, "wss://")) {
        u->tls = 1;
        p = 6;

    } else {
        *reason = "it must start with ws:// or wss://";
        return -1;
    }

    /* the authority: up to the path */

    auth = p;

    while (auth < len && url[auth] != '/') {
        auth++;
    }

    if (memchr(url + p, '@', auth - p) != NULL) {
        *reason = "user information is not allowed";
        return -1;
    }

    if (p < auth && url[p] == '[') {
        close = memchr(url + p, ']', auth - p);

        if (close == NULL || (size_t) (close - url) - p - 1 >= sizeof(buf)) {
            *reason = "invalid IPv6 address";
            return -1;
        }

        end = close - url + 1;

        memcpy(buf, url + p + 1, end - p - 2);
        buf[end - p - 2] = '\0';

        if (inet_pton(AF_INET6, buf, addr) != 1) {
            *reason = "invalid IPv6 address";
            return -1;
        }

    } else {
        end = p;

        while (end < auth && url[end] != ':') {
            end++;
        }

        if (end == p) {
            *reason = "the host is missing";
            return -1;
        }

        if (ngx_http_ws_api_host_check(url + p, end - p) != 0) {
            *reason = "invalid host";
            return -1;
        }
    }

    u->host = url + p;
    u->host_len = end - p;
    u->port = u->tls ? 443 : 80;

    if (end < auth) {
        if (url[end] != ':') {
            *reason = "invalid host";
            return -1;
        }

        end++;

        if (end == auth || auth - end > 5) {
            *reason = "invalid port";
            return -1;
        }

        port = 0;

        for (i = end; i < auth; i++) {
            if (url[i] < '0' || url[i] > '9') {
                *reason = "invalid port";
                return -1;
            }

            port = port * 10 + (url[i] - '0');
        }

        if (port < 1 || port > 65535) {
            *reason = "invalid port";
            return -1;
        }

        u->port = port;
    }

    if (auth < len) {
        u->path = url + auth;
        u->path_len = len - auth;

    } else {
        u->path = "/";
        u->path_len = 1;
    }

    return 0;
}


/* a DNS name, or an IPv4 address when the last label is all digits */

static int
ngx_http_ws_api_host_check(const char *host, size_t len)
{
    char    buf[16];
    u_char  c, addr[4];
    size_t  i, label, digits;

    if (len > 253) {
        return -1;
    }

    label = 0;
    digits = 0;

    for (i = 0; i <= len; i++) {

        if (i == len || host[i] == '.') {
            if (label == 0 || label > 63 || host[i - 1] == '-') {
                return -1;
            }

            if (i == len) {
                break;
            }

            label = 0;
            digits = 0;
            continue;
        }

        c = host[i];

        if (c >= '0' && c <= '9') {
            digits++;

        } else if (c == '-') {
            if (label == 0) {
                return -1;
            }

        } else if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) {
            return -1;
        }

        label++;
    }

    if (digits == label) {

        /* the last label is numeric: an IPv4 address, dotted quad */

        if (len >= sizeof(buf)) {
            return -1;
        }

        memcpy(buf, host, len);
        buf[len] = '\0';

        if (inet_pton(AF_INET, buf, addr) != 1) {
            return -1;
        }
    }

    return 0;
}
