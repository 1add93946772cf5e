/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCB Info parsing (every field's type, range and length, with the JSON path
 * in the message) and Intel's TCB level matching on hand-written level
 * tables: every status, first-match ordering, the pcesvn boundary, TDX
 * module identities and the advisory union.
 */
#include <stdlib.h>
#include <string.h>

#include "attest/collateral.h"
#include "attest/tcb.h"
#include "common/util.h"
#include "support/collateral_gen.h"
#include "tap.h"

#define ISSUE "2025-06-19T10:56:11Z"
#define NEXT  "2025-07-19T10:56:11Z"

/* A table in Intel's order, highest TCB first, one level per status. */
static const struct keep_test_tcb_level sgx_levels[] = {
    {{12, 12, 2, 2, 255, 1, 12}, 14, {0}, "UpToDate", NULL},
    {{11, 11, 2, 2, 255, 1, 12}, 13, {0}, "SWHardeningNeeded", "INTEL-SA-00615"},
    {{11, 11, 2, 2, 255, 1, 0},
     13,
     {0},
     "ConfigurationAndSWHardeningNeeded",
     "INTEL-SA-00289,INTEL-SA-00615"},
    {{11, 11, 2, 2, 255, 0, 0}, 13, {0}, "ConfigurationNeeded", "INTEL-SA-00289"},
    {{10, 10, 2, 2, 255, 0, 0}, 13, {0}, "OutOfDate", "INTEL-SA-00828"},
    {{10, 10, 2, 2, 255, 0, 0},
     11,
     {0},
     "OutOfDateConfigurationNeeded",
     "INTEL-SA-00828,INTEL-SA-00289"},
    {{5, 5, 0, 0, 0, 0, 0}, 5, {0}, "Revoked", "INTEL-SA-00106"},
};

static struct keep_tcb_info *parse_spec(const struct keep_test_tcb_spec *spec)
{
    struct keep_tcb_info *info = NULL;
    struct keep_error err = {0};
    char *body = keep_test_tcb_info_body(spec);
    if (!body || keep_tcb_info_parse_body(body, strlen(body), NULL, &info, &err) != KEEP_OK)
        diag("parse failed: %s", err.message);
    free(body);
    return info;
}

static struct keep_test_tcb_spec sgx_spec(int version)
{
    struct keep_test_tcb_spec s = {.id = "SGX",
                                   .version = version,
                                   .issue_date = ISSUE,
                                   .next_update = NEXT,
                                   .fmspc = "00A067110000",
                                   .pce_id = "0000",
                                   .levels = sgx_levels,
                                   .level_count = KEEP_ARRAY_LEN(sgx_levels)};
    return s;
}

static struct keep_tcb_input sgx_input(const uint8_t cpusvn[16], uint16_t pcesvn)
{
    struct keep_tcb_input in = {
        .tee = KEEP_TEE_SGX, .pcesvn = pcesvn, .fmspc = {0x00, 0xa0, 0x67, 0x11, 0x00, 0x00}};
    memcpy(in.cpusvn_components, cpusvn, 16);
    return in;
}

static bool has_advisory(const struct keep_tcb_result *r, const char *id)
{
    for (size_t i = 0; i < r->advisory_count; i++) {
        if (strcmp(r->advisory_ids[i], id) == 0)
            return true;
    }
    return false;
}

/* Match and check status, level and advisory count. */
static void expect_sgx(struct keep_tcb_info *info, const uint8_t cpusvn[16], uint16_t pcesvn,
                       enum keep_tcb_status want, size_t want_level, size_t want_adv,
                       const char *name)
{
    struct keep_tcb_input in = sgx_input(cpusvn, pcesvn);
    struct keep_tcb_result r;
    struct keep_error err = {0};
    int rc = keep_tcb_match(info, &in, &r, &err);
    is_int(rc, KEEP_OK, "%s: matches (%s)", name, err.message);
    is_str(keep_tcb_status_name(r.status), keep_tcb_status_name(want), "%s: status", name);
    is_int(r.sgx_level_index, want_level, "%s: level", name);
    is_int(r.advisory_count, want_adv, "%s: advisory count", name);
    keep_tcb_result_free(&r);
}

static void test_sgx_statuses(int version)
{
    struct keep_test_tcb_spec spec = sgx_spec(version);
    struct keep_tcb_info *info = parse_spec(&spec);
    ok(info != NULL, "v%d SGX table parses", version);
    if (!info)
        return;
    is_int(info->level_count, 7, "seven levels");
    const uint8_t top[16] = {12, 12, 2, 2, 255, 1, 12};
    expect_sgx(info, top, 14, KEEP_TCB_UP_TO_DATE, 0, 0, "top TCB");
    /* pcesvn boundary: 14 is needed for level 0, 13 only reaches level 1. */
    expect_sgx(info, top, 13, KEEP_TCB_SW_HARDENING_NEEDED, 1, 1, "pcesvn 13 (one below)");
    expect_sgx(info, top, 15, KEEP_TCB_UP_TO_DATE, 0, 0, "pcesvn above");
    const uint8_t c7low[16] = {11, 11, 2, 2, 255, 1, 11};
    expect_sgx(info, c7low, 13, KEEP_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED, 2, 2,
               "component 7 below level 1");
    const uint8_t c6zero[16] = {11, 11, 2, 2, 255, 0, 0};
    expect_sgx(info, c6zero, 13, KEEP_TCB_CONFIGURATION_NEEDED, 3, 1, "component 6 zero");
    const uint8_t ten[16] = {10, 10, 2, 2, 255, 0, 0};
    expect_sgx(info, ten, 13, KEEP_TCB_OUT_OF_DATE, 4, 1, "cpusvn 10");
    expect_sgx(info, ten, 12, KEEP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED, 5, 2, "pcesvn 12");
    expect_sgx(info, top, 12, KEEP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED, 5, 2,
               "top cpusvn, pcesvn 12");
    const uint8_t five[16] = {5, 5};
    expect_sgx(info, five, 5, KEEP_TCB_REVOKED, 6, 1, "revoked level");
    /* All 16 components count: high elsewhere does not make up for one low one. */
    const uint8_t one_low[16] = {255, 255, 255, 255, 255, 0,   255, 255,
                                 255, 255, 255, 255, 255, 255, 255, 255};
    expect_sgx(info, one_low, 255, KEEP_TCB_CONFIGURATION_NEEDED, 3, 1,
               "component 6 low, all others high");

    struct keep_tcb_input in = sgx_input((const uint8_t[16]){4, 5}, 5);
    struct keep_tcb_result r;
    struct keep_error err = {0};
    is_int(keep_tcb_match(info, &in, &r, &err), KEEP_E_COLLATERAL_NO_MATCHING_TCB_LEVEL,
           "below every level: no matching TCB level");
    ok(strstr(err.message, "04050000") != NULL, "message names the CPUSVN: %s", err.message);
    in = sgx_input(five, 4);
    is_int(keep_tcb_match(info, &in, &r, &err), KEEP_E_COLLATERAL_NO_MATCHING_TCB_LEVEL,
           "pcesvn below every level: no matching TCB level");
    keep_tcb_info_free(info);
}

static void test_order_is_the_signed_order(void)
{
    /* A table that lists a lower level first: the first match wins. */
    const struct keep_test_tcb_level levels[] = {
        {{1}, 1, {0}, "OutOfDate", "INTEL-SA-00001"},
        {{12, 12}, 14, {0}, "UpToDate", NULL},
    };
    struct keep_test_tcb_spec spec = sgx_spec(3);
    spec.levels = levels;
    spec.level_count = 2;
    struct keep_tcb_info *info = parse_spec(&spec);
    if (!ok(info != NULL, "two-level table parses"))
        return;
    expect_sgx(info, (const uint8_t[16]){12, 12}, 14, KEEP_TCB_OUT_OF_DATE, 0, 1,
               "first listed level wins");
    keep_tcb_info_free(info);
}

static void test_advisories_first_seen(void)
{
    struct keep_test_tcb_spec spec = sgx_spec(3);
    struct keep_tcb_info *info = parse_spec(&spec);
    struct keep_tcb_input in = sgx_input((const uint8_t[16]){11, 11, 2, 2, 255, 1, 0}, 13);
    struct keep_tcb_result r;
    struct keep_error err = {0};
    if (!ok(info && keep_tcb_match(info, &in, &r, &err) == KEEP_OK, "match for advisories"))
        goto out;
    is_int(r.advisory_count, 2, "two advisories");
    if (r.advisory_count == 2) {
        is_str(r.advisory_ids[0], "INTEL-SA-00289", "first advisory in signed order");
        is_str(r.advisory_ids[1], "INTEL-SA-00615", "second advisory");
    }
    keep_tcb_result_free(&r);
out:
    keep_tcb_info_free(info);
}

/* ---- TDX ---- */

static const struct keep_test_tcb_level tdx_levels[] = {
    {{2, 2, 2, 2, 3, 1, 0, 5}, 13, {5, 0, 3}, "UpToDate", NULL},
    {{2, 2, 2, 2, 3, 1, 0, 5}, 13, {5, 0, 2}, "OutOfDate", "INTEL-SA-01036"},
    {{2, 2, 2, 2, 3, 1, 0, 5}, 5, {3, 0, 2}, "OutOfDate", "INTEL-SA-00837"},
};

static json_t *module_identities(const char *tdx01_top_status)
{
    const char *zero48 = "000000000000000000000000000000000000000000000000"
                         "000000000000000000000000000000000000000000000000";
    return json_pack(
        "[{s:s, s:s, s:s, s:s, s:[{s:{s:i}, s:s, s:s}]},"
        " {s:s, s:s, s:s, s:s, s:[{s:{s:i}, s:s, s:s}, {s:{s:i}, s:s, s:s, s:[s, s]}]}]",
        "id", "TDX_03", "mrsigner", zero48, "attributes", "0000000000000000", "attributesMask",
        "FFFFFFFFFFFFFFFF", "tcbLevels", "tcb", "isvsvn", 3, "tcbDate", "2024-03-13T00:00:00Z",
        "tcbStatus", "UpToDate", "id", "TDX_01", "mrsigner", zero48, "attributes",
        "0000000000000000", "attributesMask", "FFFFFFFFFFFFFFFF", "tcbLevels", "tcb", "isvsvn", 4,
        "tcbDate", "2024-03-13T00:00:00Z", "tcbStatus", tdx01_top_status, "tcb", "isvsvn", 2,
        "tcbDate", "2023-08-09T00:00:00Z", "tcbStatus", "OutOfDate", "advisoryIDs",
        "INTEL-SA-01036", "INTEL-SA-01099");
}

static struct keep_tcb_info *tdx_info(const struct keep_test_tcb_level *levels, size_t count,
                                      const char *tdx01_top_status)
{
    json_t *ids = module_identities(tdx01_top_status);
    struct keep_test_tcb_spec spec = {.id = "TDX",
                                      .version = 3,
                                      .issue_date = ISSUE,
                                      .next_update = NEXT,
                                      .fmspc = "B0C06F000000",
                                      .pce_id = "0000",
                                      .levels = levels,
                                      .level_count = count,
                                      .tdx_module_identities = ids};
    struct keep_tcb_info *info = parse_spec(&spec);
    json_decref(ids);
    return info;
}

static struct keep_tcb_input tdx_input(uint8_t b0, uint8_t b1, uint8_t b2)
{
    struct keep_tcb_input in = {.tee = KEEP_TEE_TDX,
                                .cpusvn_components = {3, 3, 2, 2, 4, 1, 0, 5},
                                .pcesvn = 13,
                                .fmspc = {0xb0, 0xc0, 0x6f, 0, 0, 0},
                                .tee_tcb_svn = {b0, b1, b2}};
    return in;
}

static int tdx_match(struct keep_tcb_info *info, struct keep_tcb_input in,
                     struct keep_tcb_result *r, struct keep_error *err)
{
    return keep_tcb_match(info, &in, r, err);
}

static void test_tdx(void)
{
    struct keep_tcb_info *info = tdx_info(tdx_levels, KEEP_ARRAY_LEN(tdx_levels), "UpToDate");
    struct keep_tcb_result r;
    struct keep_error err = {0};
    if (!ok(info != NULL, "TDX table parses"))
        return;
    is_int(info->module_identity_count, 2, "two module identities");
    ok(info->has_tdx_module, "tdxModule parsed");

    /* Module major 0: all 16 TDX bytes compared, tdxModule gives mrsigner. */
    is_int(tdx_match(info, tdx_input(5, 0, 3), &r, &err), KEEP_OK, "major 0 top (%s)", err.message);
    is_int(r.status, KEEP_TCB_UP_TO_DATE, "major 0 top: UpToDate");
    ok(!r.has_module_status, "major 0: no module status");
    keep_tcb_result_free(&r);
    is_int(tdx_match(info, tdx_input(5, 0, 2), &r, &err), KEEP_OK, "major 0, byte 2 low");
    is_int(r.status, KEEP_TCB_OUT_OF_DATE, "byte 2 low: OutOfDate");
    is_int(r.tdx_level_index, 1, "level 1");
    ok(has_advisory(&r, "INTEL-SA-01036"), "level 1 advisory");
    keep_tcb_result_free(&r);
    is_int(tdx_match(info, tdx_input(4, 0, 3), &r, &err), KEEP_OK, "major 0, byte 0 low");
    is_int(r.tdx_level_index, 2, "byte 0 counts at major 0: level 2");
    keep_tcb_result_free(&r);

    /* Major 1: bytes 0 and 1 belong to the module identity TDX_01. */
    is_int(tdx_match(info, tdx_input(4, 1, 3), &r, &err), KEEP_OK, "major 1 (%s)", err.message);
    is_int(r.tdx_level_index, 0, "major 1: byte 0 skipped, level 0");
    ok(r.has_module_status && r.module_status == KEEP_TCB_UP_TO_DATE, "module UpToDate");
    is_str(r.module_identity_id, "TDX_01", "module identity TDX_01");
    is_int(r.status, KEEP_TCB_UP_TO_DATE, "converged UpToDate");
    keep_tcb_result_free(&r);
    is_int(tdx_match(info, tdx_input(2, 1, 3), &r, &err), KEEP_OK, "module isvsvn 2");
    is_int(r.module_status, KEEP_TCB_OUT_OF_DATE, "module OutOfDate");
    is_int(r.status, KEEP_TCB_OUT_OF_DATE, "UpToDate with module OutOfDate: OutOfDate");
    is_int(r.advisory_count, 2, "module advisories");
    keep_tcb_result_free(&r);
    /* Advisory union without duplicates: level 1 and module level both list SA-01036. */
    is_int(tdx_match(info, tdx_input(2, 1, 2), &r, &err), KEEP_OK, "level 1, module level 1");
    is_int(r.advisory_count, 2, "union of {01036} and {01036, 01099} has two entries");
    ok(has_advisory(&r, "INTEL-SA-01036") && has_advisory(&r, "INTEL-SA-01099"), "both advisories");
    keep_tcb_result_free(&r);
    is_int(tdx_match(info, tdx_input(3, 3, 3), &r, &err), KEEP_OK, "major 3");
    is_str(r.module_identity_id, "TDX_03", "module identity TDX_03");
    keep_tcb_result_free(&r);

    is_int(tdx_match(info, tdx_input(1, 1, 3), &r, &err),
           KEEP_E_COLLATERAL_NO_MATCHING_TDX_MODULE_LEVEL, "module isvsvn below every level");
    is_int(tdx_match(info, tdx_input(4, 2, 3), &r, &err),
           KEEP_E_COLLATERAL_TDX_MODULE_IDENTITY_MISSING, "no TDX_02 identity");
    ok(strstr(err.message, "TDX_02") != NULL, "message names TDX_02: %s", err.message);
    is_int(tdx_match(info, tdx_input(5, 0, 1), &r, &err), KEEP_E_COLLATERAL_NO_MATCHING_TCB_LEVEL,
           "TDX byte 2 below every level");
    ok(strstr(err.message, "TEE_TCB_SVN") != NULL, "message names TEE_TCB_SVN");

    struct keep_tcb_input in = tdx_input(5, 0, 3);
    in.mrsignerseam[47] = 1;
    is_int(keep_tcb_match(info, &in, &r, &err), KEEP_E_COLLATERAL_TDX_MODULE_MRSIGNER,
           "MRSIGNERSEAM differs from tdxModule");
    in = tdx_input(4, 1, 3);
    in.mrsignerseam[0] = 1;
    is_int(keep_tcb_match(info, &in, &r, &err), KEEP_E_COLLATERAL_TDX_MODULE_MRSIGNER,
           "MRSIGNERSEAM differs from TDX_01");
    in = tdx_input(4, 1, 3);
    in.seam_attributes[3] = 0x80;
    is_int(keep_tcb_match(info, &in, &r, &err), KEEP_E_COLLATERAL_TDX_MODULE_ATTRIBUTES,
           "SEAMATTRIBUTES under mask differ");
    in = tdx_input(5, 0, 3);
    in.cpusvn_components[0] = 1;
    is_int(keep_tcb_match(info, &in, &r, &err), KEEP_E_COLLATERAL_NO_MATCHING_TCB_LEVEL,
           "SGX part below every level");
    in.tee = KEEP_TEE_SGX;
    is_int(keep_tcb_match(info, &in, &r, &err), KEEP_E_COLLATERAL_ID_MISMATCH,
           "SGX evidence against TDX TCB Info");
    keep_tcb_info_free(info);

    /* TDX level ConfigurationNeeded with module OutOfDate: OutOfDateConfigurationNeeded. */
    const struct keep_test_tcb_level cfg[] = {
        {{2, 2, 2, 2, 3, 1, 0, 5}, 13, {5, 0, 3}, "ConfigurationNeeded", NULL},
    };
    info = tdx_info(cfg, 1, "UpToDate");
    if (ok(info != NULL, "config table parses")) {
        is_int(tdx_match(info, tdx_input(2, 1, 3), &r, &err), KEEP_OK, "config + module old");
        is_int(r.status, KEEP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
               "ConfigurationNeeded with module OutOfDate");
        keep_tcb_result_free(&r);
    }
    keep_tcb_info_free(info);
    info = tdx_info(tdx_levels, 1, "Revoked");
    if (ok(info != NULL, "revoked-module table parses")) {
        is_int(tdx_match(info, tdx_input(4, 1, 3), &r, &err), KEEP_OK, "revoked module");
        is_int(r.status, KEEP_TCB_REVOKED, "module Revoked: Revoked");
        keep_tcb_result_free(&r);
    }
    keep_tcb_info_free(info);
}

static void test_platform_and_dates(void)
{
    struct keep_test_tcb_spec spec = sgx_spec(3);
    struct keep_tcb_info *info = parse_spec(&spec);
    struct keep_error err = {0};
    if (!ok(info != NULL, "parses"))
        return;
    struct keep_tcb_input in = sgx_input((const uint8_t[16]){0}, 0);
    is_int(keep_tcb_info_check_platform(info, &in, &err), KEEP_OK, "FMSPC and pceId equal");
    in.fmspc[5] = 1;
    is_int(keep_tcb_info_check_platform(info, &in, &err), KEEP_E_COLLATERAL_FMSPC_MISMATCH,
           "FMSPC mismatch");
    ok(strstr(err.message, "00a067110000") && strstr(err.message, "00a067110001"),
       "message names both FMSPCs: %s", err.message);
    in.fmspc[5] = 0;
    in.pceid[1] = 1;
    is_int(keep_tcb_info_check_platform(info, &in, &err), KEEP_E_COLLATERAL_PCEID_MISMATCH,
           "PCEID mismatch");
    in.pceid[1] = 0;
    in.tee = KEEP_TEE_TDX;
    is_int(keep_tcb_info_check_platform(info, &in, &err), KEEP_E_COLLATERAL_ID_MISMATCH,
           "TDX evidence against SGX TCB Info");

    int64_t issue = 0, next = 0;
    must_ok(keep_parse_time(ISSUE, &issue, NULL));
    must_ok(keep_parse_time(NEXT, &next, NULL));
    is_int(keep_tcb_info_check_fresh(info, issue, &err), KEEP_OK, "fresh at issueDate");
    is_int(keep_tcb_info_check_fresh(info, next, &err), KEEP_OK, "fresh at nextUpdate");
    is_int(keep_tcb_info_check_fresh(info, next + 1, &err), KEEP_E_COLLATERAL_STALE,
           "stale one second after nextUpdate");
    ok(strstr(err.message, "tcbInfo") && strstr(err.message, NEXT),
       "stale message names the item and nextUpdate: %s", err.message);
    is_int(keep_tcb_info_check_fresh(info, issue - 1, &err), KEEP_E_COLLATERAL_NOT_YET_VALID,
           "not yet valid before issueDate");
    json_t *sum = keep_tcb_info_summary(info);
    ok(sum && json_integer_value(json_object_get(sum, "tcb_evaluation_data_number")) == 17,
       "summary has tcbEvaluationDataNumber");
    is_str(json_string_value(json_object_get(sum, "next_update")), NEXT, "summary nextUpdate");
    json_decref(sum);
    keep_tcb_info_free(info);
}

/* Parse the SGX table after `edit` changed its JSON; expect code and path. */
static void expect_bad(void (*edit)(json_t *), int code, const char *path, const char *name)
{
    struct keep_test_tcb_spec spec = sgx_spec(3);
    char *body = keep_test_tcb_info_body(&spec);
    json_t *o = json_loads(body, 0, NULL);
    free(body);
    edit(o);
    body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    struct keep_tcb_info *info = NULL;
    struct keep_error err = {0};
    is_int(keep_tcb_info_parse_body(body, strlen(body), NULL, &info, &err), code, "%s", name);
    if (path)
        ok(strstr(err.message, path) != NULL, "%s: message names %s: %s", name, path, err.message);
    ok(info == NULL, "%s: nothing returned", name);
    free(body);
}

static json_t *level(json_t *o, size_t i)
{
    return json_array_get(json_object_get(o, "tcbLevels"), i);
}

static void pcesvn_string(json_t *o)
{
    json_object_set_new(json_object_get(level(o, 3), "tcb"), "pcesvn", json_string("13"));
}
static void pcesvn_real(json_t *o)
{
    json_object_set_new(json_object_get(level(o, 0), "tcb"), "pcesvn", json_real(13.0));
}
static void pcesvn_big(json_t *o)
{
    json_object_set_new(json_object_get(level(o, 0), "tcb"), "pcesvn", json_integer(65536));
}
static void svn_256(json_t *o)
{
    json_t *c =
        json_array_get(json_object_get(json_object_get(level(o, 2), "tcb"), "sgxtcbcomponents"), 4);
    json_object_set_new(c, "svn", json_integer(256));
}
static void fifteen_components(json_t *o)
{
    json_array_remove(json_object_get(json_object_get(level(o, 1), "tcb"), "sgxtcbcomponents"), 0);
}
static void fmspc_short(json_t *o)
{
    json_object_set_new(o, "fmspc", json_string("00A0671100"));
}
static void fmspc_not_hex(json_t *o)
{
    json_object_set_new(o, "fmspc", json_string("00A06711000G"));
}
static void status_unknown(json_t *o)
{
    json_object_set_new(level(o, 0), "tcbStatus", json_string("Fine"));
}
static void version_4(json_t *o)
{
    json_object_set_new(o, "version", json_integer(4));
}
static void id_other(json_t *o)
{
    json_object_set_new(o, "id", json_string("SEV"));
}
static void tcb_type_1(json_t *o)
{
    json_object_set_new(o, "tcbType", json_integer(1));
}
static void no_levels(json_t *o)
{
    json_object_del(o, "tcbLevels");
}
static void empty_levels(json_t *o)
{
    json_object_set_new(o, "tcbLevels", json_array());
}
static void bad_date(json_t *o)
{
    json_object_set_new(o, "nextUpdate", json_string("next month"));
}
static void advisory_number(json_t *o)
{
    json_array_append_new(json_object_get(level(o, 1), "advisoryIDs"), json_integer(5));
}
static void level_not_object(json_t *o)
{
    json_array_set_new(json_object_get(o, "tcbLevels"), 2, json_string("x"));
}

static void test_parse_errors(void)
{
    expect_bad(pcesvn_string, KEEP_E_COLLATERAL_JSON_TYPE, "tcbInfo.tcbLevels[3].tcb.pcesvn",
               "pcesvn is a string");
    expect_bad(pcesvn_real, KEEP_E_COLLATERAL_JSON_TYPE, "tcbInfo.tcbLevels[0].tcb.pcesvn",
               "pcesvn is a real");
    expect_bad(pcesvn_big, KEEP_E_COLLATERAL_JSON_TYPE, "0..65535", "pcesvn 65536");
    expect_bad(svn_256, KEEP_E_COLLATERAL_JSON_TYPE,
               "tcbInfo.tcbLevels[2].tcb.sgxtcbcomponents[4].svn", "svn 256");
    expect_bad(fifteen_components, KEEP_E_COLLATERAL_JSON_TYPE, "has 15 entries", "15 components");
    expect_bad(fmspc_short, KEEP_E_COLLATERAL_JSON_TYPE, "tcbInfo.fmspc has 10 hex digits",
               "short fmspc");
    expect_bad(fmspc_not_hex, KEEP_E_BAD_HEX, "tcbInfo.fmspc", "fmspc not hex");
    expect_bad(status_unknown, KEEP_E_COLLATERAL_TCB_STATUS_UNKNOWN,
               "tcbInfo.tcbLevels[0].tcbStatus", "unknown status");
    expect_bad(version_4, KEEP_E_COLLATERAL_VERSION_UNSUPPORTED, "is 4", "version 4");
    expect_bad(id_other, KEEP_E_COLLATERAL_ID_UNSUPPORTED, "SEV", "id SEV");
    expect_bad(tcb_type_1, KEEP_E_COLLATERAL_TCB_TYPE_UNSUPPORTED, "tcbInfo.tcbType is 1",
               "tcbType 1");
    expect_bad(no_levels, KEEP_E_COLLATERAL_JSON_MISSING, "tcbInfo.tcbLevels is missing",
               "no tcbLevels");
    expect_bad(empty_levels, KEEP_E_COLLATERAL_JSON_TYPE, "empty", "empty tcbLevels");
    expect_bad(bad_date, KEEP_E_COLLATERAL_JSON_TYPE, "tcbInfo.nextUpdate", "bad date");
    expect_bad(advisory_number, KEEP_E_COLLATERAL_JSON_TYPE, "tcbInfo.tcbLevels[1].advisoryIDs[1]",
               "advisory id is a number");
    expect_bad(level_not_object, KEEP_E_COLLATERAL_JSON_TYPE, "tcbInfo.tcbLevels[2]",
               "level is a string");

    struct keep_tcb_info *info = NULL;
    struct keep_error err = {0};
    const char *dup = "{\"version\":3,\"version\":2}";
    is_int(keep_tcb_info_parse_body(dup, strlen(dup), NULL, &info, &err), KEEP_E_BAD_JSON,
           "duplicate keys are rejected");
    const char *arr = "[1]";
    is_int(keep_tcb_info_parse_body(arr, strlen(arr), NULL, &info, &err),
           KEEP_E_COLLATERAL_JSON_TYPE, "an array is not a tcbInfo");
    is_int(keep_tcb_info_parse_body("", 0, NULL, &info, &err), KEEP_E_COLLATERAL_MISSING,
           "empty text");
    struct keep_test_tcb_spec spec = sgx_spec(3);
    char *body = keep_test_tcb_info_body(&spec);
    is_int(keep_tcb_info_parse_body(body, strlen(body), "abcd", &info, &err),
           KEEP_E_COLLATERAL_SIGNATURE_FORMAT, "short signature");
    free(body);
}

static void test_status_names(void)
{
    const char *names[] = {"UpToDate",
                           "SWHardeningNeeded",
                           "ConfigurationNeeded",
                           "ConfigurationAndSWHardeningNeeded",
                           "OutOfDate",
                           "OutOfDateConfigurationNeeded",
                           "Revoked"};
    for (size_t i = 0; i < KEEP_ARRAY_LEN(names); i++) {
        enum keep_tcb_status s;
        ok(keep_tcb_status_parse(names[i], &s, NULL) == KEEP_OK && s == (enum keep_tcb_status)i &&
               strcmp(keep_tcb_status_name(s), names[i]) == 0,
           "status %s round-trips", names[i]);
    }
    enum keep_tcb_status s;
    is_int(keep_tcb_status_parse("uptodate", &s, NULL), KEEP_E_COLLATERAL_TCB_STATUS_UNKNOWN,
           "status names are case-sensitive");
    /* QVL convergence with the QE's TCB status. */
    is_int(keep_tcb_converge_with_qe(KEEP_TCB_UP_TO_DATE, KEEP_TCB_OUT_OF_DATE),
           KEEP_TCB_OUT_OF_DATE, "UpToDate + QE OutOfDate");
    is_int(keep_tcb_converge_with_qe(KEEP_TCB_SW_HARDENING_NEEDED, KEEP_TCB_OUT_OF_DATE),
           KEEP_TCB_OUT_OF_DATE, "SWHardeningNeeded + QE OutOfDate");
    is_int(keep_tcb_converge_with_qe(KEEP_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
                                     KEEP_TCB_OUT_OF_DATE),
           KEEP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED, "ConfigurationAndSW + QE OutOfDate");
    is_int(keep_tcb_converge_with_qe(KEEP_TCB_UP_TO_DATE, KEEP_TCB_REVOKED), KEEP_TCB_REVOKED,
           "QE Revoked");
    is_int(keep_tcb_converge_with_qe(KEEP_TCB_CONFIGURATION_NEEDED, KEEP_TCB_UP_TO_DATE),
           KEEP_TCB_CONFIGURATION_NEEDED, "QE UpToDate keeps the platform status");
}

int main(void)
{
    test_sgx_statuses(3);
    test_sgx_statuses(2);
    test_order_is_the_signed_order();
    test_advisories_first_seen();
    test_tdx();
    test_platform_and_dates();
    test_parse_errors();
    test_status_names();
    return done_testing();
}
