/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Launch configuration parsing for `keep run` and `keep measure`.
 *
 * Everything is checked here, before any backend starts, so a bad command
 * line gets one precise line and exit status 64 and never a half-built
 * Keep. Names are resolved and paths canonicalised at parse time: the
 * launch measurement covers the values the Keep will actually use.
 */
#include "host/config.h"

#include "host/enroll.h"

#include "common/cursor.h"
#include "host/volumes.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define PAGE_SIZE_4K 4096ull

void keep_config_init(struct keep_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->backend = KEEP_BACKEND_AUTO;
    cfg->channel = KEEP_CHANNEL_DIRECT;
    cfg->memory_size = KEEP_DEFAULT_MEMORY_SIZE;
    cfg->hostile_host = KEEP_HOSTILE_NONE;
}

static void free_strings(char **list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(list[i]);
    free(list);
}

static void free_rules(struct keep_net_rule *rules, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(rules[i].text);
        free(rules[i].unix_path);
    }
    free(rules);
}

void keep_config_free(struct keep_config *cfg)
{
    if (!cfg)
        return;
    free_strings(cfg->argv, cfg->argc);
    free_strings(cfg->env, cfg->env_count);
    for (size_t i = 0; i < cfg->volume_count; i++) {
        free(cfg->volumes[i].host_dir);
        free(cfg->volumes[i].guest_dir);
    }
    free(cfg->volumes);
    free_rules(cfg->listen, cfg->listen_count);
    free_rules(cfg->connect, cfg->connect_count);
    free(cfg->steward_url);
    free(cfg->steward.text);
    free(cfg->steward.unix_path);
    free(cfg->steward_ca_pem);
    free_strings(cfg->secret_names, cfg->secret_count);
    free_strings(cfg->secret_paths, cfg->secret_count);
    free(cfg->enroller);
    keep_config_init(cfg);
}

/* Grow an array by one element; returns the new slot (zeroed) or NULL. */
static void *append_slot(void **array, size_t *count, size_t elem_size)
{
    size_t new_count, bytes;
    if (keep_add_overflows(*count, 1, &new_count) ||
        keep_mul_overflows(new_count, elem_size, &bytes))
        return NULL;
    uint8_t *grown = realloc(*array, bytes);
    if (!grown)
        return NULL;
    *array = grown;
    uint8_t *slot = grown + *count * elem_size;
    memset(slot, 0, elem_size);
    *count = new_count;
    return slot;
}

/* ---- --memory ---------------------------------------------------------- */

int keep_parse_memory_size(const char *text, uint64_t *out, struct keep_error *err)
{
    const char *p = text;
    uint64_t value = 0;
    if (!isdigit((unsigned char)*p))
        return keep_fail(err, KEEP_E_RUN_BAD_MEMORY,
                         "--memory '%s' is not a size; use a number with an optional K, M or G "
                         "suffix (e.g. 256M)",
                         text);
    for (; isdigit((unsigned char)*p); p++) {
        if (keep_mul_overflows(value, 10, &value) ||
            keep_add_overflows(value, (uint64_t)(*p - '0'), &value))
            return keep_fail(err, KEEP_E_RUN_BAD_MEMORY, "--memory '%s' is too large", text);
    }
    unsigned shift = 0;
    switch (*p) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    default:
        return keep_fail(err, KEEP_E_RUN_BAD_MEMORY,
                         "--memory '%s' has unknown suffix '%s'; use K, M or G", text, p);
    }
    if (*p && p[1] != '\0')
        return keep_fail(err, KEEP_E_RUN_BAD_MEMORY,
                         "--memory '%s' has trailing characters after the suffix", text);
    if (shift && value > (UINT64_MAX >> shift))
        return keep_fail(err, KEEP_E_RUN_BAD_MEMORY, "--memory '%s' is too large", text);
    value <<= shift;
    if (value % PAGE_SIZE_4K != 0)
        return keep_fail(err, KEEP_E_RUN_BAD_MEMORY,
                         "--memory '%s' is %llu bytes; it must be a multiple of 4096", text,
                         (unsigned long long)value);
    if (value < KEEP_MIN_MEMORY_SIZE || value > KEEP_MAX_MEMORY_SIZE)
        return keep_fail(err, KEEP_E_RUN_BAD_MEMORY,
                         "--memory '%s' is %llu bytes; it must be between %llu (2M) and %llu "
                         "(64G)",
                         text, (unsigned long long)value, (unsigned long long)KEEP_MIN_MEMORY_SIZE,
                         (unsigned long long)KEEP_MAX_MEMORY_SIZE);
    *out = value;
    return KEEP_OK;
}

/* ---- --volume ---------------------------------------------------------- */

/*
 * Normalise an absolute guest path: collapse repeated '/', drop "." and a
 * trailing '/'. ".." is refused rather than resolved: a volume's guest path
 * is a name, and a name with ".." in it means the user meant something else.
 */
static int normalise_guest_path(const char *volume, const char *path, char **out,
                                struct keep_error *err)
{
    if (path[0] != '/')
        return keep_fail(err, KEEP_E_RUN_BAD_VOLUME,
                         "--volume '%s': guest path '%s' must be absolute", volume, path);
    if (keep_guest_path_has_dotdot(path))
        return keep_fail(err, KEEP_E_RUN_BAD_VOLUME, "--volume '%s': guest path '%s' contains '..'",
                         volume, path);
    /* Normalising an absolute path never lengthens it. */
    size_t size = strlen(path) + 1;
    char *norm = malloc(size);
    if (!norm)
        return keep_fail(err, KEEP_E_NOMEM, "out of memory for --volume '%s'", volume);
    int rc = keep_guest_path_normalise("/", path, norm, size);
    if (rc) {
        free(norm);
        return keep_fail(err, KEEP_E_RUN_BAD_VOLUME, "--volume '%s': guest path '%s': %s", volume,
                         path, strerror(-rc));
    }
    if (strcmp(norm, "/") == 0) {
        free(norm);
        return keep_fail(err, KEEP_E_RUN_BAD_VOLUME,
                         "--volume '%s': guest path '%s' is the root; mount volumes below it "
                         "(e.g. /data)",
                         volume, path);
    }
    *out = norm;
    return KEEP_OK;
}

/* True when a equals b or one is a directory inside the other. */
static bool guest_paths_overlap(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t shorter = la < lb ? la : lb;
    if (strncmp(a, b, shorter) != 0)
        return false;
    if (la == lb)
        return true;
    const char *longer = la > lb ? a : b;
    return longer[shorter] == '/';
}

int keep_config_add_volume(struct keep_config *cfg, const char *text, struct keep_error *err)
{
    /* HOST_DIR may not contain ':' (the same rule as docker -v); GUEST_DIR neither. */
    const char *colon = strchr(text, ':');
    if (!colon || colon == text)
        return keep_fail(err, KEEP_E_RUN_BAD_VOLUME, "--volume '%s' is not HOST_DIR:GUEST_DIR[:ro]",
                         text);
    const char *guest = colon + 1;
    const char *second = strchr(guest, ':');
    bool read_only = false;
    if (second) {
        if (strcmp(second + 1, "ro") != 0 && strcmp(second + 1, "rw") != 0)
            return keep_fail(err, KEEP_E_RUN_BAD_VOLUME,
                             "--volume '%s': mode '%s' is unknown; use ro or rw", text, second + 1);
        read_only = strcmp(second + 1, "ro") == 0;
    }
    size_t host_len = (size_t)(colon - text);
    size_t guest_len = second ? (size_t)(second - guest) : strlen(guest);
    if (guest_len == 0)
        return keep_fail(err, KEEP_E_RUN_BAD_VOLUME, "--volume '%s': guest path is empty", text);

    char *host_text = strndup(text, host_len);
    char *guest_text = strndup(guest, guest_len);
    char *host_dir = NULL, *guest_dir = NULL;
    int rc = KEEP_OK;
    if (!host_text || !guest_text) {
        rc = keep_fail(err, KEEP_E_NOMEM, "out of memory for --volume '%s'", text);
        goto out;
    }
    host_dir = realpath(host_text, NULL);
    struct stat st;
    if (!host_dir) {
        rc = keep_fail(err, KEEP_E_RUN_BAD_VOLUME, "--volume '%s': host directory '%s': %s", text,
                       host_text, strerror(errno));
        goto out;
    }
    if (stat(host_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = keep_fail(err, KEEP_E_RUN_BAD_VOLUME,
                       "--volume '%s': host path '%s' is not a directory", text, host_dir);
        goto out;
    }
    rc = normalise_guest_path(text, guest_text, &guest_dir, err);
    if (rc)
        goto out;
    for (size_t i = 0; i < cfg->volume_count; i++) {
        if (guest_paths_overlap(cfg->volumes[i].guest_dir, guest_dir)) {
            rc = keep_fail(err, KEEP_E_RUN_VOLUME_CONFLICT,
                           "--volume '%s': guest path %s overlaps the volume at %s", text,
                           guest_dir, cfg->volumes[i].guest_dir);
            goto out;
        }
    }
    struct keep_volume *vol =
        append_slot((void **)&cfg->volumes, &cfg->volume_count, sizeof(*cfg->volumes));
    if (!vol) {
        rc = keep_fail(err, KEEP_E_NOMEM, "out of memory for --volume '%s'", text);
        goto out;
    }
    vol->host_dir = host_dir;
    vol->guest_dir = guest_dir;
    vol->read_only = read_only;
    host_dir = guest_dir = NULL;
out:
    free(host_text);
    free(guest_text);
    free(host_dir);
    free(guest_dir);
    return rc;
}

/* ---- --listen / --connect ---------------------------------------------- */

static int parse_port(const char *option, const char *text, const char *port_text, uint16_t *port,
                      struct keep_error *err)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)port_text[0]))
        return keep_fail(err, KEEP_E_RUN_BAD_ADDRESS, "%s '%s': port '%s' is not a number", option,
                         text, port_text);
    unsigned long value = strtoul(port_text, &end, 10);
    if (*end != '\0' || errno != 0 || value == 0 || value > 65535)
        return keep_fail(err, KEEP_E_RUN_BAD_ADDRESS,
                         "%s '%s': port '%s' must be a number from 1 to 65535", option, text,
                         port_text);
    *port = (uint16_t)value;
    return KEEP_OK;
}

static int resolve_host(const char *option, const char *text, const char *host,
                        struct keep_net_rule *rule, struct keep_error *err)
{
    /* Literal addresses first, so they never depend on the resolver. */
    if (inet_pton(AF_INET, host, rule->addr) == 1) {
        rule->family = AF_INET;
        return KEEP_OK;
    }
    if (inet_pton(AF_INET6, host, rule->addr) == 1) {
        rule->family = AF_INET6;
        return KEEP_OK;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0)
        return keep_fail(err, KEEP_E_RUN_BAD_ADDRESS, "%s '%s': cannot resolve '%s': %s", option,
                         text, host, gai_strerror(gai));
    /* The first answer is the one a client would try first; it is the one measured. */
    bool found = false;
    for (struct addrinfo *ai = res; ai && !found; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)ai->ai_addr;
            memcpy(rule->addr, &sin->sin_addr, 4);
            found = true;
        } else if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ai->ai_addr;
            memcpy(rule->addr, &sin6->sin6_addr, 16);
            found = true;
        }
        if (found)
            rule->family = ai->ai_family;
    }
    freeaddrinfo(res);
    if (!found)
        return keep_fail(err, KEEP_E_RUN_BAD_ADDRESS, "%s '%s': '%s' has no IPv4 or IPv6 address",
                         option, text, host);
    return KEEP_OK;
}

int keep_parse_net_rule(const char *option, const char *text, struct keep_net_rule *rule,
                        struct keep_error *err)
{
    memset(rule, 0, sizeof(*rule));
    char *host = NULL;
    const char *port_text;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return keep_fail(err, KEEP_E_RUN_BAD_ADDRESS,
                             "%s '%s' is not [IPv6]:PORT (missing ']:')", option, text);
        host = strndup(text + 1, (size_t)(close - text - 1));
        port_text = close + 2;
        if (host) {
            struct in6_addr tmp;
            if (inet_pton(AF_INET6, host, &tmp) != 1) {
                free(host);
                return keep_fail(err, KEEP_E_RUN_BAD_ADDRESS,
                                 "%s '%s': '%.*s' inside [] is not an IPv6 address", option, text,
                                 (int)(close - text - 1), text + 1);
            }
        }
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || colon == text)
            return keep_fail(err, KEEP_E_RUN_BAD_ADDRESS,
                             "%s '%s' is not ADDR:PORT (IPv6 addresses go in [])", option, text);
        if (memchr(text, ':', (size_t)(colon - text)))
            return keep_fail(err, KEEP_E_RUN_BAD_ADDRESS,
                             "%s '%s': write IPv6 addresses as [ADDR]:PORT", option, text);
        host = strndup(text, (size_t)(colon - text));
        port_text = colon + 1;
    }
    if (!host)
        return keep_fail(err, KEEP_E_NOMEM, "out of memory for %s '%s'", option, text);
    int rc = parse_port(option, text, port_text, &rule->port, err);
    if (rc == KEEP_OK)
        rc = resolve_host(option, text, host, rule, err);
    free(host);
    if (rc == KEEP_OK) {
        rule->text = strdup(text);
        if (!rule->text)
            rc = keep_fail(err, KEEP_E_NOMEM, "out of memory for %s '%s'", option, text);
    }
    return rc;
}

static int add_rule(struct keep_net_rule **rules, size_t *count, const char *option,
                    const char *text, struct keep_error *err)
{
    struct keep_net_rule rule;
    int rc = keep_parse_net_rule(option, text, &rule, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < *count; i++) {
        const struct keep_net_rule *r = &(*rules)[i];
        if (r->family == rule.family && r->port == rule.port &&
            memcmp(r->addr, rule.addr, sizeof(rule.addr)) == 0) {
            free(rule.text);
            return keep_fail(err, KEEP_E_RUN_BAD_ADDRESS,
                             "%s '%s' names the same address and port as '%s'", option, text,
                             r->text);
        }
    }
    struct keep_net_rule *slot = append_slot((void **)rules, count, sizeof(**rules));
    if (!slot) {
        free(rule.text);
        return keep_fail(err, KEEP_E_NOMEM, "out of memory for %s '%s'", option, text);
    }
    *slot = rule;
    return KEEP_OK;
}

/* ---- --listen unix:PATH (docs/HSM.md: how a PKCS#11 client reaches keep-hsm) ---- */

/*
 * A unix socket path the workload may bind. The path must be absolute (a
 * relative one would depend on keep's working directory, which is not
 * measured), fit in sun_path with its NUL (unix(7)), and not end in '/'.
 * Abstract sockets (a leading NUL) cannot be written on a command line.
 */
static int parse_unix_rule(const char *text, struct keep_net_rule *rule, struct keep_error *err)
{
    const char *path = text + strlen("unix:");
    size_t len = strlen(path);
    memset(rule, 0, sizeof(*rule));
    if (path[0] != '/')
        return keep_fail(err, KEEP_E_RUN_BAD_ADDRESS,
                         "--listen '%s': the unix socket path must be absolute", text);
    if (len > KEEP_UNIX_PATH_MAX)
        return keep_fail(err, KEEP_E_RUN_BAD_ADDRESS,
                         "--listen '%s': the path is %zu bytes; a unix socket path has at most %d",
                         text, len, KEEP_UNIX_PATH_MAX);
    if (path[len - 1] == '/')
        return keep_fail(err, KEEP_E_RUN_BAD_ADDRESS,
                         "--listen '%s': the path ends in '/'; name the socket file", text);
    rule->family = AF_UNIX;
    rule->text = strdup(text);
    rule->unix_path = strdup(path);
    if (!rule->text || !rule->unix_path) {
        free(rule->text);
        free(rule->unix_path);
        return keep_fail(err, KEEP_E_NOMEM, "out of memory for --listen '%s'", text);
    }
    return KEEP_OK;
}

static int add_unix_rule(struct keep_config *cfg, const char *text, struct keep_error *err)
{
    struct keep_net_rule rule;
    int rc = parse_unix_rule(text, &rule, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < cfg->listen_count; i++) {
        const struct keep_net_rule *r = &cfg->listen[i];
        if (r->family == AF_UNIX && strcmp(r->unix_path, rule.unix_path) == 0) {
            rc = keep_fail(err, KEEP_E_RUN_BAD_ADDRESS, "--listen '%s' is given twice", text);
            break;
        }
    }
    struct keep_net_rule *slot =
        rc ? NULL : append_slot((void **)&cfg->listen, &cfg->listen_count, sizeof(rule));
    if (!slot) {
        free(rule.text);
        free(rule.unix_path);
        return rc ? rc : keep_fail(err, KEEP_E_NOMEM, "out of memory for --listen '%s'", text);
    }
    *slot = rule;
    return KEEP_OK;
}

int keep_config_add_listen(struct keep_config *cfg, const char *text, struct keep_error *err)
{
    if (strncmp(text, "unix:", strlen("unix:")) == 0)
        return add_unix_rule(cfg, text, err);
    return add_rule(&cfg->listen, &cfg->listen_count, "--listen", text, err);
}

int keep_config_add_connect(struct keep_config *cfg, const char *text, struct keep_error *err)
{
    return add_rule(&cfg->connect, &cfg->connect_count, "--connect", text, err);
}

/* ---- --env ------------------------------------------------------------- */

int keep_config_add_env(struct keep_config *cfg, const char *text, struct keep_error *err)
{
    const char *eq = strchr(text, '=');
    if (!eq)
        return keep_fail(err, KEEP_E_RUN_BAD_ENV, "--env '%s' is not NAME=VALUE", text);
    size_t name_len = (size_t)(eq - text);
    if (name_len == 0)
        return keep_fail(err, KEEP_E_RUN_BAD_ENV, "--env '%s' has an empty NAME", text);
    for (size_t i = 0; i < cfg->env_count; i++) {
        if (strncmp(cfg->env[i], text, name_len + 1) == 0)
            return keep_fail(err, KEEP_E_RUN_BAD_ENV, "--env '%s': %.*s is already set", text,
                             (int)name_len, text);
    }
    char *copy = strdup(text);
    char **slot = copy ? append_slot((void **)&cfg->env, &cfg->env_count, sizeof(char *)) : NULL;
    if (!slot) {
        free(copy);
        return keep_fail(err, KEEP_E_NOMEM, "out of memory for --env '%s'", text);
    }
    *slot = copy;
    return KEEP_OK;
}

/* ---- PROGRAM [ARGS...] ------------------------------------------------- */

int keep_config_set_program(struct keep_config *cfg, int argc, char *const *argv,
                            struct keep_error *err)
{
    if (argc < 1 || !argv[0] || !argv[0][0])
        return keep_fail(err, KEEP_E_RUN_NO_PROGRAM, "no PROGRAM given");
    char **copy = calloc((size_t)argc + 1, sizeof(char *));
    if (!copy)
        return keep_fail(err, KEEP_E_NOMEM, "out of memory for %d arguments", argc);
    for (int i = 0; i < argc; i++) {
        copy[i] = strdup(argv[i]);
        if (!copy[i]) {
            free_strings(copy, (size_t)i);
            return keep_fail(err, KEEP_E_NOMEM, "out of memory for argument %d", i);
        }
    }
    free_strings(cfg->argv, cfg->argc);
    cfg->argv = copy;
    cfg->argc = (size_t)argc;
    cfg->program = copy[0];
    return KEEP_OK;
}

/* ---- the shared option parser ------------------------------------------ */

const char keep_launch_options_help[] =
    "  --backend auto|kvm|nil       where to run (auto: kvm when /dev/kvm works, else nil)\n"
    "  --memory SIZE                workload memory, e.g. 256M (K, M, G suffixes; default 256M)\n"
    "  --volume HOST_DIR:GUEST_DIR[:ro]\n"
    "                               make HOST_DIR visible at GUEST_DIR (read-only with :ro)\n"
    "  --listen ADDR:PORT           allow the workload to listen on ADDR:PORT\n"
    "  --listen unix:PATH           allow the workload to listen on the unix socket PATH\n"
    "  --connect HOST:PORT          allow the workload to connect to HOST:PORT\n"
    "  --env NAME=VALUE             set an environment variable (the environment is empty\n"
    "                               otherwise)\n"
    "  --channel direct|bounce      how forwarded calls move data (default direct)\n"
    "  --log error|warn|info|debug  how much keep itself says on stderr (default warn)\n"
    "  --steward https://IPV4:PORT  before the workload, enroll with keep-steward inside the\n"
    "                               Keep: key, certificate and CA in /run/keep/ (kvm only)\n"
    "  --steward-ca FILE            the service's CA certificate (PEM), required with --steward\n"
    "  --secret NAME[:GUEST_PATH]   fetch secret NAME to GUEST_PATH below /run/keep/\n"
    "                               (default /run/keep/secrets/NAME)\n";

enum {
    OPT_BACKEND = 256,
    OPT_MEMORY,
    OPT_VOLUME,
    OPT_LISTEN,
    OPT_CONNECT,
    OPT_ENV,
    OPT_CHANNEL,
    OPT_LOG,
    OPT_HOSTILE_HOST,
    OPT_STEWARD,
    OPT_STEWARD_CA,
    OPT_SECRET,
};

static const struct option launch_options[] = {
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"volume", required_argument, NULL, OPT_VOLUME},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"connect", required_argument, NULL, OPT_CONNECT},
    {"env", required_argument, NULL, OPT_ENV},
    {"channel", required_argument, NULL, OPT_CHANNEL},
    {"log", required_argument, NULL, OPT_LOG},
#if KEEP_WITH_HOSTILE_HOST
    {"hostile-host", required_argument, NULL, OPT_HOSTILE_HOST},
#endif
    {"steward", required_argument, NULL, OPT_STEWARD},
    {"steward-ca", required_argument, NULL, OPT_STEWARD_CA},
    {"secret", required_argument, NULL, OPT_SECRET},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_backend(const char *text, enum keep_backend *out, struct keep_error *err)
{
    static const char *names[] = {"auto", "kvm", "nil"};
    for (size_t i = 0; i < KEEP_ARRAY_LEN(names); i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (enum keep_backend)i;
            return KEEP_OK;
        }
    }
    return keep_fail(err, KEEP_E_RUN_BAD_OPTION, "--backend '%s' is unknown; use auto, kvm or nil",
                     text);
}

static int parse_channel(const char *text, enum keep_channel_path *out, struct keep_error *err)
{
    if (strcmp(text, "direct") == 0)
        *out = KEEP_CHANNEL_DIRECT;
    else if (strcmp(text, "bounce") == 0)
        *out = KEEP_CHANNEL_BOUNCE;
    else
        return keep_fail(err, KEEP_E_RUN_BAD_OPTION,
                         "--channel '%s' is unknown; use direct or bounce", text);
    return KEEP_OK;
}

#if KEEP_WITH_HOSTILE_HOST
static int parse_hostile(const char *text, enum keep_hostile_host *out, struct keep_error *err)
{
    static const struct {
        const char *name;
        enum keep_hostile_host mode;
    } modes[] = {
        {"none", KEEP_HOSTILE_NONE},
        {"read-too-long", KEEP_HOSTILE_READ_TOO_LONG},
        {"bad-fd", KEEP_HOSTILE_BAD_FD},
        {"stat-size", KEEP_HOSTILE_STAT_SIZE},
        {"msg-namelen", KEEP_HOSTILE_MSG_NAMELEN},
        {"sockaddr-len", KEEP_HOSTILE_SOCKADDR_LEN},
        {"dirent-reclen", KEEP_HOSTILE_DIRENT_RECLEN},
        {"dup-fd", KEEP_HOSTILE_DUP_FD},
        {"getcwd-nul", KEEP_HOSTILE_GETCWD_NUL},
    };
    for (size_t i = 0; i < KEEP_ARRAY_LEN(modes); i++) {
        if (strcmp(text, modes[i].name) == 0) {
            *out = modes[i].mode;
            return KEEP_OK;
        }
    }
    return keep_fail(err, KEEP_E_RUN_BAD_OPTION,
                     "--hostile-host '%s' is unknown; use read-too-long, bad-fd, stat-size, "
                     "msg-namelen, sockaddr-len, dirent-reclen, dup-fd or getcwd-nul",
                     text);
}
#endif

static int apply_option(struct keep_config *cfg, int opt, const char *arg,
                        struct keep_launch_extras *extras, struct keep_error *err)
{
    switch (opt) {
    case OPT_BACKEND:
        return parse_backend(arg, &cfg->backend, err);
    case OPT_MEMORY:
        return keep_parse_memory_size(arg, &cfg->memory_size, err);
    case OPT_VOLUME:
        return keep_config_add_volume(cfg, arg, err);
    case OPT_LISTEN:
        return keep_config_add_listen(cfg, arg, err);
    case OPT_CONNECT:
        return keep_config_add_connect(cfg, arg, err);
    case OPT_ENV:
        return keep_config_add_env(cfg, arg, err);
    case OPT_CHANNEL:
        return parse_channel(arg, &cfg->channel, err);
    case OPT_LOG:
        if (keep_log_parse_level(arg, &extras->log_level) != KEEP_OK)
            return keep_fail(err, KEEP_E_RUN_BAD_OPTION,
                             "--log '%s' is unknown; use error, warn, info or debug", arg);
        return KEEP_OK;
#if KEEP_WITH_HOSTILE_HOST
    case OPT_HOSTILE_HOST:
        return parse_hostile(arg, &cfg->hostile_host, err);
#endif
    case OPT_STEWARD:
        return keep_config_set_steward(cfg, arg, err);
    case OPT_STEWARD_CA:
        return keep_config_set_steward_ca(cfg, arg, err);
    case OPT_SECRET:
        return keep_config_add_secret(cfg, arg, err);
    case 'h':
        extras->help = true;
        return KEEP_OK;
    default:
        return keep_fail(err, KEEP_E_RUN_BAD_OPTION, "internal: unhandled option %d", opt);
    }
}

int keep_config_parse_args(struct keep_config *cfg, int argc, char **argv,
                           struct keep_launch_extras *extras, struct keep_error *err)
{
    extras->help = false;
    extras->log_level = KEEP_LOG_WARN;
    /* "+": stop at PROGRAM, so the workload's own options stay its own. */
    optind = 0; /* 0, not 1: glibc then resets all its state for a new command line */
    opterr = 0;
    unsigned seen = 0; /* options that take one value: given twice is a mistake */
    for (;;) {
        /* ':' first: a missing value is reported apart from an unknown option. */
        int index = -1;
        int opt = getopt_long(argc, argv, "+:h", launch_options, &index);
        if (opt == -1)
            break;
        const char *bad = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        if (opt == ':')
            return keep_fail(err, KEEP_E_RUN_BAD_OPTION, "option '%s' needs a value", bad);
        if (opt == '?') {
            if (optopt)
                return keep_fail(err, KEEP_E_RUN_BAD_OPTION, "unknown option '-%c'", optopt);
            return keep_fail(err, KEEP_E_RUN_BAD_OPTION, "unknown option '%s'", bad);
        }
        bool single = opt == OPT_BACKEND || opt == OPT_MEMORY || opt == OPT_CHANNEL ||
                      opt == OPT_LOG || opt == OPT_HOSTILE_HOST;
        unsigned bit = single ? 1u << (opt - OPT_BACKEND) : 0;
        if (seen & bit)
            return keep_fail(err, KEEP_E_RUN_BAD_OPTION, "option '--%s' is given twice",
                             launch_options[index].name);
        seen |= bit;
        int rc = apply_option(cfg, opt, optarg, extras, err);
        if (rc)
            return rc;
    }
    if (extras->help)
        return KEEP_OK;
    if (optind >= argc)
        return keep_fail(err, KEEP_E_RUN_NO_PROGRAM, "no PROGRAM given");
    int rc = keep_config_finish_steward(cfg, err);
    if (rc)
        return rc;
    return keep_config_set_program(cfg, argc - optind, argv + optind, err);
}
