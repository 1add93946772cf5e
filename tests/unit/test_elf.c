/* SPDX-License-Identifier: Apache-2.0 */
/* ELF64 checks: a crafted good image, then each rejection with its own code. */
#include <string.h>

#include "common/util.h"
#include "host/elf.h"
#include "tap.h"

#define IMG_SIZE 0x3000

struct img {
    uint8_t b[IMG_SIZE];
};

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint8_t *phdr(struct img *m, int i)
{
    return m->b + 64 + 56 * i;
}

static void set_phdr(struct img *m, int i, uint32_t type, uint32_t flags, uint64_t off,
                     uint64_t vaddr, uint64_t filesz, uint64_t memsz)
{
    uint8_t *p = phdr(m, i);
    put32(p, type);
    put32(p + 4, flags);
    put64(p + 8, off);
    put64(p + 16, vaddr);
    put64(p + 24, vaddr);
    put64(p + 32, filesz);
    put64(p + 40, memsz);
    put64(p + 48, 0x1000);
}

/* A static ET_EXEC at 0x400000: text RX (covering the headers), data RW with .bss, GNU_STACK. */
static void make_good(struct img *m, uint16_t type)
{
    memset(m, 0, sizeof(*m));
    memcpy(m->b,
           "\x7f"
           "ELF",
           4);
    m->b[4] = 2;
    m->b[5] = 1;
    m->b[6] = 1;
    put16(m->b + 16, type);
    put16(m->b + 18, 62);
    put32(m->b + 20, 1);
    put64(m->b + 24, 0x401000);
    put64(m->b + 32, 64);
    put16(m->b + 52, 64);
    put16(m->b + 54, 56);
    put16(m->b + 56, 3);
    set_phdr(m, 0, 1, 5, 0, 0x400000, 0x2000, 0x2000);
    set_phdr(m, 1, 1, 6, 0x2000, 0x402000, 0x800, 0x5000);
    set_phdr(m, 2, 0x6474e551u, 6, 0, 0, 0, 0);
}

static int parse(struct img *m, struct keep_elf *elf, struct keep_error *err)
{
    keep_error_clear(err);
    return keep_elf_parse(m->b, sizeof(m->b), elf, err);
}

#define REJECTS(setup, code, what)                               \
    do {                                                         \
        struct img m;                                            \
        struct keep_elf elf;                                     \
        struct keep_error err;                                   \
        make_good(&m, 2);                                        \
        setup;                                                   \
        is_int(parse(&m, &elf, &err), code, "rejects %s", what); \
        diag("%s", err.message);                                 \
    } while (0)

static void test_good(void)
{
    struct img m;
    struct keep_elf elf;
    struct keep_error err;
    make_good(&m, 2);
    is_int(parse(&m, &elf, &err), KEEP_OK, "accepts a static ET_EXEC");
    ok(!elf.pie, "ET_EXEC is not pie");
    is_int(elf.segment_count, 2, "two PT_LOAD segments");
    is_int(elf.min_vaddr, 0x400000, "min_vaddr");
    is_int(elf.max_vaddr, 0x407000, "max_vaddr rounds the .bss end up");
    is_int(elf.phdr_vaddr, 0x400040, "program headers found inside the text segment");
    is_int(elf.segments[1].flags, KEEP_ELF_PF_R | KEEP_ELF_PF_W, "data segment RW");
    ok(!elf.exec_stack, "GNU_STACK without PF_X");
    is_int(keep_elf_check_fits(&elf, 0x400000, 16 << 20, 8 << 20, &err), KEEP_OK, "fits 16 MiB");
    is_int(keep_elf_check_fits(&elf, 0x400000, 0x8000, 0x2000, &err), KEEP_E_ELF_TOO_BIG,
           "too big for 32 KiB");
    is_int(keep_elf_check_fits(&elf, 0x800000, 16 << 20, 1 << 20, &err), KEEP_E_ELF_ADDRESS,
           "ET_EXEC below the workload base");

    make_good(&m, 3);
    is_int(parse(&m, &elf, &err), KEEP_OK, "accepts a static-pie ET_DYN");
    ok(elf.pie, "ET_DYN is pie");
    is_int(keep_elf_check_fits(&elf, 0x800000, 16 << 20, 1 << 20, &err), KEEP_OK,
           "static-pie goes anywhere");

    /* PT_DYNAMIC without DT_NEEDED (static-pie relocations only) is fine. */
    make_good(&m, 3);
    put16(m.b + 56, 4);
    set_phdr(&m, 3, 2, 6, 0x2100, 0x402100, 32, 32);
    put64(m.b + 0x2100, 7); /* DT_RELA */
    put64(m.b + 0x2110, 0); /* DT_NULL */
    is_int(parse(&m, &elf, &err), KEEP_OK, "accepts PT_DYNAMIC without DT_NEEDED");
}

static void test_rejections(void)
{
    REJECTS(m.b[0] = 0, KEEP_E_ELF_NOT_ELF, "bad magic");
    REJECTS(m.b[4] = 1, KEEP_E_ELF_CLASS, "ELFCLASS32");
    REJECTS(m.b[5] = 2, KEEP_E_ELF_ENDIAN, "big-endian");
    REJECTS(m.b[6] = 0, KEEP_E_ELF_VERSION, "EI_VERSION 0");
    REJECTS(put16(m.b + 18, 183), KEEP_E_ELF_MACHINE, "aarch64");
    REJECTS(put16(m.b + 16, 1), KEEP_E_ELF_TYPE, "ET_REL");
    REJECTS(put32(m.b + 20, 2), KEEP_E_ELF_VERSION, "e_version 2");
    REJECTS(set_phdr(&m, 2, 3, 4, 0x100, 0, 10, 10), KEEP_E_ELF_DYNAMIC, "PT_INTERP");
    REJECTS((set_phdr(&m, 2, 2, 6, 0x2100, 0x402100, 32, 32), put64(m.b + 0x2100, 1)),
            KEEP_E_ELF_DYNAMIC, "DT_NEEDED");
    REJECTS(put16(m.b + 54, 32), KEEP_E_ELF_PHDR, "e_phentsize 32");
    REJECTS(put16(m.b + 56, 0), KEEP_E_ELF_PHDR, "no program headers");
    REJECTS(put64(m.b + 32, IMG_SIZE - 10), KEEP_E_ELF_PHDR, "program headers past the end");
    REJECTS((put32(phdr(&m, 0), 4), put32(phdr(&m, 1), 4)), KEEP_E_ELF_NO_SEGMENTS, "no PT_LOAD");
    REJECTS(set_phdr(&m, 1, 1, 6, 0x2000, 0x402000, IMG_SIZE, IMG_SIZE), KEEP_E_ELF_SEGMENT_FILE,
            "segment past the end of the file");
    REJECTS(set_phdr(&m, 1, 1, 6, 0x2000, 0x402000, 0x800, 0x400), KEEP_E_ELF_SEGMENT_SIZE,
            "p_filesz > p_memsz");
    REJECTS(set_phdr(&m, 1, 1, 6, 0x2000, ~0ull - 0x100, 0x800, 0x1000), KEEP_E_ELF_SEGMENT_SIZE,
            "segment wrapping the address space");
    REJECTS(set_phdr(&m, 1, 1, 6, 0x2000, 0x402100, 0x800, 0x800), KEEP_E_ELF_SEGMENT_ALIGN,
            "p_offset and p_vaddr not congruent");
    REJECTS(set_phdr(&m, 1, 1, 6, 0x1000, 0x401000, 0x800, 0x800), KEEP_E_ELF_SEGMENT_ORDER,
            "overlapping segments");
    REJECTS(put64(m.b + 24, 0x402000), KEEP_E_ELF_ENTRY, "entry in a non-executable segment");
    REJECTS(put64(m.b + 24, 0x900000), KEEP_E_ELF_ENTRY, "entry outside every segment");
    REJECTS(
        {
            put16(m.b + 56, 20);
            put64(m.b + 32, 0x1000);
            for (int i = 0; i < 20; i++) {
                uint8_t *p = m.b + 0x1000 + 56 * i;
                put32(p, 1);
                put32(p + 4, 5);
                put64(p + 16, 0x400000 + 0x1000 * (uint64_t)i);
                put64(p + 8, 0x1000 * (uint64_t)(i % 2));
                put64(p + 40, 0x1000);
            }
        },
        KEEP_E_ELF_TOO_MANY_SEGMENTS, "more than 16 PT_LOAD segments");
}

static void test_truncated(void)
{
    struct img m;
    struct keep_elf elf;
    struct keep_error err;
    make_good(&m, 2);
    for (size_t size = 0; size < 64 + 56 * 3; size += 7)
        if (keep_elf_parse(m.b, size, &elf, &err) == KEEP_OK) {
            ok(0, "a %zu-byte prefix must not parse", size);
            return;
        }
    ok(1, "every prefix shorter than the headers is rejected");
    is_int(keep_elf_parse(NULL, 0, &elf, &err), KEEP_E_ELF_NOT_ELF, "empty input");
}

/* The host's own /bin/busybox (static) when present: a real-world static binary. */
static void test_real_binary(void)
{
    uint8_t *data;
    size_t size;
    struct keep_error err;
    struct keep_elf elf;
    if (keep_read_file("/bin/busybox", 64 << 20, &data, &size, &err) != KEEP_OK) {
        diag("no /bin/busybox: %s", err.message);
        return;
    }
    int rc = keep_elf_parse(data, size, &elf, &err);
    ok(rc == KEEP_OK || rc == KEEP_E_ELF_DYNAMIC, "/bin/busybox parses or is reported dynamic (%s)",
       rc ? err.message : "static");
    free(data);
}

int main(void)
{
    test_good();
    test_rejections();
    test_truncated();
    test_real_binary();
    return done_testing();
}
