/* SPDX-License-Identifier: Apache-2.0 */
/*
 * "kvm" evidence: what keep_get_evidence() returns inside a Keep on the kvm
 * backend. It is UNSIGNED: nothing vouches for it. A host that runs a kvm
 * Keep can read and change the Keep's memory and can write any bytes it
 * likes here, so the evidence proves nothing about the platform or the code.
 * It exists so a workload and a relying party can exercise the attestation
 * flow end to end without TEE hardware. A verifier must reject it unless its
 * policy explicitly allows insecure Keeps (libkeep-attest applies that rule).
 *
 * Format (136 bytes, integers little-endian):
 *   0   magic[8]           "KEEPEVID"
 *   8   u16 version        1
 *   10  u16 reserved       0
 *   12  u32 size           136, the whole evidence
 *   16  tee_type[8]        "kvm" followed by five zero bytes
 *   24  measurement[48]    the Keep's launch measurement (SHA-384, src/host/measure.c)
 *   72  report_data[64]    the workload's report_data, verbatim
 */
#ifndef KEEP_ATTEST_KVM_EVIDENCE_H
#define KEEP_ATTEST_KVM_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "keep/error.h"

#define KEEP_KVM_EVIDENCE_MAGIC   "KEEPEVID"
#define KEEP_KVM_EVIDENCE_VERSION 1u
#define KEEP_KVM_EVIDENCE_SIZE    136u
#define KEEP_KVM_EVIDENCE_TEE     "kvm"

struct keep_kvm_evidence {
    uint16_t version;
    uint8_t measurement[48];
    uint8_t report_data[64];
};

/* Write the evidence for measurement and report_data into out. */
void keep_kvm_evidence_build(const uint8_t measurement[48], const uint8_t report_data[64],
                             uint8_t out[KEEP_KVM_EVIDENCE_SIZE]);

/*
 * Parse evidence of size bytes. Checks the format only (magic, version,
 * reserved, size, tee type, no trailing bytes); it says nothing about trust.
 */
KEEP_WARN_UNUSED int keep_kvm_evidence_parse(const uint8_t *data, size_t size,
                                             struct keep_kvm_evidence *out, struct keep_error *err);

#endif /* KEEP_ATTEST_KVM_EVIDENCE_H */
