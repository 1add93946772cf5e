/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host-call executor: batch and item checks, argument mapping by the
 * shared description (src/common/channel.h), the fd table, host calls.
 * docs/KEEP.md, "The channel" and "Two data paths".
 */
#include "host/executor.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "attest/kvm_evidence.h"
#include "common/cursor.h"
#include "common/util.h"
#include "host/exec_internal.h"
#include "host/netpolicy.h"

static exec_handler handler_for(uint64_t nr);
static void prepare_stop_kick(void);

/* ---- fd table ----------------------------------------------------------- */

struct exec_fd *keep_exec_fd(struct keep_executor *x, int guest)
{
    if (guest < 0 || guest >= (int)KEEP_CHAN_MAX_FDS || x->fds[guest].kind == FD_FREE)
        return NULL;
    return &x->fds[guest];
}

int keep_exec_fd_install(struct keep_executor *x, int host, enum exec_fd_kind kind, int min)
{
    for (int g = min < 0 ? 0 : min; g < (int)KEEP_CHAN_MAX_FDS; g++) {
        if (x->fds[g].kind == FD_FREE) {
            x->fds[g] = (struct exec_fd){.host = host, .kind = (uint8_t)kind, .volume = -1};
            return g;
        }
    }
    close(host);
    return -EMFILE;
}

void keep_exec_fd_release(struct keep_executor *x, int guest)
{
    struct exec_fd *f = &x->fds[guest];
    free(f->guest_path);
    *f = (struct exec_fd){.host = -1, .kind = FD_FREE, .volume = -1};
}

/* ---- host calls without the lock (docs/HACKING.md, "The executor lock") -- */

static bool inflight_uses(const struct exec_inflight *f, int host)
{
    for (int i = 0; i < 6; i++)
        if (f->hfd[i] == host)
            return true;
    for (size_t i = 0; i < f->pfd_count; i++)
        if (f->pfd[i].fd == host)
            return true;
    return false;
}

static bool host_fd_in_use(const struct keep_executor *x, int host)
{
    for (const struct exec_inflight *f = x->inflight; f; f = f->next)
        if (inflight_uses(f, host))
            return true;
    return false;
}

void keep_exec_unlock(struct exec_call *c, const struct pollfd *pfd, size_t pfd_count)
{
    struct exec_inflight *f = &c->inflight;
    for (int i = 0; i < 6; i++) {
        uint8_t kind = c->desc->args[i].kind;
        bool fd_arg = kind == KEEP_ARG_FD || kind == KEEP_ARG_DIRFD;
        f->hfd[i] = fd_arg && c->hfd[i] >= 0 ? c->hfd[i] : -1;
    }
    f->pfd = pfd;
    f->pfd_count = pfd ? pfd_count : 0;
    f->next = c->x->inflight;
    c->x->inflight = f;
    if (c->x->blocking)
        c->x->blocking(c->x->blocking_ctx, true);
}

/* Close the deferred host fds no unlocked item uses any more. */
static void close_deferred(struct keep_executor *x)
{
    size_t kept = 0;
    for (size_t i = 0; i < x->deferred_count; i++) {
        if (host_fd_in_use(x, x->deferred[i]))
            x->deferred[kept++] = x->deferred[i];
        else
            close(x->deferred[i]);
    }
    x->deferred_count = kept;
}

void keep_exec_relock(struct exec_call *c)
{
    struct keep_executor *x = c->x;
    int saved = errno; /* the handler reads its host call's errno afterwards */
    if (x->blocking)
        x->blocking(x->blocking_ctx, false);
    for (struct exec_inflight **p = &x->inflight; *p; p = &(*p)->next) {
        if (*p == &c->inflight) {
            *p = c->inflight.next;
            break;
        }
    }
    if (x->deferred_count)
        close_deferred(x);
    errno = saved;
}

int keep_exec_close_host(struct keep_executor *x, int host)
{
    if (!host_fd_in_use(x, host))
        return close(host);
    if (x->deferred_count == x->deferred_cap) {
        size_t cap = x->deferred_cap ? 2 * x->deferred_cap : 16;
        int *grown = realloc(x->deferred, cap * sizeof(*grown));
        if (!grown) {
            /* Rather a host fd number reused under a running call than one leaked. */
            keep_log(KEEP_LOG_WARN, "executor: no memory to defer closing host fd %d", host);
            return close(host);
        }
        x->deferred = grown;
        x->deferred_cap = cap;
    }
    x->deferred[x->deferred_count++] = host;
    return 0;
}

/* ---- new / free --------------------------------------------------------- */

/*
 * The guest may hold KEEP_CHAN_MAX_FDS fds beside the host's own (stdio,
 * KVM, volume roots); the common soft limit of 1024 would make the host's
 * calls fail first. Raise the soft limit toward the hard one; if that is
 * refused the guest simply sees -EMFILE earlier.
 */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    const rlim_t want = 2 * KEEP_CHAN_MAX_FDS + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

void keep_executor_set_blocking(struct keep_executor *exec, void (*fn)(void *ctx, bool begin),
                                void *ctx)
{
    exec->blocking = fn;
    exec->blocking_ctx = ctx;
}

void keep_executor_defer_measurement(struct keep_executor *exec, struct keep_measure_job *job)
{
    exec->pending_measurement = job;
}

/*
 * The umask keep started with: the guest's first umask, as a child
 * inherits its parent's (umask(2)). While an executor lives keep runs with
 * umask 0, so the host kernel masks nothing a second time: a file the guest
 * creates has exactly mode & ~(the guest's umask), whatever the host's was
 * (issue 7). keep creates no files of its own meanwhile that this could
 * widen (nil makes no executor; its directories have explicit modes under a
 * 0700 mkdtemp root). The last keep_executor_free puts the umask back: the
 * process that called keep_run may create files of its own afterwards.
 * Executors are made and freed on one thread (umask is per process).
 */
static unsigned int live_executors;
static mode_t host_umask;

static unsigned int take_umask(void)
{
    if (live_executors++ == 0)
        host_umask = umask(0);
    return (unsigned int)host_umask & 0777;
}

static void give_back_umask(void)
{
    if (live_executors > 0 && --live_executors == 0)
        umask(host_umask);
}

/*
 * A character device whose /proc/self/fd link opens the same device: a
 * terminal, but not a pty master (opening one makes a new pty, pty(7)),
 * nor /dev/net/tun, /dev/fuse and other devices where each open is a new
 * object; those keep the shared description.
 */
static bool reopens_as_itself(int fd, const struct stat *st)
{
    unsigned int pty;
    return S_ISCHR(st->st_mode) && isatty(fd) && ioctl(fd, TIOCGPTN, &pty) < 0;
}

/*
 * keep_exec_stdio_fd (executor.h): status flags (O_NONBLOCK by F_SETFL or
 * FIONBIO) live in the open file description, and a dup would share keep's,
 * the shell's and the next program's on the same terminal or pipe (issue
 * 7). A pipe is opened with O_NONBLOCK first, so a pipe with no writer left
 * cannot block the open; then it gets the original flags. Regular files
 * keep a shared description (they share the caller's offset, as `>>`
 * needs); sockets cannot be reopened; other character devices than
 * terminals are not (reopens_as_itself). The flags are put back in
 * keep_executor_free, which every exit path runs, SIGINT and SIGTERM too.
 */
int keep_exec_stdio_fd(int fd, int *restore)
{
    struct stat st;
    char path[32];
    *restore = -1;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fstat(fd, &st) < 0)
        return flags < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (S_ISFIFO(st.st_mode) || reopens_as_itself(fd, &st)) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        int h = open(path, (flags & O_ACCMODE) | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (h >= 0 && fcntl(h, F_SETFL, flags & (O_APPEND | O_NONBLOCK)) == 0) {
            int moved = fcntl(h, F_DUPFD_CLOEXEC, 3); /* never 0..2: keep's own stdio */
            close(h);
            if (moved >= 0)
                return moved;
        } else if (h >= 0) {
            close(h);
        }
    }
    *restore = flags;
    return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

int keep_executor_new(const struct keep_config *cfg, const uint8_t measurement[48],
                      struct keep_executor **out, struct keep_error *err)
{
    struct keep_executor *x = calloc(1, sizeof(*x));
    if (!x)
        return keep_fail(err, KEEP_E_NOMEM, "out of memory for the executor (%zu bytes)",
                         sizeof(*x));
    x->cfg = cfg;
    /* Without the test-only build option no lie is ever told, whatever cfg says. */
    x->hostile = KEEP_WITH_HOSTILE_HOST ? cfg->hostile_host : KEEP_HOSTILE_NONE;
    x->stdio_flags[0] = x->stdio_flags[1] = x->stdio_flags[2] = -1;
    strcpy(x->cwd, "/");
    x->umask = take_umask();
    if (measurement) {
        memcpy(x->measurement, measurement, sizeof(x->measurement));
        x->measurement_known = true;
    }
    for (size_t i = 0; i < KEEP_CHAN_MAX_FDS; i++)
        x->fds[i] = (struct exec_fd){.host = -1, .kind = FD_FREE, .volume = -1};
    for (size_t i = 0; i < KEEP_CHAN_CALL_COUNT; i++) {
        uint32_t nr = keep_chan_calls[i].nr;
        if (nr < KEEP_ARRAY_LEN(x->desc_by_nr)) {
            x->desc_by_nr[nr] = &keep_chan_calls[i];
            x->handler_by_nr[nr] = handler_for(nr);
        }
    }
    /*
     * Guest 0, 1, 2 are copies of the Keep's stdio, so a guest close() never
     * closes the host's own. A closed host stdio stays closed for the guest.
     */
    for (int i = 0; i < 3; i++) {
        int h = keep_exec_stdio_fd(i, &x->stdio_flags[i]);
        if (h < 0 && errno != EBADF) {
            int saved = errno;
            keep_executor_free(x);
            return keep_fail(err, KEEP_E_EXEC_STDIO,
                             "cannot duplicate host fd %d for the guest: %s", i, strerror(saved));
        }
        if (h >= 0)
            x->fds[i] = (struct exec_fd){.host = h, .kind = FD_STDIO, .volume = -1};
    }
    int rc = keep_volumes_open(&x->vols, cfg->volumes, cfg->volume_count, err);
    if (rc) {
        keep_executor_free(x);
        return rc;
    }
    /*
     * A guest writing to a closed pipe or socket must get -EPIPE, not kill
     * the host with SIGPIPE. The executor owns the process while it runs.
     */
    signal(SIGPIPE, SIG_IGN);
    prepare_stop_kick();
    raise_fd_limit();
    *out = x;
    return KEEP_OK;
}

/*
 * When a Linux process dies its sockets close without waiting on SO_LINGER:
 * inet_release() passes a linger timeout only when the closing task is not
 * exiting (net/ipv4/af_inet.c, PF_EXITING). The peer still gets the unsent
 * data and a FIN from the kernel in the background; a zero linger time keeps
 * its abortive close (RST, tcp_close()). keep gives the peer the same: it
 * turns a nonzero linger off before closing a dead Keep's socket, so a
 * workload that set SO_LINGER {1, 3600} cannot hold keep in close().
 */
static void close_as_exit(const struct exec_fd *f)
{
    if (f->kind == FD_SOCKET) {
        struct linger l;
        socklen_t len = sizeof(l);
        if (getsockopt(f->host, SOL_SOCKET, SO_LINGER, &l, &len) == 0 && l.l_onoff &&
            l.l_linger > 0) {
            l = (struct linger){.l_onoff = 0, .l_linger = 0};
            setsockopt(f->host, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        }
    }
    close(f->host);
}

bool keep_exec_may_log_denial(struct keep_executor *x)
{
    if (keep_log_get_level() < KEEP_LOG_INFO)
        return false;
    if (x->denials < KEEP_EXEC_DENIAL_LINES) {
        x->denials++;
        return true;
    }
    if (x->denials++ == KEEP_EXEC_DENIAL_LINES)
        keep_log(KEEP_LOG_INFO,
                 "%d denials logged; further denials are counted, not logged (the count is "
                 "logged when the Keep ends)",
                 KEEP_EXEC_DENIAL_LINES);
    return false;
}

void keep_executor_free(struct keep_executor *x)
{
    if (!x)
        return;
    if (x->denials > KEEP_EXEC_DENIAL_LINES)
        keep_log(KEEP_LOG_INFO, "%lu further denials were not logged",
                 x->denials - KEEP_EXEC_DENIAL_LINES);
    /* A stdio description shared with keep's caller gets its flags back (keep_exec_stdio_fd):
     * keep's own fd i is that description, whatever the guest did with its fd i. */
    for (int i = 0; i < 3; i++)
        if (x->stdio_flags[i] >= 0)
            fcntl(i, F_SETFL, x->stdio_flags[i]);
    for (int g = 0; g < (int)KEEP_CHAN_MAX_FDS; g++) {
        if (x->fds[g].kind != FD_FREE) {
            close_as_exit(&x->fds[g]);
            keep_exec_fd_release(x, g);
        }
    }
    for (size_t i = 0; i < x->deferred_count; i++)
        close(x->deferred[i]);
    free(x->deferred);
    keep_volumes_close(&x->vols);
    free(x);
    give_back_umask();
}

/* ---- outcomes ----------------------------------------------------------- */

void keep_exec_outcome_exit(struct keep_exec_outcome *o, uint64_t status)
{
    o->ended = true;
    o->exit_status = (int)(status & 0xff); /* exit_group(2): only the low 8 bits reach wait() */
    o->reason[0] = '\0';
}

struct vector_info {
    const char *mnemonic;
    const char *name;
    int signal;
    const char *signame;
};

/* Intel SDM vol 3, 6.3.1 table 6-1; the signal Linux sends for each (arch/x86/kernel/traps.c). */
static struct vector_info vector_info(uint64_t vector)
{
    switch (vector) {
    case 0:
        return (struct vector_info){"#DE", "divide error", SIGFPE, "SIGFPE"};
    case 1:
        return (struct vector_info){"#DB", "debug exception", SIGTRAP, "SIGTRAP"};
    case 3:
        return (struct vector_info){"#BP", "breakpoint", SIGTRAP, "SIGTRAP"};
    case 4:
        return (struct vector_info){"#OF", "overflow", SIGSEGV, "SIGSEGV"};
    case 5:
        return (struct vector_info){"#BR", "bound range exceeded", SIGSEGV, "SIGSEGV"};
    case 6:
        return (struct vector_info){"#UD", "invalid opcode", SIGILL, "SIGILL"};
    case 7:
        return (struct vector_info){"#NM", "device not available", SIGFPE, "SIGFPE"};
    case 10:
        return (struct vector_info){"#TS", "invalid TSS", SIGSEGV, "SIGSEGV"};
    case 11:
        return (struct vector_info){"#NP", "segment not present", SIGBUS, "SIGBUS"};
    case 12:
        return (struct vector_info){"#SS", "stack-segment fault", SIGBUS, "SIGBUS"};
    case 13:
        return (struct vector_info){"#GP", "general protection fault", SIGSEGV, "SIGSEGV"};
    case 14:
        return (struct vector_info){"#PF", "page fault", SIGSEGV, "SIGSEGV"};
    case 16:
        return (struct vector_info){"#MF", "x87 floating-point error", SIGFPE, "SIGFPE"};
    case 17:
        return (struct vector_info){"#AC", "alignment check", SIGBUS, "SIGBUS"};
    case 19:
        return (struct vector_info){"#XM", "SIMD floating-point exception", SIGFPE, "SIGFPE"};
    default:
        return (struct vector_info){"#??", "CPU exception", SIGKILL, "SIGKILL"};
    }
}

void keep_exec_outcome_fault(struct keep_exec_outcome *o, uint64_t vector, uint64_t error_code,
                             uint64_t rip, uint64_t addr)
{
    struct vector_info v = vector_info(vector);
    o->ended = true;
    o->exit_status = 128 + v.signal;
    if (vector == 14)
        snprintf(o->reason, sizeof(o->reason),
                 "keep: workload killed by page fault (#PF, SIGSEGV) at rip 0x%llx address 0x%llx, "
                 "error code 0x%llx",
                 (unsigned long long)rip, (unsigned long long)addr, (unsigned long long)error_code);
    else
        snprintf(
            o->reason, sizeof(o->reason),
            "keep: workload killed by %s (%s vector %llu, %s) at rip 0x%llx, error code 0x%llx",
            v.name, v.mnemonic, (unsigned long long)vector, v.signame, (unsigned long long)rip,
            (unsigned long long)error_code);
}

static const char *violation_text(uint64_t kind)
{
    switch (kind) {
    case KEEP_VIOLATION_RESULT_TOO_BIG:
        return "a result larger than the request allows";
    case KEEP_VIOLATION_BAD_FD:
        return "a file descriptor it never handed out";
    case KEEP_VIOLATION_STRUCT_SIZE:
        return "a structure larger than its buffer";
    default:
        return "an impossible result";
    }
}

static const char *call_name(uint64_t nr)
{
    const struct keep_chan_call *d = keep_chan_find_call(nr);
    return d ? d->name : "syscall";
}

void keep_exec_outcome_violation(struct keep_exec_outcome *o, uint64_t nr, uint64_t value,
                                 uint64_t bound, uint64_t kind)
{
    o->ended = true;
    o->exit_status = 128 + SIGKILL;
    snprintf(o->reason, sizeof(o->reason),
             "keep: the shim stopped the workload: the host answered %s (%llu) with %s "
             "(returned %lld, limit %llu)",
             call_name(nr), (unsigned long long)nr, violation_text(kind), (long long)value,
             (unsigned long long)bound);
}

/* ---- argument mapping --------------------------------------------------- */

int keep_exec_map(const struct exec_space *s, uint64_t addr, uint64_t len, uint8_t **out)
{
    if (addr < s->lo || !keep_range_ok(addr - s->lo, len, s->size))
        return -EFAULT;
    if (s->in_use && len && !s->in_use(s->ctx, addr, len))
        return -EFAULT; /* a page the guest does not have in use, as copy_to_user would */
    *out = s->host + (addr - s->lo);
    return 0;
}

int keep_exec_map_iovec(struct exec_call *c, uint64_t addr, uint64_t count)
{
    uint8_t *arr;
    uint64_t total = 0;
    if (count > KEEP_CHAN_IOV_MAX)
        return -EINVAL; /* readv(2): iovcnt greater than IOV_MAX */
    if (count == 0) {
        c->iov_count = 0;
        return 0;
    }
    int rc = keep_exec_map(c->space, addr, count * KEEP_SIZEOF_IOVEC, &arr);
    if (rc)
        return rc;
    struct keep_cursor cur;
    keep_cursor_init(&cur, arr, count * KEEP_SIZEOF_IOVEC);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t base, len;
        uint8_t *p = NULL;
        if (keep_cursor_u64(&cur, "iov_base", &base, NULL) ||
            keep_cursor_u64(&cur, "iov_len", &len, NULL))
            return -EFAULT;
        /* readv(2): the sum of iov_len must fit an ssize_t. */
        if (keep_add_overflows(total, len, &total) || total > (uint64_t)INT64_MAX)
            return -EINVAL;
        if (len && (rc = keep_exec_map(c->space, base, len, &p)) != 0)
            return rc;
        c->s->iov[i].iov_base = p;
        c->s->iov[i].iov_len = (size_t)len;
    }
    c->iov_count = (size_t)count;
    return 0;
}

/* Copy a NUL-terminated path out of the space into dst (KEEP_CHAN_PATH_MAX bytes). */
static int copy_path(const struct exec_space *s, uint64_t addr, char *dst)
{
    if (addr < s->lo || addr - s->lo >= s->size)
        return -EFAULT;
    uint64_t off = addr - s->lo, avail = s->size - off;
    size_t max = avail < KEEP_CHAN_PATH_MAX ? (size_t)avail : KEEP_CHAN_PATH_MAX;
    const uint8_t *src = s->host + off;
    const uint8_t *nul = memchr(src, 0, max);
    if (!nul)
        return max == KEEP_CHAN_PATH_MAX ? -ENAMETOOLONG : -EFAULT;
    size_t len = (size_t)(nul - src);
    memcpy(dst, src, len);
    dst[len] = '\0'; /* the guest may have changed the bytes since memchr */
    return 0;
}

static int map_fd(struct exec_call *c, int i, bool dirfd)
{
    int g = (int)(int32_t)c->a[i];
    c->gfd[i] = g;
    if (dirfd && g == AT_FDCWD) {
        c->hfd[i] = AT_FDCWD;
        return 0;
    }
    struct exec_fd *f = keep_exec_fd(c->x, g);
    if (!f)
        return -EBADF;
    c->hfd[i] = f->host;
    return 0;
}

static int buffer_length(struct exec_call *c, const struct keep_chan_arg *d, uint64_t *len)
{
    uint64_t count;
    if (d->len_arg == KEEP_LEN_FIXED) {
        *len = d->elem_size;
        return 0;
    }
    if (d->len_arg & KEEP_LEN_PTR) {
        /* The capacity is the u32 another argument points to (socklen_t *). */
        const uint8_t *lp = c->p[d->len_arg & 7];
        if (!lp)
            return -EFAULT;
        count = load_u32(lp);
    } else {
        count = c->a[d->len_arg & 7];
    }
    /* channel.h's max_count rule, the one the shim sizes its copies by. */
    if (keep_chan_count_refused(d, count))
        return -EINVAL;
    count = keep_chan_count(d, count);
    if (keep_mul_overflows(count, (uint64_t)d->elem_size, len))
        return -EFAULT;
    return 0;
}

static int map_buffer(struct exec_call *c, int i, const struct keep_chan_arg *d)
{
    uint64_t len;
    if (c->a[i] == 0 && (d->flags & KEEP_ARGF_NULLABLE)) {
        c->p[i] = NULL;
        c->n[i] = 0;
        return 0;
    }
    int rc = buffer_length(c, d, &len);
    if (rc)
        return rc;
    c->n[i] = len;
    if (len == 0) {
        /*
         * Linux accepts any address for zero bytes (read(fd, NULL, 0) is 0).
         * A non-NULL pointer to nothing keeps "an argument was given" for the
         * handler, and the kernel never dereferences it.
         */
        static uint8_t nothing[1];
        c->p[i] = nothing;
        return 0;
    }
    return keep_exec_map(c->space, c->a[i], len, &c->p[i]);
}

static int map_arg(struct exec_call *c, int i, int *path_slot)
{
    const struct keep_chan_arg *d = &c->desc->args[i];
    switch (d->kind) {
    case KEEP_ARG_FD:
        return map_fd(c, i, false);
    case KEEP_ARG_DIRFD:
        return map_fd(c, i, true);
    case KEEP_ARG_BUF:
        return map_buffer(c, i, d);
    case KEEP_ARG_PATH: {
        if (c->a[i] == 0 && (d->flags & KEEP_ARGF_NULLABLE)) {
            c->path[i] = NULL; /* utimensat(fd, NULL, ...) */
            return 0;
        }
        char *dst = c->s->paths[(*path_slot)++];
        int rc = copy_path(c->space, c->a[i], dst);
        c->path[i] = dst;
        return rc;
    }
    case KEEP_ARG_IOVEC:
        return keep_exec_map_iovec(c, c->a[i], c->a[d->len_arg & 7]);
    case KEEP_ARG_MSGHDR:
        c->n[i] = KEEP_SIZEOF_MSGHDR;
        return keep_exec_map(c->space, c->a[i], KEEP_SIZEOF_MSGHDR, &c->p[i]);
    case KEEP_ARG_IOCTL: {
        const struct keep_chan_ioctl *io = keep_chan_find_ioctl((uint32_t)c->a[1]);
        if (!io)
            return -ENOTTY; /* ioctl(2): request does not apply; only four are forwarded */
        c->n[i] = io->size;
        return keep_exec_map(c->space, c->a[i], io->size, &c->p[i]);
    }
    case KEEP_ARG_FCNTL: {
        uint32_t size = keep_chan_fcntl_size(c->a[1]);
        c->p[i] = NULL;
        c->n[i] = size;
        return size ? keep_exec_map(c->space, c->a[i], size, &c->p[i]) : 0;
    }
    default:
        return 0;
    }
}

/* Check and map every argument as the shared description says. */
static int map_args(struct exec_call *c)
{
    int path_slot = 0;
    /* Two passes: a KEEP_LEN_PTR length needs the pointer argument mapped first. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 6; i++) {
            const struct keep_chan_arg *d = &c->desc->args[i];
            bool late = d->kind == KEEP_ARG_BUF && d->len_arg != KEEP_LEN_FIXED &&
                        (d->len_arg & KEEP_LEN_PTR);
            if (late != (pass == 1))
                continue;
            int rc = map_arg(c, i, &path_slot);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* ---- host calls --------------------------------------------------------- */

/* A /run/keep file's fd number (src/shim/keepfs.c): the host holds /dev/null in its place. */
static int64_t do_placeholder(struct exec_call *c)
{
    int h = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (h < 0)
        return -errno;
    int g = keep_exec_fd_install(c->x, h, FD_FILE, 0);
    if (g >= 0)
        c->x->fds[g].cloexec = (c->a[0] & O_CLOEXEC) != 0;
    return g;
}

void keep_executor_begin_enrolment(struct keep_executor *x, const struct keep_net_rule *steward)
{
    x->enroll_connect = steward;
    x->enrolling = true;
    keep_log(KEEP_LOG_INFO, "enrolment: the enroller may connect to %s until the workload starts",
             steward->text);
}

void keep_executor_end_enrolment(struct keep_executor *x)
{
    x->enrolling = false;
    int closed = 0;
    for (int g = 3; g < (int)KEEP_CHAN_MAX_FDS; g++) {
        if (x->fds[g].kind != FD_FREE) {
            close_as_exit(&x->fds[g]);
            keep_exec_fd_release(x, g);
            closed++;
        }
    }
    keep_log(KEEP_LOG_INFO, "enrolment done: %d enroller fds closed, the grant to %s ended", closed,
             x->enroll_connect ? x->enroll_connect->text : "(none)");
}

bool keep_exec_enrolment_grants(const struct keep_executor *x, const struct keep_net_endpoint *ep)
{
    return x->enrolling && x->enroll_connect && keep_netpolicy_match(x->enroll_connect, 1, ep);
}

static int64_t do_get_evidence(struct exec_call *c)
{
    if (!c->p[1])
        return c->a[2] == 0 ? (int64_t)KEEP_KVM_EVIDENCE_SIZE : -EFAULT;
    if (c->n[1] < KEEP_KVM_EVIDENCE_SIZE)
        return -ERANGE;
    uint8_t report_data[64];
    memcpy(report_data, c->p[0], sizeof(report_data)); /* copy once: the guest may change it */
    if (c->x->pending_measurement) {
        struct keep_error e = {0};
        if (keep_measure_job_wait(c->x->pending_measurement, c->x->measurement, &e) != KEEP_OK) {
            keep_log(KEEP_LOG_ERROR, "no launch measurement for the evidence: %s", e.message);
            return -EIO;
        }
        c->x->pending_measurement = NULL;
        c->x->measurement_known = true;
    }
    if (!c->x->measurement_known)
        return -EIO;
    keep_kvm_evidence_build(c->x->measurement, report_data, c->p[1]);
    return KEEP_KVM_EVIDENCE_SIZE;
}

/* Why a Keep lacks a call people miss (docs/KEEP.md, "Threads and processes"). */
static const char *enosys_reason(uint64_t nr)
{
    switch (nr) {
    case 56:  /* clone */
    case 435: /* clone3 */
        return "clone of a new process, fork: a Keep is one process";
    case 57: /* fork */
    case 58: /* vfork */
        return "fork/vfork: a Keep is one process";
    case 59:  /* execve */
    case 322: /* execveat */
        return "execve: a Keep runs only the program it was launched with";
    case 61: /* wait4 */
        return "wait4: a Keep has no child processes";
    default:
        return "";
    }
}

static void log_enosys(struct keep_executor *x, uint64_t nr, const char *who)
{
    if (nr < KEEP_CHAN_MAX_FDS) {
        uint8_t bit = (uint8_t)(1u << (nr % 8));
        if (x->enosys_logged[nr / 8] & bit)
            return;
        x->enosys_logged[nr / 8] |= bit;
    } else {
        if (x->enosys_logged_big)
            return;
        x->enosys_logged_big = true;
    }
    const char *why = enosys_reason(nr);
    keep_log(KEEP_LOG_INFO,
             "workload called syscall %llu%s%s%s, which the %s does not support: ENOSYS",
             (unsigned long long)nr, why[0] ? " (" : "", why, why[0] ? ")" : "", who);
}

static exec_handler handler_for(uint64_t nr)
{
    if (nr == KEEP_HC_GET_EVIDENCE)
        return do_get_evidence;
    exec_handler h = keep_exec_fs_handler(nr);
    if (!h)
        h = keep_exec_signal_handler(nr);
    if (!h)
        h = keep_exec_fsext_handler(nr);
    return h ? h : keep_exec_net_handler(nr);
}

/* Run one item whose fields were already copied out of shared memory. */
static int64_t run_item(struct keep_executor *x, const struct exec_space *space,
                        struct exec_scratch *scratch, uint64_t nr, const uint64_t args[6],
                        struct keep_exec_outcome *outcome)
{
    switch (nr) {
    case KEEP_HC_EXIT:
        keep_exec_outcome_exit(outcome, args[0]);
        return 0;
    case KEEP_HC_FAULT:
        keep_exec_outcome_fault(outcome, args[0], args[1], args[2], args[3]);
        return 0;
    case KEEP_HC_VIOLATION:
        keep_exec_outcome_violation(outcome, args[0], args[1], args[2], args[3]);
        return 0;
    case KEEP_HC_LOG_ENOSYS:
        log_enosys(x, args[0], "shim");
        return 0;
    default:
        break;
    }
    /* Table-driven: one array lookup for a Linux call, no search on the hot path. */
    const struct keep_chan_call *desc = NULL;
    exec_handler h = NULL;
    if (nr < KEEP_ARRAY_LEN(x->desc_by_nr)) {
        desc = x->desc_by_nr[nr];
        h = x->handler_by_nr[nr];
    } else if (nr == KEEP_HC_GET_EVIDENCE) {
        desc = keep_chan_find_call(nr);
        h = do_get_evidence;
    } else if (nr == KEEP_HC_PLACEHOLDER) {
        desc = keep_chan_find_call(nr);
        h = do_placeholder;
    }
    if (!desc || !h) {
        log_enosys(x, nr, "Keep");
        return -ENOSYS;
    }
    struct exec_call c = {.x = x, .space = space, .desc = desc, .s = scratch};
    memcpy(c.a, args, sizeof(c.a));
    int rc = map_args(&c);
    if (rc)
        return rc;
    return h(&c);
}

/* ---- batches ------------------------------------------------------------ */

static volatile sig_atomic_t stop_requested;

/*
 * A stop that lands after the batch's stop check and before an item's
 * blocking call (read, accept, nanosleep...) would be lost: the signal was
 * delivered before the call began, so nothing interrupts it. A stop during
 * a batch therefore arms a POSIX timer that raises STOP_KICK_SIGNAL every
 * STOP_KICK_NS until the batch ends; its handler does nothing and has no
 * SA_RESTART, so whichever call blocks next fails with EINTR (signal(7),
 * "Interruption of system calls") and the loop cancels the rest.
 * timer_settime is async-signal-safe (signal-safety(7)); the timer and the
 * handler are made once, before any batch, in keep_executor_new.
 *
 * Several threads may be in a batch at once, each blocked in its own host
 * call (the executor lock is released around those). The timer's signal
 * reaches one thread of the process; its handler passes it on with tgkill
 * to every other thread registered in batch_threads, so each blocked item
 * gets its EINTR. The forwarded copies are SI_TKILL, not SI_TIMER, and are
 * not passed on again.
 */
#define STOP_KICK_SIGNAL  (SIGRTMIN + 5)
#define STOP_KICK_NS      (10 * 1000 * 1000)
#define BATCH_THREADS_MAX 64

static int batches_running;                    /* atomic */
static pid_t batch_threads[BATCH_THREADS_MAX]; /* atomic; tids of threads in a batch, 0: free */
static _Thread_local pid_t this_tid;
static timer_t stop_kick_timer;
static bool stop_kick_ready;
static pthread_once_t stop_kick_once = PTHREAD_ONCE_INIT;

static void on_stop_kick(int sig, siginfo_t *info, void *uc)
{
    (void)uc; /* its job is the EINTR, here and in the other threads in a batch */
    if (info->si_code != SI_TIMER)
        return;
    int saved = errno;
    pid_t self = (pid_t)syscall(SYS_gettid), pid = getpid();
    for (int i = 0; i < BATCH_THREADS_MAX; i++) {
        pid_t t = __atomic_load_n(&batch_threads[i], __ATOMIC_SEQ_CST);
        if (t && t != self)
            syscall(SYS_tgkill, pid, t, sig);
    }
    errno = saved;
}

static void make_stop_kick(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_stop_kick;
    sa.sa_flags = SA_SIGINFO; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    struct sigevent ev;
    memset(&ev, 0, sizeof(ev));
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = STOP_KICK_SIGNAL;
    stop_kick_ready = sigaction(STOP_KICK_SIGNAL, &sa, NULL) == 0 &&
                      timer_create(CLOCK_MONOTONIC, &ev, &stop_kick_timer) == 0;
    if (!stop_kick_ready)
        keep_log(KEEP_LOG_WARN,
                 "executor: no stop timer (%s): a stop request that arrives just "
                 "before a blocking call waits for that call to end",
                 strerror(errno));
}

static void prepare_stop_kick(void)
{
    pthread_once(&stop_kick_once, make_stop_kick);
}

static void set_stop_kick(bool on)
{
    long ns = on ? STOP_KICK_NS : 0;
    struct itimerspec its = {.it_interval = {0, ns}, .it_value = {0, ns}};
    if (stop_kick_ready)
        timer_settime(stop_kick_timer, 0, &its, NULL);
}

void keep_executor_request_stop(void)
{
    int saved = errno; /* runs in signal handlers */
    stop_requested = 1;
    if (__atomic_load_n(&batches_running, __ATOMIC_SEQ_CST))
        set_stop_kick(true);
    errno = saved;
}

/* This thread runs a batch: a stop from now on arms the kick, which reaches it. */
static int enter_batch(void)
{
    if (!this_tid)
        this_tid = (pid_t)syscall(SYS_gettid);
    __atomic_add_fetch(&batches_running, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < BATCH_THREADS_MAX; i++) {
        pid_t free_slot = 0;
        if (__atomic_compare_exchange_n(&batch_threads[i], &free_slot, this_tid, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return i;
    }
    return -1; /* more threads than slots: the timer's own signal may still reach this one */
}

static void leave_batch(int slot)
{
    if (slot >= 0)
        __atomic_store_n(&batch_threads[slot], 0, __ATOMIC_SEQ_CST);
    /* A stop after the count reaches 0 arms nothing; one before it is disarmed here. */
    if (__atomic_sub_fetch(&batches_running, 1, __ATOMIC_SEQ_CST) == 0 && stop_requested)
        set_stop_kick(false);
}

void keep_executor_clear_stop(void)
{
    stop_requested = 0;
}

/* Check the header copy and work out where the items and the buffers are. */
static int64_t check_header(const struct keep_executor *x, const struct keep_chan_header *h,
                            size_t chan_size, volatile uint8_t *chan,
                            const struct keep_guest_mem *mem, struct exec_space *space)
{
    if (h->magic != KEEP_CHAN_MAGIC || h->version != KEEP_CHAN_VERSION)
        return -EPROTO;
    if (h->flags != 0 || h->reserved[0] != 0 || h->reserved[1] != 0)
        return -EINVAL;
    if (h->item_count == 0 || h->item_count > KEEP_CHAN_MAX_ITEMS)
        return -E2BIG;
    uint64_t items_end = KEEP_CHAN_ITEMS_OFFSET + (uint64_t)h->item_count * KEEP_CHAN_ITEM_SIZE;
    if (items_end > chan_size)
        return -E2BIG;
    if (h->path != (uint32_t)x->cfg->channel)
        return -EPROTO; /* the Keep was launched for the other data path */
    if (h->path == KEEP_CHAN_PATH_BOUNCE) {
        /* The data area lies in the channel, after the items. */
        if (h->data_offset < items_end || !keep_range_ok(h->data_offset, h->data_size, chan_size))
            return -EFAULT;
        *space = (struct exec_space){.host = (uint8_t *)(uintptr_t)(chan + h->data_offset),
                                     .lo = h->data_offset,
                                     .size = h->data_size};
    } else {
        if (!mem || !mem->host)
            return -EFAULT;
        *space = (struct exec_space){.host = mem->host,
                                     .lo = mem->base,
                                     .size = mem->size,
                                     .in_use = mem->in_use,
                                     .ctx = mem->ctx};
    }
    return 0;
}

int keep_executor_run_batch(struct keep_executor *x, volatile void *chan_v, size_t chan_size,
                            const struct keep_guest_mem *mem, struct keep_exec_outcome *outcome,
                            struct keep_error *err)
{
    volatile uint8_t *chan = chan_v;
    outcome->ended = false;
    outcome->exit_status = 0;
    outcome->reason[0] = '\0';
    if (!chan || chan_size < KEEP_CHAN_HEADER_SIZE)
        return keep_fail(err, KEEP_E_EXEC_CHANNEL_SIZE,
                         "channel is %zu bytes; it must hold at least the %u-byte header",
                         chan_size, KEEP_CHAN_HEADER_SIZE);
    if (mem && mem->host && keep_add_overflows(mem->base, mem->size, &(uint64_t){0}))
        return keep_fail(err, KEEP_E_EXEC_GUEST_MEM,
                         "guest memory base 0x%llx + size 0x%llx wraps around",
                         (unsigned long long)mem->base, (unsigned long long)mem->size);

    /* Copy the header once, field by field: the guest may be rewriting it. */
    volatile struct keep_chan_header *vh = (volatile struct keep_chan_header *)chan;
    struct keep_chan_header h = {
        .magic = vh->magic,
        .version = vh->version,
        .item_count = vh->item_count,
        .path = vh->path,
        .flags = vh->flags,
        .data_offset = vh->data_offset,
        .data_size = vh->data_size,
        .reserved = {vh->reserved[0], vh->reserved[1]},
    };
    struct exec_space space;
    int64_t status = check_header(x, &h, chan_size, chan, mem, &space);
    vh->status = status;
    if (status)
        return KEEP_OK; /* the guest is told; the host carries on */

    volatile struct keep_chan_item *items =
        (volatile struct keep_chan_item *)(chan + KEEP_CHAN_ITEMS_OFFSET);
    /* Here, not on the executor: the lock is released around blocking host calls. */
    struct exec_scratch scratch;
    int slot = enter_batch(); /* before the first stop check: a later stop arms the kick */
    for (uint32_t i = 0; i < h.item_count; i++) {
        volatile struct keep_chan_item *it = &items[i];
        if (outcome->ended || stop_requested) {
            /* After exit, a fault or a stop request nothing more runs. */
            it->result = -ECANCELED;
            continue;
        }
        uint64_t nr = it->nr, args[6];
        for (int k = 0; k < 6; k++)
            args[k] = it->args[k];
        it->result = run_item(x, &space, &scratch, nr, args, outcome);
    }
    leave_batch(slot);
    return KEEP_OK;
}
