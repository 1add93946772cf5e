/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small calls the shim answers or translates itself, as Linux answers an
 * unprivileged process that is alone in its Keep: identity (setuid and
 * friends), session and process group, prctl names, sysinfo, creat, and
 * select/pselect6 (translated into the one forwarded pselect6 shape).
 * docs/KEEP.md, "Syscall table".
 */
#include "common/channel.h"
#include "shim.h"

#define KEEP_PID 1 /* as shim.c answers getpid() */
#define ID       KEEP_GUEST_ID
#define NO_ID    0xffffffffu /* (uid_t)-1: "leave unchanged" */

/* The workload's [addr, addr + size) is mapped and readable (pages made present), as Linux's
 * copy_from_user needs; EFAULT otherwise. */
static bool user_ok(uint64_t addr, uint64_t size)
{
    return shim_user_ok(addr, size) && shim_mm_populate(addr, size) == 0;
}

/* The same for memory the Keep writes the answer into: also writable (copy_to_user). */
static bool user_writable(uint64_t addr, uint64_t size)
{
    return shim_user_ok(addr, size) && shim_mm_populate_writable(addr, size) == 0;
}

/* ---- identity ------------------------------------------------------------- */

/*
 * The Keep's real, effective and saved ids are all KEEP_GUEST_ID, and it
 * has no capabilities: credentials(7) lets such a process set an id only to
 * one of its own, so the Keep's id succeeds (and changes nothing), any other
 * is EPERM, and -1 alone (setuid(-1)) is EINVAL (kernel/sys.c, uid_valid).
 */
static long set_ids(const uint64_t *ids, int count, bool minus_one_keeps)
{
    for (int i = 0; i < count; i++) {
        uint32_t id = (uint32_t)ids[i];
        if (id == NO_ID && !minus_one_keeps)
            return -SHIM_EINVAL;
        if (id != NO_ID && id != ID)
            return -SHIM_EPERM;
    }
    return 0;
}

static long get_res_ids(uint64_t r, uint64_t e, uint64_t s)
{
    if (!user_writable(r, 4) || !user_writable(e, 4) || !user_writable(s, 4))
        return -SHIM_EFAULT;
    *(uint32_t *)r = *(uint32_t *)e = *(uint32_t *)s = ID;
    return 0;
}

/* getgroups(2): no supplementary groups. */
static long get_groups(uint64_t size)
{
    return (int32_t)size < 0 ? -SHIM_EINVAL : 0;
}

/* ---- session and process group ------------------------------------------ */

/*
 * The Keep's one process is pid 1, leader of process group 1 and of
 * session 1, as init is: setsid(2) "fails if the calling process is
 * already a process group leader" (EPERM), and setpgid(2) may not move a
 * session leader (EPERM). No other process exists (ESRCH).
 */
static long pgid_of(uint64_t pid)
{
    return (pid == 0 || pid == KEEP_PID) ? KEEP_PID : -SHIM_ESRCH;
}

static long set_pgid(uint64_t pid, uint64_t pgid)
{
    if ((int32_t)pgid < 0)
        return -SHIM_EINVAL;
    if (pid != 0 && pid != KEEP_PID)
        return -SHIM_ESRCH;
    return -SHIM_EPERM; /* setpgid(2): the process is a session leader */
}

/* ---- prctl names ---------------------------------------------------------- */

#define TASK_COMM_LEN 16 /* include/linux/sched.h */
static char comm[TASK_COMM_LEN];
static bool comm_known;

/*
 * The starting name is the last component of the program's path (as
 * execve sets it), from AT_EXECFN: src/host/kvm_loader.c pushes AT_RANDOM
 * (16 bytes), "x86_64" and then that path at the very top of the stack.
 */
static void learn_comm(void)
{
    uint64_t top = BOOT->in.workload_base + BOOT->in.workload_size;
    uint64_t nul = top - 16 - 7 - 1, start = nul; /* the path's NUL, just below "x86_64" */
    comm_known = true;
    if (!shim_user_ok(nul, 1) || *(const volatile char *)nul != 0)
        return;
    while (start > BOOT->in.stack_low && *(const volatile char *)(start - 1) != 0)
        start--;
    uint64_t base = start;
    for (uint64_t p = start; p < nul; p++)
        if (*(const volatile char *)p == '/')
            base = p + 1;
    size_t n = 0;
    for (uint64_t p = base; p < nul && n < TASK_COMM_LEN - 1; p++)
        comm[n++] = *(const volatile char *)p;
    comm[n] = 0;
}

static long do_prctl(uint64_t option, uint64_t arg2)
{
    enum { PR_SET_NAME = 15, PR_GET_NAME = 16 };
    if (!comm_known)
        learn_comm();
    if (option == PR_SET_NAME) {
        /* prctl(2): the name is truncated to 16 bytes with its NUL. */
        size_t n = 0;
        char name[TASK_COMM_LEN];
        for (; n < TASK_COMM_LEN - 1; n++) {
            if (!user_ok(arg2 + n, 1))
                return -SHIM_EFAULT;
            if ((name[n] = *(const volatile char *)(arg2 + n)) == 0)
                break;
        }
        name[n] = 0;
        memcpy(comm, name, sizeof(comm));
        return 0;
    }
    if (option == PR_GET_NAME) {
        if (!user_writable(arg2, TASK_COMM_LEN))
            return -SHIM_EFAULT;
        memcpy((void *)arg2, comm, TASK_COMM_LEN);
        return 0;
    }
    return -SHIM_EINVAL; /* prctl(2): option is not recognized */
}

/* ---- sysinfo ------------------------------------------------------------- */

/* Scratch below the workload's red zone, as a signal frame would use (see do_time in shim.c). */
static uint64_t user_scratch(const struct shim_frame *f, uint64_t size)
{
    return (f->rsp - 128 - size) & ~15ull;
}

/*
 * struct sysinfo (sysinfo(2), x86-64): uptime@0 loads[3]@8 totalram@32
 * freeram@40 sharedram@48 bufferram@56 totalswap@64 freeswap@72 procs@80
 * totalhigh@88 freehigh@96 mem_unit@104, 112 bytes. The memory is the
 * Keep's (--memory, and what of it no page uses yet); uptime is the
 * host's CLOCK_BOOTTIME, as a container sees it; one process, no load.
 */
static long do_sysinfo(const struct shim_frame *f)
{
    enum { SYSINFO_SIZE = 112, CLOCK_BOOTTIME = 7 };
    uint64_t buf = f->rdi, ts = user_scratch(f, 16);
    if (!user_writable(buf, SYSINFO_SIZE) || !user_writable(ts, 16))
        return -SHIM_EFAULT;
    struct shim_frame g = {.nr = KEEP_NR_clock_gettime, .rdi = CLOCK_BOOTTIME, .rsi = ts};
    long r = shim_forward(&g);
    if (r < 0)
        return r;
    uint64_t total = BOOT->in.memory_size, free = shim_mm_free_bytes();
    uint8_t *p = (uint8_t *)buf;
    memset(p, 0, SYSINFO_SIZE);
    *(uint64_t *)p = *(volatile uint64_t *)ts;
    *(uint64_t *)(p + 32) = total;
    *(uint64_t *)(p + 40) = free < total ? free : total;
    *(uint16_t *)(p + 80) = 1;
    *(uint32_t *)(p + 104) = 1;
    return 0;
}

/* ---- select and pselect6 ------------------------------------------------- */

static uint64_t popcount64(uint64_t v)
{
    uint64_t n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

/*
 * Both arrive here and leave as the forwarded pselect6 (channel.h): the
 * workload's sets hold FDS_BYTES(nfds) bytes each (fs/select.c), copied
 * into full 1024-bit sets below the red zone, so the host only ever sees
 * fixed-size sets. The host's answer is checked before the workload sees
 * it: only bits it asked for, and a count equal to the bits set.
 */
static long do_select(const struct shim_frame *f, bool is_pselect)
{
    enum { SETS = 3 * KEEP_SIZEOF_FDSET, SCRATCH = SETS + KEEP_SIZEOF_TIMESPEC };
    int32_t nfds = (int32_t)f->rdi;
    uint64_t user_set[3] = {f->rsi, f->rdx, f->r10}, tmo = f->r8;
    uint64_t scratch = user_scratch(f, SCRATCH), ts = scratch + SETS;
    if (nfds < 0)
        return -SHIM_EINVAL;
    /* fs/select.c core_sys_select: nfds above the fd table's size is cut down to it (no Keep
     * fd is KEEP_CHAN_MAX_FDS or more); the bits beyond are neither read nor written. */
    if (nfds > (int32_t)KEEP_CHAN_MAX_FDS)
        nfds = (int32_t)KEEP_CHAN_MAX_FDS;
    uint64_t bytes = ((uint64_t)nfds + 63) / 64 * 8;
    if (!user_ok(scratch, SCRATCH))
        return -SHIM_EFAULT;
    uint64_t asked[3][KEEP_SIZEOF_FDSET / 8];
    struct shim_frame g = {.nr = KEEP_NR_pselect6, .rdi = (uint64_t)nfds};
    uint64_t *g_sets[3] = {&g.rsi, &g.rdx, &g.r10};
    for (int s = 0; s < 3; s++) {
        memset(asked[s], 0, sizeof(asked[s]));
        if (!user_set[s])
            continue;
        if (!user_ok(user_set[s], bytes))
            return -SHIM_EFAULT;
        memcpy(asked[s], (const void *)user_set[s], bytes);
        memcpy((void *)(scratch + s * KEEP_SIZEOF_FDSET), asked[s], KEEP_SIZEOF_FDSET);
        *g_sets[s] = scratch + s * KEEP_SIZEOF_FDSET;
    }
    if (tmo) {
        if (!user_ok(tmo, 16))
            return -SHIM_EFAULT;
        int64_t sec = *(const volatile int64_t *)tmo, sub = *(const volatile int64_t *)(tmo + 8);
        if (!is_pselect) {
            /* select(2): a negative timeval is EINVAL; whole seconds of tv_usec carry over. */
            if (sec < 0 || sub < 0)
                return -SHIM_EINVAL;
            sec += sub / 1000000;
            sub = sub % 1000000 * 1000;
        }
        *(volatile int64_t *)ts = sec;
        *(volatile int64_t *)(ts + 8) = sub;
        g.r8 = ts;
    }
    long r = shim_forward(&g);
    if (r < 0)
        return r;
    uint64_t count = 0;
    for (int s = 0; s < 3; s++) {
        if (!user_set[s])
            continue;
        uint64_t got[KEEP_SIZEOF_FDSET / 8];
        memcpy(got, (const void *)(scratch + s * KEEP_SIZEOF_FDSET), sizeof(got));
        for (size_t w = 0; w < KEEP_SIZEOF_FDSET / 8; w++) {
            if (got[w] & ~asked[s][w])
                shim_panic("host result rejected: pselect6 set a bit it was not asked, word", w);
            count += popcount64(got[w]);
        }
        memcpy((void *)user_set[s], got, bytes);
    }
    if ((uint64_t)r != count)
        shim_panic("host result rejected: pselect6 count differs from the bits set; count",
                   (uint64_t)r);
    if (tmo) {
        /* Linux writes back the time not slept (select(2) NOTES). */
        int64_t sec = *(volatile int64_t *)ts, nsec = *(volatile int64_t *)(ts + 8);
        if (sec < 0 || nsec < 0 || nsec >= 1000000000)
            shim_panic("host result rejected: pselect6 time left is not a timespec; tv_nsec",
                       (uint64_t)nsec);
        *(volatile int64_t *)tmo = sec;
        *(volatile int64_t *)(tmo + 8) = is_pselect ? nsec : nsec / 1000;
    }
    return r;
}

/* creat(2): "equivalent to open() with flags equal to O_CREAT|O_WRONLY|O_TRUNC". */
static long do_creat(const struct shim_frame *f)
{
    enum { O_WRONLY = 01, O_CREAT = 0100, O_TRUNC = 01000 };
    struct shim_frame g = {
        .nr = KEEP_NR_open, .rdi = f->rdi, .rsi = O_CREAT | O_WRONLY | O_TRUNC, .rdx = f->rsi};
    return shim_forward(&g);
}

bool shim_small_call(const struct shim_frame *f, long *r)
{
    enum { MAP_ANONYMOUS = 0x20 };
    const uint64_t a3[3] = {f->rdi, f->rsi, f->rdx};
    switch (f->nr) {
    case KEEP_NR_mmap:
        if (f->r10 & MAP_ANONYMOUS)
            return false;
        *r = shim_mmap_file(f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9);
        return true;
    case KEEP_NR_select:
    case KEEP_NR_pselect6:
        *r = do_select(f, f->nr == KEEP_NR_pselect6);
        return true;
    case KEEP_NR_creat:
        *r = do_creat(f);
        return true;
    case KEEP_NR_sysinfo:
        *r = do_sysinfo(f);
        return true;
    case KEEP_NR_setuid:
    case KEEP_NR_setgid:
        *r = set_ids(a3, 1, false);
        return true;
    case KEEP_NR_setreuid:
    case KEEP_NR_setregid:
        *r = set_ids(a3, 2, true);
        return true;
    case KEEP_NR_setresuid:
    case KEEP_NR_setresgid:
        *r = set_ids(a3, 3, true);
        return true;
    case KEEP_NR_getresuid:
    case KEEP_NR_getresgid:
        *r = get_res_ids(f->rdi, f->rsi, f->rdx);
        return true;
    case KEEP_NR_setfsuid:
    case KEEP_NR_setfsgid:
        *r = ID; /* setfsuid(2) returns the previous fsuid, which never changes */
        return true;
    case KEEP_NR_getgroups:
        *r = get_groups(f->rdi);
        return true;
    case KEEP_NR_setgroups:
        *r = -SHIM_EPERM; /* setgroups(2) needs CAP_SETGID */
        return true;
    case KEEP_NR_getpgrp:
        *r = KEEP_PID;
        return true;
    case KEEP_NR_getpgid:
    case KEEP_NR_getsid:
        *r = pgid_of(f->rdi);
        return true;
    case KEEP_NR_setpgid:
        *r = set_pgid(f->rdi, f->rsi);
        return true;
    case KEEP_NR_setsid:
        *r = -SHIM_EPERM;
        return true;
    case KEEP_NR_prctl:
        *r = do_prctl(f->rdi, f->rsi);
        return true;
    default:
        return false;
    }
}
