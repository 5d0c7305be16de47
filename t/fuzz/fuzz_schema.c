
/*
 * Copyright (C) ws-api authors
 */


/*
 * libFuzzer target: the JSON Schema validator (src/ngx_http_ws_api_schema.h)
 * with its PCRE2 engine.
 *
 * The input is a schema and an instance, the two parts on either side of
 * its first newline, each parsed as JSON.  The invariants:
 *
 *  - compiling either succeeds or fails with a message;
 *  - validating answers 0 or 1, the same twice over, and a failure has a
 *    reason of at most 123 bytes that starts with "payload ";
 *  - the schema always matches itself or not, without a crash (a schema
 *    validating its own JSON exercises refs, enum and const on objects);
 *  - nothing leaks (ASan).
 */


#include <string.h>
#include <jansson.h>

#include "ngx_http_ws_api_schema.h"
#include "fuzz.h"


static void
fuzz_one(ngx_http_ws_api_schema_t *s, json_t *instance)
{
    int   rc, rc2;
    char  why[NGX_HTTP_WS_API_SCHEMA_REASON + 1];

    memset(why, 0, sizeof(why));

    rc = ngx_http_ws_api_schema_validate(s, instance, why);
    rc2 = ngx_http_ws_api_schema_validate(s, instance, NULL);

    fuzz_assert(rc == 0 || rc == 1);
    fuzz_assert(rc == rc2);

    if (rc == 0) {
        fuzz_assert(strlen(why) <= NGX_HTTP_WS_API_SCHEMA_REASON);
        fuzz_assert(strncmp(why, "payload ", 8) == 0);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                      *nl, err[256];
    size_t                     slen;
    json_t                    *schema, *instance;
    ngx_http_ws_api_schema_t  *s;

    nl = memchr(data, '\n', size);
    slen = nl ? (size_t) (nl - (char *) data) : size;

    schema = json_loadb((const char *) data, slen,
                        JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (schema == NULL) {
        return 0;
    }

    err[0] = '\0';
    s = ngx_http_ws_api_schema_compile(schema, &ngx_http_ws_api_regex_pcre2,
                                       err, sizeof(err));

    if (s == NULL) {
        fuzz_assert(err[0] != '\0');
        json_decref(schema);
        return 0;
    }

    fuzz_one(s, schema);

    if (nl) {
        instance = json_loadb(nl + 1, size - slen - 1,
                              JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (instance) {
            fuzz_one(s, instance);
            json_decref(instance);
        }
    }

    ngx_http_ws_api_schema_free(s);
    json_decref(schema);

    return 0;
}
