
/*
 * Copyright (C) ws-api authors
 */


/*
 * The unit tests of src/ngx_http_ws_api_schema.c: cases of our own, then
 * the official JSON-Schema-Test-Suite as Debian packages it (package
 * json-schema-test-suite), every file of the supported keywords of drafts
 * 4, 6 and 7, with pass counts per draft and per file.  A case the
 * validator cannot take (a remote $ref) is listed as skipped with its
 * reason; a failing case of a supported keyword fails the test unless it
 * is in the list of known deviations below, each with its reason.
 */


#include <dirent.h>
#include <stdlib.h>
#include <jansson.h>

#include "tap.h"
#include "ngx_http_ws_api_schema.h"


#define SUITE  "/usr/share/json-schema-test-suite/tests"


/* files skipped as a whole, with the reason */

static const struct { const char *file, *reason; }  skipped_files[] = {
    { "refRemote.json", "remote $ref (only local JSON pointers are "
                        "supported)" },
    { "optional/bignum.json", "integers beyond 64 bits (jansson refuses "
                              "them at parse time)" },
    { "optional/ecmascript-regex.json", "ECMAScript regex dialect (PCRE2 "
                                        "is used)" },
    { "optional/content.json", "contentMediaType/contentEncoding are "
                               "annotations" },
    { "optional/format/hostname.json", "format not checked (annotation)" },
    { "optional/format/idn-email.json", "format not checked (annotation)" },
    { "optional/format/idn-hostname.json", "format not checked "
                                           "(annotation)" },
    { "optional/format/iri-reference.json", "format not checked "
                                            "(annotation)" },
    { "optional/format/iri.json", "format not checked (annotation)" },
    { "optional/format/json-pointer.json", "format not checked "
                                           "(annotation)" },
    { "optional/format/regex.json", "format not checked (annotation)" },
    { "optional/format/relative-json-pointer.json", "format not checked "
                                                    "(annotation)" },
    { "optional/format/time.json", "format not checked (annotation)" },
    { "optional/format/uri-reference.json", "format not checked "
                                            "(annotation)" },
    { "optional/format/uri-template.json", "format not checked "
                                           "(annotation)" },
    { "optional/format/uri.json", "format not checked (annotation)" },
    { NULL, NULL }
};


/*
 * Known deviations: (draft, file, group, test) with the reason.  A case
 * listed here is counted apart and does not fail the run.
 */

static const struct { int draft; const char *file, *group, *test, *reason; }
    deviations[] = {
    /*
     * the schema keeps its subschemas under members that are not
     * keywords ("tilda~field"): an unknown keyword is refused here by
     * design, never silently ignored (issue 12)
     */
    { 4, "ref.json", "escaped pointer ref", NULL,
      "unknown keywords are refused" },
    { 6, "ref.json", "escaped pointer ref", NULL,
      "unknown keywords are refused" },
    { 7, "ref.json", "escaped pointer ref", NULL,
      "unknown keywords are refused" },
    { 0, NULL, NULL, NULL, NULL }
};


static int  suite_pass, suite_fail, suite_skip, suite_known;


static const char *
skipped(const char *file)
{
    int  i;

    for (i = 0; skipped_files[i].file; i++) {
        if (strcmp(skipped_files[i].file, file) == 0) {
            return skipped_files[i].reason;
        }
    }

    return NULL;
}


static const char *
deviation(int draft, const char *file, const char *group, const char *test)
{
    int  i;

    for (i = 0; deviations[i].file; i++) {
        if (deviations[i].draft == draft
            && strcmp(deviations[i].file, file) == 0
            && strcmp(deviations[i].group, group) == 0
            && (deviations[i].test == NULL
                || strcmp(deviations[i].test, test) == 0))
        {
            return deviations[i].reason;
        }
    }

    return NULL;
}


static void
suite_file(int draft, const char *dir, const char *file)
{
    int                        pass, fail, skip, got, want;
    char                       path[1100], err[256];
    size_t                     g, t;
    json_t                    *doc, *group, *schema, *test, *copy;
    const char                *reason, *gdesc, *tdesc, *fmt;
    json_error_t               jerr;
    ngx_http_ws_api_schema_t  *s;

    reason = skipped(file);

    snprintf(path, sizeof(path), "%s/%s", dir, file);

    doc = json_load_file(path, JSON_DECODE_ANY, &jerr);

    if (doc == NULL) {
        if (reason == NULL) {
            ok(0, "draft%d %s loads: %s", draft, file, jerr.text);
        }

        tap_diag("draft%d %-40s skipped: %s", draft, file,
                 reason ? reason : "does not load");
        return;
    }

    if (reason) {
        t = 0;

        json_array_foreach(doc, g, group) {
            t += json_array_size(json_object_get(group, "tests"));
        }

        suite_skip += t;
        tap_diag("draft%d %-40s %3zu skipped: %s", draft, file, t, reason);
        json_decref(doc);
        return;
    }

    pass = fail = skip = 0;

    json_array_foreach(doc, g, group) {
        gdesc = json_string_value(json_object_get(group, "description"));
        schema = json_object_get(group, "schema");

        /* drafts 4 and 6 keep every format in one file */

        fmt = json_string_value(json_object_get(schema, "format"));

        if (fmt && strcmp(fmt, "date") && strcmp(fmt, "date-time")
            && strcmp(fmt, "email") && strcmp(fmt, "uuid")
            && strcmp(fmt, "ipv4") && strcmp(fmt, "ipv6"))
        {
            t = json_array_size(json_object_get(group, "tests"));
            skip += t;
            tap_diag("  skipped draft%d %s \"%s\": %zu, format \"%s\" not "
                     "checked (annotation)", draft, file, gdesc, t, fmt);
            continue;
        }

        /* the draft of the folder, as the suite means it */

        copy = json_deep_copy(schema);

        if (json_is_object(copy) && json_object_get(copy, "$schema") == NULL
            && draft != 7)
        {
            json_object_set_new(copy, "$schema", json_string(
                draft == 4 ? "http://json-schema.org/draft-04/schema#"
                           : "http://json-schema.org/draft-06/schema#"));
        }

        s = ngx_http_ws_api_schema_compile(copy, &ngx_http_ws_api_regex_pcre2,
                                           err, sizeof(err));
        json_decref(copy);

        json_array_foreach(json_object_get(group, "tests"), t, test) {
            tdesc = json_string_value(json_object_get(test, "description"));
            want = json_is_true(json_object_get(test, "valid"));

            if (s == NULL) {
                if (strstr(err, "$ref") && strstr(err, "local")) {
                    skip++;
                    tap_diag("  skipped draft%d %s \"%s\": %s", draft, file,
                             gdesc, err);
                    continue;
                }

                reason = deviation(draft, file, gdesc, tdesc);
                if (reason) {
                    suite_known++;
                    tap_diag("  known deviation draft%d %s \"%s\" / \"%s\": "
                             "%s", draft, file, gdesc, tdesc, reason);
                    continue;
                }

                fail++;
                ok(0, "draft%d %s \"%s\" compiles: %s", draft, file, gdesc,
                   err);
                continue;
            }

            got = ngx_http_ws_api_schema_validate(s,
                                                json_object_get(test, "data"),
                                                NULL);

            if (got == want) {
                pass++;
                continue;
            }

            reason = deviation(draft, file, gdesc, tdesc);
            if (reason) {
                suite_known++;
                tap_diag("  known deviation draft%d %s \"%s\" / \"%s\": %s",
                         draft, file, gdesc, tdesc, reason);
                continue;
            }

            fail++;
            ok(0, "draft%d %s \"%s\" / \"%s\": valid %d", draft, file, gdesc,
               tdesc, want);
        }

        ngx_http_ws_api_schema_free(s);
    }

    json_decref(doc);

    suite_pass += pass;
    suite_fail += fail;
    suite_skip += skip;

    tap_diag("draft%d %-40s %3d passed, %d failed, %d skipped", draft, file,
             pass, fail, skip);
}


static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


static void
suite_dir(int draft, const char *base, const char *sub)
{
    DIR            *d;
    char            dir[300], file[300], *names[256];
    size_t          n, i, len;
    struct dirent  *e;

    snprintf(dir, sizeof(dir), "%s%s%s", base, sub[0] ? "/" : "", sub);

    d = opendir(dir);
    if (d == NULL) {
        return;
    }

    n = 0;

    while ((e = readdir(d)) != NULL && n < 256) {
        len = strlen(e->d_name);

        if (e->d_name[0] == '.') {
            continue;
        }

        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) {
            names[n++] = strdup(e->d_name);

        } else if (strcmp(e->d_name, "optional") == 0
                   || strcmp(e->d_name, "format") == 0)
        {
            snprintf(file, sizeof(file), "%s%s%s", sub, sub[0] ? "/" : "",
                     e->d_name);
            names[n++] = strdup(file);
            names[n - 1][0] |= 0;   /* a folder: marked below */
        }
    }

    closedir(d);

    qsort(names, n, sizeof(char *), name_cmp);

    for (i = 0; i < n; i++) {
        len = strlen(names[i]);

        if (len > 5 && strcmp(names[i] + len - 5, ".json") == 0) {
            snprintf(file, sizeof(file), "%s%s%s", sub, sub[0] ? "/" : "",
                     names[i]);
            suite_file(draft, base, file);

        } else {
            suite_dir(draft, base, names[i]);
        }

        free(names[i]);
    }
}


static void
test_suite(void)
{
    int   draft, pass, fail, skip;
    char  dir[256];

    for (draft = 4; draft <= 7; draft++) {
        if (draft == 5) {
            continue;
        }

        snprintf(dir, sizeof(dir), SUITE "/draft%d", draft);

        pass = suite_pass;
        fail = suite_fail;
        skip = suite_skip;

        suite_dir(draft, dir, "");

        ok(suite_fail == fail, "JSON-Schema-Test-Suite draft%d: %d passed, "
           "%d failed, %d skipped", draft, suite_pass - pass,
           suite_fail - fail, suite_skip - skip);
    }

    ok(suite_pass > 0, "JSON-Schema-Test-Suite: %d passed, %d failed, "
       "%d skipped, %d known deviations", suite_pass, suite_fail, suite_skip,
       suite_known);
}


/* cases of our own */

static json_t *
j(const char *text)
{
    json_t  *v;

    v = json_loads(text, JSON_DECODE_ANY, NULL);
    if (v == NULL) {
        tap_diag("bad JSON in a case: %s", text);
        exit(2);
    }

    return v;
}


static void
compile_error(const char *schema, const char *expect)
{
    char                       err[256];
    json_t                    *v;
    ngx_http_ws_api_schema_t  *s;

    v = j(schema);
    err[0] = '\0';
    s = ngx_http_ws_api_schema_compile(v, &ngx_http_ws_api_regex_pcre2, err,
                                       sizeof(err));
    ok(s == NULL && strstr(err, expect) != NULL, "%s refused: %s", schema,
       err);
    ngx_http_ws_api_schema_free(s);
    json_decref(v);
}


static void
check(const char *schema, const char *instance, const char *reason)
{
    int                        rc;
    char                       err[256], why[NGX_HTTP_WS_API_SCHEMA_REASON + 1];
    json_t                    *v, *i;
    ngx_http_ws_api_schema_t  *s;

    v = j(schema);
    i = j(instance);

    s = ngx_http_ws_api_schema_compile(v, &ngx_http_ws_api_regex_pcre2, err,
                                       sizeof(err));
    if (s == NULL) {
        ok(0, "%s compiles: %s", schema, err);
        json_decref(v);
        json_decref(i);
        return;
    }

    why[0] = '\0';
    rc = ngx_http_ws_api_schema_validate(s, i, why);

    if (reason == NULL) {
        ok(rc == 1, "%s matches %s", instance, schema);

    } else {
        ok(rc == 0, "%s does not match %s", instance, schema);
        is_str(why, reason, "  reason");
        ok(strlen(why) <= 123, "  reason at most 123 bytes");
    }

    ngx_http_ws_api_schema_free(s);
    json_decref(v);
    json_decref(i);
}


static void
long_reason(const char *schema, const char *instance)
{
    char                       err[256], why[NGX_HTTP_WS_API_SCHEMA_REASON + 1];
    json_t                    *v, *i;
    ngx_http_ws_api_schema_t  *s;

    v = j(schema);
    i = j(instance);
    s = ngx_http_ws_api_schema_compile(v, &ngx_http_ws_api_regex_pcre2, err,
                                       sizeof(err));

    ok(s && ngx_http_ws_api_schema_validate(s, i, why) == 0
       && strncmp(why, "payload fails type at \"/kkkk", 27) == 0
       && strcmp(why + strlen(why) - 4, "...\"") == 0
       && strlen(why) <= 123 && strlen(why) > 110,
       "a long pointer is cut: %s (%zu bytes)", why, strlen(why));

    ngx_http_ws_api_schema_free(s);
    json_decref(v);
    json_decref(i);
}


static void
test_own(void)
{
    char  big[2048], inst[2048];
    int   i;

    /* compile errors name the keyword and where it is */

    compile_error("{\"properties\": {\"a\": {\"frobnicate\": 1}}}",
                  "unsupported keyword \"frobnicate\" at "
                  "\"#/properties/a\"");
    compile_error("{\"$schema\": \"http://json-schema.org/draft-04/schema#\","
                  " \"const\": 1}", "unsupported keyword \"const\"");
    compile_error("{\"$schema\": \"http://json-schema.org/draft-06/schema#\","
                  " \"if\": true}", "unsupported keyword \"if\"");
    compile_error("{\"$schema\": \"http://example.com/s\"}",
                  "unsupported \"$schema\"");
    compile_error("{\"$ref\": \"http://example.com/s.json\"}",
                  "only local JSON pointers");
    compile_error("{\"$ref\": \"#/definitions/none\"}", "unresolvable");
    compile_error("{\"definitions\": {\"a\": {\"$ref\": \"#/definitions/b\"},"
                  " \"b\": {\"$ref\": \"#/definitions/a\"}},"
                  " \"$ref\": \"#/definitions/a\"}", "cycle");
    compile_error("{\"pattern\": \"(\"}",
                  "\"pattern\" is not a valid regular expression");
    compile_error("{\"minLength\": -1}", "\"minLength\" must be an integer");
    compile_error("{\"type\": \"float\"}", "unknown type");
    compile_error("{\"items\": [1]}", "a schema must be an object");
    compile_error("{\"multipleOf\": 0}", "\"multipleOf\" must be a number");

    /* annotations and unchecked formats are accepted */

    check("{\"title\": \"t\", \"description\": \"d\", \"default\": 1, "
          "\"examples\": [1], \"$comment\": \"c\", \"$id\": \"x\", "
          "\"format\": \"hostname\"}", "\"any thing\"", NULL);

    /* reasons: the keyword and the instance's JSON pointer */

    check("{\"type\": \"object\"}", "[]",
          "payload fails type at \"\"");
    check("{\"properties\": {\"a\": {\"items\": {\"minimum\": 2}}}}",
          "{\"a\": [3, 1]}", "payload fails minimum at \"/a/1\"");
    check("{\"properties\": {\"a/b~c\": {\"type\": \"string\"}}}",
          "{\"a/b~c\": 1}", "payload fails type at \"/a~1b~0c\"");
    check("{\"required\": [\"op\"]}", "{}", "payload fails required at \"\"");
    check("{\"additionalProperties\": false, \"properties\": {\"a\": {}}}",
          "{\"a\": 1, \"b\": 2}",
          "payload fails additionalProperties at \"/b\"");
    check("{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]}",
          "1.5", "payload fails anyOf at \"\"");
    check("{\"oneOf\": [{\"type\": \"number\"}, {\"type\": \"integer\"}]}",
          "1", "payload fails oneOf at \"\"");
    check("{\"not\": {\"const\": 3}}", "3", "payload fails not at \"\"");
    check("{\"if\": {\"const\": 1}, \"then\": {\"maximum\": 0}}", "1",
          "payload fails maximum at \"\"");
    check("{\"contains\": {\"const\": 5}}", "[1, 2]",
          "payload fails contains at \"\"");

    /* numbers as JSON means them */

    check("{\"enum\": [1]}", "1.0", NULL);
    check("{\"const\": {\"a\": [1.0]}}", "{\"a\": [1]}", NULL);
    check("{\"uniqueItems\": true}", "[1, 1.0]",
          "payload fails uniqueItems at \"\"");
    check("{\"type\": \"integer\"}", "2.0", NULL);
    check("{\"$schema\": \"http://json-schema.org/draft-04/schema#\", "
          "\"type\": \"integer\"}", "2.0", "payload fails type at \"\"");
    check("{\"multipleOf\": 0.01}", "19.99", NULL);
    check("{\"multipleOf\": 0.01}", "19.991",
          "payload fails multipleOf at \"\"");

    /* both forms of exclusive bounds */

    check("{\"$schema\": \"http://json-schema.org/draft-04/schema#\", "
          "\"maximum\": 3, \"exclusiveMaximum\": true}", "3",
          "payload fails maximum at \"\"");
    check("{\"exclusiveMaximum\": 3}", "3",
          "payload fails exclusiveMaximum at \"\"");
    check("{\"exclusiveMinimum\": 3}", "3.5", NULL);

    /* lengths in code points */

    check("{\"maxLength\": 2}", "\"\\u00e9\\u00e9\"", NULL);
    check("{\"minLength\": 3}", "\"\\ud83d\\ude00\\ud83d\\ude00\"",
          "payload fails minLength at \"\"");

    /* patterns: unanchored, Unicode */

    check("{\"pattern\": \"^[a-z]+$\"}", "\"abc\"", NULL);
    check("{\"pattern\": \"b\"}", "\"abc\"", NULL);
    check("{\"patternProperties\": {\"^x-\": {\"type\": \"string\"}}, "
          "\"additionalProperties\": false}", "{\"x-a\": \"s\", \"y\": 1}",
          "payload fails additionalProperties at \"/y\"");
    check("{\"pattern\": \"^(a+)+$\"}",
          "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\"",
          "payload fails pattern at \"\"");

    /* $ref: root, definitions, escapes, recursion */

    check("{\"definitions\": {\"a b\": {\"type\": \"integer\"}}, "
          "\"properties\": {\"x\": {\"$ref\": \"#/definitions/a%20b\"}}}",
          "{\"x\": \"s\"}", "payload fails type at \"/x\"");
    check("{\"definitions\": {\"t~/\": {\"type\": \"integer\"}}, "
          "\"items\": {\"$ref\": \"#/definitions/t~0~1\"}}", "[1, 2]", NULL);
    check("{\"properties\": {\"next\": {\"$ref\": \"#\"}, "
          "\"v\": {\"type\": \"integer\"}}}",
          "{\"next\": {\"next\": {\"v\": \"s\"}}}",
          "payload fails type at \"/next/next/v\"");

    /* recursion that never consumes the instance ends */

    check("{\"anyOf\": [{\"$ref\": \"#\"}]}", "1",
          "payload validation exceeds its limits");

    /* formats */

    check("{\"format\": \"date\"}", "\"2026-02-29\"",
          "payload fails format at \"\"");
    check("{\"format\": \"date\"}", "\"2028-02-29\"", NULL);
    check("{\"format\": \"date-time\"}", "\"2026-11-28T10:15:00.5+01:00\"",
          NULL);
    check("{\"format\": \"date-time\"}", "\"2026-11-28 10:15\"",
          "payload fails format at \"\"");
    check("{\"format\": \"email\"}", "\"joe.bloggs@example.com\"", NULL);
    check("{\"format\": \"email\"}", "\"joe..bloggs@example.com\"",
          "payload fails format at \"\"");
    check("{\"format\": \"uuid\"}",
          "\"2eb8aa08-aa98-11ea-b4aa-73b441d16380\"", NULL);
    check("{\"format\": \"uuid\"}",
          "\"2eb8aa08-aa98-11ea-b4aa-73b441d1638\"",
          "payload fails format at \"\"");
    check("{\"format\": \"ipv4\"}", "\"192.168.0.1\"", NULL);
    check("{\"format\": \"ipv4\"}", "\"192.168.0.01\"",
          "payload fails format at \"\"");
    check("{\"format\": \"ipv6\"}", "\"::ffff:192.168.0.1\"", NULL);
    check("{\"format\": \"ipv6\"}", "\"1:::2\"",
          "payload fails format at \"\"");
    check("{\"format\": \"ipv4\"}", "12", NULL);

    /* a long pointer is cut; the reason stays within 123 bytes */

    strcpy(big, "{\"properties\": {\"");
    strcpy(inst, "{\"");

    for (i = 0; i < 200; i++) {
        strcat(big, "k");
        strcat(inst, "k");
    }

    strcat(big, "\": {\"type\": \"string\"}}}");
    strcat(inst, "\": 1}");

    long_reason(big, inst);

    /* boolean schemas (draft 6 on) */

    check("true", "{}", NULL);
    check("false", "{}", "payload fails false at \"\"");
    check("{\"properties\": {\"a\": false}}", "{\"a\": 1}",
          "payload fails properties at \"/a\"");
    compile_error("{\"$schema\": \"http://json-schema.org/draft-04/schema#\","
                  " \"properties\": {\"a\": false}}",
                  "a schema must be an object");

    /* dependencies, both forms */

    check("{\"dependencies\": {\"a\": [\"b\"]}}", "{\"a\": 1}",
          "payload fails dependencies at \"\"");
    check("{\"dependencies\": {\"a\": {\"required\": [\"c\"]}}}",
          "{\"a\": 1, \"c\": 2}", NULL);
    check("{\"items\": [{\"type\": \"string\"}], \"additionalItems\": false}",
          "[\"a\", 2]", "payload fails additionalItems at \"/1\"");
    check("{\"propertyNames\": {\"maxLength\": 3}}", "{\"abcd\": 1}",
          "payload fails propertyNames at \"\"");
    check("{\"minProperties\": 1, \"maxItems\": 1}", "[1, 2]",
          "payload fails maxItems at \"\"");
}


int
main(void)
{
    test_own();
    test_suite();

    return tap_done();
}
