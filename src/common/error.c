/* SPDX-License-Identifier: Apache-2.0 */
#include "keep/error.h"

#include <stdio.h>
#include <string.h>

struct err_entry {
    int code;
    const char *name;
    const char *description;
};

static const struct err_entry err_table[] = {
    {KEEP_OK, "ok", "no error"},
#define E(name, str, desc) {KEEP_E_##name, str, desc},
#include "keep/errors/common.def"
#include "keep/errors/x509.def"
#include "keep/errors/snp.def"
#include "keep/errors/quote.def"
#include "keep/errors/collateral.def"
#include "keep/errors/policy.def"
#include "keep/errors/kvm.def"
#include "keep/errors/channel.def"
#include "keep/errors/run.def"
#include "keep/errors/steward.def"
#include "keep/errors/hsm.def"
#undef E
};

static const struct err_entry *err_lookup(int code)
{
    for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++) {
        if (err_table[i].code == code)
            return &err_table[i];
    }
    return NULL;
}

const char *keep_err_name(int code)
{
    const struct err_entry *e = err_lookup(code);
    return e ? e->name : "unknown";
}

const char *keep_err_description(int code)
{
    const struct err_entry *e = err_lookup(code);
    return e ? e->description : "unknown error code";
}

int keep_vfail(struct keep_error *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
    }
    return code;
}

int keep_fail(struct keep_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    keep_vfail(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void keep_error_clear(struct keep_error *err)
{
    if (err) {
        err->code = KEEP_OK;
        err->message[0] = '\0';
    }
}
