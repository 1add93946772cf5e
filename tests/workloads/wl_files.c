/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Files in volumes: wl_files RW_DIR RO_DIR. The test puts input.txt
 * ("keep volume test\n") in both before the run and checks renamed.txt in
 * RW_DIR afterwards.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wl.h"

static const char input[] = "keep volume test\n";
static const char output[] = "written inside the Keep\n";

static int read_all(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return (int)n;
}

static void check_listing(const char *dir)
{
    DIR *d = opendir(dir);
    int saw_input = 0, saw_renamed = 0, entries = 0;
    if (!wl_check(d != NULL, "opendir %s", dir))
        return;
    for (struct dirent *e; (e = readdir(d));) {
        entries++;
        saw_input |= strcmp(e->d_name, "input.txt") == 0;
        saw_renamed |= strcmp(e->d_name, "renamed.txt") == 0;
    }
    closedir(d);
    wl_check(saw_input && saw_renamed, "listing shows input.txt and renamed.txt (%d entries)",
             entries);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: wl_files RW_DIR RO_DIR\n");
        return 2;
    }
    const char *rw = argv[1], *ro = argv[2];
    char path[512], path2[512], buf[256];
    struct stat st;

    char cwd[64];
    const char *got = getcwd(cwd, sizeof(cwd));
    wl_check(got && strcmp(cwd, "/") == 0, "getcwd is / (%s)", got ? cwd : "NULL");

    snprintf(path, sizeof(path), "%s/input.txt", rw);
    wl_check(read_all(path, buf, sizeof(buf)) == (int)strlen(input) && strcmp(buf, input) == 0,
             "read %s", path);
    wl_check(stat(path, &st) == 0 && st.st_size == (off_t)strlen(input) && S_ISREG(st.st_mode),
             "stat %s", path);

    snprintf(path, sizeof(path), "%s/new.txt", rw);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    wl_check(fd >= 0, "create %s", path);
    wl_check(write(fd, output, strlen(output)) == (ssize_t)strlen(output), "write %s", path);
    wl_check(fsync(fd) == 0, "fsync");
    wl_check(close(fd) == 0, "close");
    wl_check(read_all(path, buf, sizeof(buf)) > 0 && strcmp(buf, output) == 0, "read back");

    fd = open(path, O_RDWR);
    wl_check(fd >= 0 && lseek(fd, 8, SEEK_SET) == 8, "lseek");
    wl_check(pread(fd, buf, 6, 0) == 6 && memcmp(buf, output, 6) == 0, "pread");
    close(fd);

    snprintf(path2, sizeof(path2), "%s/renamed.txt", rw);
    wl_check(rename(path, path2) == 0, "rename new.txt to renamed.txt");
    wl_check(wl_failed_with(stat(path, &st), ENOENT, ENOENT), "new.txt is gone");

    snprintf(path, sizeof(path), "%s/sub", rw);
    wl_check(mkdir(path, 0755) == 0, "mkdir sub");
    wl_check(rmdir(path) == 0, "rmdir sub");
    snprintf(path, sizeof(path), "%s/scratch", rw);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    close(fd);
    wl_check(unlink(path) == 0, "unlink scratch");

    check_listing(rw);

    snprintf(path, sizeof(path), "%s/input.txt", ro);
    wl_check(read_all(path, buf, sizeof(buf)) > 0 && strcmp(buf, input) == 0,
             "read from the read-only volume");
    snprintf(path, sizeof(path), "%s/refused.txt", ro);
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    wl_check(fd < 0 && (errno == EROFS || errno == EACCES || errno == EPERM),
             "create in the read-only volume is refused");
    snprintf(path, sizeof(path), "%s/input.txt", ro);
    fd = open(path, O_WRONLY);
    wl_check(fd < 0 && (errno == EROFS || errno == EACCES || errno == EPERM),
             "open for writing in the read-only volume is refused");
    return wl_done();
}
