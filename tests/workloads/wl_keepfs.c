/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wl_keepfs DIR: the read side of a directory holding db and secrets/api,
 * printed as results so a test can compare a Keep's /run/keep (src/shim/keepfs.c)
 * with the same files in a host directory run natively: open/read/pread/readv,
 * lseek (SET, CUR, END, DATA, HOLE, errors), fstat/stat/newfstatat/statx sizes
 * and types, access, getdents64 names, mmap MAP_PRIVATE, and the errno of
 * each misuse (ENOENT, ENOTDIR, EISDIR, EINVAL, ENXIO, EBADF after close and for a
 * write), fcntl F_GETFD/F_SETFL, dup/dup2/dup3/F_DUPFD_CLOEXEC sharing the offset.
 * wl_keepfs creat PATH: prints the result of creat(2).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static char path_buf[512];
static const char *at(const char *dir, const char *name)
{
    snprintf(path_buf, sizeof(path_buf), "%s/%s", dir, name);
    return path_buf;
}

static void result(const char *what, long rc)
{
    if (rc < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %ld\n", what, rc);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char buf[4096], *names[64];
    int count = 0;
    long n;
    while (fd >= 0 && (n = syscall(217 /* getdents64 */, fd, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            if (count < 64)
                names[count++] = strdup(d->d_name);
            off += d->d_reclen;
        }
    }
    qsort(names, (size_t)count, sizeof(char *), by_name);
    printf("list %s:", strrchr(dir, '/') + 1);
    for (int i = 0; i < count; i++)
        printf(" %s", names[i]);
    printf("\n");
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "creat") == 0) { /* wl_keepfs creat PATH */
        result("creat", creat(argv[2], 0600));
        return 0;
    }
    if (argc != 2)
        return 2;
    const char *dir = argv[1];
    char buf[256];
    int fd = open(at(dir, "db"), O_RDONLY | O_CLOEXEC);
    result("open db", fd >= 0 ? 0 : -1);
    ssize_t n = read(fd, buf, 5);
    printf("read 5: %zd %.5s\n", n, buf);
    result("lseek cur", lseek(fd, 0, SEEK_CUR));
    n = pread(fd, buf, sizeof(buf), 2);
    printf("pread @2: %zd %.*s\n", n, (int)(n > 0 ? n : 0), buf);
    result("pread @-1", pread(fd, buf, 4, -1));
    result("lseek end", lseek(fd, 0, SEEK_END));
    result("read at end", read(fd, buf, 4));
    result("lseek -100 set", lseek(fd, -100, SEEK_SET));
    result("lseek data 1", lseek(fd, 1, SEEK_DATA));
    result("lseek hole 0", lseek(fd, 0, SEEK_HOLE));
    result("lseek data 1000", lseek(fd, 1000, SEEK_DATA));
    result("lseek whence 9", lseek(fd, 0, 9));
    lseek(fd, 0, SEEK_SET);
    char a[3], b[64];
    struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
    n = readv(fd, iov, 2);
    printf("readv: %zd %.3s|%.*s\n", n, a, (int)(n > 3 ? n - 3 : 0), b);
    struct stat st;
    result("fstat", fstat(fd, &st));
    printf("  size %lld reg %d mode %o\n", (long long)st.st_size, S_ISREG(st.st_mode),
           st.st_mode & 0777);
    void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("mmap: %s %.4s tail %d\n", m == MAP_FAILED ? "failed" : "ok",
           m == MAP_FAILED ? "" : (char *)m, m == MAP_FAILED ? -1 : ((char *)m)[100]);
    result("mmap offset 1", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 1) == MAP_FAILED ? -1 : 0);
    lseek(fd, 0, SEEK_SET);
    int fd2 = dup(fd);
    result("dup", fd2 >= 0 ? 0 : -1);
    n = read(fd, buf, 3);
    result("  read 3 via the first, then the dup's offset", lseek(fd2, 0, SEEK_CUR));
    result("dup2 onto 100", dup2(fd2, 100));
    n = read(100, buf, 2);
    printf("  read via 100: %zd %.2s\n", n, buf);
    result("  close 100", close(100));
    int fd3 = fcntl(fd, F_DUPFD_CLOEXEC, 50);
    result("F_DUPFD_CLOEXEC from 50 gives >= 50", fd3 >= 50 ? 0 : -1);
    result("  its F_GETFD", fcntl(fd3, F_GETFD));
    result("  dup3(fd3, fd3)", dup3(fd3, fd3, 0));
    close(fd3);
    close(fd2);
    result("fcntl F_GETFD", fcntl(fd, F_GETFD));
    result("fcntl F_SETFL O_NONBLOCK", fcntl(fd, F_SETFL, O_NONBLOCK));
    result("write to an O_RDONLY fd", write(fd, "x", 1));
    result("close", close(fd));
    result("read after close", read(fd, buf, 1));
    result("stat db/", stat(at(dir, "db/"), &st));
    result("open missing", open(at(dir, "missing"), O_RDONLY));
    result("open db O_DIRECTORY", open(at(dir, "db"), O_RDONLY | O_DIRECTORY));
    result("stat secrets/../db", stat(at(dir, "secrets/../db"), &st));
    printf("  size %lld\n", (long long)st.st_size);
    struct statx sx;
    result("statx secrets", statx(AT_FDCWD, at(dir, "secrets"), 0, STATX_BASIC_STATS, &sx));
    printf("  dir %d\n", S_ISDIR(sx.stx_mode));
    result("statx secrets/api", statx(AT_FDCWD, at(dir, "secrets/api"), 0, STATX_SIZE, &sx));
    printf("  size %llu\n", (unsigned long long)sx.stx_size);
    result("access db R_OK", access(at(dir, "db"), R_OK));
    result("access missing", access(at(dir, "missing"), F_OK));
    int d = open(at(dir, "secrets"), O_RDONLY | O_DIRECTORY);
    result("read a directory", read(d, buf, 4));
    int api = openat(d, "api", O_RDONLY);
    n = read(api, buf, sizeof(buf));
    printf("openat(secrets, api) read: %zd %.*s\n", n, (int)(n > 0 ? n : 0), buf);
    result("fstatat(secrets, api)", fstatat(d, "api", &st, 0));
    result("fstatat(api, \"\", EMPTY)", fstatat(api, "", &st, AT_EMPTY_PATH));
    printf("  size %lld\n", (long long)st.st_size);
    result("openat(api, x) (not a dir)", openat(api, "x", O_RDONLY));
    result("readlink db", readlink(at(dir, "db"), buf, sizeof(buf)));
    close(api);
    close(d);
    list(at(dir, "secrets"));
    FILE *f = fopen(at(dir, "secrets/api"), "r");
    printf("fopen+fgets: %s\n", f && fgets(buf, sizeof(buf), f) ? buf : "(failed)");
    if (f)
        fclose(f);
    return 0;
}
