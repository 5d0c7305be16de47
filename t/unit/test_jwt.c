
/*
 * Copyright (C) ws-api authors
 */


/*
 * Unit tests of the JWT verification of the identifyAndAccess policy
 * (src/ngx_http_ws_api_jwt.c): key sets, algorithms bound to key types,
 * signatures, time claims with their leeway, issuer, audience, kid, the
 * application id, and the base64url and SHA-256 helpers.  Keys are
 * generated here and tokens signed here, with OpenSSL.
 */


#include <stdlib.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "tap.h"
#include "ngx_http_ws_api_jwt.h"


#define NOW      1800000000LL
#define SECRET   "0123456789abcdef0123456789abcdef"     /* 32 bytes */
#define SECRET2  "fedcba9876543210fedcba9876543210"

#define R_OK         NGX_HTTP_WS_API_JWT_OK
#define R_MALFORMED  NGX_HTTP_WS_API_JWT_MALFORMED
#define R_ALG        NGX_HTTP_WS_API_JWT_ALG
#define R_NO_KEY     NGX_HTTP_WS_API_JWT_NO_KEY
#define R_SIGNATURE  NGX_HTTP_WS_API_JWT_SIGNATURE
#define R_EXPIRED    NGX_HTTP_WS_API_JWT_EXPIRED
#define R_NOT_YET    NGX_HTTP_WS_API_JWT_NOT_YET
#define R_ISSUER     NGX_HTTP_WS_API_JWT_ISSUER
#define R_AUDIENCE   NGX_HTTP_WS_API_JWT_AUDIENCE
#define R_SUBJECT    NGX_HTTP_WS_API_JWT_SUBJECT


static EVP_PKEY  *rsa, *rsa2, *ec, *ec2;
static char       rsa_pem[4096], rsa2_pem[4096], ec_pem[1024];
static char       rsa_jwk[2048], ec_jwk[1024], oct_jwk[256];


static char *
b64(const void *data, size_t len)
{
    static char  bufs[4][8192];
    static int   n;
    char        *b;

    b = bufs[n++ % 4];
    b[ngx_http_ws_api_base64url_encode((u_char *) b, data, len)] = '\0';

    return b;
}


static void
pem_of(EVP_PKEY *pkey, char *out, size_t size)
{
    BIO   *bio;
    char  *p;
    long   n;

    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, pkey);
    n = BIO_get_mem_data(bio, &p);
    snprintf(out, size, "%.*s", (int) n, p);
    BIO_free(bio);
}


static void
jwk_rsa(EVP_PKEY *pkey, const char *kid, char *out, size_t size)
{
    u_char   nb[1024], eb[16];
    BIGNUM  *n = NULL, *e = NULL;
    int      nl, el;

    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e);
    nl = BN_bn2bin(n, nb);
    el = BN_bn2bin(e, eb);

    snprintf(out, size, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\","
             "\"e\":\"%s\"}", kid, b64(nb, nl), b64(eb, el));

    BN_free(n);
    BN_free(e);
}


static void
jwk_ec(EVP_PKEY *pkey, const char *kid, char *out, size_t size)
{
    u_char  pt[65];
    size_t  len;

    EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pt,
                                    sizeof(pt), &len);

    snprintf(out, size, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\","
             "\"x\":\"%s\",\"y\":\"%s\"}", kid, b64(pt + 1, 32),
             b64(pt + 33, 32));
}


/* header.claims signed: alg from the header; key NULL means HMAC */

static char *
token(const char *header, const char *claims, const char *secret,
    size_t secret_len, EVP_PKEY *pkey, int der)
{
    static char    tok[8192];
    u_char         sig[1024], raw[64];
    size_t         sig_len, n;
    unsigned int   md_len;
    EVP_MD_CTX    *ctx;
    ECDSA_SIG     *es;
    const u_char  *p;
    const BIGNUM  *r, *s;

    n = snprintf(tok, sizeof(tok), "%s.", b64(header, strlen(header)));
    n += snprintf(tok + n, sizeof(tok) - n, "%s",
                  b64(claims, strlen(claims)));

    if (pkey == NULL) {
        HMAC(EVP_sha256(), secret, (int) secret_len, (u_char *) tok, n, sig,
             &md_len);
        sig_len = md_len;

    } else {
        ctx = EVP_MD_CTX_new();
        sig_len = sizeof(sig);
        EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey);
        EVP_DigestSign(ctx, sig, &sig_len, (u_char *) tok, n);
        EVP_MD_CTX_free(ctx);

        if (EVP_PKEY_is_a(pkey, "EC") && !der) {
            p = sig;
            es = d2i_ECDSA_SIG(NULL, &p, sig_len);
            ECDSA_SIG_get0(es, &r, &s);
            BN_bn2binpad(r, raw, 32);
            BN_bn2binpad(s, raw + 32, 32);
            ECDSA_SIG_free(es);
            memcpy(sig, raw, 64);
            sig_len = 64;
        }
    }

    snprintf(tok + n, sizeof(tok) - n, ".%s", b64(sig, sig_len));

    return tok;
}


static ngx_http_ws_api_jwt_t *
conf(const char *text, char *err, char *field)
{
    json_t                 *j;
    json_error_t            jerr;
    ngx_http_ws_api_jwt_t  *jwt;

    j = json_loads(text, 0, &jerr);

    if (j == NULL) {
        tap_diag("bad test JSON: %s: %s", jerr.text, text);
        return NULL;
    }

    jwt = ngx_http_ws_api_jwt_create(j, err, 256, field, 128);
    json_decref(j);

    return jwt;
}


static int
verify(ngx_http_ws_api_jwt_t *jwt, const char *tok, int64_t now, char *id)
{
    size_t  len;
    u_char  buf[NGX_HTTP_WS_API_JWT_MAX_CLAIM + 1];

    buf[0] = '\0';

    len = 0;

    int rc = ngx_http_ws_api_jwt_verify(jwt, (const u_char *) tok,
                                        strlen(tok), now, buf, &len);

    if (id) {
        memcpy(id, buf, len);
        id[len] = '\0';
    }

    return rc;
}


static char *
json_str(const char *s)
{
    static char  bufs[4][8192];
    static int   n;
    char        *b, *d;

    b = bufs[n++ % 4];
    d = b;
    *d++ = '"';

    for (; *s; s++) {
        if (*s == '\n') {
            *d++ = '\\';
            *d++ = 'n';

        } else {
            *d++ = *s;
        }
    }

    *d++ = '"';
    *d = '\0';

    return b;
}


static void
test_create(void)
{
    char                    err[256], field[128], text[8192];
    ngx_http_ws_api_jwt_t  *jwt;

    static const struct {
        const char  *conf;
        const char  *field;
    } bad[] = {
        { "[]", "" },
        { "{}", "keys" },
        { "{\"keys\": []}", "keys" },
        { "{\"keys\": {}}", "keys" },
        { "{\"keys\": [1]}", "keys[0]" },
        { "{\"keys\": [\"not a pem\"]}", "keys[0]" },
        { "{\"keys\": [\"-----BEGIN PUBLIC KEY-----\\nAAAA\\n"
          "-----END PUBLIC KEY-----\\n\"]}", "keys[0]" },
        { "{\"keys\": [{\"kty\": \"oct\", \"k\": \"c2hvcnQ\"}]}",
          "keys[0].k" },
        { "{\"keys\": [{\"kty\": \"oct\"}]}", "keys[0].k" },
        { "{\"keys\": [{\"kty\": \"oct\", \"k\": \"a===\"}]}", "keys[0].k" },
        { "{\"keys\": [{\"kty\": \"none\"}]}", "keys[0].kty" },
        { "{\"keys\": [{\"k\": \"x\"}]}", "keys[0].kty" },
        { "{\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-384\", \"x\": \"AA\", "
          "\"y\": \"AA\"}]}", "keys[0].crv" },
        { "{\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-256\", "
          "\"x\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\", "
          "\"y\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
          "keys[0].x" },
        { "{\"keys\": [{\"kty\": \"RSA\", \"n\": \"AQAB\", \"e\": \"AQAB\"}]}",
          "keys[0]" },
        { "{\"keys\": [{\"keys\": []}]}", "keys[0].keys" },
        { "{\"keys\": [{\"keys\": [{\"kty\": \"oct\", \"k\": \"\"}]}]}",
          "keys[0].keys[0].k" },
        { "{\"keys\": [{\"kty\": \"oct\", \"alg\": \"RS256\", \"k\": "
          "\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}]}",
          "keys[0].alg" },
        { "{\"keys\": [{\"kty\": \"oct\", \"use\": \"enc\", \"k\": "
          "\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}]}",
          "keys[0].use" },
        { "{\"keys\": [{\"kty\": \"oct\", \"kid\": 1, \"k\": "
          "\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}]}",
          "keys[0].kid" },
        { "{\"keys\": [{\"kty\": \"oct\", \"k\": "
          "\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}], "
          "\"issuer\": \"\"}", "issuer" },
        { "{\"keys\": [{\"kty\": \"oct\", \"k\": "
          "\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}], "
          "\"audience\": 3}", "audience" },
        { "{\"keys\": [{\"kty\": \"oct\", \"k\": "
          "\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}], "
          "\"issuers\": \"x\"}", "issuers" },
    };

    size_t  i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        jwt = conf(bad[i].conf, err, field);
        ok(jwt == NULL, "refused: %s", bad[i].conf);
        is_str(field, bad[i].field, "  at \"%s\" (%s)", bad[i].field, err);
        ngx_http_ws_api_jwt_free(jwt);
    }

    /* a private key in PEM or in a JWK is refused */

    {
        BIO   *bio;
        char  *p;
        long   n;

        bio = BIO_new(BIO_s_mem());
        PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL);
        n = BIO_get_mem_data(bio, &p);
        snprintf(text, sizeof(text), "%.*s", (int) n, p);
        BIO_free(bio);
    }

    {
        char  c[8192];

        snprintf(c, sizeof(c), "{\"keys\": [%s]}", json_str(text));
        jwt = conf(c, err, field);
        ok(jwt == NULL, "a PEM private key is refused (%s)", err);
        ngx_http_ws_api_jwt_free(jwt);

        snprintf(c, sizeof(c), "{\"keys\": [{\"kty\": \"EC\", \"crv\": "
                 "\"P-256\", \"d\": \"AA\", \"x\": \"AA\", \"y\": \"AA\"}]}");
        jwt = conf(c, err, field);
        ok(jwt == NULL && strcmp(field, "keys[0].d") == 0,
           "a JWK with \"d\" is refused (%s: %s)", field, err);
        ngx_http_ws_api_jwt_free(jwt);
    }

    /* RSA under 2048 bits */

    {
        char       c[8192], pem[4096];
        EVP_PKEY  *small;

        small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
        pem_of(small, pem, sizeof(pem));
        snprintf(c, sizeof(c), "{\"keys\": [%s]}", json_str(pem));
        jwt = conf(c, err, field);
        ok(jwt == NULL, "an RSA key of 1024 bits is refused (%s)", err);
        ngx_http_ws_api_jwt_free(jwt);
        EVP_PKEY_free(small);
    }

    /* good sets */

    snprintf(text, sizeof(text), "{\"keys\": [%s, %s, {\"keys\": [%s, %s, "
             "%s]}], \"issuer\": \"https://idp\", \"audience\": \"ws\"}",
             json_str(rsa_pem), json_str(ec_pem), rsa_jwk, ec_jwk, oct_jwk);

    jwt = conf(text, err, field);
    ok(jwt != NULL, "PEM keys, a JWKS of RSA, EC and oct JWKs (%s)",
       jwt ? "" : err);
    ngx_http_ws_api_jwt_free(jwt);

    snprintf(text, sizeof(text), "{\"keys\": [%s]}", oct_jwk);
    jwt = conf(text, err, field);
    ok(jwt != NULL, "a lone JWK");
    ngx_http_ws_api_jwt_free(jwt);
}


static void
test_algs(void)
{
    char                    err[256], field[128], text[8192], id[300];
    const char             *t;
    ngx_http_ws_api_jwt_t  *all, *rsa_only, *oct_only, *mixed;

    const char  *claims = "{\"sub\":\"app-1\",\"exp\":1800000100}";

    snprintf(text, sizeof(text), "{\"keys\": [%s, %s, %s]}",
             json_str(rsa_pem), json_str(ec_pem), oct_jwk);
    all = conf(text, err, field);

    snprintf(text, sizeof(text), "{\"keys\": [%s]}", json_str(rsa_pem));
    rsa_only = conf(text, err, field);

    snprintf(text, sizeof(text), "{\"keys\": [%s]}", oct_jwk);
    oct_only = conf(text, err, field);

    snprintf(text, sizeof(text), "{\"keys\": [%s, %s]}", json_str(rsa_pem),
             oct_jwk);
    mixed = conf(text, err, field);

    ok(all && rsa_only && oct_only && mixed, "key sets compiled");

    t = token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", claims, SECRET, 32,
              NULL, 0);
    is_int(verify(all, t, NOW, id), R_OK, "HS256 verifies");
    is_str(id, "app-1", "  the application is sub");

    t = token("{\"alg\":\"RS256\"}", claims, NULL, 0, rsa, 0);
    is_int(verify(all, t, NOW, id), R_OK, "RS256 verifies with a PEM key");
    is_int(verify(rsa_only, t, NOW, id), R_OK, "  and with that key alone");
    is_int(verify(oct_only, t, NOW, id), R_NO_KEY,
           "  but not with an HMAC secret");

    t = token("{\"alg\":\"ES256\"}", claims, NULL, 0, ec, 0);
    is_int(verify(all, t, NOW, id), R_OK, "ES256 (r || s) verifies");
    is_int(verify(rsa_only, t, NOW, id), R_NO_KEY,
           "  not with an RSA key");

    t = token("{\"alg\":\"ES256\"}", claims, NULL, 0, ec, 1);
    is_int(verify(all, t, NOW, id), R_SIGNATURE,
           "ES256 with a DER signature is refused");

    t = token("{\"alg\":\"HS256\"}", claims, SECRET, 32, NULL, 0);
    is_int(verify(rsa_only, t, NOW, id), R_NO_KEY,
           "HS256 against RSA keys only: no key");

    /* the confusion attack: the public key's text as an HMAC secret */

    t = token("{\"alg\":\"HS256\"}", claims, rsa_pem, strlen(rsa_pem), NULL,
              0);
    is_int(verify(rsa_only, t, NOW, id), R_NO_KEY,
           "HS256 signed with the RSA public key's PEM: refused");
    is_int(verify(mixed, t, NOW, id), R_SIGNATURE,
           "  also beside a real HMAC secret");

    /* none, and algorithms not supported */

    t = token("{\"alg\":\"none\"}", claims, SECRET, 32, NULL, 0);
    is_int(verify(all, t, NOW, id), R_ALG, "alg none is refused");

    {
        char  none[512];

        snprintf(none, sizeof(none), "%s.%s.",
                 b64("{\"alg\":\"none\"}", 14), b64(claims, strlen(claims)));
        is_int(verify(all, none, NOW, id), R_ALG,
               "alg none with an empty signature is refused");

        snprintf(none, sizeof(none), "%s.%s.",
                 b64("{\"alg\":\"HS256\"}", 15), b64(claims, strlen(claims)));
        is_int(verify(all, none, NOW, id), R_MALFORMED,
               "HS256 with an empty signature is refused");
    }

    t = token("{\"alg\":\"HS512\"}", claims, SECRET, 32, NULL, 0);
    is_int(verify(all, t, NOW, id), R_ALG, "HS512 is refused");
    t = token("{\"alg\":\"hs256\"}", claims, SECRET, 32, NULL, 0);
    is_int(verify(all, t, NOW, id), R_ALG, "hs256 (case) is refused");
    t = token("{\"alg\":\"PS256\"}", claims, NULL, 0, rsa, 0);
    is_int(verify(all, t, NOW, id), R_ALG, "PS256 is refused");
    t = token("{\"typ\":\"JWT\"}", claims, SECRET, 32, NULL, 0);
    is_int(verify(all, t, NOW, id), R_MALFORMED, "no alg is refused");
    t = token("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", claims, SECRET, 32,
              NULL, 0);
    is_int(verify(all, t, NOW, id), R_MALFORMED, "a crit header is refused");

    /* wrong keys */

    t = token("{\"alg\":\"HS256\"}", claims, SECRET2, 32, NULL, 0);
    is_int(verify(all, t, NOW, id), R_SIGNATURE, "HS256 of another secret");
    t = token("{\"alg\":\"RS256\"}", claims, NULL, 0, rsa2, 0);
    is_int(verify(all, t, NOW, id), R_SIGNATURE, "RS256 of another key");
    t = token("{\"alg\":\"ES256\"}", claims, NULL, 0, ec2, 0);
    is_int(verify(all, t, NOW, id), R_SIGNATURE, "ES256 of another key");

    ngx_http_ws_api_jwt_free(all);
    ngx_http_ws_api_jwt_free(rsa_only);
    ngx_http_ws_api_jwt_free(oct_only);
    ngx_http_ws_api_jwt_free(mixed);
}


static void
test_tamper(void)
{
    char                    err[256], field[128], text[8192], id[300];
    char                    tok[8192], *dot;
    size_t                  i;
    ngx_http_ws_api_jwt_t  *jwt;

    static const char  *algs[] = { "HS256", "RS256", "ES256" };

    snprintf(text, sizeof(text), "{\"keys\": [%s, %s, %s]}",
             json_str(rsa_pem), json_str(ec_pem), oct_jwk);
    jwt = conf(text, err, field);

    for (i = 0; i < 3; i++) {
        char  header[64];

        snprintf(header, sizeof(header), "{\"alg\":\"%s\"}", algs[i]);
        snprintf(tok, sizeof(tok), "%s",
                 token(header, "{\"sub\":\"app-1\",\"exp\":1800000100}",
                       SECRET, 32, i == 0 ? NULL : i == 1 ? rsa : ec, 0));

        is_int(verify(jwt, tok, NOW, id), R_OK, "%s signed", algs[i]);

        /* a claim changed: the payload re-encoded, the signature kept */

        dot = strchr(tok, '.');
        {
            char  forged[8192];
            const char  *c = "{\"sub\":\"app-2\",\"exp\":1800000100}";

            snprintf(forged, sizeof(forged), "%.*s.%s%s", (int) (dot - tok),
                     tok, b64(c, strlen(c)), strchr(dot + 1, '.'));
            is_int(verify(jwt, forged, NOW, id), R_SIGNATURE,
                   "  %s with another sub: bad signature", algs[i]);
        }

        /* a byte of the signature flipped (a middle character) */

        {
            char  *s = strrchr(tok, '.') + 1;
            size_t  m = strlen(s) / 2;

            s[m] = (s[m] == 'A') ? 'B' : 'A';
            is_int(verify(jwt, tok, NOW, id), R_SIGNATURE,
                   "  %s with a signature changed", algs[i]);
        }

        /* the signature cut short */

        tok[strlen(tok) - 4] = '\0';
        {
            int  rc = verify(jwt, tok, NOW, id);

            ok(rc == R_SIGNATURE || rc == R_MALFORMED,
               "  %s with a signature cut short: %d", algs[i], rc);
        }
    }

    ngx_http_ws_api_jwt_free(jwt);
}


static void
test_claims(void)
{
    char                    err[256], field[128], text[8192], id[300];
    const char             *t;
    ngx_http_ws_api_jwt_t  *jwt, *plain;

    const char  *h = "{\"alg\":\"HS256\"}";

#define CLAIMS(c)  token(h, c, SECRET, 32, NULL, 0)

    snprintf(text, sizeof(text), "{\"keys\": [%s], \"issuer\": "
             "\"https://idp.example\", \"audience\": \"ws-api\"}", oct_jwk);
    jwt = conf(text, err, field);

    snprintf(text, sizeof(text), "{\"keys\": [%s]}", oct_jwk);
    plain = conf(text, err, field);

    /* exp and its leeway */

    t = CLAIMS("{\"sub\":\"a\",\"exp\":1800000000}");
    is_int(verify(plain, t, NOW + 59, id), R_OK, "exp + 59 s: valid");
    is_int(verify(plain, t, NOW + 60, id), R_EXPIRED, "exp + 60 s: expired");
    is_int(verify(plain, t, NOW - 100000, id), R_OK, "long before exp");

    t = CLAIMS("{\"sub\":\"a\",\"exp\":1800000000.9}");
    is_int(verify(plain, t, NOW + 59, id), R_OK, "exp as a real: floored");
    is_int(verify(plain, t, NOW + 60, id), R_EXPIRED, "  expired");

    t = CLAIMS("{\"sub\":\"a\"}");
    is_int(verify(plain, t, NOW, id), R_EXPIRED, "no exp is refused");
    t = CLAIMS("{\"sub\":\"a\",\"exp\":\"1800000000\"}");
    is_int(verify(plain, t, NOW, id), R_MALFORMED, "exp as a string");
    t = CLAIMS("{\"sub\":\"a\",\"exp\":1e300}");
    is_int(verify(plain, t, NOW, id), R_OK, "exp 1e300: far future");
    t = CLAIMS("{\"sub\":\"a\",\"exp\":-9223372036854775807}");
    is_int(verify(plain, t, NOW, id), R_EXPIRED, "exp most negative");
    t = CLAIMS("{\"sub\":\"a\",\"exp\":9223372036854775807}");
    is_int(verify(plain, t, NOW, id), R_OK, "exp largest integer");

    /* nbf and its leeway */

    t = CLAIMS("{\"sub\":\"a\",\"exp\":1900000000,\"nbf\":1800000000}");
    is_int(verify(plain, t, NOW - 60, id), R_OK, "nbf - 60 s: valid");
    is_int(verify(plain, t, NOW - 61, id), R_NOT_YET,
           "nbf - 61 s: not yet valid");
    is_int(verify(plain, t, NOW, id), R_OK, "at nbf");
    t = CLAIMS("{\"sub\":\"a\",\"exp\":1900000000,\"nbf\":null}");
    is_int(verify(plain, t, NOW, id), R_MALFORMED, "nbf null");

    /* issuer, audience */

    t = CLAIMS("{\"sub\":\"a\",\"exp\":1900000000,"
               "\"iss\":\"https://idp.example\",\"aud\":\"ws-api\"}");
    is_int(verify(jwt, t, NOW, id), R_OK, "iss and aud match");

    t = CLAIMS("{\"sub\":\"a\",\"exp\":1900000000,"
               "\"iss\":\"https://idp.example\","
               "\"aud\":[\"other\",\"ws-api\"]}");
    is_int(verify(jwt, t, NOW, id), R_OK, "aud array holding it");

    t = CLAIMS("{\"sub\":\"a\",\"exp\":1900000000,"
               "\"iss\":\"https://idp.example\",\"aud\":[\"other\"]}");
    is_int(verify(jwt, t, NOW, id), R_AUDIENCE, "aud array without it");

    t = CLAIMS("{\"sub\":\"a\",\"exp\":1900000000,"
               "\"iss\":\"https://idp.example\",\"aud\":\"ws-ap\"}");
    is_int(verify(jwt, t, NOW, id), R_AUDIENCE, "wrong audience");

    t = CLAIMS("{\"sub\":\"a\",\"exp\":1900000000,"
               "\"iss\":\"https://idp.example\"}");
    is_int(verify(jwt, t, NOW, id), R_AUDIENCE, "no audience");
    is_int(verify(plain, t, NOW, id), R_OK,
           "  fine when no audience is asked for");

    t = CLAIMS("{\"sub\":\"a\",\"exp\":1900000000,"
               "\"iss\":\"https://evil.example\",\"aud\":\"ws-api\"}");
    is_int(verify(jwt, t, NOW, id), R_ISSUER, "wrong issuer");

    t = CLAIMS("{\"sub\":\"a\",\"exp\":1900000000,\"aud\":\"ws-api\"}");
    is_int(verify(jwt, t, NOW, id), R_ISSUER, "no issuer");

    /* the application id */

    t = CLAIMS("{\"sub\":\"user-7\",\"client_id\":\"app-9\","
               "\"exp\":1900000000}");
    is_int(verify(plain, t, NOW, id), R_OK, "client_id and sub");
    is_str(id, "app-9", "  client_id names the application");

    t = CLAIMS("{\"exp\":1900000000}");
    is_int(verify(plain, t, NOW, id), R_SUBJECT, "neither sub nor client_id");
    t = CLAIMS("{\"sub\":7,\"exp\":1900000000}");
    is_int(verify(plain, t, NOW, id), R_SUBJECT, "sub a number");
    t = CLAIMS("{\"sub\":\"\",\"exp\":1900000000}");
    is_int(verify(plain, t, NOW, id), R_SUBJECT, "sub empty");

    /* claims that are not an object, duplicated members */

    t = CLAIMS("[1]");
    is_int(verify(plain, t, NOW, id), R_MALFORMED, "claims an array");
    t = CLAIMS("{\"sub\":\"a\",\"sub\":\"b\",\"exp\":1900000000}");
    is_int(verify(plain, t, NOW, id), R_MALFORMED, "a member twice");
    t = CLAIMS("{\"sub\":\"a\",\"exp\":1900000000");
    is_int(verify(plain, t, NOW, id), R_MALFORMED, "claims not JSON");

    ngx_http_ws_api_jwt_free(jwt);
    ngx_http_ws_api_jwt_free(plain);

#undef CLAIMS
}


static void
test_kid(void)
{
    char                    err[256], field[128], text[8192], id[300];
    char                    rsa2_jwk[2048];
    const char             *t;
    ngx_http_ws_api_jwt_t  *jwt;

    const char  *c = "{\"sub\":\"a\",\"exp\":1900000000}";

    jwk_rsa(rsa2, "r2", rsa2_jwk, sizeof(rsa2_jwk));

    /* a: SECRET, b: SECRET2, r1: rsa, r2: rsa2 */

    snprintf(text, sizeof(text), "{\"keys\": [{\"keys\": ["
             "{\"kty\":\"oct\",\"kid\":\"a\",\"k\":\"%s\"},"
             "{\"kty\":\"oct\",\"kid\":\"b\",\"k\":\"%s\",\"alg\":\"HS256\"},"
             "%s, %s]}]}",
             b64(SECRET, 32), b64(SECRET2, 32), rsa_jwk, rsa2_jwk);
    jwt = conf(text, err, field);
    ok(jwt != NULL, "a JWKS with kids (%s)", jwt ? "" : err);

    t = token("{\"alg\":\"HS256\",\"kid\":\"b\"}", c, SECRET2, 32, NULL, 0);
    is_int(verify(jwt, t, NOW, id), R_OK, "kid b, signed by b");

    t = token("{\"alg\":\"HS256\",\"kid\":\"a\"}", c, SECRET2, 32, NULL, 0);
    is_int(verify(jwt, t, NOW, id), R_SIGNATURE, "kid a, signed by b");

    t = token("{\"alg\":\"HS256\",\"kid\":\"c\"}", c, SECRET2, 32, NULL, 0);
    is_int(verify(jwt, t, NOW, id), R_NO_KEY, "kid c: no key");

    t = token("{\"alg\":\"HS256\"}", c, SECRET2, 32, NULL, 0);
    is_int(verify(jwt, t, NOW, id), R_OK, "no kid: every HMAC key tried");

    t = token("{\"alg\":\"RS256\",\"kid\":\"r2\"}", c, NULL, 0, rsa2, 0);
    is_int(verify(jwt, t, NOW, id), R_OK, "kid r2, signed by rsa2");

    t = token("{\"alg\":\"RS256\",\"kid\":\"r1\"}", c, NULL, 0, rsa2, 0);
    is_int(verify(jwt, t, NOW, id), R_SIGNATURE, "kid r1, signed by rsa2");

    t = token("{\"alg\":\"RS256\",\"kid\":\"a\"}", c, NULL, 0, rsa, 0);
    is_int(verify(jwt, t, NOW, id), R_NO_KEY,
           "kid a (an HMAC key) with RS256: no key");

    t = token("{\"alg\":\"HS256\",\"kid\":7}", c, SECRET2, 32, NULL, 0);
    is_int(verify(jwt, t, NOW, id), R_MALFORMED, "kid a number");

    ngx_http_ws_api_jwt_free(jwt);

    /* a PEM key has no kid: it is tried whatever the token's kid */

    snprintf(text, sizeof(text), "{\"keys\": [%s]}", json_str(rsa_pem));
    jwt = conf(text, err, field);

    t = token("{\"alg\":\"RS256\",\"kid\":\"whatever\"}", c, NULL, 0, rsa, 0);
    is_int(verify(jwt, t, NOW, id), R_OK, "a kid against a PEM key");

    ngx_http_ws_api_jwt_free(jwt);
}


static void
test_malformed(void)
{
    char                    err[256], field[128], text[8192], id[300];
    char                    tok[12000];
    size_t                  i;
    const char             *t;
    ngx_http_ws_api_jwt_t  *jwt;

    static const char  *bad[] = {
        "", ".", "..", "...", "a", "a.b", "a.b.c.d", ".b.c", "a..c",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0=.c2ln",
        "eyJhbGciOiJIUzI1NiJ9=.eyJzdWIiOiJhIn0.c2ln",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln+",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2l/",
        "eyJhbGciOiJIUzI1NiJ9 .eyJzdWIiOiJhIn0.c2ln",
        "W10.eyJzdWIiOiJhIn0.c2ln",                  /* [] */
        "bnVsbA.eyJzdWIiOiJhIn0.c2ln",               /* null */
        "e30.eyJzdWIiOiJhIn0.c2ln",                  /* {} */
    };

    snprintf(text, sizeof(text), "{\"keys\": [%s]}", oct_jwk);
    jwt = conf(text, err, field);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(verify(jwt, bad[i], NOW, id) == R_MALFORMED, "malformed: \"%s\"",
           bad[i]);
    }

    /* a header with a member twice */

    t = token("{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"sub\":\"a\","
              "\"exp\":1900000000}", SECRET, 32, NULL, 0);
    is_int(verify(jwt, t, NOW, id), R_MALFORMED, "alg twice");

    /* over the size limit */

    memset(tok, 'A', sizeof(tok));
    t = token("{\"alg\":\"HS256\"}", "{\"sub\":\"a\",\"exp\":1900000000}",
              SECRET, 32, NULL, 0);
    memcpy(tok, t, strlen(t));
    tok[NGX_HTTP_WS_API_JWT_MAX_TOKEN + 1] = '\0';
    is_int(verify(jwt, tok, NOW, id), R_MALFORMED, "over 8192 bytes");

    /* a big but valid token */

    {
        char    claims[6000];
        size_t  n;

        n = snprintf(claims, sizeof(claims), "{\"sub\":\"a\",\"exp\":"
                     "1900000000,\"pad\":\"");
        memset(claims + n, 'x', 5000);
        snprintf(claims + n + 5000, sizeof(claims) - n - 5000, "\"}");

        t = token("{\"alg\":\"HS256\"}", claims, SECRET, 32, NULL, 0);
        is_int(verify(jwt, t, NOW, id), R_OK, "a token of %zu bytes",
               strlen(t));
    }

    ngx_http_ws_api_jwt_free(jwt);
}


static void
test_base64url(void)
{
    u_char   data[16], enc[32], dec[32];
    size_t   len, i, n;
    ssize_t  m;
    u_char   hex[64];
    int      good;

    good = 1;

    for (i = 0; i < sizeof(data); i++) {
        data[i] = (u_char) (i * 37 + 0xf0);
    }

    for (len = 0; len <= sizeof(data); len++) {
        n = ngx_http_ws_api_base64url_encode(enc, data, len);
        m = ngx_http_ws_api_base64url_decode(dec, enc, n);

        if (n != ngx_http_ws_api_base64url_encoded_len(len)
            || m != (ssize_t) len || memcmp(dec, data, len) != 0)
        {
            good = 0;
        }
    }

    ok(good, "base64url round trips, lengths 0 to 16");

    is_int(ngx_http_ws_api_base64url_decode(dec, (u_char *) "-_8", 3), 2,
           "the url alphabet");
    is_int(ngx_http_ws_api_base64url_decode(dec, (u_char *) "QR", 2), -1,
           "unused bits set: refused");
    is_int(ngx_http_ws_api_base64url_decode(dec, (u_char *) "QQ", 2), 1,
           "unused bits clear");
    is_int(ngx_http_ws_api_base64url_decode(dec, (u_char *) "QUE", 3), 2,
           "three characters");
    is_int(ngx_http_ws_api_base64url_decode(dec, (u_char *) "QUF", 3), -1,
           "three characters, unused bits set");
    is_int(ngx_http_ws_api_base64url_decode(dec, (u_char *) "QUFBQ", 5), -1,
           "length 4n + 1");
    is_int(ngx_http_ws_api_base64url_decode(dec, (u_char *) "QQ==", 4), -1,
           "padding");

    ngx_http_ws_api_sha256_hex(hex, (u_char *) "abc", 3);
    ok(memcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61"
                   "f20015ad", 64) == 0, "SHA-256 of abc");
}


int
main(void)
{
    rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    if (rsa == NULL || rsa2 == NULL || ec == NULL || ec2 == NULL) {
        printf("Bail out! key generation failed\n");
        return 1;
    }

    pem_of(rsa, rsa_pem, sizeof(rsa_pem));
    pem_of(rsa2, rsa2_pem, sizeof(rsa2_pem));
    pem_of(ec, ec_pem, sizeof(ec_pem));
    jwk_rsa(rsa, "r1", rsa_jwk, sizeof(rsa_jwk));
    jwk_ec(ec, "e1", ec_jwk, sizeof(ec_jwk));
    snprintf(oct_jwk, sizeof(oct_jwk), "{\"kty\":\"oct\",\"k\":\"%s\"}",
             b64(SECRET, 32));

    test_create();
    test_algs();
    test_tamper();
    test_claims();
    test_kid();
    test_malformed();
    test_base64url();

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa2);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ec2);

    return tap_done();
}
