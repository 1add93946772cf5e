/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep-steward fetching Intel collateral (--intel-pcs, src/steward/pcs.c): real SGX and TDX
 * quotes (../shared/vectors) are sent WITHOUT collateral; a local PCS (pcs_server.py) serves
 * the recorded collateral the way Intel PCS API v4 does, issuer chains in percent-encoded
 * headers. At each set's stated time the request must be refused by exactly
 * policy.report_data (recorded evidence cannot bind a fresh nonce): every collateral check
 * passed with what was fetched. A second request is served from the cache (the PCS hit count
 * does not move), and a broken issuer-chain header is refused naming the header.
 */
#include <openssl/pem.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attest_vectors.h"
#include "steward/steward.h"

static char *csr_pem(void)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
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
    EVP_PKEY_free(key);
    return out;
}

static int lines_in(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, c;
    while (f && (c = fgetc(f)) != EOF)
        n += c == '\n';
    if (f)
        fclose(f);
    return n;
}

/* Issue for a quote with no collateral; the failed checks, comma-separated, into got. */
static int issue_bare(struct steward *s, const char *dir, const char *quote, int64_t t,
                      const char *workload, char *got, size_t got_size, struct keep_error *err)
{
    char nonce[65];
    int64_t expires;
    steward_nonce_new(s, t, nonce, &expires, err);
    struct keep_attest_blob ev = vec_load(dir, quote);
    char *ev64 = steward_base64_encode(ev.data, ev.size), *csr = csr_pem();
    json_t *body = json_pack("{s:s,s:s,s:s,s:s}", "nonce", nonce, "csr", csr, "evidence", ev64,
                             "workload", workload);
    char *text = json_dumps(body, 0);
    struct steward_cert_request req;
    struct steward_issued issued;
    json_t *errors = NULL;
    int rc = steward_request_parse_json(text, strlen(text), &req, err);
    if (rc == KEEP_OK)
        rc = steward_issue(s, &req, t, &issued, &errors, err);
    got[0] = '\0';
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        if (got[0])
            strncat(got, ",", got_size - strlen(got) - 1);
        strncat(got, json_string_value(json_object_get(e, "code")), got_size - strlen(got) - 1);
    }
    if (rc == KEEP_OK)
        steward_issued_free(&issued);
    else if (rc != KEEP_E_STEWARD_EVIDENCE_REJECTED)
        diag("%s: %s", keep_err_name(rc), err->message);
    json_decref(errors);
    steward_request_free(&req);
    json_decref(body);
    free(text);
    free(csr);
    free(ev64);
    vec_free(&ev);
    return rc;
}

static pid_t start_pcs(const char *script, const char *dir, const char *port_file,
                       const char *log_file, int *port)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("python3", "python3", script, dir, port_file, log_file, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1200; i++) { /* wait for the state (the port), not a time */
        FILE *f = fopen(port_file, "r");
        if (f) {
            int ok = fscanf(f, "%d", port) == 1;
            fclose(f);
            if (ok)
                return pid;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid)
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void sgx_set(struct steward *s, const char *dir, const char *log, int port)
{
    struct keep_error err;
    char base[128], got[512];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/sgx", port);
    s->cfg.intel_pcs_url = base;
    int64_t t = vec_time("2025-07-19T10:01:17Z");
    steward_admin_policy_put(
        s, "sgx",
        "{\"attest\": {\"tcb_statuses\": [\"UpToDate\", \"ConfigurationAndSWHardeningNeeded\"],"
        " \"allowed_advisories\": [\"INTEL-SA-00289\", \"INTEL-SA-00615\"],"
        " \"mrenclave\": [\"33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb\"]}}",
        t, &err);
    int rc = issue_bare(s, dir, "sgx/full-collateral/quote.bin", t, "sgx", got, sizeof(got), &err);
    ok(rc == KEEP_E_STEWARD_EVIDENCE_REJECTED && strcmp(got, "policy.report_data") == 0,
       "sgx quote without collateral: fetched from the PCS, refused only by %s",
       got[0] ? got : keep_err_name(rc));
    is_int(lines_in(log), 4,
           "the PCS was asked four times (TCB Info, QE Identity, PCK CRL, Root CA CRL)");
    rc = issue_bare(s, dir, "sgx/full-collateral/quote.bin", t, "sgx", got, sizeof(got), &err);
    ok(rc == KEEP_E_STEWARD_EVIDENCE_REJECTED && strcmp(got, "policy.report_data") == 0,
       "second sgx request: refused only by %s", got[0] ? got : keep_err_name(rc));
    is_int(lines_in(log), 4, "the second request is served from the cache (no PCS hit)");
    /* The QE Identity's nextUpdate (10:01:18Z) ends the cache entry: asked again, and the
     * collateral, now stale, makes the evidence invalid. */
    rc = issue_bare(s, dir, "sgx/full-collateral/quote.bin", t + 60, "sgx", got, sizeof(got), &err);
    is_int(lines_in(log), 8, "after the earliest nextUpdate the PCS is asked again");
    is_int(rc, KEEP_E_STEWARD_EVIDENCE_INVALID, "and the stale collateral is refused (%s)",
           err.message);
}

static void tdx_set(struct steward *s, const char *dir, const char *log, int port)
{
    struct keep_error err;
    char base[128], got[512];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/tdx", port);
    s->cfg.intel_pcs_url = base;
    int64_t t = vec_time("2025-07-19T10:00:34Z");
    steward_admin_policy_put(s, "tdx", "{}", t, &err);
    int before = lines_in(log);
    int rc = issue_bare(s, dir, "tdx/full-collateral/quote.bin", t, "tdx", got, sizeof(got), &err);
    ok(rc == KEEP_E_STEWARD_EVIDENCE_REJECTED && strcmp(got, "policy.report_data") == 0,
       "tdx quote without collateral: fetched from the PCS, refused only by %s",
       got[0] ? got : keep_err_name(rc));
    is_int(lines_in(log) - before, 4, "the PCS was asked four times for the TDX set");
}

static void broken_chain(struct steward *s, const char *dir, int port)
{
    struct keep_error err;
    char base[128], got[512];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/broken", port);
    s->cfg.intel_pcs_url = base;
    int64_t t = vec_time("2025-07-19T10:01:17Z");
    int rc = issue_bare(s, dir, "sgx/full-collateral/quote.bin", t, "sgx", got, sizeof(got), &err);
    is_int(rc, KEEP_E_STEWARD_PCS_HEADER, "a truncated TCB-Info-Issuer-Chain is refused");
    ok(strstr(err.message, "TCB-Info-Issuer-Chain") != NULL, "the error names the header: %s",
       err.message);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/badtcb", port);
    rc = issue_bare(s, dir, "sgx/full-collateral/quote.bin", t, "sgx", got, sizeof(got), &err);
    is_int(rc, KEEP_E_STEWARD_PCS_REPLY, "a TCB Info reply that is not a TCB Info is refused");
    ok(strstr(err.message, "TCB Info") != NULL, "the error names the item: %s", err.message);
}

int main(int argc, char **argv)
{
    const char *dir = tap_vectors_dir();
    if (argc < 2)
        skip_all("usage: test_vectors_pcs PCS_SERVER_SCRIPT");
    char state[] = "/tmp/keep-test-steward-pcs-XXXXXX";
    if (!mkdtemp(state))
        return 1;
    char port_file[128], log[128];
    snprintf(port_file, sizeof(port_file), "%s/pcs.port", state);
    snprintf(log, sizeof(log), "%s/pcs.log", state);
    int port = 0;
    pid_t pcs = start_pcs(argv[1], dir, port_file, log, &port);
    if (pcs < 0) {
        printf("Bail out! the local PCS (python3 %s) did not start\n", argv[1]);
        return 1;
    }
    struct steward_config cfg = {0};
    struct steward *s;
    struct keep_error err;
    if (steward_open(state, &cfg, &s, &err) != KEEP_OK) {
        printf("Bail out! steward_open: %s\n", err.message);
        kill(pcs, SIGTERM);
        return 1;
    }
    sgx_set(s, dir, log, port);
    tdx_set(s, dir, log, port);
    broken_chain(s, dir, port);
    s->cfg.intel_pcs_url = NULL;
    steward_close(s);
    kill(pcs, SIGTERM);
    waitpid(pcs, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
    if (system(cmd) != 0)
        diag("could not remove %s", state);
    return done_testing();
}
