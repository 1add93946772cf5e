/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A workload that tries to leave its Keep's file system: wl_escape RO_DIR
 * RW_DIR HOST_PATH. RO_DIR is a :ro volume, RW_DIR a rw one, HOST_PATH a
 * host file outside every volume. It remounts RO_DIR read-write, unmounts
 * it, chroots into a directory of RW_DIR and climbs out with chdir(".."),
 * and after each attempt checks the effect: RO_DIR must stay read-only and
 * HOST_PATH must stay invisible. The calls may fail with any errno (the
 * kvm shim has no mount or chroot: ENOSYS; nil as root: EPERM); what counts
 * is that none of them works.
 *
 * Before that (and alone when run without arguments) it tries to reach the
 * host itself: the nil backend run by root once left the workload uid 0 in
 * the host's PID and mount namespaces, so kill(-1, SIGKILL) killed every
 * root process and /etc/passwd was open for writing. Only signal 0 is sent
 * (kill(2): a permission and existence probe), and /etc/passwd is opened
 * without O_TRUNC and closed unwritten, so a failing run harms nothing.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wl.h"

static const char *ro, *rw, *host_path;

static int ro_writable(void)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/escaped", ro);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

static void check_confined(const char *after)
{
    struct stat st;
    wl_check(!ro_writable(), "after %s, %s is still read-only", after, ro);
    wl_check(stat(host_path, &st) != 0, "after %s, the host's %s is not visible", after, host_path);
}

/* The uid and gid every Keep reports (docs/KEEP.md, "The shim" and "The nil backend"). */
#define KEEP_UID 1000

static void check_host_unreachable(void)
{
    errno = 0;
    wl_check(kill(-1, 0) != 0, "kill(-1, 0) reaches no process outside the Keep");
    errno = 0;
    /* In a PID namespace of its own, pid 1 is the Keep's: the workload or its parent. */
    wl_check(kill(1, 0) != 0 || getpid() == 1 || getppid() == 1,
             "kill(1, 0) reaches no host init (pid %d, parent %d)", (int)getpid(), (int)getppid());
    errno = 0;
    int fd = open("/etc/passwd", O_WRONLY | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
    wl_check(fd < 0, "open(\"/etc/passwd\", O_WRONLY) fails");
    wl_check(getuid() == KEEP_UID && geteuid() == KEEP_UID, "getuid() = geteuid() = %d (is %d/%d)",
             KEEP_UID, (int)getuid(), (int)geteuid());
    wl_check(getgid() == KEEP_UID && getegid() == KEEP_UID, "getgid() = getegid() = %d (is %d/%d)",
             KEEP_UID, (int)getgid(), (int)getegid());
}

int main(int argc, char **argv)
{
    check_host_unreachable();
    if (argc == 1)
        return wl_done();
    if (argc < 4) {
        fprintf(stderr, "usage: wl_escape [RO_DIR RW_DIR HOST_PATH]\n");
        return 2;
    }
    ro = argv[1];
    rw = argv[2];
    host_path = argv[3];
    check_confined("start");
    wl_check(mount(NULL, ro, NULL, MS_REMOUNT | MS_BIND, NULL) != 0,
             "mount -o remount,bind,rw %s fails", ro);
    wl_check(mount(NULL, ro, NULL, MS_REMOUNT, NULL) != 0, "mount -o remount,rw %s fails", ro);
    check_confined("remount");
    wl_check(umount2(ro, MNT_DETACH) != 0, "umount %s fails", ro);
    check_confined("umount");
    char jail[4096];
    snprintf(jail, sizeof(jail), "%s/jail", rw);
    mkdir(jail, 0755);
    wl_check(chroot(jail) != 0, "chroot %s fails", jail);
    for (int i = 0; i < 32; i++)
        if (chdir("..") != 0)
            break;
    wl_check(chroot(".") != 0, "chroot . after chdir .. fails");
    check_confined("chroot + chdir(\"..\")");
    return wl_done();
}
