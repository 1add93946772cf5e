/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Launch measurement: the documented encoding (docs/KEEP.md, "Launch
 * measurement") rebuilt here by hand and hashed independently, determinism,
 * and a change in every measured input changes the value.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "host/measure.h"
#include "tap.h"

static const uint8_t shim[] = {0x90, 0x90, 0xf4};
static const uint8_t program[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};

/* ---- the encoding, written out independently of measure.c ------------- */

struct buf {
    uint8_t data[4096];
    size_t size;
};

static void raw(struct buf *b, const void *p, size_t n)
{
    if (b->size + n > sizeof(b->data))
        abort();
    memcpy(b->data + b->size, p, n);
    b->size += n;
}

static void u64le(struct buf *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        uint8_t byte = (uint8_t)(v >> (8 * i));
        raw(b, &byte, 1);
    }
}

static void bytes(struct buf *b, const void *p, size_t n)
{
    u64le(b, n);
    raw(b, p, n);
}

static void str(struct buf *b, const char *s)
{
    bytes(b, s, strlen(s));
}

static void sha384(const struct buf *b, uint8_t out[48])
{
    unsigned int n = 0;
    EVP_Digest(b->data, b->size, out, &n, EVP_sha384(), NULL);
}

/* A config with one of everything; tests change one field at a time. */
static char *argv_storage[3];
static char *env_storage[1];
static struct keep_volume volume_storage[1];
static struct keep_net_rule listen_storage[1], connect_storage[1];

static void base_config(struct keep_config *cfg)
{
    keep_config_init(cfg);
    static char a0[] = "/bin/prog", a1[] = "ab", a2[] = "c", e0[] = "K=v";
    static char host[] = "/srv/data", guest[] = "/data";
    argv_storage[0] = a0;
    argv_storage[1] = a1;
    argv_storage[2] = a2;
    env_storage[0] = e0;
    cfg->program = a0;
    cfg->argv = argv_storage;
    cfg->argc = 3;
    cfg->env = env_storage;
    cfg->env_count = 1;
    volume_storage[0] = (struct keep_volume){.host_dir = host, .guest_dir = guest};
    cfg->volumes = volume_storage;
    cfg->volume_count = 1;
    listen_storage[0] =
        (struct keep_net_rule){.family = AF_INET, .addr = {127, 0, 0, 1}, .port = 8080};
    connect_storage[0] =
        (struct keep_net_rule){.family = AF_INET6, .addr = {[15] = 1}, .port = 443};
    cfg->listen = listen_storage;
    cfg->listen_count = 1;
    cfg->connect = connect_storage;
    cfg->connect_count = 1;
    cfg->memory_size = 64ull << 20;
}

static void measure(const struct keep_config *cfg, const uint8_t *prog, size_t prog_size,
                    uint8_t out[48])
{
    struct keep_error err;
    if (keep_measure_launch(cfg, shim, sizeof(shim), prog, prog_size, out, &err) != KEEP_OK) {
        printf("# measure failed: %s\n", err.message);
        memset(out, 0, 48);
    }
}

static void test_known_encoding(void)
{
    struct keep_config cfg;
    base_config(&cfg);
    struct buf b = {.size = 0};
    raw(&b, "keep launch measurement v1", 26);
    bytes(&b, shim, sizeof(shim));
    bytes(&b, program, sizeof(program));
    u64le(&b, 64ull << 20);
    raw(&b, "\x00", 1); /* channel: direct */
    u64le(&b, 3);
    str(&b, "/bin/prog");
    str(&b, "ab");
    str(&b, "c");
    u64le(&b, 1);
    str(&b, "K=v");
    u64le(&b, 1);
    str(&b, "/data");
    raw(&b, "\x00", 1); /* read-write */
    u64le(&b, 1);
    raw(&b, "\x04\x7f\x00\x00\x01\x90\x1f", 7); /* IPv4 127.0.0.1 port 8080 LE */
    u64le(&b, 1);
    raw(&b, "\x06", 1);
    raw(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    raw(&b, "\xbb\x01", 2); /* port 443 LE */

    uint8_t want[48], got[48];
    sha384(&b, want);
    measure(&cfg, program, sizeof(program), got);
    ok(memcmp(want, got, 48) == 0, "measurement equals SHA-384 of the documented encoding");
}

/* --listen unix:PATH is byte 1 then bytes(PATH) inside rules(--listen) (docs/KEEP.md). */
static void test_unix_rule_encoding(void)
{
    struct keep_config cfg;
    base_config(&cfg);
    char path[] = "/run/hsm.sock", text[] = "unix:/run/hsm.sock";
    struct keep_net_rule rules[2] = {listen_storage[0],
                                     {.text = text, .family = AF_UNIX, .unix_path = path}};
    cfg.listen = rules;
    cfg.listen_count = 2;
    struct buf b = {.size = 0};
    raw(&b, "keep launch measurement v1", 26);
    bytes(&b, shim, sizeof(shim));
    bytes(&b, program, sizeof(program));
    u64le(&b, 64ull << 20);
    raw(&b, "\x00", 1);
    u64le(&b, 3);
    str(&b, "/bin/prog");
    str(&b, "ab");
    str(&b, "c");
    u64le(&b, 1);
    str(&b, "K=v");
    u64le(&b, 1);
    str(&b, "/data");
    raw(&b, "\x00", 1);
    u64le(&b, 2);
    raw(&b, "\x04\x7f\x00\x00\x01\x90\x1f", 7);
    raw(&b, "\x01", 1); /* AF_UNIX */
    str(&b, "/run/hsm.sock");
    u64le(&b, 1);
    raw(&b, "\x06", 1);
    raw(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    raw(&b, "\xbb\x01", 2);
    uint8_t want[48], got[48], other[48];
    sha384(&b, want);
    measure(&cfg, program, sizeof(program), got);
    ok(memcmp(want, got, 48) == 0, "a unix rule is measured as documented");
    path[5] = 'X';
    measure(&cfg, program, sizeof(program), other);
    ok(memcmp(got, other, 48) != 0, "another unix path changes the measurement");
}

/* keep run --steward: field 11 follows the connect rules, only with --steward (docs/KEEP.md). */
static void test_steward_encoding(void)
{
    struct keep_config cfg;
    base_config(&cfg);
    uint8_t plain[48], got[48], want[48], other[48];
    measure(&cfg, program, sizeof(program), plain);
    static uint8_t enroller[] = {0x7f, 'E', 'L', 'F', 9};
    char url[] = "https://127.0.0.1:8443", ca[] = "-----BEGIN CERTIFICATE-----\n";
    char n0[] = "db", p0[] = "/run/keep/db";
    char *names[] = {n0}, *paths[] = {p0};
    cfg.steward_url = url;
    cfg.steward = (struct keep_net_rule){.family = AF_INET, .addr = {127, 0, 0, 1}, .port = 8443};
    cfg.steward_ca_pem = ca;
    cfg.secret_names = names;
    cfg.secret_paths = paths;
    cfg.secret_count = 1;
    cfg.enroller = enroller;
    cfg.enroller_size = sizeof(enroller);
    struct buf b = {.size = 0};
    raw(&b, "keep launch measurement v1", 26);
    bytes(&b, shim, sizeof(shim));
    bytes(&b, program, sizeof(program));
    u64le(&b, 64ull << 20);
    raw(&b, "\x00", 1);
    u64le(&b, 3);
    str(&b, "/bin/prog");
    str(&b, "ab");
    str(&b, "c");
    u64le(&b, 1);
    str(&b, "K=v");
    u64le(&b, 1);
    str(&b, "/data");
    raw(&b, "\x00", 1);
    u64le(&b, 1);
    raw(&b, "\x04\x7f\x00\x00\x01\x90\x1f", 7);
    u64le(&b, 1);
    raw(&b, "\x06", 1);
    raw(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    raw(&b, "\xbb\x01", 2);
    str(&b, "steward");
    bytes(&b, enroller, sizeof(enroller));
    str(&b, url);
    u64le(&b, 1);
    raw(&b, "\x04\x7f\x00\x00\x01\xfb\x20", 7); /* 127.0.0.1 port 8443 LE */
    str(&b, ca);
    u64le(&b, 1);
    str(&b, "db");
    u64le(&b, 1);
    str(&b, "/run/keep/db");
    sha384(&b, want);
    measure(&cfg, program, sizeof(program), got);
    ok(memcmp(want, got, 48) == 0, "--steward is measured as documented (field 11)");
    ok(memcmp(plain, got, 48) != 0, "... and changes the measurement");
    ca[12] = 'X';
    measure(&cfg, program, sizeof(program), other);
    ok(memcmp(got, other, 48) != 0, "another pinned CA changes it");
    ca[12] = 'N';
    enroller[4] = 8;
    measure(&cfg, program, sizeof(program), other);
    ok(memcmp(got, other, 48) != 0, "another enroller image changes it");
    enroller[4] = 9;
    p0[10] = 'x';
    measure(&cfg, program, sizeof(program), other);
    ok(memcmp(got, other, 48) != 0, "another secret path changes it");
}

static void test_changes(void)
{
    struct keep_config cfg;
    uint8_t base[48], again[48], v[48];
    base_config(&cfg);
    measure(&cfg, program, sizeof(program), base);
    measure(&cfg, program, sizeof(program), again);
    ok(memcmp(base, again, 48) == 0, "same inputs, same measurement");

    uint8_t prog2[sizeof(program)];
    memcpy(prog2, program, sizeof(program));
    prog2[7] ^= 1;
    measure(&cfg, prog2, sizeof(prog2), v);
    ok(memcmp(base, v, 48) != 0, "one program bit changes it");

    struct keep_error err;
    uint8_t shim2[] = {0x90, 0x90, 0xf5};
    must_ok(keep_measure_launch(&cfg, shim2, sizeof(shim2), program, sizeof(program), v, &err));
    ok(memcmp(base, v, 48) != 0, "one shim bit changes it");

    /* "ab","c" vs "a","bc": same concatenation, different arguments. */
    static char a1[] = "a", a2[] = "bc";
    argv_storage[1] = a1;
    argv_storage[2] = a2;
    measure(&cfg, program, sizeof(program), v);
    ok(memcmp(base, v, 48) != 0, "moving a byte between arguments changes it");
    base_config(&cfg);

    static char e2[] = "K=w";
    env_storage[0] = e2;
    measure(&cfg, program, sizeof(program), v);
    ok(memcmp(base, v, 48) != 0, "an env value changes it");
    base_config(&cfg);

    cfg.env_count = 0;
    measure(&cfg, program, sizeof(program), v);
    ok(memcmp(base, v, 48) != 0, "dropping the env changes it");
    base_config(&cfg);

    volume_storage[0].read_only = true;
    measure(&cfg, program, sizeof(program), v);
    ok(memcmp(base, v, 48) != 0, "making the volume read-only changes it");
    base_config(&cfg);

    static char g2[] = "/datb";
    volume_storage[0].guest_dir = g2;
    measure(&cfg, program, sizeof(program), v);
    ok(memcmp(base, v, 48) != 0, "the volume's guest path changes it");
    base_config(&cfg);

    static char h2[] = "/elsewhere";
    volume_storage[0].host_dir = h2;
    measure(&cfg, program, sizeof(program), v);
    ok(memcmp(base, v, 48) == 0, "the host directory behind a volume does not");
    base_config(&cfg);

    listen_storage[0].port = 8081;
    measure(&cfg, program, sizeof(program), v);
    ok(memcmp(base, v, 48) != 0, "a listen port changes it");
    base_config(&cfg);

    connect_storage[0].addr[15] = 2;
    measure(&cfg, program, sizeof(program), v);
    ok(memcmp(base, v, 48) != 0, "a connect address changes it");
    base_config(&cfg);

    /* The same rule as listen or as connect is a different permission. */
    struct keep_config swapped;
    base_config(&swapped);
    swapped.listen = connect_storage;
    swapped.connect = listen_storage;
    measure(&swapped, program, sizeof(program), v);
    ok(memcmp(base, v, 48) != 0, "swapping listen and connect changes it");
    base_config(&cfg);

    cfg.memory_size += 4096;
    measure(&cfg, program, sizeof(program), v);
    ok(memcmp(base, v, 48) != 0, "memory size changes it");
    base_config(&cfg);

    cfg.channel = KEEP_CHANNEL_BOUNCE;
    measure(&cfg, program, sizeof(program), v);
    ok(memcmp(base, v, 48) != 0, "the channel path changes it");
    base_config(&cfg);

    cfg.backend = KEEP_BACKEND_NIL;
    cfg.hostile_host = KEEP_HOSTILE_BAD_FD;
    measure(&cfg, program, sizeof(program), v);
    ok(memcmp(base, v, 48) == 0, "backend and test-only host modes do not");
}

/*
 * keep run measures on a second thread (keep_measure_job): the value must be
 * the one keep_measure_launch gives, and a second wait returns it again.
 */
static void test_job(void)
{
    struct keep_config cfg;
    base_config(&cfg);
    uint8_t want[48], got[48], again[48];
    measure(&cfg, program, sizeof(program), want);
    struct keep_measure_job job;
    struct keep_error err = {0};
    keep_measure_job_start(&job, &cfg, shim, sizeof(shim), program, sizeof(program));
    is_int(keep_measure_job_wait(&job, got, &err), KEEP_OK, "the job's wait succeeds");
    ok(memcmp(want, got, 48) == 0, "the job's measurement equals keep_measure_launch's");
    is_int(keep_measure_job_wait(&job, again, &err), KEEP_OK, "a second wait succeeds");
    ok(memcmp(want, again, 48) == 0, "and returns the same measurement");
    ok(!job.running, "the thread was joined");
}

int main(void)
{
    test_known_encoding();
    test_unix_rule_encoding();
    test_steward_encoding();
    test_changes();
    test_job();
    return done_testing();
}
