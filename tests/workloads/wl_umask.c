/* SPDX-License-Identifier: Apache-2.0 */
/*
 * umask: wl_umask DIR. Prints the umask it started with, then creates
 * files and directories in DIR under umasks 0, 027 and 077 and prints each
 * one's mode. The test runs it natively and in a Keep under the same host
 * umask and compares the output: a file gets exactly mode & ~umask, never a
 * second mask from the host process (issue 7).
 */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wl.h"

static void show(const char *name)
{
    struct stat st;
    if (stat(name, &st) != 0)
        printf("%s: errno %d\n", name, errno);
    else
        printf("%s: %04o\n", name, (unsigned)(st.st_mode & 07777));
}

static void make(const char *name, mode_t mode, bool dir)
{
    int rc = dir ? mkdir(name, mode) : open(name, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (rc < 0)
        printf("%s: create errno %d\n", name, errno);
    else if (!dir)
        close(rc);
    show(name);
}

int main(int argc, char **argv)
{
    if (argc < 2 || chdir(argv[1]) != 0) {
        fprintf(stderr, "usage: wl_umask DIR (an empty writable directory)\n");
        return 2;
    }
    mode_t start = umask(0);
    printf("initial umask %04o\n", (unsigned)start);
    umask(start);
    make("inherited-file", 0666, false);
    make("inherited-dir", 0777, true);
    static const mode_t masks[] = {0, 027, 077};
    for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
        char f[32], d[32];
        snprintf(f, sizeof(f), "file-%03o", (unsigned)masks[i]);
        snprintf(d, sizeof(d), "dir-%03o", (unsigned)masks[i]);
        printf("umask(%04o) returns %04o\n", (unsigned)masks[i], (unsigned)umask(masks[i]));
        make(f, 0666, false);
        make(d, 0777, true);
    }
    return 0;
}
