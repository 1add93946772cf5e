/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep-steward: the attestation service (docs/STEWARD.md).
 *
 *   keep-steward serve [--state DIR] [--listen HOST:PORT] [--admin-socket PATH]
 *                      [--dns NAME]... [--public-url URL] [--lifetime SECONDS]
 *                      [--roots DIR] [--max-conns-per-client N] [--insecure-kvm]
 *                      [--workers N]
 *   keep-steward admin [--socket PATH | --state DIR] COMMAND ...
 *
 * A separate program from `keep` so that `keep run` never links libevent or SQLite.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/util.h"
#include "steward/server.h"
#include "steward/steward.h"

#define EXIT_USAGE 64
#define MAX_DNS    16

static void usage(FILE *out)
{
    fprintf(out,
            "usage: keep-steward serve [--state DIR] [--listen HOST:PORT] [--admin-socket PATH]\n"
            "                          [--dns NAME]... [--public-url URL] [--lifetime SECONDS]\n"
            "                          [--roots DIR] [--max-conns-per-client N] [--insecure-kvm]\n"
            "                          [--kds URL [--kds-product Milan|Genoa|Turin]]\n"
            "                          [--intel-pcs URL]  (Intel PCS or PCCS, API v4)\n"
            "                          [--workers N]  (verifying threads, 0..16; default 2)\n"
            "       keep-steward admin [--socket PATH | --state DIR] COMMAND\n"
            "\nadmin commands:\n"
            "  policy-put NAME FILE       store workload NAME's policy (JSON; '-' reads stdin)\n"
            "  policy-delete NAME\n"
            "  policy-list\n"
            "  secret-put NAME FILE       store a secret (wrapped under the KEK)\n"
            "  revoke-serial SERIAL       revoke one certificate (hex serial)\n"
            "  revoke-measurement HEX     revoke every certificate of a measurement\n"
            "  audit-verify               recompute the audit log's hash chain\n");
}

static const char *default_state(void)
{
    static char path[4096];
    const char *sd = getenv("STATE_DIRECTORY"); /* systemd StateDirectory= */
    if (sd && *sd)
        return sd;
    if (geteuid() == 0)
        return "/var/lib/keep-steward";
    const char *home = getenv("HOME");
    snprintf(path, sizeof(path), "%s/.local/state/keep-steward", home ? home : ".");
    return path;
}

static int mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0700);
            *p = '/';
        }
    }
    return mkdir(buf, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (strcmp(argv[*i], name) == 0 && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static int serve(int argc, char **argv)
{
    const char *state = NULL, *listen = "127.0.0.1:8443", *admin = NULL, *v;
    const char *dns[MAX_DNS];
    size_t dns_count = 0;
    struct steward_config cfg = {.lifetime = STEWARD_MAX_LIFETIME};
    struct steward_server_config scfg = {
        .max_conns_per_client = 64, .max_conns = 1024, .max_body = 1 << 20, .workers = 2};
    for (int i = 1; i < argc; i++) {
        if ((v = opt_value(argc, argv, &i, "--state")))
            state = v;
        else if ((v = opt_value(argc, argv, &i, "--listen")))
            listen = v;
        else if ((v = opt_value(argc, argv, &i, "--admin-socket")))
            admin = v;
        else if ((v = opt_value(argc, argv, &i, "--dns")) && dns_count < MAX_DNS)
            dns[dns_count++] = v;
        else if ((v = opt_value(argc, argv, &i, "--public-url")))
            cfg.public_url = v;
        else if ((v = opt_value(argc, argv, &i, "--kds")))
            cfg.kds_url = v;
        else if ((v = opt_value(argc, argv, &i, "--kds-product")))
            cfg.kds_product = v;
        else if ((v = opt_value(argc, argv, &i, "--intel-pcs")))
            cfg.intel_pcs_url = v;
        else if ((v = opt_value(argc, argv, &i, "--roots")))
            cfg.roots_dir = v;
        else if ((v = opt_value(argc, argv, &i, "--lifetime")))
            cfg.lifetime = strtoll(v, NULL, 10);
        else if ((v = opt_value(argc, argv, &i, "--max-conns-per-client")))
            scfg.max_conns_per_client = atoi(v);
        else if ((v = opt_value(argc, argv, &i, "--workers")))
            scfg.workers = atoi(v);
        else if (strcmp(argv[i], "--insecure-kvm") == 0)
            cfg.insecure_kvm = true;
        else {
            fprintf(stderr, "keep-steward serve: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (cfg.lifetime < 60 || cfg.lifetime > STEWARD_MAX_LIFETIME || scfg.max_conns_per_client < 1 ||
        scfg.workers < 0 || scfg.workers > STEWARD_MAX_WORKERS) {
        fprintf(stderr,
                "keep-steward serve: --lifetime must be 60..%d, --max-conns-per-client >= 1, "
                "--workers 0..%d (got %lld, %d, %d)\n",
                STEWARD_MAX_LIFETIME, STEWARD_MAX_WORKERS, (long long)cfg.lifetime,
                scfg.max_conns_per_client, scfg.workers);
        return EXIT_USAGE;
    }
    char host[256], admin_path[4200];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host)) {
        fprintf(stderr, "keep-steward serve: --listen %s is not HOST:PORT\n", listen);
        return EXIT_USAGE;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    scfg.listen_host = host;
    scfg.listen_port = atoi(colon + 1);
    if (dns_count == 0)
        dns[dns_count++] = "localhost";
    scfg.dns = dns;
    scfg.dns_count = dns_count;
    if (!state)
        state = default_state();
    umask(077); /* the database holds wrapped secrets and issued records */
    if (mkdirs(state) != 0) {
        fprintf(stderr, "keep-steward: state directory %s: %s\n", state, strerror(errno));
        return 1;
    }
    snprintf(admin_path, sizeof(admin_path), "%s/admin.sock", state);
    scfg.admin_socket = admin ? admin : admin_path;
    struct steward *s;
    struct keep_error err;
    if (steward_open(state, &cfg, &s, &err) != KEEP_OK) {
        fprintf(stderr, "keep-steward: %s: %s\n", keep_err_name(err.code), err.message);
        return 1;
    }
    if (cfg.insecure_kvm)
        fprintf(stderr, "keep-steward: --insecure-kvm: unsigned kvm evidence is accepted; its "
                        "certificates say so (EAR ear.status warning, keep.insecure true)\n");
    char detail[128];
    snprintf(detail, sizeof(detail), "{\"insecure_kvm\":%s}", cfg.insecure_kvm ? "true" : "false");
    if (steward_store_begin(s->store, &err) == KEEP_OK &&
        steward_audit_append(s->store, time(NULL), "service.start", detail, &err) == KEEP_OK)
        steward_store_commit(s->store, &err);
    int rc = steward_serve(s, &scfg, &err);
    if (rc)
        fprintf(stderr, "keep-steward: %s: %s\n", keep_err_name(err.code), err.message);
    steward_close(s);
    return rc ? 1 : 0;
}

/* ---- admin client: HTTP/1.0 over the Unix socket --------------------------------- */

static int read_input(const char *path, uint8_t **data, size_t *size)
{
    struct keep_error err;
    if (strcmp(path, "-") == 0) { /* a pipe: read to EOF, at most 1 MiB */
        size_t cap = 1 << 20, n = 0;
        ssize_t r;
        *data = malloc(cap + 1);
        while (*data && n < cap && (r = read(0, *data + n, cap - n)) > 0)
            n += (size_t)r;
        *size = n;
        return *data ? 0 : -1;
    }
    if (keep_read_file(path, 1 << 20, data, size, &err) != KEEP_OK) {
        fprintf(stderr, "keep-steward admin: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int admin_call(const char *socket_path, const char *method, const char *path,
                      const uint8_t *body, size_t size)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        fprintf(stderr, "keep-steward admin: %s: %s (is the service running?)\n", socket_path,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.0\r\nHost: admin\r\nContent-Type: application/octet-stream\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, size);
    bool ok =
        write(fd, head, (size_t)n) == n && (size == 0 || write(fd, body, size) == (ssize_t)size);
    char buf[65536];
    size_t got = 0;
    ssize_t r;
    while (ok && got < sizeof(buf) - 1 && (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)r;
    close(fd);
    buf[got] = '\0';
    int status = 0;
    char *text = strstr(buf, "\r\n\r\n");
    if (!ok || sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || !text) {
        fprintf(stderr, "keep-steward admin: no reply from %s\n", socket_path);
        return 1;
    }
    printf("%s\n", text + 4);
    return status == 200 ? 0 : 1;
}

static int admin(int argc, char **argv)
{
    const char *socket_path = NULL, *v;
    char state_sock[4200];
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((v = opt_value(argc, argv, &i, "--socket")))
            socket_path = v;
        else if ((v = opt_value(argc, argv, &i, "--state"))) {
            snprintf(state_sock, sizeof(state_sock), "%s/admin.sock", v);
            socket_path = state_sock;
        } else {
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!socket_path) {
        snprintf(state_sock, sizeof(state_sock), "%s/admin.sock", default_state());
        socket_path = state_sock;
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[i];
    int rest = argc - i - 1;
    char path[512];
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = EXIT_USAGE;
    if (strcmp(cmd, "policy-put") == 0 && rest == 2) {
        snprintf(path, sizeof(path), "/policies/%s", argv[i + 1]);
        if (read_input(argv[i + 2], &data, &size) == 0)
            rc = admin_call(socket_path, "PUT", path, data, size);
        else
            rc = 1;
    } else if (strcmp(cmd, "policy-delete") == 0 && rest == 1) {
        snprintf(path, sizeof(path), "/policies/%s", argv[i + 1]);
        rc = admin_call(socket_path, "DELETE", path, NULL, 0);
    } else if (strcmp(cmd, "policy-list") == 0 && rest == 0) {
        rc = admin_call(socket_path, "GET", "/policies", NULL, 0);
    } else if (strcmp(cmd, "secret-put") == 0 && rest == 2) {
        snprintf(path, sizeof(path), "/secrets/%s", argv[i + 1]);
        if (read_input(argv[i + 2], &data, &size) == 0)
            rc = admin_call(socket_path, "PUT", path, data, size);
        else
            rc = 1;
    } else if (strcmp(cmd, "revoke-serial") == 0 && rest == 1) {
        snprintf(path, sizeof(path), "/revoke/serial/%s", argv[i + 1]);
        rc = admin_call(socket_path, "POST", path, NULL, 0);
    } else if (strcmp(cmd, "revoke-measurement") == 0 && rest == 1) {
        snprintf(path, sizeof(path), "/revoke/measurement/%s", argv[i + 1]);
        rc = admin_call(socket_path, "POST", path, NULL, 0);
    } else if (strcmp(cmd, "audit-verify") == 0 && rest == 0) {
        rc = admin_call(socket_path, "GET", "/audit/verify", NULL, 0);
    } else {
        usage(stderr);
    }
    if (data)
        OPENSSL_cleanse(data, size);
    free(data);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "admin") == 0)
        return admin(argc - 1, argv + 1);
    fprintf(stderr, "keep-steward: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
