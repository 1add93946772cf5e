/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to the executor (executor.c, exec_fs.c, exec_net.c): the fd
 * table, the per-call context with its checked arguments, the handlers.
 */
#ifndef KEEP_HOST_EXEC_INTERNAL_H
#define KEEP_HOST_EXEC_INTERNAL_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/channel.h"
#include "host/executor.h"
#include "host/measure.h"
#include "host/volumes.h"

enum exec_fd_kind {
    FD_FREE = 0,
    FD_STDIO, /* the Keep's stdin/stdout/stderr */
    FD_FILE,  /* regular file (or anything not a directory) inside a volume */
    FD_DIR,   /* directory inside a volume: *at() calls resolve against guest_path */
    FD_PIPE,
    FD_SOCKET, /* AF_INET / AF_INET6 */
    FD_EPOLL,
};

/*
 * A UDP socket's association (exec_net.c, associate_datagram): an unbound
 * datagram socket the guest never connected is connected by the host to the
 * --connect destination of each send, so the kernel drops datagrams from any
 * other source; the guest still sees an unconnected socket.
 */
struct exec_udp_assoc {
    bool dgram;               /* SOCK_DGRAM */
    bool guest_connected;     /* the guest called connect(): its own association */
    bool host_connected;      /* the host connected it to peer on the guest's behalf */
    socklen_t peer_len;       /* of peer */
    struct sockaddr_in6 peer; /* holds a sockaddr_in too */
};

struct exec_fd {
    int host;         /* the host fd; meaningful unless kind == FD_FREE */
    uint8_t kind;     /* enum exec_fd_kind */
    bool cloexec;     /* what F_GETFD reports; the Keep never execs */
    bool listen_ok;   /* socket bound to a --listen address: listen() allowed */
    int16_t volume;   /* FD_FILE / FD_DIR: index into the volumes */
    char *guest_path; /* FD_DIR: absolute normalised guest path (malloc'd) */
    /* FD_SOCKET: the UDP association */
    struct exec_udp_assoc udp;
};

/*
 * A UDP socket only the host connected (exec_net.c, associate_datagram):
 * a send or write without an address has no destination on Linux
 * (send(2): EDESTADDRREQ), and getpeername is ENOTCONN.
 */
static inline bool keep_exec_udp_unconnected(const struct exec_fd *f)
{
    return f && f->kind == FD_SOCKET && f->udp.host_connected && !f->udp.guest_connected;
}

/* Where buffer arguments of this batch live (see channel.h, "data path"). */
struct exec_space {
    uint8_t *host; /* host address of lo */
    uint64_t lo;   /* guest address (direct) or channel offset (bounce) of host[0] */
    uint64_t size;
    bool (*in_use)(const void *ctx, uint64_t addr, uint64_t len); /* keep_guest_mem.in_use */
    const void *ctx;
};

struct exec_call;
typedef int64_t (*exec_handler)(struct exec_call *c);

struct keep_executor {
    const struct keep_config *cfg;
    uint8_t measurement[48];
    bool measurement_known;
    struct keep_measure_job *pending_measurement; /* measurement not yet known: wait on it */
    enum keep_hostile_host hostile;
    char cwd[KEEP_CHAN_PATH_MAX]; /* the guest's cwd: "/" or a directory inside a volume */
    unsigned int umask;           /* the guest's umask, applied to modes it creates with */
    int stdio_flags[3]; /* keep's fd 0..2 shared with the guest: flags to put back at exit, or -1 */
    struct keep_volumes vols;
    struct exec_fd fds[KEEP_CHAN_MAX_FDS];
    const struct keep_chan_call *desc_by_nr[KEEP_CHAN_NR_LIMIT];
    exec_handler handler_by_nr[KEEP_CHAN_NR_LIMIT];
    uint8_t enosys_logged[KEEP_CHAN_MAX_FDS / 8]; /* one bit per syscall nr < 1024 */
    bool enosys_logged_big;
    unsigned long denials; /* denial lines asked for (keep_exec_may_log_denial) */
    /* keep_executor_set_blocking(): the backend's lock, released around host calls that wait. */
    void (*blocking)(void *ctx, bool begin);
    void *blocking_ctx;
    /* Under that lock (docs/HACKING.md, "The executor lock"): */
    struct exec_inflight *inflight; /* items running their host call unlocked */
    int *deferred;                  /* host fds closed by the guest while an item used them */
    size_t deferred_count, deferred_cap;
    /* keep run --steward: while the enroller runs, it may also connect to the service. */
    const struct keep_net_rule *enroll_connect;
    bool enrolling;
};

/*
 * Scratch space of one batch, on the stack of the thread running it
 * (keep_executor_run_batch): a call that runs its host call unlocked keeps
 * using it while other threads' batches run, so it is never shared.
 */
struct exec_scratch {
    char paths[2][KEEP_CHAN_PATH_MAX]; /* copied path arguments */
    char abs[2][KEEP_CHAN_PATH_MAX];   /* the same, made absolute and normalised */
    char rel[2][KEEP_CHAN_PATH_MAX];   /* below its volume, its tail ("/", "/.") put back */
    struct iovec iov[KEEP_CHAN_IOV_MAX];
    struct pollfd pfd[KEEP_CHAN_POLLFD_MAX];
};

/*
 * An item whose host call runs without the executor lock
 * (keep_exec_unlock): the host fds it uses stay open until it is done,
 * whatever another thread closes meanwhile, so no host fd number is reused
 * under it (keep_exec_close_host).
 */
struct exec_inflight {
    struct exec_inflight *next;
    int hfd[6];               /* its FD/DIRFD arguments' host fds, -1 for none */
    const struct pollfd *pfd; /* poll/select: the host fds polled */
    size_t pfd_count;
};

/*
 * Around a host call that may block (read of a pipe or socket, accept,
 * connect, poll, a lock wait, nanosleep...): the executor lock is released
 * so other threads' batches run meanwhile (docs/HACKING.md, "The executor
 * lock"). Between the two the call touches only its own arguments, guest
 * memory, its batch's scratch (c->s) and its thread's stack: never the fd
 * table, the cwd or other executor state. pfd (may be NULL) lists further
 * host fds the call uses, which stay open until keep_exec_relock.
 */
void keep_exec_unlock(struct exec_call *c, const struct pollfd *pfd, size_t pfd_count);
void keep_exec_relock(struct exec_call *c);

/*
 * Close host fd host, which the guest just gave up (close, dup2 over it):
 * at once, or, while an unlocked item still uses it, when the last such
 * item is done (as Linux keeps a file open for a call already running on
 * it). Returns close's result (0 when deferred).
 */
int keep_exec_close_host(struct keep_executor *x, int host);

/* One item being run, its arguments checked and mapped by the description. */
struct exec_call {
    struct keep_executor *x;
    const struct exec_space *space;
    const struct keep_chan_call *desc;
    uint64_t a[6];                 /* raw arguments, copied out of the channel */
    uint8_t *p[6];                 /* BUF/MSGHDR/IOCTL: host address, NULL for a NULL argument */
    uint64_t n[6];                 /* BUF: bytes at p[i] */
    int hfd[6];                    /* FD/DIRFD: host fd (AT_FDCWD for the guest cwd) */
    int gfd[6];                    /* FD/DIRFD: the guest fd number */
    const char *path[6];           /* PATH: the copied string */
    size_t iov_count;              /* IOVEC: entries in s->iov */
    struct exec_scratch *s;        /* this batch's scratch space */
    struct exec_inflight inflight; /* while unlocked (keep_exec_unlock) */
};

/* Handlers, by syscall number (exec_fs.c, exec_net.c, executor.c). */
exec_handler keep_exec_fs_handler(uint64_t nr);
exec_handler keep_exec_net_handler(uint64_t nr);
exec_handler keep_exec_signal_handler(uint64_t nr);
exec_handler keep_exec_fsext_handler(uint64_t nr);

/*
 * Resolve path argument path_arg against dirfd argument dirfd_arg (-1: the
 * guest cwd) into a volume index (the path below its root in *rel, the
 * absolute guest path in c->s->abs[slot]), or -errno; with change, -EROFS in a
 * read-only volume (exec_fs.c).
 */
int keep_exec_resolve(struct exec_call *c, int dirfd_arg, int path_arg, int slot, bool change,
                      const char **rel);
/* fcntl's record-lock commands (keep_chan_fcntl_size() != 0) on a host fd (exec_fsext.c). */
int64_t keep_exec_fcntl_lock(struct exec_call *c);
/*
 * A guest struct timespec (two int64) read through the cursor and checked as the
 * kernel does (fs/select.c poll_select_set_timeout): -EFAULT, -EINVAL or 0 (exec_fs.c).
 */
struct timespec;
int keep_exec_read_timespec(const uint8_t *p, struct timespec *ts);

/*
 * True when a denial (a path in no volume, a read-only volume, an address
 * not granted) or a narrowed wildcard bind may log its line: at --log info, for the first
 * KEEP_EXEC_DENIAL_LINES of a Keep. A guest calling a denied bind in a loop
 * would otherwise write a line per call for as long as it runs; the rest
 * are counted, and keep_executor_free logs how many.
 */
#define KEEP_EXEC_DENIAL_LINES 64
bool keep_exec_may_log_denial(struct keep_executor *x);

struct keep_net_endpoint;
/* keep run --steward: ep is the service the enroller may reach, and it is still running. */
bool keep_exec_enrolment_grants(const struct keep_executor *x, const struct keep_net_endpoint *ep);

/* fd table (executor.c). */
struct exec_fd *keep_exec_fd(struct keep_executor *x, int guest);
/* Give host fd a guest number >= min; closes host and returns -EMFILE when full. */
KEEP_WARN_UNUSED int keep_exec_fd_install(struct keep_executor *x, int host, enum exec_fd_kind kind,
                                          int min);
void keep_exec_fd_release(struct keep_executor *x, int guest);

/* Map [addr, addr + len) of the batch's space; -EFAULT when outside. */
KEEP_WARN_UNUSED int keep_exec_map(const struct exec_space *s, uint64_t addr, uint64_t len,
                                   uint8_t **out);
/* Map and read an iovec array of count entries at addr into c->s->iov (cursor-checked). */
KEEP_WARN_UNUSED int keep_exec_map_iovec(struct exec_call *c, uint64_t addr, uint64_t count);

static inline uint32_t load_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline void store_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static inline void store_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

#endif /* KEEP_HOST_EXEC_INTERNAL_H */
