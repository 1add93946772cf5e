/* SPDX-License-Identifier: Apache-2.0 */
#include "host/enroll.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/netpolicy.h"

#define STEWARD_CA_MAX (64u << 10)
#define ENROLLER_MAX   (64u << 20)
#define SECRET_MAX     64u /* --secret options */
#define RUN_KEEP       "/run/keep/"

int keep_config_set_steward(struct keep_config *cfg, const char *url, struct keep_error *err)
{
    static const char scheme[] = "https://";
    if (cfg->steward_url)
        return keep_fail(err, KEEP_E_RUN_BAD_STEWARD, "--steward is given twice");
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return keep_fail(err, KEEP_E_RUN_BAD_STEWARD,
                         "--steward '%s' is not https://IPV4:PORT (TLS is terminated in the Keep)",
                         url);
    const char *addr = url + sizeof(scheme) - 1;
    size_t n = strlen(addr);
    if (n && addr[n - 1] == '/')
        n--;
    char hostport[64];
    if (n == 0 || n >= sizeof(hostport))
        return keep_fail(err, KEEP_E_RUN_BAD_STEWARD, "--steward '%s' has no IPV4:PORT", url);
    memcpy(hostport, addr, n);
    hostport[n] = 0;
    char *colon = strrchr(hostport, ':');
    struct in_addr v4;
    if (!colon || colon == hostport) /* the enroller speaks IPv4 (src/steward/client.c) */
        return keep_fail(err, KEEP_E_RUN_BAD_STEWARD, "--steward '%s': no :PORT", url);
    *colon = 0;
    bool ipv4 = inet_pton(AF_INET, hostport, &v4) == 1;
    *colon = ':';
    if (!ipv4)
        return keep_fail(err, KEEP_E_RUN_BAD_STEWARD,
                         "--steward '%s': the host must be an IPv4 address", url);
    int rc = keep_parse_net_rule("--steward", hostport, &cfg->steward, err);
    if (rc)
        return rc;
    cfg->steward_url = strdup(url);
    return cfg->steward_url ? KEEP_OK : keep_fail(err, KEEP_E_NOMEM, "no memory for --steward");
}

int keep_config_set_steward_ca(struct keep_config *cfg, const char *path, struct keep_error *err)
{
    if (cfg->steward_ca_pem)
        return keep_fail(err, KEEP_E_RUN_BAD_STEWARD, "--steward-ca is given twice");
    uint8_t *data;
    size_t size;
    struct keep_error e = {0};
    if (keep_read_file(path, STEWARD_CA_MAX, &data, &size, &e) != KEEP_OK)
        return keep_fail(err, KEEP_E_RUN_BAD_STEWARD, "--steward-ca %s: %s", path, e.message);
    if (size == 0 || memchr(data, 0, size) ||
        !strstr((char *)data, "-----BEGIN CERTIFICATE-----")) {
        free(data);
        return keep_fail(err, KEEP_E_RUN_BAD_STEWARD,
                         "--steward-ca %s: not a PEM certificate (no BEGIN CERTIFICATE line)",
                         path);
    }
    char *pem = realloc(data, size + 1);
    if (!pem) {
        free(data);
        return keep_fail(err, KEEP_E_NOMEM, "no memory for --steward-ca");
    }
    pem[size] = 0;
    cfg->steward_ca_pem = pem;
    return KEEP_OK;
}

/* A secret's name as the service's GET /v1/secrets/{name} takes it (docs/STEWARD.md). */
static bool secret_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || (i == 0 && c == '.'))
            return false;
    }
    return true;
}

/* GUEST_PATH: below /run/keep/, one or two components, no "." or ".." (keepfs.c keeps it flat). */
static bool guest_path_ok(const char *path)
{
    if (strncmp(path, RUN_KEEP, strlen(RUN_KEEP)) != 0 || strlen(path) >= 100)
        return false;
    const char *p = path + strlen(RUN_KEEP);
    int depth = 0;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        depth++;
        p += n;
        if (*p == '/' && !*++p)
            return false; /* a trailing '/' names no file */
    }
    return depth >= 1 && depth <= 2;
}

int keep_config_add_secret(struct keep_config *cfg, const char *text, struct keep_error *err)
{
    const char *colon = strchr(text, ':');
    size_t len = colon ? (size_t)(colon - text) : strlen(text);
    if (!secret_name_ok(text, len))
        return keep_fail(err, KEEP_E_RUN_BAD_SECRET,
                         "--secret '%s': NAME must be 1-64 characters of A-Z a-z 0-9 . _ -", text);
    char path[128];
    if (colon && colon[1])
        snprintf(path, sizeof(path), "%s", colon + 1);
    else
        snprintf(path, sizeof(path), RUN_KEEP "secrets/%.*s", (int)len, text);
    if (!guest_path_ok(path))
        return keep_fail(err, KEEP_E_RUN_BAD_SECRET,
                         "--secret '%s': GUEST_PATH '%s' must be /run/keep/FILE or "
                         "/run/keep/DIR/FILE (the Keep-private directory)",
                         text, path);
    static const char *reserved[] = {RUN_KEEP "key.pem", RUN_KEEP "cert.pem", RUN_KEEP "ca.pem"};
    for (size_t i = 0; i < KEEP_ARRAY_LEN(reserved); i++)
        if (strcmp(path, reserved[i]) == 0)
            return keep_fail(err, KEEP_E_RUN_BAD_SECRET,
                             "--secret '%s': %s holds the Keep's identity", text, path);
    for (size_t i = 0; i < cfg->secret_count; i++) {
        if (strcmp(cfg->secret_paths[i], path) == 0 ||
            (strlen(cfg->secret_names[i]) == len && !strncmp(cfg->secret_names[i], text, len)))
            return keep_fail(err, KEEP_E_RUN_BAD_SECRET,
                             "--secret '%s': that name or path is already given", text);
    }
    if (cfg->secret_count == SECRET_MAX)
        return keep_fail(err, KEEP_E_RUN_BAD_SECRET, "more than %u --secret options", SECRET_MAX);
    char **names = realloc(cfg->secret_names, (cfg->secret_count + 1) * sizeof(char *));
    if (names)
        cfg->secret_names = names;
    char **paths =
        names ? realloc(cfg->secret_paths, (cfg->secret_count + 1) * sizeof(char *)) : NULL;
    if (paths)
        cfg->secret_paths = paths;
    char *name = paths ? strndup(text, len) : NULL, *p = name ? strdup(path) : NULL;
    if (!p) {
        free(name);
        return keep_fail(err, KEEP_E_NOMEM, "no memory for --secret");
    }
    cfg->secret_names[cfg->secret_count] = name;
    cfg->secret_paths[cfg->secret_count++] = p;
    return KEEP_OK;
}

/* $KEEP_ENROLLER, else keep-enroll beside the keep executable. */
static int enroller_path(char *out, size_t size, struct keep_error *err)
{
    const char *env = getenv("KEEP_ENROLLER");
    if (env && *env) {
        snprintf(out, size, "%s", env);
        return KEEP_OK;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return keep_fail(err, KEEP_E_RUN_NO_ENROLLER,
                         "cannot find keep's own path to look for "
                         "keep-enroll; set KEEP_ENROLLER");
    self[n] = 0;
    char *slash = strrchr(self, '/');
    *slash = 0;
    snprintf(out, size, "%s/keep-enroll", self);
    return KEEP_OK;
}

int keep_config_finish_steward(struct keep_config *cfg, struct keep_error *err)
{
    if (!cfg->steward_url) {
        if (cfg->steward_ca_pem || cfg->secret_count)
            return keep_fail(err, KEEP_E_RUN_BAD_STEWARD,
                             "--steward-ca and --secret need --steward URL");
        return KEEP_OK;
    }
    if (!cfg->steward_ca_pem)
        return keep_fail(err, KEEP_E_RUN_BAD_STEWARD,
                         "--steward needs --steward-ca FILE: without a pinned CA the host could "
                         "answer for the service and feed the Keep false secrets");
    for (size_t i = 0; i < cfg->volume_count; i++) {
        const char *g = cfg->volumes[i].guest_dir;
        if (strcmp(g, "/run/keep") == 0 || strncmp(g, RUN_KEEP, strlen(RUN_KEEP)) == 0)
            return keep_fail(err, KEEP_E_RUN_BAD_STEWARD,
                             "--volume at %s: with --steward, /run/keep is the Keep-private "
                             "directory the shim holds; a volume there would be hidden",
                             g);
    }
    char path[PATH_MAX + 16];
    int rc = enroller_path(path, sizeof(path), err);
    if (rc)
        return rc;
    struct keep_error e = {0};
    if (keep_read_file(path, ENROLLER_MAX, &cfg->enroller, &cfg->enroller_size, &e) != KEEP_OK)
        return keep_fail(err, KEEP_E_RUN_NO_ENROLLER, "keep-enroll at %s: %s", path, e.message);
    return KEEP_OK;
}

/*
 * keep-enroll ADDR PORT CA_PEM NAME=GUEST_PATH...: everything it needs is in
 * its arguments, which the launch measurement covers through the options
 * they come from (src/host/measure.c).
 */
char **keep_enroll_argv(const struct keep_config *cfg, size_t *argc)
{
    size_t n = 4 + cfg->secret_count;
    char **argv = calloc(n + 1, sizeof(char *));
    if (!argv)
        return NULL;
    char addr[64], port[8];
    inet_ntop(AF_INET, cfg->steward.addr, addr, sizeof(addr));
    snprintf(port, sizeof(port), "%u", cfg->steward.port);
    argv[0] = strdup("keep-enroll");
    argv[1] = strdup(addr);
    argv[2] = strdup(port);
    argv[3] = strdup(cfg->steward_ca_pem);
    for (size_t i = 0; i < cfg->secret_count; i++) {
        size_t len = strlen(cfg->secret_names[i]) + strlen(cfg->secret_paths[i]) + 2;
        if ((argv[4 + i] = malloc(len)))
            snprintf(argv[4 + i], len, "%s=%s", cfg->secret_names[i], cfg->secret_paths[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (!argv[i]) {
            keep_enroll_argv_free(argv, n);
            return NULL;
        }
    }
    *argc = n;
    return argv;
}

void keep_enroll_argv_free(char **argv, size_t argc)
{
    for (size_t i = 0; argv && i < argc; i++)
        free(argv[i]);
    free(argv);
}
