/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP verifier against real hardware evidence (shared/vectors/snp, see
 * its README.md for the expected outcomes checked here).
 */
#include <stdint.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "attest/snp.h"
#include "common/util.h"
#include "tap.h"

static const char *vectors;

static uint8_t *load(const char *set, const char *name, size_t *size)
{
    char path[1024];
    uint8_t *data = NULL;
    struct keep_error err = {0};
    snprintf(path, sizeof(path), "%s/snp/%s/%s", vectors, set, name);
    if (keep_read_file(path, 1 << 20, &data, size, &err) != KEEP_OK) {
        ok(0, "read %s: %s", path, err.message);
        return NULL;
    }
    return data;
}

static int64_t at(const char *text)
{
    int64_t t = 0;
    struct keep_error err;
    if (keep_parse_time(text, &t, &err) != KEEP_OK)
        abort();
    return t;
}

static bool hex_is(const uint8_t *data, size_t size, const char *hex)
{
    char buf[2 * 64 + 1];
    keep_hex_encode(data, size, buf);
    return strcmp(buf, hex) == 0;
}

/* Signer from a set's certificate at time t; NULL (and the code in *rc) on failure. */
static struct keep_snp_signer *signer_at(const char *set, const char *cert_name, int64_t t, int *rc,
                                         struct keep_error *err)
{
    size_t size = 0;
    uint8_t *cert = load(set, cert_name, &size);
    struct keep_snp_signer *s = NULL;
    struct keep_amd_chain_opts opts = {.time = t};
    *rc = cert ? keep_snp_signer_new(cert, size, &opts, &s, err) : KEEP_E_IO;
    free(cert);
    return s;
}

struct loaded {
    uint8_t *raw;
    size_t size;
    struct keep_snp_report report;
    struct keep_snp_signer *signer;
};

static bool load_set(const char *set, const char *cert_name, int64_t t, struct loaded *l)
{
    struct keep_error err = {0};
    int rc;
    memset(l, 0, sizeof(*l));
    l->raw = load(set, "report.bin", &l->size);
    if (!l->raw)
        return false;
    rc = keep_snp_report_parse(l->raw, l->size, &l->report, &err);
    is_int(rc, KEEP_OK, "%s: report parses (%s)", set, err.message);
    l->signer = signer_at(set, cert_name, t, &rc, &err);
    is_int(rc, KEEP_OK, "%s: %s chain verifies (%s)", set, cert_name, err.message);
    if (!l->signer)
        return false;
    rc = keep_snp_verify_report(l->signer, &l->report, l->raw, l->size, &err);
    is_int(rc, KEEP_OK, "%s: report verifies with its certificate (%s)", set, err.message);
    return true;
}

static void unload(struct loaded *l)
{
    keep_snp_signer_free(l->signer);
    free(l->raw);
}

/* Mutate one byte of a copy, re-parse, verify: returns the first failing code. */
static int verify_mutated(const struct loaded *l, size_t offset, uint8_t xor_mask, int add,
                          struct keep_error *err)
{
    uint8_t copy[KEEP_SNP_REPORT_SIZE];
    memcpy(copy, l->raw, sizeof(copy));
    copy[offset] = (uint8_t)((copy[offset] ^ xor_mask) + add);
    struct keep_snp_report r;
    int rc = keep_snp_report_parse(copy, sizeof(copy), &r, err);
    if (rc)
        return rc;
    return keep_snp_verify_report(l->signer, &r, copy, sizeof(copy), err);
}

static void test_milan_debug(void)
{
    struct loaded l;
    if (!load_set("milan-debug", "vcek.der", at("2026-01-01"), &l))
        goto out;
    const struct keep_snp_report *r = &l.report;
    const struct keep_amd_endorsement *e = keep_snp_signer_endorsement(l.signer);
    is_int(r->version, 2, "milan-debug: version 2");
    ok(r->policy == 0xB0000, "milan-debug: policy 0x%llx is 0xB0000",
       (unsigned long long)r->policy);
    ok(r->policy_bits.debug && r->policy_bits.smt, "milan-debug: DEBUG=1, SMT=1");
    static const uint8_t rd[64] = {1, 2, 3, 4, 5};
    ok(memcmp(r->report_data, rd, 64) == 0, "milan-debug: report_data 0102030405 then zeros");
    ok(hex_is(r->measurement, 48,
              "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a6"
              "08eb0cf2e4872b01"),
       "milan-debug: measurement");
    ok(r->reported_tcb.raw == 0x4405000000000002ull, "milan-debug: reported TCB raw");
    ok(r->reported_tcb.bootloader == 2 && r->reported_tcb.tee == 0 && r->reported_tcb.snp == 5 &&
           r->reported_tcb.microcode == 68,
       "milan-debug: TCB bl 2 tee 0 snp 5 ucode 68");
    ok(e->tcb.bootloader == 2 && e->tcb.snp == 5 && e->tcb.microcode == 68,
       "milan-debug: VCEK TCB extensions equal");
    is_int(r->vmpl, 0, "milan-debug: vmpl 0");
    ok(e->hwid_size == 64 && memcmp(e->hwid, r->chip_id, 64) == 0,
       "milan-debug: chip_id equals the VCEK hwID");
    is_int(e->kind, KEEP_AMD_VCEK, "milan-debug: VCEK");
    is_int(e->product, KEEP_AMD_MILAN, "milan-debug: product Milan");
    char nb[32], na[32];
    keep_format_time(e->not_before, nb, sizeof(nb));
    keep_format_time(e->not_after, na, sizeof(na));
    ok(strncmp(nb, "2022-09-24", 10) == 0 && strncmp(na, "2029-09-24", 10) == 0,
       "milan-debug: VCEK valid 2022-09-24 .. 2029-09-24 (window %s .. %s)", nb, na);
    json_t *claims = keep_snp_claims_json(r);
    ok(claims && json_is_true(json_object_get(json_object_get(claims, "policy"), "debug")),
       "milan-debug: claims name policy.debug = true");
    json_decref(claims);
    struct keep_error err;
    int rc;
    struct keep_snp_signer *late =
        signer_at("milan-debug", "vcek.der", at("2030-01-01"), &rc, &err);
    is_int(rc, KEEP_E_X509_EXPIRED, "milan-debug: VCEK expired at 2030-01-01 (%s)", err.message);
    ok(strstr(err.message, "SEV-VCEK") != NULL, "milan-debug: the message names the VCEK");
    keep_snp_signer_free(late);
out:
    unload(&l);
}

static void test_milan_release(void)
{
    struct loaded l;
    struct keep_error err;
    if (!load_set("milan-release", "vcek.der", at("2026-01-01"), &l))
        goto out;
    const struct keep_snp_report *r = &l.report;
    ok(r->policy == 0x30000 && !r->policy_bits.debug && r->policy_bits.smt,
       "milan-release: policy 0x30000, DEBUG=0, SMT=1");
    ok(hex_is(r->measurement, 48,
              "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd"
              "95b9c480cd81841f"),
       "milan-release: measurement");
    ok(r->reported_tcb.bootloader == 3 && r->reported_tcb.tee == 0 && r->reported_tcb.snp == 8 &&
           r->reported_tcb.microcode == 115,
       "milan-release: TCB bl 3 tee 0 snp 8 ucode 115");
    int rc = verify_mutated(&l, 21, 0x80, 0, &err);
    ok(rc != KEEP_OK, "milan-release: flipping bit 0x80 of byte 21 fails (%s: %s)",
       keep_err_name(rc), err.message);
    /* Byte 21 (0x15) is inside family_id: the parse succeeds and the signature must not. */
    is_int(rc, KEEP_E_SNP_SIGNATURE_INVALID, "milan-release: ... as an invalid signature");
out:
    unload(&l);
}

static void test_milan_idblock(void)
{
    struct loaded l;
    struct keep_error err;
    if (!load_set("milan-idblock", "vcek.der", at("2026-01-01"), &l))
        goto out;
    const struct keep_snp_report *r = &l.report;
    ok(r->policy == 0x3001F && !r->policy_bits.debug, "milan-idblock: policy 0x3001F, DEBUG=0");
    is_int(r->guest_svn, 4, "milan-idblock: guest_svn 4");
    static const uint8_t fam[16] = {1}, img[16] = {2};
    ok(memcmp(r->family_id, fam, 16) == 0, "milan-idblock: family_id 01 then zeros");
    ok(memcmp(r->image_id, img, 16) == 0, "milan-idblock: image_id 02 then zeros");
    ok(hex_is(r->id_key_digest, 48,
              "0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6"
              "e0b2bb57af7a44a3"),
       "milan-idblock: id_key_digest");
    ok(hex_is(r->measurement, 48,
              "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6"
              "be917f9050d3d38c"),
       "milan-idblock: measurement");
    ok(r->current_tcb.raw != r->reported_tcb.raw,
       "milan-idblock: current_tcb differs from reported_tcb (allowed)");
    int rc = verify_mutated(&l, 42, 0, 1, &err);
    is_int(rc, KEEP_E_SNP_SIGNATURE_INVALID, "milan-idblock: byte 42 + 1 breaks the signature (%s)",
           err.message);
    rc = verify_mutated(&l, 0x180, 0, 1, &err);
    is_int(rc, KEEP_E_SNP_SIGNATURE_INVALID,
           "milan-idblock: byte 0x180 (reported_tcb.bl) + 1 fails (%s)", err.message);
    uint8_t copy[KEEP_SNP_REPORT_SIZE];
    memcpy(copy, l.raw, sizeof(copy));
    copy[0x180]++;
    struct keep_snp_report m;
    rc = keep_snp_report_parse(copy, sizeof(copy), &m, &err);
    ok(rc == KEEP_OK &&
           m.reported_tcb.bootloader != keep_snp_signer_endorsement(l.signer)->tcb.bootloader,
       "milan-idblock: ... and its reported_tcb.bootloader %u no longer equals the VCEK's %u",
       m.reported_tcb.bootloader, keep_snp_signer_endorsement(l.signer)->tcb.bootloader);
out:
    unload(&l);
}

static void test_milan_vlek_expired(void)
{
    struct loaded l;
    struct keep_error err;
    if (!load_set("milan-vlek-expired", "vlek.der", at("2025-06-01"), &l))
        goto out;
    const struct keep_snp_report *r = &l.report;
    const struct keep_amd_endorsement *e = keep_snp_signer_endorsement(l.signer);
    is_int(r->version, 3, "milan-vlek-expired: version 3");
    is_int(r->signer_info.signing_key, KEEP_AMD_VLEK, "milan-vlek-expired: signed by a VLEK");
    is_int(e->kind, KEEP_AMD_VLEK, "milan-vlek-expired: certificate is a VLEK");
    is_int(e->product, KEEP_AMD_MILAN, "milan-vlek-expired: product Milan (SEV-VLEK-Milan)");
    is_int(r->vmpl, 1, "milan-vlek-expired: vmpl 1");
    ok(keep_mem_is_zero(r->chip_id, 64), "milan-vlek-expired: chip_id all zero");
    ok(r->has_cpuid && r->cpuid_fam_id == 0x19 && r->cpuid_mod_id == 0x01,
       "milan-vlek-expired: CPUID family 19h model 01h (Milan)");
    int rc;
    struct keep_snp_signer *now =
        signer_at("milan-vlek-expired", "vlek.der", time(NULL), &rc, &err);
    is_int(rc, KEEP_E_X509_EXPIRED, "milan-vlek-expired: VLEK expired now (%s)", err.message);
    ok(strstr(err.message, "SEV-VLEK") && strstr(err.message, "2025-12-10T22:14:21Z"),
       "milan-vlek-expired: message names the VLEK and its notAfter");
    keep_snp_signer_free(now);
    rc = keep_snp_signer_check_time(l.signer, at("2025-12-11"), &err);
    is_int(rc, KEEP_E_X509_EXPIRED, "milan-vlek-expired: cached signer past its window");
out:
    unload(&l);
}

static void test_turin_chain(void)
{
    struct keep_error err = {0};
    int rc;
    struct keep_snp_signer *s = signer_at("turin-chain", "vcek.der", at("2026-01-01"), &rc, &err);
    is_int(rc, KEEP_OK, "turin-chain: VCEK <- SEV-Turin <- ARK-Turin verifies (%s)", err.message);
    if (!s)
        return;
    const struct keep_amd_endorsement *e = keep_snp_signer_endorsement(s);
    is_int(e->product, KEEP_AMD_TURIN, "turin-chain: product Turin");
    is_int(e->hwid_size, 8, "turin-chain: 8-byte hwID");
    ok(e->tcb.has_fmc, "turin-chain: fmc TCB extension read");
    keep_snp_signer_free(s);
}

int main(void)
{
    vectors = tap_vectors_dir();
    test_milan_debug();
    test_milan_release();
    test_milan_idblock();
    test_milan_vlek_expired();
    test_turin_chain();
    return done_testing();
}
