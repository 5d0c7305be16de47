
/*
 * Copyright (C) ws-api authors
 */


/*
 * The API definition of SPEC 3.1, users and teams: JSON in and out,
 * validation and canonical forms.
 *
 * Pure logic with jansson: no nginx objects, so it is unit-tested and
 * fuzzed directly.
 */


#ifndef _NGX_HTTP_WS_API_DEF_H_INCLUDED_
#define _NGX_HTTP_WS_API_DEF_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>


/* flags of ngx_http_ws_api_def_canonical() and friends */
#define NGX_HTTP_WS_API_DEF_TEAMS        0x01   /* ws_api_teams on */


/* limits, documented in the README */
#define NGX_HTTP_WS_API_MAX_NAME         100    /* apiName, apiVersion, team */
#define NGX_HTTP_WS_API_MAX_USER         256    /* a user's name */
#define NGX_HTTP_WS_API_MAX_DESCRIPTION  16384  /* any description */
#define NGX_HTTP_WS_API_MAX_URL          2048   /* wsUrl */
#define NGX_HTTP_WS_API_MAX_PARAMS       100
#define NGX_HTTP_WS_API_MAX_PARAM_NAME   256
#define NGX_HTTP_WS_API_MAX_VALUES       100    /* per parameter */
#define NGX_HTTP_WS_API_MAX_VALUE        1024   /* bytes of one value */
#define NGX_HTTP_WS_API_MAX_MESSAGES     100
#define NGX_HTTP_WS_API_MAX_PAYLOAD      65536  /* samplePayload */
#define NGX_HTTP_WS_API_MAX_TEAMS        100    /* per API or user */


/* message kinds, as bits of a mask */
#define NGX_HTTP_WS_API_CLIENT_TEXT      0x01
#define NGX_HTTP_WS_API_CLIENT_BINARY    0x02
#define NGX_HTTP_WS_API_SERVER_TEXT      0x04
#define NGX_HTTP_WS_API_SERVER_BINARY    0x08


typedef struct {
    int          status;          /* an HTTP status, 400 mostly */
    char         message[256];    /* a human sentence, no trailing dot */
    char         field[128];      /* "parameters[1].dataType", or "" */
} ngx_http_ws_api_def_error_t;


/* a WS URL taken apart; pointers into the string parsed */

typedef struct {
    unsigned     tls:1;           /* wss:// */
    const char  *host;            /* "[::1]" keeps its brackets */
    size_t       host_len;
    unsigned     port;            /* 80 or 443 when not given */
    const char  *path;            /* "/" when not given */
    size_t       path_len;
} ngx_http_ws_api_url_t;


/*
 * Validates a definition sent by a client (POST or PUT /apis) and returns
 * its canonical form, a new object with exactly these members in this
 * order: type, apiName, apiVersion, apiDescription, teams, wsUrl,
 * parameters, messages, policies; every default filled in, every enum in
 * its canonical lower-case form.  The read-only members id, isActive,
 * revision, createdAt, updatedAt and gatewayEndpoints are accepted and
 * left out; the caller decides what they may say.  Returns NULL and fills
 * *err for a bad definition.
 */
json_t *ngx_http_ws_api_def_canonical(json_t *in, unsigned flags,
    ngx_http_ws_api_def_error_t *err);

/*
 * Checks a definition as stored in Redis: the canonical members above
 * plus id (a UUID), isActive (boolean), revision (integer >= 1),
 * createdAt and updatedAt (strings).  Returns 0, or -1 and fills *err.
 */
int ngx_http_ws_api_def_check_stored(json_t *def, unsigned flags,
    ngx_http_ws_api_def_error_t *err);

/* the message mask of a canonical definition's "messages" */
unsigned ngx_http_ws_api_def_messages(json_t *def);

/* ws://host[:port][/path] or wss://...; returns 0 or -1 */
int ngx_http_ws_api_url_parse(const char *url, size_t len,
    ngx_http_ws_api_url_t *u);

/* apiName and apiVersion: 1 to 100 of [A-Za-z0-9._-] */
int ngx_http_ws_api_name_valid(const u_char *s, size_t len);
int ngx_http_ws_api_name_dots(const char *s, size_t len);

/* team names: the same, but not "." or ".." */
int ngx_http_ws_api_team_name_valid(const u_char *s, size_t len);

/* user names: 1 to 256 bytes of UTF-8, no control characters, no "/" */
int ngx_http_ws_api_user_name_valid(const u_char *s, size_t len);

/*
 * PUT /users/{name}: {"privileges": [...], "teams": [...]}, both optional
 * (default []); privileges among "manage_apis", "activate_apis",
 * "manage_users"; teams only with NGX_HTTP_WS_API_DEF_TEAMS.  Returns the
 * canonical {"privileges": [...], "teams": [...]} or NULL and *err.
 */
json_t *ngx_http_ws_api_user_canonical(json_t *in, unsigned flags,
    ngx_http_ws_api_def_error_t *err);

/* PUT /teams/{name}: an optional {"description": "..."} (in may be NULL) */
json_t *ngx_http_ws_api_team_canonical(json_t *in,
    ngx_http_ws_api_def_error_t *err);


#endif /* _NGX_HTTP_WS_API_DEF_H_INCLUDED_ */
