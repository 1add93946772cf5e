/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mmap of a file: a Keep has no page cache shared with the host, so a file
 * mapping is private anonymous memory (mm.c's public shim_mmap) filled with
 * forwarded preads of the file, then given its final protection.
 *
 * - MAP_PRIVATE, any protection: exactly Linux's copy-on-write view as long
 *   as nobody changes the file afterwards (Linux may show later changes to
 *   pages not yet written; a Keep shows the file as it was at mmap time).
 *   Writes never reach the file, as on Linux.
 * - MAP_SHARED without PROT_WRITE: the same private copy, since no write
 *   can go through it (a later mprotect to PROT_WRITE writes only the copy).
 * - MAP_SHARED with PROT_WRITE: ENODEV, with one log line (--log debug),
 *   since writes through it would never reach the file.
 * - Bytes past the end of the file read as zero; Linux would raise SIGBUS
 *   on whole pages past it.
 * docs/KEEP.md, "Memory".
 */
#include "common/channel.h"
#include "shim.h"

#define PAGE                4096ull
#define PROT_READ           1
#define PROT_WRITE          2
#define MAP_SHARED          0x01
#define MAP_PRIVATE         0x02
#define MAP_SHARED_VALIDATE 0x03
#define MAP_TYPE            0x0f
#define MAP_ANONYMOUS       0x20
#define F_GETFL             3
#define O_ACCMODE           3
#define O_WRONLY            1
#define O_RDWR              2

static long forward3(uint64_t nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    struct shim_frame g = {.nr = nr, .rdi = a, .rsi = b, .rdx = c, .r10 = d};
    return shim_forward(&g);
}

/* Read [off, off + len) of fd into addr; the bytes after the end of the file stay zero. */
static long fill_from_file(uint64_t fd, uint64_t addr, uint64_t len, uint64_t off)
{
    uint64_t done = 0;
    while (done < len) {
        long r = forward3(KEEP_NR_pread64, fd, addr + done, len - done, off + done);
        if (r < 0)
            /* mmap(2): ENODEV when the file system does not support memory mapping. */
            return (r == -SHIM_ESPIPE || r == -SHIM_EISDIR || r == -SHIM_EINVAL) ? -SHIM_ENODEV : r;
        if (r == 0)
            break;
        done += (uint64_t)r;
    }
    return 0;
}

long shim_mmap_file(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd,
                    uint64_t off)
{
    uint64_t type = flags & MAP_TYPE;
    if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)
        return -SHIM_EINVAL;
    if (len == 0 || (off & (PAGE - 1)) || (int64_t)off < 0)
        return -SHIM_EINVAL;
    long fl = forward3(KEEP_NR_fcntl, fd, F_GETFL, 0, 0);
    if (fl < 0)
        return fl; /* EBADF */
    /* mmap(2), EACCES: fd not open for reading, or MAP_SHARED|PROT_WRITE without O_RDWR. */
    if ((fl & O_ACCMODE) == O_WRONLY)
        return -SHIM_EACCES;
    bool shared = type != MAP_PRIVATE;
    if (shared && (prot & PROT_WRITE)) {
        if ((fl & O_ACCMODE) != O_RDWR)
            return -SHIM_EACCES;
        shim_log("mmap: MAP_SHARED with PROT_WRITE of a file is not available in a Keep "
                 "(ENODEV); fd",
                 fd);
        return -SHIM_ENODEV;
    }
    uint64_t anon = (flags & ~(uint64_t)MAP_TYPE) | MAP_PRIVATE | MAP_ANONYMOUS;
    long start = shim_mmap(addr, len, PROT_READ | PROT_WRITE, anon, (uint64_t)-1, 0);
    if (start < 0)
        return start;
    long rc = fill_from_file(fd, (uint64_t)start, len, off);
    if (rc == 0 && (prot & (PROT_READ | PROT_WRITE | 4)) != (PROT_READ | PROT_WRITE))
        rc = shim_mprotect((uint64_t)start, len, prot);
    if (rc) {
        shim_munmap((uint64_t)start, len);
        return rc;
    }
    return start;
}
