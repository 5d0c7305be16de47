
/*
 * Copyright (C) ws-api authors
 */


/*
 * Unit tests of the handshake parameter data types and of the extraction
 * of parameter values from query strings and headers (SPEC 4.1).
 */


#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>

#include "tap.h"
#include "ngx_http_ws_api_param.h"


#define T_STRING     NGX_HTTP_WS_API_STRING
#define T_DATE       NGX_HTTP_WS_API_DATE
#define T_DATE_TIME  NGX_HTTP_WS_API_DATE_TIME
#define T_INTEGER    NGX_HTTP_WS_API_INTEGER
#define T_DOUBLE     NGX_HTTP_WS_API_DOUBLE
#define T_BOOLEAN    NGX_HTTP_WS_API_BOOLEAN

#define R_OK           NGX_HTTP_WS_API_PARAM_OK
#define R_MISSING      NGX_HTTP_WS_API_PARAM_MISSING
#define R_NOT_ARRAY    NGX_HTTP_WS_API_PARAM_NOT_ARRAY
#define R_INVALID      NGX_HTTP_WS_API_PARAM_INVALID_TYPE
#define R_NOT_ALLOWED  NGX_HTTP_WS_API_PARAM_NOT_ALLOWED

#define Q  NGX_HTTP_WS_API_IN_QUERY
#define H  NGX_HTTP_WS_API_IN_HEADER

#define MAX_ALLOWED  16
#define MAX_HEADERS  16


typedef struct {
    ngx_http_ws_api_type_e   type;
    const char              *text;
    int                      valid;
} test_valid_t;


typedef struct {
    ngx_http_ws_api_type_e   type;
    const char              *a;
    const char              *b;
    int                      equal;
} test_equal_t;


/* a parameter check: the parameter, the request, the expected reason */

typedef struct {
    const char                *name;
    ngx_http_ws_api_in_e       in;
    ngx_http_ws_api_type_e     type;
    int                        required;
    int                        array;
    const char                *allowed[MAX_ALLOWED];  /* NULL-terminated */
    const char                *args;                  /* query, or NULL */
    const char                *headers[MAX_HEADERS];  /* "Name: value" */
    ngx_http_ws_api_reason_e   expected;
} test_check_t;


static const test_valid_t  valid_cases[] = {

    /* string: anything */
    { T_STRING, "", 1 },
    { T_STRING, "anything at all", 1 },
    { T_STRING, "\xff\xfe not UTF-8", 1 },

    /* integer */
    { T_INTEGER, "0", 1 },
    { T_INTEGER, "5", 1 },
    { T_INTEGER, "+5", 1 },
    { T_INTEGER, "-5", 1 },
    { T_INTEGER, "-0", 1 },
    { T_INTEGER, "+0", 1 },
    { T_INTEGER, "05", 1 },
    { T_INTEGER, "0000000000000000000000000000000000000000042", 1 },
    { T_INTEGER, "9223372036854775807", 1 },
    { T_INTEGER, "+9223372036854775807", 1 },
    { T_INTEGER, "-9223372036854775808", 1 },
    { T_INTEGER, "0009223372036854775807", 1 },
    { T_INTEGER, "-0009223372036854775808", 1 },
    { T_INTEGER, "9223372036854775808", 0 },
    { T_INTEGER, "-9223372036854775809", 0 },
    { T_INTEGER, "18446744073709551615", 0 },
    { T_INTEGER, "18446744073709551616", 0 },
    { T_INTEGER, "92233720368547758070", 0 },
    { T_INTEGER, "99999999999999999999999999", 0 },
    { T_INTEGER, "", 0 },
    { T_INTEGER, "+", 0 },
    { T_INTEGER, "-", 0 },
    { T_INTEGER, "+-5", 0 },
    { T_INTEGER, "--5", 0 },
    { T_INTEGER, " 5", 0 },
    { T_INTEGER, "5 ", 0 },
    { T_INTEGER, "5.0", 0 },
    { T_INTEGER, "1e3", 0 },
    { T_INTEGER, "0x10", 0 },
    { T_INTEGER, "five", 0 },
    { T_INTEGER, "1_000", 0 },
    { T_INTEGER, "\xd9\xa3", 0 },              /* ARABIC-INDIC DIGIT THREE */

    /* double */
    { T_DOUBLE, "0", 1 },
    { T_DOUBLE, "1", 1 },
    { T_DOUBLE, "-1", 1 },
    { T_DOUBLE, "+1", 1 },
    { T_DOUBLE, "1.5", 1 },
    { T_DOUBLE, "-1.5", 1 },
    { T_DOUBLE, ".5", 1 },
    { T_DOUBLE, "-.5", 1 },
    { T_DOUBLE, "5.", 1 },
    { T_DOUBLE, "+5.", 1 },
    { T_DOUBLE, "1e10", 1 },
    { T_DOUBLE, "1E10", 1 },
    { T_DOUBLE, "1e+10", 1 },
    { T_DOUBLE, "1e-10", 1 },
    { T_DOUBLE, "1.5e3", 1 },
    { T_DOUBLE, ".5e1", 1 },
    { T_DOUBLE, "5.e1", 1 },
    { T_DOUBLE, "1e308", 1 },
    { T_DOUBLE, "1.7976931348623157e308", 1 },
    { T_DOUBLE, "-1.7976931348623157e308", 1 },
    { T_DOUBLE, "1e-400", 1 },                 /* underflows to 0 */
    { T_DOUBLE, "4.9e-324", 1 },
    { T_DOUBLE, "0e999999999999999999999", 1 },
    { T_DOUBLE, "0.000000000000000000000000000000000001e36", 1 },
    { T_DOUBLE, "9223372036854775807", 1 },
    { T_DOUBLE, "123456789012345678901234567890", 1 },
    { T_DOUBLE, "1e309", 0 },
    { T_DOUBLE, "-1e309", 0 },
    { T_DOUBLE, "1.8e308", 0 },
    { T_DOUBLE, "1e99999999999999999999", 0 },
    { T_DOUBLE, "nan", 0 },
    { T_DOUBLE, "NaN", 0 },
    { T_DOUBLE, "inf", 0 },
    { T_DOUBLE, "-inf", 0 },
    { T_DOUBLE, "Infinity", 0 },
    { T_DOUBLE, "infinity", 0 },
    { T_DOUBLE, "0x10", 0 },
    { T_DOUBLE, "0x1p3", 0 },
    { T_DOUBLE, "", 0 },
    { T_DOUBLE, ".", 0 },
    { T_DOUBLE, "-.", 0 },
    { T_DOUBLE, "+", 0 },
    { T_DOUBLE, "e5", 0 },
    { T_DOUBLE, ".e5", 0 },
    { T_DOUBLE, "1e", 0 },
    { T_DOUBLE, "1e+", 0 },
    { T_DOUBLE, "1e-", 0 },
    { T_DOUBLE, "1e5.5", 0 },
    { T_DOUBLE, "1.2.3", 0 },
    { T_DOUBLE, "1,5", 0 },
    { T_DOUBLE, " 1", 0 },
    { T_DOUBLE, "1 ", 0 },
    { T_DOUBLE, "1d", 0 },
    { T_DOUBLE, "1f", 0 },
    { T_DOUBLE, "++1", 0 },

    /* boolean */
    { T_BOOLEAN, "true", 1 },
    { T_BOOLEAN, "false", 1 },
    { T_BOOLEAN, "TRUE", 1 },
    { T_BOOLEAN, "False", 1 },
    { T_BOOLEAN, "tRuE", 1 },
    { T_BOOLEAN, "", 0 },
    { T_BOOLEAN, "1", 0 },
    { T_BOOLEAN, "0", 0 },
    { T_BOOLEAN, "yes", 0 },
    { T_BOOLEAN, "t", 0 },
    { T_BOOLEAN, "truee", 0 },
    { T_BOOLEAN, " true", 0 },

    /* date */
    { T_DATE, "2024-02-29", 1 },
    { T_DATE, "2000-02-29", 1 },
    { T_DATE, "1970-01-01", 1 },
    { T_DATE, "0000-01-01", 1 },
    { T_DATE, "0000-02-29", 1 },
    { T_DATE, "9999-12-31", 1 },
    { T_DATE, "2026-11-28", 1 },
    { T_DATE, "2023-01-31", 1 },
    { T_DATE, "2023-04-30", 1 },
    { T_DATE, "2023-02-29", 0 },
    { T_DATE, "1900-02-29", 0 },
    { T_DATE, "2100-02-29", 0 },
    { T_DATE, "2024-02-30", 0 },
    { T_DATE, "2023-04-31", 0 },
    { T_DATE, "2023-06-31", 0 },
    { T_DATE, "2023-09-31", 0 },
    { T_DATE, "2023-11-31", 0 },
    { T_DATE, "2023-01-32", 0 },
    { T_DATE, "2023-00-10", 0 },
    { T_DATE, "2023-13-10", 0 },
    { T_DATE, "2023-01-00", 0 },
    { T_DATE, "2023-1-01", 0 },
    { T_DATE, "2023-01-1", 0 },
    { T_DATE, "23-01-01", 0 },
    { T_DATE, "12023-01-01", 0 },
    { T_DATE, "-2023-01-01", 0 },
    { T_DATE, "2023/01/01", 0 },
    { T_DATE, "20230101", 0 },
    { T_DATE, "2023-01-01T00:00:00Z", 0 },
    { T_DATE, "2023-01-01 ", 0 },
    { T_DATE, "2o23-01-01", 0 },
    { T_DATE, "", 0 },

    /* date-time */
    { T_DATE_TIME, "2026-11-28T10:15:00Z", 1 },
    { T_DATE_TIME, "2026-11-28t10:15:00z", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00+01:00", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00-05:30", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00-00:00", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00+23:59", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00.5Z", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00.123456789Z", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00.1234567891234Z", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00.000+02:00", 1 },
    { T_DATE_TIME, "2026-11-28T00:00:00Z", 1 },
    { T_DATE_TIME, "2026-11-28T23:59:59Z", 1 },
    { T_DATE_TIME, "2024-02-29T12:00:00Z", 1 },
    { T_DATE_TIME, "0000-01-01T00:00:00Z", 1 },
    { T_DATE_TIME, "9999-12-31T23:59:59.999999999Z", 1 },
    { T_DATE_TIME, "2026-11-28T24:00:00Z", 0 },
    { T_DATE_TIME, "2026-11-28T10:60:00Z", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:60Z", 0 },     /* no leap second */
    { T_DATE_TIME, "2016-12-31T23:59:60Z", 1 },     /* a real one */
    { T_DATE_TIME, "2015-06-30T23:59:60.5Z", 1 },   /* a real one */
    { T_DATE_TIME, "2016-12-31T18:59:60-05:00", 1 }, /* the same in EST */
    { T_DATE_TIME, "2017-01-01T00:59:60+01:00", 1 }, /* and in CET */
    { T_DATE_TIME, "2016-12-30T23:59:60Z", 0 },     /* not a month's end */
    { T_DATE_TIME, "2016-12-31T23:59:60+01:00", 0 }, /* 22:59:60 UTC */
    { T_DATE_TIME, "2024-02-29T23:59:60Z", 1 },     /* any month's end */
    { T_DATE_TIME, "2023-02-28T23:59:60Z", 1 },
    { T_DATE_TIME, "1969-12-31T23:59:60Z", 1 },     /* before the epoch */
    { T_DATE_TIME, "0000-01-31T23:59:60Z", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:61Z", 0 },
    { T_DATE_TIME, "2023-02-29T10:15:00Z", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00", 0 },
    { T_DATE_TIME, "2026-11-28 10:15:00Z", 0 },
    { T_DATE_TIME, "2026-11-28T10:15Z", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00.Z", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00.5", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00,5Z", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00+24:00", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00+01:60", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00+0100", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00+01", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00+01:00Z", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00ZZ", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00Z ", 0 },
    { T_DATE_TIME, "2026-11-28T1:15:00Z", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:0Z", 0 },
    { T_DATE_TIME, "2026-11-28", 0 },
    { T_DATE_TIME, "2026-11-28T", 0 },
    { T_DATE_TIME, "10:15:00Z", 0 },
    { T_DATE_TIME, "", 0 },
    { T_DATE_TIME, "2026-11-28X10:15:00Z", 0 },
    { T_DATE_TIME, "2026-11-28T10-15-00Z", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00UTC", 0 },
};


static const test_equal_t  equal_cases[] = {
    { T_STRING, "abc", "abc", 1 },
    { T_STRING, "abc", "ABC", 0 },
    { T_STRING, "abc", "abcd", 0 },
    { T_STRING, "", "", 1 },
    { T_STRING, "05", "5", 0 },
    { T_INTEGER, "5", "+5", 1 },
    { T_INTEGER, "5", "05", 1 },
    { T_INTEGER, "-0", "0", 1 },
    { T_INTEGER, "+0", "-0", 1 },
    { T_INTEGER, "5", "6", 0 },
    { T_INTEGER, "-5", "5", 0 },
    { T_INTEGER, "9223372036854775807", "+09223372036854775807", 1 },
    { T_INTEGER, "-9223372036854775808", "9223372036854775807", 0 },
    { T_DOUBLE, "1.5", "1.50", 1 },
    { T_DOUBLE, "1.5", "15e-1", 1 },
    { T_DOUBLE, ".5", "0.5", 1 },
    { T_DOUBLE, "5.", "5", 1 },
    { T_DOUBLE, "0", "-0", 1 },
    { T_DOUBLE, "1e-400", "0", 1 },
    { T_DOUBLE, "0.1", "0.10000000000000001", 1 },
    { T_DOUBLE, "1.5", "1.6", 0 },
    { T_DOUBLE, "1", "-1", 0 },
    { T_BOOLEAN, "true", "TRUE", 1 },
    { T_BOOLEAN, "false", "False", 1 },
    { T_BOOLEAN, "true", "false", 0 },
    { T_DATE, "2024-02-29", "2024-02-29", 1 },
    { T_DATE, "2024-02-29", "2024-03-01", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00Z", "2026-11-28T11:15:00+01:00", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00Z", "2026-11-28T10:15:00.000Z", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00Z", "2026-11-28t10:15:00z", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00Z", "2026-11-28T10:15:00-00:00", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00Z", "2026-11-28T05:45:00-04:30", 1 },
    { T_DATE_TIME, "2026-11-28T23:30:00-01:00", "2026-11-29T00:30:00Z", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00.5Z", "2026-11-28T10:15:00.500Z", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00.1234567891Z",
      "2026-11-28T10:15:00.123456789Z", 1 },
    { T_DATE_TIME, "2026-11-28T10:15:00Z", "2026-11-28T10:15:00.001Z", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00Z", "2026-11-28T10:15:00+01:00", 0 },
    { T_DATE_TIME, "2026-11-28T10:15:00.000000001Z",
      "2026-11-28T10:15:00Z", 0 },
};


static const test_check_t  check_cases[] = {

    /* query: presence */
    { "a", Q, T_STRING, 0, 0, {NULL}, "", {NULL}, R_OK },
    { "a", Q, T_STRING, 1, 0, {NULL}, "", {NULL}, R_MISSING },
    { "a", Q, T_STRING, 1, 0, {NULL}, NULL, {NULL}, R_MISSING },
    { "a", Q, T_STRING, 1, 0, {NULL}, "b=1&c=2", {NULL}, R_MISSING },
    { "a", Q, T_STRING, 1, 0, {NULL}, "a=1", {NULL}, R_OK },
    { "a", Q, T_STRING, 1, 0, {NULL}, "b=1&a=1&c=2", {NULL}, R_OK },
    { "a", Q, T_STRING, 1, 0, {NULL}, "A=1", {NULL}, R_MISSING },
    { "a", Q, T_STRING, 1, 0, {NULL}, "aa=1", {NULL}, R_MISSING },
    { "a", Q, T_STRING, 1, 0, {NULL}, "ba=1", {NULL}, R_MISSING },
    { "a", Q, T_STRING, 1, 0, {NULL}, "a", {NULL}, R_OK },
    { "a", Q, T_STRING, 1, 0, {NULL}, "a=", {NULL}, R_OK },
    { "a", Q, T_STRING, 1, 0, {NULL}, "&&a=1&&", {NULL}, R_OK },
    { "a", Q, T_STRING, 1, 0, {NULL}, "&&&", {NULL}, R_MISSING },
    { "a", Q, T_STRING, 1, 0, {NULL}, "=a", {NULL}, R_MISSING },
    { "a", Q, T_STRING, 1, 0, {NULL}, "b=a", {NULL}, R_MISSING },
    { "a", Q, T_STRING, 1, 0, {NULL}, "%61=1", {NULL}, R_OK },
    { "a", Q, T_STRING, 1, 0, {NULL}, "a;b=1", {NULL}, R_MISSING },
    { "a b", Q, T_STRING, 1, 0, {NULL}, "a+b=1", {NULL}, R_OK },
    { "a b", Q, T_STRING, 1, 0, {NULL}, "a%20b=1", {NULL}, R_OK },
    { "a+b", Q, T_STRING, 1, 0, {NULL}, "a+b=1", {NULL}, R_MISSING },
    { "a+b", Q, T_STRING, 1, 0, {NULL}, "a%2Bb=1", {NULL}, R_OK },
    { "a&b", Q, T_STRING, 1, 0, {NULL}, "a%26b=1", {NULL}, R_OK },
    { "a=b", Q, T_STRING, 1, 0, {NULL}, "a%3db=1", {NULL}, R_OK },
    { "%zz", Q, T_STRING, 1, 0, {NULL}, "%zz=1", {NULL}, R_OK },
    { "a%", Q, T_STRING, 1, 0, {NULL}, "a%=1", {NULL}, R_OK },
    { "a%4", Q, T_STRING, 1, 0, {NULL}, "a%4=1", {NULL}, R_OK },
    { "\xc3\xa9", Q, T_STRING, 1, 0, {NULL}, "%C3%A9=1", {NULL}, R_OK },
    { "\xc3\xa9", Q, T_STRING, 1, 0, {NULL}, "%c3%a9=1", {NULL}, R_OK },

    /* query: percent-decoded values */
    { "a", Q, T_STRING, 0, 0, {"x y", NULL}, "a=x+y", {NULL}, R_OK },
    { "a", Q, T_STRING, 0, 0, {"x y", NULL}, "a=x%20y", {NULL}, R_OK },
    { "a", Q, T_STRING, 0, 0, {"x y", NULL}, "a=x%2By", {NULL},
      R_NOT_ALLOWED },
    { "a", Q, T_STRING, 0, 0, {"x+y", NULL}, "a=x%2By", {NULL}, R_OK },
    { "a", Q, T_STRING, 0, 0, {"%zz", NULL}, "a=%zz", {NULL}, R_OK },
    { "a", Q, T_STRING, 0, 0, {"%", NULL}, "a=%", {NULL}, R_OK },
    { "a", Q, T_STRING, 0, 0, {"%4", NULL}, "a=%4", {NULL}, R_OK },
    { "a", Q, T_STRING, 0, 0, {"%A", NULL}, "a=%%41", {NULL}, R_OK },
    { "a", Q, T_STRING, 0, 0, {"x=y", NULL}, "a=x=y", {NULL}, R_OK },
    { "a", Q, T_STRING, 0, 0, {"x=y", NULL}, "a=x%3Dy", {NULL}, R_OK },
    { "a", Q, T_STRING, 0, 0, {"A,B", NULL}, "a=A%2CB", {NULL}, R_OK },
    { "a", Q, T_STRING, 0, 0, {"A,B", NULL}, "a=A%2cB", {NULL}, R_OK },
    { "a", Q, T_STRING, 0, 0, {"A,B", NULL}, "a=A,B", {NULL}, R_NOT_ARRAY },
    { "a", Q, T_STRING, 0, 1, {"A,B", NULL}, "a=A,B", {NULL},
      R_NOT_ALLOWED },
    { "a", Q, T_INTEGER, 0, 0, {NULL}, "a=%2B5", {NULL}, R_OK },
    { "a", Q, T_INTEGER, 0, 0, {NULL}, "a=+5", {NULL}, R_INVALID },
    { "a", Q, T_INTEGER, 0, 0, {NULL}, "a=%35", {NULL}, R_OK },
    { "a", Q, T_INTEGER, 0, 0, {NULL}, "a=5%00", {NULL}, R_INVALID },
    { "a", Q, T_STRING, 0, 0, {"x", NULL}, "a=x%00", {NULL},
      R_NOT_ALLOWED },
    { "a", Q, T_DATE_TIME, 0, 0, {NULL}, "a=2026-11-28T10:15:00%2B01:00",
      {NULL}, R_OK },
    { "a", Q, T_DATE_TIME, 0, 0, {NULL}, "a=2026-11-28T10:15:00+01:00",
      {NULL}, R_INVALID },
    { "a", Q, T_DATE_TIME, 0, 0, {NULL}, "a=2026-11-28T10%3A15%3A00Z",
      {NULL}, R_OK },

    /* query: empty values */
    { "a", Q, T_STRING, 1, 0, {NULL}, "a", {NULL}, R_OK },
    { "a", Q, T_INTEGER, 1, 0, {NULL}, "a", {NULL}, R_INVALID },
    { "a", Q, T_INTEGER, 0, 0, {NULL}, "a=", {NULL}, R_INVALID },
    { "a", Q, T_BOOLEAN, 0, 0, {NULL}, "a=", {NULL}, R_INVALID },
    { "a", Q, T_DATE, 0, 0, {NULL}, "a=", {NULL}, R_INVALID },
    { "a", Q, T_DOUBLE, 0, 0, {NULL}, "a=", {NULL}, R_INVALID },
    { "a", Q, T_DATE_TIME, 0, 0, {NULL}, "a=", {NULL}, R_INVALID },
    { "a", Q, T_STRING, 0, 0, {"x", NULL}, "a=", {NULL}, R_NOT_ALLOWED },
    { "a", Q, T_STRING, 0, 0, {"", "x", NULL}, "a=", {NULL}, R_OK },
    { "a", Q, T_STRING, 0, 0, {NULL}, "a=,", {NULL}, R_NOT_ARRAY },
    { "a", Q, T_STRING, 0, 1, {NULL}, "a=x,,y", {NULL}, R_OK },
    { "a", Q, T_STRING, 0, 1, {"x", "y", NULL}, "a=x,,y", {NULL},
      R_NOT_ALLOWED },
    { "a", Q, T_STRING, 0, 1, {"x", "y", "", NULL}, "a=x,,y", {NULL},
      R_OK },
    { "a", Q, T_INTEGER, 0, 1, {NULL}, "a=1,,2", {NULL}, R_INVALID },
    { "a", Q, T_INTEGER, 0, 1, {NULL}, "a=1,2,", {NULL}, R_INVALID },
    { "a", Q, T_INTEGER, 0, 1, {NULL}, "a=,1", {NULL}, R_INVALID },

    /* query: more than one value */
    { "a", Q, T_STRING, 0, 0, {NULL}, "a=1&a=2", {NULL}, R_NOT_ARRAY },
    { "a", Q, T_STRING, 0, 0, {NULL}, "a=1&a=1", {NULL}, R_NOT_ARRAY },
    { "a", Q, T_STRING, 0, 0, {NULL}, "a&a", {NULL}, R_NOT_ARRAY },
    { "a", Q, T_STRING, 0, 0, {NULL}, "a=1,2", {NULL}, R_NOT_ARRAY },
    { "a", Q, T_STRING, 0, 0, {NULL}, "a=1&%61=2", {NULL}, R_NOT_ARRAY },
    { "a", Q, T_STRING, 0, 1, {NULL}, "a=1&a=2", {NULL}, R_OK },
    { "a", Q, T_STRING, 0, 1, {NULL}, "a=1,2,3&a=4", {NULL}, R_OK },
    { "a", Q, T_STRING, 1, 1, {NULL}, "a=1", {NULL}, R_OK },
    { "a", Q, T_STRING, 1, 1, {NULL}, "b=1", {NULL}, R_MISSING },
    { "a", Q, T_INTEGER, 0, 1, {"1", "2", "3", NULL}, "a=1&a=%2B2,03",
      {NULL}, R_OK },
    { "symbol", Q, T_STRING, 1, 1, {"AAPL", "MSFT", NULL},
      "symbol=AAPL,MSFT", {NULL}, R_OK },
    { "symbol", Q, T_STRING, 1, 1, {"AAPL", "MSFT", NULL},
      "symbol=AAPL&symbol=MSFT&x=1", {NULL}, R_OK },
    { "symbol", Q, T_STRING, 1, 1, {"AAPL", "MSFT", NULL},
      "symbol=AAPL,GOOG", {NULL}, R_NOT_ALLOWED },
    { "symbol", Q, T_STRING, 1, 1, {"AAPL", "MSFT", NULL},
      "symbol=aapl", {NULL}, R_NOT_ALLOWED },
    { "symbol", Q, T_STRING, 1, 1, {"AAPL", "MSFT", NULL},
      "symbol=AAPL,%20MSFT", {NULL}, R_NOT_ALLOWED },

    /* precedence: missing, not_array, invalid_type, value_not_allowed */
    { "a", Q, T_INTEGER, 0, 0, {"1", NULL}, "a=x&a=2", {NULL},
      R_NOT_ARRAY },
    { "a", Q, T_INTEGER, 0, 0, {"1", NULL}, "a=2,x", {NULL}, R_NOT_ARRAY },
    { "a", Q, T_INTEGER, 0, 1, {"1", NULL}, "a=2,x", {NULL}, R_INVALID },
    { "a", Q, T_INTEGER, 0, 1, {"1", NULL}, "a=x,2", {NULL}, R_INVALID },
    { "a", Q, T_INTEGER, 0, 1, {"1", NULL}, "a=1,2", {NULL},
      R_NOT_ALLOWED },
    { "a", Q, T_INTEGER, 0, 1, {"1", NULL}, "a=2&a=x", {NULL}, R_INVALID },
    { "a", Q, T_INTEGER, 0, 0, {"1", NULL}, "a=x", {NULL}, R_INVALID },
    { "a", Q, T_INTEGER, 0, 0, {"1", NULL}, "a=2", {NULL}, R_NOT_ALLOWED },
    { "a", Q, T_INTEGER, 0, 0, {"1", NULL}, "a=01", {NULL}, R_OK },
    { "a", Q, T_INTEGER, 0, 0, {"1", NULL}, "a=%2B1", {NULL}, R_OK },

    /* query: each data type against its allowed values */
    { "a", Q, T_DOUBLE, 0, 0, {"1.5", NULL}, "a=1.50", {NULL}, R_OK },
    { "a", Q, T_DOUBLE, 0, 0, {"1.5", NULL}, "a=15e-1", {NULL}, R_OK },
    { "a", Q, T_DOUBLE, 0, 0, {"1.5", NULL}, "a=1.6", {NULL},
      R_NOT_ALLOWED },
    { "a", Q, T_DOUBLE, 0, 0, {NULL}, "a=1e309", {NULL}, R_INVALID },
    { "a", Q, T_DOUBLE, 0, 0, {NULL}, "a=nan", {NULL}, R_INVALID },
    { "a", Q, T_DOUBLE, 0, 0, {NULL}, "a=1e308", {NULL}, R_OK },
    { "a", Q, T_BOOLEAN, 0, 0, {"true", NULL}, "a=TRUE", {NULL}, R_OK },
    { "a", Q, T_BOOLEAN, 0, 0, {"true", NULL}, "a=false", {NULL},
      R_NOT_ALLOWED },
    { "a", Q, T_BOOLEAN, 0, 0, {NULL}, "a=yes", {NULL}, R_INVALID },
    { "a", Q, T_DATE, 0, 0, {"2024-02-29", NULL}, "a=2024-02-29", {NULL},
      R_OK },
    { "a", Q, T_DATE, 0, 0, {NULL}, "a=2023-02-29", {NULL}, R_INVALID },
    { "a", Q, T_DATE_TIME, 0, 0, {"2026-11-28T10:15:00Z", NULL},
      "a=2026-11-28T11:15:00%2B01:00", {NULL}, R_OK },
    { "a", Q, T_DATE_TIME, 0, 0, {"2026-11-28T10:15:00Z", NULL},
      "a=2026-11-28T10:15:00.000Z", {NULL}, R_OK },
    { "a", Q, T_DATE_TIME, 0, 0, {"2026-11-28T10:15:00Z", NULL},
      "a=2026-11-28T10:15:01Z", {NULL}, R_NOT_ALLOWED },
    { "a", Q, T_DATE_TIME, 0, 0, {NULL}, "a=2026-11-28T24:00:00Z", {NULL},
      R_INVALID },

    /* header: presence, names in any case */
    { "X-Id", H, T_STRING, 1, 0, {NULL}, NULL, {NULL}, R_MISSING },
    { "X-Id", H, T_STRING, 0, 0, {NULL}, NULL, {NULL}, R_OK },
    { "X-Id", H, T_STRING, 1, 0, {NULL}, NULL, {"X-Id: 1", NULL}, R_OK },
    { "X-Id", H, T_STRING, 1, 0, {NULL}, NULL, {"x-id: 1", NULL}, R_OK },
    { "X-Id", H, T_STRING, 1, 0, {NULL}, NULL, {"X-ID: 1", NULL}, R_OK },
    { "X-Id", H, T_STRING, 1, 0, {NULL}, NULL, {"X-Idx: 1", NULL},
      R_MISSING },
    { "X-Id", H, T_STRING, 1, 0, {NULL}, NULL, {"X-I: 1", NULL},
      R_MISSING },
    { "X-Id", H, T_STRING, 1, 0, {NULL}, "X-Id=1", {NULL}, R_MISSING },
    { "a", Q, T_STRING, 1, 0, {NULL}, NULL, {"a: 1", NULL}, R_MISSING },
    { "X-Id", H, T_STRING, 1, 0, {NULL}, NULL,
      {"Host: h", "Upgrade: websocket", "x-ID: 7", NULL}, R_OK },

    /* header: values, white space, no percent-decoding */
    { "X-Id", H, T_STRING, 0, 0, {"a b", NULL}, NULL, {"X-Id: a b", NULL},
      R_OK },
    { "X-Id", H, T_STRING, 0, 0, {"a", NULL}, NULL, {"X-Id:  \t a \t ",
      NULL}, R_OK },
    { "X-Id", H, T_STRING, 0, 0, {"a+b", NULL}, NULL, {"X-Id: a+b", NULL},
      R_OK },
    { "X-Id", H, T_STRING, 0, 0, {"%41", NULL}, NULL, {"X-Id: %41", NULL},
      R_OK },
    { "X-Id", H, T_STRING, 0, 0, {"A", NULL}, NULL, {"X-Id: %41", NULL},
      R_NOT_ALLOWED },
    { "X-Id", H, T_INTEGER, 0, 0, {NULL}, NULL, {"X-Id: +5", NULL}, R_OK },
    { "X-Id", H, T_INTEGER, 0, 0, {NULL}, NULL, {"X-Id:  -5 ", NULL},
      R_OK },
    { "X-Id", H, T_INTEGER, 0, 0, {NULL}, NULL, {"X-Id: 5 5", NULL},
      R_INVALID },
    { "X-Id", H, T_INTEGER, 1, 0, {NULL}, NULL, {"X-Id:", NULL},
      R_INVALID },
    { "X-Id", H, T_INTEGER, 1, 0, {NULL}, NULL, {"X-Id:   ", NULL},
      R_INVALID },
    { "X-Id", H, T_STRING, 1, 0, {NULL}, NULL, {"X-Id:", NULL}, R_OK },
    { "X-Id", H, T_DATE_TIME, 0, 0, {"2026-11-28T10:15:00Z", NULL}, NULL,
      {"X-Id: 2026-11-28T11:15:00+01:00", NULL}, R_OK },

    /* header: more than one value */
    { "X-Id", H, T_STRING, 0, 0, {NULL}, NULL, {"X-Id: 1", "X-Id: 2", NULL},
      R_NOT_ARRAY },
    { "X-Id", H, T_STRING, 0, 0, {NULL}, NULL, {"X-Id: 1", "x-id: 2", NULL},
      R_NOT_ARRAY },
    { "X-Id", H, T_STRING, 0, 0, {NULL}, NULL, {"X-Id: 1, 2", NULL},
      R_NOT_ARRAY },
    { "X-Id", H, T_STRING, 0, 0, {NULL}, NULL, {"X-Id: 1,", NULL},
      R_NOT_ARRAY },
    { "X-Id", H, T_STRING, 0, 1, {NULL}, NULL, {"X-Id: 1, 2", NULL}, R_OK },
    { "X-Id", H, T_INTEGER, 0, 1, {"1", "2", "3", NULL}, NULL,
      {"X-Id: 1 ,\t2", "X-ID: 3", NULL}, R_OK },
    { "X-Id", H, T_INTEGER, 0, 1, {"1", "2", NULL}, NULL,
      {"X-Id: 1 ,\t2", "X-ID: 3", NULL}, R_NOT_ALLOWED },
    { "X-Id", H, T_INTEGER, 0, 1, {NULL}, NULL, {"X-Id: 1, , 2", NULL},
      R_INVALID },
    { "X-Id", H, T_STRING, 0, 1, {"1", "2", NULL}, NULL,
      {"X-Id: 1, , 2", NULL}, R_NOT_ALLOWED },
    { "X-Id", H, T_STRING, 0, 1, {"1", "2", "", NULL}, NULL,
      {"X-Id: 1, , 2", NULL}, R_OK },

    /* header: precedence */
    { "X-Id", H, T_INTEGER, 1, 0, {"1", NULL}, NULL,
      {"X-Id: x", "X-Id: 2", NULL}, R_NOT_ARRAY },
    { "X-Id", H, T_INTEGER, 1, 1, {"1", NULL}, NULL,
      {"X-Id: 2", "X-Id: x", NULL}, R_INVALID },
    { "X-Id", H, T_INTEGER, 1, 1, {"1", NULL}, NULL,
      {"X-Id: 1", "X-Id: 2", NULL}, R_NOT_ALLOWED },
    { "X-Id", H, T_INTEGER, 1, 1, {"1", NULL}, NULL,
      {"X-Id: 1", "X-Id: 01", NULL}, R_OK },
};


static void test_names(void);
static void test_values(void);
static void test_parsed(void);
static void test_equal(void);
static void test_checks(void);
static void test_binary(void);
static void test_large(void);
static ngx_http_ws_api_reason_e run_check(const test_check_t *c,
    const char *args, size_t args_len);
static int parse(ngx_http_ws_api_type_e type, const char *s,
    ngx_http_ws_api_value_t *v);


int
main(void)
{
    test_names();
    test_values();
    test_parsed();
    test_equal();
    test_checks();
    test_binary();
    test_large();

    return tap_done();
}


static void
test_names(void)
{
    size_t  i;

    static const struct {
        const char  *s;
        int          expected;
    } types[] = {
        { "string", T_STRING },
        { "String", T_STRING },
        { "STRING", T_STRING },
        { "date", T_DATE },
        { "Date", T_DATE },
        { "date-time", T_DATE_TIME },
        { "Date-time", T_DATE_TIME },
        { "DATE-TIME", T_DATE_TIME },
        { "Date time", T_DATE_TIME },
        { "date time", T_DATE_TIME },
        { "DATE TIME", T_DATE_TIME },
        { "integer", T_INTEGER },
        { "Integer", T_INTEGER },
        { "double", T_DOUBLE },
        { "Double", T_DOUBLE },
        { "boolean", T_BOOLEAN },
        { "Boolean", T_BOOLEAN },
        { "datetime", -1 },
        { "date_time", -1 },
        { "Date  time", -1 },
        { "date-time ", -1 },
        { "int", -1 },
        { "bool", -1 },
        { "float", -1 },
        { "Float", -1 },
        { "number", -1 },
        { "", -1 },
        { "strin", -1 },
        { "strings", -1 },
    };

    static const struct {
        const char  *s;
        int          expected;
    } ins[] = {
        { "query", Q },
        { "Query", Q },
        { "QUERY", Q },
        { "query-string", Q },
        { "Query-string", Q },
        { "QUERY-STRING", Q },
        { "header", H },
        { "Header", H },
        { "HEADER", H },
        { "query string", -1 },
        { "querystring", -1 },
        { "headers", -1 },
        { "path", -1 },
        { "cookie", -1 },
        { "body", -1 },
        { "", -1 },
    };

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        is_int(ngx_http_ws_api_type_parse((const u_char *) types[i].s,
                                          strlen(types[i].s)),
               types[i].expected, "type_parse(\"%s\")", types[i].s);
    }

    for (i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
        is_int(ngx_http_ws_api_in_parse((const u_char *) ins[i].s,
                                        strlen(ins[i].s)),
               ins[i].expected, "in_parse(\"%s\")", ins[i].s);
    }

    is_int(ngx_http_ws_api_type_parse((const u_char *) "date\0time", 9), -1,
           "type_parse: a NUL inside");

    is_str(ngx_http_ws_api_type_name(T_STRING), "string", "type_name string");
    is_str(ngx_http_ws_api_type_name(T_DATE), "date", "type_name date");
    is_str(ngx_http_ws_api_type_name(T_DATE_TIME), "date-time",
           "type_name date-time");
    is_str(ngx_http_ws_api_type_name(T_INTEGER), "integer",
           "type_name integer");
    is_str(ngx_http_ws_api_type_name(T_DOUBLE), "double", "type_name double");
    is_str(ngx_http_ws_api_type_name(T_BOOLEAN), "boolean",
           "type_name boolean");

    is_str(ngx_http_ws_api_in_name(Q), "query", "in_name query");
    is_str(ngx_http_ws_api_in_name(H), "header", "in_name header");

    is_str(ngx_http_ws_api_reason_name(R_MISSING), "missing",
           "reason_name missing");
    is_str(ngx_http_ws_api_reason_name(R_NOT_ARRAY), "not_array",
           "reason_name not_array");
    is_str(ngx_http_ws_api_reason_name(R_INVALID), "invalid_type",
           "reason_name invalid_type");
    is_str(ngx_http_ws_api_reason_name(R_NOT_ALLOWED), "value_not_allowed",
           "reason_name value_not_allowed");

    /* each name read back */

    for (i = 0; i <= T_BOOLEAN; i++) {
        const char *n = ngx_http_ws_api_type_name(i);

        is_int(ngx_http_ws_api_type_parse((const u_char *) n, strlen(n)),
               (int) i, "type_name(%zu) reads back", i);
    }
}


static void
test_values(void)
{
    int                      rc;
    size_t                   i;
    ngx_http_ws_api_value_t  v;

    for (i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        memset(&v, 0xa5, sizeof(v));

        rc = ngx_http_ws_api_value_parse(valid_cases[i].type,
                                         (const u_char *) valid_cases[i].text,
                                         strlen(valid_cases[i].text), &v);

        is_int(rc == 0, valid_cases[i].valid, "%s \"%s\" is %s",
               ngx_http_ws_api_type_name(valid_cases[i].type),
               valid_cases[i].text,
               valid_cases[i].valid ? "valid" : "invalid");

        if (rc == 0) {
            ok(v.type == valid_cases[i].type
               && v.data == (const u_char *) valid_cases[i].text
               && v.len == strlen(valid_cases[i].text),
               "  value points to the text, type set");
        }

        /* v may be NULL */

        is_int(ngx_http_ws_api_value_parse(valid_cases[i].type,
                   (const u_char *) valid_cases[i].text,
                   strlen(valid_cases[i].text), NULL),
               rc, "  the same without v");
    }
}


static void
test_parsed(void)
{
    ngx_http_ws_api_value_t  v;

    /* integer */

    parse(T_INTEGER, "9223372036854775807", &v);
    ok(v.u.integer == INT64_MAX, "integer max");
    parse(T_INTEGER, "-9223372036854775808", &v);
    ok(v.u.integer == INT64_MIN, "integer min");
    parse(T_INTEGER, "+05", &v);
    is_int(v.u.integer, 5, "integer +05");
    parse(T_INTEGER, "-42", &v);
    is_int(v.u.integer, -42, "integer -42");
    parse(T_INTEGER, "-0", &v);
    is_int(v.u.integer, 0, "integer -0");

    /* date: days since 1970-01-01 */

    parse(T_DATE, "1970-01-01", &v);
    is_int(v.u.integer, 0, "date epoch");
    parse(T_DATE, "1970-01-02", &v);
    is_int(v.u.integer, 1, "date epoch + 1");
    parse(T_DATE, "1969-12-31", &v);
    is_int(v.u.integer, -1, "date epoch - 1");
    parse(T_DATE, "2000-03-01", &v);
    is_int(v.u.integer, 11017, "date 2000-03-01");
    parse(T_DATE, "2024-02-29", &v);
    is_int(v.u.integer, 19782, "date 2024-02-29");
    parse(T_DATE, "2026-11-28", &v);
    is_int(v.u.integer, 20785, "date 2026-11-28");
    parse(T_DATE, "0000-01-01", &v);
    is_int(v.u.integer, -719528, "date 0000-01-01");
    parse(T_DATE, "9999-12-31", &v);
    is_int(v.u.integer, 2932896, "date 9999-12-31");
    parse(T_DATE, "1900-03-01", &v);
    is_int(v.u.integer, -25508, "date 1900-03-01");

    /* date-time: the instant in UTC */

    parse(T_DATE_TIME, "1970-01-01T00:00:00Z", &v);
    ok(v.u.time.sec == 0 && v.u.time.nsec == 0, "date-time epoch");
    parse(T_DATE_TIME, "2026-11-28T10:15:00Z", &v);
    is_int(v.u.time.sec, 1795860900LL, "date-time 2026-11-28T10:15:00Z");
    parse(T_DATE_TIME, "2026-11-28T11:15:00+01:00", &v);
    is_int(v.u.time.sec, 1795860900LL, "date-time +01:00 applied");
    parse(T_DATE_TIME, "2026-11-28T04:45:00-05:30", &v);
    is_int(v.u.time.sec, 1795860900LL, "date-time -05:30 applied");
    parse(T_DATE_TIME, "1970-01-01T00:00:00+00:01", &v);
    is_int(v.u.time.sec, -60, "date-time before the epoch by an offset");
    parse(T_DATE_TIME, "1969-12-31T23:59:59.75Z", &v);
    ok(v.u.time.sec == -1 && v.u.time.nsec == 750000000,
       "date-time before the epoch with a fraction");
    parse(T_DATE_TIME, "2026-11-28T10:15:00.5Z", &v);
    is_int(v.u.time.nsec, 500000000, "date-time .5");
    parse(T_DATE_TIME, "2026-11-28T10:15:00.000000001Z", &v);
    is_int(v.u.time.nsec, 1, "date-time 1 ns");
    parse(T_DATE_TIME, "2026-11-28T10:15:00.123456789987Z", &v);
    is_int(v.u.time.nsec, 123456789, "date-time truncated to ns");
    parse(T_DATE_TIME, "2026-11-28T10:15:00.999999999999Z", &v);
    ok(v.u.time.nsec == 999999999 && v.u.time.sec == 1795860900LL,
       "date-time truncated, not rounded up");
    parse(T_DATE_TIME, "0000-01-01T00:00:00+23:59", &v);
    is_int(v.u.time.sec, -719528LL * 86400 - 86340, "date-time year 0");
    parse(T_DATE_TIME, "9999-12-31T23:59:59-23:59", &v);
    is_int(v.u.time.sec, 2932896LL * 86400 + 86399 + 86340,
           "date-time year 9999");

    /* double */

    parse(T_DOUBLE, "1.5", &v);
    ok(v.u.dbl == 1.5, "double 1.5");
    parse(T_DOUBLE, "-.5", &v);
    ok(v.u.dbl == -0.5, "double -.5");
    parse(T_DOUBLE, "5.", &v);
    ok(v.u.dbl == 5.0, "double 5.");
    parse(T_DOUBLE, "1e308", &v);
    ok(v.u.dbl == 1e308, "double 1e308");
    parse(T_DOUBLE, "1.7976931348623157e308", &v);
    ok(v.u.dbl == DBL_MAX, "double DBL_MAX");
    parse(T_DOUBLE, "4.9e-324", &v);
    ok(v.u.dbl > 0 && v.u.dbl < 1e-323, "double smallest subnormal");
    parse(T_DOUBLE, "1e-400", &v);
    ok(v.u.dbl == 0, "double underflow to 0");
    parse(T_DOUBLE, "-1e-400", &v);
    ok(v.u.dbl == 0 && signbit(v.u.dbl), "double underflow to -0");
    parse(T_DOUBLE, "0.1", &v);
    ok(v.u.dbl == 0.1, "double 0.1 correctly rounded");
    parse(T_DOUBLE, "123456789012345678901234567890", &v);
    ok(v.u.dbl == 123456789012345678901234567890.0, "double long mantissa");
    parse(T_DOUBLE, "0.000000000000000000000000000000000001e36", &v);
    ok(v.u.dbl == 1.0, "double leading zeros and an exponent");
    parse(T_DOUBLE, "9007199254740993", &v);
    ok(v.u.dbl == 9007199254740992.0, "double 2^53 + 1 rounds to even");
    parse(T_DOUBLE, "2.2250738585072011e-308", &v);
    ok(v.u.dbl == 2.2250738585072011e-308, "double near DBL_MIN");

    /* boolean */

    parse(T_BOOLEAN, "TRUE", &v);
    is_int(v.u.boolean, 1, "boolean TRUE");
    parse(T_BOOLEAN, "fAlSe", &v);
    is_int(v.u.boolean, 0, "boolean fAlSe");
}


static void
test_equal(void)
{
    size_t                   i;
    ngx_http_ws_api_value_t  a, b;

    for (i = 0; i < sizeof(equal_cases) / sizeof(equal_cases[0]); i++) {
        if (!parse(equal_cases[i].type, equal_cases[i].a, &a)
            || !parse(equal_cases[i].type, equal_cases[i].b, &b))
        {
            ok(0, "equal case %zu parses", i);
            continue;
        }

        is_int(ngx_http_ws_api_value_equal(&a, &b), equal_cases[i].equal,
               "%s \"%s\" %s \"%s\"",
               ngx_http_ws_api_type_name(equal_cases[i].type),
               equal_cases[i].a, equal_cases[i].equal ? "==" : "!=",
               equal_cases[i].b);

        is_int(ngx_http_ws_api_value_equal(&b, &a), equal_cases[i].equal,
               "  and the other way round");
    }

    /* values of different types are never equal */

    parse(T_STRING, "5", &a);
    parse(T_INTEGER, "5", &b);
    is_int(ngx_http_ws_api_value_equal(&a, &b), 0, "string 5 != integer 5");
    parse(T_DOUBLE, "5", &a);
    is_int(ngx_http_ws_api_value_equal(&a, &b), 0, "double 5 != integer 5");

    /* a long value: a string is compared as bytes */

    {
        char  x[2000], y[2000];

        memset(x, 'x', sizeof(x));
        memcpy(y, x, sizeof(y));
        y[1999] = 'y';

        ngx_http_ws_api_value_parse(T_STRING, (u_char *) x, 2000, &a);
        ngx_http_ws_api_value_parse(T_STRING, (u_char *) y, 2000, &b);
        is_int(ngx_http_ws_api_value_equal(&a, &b), 0,
               "long strings differing in the last byte");
        ngx_http_ws_api_value_parse(T_STRING, (u_char *) y, 1999, &b);
        is_int(ngx_http_ws_api_value_equal(&a, &b), 0,
               "long strings of different lengths");
        ngx_http_ws_api_value_parse(T_STRING, (u_char *) x, 1999, &a);
        is_int(ngx_http_ws_api_value_equal(&a, &b), 1,
               "long strings, equal");
    }
}


static void
test_checks(void)
{
    size_t       i, k;
    const char  *args;
    char         desc[512];

    for (i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
        args = check_cases[i].args;

        snprintf(desc, sizeof(desc), "%s %s%s%s%s:",
                 check_cases[i].in == Q ? "query" : "header",
                 ngx_http_ws_api_type_name(check_cases[i].type),
                 check_cases[i].required ? " required" : "",
                 check_cases[i].array ? " array" : "",
                 check_cases[i].allowed[0] ? " with values" : "");

        for (k = 0; check_cases[i].headers[k]; k++) {
            /* void */
        }

        is_str(ngx_http_ws_api_reason_name(
                   run_check(&check_cases[i], args, args ? strlen(args) : 0)),
               ngx_http_ws_api_reason_name(check_cases[i].expected),
               "%s \"%s\" ?%s (%zu headers)", desc, check_cases[i].name,
               args ? args : "(none)", k);
    }
}


/* bytes of any kind: NUL, invalid UTF-8, stray "%" */

static void
test_binary(void)
{
    u_char       buf[256];
    size_t       i;
    test_check_t c;

    static const char  nul_args[] = "a=x\0y&b=\0&\0a=2";

    memset(&c, 0, sizeof(c));
    c.name = "a";
    c.in = Q;
    c.type = T_STRING;
    c.array = 1;

    is_str(ngx_http_ws_api_reason_name(
               run_check(&c, nul_args, sizeof(nul_args) - 1)),
           "ok", "query with NUL bytes");

    c.array = 0;

    is_str(ngx_http_ws_api_reason_name(
               run_check(&c, nul_args, sizeof(nul_args) - 1)),
           "ok", "a key \"\\0a\" is not \"a\"");

    c.allowed[0] = "x\0y";   /* the C string ends at the NUL */
    c.allowed[1] = NULL;

    is_str(ngx_http_ws_api_reason_name(
               run_check(&c, nul_args, sizeof(nul_args) - 1)),
           "value_not_allowed", "a value with a NUL is compared as bytes");

    /* every byte value as a query string and as a header value */

    for (i = 0; i < 256; i++) {
        buf[i] = (u_char) i;
    }

    memset(&c, 0, sizeof(c));
    c.name = "a";
    c.in = Q;
    c.type = T_INTEGER;
    c.array = 1;

    ok(run_check(&c, (const char *) buf, 256) <= R_NOT_ALLOWED,
       "all 256 bytes as a query string");

    c.type = T_DATE_TIME;
    ok(run_check(&c, (const char *) buf, 256) <= R_NOT_ALLOWED,
       "all 256 bytes as a query string, date-time");

    for (i = 0; i <= T_BOOLEAN; i++) {
        ok(ngx_http_ws_api_value_parse(i, buf, 256, NULL) == (i ? -1 : 0),
           "all 256 bytes as a %s", ngx_http_ws_api_type_name(i));
    }

    /* "a=%" at the very end of the buffer, nothing after it */

    {
        u_char  *exact;

        exact = malloc(3);
        memcpy(exact, "a=%", 3);

        c.type = T_STRING;
        c.allowed[0] = "%";
        c.allowed[1] = NULL;
        is_str(ngx_http_ws_api_reason_name(run_check(&c, (char *) exact, 3)),
               "ok", "a trailing \"%%\" at the end of the buffer");

        memcpy(exact, "a=%", 3);
        exact[2] = '+';
        c.allowed[0] = " ";
        is_str(ngx_http_ws_api_reason_name(run_check(&c, (char *) exact, 3)),
               "ok", "a trailing \"+\" at the end of the buffer");

        free(exact);
    }

    /* header values that are NULL with a length of 0 */

    {
        u_char                    scratch[1];
        ngx_http_ws_api_param_t   p;
        ngx_http_ws_api_header_t  h;

        memset(&p, 0, sizeof(p));
        p.name = (const u_char *) "X-A";
        p.name_len = 3;
        p.in = H;
        p.type = T_STRING;
        p.required = 1;

        h.name = (const u_char *) "x-a";
        h.name_len = 3;
        h.value = NULL;
        h.value_len = 0;

        is_int(ngx_http_ws_api_param_check(&p, NULL, 0, &h, 1, scratch),
               R_OK, "header with a NULL value");

        is_int(ngx_http_ws_api_param_check(&p, NULL, 0, NULL, 0, scratch),
               R_MISSING, "no headers at all");

        h.name = (const u_char *) "x-a\0";
        h.name_len = 4;
        is_int(ngx_http_ws_api_param_check(&p, NULL, 0, &h, 1, scratch),
               R_MISSING, "a header name with a NUL is another name");
    }
}


/* large inputs: 100 KB query strings, 1000 pairs, long values */

static void
test_large(void)
{
    char          *args, *p;
    size_t         i, len;
    test_check_t   c;

    args = malloc(1024 * 1024);

    /* 1000 pairs, the parameter last */

    p = args;

    for (i = 0; i < 1000; i++) {
        p += sprintf(p, "k%zu=v%zu&", i, i);
    }

    p += sprintf(p, "a=42");
    len = p - args;

    memset(&c, 0, sizeof(c));
    c.name = "a";
    c.in = Q;
    c.type = T_INTEGER;
    c.required = 1;

    is_int(run_check(&c, args, len), R_OK, "1000 pairs, the parameter last");

    c.name = "k999";
    c.type = T_STRING;
    c.allowed[0] = "v999";
    is_int(run_check(&c, args, len), R_OK, "1000 pairs, k999");

    c.name = "k1000";
    is_int(run_check(&c, args, len), R_MISSING, "1000 pairs, k1000 missing");

    /* 1000 repetitions of the key */

    p = args;

    for (i = 0; i < 1000; i++) {
        p += sprintf(p, "a=%zu&", i % 3);
    }

    len = p - args - 1;

    memset(&c, 0, sizeof(c));
    c.name = "a";
    c.in = Q;
    c.type = T_INTEGER;
    c.allowed[0] = "0";
    c.allowed[1] = "1";
    c.allowed[2] = "2";

    is_int(run_check(&c, args, len), R_NOT_ARRAY, "1000 repeated keys");
    c.array = 1;
    is_int(run_check(&c, args, len), R_OK, "1000 repeated keys, array");
    c.allowed[2] = NULL;
    is_int(run_check(&c, args, len), R_NOT_ALLOWED,
           "1000 repeated keys, one value not allowed");

    /* a 100 KB value */

    memcpy(args, "a=", 2);
    memset(args + 2, 'z', 100 * 1024);
    len = 2 + 100 * 1024;

    memset(&c, 0, sizeof(c));
    c.name = "a";
    c.in = Q;
    c.type = T_STRING;

    is_int(run_check(&c, args, len), R_OK, "a 100 KB value");
    c.type = T_INTEGER;
    is_int(run_check(&c, args, len), R_INVALID, "a 100 KB value, integer");

    /* 100 KB of digits: an integer out of range, a valid double */

    memset(args + 2, '1', 100 * 1024);
    is_int(run_check(&c, args, len), R_INVALID, "100 KB of digits, integer");
    c.type = T_DOUBLE;
    is_int(run_check(&c, args, len), R_INVALID,
           "100 KB of digits, double overflows");

    memcpy(args + 2, "0.", 2);
    is_int(run_check(&c, args, len), R_OK, "0.111... of 100 KB, double");

    {
        ngx_http_ws_api_value_t  v;

        ngx_http_ws_api_value_parse(T_DOUBLE, (u_char *) args + 2, len - 2,
                                    &v);
        ok(v.u.dbl == 1.0 / 9, "0.111... of 100 KB is 1/9");
    }

    /* zeros, then digits: the sticky digit keeps the rounding right */

    memset(args + 2, '0', 100 * 1024);
    args[2] = '1';
    args[3] = '.';
    args[len - 1] = '1';
    is_int(run_check(&c, args, len), R_OK, "1.000...0001 of 100 KB");

    {
        ngx_http_ws_api_value_t  v;

        ngx_http_ws_api_value_parse(T_DOUBLE, (u_char *) args + 2, len - 2,
                                    &v);
        ok(v.u.dbl == 1.0, "1.000...0001 is 1");

        /* halfway between 1 and the next double, then a bit more */

        len = sprintf(args, "1.000000000000000111022302462515654042"
                            "36316680908203125");
        ngx_http_ws_api_value_parse(T_DOUBLE, (u_char *) args, len, &v);
        ok(v.u.dbl == 1.0, "exactly halfway rounds to even");

        memset(args + len, '0', 2000);
        len += 2000;
        args[len++] = '1';
        ngx_http_ws_api_value_parse(T_DOUBLE, (u_char *) args, len, &v);
        ok(v.u.dbl > 1.0, "halfway and a little more rounds up, after 2000 "
           "digits");

        /* 1000 leading zeros */

        memset(args, '0', 1000);
        memcpy(args + 1000, "1.25e-2", 7);
        ngx_http_ws_api_value_parse(T_DOUBLE, (u_char *) args, 1007, &v);
        ok(v.u.dbl == 0.0125, "1000 leading zeros");

        /* a fraction of 1000 zeros then a 1 with a large exponent */

        p = args;
        p += sprintf(p, ".");
        memset(p, '0', 1000);
        p += 1000;
        p += sprintf(p, "1e1001");
        ngx_http_ws_api_value_parse(T_DOUBLE, (u_char *) args, p - args,
                                    &v);
        ok(v.u.dbl == 1.0, ".000...1e1001 is 1");
    }

    /* a comma list of 50000 values */

    p = args;
    memcpy(p, "a=", 2);
    p += 2;

    for (i = 0; i < 50000; i++) {
        *p++ = '7';
        *p++ = ',';
    }

    len = p - args - 1;

    memset(&c, 0, sizeof(c));
    c.name = "a";
    c.in = Q;
    c.type = T_INTEGER;
    c.array = 1;
    c.allowed[0] = "7";

    is_int(run_check(&c, args, len), R_OK, "50000 values");
    args[len - 1] = '8';
    is_int(run_check(&c, args, len), R_NOT_ALLOWED,
           "50000 values, the last one not allowed");
    args[1] = '=';
    args[2] = 'x';
    is_int(run_check(&c, args, len), R_INVALID,
           "50000 values, the first one invalid, the last not allowed");

    free(args);
}


/* runs a check with a scratch of exactly args_len bytes */

static ngx_http_ws_api_reason_e
run_check(const test_check_t *c, const char *args, size_t args_len)
{
    char                      *colon;
    size_t                     i, n, nh;
    u_char                    *scratch;
    ngx_http_ws_api_value_t    values[MAX_ALLOWED];
    ngx_http_ws_api_param_t    p;
    ngx_http_ws_api_header_t   headers[MAX_HEADERS];
    ngx_http_ws_api_reason_e   rc;

    memset(&p, 0, sizeof(p));

    p.name = (const u_char *) c->name;
    p.name_len = strlen(c->name);
    p.in = c->in;
    p.type = c->type;
    p.required = c->required;
    p.array = c->array;

    for (n = 0; n < MAX_ALLOWED && c->allowed[n]; n++) {
        if (!parse(c->type, c->allowed[n], &values[n])) {
            tap_diag("allowed value \"%s\" does not parse", c->allowed[n]);
        }
    }

    p.values = values;
    p.nvalues = n;

    for (nh = 0; nh < MAX_HEADERS && c->headers[nh]; nh++) {
        colon = strchr(c->headers[nh], ':');

        headers[nh].name = (const u_char *) c->headers[nh];
        headers[nh].name_len = colon - c->headers[nh];
        headers[nh].value = (const u_char *) colon + 1;
        headers[nh].value_len = strlen(colon + 1);

        /* nginx strips the white space around a header value */

        while (headers[nh].value_len && headers[nh].value[0] == ' ') {
            headers[nh].value++;
            headers[nh].value_len--;
        }

        i = headers[nh].value_len;

        while (i && headers[nh].value[i - 1] == ' ') {
            i--;
        }

        headers[nh].value_len = i;
    }

    /* exactly args_len bytes, so that valgrind sees any overrun */

    scratch = malloc(args_len ? args_len : 1);

    rc = ngx_http_ws_api_param_check(&p, (const u_char *) args, args_len,
                                     nh ? headers : NULL, nh, scratch);

    free(scratch);

    return rc;
}


static int
parse(ngx_http_ws_api_type_e type, const char *s, ngx_http_ws_api_value_t *v)
{
    return ngx_http_ws_api_value_parse(type, (const u_char *) s, strlen(s), v)
           == 0;
}
