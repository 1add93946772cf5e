/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Edge cases of mmap, munmap, mprotect, mremap, madvise and brk, one line
 * each: the call's result and errno, never an address (addresses differ
 * between runs). The same binary run natively is the oracle: the suite
 * compares the two outputs line by line (docs/KEEP.md, "Demand paging").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sysinfo.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096ul

/* "ok" for a result the case expected, else -errno (or "unexpected"). */
static void line(const char *what, long rc)
{
    if (rc >= 0)
        printf("%s: ok\n", what);
    else
        printf("%s: %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
}

static void show(const char *what, int cond)
{
    printf("%s: %s\n", what, cond ? "yes" : "no");
}

static long map_rc(void *p)
{
    return p == MAP_FAILED ? -1 : 0;
}

/* n fresh private anonymous pages, read-write, each page's first byte = its index + 1. */
static uint8_t *fresh(size_t n)
{
    uint8_t *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    for (size_t i = 0; i < n; i++)
        p[i * PAGE] = (uint8_t)(i + 1);
    return p;
}

static void mprotect_cases(void)
{
    uint8_t *p = fresh(4);
    munmap(p + 2 * PAGE, PAGE); /* a hole at page 2 */
    errno = 0;
    line("mprotect of an unmapped page", mprotect(p + 2 * PAGE, PAGE, PROT_READ));
    errno = 0;
    line("mprotect across a hole", mprotect(p, 4 * PAGE, PROT_READ));
    munmap(p, 4 * PAGE);
}

static void mmap_cases(void)
{
    errno = 0;
    line("mmap of length 0", map_rc(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)));
    uint8_t *p = fresh(2);
    errno = 0;
    /* An unaligned hint is only a hint (x86 rounds it down); MAP_FIXED needs alignment. */
    void *q = mmap(p + 2 * PAGE + 5, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    line("mmap with an unaligned hint", map_rc(q));
    if (q != MAP_FAILED)
        munmap(q, PAGE);
    errno = 0;
    line("mmap MAP_FIXED unaligned",
         map_rc(mmap(p + 5, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)));
    errno = 0;
    line("MAP_FIXED_NOREPLACE over a mapping",
         map_rc(mmap(p + PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                     -1, 0)));
    show("  the mapping kept its contents", p[PAGE] == 2);
    uint8_t *text = (uint8_t *)((uintptr_t)&mmap_cases & ~(PAGE - 1));
    errno = 0;
    line("MAP_FIXED_NOREPLACE over the program's text",
         map_rc(mmap(text, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
                     0)));
    errno = 0;
    line("mmap with neither MAP_PRIVATE nor MAP_SHARED",
         map_rc(mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0)));
    munmap(p, 2 * PAGE);
}

static void munmap_cases(void)
{
    uint8_t *p = fresh(2);
    line("munmap", munmap(p, 2 * PAGE));
    line("munmap of an unmapped range", munmap(p, 2 * PAGE));
    errno = 0;
    line("munmap of length 0", munmap(p, 0));
    errno = 0;
    line("munmap unaligned", munmap(p + 1, PAGE));
    errno = 0;
    line("munmap of a length that wraps", munmap(p, (size_t)-1));
}

static void mprotect_more(void)
{
    uint8_t *p = fresh(1);
    line("mprotect of length 0", mprotect(p, 0, PROT_READ));
    errno = 0;
    line("mprotect unaligned", mprotect(p + 1, PAGE, PROT_READ));
    errno = 0;
    line("mprotect with an unknown prot bit", mprotect(p, PAGE, PROT_READ | 0x10));
    errno = 0;
    line("mprotect of a length that wraps", mprotect(p, (size_t)-1, PROT_READ));
    munmap(p, PAGE);
}

static void mremap_cases(void)
{
    uint8_t *p = fresh(4);
    void *r = mremap(p, 4 * PAGE, 2 * PAGE, 0);
    show("mremap shrinks in place", r == p);
    errno = 0;
    line("  the tail is unmapped (mprotect)", mprotect(p + 2 * PAGE, PAGE, PROT_READ));
    /* The two pages after p are free now: growing into them stays in place. */
    r = mremap(p, 2 * PAGE, 3 * PAGE, 0);
    show("mremap grows in place into free space", r == p);
    show("  contents kept", p[0] == 1 && p[PAGE] == 2 && p[2 * PAGE] == 0);
    uint8_t *block =
        mmap(p + 3 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    show("  a mapping right after it", block == p + 3 * PAGE);
    errno = 0;
    line("mremap grow blocked, no MAYMOVE", map_rc(mremap(p, 3 * PAGE, 5 * PAGE, 0)));
    r = mremap(p, 3 * PAGE, 5 * PAGE, MREMAP_MAYMOVE);
    line("mremap grow blocked, MAYMOVE", map_rc(r));
    uint8_t *m = r;
    show("  moved, contents kept", m != p && m[0] == 1 && m[PAGE] == 2 && m[4 * PAGE] == 0);
    errno = 0;
    line("  the old range is unmapped (mprotect)", mprotect(p, PAGE, PROT_READ));
    errno = 0;
    line("mremap of an unmapped range, MAYMOVE", map_rc(mremap(p, PAGE, 2 * PAGE, MREMAP_MAYMOVE)));
    errno = 0;
    line("mremap of an unmapped range", map_rc(mremap(p, PAGE, 2 * PAGE, 0)));
    errno = 0;
    line("mremap with unknown flags", map_rc(mremap(m, PAGE, 2 * PAGE, 0x100)));
    errno = 0;
    line("mremap FIXED without MAYMOVE", map_rc(mremap(m, PAGE, PAGE, MREMAP_FIXED, p)));
    /* MREMAP_FIXED: to exactly new_address, replacing what is there. */
    r = mremap(m, 5 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, p);
    line("mremap MAYMOVE|FIXED", map_rc(r));
    show("  at the address asked for", r == p);
    show("  contents kept", p[0] == 1 && p[PAGE] == 2);
    errno = 0;
    line("  the old range is unmapped (mprotect)", mprotect(m, PAGE, PROT_READ));
    /* Across two mappings: Linux remaps within one mapping only. */
    mprotect(p + PAGE, PAGE, PROT_READ);
    errno = 0;
    line("mremap across two mappings", map_rc(mremap(p, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE)));
    munmap(p, 4 * PAGE);
    munmap(m, 5 * PAGE);
    /* (DONTUNMAP's move is not compared: Linux 6.18 refuses it for a mapping with pages.) */
    p = fresh(2);
    m = p;
    errno = 0;
    line("mremap of old length 0 (private)", map_rc(mremap(p, 0, PAGE, MREMAP_MAYMOVE)));
    errno = 0;
    line("mremap DONTUNMAP with a new size",
         map_rc(mremap(m, 2 * PAGE, 3 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP)));
    munmap(p, 2 * PAGE);
}

static void madvise_cases(void)
{
    uint8_t *p = fresh(2);
    line("madvise DONTNEED", madvise(p, 2 * PAGE, MADV_DONTNEED));
    show("  reads zero", p[0] == 0 && p[PAGE] == 0);
    errno = 0;
    line("madvise of length 0", madvise(p, 0, MADV_DONTNEED));
    errno = 0;
    line("madvise unaligned", madvise(p + 1, PAGE, MADV_DONTNEED));
    errno = 0;
    line("madvise with an unknown advice", madvise(p, PAGE, 12345));
    munmap(p, 2 * PAGE);
    errno = 0;
    line("madvise DONTNEED of an unmapped range", madvise(p, 2 * PAGE, MADV_DONTNEED));
}

static long syscall_brk(unsigned long a)
{
    return syscall(SYS_brk, a);
}

static void brk_cases(void)
{
    void *cur = sbrk(0);
    show("brk below its start returns the break", (void *)syscall_brk(1) == cur);
}

/*
 * The kernel writing into read-only memory: Linux's copy_to_user fails, so
 * each call is EFAULT and the memory is unchanged (read(2), getresuid(2),
 * prctl(2), sysinfo(2)). Forwarded (read) and answered in the Keep (the rest).
 */
static void readonly_out_cases(void)
{
    uint32_t *m = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int fds[2];
    if (m == MAP_FAILED || pipe(fds) != 0)
        return;
    if (write(fds[1], "hello", 5) != 5)
        return;
    errno = 0;
    line("read into read-only memory", read(fds[0], m, 5));
    show("  memory unchanged", m[0] == 0 && m[1] == 0);
    errno = 0;
    line("getresuid into read-only memory", getresuid(m, m + 1, m + 2));
    errno = 0;
    line("prctl PR_GET_NAME into read-only memory", prctl(PR_GET_NAME, m));
    errno = 0;
    line("sysinfo into read-only memory", sysinfo((struct sysinfo *)m));
    show("  memory unchanged", m[0] == 0 && m[1] == 0 && m[2] == 0);
    close(fds[0]);
    close(fds[1]);
    munmap(m, PAGE);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0); /* every line, even if a case kills the program */
    mmap_cases();
    munmap_cases();
    mprotect_cases();
    mprotect_more();
    mremap_cases();
    madvise_cases();
    brk_cases();
    readonly_out_cases();
    return 0;
}
