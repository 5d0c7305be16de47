
/*
 * Copyright (C) ws-api authors
 */


#include "ngx_http_ws_api_yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <yaml.h>


typedef struct {
    char        *data;
    size_t       len;
    size_t       size;
    int          failed;
} ngx_http_ws_api_yaml_buf_t;


typedef struct {
    json_t      *node;            /* an object or an array */
    char        *key;             /* an object's key awaiting its value */
    size_t       key_len;
} ngx_http_ws_api_yaml_frame_t;


static void ngx_http_ws_api_yaml_put(ngx_http_ws_api_yaml_buf_t *b,
    const char *s, size_t n);
static void ngx_http_ws_api_yaml_indent(ngx_http_ws_api_yaml_buf_t *b,
    size_t n);
static void ngx_http_ws_api_yaml_mapping(ngx_http_ws_api_yaml_buf_t *b,
    json_t *obj, size_t indent, int inline_first, int depth);
static void ngx_http_ws_api_yaml_sequence(ngx_http_ws_api_yaml_buf_t *b,
    json_t *arr, size_t indent, int inline_first, int depth);
static void ngx_http_ws_api_yaml_value(ngx_http_ws_api_yaml_buf_t *b,
    json_t *v, size_t indent, int depth);
static void ngx_http_ws_api_yaml_scalar(ngx_http_ws_api_yaml_buf_t *b,
    json_t *v);
static void ngx_http_ws_api_yaml_string(ngx_http_ws_api_yaml_buf_t *b,
    const char *s, size_t n);
static int ngx_http_ws_api_yaml_plain_safe(const char *s, size_t n);

static json_t *ngx_http_ws_api_yaml_resolve(const char *s, size_t n,
    const char *tag, int plain, const char **why);
static int ngx_http_ws_api_yaml_match(const char *s, size_t n,
    const char *set, size_t min);
static void ngx_http_ws_api_yaml_fail(ngx_http_ws_api_def_error_t *err,
    yaml_mark_t *mark, const char *fmt, const char *arg);


#define NGX_HTTP_WS_API_YAML_TAG  "tag:yaml.org,2002:"


/* output */

char *
ngx_http_ws_api_yaml_dump(json_t *value, size_t *len)
{
    ngx_http_ws_api_yaml_buf_t  b;

    memset(&b, 0, sizeof(b));

    if (json_is_object(value) && json_object_size(value)) {
        ngx_http_ws_api_yaml_mapping(&b, value, 0, 0, 0);

    } else if (json_is_array(value) && json_array_size(value)) {
        ngx_http_ws_api_yaml_sequence(&b, value, 0, 0, 0);

    } else {
        ngx_http_ws_api_yaml_scalar(&b, value);
        ngx_http_ws_api_yaml_put(&b, "\n", 1);
    }

    ngx_http_ws_api_yaml_put(&b, "", 1);

    if (b.failed) {
        free(b.data);
        return NULL;
    }

    *len = b.len - 1;

    return b.data;
}


static void
ngx_http_ws_api_yaml_put(ngx_http_ws_api_yaml_buf_t *b, const char *s,
    size_t n)
{
    char    *p;
    size_t   size;

    if (b->failed || n == 0) {
        return;
    }

    if (b->len + n > b->size) {
        size = b->size ? b->size : 1024;

        while (size < b->len + n) {
            size *= 2;
        }

        p = realloc(b->data, size);
        if (p == NULL) {
            b->failed = 1;
            return;
        }

        b->data = p;
        b->size = size;
    }

    memcpy(b->data + b->len, s, n);
    b->len += n;
}


static void
ngx_http_ws_api_yaml_indent(ngx_http_ws_api_yaml_buf_t *b, size_t n)
{
    static const char  spaces[] = "                                ";

    while (n > sizeof(spaces) - 1) {
        ngx_http_ws_api_yaml_put(b, spaces, sizeof(spaces) - 1);
        n -= sizeof(spaces) - 1;
    }

    ngx_http_ws_api_yaml_put(b, spaces, n);
}


/*
 * A non-empty object, "key: value" lines at indent; with inline_first the
 * first line continues one already begun (after "- ").
 */

static void
ngx_http_ws_api_yaml_mapping(ngx_http_ws_api_yaml_buf_t *b, json_t *obj,
    size_t indent, int inline_first, int depth)
{
    int          first;
    json_t      *v;
    const char  *key;

    if (depth > NGX_HTTP_WS_API_YAML_MAX_DEPTH) {
        b->failed = 1;
        return;
    }

    first = 1;

    json_object_foreach(obj, key, v) {

        if (!(first && inline_first)) {
            ngx_http_ws_api_yaml_indent(b, indent);
        }

        first = 0;

        ngx_http_ws_api_yaml_string(b, key, strlen(key));
        ngx_http_ws_api_yaml_put(b, ":", 1);
        ngx_http_ws_api_yaml_value(b, v, indent + 2, depth + 1);
    }
}


static void
ngx_http_ws_api_yaml_sequence(ngx_http_ws_api_yaml_buf_t *b, json_t *arr,
    size_t indent, int inline_first, int depth)
{
    size_t   i;
    json_t  *v;

    if (depth > NGX_HTTP_WS_API_YAML_MAX_DEPTH) {
        b->failed = 1;
        return;
    }

    json_array_foreach(arr, i, v) {

        if (!(i == 0 && inline_first)) {
            ngx_http_ws_api_yaml_indent(b, indent);
        }

        ngx_http_ws_api_yaml_put(b, "- ", 2);

        if (json_is_object(v) && json_object_size(v)) {
            ngx_http_ws_api_yaml_mapping(b, v, indent + 2, 1, depth + 1);

        } else if (json_is_array(v) && json_array_size(v)) {
            ngx_http_ws_api_yaml_sequence(b, v, indent + 2, 1, depth + 1);

        } else {
            ngx_http_ws_api_yaml_scalar(b, v);
            ngx_http_ws_api_yaml_put(b, "\n", 1);
        }
    }
}


/* what follows "key:" */

static void
ngx_http_ws_api_yaml_value(ngx_http_ws_api_yaml_buf_t *b, json_t *v,
    size_t indent, int depth)
{
    if (json_is_object(v) && json_object_size(v)) {
        ngx_http_ws_api_yaml_put(b, "\n", 1);
        ngx_http_ws_api_yaml_mapping(b, v, indent, 0, depth);
        return;
    }

    if (json_is_array(v) && json_array_size(v)) {
        ngx_http_ws_api_yaml_put(b, "\n", 1);
        ngx_http_ws_api_yaml_sequence(b, v, indent, 0, depth);
        return;
    }

    ngx_http_ws_api_yaml_put(b, " ", 1);
    ngx_http_ws_api_yaml_scalar(b, v);
    ngx_http_ws_api_yaml_put(b, "\n", 1);
}


static void
ngx_http_ws_api_yaml_scalar(ngx_http_ws_api_yaml_buf_t *b, json_t *v)
{
    char    num[64], *e;
    size_t  n;

    switch (json_typeof(v)) {

    case JSON_OBJECT:
        ngx_http_ws_api_yaml_put(b, "{}", 2);
        break;

    case JSON_ARRAY:
        ngx_http_ws_api_yaml_put(b, "[]", 2);
        break;

    case JSON_STRING:
        ngx_http_ws_api_yaml_string(b, json_string_value(v),
                                    json_string_length(v));
        break;

    case JSON_INTEGER:
        n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
        ngx_http_ws_api_yaml_put(b, num, n);
        break;

    case JSON_REAL:

        /*
         * jansson's form ("1.5", "2.0", "1e+300"), with a "." before an
         * exponent so that YAML 1.1 parsers see a float too
         */

        n = json_dumpb(v, num, sizeof(num) - 3, JSON_ENCODE_ANY);
        if (n == 0 || n >= sizeof(num) - 3) {
            b->failed = 1;
            break;
        }

        num[n] = '\0';

        e = strpbrk(num, "eE");

        if (e && memchr(num, '.', e - num) == NULL) {
            memmove(e + 2, e, n - (e - num) + 1);
            e[0] = '.';
            e[1] = '0';
            n += 2;
        }

        ngx_http_ws_api_yaml_put(b, num, n);
        break;

    case JSON_TRUE:
        ngx_http_ws_api_yaml_put(b, "true", 4);
        break;

    case JSON_FALSE:
        ngx_http_ws_api_yaml_put(b, "false", 5);
        break;

    default: /* JSON_NULL */
        ngx_http_ws_api_yaml_put(b, "null", 4);
        break;
    }
}


/*
 * Plain when nothing could misread it, else double-quoted: ", \ and
 * every character outside YAML's printable set escaped, other UTF-8 kept
 * as it is.
 */

static void
ngx_http_ws_api_yaml_string(ngx_http_ws_api_yaml_buf_t *b, const char *s,
    size_t n)
{
    char            esc[16];
    size_t          i, k;
    unsigned        cp;
    const u_char   *p;

    if (ngx_http_ws_api_yaml_plain_safe(s, n)) {
        ngx_http_ws_api_yaml_put(b, s, n);
        return;
    }

    p = (const u_char *) s;

    ngx_http_ws_api_yaml_put(b, "\"", 1);

    for (i = 0; i < n; /* void */) {

        if (p[i] < 0x80) {

            switch (p[i]) {
            case '"':  ngx_http_ws_api_yaml_put(b, "\\\"", 2); break;
            case '\\': ngx_http_ws_api_yaml_put(b, "\\\\", 2); break;
            case '\0': ngx_http_ws_api_yaml_put(b, "\\0", 2); break;
            case '\t': ngx_http_ws_api_yaml_put(b, "\\t", 2); break;
            case '\n': ngx_http_ws_api_yaml_put(b, "\\n", 2); break;
            case '\r': ngx_http_ws_api_yaml_put(b, "\\r", 2); break;

            default:
                if (p[i] < 0x20 || p[i] == 0x7f) {
                    k = snprintf(esc, sizeof(esc), "\\x%02X", p[i]);
                    ngx_http_ws_api_yaml_put(b, esc, k);

                } else {
                    ngx_http_ws_api_yaml_put(b, s + i, 1);
                }
            }

            i++;
            continue;
        }

        /* jansson strings are valid UTF-8: a lead byte and its tail */

        k = (p[i] >= 0xf0) ? 4 : (p[i] >= 0xe0) ? 3 : 2;

        if (i + k > n) {
            k = n - i;
        }

        cp = (k == 2) ? (p[i] & 0x1fu) : (k == 3) ? (p[i] & 0x0fu)
                                                   : (p[i] & 0x07u);

        for (size_t j = 1; j < k; j++) {
            cp = (cp << 6) | (p[i + j] & 0x3fu);
        }

        if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029
            || cp == 0xfeff || cp == 0xfffe || cp == 0xffff)
        {
            k = snprintf(esc, sizeof(esc), "\\u%04X", cp);
            ngx_http_ws_api_yaml_put(b, esc, k);

            i += (cp >= 0x800) ? 3 : 2;
            continue;
        }

        ngx_http_ws_api_yaml_put(b, s + i, k);
        i += k;
    }

    ngx_http_ws_api_yaml_put(b, "\"", 1);
}


/*
 * ASCII words that begin with a letter, "_", "/" or "$" and hold only
 * letters, digits and " _-./$()+=@", not ending in a space, and that no
 * schema reads as null or a boolean (1.1's yes/no/on/off included).
 * Anything else is quoted, which is always correct.
 */

static int
ngx_http_ws_api_yaml_plain_safe(const char *s, size_t n)
{
    size_t       i;
    u_char       c;

    static const char  *words[] = {
        "null", "true", "false", "yes", "no", "on", "off", "y", "n", NULL
    };

    if (n == 0 || s[n - 1] == ' ') {
        return 0;
    }

    c = s[0];

    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
          || c == '/' || c == '$'))
    {
        return 0;
    }

    for (i = 0; i < n; i++) {
        c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || strchr(" _-./$()+=@", c))
            || c == '\0')
        {
            return 0;
        }
    }

    for (i = 0; words[i]; i++) {
        if (strlen(words[i]) == n && strncasecmp(words[i], s, n) == 0) {
            return 0;
        }
    }

    return 1;
}


/* input */

json_t *
ngx_http_ws_api_yaml_load(const char *text, size_t len,
    ngx_http_ws_api_def_error_t *err)
{
    int                            done, documents, plain;
    char                          *key;
    size_t                         depth, nodes, n;
    json_t                        *root, *v;
    const char                    *why, *tag;
    yaml_event_t                   event;
    yaml_parser_t                  parser;
    ngx_http_ws_api_yaml_frame_t   stack[NGX_HTTP_WS_API_YAML_MAX_DEPTH + 1];
    ngx_http_ws_api_yaml_frame_t  *top;

    memset(err, 0, sizeof(*err));

    if (!yaml_parser_initialize(&parser)) {
        err->status = 500;
        snprintf(err->message, sizeof(err->message), "out of memory");
        return NULL;
    }

    yaml_parser_set_input_string(&parser, (const u_char *) text, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

    root = NULL;
    depth = 0;
    nodes = 0;
    documents = 0;
    done = 0;

    while (!done) {

        if (!yaml_parser_parse(&parser, &event)) {
            snprintf(err->message, sizeof(err->message),
                     "malformed YAML: %s%s%s (line %zu, column %zu)",
                     parser.problem ? parser.problem : "error",
                     parser.context ? " " : "",
                     parser.context ? parser.context : "",
                     parser.problem_mark.line + 1,
                     parser.problem_mark.column + 1);
            err->status = 400;
            goto failed;
        }

        v = NULL;

        switch (event.type) {

        case YAML_STREAM_END_EVENT:
            done = 1;
            break;

        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1) {
                ngx_http_ws_api_yaml_fail(err, &event.start_mark,
                                          "one YAML document is expected, "
                                          "not a stream of several%s", "");
                goto failed_event;
            }

            break;

        case YAML_ALIAS_EVENT:
            ngx_http_ws_api_yaml_fail(err, &event.start_mark,
                                      "YAML aliases (*%s) are not supported",
                                      (char *) event.data.alias.anchor);
            goto failed_event;

        case YAML_SCALAR_EVENT:
            tag = (const char *) event.data.scalar.tag;
            plain = (event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE);

            if (depth && json_is_object(stack[depth - 1].node)
                && stack[depth - 1].key == NULL)
            {
                /* a key: its text, whatever it looks like */

                n = event.data.scalar.length;

                if (memchr(event.data.scalar.value, '\0', n)
                    || (tag && strcmp(tag, NGX_HTTP_WS_API_YAML_TAG "str")
                        && strcmp(tag, "!")))
                {
                    ngx_http_ws_api_yaml_fail(err, &event.start_mark,
                                              "a mapping key must be a "
                                              "string%s", "");
                    goto failed_event;
                }

                key = malloc(n + 1);
                if (key == NULL) {
                    goto nomem;
                }

                memcpy(key, event.data.scalar.value, n);
                key[n] = '\0';

                if (json_object_get(stack[depth - 1].node, key)) {
                    free(key);
                    ngx_http_ws_api_yaml_fail(err, &event.start_mark,
                                              "duplicate key \"%.64s\"",
                                              (char *)
                                              event.data.scalar.value);
                    goto failed_event;
                }

                stack[depth - 1].key = key;
                stack[depth - 1].key_len = n;
                break;
            }

            v = ngx_http_ws_api_yaml_resolve(
                    (const char *) event.data.scalar.value,
                    event.data.scalar.length, tag, plain, &why);

            if (v == NULL) {
                ngx_http_ws_api_yaml_fail(err, &event.start_mark, "%s", why);
                goto failed_event;
            }

            break;

        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            tag = (const char *) (event.type == YAML_SEQUENCE_START_EVENT
                                  ? event.data.sequence_start.tag
                                  : event.data.mapping_start.tag);

            if (tag && strcmp(tag, event.type == YAML_SEQUENCE_START_EVENT
                                   ? NGX_HTTP_WS_API_YAML_TAG "seq"
                                   : NGX_HTTP_WS_API_YAML_TAG "map")
                && strcmp(tag, "!"))
            {
                ngx_http_ws_api_yaml_fail(err, &event.start_mark,
                                          "the YAML tag %s is not supported",
                                          tag);
                goto failed_event;
            }

            if (depth == NGX_HTTP_WS_API_YAML_MAX_DEPTH) {
                ngx_http_ws_api_yaml_fail(err, &event.start_mark,
                                          "the document is nested too deep%s",
                                          "");
                goto failed_event;
            }

            if (depth && json_is_object(stack[depth - 1].node)
                && stack[depth - 1].key == NULL)
            {
                ngx_http_ws_api_yaml_fail(err, &event.start_mark,
                                          "a mapping key must be a "
                                          "string%s", "");
                goto failed_event;
            }

            v = (event.type == YAML_SEQUENCE_START_EVENT) ? json_array()
                                                          : json_object();
            if (v == NULL) {
                goto nomem;
            }

            break;

        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;

        default:
            break;
        }

        if (v) {

            if (++nodes > NGX_HTTP_WS_API_YAML_MAX_NODES) {
                json_decref(v);
                ngx_http_ws_api_yaml_fail(err, &event.start_mark,
                                          "the document is too large%s", "");
                goto failed_event;
            }

            if (depth == 0) {
                root = v;

            } else {
                top = &stack[depth - 1];

                if (json_is_array(top->node)) {
                    if (json_array_append(top->node, v) != 0) {
                        json_decref(v);
                        goto nomem;
                    }

                } else {
                    if (json_object_setn(top->node, top->key, top->key_len, v)
                        != 0)
                    {
                        json_decref(v);
                        goto nomem;
                    }

                    free(top->key);
                    top->key = NULL;
                }

                json_decref(v);
            }

            if (json_is_object(v) || json_is_array(v)) {
                stack[depth].node = v;
                stack[depth].key = NULL;
                depth++;
            }
        }

        yaml_event_delete(&event);
    }

    yaml_parser_delete(&parser);

    if (root == NULL) {
        err->status = 400;
        snprintf(err->message, sizeof(err->message),
                 "the YAML document is empty");
        return NULL;
    }

    return root;

nomem:

    err->status = 500;
    snprintf(err->message, sizeof(err->message), "out of memory");

failed_event:

    yaml_event_delete(&event);

failed:

    while (depth) {
        free(stack[--depth].key);
    }

    yaml_parser_delete(&parser);
    json_decref(root);

    return NULL;
}


/* a scalar by the YAML 1.2 core schema (or its explicit tag) */

static json_t *
ngx_http_ws_api_yaml_resolve(const char *s, size_t n, const char *tag,
    int plain, const char **why)
{
    char        *end, buf[64];
    double       d;
    json_t      *v;
    long long    i;
    const char  *t, *digits;

    *why = "the scalar is not valid UTF-8";

    if (tag && strcmp(tag, "!") == 0) {
        return json_stringn(s, n);
    }

    if (tag) {
        if (strncmp(tag, NGX_HTTP_WS_API_YAML_TAG,
                    sizeof(NGX_HTTP_WS_API_YAML_TAG) - 1)
            != 0)
        {
            *why = "the scalar has a tag that is not supported";
            return NULL;
        }

        t = tag + sizeof(NGX_HTTP_WS_API_YAML_TAG) - 1;

        if (strcmp(t, "str") == 0) {
            return json_stringn(s, n);
        }

        if (strcmp(t, "null") && strcmp(t, "bool") && strcmp(t, "int")
            && strcmp(t, "float"))
        {
            *why = "the scalar has a tag that is not supported";
            return NULL;
        }

    } else if (!plain) {
        return json_stringn(s, n);

    } else {
        t = NULL;
    }

    /* plain, or tagged !!null, !!bool, !!int, !!float */

    if ((t == NULL || strcmp(t, "null") == 0)
        && (n == 0 || (n == 1 && s[0] == '~')
            || (n == 4 && (memcmp(s, "null", 4) == 0
                           || memcmp(s, "Null", 4) == 0
                           || memcmp(s, "NULL", 4) == 0))))
    {
        return json_null();
    }

    if (t == NULL || strcmp(t, "bool") == 0) {
        if (n == 4 && (memcmp(s, "true", 4) == 0 || memcmp(s, "True", 4) == 0
                       || memcmp(s, "TRUE", 4) == 0))
        {
            return json_true();
        }

        if (n == 5 && (memcmp(s, "false", 5) == 0
                       || memcmp(s, "False", 5) == 0
                       || memcmp(s, "FALSE", 5) == 0))
        {
            return json_false();
        }
    }

    if (n < sizeof(buf) && (t == NULL || strcmp(t, "int") == 0
                            || strcmp(t, "float") == 0))
    {
        memcpy(buf, s, n);
        buf[n] = '\0';

        digits = (buf[0] == '-' || buf[0] == '+') ? buf + 1 : buf;

        if ((t == NULL || strcmp(t, "int") == 0)
            && (ngx_http_ws_api_yaml_match(digits, strlen(digits),
                                           "0123456789", 1)
                || (n > 2 && buf[0] == '0' && buf[1] == 'o'
                    && ngx_http_ws_api_yaml_match(buf + 2, n - 2,
                                                  "01234567", 1))
                || (n > 2 && buf[0] == '0' && buf[1] == 'x'
                    && ngx_http_ws_api_yaml_match(buf + 2, n - 2,
                                                  "0123456789abcdefABCDEF",
                                                  1))))
        {
            errno = 0;

            if (buf[0] == '0' && (buf[1] == 'o' || buf[1] == 'x')) {
                i = strtoll(buf + 2, &end, buf[1] == 'o' ? 8 : 16);

            } else {
                i = strtoll(buf, &end, 10);
            }

            if (errno == ERANGE) {
                *why = "the integer is out of the 64-bit range";
                return NULL;
            }

            v = json_integer(i);
            *why = "out of memory";
            return v;
        }

        if (t == NULL || strcmp(t, "float") == 0) {

            if (strcmp(digits, ".inf") == 0 || strcmp(digits, ".Inf") == 0
                || strcmp(digits, ".INF") == 0 || strcmp(buf, ".nan") == 0
                || strcmp(buf, ".NaN") == 0 || strcmp(buf, ".NAN") == 0)
            {
                *why = "infinity and NaN cannot be written in JSON";
                return NULL;
            }

            /* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */

            end = (char *) digits;

            while (*end >= '0' && *end <= '9') {
                end++;
            }

            i = end - digits;

            if (*end == '.') {
                end++;

                while (*end >= '0' && *end <= '9') {
                    end++;
                    i++;
                }
            }

            if (i > 0 && (*end == 'e' || *end == 'E')) {
                end++;

                if (*end == '-' || *end == '+') {
                    end++;
                }

                if (!(*end >= '0' && *end <= '9')) {
                    i = 0;
                }

                while (*end >= '0' && *end <= '9') {
                    end++;
                }
            }

            if (i > 0 && *end == '\0') {
                d = strtod(buf, &end);

                if (!isfinite(d)) {
                    *why = "the number is out of the range of a double";
                    return NULL;
                }

                *why = "out of memory";
                return json_real(d);
            }
        }
    }

    if (t) {
        *why = "the scalar does not match its tag";
        return NULL;
    }

    return json_stringn(s, n);
}


/* s is min or more characters of set */

static int
ngx_http_ws_api_yaml_match(const char *s, size_t n, const char *set,
    size_t min)
{
    size_t  i;

    if (n < min) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (s[i] == '\0' || strchr(set, s[i]) == NULL) {
            return 0;
        }
    }

    return 1;
}


static void
ngx_http_ws_api_yaml_fail(ngx_http_ws_api_def_error_t *err,
    yaml_mark_t *mark, const char *fmt, const char *arg)
{
    int  n;

    err->status = 400;

    n = snprintf(err->message, sizeof(err->message), fmt, arg);

    if (n >= 0 && (size_t) n < sizeof(err->message)) {
        snprintf(err->message + n, sizeof(err->message) - n,
                 " (line %zu, column %zu)", mark->line + 1,
                 mark->column + 1);
    }
}
