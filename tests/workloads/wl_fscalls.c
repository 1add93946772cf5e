/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The file-system and process calls of issues 11 and 12, each checked
 * against what Linux does for an unprivileged process:
 *   wl_fscalls DIR BACKEND   (DIR a read-write volume, BACKEND kvm or nil)
 * record locks, links, ownership, statfs, sendfile, creat, select and
 * pselect6 on a pipe, file-backed mmap, getrusage, prctl names, identity,
 * session calls and sysinfo. One "ok"/"not ok" line per check.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wl.h"

static char dir[256];
static int in_keep; /* kvm: the calls the shim answers, not the host kernel */
/*
 * nil runs the workload in a user namespace that maps only its own uid and
 * gid: Linux answers an id with no mapping EINVAL, not EPERM
 * (user_namespaces(7); docs/KEEP.md, "The nil backend").
 */
static int unmapped_errno = EPERM;

static const char *at(const char *name)
{
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static void put(const char *name, const char *text)
{
    int fd = open(at(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        wl_check(0, "write %s", name);
    close(fd);
}

static void test_locks(void)
{
    int fd = open(at("lock.db"), O_RDWR | O_CREAT, 0644);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
    wl_check(fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0, "F_SETLK write lock on bytes 0..99");
    fl = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5};
    wl_check(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK,
             "F_GETLK: our own lock does not conflict (l_type F_UNLCK)");
    fl = (struct flock){.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    wl_check(fcntl(fd, F_SETLKW, &fl) == 0, "F_SETLKW unlock of the whole file");
    /* Two open file descriptions of one file: OFD locks conflict between them. */
    int fd2 = open(at("lock.db"), O_RDWR);
    fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    wl_check(fcntl(fd, F_OFD_SETLK, &fl) == 0, "F_OFD_SETLK on the first description");
    fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    wl_check(fcntl(fd2, F_OFD_SETLK, &fl) == -1 && (errno == EAGAIN || errno == EACCES),
             "F_OFD_SETLK on the second description conflicts (EAGAIN)");
    fl = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    wl_check(fcntl(fd2, F_OFD_GETLK, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_pid == -1,
             "F_OFD_GETLK names the conflicting write lock, l_pid -1 (got type %d pid %d)",
             fl.l_type, fl.l_pid);
    fl = (struct flock){
        .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1, .l_pid = 42};
    wl_check(wl_failed_with(fcntl(fd2, F_OFD_SETLK, &fl), EINVAL, EINVAL),
             "F_OFD_SETLK with l_pid != 0: EINVAL");
    fl = (struct flock){.l_type = 7, .l_whence = SEEK_SET};
    wl_check(wl_failed_with(fcntl(fd, F_SETLK, &fl), EINVAL, EINVAL), "l_type 7: EINVAL");
    close(fd2);
    close(fd);
    int ro = open(at("lock.db"), O_RDONLY);
    fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET};
    wl_check(wl_failed_with(fcntl(ro, F_SETLK, &fl), EBADF, EBADF),
             "a write lock on a read-only fd: EBADF");
    close(ro);
    fd = open(at("lock.db"), O_RDWR);
    wl_check(fsync(fd) == 0 && fdatasync(fd) == 0 && ftruncate(fd, 4096) == 0,
             "fsync, fdatasync, ftruncate");
    close(fd);
}

static void test_links(void)
{
    char buf[256];
    put("people.txt", "alice\nbob\n");
    unlink(at("plink"));
    unlink(at("hard"));
    unlink(at("out"));
    unlink(at("hard2"));
    wl_check(symlink("people.txt", at("plink")) == 0, "symlink people.txt -> plink");
    ssize_t n = readlink(at("plink"), buf, sizeof(buf));
    wl_check(n == 10 && memcmp(buf, "people.txt", 10) == 0, "readlink gives the target back");
    int fd = open(at("plink"), O_RDONLY);
    n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
    wl_check(n == 10 && memcmp(buf, "alice\nbob\n", 10) == 0, "reading through the symlink");
    close(fd);
    struct stat st, lst;
    wl_check(lstat(at("plink"), &lst) == 0 && S_ISLNK(lst.st_mode) && lst.st_size == 10,
             "lstat: a symlink of 10 bytes");
    wl_check(wl_failed_with(symlink("x", at("plink")), EEXIST, EEXIST),
             "symlink over a name: EEXIST");
    wl_check(wl_failed_with(symlink("", at("empty")), ENOENT, ENOENT), "symlink to \"\": ENOENT");
    wl_check(link(at("people.txt"), at("hard")) == 0, "link people.txt -> hard");
    wl_check(stat(at("people.txt"), &st) == 0 && st.st_nlink == 2, "two links to the file (%lu)",
             (unsigned long)st.st_nlink);
    wl_check(linkat(AT_FDCWD, at("plink"), AT_FDCWD, at("hard2"), AT_SYMLINK_FOLLOW) == 0 &&
                 lstat(at("hard2"), &lst) == 0 && S_ISREG(lst.st_mode),
             "linkat AT_SYMLINK_FOLLOW links the file the symlink names");
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    unlink(at("rel"));
    wl_check(symlinkat("hard", d, "rel") == 0 && readlinkat(d, "rel", buf, sizeof(buf)) == 4,
             "symlinkat and readlinkat relative to a directory fd");
    close(d);
    /* A target outside: may be made, as on Linux; following it is the Keep's business. */
    wl_check(symlink("/etc/passwd", at("out")) == 0, "a symlink naming a path outside can be made");
    wl_check(wl_failed_with(link(at("people.txt"), "/proc/nothere"), ENOENT, EXDEV),
             "link to a path in no volume fails");
}

static void test_owner(void)
{
    struct stat st;
    put("own.txt", "x");
    stat(at("own.txt"), &st);
    wl_check(chown(at("own.txt"), st.st_uid, st.st_gid) == 0, "chown to the file's own ids");
    wl_check(chown(at("own.txt"), -1, -1) == 0, "chown(-1, -1) changes nothing");
    int fd = open(at("own.txt"), O_RDONLY);
    wl_check(fchown(fd, -1, st.st_gid) == 0, "fchown to its own group");
    wl_check(fchownat(AT_FDCWD, at("plink"), -1, -1, AT_SYMLINK_NOFOLLOW) == 0 &&
                 lchown(at("plink"), -1, -1) == 0,
             "lchown and fchownat(AT_SYMLINK_NOFOLLOW)");
    if (geteuid() != 0) {
        wl_check(wl_failed_with(fchown(fd, 4242, -1), EPERM, unmapped_errno),
                 "fchown to another uid: EPERM");
        wl_check(wl_failed_with(chown(at("own.txt"), -1, 4243), EPERM, unmapped_errno),
                 "chown to another gid: EPERM");
    }
    close(fd);
    wl_check(wl_failed_with(chown(at("nothere"), -1, -1), ENOENT, ENOENT),
             "chown of nothing: ENOENT");
}

static void test_statfs_sendfile_creat(void)
{
    struct statfs a, b;
    int fd = open(at("own.txt"), O_RDONLY);
    wl_check(statfs(dir, &a) == 0 && fstatfs(fd, &b) == 0 && a.f_type == b.f_type &&
                 a.f_bsize > 0 && a.f_blocks > 0,
             "statfs and fstatfs agree on the volume's file system (type 0x%lx)",
             (unsigned long)a.f_type);
    close(fd);
    char big[100000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    int src = creat(at("src.bin"), 0600);
    wl_check(src >= 0 && write(src, big, sizeof(big)) == (ssize_t)sizeof(big), "creat and write");
    wl_check(wl_failed_with(read(src, big, 1), EBADF, EBADF), "creat opens write-only");
    close(src);
    src = open(at("src.bin"), O_RDONLY);
    int dst = open(at("dst.bin"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    off_t off = 10;
    ssize_t n = sendfile(dst, src, &off, sizeof(big));
    wl_check(n == (ssize_t)sizeof(big) - 10 && off == (off_t)sizeof(big),
             "sendfile with an offset moves the rest (%zd)", n);
    wl_check(lseek(src, 0, SEEK_CUR) == 0, "... and leaves the file offset alone");
    n = sendfile(dst, src, NULL, 5);
    wl_check(n == 5 && lseek(src, 0, SEEK_CUR) == 5, "sendfile without offset advances it");
    close(src);
    close(dst);
    struct stat st;
    wl_check(stat(at("dst.bin"), &st) == 0 && st.st_size == (off_t)sizeof(big) - 5,
             "dst.bin holds the bytes sent (%lld)", (long long)st.st_size);
}

static void test_select(void)
{
    int p[2];
    fd_set r, w;
    if (pipe(p) != 0)
        wl_check(0, "pipe");
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timeval tv = {0, 20000};
    wl_check(select(p[0] + 1, &r, NULL, NULL, &tv) == 0 && !FD_ISSET(p[0], &r),
             "select: an empty pipe is not readable (timeout)");
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(p[0], &r);
    FD_SET(p[1], &w);
    int m = p[0] > p[1] ? p[0] : p[1];
    wl_check(select(m + 1, &r, &w, NULL, NULL) == 1 && FD_ISSET(p[1], &w) && !FD_ISSET(p[0], &r),
             "select: the write end is writable");
    if (write(p[1], "x", 1) != 1)
        wl_check(0, "write to pipe");
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timespec ts = {5, 0};
    wl_check(pselect(p[0] + 1, &r, NULL, NULL, &ts, NULL) == 1 && FD_ISSET(p[0], &r),
             "pselect: a pipe with a byte is readable");
    /* An fd inside the first 64 (Linux ignores bits beyond the fd table's size). */
    close(60);
    FD_ZERO(&r);
    FD_SET(60, &r);
    wl_check(wl_failed_with(select(61, &r, NULL, NULL, NULL), EBADF, EBADF),
             "select of an fd not open: EBADF");
    wl_check(wl_failed_with(select(-1, NULL, NULL, NULL, NULL), EINVAL, EINVAL),
             "select with nfds -1: EINVAL");
    tv = (struct timeval){-1, 0};
    wl_check(wl_failed_with(select(0, NULL, NULL, NULL, &tv), EINVAL, EINVAL),
             "select with a negative timeout: EINVAL");
    close(p[0]);
    close(p[1]);
}

static void test_mmap(int backend_kvm)
{
    const char *text = "mapped file contents\n";
    put("map.txt", text);
    int fd = open(at("map.txt"), O_RDWR);
    char *m = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
    wl_check(m != MAP_FAILED && memcmp(m, text, strlen(text)) == 0 && m[strlen(text)] == 0,
             "MAP_PRIVATE read-only: the file's bytes, zero after them");
    munmap(m, 8192);
    m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    wl_check(m != MAP_FAILED, "MAP_PRIVATE read-write");
    if (m != MAP_FAILED) {
        memcpy(m, "CHANGED", 7);
        munmap(m, 4096);
    }
    char back[64] = {0};
    wl_check(pread(fd, back, sizeof(back), 0) == (ssize_t)strlen(text) && strcmp(back, text) == 0,
             "a write to a MAP_PRIVATE mapping does not reach the file");
    m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    wl_check(m != MAP_FAILED && memcmp(m, text, 6) == 0, "MAP_SHARED read-only reads the file");
    if (m != MAP_FAILED)
        munmap(m, 4096);
    m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (backend_kvm)
        wl_check(m == MAP_FAILED && errno == ENODEV, "MAP_SHARED|PROT_WRITE: ENODEV in a Keep");
    else
        wl_check(m != MAP_FAILED, "MAP_SHARED|PROT_WRITE works natively");
    if (m != MAP_FAILED)
        munmap(m, 4096);
    wl_check(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 1) == MAP_FAILED && errno == EINVAL,
             "an offset not page-aligned: EINVAL");
    close(fd);
    wl_check(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 777, 0) == MAP_FAILED && errno == EBADF,
             "mmap of an fd not open: EBADF");
    int p[2];
    if (pipe(p) == 0) {
        wl_check(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, p[0], 0) == MAP_FAILED && errno == ENODEV,
                 "mmap of a pipe: ENODEV");
        close(p[0]);
        close(p[1]);
    }
}

static void test_process(void)
{
    struct rusage ru;
    wl_check(getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss > 0, "getrusage(RUSAGE_SELF)");
    wl_check(getrusage(RUSAGE_CHILDREN, &ru) == 0, "getrusage(RUSAGE_CHILDREN)");
    wl_check(wl_failed_with(getrusage(5, &ru), EINVAL, EINVAL), "getrusage(5): EINVAL");
    char name[16] = {0};
    wl_check(prctl(PR_GET_NAME, name) == 0 && strncmp(name, "wl_fscalls", 10) == 0,
             "PR_GET_NAME starts as the program's name (%s)", name);
    wl_check(prctl(PR_SET_NAME, "a-rather-long-thread-name") == 0 &&
                 prctl(PR_GET_NAME, name) == 0 && strcmp(name, "a-rather-long-t") == 0,
             "PR_SET_NAME truncates to 15 bytes (%s)", name);
    uid_t uid = getuid();
    gid_t gid = getgid();
    wl_check(setuid(uid) == 0 && setgid(gid) == 0, "setuid/setgid to the own ids");
    wl_check(setresuid(-1, uid, -1) == 0 && setreuid(uid, uid) == 0, "setresuid/setreuid to own");
    uid_t r, e, s;
    wl_check(getresuid(&r, &e, &s) == 0 && r == uid && e == uid && s == uid, "getresuid");
    if (uid != 0) {
        wl_check(wl_failed_with(setuid(uid + 1), EPERM, unmapped_errno),
                 "setuid to another uid: EPERM");
        wl_check(wl_failed_with(setgid(gid + 1), EPERM, unmapped_errno),
                 "setgid to another gid: EPERM");
        wl_check(wl_failed_with(syscall(SYS_setgroups, 0, NULL), EPERM, EPERM), "setgroups: EPERM");
    }
    wl_check(getpgrp() > 0 && getpgid(0) == getpgrp(), "getpgrp and getpgid(0) agree (%d)",
             (int)getpgrp());
    wl_check(getsid(0) > 0, "getsid(0)");
    if (in_keep)
        wl_check(wl_failed_with(setsid(), EPERM, EPERM),
                 "setsid: the Keep's process already leads its group: EPERM");
    struct sysinfo si;
    wl_check(sysinfo(&si) == 0 && si.totalram > 0 && si.freeram <= si.totalram && si.procs >= 1 &&
                 si.mem_unit >= 1,
             "sysinfo: total %lu free %lu mem_unit %u", si.totalram, si.freeram, si.mem_unit);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: wl_fscalls DIR kvm|nil\n");
        return 2;
    }
    snprintf(dir, sizeof(dir), "%s", argv[1]);
    in_keep = strcmp(argv[2], "kvm") == 0;
    if (strcmp(argv[2], "nil") == 0)
        unmapped_errno = EINVAL;
    test_locks();
    test_links();
    test_owner();
    test_statfs_sendfile_creat();
    test_select();
    test_mmap(in_keep);
    test_process();
    return wl_done();
}
