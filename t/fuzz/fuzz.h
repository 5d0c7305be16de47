
/*
 * Copyright (C) ws-api authors
 */


/*
 * What the libFuzzer targets share: a broken invariant aborts with the
 * line that states it (libFuzzer saves the input as a crash), and an
 * independent UTF-8 decoder (RFC 3629) written for clarity, not speed,
 * to hold the module's own checks against.
 */


#ifndef _FUZZ_H_INCLUDED_
#define _FUZZ_H_INCLUDED_


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>


#define fuzz_assert(expr)                                                     \
    if (!(expr)) {                                                           \
        fuzz_fail(__FILE__, __LINE__, "%s", #expr);                          \
    }

#define fuzz_assert_msg(expr, ...)                                            \
    if (!(expr)) {                                                           \
        fuzz_fail(__FILE__, __LINE__, __VA_ARGS__);                          \
    }


typedef struct {
    int      need;           /* continuation bytes still expected */
    u_char   lo;             /* the range of the next one */
    u_char   hi;
} fuzz_utf8_t;


static void fuzz_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));


static void
fuzz_fail(const char *file, int line, const char *fmt, ...)
{
    va_list  args;

    fprintf(stderr, "%s:%d: invariant broken: ", file, line);

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fprintf(stderr, "\n");

    abort();
}


/* one byte through the decoder: 0, or -1 if it cannot be there */

static inline int
fuzz_utf8_step(fuzz_utf8_t *u, u_char c)
{
    if (u->need) {
        if (c < u->lo || c > u->hi) {
            return -1;
        }

        u->need--;
        u->lo = 0x80;
        u->hi = 0xbf;

        return 0;
    }

    u->lo = 0x80;
    u->hi = 0xbf;

    if (c < 0x80) {
        return 0;
    }

    if (c >= 0xc2 && c <= 0xdf) {
        u->need = 1;

    } else if (c >= 0xe0 && c <= 0xef) {
        u->need = 2;

        if (c == 0xe0) {
            u->lo = 0xa0;               /* no overlong form */

        } else if (c == 0xed) {
            u->hi = 0x9f;               /* no surrogate */
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        u->need = 3;

        if (c == 0xf0) {
            u->lo = 0x90;               /* no overlong form */

        } else if (c == 0xf4) {
            u->hi = 0x8f;               /* nothing above U+10FFFF */
        }

    } else {
        return -1;
    }

    return 0;
}


static inline int
fuzz_utf8_valid(const u_char *p, size_t n)
{
    size_t       i;
    fuzz_utf8_t  u = { 0, 0x80, 0xbf };

    for (i = 0; i < n; i++) {
        if (fuzz_utf8_step(&u, p[i]) != 0) {
            return 0;
        }
    }

    return u.need == 0;
}


#endif /* _FUZZ_H_INCLUDED_ */
