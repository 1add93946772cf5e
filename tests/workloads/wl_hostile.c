/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hostile guest: wl_hostile VOLUME_DIR. Issues malformed requests with raw
 * syscalls (bad pointers, lengths that wrap, unknown numbers, paths that try
 * to leave the volume) and checks each one gets an error, then shows the
 * Keep still works. The test creates VOLUME_DIR/escape -> /etc/passwd and
 * VOLUME_DIR/escape_dir -> /etc before the run.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "wl.h"

#define BAD_LOW       ((uintptr_t)0x10)
#define BAD_KERNEL    ((uintptr_t)0xffff800000001000ull)
#define NON_CANONICAL ((uintptr_t)0x0000900000000000ull)

static long sys(long nr, uintptr_t a, uintptr_t b, uintptr_t c)
{
    return syscall(nr, a, b, c);
}

static void bad_buffers(void)
{
    static char buf[64];
    wl_check(wl_failed_with(sys(SYS_write, 1, BAD_LOW, 8), EFAULT, EFAULT),
             "write from address 0x10 is EFAULT");
    wl_check(wl_failed_with(sys(SYS_write, 1, BAD_KERNEL, 8), EFAULT, EFAULT),
             "write from a kernel address is EFAULT");
    wl_check(wl_failed_with(sys(SYS_write, 1, NON_CANONICAL, 8), EFAULT, EFAULT),
             "write from a non-canonical address is EFAULT");
    /* buf + SIZE_MAX wraps around the address space. */
    long rc = sys(SYS_write, 1, (uintptr_t)buf, SIZE_MAX);
    wl_check(wl_failed_with(rc, EFAULT, EINVAL), "write of SIZE_MAX bytes (wrapping) fails");
    rc = sys(SYS_read, 0, UINTPTR_MAX - 7, 64);
    wl_check(wl_failed_with(rc, EFAULT, EFAULT), "read into the top 8 bytes (wrapping) fails");
    rc = sys(SYS_getrandom, BAD_LOW, 16, 0);
    wl_check(wl_failed_with(rc, EFAULT, EFAULT), "getrandom into 0x10 is EFAULT");
    rc = sys(SYS_clock_gettime, CLOCK_REALTIME, BAD_KERNEL, 0);
    wl_check(wl_failed_with(rc, EFAULT, EFAULT), "clock_gettime into a kernel address is EFAULT");
    rc = sys(SYS_openat, (uintptr_t)AT_FDCWD, BAD_LOW, O_RDONLY);
    wl_check(wl_failed_with(rc, EFAULT, EFAULT), "openat with path at 0x10 is EFAULT");
}

static void bad_numbers(void)
{
    wl_check(wl_failed_with(syscall(1023), ENOSYS, ENOSYS), "syscall 1023 is ENOSYS");
    wl_check(wl_failed_with(syscall(0x40000000 | 1), ENOSYS, ENOSYS),
             "x32 syscall number is ENOSYS");
    wl_check(wl_failed_with(syscall(-1L), ENOSYS, ENOSYS), "syscall -1 is ENOSYS");
    wl_check(wl_failed_with(sys(SYS_close, 123456, 0, 0), EBADF, EBADF), "close(123456) is EBADF");
    wl_check(wl_failed_with(sys(SYS_read, (uintptr_t)-5, 0, 0), EBADF, EBADF), "read(-5) is EBADF");
    wl_check(wl_failed_with(sys(SYS_lseek, 1, (uintptr_t)INT64_MIN, SEEK_SET), EINVAL, ESPIPE),
             "lseek to INT64_MIN fails");
    wl_check(wl_failed_with(sys(SYS_lseek, 1, 0, 77), EINVAL, ESPIPE), "lseek whence 77 fails");
}

static void escapes(const char *vol)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/../../../../etc/passwd", vol);
    wl_check(open(path, O_RDONLY) < 0, "open %s is refused", path);
    snprintf(path, sizeof(path), "%s/escape", vol);
    wl_check(open(path, O_RDONLY) < 0, "open through a symlink to /etc/passwd is refused");
    snprintf(path, sizeof(path), "%s/escape_dir/passwd", vol);
    wl_check(open(path, O_RDONLY) < 0, "open through a symlink to /etc is refused");
    wl_check(open("/etc/passwd", O_RDONLY) < 0, "open /etc/passwd (no volume) is refused");
    static char longpath[8192];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    wl_check(open(longpath, O_RDONLY) < 0, "open of an 8 KiB path is refused");
}

int main(int argc, char **argv)
{
    bad_buffers();
    bad_numbers();
    if (argc > 1)
        escapes(argv[1]);
    static const char alive[] = "still healthy\n";
    wl_check(write(1, alive, sizeof(alive) - 1) == sizeof(alive) - 1, "write after the abuse");
    return wl_done();
}
