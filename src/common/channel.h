/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The channel: how the guest shim asks the host to run a system call.
 *
 * Freestanding (only <stdint.h> and <stddef.h>): the shim and the host
 * include this one file, so both sides share ONE description of every
 * forwarded call, down to which argument is a buffer, which way its bytes
 * flow and where its length comes from. docs/KEEP.md, "The channel".
 *
 * Layout of the channel pages (KEEP_GUEST_CHANNEL in src/common/shim_abi.h;
 * the host sees them through its own mapping):
 *
 *   0                       struct keep_chan_header            64 bytes
 *   KEEP_CHAN_ITEMS_OFFSET  struct keep_chan_item[item_count]  64 bytes each
 *   header.data_offset      data area (bounce path buffers)    header.data_size bytes
 *
 * The shim fills the header and item_count items, then writes
 * KEEP_REQ_CHANNEL to KEEP_CHAN_PORT with one OUT: one exit per batch. The
 * host copies every field it reads out of the shared pages before checking
 * it (the guest may change them at any time), runs the items in order and
 * writes each item's result; then the guest resumes.
 *
 * Everything is little-endian x86-64. No pointers: a buffer argument is a
 * number whose meaning depends on the batch's data path (header.path):
 *
 *   KEEP_CHAN_PATH_DIRECT  guest-physical address inside workload memory
 *                          (identity-mapped, so the workload's own pointer).
 *                          The host checks [addr, addr + len) against the
 *                          workload memory range and reads/writes it in place.
 *   KEEP_CHAN_PATH_BOUNCE  byte offset from the start of the channel, inside
 *                          [data_offset, data_offset + data_size). The shim
 *                          copies buffers through the data area (needed when
 *                          the host cannot see workload memory: SEV-SNP, TDX).
 *
 * Address 0 means NULL in both paths (workload memory never starts at 0 and
 * offset 0 is the header), and is accepted only where the table says
 * KEEP_ARGF_NULLABLE. Results are Linux-style: >= 0 success, -errno failure.
 */
#ifndef KEEP_COMMON_CHANNEL_H
#define KEEP_COMMON_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

/* The host/guest ABI is this header and the layout, port and boot page in shim_abi.h. */
#include "shim_abi.h" /* beside this file: the layout, port and boot page */

/* ---- Header ------------------------------------------------------------ */

#define KEEP_CHAN_MAGIC   0x4e4148435045454bull /* "KEEPCHAN" as little-endian bytes */
#define KEEP_CHAN_VERSION 1u
/* The I/O port the shim writes KEEP_REQ_CHANNEL (1) to: shim_abi.h's, checked below. */
#define KEEP_CHAN_PORT        0x4b50u
#define KEEP_CHAN_REQ_CHANNEL 1u
_Static_assert(KEEP_CHAN_PORT == KEEP_PORT, "the channel port is shim_abi.h's KEEP_PORT");
_Static_assert(KEEP_CHAN_REQ_CHANNEL == KEEP_REQ_CHANNEL,
               "the channel request is shim_abi.h's KEEP_REQ_CHANNEL");

enum keep_chan_path {
    KEEP_CHAN_PATH_DIRECT = 0, /* KEEP_CHANNEL_DIRECT in host/config.h (asserted there) */
    KEEP_CHAN_PATH_BOUNCE = 1, /* KEEP_CHANNEL_BOUNCE */
};

struct keep_chan_header {
    uint64_t magic;       /* KEEP_CHAN_MAGIC */
    uint32_t version;     /* KEEP_CHAN_VERSION */
    uint32_t item_count;  /* 1..KEEP_CHAN_MAX_ITEMS items follow at KEEP_CHAN_ITEMS_OFFSET */
    uint32_t path;        /* enum keep_chan_path; must equal the Keep's configured path */
    uint32_t flags;       /* reserved, 0 */
    uint64_t data_offset; /* data area start, from the channel start; after the items */
    uint64_t data_size;   /* data area bytes */
    int64_t status;       /* host writes: 0, or -errno when the batch as a whole was refused */
    uint64_t reserved[2]; /* 0 */
};

struct keep_chan_item {
    uint64_t nr;      /* Linux x86-64 syscall number, or a KEEP_HC_* host call */
    uint64_t args[6]; /* as the syscall ABI passes them (rdi, rsi, rdx, r10, r8, r9) */
    int64_t result;   /* host writes: >= 0 or -errno */
};

#define KEEP_CHAN_HEADER_SIZE  64u
#define KEEP_CHAN_ITEM_SIZE    64u
#define KEEP_CHAN_ITEMS_OFFSET 64u
/* Header plus items fit the first 4 KiB page; the data area may start at 4096. */
#define KEEP_CHAN_MAX_ITEMS 63u
/* Longest path a call may pass, including the terminating NUL (Linux PATH_MAX). */
#define KEEP_CHAN_PATH_MAX 4096u
/* Caps on counted arrays, so one item cannot make the host work without bound. */
#define KEEP_CHAN_IOV_MAX     1024u /* Linux UIO_MAXIOV */
#define KEEP_CHAN_POLLFD_MAX  1024u
#define KEEP_CHAN_EPOLL_MAX   1024u
#define KEEP_CHAN_SOCKLEN_MAX 128u /* sizeof(struct sockaddr_storage) */
#define KEEP_CHAN_OPTLEN_MAX  256u
/* Guest fd numbers are 0..KEEP_CHAN_MAX_FDS-1; the host never returns a larger one. */
#define KEEP_CHAN_MAX_FDS 1024u

/* Sizes of the kernel structures that cross the channel (x86-64 Linux ABI). */
#define KEEP_SIZEOF_STAT        144u /* struct stat */
#define KEEP_SIZEOF_STATX       256u /* struct statx */
#define KEEP_SIZEOF_TIMESPEC    16u
#define KEEP_SIZEOF_TIMEVAL     16u
#define KEEP_SIZEOF_TIMEZONE    8u
#define KEEP_SIZEOF_ITIMERVAL   32u /* two struct timeval */
#define KEEP_SIZEOF_IOVEC       16u /* { u64 base; u64 len } */
#define KEEP_SIZEOF_POLLFD      8u  /* { i32 fd; i16 events; i16 revents } */
#define KEEP_SIZEOF_EPOLL_EVENT 12u /* packed on x86-64: { u32 events; u64 data } */
#define KEEP_SIZEOF_MSGHDR \
    56u /* name@0 namelen@8 iov@16 iovlen@24 control@32 controllen@40 flags@48 */
#define KEEP_SIZEOF_TERMIOS 36u /* kernel struct termios (TCGETS) */
#define KEEP_SIZEOF_WINSIZE 8u
#define KEEP_SIZEOF_INT     4u
#define KEEP_SIZEOF_FDPAIR  8u /* int[2] of pipe2 */
/* Structures of the fs calls (issue 11/12). */
#define KEEP_SIZEOF_FLOCK  32u  /* type@0 whence@2 start@8 len@16 pid@24 (fcntl(2) locks) */
#define KEEP_SIZEOF_RUSAGE 144u /* struct rusage: two timevals, 14 longs */
#define KEEP_SIZEOF_STATFS 120u /* struct statfs (statfs(2), x86-64) */
#define KEEP_SIZEOF_FDSET  128u /* fd_set of KEEP_CHAN_MAX_FDS bits (select(2)) */
#define KEEP_SIZEOF_OFF    8u   /* off_t / loff_t */
/* The Keep's own uid and gid (AT_UID in src/host/kvm_loader.c, getuid() in the shim). */
#define KEEP_GUEST_ID 1000u

/* ---- Host calls (not Linux syscalls) ------------------------------------ */

/*
 * Numbers far above any Linux syscall. KEEP_HC_GET_EVIDENCE is also the
 * workload-visible syscall number (KEEP_SYS_GET_EVIDENCE in keep/keep.h):
 * the shim forwards it unchanged.
 */
#define KEEP_HC_BASE 0x4b4500u
enum keep_host_call {
    /* a0 report_data (64 bytes in), a1 buf (out, a2 bytes), a2 size.
     * Result: evidence size written; with a1 == 0 and a2 == 0, the size needed;
     * -ERANGE when a2 is too small. */
    KEEP_HC_GET_EVIDENCE = KEEP_HC_BASE + 1,
    /* keep run --steward: a0 O_CLOEXEC or 0. Result: a new guest fd on the host's /dev/null,
     * the number of a /run/keep file the shim answers for (src/shim/keepfs.c). */
    KEEP_HC_PLACEHOLDER = KEEP_HC_BASE + 2,
    /* a0 exit status (exit_group). Ends the Keep; later items are not run. */
    KEEP_HC_EXIT = KEEP_HC_BASE + 0x100,
    /* a0 vector, a1 error code, a2 RIP, a3 address (CR2 for #PF). Ends the Keep. */
    KEEP_HC_FAULT = KEEP_HC_BASE + 0x101,
    /* The shim caught the host lying: a0 syscall nr, a1 value the host returned,
     * a2 the bound it broke, a3 enum keep_violation. Ends the Keep. */
    KEEP_HC_VIOLATION = KEEP_HC_BASE + 0x102,
    /* a0 syscall nr the shim does not implement; the host logs it once (--log debug). */
    KEEP_HC_LOG_ENOSYS = KEEP_HC_BASE + 0x103,
};

enum keep_violation {
    KEEP_VIOLATION_RESULT_TOO_BIG = 1, /* e.g. read returned more than asked */
    KEEP_VIOLATION_BAD_FD = 2,         /* a returned fd the guest's table cannot hold / never had */
    KEEP_VIOLATION_STRUCT_SIZE = 3,    /* a returned structure size exceeds the buffer */
    KEEP_VIOLATION_OTHER = 4,
};

/* ---- Per-call argument description -------------------------------------- */

enum keep_chan_arg_kind {
    KEEP_ARG_NONE = 0, /* not an argument of this call */
    KEEP_ARG_VAL,      /* plain integer, passed unchanged */
    KEEP_ARG_FD,       /* guest fd number; the host maps it through its fd table */
    KEEP_ARG_DIRFD,    /* guest fd or AT_FDCWD (-100) */
    KEEP_ARG_BUF,      /* bytes: direction, length rule below */
    KEEP_ARG_PATH,     /* NUL-terminated, in, at most KEEP_CHAN_PATH_MAX bytes with the NUL */
    KEEP_ARG_IOVEC,    /* struct iovec[count]; dir is the direction of the buffers they name */
    KEEP_ARG_MSGHDR,   /* struct msghdr (KEEP_SIZEOF_MSGHDR); dir IN = sendmsg, OUT = recvmsg */
    KEEP_ARG_IOCTL,    /* size and direction from keep_chan_ioctls[] by the request in arg 1 */
    KEEP_ARG_FCNTL,    /* by the command in arg 1: a struct flock (INOUT, keep_chan_fcntl_size)
                        * for the record-lock commands, a plain value for every other one */
};

enum keep_chan_dir {
    KEEP_DIR_IN = 1,    /* guest -> host */
    KEEP_DIR_OUT = 2,   /* host -> guest */
    KEEP_DIR_INOUT = 3, /* both */
};

/* Length rules (len_arg): another argument's value times elem_size, ... */
#define KEEP_LEN_FIXED 0xffu /* ... or exactly elem_size bytes, ... */
#define KEEP_LEN_PTR   0x80u /* ... or (KEEP_LEN_PTR | i): the u32 that argument i points to */

/* Flags */
#define KEEP_ARGF_NULLABLE 0x01u /* 0 (NULL) is accepted and passed as NULL */
/* The result counts this buffer's elements: out, only result * elem_size are written (read,
 * epoll_wait); in, at most its length was consumed (write, sendto's data, not its address). */
#define KEEP_ARGF_RESULT_LEN 0x02u

struct keep_chan_arg {
    uint8_t kind;       /* enum keep_chan_arg_kind */
    uint8_t dir;        /* enum keep_chan_dir, for BUF, IOVEC, MSGHDR */
    uint8_t len_arg;    /* length rule, see KEEP_LEN_* */
    uint8_t flags;      /* KEEP_ARGF_* */
    uint16_t elem_size; /* bytes per element (1 for bytes), or the fixed size */
    uint16_t max_count; /* cap on the counted length (0: bounded by memory only) */
};

/*
 * The one max_count rule, for the shim (sizing what it checks and copies)
 * and the executor (mapping): a count another argument passes by value
 * above max_count is refused with -EINVAL, as Linux refuses iovcnt above
 * UIO_MAXIOV (readv(2)) or nfds above RLIMIT_NOFILE (poll(2)); a count
 * read through a pointer (socklen_t *, KEEP_LEN_PTR) is cut to max_count,
 * as Linux cuts an oversized addrlen or optlen. keep_chan_count() is the
 * count to size the buffer with: never more than max_count. The shim
 * forwards a refused count unchanged and the host answers -EINVAL on
 * both paths.
 */
static inline int keep_chan_count_refused(const struct keep_chan_arg *a, uint64_t count)
{
    return a->max_count && count > a->max_count && !(a->len_arg & KEEP_LEN_PTR);
}
static inline uint64_t keep_chan_count(const struct keep_chan_arg *a, uint64_t count)
{
    return a->max_count && count > a->max_count ? a->max_count : count;
}

struct keep_chan_call {
    uint32_t nr;
    const char *name;
    struct keep_chan_arg args[6];
};

/* Linux x86-64 syscall numbers of the forwarded calls (arch/x86/entry/syscalls/syscall_64.tbl). */
enum keep_nr {
    KEEP_NR_read = 0,
    KEEP_NR_write = 1,
    KEEP_NR_open = 2,
    KEEP_NR_close = 3,
    KEEP_NR_stat = 4,
    KEEP_NR_fstat = 5,
    KEEP_NR_lstat = 6,
    KEEP_NR_poll = 7,
    KEEP_NR_lseek = 8,
    KEEP_NR_ioctl = 16,
    KEEP_NR_pread64 = 17,
    KEEP_NR_pwrite64 = 18,
    KEEP_NR_readv = 19,
    KEEP_NR_writev = 20,
    KEEP_NR_access = 21,
    KEEP_NR_pipe = 22,
    KEEP_NR_dup = 32,
    KEEP_NR_dup2 = 33,
    KEEP_NR_pause = 34, /* signals: the host waits for its next signal */
    KEEP_NR_nanosleep = 35,
    KEEP_NR_getitimer = 36, /* signals: ITIMER_REAL only, a timer of the keep process */
    KEEP_NR_alarm = 37,
    KEEP_NR_setitimer = 38,
    KEEP_NR_sendfile = 40,
    KEEP_NR_socket = 41,
    KEEP_NR_connect = 42,
    KEEP_NR_accept = 43,
    KEEP_NR_sendto = 44,
    KEEP_NR_recvfrom = 45,
    KEEP_NR_sendmsg = 46,
    KEEP_NR_recvmsg = 47,
    KEEP_NR_shutdown = 48,
    KEEP_NR_bind = 49,
    KEEP_NR_listen = 50,
    KEEP_NR_getsockname = 51,
    KEEP_NR_getpeername = 52,
    KEEP_NR_setsockopt = 54,
    KEEP_NR_getsockopt = 55,
    KEEP_NR_fcntl = 72,
    KEEP_NR_fsync = 74,
    KEEP_NR_fdatasync = 75,
    KEEP_NR_ftruncate = 77,
    KEEP_NR_getcwd = 79,
    KEEP_NR_chdir = 80,
    KEEP_NR_fchdir = 81,
    KEEP_NR_rename = 82,
    KEEP_NR_mkdir = 83,
    KEEP_NR_rmdir = 84,
    KEEP_NR_link = 86,
    KEEP_NR_unlink = 87,
    KEEP_NR_symlink = 88,
    KEEP_NR_readlink = 89,
    KEEP_NR_chmod = 90,
    KEEP_NR_fchmod = 91,
    KEEP_NR_chown = 92,
    KEEP_NR_fchown = 93,
    KEEP_NR_lchown = 94,
    KEEP_NR_umask = 95,
    KEEP_NR_gettimeofday = 96,
    KEEP_NR_getrusage = 98,
    KEEP_NR_statfs = 137,
    KEEP_NR_fstatfs = 138,
    KEEP_NR_time = 201,
    KEEP_NR_getdents64 = 217,
    KEEP_NR_clock_gettime = 228,
    KEEP_NR_clock_nanosleep = 230,
    KEEP_NR_epoll_wait = 232,
    KEEP_NR_epoll_ctl = 233,
    KEEP_NR_openat = 257,
    KEEP_NR_mkdirat = 258,
    KEEP_NR_fchownat = 260,
    KEEP_NR_newfstatat = 262,
    KEEP_NR_unlinkat = 263,
    KEEP_NR_renameat = 264,
    KEEP_NR_linkat = 265,
    KEEP_NR_symlinkat = 266,
    KEEP_NR_readlinkat = 267,
    KEEP_NR_fchmodat = 268,
    KEEP_NR_faccessat = 269,
    KEEP_NR_pselect6 = 270,
    KEEP_NR_ppoll = 271,
    KEEP_NR_utimensat = 280,
    KEEP_NR_epoll_pwait = 281,
    KEEP_NR_accept4 = 288,
    KEEP_NR_epoll_create1 = 291,
    KEEP_NR_dup3 = 292,
    KEEP_NR_pipe2 = 293,
    KEEP_NR_renameat2 = 316,
    KEEP_NR_statx = 332,
    KEEP_NR_faccessat2 = 439,
};

/*
 * Linux x86-64 calls the shim answers itself or builds from forwarded ones
 * (src/shim/); numbers from arch/x86/entry/syscalls/syscall_64.tbl. One
 * list for the shim and the host, so neither keeps its own copy.
 */
enum keep_shim_nr {
    KEEP_NR_mmap = 9,
    KEEP_NR_mprotect = 10,
    KEEP_NR_munmap = 11,
    KEEP_NR_brk = 12,
    KEEP_NR_rt_sigaction = 13,
    KEEP_NR_rt_sigprocmask = 14,
    KEEP_NR_rt_sigreturn = 15,
    KEEP_NR_select = 23,
    KEEP_NR_sched_yield = 24,
    KEEP_NR_mremap = 25,
    KEEP_NR_madvise = 28,
    KEEP_NR_getpid = 39,
    KEEP_NR_clone = 56,
    KEEP_NR_exit = 60,
    KEEP_NR_kill = 62,
    KEEP_NR_uname = 63,
    KEEP_NR_creat = 85,
    KEEP_NR_getrlimit = 97,
    KEEP_NR_sysinfo = 99,
    KEEP_NR_getuid = 102,
    KEEP_NR_getgid = 104,
    KEEP_NR_setuid = 105,
    KEEP_NR_setgid = 106,
    KEEP_NR_geteuid = 107,
    KEEP_NR_getegid = 108,
    KEEP_NR_setpgid = 109,
    KEEP_NR_getppid = 110,
    KEEP_NR_getpgrp = 111,
    KEEP_NR_setsid = 112,
    KEEP_NR_setreuid = 113,
    KEEP_NR_setregid = 114,
    KEEP_NR_getgroups = 115,
    KEEP_NR_setgroups = 116,
    KEEP_NR_setresuid = 117,
    KEEP_NR_getresuid = 118,
    KEEP_NR_setresgid = 119,
    KEEP_NR_getresgid = 120,
    KEEP_NR_getpgid = 121,
    KEEP_NR_setfsuid = 122,
    KEEP_NR_setfsgid = 123,
    KEEP_NR_getsid = 124,
    KEEP_NR_rt_sigpending = 127,
    KEEP_NR_rt_sigtimedwait = 128,
    KEEP_NR_rt_sigsuspend = 130,
    KEEP_NR_sigaltstack = 131,
    KEEP_NR_prctl = 157,
    KEEP_NR_arch_prctl = 158,
    KEEP_NR_gettid = 186,
    KEEP_NR_tkill = 200,
    KEEP_NR_futex = 202,
    KEEP_NR_sched_getaffinity = 204,
    KEEP_NR_set_tid_address = 218,
    KEEP_NR_exit_group = 231,
    KEEP_NR_tgkill = 234,
    KEEP_NR_set_robust_list = 273,
    KEEP_NR_pwritev = 296,
    KEEP_NR_prlimit64 = 302,
    KEEP_NR_getrandom = 318,
    KEEP_NR_rseq = 334,
    KEEP_NR_epoll_pwait2 = 441,
};

/* Every forwarded Linux call has a number below this (host lookup tables are this long). */
#define KEEP_CHAN_NR_LIMIT 512u

/* Shorthands for the table below. */
#define KA_VAL                      \
    {                               \
        KEEP_ARG_VAL, 0, 0, 0, 0, 0 \
    }
#define KA_FD                      \
    {                              \
        KEEP_ARG_FD, 0, 0, 0, 0, 0 \
    }
#define KA_DIRFD                      \
    {                                 \
        KEEP_ARG_DIRFD, 0, 0, 0, 0, 0 \
    }
#define KA_PATH                                \
    {                                          \
        KEEP_ARG_PATH, KEEP_DIR_IN, 0, 0, 1, 0 \
    }
#define KA_PATH_NULL                                            \
    {                                                           \
        KEEP_ARG_PATH, KEEP_DIR_IN, 0, KEEP_ARGF_NULLABLE, 1, 0 \
    }
/* bytes, length in argument i */
#define KA_BUF(dir, i, fl)                   \
    {                                        \
        KEEP_ARG_BUF, (dir), (i), (fl), 1, 0 \
    }
/* count elements of size sz in argument i, capped at max */
#define KA_ARR(dir, i, sz, max, fl)                 \
    {                                               \
        KEEP_ARG_BUF, (dir), (i), (fl), (sz), (max) \
    }
/* exactly sz bytes */
#define KA_FIX(dir, sz, fl)                                \
    {                                                      \
        KEEP_ARG_BUF, (dir), KEEP_LEN_FIXED, (fl), (sz), 0 \
    }
/* length in the u32 argument i points to */
#define KA_PLEN(dir, i, max, fl)                                \
    {                                                           \
        KEEP_ARG_BUF, (dir), KEEP_LEN_PTR | (i), (fl), 1, (max) \
    }
#define KA_IOV(dir, i)                                                      \
    {                                                                       \
        KEEP_ARG_IOVEC, (dir), (i), 0, KEEP_SIZEOF_IOVEC, KEEP_CHAN_IOV_MAX \
    }
#define KA_MSG(dir)                                                      \
    {                                                                    \
        KEEP_ARG_MSGHDR, (dir), KEEP_LEN_FIXED, 0, KEEP_SIZEOF_MSGHDR, 0 \
    }
#define KA_IOCTL                                       \
    {                                                  \
        KEEP_ARG_IOCTL, 0, 0, KEEP_ARGF_NULLABLE, 0, 0 \
    }
#define KA_FCNTL                      \
    {                                 \
        KEEP_ARG_FCNTL, 0, 0, 0, 0, 0 \
    }
#define KA_SOCKLEN KA_FIX(KEEP_DIR_INOUT, KEEP_SIZEOF_INT, KEEP_ARGF_NULLABLE)

/*
 * Every forwarded call. A syscall not listed here is answered -ENOSYS.
 * Sorted by nr. Buffer rules name the argument the length comes from, e.g.
 * read: arg 1 is an OUT buffer of arg-2 bytes of which `result` are written.
 */
__attribute__((unused)) static const struct keep_chan_call keep_chan_calls[] = {
    {KEEP_NR_read, "read", {KA_FD, KA_BUF(KEEP_DIR_OUT, 2, KEEP_ARGF_RESULT_LEN), KA_VAL}},
    {KEEP_NR_write, "write", {KA_FD, KA_BUF(KEEP_DIR_IN, 2, KEEP_ARGF_RESULT_LEN), KA_VAL}},
    {KEEP_NR_open, "open", {KA_PATH, KA_VAL, KA_VAL}},
    {KEEP_NR_close, "close", {KA_FD}},
    {KEEP_NR_stat, "stat", {KA_PATH, KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_STAT, 0)}},
    {KEEP_NR_fstat, "fstat", {KA_FD, KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_STAT, 0)}},
    {KEEP_NR_lstat, "lstat", {KA_PATH, KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_STAT, 0)}},
    {KEEP_NR_poll,
     "poll",
     {KA_ARR(KEEP_DIR_INOUT, 1, KEEP_SIZEOF_POLLFD, KEEP_CHAN_POLLFD_MAX, KEEP_ARGF_NULLABLE),
      KA_VAL, KA_VAL}},
    {KEEP_NR_lseek, "lseek", {KA_FD, KA_VAL, KA_VAL}},
    {KEEP_NR_ioctl, "ioctl", {KA_FD, KA_VAL, KA_IOCTL}},
    {KEEP_NR_pread64,
     "pread64",
     {KA_FD, KA_BUF(KEEP_DIR_OUT, 2, KEEP_ARGF_RESULT_LEN), KA_VAL, KA_VAL}},
    {KEEP_NR_pwrite64,
     "pwrite64",
     {KA_FD, KA_BUF(KEEP_DIR_IN, 2, KEEP_ARGF_RESULT_LEN), KA_VAL, KA_VAL}},
    {KEEP_NR_readv, "readv", {KA_FD, KA_IOV(KEEP_DIR_OUT, 2), KA_VAL}},
    {KEEP_NR_writev, "writev", {KA_FD, KA_IOV(KEEP_DIR_IN, 2), KA_VAL}},
    {KEEP_NR_access, "access", {KA_PATH, KA_VAL}},
    {KEEP_NR_pipe, "pipe", {KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_FDPAIR, 0)}},
    {KEEP_NR_dup, "dup", {KA_FD}},
    {KEEP_NR_dup2, "dup2", {KA_FD, KA_VAL}},
    {KEEP_NR_pause, "pause", {KA_VAL}},
    {KEEP_NR_nanosleep,
     "nanosleep",
     {KA_FIX(KEEP_DIR_IN, KEEP_SIZEOF_TIMESPEC, 0),
      KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_TIMESPEC, KEEP_ARGF_NULLABLE)}},
    {KEEP_NR_getitimer, "getitimer", {KA_VAL, KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_ITIMERVAL, 0)}},
    {KEEP_NR_alarm, "alarm", {KA_VAL}},
    {KEEP_NR_setitimer,
     "setitimer",
     {KA_VAL, KA_FIX(KEEP_DIR_IN, KEEP_SIZEOF_ITIMERVAL, KEEP_ARGF_NULLABLE),
      KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_ITIMERVAL, KEEP_ARGF_NULLABLE)}},
    /* Between two host fds of the guest: no file bytes cross the channel on either path. */
    {KEEP_NR_sendfile,
     "sendfile",
     {KA_FD, KA_FD, KA_FIX(KEEP_DIR_INOUT, KEEP_SIZEOF_OFF, KEEP_ARGF_NULLABLE), KA_VAL}},
    {KEEP_NR_socket, "socket", {KA_VAL, KA_VAL, KA_VAL}},
    {KEEP_NR_connect,
     "connect",
     {KA_FD, KA_ARR(KEEP_DIR_IN, 2, 1, KEEP_CHAN_SOCKLEN_MAX, 0), KA_VAL}},
    {KEEP_NR_accept,
     "accept",
     {KA_FD, KA_PLEN(KEEP_DIR_OUT, 2, KEEP_CHAN_SOCKLEN_MAX, KEEP_ARGF_NULLABLE), KA_SOCKLEN}},
    {KEEP_NR_sendto,
     "sendto",
     {KA_FD, KA_BUF(KEEP_DIR_IN, 2, KEEP_ARGF_RESULT_LEN), KA_VAL, KA_VAL,
      KA_ARR(KEEP_DIR_IN, 5, 1, KEEP_CHAN_SOCKLEN_MAX, KEEP_ARGF_NULLABLE), KA_VAL}},
    {KEEP_NR_recvfrom,
     "recvfrom",
     {KA_FD, KA_BUF(KEEP_DIR_OUT, 2, KEEP_ARGF_RESULT_LEN), KA_VAL, KA_VAL,
      KA_PLEN(KEEP_DIR_OUT, 5, KEEP_CHAN_SOCKLEN_MAX, KEEP_ARGF_NULLABLE), KA_SOCKLEN}},
    {KEEP_NR_sendmsg, "sendmsg", {KA_FD, KA_MSG(KEEP_DIR_IN), KA_VAL}},
    {KEEP_NR_recvmsg, "recvmsg", {KA_FD, KA_MSG(KEEP_DIR_OUT), KA_VAL}},
    {KEEP_NR_shutdown, "shutdown", {KA_FD, KA_VAL}},
    {KEEP_NR_bind, "bind", {KA_FD, KA_ARR(KEEP_DIR_IN, 2, 1, KEEP_CHAN_SOCKLEN_MAX, 0), KA_VAL}},
    {KEEP_NR_listen, "listen", {KA_FD, KA_VAL}},
    {KEEP_NR_getsockname,
     "getsockname",
     {KA_FD, KA_PLEN(KEEP_DIR_OUT, 2, KEEP_CHAN_SOCKLEN_MAX, 0),
      KA_FIX(KEEP_DIR_INOUT, KEEP_SIZEOF_INT, 0)}},
    {KEEP_NR_getpeername,
     "getpeername",
     {KA_FD, KA_PLEN(KEEP_DIR_OUT, 2, KEEP_CHAN_SOCKLEN_MAX, 0),
      KA_FIX(KEEP_DIR_INOUT, KEEP_SIZEOF_INT, 0)}},
    {KEEP_NR_setsockopt,
     "setsockopt",
     {KA_FD, KA_VAL, KA_VAL, KA_ARR(KEEP_DIR_IN, 4, 1, KEEP_CHAN_OPTLEN_MAX, 0), KA_VAL}},
    {KEEP_NR_getsockopt,
     "getsockopt",
     {KA_FD, KA_VAL, KA_VAL, KA_PLEN(KEEP_DIR_OUT, 4, KEEP_CHAN_OPTLEN_MAX, 0),
      KA_FIX(KEEP_DIR_INOUT, KEEP_SIZEOF_INT, 0)}},
    {KEEP_NR_fcntl, "fcntl", {KA_FD, KA_VAL, KA_FCNTL}},
    {KEEP_NR_fsync, "fsync", {KA_FD}},
    {KEEP_NR_fdatasync, "fdatasync", {KA_FD}},
    {KEEP_NR_ftruncate, "ftruncate", {KA_FD, KA_VAL}},
    /* The guest's cwd lives in the executor (it starts at "/"); the host's is untouched. */
    {KEEP_NR_getcwd, "getcwd", {KA_BUF(KEEP_DIR_OUT, 1, KEEP_ARGF_RESULT_LEN), KA_VAL}},
    {KEEP_NR_chdir, "chdir", {KA_PATH}},
    {KEEP_NR_fchdir, "fchdir", {KA_FD}},
    {KEEP_NR_rename, "rename", {KA_PATH, KA_PATH}},
    {KEEP_NR_mkdir, "mkdir", {KA_PATH, KA_VAL}},
    {KEEP_NR_rmdir, "rmdir", {KA_PATH}},
    {KEEP_NR_link, "link", {KA_PATH, KA_PATH}},
    {KEEP_NR_unlink, "unlink", {KA_PATH}},
    /* The target (arg 0) is stored as given, never resolved when the link is made. */
    {KEEP_NR_symlink, "symlink", {KA_PATH, KA_PATH}},
    {KEEP_NR_readlink,
     "readlink",
     {KA_PATH, KA_BUF(KEEP_DIR_OUT, 2, KEEP_ARGF_RESULT_LEN), KA_VAL}},
    {KEEP_NR_chmod, "chmod", {KA_PATH, KA_VAL}},
    {KEEP_NR_fchmod, "fchmod", {KA_FD, KA_VAL}},
    {KEEP_NR_chown, "chown", {KA_PATH, KA_VAL, KA_VAL}},
    {KEEP_NR_fchown, "fchown", {KA_FD, KA_VAL, KA_VAL}},
    {KEEP_NR_lchown, "lchown", {KA_PATH, KA_VAL, KA_VAL}},
    /* Kept by the executor for the guest; keep runs with umask 0 meanwhile (executor.c). */
    {KEEP_NR_umask, "umask", {KA_VAL}},
    {KEEP_NR_gettimeofday,
     "gettimeofday",
     {KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_TIMEVAL, KEEP_ARGF_NULLABLE),
      KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_TIMEZONE, KEEP_ARGF_NULLABLE)}},
    {KEEP_NR_getrusage, "getrusage", {KA_VAL, KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_RUSAGE, 0)}},
    {KEEP_NR_statfs, "statfs", {KA_PATH, KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_STATFS, 0)}},
    {KEEP_NR_fstatfs, "fstatfs", {KA_FD, KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_STATFS, 0)}},
    {KEEP_NR_time, "time", {KA_FIX(KEEP_DIR_OUT, 8, KEEP_ARGF_NULLABLE)}},
    {KEEP_NR_getdents64,
     "getdents64",
     {KA_FD, KA_BUF(KEEP_DIR_OUT, 2, KEEP_ARGF_RESULT_LEN), KA_VAL}},
    {KEEP_NR_clock_gettime,
     "clock_gettime",
     {KA_VAL, KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_TIMESPEC, 0)}},
    {KEEP_NR_clock_nanosleep,
     "clock_nanosleep",
     {KA_VAL, KA_VAL, KA_FIX(KEEP_DIR_IN, KEEP_SIZEOF_TIMESPEC, 0),
      KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_TIMESPEC, KEEP_ARGF_NULLABLE)}},
    {KEEP_NR_epoll_wait,
     "epoll_wait",
     {KA_FD,
      KA_ARR(KEEP_DIR_OUT, 2, KEEP_SIZEOF_EPOLL_EVENT, KEEP_CHAN_EPOLL_MAX, KEEP_ARGF_RESULT_LEN),
      KA_VAL, KA_VAL}},
    {KEEP_NR_epoll_ctl,
     "epoll_ctl",
     {KA_FD, KA_VAL, KA_FD, KA_FIX(KEEP_DIR_IN, KEEP_SIZEOF_EPOLL_EVENT, KEEP_ARGF_NULLABLE)}},
    {KEEP_NR_openat, "openat", {KA_DIRFD, KA_PATH, KA_VAL, KA_VAL}},
    {KEEP_NR_mkdirat, "mkdirat", {KA_DIRFD, KA_PATH, KA_VAL}},
    {KEEP_NR_fchownat, "fchownat", {KA_DIRFD, KA_PATH, KA_VAL, KA_VAL, KA_VAL}},
    {KEEP_NR_newfstatat,
     "newfstatat",
     {KA_DIRFD, KA_PATH, KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_STAT, 0), KA_VAL}},
    {KEEP_NR_unlinkat, "unlinkat", {KA_DIRFD, KA_PATH, KA_VAL}},
    {KEEP_NR_renameat, "renameat", {KA_DIRFD, KA_PATH, KA_DIRFD, KA_PATH}},
    {KEEP_NR_linkat, "linkat", {KA_DIRFD, KA_PATH, KA_DIRFD, KA_PATH, KA_VAL}},
    {KEEP_NR_symlinkat, "symlinkat", {KA_PATH, KA_DIRFD, KA_PATH}},
    {KEEP_NR_readlinkat,
     "readlinkat",
     {KA_DIRFD, KA_PATH, KA_BUF(KEEP_DIR_OUT, 3, KEEP_ARGF_RESULT_LEN), KA_VAL}},
    {KEEP_NR_fchmodat, "fchmodat", {KA_DIRFD, KA_PATH, KA_VAL}},
    {KEEP_NR_faccessat, "faccessat", {KA_DIRFD, KA_PATH, KA_VAL}},
    /*
     * select(2) and pselect6(2) both arrive as this one call: the shim copies
     * the workload's fd_sets (nfds bits each) into full KEEP_CHAN_MAX_FDS-bit
     * sets and a timespec; the signal mask (arg 5) is not forwarded.
     */
    {KEEP_NR_pselect6,
     "pselect6",
     {KA_VAL, KA_FIX(KEEP_DIR_INOUT, KEEP_SIZEOF_FDSET, KEEP_ARGF_NULLABLE),
      KA_FIX(KEEP_DIR_INOUT, KEEP_SIZEOF_FDSET, KEEP_ARGF_NULLABLE),
      KA_FIX(KEEP_DIR_INOUT, KEEP_SIZEOF_FDSET, KEEP_ARGF_NULLABLE),
      KA_FIX(KEEP_DIR_INOUT, KEEP_SIZEOF_TIMESPEC, KEEP_ARGF_NULLABLE), KA_VAL}},
    /* The signal mask (arg 3) is not forwarded: it is not applied during the wait. */
    {KEEP_NR_ppoll,
     "ppoll",
     {KA_ARR(KEEP_DIR_INOUT, 1, KEEP_SIZEOF_POLLFD, KEEP_CHAN_POLLFD_MAX, KEEP_ARGF_NULLABLE),
      KA_VAL, KA_FIX(KEEP_DIR_IN, KEEP_SIZEOF_TIMESPEC, KEEP_ARGF_NULLABLE), KA_VAL, KA_VAL}},
    /* A NULL path means the file dirfd refers to (futimens). */
    {KEEP_NR_utimensat,
     "utimensat",
     {KA_DIRFD, KA_PATH_NULL, KA_FIX(KEEP_DIR_IN, 2 * KEEP_SIZEOF_TIMESPEC, KEEP_ARGF_NULLABLE),
      KA_VAL}},
    {KEEP_NR_epoll_pwait,
     "epoll_pwait",
     {KA_FD,
      KA_ARR(KEEP_DIR_OUT, 2, KEEP_SIZEOF_EPOLL_EVENT, KEEP_CHAN_EPOLL_MAX, KEEP_ARGF_RESULT_LEN),
      KA_VAL, KA_VAL, KA_VAL, KA_VAL}},
    {KEEP_NR_accept4,
     "accept4",
     {KA_FD, KA_PLEN(KEEP_DIR_OUT, 2, KEEP_CHAN_SOCKLEN_MAX, KEEP_ARGF_NULLABLE), KA_SOCKLEN,
      KA_VAL}},
    {KEEP_NR_epoll_create1, "epoll_create1", {KA_VAL}},
    {KEEP_NR_dup3, "dup3", {KA_FD, KA_VAL, KA_VAL}},
    {KEEP_NR_pipe2, "pipe2", {KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_FDPAIR, 0), KA_VAL}},
    {KEEP_NR_renameat2, "renameat2", {KA_DIRFD, KA_PATH, KA_DIRFD, KA_PATH, KA_VAL}},
    {KEEP_NR_statx,
     "statx",
     {KA_DIRFD, KA_PATH, KA_VAL, KA_VAL, KA_FIX(KEEP_DIR_OUT, KEEP_SIZEOF_STATX, 0)}},
    {KEEP_NR_faccessat2, "faccessat2", {KA_DIRFD, KA_PATH, KA_VAL, KA_VAL}},
    {KEEP_HC_GET_EVIDENCE,
     "keep_get_evidence",
     {KA_FIX(KEEP_DIR_IN, 64, 0),
      KA_BUF(KEEP_DIR_OUT, 2, KEEP_ARGF_NULLABLE | KEEP_ARGF_RESULT_LEN), KA_VAL}},
    {KEEP_HC_PLACEHOLDER, "keep_placeholder", {KA_VAL}},
};

#define KEEP_CHAN_CALL_COUNT (sizeof(keep_chan_calls) / sizeof(keep_chan_calls[0]))

/* The ioctl requests the host forwards, with the size and direction of arg 2. */
struct keep_chan_ioctl {
    uint32_t request;
    uint8_t dir;   /* enum keep_chan_dir */
    uint16_t size; /* bytes arg 2 points to */
};

#define KEEP_IOCTL_TCGETS     0x5401u
#define KEEP_IOCTL_TIOCGWINSZ 0x5413u
#define KEEP_IOCTL_FIONREAD   0x541bu
#define KEEP_IOCTL_FIONBIO    0x5421u

__attribute__((unused)) static const struct keep_chan_ioctl keep_chan_ioctls[] = {
    {KEEP_IOCTL_TCGETS, KEEP_DIR_OUT, KEEP_SIZEOF_TERMIOS},
    {KEEP_IOCTL_TIOCGWINSZ, KEEP_DIR_OUT, KEEP_SIZEOF_WINSIZE},
    {KEEP_IOCTL_FIONREAD, KEEP_DIR_OUT, KEEP_SIZEOF_INT},
    {KEEP_IOCTL_FIONBIO, KEEP_DIR_IN, KEEP_SIZEOF_INT},
};

/* fcntl(2) commands whose argument is a struct flock (include/uapi/asm-generic/fcntl.h). */
#define KEEP_F_GETLK      5u
#define KEEP_F_SETLK      6u
#define KEEP_F_SETLKW     7u
#define KEEP_F_OFD_GETLK  36u
#define KEEP_F_OFD_SETLK  37u
#define KEEP_F_OFD_SETLKW 38u

/* Bytes fcntl's arg 2 points to for command cmd; 0 when arg 2 is a plain value. */
__attribute__((unused)) static inline uint32_t keep_chan_fcntl_size(uint64_t cmd)
{
    return (cmd >= KEEP_F_GETLK && cmd <= KEEP_F_SETLKW) ||
                   (cmd >= KEEP_F_OFD_GETLK && cmd <= KEEP_F_OFD_SETLKW)
               ? KEEP_SIZEOF_FLOCK
               : 0;
}

/* The description of call nr, or NULL when the host does not forward it. */
__attribute__((unused)) static inline const struct keep_chan_call *keep_chan_find_call(uint64_t nr)
{
    size_t lo = 0, hi = KEEP_CHAN_CALL_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keep_chan_calls[mid].nr == nr)
            return &keep_chan_calls[mid];
        if (keep_chan_calls[mid].nr < nr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The description of ioctl request, or NULL when it is not forwarded. */
__attribute__((unused)) static inline const struct keep_chan_ioctl *
keep_chan_find_ioctl(uint64_t request)
{
    for (size_t i = 0; i < sizeof(keep_chan_ioctls) / sizeof(keep_chan_ioctls[0]); i++) {
        if (keep_chan_ioctls[i].request == request)
            return &keep_chan_ioctls[i];
    }
    return NULL;
}

_Static_assert(sizeof(struct keep_chan_header) == KEEP_CHAN_HEADER_SIZE, "header is 64 bytes");
_Static_assert(sizeof(struct keep_chan_item) == KEEP_CHAN_ITEM_SIZE, "item is 64 bytes");
_Static_assert(KEEP_CHAN_ITEMS_OFFSET + KEEP_CHAN_MAX_ITEMS * KEEP_CHAN_ITEM_SIZE <= 4096,
               "header and items fit one page");

#endif /* KEEP_COMMON_CHANNEL_H */
