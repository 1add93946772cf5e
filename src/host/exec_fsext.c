/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Forwarded file-system calls that real tools need beyond open/read/write
 * (SQLite, busybox, sash): POSIX and open-file-description record locks,
 * hard and symbolic links, ownership, statfs, sendfile, select and
 * getrusage. Same rules as exec_fs.c: arguments arrive checked and mapped
 * by the shared description, structures are converted explicitly, paths
 * resolve beneath their volume. docs/KEEP.md, "Syscall table".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "common/cursor.h"
#include "host/exec_internal.h"

_Static_assert(sizeof(struct statfs) == KEEP_SIZEOF_STATFS, "host struct statfs is the x86-64 one");
_Static_assert(sizeof(struct rusage) == KEEP_SIZEOF_RUSAGE, "host struct rusage is the x86-64 one");

/* r, or -errno of the call that returned it; fd is closed after errno is read. */
static int64_t close_after(int fd, long r)
{
    int saved = errno;
    close(fd);
    return r < 0 ? -saved : r;
}

/* ---- record locks (fcntl F_GETLK/F_SETLK/F_SETLKW and F_OFD_*) ---------- */

/*
 * The guest's struct flock (KEEP_SIZEOF_FLOCK, x86-64): short l_type @0,
 * short l_whence @2, off_t l_start @8, off_t l_len @16, pid_t l_pid @24.
 */
struct guest_flock {
    uint16_t type, whence;
    uint64_t start, len;
    uint32_t pid;
};

static int read_flock(const uint8_t *p, struct guest_flock *g)
{
    struct keep_cursor cur;
    uint32_t pad;
    keep_cursor_init(&cur, p, KEEP_SIZEOF_FLOCK);
    if (keep_cursor_u16(&cur, "flock.l_type", &g->type, NULL) ||
        keep_cursor_u16(&cur, "flock.l_whence", &g->whence, NULL) ||
        keep_cursor_u32(&cur, "flock padding", &pad, NULL) ||
        keep_cursor_u64(&cur, "flock.l_start", &g->start, NULL) ||
        keep_cursor_u64(&cur, "flock.l_len", &g->len, NULL) ||
        keep_cursor_u32(&cur, "flock.l_pid", &g->pid, NULL))
        return -EFAULT;
    return 0;
}

static int host_lock_cmd(uint64_t cmd)
{
    switch (cmd) {
    case KEEP_F_GETLK:
        return F_GETLK;
    case KEEP_F_SETLK:
        return F_SETLK;
    case KEEP_F_SETLKW:
        return F_SETLKW;
    case KEEP_F_OFD_GETLK:
        return F_OFD_GETLK;
    case KEEP_F_OFD_SETLK:
        return F_OFD_SETLK;
    default:
        return F_OFD_SETLKW;
    }
}

/*
 * Real host locks on the host fd, so two Keeps (or a Keep and a native
 * program) sharing a file exclude each other as two Linux processes do. The
 * executor opens no second non-O_PATH fd for a guest file, so no host close
 * drops a POSIX lock the guest still holds (fcntl(2), "record locks are
 * released on any close"). F_SETLKW blocks the Keep until the lock is free.
 */
int64_t keep_exec_fcntl_lock(struct exec_call *c)
{
    struct guest_flock g;
    uint64_t cmd = c->a[1];
    bool ofd = cmd >= KEEP_F_OFD_GETLK;
    int rc = read_flock(c->p[2], &g);
    if (rc)
        return rc;
    /* fcntl(2): l_type is F_RDLCK, F_WRLCK or F_UNLCK; l_whence SEEK_SET, SEEK_CUR or SEEK_END. */
    if (g.type != F_RDLCK && g.type != F_WRLCK && g.type != F_UNLCK)
        return -EINVAL;
    if (g.whence > SEEK_END)
        return -EINVAL;
    /* fcntl(2), "Open file description locks": l_pid must be set to zero. */
    if (ofd && g.pid != 0)
        return -EINVAL;
    struct flock fl = {.l_type = (short)g.type,
                       .l_whence = (short)g.whence,
                       .l_start = (off_t)g.start,
                       .l_len = (off_t)g.len,
                       .l_pid = 0};
    keep_exec_unlock(c, NULL, 0); /* F_SETLKW waits for the lock */
    int r = fcntl(c->hfd[0], host_lock_cmd(cmd), &fl);
    keep_exec_relock(c);
    if (r < 0)
        return -errno;
    if (cmd != KEEP_F_GETLK && cmd != KEEP_F_OFD_GETLK)
        return 0;
    /*
     * The holder of a conflicting lock is another host process: outside the
     * Keep, as a process in another PID namespace is, for which Linux
     * reports l_pid 0; an OFD lock has no owner process and reports -1.
     * With no conflict only l_type changes (to F_UNLCK).
     */
    uint32_t pid = fl.l_type == F_UNLCK ? g.pid : fl.l_pid == -1 ? UINT32_MAX : 0;
    uint16_t type = (uint16_t)fl.l_type, whence = (uint16_t)fl.l_whence;
    memcpy(c->p[2], &type, 2);
    memcpy(c->p[2] + 2, &whence, 2);
    store_u64(c->p[2] + 8, (uint64_t)fl.l_start);
    store_u64(c->p[2] + 16, (uint64_t)fl.l_len);
    store_u32(c->p[2] + 24, pid);
    return 0;
}

/* ---- links ---------------------------------------------------------------- */

/*
 * symlink(2): the target is stored as given, whatever it names; every
 * later use resolves beneath the volume (volumes.h), so a target that
 * leaves the volume can be made, as on Linux, but never followed out.
 */
static int64_t symlink_common(struct exec_call *c, int target_arg, int dirfd_arg, int path_arg)
{
    const char *rel, *name;
    if (c->path[target_arg][0] == '\0')
        return -ENOENT; /* symlink(2): target is an empty string */
    int vol = keep_exec_resolve(c, dirfd_arg, path_arg, 0, true, &rel);
    if (vol < 0)
        return vol;
    int p = keep_volumes_open_parent(&c->x->vols, vol, rel, &name);
    if (p < 0)
        return p == -EBUSY ? -EEXIST : p; /* the volume root exists */
    return close_after(p, symlinkat(c->path[target_arg], p, name));
}

static int64_t do_symlink(struct exec_call *c)
{
    return symlink_common(c, 0, -1, 1);
}

static int64_t do_symlinkat(struct exec_call *c)
{
    return symlink_common(c, 0, 1, 2);
}

/*
 * link(2)/linkat(2). The existing file is found beneath its volume (with
 * AT_SYMLINK_FOLLOW, a symlink is followed only inside it), so no link can
 * name a file outside the volumes. Both names in one volume, or EXDEV, as
 * across two mounts.
 */
static int64_t link_common(struct exec_call *c, int od, int op, int nd, int np, uint64_t flags)
{
    const char *orel, *nrel, *oname, *nname;
    if (flags & ~(uint64_t)(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    /* linkat(2): AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH, which a Keep never has. */
    if ((flags & AT_EMPTY_PATH) && c->path[op][0] == '\0')
        return -ENOENT;
    int ovol = keep_exec_resolve(c, od, op, 0, false, &orel);
    if (ovol < 0)
        return ovol;
    bool follow = (flags & AT_SYMLINK_FOLLOW) != 0;
    int old = keep_volumes_openat(&c->x->vols, ovol, orel, O_PATH | (follow ? 0 : O_NOFOLLOW), 0);
    if (old < 0)
        return old;
    int nvol = keep_exec_resolve(c, nd, np, 1, true, &nrel);
    if (nvol < 0 || ovol != nvol) {
        close(old);
        return nvol < 0 ? nvol : -EXDEV; /* link(2): not on the same mounted file system */
    }
    int npar = keep_volumes_open_parent(&c->x->vols, nvol, nrel, &nname);
    if (npar < 0) {
        close(old);
        return npar == -EBUSY ? -EEXIST : npar;
    }
    int r;
    if (follow) {
        /* The file the beneath-resolved fd names, through its /proc magic link (linkat(2)). */
        char proc[32];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", old);
        r = linkat(AT_FDCWD, proc, npar, nname, AT_SYMLINK_FOLLOW);
    } else {
        /* The last component itself, never followed, in its beneath-resolved parent. */
        int opar = keep_volumes_open_parent(&c->x->vols, ovol, orel, &oname);
        if (opar < 0) {
            close(old);
            close(npar);
            return opar == -EBUSY ? -EPERM : opar; /* a volume root is a directory */
        }
        r = linkat(opar, oname, npar, nname, 0);
        int saved = errno;
        close(opar);
        errno = saved;
    }
    int saved = errno;
    close(old);
    close(npar);
    return r < 0 ? -saved : 0;
}

static int64_t do_link(struct exec_call *c)
{
    return link_common(c, -1, 0, -1, 1, 0);
}

static int64_t do_linkat(struct exec_call *c)
{
    return link_common(c, 0, 1, 2, 3, c->a[4]);
}

/* ---- ownership ------------------------------------------------------------ */

/*
 * chown(2) for an unprivileged owner: "the owner of a file may change the
 * group of the file to any group of which that owner is a member"; only a
 * privileged process may change the owner. A Keep has one uid and one gid
 * (KEEP_GUEST_ID) and owns the files of its volumes, so leaving an id as it
 * is (-1, the file's current id, or the Keep's own) succeeds and changes
 * nothing on the host; any other id is EPERM.
 */
static int64_t owner_change(const struct stat *st, uint64_t uid64, uint64_t gid64)
{
    uint32_t uid = (uint32_t)uid64, gid = (uint32_t)gid64;
    bool uid_ok = uid == UINT32_MAX || uid == st->st_uid || uid == KEEP_GUEST_ID;
    bool gid_ok = gid == UINT32_MAX || gid == st->st_gid || gid == KEEP_GUEST_ID;
    return uid_ok && gid_ok ? 0 : -EPERM;
}

static int64_t chown_common(struct exec_call *c, int dirfd_arg, int path_arg, uint64_t uid,
                            uint64_t gid, uint64_t flags)
{
    const char *rel;
    struct stat st;
    if (flags & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    if ((flags & AT_EMPTY_PATH) && c->path[path_arg][0] == '\0' && dirfd_arg >= 0 &&
        c->hfd[dirfd_arg] != AT_FDCWD) {
        const struct exec_fd *f = keep_exec_fd(c->x, c->gfd[dirfd_arg]);
        if (f->volume >= 0 && c->x->vols.roots[f->volume].read_only)
            return -EROFS;
        if (fstat(c->hfd[dirfd_arg], &st) < 0)
            return -errno;
        return owner_change(&st, uid, gid);
    }
    /* fchownat(2): AT_EMPTY_PATH with an empty path and AT_FDCWD is the cwd itself. */
    if ((flags & AT_EMPTY_PATH) && c->path[path_arg][0] == '\0')
        c->path[path_arg] = ".";
    int vol = keep_exec_resolve(c, dirfd_arg, path_arg, 0, true, &rel);
    if (vol < 0)
        return vol;
    int nofollow = (flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0;
    int h = keep_volumes_openat(&c->x->vols, vol, rel, O_PATH | nofollow, 0);
    if (h < 0)
        return h;
    int r = fstat(h, &st);
    int saved = errno;
    close(h);
    return r < 0 ? -saved : owner_change(&st, uid, gid);
}

static int64_t do_chown(struct exec_call *c)
{
    return chown_common(c, -1, 0, c->a[1], c->a[2], 0);
}

static int64_t do_lchown(struct exec_call *c)
{
    return chown_common(c, -1, 0, c->a[1], c->a[2], AT_SYMLINK_NOFOLLOW);
}

static int64_t do_fchownat(struct exec_call *c)
{
    return chown_common(c, 0, 1, c->a[2], c->a[3], c->a[4]);
}

static int64_t do_fchown(struct exec_call *c)
{
    struct stat st;
    const struct exec_fd *f = keep_exec_fd(c->x, c->gfd[0]);
    if (f->volume >= 0 && c->x->vols.roots[f->volume].read_only)
        return -EROFS;
    if (fstat(c->hfd[0], &st) < 0)
        return -errno;
    return owner_change(&st, c->a[1], c->a[2]);
}

/* ---- statfs ----------------------------------------------------------------- */

static int64_t statfs_result(const struct statfs *sf, uint8_t *out)
{
    memcpy(out, sf, KEEP_SIZEOF_STATFS);
    return 0;
}

static int64_t do_fstatfs(struct exec_call *c)
{
    struct statfs sf;
    if (fstatfs(c->hfd[0], &sf) < 0)
        return -errno;
    return statfs_result(&sf, c->p[1]);
}

static int64_t do_statfs(struct exec_call *c)
{
    const char *rel;
    struct statfs sf;
    int vol = keep_exec_resolve(c, -1, 0, 0, false, &rel);
    if (vol < 0)
        return vol;
    int h = keep_volumes_openat(&c->x->vols, vol, rel, O_PATH, 0);
    if (h < 0)
        return h;
    int r = fstatfs(h, &sf);
    int saved = errno;
    close(h);
    if (r < 0)
        return -saved;
    return statfs_result(&sf, c->p[1]);
}

/* ---- sendfile ------------------------------------------------------------- */

/* read_write.c MAX_RW_COUNT: Linux moves at most this much in one call. */
#define MAX_RW_COUNT 0x7ffff000u

static int64_t do_sendfile(struct exec_call *c)
{
    off_t off = 0, *offp = NULL;
    if (c->p[2]) {
        uint64_t v;
        memcpy(&v, c->p[2], sizeof(v));
        if ((int64_t)v < 0)
            return -EINVAL; /* sendfile(2): a negative offset */
        off = (off_t)v;
        offp = &off;
    }
    size_t count = c->a[3] > MAX_RW_COUNT ? MAX_RW_COUNT : (size_t)c->a[3];
    keep_exec_unlock(c, NULL, 0); /* out_fd may be a full pipe or socket */
    ssize_t r = sendfile(c->hfd[0], c->hfd[1], offp, count);
    keep_exec_relock(c);
    if (r < 0)
        return -errno;
    if (offp)
        store_u64(c->p[2], (uint64_t)off);
    return r;
}

/* ---- select --------------------------------------------------------------- */

/* fs/select.c: what makes an fd ready for each set. */
#define SELECT_IN  (POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR)
#define SELECT_OUT (POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR)
#define SELECT_EX  (POLLPRI)

static bool fdset_has(const uint8_t *set, unsigned fd)
{
    return set && (set[fd / 8] >> (fd % 8)) & 1;
}

static void fdset_add(uint8_t *set, unsigned fd)
{
    set[fd / 8] |= (uint8_t)(1u << (fd % 8));
}

/*
 * What is left of the timeout after waiting since start, never below zero.
 * In seconds and nanoseconds apart: the guest's tv_sec may be as large as
 * INT64_MAX, whose nanoseconds overflow (Linux saturates the end time,
 * timespec64_add_safe, and writes back a time left as large).
 */
static void time_left(const struct timespec *start, const struct timespec *timeout, uint8_t *out)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t waited_sec = (int64_t)(now.tv_sec - start->tv_sec);
    long waited_nsec = now.tv_nsec - start->tv_nsec;
    if (waited_nsec < 0) {
        waited_sec--;
        waited_nsec += 1000000000;
    }
    int64_t sec = (int64_t)timeout->tv_sec - waited_sec; /* both >= 0: no overflow */
    long nsec = timeout->tv_nsec - waited_nsec;
    if (nsec < 0) {
        sec--;
        nsec += 1000000000;
    }
    if (sec < 0)
        sec = nsec = 0;
    store_u64(out, (uint64_t)sec);
    store_u64(out + 8, (uint64_t)nsec);
}

/*
 * select(2) through ppoll on the host fds: host fd numbers may lie beyond
 * FD_SETSIZE, so no host fd_set is ever built. The guest's sets hold guest
 * fd numbers below nfds; a set bit naming an fd the guest has not open is
 * EBADF, as in Linux's max_select_fd().
 */
static int64_t do_pselect6(struct exec_call *c)
{
    int guest_of[KEEP_CHAN_POLLFD_MAX]; /* the guest fd of each c->s->pfd entry */
    uint8_t *sets[3] = {c->p[1], c->p[2], c->p[3]};
    struct timespec timeout, start;
    if (c->a[0] > KEEP_CHAN_MAX_FDS)
        return -EINVAL; /* select(2): nfds above RLIMIT_NOFILE (1024 in a Keep) */
    if (c->p[4]) {
        int rc = keep_exec_read_timespec(c->p[4], &timeout);
        if (rc)
            return rc;
        clock_gettime(CLOCK_MONOTONIC, &start);
    }
    unsigned nfds = (unsigned)c->a[0], n = 0;
    for (unsigned fd = 0; fd < nfds; fd++) {
        short events =
            (short)((fdset_has(sets[0], fd) ? POLLIN : 0) | (fdset_has(sets[1], fd) ? POLLOUT : 0) |
                    (fdset_has(sets[2], fd) ? POLLPRI : 0));
        if (!events)
            continue;
        const struct exec_fd *f = keep_exec_fd(c->x, (int)fd);
        if (!f)
            return -EBADF;
        c->s->pfd[n] = (struct pollfd){.fd = f->host, .events = events};
        guest_of[n++] = (int)fd;
    }
    keep_exec_unlock(c, c->s->pfd, n);
    int r = ppoll(c->s->pfd, n, c->p[4] ? &timeout : NULL, NULL);
    keep_exec_relock(c);
    if (r < 0)
        return -errno;
    for (int s = 0; s < 3; s++)
        if (sets[s])
            memset(sets[s], 0, KEEP_SIZEOF_FDSET);
    static const short ready[3] = {SELECT_IN, SELECT_OUT, SELECT_EX};
    static const short asked[3] = {POLLIN, POLLOUT, POLLPRI};
    int64_t count = 0;
    for (unsigned i = 0; i < n; i++) {
        for (int s = 0; s < 3; s++) {
            if ((c->s->pfd[i].events & asked[s]) && (c->s->pfd[i].revents & ready[s])) {
                fdset_add(sets[s], (unsigned)guest_of[i]);
                count++;
            }
        }
    }
    /* Linux writes the time not slept back (select(2), "On Linux, select() modifies timeout"). */
    if (c->p[4])
        time_left(&start, &timeout, c->p[4]);
    return count;
}

/* ---- getrusage ------------------------------------------------------------ */

/*
 * The Keep's usage is its host process's (the vCPU and the calls run for
 * it); RUSAGE_THREAD is the thread running the vCPU; a Keep has no children.
 */
static int64_t do_getrusage(struct exec_call *c)
{
    struct rusage ru = {0};
    int who = (int)(int32_t)c->a[0]; /* an int (getrusage(2)) */
    if (who != RUSAGE_SELF && who != RUSAGE_CHILDREN && who != RUSAGE_THREAD)
        return -EINVAL;
    if (who != RUSAGE_CHILDREN && getrusage(who == RUSAGE_SELF ? RUSAGE_SELF : RUSAGE_THREAD, &ru))
        return -errno;
    memcpy(c->p[1], &ru, KEEP_SIZEOF_RUSAGE);
    return 0;
}

exec_handler keep_exec_fsext_handler(uint64_t nr)
{
    switch (nr) {
    case KEEP_NR_link:
        return do_link;
    case KEEP_NR_linkat:
        return do_linkat;
    case KEEP_NR_symlink:
        return do_symlink;
    case KEEP_NR_symlinkat:
        return do_symlinkat;
    case KEEP_NR_chown:
        return do_chown;
    case KEEP_NR_fchown:
        return do_fchown;
    case KEEP_NR_lchown:
        return do_lchown;
    case KEEP_NR_fchownat:
        return do_fchownat;
    case KEEP_NR_statfs:
        return do_statfs;
    case KEEP_NR_fstatfs:
        return do_fstatfs;
    case KEEP_NR_sendfile:
        return do_sendfile;
    case KEEP_NR_pselect6:
        return do_pselect6;
    case KEEP_NR_getrusage:
        return do_getrusage;
    default:
        return NULL;
    }
}
