/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep-steward issuance throughput, in process (no HTTP/TLS), beside its floor
 * measured in the same run:
 *
 *   issue   steward_request_parse_json() + steward_issue() of a synthetic SEV-SNP
 *           report (tests/support/snp_gen, VCEK chain cached after the first) bound
 *           to a fresh nonce and the CSR key: nonce check, policy, libkeep-attest
 *           verification, P-256 leaf signature, certificate + audit records, one
 *           SQLite commit (WAL, synchronous=FULL). Latency p50/p99 per request.
 *   floor   per request: one ECDSA P-384 verification (OpenSSL) of 672 bytes, one
 *           ECDSA P-256 signature (OpenSSL) of 600 bytes, one SQLite INSERT of 1 KiB
 *           committed in the same WAL/FULL mode in the same directory.
 *
 * Target (issue 9): >= 70% of the floor, p99 < 50 ms. Requests are made before
 * timing starts. The floor is measured before and after; their mean is used.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "steward/steward.h"
#include "support/snp_gen.h"

#define REQUESTS 400

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double floor_rate(const char *dir, int n)
{
    EVP_PKEY *k384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *k256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    uint8_t msg[672] = {1}, tbs[600] = {2}, sig[160], sig2[160], blob[1024] = {3};
    size_t sig_size = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, k384);
    EVP_DigestSign(md, sig, &sig_size, msg, sizeof(msg));
    char path[600];
    snprintf(path, sizeof(path), "%s/floor.db", dir);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, der BLOB)",
                 NULL, NULL, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT INTO t(der) VALUES(?)", -1, &st, NULL);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        EVP_MD_CTX_reset(md);
        EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, k384);
        if (EVP_DigestVerify(md, sig, sig_size, msg, sizeof(msg)) != 1)
            abort();
        size_t s2 = sizeof(sig2);
        EVP_MD_CTX_reset(md);
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k256);
        EVP_DigestSign(md, sig2, &s2, tbs, sizeof(tbs));
        sqlite3_bind_blob(st, 1, blob, sizeof(blob), SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            abort();
        sqlite3_reset(st);
    }
    double rate = n / (now_s() - t0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k384);
    EVP_PKEY_free(k256);
    return rate;
}

static char *csr_pem(EVP_PKEY *key, struct steward_csr *parsed)
{
    X509_REQ *req = X509_REQ_new();
    X509_REQ_set_pubkey(req, key);
    X509_REQ_sign(req, key, EVP_sha256());
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(bio, req);
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(bio);
    X509_REQ_free(req);
    struct keep_error err;
    if (steward_csr_parse((const uint8_t *)out, strlen(out), parsed, &err))
        abort();
    return out;
}

/*
 * bench_steward --prepare DIR N, for bench/steward_wrk.sh: copy the synthetic AMD roots to
 * DIR/roots and write DIR/bodies.txt, N request bodies (one per line), each binding one of
 * the nonces the running service gave in DIR/nonces.txt (one hex nonce per line).
 */
static int prepare(const char *dir, int n)
{
    struct snp_gen *g = snp_gen_new(KEEP_AMD_MILAN);
    char cmd[1200], path[700];
    snprintf(cmd, sizeof(cmd),
             "mkdir -p '%s/roots/amd' && cp '%s'/* '%s/roots/amd/' && ln -sfn "
             "'%s/data/roots/intel' '%s/roots/intel'",
             dir, snp_gen_roots_dir(g), dir,
             getenv("KEEP_SOURCE_ROOT") ? getenv("KEEP_SOURCE_ROOT") : ".", dir);
    if (system(cmd) != 0)
        return 1;
    uint8_t *vcek;
    size_t vcek_size;
    snp_gen_default_cert_der(g, KEEP_AMD_VCEK, &vcek, &vcek_size);
    char *vcek64 = steward_base64_encode(vcek, vcek_size);
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct steward_csr parsed;
    char *csr = csr_pem(key, &parsed);
    /* The CSR key, for a client that fetches secrets with the certificate of one body. */
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    FILE *kf = fopen(path, "w");
    if (!kf || !PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL) || fclose(kf) != 0)
        return 1;
    snprintf(path, sizeof(path), "%s/nonces.txt", dir);
    FILE *in = fopen(path, "r");
    snprintf(path, sizeof(path), "%s/bodies.txt", dir);
    FILE *out = fopen(path, "w");
    char line[200];
    int made = 0;
    while (in && out && made < n && fgets(line, sizeof(line), in)) {
        uint8_t nonce[32], report[KEEP_SNP_REPORT_SIZE];
        line[strcspn(line, "\n")] = 0;
        if (keep_hex_decode(line, strlen(line), nonce, 32, "nonce", NULL))
            continue;
        snp_gen_report(g, KEEP_AMD_VCEK, 2, report);
        steward_binding_report_data(nonce, parsed.spki_sha384, report + 0x50);
        snp_gen_sign(g, KEEP_AMD_VCEK, report);
        char *ev = steward_base64_encode(report, sizeof(report));
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:{s:s}}", "nonce", line, "csr", csr, "evidence",
                              ev, "workload", "bench", "collateral", "vcek", vcek64);
        char *text = json_dumps(o, JSON_COMPACT);
        fprintf(out, "%s\n", text);
        free(text);
        json_decref(o);
        free(ev);
        made++;
    }
    if (in)
        fclose(in);
    int rc = out && fclose(out) == 0 && made == n ? 0 : 1;
    free(csr);
    free(vcek64);
    free(vcek);
    steward_csr_free(&parsed);
    EVP_PKEY_free(key);
    snp_gen_free(g);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--prepare") == 0)
        return prepare(argv[2], atoi(argv[3]));
    char dir[] = "/tmp/keep-bench-steward-XXXXXX", roots[700], link[800], target[800];
    if (!mkdtemp(dir))
        return 1;
    struct snp_gen *g = snp_gen_new(KEEP_AMD_MILAN);
    snprintf(roots, sizeof(roots), "%s/roots", dir);
    mkdir(roots, 0700);
    snprintf(link, sizeof(link), "%s/amd", roots);
    snprintf(target, sizeof(target), "%s/data/roots/intel",
             getenv("KEEP_SOURCE_ROOT") ? getenv("KEEP_SOURCE_ROOT") : ".");
    if (symlink(snp_gen_roots_dir(g), link))
        return 1;
    snprintf(link, sizeof(link), "%s/intel", roots);
    if (symlink(target, link))
        return 1;
    char state[700];
    snprintf(state, sizeof(state), "%s/state", dir);
    struct steward_config cfg = {.roots_dir = roots};
    struct steward *s;
    struct keep_error err;
    if (steward_open(state, &cfg, &s, &err) ||
        steward_admin_policy_put(s, "bench", "{\"attest\": {}}", time(NULL), &err)) {
        fprintf(stderr, "bench_steward: %s\n", err.message);
        return 1;
    }
    uint8_t *vcek;
    size_t vcek_size;
    snp_gen_default_cert_der(g, KEEP_AMD_VCEK, &vcek, &vcek_size);
    char *vcek64 = steward_base64_encode(vcek, vcek_size);
    /* P-256, as keep_steward_enroll() makes: its self-signature is checked per request. */
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct steward_csr parsed;
    char *csr = csr_pem(key, &parsed);
    char **bodies = calloc(REQUESTS, sizeof(char *));
    for (int i = 0; i < REQUESTS; i++) {
        char nonce_hex[65];
        int64_t expires;
        uint8_t nonce[32], report[KEEP_SNP_REPORT_SIZE];
        steward_nonce_new(s, time(NULL), nonce_hex, &expires, &err);
        if (keep_hex_decode(nonce_hex, 64, nonce, 32, "n", NULL))
            abort();
        snp_gen_report(g, KEEP_AMD_VCEK, 2, report);
        steward_binding_report_data(nonce, parsed.spki_sha384, report + 0x50);
        snp_gen_sign(g, KEEP_AMD_VCEK, report);
        char *ev = steward_base64_encode(report, sizeof(report));
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:{s:s}}", "nonce", nonce_hex, "csr", csr,
                              "evidence", ev, "workload", "bench", "collateral", "vcek", vcek64);
        bodies[i] = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        free(ev);
    }
    double floor1 = floor_rate(dir, REQUESTS);
    double *lat = calloc(REQUESTS, sizeof(double));
    int refused = 0;
    double t0 = now_s();
    for (int i = 0; i < REQUESTS; i++) {
        double a = now_s();
        struct steward_cert_request req;
        struct steward_issued issued;
        if (steward_request_parse_json(bodies[i], strlen(bodies[i]), &req, &err) ||
            steward_issue(s, &req, time(NULL), &issued, NULL, &err)) {
            refused++;
            if (refused == 1)
                fprintf(stderr, "bench_steward: refused: %s\n", err.message);
        } else {
            steward_issued_free(&issued);
        }
        steward_request_free(&req);
        lat[i] = now_s() - a;
    }
    double rate = REQUESTS / (now_s() - t0);
    double floor2 = floor_rate(dir, REQUESTS);
    double fl = (floor1 + floor2) / 2;
    qsort(lat, REQUESTS, sizeof(double), cmp_double);
    printf("issue   %8.1f /s  p50 %.2f ms  p99 %.2f ms  (%d requests, %d refused)\n", rate,
           lat[REQUESTS / 2] * 1e3, lat[REQUESTS * 99 / 100] * 1e3, REQUESTS, refused);
    printf("floor   %8.1f /s  (P-384 verify + P-256 sign + SQLite insert/commit; %.1f and %.1f)\n",
           fl, floor1, floor2);
    printf("ratio   %8.1f %%  (target >= 70%%; p99 target < 50 ms)\n", 100 * rate / fl);
    for (int i = 0; i < REQUESTS; i++)
        free(bodies[i]);
    free(bodies);
    free(lat);
    free(csr);
    free(vcek64);
    free(vcek);
    steward_csr_free(&parsed);
    EVP_PKEY_free(key);
    steward_close(s);
    snp_gen_free(g);
    char cmd[800];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 && refused == 0 ? 0 : 1;
}
