/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Several threads for one batch of requests: keep-hsm reads every frame its
 * clients pipelined, then runs them here. In a Keep each thread is a vCPU, so
 * eight sessions' signatures use both cores. Only a batch whose every op
 * only reads the service's state (hsm_service_concurrent) is spread over
 * the threads; any other batch runs in order on the calling thread, exactly
 * as before (docs/HSM.md, "Transport").
 */
#ifndef KEEP_HSM_POOL_H
#define KEEP_HSM_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsm/service.h"

/* One request frame (whole, from hsm_frame_split) and where its reply goes. */
struct hsm_job {
    uint64_t conn;
    const uint8_t *frame;
    size_t size;
    struct hsm_buf *out; /* the reply frame is appended here */
    int rc;              /* hsm_service_handle's result; err says why when not KEEP_OK */
    struct keep_error err;
};

struct hsm_pool;

/*
 * A pool of threads - 1 helpers beside the caller (threads >= 1; 1: no
 * helper). thread_init, when not NULL, runs first on every helper thread.
 */
int hsm_pool_new(struct hsm_service *svc, unsigned threads, void (*thread_init)(void),
                 struct hsm_pool **out, struct keep_error *err);
void hsm_pool_free(struct hsm_pool *p);

/*
 * Run every job and return when all are done. Concurrent jobs must have
 * distinct out buffers; a batch with an op that is not concurrent runs in
 * order on the calling thread (then out buffers may be shared). Returns
 * true when the batch was spread over the threads.
 */
bool hsm_pool_run(struct hsm_pool *p, struct hsm_job *jobs, size_t count);

#endif /* KEEP_HSM_POOL_H */
