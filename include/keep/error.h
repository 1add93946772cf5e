/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep error results.
 *
 * Every failure in keep has its own code (enum keep_err) and a message that
 * names the field and the values involved. Functions that can fail return
 * 0 (KEEP_OK) or a keep_err code, and fill a caller-supplied struct
 * keep_error with the same code and the message.
 *
 * The codes are listed once, in include/keep/errors/\*.def, one file per
 * subsystem, as  E(NAME, "dotted.string", "what it means").  Numbers are
 * stable within a release; the dotted string is stable across releases and
 * is what --json prints.
 */
#ifndef KEEP_ERROR_H
#define KEEP_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define KEEP_API          __attribute__((visibility("default")))
#define KEEP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define KEEP_WARN_UNUSED  __attribute__((warn_unused_result))
#else
#define KEEP_API
#define KEEP_PRINTF(a, b)
#define KEEP_WARN_UNUSED
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum keep_err {
    KEEP_OK = 0,
#define E(name, str, desc) KEEP_E_##name,
    KEEP_E_COMMON_BASE = 100,
#include "errors/common.def"
    KEEP_E_X509_BASE = 600,
#include "errors/x509.def"
    KEEP_E_SNP_BASE = 1000,
#include "errors/snp.def"
    KEEP_E_QUOTE_BASE = 2000,
#include "errors/quote.def"
    KEEP_E_COLLATERAL_BASE = 3000,
#include "errors/collateral.def"
    KEEP_E_POLICY_BASE = 4000,
#include "errors/policy.def"
    KEEP_E_KVM_BASE = 5000,
#include "errors/kvm.def"
    KEEP_E_CHANNEL_BASE = 6000,
#include "errors/channel.def"
    KEEP_E_RUN_BASE = 7000,
#include "errors/run.def"
    KEEP_E_STEWARD_BASE = 9000,
#include "errors/steward.def"
    KEEP_E_HSM_BASE = 9500,
#include "errors/hsm.def"
#undef E
};

#define KEEP_ERROR_MESSAGE_SIZE 512

struct keep_error {
    int code;                              /* enum keep_err, KEEP_OK when none */
    char message[KEEP_ERROR_MESSAGE_SIZE]; /* names the field and the values */
};

/* Stable dotted name of a code ("snp.signature_invalid"), or "unknown". */
KEEP_API const char *keep_err_name(int code);
/* One-line description of what the code means. */
KEEP_API const char *keep_err_description(int code);

/*
 * Record a failure: sets err->code and formats err->message (err may be NULL).
 * Returns code, so callers write  return keep_fail(err, KEEP_E_X, "...", ...);
 */
KEEP_API int keep_fail(struct keep_error *err, int code, const char *fmt, ...) KEEP_PRINTF(3, 4);
KEEP_API int keep_vfail(struct keep_error *err, int code, const char *fmt, va_list ap)
    KEEP_PRINTF(3, 0);
/* Reset to KEEP_OK with an empty message. */
KEEP_API void keep_error_clear(struct keep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KEEP_ERROR_H */
