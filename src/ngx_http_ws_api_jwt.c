
/*
 * Copyright (C) ws-api authors
 */


/*
 * JWT verification for the identifyAndAccess policy, see
 * ngx_http_ws_api_jwt.h.
 *
 * The algorithm is bound to the key's type: an "oct" JWK is an HS256
 * secret and nothing else, an RSA key verifies RS256 only, a P-256 key
 * ES256 only.  A PEM text is always a public key, never an HMAC secret,
 * which rules out the confusion attack (an RS256 public key used as the
 * secret of an HS256 token).  "none" and every other algorithm are
 * refused, and so is any "crit" header: no extension is understood.
 */


#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "ngx_http_ws_api_jwt.h"


typedef enum {
    NGX_HTTP_WS_API_JWT_HS256 = 0,
    NGX_HTTP_WS_API_JWT_RS256,
    NGX_HTTP_WS_API_JWT_ES256
} ngx_http_ws_api_jwt_alg_e;


typedef struct {
    ngx_http_ws_api_jwt_alg_e   alg;
    char                       *kid;        /* NULL: none, matches any */
    size_t                      kid_len;
    u_char                     *secret;     /* HS256 */
    size_t                      secret_len;
    EVP_PKEY                   *pkey;       /* RS256, ES256 */
} ngx_http_ws_api_jwt_key_t;


struct ngx_http_ws_api_jwt_s {
    size_t                      nkeys;
    ngx_http_ws_api_jwt_key_t   keys[NGX_HTTP_WS_API_JWT_MAX_KEYS];
    char                       *issuer;     /* NULL: not checked */
    size_t                      issuer_len;
    char                       *audience;   /* NULL: not checked */
    size_t                      audience_len;
};


/* what a compile step reports */

typedef struct {
    char                       *err;
    size_t                      err_len;
    char                       *field;
    size_t                      field_len;
} ngx_http_ws_api_jwt_error_t;


static int ngx_http_ws_api_jwt_add(ngx_http_ws_api_jwt_t *jwt, json_t *k,
    const char *path, ngx_http_ws_api_jwt_error_t *e);
static int ngx_http_ws_api_jwt_pem(ngx_http_ws_api_jwt_key_t *key,
    json_t *pem, const char *path, ngx_http_ws_api_jwt_error_t *e);
static int ngx_http_ws_api_jwt_jwk(ngx_http_ws_api_jwt_key_t *key,
    json_t *jwk, const char *path, ngx_http_ws_api_jwt_error_t *e);
static EVP_PKEY *ngx_http_ws_api_jwt_rsa(json_t *jwk, const char *path,
    ngx_http_ws_api_jwt_error_t *e);
static EVP_PKEY *ngx_http_ws_api_jwt_ec(json_t *jwk, const char *path,
    ngx_http_ws_api_jwt_error_t *e);
static int ngx_http_ws_api_jwt_check_pkey(EVP_PKEY *pkey,
    ngx_http_ws_api_jwt_alg_e *alg, const char *path,
    ngx_http_ws_api_jwt_error_t *e);
static ssize_t ngx_http_ws_api_jwt_b64_member(json_t *jwk, const char *name,
    u_char *buf, size_t size, const char *path,
    ngx_http_ws_api_jwt_error_t *e);
static int ngx_http_ws_api_jwt_member(json_t *conf, const char *name,
    char **s, size_t *len, ngx_http_ws_api_jwt_error_t *e);
static int ngx_http_ws_api_jwt_string(json_t *v, size_t max, char **s,
    size_t *len);
static int ngx_http_ws_api_jwt_fail(ngx_http_ws_api_jwt_error_t *e,
    const char *path, const char *member, const char *fmt, ...);
static void ngx_http_ws_api_jwt_key_free(ngx_http_ws_api_jwt_key_t *key);
static int ngx_http_ws_api_jwt_alg(const char *s, size_t len);
static int ngx_http_ws_api_jwt_signed(const ngx_http_ws_api_jwt_key_t *key,
    const u_char *input, size_t input_len, const u_char *sig,
    size_t sig_len);
static int ngx_http_ws_api_jwt_time(json_t *v, int64_t *t);
static int ngx_http_ws_api_jwt_equal(json_t *v, const char *s, size_t len);


static const char  *ngx_http_ws_api_jwt_algs[] = { "HS256", "RS256", "ES256" };


ngx_http_ws_api_jwt_t *
ngx_http_ws_api_jwt_create(json_t *conf, char *err, size_t err_len,
    char *field, size_t field_len)
{
    char                         path[32];
    size_t                       i;
    json_t                      *keys, *v;
    const char                  *name;
    ngx_http_ws_api_jwt_t       *jwt;
    ngx_http_ws_api_jwt_error_t  e;

    e.err = err;
    e.err_len = err_len;
    e.field = field;
    e.field_len = field_len;

    if (field_len) {
        field[0] = '\0';
    }

    if (!json_is_object(conf)) {
        ngx_http_ws_api_jwt_fail(&e, "", "", "must be an object");
        return NULL;
    }

    json_object_foreach(conf, name, v) {
        if (strcmp(name, "keys") != 0 && strcmp(name, "issuer") != 0
            && strcmp(name, "audience") != 0)
        {
            ngx_http_ws_api_jwt_fail(&e, "", name, "is not a member of jwt "
                                     "(keys, issuer, audience)");
            return NULL;
        }
    }

    keys = json_object_get(conf, "keys");

    if (!json_is_array(keys) || json_array_size(keys) == 0) {
        ngx_http_ws_api_jwt_fail(&e, "", "keys", "must be a non-empty array "
                                 "of PEM public keys or JWKS objects");
        return NULL;
    }

    jwt = calloc(1, sizeof(ngx_http_ws_api_jwt_t));
    if (jwt == NULL) {
        ngx_http_ws_api_jwt_fail(&e, "", "", "out of memory");
        return NULL;
    }

    for (i = 0; i < json_array_size(keys); i++) {
        snprintf(path, sizeof(path), "keys[%zu]", i);

        if (ngx_http_ws_api_jwt_add(jwt, json_array_get(keys, i), path, &e)
            != 0)
        {
            goto failed;
        }
    }

    if (ngx_http_ws_api_jwt_member(conf, "issuer", &jwt->issuer,
                                   &jwt->issuer_len, &e)
        != 0
        || ngx_http_ws_api_jwt_member(conf, "audience", &jwt->audience,
                                      &jwt->audience_len, &e)
           != 0)
    {
        goto failed;
    }

    return jwt;

failed:

    ngx_http_ws_api_jwt_free(jwt);

    return NULL;
}


void
ngx_http_ws_api_jwt_free(ngx_http_ws_api_jwt_t *jwt)
{
    size_t  i;

    if (jwt == NULL) {
        return;
    }

    for (i = 0; i < jwt->nkeys; i++) {
        ngx_http_ws_api_jwt_key_free(&jwt->keys[i]);
    }

    free(jwt->issuer);
    free(jwt->audience);
    free(jwt);
}


/* one element of "keys": a PEM text, a JWK, or a JWKS of JWKs */

static int
ngx_http_ws_api_jwt_add(ngx_http_ws_api_jwt_t *jwt, json_t *k,
    const char *path, ngx_http_ws_api_jwt_error_t *e)
{
    int                         rc;
    char                        sub[64];
    size_t                      i;
    json_t                     *set;
    ngx_http_ws_api_jwt_key_t  *key;

    if (json_is_object(k) && (set = json_object_get(k, "keys")) != NULL) {

        if (!json_is_array(set) || json_array_size(set) == 0) {
            return ngx_http_ws_api_jwt_fail(e, path, "keys", "must be a "
                                            "non-empty array of JWKs");
        }

        for (i = 0; i < json_array_size(set); i++) {
            snprintf(sub, sizeof(sub), "%s.keys[%zu]", path, i);

            if (ngx_http_ws_api_jwt_add(jwt, json_array_get(set, i), sub, e)
                != 0)
            {
                return -1;
            }
        }

        return 0;
    }

    if (jwt->nkeys == NGX_HTTP_WS_API_JWT_MAX_KEYS) {
        return ngx_http_ws_api_jwt_fail(e, path, "", "is one key too many "
                                        "(at most %d)",
                                        NGX_HTTP_WS_API_JWT_MAX_KEYS);
    }

    key = &jwt->keys[jwt->nkeys];
    memset(key, 0, sizeof(ngx_http_ws_api_jwt_key_t));

    if (json_is_string(k)) {
        rc = ngx_http_ws_api_jwt_pem(key, k, path, e);

    } else if (json_is_object(k)) {
        rc = ngx_http_ws_api_jwt_jwk(key, k, path, e);

    } else {
        rc = ngx_http_ws_api_jwt_fail(e, path, "", "must be a PEM public "
                                      "key, a JWK or a JWKS object");
    }

    if (rc != 0) {
        ngx_http_ws_api_jwt_key_free(key);
        return -1;
    }

    jwt->nkeys++;

    return 0;
}


/* "-----BEGIN PUBLIC KEY-----": an RSA or a P-256 key, never a secret */

static int
ngx_http_ws_api_jwt_pem(ngx_http_ws_api_jwt_key_t *key, json_t *pem,
    const char *path, ngx_http_ws_api_jwt_error_t *e)
{
    BIO         *bio;
    size_t       len;
    const char  *s;

    s = json_string_value(pem);
    len = json_string_length(pem);

    if (len > NGX_HTTP_WS_API_JWT_MAX_PEM
        || strstr(s, "-----BEGIN PUBLIC KEY-----") == NULL)
    {
        return ngx_http_ws_api_jwt_fail(e, path, "", "must be a PEM public "
                                        "key (\"-----BEGIN PUBLIC KEY-----\""
                                        ") of at most %d bytes",
                                        NGX_HTTP_WS_API_JWT_MAX_PEM);
    }

    bio = BIO_new_mem_buf(s, (int) len);
    if (bio == NULL) {
        return ngx_http_ws_api_jwt_fail(e, path, "", "out of memory");
    }

    key->pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);

    BIO_free(bio);

    if (key->pkey == NULL) {
        return ngx_http_ws_api_jwt_fail(e, path, "", "is not a valid PEM "
                                        "public key");
    }

    return ngx_http_ws_api_jwt_check_pkey(key->pkey, &key->alg, path, e);
}


/* a JWK: kty "oct" (k), "RSA" (n, e) or "EC" (crv P-256, x, y) */

static int
ngx_http_ws_api_jwt_jwk(ngx_http_ws_api_jwt_key_t *key, json_t *jwk,
    const char *path, ngx_http_ws_api_jwt_error_t *e)
{
    u_char       buf[1024];
    ssize_t      n;
    json_t      *kty, *v;
    const char  *t;

    kty = json_object_get(jwk, "kty");

    if (!json_is_string(kty)) {
        return ngx_http_ws_api_jwt_fail(e, path, "kty", "must be \"oct\", "
                                        "\"RSA\" or \"EC\"");
    }

    t = json_string_value(kty);

    if (strcmp(t, "oct") == 0) {
        key->alg = NGX_HTTP_WS_API_JWT_HS256;

        n = ngx_http_ws_api_jwt_b64_member(jwk, "k", buf, sizeof(buf), path,
                                           e);
        if (n < 0) {
            return -1;
        }

        if (n < NGX_HTTP_WS_API_JWT_MIN_SECRET) {
            OPENSSL_cleanse(buf, sizeof(buf));
            return ngx_http_ws_api_jwt_fail(e, path, "k", "must hold at "
                                            "least %d bytes",
                                            NGX_HTTP_WS_API_JWT_MIN_SECRET);
        }

        key->secret = malloc(n);
        if (key->secret == NULL) {
            OPENSSL_cleanse(buf, sizeof(buf));
            return ngx_http_ws_api_jwt_fail(e, path, "", "out of memory");
        }

        memcpy(key->secret, buf, n);
        key->secret_len = n;
        OPENSSL_cleanse(buf, sizeof(buf));

    } else if (strcmp(t, "RSA") == 0 || strcmp(t, "EC") == 0) {

        if (json_object_get(jwk, "d") != NULL) {
            return ngx_http_ws_api_jwt_fail(e, path, "d", "is a private key: "
                                            "give the public key only");
        }

        key->pkey = (t[0] == 'R') ? ngx_http_ws_api_jwt_rsa(jwk, path, e)
                                  : ngx_http_ws_api_jwt_ec(jwk, path, e);
        if (key->pkey == NULL) {
            return -1;
        }

        if (ngx_http_ws_api_jwt_check_pkey(key->pkey, &key->alg, path, e)
            != 0)
        {
            return -1;
        }

    } else {
        return ngx_http_ws_api_jwt_fail(e, path, "kty", "must be \"oct\", "
                                        "\"RSA\" or \"EC\"");
    }

    v = json_object_get(jwk, "alg");

    if (v && (!json_is_string(v)
              || ngx_http_ws_api_jwt_alg(json_string_value(v),
                                         json_string_length(v))
                 != (int) key->alg))
    {
        return ngx_http_ws_api_jwt_fail(e, path, "alg", "must be \"%s\" for "
                                        "this key type",
                                        ngx_http_ws_api_jwt_algs[key->alg]);
    }

    v = json_object_get(jwk, "use");

    if (v && !(json_is_string(v) && strcmp(json_string_value(v), "sig") == 0))
    {
        return ngx_http_ws_api_jwt_fail(e, path, "use", "must be \"sig\"");
    }

    v = json_object_get(jwk, "kid");

    if (v && ngx_http_ws_api_jwt_string(v, NGX_HTTP_WS_API_JWT_MAX_KID,
                                        &key->kid, &key->kid_len)
             != 0)
    {
        return ngx_http_ws_api_jwt_fail(e, path, "kid", "must be a string "
                                        "of 1 to %d bytes",
                                        NGX_HTTP_WS_API_JWT_MAX_KID);
    }

    return 0;
}


static EVP_PKEY *
ngx_http_ws_api_jwt_rsa(json_t *jwk, const char *path,
    ngx_http_ws_api_jwt_error_t *e)
{
    u_char           nb[1024], eb[16];
    BIGNUM          *n, *x;
    ssize_t          nlen, elen;
    EVP_PKEY        *pkey;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *ctx;
    OSSL_PARAM_BLD  *bld;

    nlen = ngx_http_ws_api_jwt_b64_member(jwk, "n", nb, sizeof(nb), path, e);
    if (nlen < 0) {
        return NULL;
    }

    elen = ngx_http_ws_api_jwt_b64_member(jwk, "e", eb, sizeof(eb), path, e);
    if (elen < 0) {
        return NULL;
    }

    pkey = NULL;
    params = NULL;
    ctx = NULL;

    n = BN_bin2bn(nb, (int) nlen, NULL);
    x = BN_bin2bn(eb, (int) elen, NULL);
    bld = OSSL_PARAM_BLD_new();

    if (n == NULL || x == NULL || bld == NULL
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, x)
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL
        || (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL
        || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        ngx_http_ws_api_jwt_fail(e, path, "n", "and e are not a valid RSA "
                                 "public key");
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(x);

    return pkey;
}


static EVP_PKEY *
ngx_http_ws_api_jwt_ec(json_t *jwk, const char *path,
    ngx_http_ws_api_jwt_error_t *e)
{
    u_char           point[65], buf[64];
    json_t          *crv;
    ssize_t          n;
    EVP_PKEY        *pkey;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *ctx;
    OSSL_PARAM_BLD  *bld;

    crv = json_object_get(jwk, "crv");

    if (!json_is_string(crv) || strcmp(json_string_value(crv), "P-256") != 0)
    {
        ngx_http_ws_api_jwt_fail(e, path, "crv", "must be \"P-256\"");
        return NULL;
    }

    /* the uncompressed point: 0x04 x y */

    point[0] = 0x04;

    n = ngx_http_ws_api_jwt_b64_member(jwk, "x", buf, sizeof(buf), path, e);
    if (n < 0) {
        return NULL;
    }

    if (n != 32) {
        ngx_http_ws_api_jwt_fail(e, path, "x", "must be 32 bytes");
        return NULL;
    }

    memcpy(point + 1, buf, 32);

    n = ngx_http_ws_api_jwt_b64_member(jwk, "y", buf, sizeof(buf), path, e);
    if (n < 0) {
        return NULL;
    }

    if (n != 32) {
        ngx_http_ws_api_jwt_fail(e, path, "y", "must be 32 bytes");
        return NULL;
    }

    memcpy(point + 33, buf, 32);

    pkey = NULL;
    params = NULL;
    ctx = NULL;

    bld = OSSL_PARAM_BLD_new();

    if (bld == NULL
        || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                            "prime256v1", 0)
        || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                             point, sizeof(point))
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL
        || (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL
        || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        ngx_http_ws_api_jwt_fail(e, path, "x", "and y are not a point of "
                                 "P-256");
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);

    return pkey;
}


/* the key's algorithm from its type; RSA of 2048 bits or more, P-256 */

static int
ngx_http_ws_api_jwt_check_pkey(EVP_PKEY *pkey, ngx_http_ws_api_jwt_alg_e *alg,
    const char *path, ngx_http_ws_api_jwt_error_t *e)
{
    int            ok;
    char           group[64];
    size_t         len;
    EVP_PKEY_CTX  *ctx;

    if (EVP_PKEY_is_a(pkey, "RSA")) {
        *alg = NGX_HTTP_WS_API_JWT_RS256;

        if (EVP_PKEY_get_bits(pkey) < NGX_HTTP_WS_API_JWT_MIN_RSA) {
            return ngx_http_ws_api_jwt_fail(e, path, "", "is an RSA key of "
                                            "%d bits, under %d",
                                            EVP_PKEY_get_bits(pkey),
                                            NGX_HTTP_WS_API_JWT_MIN_RSA);
        }

    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        *alg = NGX_HTTP_WS_API_JWT_ES256;

        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1
            || strcmp(group, "prime256v1") != 0)
        {
            return ngx_http_ws_api_jwt_fail(e, path, "", "is an EC key of "
                                            "another curve than P-256");
        }

    } else {
        return ngx_http_ws_api_jwt_fail(e, path, "", "is neither an RSA nor "
                                        "a P-256 key");
    }

    /* the point on the curve, the modulus odd... */

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (ctx == NULL) {
        return ngx_http_ws_api_jwt_fail(e, path, "", "out of memory");
    }

    ok = (EVP_PKEY_public_check(ctx) == 1);

    EVP_PKEY_CTX_free(ctx);

    if (!ok) {
        return ngx_http_ws_api_jwt_fail(e, path, "", "is not a valid public "
                                        "key");
    }

    return 0;
}


static ssize_t
ngx_http_ws_api_jwt_b64_member(json_t *jwk, const char *name, u_char *buf,
    size_t size, const char *path, ngx_http_ws_api_jwt_error_t *e)
{
    json_t   *v;
    ssize_t   n;

    v = json_object_get(jwk, name);

    if (!json_is_string(v) || json_string_length(v) == 0
        || json_string_length(v) > size * 4 / 3)
    {
        return ngx_http_ws_api_jwt_fail(e, path, name, "must be a base64url "
                                        "string of at most %zu bytes", size);
    }

    n = ngx_http_ws_api_base64url_decode(buf,
                                         (const u_char *) json_string_value(v),
                                         json_string_length(v));
    if (n < 0) {
        return ngx_http_ws_api_jwt_fail(e, path, name, "is not base64url "
                                        "without padding");
    }

    return n;
}


/* "issuer" or "audience": optional, 1 to 256 bytes */

static int
ngx_http_ws_api_jwt_member(json_t *conf, const char *name, char **s,
    size_t *len, ngx_http_ws_api_jwt_error_t *e)
{
    json_t  *v;

    v = json_object_get(conf, name);

    if (v && ngx_http_ws_api_jwt_string(v, NGX_HTTP_WS_API_JWT_MAX_CLAIM, s,
                                        len)
             != 0)
    {
        return ngx_http_ws_api_jwt_fail(e, "", name, "must be a string of 1 "
                                        "to %d bytes",
                                        NGX_HTTP_WS_API_JWT_MAX_CLAIM);
    }

    return 0;
}


static int
ngx_http_ws_api_jwt_string(json_t *v, size_t max, char **s, size_t *len)
{
    if (!json_is_string(v) || json_string_length(v) == 0
        || json_string_length(v) > max)
    {
        return -1;
    }

    *len = json_string_length(v);
    *s = malloc(*len + 1);

    if (*s == NULL) {
        return -1;
    }

    memcpy(*s, json_string_value(v), *len + 1);

    return 0;
}


static int
ngx_http_ws_api_jwt_fail(ngx_http_ws_api_jwt_error_t *e, const char *path,
    const char *member, const char *fmt, ...)
{
    int      n;
    va_list  args;

    n = snprintf(e->field, e->field_len, "%s%s%s", path,
                 (path[0] && member[0]) ? "." : "", member);

    if (n < 0 || (size_t) n >= e->field_len) {
        e->field[0] = '\0';
    }

    va_start(args, fmt);
    vsnprintf(e->err, e->err_len, fmt, args);
    va_end(args);

    return -1;
}


static void
ngx_http_ws_api_jwt_key_free(ngx_http_ws_api_jwt_key_t *key)
{
    if (key->secret) {
        OPENSSL_cleanse(key->secret, key->secret_len);
        free(key->secret);
    }

    EVP_PKEY_free(key->pkey);
    free(key->kid);

    memset(key, 0, sizeof(ngx_http_ws_api_jwt_key_t));
}


static int
ngx_http_ws_api_jwt_alg(const char *s, size_t len)
{
    int  i;

    for (i = 0; i < 3; i++) {
        if (len == 5 && memcmp(s, ngx_http_ws_api_jwt_algs[i], 5) == 0) {
            return i;
        }
    }

    return -1;
}


ngx_http_ws_api_jwt_rc_e
ngx_http_ws_api_jwt_verify(const ngx_http_ws_api_jwt_t *jwt,
    const u_char *token, size_t len, int64_t now, u_char *id, size_t *id_len)
{
    int                               alg, tried;
    u_char                            buf[NGX_HTTP_WS_API_JWT_MAX_TOKEN];
    u_char                            sig[1024];
    size_t                            i, hlen, plen, slen, blen, kid_len;
    json_t                           *header, *claims, *v, *a;
    int64_t                           t;
    ssize_t                           n;
    const char                       *kid;
    json_error_t                      jerr;
    const u_char                     *p1, *p2;
    ngx_http_ws_api_jwt_rc_e          rc;
    const ngx_http_ws_api_jwt_key_t  *key;

    if (len == 0 || len > NGX_HTTP_WS_API_JWT_MAX_TOKEN) {
        return NGX_HTTP_WS_API_JWT_MALFORMED;
    }

    /* exactly three parts: header.payload.signature */

    p1 = memchr(token, '.', len);
    if (p1 == NULL) {
        return NGX_HTTP_WS_API_JWT_MALFORMED;
    }

    p2 = memchr(p1 + 1, '.', token + len - (p1 + 1));
    if (p2 == NULL || memchr(p2 + 1, '.', token + len - (p2 + 1)) != NULL) {
        return NGX_HTTP_WS_API_JWT_MALFORMED;
    }

    hlen = p1 - token;
    plen = p2 - (p1 + 1);
    slen = token + len - (p2 + 1);

    if (hlen == 0 || plen == 0
        || hlen > ngx_http_ws_api_base64url_encoded_len(
                      NGX_HTTP_WS_API_JWT_MAX_HEADER))
    {
        return NGX_HTTP_WS_API_JWT_MALFORMED;
    }

    /* the header */

    n = ngx_http_ws_api_base64url_decode(buf, token, hlen);
    if (n < 0) {
        return NGX_HTTP_WS_API_JWT_MALFORMED;
    }

    header = json_loadb((const char *) buf, n, JSON_REJECT_DUPLICATES, &jerr);

    if (!json_is_object(header)) {
        json_decref(header);
        return NGX_HTTP_WS_API_JWT_MALFORMED;
    }

    rc = NGX_HTTP_WS_API_JWT_MALFORMED;
    claims = NULL;

    v = json_object_get(header, "alg");

    if (!json_is_string(v)) {
        goto done;
    }

    alg = ngx_http_ws_api_jwt_alg(json_string_value(v),
                                  json_string_length(v));
    if (alg < 0) {
        rc = NGX_HTTP_WS_API_JWT_ALG;
        goto done;
    }

    if (json_object_get(header, "crit") != NULL) {
        goto done;
    }

    kid = NULL;
    kid_len = 0;

    v = json_object_get(header, "kid");

    if (v) {
        if (!json_is_string(v)) {
            goto done;
        }

        kid = json_string_value(v);
        kid_len = json_string_length(v);
    }

    /* the claims and the signature decoded: both parts well formed */

    n = ngx_http_ws_api_base64url_decode(buf, p1 + 1, plen);
    if (n < 0) {
        goto done;
    }

    blen = n;

    if (slen == 0 || slen > ngx_http_ws_api_base64url_encoded_len(sizeof(sig)))
    {
        goto done;
    }

    n = ngx_http_ws_api_base64url_decode(sig, p2 + 1, slen);
    if (n < 0) {
        goto done;
    }

    /* the signature, by every key of the algorithm that the kid allows */

    tried = 0;
    rc = NGX_HTTP_WS_API_JWT_SIGNATURE;

    for (i = 0; i < jwt->nkeys; i++) {
        key = &jwt->keys[i];

        if ((int) key->alg != alg
            || (kid && key->kid
                && (key->kid_len != kid_len
                    || memcmp(key->kid, kid, kid_len) != 0)))
        {
            continue;
        }

        tried = 1;

        if (ngx_http_ws_api_jwt_signed(key, token, p2 - token, sig, n)) {
            rc = NGX_HTTP_WS_API_JWT_OK;
            break;
        }
    }

    if (!tried) {
        rc = NGX_HTTP_WS_API_JWT_NO_KEY;
        goto done;
    }

    if (rc != NGX_HTTP_WS_API_JWT_OK) {
        goto done;
    }

    /* the claims, signed */

    rc = NGX_HTTP_WS_API_JWT_MALFORMED;

    claims = json_loadb((const char *) buf, blen, JSON_REJECT_DUPLICATES,
                        &jerr);

    if (!json_is_object(claims)) {
        goto done;
    }

    v = json_object_get(claims, "exp");

    if (v == NULL) {
        rc = NGX_HTTP_WS_API_JWT_EXPIRED;
        goto done;
    }

    if (ngx_http_ws_api_jwt_time(v, &t) != 0) {
        goto done;
    }

    if (now >= t + NGX_HTTP_WS_API_JWT_LEEWAY) {
        rc = NGX_HTTP_WS_API_JWT_EXPIRED;
        goto done;
    }

    v = json_object_get(claims, "nbf");

    if (v) {
        if (ngx_http_ws_api_jwt_time(v, &t) != 0) {
            goto done;
        }

        if (now + NGX_HTTP_WS_API_JWT_LEEWAY < t) {
            rc = NGX_HTTP_WS_API_JWT_NOT_YET;
            goto done;
        }
    }

    if (jwt->issuer
        && !ngx_http_ws_api_jwt_equal(json_object_get(claims, "iss"),
                                      jwt->issuer, jwt->issuer_len))
    {
        rc = NGX_HTTP_WS_API_JWT_ISSUER;
        goto done;
    }

    if (jwt->audience) {
        v = json_object_get(claims, "aud");

        if (json_is_array(v)) {
            for (i = 0; i < json_array_size(v); i++) {
                a = json_array_get(v, i);

                if (ngx_http_ws_api_jwt_equal(a, jwt->audience,
                                              jwt->audience_len))
                {
                    break;
                }
            }

            if (i == json_array_size(v)) {
                rc = NGX_HTTP_WS_API_JWT_AUDIENCE;
                goto done;
            }

        } else if (!ngx_http_ws_api_jwt_equal(v, jwt->audience,
                                              jwt->audience_len))
        {
            rc = NGX_HTTP_WS_API_JWT_AUDIENCE;
            goto done;
        }
    }

    /* the application: client_id (RFC 9068), else sub */

    v = json_object_get(claims, "client_id");

    if (v == NULL) {
        v = json_object_get(claims, "sub");
    }

    if (!json_is_string(v) || json_string_length(v) == 0
        || json_string_length(v) > NGX_HTTP_WS_API_JWT_MAX_CLAIM)
    {
        rc = NGX_HTTP_WS_API_JWT_SUBJECT;
        goto done;
    }

    *id_len = json_string_length(v);
    memcpy(id, json_string_value(v), *id_len);
    id[*id_len] = '\0';

    rc = NGX_HTTP_WS_API_JWT_OK;

done:

    json_decref(claims);
    json_decref(header);

    return rc;
}


static int
ngx_http_ws_api_jwt_signed(const ngx_http_ws_api_jwt_key_t *key,
    const u_char *input, size_t input_len, const u_char *sig, size_t sig_len)
{
    int            ok, der_len;
    u_char         md[EVP_MAX_MD_SIZE], *der, *p;
    BIGNUM        *r, *s;
    unsigned int   md_len;
    EVP_MD_CTX    *ctx;
    ECDSA_SIG     *es;

    if (key->alg == NGX_HTTP_WS_API_JWT_HS256) {

        if (sig_len != 32
            || HMAC(EVP_sha256(), key->secret, (int) key->secret_len, input,
                    input_len, md, &md_len)
               == NULL
            || md_len != 32)
        {
            return 0;
        }

        ok = (CRYPTO_memcmp(md, sig, 32) == 0);

        OPENSSL_cleanse(md, sizeof(md));

        return ok;
    }

    der = NULL;
    der_len = 0;

    if (key->alg == NGX_HTTP_WS_API_JWT_ES256) {

        /* JOSE's r || s (RFC 7518 3.4) to the DER that OpenSSL reads */

        if (sig_len != 64) {
            return 0;
        }

        es = ECDSA_SIG_new();
        r = BN_bin2bn(sig, 32, NULL);
        s = BN_bin2bn(sig + 32, 32, NULL);

        if (es == NULL || r == NULL || s == NULL
            || ECDSA_SIG_set0(es, r, s) != 1)
        {
            BN_free(r);
            BN_free(s);
            ECDSA_SIG_free(es);
            return 0;
        }

        der_len = i2d_ECDSA_SIG(es, NULL);

        if (der_len <= 0 || (der = malloc(der_len)) == NULL) {
            ECDSA_SIG_free(es);
            return 0;
        }

        p = der;
        der_len = i2d_ECDSA_SIG(es, &p);

        ECDSA_SIG_free(es);

        if (der_len <= 0) {
            free(der);
            return 0;
        }

        sig = der;
        sig_len = der_len;

    } else if (sig_len != (size_t) EVP_PKEY_get_size(key->pkey)) {
        return 0;
    }

    ctx = EVP_MD_CTX_new();

    ok = (ctx != NULL
          && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key->pkey)
             == 1
          && EVP_DigestVerify(ctx, sig, sig_len, input, input_len) == 1);

    EVP_MD_CTX_free(ctx);
    free(der);

    return ok;
}


/* a NumericDate: seconds, an integer or a finite real (floored) */

static int
ngx_http_ws_api_jwt_time(json_t *v, int64_t *t)
{
    double  d;

    /* far enough for any date, near enough that t + leeway cannot wrap */

    static const int64_t  max = (int64_t) 1 << 53;

    if (json_is_integer(v)) {
        *t = json_integer_value(v);

    } else if (json_is_real(v)) {
        d = floor(json_real_value(v));

        if (!isfinite(d)) {
            return -1;
        }

        *t = (d > (double) max) ? max : (d < (double) -max) ? -max
                                                            : (int64_t) d;

    } else {
        return -1;
    }

    if (*t > max) {
        *t = max;

    } else if (*t < -max) {
        *t = -max;
    }

    return 0;
}


static int
ngx_http_ws_api_jwt_equal(json_t *v, const char *s, size_t len)
{
    return json_is_string(v) && json_string_length(v) == len
           && memcmp(json_string_value(v), s, len) == 0;
}


const char *
ngx_http_ws_api_jwt_rc_text(ngx_http_ws_api_jwt_rc_e rc)
{
    static const char  *texts[] = {
        "valid",
        "malformed token",
        "algorithm not accepted",
        "no key for the token's algorithm and kid",
        "bad signature",
        "expired or without exp",
        "not yet valid",
        "wrong issuer",
        "wrong audience",
        "no client_id or sub"
    };

    if ((size_t) rc >= sizeof(texts) / sizeof(texts[0])) {
        return "unknown";
    }

    return texts[rc];
}


static const u_char  ngx_http_ws_api_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


size_t
ngx_http_ws_api_base64url_encode(u_char *dst, const u_char *src, size_t len)
{
    u_char  *d;

    d = dst;

    while (len >= 3) {
        *d++ = ngx_http_ws_api_b64url[src[0] >> 2];
        *d++ = ngx_http_ws_api_b64url[((src[0] & 0x03) << 4) | (src[1] >> 4)];
        *d++ = ngx_http_ws_api_b64url[((src[1] & 0x0f) << 2) | (src[2] >> 6)];
        *d++ = ngx_http_ws_api_b64url[src[2] & 0x3f];

        src += 3;
        len -= 3;
    }

    if (len) {
        *d++ = ngx_http_ws_api_b64url[src[0] >> 2];

        if (len == 1) {
            *d++ = ngx_http_ws_api_b64url[(src[0] & 0x03) << 4];

        } else {
            *d++ = ngx_http_ws_api_b64url[((src[0] & 0x03) << 4)
                                          | (src[1] >> 4)];
            *d++ = ngx_http_ws_api_b64url[(src[1] & 0x0f) << 2];
        }
    }

    return d - dst;
}


static int
ngx_http_ws_api_b64url_value(u_char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '-') {
        return 62;
    }

    if (c == '_') {
        return 63;
    }

    return -1;
}


ssize_t
ngx_http_ws_api_base64url_decode(u_char *dst, const u_char *src, size_t len)
{
    int      v[4];
    size_t   i, j, rest;
    u_char  *d;

    rest = len % 4;

    if (rest == 1) {
        return -1;
    }

    d = dst;

    for (i = 0; i < len; i += 4) {

        for (j = 0; j < 4 && i + j < len; j++) {
            v[j] = ngx_http_ws_api_b64url_value(src[i + j]);

            if (v[j] < 0) {
                return -1;
            }
        }

        if (j == 4) {
            *d++ = (u_char) (v[0] << 2 | v[1] >> 4);
            *d++ = (u_char) (v[1] << 4 | v[2] >> 2);
            *d++ = (u_char) (v[2] << 6 | v[3]);
            continue;
        }

        /* the last 2 or 3 characters: their unused bits are zero */

        *d++ = (u_char) (v[0] << 2 | v[1] >> 4);

        if (j == 2) {
            if (v[1] & 0x0f) {
                return -1;
            }

        } else {
            *d++ = (u_char) (v[1] << 4 | v[2] >> 2);

            if (v[2] & 0x03) {
                return -1;
            }
        }
    }

    return d - dst;
}


void
ngx_http_ws_api_sha256_hex(u_char *hex, const u_char *data, size_t len)
{
    u_char  md[SHA256_DIGEST_LENGTH];
    size_t  i;

    static const u_char  digits[] = "0123456789abcdef";

    SHA256(data, len, md);

    for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0x0f];
    }
}


void
ngx_http_ws_api_sha256(u_char *md, const u_char *data, size_t len)
{
    SHA256(data, len, md);
}
