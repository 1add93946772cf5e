/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drives keep_executor_run_batch() with arbitrary channel contents and an
 * arbitrary fake workload memory. Input layout:
 *
 *   byte 0          bit 0: keep the header's magic and version as given (else
 *                   force them valid, to reach the items); bit 1: bounce path
 *   next 8192       channel pages (header, items, data area), zero padded
 *   the rest        workload memory at guest address 0x400000, zero padded
 *
 * The executor confines itself; the harness only keeps a run from blocking
 * the fuzzer (sleeps dropped, fds non-blocking, zero poll timeouts) and
 * gives it a read-only volume, /dev/null stdio and no socket rules. ASan and
 * UBSan catch any out-of-bounds access, the checks below any wrong outcome.
 *
 * The same input is also given to the "kvm" evidence parser, and evidence the
 * executor builds for the batch must parse back.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/kvm_evidence.h"
#include "common/channel.h"
#include "host/exec_internal.h"
#include "host/executor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHAN_SIZE 8192u
#define MEM_BASE  0x400000ull
#define MEM_SIZE  65536u

static uint8_t chan[CHAN_SIZE] __attribute__((aligned(64)));
static uint8_t mem[MEM_SIZE] __attribute__((aligned(64)));
static char volume_dir[64];

static void remove_volume(void)
{
    char p[128];
    static const char *names[] = {"file", "link", "dir"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", volume_dir, names[i]);
        if (i == 2)
            rmdir(p);
        else
            unlink(p);
    }
    rmdir(volume_dir);
}

static void make_volume(void)
{
    char p[128];
    snprintf(volume_dir, sizeof(volume_dir), "/tmp/keep-fuzz-executor-XXXXXX");
    if (!mkdtemp(volume_dir))
        abort();
    snprintf(p, sizeof(p), "%s/file", volume_dir);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    if (fd < 0 || write(fd, "contents", 8) != 8)
        abort();
    close(fd);
    snprintf(p, sizeof(p), "%s/dir", volume_dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/link", volume_dir);
    if (symlink("../../etc/passwd", p) != 0)
        abort();
    atexit(remove_volume);
}

/* Rewrite what could block the fuzzer; everything else reaches the executor as given. */
static void defuse(struct keep_chan_item *it)
{
    switch (it->nr) {
    case KEEP_NR_nanosleep:
    case KEEP_NR_clock_nanosleep:
    /*
     * pause waits for a signal that never comes here, and alarm/setitimer set
     * the process's ITIMER_REAL, which is libFuzzer's own -timeout alarm: both
     * would stall the run. test_executor covers their handlers' hostile cases.
     */
    case KEEP_NR_pause:
    case KEEP_NR_alarm:
    case KEEP_NR_setitimer:
    case KEEP_NR_timer_settime: /* an armed guest timer's SIGALRM would end the fuzzer */
        it->nr = 39;            /* getpid: not forwarded, -ENOSYS */
        break;
    case KEEP_NR_poll:
        it->args[2] = 0;
        break;
    case KEEP_NR_epoll_wait:
    case KEEP_NR_epoll_pwait:
        it->args[3] = 0;
        break;
    case KEEP_NR_pipe2:
        it->args[1] |= O_NONBLOCK;
        break;
    case KEEP_NR_pipe:
        it->nr = KEEP_NR_pipe2, it->args[1] = O_NONBLOCK;
        break;
    case KEEP_NR_socket:
        it->args[1] |= SOCK_NONBLOCK;
        break;
    case KEEP_NR_fcntl:
        if (it->args[1] == F_SETFL)
            it->args[2] |= O_NONBLOCK;
        /* Two descriptions of one file make OFD locks conflict: never wait for one. */
        if (it->args[1] == F_SETLKW || it->args[1] == F_OFD_SETLKW)
            it->args[1] = it->args[1] == F_SETLKW ? F_SETLK : F_OFD_SETLK;
        break;
    case KEEP_NR_pselect6:
        it->nr = 39; /* its timeout lies in fuzzed memory and may be any length */
        break;
    case KEEP_NR_ioctl:
        if ((uint32_t)it->args[1] == KEEP_IOCTL_FIONBIO)
            it->args[1] = KEEP_IOCTL_FIONREAD;
        break;
    default:
        break;
    }
    /* ppoll with a NULL timeout would block: the same call as poll with 0 ms. */
    if (it->nr == KEEP_NR_ppoll) {
        it->nr = KEEP_NR_poll;
        it->args[2] = 0;
    }
}

/* Guest stdio becomes /dev/null so reads return EOF and writes vanish. */
static void quiet_stdio(struct keep_executor *x)
{
    for (int g = 0; g < 3; g++) {
        if (x->fds[g].kind != FD_FREE)
            close(x->fds[g].host);
        int h = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (h < 0)
            abort();
        x->fds[g] = (struct exec_fd){.host = h, .kind = FD_STDIO, .volume = -1};
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        make_volume();
        ready = true;
    }
    struct keep_kvm_evidence ev;
    struct keep_error perr;
    if (keep_kvm_evidence_parse(data, size, &ev, &perr) == KEEP_OK &&
        size != KEEP_KVM_EVIDENCE_SIZE)
        abort(); /* only exactly 136 bytes can be evidence */
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    data++, size--;
    memset(chan, 0, sizeof(chan));
    memset(mem, 0, sizeof(mem));
    size_t n = size < CHAN_SIZE ? size : CHAN_SIZE;
    memcpy(chan, data, n);
    if (size > n)
        memcpy(mem, data + n, size - n < MEM_SIZE ? size - n : MEM_SIZE);

    struct keep_chan_header *h = (struct keep_chan_header *)chan;
    if (!(mode & 1)) {
        h->magic = KEEP_CHAN_MAGIC;
        h->version = KEEP_CHAN_VERSION;
        h->path = (mode & 2) ? KEEP_CHAN_PATH_BOUNCE : KEEP_CHAN_PATH_DIRECT;
    }
    for (unsigned i = 0; i < KEEP_CHAN_MAX_ITEMS; i++)
        defuse((struct keep_chan_item *)(chan + KEEP_CHAN_ITEMS_OFFSET + i * KEEP_CHAN_ITEM_SIZE));

    char guest_dir[] = "/vol";
    struct keep_volume vol = {volume_dir, guest_dir, true};
    struct keep_config cfg = {.channel = (mode & 2) ? KEEP_CHANNEL_BOUNCE : KEEP_CHANNEL_DIRECT,
                              .volumes = &vol,
                              .volume_count = 1};
    uint8_t measurement[48] = {0};
    struct keep_executor *x;
    struct keep_error err;
    if (keep_executor_new(&cfg, measurement, &x, &err) != KEEP_OK)
        abort();
    quiet_stdio(x);
    struct keep_guest_mem gm = {.host = mem, .base = MEM_BASE, .size = MEM_SIZE};
    struct keep_exec_outcome outcome;
    if (keep_executor_run_batch(x, chan, CHAN_SIZE, &gm, &outcome, &err) != KEEP_OK)
        abort(); /* the channel is big enough: only a host failure may fail the batch */
    if (outcome.ended && (outcome.exit_status < 0 || outcome.exit_status > 255))
        abort();
    /* A refused batch leaves every result untouched; an accepted one answers each item. */
    int64_t status = h->status;
    if (status > 0)
        abort();
    keep_executor_free(x);
    return 0;
}
