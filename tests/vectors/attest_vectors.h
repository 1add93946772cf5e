/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for the tests that run the shared real-hardware vectors through
 * the public API (include/keep/attest.h): load files in place, verify with a
 * policy given as JSON text, and describe a result in TAP diagnostics.
 */
#ifndef KEEP_TESTS_ATTEST_VECTORS_H
#define KEEP_TESTS_ATTEST_VECTORS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "keep/attest.h"
#include "tap.h"

/* Whole file under the vectors directory; aborts the test (not a skip) when absent. */
__attribute__((unused)) static struct keep_attest_blob vec_load(const char *dir, const char *rel)
{
    char path[1024];
    uint8_t *data = NULL;
    size_t size = 0;
    struct keep_error err = {0};
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    if (keep_read_file(path, 16u << 20, &data, &size, &err)) {
        printf("Bail out! cannot read vector %s: %s\n", path, err.message);
        exit(1);
    }
    return (struct keep_attest_blob){.data = data, .size = size};
}

__attribute__((unused)) static void vec_free(struct keep_attest_blob *b)
{
    free((void *)(uintptr_t)b->data);
    b->data = NULL;
    b->size = 0;
}

__attribute__((unused)) static int64_t vec_time(const char *text)
{
    int64_t t = 0;
    struct keep_error err;
    if (keep_parse_time(text, &t, &err)) {
        printf("Bail out! bad time %s: %s\n", text, err.message);
        exit(1);
    }
    return t;
}

__attribute__((unused)) static struct keep_attest_policy *vec_policy(const char *json)
{
    struct keep_attest_policy *p = NULL;
    struct keep_error err = {0};
    if (!json)
        return NULL;
    if (keep_attest_policy_parse(json, strlen(json), &p, &err)) {
        printf("Bail out! policy %s: %s\n", json, err.message);
        exit(1);
    }
    return p;
}

__attribute__((unused)) static void vec_diag_result(const struct keep_attest_result *r)
{
    diag("verdict %s, tee %s, tcb_status %s",
         keep_attest_verdict_name(keep_attest_result_verdict(r)),
         keep_attest_tee_name(keep_attest_result_tee(r)),
         keep_attest_result_tcb_status(r) ? keep_attest_result_tcb_status(r) : "(none)");
    for (size_t i = 0; i < keep_attest_result_error_count(r); i++) {
        const struct keep_error *e = keep_attest_result_error(r, i);
        diag("  %s: %s", keep_err_name(e->code), e->message);
    }
}

/* Verify and return the result (never NULL: bails out on an API failure). */
__attribute__((unused)) static struct keep_attest_result *
vec_verify(struct keep_attest_verifier *v, const struct keep_attest_input *in,
           const char *policy_json)
{
    struct keep_attest_policy *p = vec_policy(policy_json);
    struct keep_attest_result *r = NULL;
    struct keep_error err = {0};
    if (keep_attest_verify(v, in, p, &r, &err)) {
        printf("Bail out! keep_attest_verify: %s\n", err.message);
        exit(1);
    }
    keep_attest_policy_free(p);
    return r;
}

/*
 * Verify and check the verdict and, when code is not KEEP_OK, that an error
 * with that code is listed (with KEEP_OK: none when accepted, some
 * otherwise). Prints the result when the check fails.
 */
__attribute__((unused)) static void
vec_expect(struct keep_attest_verifier *v, const struct keep_attest_input *in,
           const char *policy_json, enum keep_attest_verdict verdict, int code, const char *what)
{
    struct keep_attest_result *r = vec_verify(v, in, policy_json);
    /* code 0: no error when accepted, at least one otherwise. */
    size_t n = keep_attest_result_error_count(r);
    bool good = keep_attest_result_verdict(r) == verdict &&
                (code != KEEP_OK ? keep_attest_result_has_error(r, code)
                                 : (verdict == KEEP_ATTEST_ACCEPT) == (n == 0));
    ok(good, "%s: %s%s%s", what, keep_attest_verdict_name(verdict), code ? " with " : "",
       code ? keep_err_name(code) : "");
    if (!good)
        vec_diag_result(r);
    keep_attest_result_free(r);
}

__attribute__((unused)) static struct keep_attest_verifier *vec_verifier(void)
{
    struct keep_attest_verifier *v = NULL;
    struct keep_error err = {0};
    if (keep_attest_verifier_new(NULL, &v, &err)) {
        printf("Bail out! keep_attest_verifier_new: %s\n", err.message);
        exit(1);
    }
    return v;
}

/* True when the claims JSON text contains "key": "value" (exact text match). */
__attribute__((unused)) static bool vec_claims_have(const struct keep_attest_result *r,
                                                    const char *key, const char *value)
{
    const char *claims = keep_attest_result_claims(r);
    char needle[256];
    snprintf(needle, sizeof(needle), "\"%s\": \"%s\"", key, value);
    return claims && strstr(claims, needle) != NULL;
}

#endif /* KEEP_TESTS_ATTEST_VECTORS_H */
