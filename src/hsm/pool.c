/* SPDX-License-Identifier: Apache-2.0 */
#include "hsm/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/*
 * In a Keep every futex call that waits or wakes is an exit to the host (tens of µs, as long as
 * a signature), so the threads share a batch without the lock: one atomic word, the ticket,
 * holds the batch's generation, its job count and the next job to take. The caller stores a
 * new ticket (after the jobs pointer) and wakes the helpers; every thread, the caller too, takes
 * jobs by compare-and-swap on the ticket, which fails once a newer batch replaced it, so a
 * helper that wakes late cannot take a job of another batch. finished counts the jobs done; the
 * caller returns once it equals the count (spinning briefly first: the helper's last job is
 * usually shorter than a futex round trip), and only then may build the next batch.
 */
#define GEN_SHIFT   48
#define COUNT_SHIFT 24
#define INDEX_MASK  ((UINT64_C(1) << COUNT_SHIFT) - 1)
#define SPIN_ROUNDS 4000 /* pause instructions: about 100-500 µs at most */

struct hsm_pool {
    struct hsm_service *svc;
    void (*thread_init)(void);
    pthread_mutex_t lock; /* for the two condition variables only */
    pthread_cond_t work, done;
    struct hsm_job *jobs;
    _Atomic uint64_t ticket; /* generation << 48 | count << 24 | next */
    _Atomic uint32_t finished;
    _Atomic bool stopping;
    unsigned helpers;
    pthread_t threads[];
};

static void run_job(struct hsm_service *svc, struct hsm_job *j)
{
    j->rc = hsm_service_handle(svc, j->conn, j->frame, j->size, j->out, &j->err);
}

static uint64_t ticket_gen(uint64_t t)
{
    return t >> GEN_SHIFT;
}

/* Take and run jobs of batch generation gen until none is left. */
static void work_batch(struct hsm_pool *p, uint64_t gen)
{
    uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
    while (ticket_gen(t) == gen) {
        uint64_t count = (t >> COUNT_SHIFT) & INDEX_MASK, i = t & INDEX_MASK;
        if (i >= count)
            return;
        if (!atomic_compare_exchange_weak_explicit(&p->ticket, &t, t + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue; /* t now holds the current ticket */
        run_job(p->svc, &p->jobs[i]);
        if (atomic_fetch_add_explicit(&p->finished, 1, memory_order_acq_rel) + 1 == count) {
            pthread_mutex_lock(&p->lock);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->lock);
        }
        t = atomic_load_explicit(&p->ticket, memory_order_acquire);
    }
}

static void *helper(void *arg)
{
    struct hsm_pool *p = arg;
    if (p->thread_init)
        p->thread_init();
    uint64_t seen = ticket_gen(atomic_load(&p->ticket));
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (ticket_gen(atomic_load(&p->ticket)) == seen && !atomic_load(&p->stopping))
            pthread_cond_wait(&p->work, &p->lock);
        pthread_mutex_unlock(&p->lock);
        if (atomic_load(&p->stopping))
            return NULL;
        seen = ticket_gen(atomic_load(&p->ticket));
        work_batch(p, seen);
    }
}

int hsm_pool_new(struct hsm_service *svc, unsigned threads, void (*thread_init)(void),
                 struct hsm_pool **out, struct keep_error *err)
{
    if (threads < 1 || threads > 64)
        return keep_fail(err, KEEP_E_HSM_THREADS, "--threads %u: from 1 to 64", threads);
    struct hsm_pool *p = calloc(1, sizeof(*p) + (threads - 1) * sizeof(pthread_t));
    if (!p)
        return keep_fail(err, KEEP_E_NOMEM, "no memory for %u threads", threads);
    *p = (struct hsm_pool){.svc = svc, .thread_init = thread_init};
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (; p->helpers < threads - 1; p->helpers++) {
        int e = pthread_create(&p->threads[p->helpers], NULL, helper, p);
        if (e) {
            hsm_pool_free(p);
            return keep_fail(err, KEEP_E_HSM_THREADS, "cannot start helper thread %u of %u: %s",
                             p->helpers + 1, threads - 1, strerror(e));
        }
    }
    *out = p;
    return KEEP_OK;
}

void hsm_pool_free(struct hsm_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stopping, true);
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->helpers; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Every op of the batch only reads the service's state; any frame that does not parse runs alone.
 */
static bool all_concurrent(const struct hsm_job *jobs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        struct hsm_header h;
        struct keep_cursor cur;
        struct keep_error err;
        if (hsm_frame_open(jobs[i].frame, jobs[i].size, &h, &cur, &err) != KEEP_OK ||
            !hsm_service_concurrent(h.op))
            return false;
    }
    return true;
}

bool hsm_pool_run(struct hsm_pool *p, struct hsm_job *jobs, size_t count)
{
    if (!p->helpers || count < 2 || count > INDEX_MASK || !all_concurrent(jobs, count)) {
        for (size_t i = 0; i < count; i++)
            run_job(p->svc, &jobs[i]);
        return false;
    }
    uint64_t gen = (ticket_gen(atomic_load(&p->ticket)) + 1) & 0xffff;
    p->jobs = jobs;
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    pthread_mutex_lock(&p->lock);
    atomic_store_explicit(&p->ticket, gen << GEN_SHIFT | (uint64_t)count << COUNT_SHIFT,
                          memory_order_release);
    if (count == 2)
        pthread_cond_signal(&p->work);
    else
        pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    work_batch(p, gen);
    for (int i = 0; i < SPIN_ROUNDS && atomic_load(&p->finished) < count; i++)
        __builtin_ia32_pause();
    if (atomic_load(&p->finished) < count) {
        pthread_mutex_lock(&p->lock);
        while (atomic_load(&p->finished) < count)
            pthread_cond_wait(&p->done, &p->lock);
        pthread_mutex_unlock(&p->lock);
    }
    return true;
}
