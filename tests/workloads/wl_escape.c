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
 */
#include <fcntl.h>
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

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: wl_escape RO_DIR RW_DIR HOST_PATH\n");
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
