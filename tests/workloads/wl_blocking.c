/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A thread blocked in a host call must not block the others (issue 8).
 * In each mode thread A blocks in a call that only thread B can end, and B
 * must first print (a forwarded write) before it ends it:
 *   pipe        A reads an empty pipe; B writes to it
 *   full-pipe   A writes 1 MiB to a pipe (it fills); B reads it all
 *   accept HOST PORT
 *               A accepts on HOST:PORT; B connects and sends a line
 *   tgkill      A waits in read of an empty pipe, then spins in its own
 *               code; each time B sends it SIGUSR1 with tgkill, and the
 *               handler must run on A (gettid) and end A's wait
 *   sigint      the first thread blocks SIGINT, A spins with it unblocked;
 *               a SIGINT to the process (sent by the test after "ready")
 *               must run its handler on A (POSIX: a thread that does not
 *               block it)
 * The output is the same natively and in a Keep, line by line: A prints
 * only after B ended its wait, B prints before. Run natively beside the
 * Keep run by tests/integration/suite.sh (suite_blocking).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "wl.h"

#define FULL_PIPE_BYTES (1u << 20)

static int fds[2];
static volatile int a_started;
static struct sockaddr_in addr;
static int listener = -1;
static char got[64];
static ssize_t got_len = -1;

/* Work B does first: CPU, then a forwarded write, while A waits in the host. */
static void compute_and_print(void)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 2000000; i++)
        h = (h ^ (uint64_t)i) * 1099511628211ull;
    printf("B computed %016llx while A waits\n", (unsigned long long)h);
    fflush(stdout);
}

/* Give A time to enter its call; the result does not depend on it. */
static void let_a_block(void)
{
    while (!a_started)
        sched_yield();
    struct timespec t = {0, 100 * 1000 * 1000};
    nanosleep(&t, NULL);
}

static void *read_empty_pipe(void *arg)
{
    (void)arg;
    a_started = 1;
    got_len = read(fds[0], got, sizeof(got) - 1);
    return NULL;
}

static void *write_full_pipe(void *arg)
{
    (void)arg;
    static char buf[FULL_PIPE_BYTES];
    memset(buf, 'x', sizeof(buf));
    a_started = 1;
    size_t done = 0;
    while (done < sizeof(buf)) {
        ssize_t n = write(fds[1], buf + done, sizeof(buf) - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    got_len = (ssize_t)done;
    close(fds[1]);
    return NULL;
}

static void *accept_one(void *arg)
{
    (void)arg;
    a_started = 1;
    int s = accept(listener, NULL, NULL);
    if (s < 0)
        return NULL;
    size_t off = 0;
    ssize_t n;
    while (off < sizeof(got) - 1 && (n = read(s, got + off, sizeof(got) - 1 - off)) > 0)
        off += (size_t)n;
    got_len = (ssize_t)off;
    close(s);
    return NULL;
}

static volatile pid_t a_tid, handler_tid;
static volatile int handled;
static volatile ssize_t a_read = 1;
static volatile int a_errno;

static void on_usr1(int sig)
{
    (void)sig;
    handler_tid = (pid_t)syscall(SYS_gettid);
    handled++;
}

static void *wait_then_spin(void *arg)
{
    (void)arg;
    char c;
    a_tid = (pid_t)syscall(SYS_gettid);
    a_started = 1;
    /* No SA_RESTART: the signal ends the read with EINTR (signal(7)). */
    a_read = read(fds[0], &c, 1);
    a_errno = errno;
    while (handled < 2) /* workload code only: no call until the second signal */
        ;
    return NULL;
}

static int mode_tgkill(void)
{
    pthread_t a;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    wl_check(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction SIGUSR1 without SA_RESTART");
    wl_check(pipe(fds) == 0, "pipe");
    wl_check(pthread_create(&a, NULL, wait_then_spin, NULL) == 0, "thread A started");
    let_a_block();
    compute_and_print();
    wl_check(syscall(SYS_tgkill, getpid(), a_tid, SIGUSR1) == 0, "tgkill SIGUSR1 to A");
    while (handled < 1)
        sched_yield();
    wl_check(handler_tid == a_tid, "the handler ran on thread A");
    while (a_read == 1)
        sched_yield();
    wl_check(a_read == -1 && a_errno == EINTR, "A's read of the empty pipe ended with EINTR");
    handler_tid = 0;
    wl_check(syscall(SYS_tgkill, getpid(), a_tid, SIGUSR1) == 0, "tgkill SIGUSR1 to A spinning");
    pthread_join(a, NULL);
    wl_check(handled == 2 && handler_tid == a_tid,
             "the handler ran on A while it spun in its own code");
    return wl_done();
}

static void *spin_until_handled(void *arg)
{
    (void)arg;
    a_tid = (pid_t)syscall(SYS_gettid);
    a_started = 1;
    while (!handled) /* workload code only */
        ;
    return NULL;
}

static int mode_sigint(void)
{
    pthread_t a;
    sigset_t intr;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    wl_check(sigaction(SIGINT, &sa, NULL) == 0, "sigaction SIGINT");
    wl_check(pthread_create(&a, NULL, spin_until_handled, NULL) == 0, "thread A started");
    sigemptyset(&intr);
    sigaddset(&intr, SIGINT);
    wl_check(pthread_sigmask(SIG_BLOCK, &intr, NULL) == 0, "the first thread blocks SIGINT");
    while (!a_started)
        sched_yield();
    printf("ready\n");
    fflush(stdout);
    pthread_join(a, NULL);
    wl_check(handled == 1 && handler_tid == a_tid,
             "the process's SIGINT ran its handler on A, the thread that does not block it");
    return wl_done();
}

static int mode_pipe(void)
{
    pthread_t a;
    wl_check(pipe(fds) == 0, "pipe");
    wl_check(pthread_create(&a, NULL, read_empty_pipe, NULL) == 0, "thread A started");
    let_a_block();
    compute_and_print();
    wl_check(write(fds[1], "wake up", 7) == 7, "B wrote 7 bytes to the pipe");
    pthread_join(a, NULL);
    got[got_len > 0 ? got_len : 0] = 0;
    wl_check(got_len == 7 && strcmp(got, "wake up") == 0,
             "A's read of the empty pipe returned B's 7 bytes (%zd: %s)", got_len, got);
    return wl_done();
}

static int mode_full_pipe(void)
{
    pthread_t a;
    static char buf[65536];
    size_t total = 0;
    ssize_t n;
    wl_check(pipe(fds) == 0, "pipe");
    wl_check(pthread_create(&a, NULL, write_full_pipe, NULL) == 0, "thread A started");
    let_a_block();
    compute_and_print();
    while ((n = read(fds[0], buf, sizeof(buf))) > 0)
        total += (size_t)n;
    pthread_join(a, NULL);
    wl_check(total == FULL_PIPE_BYTES && got_len == (ssize_t)FULL_PIPE_BYTES,
             "B read the %u bytes A wrote into the full pipe (read %zu, written %zd)",
             FULL_PIPE_BYTES, total, got_len);
    return wl_done();
}

static int mode_accept(const char *host, const char *port)
{
    pthread_t a;
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(port));
    inet_pton(AF_INET, host, &addr.sin_addr);
    listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    wl_check(bind(listener, (struct sockaddr *)&addr, sizeof(addr)) == 0, "bind");
    wl_check(listen(listener, 4) == 0, "listen");
    wl_check(pthread_create(&a, NULL, accept_one, NULL) == 0, "thread A started");
    let_a_block();
    compute_and_print();
    int s = socket(AF_INET, SOCK_STREAM, 0);
    wl_check(connect(s, (struct sockaddr *)&addr, sizeof(addr)) == 0,
             "B connected while A waits in accept");
    wl_check(write(s, "hello A", 7) == 7, "B sent 7 bytes");
    close(s);
    pthread_join(a, NULL);
    got[got_len > 0 ? got_len : 0] = 0;
    wl_check(got_len == 7 && strcmp(got, "hello A") == 0, "A accepted and read B's line (%zd: %s)",
             got_len, got);
    close(listener);
    return wl_done();
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "pipe") == 0)
        return mode_pipe();
    if (argc >= 2 && strcmp(argv[1], "full-pipe") == 0)
        return mode_full_pipe();
    if (argc >= 2 && strcmp(argv[1], "sigint") == 0)
        return mode_sigint();
    if (argc >= 2 && strcmp(argv[1], "tgkill") == 0)
        return mode_tgkill();
    if (argc >= 4 && strcmp(argv[1], "accept") == 0)
        return mode_accept(argv[2], argv[3]);
    fprintf(stderr, "usage: wl_blocking pipe | full-pipe | tgkill | sigint | accept HOST PORT\n");
    return 2;
}
