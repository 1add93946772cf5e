/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Path semantics: wl_paths DIR. In DIR (empty, writable) it makes a few
 * files and directories, then runs each call whose meaning hangs on the
 * path's end (a trailing '/', a final "." or ".."), on "/" and on DIR
 * itself, and prints one line per call: the call, its result (or errno
 * name) and, where a call must not have acted, what is still there. The
 * test runs it natively and in a Keep and compares the output line by line:
 * the native run is the oracle. It judges nothing itself.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wl.h"

static const char *errname(int e)
{
    switch (e) {
    case ENOENT:
        return "ENOENT";
    case ENOTDIR:
        return "ENOTDIR";
    case EISDIR:
        return "EISDIR";
    case EEXIST:
        return "EEXIST";
    case EINVAL:
        return "EINVAL";
    case ENOTEMPTY:
        return "ENOTEMPTY";
    case EBUSY:
        return "EBUSY";
    case EACCES:
        return "EACCES";
    case EPERM:
        return "EPERM";
    case EROFS:
        return "EROFS";
    case EXDEV:
        return "EXDEV";
    default:
        return "other";
    }
}

static void report(const char *what, long rc)
{
    if (rc < 0)
        printf("%s = -1 %s\n", what, errname(errno));
    else
        printf("%s = ok\n", what);
    fflush(stdout);
}

/* An open's result, closing what it opened. */
static void report_open(const char *what, int fd)
{
    report(what, fd < 0 ? -1 : 0);
    if (fd >= 0)
        close(fd);
}

static void put(const char *name, const char *text)
{
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        printf("setup: cannot write %s (errno %d)\n", name, errno);
    close(fd);
}

/* What name holds now: its size, "dir", or "absent". */
static void holds(const char *name)
{
    struct stat st;
    if (stat(name, &st) != 0)
        printf("  %s: absent\n", name);
    else if (S_ISDIR(st.st_mode))
        printf("  %s: dir\n", name);
    else
        printf("  %s: %lld bytes\n", name, (long long)st.st_size);
}

static void is_dir(const char *what, const char *path)
{
    struct stat st;
    int rc = stat(path, &st);
    report(what, rc);
    if (rc == 0)
        printf("  %s\n", S_ISDIR(st.st_mode) ? "a dir" : "not a dir");
}

int main(int argc, char **argv)
{
    struct stat st;
    if (argc < 2 || chdir(argv[1]) != 0) {
        fprintf(stderr, "usage: wl_paths DIR (an empty writable directory)\n");
        return 2;
    }
    put("f1", "one");
    put("f2", "two");
    put("f3", "three");
    put("f4", "four");
    mkdir("d", 0755);
    mkdir("e", 0755);
    put("e/x", "x");

    report_open("open(\"f1/\", O_WRONLY|O_TRUNC)", open("f1/", O_WRONLY | O_TRUNC));
    holds("f1");
    report_open("open(\"f1/\", O_RDONLY)", open("f1/", O_RDONLY));
    report_open("open(\"f1//\", O_RDONLY)", open("f1//", O_RDONLY));
    report_open("open(\"f1/.\", O_RDONLY)", open("f1/.", O_RDONLY));
    report_open("open(\"d/\", O_RDONLY)", open("d/", O_RDONLY));
    report_open("open(\"d/.\", O_RDONLY)", open("d/.", O_RDONLY));
    report_open("open(\"d/\", O_WRONLY)", open("d/", O_WRONLY));
    report_open("open(\"new/\", O_CREAT|O_WRONLY)", open("new/", O_CREAT | O_WRONLY, 0644));
    holds("new");
    report_open("open(\"d/.\", O_CREAT|O_WRONLY)", open("d/.", O_CREAT | O_WRONLY, 0644));
    report_open("open(\"e/x/..\", O_RDONLY)", open("e/x/..", O_RDONLY));
    report_open("open(\"e/x/../x\", O_RDONLY)", open("e/x/../x", O_RDONLY));
    report_open("open(\"e/missing/../x\", O_RDONLY)", open("e/missing/../x", O_RDONLY));
    report_open("open(\"e/../e/x\", O_RDONLY)", open("e/../e/x", O_RDONLY));

    report("unlink(\"f2/\")", unlink("f2/"));
    holds("f2");
    report("unlink(\"d/\")", unlink("d/"));
    report("unlink(\"d/.\")", unlink("d/."));
    report("unlink(\"missing/\")", unlink("missing/"));

    report("rename(\"f3\", \"f4/\")", rename("f3", "f4/"));
    holds("f3");
    holds("f4");
    report("rename(\"f3/\", \"f5\")", rename("f3/", "f5"));
    holds("f5");
    report("rename(\"d/.\", \"d2\")", rename("d/.", "d2"));
    report("rename(\"d/\", \"d2/\")", rename("d/", "d2/"));
    report("rename(\"d2\", \"d\")", rename("d2", "d"));
    holds("d");

    report("rmdir(\"d/.\")", rmdir("d/."));
    holds("d");
    report("rmdir(\"e/..\")", rmdir("e/.."));
    report("rmdir(\"e/x/..\")", rmdir("e/x/.."));
    holds("e");
    report("rmdir(\"f1/\")", rmdir("f1/"));
    report("mkdir(\"d/\")", mkdir("d/", 0755));
    report("mkdir(\"d/.\")", mkdir("d/.", 0755));
    report("mkdir(\"g/\")", mkdir("g/", 0755));
    holds("g");
    report("rmdir(\"g/\")", rmdir("g/"));
    holds("g");

    report("stat(\"f1/\")", stat("f1/", &st));
    report("stat(\"f1/.\")", stat("f1/.", &st));
    report("lstat(\"f1/\")", lstat("f1/", &st));
    is_dir("stat(\"d/\")", "d/");
    report("access(\"f1/\", F_OK)", access("f1/", F_OK));
    report("chmod(\"f1/\", 0600)", chmod("f1/", 0600));
    report("chdir(\"f1/\")", chdir("f1/"));
    report("fstatat(AT_FDCWD, \"f1/\", 0)", fstatat(AT_FDCWD, "f1/", &st, 0));

    /* The root and DIR itself exist: `mkdir -p DIR/a` starts mkdir("/"), mkdir(DIR). */
    report("mkdir(\"/\")", mkdir("/", 0755));
    is_dir("stat(\"/\")", "/");
    report("mkdir(DIR)", mkdir(argv[1], 0755));
    char with_slash[4096];
    snprintf(with_slash, sizeof(with_slash), "%s/", argv[1]);
    report("mkdir(DIR/)", mkdir(with_slash, 0755));
    is_dir("stat(DIR/)", with_slash);
    return 0;
}
