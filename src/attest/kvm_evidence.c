/* SPDX-License-Identifier: Apache-2.0 */
#include "attest/kvm_evidence.h"

#include <string.h>

#include "common/cursor.h"

void keep_kvm_evidence_build(const uint8_t measurement[48], const uint8_t report_data[64],
                             uint8_t out[KEEP_KVM_EVIDENCE_SIZE])
{
    memset(out, 0, KEEP_KVM_EVIDENCE_SIZE);
    memcpy(out, KEEP_KVM_EVIDENCE_MAGIC, 8);
    out[8] = (uint8_t)KEEP_KVM_EVIDENCE_VERSION;
    out[12] = (uint8_t)KEEP_KVM_EVIDENCE_SIZE;
    memcpy(out + 16, KEEP_KVM_EVIDENCE_TEE, strlen(KEEP_KVM_EVIDENCE_TEE));
    memcpy(out + 24, measurement, 48);
    memcpy(out + 72, report_data, 64);
}

int keep_kvm_evidence_parse(const uint8_t *data, size_t size, struct keep_kvm_evidence *out,
                            struct keep_error *err)
{
    static const uint8_t tee[8] = {'k', 'v', 'm', 0, 0, 0, 0, 0};
    struct keep_cursor c;
    uint8_t magic[8], tee_type[8];
    uint16_t version;
    uint32_t total;
    int rc;
    memset(out, 0, sizeof(*out));
    keep_cursor_init(&c, data, size);
    if ((rc = keep_cursor_copy(&c, "kvm_evidence.magic", magic, sizeof(magic), err)) != 0)
        return rc;
    if (memcmp(magic, KEEP_KVM_EVIDENCE_MAGIC, 8) != 0)
        return keep_fail(err, KEEP_E_KVM_EVIDENCE_MAGIC,
                         "kvm_evidence.magic is %02x%02x%02x%02x%02x%02x%02x%02x; must be "
                         "\"KEEPEVID\"",
                         magic[0], magic[1], magic[2], magic[3], magic[4], magic[5], magic[6],
                         magic[7]);
    if ((rc = keep_cursor_u16(&c, "kvm_evidence.version", &version, err)) != 0)
        return rc;
    if (version != KEEP_KVM_EVIDENCE_VERSION)
        return keep_fail(err, KEEP_E_KVM_EVIDENCE_VERSION,
                         "kvm_evidence.version is %u; only version %u is defined", version,
                         KEEP_KVM_EVIDENCE_VERSION);
    if ((rc = keep_cursor_reserved_zero(&c, "kvm_evidence.reserved", 2, err)) != 0 ||
        (rc = keep_cursor_u32(&c, "kvm_evidence.size", &total, err)) != 0)
        return rc;
    if (total != KEEP_KVM_EVIDENCE_SIZE || size != KEEP_KVM_EVIDENCE_SIZE)
        return keep_fail(err, KEEP_E_KVM_EVIDENCE_SIZE,
                         "kvm_evidence.size is %u and the evidence is %zu bytes; both must be %u",
                         total, size, KEEP_KVM_EVIDENCE_SIZE);
    if ((rc = keep_cursor_copy(&c, "kvm_evidence.tee_type", tee_type, 8, err)) != 0)
        return rc;
    if (memcmp(tee_type, tee, sizeof(tee)) != 0)
        return keep_fail(err, KEEP_E_KVM_EVIDENCE_TEE_TYPE,
                         "kvm_evidence.tee_type is \"%.8s\" (with its padding); must be \"kvm\" "
                         "followed by five zero bytes",
                         (const char *)tee_type);
    if ((rc = keep_cursor_copy(&c, "kvm_evidence.measurement", out->measurement, 48, err)) != 0 ||
        (rc = keep_cursor_copy(&c, "kvm_evidence.report_data", out->report_data, 64, err)) != 0 ||
        (rc = keep_cursor_expect_end(&c, "kvm evidence", err)) != 0)
        return rc;
    out->version = version;
    return KEEP_OK;
}
