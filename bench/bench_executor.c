/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side of a forwarded call, beside the bare system call it makes:
 *   1. a 1-byte write to /dev/null: run_batch() with one item vs write(2);
 *   2. reading a 256 MiB file in 1 MiB reads on the direct path vs read(2)
 *      into the same buffer (the file is in the page cache for both).
 * This is the executor's share only; the guest exit itself is measured by
 * bench/bench_run.sh. Prints one line per figure.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/channel.h"
#include "host/exec_internal.h"
#include "host/executor.h"

/* A call the benchmark cannot go on without (the result is never ignored). */
#define bench_must(call)                                         \
    do {                                                         \
        if ((call) != KEEP_OK) {                                 \
            fprintf(stderr, "%s: %s failed\n", __FILE__, #call); \
            exit(1);                                             \
        }                                                        \
    } while (0)

#define MEM_BASE 0x400000ull

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t chan[8192] __attribute__((aligned(4096)));

static void one_item(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
    struct keep_chan_header *h = (struct keep_chan_header *)chan;
    *h = (struct keep_chan_header){
        .magic = KEEP_CHAN_MAGIC, .version = KEEP_CHAN_VERSION, .item_count = 1};
    struct keep_chan_item *it = (struct keep_chan_item *)(chan + KEEP_CHAN_ITEMS_OFFSET);
    *it = (struct keep_chan_item){.nr = nr, .args = {a0, a1, a2}};
}

int main(void)
{
    const size_t mem_size = 2u << 20, chunk = 1u << 20, file_size = 256u << 20;
    uint8_t *mem = aligned_alloc(4096, mem_size);
    char dir[] = "/tmp/keep-bench-executor-XXXXXX", path[128], vol_dir[] = "/data";
    if (!mem || !mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/big", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    memset(mem, 0x5a, chunk);
    for (size_t done = 0; done < file_size; done += chunk)
        if (write(fd, mem, chunk) != (ssize_t)chunk)
            return 1;
    close(fd);

    struct keep_volume vol = {dir, vol_dir, true};
    struct keep_config cfg = {.channel = KEEP_CHANNEL_DIRECT, .volumes = &vol, .volume_count = 1};
    uint8_t measurement[48] = {0};
    struct keep_executor *x;
    struct keep_error err;
    struct keep_exec_outcome out;
    struct keep_guest_mem gm = {.host = mem, .base = MEM_BASE, .size = mem_size};
    if (keep_executor_new(&cfg, measurement, &x, &err) != KEEP_OK)
        return fprintf(stderr, "%s\n", err.message), 1;

    /* 1. per-call cost */
    int null_fd = open("/dev/null", O_WRONLY);
    /* Guest stdout becomes /dev/null too, so both sides make the same write(2). */
    close(x->fds[1].host);
    x->fds[1].host = open("/dev/null", O_WRONLY | O_CLOEXEC);
    strcpy((char *)mem, "/dev/null");
    const int n = 1000000;
    double t0 = now();
    for (int i = 0; i < n; i++)
        if (write(null_fd, mem, 1) != 1)
            return 1;
    double bare = (now() - t0) / n;
    t0 = now();
    for (int i = 0; i < n; i++) {
        one_item(KEEP_NR_write, 1 /* guest stdout, now /dev/null */, MEM_BASE, 1);
        bench_must(keep_executor_run_batch(x, chan, sizeof(chan), &gm, &out, &err));
    }
    double fwd = (now() - t0) / n;
    strcpy((char *)mem + 64, "/data/big");
    printf("write 1 byte to /dev/null: bare write(2) %.0f ns, one-item batch through the executor "
           "%.0f ns\n",
           bare * 1e9, fwd * 1e9);

    /* 2. 256 MiB in 1 MiB reads */
    one_item(KEEP_NR_openat, (uint64_t)(int64_t)-100, MEM_BASE + 64, O_RDONLY);
    bench_must(keep_executor_run_batch(x, chan, sizeof(chan), &gm, &out, &err));
    int64_t gfd = ((struct keep_chan_item *)(chan + KEEP_CHAN_ITEMS_OFFSET))->result;
    int hfd = open(path, O_RDONLY);
    for (int round = 0; round < 2; round++) {
        lseek(hfd, 0, SEEK_SET);
        t0 = now();
        while (read(hfd, mem + 4096, chunk) > 0) {
        }
        double native = now() - t0;
        one_item(KEEP_NR_lseek, (uint64_t)gfd, 0, SEEK_SET);
        bench_must(keep_executor_run_batch(x, chan, sizeof(chan), &gm, &out, &err));
        t0 = now();
        for (;;) {
            one_item(KEEP_NR_read, (uint64_t)gfd, MEM_BASE + 4096, chunk);
            bench_must(keep_executor_run_batch(x, chan, sizeof(chan), &gm, &out, &err));
            if (((struct keep_chan_item *)(chan + KEEP_CHAN_ITEMS_OFFSET))->result <= 0)
                break;
        }
        double direct = now() - t0;
        if (round == 1)
            printf("read 256 MiB in 1 MiB reads: native %.0f MiB/s, direct path %.0f MiB/s "
                   "(%.0f%%)\n",
                   256 / native, 256 / direct, 100 * native / direct);
    }
    close(hfd);
    close(null_fd);
    keep_executor_free(x);
    unlink(path);
    rmdir(dir);
    free(mem);
    return 0;
}
