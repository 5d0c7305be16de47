
/*
 * Copyright (C) ws-api authors
 */


/* A minimal TAP producer for the C unit tests, read by prove. */


#ifndef _TAP_H_INCLUDED_
#define _TAP_H_INCLUDED_


#include <stdarg.h>
#include <stdio.h>
#include <string.h>


static int  tap_run;
static int  tap_failed;


static void
tap_ok(int pass, const char *fmt, ...)
{
    va_list  args;

    tap_run++;

    if (!pass) {
        tap_failed++;
    }

    printf("%sok %d - ", pass ? "" : "not ", tap_run);

    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);

    printf("\n");
    fflush(stdout);
}


static void
tap_diag(const char *fmt, ...)
{
    va_list  args;

    printf("# ");

    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);

    printf("\n");
}


static int
tap_done(void)
{
    printf("1..%d\n", tap_run);

    return tap_failed ? 1 : 0;
}


#define ok(cond, ...)  tap_ok((cond) ? 1 : 0, __VA_ARGS__)

#define is_int(got, expected, ...)                                            \
    do {                                                                      \
        long long  g_ = (long long) (got), e_ = (long long) (expected);       \
        tap_ok(g_ == e_, __VA_ARGS__);                                        \
        if (g_ != e_) {                                                       \
            tap_diag("  got: %lld, expected: %lld", g_, e_);                  \
        }                                                                     \
    } while (0)

#define is_str(got, expected, ...)                                            \
    do {                                                                      \
        const char  *g_ = (got), *e_ = (expected);                            \
        int  p_ = (g_ && e_) ? strcmp(g_, e_) == 0 : g_ == e_;                \
        tap_ok(p_, __VA_ARGS__);                                              \
        if (!p_) {                                                            \
            tap_diag("  got: \"%s\", expected: \"%s\"",                       \
                     g_ ? g_ : "(null)", e_ ? e_ : "(null)");                 \
        }                                                                     \
    } while (0)


#endif /* _TAP_H_INCLUDED_ */
