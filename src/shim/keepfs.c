/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /run/keep: the Keep-private in-memory directory of `keep run --steward`
 * (docs/KEEP.md, "Enrolment"; docs/STEWARD.md). The enroller (keep-enroll)
 * writes key.pem, cert.pem, ca.pem and the secrets here before the workload
 * starts; afterwards the directory is read-only. Its bytes live in the
 * shim's memory only: no call on a /run/keep path or fd reaches the host,
 * except for one placeholder fd per open file (KEEP_HC_PLACEHOLDER, the
 * host's /dev/null) so fd numbers stay the host's to allocate.
 *
 * Answered here: open/openat/creat (O_RDONLY; O_WRONLY|O_CREAT during enrolment),
 * read, readv, pread64, write (enrolment), lseek, fstat, stat/lstat,
 * newfstatat, statx, access/faccessat/faccessat2, getdents64, close,
 * mkdir (enrolment), ioctl (ENOTTY), fcntl F_GETFD/F_SETFD/F_GETFL, and
 * mmap of a file here (a private copy, as mmap_file.c makes of host files).
 * dup/dup2/dup3/F_DUPFD share the open file description (offset included).
 * What does not work, and fails cleanly instead: sendfile from it (EINVAL, so busybox falls back to
 * read), any other call on its fd (EBADF),
 * changes to /run/keep after enrolment (EROFS), paths reaching /run/keep
 * through a relative path or the cwd (they go to the host, where /run/keep
 * is not the Keep's), chdir into it (EACCES), passing the fd to another
 * process (SCM_RIGHTS: the host would pass its /dev/null). poll/select/
 * epoll see the placeholder: always ready, as Linux reports a regular file.
 */
#include "keepfs_path.h"
#include "shim.h"

#define KEEPFS_FILES 32
#define KEEPFS_BYTES (96u << 10)

#define O_ACCMODE   3
#define O_WRONLY    1
#define O_RDWR      2
#define O_CREAT     0100
#define O_EXCL      0200
#define O_TRUNC     01000
#define O_APPEND    02000
#define O_DIRECTORY 0200000
#define O_CLOEXEC   02000000
#define AT_FDCWD    (-100)
#define AT_EMPTY    0x1000 /* AT_EMPTY_PATH */
#define S_IFDIR     0040000
#define S_IFREG     0100000
#define F_DUPFD     0
#define F_GETFD     1
#define F_SETFD     2
#define F_GETFL     3
#define F_SETFL     4
#define F_DUPFD_CLO 1030
#define PROT_WRITE  2
#define MAP_SHARED  1
#define MAP_TYPE    0x0f

enum { SHIM_EEXIST = 17, SHIM_ENOTDIR = 20, SHIM_ENOSPC = 28, SHIM_EROFS = 30 };
enum { SHIM_ENOTTY = 25, SHIM_ENXIO = 6 };

struct kfile {
    char name[KEEPFS_NAME_MAX]; /* below /run/keep: "" (the directory), "key.pem", "secrets/db" */
    uint32_t off, size;         /* bytes at data[off, off + size) */
    uint16_t mode;              /* permission bits */
    bool dir, used;
};

/* An open file description: what dup'd fds share (open(2)), the offset included. */
struct kfd {
    int16_t file; /* index + 1 into files; 0: free */
    bool writable;
    uint16_t refs; /* fds naming it */
    uint64_t pos;  /* file offset; for a directory, the next entry's index */
};
#define KEEPFS_OPEN 128 /* open file descriptions */

static struct {
    struct kfile files[KEEPFS_FILES];
    uint8_t data[KEEPFS_BYTES];
    uint32_t data_used;
    struct kfd open[KEEPFS_OPEN];
    uint8_t fd_open[KEEP_CHAN_MAX_FDS]; /* per fd: index + 1 into open; 0: not a /run/keep fd */
    uint32_t open_count;                /* fds naming a /run/keep file */
    bool active, writable;
    volatile uint32_t lock;
} fs;

static void lock(void)
{
    while (__atomic_exchange_n(&fs.lock, 1, __ATOMIC_ACQUIRE))
        __asm__ volatile("pause");
}

static void unlock(void)
{
    __atomic_store_n(&fs.lock, 0, __ATOMIC_RELEASE);
}

void shim_keepfs_init(bool writable)
{
    fs.active = true;
    fs.writable = writable;
    fs.files[0] = (struct kfile){.name = "", .mode = 0755, .dir = true, .used = true};
}

void shim_keepfs_seal(void)
{
    lock();
    fs.writable = false;
    /* The host closes every fd the enroller left open: forget them too. */
    memset(fs.open, 0, sizeof(fs.open));
    memset(fs.fd_open, 0, sizeof(fs.fd_open));
    fs.open_count = 0;
    unlock();
}

/* ---- paths ---------------------------------------------------------------- */

static bool same(const char *a, const char *b)
{
    size_t i = 0;
    for (; a[i] && a[i] == b[i]; i++)
        ;
    return a[i] == b[i];
}

/*
 * Copy the workload's NUL-terminated path at addr, checking each page it
 * touches (0, -EFAULT or -ENAMETOOLONG).
 */
static long copy_path(uint64_t addr, char *out, size_t cap)
{
    for (size_t n = 0; n < cap; n++) {
        if ((n == 0 || (addr + n) % 4096 == 0) &&
            (!shim_user_ok(addr + n, 1) || shim_mm_populate(addr + n, 1)))
            return -SHIM_EFAULT;
        out[n] = *(const volatile char *)(addr + n);
        if (!out[n])
            return 0;
    }
    return -SHIM_ENAMETOOLONG;
}

static int find(const char *name)
{
    for (int i = 0; i < KEEPFS_FILES; i++)
        if (fs.files[i].used && same(fs.files[i].name, name))
            return i;
    return -1;
}

/* The directory holding name must exist: ENOENT or ENOTDIR otherwise. */
static long parent_ok(const char *name)
{
    char parent[KEEPFS_NAME_MAX];
    size_t n = shim_strlen(name), cut = 0;
    for (size_t i = 0; i < n; i++)
        if (name[i] == '/')
            cut = i;
    memcpy(parent, name, cut);
    parent[cut] = 0;
    int p = find(parent);
    if (p < 0)
        return -SHIM_ENOENT;
    return fs.files[p].dir ? 0 : -SHIM_ENOTDIR;
}

static int new_entry(const char *name, bool dir, uint32_t mode)
{
    for (int i = 0; i < KEEPFS_FILES; i++) {
        if (!fs.files[i].used) {
            struct kfile *k = &fs.files[i];
            *k = (struct kfile){.mode = (uint16_t)(mode & 07777), .dir = dir, .used = true};
            memcpy(k->name, name, shim_strlen(name) + 1);
            k->off = fs.data_used;
            return i;
        }
    }
    return -SHIM_ENOSPC;
}

/* ---- the calls -------------------------------------------------------------- */

static struct kfd *kfd_of(uint64_t fd)
{
    return fd < KEEP_CHAN_MAX_FDS && fs.fd_open[fd] ? &fs.open[fs.fd_open[fd] - 1] : NULL;
}

/* fd (a placeholder the host just gave) now names open description d. */
static void attach(uint64_t fd, struct kfd *d)
{
    /* A host that hands out a number the Keep still holds for /run/keep would alias two files. */
    if (fd >= KEEP_CHAN_MAX_FDS || fs.fd_open[fd])
        shim_panic("the host gave a /run/keep placeholder an fd out of range or in use:", fd);
    fs.fd_open[fd] = (uint8_t)(d - fs.open + 1);
    d->refs++;
    fs.open_count++;
}

/* fd no longer names a /run/keep file (closed, or replaced by dup2); the last fd frees it. */
static void detach(uint64_t fd)
{
    struct kfd *d = kfd_of(fd);
    if (!d)
        return;
    fs.fd_open[fd] = 0;
    fs.open_count--;
    if (--d->refs == 0)
        *d = (struct kfd){0};
}

static long forward1(uint64_t nr, uint64_t a, uint64_t b)
{
    struct shim_frame g = {.nr = nr, .rdi = a, .rsi = b};
    return shim_forward(&g);
}

static long open_name(const char *name, bool slash, uint64_t flags, uint64_t mode)
{
    int i = find(name);
    bool wants_write = (flags & O_ACCMODE) != 0 || (flags & O_TRUNC);
    if (i < 0) {
        if (!(flags & O_CREAT))
            return -SHIM_ENOENT;
        if (!fs.writable)
            return -SHIM_EROFS;
        long rc = parent_ok(name);
        if (rc)
            return rc;
        if (slash)
            return -SHIM_EISDIR; /* open(2): O_CREAT of a name ending in '/' */
        i = new_entry(name, false, (uint32_t)mode);
        if (i < 0)
            return i;
    } else {
        struct kfile *k = &fs.files[i];
        if ((flags & O_CREAT) && (flags & O_EXCL))
            return -SHIM_EEXIST;
        if (k->dir && wants_write)
            return -SHIM_EISDIR;
        if (!k->dir && (slash || (flags & O_DIRECTORY)))
            return -SHIM_ENOTDIR;
        if (wants_write && !fs.writable)
            return -SHIM_EROFS;
        if (wants_write) { /* the enroller writes each file once, in one go: start it afresh */
            k->off = fs.data_used;
            k->size = 0;
        }
    }
    struct kfd *d = NULL;
    for (int o = 0; o < KEEPFS_OPEN && !d; o++)
        if (!fs.open[o].file)
            d = &fs.open[o];
    if (!d)
        return -23; /* ENFILE: the open file table is full (open(2)) */
    long fd = forward1(KEEP_HC_PLACEHOLDER, flags & O_CLOEXEC, 0);
    if (fd < 0)
        return fd;
    *d = (struct kfd){.file = (int16_t)(i + 1), .writable = wants_write};
    attach((uint64_t)fd, d);
    return fd;
}

/* struct stat (x86-64, 144 bytes) of file i. */
/* /run, the parent of /run/keep (index -1): a directory of root's. */
static const struct kfile run_dir = {.name = "..", .mode = 0755, .dir = true, .used = true};

static void fill_stat(int i, uint8_t *st)
{
    const struct kfile *k = i < 0 ? &run_dir : &fs.files[i];
    memset(st, 0, KEEP_SIZEOF_STAT);
    uint64_t dev = 0x4b45, ino = (uint64_t)i + 1, nlink = k->dir ? 2 : 1, size = k->size;
    uint32_t mode = (k->dir ? S_IFDIR : S_IFREG) | k->mode, id = KEEP_GUEST_ID;
    uint64_t blksize = 4096, blocks = (size + 511) / 512;
    memcpy(st + 0, &dev, 8);
    memcpy(st + 8, &ino, 8);
    memcpy(st + 16, &nlink, 8);
    memcpy(st + 24, &mode, 4);
    memcpy(st + 28, &id, 4);
    memcpy(st + 32, &id, 4);
    memcpy(st + 48, &size, 8);
    memcpy(st + 56, &blksize, 8);
    memcpy(st + 64, &blocks, 8);
}

/* struct statx (256 bytes, include/uapi/linux/stat.h) of file i. */
static void fill_statx(int i, uint8_t *sx)
{
    const struct kfile *k = i < 0 ? &run_dir : &fs.files[i];
    memset(sx, 0, KEEP_SIZEOF_STATX);
    uint32_t mask = 0x7ff /* STATX_BASIC_STATS */, blksize = 4096, nlink = k->dir ? 2 : 1;
    uint32_t id = KEEP_GUEST_ID, dev_major = 0, dev_minor = 0x4b45;
    uint16_t mode = (uint16_t)((k->dir ? S_IFDIR : S_IFREG) | k->mode);
    uint64_t ino = (uint64_t)i + 1, size = k->size, blocks = (size + 511) / 512;
    memcpy(sx + 0, &mask, 4);
    memcpy(sx + 4, &blksize, 4);
    memcpy(sx + 16, &nlink, 4);
    memcpy(sx + 20, &id, 4);
    memcpy(sx + 24, &id, 4);
    memcpy(sx + 28, &mode, 2);
    memcpy(sx + 32, &ino, 8);
    memcpy(sx + 40, &size, 8);
    memcpy(sx + 48, &blocks, 8);
    memcpy(sx + 136, &dev_major, 4);
    memcpy(sx + 140, &dev_minor, 4);
}

static long put_stat(int i, uint64_t buf, bool statx)
{
    uint64_t size = statx ? KEEP_SIZEOF_STATX : KEEP_SIZEOF_STAT;
    if (!shim_user_ok(buf, size) || shim_mm_populate_writable(buf, size))
        return -SHIM_EFAULT;
    if (statx)
        fill_statx(i, (uint8_t *)buf);
    else
        fill_stat(i, (uint8_t *)buf);
    return 0;
}

static long do_read(struct kfd *d, uint64_t buf, uint64_t len, uint64_t *pos)
{
    const struct kfile *k = &fs.files[d->file - 1];
    if (k->dir)
        return -SHIM_EISDIR;
    if (d->writable && !fs.writable)
        return -SHIM_EBADF;
    uint64_t n = *pos < k->size ? k->size - *pos : 0;
    if (n > len)
        n = len;
    if (n == 0)
        return 0;
    /* Only the bytes written must be writable memory: a larger buffer may end in a hole. */
    if (!shim_user_ok(buf, n) || shim_mm_populate_writable(buf, n))
        return -SHIM_EFAULT;
    memcpy((void *)buf, fs.data + k->off + *pos, n);
    *pos += n;
    return (long)n;
}

static long do_readv(struct kfd *d, uint64_t iov, uint64_t count)
{
    if (count > KEEP_CHAN_IOV_MAX)
        return -SHIM_EINVAL;
    if (!shim_user_ok(iov, count * 16) || shim_mm_populate(iov, count * 16))
        return -SHIM_EFAULT;
    long total = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t base = ((volatile uint64_t *)iov)[2 * i],
                 len = ((volatile uint64_t *)iov)[2 * i + 1];
        long r = do_read(d, base, len, &d->pos);
        if (r < 0)
            return total ? total : r;
        total += r;
        if ((uint64_t)r < len)
            break;
    }
    return total;
}

/* Appends only: the enroller writes each file sequentially, and the file is the newest. */
static long do_write(struct kfd *d, uint64_t buf, uint64_t len)
{
    struct kfile *k = &fs.files[d->file - 1];
    if (!d->writable || !fs.writable)
        return -SHIM_EBADF;
    if (k->off + k->size != fs.data_used || d->pos != k->size)
        return -SHIM_EINVAL; /* not the file being written, or not at its end */
    if (len > KEEPFS_BYTES - fs.data_used)
        return -SHIM_ENOSPC;
    if (!shim_user_ok(buf, len) || shim_mm_populate(buf, len))
        return -SHIM_EFAULT;
    memcpy(fs.data + fs.data_used, (const void *)buf, len);
    fs.data_used += (uint32_t)len;
    k->size += (uint32_t)len;
    d->pos += len;
    return (long)len;
}

static long do_lseek(struct kfd *d, int64_t off, uint64_t whence)
{
    const struct kfile *k = &fs.files[d->file - 1];
    int64_t base, size = k->size;
    switch (whence) {
    case 0: /* SEEK_SET */
        base = 0;
        break;
    case 1: /* SEEK_CUR */
        base = (int64_t)d->pos;
        break;
    case 2: /* SEEK_END */
        base = size;
        break;
    case 3: /* SEEK_DATA: the whole file is data */
    case 4: /* SEEK_HOLE: the one hole is at the end */
        if (off < 0 || off >= size)
            return -SHIM_ENXIO;
        d->pos = whence == 3 ? (uint64_t)off : (uint64_t)size;
        return (long)d->pos;
    default:
        return -SHIM_EINVAL;
    }
    if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
        return -SHIM_EINVAL;
    d->pos = (uint64_t)(base + off);
    return (long)d->pos;
}

/* The entries directly inside directory dir, from index *pos: struct linux_dirent64. */
static long do_getdents(struct kfd *d, uint64_t buf, uint64_t len)
{
    const struct kfile *dir = &fs.files[d->file - 1];
    if (!dir->dir)
        return -SHIM_ENOTDIR;
    if (!shim_user_ok(buf, len) || shim_mm_populate_writable(buf, len))
        return -SHIM_EFAULT;
    size_t prefix = shim_strlen(dir->name);
    uint64_t done = 0;
    for (; d->pos < KEEPFS_FILES + 2; d->pos++) {
        const char *entry;
        uint64_t ino;
        uint8_t type = 4; /* DT_DIR */
        if (d->pos < 2) {
            entry = d->pos == 0 ? "." : "..";
            ino = d->pos == 0 ? (uint64_t)(d->file) : 1;
        } else {
            const struct kfile *k = &fs.files[d->pos - 2];
            const char *n = k->name;
            if (!k->used || !n[0] || (prefix && (shim_strlen(n) <= prefix || n[prefix] != '/')))
                continue;
            bool inside = true;
            for (size_t i = 0; i < prefix; i++)
                inside &= n[i] == dir->name[i];
            entry = n + (prefix ? prefix + 1 : 0);
            for (const char *c = entry; *c && inside; c++)
                inside = *c != '/';
            if (!inside)
                continue;
            ino = d->pos - 1;
            type = k->dir ? 4 : 8; /* DT_REG */
        }
        uint64_t nlen = shim_strlen(entry), reclen = (19 + nlen + 1 + 7) & ~7ull;
        if (done + reclen > len)
            return done ? (long)done : -SHIM_EINVAL; /* getdents64(2): buffer too small */
        uint8_t *r = (uint8_t *)(buf + done);
        int64_t next = (int64_t)d->pos + 1;
        uint16_t rl = (uint16_t)reclen;
        memset(r, 0, reclen);
        memcpy(r, &ino, 8);
        memcpy(r + 8, &next, 8);
        memcpy(r + 16, &rl, 2);
        r[18] = type;
        memcpy(r + 19, entry, nlen);
        done += reclen;
    }
    return (long)done;
}

static long do_mmap(struct kfd *d, const struct shim_frame *f)
{
    const struct kfile *k = &fs.files[d->file - 1];
    uint64_t len = f->rsi, prot = f->rdx, flags = f->r10, off = f->r9;
    if (k->dir)
        return -SHIM_ENODEV;
    if (d->writable || ((flags & MAP_TYPE) == MAP_SHARED && (prot & PROT_WRITE)))
        return -SHIM_EACCES; /* mmap(2): not open for reading, or shared writes to O_RDONLY */
    if (len == 0 || (off & 4095) || off > (1ull << 40))
        return -SHIM_EINVAL;
    uint64_t anon = (flags & ~(uint64_t)MAP_TYPE) | 0x02 /* MAP_PRIVATE */ | 0x20 /* ANON */;
    long start = shim_mmap(f->rdi, len, 3 /* read, write */, anon, (uint64_t)-1, 0);
    if (start < 0)
        return start;
    uint64_t n = off < k->size ? k->size - off : 0;
    if (n > len)
        n = len;
    memcpy((void *)start, fs.data + k->off + off, n);
    if (prot != 3) {
        long rc = shim_mprotect((uint64_t)start, len, prot);
        if (rc) {
            shim_munmap((uint64_t)start, len);
            return rc;
        }
    }
    return start;
}

static long do_close(uint64_t fd)
{
    detach(fd);
    return forward1(KEEP_NR_close, fd, 0); /* the placeholder */
}

/*
 * dup, dup2, dup3, F_DUPFD(_CLOEXEC) of a /run/keep fd: the host dups the
 * placeholder (so it picks the number, and applies the target and the
 * minimum as Linux does), and the new fd shares the open description, its
 * offset included (dup(2)).
 */
static long do_dup(struct kfd *d, const struct shim_frame *f, uint64_t fd)
{
    bool onto = f->nr == KEEP_NR_dup2 || f->nr == KEEP_NR_dup3;
    if (onto && f->rsi == fd)
        return shim_forward(f); /* dup2(fd, fd) changes nothing; dup3 says EINVAL */
    long r = shim_forward(f);
    if (r < 0)
        return r;
    if (onto && (uint64_t)r != f->rsi)
        shim_panic("dup2/dup3 of a /run/keep fd returned another fd than asked:", (uint64_t)r);
    if (onto)
        detach((uint64_t)r); /* the host closed whatever the target was */
    attach((uint64_t)r, d);
    return r;
}

/* A call whose fd argument is a /run/keep fd. */
static long fd_call(struct kfd *d, const struct shim_frame *f, uint64_t fd)
{
    switch (f->nr) {
    case KEEP_NR_read:
        return do_read(d, f->rsi, f->rdx, &d->pos);
    case KEEP_NR_pread64: {
        if ((int64_t)f->r10 < 0)
            return -SHIM_EINVAL;
        uint64_t pos = f->r10;
        return do_read(d, f->rsi, f->rdx, &pos);
    }
    case KEEP_NR_readv:
        return do_readv(d, f->rsi, f->rdx);
    case KEEP_NR_write:
        return do_write(d, f->rsi, f->rdx);
    case KEEP_NR_lseek:
        return do_lseek(d, (int64_t)f->rsi, f->rdx);
    case KEEP_NR_fstat:
        return put_stat(d->file - 1, f->rsi, false);
    case KEEP_NR_getdents64:
        return do_getdents(d, f->rsi, f->rdx);
    case KEEP_NR_close:
        return do_close(fd);
    case KEEP_NR_ioctl:
        return -SHIM_ENOTTY;
    case KEEP_NR_fsync:
    case KEEP_NR_fdatasync:
        return 0;
    case KEEP_NR_fcntl:
        if (f->rsi == F_GETFL)
            return d->writable ? O_WRONLY : 0;
        if (f->rsi == F_GETFD || f->rsi == F_SETFD)
            return shim_forward(f); /* close-on-exec is the placeholder's */
        if (f->rsi == F_SETFL)
            return 0; /* O_NONBLOCK and O_APPEND change nothing for a file read from memory */
        return f->rsi == F_DUPFD || f->rsi == F_DUPFD_CLO ? do_dup(d, f, fd) : -SHIM_EINVAL;
    case KEEP_NR_dup:
    case KEEP_NR_dup2:
    case KEEP_NR_dup3:
        return do_dup(d, f, fd);
    case KEEP_NR_sendfile:
        return -SHIM_EINVAL;
    case KEEP_NR_fchmod:
    case KEEP_NR_fchown:
        return -SHIM_EROFS; /* chmod(2), chown(2): EROFS on a read-only file system */
    case KEEP_NR_ftruncate:
    case KEEP_NR_pwrite64:
    case KEEP_NR_writev:
        return d->writable ? -SHIM_EINVAL : -SHIM_EBADF; /* not open for writing: EBADF */
    case KEEP_NR_fchdir:
        return -SHIM_EACCES;
    default:
        shim_log("/run/keep fd: call not supported (EBADF):", f->nr);
        return -SHIM_EBADF;
    }
}

/* The (dirfd, path) of path-taking calls: which arguments they are, or false. */
static bool path_args(uint64_t nr, int *dirfd_arg, int *path_arg)
{
    *dirfd_arg = -1;
    *path_arg = 0;
    switch (nr) {
    case KEEP_NR_open:
    case KEEP_NR_creat: /* calls.c would forward it as an open: it must not reach the host */
    case KEEP_NR_stat:
    case KEEP_NR_lstat:
    case KEEP_NR_access:
    case KEEP_NR_mkdir:
    case KEEP_NR_chdir:
    case KEEP_NR_readlink:
        return true;
    case KEEP_NR_openat:
    case KEEP_NR_newfstatat:
    case KEEP_NR_statx:
    case KEEP_NR_faccessat:
    case KEEP_NR_faccessat2:
    case KEEP_NR_mkdirat:
    case KEEP_NR_readlinkat:
        *dirfd_arg = 0;
        *path_arg = 1;
        return true;
    default:
        return false;
    }
}

static uint64_t arg(const struct shim_frame *f, int i)
{
    const uint64_t a[6] = {f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9};
    return a[i];
}

/* A call naming /run/keep/NAME (file i, or -1 when absent). */
static long named_call(const struct shim_frame *f, const char *name, bool slash, int at)
{
    int i = find(name);
    uint64_t a1 = arg(f, at + 1), a2 = arg(f, at + 2);
    if (i >= 0 && slash && !fs.files[i].dir)
        return -SHIM_ENOTDIR;
    switch (f->nr) {
    case KEEP_NR_open:
    case KEEP_NR_openat:
        return open_name(name, slash, a1, a2);
    case KEEP_NR_creat: /* creat(2): open with O_CREAT|O_WRONLY|O_TRUNC; a1 is the mode */
        return open_name(name, slash, O_CREAT | O_WRONLY | O_TRUNC, a1);
    case KEEP_NR_stat:
    case KEEP_NR_lstat:
    case KEEP_NR_newfstatat:
        return i < 0 ? -SHIM_ENOENT : put_stat(i, a1, false);
    case KEEP_NR_statx:
        return i < 0 ? -SHIM_ENOENT : put_stat(i, f->r8, true);
    case KEEP_NR_access:
    case KEEP_NR_faccessat:
    case KEEP_NR_faccessat2:
        if (i < 0)
            return -SHIM_ENOENT;
        if (a1 & ~7ull)
            return -SHIM_EINVAL;
        if ((a1 & 2) && !fs.writable)
            return -SHIM_EROFS; /* access(2): W_OK on a read-only file system */
        return ((a1 & 1) && !fs.files[i].dir) ? -SHIM_EACCES : 0; /* X_OK: no file is executable */
    case KEEP_NR_mkdir:
    case KEEP_NR_mkdirat: {
        if (i >= 0)
            return -SHIM_EEXIST;
        if (!fs.writable)
            return -SHIM_EROFS;
        long rc = parent_ok(name);
        if (rc)
            return rc;
        int d = new_entry(name, true, (uint32_t)a1);
        return d < 0 ? d : 0;
    }
    case KEEP_NR_readlink:
    case KEEP_NR_readlinkat:
        return i < 0 ? -SHIM_ENOENT : -SHIM_EINVAL; /* not a symbolic link */
    case KEEP_NR_chdir:
        return -SHIM_EACCES;
    default:
        return -SHIM_EROFS;
    }
}

static bool path_call(const struct shim_frame *f, long *r)
{
    int dirfd_arg, path_arg;
    if (!path_args(f->nr, &dirfd_arg, &path_arg))
        return false;
    char path[KEEP_CHAN_PATH_MAX], name[KEEPFS_NAME_MAX];
    long rc = copy_path(arg(f, path_arg), path, sizeof(path));
    if (rc)
        return false; /* the host reports EFAULT/ENAMETOOLONG as for any path */
    struct kfd *dir = dirfd_arg >= 0 ? kfd_of(arg(f, dirfd_arg)) : NULL;
    bool empty_path = path[0] == 0 && dirfd_arg >= 0;
    if (empty_path && dir && (f->nr == KEEP_NR_newfstatat || f->nr == KEEP_NR_statx)) {
        uint64_t flags = f->nr == KEEP_NR_statx ? f->rdx : f->r10;
        *r = !(flags & AT_EMPTY) ? -SHIM_ENOENT
                                 : put_stat(dir->file - 1, f->nr == KEEP_NR_statx ? f->r8 : f->rdx,
                                            f->nr == KEEP_NR_statx);
        return true;
    }
    if (dir && !fs.files[dir->file - 1].dir && path[0] != '/') {
        *r = -SHIM_ENOTDIR;
        return true;
    }
    bool slash;
    rc = keepfs_path_name(path, dir ? fs.files[dir->file - 1].name : NULL, name, &slash);
    if (rc == KEEPFS_RUN) { /* /run reached through /run/keep/..: stat it as a directory, else the
                               host's */
        bool stat_call = f->nr == KEEP_NR_stat || f->nr == KEEP_NR_lstat ||
                         f->nr == KEEP_NR_newfstatat || f->nr == KEEP_NR_statx;
        if (!stat_call)
            return false;
        *r = put_stat(-1, f->nr == KEEP_NR_statx ? f->r8 : arg(f, path_arg + 1),
                      f->nr == KEEP_NR_statx);
        return true;
    }
    if (rc == KEEPFS_ELSEWHERE)
        return false;
    *r = rc < 0 ? rc : named_call(f, name, slash, path_arg);
    return true;
}

/* dup2/dup3 onto a /run/keep fd: the host closes its placeholder, so forget the file. */
static bool dup_onto(const struct shim_frame *f, long *r)
{
    if ((f->nr != KEEP_NR_dup2 && f->nr != KEEP_NR_dup3) || !kfd_of(f->rsi) || kfd_of(f->rdi))
        return false;
    *r = shim_forward(f);
    if (*r >= 0 && (uint64_t)*r == f->rsi)
        detach(f->rsi);
    return true;
}

/* The first fd argument of a forwarded call that is a /run/keep fd, or -1. */
static int64_t keep_fd_arg(const struct shim_frame *f)
{
    const struct keep_chan_call *c = keep_chan_find_call(f->nr);
    if (!c)
        return -1;
    for (int i = 0; i < 6; i++) {
        uint8_t kind = c->args[i].kind;
        if ((kind == KEEP_ARG_FD || kind == KEEP_ARG_DIRFD) && kfd_of(arg(f, i)))
            return i;
    }
    return -1;
}

bool shim_keepfs_call(const struct shim_frame *f, long *r)
{
    if (!fs.active)
        return false;
    int dirfd_arg, path_arg;
    bool paths = path_args(f->nr, &dirfd_arg, &path_arg);
    if (!paths && !__atomic_load_n(&fs.open_count, __ATOMIC_RELAXED))
        return false;
    lock();
    bool handled = false;
    if (f->nr == KEEP_NR_mmap) {
        struct kfd *d = (f->r10 & 0x20) ? NULL : kfd_of(f->r8);
        if ((handled = d != NULL))
            *r = do_mmap(d, f);
    } else if (f->nr == KEEP_NR_sendfile && kfd_of(f->rsi)) {
        handled = true;
        *r = -SHIM_EINVAL; /* in_fd; busybox and glibc fall back to read */
    } else if (paths) {
        handled = path_call(f, r);
    } else if (!(handled = dup_onto(f, r))) {
        int64_t i = keep_fd_arg(f);
        if ((handled = i >= 0)) {
            uint64_t fd = arg(f, (int)i);
            *r = fd_call(kfd_of(fd), f, fd);
        }
    }
    unlock();
    return handled;
}
