/* SPDX-License-Identifier: Apache-2.0 */
#include "hsm/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * The caller publishes a batch (jobs, count, next = 0, generation + 1) under
 * the lock; it and the helpers take job indexes under the lock and run them
 * outside it; the caller returns once finished == count. A helper touches
 * jobs[i] only between taking i and counting it finished, so the caller may
 * build the next batch as soon as it returns. In a Keep a wake-up or a wait
 * that blocks is a host call, so helpers are woken only for a batch of two
 * or more jobs, and the caller works too instead of only waiting.
 */
struct hsm_pool {
    struct hsm_service *svc;
    void (*thread_init)(void);
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    struct hsm_job *jobs;
    size_t count, next, finished;
    uint64_t generation;
    bool stopping;
    unsigned helpers;
    pthread_t threads[];
};

static void run_job(struct hsm_service *svc, struct hsm_job *j)
{
    j->rc = hsm_service_handle(svc, j->conn, j->frame, j->size, j->out, &j->err);
}

/* Take and run jobs of the published batch until none is left (called and returns locked). */
static void work_batch(struct hsm_pool *p)
{
    while (p->next < p->count) {
        struct hsm_job *j = &p->jobs[p->next++];
        pthread_mutex_unlock(&p->lock);
        run_job(p->svc, j);
        pthread_mutex_lock(&p->lock);
        if (++p->finished == p->count)
            pthread_cond_signal(&p->done);
    }
}

static void *helper(void *arg)
{
    struct hsm_pool *p = arg;
    if (p->thread_init)
        p->thread_init();
    pthread_mutex_lock(&p->lock);
    uint64_t seen = p->generation;
    for (;;) {
        while (seen == p->generation && !p->stopping)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->stopping)
            break;
        seen = p->generation;
        work_batch(p);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
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
    p->stopping = true;
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
    if (!p->helpers || count < 2 || !all_concurrent(jobs, count)) {
        for (size_t i = 0; i < count; i++)
            run_job(p->svc, &jobs[i]);
        return false;
    }
    pthread_mutex_lock(&p->lock);
    p->jobs = jobs;
    p->count = count;
    p->next = p->finished = 0;
    p->generation++;
    if (count == 2)
        pthread_cond_signal(&p->work);
    else
        pthread_cond_broadcast(&p->work);
    work_batch(p);
    while (p->finished < p->count)
        pthread_cond_wait(&p->done, &p->lock);
    p->jobs = NULL;
    p->count = p->next = p->finished = 0;
    pthread_mutex_unlock(&p->lock);
    return true;
}
