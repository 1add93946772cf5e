/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep attest verify|show: the command-line face of libkeep-attest.
 *
 * Exit status (docs/ATTESTATION.md, "Exit codes"):
 *   0   the evidence is genuine and the policy accepts it
 *   1   the evidence is genuine but the policy rejects it
 *   2   the evidence is not genuine or cannot be verified (bad signature or
 *       chain, expired, revoked, stale or inconsistent collateral,
 *       unparseable, unreadable)
 *   64  the command line is wrong (unknown option, missing argument, a
 *       policy or time that does not parse)
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/util.h"
#include "keep/attest.h"

#define EXIT_ACCEPT  0
#define EXIT_REJECT  1
#define EXIT_INVALID 2

/* Evidence, certificates and collateral are a few KiB; refuse anything huge. */
#define MAX_INPUT_SIZE (16u << 20)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: keep attest verify [options] EVIDENCE\n"
            "       keep attest show [--format FORMAT] EVIDENCE\n"
            "\n"
            "verify checks that EVIDENCE (an SEV-SNP report or an SGX/TDX quote) is genuine,\n"
            "then applies the policy. Exit status: 0 accepted, 1 rejected by the policy,\n"
            "2 not genuine or not verifiable, 64 usage error.\n"
            "\n"
            "options of verify:\n"
            "  --format auto|snp|sgx|tdx|kvm  evidence format (default auto)\n"
            "  --vcek FILE                 SEV-SNP: the VCEK or VLEK certificate (DER or PEM)\n"
            "  --cert-chain FILE           SEV-SNP: VCEK/VLEK, then ASK/ASVK and ARK (PEM bundle)\n"
            "  --amd-crl FILE              SEV-SNP: the ARK's CRL (DER or PEM)\n"
            "  --collateral FILE           SGX/TDX: collateral.json (all items in one file)\n"
            "  --tcb-info FILE             SGX/TDX: tcb_info.json as Intel PCS serves it\n"
            "  --qe-identity FILE          SGX/TDX: qe_identity.json\n"
            "  --tcb-signing-chain FILE    SGX/TDX: issuer chain of the TCB Info and QE Identity\n"
            "  --pck-crl FILE              SGX/TDX: the PCK CA's CRL (DER, PEM or hex)\n"
            "  --pck-crl-issuer-chain FILE SGX/TDX: the PCK CRL's issuer chain (PEM)\n"
            "  --root-crl FILE             SGX/TDX: the Intel SGX Root CA CRL\n"
            "  --roots DIR                 trust anchors (default: the shipped data/roots)\n"
            "  --time RFC3339              verification time (default: now)\n"
            "  --policy FILE               appraisal policy, JSON (default: the default policy)\n"
            "  --json                      print the whole result as one JSON object\n"
            "\n"
            "show parses EVIDENCE and prints its claims as JSON, verifying nothing.\n");
}

static int usage_error(const char *fmt, ...) KEEP_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "keep attest: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'keep attest --help')\n");
    return KEEP_EXIT_USAGE;
}

/* Files named on the command line, read once. */
struct file_opt {
    const char *name; /* "--vcek" */
    const char *path;
    uint8_t *data;
    size_t size;
};

enum {
    OPT_VCEK,
    OPT_CERT_CHAIN,
    OPT_AMD_CRL,
    OPT_COLLATERAL,
    OPT_TCB_INFO,
    OPT_QE_IDENTITY,
    OPT_TCB_SIGNING_CHAIN,
    OPT_PCK_CRL,
    OPT_PCK_CRL_ISSUER_CHAIN,
    OPT_ROOT_CRL,
    OPT_POLICY,
    OPT_FILE_COUNT,
};

struct verify_args {
    struct file_opt files[OPT_FILE_COUNT];
    const char *format;
    const char *roots;
    const char *time;
    const char *evidence;
    bool json;
};

static void args_init(struct verify_args *a)
{
    static const char *const names[OPT_FILE_COUNT] = {
        [OPT_VCEK] = "--vcek",
        [OPT_CERT_CHAIN] = "--cert-chain",
        [OPT_AMD_CRL] = "--amd-crl",
        [OPT_COLLATERAL] = "--collateral",
        [OPT_TCB_INFO] = "--tcb-info",
        [OPT_QE_IDENTITY] = "--qe-identity",
        [OPT_TCB_SIGNING_CHAIN] = "--tcb-signing-chain",
        [OPT_PCK_CRL] = "--pck-crl",
        [OPT_PCK_CRL_ISSUER_CHAIN] = "--pck-crl-issuer-chain",
        [OPT_ROOT_CRL] = "--root-crl",
        [OPT_POLICY] = "--policy",
    };
    memset(a, 0, sizeof(*a));
    for (size_t i = 0; i < OPT_FILE_COUNT; i++)
        a->files[i].name = names[i];
}

static void args_free(struct verify_args *a)
{
    for (size_t i = 0; i < OPT_FILE_COUNT; i++)
        free(a->files[i].data);
}

/* "--opt VALUE" or "--opt=VALUE"; *i advances past what was used. NULL when missing. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t len = strlen(name);
    if (argv[*i][len] == '=')
        return argv[*i] + len + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static bool option_is(const char *arg, const char *name)
{
    size_t len = strlen(name);
    return strncmp(arg, name, len) == 0 && (arg[len] == '\0' || arg[len] == '=');
}

static int parse_verify_args(int argc, char **argv, struct verify_args *a)
{
    const char **strings[] = {&a->format, &a->roots, &a->time};
    static const char *const string_names[] = {"--format", "--roots", "--time"};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool matched = false;
        if (strcmp(arg, "--json") == 0) {
            a->json = true;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            if (i + 2 != argc || a->evidence)
                return usage_error("%s", "verify takes exactly one EVIDENCE file");
            a->evidence = argv[i + 1];
            break;
        }
        for (size_t k = 0; k < OPT_FILE_COUNT && !matched; k++) {
            if (!option_is(arg, a->files[k].name))
                continue;
            matched = true;
            if (a->files[k].path)
                return usage_error("%s is given twice", a->files[k].name);
            a->files[k].path = option_value(argc, argv, &i, a->files[k].name);
            if (!a->files[k].path || !*a->files[k].path)
                return usage_error("%s needs a FILE", a->files[k].name);
        }
        for (size_t k = 0; k < KEEP_ARRAY_LEN(strings) && !matched; k++) {
            if (!option_is(arg, string_names[k]))
                continue;
            matched = true;
            if (*strings[k])
                return usage_error("%s is given twice", string_names[k]);
            *strings[k] = option_value(argc, argv, &i, string_names[k]);
            if (!*strings[k] || !**strings[k])
                return usage_error("%s needs a value", string_names[k]);
        }
        if (matched)
            continue;
        if (arg[0] == '-' && arg[1] != '\0')
            return usage_error("unknown option '%s'", arg);
        if (a->evidence)
            return usage_error("unexpected argument '%s': verify takes one EVIDENCE file", arg);
        a->evidence = arg;
    }
    if (!a->evidence)
        return usage_error("%s", "verify needs an EVIDENCE file");
    if (a->files[OPT_VCEK].path && a->files[OPT_CERT_CHAIN].path)
        return usage_error("%s", "give --vcek or --cert-chain, not both");
    bool separate = false;
    for (size_t k = OPT_TCB_INFO; k <= OPT_ROOT_CRL; k++)
        separate |= a->files[k].path != NULL;
    if (a->files[OPT_COLLATERAL].path && separate)
        return usage_error("%s", "give --collateral or the separate collateral files, not both");
    return 0;
}

static int read_inputs(struct verify_args *a)
{
    struct keep_error err;
    for (size_t k = 0; k < OPT_FILE_COUNT; k++) {
        struct file_opt *f = &a->files[k];
        if (!f->path)
            continue;
        if (keep_read_file(f->path, MAX_INPUT_SIZE, &f->data, &f->size, &err)) {
            fprintf(stderr, "keep attest: %s %s: %s\n", f->name, f->path, err.message);
            /* An unreadable policy is a command-line error; unreadable evidence inputs
             * mean the evidence cannot be verified. */
            return k == OPT_POLICY ? KEEP_EXIT_USAGE : EXIT_INVALID;
        }
    }
    return 0;
}

static struct keep_attest_blob blob(const struct file_opt *f)
{
    return (struct keep_attest_blob){.data = f->data, .size = f->size};
}

/* Short human summary: verdict, TEE, measurement, debug, TCB, each error. */
static void print_summary(const struct keep_attest_result *r)
{
    enum keep_attest_tee tee = keep_attest_result_tee(r);
    printf("verdict: %s\n", keep_attest_verdict_name(keep_attest_result_verdict(r)));
    printf("tee: %s\n", keep_attest_tee_name(tee));
    const char *claims_text = keep_attest_result_claims(r);
    json_t *claims = claims_text ? json_loads(claims_text, 0, NULL) : NULL;
    if (claims && tee == KEEP_ATTEST_TEE_SNP) {
        json_t *tcb = json_object_get(claims, "reported_tcb");
        printf("measurement: %s\n", json_string_value(json_object_get(claims, "measurement")));
        printf("debug: %s\n",
               json_is_true(json_object_get(json_object_get(claims, "policy"), "debug")) ? "yes"
                                                                                         : "no");
        printf("tcb: bootloader %lld, tee %lld, snp %lld, microcode %lld\n",
               json_integer_value(json_object_get(tcb, "bootloader")),
               json_integer_value(json_object_get(tcb, "tee")),
               json_integer_value(json_object_get(tcb, "snp")),
               json_integer_value(json_object_get(tcb, "microcode")));
    } else if (claims && tee == KEEP_ATTEST_TEE_KVM) {
        printf("measurement: %s\n", json_string_value(json_object_get(claims, "measurement")));
        printf("signed: no (plain KVM: nothing vouches for this evidence)\n");
    } else if (claims) {
        json_t *body = json_object_get(claims, "body");
        const char *m = json_string_value(
            json_object_get(body, tee == KEEP_ATTEST_TEE_TDX ? "mr_td" : "mr_enclave"));
        printf("%s: %s\n", tee == KEEP_ATTEST_TEE_TDX ? "mrtd" : "mrenclave", m ? m : "?");
        printf("debug: %s\n", json_is_true(json_object_get(body, "debug")) ? "yes" : "no");
        const char *status = keep_attest_result_tcb_status(r);
        printf("tcb: %s", status ? status : "unknown (no authenticated TCB Info)");
        for (size_t i = 0; i < keep_attest_result_advisory_count(r); i++)
            printf("%s%s", i ? ", " : " (advisories: ", keep_attest_result_advisory(r, i));
        printf("%s\n", keep_attest_result_advisory_count(r) ? ")" : "");
    }
    json_decref(claims);
    for (size_t i = 0; i < keep_attest_result_error_count(r); i++) {
        const struct keep_error *e = keep_attest_result_error(r, i);
        printf("error: %s: %s\n", keep_err_name(e->code), e->message);
    }
}

static int run_verify(struct verify_args *a)
{
    struct keep_error err = {0};
    struct keep_attest_input in = {0};
    if (a->format && keep_attest_format_parse(a->format, &in.format, &err))
        return usage_error("%s", err.message);
    if (a->time) {
        if (keep_parse_time(a->time, &in.time, &err))
            return usage_error("--time: %s", err.message);
        in.has_time = true;
    }
    int rc = read_inputs(a);
    if (rc)
        return rc;
    uint8_t *evidence = NULL;
    size_t evidence_size = 0;
    if (keep_read_file(a->evidence, MAX_INPUT_SIZE, &evidence, &evidence_size, &err)) {
        fprintf(stderr, "keep attest: %s: %s\n", a->evidence, err.message);
        return EXIT_INVALID;
    }
    struct keep_attest_policy *policy = NULL;
    struct keep_attest_verifier *verifier = NULL;
    struct keep_attest_result *result = NULL;
    rc = KEEP_EXIT_USAGE;
    const struct file_opt *pf = &a->files[OPT_POLICY];
    if (pf->path && keep_attest_policy_parse((const char *)pf->data, pf->size, &policy, &err)) {
        fprintf(stderr, "keep attest: --policy %s: %s\n", pf->path, err.message);
        goto out;
    }
    rc = EXIT_INVALID;
    if (keep_attest_verifier_new(a->roots, &verifier, &err)) {
        fprintf(stderr, "keep attest: roots: %s\n", err.message);
        goto out;
    }
    in.evidence = (struct keep_attest_blob){.data = evidence, .size = evidence_size};
    in.vcek = blob(&a->files[OPT_VCEK]);
    in.cert_chain = blob(&a->files[OPT_CERT_CHAIN]);
    in.amd_crl = blob(&a->files[OPT_AMD_CRL]);
    in.collateral_json = blob(&a->files[OPT_COLLATERAL]);
    in.tcb_info = blob(&a->files[OPT_TCB_INFO]);
    in.qe_identity = blob(&a->files[OPT_QE_IDENTITY]);
    in.tcb_signing_chain = blob(&a->files[OPT_TCB_SIGNING_CHAIN]);
    in.pck_crl = blob(&a->files[OPT_PCK_CRL]);
    in.pck_crl_issuer_chain = blob(&a->files[OPT_PCK_CRL_ISSUER_CHAIN]);
    in.root_ca_crl = blob(&a->files[OPT_ROOT_CRL]);
    if (keep_attest_verify(verifier, &in, policy, &result, &err)) {
        fprintf(stderr, "keep attest: %s\n", err.message);
        goto out;
    }
    if (a->json)
        printf("%s\n", keep_attest_result_json(result));
    else
        print_summary(result);
    switch (keep_attest_result_verdict(result)) {
    case KEEP_ATTEST_ACCEPT:
        rc = EXIT_ACCEPT;
        break;
    case KEEP_ATTEST_REJECT:
        rc = EXIT_REJECT;
        break;
    default:
        rc = EXIT_INVALID;
        break;
    }
out:
    keep_attest_result_free(result);
    keep_attest_verifier_free(verifier);
    keep_attest_policy_free(policy);
    free(evidence);
    return rc;
}

static int cmd_verify(int argc, char **argv)
{
    struct verify_args a;
    args_init(&a);
    int rc = parse_verify_args(argc, argv, &a);
    if (rc == 0)
        rc = run_verify(&a);
    args_free(&a);
    return rc;
}

static int cmd_show(int argc, char **argv)
{
    const char *format = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (option_is(argv[i], "--format")) {
            if (format)
                return usage_error("%s", "--format is given twice");
            format = option_value(argc, argv, &i, "--format");
            if (!format || !*format)
                return usage_error("%s", "--format needs a value");
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return usage_error("unknown option '%s'", argv[i]);
        } else if (path) {
            return usage_error("unexpected argument '%s': show takes one EVIDENCE file", argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path)
        return usage_error("%s", "show needs an EVIDENCE file");
    struct keep_error err = {0};
    enum keep_attest_format f = KEEP_ATTEST_FORMAT_AUTO;
    if (format && keep_attest_format_parse(format, &f, &err))
        return usage_error("%s", err.message);
    uint8_t *data = NULL;
    size_t size = 0;
    if (keep_read_file(path, MAX_INPUT_SIZE, &data, &size, &err)) {
        fprintf(stderr, "keep attest: %s: %s\n", path, err.message);
        return EXIT_INVALID;
    }
    enum keep_attest_tee tee;
    char *claims = NULL;
    int rc = keep_attest_show(f, data, size, &tee, &claims, &err);
    free(data);
    if (rc) {
        fprintf(stderr, "keep attest: %s: %s: %s\n", path, keep_err_name(err.code), err.message);
        return EXIT_INVALID;
    }
    printf("%s\n", claims);
    free(claims);
    return 0;
}

int cmd_attest(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return KEEP_EXIT_USAGE;
    }
    if (cli_asks_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    return usage_error("unknown subcommand '%s'; use verify or show", argv[1]);
}
