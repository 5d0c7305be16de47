
/*
 * Copyright (C) ws-api authors
 */


/*
 * libFuzzer target: the JWT verification of the identifyAndAccess policy
 * (src/ngx_http_ws_api_jwt.h).  The first byte picks the mode:
 *
 *  - 0: the rest is a token, verified against a set of an HMAC secret
 *    and a P-256 key: never valid (nothing here knows how to sign);
 *  - 1: the rest is the "jwt" member of a policy, compiled and, when
 *    accepted, used to verify a fixed token;
 *  - 2: the rest is "header\nclaims", signed here with the HMAC secret:
 *    when it verifies, the header's alg is HS256, exp is a number
 *    within the leeway, and the id is the claims' client_id or sub;
 *
 * and base64url decoding of the rest round trips.
 */


#include <string.h>

#include <openssl/hmac.h>
#include <openssl/evp.h>

#include "ngx_http_ws_api_jwt.h"
#include "fuzz.h"


#define FUZZ_NOW  1800000000LL


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const char  fuzz_conf[] =
    "{\"keys\": [{\"kty\": \"oct\", \"kid\": \"k1\", "
    "\"k\": \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}, "
    "{\"kty\": \"EC\", \"crv\": \"P-256\", "
    "\"x\": \"uqkqYNcP8bvdy-RIKELB6Z52JDBbT0e2OHHcnAVdJik\", "
    "\"y\": \"4qM-2Wcgq7nR28wM4p-f8sG-zx0J-jW1SwxAkzXb6uw\"}], "
    "\"issuer\": \"iss\"}";

static ngx_http_ws_api_jwt_t  *fuzz_jwt;


static void
fuzz_sign(const uint8_t *data, size_t size)
{
    char            tok[NGX_HTTP_WS_API_JWT_MAX_TOKEN + 16];
    u_char          md[32], id[NGX_HTTP_WS_API_JWT_MAX_CLAIM + 1];
    size_t          n, id_len;
    json_t         *h, *c, *v;
    unsigned int    md_len;
    const uint8_t  *nl;
    json_error_t    err;

    nl = memchr(data, '\n', size);

    if (nl == NULL || size > 4000) {
        return;
    }

    n = ngx_http_ws_api_base64url_encode((u_char *) tok, data, nl - data);
    tok[n++] = '.';
    n += ngx_http_ws_api_base64url_encode((u_char *) tok + n, nl + 1,
                                          size - (nl - data) - 1);

    HMAC(EVP_sha256(), "0123456789abcdef0123456789abcdef", 32,
         (u_char *) tok, n, md, &md_len);

    tok[n++] = '.';
    n += ngx_http_ws_api_base64url_encode((u_char *) tok + n, md, 32);

    if (ngx_http_ws_api_jwt_verify(fuzz_jwt, (u_char *) tok, n, FUZZ_NOW, id,
                                   &id_len)
        != NGX_HTTP_WS_API_JWT_OK)
    {
        return;
    }

    h = json_loadb((const char *) data, nl - data, 0, &err);
    c = json_loadb((const char *) nl + 1, size - (nl - data) - 1, 0, &err);

    fuzz_assert(h != NULL && c != NULL);

    v = json_object_get(h, "alg");
    fuzz_assert(json_is_string(v)
                && strcmp(json_string_value(v), "HS256") == 0);

    v = json_object_get(c, "exp");
    fuzz_assert(json_is_number(v)
                && json_number_value(v) > FUZZ_NOW - 61);

    v = json_object_get(c, "iss");
    fuzz_assert(json_is_string(v) && strcmp(json_string_value(v), "iss") == 0);

    v = json_object_get(c, "client_id");

    if (v == NULL) {
        v = json_object_get(c, "sub");
    }

    fuzz_assert(json_is_string(v) && json_string_length(v) == id_len
                && memcmp(json_string_value(v), id, id_len) == 0
                && id[id_len] == '\0');

    json_decref(h);
    json_decref(c);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                  buf[NGX_HTTP_WS_API_JWT_MAX_TOKEN * 2];
    u_char                  back[NGX_HTTP_WS_API_JWT_MAX_TOKEN * 2];
    u_char                  id[NGX_HTTP_WS_API_JWT_MAX_CLAIM + 1];
    char                    err[256], field[128];
    size_t                  id_len, n;
    json_t                 *j;
    ssize_t                 m;
    json_error_t            jerr;
    ngx_http_ws_api_jwt_t  *jwt;

    if (fuzz_jwt == NULL) {
        j = json_loads(fuzz_conf, 0, &jerr);
        fuzz_jwt = ngx_http_ws_api_jwt_create(j, err, sizeof(err), field,
                                              sizeof(field));
        json_decref(j);
        fuzz_assert_msg(fuzz_jwt != NULL, "%s: %s", field, err);
    }

    if (size == 0) {
        return 0;
    }

    switch (data[0] % 3) {

    case 0:
        fuzz_assert(ngx_http_ws_api_jwt_verify(fuzz_jwt, data + 1, size - 1,
                                               FUZZ_NOW, id, &id_len)
                    != NGX_HTTP_WS_API_JWT_OK);
        break;

    case 1:
        j = json_loadb((const char *) data + 1, size - 1, 0, &jerr);
        jwt = ngx_http_ws_api_jwt_create(j, err, sizeof(err), field,
                                         sizeof(field));
        json_decref(j);

        fuzz_assert(jwt != NULL || err[0] != '\0');

        if (jwt) {
            ngx_http_ws_api_jwt_verify(jwt, (u_char *) "eyJhbGciOiJIUzI1NiJ9"
                                       ".eyJzdWIiOiJhIn0.c2ln", 40,
                                       FUZZ_NOW, id, &id_len);
            ngx_http_ws_api_jwt_free(jwt);
        }

        break;

    default:
        fuzz_sign(data + 1, size - 1);
        break;
    }

    /* base64url: what decodes encodes back to the same text */

    if (size - 1 <= NGX_HTTP_WS_API_JWT_MAX_TOKEN) {
        m = ngx_http_ws_api_base64url_decode(buf, data + 1, size - 1);

        if (m >= 0) {
            n = ngx_http_ws_api_base64url_encode(back, buf, m);
            fuzz_assert(n == size - 1 && memcmp(back, data + 1, n) == 0);
        }
    }

    return 0;
}
