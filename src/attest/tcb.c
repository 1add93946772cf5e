/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCB Info parsing and Intel's TCB level matching. See tcb.h for what each
 * function checks and the documents cited as [PCS] and [QVL].
 */
#include "attest/tcb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "attest/x509.h"
#include "common/util.h"

/* ---- Status names ---- */

static const char *const status_names[] = {
    [KEEP_TCB_UP_TO_DATE] = "UpToDate",
    [KEEP_TCB_SW_HARDENING_NEEDED] = "SWHardeningNeeded",
    [KEEP_TCB_CONFIGURATION_NEEDED] = "ConfigurationNeeded",
    [KEEP_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED] = "ConfigurationAndSWHardeningNeeded",
    [KEEP_TCB_OUT_OF_DATE] = "OutOfDate",
    [KEEP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED] = "OutOfDateConfigurationNeeded",
    [KEEP_TCB_REVOKED] = "Revoked",
};

const char *keep_tcb_status_name(enum keep_tcb_status status)
{
    if ((size_t)status < KEEP_ARRAY_LEN(status_names))
        return status_names[status];
    return "unknown";
}

int keep_tcb_status_parse(const char *text, enum keep_tcb_status *out, struct keep_error *err)
{
    for (size_t i = 0; i < KEEP_ARRAY_LEN(status_names); i++) {
        if (strcmp(text, status_names[i]) == 0) {
            *out = (enum keep_tcb_status)i;
            return KEEP_OK;
        }
    }
    return keep_fail(err, KEEP_E_COLLATERAL_TCB_STATUS_UNKNOWN,
                     "tcbStatus '%.40s' is not a status Intel defines", text);
}

/* ---- Parsing ([PCS] "TCB Info" schema) ---- */

/*
 * v3: tcb.sgxtcbcomponents / tcb.tdxtcbcomponents, 16 objects each with an
 * integer svn (0..255) and optional category and type strings.
 */
static int parse_components(json_t *tcb, const char *path, const char *key,
                            uint8_t out[KEEP_TCB_COMPONENTS], struct keep_error *err)
{
    json_t *arr, *c;
    char cpath[192];
    size_t i;
    uint64_t svn;
    const char *s;
    int rc = keep_coll_member(tcb, path, key, JSON_ARRAY, &arr, err);
    if (rc)
        return rc;
    if (json_array_size(arr) != KEEP_TCB_COMPONENTS)
        return keep_fail(err, KEEP_E_COLLATERAL_JSON_TYPE, "%s.%s has %zu entries; must have %d",
                         path, key, json_array_size(arr), KEEP_TCB_COMPONENTS);
    json_array_foreach(arr, i, c)
    {
        snprintf(cpath, sizeof(cpath), "%s.%s[%zu]", path, key, i);
        if (!json_is_object(c))
            return keep_fail(err, KEEP_E_COLLATERAL_JSON_TYPE, "%s is not an object", cpath);
        if ((rc = keep_coll_uint(c, cpath, "svn", 255, &svn, err)))
            return rc;
        if (json_object_get(c, "category") &&
            (rc = keep_coll_string(c, cpath, "category", &s, err)))
            return rc;
        if (json_object_get(c, "type") && (rc = keep_coll_string(c, cpath, "type", &s, err)))
            return rc;
        out[i] = (uint8_t)svn;
    }
    return KEEP_OK;
}

/* v2: tcb.sgxtcbcomp01svn .. sgxtcbcomp16svn. */
static int parse_v2_components(json_t *tcb, const char *path, uint8_t out[KEEP_TCB_COMPONENTS],
                               struct keep_error *err)
{
    char key[32];
    uint64_t svn;
    for (int i = 0; i < KEEP_TCB_COMPONENTS; i++) {
        snprintf(key, sizeof(key), "sgxtcbcomp%02dsvn", i + 1);
        int rc = keep_coll_uint(tcb, path, key, 255, &svn, err);
        if (rc)
            return rc;
        out[i] = (uint8_t)svn;
    }
    return KEEP_OK;
}

static int parse_level(const struct keep_tcb_info *info, json_t *lv, const char *path,
                       struct keep_tcb_level *out, struct keep_error *err)
{
    json_t *tcb;
    char tpath[160];
    uint64_t pcesvn;
    int rc;
    if ((rc = keep_coll_level_tcb(lv, path, &tcb, tpath, sizeof(tpath), err)))
        return rc;
    if (info->version == 2)
        rc = parse_v2_components(tcb, tpath, out->sgx_svn, err);
    else
        rc = parse_components(tcb, tpath, "sgxtcbcomponents", out->sgx_svn, err);
    if (rc || (rc = keep_coll_uint(tcb, tpath, "pcesvn", UINT16_MAX, &pcesvn, err)))
        return rc;
    out->pcesvn = (uint16_t)pcesvn;
    /* [PCS] tdxtcbcomponents: present in TDX TCB Info only. */
    if (info->id == KEEP_TEE_TDX) {
        if ((rc = parse_components(tcb, tpath, "tdxtcbcomponents", out->tdx_svn, err)))
            return rc;
        out->has_tdx = true;
    }
    return keep_coll_level_status(lv, path, &out->tcb_date, &out->status, &out->advisory_ids,
                                  &out->advisory_count, err);
}

static int parse_levels(struct keep_tcb_info *info, json_t *body, struct keep_error *err)
{
    json_t *arr, *lv;
    char path[64];
    size_t i;
    int rc = keep_coll_levels_array(body, "tcbInfo", &arr, err);
    if (rc)
        return rc;
    info->levels = calloc(json_array_size(arr), sizeof(*info->levels));
    if (!info->levels)
        return keep_fail(err, KEEP_E_NOMEM, "tcbInfo.tcbLevels: out of memory");
    json_array_foreach(arr, i, lv)
    {
        snprintf(path, sizeof(path), "tcbInfo.tcbLevels[%zu]", i);
        info->level_count = i + 1; /* so that free releases what this level allocates */
        if ((rc = parse_level(info, lv, path, &info->levels[i], err)))
            return rc;
    }
    return KEEP_OK;
}

/* tdxModule and tdxModuleIdentities[] share mrsigner, attributes and attributesMask. */
static int parse_module_fields(json_t *obj, const char *path, uint8_t mrsigner[48],
                               uint8_t attributes[8], uint8_t mask[8], struct keep_error *err)
{
    int rc;
    if ((rc = keep_coll_hex(obj, path, "mrsigner", mrsigner, 48, err)) ||
        (rc = keep_coll_hex(obj, path, "attributes", attributes, 8, err)) ||
        (rc = keep_coll_hex(obj, path, "attributesMask", mask, 8, err)))
        return rc;
    return KEEP_OK;
}

static int parse_module_level(json_t *lv, const char *path, struct keep_tdx_module_level *out,
                              struct keep_error *err)
{
    json_t *tcb;
    char tpath[192];
    uint64_t isvsvn;
    int rc;
    if ((rc = keep_coll_level_tcb(lv, path, &tcb, tpath, sizeof(tpath), err)) ||
        (rc = keep_coll_uint(tcb, tpath, "isvsvn", 255, &isvsvn, err)) ||
        (rc = keep_coll_level_status(lv, path, &out->tcb_date, &out->status, &out->advisory_ids,
                                     &out->advisory_count, err)))
        return rc;
    out->isvsvn = (uint8_t)isvsvn;
    return KEEP_OK;
}

static int parse_module_identity(json_t *obj, const char *path,
                                 struct keep_tdx_module_identity *out, struct keep_error *err)
{
    json_t *arr, *lv;
    char lpath[160];
    size_t i;
    int rc;
    if (!json_is_object(obj))
        return keep_fail(err, KEEP_E_COLLATERAL_JSON_TYPE, "%s is not an object", path);
    if ((rc = keep_coll_string(obj, path, "id", &out->id, err)) ||
        (rc = parse_module_fields(obj, path, out->mrsigner, out->attributes, out->attributes_mask,
                                  err)) ||
        (rc = keep_coll_levels_array(obj, path, &arr, err)))
        return rc;
    out->levels = calloc(json_array_size(arr), sizeof(*out->levels));
    if (!out->levels)
        return keep_fail(err, KEEP_E_NOMEM, "%s.tcbLevels: out of memory", path);
    json_array_foreach(arr, i, lv)
    {
        snprintf(lpath, sizeof(lpath), "%s.tcbLevels[%zu]", path, i);
        out->level_count = i + 1;
        if ((rc = parse_module_level(lv, lpath, &out->levels[i], err)))
            return rc;
    }
    return KEEP_OK;
}

static int parse_tdx_module(struct keep_tcb_info *info, json_t *body, struct keep_error *err)
{
    json_t *mod, *arr, *id;
    char path[64];
    size_t i;
    /* [PCS] TDX TCB Info v3: tdxModule is required, tdxModuleIdentities optional. */
    int rc = keep_coll_member(body, "tcbInfo", "tdxModule", JSON_OBJECT, &mod, err);
    if (rc || (rc = parse_module_fields(mod, "tcbInfo.tdxModule", info->tdx_module_mrsigner,
                                        info->tdx_module_attributes,
                                        info->tdx_module_attributes_mask, err)))
        return rc;
    info->has_tdx_module = true;
    if (!json_object_get(body, "tdxModuleIdentities"))
        return KEEP_OK;
    if ((rc = keep_coll_member(body, "tcbInfo", "tdxModuleIdentities", JSON_ARRAY, &arr, err)))
        return rc;
    if (json_array_size(arr) == 0)
        return KEEP_OK;
    info->module_identities = calloc(json_array_size(arr), sizeof(*info->module_identities));
    if (!info->module_identities)
        return keep_fail(err, KEEP_E_NOMEM, "tcbInfo.tdxModuleIdentities: out of memory");
    json_array_foreach(arr, i, id)
    {
        snprintf(path, sizeof(path), "tcbInfo.tdxModuleIdentities[%zu]", i);
        info->module_identity_count = i + 1;
        if ((rc = parse_module_identity(id, path, &info->module_identities[i], err)))
            return rc;
    }
    return KEEP_OK;
}

/* version and id decide which schema the rest follows. */
static int parse_id_version(struct keep_tcb_info *info, json_t *body, struct keep_error *err)
{
    uint64_t version;
    const char *id;
    int rc = keep_coll_uint(body, "tcbInfo", "version", UINT32_MAX, &version, err);
    if (rc)
        return rc;
    if (version != 2 && version != 3)
        return keep_fail(err, KEEP_E_COLLATERAL_VERSION_UNSUPPORTED,
                         "tcbInfo.version is %llu; versions 2 and 3 are supported",
                         (unsigned long long)version);
    info->version = (unsigned)version;
    info->id = KEEP_TEE_SGX;
    /* [PCS] v2 (SGX only) has no id; v3 has "SGX" or "TDX". */
    if (version == 2 && !json_object_get(body, "id"))
        return KEEP_OK;
    if ((rc = keep_coll_string(body, "tcbInfo", "id", &id, err)))
        return rc;
    if (strcmp(id, "TDX") == 0 && version == 3)
        info->id = KEEP_TEE_TDX;
    else if (strcmp(id, "SGX") != 0)
        return keep_fail(err, KEEP_E_COLLATERAL_ID_UNSUPPORTED,
                         "tcbInfo.id is '%.32s' in version %u; must be \"SGX\"%s", id,
                         info->version, version == 3 ? " or \"TDX\"" : "");
    return KEEP_OK;
}

static int parse_body(struct keep_tcb_info *info, json_t *body, struct keep_error *err)
{
    uint64_t n;
    int rc;
    if ((rc = parse_id_version(info, body, err)) ||
        (rc = keep_coll_time(body, "tcbInfo", "issueDate", &info->issue_date, err)) ||
        (rc = keep_coll_time(body, "tcbInfo", "nextUpdate", &info->next_update, err)) ||
        (rc = keep_coll_hex(body, "tcbInfo", "fmspc", info->fmspc, 6, err)) ||
        (rc = keep_coll_hex(body, "tcbInfo", "pceId", info->pce_id, 2, err)) ||
        (rc = keep_coll_uint(body, "tcbInfo", "tcbType", UINT32_MAX, &n, err)))
        return rc;
    info->tcb_type = (unsigned)n;
    /* [PCS] tcbType 0: each SVN compared on its own; no other type is defined. */
    if (info->tcb_type != 0)
        return keep_fail(err, KEEP_E_COLLATERAL_TCB_TYPE_UNSUPPORTED,
                         "tcbInfo.tcbType is %u; only 0 (component-wise comparison) is defined",
                         info->tcb_type);
    if ((rc = keep_coll_uint(body, "tcbInfo", "tcbEvaluationDataNumber", UINT32_MAX, &n, err)))
        return rc;
    info->tcb_evaluation_data_number = (uint32_t)n;
    if (info->id == KEEP_TEE_TDX && (rc = parse_tdx_module(info, body, err)))
        return rc;
    return parse_levels(info, body, err);
}

int keep_tcb_info_parse_body(const char *body, size_t body_size, const char *signature_hex,
                             struct keep_tcb_info **out, struct keep_error *err)
{
    struct keep_tcb_info *info = calloc(1, sizeof(*info));
    if (!info)
        return keep_fail(err, KEEP_E_NOMEM, "tcbInfo: out of memory");
    int rc = keep_intel_doc_parse_body(&info->doc, "tcbInfo", "tcb_info_signature", body, body_size,
                                       signature_hex, err);
    if (!rc)
        rc = parse_body(info, info->doc.json, err);
    if (rc) {
        keep_tcb_info_free(info);
        return rc;
    }
    *out = info;
    return KEEP_OK;
}

int keep_tcb_info_parse(const char *text, size_t size, struct keep_tcb_info **out,
                        struct keep_error *err)
{
    json_t *root;
    const char *sig;
    size_t off, len;
    int rc =
        keep_coll_split_file(text, size, "tcb_info.json", "tcbInfo", &root, &off, &len, &sig, err);
    if (!rc)
        rc = keep_tcb_info_parse_body(text + off, len, sig, out, err);
    json_decref(root);
    return rc;
}

int keep_tcb_info_set_issuer_chain(struct keep_tcb_info *info, const uint8_t *data, size_t size,
                                   struct keep_error *err)
{
    return keep_intel_doc_set_issuer_chain(&info->doc, "tcb_info_issuer_chain", data, size, err);
}

void keep_tcb_info_free(struct keep_tcb_info *info)
{
    if (!info)
        return;
    for (size_t i = 0; i < info->level_count; i++)
        free(info->levels[i].advisory_ids);
    free(info->levels);
    for (size_t i = 0; i < info->module_identity_count; i++) {
        struct keep_tdx_module_identity *m = &info->module_identities[i];
        for (size_t j = 0; j < m->level_count; j++)
            free(m->levels[j].advisory_ids);
        free(m->levels);
    }
    free(info->module_identities);
    keep_intel_doc_clear(&info->doc);
    free(info);
}

/* ---- tcbStatus (shared with QE Identity) ---- */

int keep_coll_status(json_t *obj, const char *path, const char *key, enum keep_tcb_status *out,
                     struct keep_error *err)
{
    const char *text;
    int rc = keep_coll_string(obj, path, key, &text, err);
    if (rc)
        return rc;
    if (keep_tcb_status_parse(text, out, NULL) != KEEP_OK)
        return keep_fail(err, KEEP_E_COLLATERAL_TCB_STATUS_UNKNOWN,
                         "%s.%s is '%.40s'; not a status Intel defines", path, key, text);
    return KEEP_OK;
}

int keep_coll_level_status(json_t *lv, const char *path, int64_t *tcb_date,
                           enum keep_tcb_status *status, const char ***advisory_ids,
                           size_t *advisory_count, struct keep_error *err)
{
    int rc;
    if ((rc = keep_coll_time(lv, path, "tcbDate", tcb_date, err)) ||
        (rc = keep_coll_status(lv, path, "tcbStatus", status, err)) ||
        (rc = keep_coll_advisories(lv, path, advisory_ids, advisory_count, err)))
        return rc;
    return KEEP_OK;
}

/* ---- Verification ---- */

int keep_tcb_info_check_fresh(const struct keep_tcb_info *info, int64_t time,
                              struct keep_error *err)
{
    return keep_coll_check_dates("tcbInfo", info->issue_date, info->next_update, time, err);
}

int keep_tcb_info_verify(const struct keep_tcb_info *info, STACK_OF(X509) * roots,
                         X509_CRL *root_ca_crl, int64_t time, struct keep_error *err)
{
    int rc = keep_intel_doc_verify(&info->doc, roots, root_ca_crl, time, err);
    if (rc)
        return rc;
    return keep_tcb_info_check_fresh(info, time, err);
}

static const char *tee_name(enum keep_tee_type tee)
{
    return tee == KEEP_TEE_TDX ? "TDX" : "SGX";
}

int keep_tcb_info_check_platform(const struct keep_tcb_info *info,
                                 const struct keep_tcb_input *input, struct keep_error *err)
{
    char a[16], b[16];
    /* [QVL] a TDX quote is graded by TDX TCB Info v3 only, an SGX quote by SGX TCB Info. */
    if (info->id != input->tee)
        return keep_fail(err, KEEP_E_COLLATERAL_ID_MISMATCH,
                         "tcbInfo.id is \"%s\" but the evidence is %s", tee_name(info->id),
                         tee_name(input->tee));
    /* [PCS] TCB Info is per FMSPC and PCE: both must be the PCK certificate's. */
    if (memcmp(info->fmspc, input->fmspc, 6) != 0) {
        keep_hex_encode(info->fmspc, 6, a);
        keep_hex_encode(input->fmspc, 6, b);
        return keep_fail(err, KEEP_E_COLLATERAL_FMSPC_MISMATCH,
                         "tcbInfo.fmspc is %s but the PCK certificate's FMSPC is %s", a, b);
    }
    if (memcmp(info->pce_id, input->pceid, 2) != 0) {
        keep_hex_encode(info->pce_id, 2, a);
        keep_hex_encode(input->pceid, 2, b);
        return keep_fail(err, KEEP_E_COLLATERAL_PCEID_MISMATCH,
                         "tcbInfo.pceId is %s but the PCK certificate's PCE-ID is %s", a, b);
    }
    return KEEP_OK;
}

/* ---- Matching ---- */

/* [QVL] isCpuSvnHigherOrEqual: EVERY component at or above the level's. */
static bool sgx_at_or_above(const struct keep_tcb_level *lv, const struct keep_tcb_input *in)
{
    for (int i = 0; i < KEEP_TCB_COMPONENTS; i++) {
        if (in->cpusvn_components[i] < lv->sgx_svn[i])
            return false;
    }
    return in->pcesvn >= lv->pcesvn;
}

/*
 * [QVL] isTdxTcbHigherOrEqual: TEE_TCB_SVN against tdxtcbcomponents. When
 * TEE_TCB_SVN[1] (the TDX module major version) is not 0, bytes 0 and 1
 * are the module's SVN and major version, which the module identity grades
 * instead, so the comparison starts at byte 2.
 */
static bool tdx_at_or_above(const struct keep_tcb_level *lv, const struct keep_tcb_input *in)
{
    int first = in->tee_tcb_svn[1] > 0 ? 2 : 0;
    for (int i = first; i < KEEP_TCB_COMPONENTS; i++) {
        if (in->tee_tcb_svn[i] < lv->tdx_svn[i])
            return false;
    }
    return true;
}

static int add_advisories(struct keep_tcb_result *r, const char **ids, size_t count,
                          struct keep_error *err)
{
    for (size_t i = 0; i < count; i++) {
        bool seen = false;
        for (size_t j = 0; j < r->advisory_count && !seen; j++)
            seen = strcmp(r->advisory_ids[j], ids[i]) == 0;
        if (seen)
            continue;
        char **grown = realloc(r->advisory_ids, (r->advisory_count + 1) * sizeof(*grown));
        if (!grown)
            return keep_fail(err, KEEP_E_NOMEM, "advisory IDs: out of memory");
        r->advisory_ids = grown;
        if (!(r->advisory_ids[r->advisory_count] = strdup(ids[i])))
            return keep_fail(err, KEEP_E_NOMEM, "advisory IDs: out of memory");
        r->advisory_count++;
    }
    return KEEP_OK;
}

static void format_svns(const uint8_t svn[KEEP_TCB_COMPONENTS], char *out)
{
    keep_hex_encode(svn, KEEP_TCB_COMPONENTS, out);
}

static int no_level(const struct keep_tcb_info *info, const struct keep_tcb_input *in,
                    bool sgx_found, struct keep_error *err)
{
    char cpu[33], tee[33];
    format_svns(in->cpusvn_components, cpu);
    if (!sgx_found)
        return keep_fail(err, KEEP_E_COLLATERAL_NO_MATCHING_TCB_LEVEL,
                         "no tcbInfo.tcbLevels entry (of %zu) is at or below CPUSVN components "
                         "%s with PCESVN %u",
                         info->level_count, cpu, in->pcesvn);
    format_svns(in->tee_tcb_svn, tee);
    return keep_fail(err, KEEP_E_COLLATERAL_NO_MATCHING_TCB_LEVEL,
                     "no tcbInfo.tcbLevels entry (of %zu) is at or below CPUSVN components %s "
                     "with PCESVN %u and TEE_TCB_SVN %s",
                     info->level_count, cpu, in->pcesvn, tee);
}

/*
 * [QVL] checkTdxModuleTcbStatus: with module major version v > 0 the
 * identity "TDX_<v as 2 hex digits>" grades the module ISVSVN
 * (TEE_TCB_SVN[0]) by its own tcbLevels and supplies the expected
 * mrsigner/attributes; with v == 0 tdxModule supplies them and there is no
 * module status.
 */
static int find_module_identity(const struct keep_tcb_info *info, uint8_t major,
                                const struct keep_tdx_module_identity **out, struct keep_error *err)
{
    char want[16];
    snprintf(want, sizeof(want), "TDX_%02X", major);
    for (size_t i = 0; i < info->module_identity_count; i++) {
        if (strcasecmp(info->module_identities[i].id, want) == 0) {
            *out = &info->module_identities[i];
            return KEEP_OK;
        }
    }
    return keep_fail(err, KEEP_E_COLLATERAL_TDX_MODULE_IDENTITY_MISSING,
                     "TEE_TCB_SVN[1] says TDX module major version %u but "
                     "tcbInfo.tdxModuleIdentities (%zu entries) has no \"%s\"",
                     major, info->module_identity_count, want);
}

/* MRSIGNERSEAM equal, SEAMATTRIBUTES under the mask equal ([QVL] TdxModuleCheck). */
static int check_module_signer(const char *what, const uint8_t mrsigner[48],
                               const uint8_t attributes[8], const uint8_t mask[8],
                               const struct keep_tcb_input *in, struct keep_error *err)
{
    char a[97], b[97];
    if (memcmp(in->mrsignerseam, mrsigner, 48) != 0) {
        keep_hex_encode(in->mrsignerseam, 48, a);
        keep_hex_encode(mrsigner, 48, b);
        return keep_fail(err, KEEP_E_COLLATERAL_TDX_MODULE_MRSIGNER,
                         "MRSIGNERSEAM is %s but %s.mrsigner is %s", a, what, b);
    }
    for (int i = 0; i < 8; i++) {
        if ((in->seam_attributes[i] & mask[i]) != attributes[i]) {
            keep_hex_encode(in->seam_attributes, 8, a);
            keep_hex_encode(attributes, 8, b);
            return keep_fail(err, KEEP_E_COLLATERAL_TDX_MODULE_ATTRIBUTES,
                             "SEAMATTRIBUTES %s under %s.attributesMask differ from %s.attributes "
                             "%s (byte %d)",
                             a, what, what, b, i);
        }
    }
    return KEEP_OK;
}

static int match_module(const struct keep_tcb_info *info, const struct keep_tcb_input *in,
                        struct keep_tcb_result *r, struct keep_error *err)
{
    const struct keep_tdx_module_identity *id = NULL;
    uint8_t major = in->tee_tcb_svn[1], isvsvn = in->tee_tcb_svn[0];
    char what[64];
    int rc;
    if (major == 0)
        return check_module_signer("tcbInfo.tdxModule", info->tdx_module_mrsigner,
                                   info->tdx_module_attributes, info->tdx_module_attributes_mask,
                                   in, err);
    if ((rc = find_module_identity(info, major, &id, err)))
        return rc;
    snprintf(what, sizeof(what), "tcbInfo.tdxModuleIdentities[%s]", id->id);
    if ((rc =
             check_module_signer(what, id->mrsigner, id->attributes, id->attributes_mask, in, err)))
        return rc;
    for (size_t i = 0; i < id->level_count; i++) {
        if (isvsvn >= id->levels[i].isvsvn) {
            r->has_module_status = true;
            r->module_status = id->levels[i].status;
            r->module_identity_id = id->id;
            return add_advisories(r, id->levels[i].advisory_ids, id->levels[i].advisory_count, err);
        }
    }
    return keep_fail(err, KEEP_E_COLLATERAL_NO_MATCHING_TDX_MODULE_LEVEL,
                     "TDX module ISVSVN (TEE_TCB_SVN[0]) is %u, below every level of %s "
                     "(lowest isvsvn %u)",
                     isvsvn, what, id->levels[id->level_count - 1].isvsvn);
}

/* [QVL] convergeTcbStatusWithTdxModuleStatus. */
static enum keep_tcb_status converge_module(enum keep_tcb_status tdx, enum keep_tcb_status module)
{
    if (module == KEEP_TCB_REVOKED)
        return KEEP_TCB_REVOKED;
    if (module == KEEP_TCB_OUT_OF_DATE) {
        if (tdx == KEEP_TCB_UP_TO_DATE || tdx == KEEP_TCB_SW_HARDENING_NEEDED)
            return KEEP_TCB_OUT_OF_DATE;
        if (tdx == KEEP_TCB_CONFIGURATION_NEEDED ||
            tdx == KEEP_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
            return KEEP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
    }
    return tdx;
}

enum keep_tcb_status keep_tcb_converge_with_qe(enum keep_tcb_status platform,
                                               enum keep_tcb_status qe)
{
    /* [QVL] convergeTcbStatusWithQeTcbStatus. */
    if (qe == KEEP_TCB_OUT_OF_DATE) {
        if (platform == KEEP_TCB_UP_TO_DATE || platform == KEEP_TCB_SW_HARDENING_NEEDED)
            return KEEP_TCB_OUT_OF_DATE;
        if (platform == KEEP_TCB_CONFIGURATION_NEEDED ||
            platform == KEEP_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
            return KEEP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
    }
    if (qe == KEEP_TCB_REVOKED)
        return KEEP_TCB_REVOKED;
    return platform;
}

static int match_levels(const struct keep_tcb_info *info, const struct keep_tcb_input *in, bool tdx,
                        struct keep_tcb_result *r, struct keep_error *err)
{
    bool sgx_found = false;
    for (size_t i = 0; i < info->level_count; i++) {
        const struct keep_tcb_level *lv = &info->levels[i];
        if (!sgx_at_or_above(lv, in))
            continue;
        if (!sgx_found) {
            sgx_found = true;
            r->sgx_status = lv->status;
            r->sgx_level_index = i;
            if (!tdx) {
                r->status = lv->status;
                r->tcb_date = lv->tcb_date;
                return add_advisories(r, lv->advisory_ids, lv->advisory_count, err);
            }
        }
        /* [QVL] matchTcbLevels: the TDX level is the first that matches both. */
        if (tdx_at_or_above(lv, in)) {
            r->tdx_status = lv->status;
            r->tdx_level_index = i;
            r->tcb_date = lv->tcb_date;
            return add_advisories(r, lv->advisory_ids, lv->advisory_count, err);
        }
    }
    return no_level(info, in, sgx_found, err);
}

int keep_tcb_match(const struct keep_tcb_info *info, const struct keep_tcb_input *input,
                   struct keep_tcb_result *result, struct keep_error *err)
{
    memset(result, 0, sizeof(*result));
    if (info->id != input->tee)
        return keep_fail(err, KEEP_E_COLLATERAL_ID_MISMATCH,
                         "tcbInfo.id is \"%s\" but the evidence is %s", tee_name(info->id),
                         tee_name(input->tee));
    bool tdx = info->id == KEEP_TEE_TDX;
    result->tdx = tdx;
    int rc = match_levels(info, input, tdx, result, err);
    if (!rc && tdx) {
        rc = match_module(info, input, result, err);
        result->status = result->has_module_status
                             ? converge_module(result->tdx_status, result->module_status)
                             : result->tdx_status;
    }
    if (rc)
        keep_tcb_result_free(result);
    return rc;
}

void keep_tcb_result_free(struct keep_tcb_result *result)
{
    if (!result)
        return;
    for (size_t i = 0; i < result->advisory_count; i++)
        free(result->advisory_ids[i]);
    free(result->advisory_ids);
    result->advisory_ids = NULL;
    result->advisory_count = 0;
}

json_t *keep_tcb_info_summary(const struct keep_tcb_info *info)
{
    char fmspc[13], pceid[5], issue[32], next[32];
    keep_hex_encode(info->fmspc, 6, fmspc);
    keep_hex_encode(info->pce_id, 2, pceid);
    keep_format_time(info->issue_date, issue, sizeof(issue));
    keep_format_time(info->next_update, next, sizeof(next));
    return json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:b}", "id",
                     tee_name(info->id), "version", (json_int_t)info->version, "fmspc", fmspc,
                     "pce_id", pceid, "issue_date", issue, "next_update", next,
                     "tcb_evaluation_data_number", (json_int_t)info->tcb_evaluation_data_number,
                     "tcb_type", (json_int_t)info->tcb_type, "tcb_levels",
                     (json_int_t)info->level_count, "signed", info->doc.has_signature,
                     "issuer_chain", info->doc.issuer_chain != NULL);
}
