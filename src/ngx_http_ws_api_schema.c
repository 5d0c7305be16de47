
/*
 * Copyright (C) ws-api authors
 */


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "ngx_http_ws_api_schema.h"
#include "ngx_http_ws_api_param.h"


/* keyword handlers share one signature; nginx builds with this off too */
#pragma GCC diagnostic ignored "-Wunused-parameter"


#define D4   0x01
#define D6   0x02
#define D7   0x04
#define DALL (D4|D6|D7)

/* instance types */
#define T_NULL    0x01
#define T_BOOL    0x02
#define T_OBJECT  0x04
#define T_ARRAY   0x08
#define T_NUMBER  0x10
#define T_STRING  0x20
#define T_INTEGER 0x40

/* keywords with a value of their own */
#define K_TYPE      0x00001
#define K_ENUM      0x00002
#define K_CONST     0x00004
#define K_MIN       0x00008
#define K_MAX       0x00010
#define K_XMIN      0x00020
#define K_XMAX      0x00040
#define K_MULT      0x00080
#define K_MINLEN    0x00100
#define K_MAXLEN    0x00200
#define K_MINITEMS  0x00400
#define K_MAXITEMS  0x00800
#define K_UNIQUE    0x01000
#define K_MINPROPS  0x02000
#define K_MAXPROPS  0x04000
#define K_XMIN4     0x08000     /* draft 4: exclusiveMinimum true */
#define K_XMAX4     0x10000     /* draft 4: exclusiveMaximum true */

/* formats checked */
#define F_NONE      0
#define F_DATE      1
#define F_DATE_TIME 2
#define F_EMAIL     3
#define F_UUID      4
#define F_IPV4      5
#define F_IPV6      6

/* nesting of one validation: instance and schema together */
#define MAX_RECURSION  512

#define PTR_MAX        512


typedef struct node_s  node_t;

typedef struct {
    const char        *name;
    node_t            *node;
} prop_t;

typedef struct {
    void              *re;
    node_t            *node;
} pprop_t;

typedef struct {
    const char        *name;
    node_t            *node;      /* a schema, or */
    json_t            *names;     /* an array of names */
} dep_t;

typedef struct {
    node_t           **v;
    size_t             n;
} list_t;


struct node_s {
    json_t            *src;       /* the JSON it was compiled from */
    unsigned           boolean:1;
    unsigned           value:1;
    unsigned           tuple:1;
    uint32_t           has;
    unsigned           types;
    int                format;
    json_t            *enumv;
    json_t            *constv;
    double             min, max, xmin, xmax, mult;
    size_t             minlen, maxlen, minitems, maxitems, minprops,
                       maxprops;
    void              *pattern;
    prop_t            *props;
    size_t             nprops;
    pprop_t           *pprops;
    size_t             npprops;
    node_t            *addprops;
    node_t            *propnames;
    dep_t             *deps;
    size_t             ndeps;
    json_t            *required;
    node_t            *items;
    list_t             tuple_items;
    node_t            *additems;
    node_t            *contains;
    list_t             all, any, one;
    node_t            *not;
    node_t            *if_, *then_, *else_;
    char              *ref_str;
    node_t            *ref;
};


struct ngx_http_ws_api_schema_s {
    json_t                         *doc;
    node_t                         *root;
    node_t                        **nodes;
    size_t                          nnodes;
    size_t                          nalloc;
    const ngx_http_ws_api_regex_t  *regex;
    int                             draft;
};


typedef struct {
    ngx_http_ws_api_schema_t  *s;
    unsigned                   d;         /* D4, D6 or D7 */
    char                      *err;
    size_t                     err_len;
    char                       path[PTR_MAX];
    size_t                     plen;
} cx_t;


typedef struct {
    int (*handler)(cx_t *cx, node_t *n, json_t *v, const char *kw,
                   int depth);
    const char       *name;
    unsigned          drafts;
} kw_t;


typedef struct {
    const char       *key;        /* or NULL: */
    size_t            index;
} seg_t;


typedef struct {
    ngx_http_ws_api_schema_t  *s;
    size_t                     steps;
    int                        quiet;
    int                        failed;
    int                        exhausted;
    const char                *kw;
    size_t                     depth;
    seg_t                      path[MAX_RECURSION];
    size_t                     plen;
    char                       ptr[PTR_MAX];
} vx_t;


static node_t *sc_compile(cx_t *cx, json_t *s, int depth);
static int sc_fail_c(cx_t *cx, const char *fmt, const char *kw);
static int sc_validate(vx_t *v, node_t *n, json_t *i, const char *kw);


/* the JSON pointer of the schema being compiled */

static size_t
sc_push(char *path, size_t plen, const char *seg)
{
    size_t  len = plen;

    if (len + 2 >= PTR_MAX) {
        return plen;
    }

    path[len++] = '/';

    for ( /* void */ ; *seg && len + 3 < PTR_MAX; seg++) {
        if (*seg == '~' || *seg == '/') {
            path[len++] = '~';
            path[len++] = (*seg == '~') ? '0' : '1';

        } else {
            path[len++] = *seg;
        }
    }

    path[len] = '\0';

    return plen;
}


static int
sc_fail_c(cx_t *cx, const char *fmt, const char *kw)
{
    char  where[PTR_MAX + 2];

    snprintf(where, sizeof(where), "#%s", cx->path);
    snprintf(cx->err, cx->err_len, fmt, kw, where);

    return -1;
}


static node_t *
sc_node(cx_t *cx, json_t *src)
{
    node_t   *n, **nodes;
    size_t    size;

    if (cx->s->nnodes >= NGX_HTTP_WS_API_SCHEMA_MAX_NODES) {
        sc_fail_c(cx, "too many subschemas (%s) at \"%s\"", "limit");
        return NULL;
    }

    if (cx->s->nnodes == cx->s->nalloc) {
        size = cx->s->nalloc ? cx->s->nalloc * 2 : 16;
        nodes = realloc(cx->s->nodes, size * sizeof(node_t *));
        if (nodes == NULL) {
            snprintf(cx->err, cx->err_len, "no memory");
            return NULL;
        }

        cx->s->nodes = nodes;
        cx->s->nalloc = size;
    }

    n = calloc(1, sizeof(node_t));
    if (n == NULL) {
        snprintf(cx->err, cx->err_len, "no memory");
        return NULL;
    }

    n->src = src;
    cx->s->nodes[cx->s->nnodes++] = n;

    return n;
}


/* a subschema under kw (and seg, if not NULL) */

static node_t *
sc_sub(cx_t *cx, json_t *v, const char *kw, const char *seg, int depth)
{
    size_t   plen, plen2;
    node_t  *n;

    plen = sc_push(cx->path, cx->plen, kw);
    cx->plen = strlen(cx->path);

    plen2 = cx->plen;

    if (seg) {
        sc_push(cx->path, cx->plen, seg);
        cx->plen = strlen(cx->path);
    }

    n = sc_compile(cx, v, depth + 1);

    cx->path[plen2] = '\0';
    cx->path[plen] = '\0';
    cx->plen = plen;

    return n;
}


static int
sc_list(cx_t *cx, list_t *l, json_t *v, const char *kw, int depth)
{
    char     seg[24];
    size_t   i;
    json_t  *e;

    if (!json_is_array(v) || json_array_size(v) == 0) {
        return sc_fail_c(cx, "\"%s\" must be a non-empty array of schemas "
                         "at \"%s\"", kw);
    }

    l->v = calloc(json_array_size(v), sizeof(node_t *));
    if (l->v == NULL) {
        return sc_fail_c(cx, "no memory (%s%s)", "");
    }

    json_array_foreach(v, i, e) {
        snprintf(seg, sizeof(seg), "%zu", i);

        l->v[i] = sc_sub(cx, e, kw, seg, depth);
        if (l->v[i] == NULL) {
            return -1;
        }

        l->n++;
    }

    return 0;
}


static int
sc_schema_kw(cx_t *cx, node_t **to, json_t *v, const char *kw, int depth)
{
    *to = sc_sub(cx, v, kw, NULL, depth);

    return *to ? 0 : -1;
}


static int
kw_type_name(const char *s)
{
    static const struct { const char *name; unsigned t; }  types[] = {
        { "null", T_NULL }, { "boolean", T_BOOL }, { "object", T_OBJECT },
        { "array", T_ARRAY }, { "number", T_NUMBER },
        { "string", T_STRING }, { "integer", T_INTEGER }
    };

    size_t  i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(s, types[i].name) == 0) {
            return types[i].t;
        }
    }

    return 0;
}


static int
kw_type(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    int      t;
    size_t   i;
    json_t  *e;

    if (json_is_string(v)) {
        t = kw_type_name(json_string_value(v));
        if (t == 0) {
            return sc_fail_c(cx, "\"%s\" names an unknown type at \"%s\"",
                             kw);
        }

        n->types = t;

    } else if (json_is_array(v)) {
        json_array_foreach(v, i, e) {
            t = json_is_string(e) ? kw_type_name(json_string_value(e)) : 0;
            if (t == 0) {
                return sc_fail_c(cx, "\"%s\" names an unknown type at "
                                 "\"%s\"", kw);
            }

            n->types |= t;
        }

    } else {
        return sc_fail_c(cx, "\"%s\" must be a string or an array at \"%s\"",
                         kw);
    }

    n->has |= K_TYPE;

    return 0;
}


static int
kw_enum(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    if (!json_is_array(v)) {
        return sc_fail_c(cx, "\"%s\" must be an array at \"%s\"", kw);
    }

    n->enumv = v;
    n->has |= K_ENUM;

    return 0;
}


static int
kw_const(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    n->constv = v;
    n->has |= K_CONST;

    return 0;
}


static int
kw_number(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    double  d;

    if (strncmp(kw, "exclusiveM", 10) == 0 && json_is_boolean(v)
        && cx->d == D4)
    {
        if (json_is_true(v)) {
            n->has |= (kw[10] == 'i') ? K_XMIN4 : K_XMAX4;
        }

        return 0;
    }

    if (!json_is_number(v)) {
        return sc_fail_c(cx, "\"%s\" must be a number at \"%s\"", kw);
    }

    d = json_number_value(v);

    if (strcmp(kw, "minimum") == 0) {
        n->min = d;
        n->has |= K_MIN;

    } else if (strcmp(kw, "maximum") == 0) {
        n->max = d;
        n->has |= K_MAX;

    } else if (cx->d == D4) {
        return sc_fail_c(cx, "\"%s\" must be a boolean in draft 4 at "
                         "\"%s\"", kw);

    } else if (strcmp(kw, "exclusiveMinimum") == 0) {
        n->xmin = d;
        n->has |= K_XMIN;

    } else if (strcmp(kw, "exclusiveMaximum") == 0) {
        n->xmax = d;
        n->has |= K_XMAX;
    }

    return 0;
}


static int
kw_multiple(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    if (!json_is_number(v) || json_number_value(v) <= 0) {
        return sc_fail_c(cx, "\"%s\" must be a number above 0 at \"%s\"",
                         kw);
    }

    n->mult = json_number_value(v);
    n->has |= K_MULT;

    return 0;
}


static int
kw_count(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    double  d;
    size_t  c;

    d = json_is_number(v) ? json_number_value(v) : -1;

    if (d < 0 || d != floor(d) || (json_is_real(v) && cx->d == D4)) {
        return sc_fail_c(cx, "\"%s\" must be an integer, 0 or more, at "
                         "\"%s\"", kw);
    }

    c = (d > 1e18) ? (size_t) 1e18 : (size_t) d;

    if (strcmp(kw, "minLength") == 0) {
        n->minlen = c; n->has |= K_MINLEN;
    } else if (strcmp(kw, "maxLength") == 0) {
        n->maxlen = c; n->has |= K_MAXLEN;
    } else if (strcmp(kw, "minItems") == 0) {
        n->minitems = c; n->has |= K_MINITEMS;
    } else if (strcmp(kw, "maxItems") == 0) {
        n->maxitems = c; n->has |= K_MAXITEMS;
    } else if (strcmp(kw, "minProperties") == 0) {
        n->minprops = c; n->has |= K_MINPROPS;
    } else {
        n->maxprops = c; n->has |= K_MAXPROPS;
    }

    return 0;
}


static int
kw_unique(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    if (!json_is_boolean(v)) {
        return sc_fail_c(cx, "\"%s\" must be a boolean at \"%s\"", kw);
    }

    if (json_is_true(v)) {
        n->has |= K_UNIQUE;
    }

    return 0;
}


static void *
sc_regex(cx_t *cx, const char *pattern, size_t len, const char *kw)
{
    char   msg[160];
    void  *re;

    if (cx->s->regex == NULL) {
        sc_fail_c(cx, "\"%s\" needs a regex engine at \"%s\"", kw);
        return NULL;
    }

    re = cx->s->regex->compile(pattern, len, msg, sizeof(msg));
    if (re == NULL) {
        sc_fail_c(cx, "\"%s\" is not a valid regular expression at "
                  "\"%s\"", kw);
        snprintf(cx->err + strlen(cx->err), cx->err_len - strlen(cx->err),
                 ": %s", msg);
    }

    return re;
}


static int
kw_pattern(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    if (!json_is_string(v)) {
        return sc_fail_c(cx, "\"%s\" must be a string at \"%s\"", kw);
    }

    n->pattern = sc_regex(cx, json_string_value(v), json_string_length(v),
                          kw);

    return n->pattern ? 0 : -1;
}


static int
kw_format(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    static const char  *formats[] = {
        "", "date", "date-time", "email", "uuid", "ipv4", "ipv6"
    };

    size_t  i;

    if (!json_is_string(v)) {
        return sc_fail_c(cx, "\"%s\" must be a string at \"%s\"", kw);
    }

    /* the other formats are annotations, as the drafts allow */

    for (i = 1; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (strcmp(json_string_value(v), formats[i]) == 0) {
            n->format = i;
        }
    }

    return 0;
}


static int
sc_prop_cmp(const void *a, const void *b)
{
    return strcmp(((const prop_t *) a)->name, ((const prop_t *) b)->name);
}


static int
kw_properties(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    int          pat;
    size_t       i;
    json_t      *e;
    const char  *key;

    if (!json_is_object(v)) {
        return sc_fail_c(cx, "\"%s\" must be an object at \"%s\"", kw);
    }

    pat = (kw[0] == 'p' && kw[1] == 'a');
    i = 0;

    if (pat) {
        n->pprops = calloc(json_object_size(v) + 1, sizeof(pprop_t));
        if (n->pprops == NULL) {
            return sc_fail_c(cx, "no memory (%s%s)", "");
        }

    } else {
        n->props = calloc(json_object_size(v) + 1, sizeof(prop_t));
        if (n->props == NULL) {
            return sc_fail_c(cx, "no memory (%s%s)", "");
        }
    }

    json_object_foreach(v, key, e) {

        if (pat) {
            n->pprops[i].re = sc_regex(cx, key, strlen(key), kw);
            n->pprops[i].node = NULL;
            i++;
            n->npprops = i;

            if (n->pprops[i - 1].re == NULL) {
                return -1;
            }

            n->pprops[i - 1].node = sc_sub(cx, e, kw, key, depth);
            if (n->pprops[i - 1].node == NULL) {
                return -1;
            }

        } else {
            n->props[i].name = key;
            n->props[i].node = sc_sub(cx, e, kw, key, depth);
            if (n->props[i].node == NULL) {
                return -1;
            }

            n->nprops = ++i;
        }
    }

    if (!pat) {
        qsort(n->props, n->nprops, sizeof(prop_t), sc_prop_cmp);
    }

    return 0;
}


static int
kw_additional(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    node_t  *sub;

    /* booleans are schemas here even in draft 4 */

    if (json_is_boolean(v)) {
        sub = sc_node(cx, v);
        if (sub == NULL) {
            return -1;
        }

        sub->boolean = 1;
        sub->value = json_is_true(v);

    } else {
        sub = sc_sub(cx, v, kw, NULL, depth);
        if (sub == NULL) {
            return -1;
        }
    }

    if (kw[10] == 'P') {
        n->addprops = sub;

    } else {
        n->additems = sub;
    }

    return 0;
}


static int
kw_propnames(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    return sc_schema_kw(cx, &n->propnames, v, kw, depth);
}


static int
kw_required(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    size_t   i;
    json_t  *e;

    if (!json_is_array(v) || (cx->d == D4 && json_array_size(v) == 0)) {
        return sc_fail_c(cx, "\"%s\" must be an array of strings at \"%s\"",
                         kw);
    }

    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) {
            return sc_fail_c(cx, "\"%s\" must be an array of strings at "
                             "\"%s\"", kw);
        }
    }

    n->required = v;

    return 0;
}


static int
kw_dependencies(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    size_t       i, j;
    json_t      *e, *name;
    const char  *key;

    if (!json_is_object(v)) {
        return sc_fail_c(cx, "\"%s\" must be an object at \"%s\"", kw);
    }

    n->deps = calloc(json_object_size(v) + 1, sizeof(dep_t));
    if (n->deps == NULL) {
        return sc_fail_c(cx, "no memory (%s%s)", "");
    }

    i = 0;

    json_object_foreach(v, key, e) {
        n->deps[i].name = key;

        if (json_is_array(e)) {
            json_array_foreach(e, j, name) {
                if (!json_is_string(name)) {
                    return sc_fail_c(cx, "\"%s\" lists a name that is not "
                                     "a string at \"%s\"", kw);
                }
            }

            n->deps[i].names = e;

        } else {
            n->deps[i].node = sc_sub(cx, e, kw, key, depth);
            if (n->deps[i].node == NULL) {
                return -1;
            }
        }

        n->ndeps = ++i;
    }

    return 0;
}


static int
kw_items(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    if (json_is_array(v)) {
        n->tuple = 1;

        if (json_array_size(v) == 0) {
            return 0;
        }

        return sc_list(cx, &n->tuple_items, v, kw, depth);
    }

    return sc_schema_kw(cx, &n->items, v, kw, depth);
}


static int
kw_contains(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    return sc_schema_kw(cx, &n->contains, v, kw, depth);
}


static int
kw_combine(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    list_t  *l;

    l = (kw[0] == 'a' && kw[1] == 'l') ? &n->all
        : (kw[0] == 'a') ? &n->any : &n->one;

    return sc_list(cx, l, v, kw, depth);
}


static int
kw_not(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    return sc_schema_kw(cx, &n->not, v, kw, depth);
}


static int
kw_cond(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    node_t  **to;

    to = (kw[0] == 'i') ? &n->if_ : (kw[0] == 't') ? &n->then_ : &n->else_;

    return sc_schema_kw(cx, to, v, kw, depth);
}


static int
kw_definitions(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    json_t      *e;
    const char  *key;

    if (!json_is_object(v)) {
        return sc_fail_c(cx, "\"%s\" must be an object at \"%s\"", kw);
    }

    /* compiled, so that they are checked and $ref finds them */

    json_object_foreach(v, key, e) {
        if (sc_sub(cx, e, kw, key, depth) == NULL) {
            return -1;
        }
    }

    return 0;
}


static int
kw_annotation(cx_t *cx, node_t *n, json_t *v, const char *kw, int depth)
{
    return 0;
}


static const kw_t  sc_keywords[] = {
    { kw_type,        "type",                 DALL },
    { kw_enum,        "enum",                 DALL },
    { kw_const,       "const",                D6|D7 },
    { kw_number,      "minimum",              DALL },
    { kw_number,      "maximum",              DALL },
    { kw_number,      "exclusiveMinimum",     DALL },
    { kw_number,      "exclusiveMaximum",     DALL },
    { kw_multiple,    "multipleOf",           DALL },
    { kw_count,       "minLength",            DALL },
    { kw_count,       "maxLength",            DALL },
    { kw_count,       "minItems",             DALL },
    { kw_count,       "maxItems",             DALL },
    { kw_count,       "minProperties",        DALL },
    { kw_count,       "maxProperties",        DALL },
    { kw_unique,      "uniqueItems",          DALL },
    { kw_pattern,     "pattern",              DALL },
    { kw_format,      "format",               DALL },
    { kw_properties,  "properties",           DALL },
    { kw_properties,  "patternProperties",    DALL },
    { kw_additional,  "additionalProperties", DALL },
    { kw_propnames,   "propertyNames",        D6|D7 },
    { kw_required,    "required",             DALL },
    { kw_dependencies, "dependencies",        DALL },
    { kw_items,       "items",                DALL },
    { kw_additional,  "additionalItems",      DALL },
    { kw_contains,    "contains",             D6|D7 },
    { kw_combine,     "allOf",                DALL },
    { kw_combine,     "anyOf",                DALL },
    { kw_combine,     "oneOf",                DALL },
    { kw_not,         "not",                  DALL },
    { kw_cond,        "if",                   D7 },
    { kw_cond,        "then",                 D7 },
    { kw_cond,        "else",                 D7 },
    { kw_definitions, "definitions",          DALL },
    { kw_annotation,  "title",                DALL },
    { kw_annotation,  "description",          DALL },
    { kw_annotation,  "default",              DALL },
    { kw_annotation,  "$schema",              DALL },
    { kw_annotation,  "id",                   D4 },
    { kw_annotation,  "$id",                  D6|D7 },
    { kw_annotation,  "examples",             D6|D7 },
    { kw_annotation,  "$comment",             D7 },
    { kw_annotation,  "readOnly",             D7 },
    { kw_annotation,  "writeOnly",            D7 },
    { kw_annotation,  "contentMediaType",     D7 },
    { kw_annotation,  "contentEncoding",      D7 },
    { NULL, NULL, 0 }
};


static node_t *
sc_compile(cx_t *cx, json_t *s, int depth)
{
    node_t       *n;
    json_t       *v;
    const kw_t   *k;
    const char   *key;

    if (depth > NGX_HTTP_WS_API_SCHEMA_MAX_DEPTH) {
        sc_fail_c(cx, "schema nested too deep (%s) at \"%s\"", "limit");
        return NULL;
    }

    if (json_is_boolean(s) && cx->d != D4) {
        n = sc_node(cx, s);
        if (n) {
            n->boolean = 1;
            n->value = json_is_true(s);
        }

        return n;
    }

    if (!json_is_object(s)) {
        sc_fail_c(cx, "a schema must be an object%s at \"%s\"",
                  cx->d == D4 ? "" : " or a boolean");
        return NULL;
    }

    n = sc_node(cx, s);
    if (n == NULL) {
        return NULL;
    }

    v = json_object_get(s, "$ref");

    if (v) {
        /* siblings of $ref are ignored in drafts 4 to 7 */

        if (!json_is_string(v)) {
            sc_fail_c(cx, "\"%s\" must be a string at \"%s\"", "$ref");
            return NULL;
        }

        n->ref_str = strdup(json_string_value(v));
        if (n->ref_str == NULL) {
            snprintf(cx->err, cx->err_len, "no memory");
            return NULL;
        }

        return n;
    }

    json_object_foreach(s, key, v) {

        for (k = sc_keywords; k->name; k++) {
            if (strcmp(k->name, key) == 0) {
                break;
            }
        }

        if (k->name == NULL || !(k->drafts & cx->d)) {
            sc_fail_c(cx, "unsupported keyword \"%s\" at \"%s\"", key);
            return NULL;
        }

        if (k->handler(cx, n, v, key, depth) != 0) {
            return NULL;
        }
    }

    if ((n->has & K_XMIN4) && (n->has & K_MIN)) {
        n->xmin = n->min;
        n->has = (n->has & ~K_MIN) | K_XMIN;
    }

    if ((n->has & K_XMAX4) && (n->has & K_MAX)) {
        n->xmax = n->max;
        n->has = (n->has & ~K_MAX) | K_XMAX;
    }

    return n;
}


/* a local $ref: "#", "#/definitions/a", percent and ~ escapes */

static json_t *
sc_resolve(json_t *doc, const char *ref)
{
    int      hi, lo;
    char    *buf, *p, *q, *seg;
    size_t   idx;
    json_t  *cur;

    if (ref[0] != '#') {
        return NULL;
    }

    buf = malloc(strlen(ref) + 1);
    if (buf == NULL) {
        return NULL;
    }

    /* percent-decoding */

    for (p = (char *) ref + 1, q = buf; *p; p++) {
        if (*p == '%' && p[1] && p[2]) {
            hi = (p[1] >= 'a') ? p[1] - 'a' + 10
                 : (p[1] >= 'A') ? p[1] - 'A' + 10 : p[1] - '0';
            lo = (p[2] >= 'a') ? p[2] - 'a' + 10
                 : (p[2] >= 'A') ? p[2] - 'A' + 10 : p[2] - '0';

            if (hi < 0 || hi > 15 || lo < 0 || lo > 15 || (hi | lo) == 0) {
                free(buf);
                return NULL;
            }

            *q++ = (char) (hi << 4 | lo);
            p += 2;

        } else {
            *q++ = *p;
        }
    }

    *q = '\0';

    cur = doc;
    p = buf;

    if (*p != '\0' && *p != '/') {
        free(buf);
        return NULL;
    }

    while (*p == '/' && cur) {
        seg = ++p;

        for (q = seg; *p && *p != '/'; p++) {
            if (*p == '~') {
                if (p[1] != '0' && p[1] != '1') {
                    free(buf);
                    return NULL;
                }

                *q++ = (p[1] == '0') ? '~' : '/';
                p++;

            } else {
                *q++ = *p;
            }
        }

        if (json_is_object(cur)) {
            cur = json_object_getn(cur, seg, q - seg);

        } else if (json_is_array(cur)) {
            if (q == seg || (seg[0] == '0' && q - seg > 1)) {
                free(buf);
                return NULL;
            }

            for (idx = 0; seg < q; seg++) {
                if (*seg < '0' || *seg > '9' || idx > 1000000) {
                    free(buf);
                    return NULL;
                }

                idx = idx * 10 + (*seg - '0');
            }

            cur = json_array_get(cur, idx);

        } else {
            cur = NULL;
        }
    }

    free(buf);

    return cur;
}


static int
sc_link(cx_t *cx)
{
    size_t   i, j, hops;
    json_t  *target;
    node_t  *n, *t;

    /* nodes compiled for a $ref join the list: they are resolved too */

    for (i = 0; i < cx->s->nnodes; i++) {
        n = cx->s->nodes[i];

        if (n->ref_str == NULL) {
            continue;
        }

        snprintf(cx->path, sizeof(cx->path), "%s",
                 n->ref_str[0] ? n->ref_str + 1 : "");
        cx->plen = strlen(cx->path);

        target = sc_resolve(cx->s->doc, n->ref_str);

        if (target == NULL) {
            snprintf(cx->err, cx->err_len, "unsupported or unresolvable "
                     "\"$ref\": \"%.200s\" (only local JSON pointers)",
                     n->ref_str);
            return -1;
        }

        for (j = 0; j < cx->s->nnodes; j++) {
            if (cx->s->nodes[j]->src == target) {
                n->ref = cx->s->nodes[j];
                break;
            }
        }

        if (n->ref == NULL) {
            n->ref = sc_compile(cx, target, 0);
            if (n->ref == NULL) {
                return -1;
            }
        }
    }

    /* a chain of $ref that never reaches a schema of its own */

    for (i = 0; i < cx->s->nnodes; i++) {
        t = cx->s->nodes[i];

        for (hops = 0; t->ref; hops++) {
            if (hops > NGX_HTTP_WS_API_SCHEMA_MAX_REFS) {
                snprintf(cx->err, cx->err_len, "\"$ref\": \"%.200s\" is a "
                         "cycle of references", cx->s->nodes[i]->ref_str);
                return -1;
            }

            t = t->ref;
        }
    }

    return 0;
}


ngx_http_ws_api_schema_t *
ngx_http_ws_api_schema_compile(json_t *schema,
    const ngx_http_ws_api_regex_t *regex, char *err, size_t err_len)
{
    cx_t                       cx;
    json_t                    *v;
    const char                *uri;
    ngx_http_ws_api_schema_t  *s;

    memset(&cx, 0, sizeof(cx_t));

    cx.err = err;
    cx.err_len = err_len;
    cx.d = D7;

    v = json_is_object(schema) ? json_object_get(schema, "$schema") : NULL;

    if (v) {
        uri = json_is_string(v) ? json_string_value(v) : "";

        if (strncmp(uri, "https://", 8) == 0) {
            uri += 8;

        } else if (strncmp(uri, "http://", 7) == 0) {
            uri += 7;

        } else {
            uri = "";
        }

        if (strcmp(uri, "json-schema.org/draft-04/schema#") == 0
            || strcmp(uri, "json-schema.org/draft-04/schema") == 0)
        {
            cx.d = D4;

        } else if (strcmp(uri, "json-schema.org/draft-06/schema#") == 0
                   || strcmp(uri, "json-schema.org/draft-06/schema") == 0)
        {
            cx.d = D6;

        } else if (strcmp(uri, "json-schema.org/draft-07/schema#") != 0
                   && strcmp(uri, "json-schema.org/draft-07/schema") != 0)
        {
            snprintf(err, err_len, "unsupported \"$schema\" at \"#\": "
                     "drafts 4, 6 and 7 are");
            return NULL;
        }
    }

    s = calloc(1, sizeof(ngx_http_ws_api_schema_t));
    if (s == NULL) {
        snprintf(err, err_len, "no memory");
        return NULL;
    }

    s->regex = regex;
    s->draft = (cx.d == D4) ? 4 : (cx.d == D6) ? 6 : 7;
    cx.s = s;

    /* a copy of its own: nodes point into it */

    s->doc = json_deep_copy(schema);
    if (s->doc == NULL) {
        snprintf(err, err_len, "no memory");
        free(s);
        return NULL;
    }

    s->root = sc_compile(&cx, s->doc, 0);

    if (s->root == NULL || sc_link(&cx) != 0) {
        ngx_http_ws_api_schema_free(s);
        return NULL;
    }

    return s;
}


void
ngx_http_ws_api_schema_free(ngx_http_ws_api_schema_t *s)
{
    size_t   i, j;
    node_t  *n;

    if (s == NULL) {
        return;
    }

    for (i = 0; i < s->nnodes; i++) {
        n = s->nodes[i];

        if (n->pattern) {
            s->regex->free(n->pattern);
        }

        for (j = 0; j < n->npprops; j++) {
            if (n->pprops[j].re) {
                s->regex->free(n->pprops[j].re);
            }
        }

        free(n->pprops);
        free(n->props);
        free(n->deps);
        free(n->tuple_items.v);
        free(n->all.v);
        free(n->any.v);
        free(n->one.v);
        free(n->ref_str);
        free(n);
    }

    free(s->nodes);
    json_decref(s->doc);
    free(s);
}


int
ngx_http_ws_api_schema_draft(ngx_http_ws_api_schema_t *s)
{
    return s->draft;
}


/* validation */


static int
sc_fail(vx_t *v, const char *kw)
{
    char    *p, *end;
    size_t   i, k;
    const char  *key;

    if (v->quiet || v->failed) {
        return 0;
    }

    v->failed = 1;
    v->kw = kw;

    p = v->ptr;
    end = v->ptr + sizeof(v->ptr) - 8;

    for (i = 0; i < v->plen && p < end; i++) {
        *p++ = '/';

        key = v->path[i].key;

        if (key == NULL) {
            p += snprintf(p, end - p, "%zu", v->path[i].index);
            continue;
        }

        for (k = 0; key[k] && p < end; k++) {
            if (key[k] == '~' || key[k] == '/') {
                *p++ = '~';
                *p++ = (key[k] == '~') ? '0' : '1';

            } else {
                *p++ = key[k];
            }
        }
    }

    *p = '\0';

    return 0;
}


/* JSON equality: 1 equals 1.0 */

static int
sc_equal(json_t *a, json_t *b)
{
    size_t       i;
    json_t      *e;
    const char  *key;

    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b)) {
            return json_integer_value(a) == json_integer_value(b);
        }

        return json_number_value(a) == json_number_value(b);
    }

    if (json_typeof(a) != json_typeof(b)) {
        return 0;
    }

    switch (json_typeof(a)) {

    case JSON_STRING:
        return json_string_length(a) == json_string_length(b)
               && memcmp(json_string_value(a), json_string_value(b),
                         json_string_length(a)) == 0;

    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b)) {
            return 0;
        }

        json_array_foreach(a, i, e) {
            if (!sc_equal(e, json_array_get(b, i))) {
                return 0;
            }
        }

        return 1;

    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b)) {
            return 0;
        }

        json_object_foreach(a, key, e) {
            if (json_object_get(b, key) == NULL
                || !sc_equal(e, json_object_get(b, key)))
            {
                return 0;
            }
        }

        return 1;

    default:
        return 1;
    }
}


static int
sc_format(int format, const char *s, size_t len)
{
    size_t          i, at;
    unsigned char   buf[16];

    if (strlen(s) != len) {
        return 0;
    }

    switch (format) {

    case F_DATE:
        return ngx_http_ws_api_value_parse(NGX_HTTP_WS_API_DATE,
                                           (const u_char *) s, len, NULL)
               == 0;

    case F_DATE_TIME:
        return ngx_http_ws_api_value_parse(NGX_HTTP_WS_API_DATE_TIME,
                                           (const u_char *) s, len, NULL)
               == 0;

    case F_UUID:
        if (len != 36) {
            return 0;
        }

        for (i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (s[i] != '-') {
                    return 0;
                }

            } else if (!((s[i] >= '0' && s[i] <= '9')
                         || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f')))
            {
                return 0;
            }
        }

        return 1;

    case F_IPV4:
        return inet_pton(AF_INET, s, buf) == 1;

    case F_IPV6:
        return inet_pton(AF_INET6, s, buf) == 1;

    case F_EMAIL:

        /* local@domain: a dot-atom, then labels */

        at = len;

        for (i = 0; i < len; i++) {
            if (s[i] == '@') {
                if (at != len) {
                    return 0;
                }

                at = i;
            }
        }

        if (at == 0 || at == len || at + 1 == len
            || s[0] == '.' || s[at - 1] == '.' || s[at + 1] == '.'
            || s[len - 1] == '.')
        {
            return 0;
        }

        for (i = 0; i < len; i++) {
            if (i != at && ((unsigned char) s[i] <= ' ' || s[i] == '"'
                            || s[i] == '(' || s[i] == ')' || s[i] == ','
                            || s[i] == ':' || s[i] == ';' || s[i] == '<'
                            || s[i] == '>' || s[i] == '[' || s[i] == ']'
                            || s[i] == '\\' || s[i] == 0x7f
                            || (s[i] == '.' && s[i + 1] == '.')))
            {
                return 0;
            }
        }

        return 1;
    }

    return 1;
}


static size_t
sc_utf8_len(const char *s, size_t len)
{
    size_t  i, n;

    for (i = 0, n = 0; i < len; i++) {
        if (((unsigned char) s[i] & 0xc0) != 0x80) {
            n++;
        }
    }

    return n;
}


static int
sc_multiple(json_t *i, double m, json_t *src)
{
    double  q;

    if (json_is_integer(i) && m == floor(m) && m < 9e15) {
        return json_integer_value(i) % (json_int_t) m == 0;
    }

    q = json_number_value(i) / m;

    if (!isfinite(q)) {
        return 0;
    }

    return fabs(q - nearbyint(q)) <= 1e-9 * (fabs(q) > 1 ? fabs(q) : 1);
}


static int
sc_child(vx_t *v, node_t *n, json_t *i, const char *kw, const char *key,
    size_t index)
{
    int  rc;

    if (v->plen >= MAX_RECURSION) {
        v->exhausted = 1;
        return sc_fail(v, "depth");
    }

    v->path[v->plen].key = key;
    v->path[v->plen].index = index;
    v->plen++;

    rc = sc_validate(v, n, i, kw);

    v->plen--;

    return rc;
}


static int
sc_quiet(vx_t *v, node_t *n, json_t *i)
{
    int  rc;

    v->quiet++;
    rc = sc_validate(v, n, i, "");
    v->quiet--;

    return rc;
}


static int
sc_object(vx_t *v, node_t *n, json_t *i)
{
    int          matched;
    size_t       k, size, j;
    json_t      *e, *name;
    prop_t      *p, key_prop;
    const char  *key;

    size = json_object_size(i);

    if ((n->has & K_MINPROPS) && size < n->minprops) {
        return sc_fail(v, "minProperties");
    }

    if ((n->has & K_MAXPROPS) && size > n->maxprops) {
        return sc_fail(v, "maxProperties");
    }

    if (n->required) {
        json_array_foreach(n->required, k, name) {
            if (json_object_get(i, json_string_value(name)) == NULL) {
                return sc_fail(v, "required");
            }
        }
    }

    for (k = 0; k < n->ndeps; k++) {
        if (json_object_get(i, n->deps[k].name) == NULL) {
            continue;
        }

        if (n->deps[k].node) {
            if (!sc_validate(v, n->deps[k].node, i, "dependencies")) {
                return sc_fail(v, "dependencies");
            }

            continue;
        }

        json_array_foreach(n->deps[k].names, j, name) {
            if (json_object_get(i, json_string_value(name)) == NULL) {
                return sc_fail(v, "dependencies");
            }
        }
    }

    if (n->nprops == 0 && n->npprops == 0 && n->addprops == NULL
        && n->propnames == NULL)
    {
        return 1;
    }

    json_object_foreach(i, key, e) {

        if (n->propnames) {
            json_t  *s = json_string(key);
            int      rc;

            rc = s ? sc_quiet(v, n->propnames, s) : 0;
            json_decref(s);

            if (!rc) {
                return sc_fail(v, "propertyNames");
            }
        }

        matched = 0;

        if (n->nprops) {
            key_prop.name = key;
            p = bsearch(&key_prop, n->props, n->nprops, sizeof(prop_t),
                        sc_prop_cmp);

            if (p) {
                matched = 1;

                if (!sc_child(v, p->node, e, "properties", key, 0)) {
                    return 0;
                }
            }
        }

        for (k = 0; k < n->npprops; k++) {
            switch (v->s->regex->match(n->pprops[k].re, key, strlen(key))) {

            case 1:
                matched = 1;

                if (!sc_child(v, n->pprops[k].node, e, "patternProperties",
                              key, 0))
                {
                    return 0;
                }

                break;

            case -1:
                return sc_fail(v, "patternProperties");
            }
        }

        if (!matched && n->addprops
            && !sc_child(v, n->addprops, e, "additionalProperties", key, 0))
        {
            return 0;
        }
    }

    return 1;
}


static int
sc_array(vx_t *v, node_t *n, json_t *i)
{
    size_t   size, k, j;
    json_t  *e;

    size = json_array_size(i);

    if ((n->has & K_MINITEMS) && size < n->minitems) {
        return sc_fail(v, "minItems");
    }

    if ((n->has & K_MAXITEMS) && size > n->maxitems) {
        return sc_fail(v, "maxItems");
    }

    if (n->has & K_UNIQUE) {
        for (k = 0; k < size; k++) {
            v->steps += size - k;

            if (v->steps > NGX_HTTP_WS_API_SCHEMA_MAX_STEPS) {
                v->exhausted = 1;
                return sc_fail(v, "uniqueItems");
            }

            for (j = k + 1; j < size; j++) {
                if (sc_equal(json_array_get(i, k), json_array_get(i, j))) {
                    return sc_fail(v, "uniqueItems");
                }
            }
        }
    }

    json_array_foreach(i, k, e) {

        if (n->tuple) {
            if (k < n->tuple_items.n) {
                if (!sc_child(v, n->tuple_items.v[k], e, "items", NULL, k)) {
                    return 0;
                }

            } else if (n->additems
                       && !sc_child(v, n->additems, e, "additionalItems",
                                    NULL, k))
            {
                return 0;
            }

        } else if (n->items && !sc_child(v, n->items, e, "items", NULL, k)) {
            return 0;
        }
    }

    if (n->contains) {
        json_array_foreach(i, k, e) {
            if (sc_quiet(v, n->contains, e)) {
                return 1;
            }
        }

        return sc_fail(v, "contains");
    }

    return 1;
}


static int
sc_validate(vx_t *v, node_t *n, json_t *i, const char *kw)
{
    int          rc;
    double       d;
    size_t       k, matches;
    unsigned     t;
    json_t      *e;

    if (++v->steps > NGX_HTTP_WS_API_SCHEMA_MAX_STEPS
        || ++v->depth > MAX_RECURSION || v->exhausted)
    {
        v->depth--;
        v->exhausted = 1;
        return sc_fail(v, "depth");
    }

    rc = 0;

    if (n->boolean) {
        rc = n->value ? 1 : sc_fail(v, kw[0] ? kw : "false");
        goto done;
    }

    if (n->ref) {
        rc = sc_validate(v, n->ref, i, "$ref");
        goto done;
    }

    switch (json_typeof(i)) {
    case JSON_OBJECT:  t = T_OBJECT; break;
    case JSON_ARRAY:   t = T_ARRAY; break;
    case JSON_STRING:  t = T_STRING; break;
    case JSON_INTEGER: t = T_NUMBER | T_INTEGER; break;
    case JSON_REAL:
        d = json_real_value(i);
        t = T_NUMBER;
        if (v->s->draft != 4 && d == floor(d) && isfinite(d)) {
            t |= T_INTEGER;
        }
        break;
    case JSON_TRUE:
    case JSON_FALSE:   t = T_BOOL; break;
    default:           t = T_NULL; break;
    }

    if ((n->has & K_TYPE) && !(n->types & t)) {
        rc = sc_fail(v, "type");
        goto done;
    }

    if (n->has & K_ENUM) {
        json_array_foreach(n->enumv, k, e) {
            if (sc_equal(e, i)) {
                break;
            }
        }

        if (k == json_array_size(n->enumv)) {
            rc = sc_fail(v, "enum");
            goto done;
        }
    }

    if ((n->has & K_CONST) && !sc_equal(n->constv, i)) {
        rc = sc_fail(v, "const");
        goto done;
    }

    if (t & T_NUMBER) {
        d = json_number_value(i);

        if ((n->has & K_MIN) && d < n->min) {
            rc = sc_fail(v, "minimum");
            goto done;
        }

        if ((n->has & K_MAX) && d > n->max) {
            rc = sc_fail(v, "maximum");
            goto done;
        }

        if ((n->has & K_XMIN) && d <= n->xmin) {
            rc = sc_fail(v, (v->s->draft == 4) ? "minimum"
                                                : "exclusiveMinimum");
            goto done;
        }

        if ((n->has & K_XMAX) && d >= n->xmax) {
            rc = sc_fail(v, (v->s->draft == 4) ? "maximum"
                                                : "exclusiveMaximum");
            goto done;
        }

        if ((n->has & K_MULT) && !sc_multiple(i, n->mult, n->src)) {
            rc = sc_fail(v, "multipleOf");
            goto done;
        }

    } else if (t == T_STRING) {
        const char  *s = json_string_value(i);
        size_t       len = json_string_length(i);

        if (n->has & (K_MINLEN | K_MAXLEN)) {
            k = sc_utf8_len(s, len);

            if ((n->has & K_MINLEN) && k < n->minlen) {
                rc = sc_fail(v, "minLength");
                goto done;
            }

            if ((n->has & K_MAXLEN) && k > n->maxlen) {
                rc = sc_fail(v, "maxLength");
                goto done;
            }
        }

        if (n->pattern && v->s->regex->match(n->pattern, s, len) != 1) {
            rc = sc_fail(v, "pattern");
            goto done;
        }

        if (n->format && !sc_format(n->format, s, len)) {
            rc = sc_fail(v, "format");
            goto done;
        }

    } else if (t == T_OBJECT) {
        if (!sc_object(v, n, i)) {
            goto done;
        }

    } else if (t == T_ARRAY) {
        if (!sc_array(v, n, i)) {
            goto done;
        }
    }

    for (k = 0; k < n->all.n; k++) {
        if (!sc_validate(v, n->all.v[k], i, "allOf")) {
            rc = sc_fail(v, "allOf");
            goto done;
        }
    }

    if (n->any.n) {
        for (k = 0; k < n->any.n; k++) {
            if (sc_quiet(v, n->any.v[k], i)) {
                break;
            }
        }

        if (k == n->any.n) {
            rc = sc_fail(v, "anyOf");
            goto done;
        }
    }

    if (n->one.n) {
        for (k = 0, matches = 0; k < n->one.n && matches < 2; k++) {
            matches += sc_quiet(v, n->one.v[k], i);
        }

        if (matches != 1) {
            rc = sc_fail(v, "oneOf");
            goto done;
        }
    }

    if (n->not && sc_quiet(v, n->not, i)) {
        rc = sc_fail(v, "not");
        goto done;
    }

    if (n->if_) {
        if (sc_quiet(v, n->if_, i)) {
            if (n->then_ && !sc_validate(v, n->then_, i, "then")) {
                rc = sc_fail(v, "then");
                goto done;
            }

        } else if (n->else_ && !sc_validate(v, n->else_, i, "else")) {
            rc = sc_fail(v, "else");
            goto done;
        }
    }

    rc = !v->exhausted;

done:

    v->depth--;

    return rc;
}


int
ngx_http_ws_api_schema_validate(ngx_http_ws_api_schema_t *s,
    json_t *instance, char *reason)
{
    int      rc;
    size_t   room, len;
    vx_t    *v;

    v = malloc(sizeof(vx_t));
    if (v == NULL) {
        if (reason) {
            snprintf(reason, NGX_HTTP_WS_API_SCHEMA_REASON + 1,
                     "no memory to validate the payload");
        }

        return 0;
    }

    memset(v, 0, offsetof(vx_t, path));
    v->s = s;
    v->plen = 0;
    v->ptr[0] = '\0';

    rc = sc_validate(v, s->root, instance, "");

    if (!rc && reason) {

        if (v->exhausted) {
            snprintf(reason, NGX_HTTP_WS_API_SCHEMA_REASON + 1,
                     "payload validation exceeds its limits");

        } else {
            /* the pointer cut to fit, at a character boundary */

            room = NGX_HTTP_WS_API_SCHEMA_REASON
                   - (sizeof("payload fails  at \"\"") - 1)
                   - strlen(v->kw);
            len = strlen(v->ptr);

            if (len > room) {
                len = room - 3;

                while (len && ((unsigned char) v->ptr[len] & 0xc0) == 0x80) {
                    len--;
                }

                memcpy(v->ptr + len, "...", 4);
            }

            snprintf(reason, NGX_HTTP_WS_API_SCHEMA_REASON + 1,
                     "payload fails %.40s at \"%.*s\"", v->kw,
                     (int) strlen(v->ptr) & 0x7f, v->ptr);
        }
    }

    free(v);

    return rc;
}
