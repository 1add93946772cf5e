/* SPDX-License-Identifier: Apache-2.0 */
/* Launch option parsing: each accepted form and each refusal with its code. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/config.h"
#include "tap.h"

static char tmp_root[] = "/tmp/keep-test-config-XXXXXX";
static char dir_a[512], dir_b[512], file_c[512];

static void make_dirs(void)
{
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(dir_a, sizeof(dir_a), "%s/a", tmp_root);
    snprintf(dir_b, sizeof(dir_b), "%s/b", tmp_root);
    snprintf(file_c, sizeof(file_c), "%s/c", tmp_root);
    mkdir(dir_a, 0700);
    mkdir(dir_b, 0700);
    FILE *f = fopen(file_c, "w");
    if (f)
        fclose(f);
}

static void remove_dirs(void)
{
    rmdir(dir_a);
    rmdir(dir_b);
    unlink(file_c);
    rmdir(tmp_root);
}

static void test_memory(void)
{
    struct keep_error err;
    uint64_t v = 0;
    is_int(keep_parse_memory_size("256M", &v, &err), KEEP_OK, "256M parses");
    is_int(v, 256ull << 20, "256M is 256 MiB");
    is_int(keep_parse_memory_size("1g", &v, &err), KEEP_OK, "1g parses (lower case)");
    is_int(v, 1ull << 30, "1g is 1 GiB");
    is_int(keep_parse_memory_size("4096K", &v, &err), KEEP_OK, "4096K parses");
    is_int(v, 4ull << 20, "4096K is 4 MiB");
    is_int(keep_parse_memory_size("2097152", &v, &err), KEEP_OK, "plain bytes parse");
    is_int(v, 2097152, "plain bytes value");
    is_int(keep_parse_memory_size("64G", &v, &err), KEEP_OK, "64G (the maximum) parses");

    static const char *bad[] = {"",
                                "M",
                                "-1M",
                                "12X",
                                "1MB",
                                "1.5G",
                                "1M",
                                "65G",
                                "4097",
                                "1M ",
                                " 1M",
                                "99999999999999999999",
                                "999999999999G"};
    for (size_t i = 0; i < KEEP_ARRAY_LEN(bad); i++) {
        int rc = keep_parse_memory_size(bad[i], &v, &err);
        is_int(rc, KEEP_E_RUN_BAD_MEMORY, "--memory '%s' refused", bad[i]);
    }
    is_int(keep_parse_memory_size("4097", &v, &err), KEEP_E_RUN_BAD_MEMORY,
           "--memory 4097 refused");
    ok(strstr(err.message, "multiple of 4096") != NULL, "message says why: %s", err.message);
}

static void test_volumes(void)
{
    struct keep_config cfg;
    struct keep_error err;
    char arg[1200];
    keep_config_init(&cfg);

    snprintf(arg, sizeof(arg), "%s/../a/:/data//./x/", dir_b);
    is_int(keep_config_add_volume(&cfg, arg, &err), KEEP_OK, "volume with messy paths");
    is_str(cfg.volumes[0].host_dir, dir_a, "host dir resolved with realpath");
    is_str(cfg.volumes[0].guest_dir, "/data/x", "guest dir normalised");
    ok(!cfg.volumes[0].read_only, "read-write by default");

    snprintf(arg, sizeof(arg), "%s:/database:ro", dir_b);
    is_int(keep_config_add_volume(&cfg, arg, &err), KEEP_OK, "/database beside /data/x");
    ok(cfg.volumes[1].read_only, ":ro makes it read-only");
    is_int(cfg.volume_count, 2, "two volumes");

    snprintf(arg, sizeof(arg), "%s:/data", dir_b);
    is_int(keep_config_add_volume(&cfg, arg, &err), KEEP_E_RUN_VOLUME_CONFLICT,
           "/data contains /data/x: refused");
    snprintf(arg, sizeof(arg), "%s:/data/x/y", dir_b);
    is_int(keep_config_add_volume(&cfg, arg, &err), KEEP_E_RUN_VOLUME_CONFLICT,
           "/data/x/y inside /data/x: refused");
    snprintf(arg, sizeof(arg), "%s:/data/x", dir_b);
    is_int(keep_config_add_volume(&cfg, arg, &err), KEEP_E_RUN_VOLUME_CONFLICT,
           "same guest path twice: refused");
    ok(strstr(err.message, "/data/x") != NULL, "message names the paths: %s", err.message);

    /* Each refused form: tmp_root (when rooted) followed by rest. */
    struct {
        bool rooted;
        const char *rest;
        const char *why;
    } bad[] = {
        {true, "", "no guest path"},
        {false, ":/data", "no host dir"},
        {true, "/missing:/m", "host dir missing"},
        {true, "/c:/m", "host path is a file"},
        {true, ":relative", "guest path relative"},
        {true, ":/", "guest path is the root"},
        {true, "://./", "guest path normalises to the root"},
        {true, ":/a/../b", "guest path with .."},
        {true, ":/m:rx", "unknown mode"},
        {true, ":", "empty guest path"},
    };
    for (size_t i = 0; i < KEEP_ARRAY_LEN(bad); i++) {
        snprintf(arg, sizeof(arg), "%s%s", bad[i].rooted ? tmp_root : "", bad[i].rest);
        is_int(keep_config_add_volume(&cfg, arg, &err), KEEP_E_RUN_BAD_VOLUME, "refused: %s",
               bad[i].why);
    }
    is_int(cfg.volume_count, 2, "refusals added nothing");
    keep_config_free(&cfg);
    is_int(cfg.volume_count, 0, "free resets the config");
}

static void test_net(void)
{
    struct keep_net_rule r;
    struct keep_error err;
    is_int(keep_parse_net_rule("--listen", "127.0.0.1:8080", &r, &err), KEEP_OK, "IPv4:port");
    is_int(r.family, AF_INET, "IPv4 family");
    ok(memcmp(r.addr, "\x7f\x00\x00\x01", 4) == 0, "IPv4 bytes in network order");
    is_int(r.port, 8080, "port");
    is_str(r.text, "127.0.0.1:8080", "text kept for messages");
    free(r.text);

    is_int(keep_parse_net_rule("--connect", "[::1]:443", &r, &err), KEEP_OK, "[IPv6]:port");
    is_int(r.family, AF_INET6, "IPv6 family");
    ok(r.addr[15] == 1 && keep_mem_is_zero(r.addr, 15), "::1 bytes");
    is_int(r.port, 443, "IPv6 port");
    free(r.text);

    is_int(keep_parse_net_rule("--connect", "localhost:80", &r, &err), KEEP_OK,
           "name resolved at parse time");
    ok(r.family == AF_INET || r.family == AF_INET6, "localhost resolves to an address");
    free(r.text);

    static const char *bad[] = {"127.0.0.1",
                                "127.0.0.1:",
                                "127.0.0.1:0",
                                "127.0.0.1:65536",
                                "127.0.0.1:80x",
                                "::1:80",
                                "[::1]80",
                                "[127.0.0.1]:80",
                                ":80",
                                "[::1]:",
                                "no-such-host.invalid:80"};
    for (size_t i = 0; i < KEEP_ARRAY_LEN(bad); i++) {
        is_int(keep_parse_net_rule("--connect", bad[i], &r, &err), KEEP_E_RUN_BAD_ADDRESS,
               "'%s' refused", bad[i]);
    }
    ok(strstr(err.message, "no-such-host.invalid") != NULL, "message names the host: %s",
       err.message);

    struct keep_config cfg;
    keep_config_init(&cfg);
    is_int(keep_config_add_listen(&cfg, "0.0.0.0:9000", &err), KEEP_OK, "listen added");
    is_int(keep_config_add_listen(&cfg, "0.0.0.0:9000", &err), KEEP_E_RUN_BAD_ADDRESS,
           "same listen twice refused");
    is_int(keep_config_add_connect(&cfg, "0.0.0.0:9000", &err), KEEP_OK,
           "connect list is separate from listen");
    is_int(cfg.listen_count, 1, "one listen rule");
    is_int(cfg.connect_count, 1, "one connect rule");
    /* --listen unix:PATH (docs/HSM.md) */
    is_int(keep_config_add_listen(&cfg, "unix:/run/keep/hsm.sock", &err), KEEP_OK,
           "unix:PATH listen added");
    ok(cfg.listen_count == 2 && cfg.listen[1].family == AF_UNIX &&
           strcmp(cfg.listen[1].unix_path, "/run/keep/hsm.sock") == 0,
       "unix rule keeps its path");
    is_int(keep_config_add_listen(&cfg, "unix:/run/keep/hsm.sock", &err), KEEP_E_RUN_BAD_ADDRESS,
           "same unix path twice refused");
    is_int(keep_config_add_listen(&cfg, "unix:hsm.sock", &err), KEEP_E_RUN_BAD_ADDRESS,
           "relative unix path refused");
    ok(strstr(err.message, "absolute") != NULL, "message says why: %s", err.message);
    is_int(keep_config_add_listen(&cfg, "unix:/run/keep/", &err), KEEP_E_RUN_BAD_ADDRESS,
           "unix path ending in '/' refused");
    is_int(keep_config_add_listen(&cfg, "unix:", &err), KEEP_E_RUN_BAD_ADDRESS,
           "empty unix path refused");
    char longpath[140] = "unix:/";
    memset(longpath + 6, 'a', 120);
    is_int(keep_config_add_listen(&cfg, longpath, &err), KEEP_E_RUN_BAD_ADDRESS,
           "unix path longer than sun_path refused");
    ok(strstr(err.message, "121 bytes") != NULL, "message gives the length: %s", err.message);
    keep_config_free(&cfg);
}

static void test_env(void)
{
    struct keep_config cfg;
    struct keep_error err;
    keep_config_init(&cfg);
    is_int(keep_config_add_env(&cfg, "A=1", &err), KEEP_OK, "A=1");
    is_int(keep_config_add_env(&cfg, "AB=x=y", &err), KEEP_OK, "value may hold '='");
    is_int(keep_config_add_env(&cfg, "EMPTY=", &err), KEEP_OK, "empty value");
    is_int(keep_config_add_env(&cfg, "A=2", &err), KEEP_E_RUN_BAD_ENV, "A twice refused");
    is_int(keep_config_add_env(&cfg, "=1", &err), KEEP_E_RUN_BAD_ENV, "empty name refused");
    is_int(keep_config_add_env(&cfg, "NOEQUALS", &err), KEEP_E_RUN_BAD_ENV, "no '=' refused");
    is_int(cfg.env_count, 3, "three variables");
    is_str(cfg.env[1], "AB=x=y", "kept verbatim, in order");
    keep_config_free(&cfg);
}

static int parse(struct keep_config *cfg, struct keep_launch_extras *ex, struct keep_error *err,
                 int argc, const char **argv)
{
    keep_config_init(cfg);
    return keep_config_parse_args(cfg, argc, (char **)(uintptr_t)argv, ex, err);
}

static void test_parse_args(void)
{
    struct keep_config cfg;
    struct keep_launch_extras ex;
    struct keep_error err;
    char vol[600];
    snprintf(vol, sizeof(vol), "%s:/data:ro", dir_a);
    const char *full[] = {"run",         "--backend", "nil",         "--memory",  "64M",
                          "--volume",    vol,         "--env",       "X=1",       "--listen",
                          "127.0.0.1:1", "--connect", "127.0.0.1:2", "--channel", "bounce",
                          "--log",       "debug",     "--",          "/prog",     "--memory",
                          "-x",          NULL};
    int argc = (int)KEEP_ARRAY_LEN(full) - 1;
    is_int(parse(&cfg, &ex, &err, argc, full), KEEP_OK, "every option parses");
    is_int(cfg.backend, KEEP_BACKEND_NIL, "backend nil");
    is_int(cfg.memory_size, 64ull << 20, "memory 64M");
    is_int(cfg.channel, KEEP_CHANNEL_BOUNCE, "channel bounce");
    is_int(ex.log_level, KEEP_LOG_DEBUG, "log debug");
    is_int(cfg.volume_count, 1, "one volume");
    is_int(cfg.listen_count + cfg.connect_count, 2, "two socket rules");
    is_str(cfg.program, "/prog", "PROGRAM after --");
    is_int(cfg.argc, 3, "PROGRAM and its two arguments");
    is_str(cfg.argv[1], "--memory", "options after PROGRAM belong to it");
    ok(cfg.argv[3] == NULL, "argv is NULL-terminated");
    keep_config_free(&cfg);

    const char *stop[] = {"run", "/prog", "--env", "A=1", NULL};
    is_int(parse(&cfg, &ex, &err, 4, stop), KEEP_OK, "parsing stops at PROGRAM");
    is_int(cfg.env_count, 0, "--env after PROGRAM is an argument");
    is_int(cfg.memory_size, KEEP_DEFAULT_MEMORY_SIZE, "default memory");
    is_int(cfg.backend, KEEP_BACKEND_AUTO, "default backend auto");
    keep_config_free(&cfg);

    struct {
        const char *argv[4];
        int argc;
        int code;
        const char *needle;
    } bad[] = {
        {{"run", "--bogus", "/p"}, 3, KEEP_E_RUN_BAD_OPTION, "--bogus"},
        {{"run", "-x", "/p"}, 3, KEEP_E_RUN_BAD_OPTION, "-x"},
        {{"run", "--memory"}, 2, KEEP_E_RUN_BAD_OPTION, "needs a value"},
        {{"run", "--backend", "xen", "/p"}, 4, KEEP_E_RUN_BAD_OPTION, "xen"},
        {{"run", "--channel", "pipe", "/p"}, 4, KEEP_E_RUN_BAD_OPTION, "pipe"},
        {{"run", "--log", "loud", "/p"}, 4, KEEP_E_RUN_BAD_OPTION, "loud"},
#if KEEP_WITH_HOSTILE_HOST
        {{"run", "--hostile-host", "evil", "/p"}, 4, KEEP_E_RUN_BAD_OPTION, "evil"},
#else
        {{"run", "--hostile-host", "evil", "/p"}, 4, KEEP_E_RUN_BAD_OPTION, "--hostile-host"},
#endif
        {{"run"}, 1, KEEP_E_RUN_NO_PROGRAM, "PROGRAM"},
        {{"run", "--"}, 2, KEEP_E_RUN_NO_PROGRAM, "PROGRAM"},
        {{"run", "--env", "X", "/p"}, 4, KEEP_E_RUN_BAD_ENV, "NAME=VALUE"},
        {{"run", "--memory=8M", "--memory=16M", "/p"}, 4, KEEP_E_RUN_BAD_OPTION, "given twice"},
    };
    for (size_t i = 0; i < KEEP_ARRAY_LEN(bad); i++) {
        int rc = parse(&cfg, &ex, &err, bad[i].argc, bad[i].argv);
        is_int(rc, bad[i].code, "refused: %s %s", bad[i].argv[1] ? bad[i].argv[1] : "",
               bad[i].argv[2] ? bad[i].argv[2] : "");
        ok(strstr(err.message, bad[i].needle) != NULL, "message '%s' mentions '%s'", err.message,
           bad[i].needle);
        keep_config_free(&cfg);
    }

    const char *help[] = {"run", "--help", NULL};
    is_int(parse(&cfg, &ex, &err, 2, help), KEEP_OK, "--help needs no PROGRAM");
    ok(ex.help, "help flag set");
    keep_config_free(&cfg);

    const char *hostile[] = {"run", "--hostile-host", "read-too-long", "/p", NULL};
#if KEEP_WITH_HOSTILE_HOST
    is_int(parse(&cfg, &ex, &err, 4, hostile), KEEP_OK, "--hostile-host parses");
    is_int(cfg.hostile_host, KEEP_HOSTILE_READ_TOO_LONG, "mode read-too-long");
#else
    is_int(parse(&cfg, &ex, &err, 4, hostile), KEEP_E_RUN_BAD_OPTION,
           "built without -Dhostile_host: --hostile-host is an unknown option");
#endif
    keep_config_free(&cfg);
}

/* keep run --steward URL --steward-ca FILE --secret NAME[:PATH] (src/host/enroll.c). */
static void test_steward(void)
{
    struct keep_config cfg;
    struct keep_launch_extras ex;
    struct keep_error err;
    char ca[600], notpem[600];
    snprintf(ca, sizeof(ca), "%s/ca.pem", tmp_root);
    snprintf(notpem, sizeof(notpem), "%s/notpem", tmp_root);
    FILE *f = fopen(ca, "w");
    fputs("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    f = fopen(notpem, "w");
    fputs("hello\n", f);
    fclose(f);
    setenv("KEEP_ENROLLER", ca, 1); /* any readable file: the parser only reads it */
    const char *good[] = {"run",
                          "--steward",
                          "https://127.0.0.1:8443/",
                          "--steward-ca",
                          ca,
                          "--secret",
                          "db:/run/keep/db",
                          "--secret",
                          "tls.key",
                          "/p",
                          NULL};
    is_int(parse(&cfg, &ex, &err, 10, good), KEEP_OK, "--steward, --steward-ca, --secret parse");
    is_int(cfg.steward.port, 8443, "the service's port");
    ok(cfg.steward.addr[0] == 127 && cfg.steward.addr[3] == 1, "the service's address");
    ok(cfg.steward_ca_pem && strstr(cfg.steward_ca_pem, "BEGIN CERTIFICATE"), "the CA is read");
    ok(cfg.enroller_size > 0, "keep-enroll is read");
    is_int(cfg.secret_count, 2, "two secrets");
    ok(cfg.secret_count == 2 && !strcmp(cfg.secret_paths[0], "/run/keep/db") &&
           !strcmp(cfg.secret_paths[1], "/run/keep/secrets/tls.key"),
       "secret paths: given, and /run/keep/secrets/NAME by default");
    keep_config_free(&cfg);
    const struct {
        const char *argv[8];
        int argc, code;
        const char *needle;
    } bad[] = {
        {{"run", "--steward", "http://127.0.0.1:1", "--steward-ca", ca, "/p"},
         6,
         KEEP_E_RUN_BAD_STEWARD,
         "https://"},
        {{"run", "--steward", "https://steward.example:1", "--steward-ca", ca, "/p"},
         6,
         KEEP_E_RUN_BAD_STEWARD,
         "IPv4"},
        {{"run", "--steward", "https://127.0.0.1", "--steward-ca", ca, "/p"},
         6,
         KEEP_E_RUN_BAD_STEWARD,
         "PORT"},
        {{"run", "--steward", "https://127.0.0.1:1", "/p"},
         4,
         KEEP_E_RUN_BAD_STEWARD,
         "--steward-ca"},
        {{"run", "--steward-ca", ca, "/p"}, 4, KEEP_E_RUN_BAD_STEWARD, "need --steward"},
        {{"run", "--secret", "db", "/p"}, 4, KEEP_E_RUN_BAD_STEWARD, "need --steward"},
        {{"run", "--steward", "https://127.0.0.1:1", "--steward-ca", notpem, "/p"},
         6,
         KEEP_E_RUN_BAD_STEWARD,
         "not a PEM"},
        {{"run", "--secret", "../x", "/p"}, 4, KEEP_E_RUN_BAD_SECRET, "NAME"},
        {{"run", "--secret", "db:/etc/db", "/p"}, 4, KEEP_E_RUN_BAD_SECRET, "/run/keep/"},
        {{"run", "--secret", "db:/run/keep/../db", "/p"}, 4, KEEP_E_RUN_BAD_SECRET, "/run/keep/"},
        {{"run", "--secret", "db:/run/keep/a/b/c", "/p"}, 4, KEEP_E_RUN_BAD_SECRET, "/run/keep/"},
        {{"run", "--secret", "db:/run/keep/key.pem", "/p"}, 4, KEEP_E_RUN_BAD_SECRET, "identity"},
        {{"run", "--secret", "db", "--secret", "db:/run/keep/x", "/p"},
         6,
         KEEP_E_RUN_BAD_SECRET,
         "already"},
    };
    for (size_t i = 0; i < KEEP_ARRAY_LEN(bad); i++) {
        const char *argv[9] = {0};
        memcpy(argv, bad[i].argv, sizeof(bad[i].argv));
        int rc = parse(&cfg, &ex, &err, bad[i].argc, argv);
        is_int(rc, bad[i].code, "refused: %s %s", bad[i].argv[1], bad[i].argv[2]);
        ok(strstr(err.message, bad[i].needle) != NULL, "message '%s' mentions '%s'", err.message,
           bad[i].needle);
        keep_config_free(&cfg);
    }
    char vol[700];
    snprintf(vol, sizeof(vol), "%s:/run/keep/x", tmp_root);
    const char *shadow[] = {"run",          "--volume", vol,  "--steward", "https://127.0.0.1:1",
                            "--steward-ca", ca,         "/p", NULL};
    is_int(parse(&cfg, &ex, &err, 8, shadow), KEEP_E_RUN_BAD_STEWARD,
           "a volume inside /run/keep is refused with --steward");
    ok(strstr(err.message, "Keep-private") != NULL, "message says why: %s", err.message);
    keep_config_free(&cfg);
    setenv("KEEP_ENROLLER", notpem, 1);
    unlink(notpem);
    const char *missing[] = {"run", "--steward", "https://127.0.0.1:1", "--steward-ca", ca,
                             "/p",  NULL};
    is_int(parse(&cfg, &ex, &err, 6, missing), KEEP_E_RUN_NO_ENROLLER,
           "a missing keep-enroll is refused");
    ok(strstr(err.message, "keep-enroll") != NULL, "message names keep-enroll: %s", err.message);
    keep_config_free(&cfg);
    unsetenv("KEEP_ENROLLER");
    unlink(ca);
}

int main(void)
{
    make_dirs();
    test_memory();
    test_volumes();
    test_net();
    test_env();
    test_parse_args();
    test_steward();
    remove_dirs();
    return done_testing();
}
