/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Forwarded file, pipe, poll, epoll and clock calls. Every handler gets its
 * arguments already checked and mapped by the shared description
 * (executor.c, map_args); it converts structures explicitly and answers
 * -errno. docs/KEEP.md, "Syscall table".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/cursor.h"
#include "common/util.h"
#include "host/exec_internal.h"

_Static_assert(sizeof(struct stat) == KEEP_SIZEOF_STAT, "host struct stat is the x86-64 ABI one");
_Static_assert(sizeof(struct statx) == KEEP_SIZEOF_STATX, "struct statx is 256 bytes");

/* The value hostile-host mode returns for an open: a number the host never handed out. */
#define HOSTILE_BAD_FD ((int64_t)KEEP_CHAN_MAX_FDS + 7)

static inline int64_t neg_errno(long r)
{
    return r < 0 ? -errno : r;
}

/* ---- read and write ----------------------------------------------------- */

static int64_t hostile_read(const struct exec_call *c, int64_t r)
{
    /* Test mode: claim one byte more than was asked for. */
    if (c->x->hostile == KEEP_HOSTILE_READ_TOO_LONG && r >= 0)
        return (int64_t)c->n[1] + 1;
    return r;
}

/*
 * Reads and writes of a pipe, socket or terminal may block: each runs
 * unlocked (keep_exec_unlock), so other threads' calls go on meanwhile.
 */
static int64_t do_read(struct exec_call *c)
{
    /* Direct path: the kernel reads straight into workload memory. */
    keep_exec_unlock(c, NULL, 0);
    int64_t r = neg_errno(read(c->hfd[0], c->p[1], c->n[1]));
    keep_exec_relock(c);
    return hostile_read(c, r);
}

static int64_t do_write(struct exec_call *c)
{
    if (keep_exec_udp_unconnected(keep_exec_fd(c->x, c->gfd[0])))
        return -EDESTADDRREQ;
    keep_exec_unlock(c, NULL, 0);
    int64_t r = neg_errno(write(c->hfd[0], c->p[1], c->n[1]));
    keep_exec_relock(c);
    return r;
}

static int64_t do_pread64(struct exec_call *c)
{
    keep_exec_unlock(c, NULL, 0);
    int64_t r = neg_errno(pread(c->hfd[0], c->p[1], c->n[1], (off_t)c->a[3]));
    keep_exec_relock(c);
    return hostile_read(c, r);
}

static int64_t do_pwrite64(struct exec_call *c)
{
    keep_exec_unlock(c, NULL, 0);
    int64_t r = neg_errno(pwrite(c->hfd[0], c->p[1], c->n[1], (off_t)c->a[3]));
    keep_exec_relock(c);
    return r;
}

static int64_t do_readv(struct exec_call *c)
{
    keep_exec_unlock(c, NULL, 0);
    int64_t r = neg_errno(readv(c->hfd[0], c->s->iov, (int)c->iov_count));
    keep_exec_relock(c);
    return r;
}

static int64_t do_writev(struct exec_call *c)
{
    if (keep_exec_udp_unconnected(keep_exec_fd(c->x, c->gfd[0])))
        return -EDESTADDRREQ;
    keep_exec_unlock(c, NULL, 0);
    int64_t r = neg_errno(writev(c->hfd[0], c->s->iov, (int)c->iov_count));
    keep_exec_relock(c);
    return r;
}

static int64_t do_fsync(struct exec_call *c)
{
    return neg_errno(fsync(c->hfd[0]));
}

static int64_t do_fdatasync(struct exec_call *c)
{
    return neg_errno(fdatasync(c->hfd[0]));
}

static int64_t do_ftruncate(struct exec_call *c)
{
    /* A file in a read-only volume was opened read-only: the kernel refuses this. */
    return neg_errno(ftruncate(c->hfd[0], (off_t)c->a[1]));
}

static int64_t do_getcwd(struct exec_call *c)
{
    size_t size = strlen(c->x->cwd) + 1;
    if (c->x->hostile == KEEP_HOSTILE_GETCWD_NUL && c->n[0] > 0) {
        /* Test mode: a "path" filling the buffer with no NUL to end it. */
        memset(c->p[0], '/', (size_t)c->n[0]);
        return (int64_t)c->n[0];
    }
    if (c->n[0] < size)
        return -ERANGE; /* getcwd(2): the buffer cannot hold the path */
    memcpy(c->p[0], c->x->cwd, size);
    return (int64_t)size; /* the kernel's getcwd returns the length with the NUL */
}

static int64_t do_umask(struct exec_call *c)
{
    unsigned int old = c->x->umask;
    c->x->umask = (unsigned int)c->a[0] & 0777;
    return old;
}

static int64_t do_time(struct exec_call *c)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (c->p[0])
        store_u64(c->p[0], (uint64_t)ts.tv_sec);
    return ts.tv_sec;
}

static int64_t do_lseek(struct exec_call *c)
{
    int whence = (int)c->a[2];
    if (c->a[2] > SEEK_HOLE)
        return -EINVAL;
    return neg_errno(lseek(c->hfd[0], (off_t)c->a[1], whence));
}

static int64_t do_getdents64(struct exec_call *c)
{
    unsigned int count = c->n[1] > 0x7fffffffu ? 0x7fffffffu : (unsigned int)c->n[1];
    int64_t r = neg_errno(syscall(SYS_getdents64, c->hfd[0], c->p[1], count));
    /* Test mode: the first record's d_reclen (u16 at 16) runs 8 bytes past what was returned. */
    if (c->x->hostile == KEEP_HOSTILE_DIRENT_RECLEN && r > 0 && r + 8 <= 0xffff) {
        uint16_t reclen = (uint16_t)(r + 8);
        memcpy(c->p[1] + 16, &reclen, sizeof(reclen));
    }
    return r;
}

/* ---- paths -------------------------------------------------------------- */

/*
 * The first n bytes of a guest path as log text: a control byte (a newline
 * would start a forged log line, ESC a terminal escape sequence) becomes
 * \xNN, as kvm.c cleans the shim's messages. out holds 4 bytes a byte.
 */
static void log_text(const char *s, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n && s[i] && o + 5 <= size; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x20 || b == 0x7f)
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", b);
        else
            out[o++] = (char)b;
    }
    out[o] = '\0';
}

/*
 * A path in no volume does not exist in the Keep: one line at --log info
 * names the call, the path and the flag that would give it ("/" and the
 * directories above volumes exist, and say nothing).
 */
static void log_outside(const struct exec_call *c, const char *abs)
{
    if (keep_volumes_is_synthetic_dir(&c->x->vols, abs) || !keep_exec_may_log_denial(c->x))
        return;
    const char *slash = strrchr(abs, '/');
    /* Suggest the directory holding it, or the path itself right under "/" (never "/"). */
    size_t dir_len = slash == abs ? strlen(abs) : (size_t)(slash - abs);
    char path[4 * KEEP_CHAN_PATH_MAX], dir[4 * KEEP_CHAN_PATH_MAX];
    log_text(abs, SIZE_MAX, path, sizeof(path));
    log_text(abs, dir_len, dir, sizeof(dir));
    keep_log(KEEP_LOG_INFO, "%s %s denied: in no volume; allow with --volume HOST_DIR:%s",
             c->desc->name, path, dir);
}

/*
 * Resolve path argument path_arg against dirfd argument dirfd_arg (-1: the
 * guest cwd) into a volume and the path below its root.
 */
static int resolve(struct exec_call *c, int dirfd_arg, int path_arg, int slot, const char **rel)
{
    const char *base = c->x->cwd;
    const char *path = c->path[path_arg];
    if (dirfd_arg >= 0 && c->hfd[dirfd_arg] != AT_FDCWD && path[0] != '/') {
        struct exec_fd *f = keep_exec_fd(c->x, c->gfd[dirfd_arg]);
        if (!f || f->kind != FD_DIR)
            return -ENOTDIR;
        base = f->guest_path;
    }
    int rc = keep_guest_path_normalise(base, path, c->s->abs[slot], KEEP_CHAN_PATH_MAX);
    if (rc == 0 && keep_guest_path_has_dotdot(path))
        rc = keep_volumes_check_dotdot(&c->x->vols, base, path);
    if (rc) {
        /* Names nothing: no caller may take it (or a previous call's path) for "/" or a
         * synthetic directory ("" and "gone/.." are ENOENT on Linux). */
        c->s->abs[slot][0] = '\0';
        return rc;
    }
    int vol = keep_volumes_lookup(&c->x->vols, c->s->abs[slot], rel);
    if (vol < 0) {
        log_outside(c, c->s->abs[slot]);
        return vol;
    }
    /* The kernel gets the path's tail back ("f/", "d/."): Linux's rules for it are its own. */
    rc = keep_guest_rel_with_tail(*rel, keep_guest_path_tail(path), c->s->rel[slot],
                                  KEEP_CHAN_PATH_MAX);
    if (rc)
        return rc;
    *rel = c->s->rel[slot];
    return vol;
}

/* The one line a change refused by a read-only volume logs (--log info). */
static void log_read_only(const struct exec_call *c, int vol, int slot)
{
    const struct keep_volume_root *r = &c->x->vols.roots[vol];
    char path[4 * KEEP_CHAN_PATH_MAX];
    if (!keep_exec_may_log_denial(c->x))
        return;
    log_text(c->s->abs[slot], SIZE_MAX, path, sizeof(path));
    keep_log(KEEP_LOG_INFO,
             "%s %s denied: volume %s is read-only; allow with --volume HOST_DIR:%s (without :ro)",
             c->desc->name, path, r->guest_dir, r->guest_dir);
}

/* As resolve(), for a call that changes the volume: -EROFS on a read-only one. */
static int resolve_for_change(struct exec_call *c, int dirfd_arg, int path_arg, int slot,
                              const char **rel)
{
    int vol = resolve(c, dirfd_arg, path_arg, slot, rel);
    if (vol >= 0 && c->x->vols.roots[vol].read_only) {
        log_read_only(c, vol, slot);
        return -EROFS;
    }
    return vol;
}

/*
 * The kernel's O_LARGEFILE on x86-64 (glibc defines O_LARGEFILE as 0 there,
 * musl passes 0100000 on every open).
 */
#define KERNEL_O_LARGEFILE 0100000

/* Flags a guest may pass to open: no O_ASYNC (SIGIO would hit the host). */
#define OPEN_FLAGS_ALLOWED                                                                       \
    (O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC |       \
     O_SYNC | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | KERNEL_O_LARGEFILE | O_NOATIME | O_DIRECT | \
     O_PATH | __O_TMPFILE)

/*
 * Mode bits a guest may give a host file: never S_ISUID or S_ISGID. The
 * files land in the host's file system, owned by the user keep runs as; a
 * set-user-ID program written by a hostile guest would run with that
 * user's rights for anyone on the host who executes it (chmod(2)).
 */
#define GUEST_MODE_BITS (S_ISVTX | 0777)

static bool open_changes(int flags)
{
    /* __O_TMPFILE includes O_DIRECTORY's bit: test all of it. */
    return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) ||
           (flags & __O_TMPFILE) == __O_TMPFILE;
}

/*
 * O_CREAT for reading in a read-only volume: the existing file, EEXIST with
 * O_EXCL, or EROFS. O_EXCL looks with O_PATH|O_NOFOLLOW (open(2): a
 * symlink, even dangling, is EEXIST): closing an O_PATH fd drops none of
 * the Keep's POSIX locks on the file, closing any other fd drops them all.
 */
static int open_existing_ro(struct exec_call *c, int vol, const char *rel, int flags)
{
    if (flags & O_EXCL) {
        int p = keep_volumes_openat(&c->x->vols, vol, rel, O_PATH | O_NOFOLLOW, 0);
        if (p >= 0) {
            close(p);
            return -EEXIST;
        }
        if (p != -ENOENT)
            return p;
        log_read_only(c, vol, 0);
        return -EROFS;
    }
    int h = keep_volumes_openat(&c->x->vols, vol, rel, flags & ~(O_CLOEXEC | O_CREAT), 0);
    if (h == -ENOENT) {
        log_read_only(c, vol, 0);
        return -EROFS;
    }
    return h;
}

/*
 * True when the guest fd table has a free number at or above min. Asked
 * before a host fd is opened, as Linux takes the fd number first
 * (get_unused_fd_flags): EMFILE then opens, creates and closes nothing, and
 * no close drops the Keep's POSIX locks on the file (fcntl(2)).
 */
static bool fd_number_free(const struct keep_executor *x, int min)
{
    for (int g = min < 0 ? 0 : min; g < (int)KEEP_CHAN_MAX_FDS; g++)
        if (x->fds[g].kind == FD_FREE)
            return true;
    return false;
}

static int64_t open_common(struct exec_call *c, int dirfd_arg, int path_arg, uint64_t flags64,
                           uint64_t mode)
{
    int flags = (int)flags64;
    if (flags64 > 0xffffffffu || (flags & ~OPEN_FLAGS_ALLOWED))
        return -EINVAL;
    if (!fd_number_free(c->x, 0))
        return -EMFILE;
    const char *rel;
    /* open(2) on a read-only file system: O_CREAT of a name that exists, for reading only, just
     * opens it (O_EXCL: EEXIST); only creating a new one is EROFS. */
    bool create_only = (flags & O_CREAT) && !open_changes(flags & ~(O_CREAT | O_EXCL));
    int vol = open_changes(flags) && !create_only
                  ? resolve_for_change(c, dirfd_arg, path_arg, 0, &rel)
                  : resolve(c, dirfd_arg, path_arg, 0, &rel);
    if (vol < 0)
        return vol;
    int h = create_only && c->x->vols.roots[vol].read_only
                ? open_existing_ro(c, vol, rel, flags)
                : keep_volumes_openat(&c->x->vols, vol, rel, flags & ~O_CLOEXEC,
                                      (mode_t)(mode & GUEST_MODE_BITS & ~(uint64_t)c->x->umask));
    if (h < 0)
        return h;
    struct stat st;
    bool dir = fstat(h, &st) == 0 && S_ISDIR(st.st_mode);
    char *guest_path = NULL;
    if (dir && !(guest_path = strdup(c->s->abs[0]))) {
        close(h);
        return -ENOMEM;
    }
    int g = keep_exec_fd_install(c->x, h, dir ? FD_DIR : FD_FILE, 0);
    if (g < 0) {
        free(guest_path);
        return g;
    }
    struct exec_fd *f = &c->x->fds[g];
    f->volume = (int16_t)vol;
    f->guest_path = guest_path;
    f->cloexec = (flags & O_CLOEXEC) != 0;
    if (c->x->hostile == KEEP_HOSTILE_BAD_FD) {
        close(h);
        keep_exec_fd_release(c->x, g);
        return HOSTILE_BAD_FD;
    }
    return g;
}

static int64_t do_open(struct exec_call *c)
{
    return open_common(c, -1, 0, c->a[1], c->a[2]);
}

static int64_t do_openat(struct exec_call *c)
{
    return open_common(c, 0, 1, c->a[2], c->a[3]);
}

static int64_t stat_result(const struct exec_call *c, const struct stat *st, uint8_t *out)
{
    memcpy(out, st, KEEP_SIZEOF_STAT);
    /* Test mode: report a structure bigger than struct stat. */
    return c->x->hostile == KEEP_HOSTILE_STAT_SIZE ? KEEP_SIZEOF_STAT + 56 : 0;
}

/*
 * "/" and the directories above a volume exist in the Keep but not on the
 * host: a directory owned by root, mode 0755 (as a Linux root is), with no
 * other fields, so `mkdir -p` and Go's os.MkdirAll find them directories.
 */
static int64_t synthetic_dir_stat(const struct exec_call *c, uint8_t *out)
{
    struct stat st = {.st_mode = S_IFDIR | 0755, .st_nlink = 2, .st_blksize = 4096};
    return stat_result(c, &st, out);
}

/* Open (dirfd, path) beneath its volume as O_PATH, following the last symlink or not. */
static int open_path_only(struct exec_call *c, int dirfd_arg, int path_arg, bool follow)
{
    const char *rel;
    int vol = resolve(c, dirfd_arg, path_arg, 0, &rel);
    if (vol < 0)
        return vol;
    return keep_volumes_openat(&c->x->vols, vol, rel, O_PATH | (follow ? 0 : O_NOFOLLOW), 0);
}

static int64_t stat_common(struct exec_call *c, int dirfd_arg, int path_arg, uint8_t *out,
                           uint64_t flags)
{
    struct stat st;
    if (flags & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT))
        return -EINVAL;
    bool empty = (flags & AT_EMPTY_PATH) && c->path[path_arg][0] == '\0';
    if (empty && (dirfd_arg < 0 || c->hfd[dirfd_arg] == AT_FDCWD))
        c->path[path_arg] = "."; /* the cwd itself ("/" is in no volume: ENOENT) */
    else if (empty) {
        if (fstat(c->hfd[dirfd_arg], &st) < 0)
            return -errno;
        return stat_result(c, &st, out);
    }
    int h = open_path_only(c, dirfd_arg, path_arg, !(flags & AT_SYMLINK_NOFOLLOW));
    if (h == -ENOENT && keep_volumes_is_synthetic_dir(&c->x->vols, c->s->abs[0]))
        return synthetic_dir_stat(c, out);
    if (h < 0)
        return h;
    int r = fstat(h, &st);
    int saved = errno;
    close(h);
    if (r < 0)
        return -saved;
    return stat_result(c, &st, out);
}

static int64_t do_stat(struct exec_call *c)
{
    return stat_common(c, -1, 0, c->p[1], 0);
}

static int64_t do_lstat(struct exec_call *c)
{
    return stat_common(c, -1, 0, c->p[1], AT_SYMLINK_NOFOLLOW);
}

static int64_t do_newfstatat(struct exec_call *c)
{
    return stat_common(c, 0, 1, c->p[2], c->a[3]);
}

static int64_t do_fstat(struct exec_call *c)
{
    struct stat st;
    if (fstat(c->hfd[0], &st) < 0)
        return -errno;
    return stat_result(c, &st, c->p[1]);
}

static int64_t do_statx(struct exec_call *c)
{
    const uint64_t allowed =
        AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE;
    uint64_t flags = c->a[2];
    struct statx stx;
    int h, r;
    if (flags & ~allowed)
        return -EINVAL;
    int sync = (int)(flags & AT_STATX_SYNC_TYPE);
    if ((flags & AT_EMPTY_PATH) && c->path[1][0] == '\0' && c->hfd[0] == AT_FDCWD)
        c->path[1] = "."; /* the cwd itself */
    if ((flags & AT_EMPTY_PATH) && c->path[1][0] == '\0') {
        r = statx(c->hfd[0], "", AT_EMPTY_PATH | sync, (unsigned int)c->a[3], &stx);
    } else {
        if ((h = open_path_only(c, 0, 1, !(flags & AT_SYMLINK_NOFOLLOW))) < 0)
            return h;
        r = statx(h, "", AT_EMPTY_PATH | sync, (unsigned int)c->a[3], &stx);
        int saved = errno;
        close(h);
        errno = saved;
    }
    if (r < 0)
        return -errno;
    memcpy(c->p[4], &stx, KEEP_SIZEOF_STATX);
    return 0;
}

static int64_t access_common(struct exec_call *c, int dirfd_arg, int path_arg, uint64_t mode,
                             uint64_t flags)
{
    int h, owned = 0;
    if (mode & ~(uint64_t)(R_OK | W_OK | X_OK))
        return -EINVAL;
    if (flags & ~(uint64_t)(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    const struct exec_fd *f = NULL;
    bool empty = (flags & AT_EMPTY_PATH) && c->path[path_arg][0] == '\0';
    if (empty && (dirfd_arg < 0 || c->hfd[dirfd_arg] == AT_FDCWD)) {
        c->path[path_arg] = "."; /* the cwd itself */
        empty = false;
    }
    if (empty) {
        h = c->hfd[dirfd_arg];
        f = keep_exec_fd(c->x, c->gfd[dirfd_arg]);
    } else {
        const char *rel;
        int vol = resolve(c, dirfd_arg, path_arg, 0, &rel);
        if (vol < 0)
            return vol;
        h = keep_volumes_openat(&c->x->vols, vol, rel,
                                O_PATH | ((flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0), 0);
        if (h < 0)
            return h;
        owned = 1;
        /* access(2): W_OK on a read-only file system is EROFS, once the file is known to exist. */
        if ((mode & W_OK) && c->x->vols.roots[vol].read_only) {
            close(h);
            return -EROFS;
        }
    }
    if (f && (mode & W_OK) && f->volume >= 0 && c->x->vols.roots[f->volume].read_only)
        return -EROFS;
    long r = syscall(SYS_faccessat2, h, "", (int)mode, AT_EMPTY_PATH | (int)(flags & AT_EACCESS));
    int saved = errno;
    if (owned)
        close(h);
    return r < 0 ? -saved : 0;
}

static int64_t do_access(struct exec_call *c)
{
    return access_common(c, -1, 0, c->a[1], 0);
}

static int64_t do_faccessat(struct exec_call *c)
{
    return access_common(c, 0, 1, c->a[2], 0);
}

static int64_t do_faccessat2(struct exec_call *c)
{
    return access_common(c, 0, 1, c->a[2], c->a[3]);
}

static int64_t do_chdir(struct exec_call *c)
{
    const char *rel;
    int vol = resolve(c, -1, 0, 0, &rel);
    if (vol == -ENOENT && strcmp(c->s->abs[0], "/") == 0) {
        strcpy(c->x->cwd, "/"); /* the root exists (empty but for the volumes) */
        return 0;
    }
    if (vol < 0)
        return vol;
    int h = keep_volumes_openat(&c->x->vols, vol, rel, O_PATH | O_DIRECTORY, 0);
    if (h < 0)
        return h;
    close(h);
    memcpy(c->x->cwd, c->s->abs[0], strlen(c->s->abs[0]) + 1);
    return 0;
}

static int64_t do_fchdir(struct exec_call *c)
{
    const struct exec_fd *f = keep_exec_fd(c->x, c->gfd[0]);
    if (f->kind != FD_DIR)
        return -ENOTDIR;
    memcpy(c->x->cwd, f->guest_path, strlen(f->guest_path) + 1);
    return 0;
}

/*
 * What the guest gets for a call that returned r on a host fd opened for it:
 * r, or -errno of that call when r < 0. fd is closed either way, after errno
 * is read (close may change it).
 */
static int64_t close_after(int fd, int64_t r)
{
    int saved = errno;
    close(fd);
    return r < 0 ? -saved : r;
}

/* The same file through /proc/self/fd, for calls that take no O_PATH fd on Linux 6.1. */
static void proc_fd_path(int fd, char out[32])
{
    snprintf(out, 32, "/proc/self/fd/%d", fd);
}

/* A guest fd's file in a writable volume, or why not. */
static int changeable_fd(struct exec_call *c, int arg)
{
    const struct exec_fd *f = keep_exec_fd(c->x, c->gfd[arg]);
    if (f->kind != FD_FILE && f->kind != FD_DIR)
        return -EPERM; /* stdio, pipes and sockets are the host's objects */
    if (c->x->vols.roots[f->volume].read_only)
        return -EROFS;
    return 0;
}

static int64_t do_fchmod(struct exec_call *c)
{
    int rc = changeable_fd(c, 0);
    if (rc)
        return rc;
    return neg_errno(fchmod(c->hfd[0], (mode_t)(c->a[1] & GUEST_MODE_BITS)));
}

static int64_t chmod_common(struct exec_call *c, int dirfd_arg, int path_arg, uint64_t mode)
{
    const char *rel;
    char proc[32];
    int vol = resolve_for_change(c, dirfd_arg, path_arg, 0, &rel);
    if (vol < 0)
        return vol;
    int h = keep_volumes_openat(&c->x->vols, vol, rel, O_PATH, 0);
    if (h < 0)
        return h;
    proc_fd_path(h, proc);
    return close_after(h, chmod(proc, (mode_t)(mode & GUEST_MODE_BITS)));
}

static int64_t do_chmod(struct exec_call *c)
{
    return chmod_common(c, -1, 0, c->a[1]);
}

static int64_t do_fchmodat(struct exec_call *c)
{
    return chmod_common(c, 0, 1, c->a[2]);
}

/* utimensat(2) times: two timespecs, each nsec < 1e9 or UTIME_NOW / UTIME_OMIT. */
static int read_times(const uint8_t *p, struct timespec ts[2])
{
    struct keep_cursor cur;
    keep_cursor_init(&cur, p, 2 * KEEP_SIZEOF_TIMESPEC);
    for (int i = 0; i < 2; i++) {
        uint64_t sec, nsec;
        if (keep_cursor_u64(&cur, "tv_sec", &sec, NULL) ||
            keep_cursor_u64(&cur, "tv_nsec", &nsec, NULL))
            return -EFAULT;
        if (nsec >= 1000000000u && nsec != UTIME_NOW && nsec != UTIME_OMIT)
            return -EINVAL;
        ts[i].tv_sec = (time_t)sec;
        ts[i].tv_nsec = (long)nsec;
    }
    return 0;
}

static int64_t do_utimensat(struct exec_call *c)
{
    struct timespec ts[2];
    uint64_t flags = c->a[3];
    int rc;
    if (flags & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    if (c->p[2] && (rc = read_times(c->p[2], ts)) != 0)
        return rc;
    const struct timespec *times = c->p[2] ? ts : NULL;
    if (!c->path[1] || ((flags & AT_EMPTY_PATH) && !c->path[1][0] && c->hfd[0] != AT_FDCWD)) {
        /* The file dirfd refers to (futimens). */
        if (c->hfd[0] == AT_FDCWD)
            return -EFAULT;
        if ((rc = changeable_fd(c, 0)) != 0)
            return rc;
        return neg_errno(futimens(c->hfd[0], times));
    }
    const char *rel, *name;
    char proc[32];
    int vol = resolve_for_change(c, 0, 1, 0, &rel);
    if (vol < 0)
        return vol;
    int h, r;
    /* A final "." or ".." is never a symlink, and through its parent a ".." at the volume root
     * would name the host directory holding the volume: open what the path names instead. */
    if ((flags & AT_SYMLINK_NOFOLLOW) && keep_guest_path_tail(c->path[1]) < KEEP_TAIL_DOT &&
        rel[0] != '\0') {
        /* The last component itself, never followed: act on it through its parent (the
         * volume root, "", has none: it is no symlink, and is opened as itself below). */
        if ((h = keep_volumes_open_parent(&c->x->vols, vol, rel, &name)) < 0)
            return h;
        r = utimensat(h, name, times, AT_SYMLINK_NOFOLLOW);
    } else {
        if ((h = keep_volumes_openat(&c->x->vols, vol, rel, O_PATH, 0)) < 0)
            return h;
        proc_fd_path(h, proc);
        r = utimensat(AT_FDCWD, proc, times, 0);
    }
    return close_after(h, r);
}

static int64_t readlink_common(struct exec_call *c, int dirfd_arg, int path_arg, int buf_arg)
{
    if ((int64_t)c->a[buf_arg + 1] <= 0 || c->a[buf_arg + 1] > 0x7fffffffu)
        return -EINVAL;
    int h = open_path_only(c, dirfd_arg, path_arg, false);
    if (h < 0)
        return h;
    return close_after(h, readlinkat(h, "", (char *)c->p[buf_arg], c->n[buf_arg]));
}

static int64_t do_readlink(struct exec_call *c)
{
    return readlink_common(c, -1, 0, 1);
}

static int64_t do_readlinkat(struct exec_call *c)
{
    return readlink_common(c, 0, 1, 2);
}

static int64_t unlink_common(struct exec_call *c, int dirfd_arg, int path_arg, uint64_t flags)
{
    const char *rel, *name;
    if (flags & ~(uint64_t)AT_REMOVEDIR)
        return -EINVAL;
    int vol = resolve_for_change(c, dirfd_arg, path_arg, 0, &rel);
    if (vol < 0)
        return vol;
    int p = keep_volumes_open_parent(&c->x->vols, vol, rel, &name);
    if (p == -EBUSY && !(flags & AT_REMOVEDIR))
        return -EISDIR; /* the volume root: unlink(2) of a directory, checked before the mount */
    if (p < 0)
        return p;
    return close_after(p, unlinkat(p, name, (int)flags));
}

static int64_t do_rmdir(struct exec_call *c)
{
    return unlink_common(c, -1, 0, AT_REMOVEDIR);
}

static int64_t do_unlink(struct exec_call *c)
{
    return unlink_common(c, -1, 0, 0);
}

static int64_t do_unlinkat(struct exec_call *c)
{
    return unlink_common(c, 0, 1, c->a[2]);
}

/*
 * mkdir(2) of what exists is EEXIST even on a read-only file system (Linux
 * looks the name up first): "/", the directories above a volume, its root,
 * and existing entries of a read-only volume. `mkdir -p /data/a` starts
 * with mkdir("/") and mkdir("/data").
 */
static int64_t mkdir_exists_first(struct exec_call *c, int vol, const char *rel)
{
    if (vol == -ENOENT && keep_volumes_is_synthetic_dir(&c->x->vols, c->s->abs[0]))
        return -EEXIST;
    if (vol < 0 || !c->x->vols.roots[vol].read_only)
        return vol;
    int h = keep_volumes_openat(&c->x->vols, vol, rel, O_PATH | O_NOFOLLOW, 0);
    if (h < 0)
        return -EROFS;
    close(h);
    return -EEXIST;
}

static int64_t mkdir_common(struct exec_call *c, int dirfd_arg, int path_arg, uint64_t mode)
{
    const char *rel, *name;
    int vol = resolve(c, dirfd_arg, path_arg, 0, &rel);
    int64_t rc = mkdir_exists_first(c, vol, rel);
    if (rc < 0)
        return rc;
    int p = keep_volumes_open_parent(&c->x->vols, vol, rel, &name);
    if (p < 0)
        return p == -EBUSY ? -EEXIST : p; /* the volume root exists */
    return close_after(p, mkdirat(p, name, (mode_t)(mode & 07777 & ~(uint64_t)c->x->umask)));
}

static int64_t do_mkdir(struct exec_call *c)
{
    return mkdir_common(c, -1, 0, c->a[1]);
}

static int64_t do_mkdirat(struct exec_call *c)
{
    return mkdir_common(c, 0, 1, c->a[2]);
}

static int64_t rename_common(struct exec_call *c, int od, int op, int nd, int np, uint64_t flags)
{
    const char *orel, *nrel, *oname, *nname;
    if (flags & ~(uint64_t)(RENAME_NOREPLACE | RENAME_EXCHANGE))
        return -EINVAL;
    int ovol = resolve_for_change(c, od, op, 0, &orel);
    if (ovol < 0)
        return ovol;
    int nvol = resolve_for_change(c, nd, np, 1, &nrel);
    if (nvol < 0)
        return nvol;
    if (ovol != nvol)
        return -EXDEV; /* rename(2): not on the same mounted filesystem */
    int opar = keep_volumes_open_parent(&c->x->vols, ovol, orel, &oname);
    if (opar < 0)
        return opar;
    int npar = keep_volumes_open_parent(&c->x->vols, nvol, nrel, &nname);
    if (npar < 0) {
        close(opar);
        return npar;
    }
    int r = renameat2(opar, oname, npar, nname, (unsigned int)flags);
    int saved = errno;
    close(opar);
    close(npar);
    return r < 0 ? -saved : 0;
}

static int64_t do_rename(struct exec_call *c)
{
    return rename_common(c, -1, 0, -1, 1, 0);
}

static int64_t do_renameat(struct exec_call *c)
{
    return rename_common(c, 0, 1, 2, 3, 0);
}

static int64_t do_renameat2(struct exec_call *c)
{
    return rename_common(c, 0, 1, 2, 3, c->a[4]);
}

/* ---- fds ---------------------------------------------------------------- */

/* Duplicate guest fd old to guest fd new_guest (or the lowest >= min when new_guest < 0). */
static int64_t dup_guest(struct keep_executor *x, int old, int new_guest, int min, bool cloexec)
{
    struct exec_fd *of = keep_exec_fd(x, old);
    if (!of)
        return -EBADF;
    if (new_guest < 0 && !fd_number_free(x, min))
        return -EMFILE;
    char *guest_path = NULL;
    if (of->guest_path && !(guest_path = strdup(of->guest_path)))
        return -ENOMEM;
    int h = fcntl(of->host, F_DUPFD_CLOEXEC, 3);
    if (h < 0) {
        free(guest_path);
        return -errno;
    }
    int g;
    if (new_guest >= 0) {
        if (x->fds[new_guest].kind != FD_FREE) {
            keep_exec_close_host(x, x->fds[new_guest].host); /* dup2(2): errors are ignored */
            keep_exec_fd_release(x, new_guest);
        }
        g = keep_exec_fd_install(x, h, (enum exec_fd_kind)of->kind, new_guest);
    } else {
        g = keep_exec_fd_install(x, h, (enum exec_fd_kind)of->kind, min);
    }
    if (g < 0) {
        free(guest_path);
        return g;
    }
    of = &x->fds[old];
    x->fds[g].volume = of->volume;
    x->fds[g].listen_ok = of->listen_ok;
    x->fds[g].udp = of->udp;
    x->fds[g].guest_path = guest_path;
    x->fds[g].cloexec = cloexec;
    /* Test mode: a number other than the one the call must give, inside the table when it can. */
    if (x->hostile == KEEP_HOSTILE_DUP_FD)
        return new_guest >= 0 ? new_guest + 1 : min > 0 ? min - 1 : HOSTILE_BAD_FD;
    return g;
}

static int64_t do_dup(struct exec_call *c)
{
    return dup_guest(c->x, c->gfd[0], -1, 0, false);
}

static int64_t do_dup3(struct exec_call *c)
{
    int newfd = (int)(int32_t)c->a[1];
    if (c->a[2] & ~(uint64_t)O_CLOEXEC)
        return -EINVAL;
    if (newfd == c->gfd[0])
        return -EINVAL; /* dup3(2): oldfd equals newfd */
    if (newfd < 0 || newfd >= (int)KEEP_CHAN_MAX_FDS)
        return -EBADF;
    return dup_guest(c->x, c->gfd[0], newfd, 0, (c->a[2] & O_CLOEXEC) != 0);
}

static int64_t do_dup2(struct exec_call *c)
{
    int newfd = (int)(int32_t)c->a[1];
    if (newfd == c->gfd[0])
        return newfd; /* dup2(2): a valid oldfd equal to newfd is returned unchanged */
    if (newfd < 0 || newfd >= (int)KEEP_CHAN_MAX_FDS)
        return -EBADF;
    return dup_guest(c->x, c->gfd[0], newfd, 0, false);
}

static int64_t do_close(struct exec_call *c)
{
    int r = keep_exec_close_host(c->x, c->hfd[0]);
    int saved = errno;
    keep_exec_fd_release(c->x, c->gfd[0]);
    /* close(2): the fd is released even when close reports an error. */
    return r < 0 && saved != EINTR ? -saved : 0;
}

static int64_t do_fcntl(struct exec_call *c)
{
    struct exec_fd *f = keep_exec_fd(c->x, c->gfd[0]);
    int min = (int)(int32_t)c->a[2];
    switch (c->a[1]) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        if (min < 0 || min >= (int)KEEP_CHAN_MAX_FDS)
            return -EINVAL;
        return dup_guest(c->x, c->gfd[0], -1, min, c->a[1] == F_DUPFD_CLOEXEC);
    case F_GETFD:
        return f->cloexec ? FD_CLOEXEC : 0;
    case F_SETFD:
        f->cloexec = (c->a[2] & FD_CLOEXEC) != 0;
        return 0;
    case F_GETFL:
        return neg_errno(fcntl(c->hfd[0], F_GETFL) & ~O_CLOEXEC);
    case F_SETFL:
        /* Only the status flags a workload needs; never O_ASYNC (SIGIO to the host). */
        return neg_errno(
            fcntl(c->hfd[0], F_SETFL, (int)(c->a[2] & (O_APPEND | O_NONBLOCK | O_NOATIME))));
    default:
        if (keep_chan_fcntl_size(c->a[1]))
            return keep_exec_fcntl_lock(c);
        return -EINVAL;
    }
}

static int64_t do_ioctl(struct exec_call *c)
{
    /* Host-side buffers sized as the kernel's structures; copied out explicitly. */
    uint8_t buf[64] = {0};
    int v;
    uint32_t req = (uint32_t)c->a[1];
    if (c->a[1] > 0xffffffffu)
        return -ENOTTY;
    if (req == KEEP_IOCTL_FIONBIO) {
        v = (int)load_u32(c->p[2]);
        return neg_errno(ioctl(c->hfd[0], FIONBIO, &v));
    }
    if (ioctl(c->hfd[0], req, buf) < 0)
        return -errno;
    memcpy(c->p[2], buf, c->n[2]);
    return 0;
}

static int64_t pipe_common(struct exec_call *c, uint64_t flags)
{
    int fds[2];
    if (flags & ~(uint64_t)(O_NONBLOCK | O_CLOEXEC | O_DIRECT))
        return -EINVAL;
    if (pipe2(fds, (int)flags | O_CLOEXEC) < 0)
        return -errno;
    int g0 = keep_exec_fd_install(c->x, fds[0], FD_PIPE, 0);
    if (g0 < 0) {
        close(fds[1]);
        return g0;
    }
    int g1 = keep_exec_fd_install(c->x, fds[1], FD_PIPE, 0);
    if (g1 < 0) {
        close(fds[0]);
        keep_exec_fd_release(c->x, g0);
        return g1;
    }
    c->x->fds[g0].cloexec = c->x->fds[g1].cloexec = (flags & O_CLOEXEC) != 0;
    store_u32(c->p[0], (uint32_t)g0);
    store_u32(c->p[0] + 4, (uint32_t)g1);
    return 0;
}

static int64_t do_pipe(struct exec_call *c)
{
    return pipe_common(c, 0);
}

static int64_t do_pipe2(struct exec_call *c)
{
    return pipe_common(c, c->a[1]);
}

/* ---- poll and epoll ----------------------------------------------------- */

int keep_exec_read_timespec(const uint8_t *p, struct timespec *ts)
{
    struct keep_cursor cur;
    uint64_t sec, nsec;
    keep_cursor_init(&cur, p, KEEP_SIZEOF_TIMESPEC);
    if (keep_cursor_u64(&cur, "tv_sec", &sec, NULL) ||
        keep_cursor_u64(&cur, "tv_nsec", &nsec, NULL))
        return -EFAULT;
    if ((int64_t)sec < 0 || nsec >= 1000000000u)
        return -EINVAL;
    ts->tv_sec = (time_t)sec;
    ts->tv_nsec = (long)nsec;
    return 0;
}

static void write_timespec(uint8_t *p, const struct timespec *ts)
{
    store_u64(p, (uint64_t)ts->tv_sec);
    store_u64(p + 8, (uint64_t)ts->tv_nsec);
}

static int64_t poll_common(struct exec_call *c, const struct timespec *timeout)
{
    uint64_t nfds = c->a[1];
    uint8_t *arr = c->p[0];
    int nval = 0;
    /* The batch's, not the executor's: the wait runs unlocked (keep_exec_unlock). */
    struct pollfd *pfd = c->s->pfd;
    bool pnval[KEEP_CHAN_POLLFD_MAX];
    if (nfds > KEEP_CHAN_POLLFD_MAX)
        return -EINVAL;
    if (nfds && !arr)
        return -EFAULT;
    struct keep_cursor cur;
    keep_cursor_init(&cur, arr, c->n[0]);
    for (uint64_t i = 0; i < nfds; i++) {
        uint32_t fd;
        uint16_t events, revents;
        if (keep_cursor_u32(&cur, "pollfd.fd", &fd, NULL) ||
            keep_cursor_u16(&cur, "pollfd.events", &events, NULL) ||
            keep_cursor_u16(&cur, "pollfd.revents", &revents, NULL))
            return -EFAULT;
        struct exec_fd *f = keep_exec_fd(c->x, (int)(int32_t)fd);
        pfd[i].fd = f ? f->host : -1;
        pfd[i].events = (short)events;
        pfd[i].revents = 0;
        /* poll(2): a negative fd is ignored; one the guest never opened reports POLLNVAL. */
        pnval[i] = !f && (int32_t)fd >= 0;
        nval += pnval[i];
    }
    static const struct timespec zero = {0, 0};
    keep_exec_unlock(c, pfd, (size_t)nfds);
    int r = ppoll(pfd, (nfds_t)nfds, nval ? &zero : timeout, NULL);
    keep_exec_relock(c);
    if (r < 0)
        return -errno;
    for (uint64_t i = 0; i < nfds; i++) {
        uint16_t rev = pnval[i] ? POLLNVAL : (uint16_t)pfd[i].revents;
        memcpy(arr + i * KEEP_SIZEOF_POLLFD + 6, &rev, 2);
    }
    return r + nval;
}

static int64_t do_poll(struct exec_call *c)
{
    int ms = (int)(int32_t)c->a[2];
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    return poll_common(c, ms < 0 ? NULL : &ts);
}

static int64_t do_ppoll(struct exec_call *c)
{
    struct timespec ts;
    if (c->p[2]) {
        int rc = keep_exec_read_timespec(c->p[2], &ts);
        if (rc)
            return rc;
    }
    return poll_common(c, c->p[2] ? &ts : NULL);
}

static int64_t do_epoll_create1(struct exec_call *c)
{
    if (c->a[0] & ~(uint64_t)EPOLL_CLOEXEC)
        return -EINVAL;
    int h = epoll_create1(EPOLL_CLOEXEC);
    if (h < 0)
        return -errno;
    int g = keep_exec_fd_install(c->x, h, FD_EPOLL, 0);
    if (g >= 0)
        c->x->fds[g].cloexec = c->a[0] != 0;
    return g;
}

#define EPOLL_EVENTS_ALLOWED                                                           \
    (EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDNORM | EPOLLRDBAND | \
     EPOLLWRNORM | EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP | EPOLLEXCLUSIVE | EPOLLONESHOT | EPOLLET)

static int64_t do_epoll_ctl(struct exec_call *c)
{
    struct exec_fd *ep = keep_exec_fd(c->x, c->gfd[0]);
    int op = (int)c->a[1];
    struct epoll_event ev = {0};
    if (ep->kind != FD_EPOLL)
        return -EINVAL; /* epoll_ctl(2): epfd is not an epoll fd */
    if (c->a[1] != EPOLL_CTL_ADD && c->a[1] != EPOLL_CTL_MOD && c->a[1] != EPOLL_CTL_DEL)
        return -EINVAL;
    if (op != EPOLL_CTL_DEL) {
        /* struct epoll_event is packed on x86-64: u32 events at 0, u64 data at 4. */
        struct keep_cursor cur;
        uint32_t events;
        uint64_t data;
        if (!c->p[3])
            return -EFAULT;
        keep_cursor_init(&cur, c->p[3], KEEP_SIZEOF_EPOLL_EVENT);
        if (keep_cursor_u32(&cur, "epoll_event.events", &events, NULL) ||
            keep_cursor_u64(&cur, "epoll_event.data", &data, NULL))
            return -EFAULT;
        if (events & ~(uint32_t)EPOLL_EVENTS_ALLOWED)
            return -EINVAL;
        ev.events = events;
        ev.data.u64 = data; /* the guest's own cookie, returned unchanged */
    }
    return neg_errno(epoll_ctl(c->hfd[0], op, c->hfd[2], &ev));
}

static int64_t do_epoll_wait(struct exec_call *c)
{
    int max = (int)c->a[2];
    if (c->a[2] == 0)
        return -EINVAL; /* epoll_wait(2): maxevents must be greater than zero */
    if (keep_exec_fd(c->x, c->gfd[0])->kind != FD_EPOLL)
        return -EINVAL;
    struct epoll_event ev[KEEP_CHAN_EPOLL_MAX]; /* this thread's: the wait runs unlocked */
    if (max > (int)KEEP_CHAN_EPOLL_MAX || max < 0)
        max = KEEP_CHAN_EPOLL_MAX;
    keep_exec_unlock(c, NULL, 0);
    int n = epoll_wait(c->hfd[0], ev, max, (int)(int32_t)c->a[3]);
    int saved = errno;
    keep_exec_relock(c);
    if (n < 0)
        return -saved;
    for (int i = 0; i < n; i++) {
        uint8_t *e = c->p[1] + (size_t)i * KEEP_SIZEOF_EPOLL_EVENT;
        store_u32(e, ev[i].events);
        store_u64(e + 4, ev[i].data.u64);
    }
    return n;
}

/* ---- clocks ------------------------------------------------------------- */

static bool clock_allowed(uint64_t id)
{
    /* Negative ids name other processes' or fds' CPU clocks (host objects): refused. */
    return id <= CLOCK_TAI && id != 10;
}

static int64_t do_clock_gettime(struct exec_call *c)
{
    struct timespec ts;
    if (!clock_allowed(c->a[0]))
        return -EINVAL;
    if (clock_gettime((clockid_t)c->a[0], &ts) < 0)
        return -errno;
    write_timespec(c->p[1], &ts);
    return 0;
}

static int64_t do_gettimeofday(struct exec_call *c)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (c->p[0]) {
        store_u64(c->p[0], (uint64_t)tv.tv_sec);
        store_u64(c->p[0] + 8, (uint64_t)tv.tv_usec);
    }
    if (c->p[1])
        memset(c->p[1], 0, KEEP_SIZEOF_TIMEZONE); /* UTC: the host's zone is not shared */
    return 0;
}

static int64_t do_nanosleep(struct exec_call *c)
{
    struct timespec req, rem = {0, 0};
    int rc = keep_exec_read_timespec(c->p[0], &req);
    if (rc)
        return rc;
    keep_exec_unlock(c, NULL, 0);
    int slept = nanosleep(&req, &rem);
    int saved = errno;
    keep_exec_relock(c);
    if (slept < 0) {
        if (c->p[1])
            write_timespec(c->p[1], &rem);
        return -saved;
    }
    return 0;
}

static int64_t do_clock_nanosleep(struct exec_call *c)
{
    struct timespec req, rem = {0, 0};
    if (!clock_allowed(c->a[0]) || (c->a[1] & ~(uint64_t)TIMER_ABSTIME))
        return -EINVAL;
    int rc = keep_exec_read_timespec(c->p[2], &req);
    if (rc)
        return rc;
    keep_exec_unlock(c, NULL, 0);
    int r = clock_nanosleep((clockid_t)c->a[0], (int)c->a[1], &req, &rem);
    keep_exec_relock(c);
    if (r && c->p[3] && !(c->a[1] & TIMER_ABSTIME))
        write_timespec(c->p[3], &rem);
    return -r; /* clock_nanosleep(3) returns the error number itself */
}

exec_handler keep_exec_fs_handler(uint64_t nr)
{
    switch (nr) {
    case KEEP_NR_read:
        return do_read;
    case KEEP_NR_write:
        return do_write;
    case KEEP_NR_open:
        return do_open;
    case KEEP_NR_close:
        return do_close;
    case KEEP_NR_stat:
        return do_stat;
    case KEEP_NR_fstat:
        return do_fstat;
    case KEEP_NR_lstat:
        return do_lstat;
    case KEEP_NR_poll:
        return do_poll;
    case KEEP_NR_lseek:
        return do_lseek;
    case KEEP_NR_ioctl:
        return do_ioctl;
    case KEEP_NR_pread64:
        return do_pread64;
    case KEEP_NR_pwrite64:
        return do_pwrite64;
    case KEEP_NR_readv:
        return do_readv;
    case KEEP_NR_writev:
        return do_writev;
    case KEEP_NR_pipe:
        return do_pipe;
    case KEEP_NR_dup:
        return do_dup;
    case KEEP_NR_dup2:
        return do_dup2;
    case KEEP_NR_nanosleep:
        return do_nanosleep;
    case KEEP_NR_fcntl:
        return do_fcntl;
    case KEEP_NR_rename:
        return do_rename;
    case KEEP_NR_mkdir:
        return do_mkdir;
    case KEEP_NR_unlink:
        return do_unlink;
    case KEEP_NR_readlink:
        return do_readlink;
    case KEEP_NR_gettimeofday:
        return do_gettimeofday;
    case KEEP_NR_getdents64:
        return do_getdents64;
    case KEEP_NR_clock_gettime:
        return do_clock_gettime;
    case KEEP_NR_clock_nanosleep:
        return do_clock_nanosleep;
    case KEEP_NR_epoll_wait:
        return do_epoll_wait;
    case KEEP_NR_epoll_ctl:
        return do_epoll_ctl;
    case KEEP_NR_openat:
        return do_openat;
    case KEEP_NR_mkdirat:
        return do_mkdirat;
    case KEEP_NR_newfstatat:
        return do_newfstatat;
    case KEEP_NR_unlinkat:
        return do_unlinkat;
    case KEEP_NR_renameat:
        return do_renameat;
    case KEEP_NR_readlinkat:
        return do_readlinkat;
    case KEEP_NR_ppoll:
        return do_ppoll;
    case KEEP_NR_epoll_pwait:
        return do_epoll_wait;
    case KEEP_NR_epoll_create1:
        return do_epoll_create1;
    case KEEP_NR_dup3:
        return do_dup3;
    case KEEP_NR_pipe2:
        return do_pipe2;
    case KEEP_NR_renameat2:
        return do_renameat2;
    case KEEP_NR_statx:
        return do_statx;
    case KEEP_NR_access:
        return do_access;
    case KEEP_NR_fsync:
        return do_fsync;
    case KEEP_NR_fdatasync:
        return do_fdatasync;
    case KEEP_NR_ftruncate:
        return do_ftruncate;
    case KEEP_NR_getcwd:
        return do_getcwd;
    case KEEP_NR_chdir:
        return do_chdir;
    case KEEP_NR_fchdir:
        return do_fchdir;
    case KEEP_NR_chmod:
        return do_chmod;
    case KEEP_NR_fchmod:
        return do_fchmod;
    case KEEP_NR_fchmodat:
        return do_fchmodat;
    case KEEP_NR_umask:
        return do_umask;
    case KEEP_NR_time:
        return do_time;
    case KEEP_NR_utimensat:
        return do_utimensat;
    case KEEP_NR_rmdir:
        return do_rmdir;
    case KEEP_NR_faccessat:
        return do_faccessat;
    case KEEP_NR_faccessat2:
        return do_faccessat2;
    default:
        return NULL;
    }
}

/* ---- shared with exec_fsext.c ------------------------------------------- */

int keep_exec_resolve(struct exec_call *c, int dirfd_arg, int path_arg, int slot, bool change,
                      const char **rel)
{
    return change ? resolve_for_change(c, dirfd_arg, path_arg, slot, rel)
                  : resolve(c, dirfd_arg, path_arg, slot, rel);
}
