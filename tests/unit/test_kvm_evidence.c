/* SPDX-License-Identifier: Apache-2.0 */
/* The unsigned "kvm" evidence: builder and parser (attest/kvm_evidence.c). */
#include <string.h>

#include "attest/kvm_evidence.h"
#include "tap.h"

static uint8_t ev[KEEP_KVM_EVIDENCE_SIZE + 8];

static int parse_mutated(size_t off, uint8_t value, size_t size, struct keep_error *err)
{
    uint8_t copy[sizeof(ev)];
    struct keep_kvm_evidence out;
    memcpy(copy, ev, sizeof(ev));
    if (off < sizeof(copy))
        copy[off] = value;
    return keep_kvm_evidence_parse(copy, size, &out, err);
}

int main(void)
{
    uint8_t m[48], rd[64];
    struct keep_kvm_evidence out;
    struct keep_error err;
    for (int i = 0; i < 48; i++)
        m[i] = (uint8_t)(i * 3);
    for (int i = 0; i < 64; i++)
        rd[i] = (uint8_t)(255 - i);
    keep_kvm_evidence_build(m, rd, ev);
    ok(memcmp(ev, "KEEPEVID", 8) == 0, "starts with the magic KEEPEVID");
    ok(ev[8] == 1 && ev[9] == 0, "version 1, little-endian");
    ok(ev[12] == 136 && ev[13] == 0 && ev[14] == 0 && ev[15] == 0, "size 136");
    ok(memcmp(ev + 16, "kvm\0\0\0\0\0", 8) == 0, "tee type \"kvm\" zero padded");
    ok(memcmp(ev + 24, m, 48) == 0 && memcmp(ev + 72, rd, 64) == 0,
       "measurement at 24, report_data at 72");

    is_int(keep_kvm_evidence_parse(ev, KEEP_KVM_EVIDENCE_SIZE, &out, &err), KEEP_OK, "parses");
    ok(out.version == 1 && memcmp(out.measurement, m, 48) == 0 &&
           memcmp(out.report_data, rd, 64) == 0,
       "parse returns the fields");

    is_int(parse_mutated(0, 'X', KEEP_KVM_EVIDENCE_SIZE, &err), KEEP_E_KVM_EVIDENCE_MAGIC,
           "bad magic: kvm_evidence.magic");
    is_int(parse_mutated(8, 2, KEEP_KVM_EVIDENCE_SIZE, &err), KEEP_E_KVM_EVIDENCE_VERSION,
           "version 2: kvm_evidence.version");
    ok(strstr(err.message, "version is 2") != NULL, "message names the value: %s", err.message);
    is_int(parse_mutated(10, 1, KEEP_KVM_EVIDENCE_SIZE, &err), KEEP_E_RESERVED_NONZERO,
           "nonzero reserved: common.reserved_nonzero");
    is_int(parse_mutated(12, 137, KEEP_KVM_EVIDENCE_SIZE, &err), KEEP_E_KVM_EVIDENCE_SIZE,
           "size field 137: kvm_evidence.size");
    is_int(parse_mutated(16, 'q', KEEP_KVM_EVIDENCE_SIZE, &err), KEEP_E_KVM_EVIDENCE_TEE_TYPE,
           "tee type \"qvm\": kvm_evidence.tee_type");
    is_int(parse_mutated(20, 'x', KEEP_KVM_EVIDENCE_SIZE, &err), KEEP_E_KVM_EVIDENCE_TEE_TYPE,
           "nonzero tee padding: kvm_evidence.tee_type");
    is_int(parse_mutated(0, 'K', KEEP_KVM_EVIDENCE_SIZE - 1, &err), KEEP_E_KVM_EVIDENCE_SIZE,
           "one byte short: kvm_evidence.size");
    is_int(parse_mutated(0, 'K', KEEP_KVM_EVIDENCE_SIZE + 1, &err), KEEP_E_KVM_EVIDENCE_SIZE,
           "one byte extra: kvm_evidence.size");
    is_int(parse_mutated(0, 'K', 5, &err), KEEP_E_TRUNCATED, "5 bytes: common.truncated");
    is_int(keep_kvm_evidence_parse(NULL, 0, &out, &err), KEEP_E_TRUNCATED, "empty: truncated");
    return done_testing();
}
