/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP report parser and verifier against synthetic evidence
 * (tests/support/snp_gen): every field check fails with its own code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/snp.h"
#include "common/util.h"
#include "support/snp_gen.h"
#include "tap.h"

static struct snp_gen *gens[4];

static struct snp_gen *gen(enum keep_amd_product p)
{
    if (!gens[p])
        gens[p] = snp_gen_new(p);
    return gens[p];
}

static struct keep_snp_signer *signer_for(struct snp_gen *g, enum keep_amd_key_kind kind,
                                          const struct snp_gen_cert *c)
{
    struct snp_gen_cert def;
    if (!c) {
        snp_gen_cert_defaults(g, kind, &def);
        c = &def;
    }
    uint8_t *der;
    size_t size;
    snp_gen_cert_der(g, c, &der, &size);
    struct keep_amd_chain_opts opts = {.time = SNP_GEN_TIME, .roots_dir = snp_gen_roots_dir(g)};
    struct keep_snp_signer *s = NULL;
    struct keep_error err = {0};
    if (keep_snp_signer_new(der, size, &opts, &s, &err) != KEEP_OK)
        diag("signer: %s", err.message);
    free(der);
    return s;
}

/* Parse then verify; the first failing code, with the message in err. */
static int check(const struct keep_snp_signer *s, const uint8_t *raw, size_t size,
                 struct keep_error *err)
{
    struct keep_snp_report r;
    keep_error_clear(err);
    int rc = keep_snp_report_parse(raw, size, &r, err);
    if (rc == KEEP_OK)
        rc = keep_snp_verify_report(s, &r, raw, size, err);
    return rc;
}

static void test_good_reports(void)
{
    static const struct {
        enum keep_amd_product product;
        uint32_t version;
    } cases[] = {{KEEP_AMD_MILAN, 2}, {KEEP_AMD_MILAN, 3}, {KEEP_AMD_MILAN, 5},
                 {KEEP_AMD_GENOA, 2}, {KEEP_AMD_GENOA, 3}, {KEEP_AMD_GENOA, 5},
                 {KEEP_AMD_TURIN, 3}, {KEEP_AMD_TURIN, 5}};
    for (size_t i = 0; i < KEEP_ARRAY_LEN(cases); i++) {
        for (int kind = KEEP_AMD_VCEK; kind <= KEEP_AMD_VLEK; kind++) {
            struct snp_gen *g = gen(cases[i].product);
            struct keep_snp_signer *s = signer_for(g, kind, NULL);
            uint8_t raw[KEEP_SNP_REPORT_SIZE];
            snp_gen_report(g, kind, cases[i].version, raw);
            struct keep_error err;
            int rc = s ? check(s, raw, sizeof(raw), &err) : -1;
            is_int(rc, KEEP_OK, "%s %s v%u report verifies (%s)",
                   keep_amd_product_name(cases[i].product), keep_amd_key_kind_name(kind),
                   cases[i].version, err.message);
            keep_snp_signer_free(s);
        }
    }
}

static void test_parsed_fields(void)
{
    struct snp_gen *g = gen(KEEP_AMD_TURIN);
    uint8_t raw[KEEP_SNP_REPORT_SIZE];
    snp_gen_report(g, KEEP_AMD_VCEK, 5, raw);
    struct keep_snp_report r;
    struct keep_error err;
    is_int(keep_snp_report_parse(raw, sizeof(raw), &r, &err), KEEP_OK, "Turin v5 parses");
    is_int(r.version, 5, "version");
    ok(r.policy == 0x30000 && r.policy_bits.smt && !r.policy_bits.debug, "policy bits");
    ok(r.has_cpuid && r.cpuid_fam_id == 0x1a && r.cpuid_mod_id == 0x02, "CPUID family/model");
    ok(r.reported_tcb.has_fmc && r.reported_tcb.fmc == 1 && r.reported_tcb.bootloader == 3 &&
           r.reported_tcb.snp == 8 && r.reported_tcb.microcode == 115,
       "Turin TCB layout: fmc 1, bl 3, snp 8, ucode 115");
    ok(r.has_mit_vector && r.launch_mit_vector == 5 && r.current_mit_vector == 7,
       "v5 mitigation vectors");
    ok(r.current_build == 10 && r.current_minor == 55 && r.current_major == 1 &&
           r.committed_build == 10 && r.committed_minor == 55 && r.committed_major == 1,
       "current and committed versions");
    ok(r.platform_info_bits.smt_en && r.platform_info_bits.tsme_en && !r.platform_info_bits.ecc_en,
       "platform_info bits");
    ok(r.report_data[5] == 5 && r.measurement[0] == 0x4d, "report_data and measurement");

    json_t *j = keep_snp_claims_json(&r);
    ok(j != NULL, "claims JSON builds");
    json_t *tcb = json_object_get(j, "reported_tcb");
    ok(json_integer_value(json_object_get(tcb, "fmc")) == 1 &&
           json_integer_value(json_object_get(tcb, "microcode")) == 115,
       "claims: reported_tcb {fmc 1, microcode 115}");
    ok(json_is_false(json_object_get(json_object_get(j, "policy"), "debug")) &&
           json_is_true(json_object_get(json_object_get(j, "policy"), "smt")),
       "claims: policy bits are named booleans");
    is_str(json_string_value(json_object_get(j, "current_mit_vector")), "0x0000000000000007",
           "claims: current_mit_vector");
    is_int(json_integer_value(json_object_get(j, "cpuid_fam_id")), 0x1a, "claims: cpuid_fam_id");
    is_str(
        json_string_value(json_object_get(json_object_get(j, "signer_info"), "signing_key_name")),
        "VCEK", "claims: signer_info.signing_key_name");
    const char *md = json_string_value(json_object_get(j, "measurement"));
    ok(md && strlen(md) == 96 && strncmp(md, "4d4d", 4) == 0, "claims: measurement as hex");
    json_decref(j);

    snp_gen_report(gen(KEEP_AMD_MILAN), KEEP_AMD_VLEK, 2, raw);
    is_int(keep_snp_report_parse(raw, sizeof(raw), &r, &err), KEEP_OK, "Milan v2 parses");
    j = keep_snp_claims_json(&r);
    ok(j && !json_object_get(j, "cpuid_fam_id") && !json_object_get(j, "launch_mit_vector") &&
           !json_object_get(json_object_get(j, "reported_tcb"), "fmc"),
       "claims: v2 has no cpuid_*, no *_mit_vector, no fmc");
    json_decref(j);
}

/* A mutation applied to a fresh v3 Milan VCEK report, optionally re-signed. */
struct mutation {
    const char *what;
    size_t offset;
    uint8_t value; /* byte written at offset */
    uint32_t version;
    bool resign;
    int want;
};

static void test_field_checks(void)
{
    static const struct mutation cases[] = {
        {"version 1", 0x000, 1, 3, true, KEEP_E_SNP_VERSION},
        {"version 4", 0x000, 4, 3, true, KEEP_E_SNP_VERSION},
        {"version 6", 0x000, 6, 3, true, KEEP_E_SNP_VERSION},
        {"policy bit 17 clear", 0x00a, 0x01, 3, true, KEEP_E_SNP_POLICY_RESERVED},
        {"policy bit 26 set", 0x00b, 0x04, 3, true, KEEP_E_SNP_POLICY_RESERVED},
        {"policy bit 63 set", 0x00f, 0x80, 3, true, KEEP_E_SNP_POLICY_RESERVED},
        {"vmpl 4", 0x030, 4, 3, true, KEEP_E_SNP_VMPL},
        {"signature_algo 0", 0x034, 0, 3, true, KEEP_E_SNP_SIGNATURE_ALGO},
        {"signature_algo 2", 0x034, 2, 3, true, KEEP_E_SNP_SIGNATURE_ALGO},
        {"signer info bit 5", 0x048, 0x20, 3, true, KEEP_E_SNP_SIGNER_INFO},
        {"signing_key 2 (reserved)", 0x048, 2 << 2, 3, true, KEEP_E_SNP_SIGNER_INFO},
        {"signing_key 6 (reserved)", 0x048, 6 << 2, 3, true, KEEP_E_SNP_SIGNER_INFO},
        {"mask_chip_key with a chip_id", 0x048, 0x02, 3, true, KEEP_E_SNP_CHIP_ID_MASKED},
        {"reserved 0x4c", 0x04c, 1, 3, true, KEEP_E_SNP_RESERVED_NONZERO},
        {"v2 reserved 0x188 (CPUID in v3)", 0x188, 0x19, 2, true, KEEP_E_SNP_RESERVED_NONZERO},
        {"v3 reserved 0x18b", 0x18b, 1, 3, true, KEEP_E_SNP_RESERVED_NONZERO},
        {"reserved 0x19f", 0x19f, 1, 3, true, KEEP_E_SNP_RESERVED_NONZERO},
        {"reserved 0x1eb", 0x1eb, 1, 3, true, KEEP_E_SNP_RESERVED_NONZERO},
        {"reserved 0x1ef", 0x1ef, 1, 3, true, KEEP_E_SNP_RESERVED_NONZERO},
        {"v3 reserved 0x1f8 (mit vector in v5)", 0x1f8, 1, 3, true, KEEP_E_SNP_RESERVED_NONZERO},
        {"v5 reserved 0x208", 0x208, 1, 5, true, KEEP_E_SNP_RESERVED_NONZERO},
        {"reserved 0x29f", 0x29f, 1, 5, true, KEEP_E_SNP_RESERVED_NONZERO},
        {"signature reserved 0x330", 0x330, 1, 3, false, KEEP_E_SNP_RESERVED_NONZERO},
        {"signature reserved 0x49f", 0x49f, 1, 3, false, KEEP_E_SNP_RESERVED_NONZERO},
        {"signature R byte 48", 0x2a0 + 48, 1, 3, false, KEEP_E_SNP_SIGNATURE_ENCODING},
        {"signature S byte 71", 0x2e8 + 71, 1, 3, false, KEEP_E_SNP_SIGNATURE_ENCODING},
        {"measurement changed, not re-signed", 0x090, 0, 3, false, KEEP_E_SNP_SIGNATURE_INVALID},
        {"signature R changed", 0x2a0, 0, 3, false, KEEP_E_SNP_SIGNATURE_INVALID},
        {"CPUID model 11h (Genoa) under a Milan VCEK", 0x189, 0x11, 3, true,
         KEEP_E_SNP_PRODUCT_MISMATCH},
        {"CPUID family 1Ah (Turin) under a Milan VCEK", 0x188, 0x1a, 3, true,
         KEEP_E_SNP_PRODUCT_MISMATCH},
        {"CPUID stepping 0 (Milan-B0 certificate, any stepping)", 0x18a, 0, 3, true, KEEP_OK},
        {"reported_tcb.snp 9 against the VCEK's 8", 0x186, 9, 3, true, KEEP_E_SNP_TCB_MISMATCH},
        {"reported_tcb.bootloader 2 against the VCEK's 3", 0x180, 2, 3, true,
         KEEP_E_SNP_TCB_MISMATCH},
        {"reported_tcb.microcode 116", 0x187, 116, 3, true, KEEP_E_SNP_TCB_MISMATCH},
        {"current_tcb differs (allowed)", 0x038, 9, 3, true, KEEP_OK},
        {"chip_id byte 0 changed", 0x1a0, 0, 3, true, KEEP_E_SNP_HWID_MISMATCH},
        {"chip_id byte 63 changed", 0x1df, 0, 3, true, KEEP_E_SNP_HWID_MISMATCH},
        {"signing_key 1 (VLEK) with a VCEK", 0x048, 1 << 2, 3, true, KEEP_E_SNP_KEY_SELECTION},
        {"signing_key 7 (none) with a VCEK", 0x048, 7 << 2, 3, true, KEEP_E_SNP_KEY_SELECTION},
    };
    struct snp_gen *g = gen(KEEP_AMD_MILAN);
    struct keep_snp_signer *s = signer_for(g, KEEP_AMD_VCEK, NULL);
    for (size_t i = 0; i < KEEP_ARRAY_LEN(cases); i++) {
        const struct mutation *m = &cases[i];
        uint8_t raw[KEEP_SNP_REPORT_SIZE];
        snp_gen_report(g, KEEP_AMD_VCEK, m->version, raw);
        raw[m->offset] = m->value ? m->value : (uint8_t)(raw[m->offset] ^ 0x01);
        if (m->resign)
            snp_gen_sign(g, KEEP_AMD_VCEK, raw);
        struct keep_error err;
        int rc = check(s, raw, sizeof(raw), &err);
        is_int(rc, m->want, "%s -> %s (%s)", m->what, keep_err_name(m->want), err.message);
    }
    keep_snp_signer_free(s);
}

static void test_messages(void)
{
    struct snp_gen *g = gen(KEEP_AMD_MILAN);
    struct keep_snp_signer *s = signer_for(g, KEEP_AMD_VCEK, NULL);
    uint8_t raw[KEEP_SNP_REPORT_SIZE];
    struct keep_error err;
    snp_gen_report(g, KEEP_AMD_VCEK, 3, raw);
    raw[0x186] = 9;
    snp_gen_sign(g, KEEP_AMD_VCEK, raw);
    check(s, raw, sizeof(raw), &err);
    ok(strstr(err.message, "snp is 9") && strstr(err.message, "snp 8"),
       "TCB mismatch names the component and both values: %s", err.message);
    snp_gen_report(g, KEEP_AMD_VCEK, 3, raw);
    raw[0x030] = 7;
    snp_gen_sign(g, KEEP_AMD_VCEK, raw);
    check(s, raw, sizeof(raw), &err);
    ok(strstr(err.message, "vmpl is 7") != NULL, "vmpl message: %s", err.message);
    snp_gen_report(g, KEEP_AMD_VCEK, 3, raw);
    raw[0x1ef] = 1;
    check(s, raw, sizeof(raw), &err);
    ok(strstr(err.message, "reserved_1ef") && strstr(err.message, "495"),
       "reserved message names the field and offset: %s", err.message);
    keep_snp_signer_free(s);
}

/* Every byte of the signed area matters: no single-bit change verifies. */
static void test_every_signed_byte(void)
{
    struct snp_gen *g = gen(KEEP_AMD_GENOA);
    struct keep_snp_signer *s = signer_for(g, KEEP_AMD_VCEK, NULL);
    uint8_t good[KEEP_SNP_REPORT_SIZE], raw[KEEP_SNP_REPORT_SIZE];
    snp_gen_report(g, KEEP_AMD_VCEK, 5, good);
    size_t accepted = 0, first = 0;
    for (size_t i = 0; i < KEEP_SNP_SIGNED_SIZE; i++) {
        memcpy(raw, good, sizeof(raw));
        raw[i] ^= 0x01;
        struct keep_error err;
        if (check(s, raw, sizeof(raw), &err) == KEEP_OK && accepted++ == 0)
            first = i;
    }
    ok(accepted == 0,
       "flipping bit 0 of any of the 672 signed bytes is rejected (%zu accepted, "
       "first at %zu)",
       accepted, first);
    keep_snp_signer_free(s);
}

static void test_hwid_and_masking(void)
{
    struct keep_error err;
    uint8_t raw[KEEP_SNP_REPORT_SIZE];
    /* Turin: the 8-byte hwID is compared with the first 8 bytes of chip_id only. */
    struct snp_gen *t = gen(KEEP_AMD_TURIN);
    struct keep_snp_signer *s = signer_for(t, KEEP_AMD_VCEK, NULL);
    snp_gen_report(t, KEEP_AMD_VCEK, 3, raw);
    raw[0x1a7] ^= 1;
    snp_gen_sign(t, KEEP_AMD_VCEK, raw);
    is_int(check(s, raw, sizeof(raw), &err), KEEP_E_SNP_HWID_MISMATCH,
           "Turin: chip_id byte 7 differs -> hwid_mismatch (%s)", err.message);
    snp_gen_report(t, KEEP_AMD_VCEK, 3, raw);
    raw[0x1a8] = 0x55;
    snp_gen_sign(t, KEEP_AMD_VCEK, raw);
    is_int(check(s, raw, sizeof(raw), &err), KEEP_OK,
           "Turin: chip_id byte 8 is outside the 8-byte hwID (%s)", err.message);
    snp_gen_report(t, KEEP_AMD_VCEK, 3, raw);
    raw[0x180] = 2; /* Turin layout: byte 0 is FMC */
    snp_gen_sign(t, KEEP_AMD_VCEK, raw);
    is_int(check(s, raw, sizeof(raw), &err), KEEP_E_SNP_TCB_MISMATCH,
           "Turin: reported_tcb.fmc 2 against the VCEK's 1 (%s)", err.message);
    ok(strstr(err.message, "fmc") != NULL, "... and the message names fmc");
    keep_snp_signer_free(s);

    /* A masked chip_id is zero and accepted: the VCEK key itself is chip-unique. */
    struct snp_gen *g = gen(KEEP_AMD_MILAN);
    s = signer_for(g, KEEP_AMD_VCEK, NULL);
    snp_gen_report(g, KEEP_AMD_VCEK, 3, raw);
    raw[0x048] |= 0x02;
    memset(raw + 0x1a0, 0, 64);
    snp_gen_sign(g, KEEP_AMD_VCEK, raw);
    is_int(check(s, raw, sizeof(raw), &err), KEEP_OK, "masked chip_id with a VCEK (%s)",
           err.message);
    /*
     * MASK_CHIP_ID is a platform setting (SNP_CONFIG), not a report bit: the firmware then
     * writes a zero chip_id and still signs with the VCEK (signer_info bit 1 is MASK_CHIP_KEY,
     * which says whether reports are signed at all). Such a genuine report is accepted.
     */
    snp_gen_report(g, KEEP_AMD_VCEK, 3, raw);
    memset(raw + 0x1a0, 0, 64);
    snp_gen_sign(g, KEEP_AMD_VCEK, raw);
    is_int(check(s, raw, sizeof(raw), &err), KEEP_OK,
           "zero chip_id (MASK_CHIP_ID) with a VCEK, mask bit clear (%s)", err.message);
    /* A chip_id that is neither the hwID nor zero still fails. */
    snp_gen_report(g, KEEP_AMD_VCEK, 3, raw);
    memset(raw + 0x1a0, 0, 63);
    snp_gen_sign(g, KEEP_AMD_VCEK, raw);
    is_int(check(s, raw, sizeof(raw), &err), KEEP_E_SNP_HWID_MISMATCH,
           "chip_id zero but for its last byte -> hwid_mismatch (%s)", err.message);
    keep_snp_signer_free(s);

    /* VLEK: no hwID, any chip_id. */
    s = signer_for(g, KEEP_AMD_VLEK, NULL);
    snp_gen_report(g, KEEP_AMD_VLEK, 3, raw);
    raw[0x1a0] = 0x77;
    snp_gen_sign(g, KEEP_AMD_VLEK, raw);
    is_int(check(s, raw, sizeof(raw), &err), KEEP_OK, "VLEK report with a chip_id (%s)",
           err.message);
    snp_gen_report(g, KEEP_AMD_VCEK, 3, raw);
    is_int(check(s, raw, sizeof(raw), &err), KEEP_E_SNP_KEY_SELECTION,
           "VCEK-signed report with a VLEK certificate -> key_selection (%s)", err.message);
    keep_snp_signer_free(s);
}

static void test_tcb_from_certificate(void)
{
    struct snp_gen *g = gen(KEEP_AMD_GENOA);
    struct snp_gen_cert c;
    snp_gen_cert_defaults(g, KEEP_AMD_VCEK, &c);
    c.tcb.tee = 1;
    struct keep_snp_signer *s = signer_for(g, KEEP_AMD_VCEK, &c);
    uint8_t raw[KEEP_SNP_REPORT_SIZE];
    snp_gen_report(g, KEEP_AMD_VCEK, 3, raw);
    struct keep_error err;
    is_int(check(s, raw, sizeof(raw), &err), KEEP_E_SNP_TCB_MISMATCH,
           "VCEK certifying tee 1 against a report with tee 0 (%s)", err.message);
    keep_snp_signer_free(s);
}

static void test_sizes_and_binding(void)
{
    struct snp_gen *g = gen(KEEP_AMD_MILAN);
    struct keep_snp_signer *s = signer_for(g, KEEP_AMD_VCEK, NULL);
    uint8_t raw[KEEP_SNP_REPORT_SIZE + 1], other[KEEP_SNP_REPORT_SIZE];
    snp_gen_report(g, KEEP_AMD_VCEK, 3, raw);
    raw[KEEP_SNP_REPORT_SIZE] = 0;
    struct keep_snp_report r;
    struct keep_error err;
    is_int(keep_snp_report_parse(raw, KEEP_SNP_REPORT_SIZE - 1, &r, &err), KEEP_E_SNP_REPORT_SIZE,
           "truncated report -> report_size");
    is_int(keep_snp_report_parse(raw, KEEP_SNP_REPORT_SIZE + 1, &r, &err), KEEP_E_SNP_REPORT_SIZE,
           "extended report -> report_size");
    is_int(keep_snp_report_parse(raw, 0, &r, &err), KEEP_E_SNP_REPORT_SIZE,
           "empty report -> report_size");
    is_int(keep_snp_report_parse(NULL, 1184, &r, &err), KEEP_E_SNP_REPORT_SIZE,
           "NULL report -> report_size");
    is_int(keep_snp_report_parse(raw, KEEP_SNP_REPORT_SIZE, &r, &err), KEEP_OK, "parses");
    snp_gen_report(g, KEEP_AMD_VCEK, 3, other);
    is_int(keep_snp_verify_report(s, &r, other, sizeof(other), &err), KEEP_E_SNP_REPORT_MISMATCH,
           "verify with bytes the report was not parsed from -> report_mismatch");
    is_int(keep_snp_verify_report(s, &r, raw, KEEP_SNP_REPORT_SIZE - 1, &err),
           KEEP_E_SNP_REPORT_SIZE, "verify with truncated bytes -> report_size");
    keep_snp_signer_free(s);
}

/*
 * With KEEP_WRITE_SNP_SEEDS=<dir>, write the fuzz seeds of
 * tests/fuzz/corpus/snp_report/ (synthetic: the vectors are never copied).
 */
static void write_seed(const char *dir, const char *name, const uint8_t *data, size_t size)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ok(f && fwrite(data, 1, size, f) == size && fclose(f) == 0, "seed %s written", path);
}

static void write_seeds(const char *dir)
{
    uint8_t r[KEEP_SNP_REPORT_SIZE];
    struct snp_gen *m = gen(KEEP_AMD_MILAN), *g = gen(KEEP_AMD_GENOA), *t = gen(KEEP_AMD_TURIN);
    snp_gen_report(m, KEEP_AMD_VCEK, 2, r);
    write_seed(dir, "milan_vcek_v2.bin", r, sizeof(r));
    snp_gen_report(m, KEEP_AMD_VCEK, 3, r);
    write_seed(dir, "milan_vcek_v3.bin", r, sizeof(r));
    write_seed(dir, "truncated_1000.bin", r, 1000);
    snp_gen_report(g, KEEP_AMD_VLEK, 3, r);
    write_seed(dir, "genoa_vlek_v3.bin", r, sizeof(r));
    snp_gen_report(t, KEEP_AMD_VCEK, 5, r);
    write_seed(dir, "turin_vcek_v5.bin", r, sizeof(r));
    /* Debug policy (bits 16, 17, 19) and a masked chip_id. */
    snp_gen_report(m, KEEP_AMD_VCEK, 5, r);
    r[0x008] = 0;
    r[0x00a] = 0x0b;
    r[0x048] |= 0x02;
    memset(r + 0x1a0, 0, 64);
    snp_gen_sign(m, KEEP_AMD_VCEK, r);
    write_seed(dir, "milan_masked_debug_v5.bin", r, sizeof(r));
}

int main(void)
{
    const char *seeds = getenv("KEEP_WRITE_SNP_SEEDS");
    if (seeds && *seeds) {
        write_seeds(seeds);
    } else {
        test_good_reports();
        test_parsed_fields();
        test_field_checks();
        test_messages();
        test_every_signed_byte();
        test_hwid_and_masking();
        test_tcb_from_certificate();
        test_sizes_and_binding();
    }
    for (size_t i = 0; i < KEEP_ARRAY_LEN(gens); i++)
        snp_gen_free(gens[i]);
    return done_testing();
}
