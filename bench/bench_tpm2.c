/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The swtpm row of the key-service benchmark (bench/bench_hsm.sh,
 * docs/PERFORMANCE.md "Key service"): signatures per second with a TPM key,
 * through tpm2-tss's ESAPI and a TCTI (swtpm's socket: "swtpm:host=H,port=P").
 *
 *   bench_tpm2 TCTI ecdsa|rsa SECONDS
 *
 * One ESAPI context (a TPM runs one command at a time: one session is what
 * it offers), one primary key in the owner hierarchy made at start (ECC
 * P-256 with ECDSA-SHA256, or RSA-2048 with RSASSA-SHA256), then TPM2_Sign of
 * a 32-byte digest as fast as the TPM answers; prints "signs/s N" like
 * bench_pkcs11.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(const char *what, TSS2_RC rc)
{
    if (rc != TSS2_RC_SUCCESS) {
        fprintf(stderr, "bench_tpm2: %s: %s\n", what, Tss2_RC_Decode(rc));
        exit(1);
    }
}

/* A signing key's public template (TPM 2.0 Part 2, 12.2.3.5 TPMT_PUBLIC). */
static TPM2B_PUBLIC signing_template(bool rsa)
{
    TPM2B_PUBLIC t = {0};
    TPMT_PUBLIC *p = &t.publicArea;
    p->nameAlg = TPM2_ALG_SHA256;
    p->objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |
                          TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                          TPMA_OBJECT_USERWITHAUTH;
    if (rsa) {
        p->type = TPM2_ALG_RSA;
        p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
        p->parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
        p->parameters.rsaDetail.keyBits = 2048;
    } else {
        p->type = TPM2_ALG_ECC;
        p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
        p->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
        p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    }
    return t;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[2], "ecdsa") && strcmp(argv[2], "rsa"))) {
        fprintf(stderr, "usage: bench_tpm2 TCTI ecdsa|rsa SECONDS\n");
        return 64;
    }
    bool rsa = strcmp(argv[2], "rsa") == 0;
    double seconds = atof(argv[3]);
    TSS2_TCTI_CONTEXT *tcti = NULL;
    ESYS_CONTEXT *ctx = NULL;
    check("Tss2_TctiLdr_Initialize", Tss2_TctiLdr_Initialize(argv[1], &tcti));
    check("Esys_Initialize", Esys_Initialize(&ctx, tcti, NULL));
    TSS2_RC rc = Esys_Startup(ctx, TPM2_SU_CLEAR);
    if (rc != TPM2_RC_INITIALIZE) /* already started (swtpm --flags startup-clear) */
        check("Esys_Startup", rc);

    TPM2B_SENSITIVE_CREATE sensitive = {0};
    TPM2B_PUBLIC public = signing_template(rsa);
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    ESYS_TR key = ESYS_TR_NONE;
    check("Esys_CreatePrimary",
          Esys_CreatePrimary(ctx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                             &sensitive, &public, &outside, &pcrs, &key, NULL, NULL, NULL, NULL));

    TPM2B_DIGEST digest = {.size = 32, .buffer = {1}};
    TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL}; /* the key's own scheme */
    /* A digest the TPM did not hash needs no ticket for an unrestricted key (Part 3, 20.2). */
    TPMT_TK_HASHCHECK ticket = {.tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL};
    unsigned long n = 0;
    double t0 = now(), t = t0;
    while (t - t0 < seconds) {
        TPMT_SIGNATURE *sig = NULL;
        check("Esys_Sign", Esys_Sign(ctx, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                     &digest, &scheme, &ticket, &sig));
        Esys_Free(sig);
        n++;
        t = now();
    }
    printf("signs/s %.0f\n", (double)n / (t - t0));
    Esys_FlushContext(ctx, key);
    Esys_Finalize(&ctx);
    Tss2_TctiLdr_Finalize(&tcti);
    return 0;
}
