
/*
 * Copyright (C) ws-api authors
 */


/*
 * libFuzzer target: the validation of API definitions, users and teams
 * (src/ngx_http_ws_api_def.h).
 *
 * The input is a JSON document, read as the admin API reads a request
 * body (duplicate keys refused), and given to
 * ngx_http_ws_api_def_canonical() with teams off and on,
 * ngx_http_ws_api_def_check_stored(), ngx_http_ws_api_user_canonical()
 * and ngx_http_ws_api_team_canonical().  The invariants:
 *
 *  - a canonical form has its members in the documented order and is
 *    canonical itself, also once written out and read back as Redis
 *    holds it;
 *  - an accepted definition passes ngx_http_ws_api_def_check_stored()
 *    once the stored members are added, and only if they are right (those
 *    of the input when it has them: a UUID, a boolean, an integer of at
 *    least 1, two date-times), and what the cache then takes for granted
 *    holds: the wsUrl parses, every allowed value parses as its
 *    parameter's data type, the message mask is what "messages" says,
 *    of the input as of the canonical form;
 *  - what teams off accepts, teams on accepts the same way;
 *  - a refusal says 400 with a message and a field of valid UTF-8, as
 *    they go into a JSON answer;
 *  - when one allocation of jansson's fails (which one is taken from the
 *    input), each function either gives the same result as before or
 *    says 500, and crashes and leaks nothing;
 *  - nothing leaks (ASan's leak checker).
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_http_ws_api_param.h"
#include "ngx_http_ws_api_def.h"
#include "fuzz.h"


static json_t *fuzz_def(json_t *in, unsigned flags);
static void fuzz_def_stored(json_t *canon, json_t *in, unsigned flags);
static int fuzz_stored_member(json_t *stored, json_t *in, const char *key,
    json_t *dflt);
static int fuzz_uuid(json_t *v);
static int fuzz_date_time(json_t *v);
static void fuzz_def_cache(json_t *canon);
static void fuzz_user(json_t *in);
static void fuzz_team(json_t *in);
static void fuzz_url(json_t *in);
static void fuzz_refused(const ngx_http_ws_api_def_error_t *err);
static void fuzz_members(json_t *obj, const char **names);
static json_t *fuzz_reload(json_t *json);
static void *fuzz_malloc(size_t size);
static void fuzz_oom(json_t *in, size_t seed);
static json_t *fuzz_oom_call(int fn, json_t *in,
    ngx_http_ws_api_def_error_t *err);


/* allocations through jansson so far, and the one that fails */
static size_t  fuzz_allocs;
static size_t  fuzz_fail_at = SIZE_MAX;


static const char  *fuzz_def_members[] = {
    "type", "apiName", "apiVersion", "apiDescription", "teams", "wsUrl",
    "parameters", "messages", "policies", NULL
};

static const char  *fuzz_param_members[] = {
    "name", "description", "in", "dataType", "required", "array", "values",
    NULL
};

static const char  *fuzz_message_members[] = {
    "origin", "type", "samplePayload", "description", NULL
};

static const char  *fuzz_user_members[] = {
    "privileges", "teams", NULL
};

static const char  *fuzz_team_members[] = {
    "description", NULL
};


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                        i, seed;
    json_t                       *in, *off, *on;
    json_error_t                  jerr;
    ngx_http_ws_api_def_error_t   err;

    json_set_alloc_funcs(fuzz_malloc, free);

    in = json_loadb((const char *) data, size,
                    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (in == NULL) {
        return 0;
    }

    off = fuzz_def(in, 0);
    on = fuzz_def(in, NGX_HTTP_WS_API_DEF_TEAMS);

    if (off) {
        fuzz_assert_msg(on != NULL, "accepted with teams off, not on");
        fuzz_assert(json_equal(off, on));
    }

    json_decref(off);
    json_decref(on);

    /* the input as a stored definition, as Redis may hold anything */

    memset(&err, 0, sizeof(ngx_http_ws_api_def_error_t));

    if (ngx_http_ws_api_def_check_stored(in, 0, &err) != 0) {
        fuzz_refused(&err);

    } else {
        fuzz_assert(ngx_http_ws_api_def_check_stored(in,
                                                NGX_HTTP_WS_API_DEF_TEAMS,
                                                NULL)
                    == 0);
    }

    memset(&err, 0, sizeof(ngx_http_ws_api_def_error_t));

    if (ngx_http_ws_api_def_check_stored(in, NGX_HTTP_WS_API_DEF_TEAMS, &err)
        != 0)
    {
        fuzz_refused(&err);
    }

    fuzz_user(in);
    fuzz_team(in);
    fuzz_url(in);

    seed = size;

    for (i = 0; i < size; i++) {
        seed = seed * 31 + data[i];
    }

    fuzz_oom(in, seed);

    json_decref(in);

    return 0;
}


static json_t *
fuzz_def(json_t *in, unsigned flags)
{
    json_t                       *canon, *again, *back;
    ngx_http_ws_api_def_error_t   err;

    memset(&err, 0, sizeof(ngx_http_ws_api_def_error_t));

    canon = ngx_http_ws_api_def_canonical(in, flags, &err);

    if (canon == NULL) {
        fuzz_refused(&err);

        /* the same answer without a place for the error */

        fuzz_assert(ngx_http_ws_api_def_canonical(in, flags, NULL) == NULL);

        return NULL;
    }

    fuzz_members(canon, fuzz_def_members);

    /* canonical is a fixed point, also through its text */

    memset(&err, 0, sizeof(ngx_http_ws_api_def_error_t));

    again = ngx_http_ws_api_def_canonical(canon, flags, &err);

    fuzz_assert_msg(again != NULL, "canonical form refused: %s: %s",
                    err.field, err.message);
    fuzz_assert(json_equal(canon, again));

    json_decref(again);

    back = fuzz_reload(canon);
    again = ngx_http_ws_api_def_canonical(back, flags, NULL);

    fuzz_assert(again != NULL && json_equal(canon, again));

    json_decref(again);
    json_decref(back);

    fuzz_def_stored(canon, in, flags);
    fuzz_def_cache(canon);

    fuzz_assert(ngx_http_ws_api_def_messages(in)
                == ngx_http_ws_api_def_messages(canon));

    return canon;
}


/*
 * The canonical form with what the store adds (taken from the input when
 * it has them) passes as stored exactly when those members are right.
 */

static void
fuzz_def_stored(json_t *canon, json_t *in, unsigned flags)
{
    int                           want;
    json_t                       *stored, *back;
    ngx_http_ws_api_def_error_t   err;

    stored = json_deep_copy(canon);
    fuzz_assert(stored != NULL);

    want = fuzz_stored_member(stored, in, "id",
                   json_string("0f8fad5b-d9cb-469f-a165-70867728950e"));
    want = fuzz_stored_member(stored, in, "isActive", json_true()) && want;
    want = fuzz_stored_member(stored, in, "revision", json_integer(1))
           && want;
    want = fuzz_stored_member(stored, in, "createdAt",
                              json_string("2024-02-29T12:00:00Z"))
           && want;
    want = fuzz_stored_member(stored, in, "updatedAt",
                              json_string("2024-03-01T08:30:00.5+02:00"))
           && want;

    memset(&err, 0, sizeof(ngx_http_ws_api_def_error_t));

    if (ngx_http_ws_api_def_check_stored(stored, flags, &err) == 0) {
        fuzz_assert_msg(want, "stored definition accepted with a wrong "
                        "stored member");

    } else {
        fuzz_assert_msg(!want, "stored definition refused: %s: %s",
                        err.field, err.message);
        fuzz_refused(&err);
        json_decref(stored);
        return;
    }

    back = fuzz_reload(stored);

    fuzz_assert(ngx_http_ws_api_def_check_stored(back, flags, NULL) == 0);

    /* the read-only member that is computed is not stored */

    fuzz_assert(json_object_set_new(back, "gatewayEndpoints", json_array())
                == 0);
    fuzz_assert(ngx_http_ws_api_def_check_stored(back, flags, NULL) != 0);

    json_decref(back);
    json_decref(stored);
}


/* a stored member, the input's or dflt; whether it is right */

static int
fuzz_stored_member(json_t *stored, json_t *in, const char *key, json_t *dflt)
{
    json_t  *v;

    v = json_object_get(in, key);

    if (v == NULL) {
        v = dflt;

    } else {
        json_decref(dflt);
        v = json_deep_copy(v);
    }

    fuzz_assert(v != NULL);
    fuzz_assert(json_object_set_new(stored, key, v) == 0);

    if (strcmp(key, "id") == 0) {
        return fuzz_uuid(v);
    }

    if (strcmp(key, "isActive") == 0) {
        return json_is_boolean(v);
    }

    if (strcmp(key, "revision") == 0) {
        return json_is_integer(v) && json_integer_value(v) >= 1;
    }

    return fuzz_date_time(v);
}


/* 8-4-4-4-12 hexadecimal digits, in any case */

static int
fuzz_uuid(json_t *v)
{
    size_t       i;
    const char  *s;

    if (!json_is_string(v) || json_string_length(v) != 36) {
        return 0;
    }

    s = json_string_value(v);

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }

        } else if (strchr("0123456789abcdefABCDEF", s[i]) == NULL
                   || s[i] == '\0')
        {
            return 0;
        }
    }

    return 1;
}


static int
fuzz_date_time(json_t *v)
{
    return json_is_string(v)
           && ngx_http_ws_api_value_parse(NGX_HTTP_WS_API_DATE_TIME,
                                  (const u_char *) json_string_value(v),
                                  json_string_length(v), NULL)
              == 0;
}


/* what ngx_http_ws_api_cache.c takes from a checked definition */

static void
fuzz_def_cache(json_t *canon)
{
    int                      type;
    size_t                   i, j;
    json_t                  *params, *p, *values, *v, *url, *messages, *m;
    unsigned                 mask, want;
    const char              *o, *t;
    ngx_http_ws_api_url_t    u;
    ngx_http_ws_api_value_t  val;

    url = json_object_get(canon, "wsUrl");

    if (!json_is_null(url)) {
        fuzz_assert(json_is_string(url));
        fuzz_assert(ngx_http_ws_api_url_parse(json_string_value(url),
                                              json_string_length(url), &u)
                    == 0);
        fuzz_assert(u.host_len > 0 && u.port >= 1 && u.port <= 65535);
        fuzz_assert(u.path_len > 0 && u.path[0] == '/');
    }

    params = json_object_get(canon, "parameters");
    fuzz_assert(json_is_array(params));

    json_array_foreach(params, i, p) {
        fuzz_members(p, fuzz_param_members);

        v = json_object_get(p, "in");
        fuzz_assert(ngx_http_ws_api_in_parse(
                        (const u_char *) json_string_value(v),
                        json_string_length(v))
                    >= 0);

        v = json_object_get(p, "dataType");
        type = ngx_http_ws_api_type_parse(
                                  (const u_char *) json_string_value(v),
                                  json_string_length(v));
        fuzz_assert(type >= 0);
        fuzz_assert(strcmp(ngx_http_ws_api_type_name(type),
                           json_string_value(v))
                    == 0);

        values = json_object_get(p, "values");
        fuzz_assert(json_is_array(values));

        json_array_foreach(values, j, v) {
            fuzz_assert(json_is_string(v));
            fuzz_assert(ngx_http_ws_api_value_parse(type,
                                    (const u_char *) json_string_value(v),
                                    json_string_length(v), &val)
                        == 0);
        }
    }

    messages = json_object_get(canon, "messages");
    fuzz_assert(json_is_array(messages));

    want = 0;

    json_array_foreach(messages, i, m) {
        fuzz_members(m, fuzz_message_members);

        o = json_string_value(json_object_get(m, "origin"));
        t = json_string_value(json_object_get(m, "type"));

        fuzz_assert(o && t);
        fuzz_assert(strcmp(o, "client") == 0 || strcmp(o, "server") == 0);
        fuzz_assert(strcmp(t, "text") == 0 || strcmp(t, "binary") == 0);

        want |= (o[0] == 'c') ? (t[0] == 't' ? NGX_HTTP_WS_API_CLIENT_TEXT
                                             : NGX_HTTP_WS_API_CLIENT_BINARY)
                              : (t[0] == 't' ? NGX_HTTP_WS_API_SERVER_TEXT
                                             : NGX_HTTP_WS_API_SERVER_BINARY);
    }

    mask = ngx_http_ws_api_def_messages(canon);

    fuzz_assert(mask == want);
}


static void
fuzz_user(json_t *in)
{
    json_t                       *off, *on, *again;
    ngx_http_ws_api_def_error_t   err;

    memset(&err, 0, sizeof(ngx_http_ws_api_def_error_t));

    off = ngx_http_ws_api_user_canonical(in, 0, &err);
    if (off == NULL) {
        fuzz_refused(&err);
    }

    memset(&err, 0, sizeof(ngx_http_ws_api_def_error_t));

    on = ngx_http_ws_api_user_canonical(in, NGX_HTTP_WS_API_DEF_TEAMS, &err);

    if (on == NULL) {
        fuzz_refused(&err);
        fuzz_assert_msg(off == NULL, "user accepted with teams off, not on");
        return;
    }

    fuzz_members(on, fuzz_user_members);

    if (off) {
        fuzz_assert(json_equal(off, on));
        json_decref(off);
    }

    again = ngx_http_ws_api_user_canonical(on, NGX_HTTP_WS_API_DEF_TEAMS,
                                           NULL);

    fuzz_assert(again != NULL && json_equal(on, again));

    json_decref(again);
    json_decref(on);
}


static void
fuzz_team(json_t *in)
{
    json_t                       *team, *again;
    ngx_http_ws_api_def_error_t   err;

    memset(&err, 0, sizeof(ngx_http_ws_api_def_error_t));

    team = ngx_http_ws_api_team_canonical(in, &err);

    if (team == NULL) {
        fuzz_refused(&err);
        return;
    }

    fuzz_members(team, fuzz_team_members);

    again = ngx_http_ws_api_team_canonical(team, NULL);

    fuzz_assert(again != NULL && json_equal(team, again));

    json_decref(again);
    json_decref(team);

    team = ngx_http_ws_api_team_canonical(NULL, NULL);

    fuzz_assert(team != NULL
                && json_string_length(json_object_get(team, "description"))
                   == 0);

    json_decref(team);
}


/*
 * The URL parser and the name checks alone, on any string the document
 * holds at the top: what they say is consistent with the string.
 */

static void
fuzz_url(json_t *in)
{
    size_t                  len;
    json_t                 *v;
    const char             *s, *key;
    ngx_http_ws_api_url_t   u;

    if (!json_is_object(in)) {
        return;
    }

    json_object_foreach(in, key, v) {

        if (!json_is_string(v)) {
            continue;
        }

        s = json_string_value(v);
        len = json_string_length(v);

        if (ngx_http_ws_api_url_parse(s, len, &u) == 0) {
            fuzz_assert(len <= NGX_HTTP_WS_API_MAX_URL);
            fuzz_assert(u.host >= s && u.host_len > 0
                        && u.host + u.host_len <= s + len);
            fuzz_assert(u.port >= 1 && u.port <= 65535);
            fuzz_assert(u.path_len > 0 && u.path[0] == '/');
            fuzz_assert(strcmp(u.path, "/") == 0
                        || (u.path > u.host
                            && u.path + u.path_len == s + len));
            fuzz_assert(u.tls == (s[2] == 's' || s[2] == 'S'));
        }

        if (ngx_http_ws_api_name_valid((const u_char *) s, len)) {
            fuzz_assert(len > 0 && len <= NGX_HTTP_WS_API_MAX_NAME);
        }

        if (ngx_http_ws_api_user_name_valid((const u_char *) s, len)) {
            fuzz_assert(len > 0 && len <= NGX_HTTP_WS_API_MAX_USER);
            fuzz_assert(fuzz_utf8_valid((const u_char *) s, len));
            fuzz_assert(memchr(s, '/', len) == NULL);
        }
    }
}


/* a refusal goes into a JSON answer: 400, a message, valid UTF-8 */

static void
fuzz_refused(const ngx_http_ws_api_def_error_t *err)
{
    size_t  n;

    fuzz_assert(err->status == 400);

    n = strnlen(err->message, sizeof(err->message));

    fuzz_assert(n > 0 && n < sizeof(err->message));
    fuzz_assert_msg(fuzz_utf8_valid((const u_char *) err->message, n),
                    "message not UTF-8: %s", err->message);

    n = strnlen(err->field, sizeof(err->field));

    fuzz_assert(n < sizeof(err->field));
    fuzz_assert_msg(fuzz_utf8_valid((const u_char *) err->field, n),
                    "field not UTF-8: %s", err->field);
}


/* exactly these members, in this order */

static void
fuzz_members(json_t *obj, const char **names)
{
    void        *it;
    const char  **n;

    fuzz_assert(json_is_object(obj));

    it = json_object_iter(obj);

    for (n = names; *n; n++) {
        fuzz_assert_msg(it != NULL
                        && strcmp(json_object_iter_key(it), *n) == 0,
                        "member \"%s\" missing or out of order", *n);

        it = json_object_iter_next(obj, it);
    }

    fuzz_assert(it == NULL);
}


/* written out compact and read back, as the store does */

static json_t *
fuzz_reload(json_t *json)
{
    char          *text;
    json_t        *back;
    json_error_t   jerr;

    text = json_dumps(json, JSON_COMPACT);
    fuzz_assert(text != NULL);

    back = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    fuzz_assert_msg(back != NULL, "%s: %s", jerr.text, text);

    free(text);

    return back;
}


static void *
fuzz_malloc(size_t size)
{
    if (fuzz_allocs++ == fuzz_fail_at) {
        return NULL;
    }

    return malloc(size);
}


/*
 * Each function once more with one of the allocations it makes failing:
 * the same result, or NULL and 500 (400 when it refused the input
 * anyway).
 */

static void
fuzz_oom(json_t *in, size_t seed)
{
    int                           fn;
    size_t                        n;
    json_t                       *ref, *out;
    ngx_http_ws_api_def_error_t   err, ref_err;

    for (fn = 0; fn < 4; fn++) {

        memset(&ref_err, 0, sizeof(ngx_http_ws_api_def_error_t));

        fuzz_allocs = 0;
        ref = fuzz_oom_call(fn, in, &ref_err);
        n = fuzz_allocs;

        if (n == 0) {
            json_decref(ref);
            continue;
        }

        memset(&err, 0, sizeof(ngx_http_ws_api_def_error_t));

        fuzz_allocs = 0;
        fuzz_fail_at = (seed + fn) % n;

        out = fuzz_oom_call(fn, in, &err);

        fuzz_fail_at = SIZE_MAX;

        if (out == NULL) {
            fuzz_assert_msg(err.status == 500
                            || (ref == NULL && err.status == 400),
                            "function %d, allocation %zu of %zu failing: "
                            "%d %s: %s", fn, (seed + fn) % n, n, err.status,
                            err.field, err.message);

        } else {
            fuzz_assert_msg(ref != NULL && json_equal(ref, out),
                            "function %d, allocation %zu of %zu failing: "
                            "another result", fn, (seed + fn) % n, n);
        }

        json_decref(out);
        json_decref(ref);
    }
}


static json_t *
fuzz_oom_call(int fn, json_t *in, ngx_http_ws_api_def_error_t *err)
{
    switch (fn) {

    case 0:
        return ngx_http_ws_api_def_canonical(in, NGX_HTTP_WS_API_DEF_TEAMS,
                                             err);

    case 1:
        return ngx_http_ws_api_user_canonical(in, NGX_HTTP_WS_API_DEF_TEAMS,
                                              err);

    case 2:
        return ngx_http_ws_api_team_canonical(in, err);

    default:
        return (ngx_http_ws_api_def_check_stored(in,
                                                 NGX_HTTP_WS_API_DEF_TEAMS,
                                                 err)
                == 0)
               ? json_incref(in) : NULL;
    }
}
