/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small TAP producer for keep's C tests.
 *
 *   int main(void) {
 *       ok(1 + 1 == 2, "addition");
 *       is_int(f(), 0, "f succeeds");
 *       return done_testing();
 *   }
 *
 * done_testing() returns 0 when every check passed, 1 otherwise. skip_all()
 * prints the TAP plan "1..0 # SKIP <why>", which meson reports as SKIP: use it
 * only when the hardware (or the shared vectors, which a fresh clone lacks) a
 * test needs is absent, and say why. (Under meson's TAP protocol the plan is
 * what marks a skip; exit status 77 would be read as an error.)
 */
#ifndef KEEP_TESTS_TAP_H
#define KEEP_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int tap_count, tap_failed;

__attribute__((format(printf, 2, 3), unused)) static int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    tap_count++;
    if (!cond)
        tap_failed++;
    printf("%s %d - ", cond ? "ok" : "not ok", tap_count);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return cond;
}

/* A setup call that must succeed (KEEP_OK): one check that names the call. */
#define must_ok(call) ok((call) == 0, "setup: %s", #call)

#define is_int(got, want, ...)                                                               \
    do {                                                                                     \
        long long tap_g_ = (long long)(got), tap_w_ = (long long)(want);                     \
        if (!ok(tap_g_ == tap_w_, __VA_ARGS__))                                              \
            printf("#   got %lld, want %lld (%s:%d)\n", tap_g_, tap_w_, __FILE__, __LINE__); \
    } while (0)

#define is_str(got, want, ...)                                                      \
    do {                                                                            \
        const char *tap_g_ = (got), *tap_w_ = (want);                               \
        if (!ok(tap_g_ && tap_w_ && strcmp(tap_g_, tap_w_) == 0, __VA_ARGS__))      \
            printf("#   got '%s', want '%s' (%s:%d)\n", tap_g_ ? tap_g_ : "(null)", \
                   tap_w_ ? tap_w_ : "(null)", __FILE__, __LINE__);                 \
    } while (0)

__attribute__((format(printf, 1, 2), unused)) static void diag(const char *fmt, ...)
{
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

__attribute__((noreturn, unused)) static void skip_all(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
    fprintf(stderr, "SKIP: %s\n", why);
    exit(0);
}

__attribute__((unused)) static int done_testing(void)
{
    printf("1..%d\n", tap_count);
    if (tap_count == 0) {
        printf("# no checks ran\n");
        return 1;
    }
    if (tap_failed)
        printf("# %d of %d checks failed\n", tap_failed, tap_count);
    return tap_failed ? 1 : 0;
}

/*
 * The shared real-hardware vectors: $KEEP_VECTORS, else the default the
 * build passes in KEEP_VECTORS_DEFAULT (../shared/vectors beside the
 * source tree). Skips the whole test, with the reason, when absent.
 */
__attribute__((unused)) static const char *tap_vectors_dir(void)
{
    const char *dir = getenv("KEEP_VECTORS");
    if (!dir || !*dir)
        dir = getenv("KEEP_VECTORS_DEFAULT");
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        static char why[512];
        snprintf(why, sizeof(why),
                 "real-hardware vectors not found at %s (set KEEP_VECTORS to the shared/vectors "
                 "folder; a fresh clone has none, and the synthetic tests cover the verifier)",
                 dir ? dir : "(unset)");
        skip_all(why);
    }
    return dir;
}

#endif /* KEEP_TESTS_TAP_H */
