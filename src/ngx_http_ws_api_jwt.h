
/*
 * Copyright (C) ws-api authors
 */


/*
 * JSON Web Tokens (RFC 7519) in the compact JWS form (RFC 7515) for the
 * identifyAndAccess policy: HS256, RS256 and ES256 only, keys given as
 * PEM public keys or JWKS objects (RFC 7517), claims iss, aud, exp, nbf,
 * sub and client_id; also the base64url and SHA-256 helpers that API keys
 * use.
 *
 * Pure logic with OpenSSL's libcrypto and jansson: no nginx objects, so
 * it is unit-tested and fuzzed directly.  A key set is compiled once into
 * OpenSSL key objects and then only read, so verifying needs no lock.
 */


#ifndef _NGX_HTTP_WS_API_JWT_H_INCLUDED_
#define _NGX_HTTP_WS_API_JWT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>


/* limits, documented in the README */
#define NGX_HTTP_WS_API_JWT_MAX_TOKEN    8192   /* bytes of a token */
#define NGX_HTTP_WS_API_JWT_MAX_HEADER   1024   /* decoded JOSE header */
#define NGX_HTTP_WS_API_JWT_MAX_KEYS     32     /* per policy */
#define NGX_HTTP_WS_API_JWT_MAX_PEM      16384  /* bytes of one key */
#define NGX_HTTP_WS_API_JWT_MAX_KID      256
#define NGX_HTTP_WS_API_JWT_MAX_CLAIM    256    /* iss, aud, the id */
#define NGX_HTTP_WS_API_JWT_MIN_SECRET   32     /* bytes of an HS256 key */
#define NGX_HTTP_WS_API_JWT_MIN_RSA      2048   /* bits */
#define NGX_HTTP_WS_API_JWT_LEEWAY       60     /* seconds, exp and nbf */


/* why a token was refused */

typedef enum {
    NGX_HTTP_WS_API_JWT_OK = 0,
    NGX_HTTP_WS_API_JWT_MALFORMED,     /* not three base64url JSON parts */
    NGX_HTTP_WS_API_JWT_ALG,           /* alg none or not supported */
    NGX_HTTP_WS_API_JWT_NO_KEY,        /* no key of the alg (and kid) */
    NGX_HTTP_WS_API_JWT_SIGNATURE,     /* no key verifies it */
    NGX_HTTP_WS_API_JWT_EXPIRED,       /* exp missing or past */
    NGX_HTTP_WS_API_JWT_NOT_YET,       /* nbf in the future */
    NGX_HTTP_WS_API_JWT_ISSUER,
    NGX_HTTP_WS_API_JWT_AUDIENCE,
    NGX_HTTP_WS_API_JWT_SUBJECT        /* neither client_id nor sub */
} ngx_http_ws_api_jwt_rc_e;


typedef struct ngx_http_ws_api_jwt_s  ngx_http_ws_api_jwt_t;


/*
 * Compiles the "jwt" member of the policy:
 * {"keys": [PEM string | JWK object | JWKS object, ...], "issuer": "...",
 *  "audience": "..."}, keys required (at least one), issuer and audience
 * optional.  Returns the compiled set, or NULL with a sentence in err
 * and, in field, the member at fault relative to "jwt" ("keys[1].n").
 */
ngx_http_ws_api_jwt_t *ngx_http_ws_api_jwt_create(json_t *conf, char *err,
    size_t err_len, char *field, size_t field_len);
void ngx_http_ws_api_jwt_free(ngx_http_ws_api_jwt_t *jwt);

/*
 * Verifies a compact token at the time now (seconds since the epoch).
 * On NGX_HTTP_WS_API_JWT_OK the application id (client_id, else sub) is
 * copied to id (NUL-terminated, at most NGX_HTTP_WS_API_JWT_MAX_CLAIM
 * bytes; id must hold one more) and its length to *id_len.
 */
ngx_http_ws_api_jwt_rc_e ngx_http_ws_api_jwt_verify(
    const ngx_http_ws_api_jwt_t *jwt, const u_char *token, size_t len,
    int64_t now, u_char *id, size_t *id_len);

/* a short text for the log: "expired", "bad signature"... */
const char *ngx_http_ws_api_jwt_rc_text(ngx_http_ws_api_jwt_rc_e rc);


/*
 * base64url without padding (RFC 4648 section 5).  Decoding is strict:
 * the alphabet only, no "=", no length of 4n + 1, unused bits zero, so
 * each value has exactly one text.  Returns the decoded length or -1;
 * dst holds at least len * 3 / 4 bytes.
 */
size_t ngx_http_ws_api_base64url_encode(u_char *dst, const u_char *src,
    size_t len);
ssize_t ngx_http_ws_api_base64url_decode(u_char *dst, const u_char *src,
    size_t len);

#define ngx_http_ws_api_base64url_encoded_len(n)  (((n) * 4 + 2) / 3)

/* SHA-256 as 64 lower-case hex digits (no NUL) and as 32 bytes */
void ngx_http_ws_api_sha256_hex(u_char *hex, const u_char *data,
    size_t len);
void ngx_http_ws_api_sha256(u_char *md, const u_char *data, size_t len);


#endif /* _NGX_HTTP_WS_API_JWT_H_INCLUDED_ */
