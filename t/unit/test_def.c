
/*
 * Copyright (C) ws-api authors
 */


/*
 * Unit tests of API definitions, users and teams (SPEC 3.1): the cases of
 * t/unit/def_cases.json, then the limits, the WS URL parser, the name
 * checks and the message mask.
 *
 * Each case of the fixture is {"name", "func", "flags", "input", and
 * either "output" or "error": {"status", "field", "message" or
 * "message_has"}}; "func" is "def" (the default), "stored", "user" or
 * "team"; "output" of "stored" is true.
 */


#include <stdlib.h>

#include "tap.h"
#include "ngx_http_ws_api_param.h"
#include "ngx_http_ws_api_def.h"


#define CASES  "t/unit/def_cases.json"


static void test_fixture(const char *path);
static void test_case(json_t *c);
static void test_properties(const char *name, json_t *out,
    unsigned flags);
static void test_error(const char *name, ngx_http_ws_api_def_error_t *err,
    json_t *expected);
static void test_limits(void);
static void test_limit(const char *name, const char *json_fmt, size_t n,
    const char *field);
static void test_urls(void);
static void test_names(void);
static void test_messages(void);
static void test_robustness(void);
static void test_nomem(void);
static void *test_malloc(size_t size);
static void test_free(void *p);
static json_t *load(const char *text);
static char *dump(json_t *j);
static char *repeat(const char *s, size_t n, const char *sep);
static const char *esc(const char *s);
static int utf8_ok(const char *s);


/* jansson's allocations, counted, and failing on demand */

static int     alloc_limited;
static size_t  alloc_budget;
static long    alloc_live;


int
main(int argc, char **argv)
{
    json_set_alloc_funcs(test_malloc, test_free);

    test_fixture(argc > 1 ? argv[1] : CASES);
    test_limits();
    test_urls();
    test_names();
    test_messages();
    test_robustness();
    test_nomem();

    return tap_done();
}


static void
test_fixture(const char *path)
{
    size_t        i;
    json_t       *cases, *c;
    json_error_t  error;

    cases = json_load_file(path, JSON_ALLOW_NUL, &error);

    if (!json_is_array(cases)) {
        ok(0, "%s loads: %s at line %d", path, error.text, error.line);
        json_decref(cases);
        return;
    }

    tap_diag("%zu cases from %s", json_array_size(cases), path);

    json_array_foreach(cases, i, c) {
        test_case(c);
    }

    json_decref(cases);
}


static void
test_case(json_t *c)
{
    char                        *got, *want, *before, *after;
    json_t                      *in, *out, *expected, *error;
    unsigned                     flags;
    const char                  *name, *func;
    ngx_http_ws_api_def_error_t  err;

    name = json_string_value(json_object_get(c, "name"));
    func = json_string_value(json_object_get(c, "func"));
    flags = json_integer_value(json_object_get(c, "flags"));
    in = json_object_get(c, "input");
    expected = json_object_get(c, "output");
    error = json_object_get(c, "error");

    if (func == NULL) {
        func = "def";
    }

    memset(&err, 0, sizeof(err));
    before = dump(in);
    out = NULL;

    if (strcmp(func, "def") == 0) {
        out = ngx_http_ws_api_def_canonical(in, flags, &err);

    } else if (strcmp(func, "user") == 0) {
        out = ngx_http_ws_api_user_canonical(in, flags, &err);

    } else if (strcmp(func, "team") == 0) {
        out = ngx_http_ws_api_team_canonical(in, &err);

    } else if (strcmp(func, "stored") == 0) {
        if (ngx_http_ws_api_def_check_stored(in, flags, &err) == 0) {
            out = json_true();
        }

    } else {
        ok(0, "%s: unknown func \"%s\"", name, func);
        free(before);
        return;
    }

    after = dump(in);
    is_str(after, before, "%s: the input is left as it was", name);
    free(before);
    free(after);

    if (expected != NULL) {
        ok(out != NULL, "%s: accepted", name);

        if (out == NULL) {
            tap_diag("  refused: %d \"%s\" field \"%s\"", err.status,
                     err.message, err.field);
            return;
        }

        /* the same members in the same order */

        got = dump(out);
        want = dump(expected);
        is_str(got, want, "%s: canonical form", name);
        free(got);
        free(want);

        if (strcmp(func, "def") == 0) {
            test_properties(name, out, flags);
        }

        json_decref(out);
        return;
    }

    ok(out == NULL, "%s: refused", name);

    if (out != NULL) {
        got = dump(out);
        tap_diag("  accepted as %s", got);
        free(got);
        json_decref(out);
        return;
    }

    test_error(name, &err, error);
}


/*
 * What holds for every accepted definition: the canonical form is a
 * fixed point, it survives a GET/PUT round trip with the read-only
 * members, and it is a valid stored definition once those are added.
 */

static void
test_properties(const char *name, json_t *out, unsigned flags)
{
    char                        *a, *b;
    json_t                      *again, *stored;
    ngx_http_ws_api_def_error_t  err;

    again = ngx_http_ws_api_def_canonical(out, flags, &err);
    a = dump(out);
    b = dump(again);
    is_str(b, a, "%s: the canonical form is its own canonical form", name);
    free(b);
    json_decref(again);

    stored = json_deep_copy(out);
    json_object_set_new(stored, "id",
                        json_string("123e4567-e89b-12d3-a456-426614174000"));
    json_object_set_new(stored, "isActive", json_false());
    json_object_set_new(stored, "revision", json_integer(1));
    json_object_set_new(stored, "createdAt",
                        json_string("2026-11-28T10:15:00Z"));
    json_object_set_new(stored, "updatedAt",
                        json_string("2026-11-28T10:15:00Z"));

    is_int(ngx_http_ws_api_def_check_stored(stored, flags, &err), 0,
           "%s: valid as a stored definition", name);

    json_object_set_new(stored, "gatewayEndpoints", json_array());

    again = ngx_http_ws_api_def_canonical(stored, flags, &err);
    b = dump(again);
    is_str(b, a, "%s: round trip with the read-only members", name);
    free(b);
    json_decref(again);

    json_decref(stored);
    free(a);
}


static void
test_error(const char *name, ngx_http_ws_api_def_error_t *err,
    json_t *expected)
{
    size_t       len;
    json_t      *s, *f;
    const char  *message;

    is_int(err->status,
           json_integer_value(json_object_get(expected, "status")),
           "%s: status", name);

    is_str(err->field,
           json_string_value(json_object_get(expected, "field")),
           "%s: field", name);

    message = json_string_value(json_object_get(expected, "message"));

    if (message != NULL) {
        is_str(err->message, message, "%s: message", name);
    }

    message = json_string_value(json_object_get(expected, "message_has"));

    if (message != NULL) {
        ok(strstr(err->message, message) != NULL,
           "%s: message has \"%s\"", name, message);

        if (strstr(err->message, message) == NULL) {
            tap_diag("  message: \"%s\"", err->message);
        }
    }

    /* a human sentence that can go into a JSON answer as it is */

    len = strlen(err->message);
    s = json_string(err->message);
    f = json_string(err->field);

    ok(len > 0 && err->message[len - 1] != '.' && s != NULL && f != NULL,
       "%s: message \"%s\" is a sentence of valid UTF-8", name,
       err->message);

    json_decref(s);
    json_decref(f);
}


/* each limit at its value and one above */

static void
test_limits(void)
{
    test_limit("apiDescription",
               "{\"apiName\": \"t\", \"apiDescription\": \"%s\"}", 16384,
               "apiDescription");
    test_limit("parameter description",
               "{\"apiName\": \"t\", \"parameters\": [{\"name\": \"p\", "
               "\"description\": \"%s\"}]}", 16384,
               "parameters[0].description");
    test_limit("message description",
               "{\"apiName\": \"t\", \"messages\": [{\"origin\": \"client\", "
               "\"type\": \"text\", \"description\": \"%s\"}]}", 16384,
               "messages[0].description");
    test_limit("samplePayload",
               "{\"apiName\": \"t\", \"messages\": [{\"origin\": \"client\", "
               "\"type\": \"text\", \"samplePayload\": \"%s\"}]}", 65536,
               "messages[0].samplePayload");
    test_limit("value",
               "{\"apiName\": \"t\", \"parameters\": [{\"name\": \"p\", "
               "\"values\": [\"%s\"]}]}", 1024,
               "parameters[0].values[0]");
    test_limit("wsUrl",
               "{\"apiName\": \"t\", \"wsUrl\": \"ws://h/%s\"}",
               2048 - 7, "wsUrl");
    test_limit("parameters",
               "{\"apiName\": \"t\", \"parameters\": [%s]}", 100,
               "parameters");
    test_limit("messages",
               "{\"apiName\": \"t\", \"messages\": [%s]}", 100,
               "messages");
    test_limit("values",
               "{\"apiName\": \"t\", \"parameters\": [{\"name\": \"p\", "
               "\"dataType\": \"integer\", \"values\": [%s]}]}", 100,
               "parameters[0].values");
    test_limit("teams",
               "{\"apiName\": \"t\", \"teams\": [%s]}", 100, "teams");
    test_limit("user teams", "{\"teams\": [%s]}", 100, "teams");
    test_limit("team description", "{\"description\": \"%s\"}", 16384,
               "description");

    /* a description counts bytes, not characters */

    {
        char                        *text, *s;
        json_t                      *in, *out;
        ngx_http_ws_api_def_error_t  err;

        s = repeat("\xc3\xa9", 8193, "");
        text = malloc(strlen(s) + 64);
        sprintf(text, "{\"apiName\": \"t\", \"apiDescription\": \"%s\"}", s);

        in = load(text);
        out = ngx_http_ws_api_def_canonical(in, 0, &err);
        ok(out == NULL && strcmp(err.field, "apiDescription") == 0,
           "apiDescription of 8193 two-byte characters is too long");
        is_str(err.message, "apiDescription is longer than 16384 bytes",
               "  message");

        json_decref(out);
        json_decref(in);
        free(text);
        free(s);
    }
}


static void
test_limit(const char *name, const char *json_fmt, size_t n,
    const char *field)
{
    int                          i;
    char                        *text, *body;
    size_t                       j, k;
    json_t                      *in, *out;
    ngx_http_ws_api_def_error_t  err;

    for (i = 0; i < 2; i++) {
        k = n + i;

        if (strcmp(name, "parameters") == 0) {
            body = malloc(k * 32 + 1);
            body[0] = '\0';

            for (j = 0; j < k; j++) {
                sprintf(body + strlen(body), "%s{\"name\": \"p%zu\"}",
                        j ? "," : "", j);
            }

        } else if (strcmp(name, "messages") == 0) {
            body = repeat("{\"origin\": \"client\", \"type\": \"text\"}", k,
                          ",");

        } else if (strcmp(name, "values") == 0) {
            body = malloc(k * 16 + 1);
            body[0] = '\0';

            for (j = 0; j < k; j++) {
                sprintf(body + strlen(body), "%s%zu", j ? "," : "", j);
            }

        } else if (strcmp(name, "teams") == 0
                   || strcmp(name, "user teams") == 0)
        {
            body = malloc(k * 16 + 1);
            body[0] = '\0';

            for (j = 0; j < k; j++) {
                sprintf(body + strlen(body), "%s\"t%zu\"", j ? "," : "", j);
            }

        } else {
            body = repeat("x", k, "");
        }

        text = malloc(strlen(json_fmt) + strlen(body) + 1);
        sprintf(text, json_fmt, body);

        in = load(text);
        memset(&err, 0, sizeof(err));

        if (strcmp(name, "user teams") == 0) {
            out = ngx_http_ws_api_user_canonical(in, NGX_HTTP_WS_API_DEF_TEAMS,
                                                 &err);

        } else if (strcmp(name, "team description") == 0) {
            out = ngx_http_ws_api_team_canonical(in, &err);

        } else {
            out = ngx_http_ws_api_def_canonical(in, NGX_HTTP_WS_API_DEF_TEAMS,
                                                &err);
        }

        if (i == 0) {
            ok(out != NULL, "%s: %zu is the limit", name, k);

            if (out == NULL) {
                tap_diag("  refused: %s (%s)", err.message, err.field);
            }

        } else {
            ok(out == NULL, "%s: %zu is over the limit", name, k);
            is_str(err.field, field, "  field");
            is_int(err.status, 400, "  status");
        }

        json_decref(out);
        json_decref(in);
        free(text);
        free(body);
    }
}


static void
test_urls(void)
{
    size_t                 i;
    ngx_http_ws_api_url_t  u;

    static const struct {
        const char  *url;
        int          tls;
        const char  *host;
        unsigned     port;
        const char  *path;
    } good[] = {
        { "ws://prices.internal:9001/stream", 0, "prices.internal", 9001,
          "/stream" },
        { "wss://prices.internal/stream", 1, "prices.internal", 443,
          "/stream" },
        { "ws://h", 0, "h", 80, "/" },
        { "wss://h", 1, "h", 443, "/" },
        { "ws://h/", 0, "h", 80, "/" },
        { "WSS://H:8443", 1, "H", 8443, "/" },
        { "Ws://h:1/a/b?", 0, NULL, 0, NULL },
        { "ws://[::1]:9001/x/y", 0, "[::1]", 9001, "/x/y" },
        { "wss://[2001:db8::1]", 1, "[2001:db8::1]", 443, "/" },
        { "ws://10.1.2.3:65535/", 0, "10.1.2.3", 65535, "/" },
        { "ws://h:080/p", 0, "h", 80, "/p" },
        { "ws://h//double", 0, "h", 80, "//double" },
    };

    static const char  *bad[] = {
        "", "ws:", "ws:/", "ws://", "wss://", "wsx://h", "http://h",
        "ws://h:0", "ws://h:65536", "ws://h:", "ws://h:99999",
        "ws://h:1:2", "ws://a@h", "ws://h?x", "ws://h/#", "ws://[::1",
        "ws://[::1]:", "ws://[::1]8080", "ws://[x]", "ws://1.2.3.04",
        "ws://h h", "ws://h/\x01", "ws://h/\x7f", "ws://h/\x80",
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        memset(&u, 0xa5, sizeof(u));

        if (good[i].host == NULL) {
            is_int(ngx_http_ws_api_url_parse(good[i].url,
                                             strlen(good[i].url), &u),
                   -1, "url_parse(\"%s\") refused", good[i].url);
            continue;
        }

        is_int(ngx_http_ws_api_url_parse(good[i].url, strlen(good[i].url),
                                         &u),
               0, "url_parse(\"%s\")", good[i].url);

        is_int(u.tls, good[i].tls, "  tls");
        ok(u.host_len == strlen(good[i].host)
           && memcmp(u.host, good[i].host, u.host_len) == 0,
           "  host %s", good[i].host);
        is_int(u.port, good[i].port, "  port");
        ok(u.path_len == strlen(good[i].path)
           && memcmp(u.path, good[i].path, u.path_len) == 0,
           "  path %s", good[i].path);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_int(ngx_http_ws_api_url_parse(bad[i], strlen(bad[i]), &u), -1,
               "url_parse(\"%s\") refused", esc(bad[i]));
    }

    /* the length is the one given: no NUL terminator needed, none read */

    {
        char  *p;

        p = malloc(10);
        memcpy(p, "ws://h:80x", 10);

        is_int(ngx_http_ws_api_url_parse(p, 9, &u), 0,
               "url_parse reads only len bytes");
        is_int(u.port, 80, "  port");

        memcpy(p, "ws://h\0/x", 9);
        is_int(ngx_http_ws_api_url_parse(p, 9, &u), -1,
               "url_parse refuses a NUL inside");

        free(p);
    }

    /* 2048 bytes */

    {
        char  *p;

        p = repeat("a", 2048, "");
        memcpy(p, "ws://h/", 7);

        is_int(ngx_http_ws_api_url_parse(p, 2048, &u), 0,
               "url_parse: 2048 bytes");
        is_int(u.path_len, 2048 - 6, "  path length");

        free(p);

        p = repeat("a", 2049, "");
        memcpy(p, "ws://h/", 7);

        is_int(ngx_http_ws_api_url_parse(p, 2049, &u), -1,
               "url_parse: 2049 bytes");

        free(p);
    }
}


static void
test_names(void)
{
    size_t  i;
    char   *s;

    static const struct {
        const char  *s;
        int          valid;
    } names[] = {
        { "ticker", 1 },
        { "Ticker-2.0_beta", 1 },
        { "1.0", 1 },
        { "a", 1 },
        { "...", 1 },
        { ".a", 1 },
        { "", 0 },
        { ".", 1 },                        /* SPEC 3.1's characters */
        { "..", 1 },
        { "a b", 0 },
        { "a/b", 0 },
        { "a:b", 0 },
        { "a%20b", 0 },
        { "a+b", 0 },
        { "\xc3\xa9", 0 },
    };

    static const struct {
        const char  *s;
        int          valid;
    } users[] = {
        { "alice", 1 },
        { "Alice Smith", 1 },
        { "alice@example.com", 1 },
        { "CN=alice,O=Example", 1 },
        { "\xc3\xa9lodie", 1 },
        { "\xe4\xb8\xad\xe6\x96\x87", 1 },
        { "\xf0\x9f\x98\x80", 1 },
        { "...", 1 },
        { ".a", 1 },
        { ".", 0 },
        { "..", 0 },
        { "", 0 },
        { "a/b", 0 },
        { "/", 0 },
        { "a\tb", 0 },
        { "a\nb", 0 },
        { "a\x7f", 0 },
        { "\x1f", 0 },
        { "\xc3", 0 },                     /* cut */
        { "\xc3\x28", 0 },                 /* bad continuation */
        { "\xc0\xaf", 0 },                 /* overlong "/" */
        { "\xe0\x80\xaf", 0 },             /* overlong */
        { "\xed\xa0\x80", 0 },             /* surrogate */
        { "\xf4\x90\x80\x80", 0 },         /* over U+10FFFF */
        { "\xff", 0 },
        { "\x80", 0 },
    };

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        is_int(ngx_http_ws_api_name_valid((const u_char *) names[i].s,
                                          strlen(names[i].s)),
               names[i].valid, "name_valid(\"%s\")", esc(names[i].s));
    }

    /* team names are path segments: not "." or ".." */

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        is_int(ngx_http_ws_api_team_name_valid((const u_char *) names[i].s,
                                               strlen(names[i].s)),
               names[i].valid && strcmp(names[i].s, ".") != 0
               && strcmp(names[i].s, "..") != 0,
               "team_name_valid(\"%s\")", esc(names[i].s));
    }

    s = repeat("n", 101, "");
    is_int(ngx_http_ws_api_name_valid((u_char *) s, 100), 1,
           "name_valid: 100 characters");
    is_int(ngx_http_ws_api_name_valid((u_char *) s, 101), 0,
           "name_valid: 101 characters");
    free(s);

    is_int(ngx_http_ws_api_name_valid((u_char *) "a\0b", 3), 0,
           "name_valid: a NUL inside");

    for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        is_int(ngx_http_ws_api_user_name_valid((const u_char *) users[i].s,
                                               strlen(users[i].s)),
               users[i].valid, "user_name_valid(\"%s\")", esc(users[i].s));
    }

    s = repeat("u", 257, "");
    is_int(ngx_http_ws_api_user_name_valid((u_char *) s, 256), 1,
           "user_name_valid: 256 bytes");
    is_int(ngx_http_ws_api_user_name_valid((u_char *) s, 257), 0,
           "user_name_valid: 257 bytes");
    free(s);

    is_int(ngx_http_ws_api_user_name_valid((u_char *) "a\0b", 3), 0,
           "user_name_valid: a NUL inside");
}


static void
test_messages(void)
{
    size_t                       i;
    json_t                      *in, *out;
    ngx_http_ws_api_def_error_t  err;

    static const struct {
        const char  *messages;
        unsigned     mask;
    } cases[] = {
        { "[]", 0 },
        { "[{\"origin\": \"client\", \"type\": \"text\"}]",
          NGX_HTTP_WS_API_CLIENT_TEXT },
        { "[{\"origin\": \"client\", \"type\": \"binary\"}]",
          NGX_HTTP_WS_API_CLIENT_BINARY },
        { "[{\"origin\": \"server\", \"type\": \"text\"}]",
          NGX_HTTP_WS_API_SERVER_TEXT },
        { "[{\"origin\": \"Server\", \"type\": \"BINARY\"}]",
          NGX_HTTP_WS_API_SERVER_BINARY },
        { "[{\"origin\": \"client\", \"type\": \"text\"},"
          " {\"origin\": \"server\", \"type\": \"binary\"}]",
          NGX_HTTP_WS_API_CLIENT_TEXT | NGX_HTTP_WS_API_SERVER_BINARY },
        { "[{\"origin\": \"client\", \"type\": \"text\"},"
          " {\"origin\": \"client\", \"type\": \"text\"},"
          " {\"origin\": \"client\", \"type\": \"binary\"},"
          " {\"origin\": \"server\", \"type\": \"text\"},"
          " {\"origin\": \"server\", \"type\": \"binary\"}]",
          0x0f },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char  text[1024];

        snprintf(text, sizeof(text), "{\"apiName\": \"t\", \"messages\": %s}",
                 cases[i].messages);

        in = load(text);
        out = ngx_http_ws_api_def_canonical(in, 0, &err);

        ok(out != NULL, "messages case %zu accepted", i);
        is_int(ngx_http_ws_api_def_messages(out), cases[i].mask,
               "messages case %zu: mask of the canonical definition", i);
        is_int(ngx_http_ws_api_def_messages(in), cases[i].mask,
               "messages case %zu: mask of the input", i);

        json_decref(out);
        json_decref(in);
    }

    /* no messages at all, or garbage: no bits */

    in = load("{\"apiName\": \"t\"}");
    is_int(ngx_http_ws_api_def_messages(in), 0, "mask: no messages member");
    json_decref(in);

    in = load("{\"messages\": [5, {\"origin\": 1}, {\"origin\": \"x\", "
              "\"type\": \"text\"}, {\"origin\": \"client\", "
              "\"type\": \"ping\"}]}");
    is_int(ngx_http_ws_api_def_messages(in), 0, "mask: garbage messages");
    json_decref(in);

    is_int(ngx_http_ws_api_def_messages(NULL), 0, "mask: NULL");
}


static void
test_robustness(void)
{
    char                        *key, *text;
    json_t                      *in, *out;
    ngx_http_ws_api_def_error_t  err;

    /* a long unknown member of multi-byte characters: valid UTF-8 out */

    key = repeat("\xe4\xb8\xad", 200, "");
    in = json_pack("{s:s, s:i}", "apiName", "t", key, 1);

    memset(&err, 0, sizeof(err));
    out = ngx_http_ws_api_def_canonical(in, 0, &err);

    ok(out == NULL, "a long unknown member refused");
    ok(utf8_ok(err.field), "  field is valid UTF-8");
    ok(utf8_ok(err.message), "  message is valid UTF-8");
    ok(strlen(err.field) < sizeof(err.field), "  field fits");
    ok(strstr(err.message, "...") != NULL, "  the member is cut with ...");

    json_decref(in);

    /* a long bad value quoted in a message */

    in = json_pack("{s:s, s:[{s:s, s:s, s:[s]}]}", "apiName", "t",
                   "parameters", "name", "p", "dataType", "integer",
                   "values", key);

    out = ngx_http_ws_api_def_canonical(in, 0, &err);
    ok(out == NULL, "a long invalid value refused");
    is_str(err.field, "parameters[0].values[0]", "  field");
    ok(utf8_ok(err.message) && strlen(err.message) < 120,
       "  message of valid UTF-8, value cut: %s", err.message);

    json_decref(in);
    free(key);

    /* a member name with a NUL is not the member without it */

    in = json_object();
    json_object_set_new(in, "apiName", json_string("t"));
    json_object_setn_new(in, "apiName\0x", 9, json_string("u"));

    out = ngx_http_ws_api_def_canonical(in, 0, &err);
    ok(out == NULL, "a member \"apiName\\0x\" is unknown");
    json_decref(in);

    /* values with a NUL inside */

    in = json_object();
    json_object_set_new(in, "apiName", json_string("t"));
    json_object_set_new(in, "parameters",
        json_pack("[{s:s, s:[o, o]}]", "name", "p", "values",
                  json_stringn("a\0b", 3), json_stringn("a\0c", 3)));

    out = ngx_http_ws_api_def_canonical(in, 0, &err);
    ok(out != NULL, "string values with a NUL inside");

    if (out) {
        json_t  *v;

        v = json_array_get(json_object_get(json_array_get(
                json_object_get(out, "parameters"), 0), "values"), 1);
        ok(json_string_length(v) == 3
           && memcmp(json_string_value(v), "a\0c", 3) == 0,
           "  kept as given");
        json_decref(out);
    }

    json_decref(in);

    in = json_object();
    json_object_set_new(in, "apiName", json_string("t"));
    json_object_set_new(in, "parameters",
        json_pack("[{s:s, s:[o, o]}]", "name", "p", "values",
                  json_stringn("a\0b", 3), json_stringn("a\0b", 3)));

    out = ngx_http_ws_api_def_canonical(in, 0, &err);
    ok(out == NULL && strcmp(err.field, "parameters[0].values[1]") == 0,
       "duplicate values with a NUL inside");
    json_decref(in);

    in = json_object();
    json_object_set_new(in, "apiName", json_stringn("t\0", 2));
    out = ngx_http_ws_api_def_canonical(in, 0, &err);
    ok(out == NULL && strcmp(err.field, "apiName") == 0,
       "an apiName with a NUL inside");
    json_decref(in);

    in = json_object();
    json_object_set_new(in, "apiName", json_string("t"));
    json_object_set_new(in, "parameters",
        json_pack("[{s:o}]", "name", json_stringn("a\0b", 3)));
    out = ngx_http_ws_api_def_canonical(in, 0, &err);
    ok(out == NULL && strcmp(err.field, "parameters[0].name") == 0,
       "a parameter name with a NUL inside");
    json_decref(in);

    /* a NULL err is allowed */

    in = load("[]");
    ok(ngx_http_ws_api_def_canonical(in, 0, NULL) == NULL,
       "def_canonical with a NULL err");
    ok(ngx_http_ws_api_def_check_stored(in, 0, NULL) == -1,
       "def_check_stored with a NULL err");
    ok(ngx_http_ws_api_user_canonical(in, 0, NULL) == NULL,
       "user_canonical with a NULL err");
    ok(ngx_http_ws_api_team_canonical(in, NULL) == NULL,
       "team_canonical with a NULL err");
    json_decref(in);

    ok(ngx_http_ws_api_def_canonical(NULL, 0, &err) == NULL,
       "def_canonical(NULL)");
    is_int(ngx_http_ws_api_def_check_stored(NULL, 0, &err), -1,
           "def_check_stored(NULL)");
    ok(ngx_http_ws_api_user_canonical(NULL, 0, &err) == NULL,
       "user_canonical(NULL)");

    /* the output shares nothing with the input */

    text = "{\"apiName\": \"t\", \"teams\": [\"a\"], \"wsUrl\": \"ws://h/\", "
           "\"parameters\": [{\"name\": \"p\", \"values\": [\"x\"]}], "
           "\"messages\": [{\"origin\": \"client\", \"type\": \"text\"}]}";

    in = load(text);
    out = ngx_http_ws_api_def_canonical(in, NGX_HTTP_WS_API_DEF_TEAMS, &err);
    json_decref(in);

    {
        char  *s;

        s = dump(out);
        ok(s != NULL && strstr(s, "\"teams\":[\"a\"]") != NULL,
           "the output outlives the input");
        free(s);
    }

    json_decref(out);
}


static json_t *
load(const char *text)
{
    json_t       *j;
    json_error_t  error;

    j = json_loads(text, 0, &error);

    if (j == NULL) {
        tap_diag("bad JSON in the test: %s", error.text);
    }

    return j;
}


static char *
dump(json_t *j)
{
    if (j == NULL) {
        return NULL;
    }

    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}


static char *
repeat(const char *s, size_t n, const char *sep)
{
    char    *r, *p;
    size_t   i, len, slen;

    len = strlen(s);
    slen = strlen(sep);

    r = malloc(n * (len + slen) + 1);
    p = r;

    for (i = 0; i < n; i++) {
        if (i) {
            memcpy(p, sep, slen);
            p += slen;
        }

        memcpy(p, s, len);
        p += len;
    }

    *p = '\0';

    return r;
}


/* s printable in a TAP line: other bytes as \xHH */

static const char *
esc(const char *s)
{
    char         *p;
    static char   buf[4][256];
    static int    n;

    p = buf[n++ % 4];

    for ( /* void */ ; *s && p < buf[(n - 1) % 4] + 250; s++) {
        if ((u_char) *s < 0x20 || (u_char) *s >= 0x7f) {
            p += sprintf(p, "\\x%02x", (u_char) *s);

        } else {
            *p++ = *s;
        }
    }

    *p = '\0';

    return buf[(n - 1) % 4];
}


/* s is valid UTF-8, as jansson sees it */

static int
utf8_ok(const char *s)
{
    json_t  *j;

    j = json_string(s);
    json_decref(j);

    return j != NULL;
}


/*
 * Every allocation made by jansson fails in turn: the answer is either
 * the full result or a 500, and nothing is leaked.
 */

static void
test_nomem(void)
{
    int                          kind, done, bad_status, leaks;
    long                         live;
    char                        *want, *got;
    size_t                       n, runs;
    json_t                      *in, *out, *full;
    ngx_http_ws_api_def_error_t  err;

    static const char  *names[] = { "def", "stored", "user", "team" };

    static const char  *inputs[] = {
        "{\"apiName\": \"ticker\", \"apiDescription\": \"Live prices\","
        " \"teams\": [\"trading\", \"risk\"],"
        " \"wsUrl\": \"WS://prices.internal:9001/stream\","
        " \"parameters\": [{\"name\": \"symbol\", \"required\": true,"
        " \"array\": true, \"values\": [\"AAPL\", \"MSFT\"]},"
        " {\"name\": \"X-Client-Id\", \"in\": \"Header\","
        " \"dataType\": \"Integer\", \"values\": [1, 2.5e1, \"3\"]}],"
        " \"messages\": [{\"origin\": \"client\", \"type\": \"text\","
        " \"samplePayload\": \"{}\", \"description\": \"subscribe\"},"
        " {\"origin\": \"Server\", \"type\": \"Binary\"}],"
        " \"policies\": {}, \"id\": \"x\", \"isActive\": true}",

        "{\"type\": \"websocket\", \"apiName\": \"ticker\","
        " \"apiVersion\": \"1.0\", \"apiDescription\": \"\","
        " \"teams\": [\"trading\"], \"wsUrl\": null,"
        " \"parameters\": [{\"name\": \"a\", \"description\": \"\","
        " \"in\": \"query\", \"dataType\": \"double\","
        " \"required\": false, \"array\": false,"
        " \"values\": [\"1.5\"]}],"
        " \"messages\": [], \"policies\": {},"
        " \"id\": \"123e4567-e89b-12d3-a456-426614174000\","
        " \"isActive\": false, \"revision\": 2,"
        " \"createdAt\": \"2026-11-28T10:15:00Z\","
        " \"updatedAt\": \"2026-11-28T10:15:00Z\"}",

        "{\"privileges\": [\"manage_apis\", \"manage_users\"],"
        " \"teams\": [\"a\", \"b\"]}",

        "{\"description\": \"the trading desk\"}",
    };

    for (kind = 0; kind < 4; kind++) {
        in = load(inputs[kind]);
        full = NULL;
        want = NULL;

        done = 0;
        bad_status = 0;
        leaks = 0;
        runs = 0;

        for (n = 0; !done && n < 10000; n++) {
            live = alloc_live;
            memset(&err, 0, sizeof(err));

            alloc_budget = n;
            alloc_limited = 1;

            switch (kind) {
            case 0:
                out = ngx_http_ws_api_def_canonical(in,
                                              NGX_HTTP_WS_API_DEF_TEAMS, &err);
                break;
            case 1:
                out = ngx_http_ws_api_def_check_stored(in,
                                              NGX_HTTP_WS_API_DEF_TEAMS, &err)
                      == 0 ? json_true() : NULL;
                break;
            case 2:
                out = ngx_http_ws_api_user_canonical(in,
                                              NGX_HTTP_WS_API_DEF_TEAMS, &err);
                break;
            default:
                out = ngx_http_ws_api_team_canonical(in, &err);
            }

            alloc_limited = 0;
            runs++;

            if (out != NULL) {
                done = 1;
                got = dump(out);
                full = out;
                want = got;

            } else if (err.status != 500) {
                bad_status++;
                tap_diag("  %s, %zu allocations: %d %s", names[kind], n,
                         err.status, err.message);
            }

            if (out == NULL && alloc_live != live) {
                leaks++;
            }
        }

        ok(done, "%s: succeeds once allocations succeed (%zu runs)",
           names[kind], runs);
        is_int(bad_status, 0, "%s: every failed allocation is a 500",
               names[kind]);
        is_int(leaks, 0, "%s: nothing leaked on any failed allocation",
               names[kind]);

        if (full != NULL && kind != 1) {
            out = (kind == 0)
                  ? ngx_http_ws_api_def_canonical(in,
                                              NGX_HTTP_WS_API_DEF_TEAMS, &err)
                  : (kind == 2)
                  ? ngx_http_ws_api_user_canonical(in,
                                              NGX_HTTP_WS_API_DEF_TEAMS, &err)
                  : ngx_http_ws_api_team_canonical(in, &err);
            got = dump(out);
            is_str(want, got, "%s: the result under pressure is the result",
                   names[kind]);
            free(got);
            json_decref(out);
        }

        json_decref(full);
        free(want);
        json_decref(in);
    }

    /* the team without a body */

    for (n = 0; n < 3; n++) {
        live = alloc_live;
        alloc_budget = n;
        alloc_limited = 1;
        out = ngx_http_ws_api_team_canonical(NULL, &err);
        alloc_limited = 0;

        ok(out != NULL || (err.status == 500 && alloc_live == live),
           "team without a body, %zu allocations", n);
        json_decref(out);
    }
}


static void *
test_malloc(size_t size)
{
    void  *p;

    if (alloc_limited) {
        if (alloc_budget == 0) {
            return NULL;
        }

        alloc_budget--;
    }

    p = malloc(size);

    if (p != NULL) {
        alloc_live++;
    }

    return p;
}


static void
test_free(void *p)
{
    if (p != NULL) {
        alloc_live--;
    }

    free(p);
}
