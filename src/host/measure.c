/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Launch measurement. The encoding (docs/KEEP.md, "Launch measurement") is
 * a fixed sequence of fields, every variable-size field prefixed by its
 * length and every list by its count, so no two different launches encode
 * to the same bytes: moving a byte from one argument to the next, or from
 * the args into the env, changes the encoding.
 *
 *   u64(n)  = 8 bytes little-endian
 *   bytes(b) = u64(len b) || b
 *   list(l)  = u64(count) || bytes(l[0]) || ... || bytes(l[count-1])
 *
 * Host-side details that do not change what the workload sees (host
 * directories behind volumes, the backend, --log, test-only fault injection)
 * are deliberately not measured: the same Keep measures the same on any host.
 */
#include "host/measure.h"

#include <nettle/sha2.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>

/*
 * SHA-384 from nettle rather than OpenSSL: `keep run` measures every launch,
 * and OpenSSL's first digest loads its configuration and default provider,
 * which cost more than the hash itself on the hello-world start-up path
 * (docs/PERFORMANCE.md, "keep run"). The digest is the same FIPS 180-4
 * SHA-384 either way; tests/unit/test_measure.c recomputes it with OpenSSL.
 */
struct hasher {
    struct sha384_ctx ctx;
};

static void put(struct hasher *h, const void *data, size_t size)
{
    sha384_update(&h->ctx, size, data);
}

static void put_u64(struct hasher *h, uint64_t v)
{
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    put(h, le, sizeof(le));
}

static void put_u8(struct hasher *h, uint8_t v)
{
    put(h, &v, 1);
}

static void put_bytes(struct hasher *h, const void *data, size_t size)
{
    put_u64(h, size);
    put(h, data, size);
}

static void put_str(struct hasher *h, const char *s)
{
    put_bytes(h, s, strlen(s));
}

static void put_str_list(struct hasher *h, char *const *list, size_t count)
{
    put_u64(h, count);
    for (size_t i = 0; i < count; i++)
        put_str(h, list[i]);
}

/*
 * A socket rule is measured as the resolved address the executor enforces,
 * not the text: a name may resolve differently elsewhere, and what matters
 * is where the Keep may connect. Family is 4 or 6, not the host's AF_*.
 */
static void put_rules(struct hasher *h, const struct keep_net_rule *rules, size_t count)
{
    put_u64(h, count);
    for (size_t i = 0; i < count; i++) {
        if (rules[i].family == AF_UNIX) {
            /* --listen unix:PATH: byte 1 (AF_UNIX), then bytes(PATH) (docs/KEEP.md). */
            put_u8(h, 1);
            put_str(h, rules[i].unix_path);
            continue;
        }
        bool v4 = rules[i].family == AF_INET;
        put_u8(h, v4 ? 4 : 6);
        put(h, rules[i].addr, v4 ? 4 : 16);
        uint8_t port_le[2] = {(uint8_t)rules[i].port, (uint8_t)(rules[i].port >> 8)};
        put(h, port_le, sizeof(port_le));
    }
}

static void put_volumes(struct hasher *h, const struct keep_volume *vols, size_t count)
{
    put_u64(h, count);
    for (size_t i = 0; i < count; i++) {
        put_str(h, vols[i].guest_dir);
        put_u8(h, vols[i].read_only ? 1 : 0);
    }
}

int keep_measure_launch(const struct keep_config *cfg, const uint8_t *shim, size_t shim_size,
                        const uint8_t *program, size_t program_size,
                        uint8_t out[KEEP_MEASUREMENT_SIZE], struct keep_error *err)
{
    (void)err; /* nothing here can fail: the inputs are in memory */
    struct hasher h;
    sha384_init(&h.ctx);
    put(&h, KEEP_MEASUREMENT_DOMAIN, strlen(KEEP_MEASUREMENT_DOMAIN));
    put_bytes(&h, shim, shim_size);
    put_bytes(&h, program, program_size);
    put_u64(&h, cfg->memory_size);
    put_u8(&h, cfg->channel == KEEP_CHANNEL_BOUNCE ? 1 : 0);
    put_str_list(&h, cfg->argv, cfg->argc);
    put_str_list(&h, cfg->env, cfg->env_count);
    put_volumes(&h, cfg->volumes, cfg->volume_count);
    put_rules(&h, cfg->listen, cfg->listen_count);
    put_rules(&h, cfg->connect, cfg->connect_count);
    /*
     * keep run --steward (docs/KEEP.md, "Enrolment"): the enroller image, the service's URL and
     * address, the pinned CA and the secrets' names and paths. Only present with --steward, so
     * every other launch keeps its measurement.
     */
    if (cfg->steward_url) {
        put_str(&h, "steward");
        put_bytes(&h, cfg->enroller, cfg->enroller_size);
        put_str(&h, cfg->steward_url);
        put_rules(&h, &cfg->steward, 1);
        put_str(&h, cfg->steward_ca_pem);
        put_str_list(&h, cfg->secret_names, cfg->secret_count);
        put_str_list(&h, cfg->secret_paths, cfg->secret_count);
    }

    sha384_digest(&h.ctx, KEEP_MEASUREMENT_SIZE, out);
    return KEEP_OK;
}

/* ---- measuring on a second thread -------------------------------------- */

static void *measure_job_main(void *arg)
{
    struct keep_measure_job *job = arg;
    if (job->placed)
        (void)sched_setaffinity(0, sizeof(job->allowed), &job->allowed);
    job->rc = keep_measure_launch(job->cfg, job->shim, job->shim_size, job->program,
                                  job->program_size, job->digest, &job->err);
    return NULL;
}

/*
 * Start the thread on another CPU than this one. Left to itself, Linux
 * queues a new thread on its creator's CPU and moves it only at a later
 * load-balancing tick: measured here, the hash started 2 to 4 ms after
 * pthread_create (one tick at HZ=250), after the VM had long been created,
 * and the overlap was lost; started elsewhere it runs within 30 us. Once
 * running, the thread takes back the process's CPU mask, so a busy CPU
 * does not hold it.
 */
static void place_elsewhere(struct keep_measure_job *job, pthread_attr_t *attr)
{
    int self = sched_getcpu();
    if (self < 0 || sched_getaffinity(0, sizeof(job->allowed), &job->allowed) != 0 ||
        !CPU_ISSET(self, &job->allowed) || CPU_COUNT(&job->allowed) < 2)
        return;
    cpu_set_t others = job->allowed;
    CPU_CLR(self, &others);
    job->placed = pthread_attr_setaffinity_np(attr, sizeof(others), &others) == 0;
}

void keep_measure_job_start(struct keep_measure_job *job, const struct keep_config *cfg,
                            const uint8_t *shim, size_t shim_size, const uint8_t *program,
                            size_t program_size)
{
    memset(job, 0, sizeof(*job));
    job->cfg = cfg;
    job->shim = shim;
    job->shim_size = shim_size;
    job->program = program;
    job->program_size = program_size;
    pthread_attr_t attr;
    bool have_attr = pthread_attr_init(&attr) == 0;
    if (have_attr)
        place_elsewhere(job, &attr);
    /* The new thread inherits the mask: blocked there, signals go to this thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    job->running =
        pthread_create(&job->thread, have_attr ? &attr : NULL, measure_job_main, job) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (have_attr)
        pthread_attr_destroy(&attr);
    if (!job->running) {
        job->placed = false;
        measure_job_main(job);
    }
}

int keep_measure_job_wait(struct keep_measure_job *job, uint8_t out[KEEP_MEASUREMENT_SIZE],
                          struct keep_error *err)
{
    if (job->running) {
        pthread_join(job->thread, NULL);
        job->running = false;
    }
    if (job->rc)
        return keep_fail(err, job->rc, "%s", job->err.message);
    memcpy(out, job->digest, KEEP_MEASUREMENT_SIZE);
    return KEEP_OK;
}
