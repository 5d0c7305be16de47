
/*
 * Copyright (C) ws-api authors
 */


#ifndef _NGX_HTTP_WS_API_CACHE_H_INCLUDED_
#define _NGX_HTTP_WS_API_CACHE_H_INCLUDED_


#include "ngx_http_ws_api_module.h"
#include "ngx_http_ws_api_param.h"
#include "ngx_http_ws_api_policy.h"
#include <jansson.h>


/* the applications and their keys' hashes, see ngx_http_ws_api_app.c */
typedef struct ngx_http_ws_api_apps_s  ngx_http_ws_api_apps_t;


/* an API's policies as the handshake and the relay use them (SPEC 5) */

typedef struct {
    ngx_http_ws_api_limits_t       limits;     /* copied per connection */
    unsigned                       limited:1;  /* any of them set */
    ngx_uint_t                     max_connections;   /* 0: any */
    ngx_uint_t                     norigins;   /* allowedOrigins given: */
    unsigned                       origins_set:1;
    ngx_str_t                     *origins;    /*   lower case */
    ngx_array_t                    allow;      /* ngx_cidr_t; nelts 0: */
    ngx_array_t                    deny;       /*   none given */

    unsigned                       identify:1; /* identifyAndAccess: */
    unsigned                       api_key:1;  /*   its methods */
    unsigned                       jwt:1;
    unsigned                       jwt_first:1; /*   jwt listed first */
    unsigned                       anonymous:1; /*   allowAnonymous */
    ngx_str_t                      jwt_conf;   /* the "jwt" member, JSON */
    uint32_t                       jwt_crc;    /*   and its CRC32 */
} ngx_http_ws_api_policy_t;


/*
 * The live connections of one API on this nginx (maxConnections), by id,
 * so that the count outlives a new revision of the API and a reload
 */

struct ngx_http_ws_api_conns_s {
    ngx_rbtree_node_t              node;       /* key: crc32 of the id */
    ngx_uint_t                     count;
    size_t                         id_len;
    u_char                         id[1];
};


/* one compiled definition: a single slab allocation, immutable */

typedef struct {
    ngx_rbtree_node_t              node;       /* by name and version */
    ngx_rbtree_node_t              id_node;    /* by id */
    ngx_queue_t                    queue;

    ngx_str_t                      id;
    ngx_str_t                      name;
    ngx_str_t                      version;
    ngx_str_t                      backend;    /* http[s]://host:port/path */

    uint32_t                       crc;        /* of the JSON it came from */
    size_t                         json_len;
    ngx_uint_t                     revision;
    ngx_uint_t                     messages;   /* declared kinds; 0: any */
    ngx_uint_t                     mark;       /* kept by the last load */
    unsigned                       active:1;

    ngx_uint_t                     nparams;
    ngx_http_ws_api_param_t       *params;

    ngx_http_ws_api_policy_t      *policy;     /* NULL: no policy */

    ngx_str_t                      schemas[2]; /* of each origin: a JSON
                                                  array; len 0: none */
} ngx_http_ws_api_entry_t;


/* the zone's header */

typedef struct {
    ngx_rbtree_t                   rbtree;
    ngx_rbtree_node_t              sentinel;
    ngx_rbtree_t                   ids;
    ngx_rbtree_node_t              ids_sentinel;
    ngx_queue_t                    queue;

    uint32_t                       source;     /* Redis address, db, prefix */
    ngx_uint_t                     loaded;     /* a whole load was done */
    uint64_t                       rev;        /* Redis "rev" loaded */
    ngx_msec_t                     lease;      /* a worker loads until then */
    ngx_pid_t                      lease_pid;  /* that worker */
    ngx_uint_t                     generation; /* of whole loads */
    ngx_msec_t                     checked;    /* last look at "rev" */
    time_t                         loaded_at;
    ngx_uint_t                     napis;
    ngx_uint_t                     nactive;

    ngx_rbtree_t                   conns;      /* ngx_http_ws_api_conns_t */
    ngx_rbtree_node_t              conns_sentinel;

    ngx_http_ws_api_apps_t        *apps;       /* NULL: none loaded yet */
} ngx_http_ws_api_sh_t;


typedef struct {
    ngx_http_ws_api_sh_t          *sh;
    ngx_slab_pool_t               *shpool;
    uint32_t                       source;
} ngx_http_ws_api_cache_t;


ngx_shm_zone_t *ngx_http_ws_api_cache_add(ngx_conf_t *cf,
    ngx_http_ws_api_main_conf_t *wmcf);

/*
 * Compiles the definition stored under id (JSON text) into a new entry,
 * outside the lock.  Returns the entry, NULL with *invalid set for a bad
 * definition (logged), or NULL for no memory (logged).  An entry that is
 * not used is given back with ngx_http_ws_api_cache_free().
 */
ngx_http_ws_api_entry_t *ngx_http_ws_api_cache_compile(
    ngx_http_ws_api_cache_t *cache, ngx_str_t *id, ngx_str_t *json,
    ngx_uint_t *invalid, ngx_log_t *log);
void ngx_http_ws_api_cache_free(ngx_http_ws_api_cache_t *cache,
    ngx_http_ws_api_entry_t *e);

/* with the lock held */

ngx_http_ws_api_entry_t *ngx_http_ws_api_cache_find(
    ngx_http_ws_api_cache_t *cache, ngx_str_t *name, ngx_str_t *version);
ngx_http_ws_api_entry_t *ngx_http_ws_api_cache_find_id(
    ngx_http_ws_api_cache_t *cache, ngx_str_t *id);
void ngx_http_ws_api_cache_insert(ngx_http_ws_api_cache_t *cache,
    ngx_http_ws_api_entry_t *e);
void ngx_http_ws_api_cache_remove(ngx_http_ws_api_cache_t *cache,
    ngx_http_ws_api_entry_t *e);

/*
 * maxConnections: counts one more live connection of the API id, unless
 * it has max already (NGX_DECLINED) or the zone is full (NGX_ERROR)
 */
ngx_int_t ngx_http_ws_api_cache_conn_add(ngx_http_ws_api_cache_t *cache,
    ngx_str_t *id, ngx_uint_t max, ngx_http_ws_api_conns_t **conns);

/* without the lock: one live connection fewer */
void ngx_http_ws_api_cache_conn_done(ngx_http_ws_api_cache_t *cache,
    ngx_http_ws_api_conns_t *conns);


#define ngx_http_ws_api_cache_lock(cache)                                    \
    ngx_shmtx_lock(&(cache)->shpool->mutex)

#define ngx_http_ws_api_cache_unlock(cache)                                  \
    ngx_shmtx_unlock(&(cache)->shpool->mutex)


#endif /* _NGX_HTTP_WS_API_CACHE_H_INCLUDED_ */
