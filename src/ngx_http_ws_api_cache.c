
/*
 * Copyright (C) ws-api authors
 */


/*
 * The "ws_api_cache" shared zone: every definition compiled for the
 * handshake path, readable by every worker without a word to Redis.
 *
 * An entry is one slab allocation holding its strings, parameters and
 * allowed values, and is never changed once inserted: a new revision of
 * an API is a new entry that replaces the old one under the lock.  Two
 * rbtrees index the entries, by name and version (the gateway) and by id
 * (the loader).
 */


#include "ngx_http_ws_api_cache.h"
#include "ngx_http_ws_api_def.h"


static ngx_int_t ngx_http_ws_api_cache_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_ws_api_cache_reset(ngx_http_ws_api_cache_t *cache);
static uint32_t ngx_http_ws_api_cache_name_hash(ngx_str_t *name,
    ngx_str_t *version);
static void ngx_http_ws_api_cache_rbtree_insert_value(
    ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel);
static void ngx_http_ws_api_cache_id_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static u_char *ngx_http_ws_api_cache_string(u_char *p, ngx_str_t *dst,
    const char *src, size_t len);
static size_t ngx_http_ws_api_cache_policy_size(json_t *policies);
static ngx_int_t ngx_http_ws_api_cache_schemas(json_t *def, char **texts);
static void ngx_http_ws_api_cache_schemas_free(char **texts);
static u_char *ngx_http_ws_api_cache_policy(ngx_http_ws_api_entry_t *e,
    json_t *policies, u_char *p);
static ngx_http_ws_api_conns_t *ngx_http_ws_api_cache_conn_find(
    ngx_http_ws_api_cache_t *cache, ngx_str_t *id, uint32_t hash);
static void ngx_http_ws_api_cache_conns_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


ngx_shm_zone_t *
ngx_http_ws_api_cache_add(ngx_conf_t *cf, ngx_http_ws_api_main_conf_t *wmcf)
{
    uint32_t                       crc;
    ngx_str_t                      name;
    ngx_shm_zone_t                *shm_zone;
    ngx_http_ws_api_cache_t       *cache;
    ngx_http_ws_api_redis_conf_t  *rcf;

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_http_ws_api_cache_t));
    if (cache == NULL) {
        return NULL;
    }

    /* what the zone was loaded from: a new source empties it on reload */

    rcf = wmcf->redis;

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, rcf->name.data, rcf->name.len);
    ngx_crc32_update(&crc, (u_char *) &rcf->db, sizeof(ngx_uint_t));
    ngx_crc32_update(&crc, rcf->prefix.data, rcf->prefix.len);
    ngx_crc32_final(crc);

    cache->source = crc;

    ngx_str_set(&name, "ws_api_cache");

    shm_zone = ngx_shared_memory_add(cf, &name, wmcf->cache_size,
                                     &ngx_http_ws_api_module);
    if (shm_zone == NULL) {
        return NULL;
    }

    shm_zone->init = ngx_http_ws_api_cache_init_zone;
    shm_zone->data = cache;

    return shm_zone;
}


static ngx_int_t
ngx_http_ws_api_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_ws_api_cache_t  *ocache = data;

    size_t                    len;
    ngx_http_ws_api_cache_t  *cache;

    cache = shm_zone->data;

    if (ocache) {
        cache->sh = ocache->sh;
        cache->shpool = ocache->shpool;

        if (cache->sh->source != cache->source) {
            ngx_http_ws_api_cache_reset(cache);
        }

        return NGX_OK;
    }

    cache->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        cache->sh = cache->shpool->data;
        return NGX_OK;
    }

    cache->sh = ngx_slab_alloc(cache->shpool, sizeof(ngx_http_ws_api_sh_t));
    if (cache->sh == NULL) {
        return NGX_ERROR;
    }

    cache->shpool->data = cache->sh;

    ngx_memzero(cache->sh, sizeof(ngx_http_ws_api_sh_t));

    ngx_rbtree_init(&cache->sh->rbtree, &cache->sh->sentinel,
                    ngx_http_ws_api_cache_rbtree_insert_value);
    ngx_rbtree_init(&cache->sh->ids, &cache->sh->ids_sentinel,
                    ngx_http_ws_api_cache_id_insert_value);
    ngx_rbtree_init(&cache->sh->conns, &cache->sh->conns_sentinel,
                    ngx_http_ws_api_cache_conns_insert_value);
    ngx_queue_init(&cache->sh->queue);

    cache->sh->source = cache->source;

    len = sizeof(" in ws_api_cache zone") - 1;

    cache->shpool->log_ctx = ngx_slab_alloc(cache->shpool, len + 1);
    if (cache->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(cache->shpool->log_ctx, " in ws_api_cache zone%Z");

    return NGX_OK;
}


static void
ngx_http_ws_api_cache_reset(ngx_http_ws_api_cache_t *cache)
{
    ngx_queue_t              *q;
    ngx_http_ws_api_entry_t  *e;

    ngx_shmtx_lock(&cache->shpool->mutex);

    while (!ngx_queue_empty(&cache->sh->queue)) {
        q = ngx_queue_head(&cache->sh->queue);
        e = ngx_queue_data(q, ngx_http_ws_api_entry_t, queue);

        ngx_http_ws_api_cache_remove(cache, e);
        ngx_slab_free_locked(cache->shpool, e);
    }

    if (cache->sh->apps) {
        ngx_slab_free_locked(cache->shpool, cache->sh->apps);
        cache->sh->apps = NULL;
    }

    cache->sh->source = cache->source;
    cache->sh->loaded = 0;
    cache->sh->rev = 0;
    cache->sh->lease = 0;
    cache->sh->checked = 0;

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


ngx_http_ws_api_entry_t *
ngx_http_ws_api_cache_compile(ngx_http_ws_api_cache_t *cache, ngx_str_t *id,
    ngx_str_t *json, ngx_uint_t *invalid, ngx_log_t *log)
{
    u_char                       *p;
    char                         *texts[2];
    json_t                       *def, *params, *param, *values, *v, *url,
                                 *policies;
    size_t                        size, i, j, n, nparams, nvalues;
    uint32_t                      crc;
    json_error_t                  jerr;
    ngx_http_ws_api_url_t         u;
    ngx_http_ws_api_value_t      *val;
    ngx_http_ws_api_param_t      *prm;
    ngx_http_ws_api_entry_t      *e;
    ngx_http_ws_api_def_error_t   err;

    *invalid = 0;

    def = json_loadb((const char *) json->data, json->len,
                     JSON_REJECT_DUPLICATES, &jerr);

    if (def == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "ws_api definition \"%V\" in Redis is not JSON: %s",
                      id, jerr.text);
        *invalid = 1;
        return NULL;
    }

    if (ngx_http_ws_api_def_check_stored(def, NGX_HTTP_WS_API_DEF_TEAMS,
                                         &err)
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "ws_api definition \"%V\" in Redis is invalid: "
                      "%s%s%s", id, err.message, err.field[0] ? " in " : "",
                      err.field);
        goto invalid;
    }

    if (ngx_strncmp(json_string_value(json_object_get(def, "id")), id->data,
                    id->len) != 0
        || json_string_length(json_object_get(def, "id")) != id->len)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "ws_api definition \"%V\" in Redis has another id",
                      id);
        goto invalid;
    }

    url = json_object_get(def, "wsUrl");

    ngx_memzero(&u, sizeof(ngx_http_ws_api_url_t));

    if (json_is_string(url)
        && ngx_http_ws_api_url_parse(json_string_value(url),
                                     json_string_length(url), &u)
           != 0)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "ws_api definition \"%V\" in Redis has an invalid "
                      "wsUrl", id);
        goto invalid;
    }

    /* the size of the entry */

    params = json_object_get(def, "parameters");
    nparams = json_array_size(params);

    size = sizeof(ngx_http_ws_api_entry_t)
           + nparams * sizeof(ngx_http_ws_api_param_t)
           + id->len
           + json_string_length(json_object_get(def, "apiName"))
           + json_string_length(json_object_get(def, "apiVersion"))
           + sizeof("https://:65535") - 1 + u.host_len + u.path_len;

    nvalues = 0;

    json_array_foreach(params, i, param) {
        values = json_object_get(param, "values");
        nvalues += json_array_size(values);

        size += json_string_length(json_object_get(param, "name"));

        json_array_foreach(values, j, v) {
            size += json_string_length(v);
        }
    }

    size += nvalues * sizeof(ngx_http_ws_api_value_t);

    policies = json_object_get(def, "policies");
    size += ngx_http_ws_api_cache_policy_size(policies);

    if (ngx_http_ws_api_cache_schemas(def, texts) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "ws_api definition \"%V\" not loaded: no memory", id);
        json_decref(def);
        return NULL;
    }

    for (i = 0; i < 2; i++) {
        size += texts[i] ? ngx_strlen(texts[i]) : 0;
    }

    e = ngx_slab_alloc(cache->shpool, size);
    if (e == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "ws_api_cache is full: definition \"%V\" not loaded, "
                      "the zone needs to be larger", id);
        ngx_http_ws_api_cache_schemas_free(texts);
        json_decref(def);
        return NULL;
    }

    ngx_memzero(e, sizeof(ngx_http_ws_api_entry_t));

    /* parameters and values first: they need the strictest alignment */

    prm = (ngx_http_ws_api_param_t *) (e + 1);
    val = (ngx_http_ws_api_value_t *) (prm + nparams);
    p = (u_char *) (val + nvalues);

    e->params = prm;
    e->nparams = nparams;

    p = ngx_http_ws_api_cache_policy(e, policies, p);

    p = ngx_cpymem(p, id->data, id->len);
    e->id.data = p - id->len;
    e->id.len = id->len;

    v = json_object_get(def, "apiName");
    p = ngx_http_ws_api_cache_string(p, &e->name, json_string_value(v),
                                     json_string_length(v));

    v = json_object_get(def, "apiVersion");
    p = ngx_http_ws_api_cache_string(p, &e->version, json_string_value(v),
                                     json_string_length(v));

    if (u.host) {
        e->backend.data = p;
        p = ngx_sprintf(p, "%s://%*s:%ui%*s", u.tls ? "https" : "http",
                        u.host_len, u.host, (ngx_uint_t) u.port,
                        u.path_len, u.path);
        e->backend.len = p - e->backend.data;
    }

    json_array_foreach(params, i, param) {

        ngx_memzero(prm, sizeof(ngx_http_ws_api_param_t));

        v = json_object_get(param, "name");
        p = ngx_cpymem(p, json_string_value(v), json_string_length(v));
        prm->name = p - json_string_length(v);
        prm->name_len = json_string_length(v);

        v = json_object_get(param, "in");
        prm->in = ngx_http_ws_api_in_parse((u_char *) json_string_value(v),
                                           json_string_length(v));

        v = json_object_get(param, "dataType");
        prm->type = ngx_http_ws_api_type_parse((u_char *) json_string_value(v),
                                               json_string_length(v));

        prm->required = json_is_true(json_object_get(param, "required"));
        prm->array = json_is_true(json_object_get(param, "array"));

        values = json_object_get(param, "values");

        prm->values = val;
        prm->nvalues = json_array_size(values);

        json_array_foreach(values, j, v) {
            n = json_string_length(v);
            p = ngx_cpymem(p, json_string_value(v), n);

            /* checked already by ngx_http_ws_api_def_check_stored() */

            (void) ngx_http_ws_api_value_parse(prm->type, p - n, n, val);
            val++;
        }

        prm++;
    }

    /* the schemas, compiled by each worker that needs them (SPEC 4.3) */

    for (i = 0; i < 2; i++) {
        if (texts[i]) {
            p = ngx_http_ws_api_cache_string(p, &e->schemas[i], texts[i],
                                             ngx_strlen(texts[i]));
        }
    }

    ngx_http_ws_api_cache_schemas_free(texts);

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, json->data, json->len);
    ngx_crc32_final(crc);

    e->crc = crc;
    e->json_len = json->len;
    e->revision = json_integer_value(json_object_get(def, "revision"));
    e->messages = ngx_http_ws_api_def_messages(def);
    e->active = json_is_true(json_object_get(def, "isActive")) && u.host;

    e->node.key = ngx_http_ws_api_cache_name_hash(&e->name, &e->version);

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, e->id.data, e->id.len);
    ngx_crc32_final(crc);

    e->id_node.key = crc;

    json_decref(def);

    return e;

invalid:

    json_decref(def);
    *invalid = 1;

    return NULL;
}


/*
 * The schemas of the text messages of each origin, as the JSON text of an
 * array (NULL: none), to be compiled by the workers
 */

static ngx_int_t
ngx_http_ws_api_cache_schemas(json_t *def, char **texts)
{
    size_t       i;
    json_t      *a[2], *m, *schema;
    ngx_uint_t   o;
    const char  *origin, *type;

    a[0] = NULL;
    a[1] = NULL;
    texts[0] = NULL;
    texts[1] = NULL;

    json_array_foreach(json_object_get(def, "messages"), i, m) {

        schema = json_object_get(m, "schema");
        origin = json_string_value(json_object_get(m, "origin"));
        type = json_string_value(json_object_get(m, "type"));

        if (schema == NULL || origin == NULL || type == NULL
            || ngx_strcasecmp((u_char *) type, (u_char *) "text") != 0)
        {
            continue;
        }

        o = (ngx_strcasecmp((u_char *) origin, (u_char *) "client") == 0)
            ? NGX_HTTP_WS_API_FROM_CLIENT : NGX_HTTP_WS_API_FROM_SERVER;

        if (a[o] == NULL) {
            a[o] = json_array();
            if (a[o] == NULL) {
                goto failed;
            }
        }

        if (json_array_append(a[o], schema) != 0) {
            goto failed;
        }
    }

    for (o = 0; o < 2; o++) {
        if (a[o]) {
            texts[o] = json_dumps(a[o], JSON_COMPACT | JSON_ENCODE_ANY);
            if (texts[o] == NULL) {
                goto failed;
            }

            json_decref(a[o]);
            a[o] = NULL;
        }
    }

    return NGX_OK;

failed:

    json_decref(a[0]);
    json_decref(a[1]);
    ngx_http_ws_api_cache_schemas_free(texts);

    return NGX_ERROR;
}


static void
ngx_http_ws_api_cache_schemas_free(char **texts)
{
    ngx_uint_t  i;

    for (i = 0; i < 2; i++) {
        if (texts[i]) {
            free(texts[i]);
            texts[i] = NULL;
        }
    }
}


void
ngx_http_ws_api_cache_free(ngx_http_ws_api_cache_t *cache,
    ngx_http_ws_api_entry_t *e)
{
    ngx_slab_free(cache->shpool, e);
}


ngx_http_ws_api_entry_t *
ngx_http_ws_api_cache_find(ngx_http_ws_api_cache_t *cache, ngx_str_t *name,
    ngx_str_t *version)
{
    uint32_t                  hash;
    ngx_int_t                 rc;
    ngx_rbtree_node_t        *node, *sentinel;
    ngx_http_ws_api_entry_t  *e;

    hash = ngx_http_ws_api_cache_name_hash(name, version);

    node = cache->sh->rbtree.root;
    sentinel = cache->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key */

        e = (ngx_http_ws_api_entry_t *) node;

        rc = ngx_memn2cmp(name->data, e->name.data, name->len, e->name.len);

        if (rc == 0) {
            rc = ngx_memn2cmp(version->data, e->version.data, version->len,
                              e->version.len);
        }

        if (rc == 0) {
            return e;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


ngx_http_ws_api_entry_t *
ngx_http_ws_api_cache_find_id(ngx_http_ws_api_cache_t *cache, ngx_str_t *id)
{
    uint32_t                  hash;
    ngx_int_t                 rc;
    ngx_rbtree_node_t        *node, *sentinel;
    ngx_http_ws_api_entry_t  *e;

    ngx_crc32_init(hash);
    ngx_crc32_update(&hash, id->data, id->len);
    ngx_crc32_final(hash);

    node = cache->sh->ids.root;
    sentinel = cache->sh->ids.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        e = ngx_rbtree_data(node, ngx_http_ws_api_entry_t, id_node);

        rc = ngx_memn2cmp(id->data, e->id.data, id->len, e->id.len);

        if (rc == 0) {
            return e;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


void
ngx_http_ws_api_cache_insert(ngx_http_ws_api_cache_t *cache,
    ngx_http_ws_api_entry_t *e)
{
    ngx_rbtree_insert(&cache->sh->rbtree, &e->node);
    ngx_rbtree_insert(&cache->sh->ids, &e->id_node);
    ngx_queue_insert_tail(&cache->sh->queue, &e->queue);

    cache->sh->napis++;

    if (e->active) {
        cache->sh->nactive++;
    }
}


void
ngx_http_ws_api_cache_remove(ngx_http_ws_api_cache_t *cache,
    ngx_http_ws_api_entry_t *e)
{
    ngx_rbtree_delete(&cache->sh->rbtree, &e->node);
    ngx_rbtree_delete(&cache->sh->ids, &e->id_node);
    ngx_queue_remove(&e->queue);

    cache->sh->napis--;

    if (e->active) {
        cache->sh->nactive--;
    }
}


static uint32_t
ngx_http_ws_api_cache_name_hash(ngx_str_t *name, ngx_str_t *version)
{
    uint32_t  crc;

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, name->data, name->len);
    ngx_crc32_update(&crc, (u_char *) "/", 1);
    ngx_crc32_update(&crc, version->data, version->len);
    ngx_crc32_final(crc);

    return crc;
}


static void
ngx_http_ws_api_cache_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_int_t                  rc;
    ngx_rbtree_node_t        **p;
    ngx_http_ws_api_entry_t   *e, *t;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else { /* node->key == temp->key */

            e = (ngx_http_ws_api_entry_t *) node;
            t = (ngx_http_ws_api_entry_t *) temp;

            rc = ngx_memn2cmp(e->name.data, t->name.data, e->name.len,
                              t->name.len);

            if (rc == 0) {
                rc = ngx_memn2cmp(e->version.data, t->version.data,
                                  e->version.len, t->version.len);
            }

            p = (rc < 0) ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static void
ngx_http_ws_api_cache_id_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t        **p;
    ngx_http_ws_api_entry_t   *e, *t;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else { /* node->key == temp->key */

            e = ngx_rbtree_data(node, ngx_http_ws_api_entry_t, id_node);
            t = ngx_rbtree_data(temp, ngx_http_ws_api_entry_t, id_node);

            p = (ngx_memn2cmp(e->id.data, t->id.data, e->id.len, t->id.len)
                 < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* the room the compiled policies take, 0 when there are none */

static size_t
ngx_http_ws_api_cache_policy_size(json_t *policies)
{
    size_t   size, i;
    json_t  *origins, *o;

    if (json_object_size(policies) == 0) {
        return 0;
    }

    origins = json_object_get(policies, "allowedOrigins");

    size = sizeof(ngx_http_ws_api_policy_t)
           + json_array_size(origins) * sizeof(ngx_str_t)
           + (json_array_size(json_object_get(policies, "ipAllow"))
              + json_array_size(json_object_get(policies, "ipDeny")))
             * sizeof(ngx_cidr_t);

    json_array_foreach(origins, i, o) {
        size += json_string_length(o);
    }

    o = json_object_get(json_object_get(policies, "identifyAndAccess"),
                        "jwt");
    if (o) {
        size += json_dumpb(o, NULL, 0, JSON_COMPACT);
    }

    return size;
}


/*
 * Lays the policies out at p, which is aligned: the policy, the origins'
 * ngx_str_t and the CIDRs, then the origins' bytes; returns the end
 */

static u_char *
ngx_http_ws_api_cache_policy(ngx_http_ws_api_entry_t *e, json_t *policies,
    u_char *p)
{
    size_t                     i, j, n, len;
    json_t                    *origins, *o, *v;
    ngx_str_t                  text;
    ngx_cidr_t                *cidr;
    ngx_array_t               *a;
    ngx_http_ws_api_policy_t  *pol;

    static const char         *lists[] = { "ipAllow", "ipDeny" };

    if (json_object_size(policies) == 0) {
        return p;
    }

    pol = (ngx_http_ws_api_policy_t *) p;
    ngx_memzero(pol, sizeof(ngx_http_ws_api_policy_t));

    e->policy = pol;

    ngx_http_ws_api_policy_limits(policies, &pol->limits);
    pol->limited = ngx_http_ws_api_policy_limited(&pol->limits);

    v = json_object_get(policies, "maxConnections");
    pol->max_connections = json_is_integer(v) ? json_integer_value(v) : 0;

    origins = json_object_get(policies, "allowedOrigins");

    pol->origins_set = (origins != NULL);
    pol->norigins = json_array_size(origins);
    pol->origins = (ngx_str_t *) (pol + 1);

    cidr = (ngx_cidr_t *) (pol->origins + pol->norigins);

    for (i = 0; i < 2; i++) {
        v = json_object_get(policies, lists[i]);
        n = json_array_size(v);

        a = (i == 0) ? &pol->allow : &pol->deny;

        a->elts = cidr;
        a->nelts = 0;
        a->size = sizeof(ngx_cidr_t);
        a->nalloc = n;
        a->pool = NULL;

        for (j = 0; j < n; j++) {
            text.data = (u_char *) json_string_value(json_array_get(v, j));
            text.len = json_string_length(json_array_get(v, j));

            /* checked by ngx_http_ws_api_def_check_stored() already */

            if (ngx_ptocidr(&text, &cidr[a->nelts]) != NGX_ERROR) {
                a->nelts++;
            }
        }

        cidr += n;
    }

    p = (u_char *) cidr;

    json_array_foreach(origins, i, o) {
        len = json_string_length(o);
        p = ngx_http_ws_api_cache_string(p, &pol->origins[i],
                                         json_string_value(o), len);
    }

    v = json_object_get(policies, "identifyAndAccess");

    if (v) {
        /* canonical already: methods known, the jwt keys compiled once */

        pol->identify = 1;
        pol->anonymous = json_is_true(json_object_get(v, "allowAnonymous"));

        json_array_foreach(json_object_get(v, "methods"), i, o) {
            if (ngx_strcmp(json_string_value(o), "jwt") == 0) {
                pol->jwt = 1;
                pol->jwt_first = (i == 0);

            } else {
                pol->api_key = 1;
            }
        }

        o = json_object_get(v, "jwt");

        if (o) {
            len = json_dumpb(o, NULL, 0, JSON_COMPACT);
            pol->jwt_conf.data = p;
            pol->jwt_conf.len = json_dumpb(o, (char *) p, len, JSON_COMPACT);
            pol->jwt_crc = ngx_crc32_long(p, pol->jwt_conf.len);
            p += len;
        }
    }

    return p;
}


ngx_int_t
ngx_http_ws_api_cache_conn_add(ngx_http_ws_api_cache_t *cache, ngx_str_t *id,
    ngx_uint_t max, ngx_http_ws_api_conns_t **conns)
{
    uint32_t                  hash;
    ngx_http_ws_api_conns_t  *c;

    ngx_crc32_init(hash);
    ngx_crc32_update(&hash, id->data, id->len);
    ngx_crc32_final(hash);

    c = ngx_http_ws_api_cache_conn_find(cache, id, hash);

    if (c == NULL) {
        c = ngx_slab_alloc_locked(cache->shpool,
                                  sizeof(ngx_http_ws_api_conns_t) + id->len);
        if (c == NULL) {
            return NGX_ERROR;
        }

        c->node.key = hash;
        c->count = 0;
        c->id_len = id->len;
        ngx_memcpy(c->id, id->data, id->len);

        ngx_rbtree_insert(&cache->sh->conns, &c->node);
    }

    if (c->count >= max) {
        if (c->count == 0) {
            ngx_rbtree_delete(&cache->sh->conns, &c->node);
            ngx_slab_free_locked(cache->shpool, c);
        }

        return NGX_DECLINED;
    }

    c->count++;
    *conns = c;

    return NGX_OK;
}


void
ngx_http_ws_api_cache_conn_done(ngx_http_ws_api_cache_t *cache,
    ngx_http_ws_api_conns_t *conns)
{
    ngx_shmtx_lock(&cache->shpool->mutex);

    if (--conns->count == 0) {
        ngx_rbtree_delete(&cache->sh->conns, &conns->node);
        ngx_slab_free_locked(cache->shpool, conns);
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


static ngx_http_ws_api_conns_t *
ngx_http_ws_api_cache_conn_find(ngx_http_ws_api_cache_t *cache, ngx_str_t *id,
    uint32_t hash)
{
    ngx_int_t                 rc;
    ngx_rbtree_node_t        *node, *sentinel;
    ngx_http_ws_api_conns_t  *c;

    node = cache->sh->conns.root;
    sentinel = cache->sh->conns.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        c = (ngx_http_ws_api_conns_t *) node;

        rc = ngx_memn2cmp(id->data, c->id, id->len, c->id_len);

        if (rc == 0) {
            return c;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_ws_api_cache_conns_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t        **p;
    ngx_http_ws_api_conns_t   *c, *t;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            c = (ngx_http_ws_api_conns_t *) node;
            t = (ngx_http_ws_api_conns_t *) temp;

            p = (ngx_memn2cmp(c->id, t->id, c->id_len, t->id_len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static u_char *
ngx_http_ws_api_cache_string(u_char *p, ngx_str_t *dst, const char *src,
    size_t len)
{
    dst->data = p;
    dst->len = len;

    return ngx_cpymem(p, src, len);
}
