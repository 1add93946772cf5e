/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ELF64 parsing for keep run / keep measure. References: System V ABI
 * ("gABI", chapter 4 "Object Files" and chapter 5 "Program Loading") and the
 * AMD64 psABI supplement. Field offsets are those of Elf64_Ehdr / Elf64_Phdr.
 */
#include "host/elf.h"

#include <string.h>

#include "common/cursor.h"

#define EI_NIDENT    16
#define ELFCLASS64   2
#define ELFDATA2LSB  1
#define EV_CURRENT   1
#define ET_EXEC      2
#define ET_DYN       3
#define EM_X86_64    62
#define PHDR_SIZE    56 /* sizeof(Elf64_Phdr) */
#define DYN_SIZE     16 /* sizeof(Elf64_Dyn) */
#define PT_LOAD      1
#define PT_DYNAMIC   2
#define PT_INTERP    3
#define PT_PHDR      6
#define PT_TLS       7
#define PT_GNU_STACK 0x6474e551u
#define DT_NULL      0
#define DT_NEEDED    1

struct phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

struct ehdr {
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff;
    uint16_t phentsize, phnum;
};

/* gABI 4 "ELF Header", e_ident: magic, class, data encoding, version. */
static int parse_ident(struct keep_cursor *c, struct keep_error *err)
{
    const uint8_t *ident;
    int rc = keep_cursor_view(c, "e_ident", &ident, EI_NIDENT, err);
    if (rc)
        return keep_fail(err, KEEP_E_ELF_NOT_ELF,
                         "file is %zu bytes, too short for an ELF header (e_ident is 16 bytes)",
                         c->size);
    if (memcmp(ident,
               "\x7f"
               "ELF",
               4) != 0)
        return keep_fail(err, KEEP_E_ELF_NOT_ELF,
                         "e_ident[EI_MAG0..3] is %02x %02x %02x %02x; an ELF file starts with 7f "
                         "45 4c 46",
                         ident[0], ident[1], ident[2], ident[3]);
    if (ident[4] != ELFCLASS64)
        return keep_fail(err, KEEP_E_ELF_CLASS,
                         "e_ident[EI_CLASS] is %u; keep runs 64-bit programs only (ELFCLASS64 = 2)",
                         ident[4]);
    if (ident[5] != ELFDATA2LSB)
        return keep_fail(err, KEEP_E_ELF_ENDIAN,
                         "e_ident[EI_DATA] is %u; x86-64 programs are little-endian "
                         "(ELFDATA2LSB = 1)",
                         ident[5]);
    if (ident[6] != EV_CURRENT)
        return keep_fail(err, KEEP_E_ELF_VERSION, "e_ident[EI_VERSION] is %u; must be 1", ident[6]);
    return KEEP_OK;
}

static int parse_ehdr(struct keep_cursor *c, struct ehdr *h, struct keep_error *err)
{
    uint16_t ehsize, shentsize, shnum, shstrndx;
    uint32_t flags;
    uint64_t shoff;
    int rc = parse_ident(c, err);
    if (!rc)
        rc = keep_cursor_u16(c, "e_type", &h->type, err);
    if (!rc)
        rc = keep_cursor_u16(c, "e_machine", &h->machine, err);
    if (!rc)
        rc = keep_cursor_u32(c, "e_version", &h->version, err);
    if (!rc)
        rc = keep_cursor_u64(c, "e_entry", &h->entry, err);
    if (!rc)
        rc = keep_cursor_u64(c, "e_phoff", &h->phoff, err);
    if (!rc)
        rc = keep_cursor_u64(c, "e_shoff", &shoff, err);
    if (!rc)
        rc = keep_cursor_u32(c, "e_flags", &flags, err);
    if (!rc)
        rc = keep_cursor_u16(c, "e_ehsize", &ehsize, err);
    if (!rc)
        rc = keep_cursor_u16(c, "e_phentsize", &h->phentsize, err);
    if (!rc)
        rc = keep_cursor_u16(c, "e_phnum", &h->phnum, err);
    if (!rc)
        rc = keep_cursor_u16(c, "e_shentsize", &shentsize, err);
    if (!rc)
        rc = keep_cursor_u16(c, "e_shnum", &shnum, err);
    if (!rc)
        rc = keep_cursor_u16(c, "e_shstrndx", &shstrndx, err);
    if (rc)
        return rc;
    if (h->machine != EM_X86_64)
        return keep_fail(err, KEEP_E_ELF_MACHINE,
                         "e_machine is %u; keep runs x86-64 programs only (EM_X86_64 = 62)",
                         h->machine);
    if (h->type != ET_EXEC && h->type != ET_DYN)
        return keep_fail(err, KEEP_E_ELF_TYPE,
                         "e_type is %u; must be ET_EXEC (2, static) or ET_DYN (3, static-pie)",
                         h->type);
    if (h->version != EV_CURRENT)
        return keep_fail(err, KEEP_E_ELF_VERSION, "e_version is %u; must be 1", h->version);
    return KEEP_OK;
}

static int read_phdr(struct keep_cursor *c, struct phdr *p, struct keep_error *err)
{
    int rc = keep_cursor_u32(c, "p_type", &p->type, err);
    if (!rc)
        rc = keep_cursor_u32(c, "p_flags", &p->flags, err);
    if (!rc)
        rc = keep_cursor_u64(c, "p_offset", &p->offset, err);
    if (!rc)
        rc = keep_cursor_u64(c, "p_vaddr", &p->vaddr, err);
    if (!rc)
        rc = keep_cursor_u64(c, "p_paddr", &p->paddr, err);
    if (!rc)
        rc = keep_cursor_u64(c, "p_filesz", &p->filesz, err);
    if (!rc)
        rc = keep_cursor_u64(c, "p_memsz", &p->memsz, err);
    if (!rc)
        rc = keep_cursor_u64(c, "p_align", &p->align, err);
    return rc;
}

/*
 * PT_DYNAMIC in a static-pie holds relocation tags only; a DT_NEEDED entry
 * means the program wants shared libraries (gABI 5 "Dynamic Section").
 */
static int check_dynamic(const struct keep_elf *elf, const struct phdr *p, struct keep_error *err)
{
    struct keep_cursor c;
    if (!keep_range_ok(p->offset, p->filesz, elf->image_size))
        return keep_fail(err, KEEP_E_ELF_PHDR,
                         "PT_DYNAMIC p_offset %#llx + p_filesz %#llx lies outside the %zu-byte "
                         "file",
                         (unsigned long long)p->offset, (unsigned long long)p->filesz,
                         elf->image_size);
    keep_cursor_init(&c, elf->image + p->offset, p->filesz);
    while (keep_cursor_remaining(&c) >= DYN_SIZE) {
        uint64_t tag, val;
        if (keep_cursor_u64(&c, "d_tag", &tag, err) || keep_cursor_u64(&c, "d_val", &val, err))
            return KEEP_E_TRUNCATED;
        if (tag == DT_NULL)
            break;
        if (tag == DT_NEEDED)
            return keep_fail(err, KEEP_E_ELF_DYNAMIC,
                             "the program needs shared libraries (PT_DYNAMIC has DT_NEEDED); "
                             "rebuild it static: gcc -static or -static-pie");
    }
    return KEEP_OK;
}

static int add_load(struct keep_elf *elf, const struct phdr *p, size_t index,
                    struct keep_error *err)
{
    uint64_t end;
    if (!keep_range_ok(p->offset, p->filesz, elf->image_size))
        return keep_fail(err, KEEP_E_ELF_SEGMENT_FILE,
                         "PT_LOAD #%zu: p_offset %#llx + p_filesz %#llx lies outside the "
                         "%zu-byte file",
                         index, (unsigned long long)p->offset, (unsigned long long)p->filesz,
                         elf->image_size);
    if (p->filesz > p->memsz || keep_add_overflows(p->vaddr, p->memsz, &end) || end > (1ull << 47))
        return keep_fail(err, KEEP_E_ELF_SEGMENT_SIZE,
                         "PT_LOAD #%zu: p_vaddr %#llx, p_filesz %#llx, p_memsz %#llx; need "
                         "p_filesz <= p_memsz and the segment below 2^47",
                         index, (unsigned long long)p->vaddr, (unsigned long long)p->filesz,
                         (unsigned long long)p->memsz);
    /* gABI 5 "Program Header": p_vaddr == p_offset modulo the page size. */
    if ((p->vaddr - p->offset) % KEEP_ELF_PAGE_SIZE != 0)
        return keep_fail(err, KEEP_E_ELF_SEGMENT_ALIGN,
                         "PT_LOAD #%zu: p_vaddr %#llx and p_offset %#llx differ modulo 4096", index,
                         (unsigned long long)p->vaddr, (unsigned long long)p->offset);
    /* gABI 5: PT_LOAD entries are sorted by p_vaddr. Pages may not overlap either. */
    if (elf->segment_count > 0) {
        const struct keep_elf_segment *prev = &elf->segments[elf->segment_count - 1];
        uint64_t prev_end = prev->vaddr + prev->mem_size;
        if (p->vaddr < prev_end)
            return keep_fail(err, KEEP_E_ELF_SEGMENT_ORDER,
                             "PT_LOAD #%zu starts at %#llx, inside or before the previous "
                             "segment, which ends at %#llx",
                             index, (unsigned long long)p->vaddr, (unsigned long long)prev_end);
    }
    if (elf->segment_count == KEEP_ELF_MAX_SEGMENTS)
        return keep_fail(err, KEEP_E_ELF_TOO_MANY_SEGMENTS,
                         "the program has more than %d PT_LOAD segments", KEEP_ELF_MAX_SEGMENTS);
    elf->segments[elf->segment_count++] = (struct keep_elf_segment){
        .file_offset = p->offset,
        .file_size = p->filesz,
        .vaddr = p->vaddr,
        .mem_size = p->memsz,
        .flags = p->flags & (KEEP_ELF_PF_R | KEEP_ELF_PF_W | KEEP_ELF_PF_X),
    };
    return KEEP_OK;
}

static int parse_phdrs(struct keep_elf *elf, const struct ehdr *h, struct keep_error *err)
{
    struct keep_cursor c;
    uint64_t table_size;
    bool have_pt_phdr = false;
    if (h->phentsize != PHDR_SIZE)
        return keep_fail(err, KEEP_E_ELF_PHDR, "e_phentsize is %u; must be %d (Elf64_Phdr)",
                         h->phentsize, PHDR_SIZE);
    table_size = (uint64_t)h->phnum * PHDR_SIZE;
    if (h->phnum == 0 || !keep_range_ok(h->phoff, table_size, elf->image_size))
        return keep_fail(err, KEEP_E_ELF_PHDR,
                         "program header table: e_phoff %#llx, e_phnum %u (%llu bytes) must be "
                         "non-empty and inside the %zu-byte file",
                         (unsigned long long)h->phoff, h->phnum, (unsigned long long)table_size,
                         elf->image_size);
    keep_cursor_init(&c, elf->image + h->phoff, table_size);
    for (size_t i = 0; i < h->phnum; i++) {
        struct phdr p;
        int rc = read_phdr(&c, &p, err);
        if (rc)
            return rc;
        if (p.type == PT_INTERP)
            return keep_fail(err, KEEP_E_ELF_DYNAMIC,
                             "the program is dynamically linked (it has PT_INTERP); rebuild it "
                             "static: gcc -static or -static-pie");
        if (p.type == PT_DYNAMIC && (rc = check_dynamic(elf, &p, err)))
            return rc;
        if (p.type == PT_PHDR) {
            elf->phdr_vaddr = p.vaddr;
            have_pt_phdr = true;
        }
        if (p.type == PT_TLS)
            elf->tls_align = p.align;
        if (p.type == PT_GNU_STACK)
            elf->exec_stack = (p.flags & KEEP_ELF_PF_X) != 0;
        if (p.type == PT_LOAD && (rc = add_load(elf, &p, elf->segment_count, err)))
            return rc;
    }
    if (elf->segment_count == 0)
        return keep_fail(err, KEEP_E_ELF_NO_SEGMENTS, "the program has no PT_LOAD segment");
    if (!have_pt_phdr) {
        for (size_t i = 0; i < elf->segment_count; i++) {
            const struct keep_elf_segment *s = &elf->segments[i];
            if (h->phoff >= s->file_offset && table_size <= s->file_size &&
                h->phoff - s->file_offset <= s->file_size - table_size) {
                elf->phdr_vaddr = s->vaddr + (h->phoff - s->file_offset);
                break;
            }
        }
    }
    return KEEP_OK;
}

static int check_entry(const struct keep_elf *elf, struct keep_error *err)
{
    for (size_t i = 0; i < elf->segment_count; i++) {
        const struct keep_elf_segment *s = &elf->segments[i];
        if ((s->flags & KEEP_ELF_PF_X) && elf->entry >= s->vaddr &&
            elf->entry - s->vaddr < s->mem_size)
            return KEEP_OK;
    }
    return keep_fail(err, KEEP_E_ELF_ENTRY,
                     "e_entry %#llx is not inside an executable (PF_X) PT_LOAD segment",
                     (unsigned long long)elf->entry);
}

int keep_elf_parse(const uint8_t *image, size_t size, struct keep_elf *out, struct keep_error *err)
{
    struct keep_cursor c;
    struct ehdr h;
    int rc;
    memset(out, 0, sizeof(*out));
    out->image = image;
    out->image_size = image ? size : 0;
    keep_cursor_init(&c, image, size);
    if ((rc = parse_ehdr(&c, &h, err)))
        return rc;
    out->pie = h.type == ET_DYN;
    out->entry = h.entry;
    out->phdr_offset = h.phoff;
    out->phdr_count = h.phnum;
    out->phdr_entry_size = h.phentsize;
    if ((rc = parse_phdrs(out, &h, err)))
        return rc;
    if ((rc = check_entry(out, err)))
        return rc;
    const struct keep_elf_segment *last = &out->segments[out->segment_count - 1];
    out->min_vaddr = out->segments[0].vaddr & ~(uint64_t)(KEEP_ELF_PAGE_SIZE - 1);
    out->max_vaddr = (last->vaddr + last->mem_size + KEEP_ELF_PAGE_SIZE - 1) &
                     ~(uint64_t)(KEEP_ELF_PAGE_SIZE - 1);
    return KEEP_OK;
}

int keep_elf_check_fits(const struct keep_elf *elf, uint64_t base, uint64_t memory_size,
                        uint64_t reserve_size, struct keep_error *err)
{
    uint64_t span = keep_elf_span(elf), need;
    if (keep_add_overflows(span, reserve_size, &need) || need > memory_size)
        return keep_fail(err, KEEP_E_ELF_TOO_BIG,
                         "the program spans %llu KiB and needs %llu KiB more for stack and heap; "
                         "--memory is %llu KiB: raise --memory",
                         (unsigned long long)(span >> 10), (unsigned long long)(reserve_size >> 10),
                         (unsigned long long)(memory_size >> 10));
    if (!elf->pie && (elf->min_vaddr < base || elf->max_vaddr - base > memory_size - reserve_size))
        return keep_fail(err, KEEP_E_ELF_ADDRESS,
                         "the program is linked at %#llx..%#llx; workload memory is %#llx..%#llx "
                         "with %llu KiB kept for stack and heap (link it at %#llx, the "
                         "default, or build it -static-pie)",
                         (unsigned long long)elf->min_vaddr, (unsigned long long)elf->max_vaddr,
                         (unsigned long long)base, (unsigned long long)(base + memory_size),
                         (unsigned long long)(reserve_size >> 10), (unsigned long long)base);
    return KEEP_OK;
}
