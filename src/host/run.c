/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Backend-neutral `keep run`: check PROGRAM, measure, pick a backend, run.
 *
 * The ELF checks here are the early ones a user needs a clear line for
 * (not ELF, not x86-64, dynamic, too big). They read the file only through
 * the bounds-checked cursor: PROGRAM is the user's file, not yet trusted to
 * be well formed. The loader of each backend applies its own, complete
 * checks when it maps the segments.
 */
#include "host/run.h"

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cursor.h"
#include "host/platform.h"
#if KEEP_HAVE_KVM_BACKEND
#include "host/executor.h"
#include "host/kvm.h"
#endif
#if KEEP_HAVE_NIL_BACKEND
#include "host/nil.h"
#endif
#if __has_include("host/shim_image.h")
#include "host/shim_image.h"
#define KEEP_HAVE_SHIM 1
#else
#define KEEP_HAVE_SHIM 0
#endif

#define PAGE_4K 4096ull

/* ---- PROGRAM checks ---------------------------------------------------- */

struct elf_header {
    uint16_t type, machine;
    uint64_t phoff;
    uint16_t phentsize, phnum;
};

/* ELF-64 Object File Format 1.5, section 3 (header) and figure 2 (e_ident). */
static int read_elf_header(const char *path, struct keep_cursor *c, struct elf_header *h,
                           struct keep_error *err)
{
    const uint8_t *ident;
    if (keep_cursor_remaining(c) < EI_NIDENT || memcmp(c->data, ELFMAG, SELFMAG) != 0)
        return keep_fail(err, KEEP_E_RUN_NOT_ELF,
                         "%s is not an ELF file (no \\x7fELF magic); keep runs static x86-64 "
                         "Linux executables",
                         path);
    int rc = keep_cursor_view(c, "e_ident", &ident, EI_NIDENT, err);
    if (rc)
        return rc;
    if (ident[EI_CLASS] != ELFCLASS64 || ident[EI_DATA] != ELFDATA2LSB)
        return keep_fail(err, KEEP_E_RUN_NOT_X86_64,
                         "%s is a %s %s-endian ELF file; keep runs 64-bit little-endian x86-64 "
                         "executables",
                         path, ident[EI_CLASS] == ELFCLASS32 ? "32-bit" : "non-64-bit",
                         ident[EI_DATA] == ELFDATA2MSB ? "big" : "little");
    uint32_t version;
    uint64_t entry, shoff;
    uint32_t flags;
    uint16_t ehsize;
    if ((rc = keep_cursor_u16(c, "e_type", &h->type, err)) ||
        (rc = keep_cursor_u16(c, "e_machine", &h->machine, err)) ||
        (rc = keep_cursor_u32(c, "e_version", &version, err)) ||
        (rc = keep_cursor_u64(c, "e_entry", &entry, err)) ||
        (rc = keep_cursor_u64(c, "e_phoff", &h->phoff, err)) ||
        (rc = keep_cursor_u64(c, "e_shoff", &shoff, err)) ||
        (rc = keep_cursor_u32(c, "e_flags", &flags, err)) ||
        (rc = keep_cursor_u16(c, "e_ehsize", &ehsize, err)) ||
        (rc = keep_cursor_u16(c, "e_phentsize", &h->phentsize, err)) ||
        (rc = keep_cursor_u16(c, "e_phnum", &h->phnum, err)))
        return keep_fail(err, KEEP_E_RUN_NOT_ELF, "%s: truncated ELF header: %s", path,
                         err ? err->message : "");
    if (h->machine != EM_X86_64)
        return keep_fail(err, KEEP_E_RUN_NOT_X86_64,
                         "%s is an ELF file for machine %u (e_machine); keep runs x86-64 (%u)",
                         path, h->machine, EM_X86_64);
    if (h->type != ET_EXEC && h->type != ET_DYN)
        return keep_fail(err, KEEP_E_RUN_NOT_EXECUTABLE,
                         "%s has e_type %u; keep runs executables (ET_EXEC, or static-pie "
                         "ET_DYN)",
                         path, h->type);
    if (h->phentsize != sizeof(Elf64_Phdr) || h->phnum == 0)
        return keep_fail(err, KEEP_E_RUN_NOT_EXECUTABLE,
                         "%s has e_phentsize %u and e_phnum %u; an executable needs program "
                         "headers of %zu bytes",
                         path, h->phentsize, h->phnum, sizeof(Elf64_Phdr));
    return KEEP_OK;
}

static int check_segments(const char *path, const uint8_t *data, size_t size,
                          const struct elf_header *h, uint64_t memory_size,
                          struct keep_program *prog, struct keep_error *err)
{
    struct keep_cursor c;
    uint64_t table_size = (uint64_t)h->phnum * sizeof(Elf64_Phdr);
    if (!keep_range_ok(h->phoff, table_size, size))
        return keep_fail(err, KEEP_E_RUN_NOT_ELF,
                         "%s: program headers at e_phoff %llu (%llu bytes) lie outside the "
                         "%zu-byte file",
                         path, (unsigned long long)h->phoff, (unsigned long long)table_size, size);
    keep_cursor_init(&c, data + h->phoff, (size_t)table_size);
    uint64_t lo = UINT64_MAX, hi = 0;
    bool has_interp = false, has_load = false;
    for (uint16_t i = 0; i < h->phnum; i++) {
        uint32_t type, flags;
        uint64_t offset, vaddr, paddr, filesz, memsz, align, end;
        if (keep_cursor_u32(&c, "p_type", &type, err) ||
            keep_cursor_u32(&c, "p_flags", &flags, err) ||
            keep_cursor_u64(&c, "p_offset", &offset, err) ||
            keep_cursor_u64(&c, "p_vaddr", &vaddr, err) ||
            keep_cursor_u64(&c, "p_paddr", &paddr, err) ||
            keep_cursor_u64(&c, "p_filesz", &filesz, err) ||
            keep_cursor_u64(&c, "p_memsz", &memsz, err) ||
            keep_cursor_u64(&c, "p_align", &align, err))
            return KEEP_E_TRUNCATED;
        if (type == PT_INTERP)
            has_interp = true;
        if (type != PT_LOAD)
            continue;
        has_load = true;
        if (!keep_range_ok(offset, filesz, size) || filesz > memsz ||
            keep_add_overflows(vaddr, memsz, &end))
            return keep_fail(err, KEEP_E_RUN_NOT_EXECUTABLE,
                             "%s: PT_LOAD segment %u (p_offset %llu, p_filesz %llu, p_memsz "
                             "%llu) does not fit the file or the address space",
                             path, i, (unsigned long long)offset, (unsigned long long)filesz,
                             (unsigned long long)memsz);
        if (vaddr < lo)
            lo = vaddr;
        if (end > hi)
            hi = end;
    }
    /* A PT_INTERP names the dynamic loader: the program needs shared libraries. */
    if (has_interp)
        return keep_fail(err, KEEP_E_RUN_DYNAMIC,
                         "%s is dynamically linked (it has PT_INTERP); a Keep runs only static "
                         "executables: rebuild it with -static or -static-pie",
                         path);
    if (!has_load)
        return keep_fail(err, KEEP_E_RUN_NOT_EXECUTABLE, "%s has no PT_LOAD segment", path);
    uint64_t image = ((hi + PAGE_4K - 1) & ~(PAGE_4K - 1)) - (lo & ~(PAGE_4K - 1));
    if (image >= memory_size)
        return keep_fail(err, KEEP_E_RUN_TOO_BIG,
                         "%s needs %llu bytes of memory for its segments; --memory is %llu "
                         "bytes: raise --memory",
                         path, (unsigned long long)image, (unsigned long long)memory_size);
    prog->image_size = image;
    prog->pie = h->type == ET_DYN;
    return KEEP_OK;
}

int keep_program_load(const struct keep_config *cfg, struct keep_program *prog,
                      struct keep_error *err)
{
    memset(prog, 0, sizeof(*prog));
    struct stat st;
    if (!cfg->program)
        return keep_fail(err, KEEP_E_RUN_NO_PROGRAM, "no PROGRAM given");
    if (stat(cfg->program, &st) != 0)
        return keep_fail(err, KEEP_E_RUN_PROGRAM_MISSING, "%s: %s", cfg->program, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return keep_fail(err, KEEP_E_RUN_PROGRAM_MISSING, "%s is not a regular file", cfg->program);
    if ((uint64_t)st.st_size >= cfg->memory_size)
        return keep_fail(err, KEEP_E_RUN_TOO_BIG,
                         "%s is %lld bytes, more than --memory (%llu bytes): raise --memory",
                         cfg->program, (long long)st.st_size, (unsigned long long)cfg->memory_size);
    int rc = keep_read_file(cfg->program, KEEP_MAX_PROGRAM_SIZE, &prog->data, &prog->size, err);
    if (rc)
        return keep_fail(err, KEEP_E_RUN_PROGRAM_MISSING, "%s", err ? err->message : "");
    struct keep_cursor c;
    struct elf_header h;
    keep_cursor_init(&c, prog->data, prog->size);
    rc = read_elf_header(cfg->program, &c, &h, err);
    if (rc == KEEP_OK)
        rc = check_segments(cfg->program, prog->data, prog->size, &h, cfg->memory_size, prog, err);
    if (rc == KEEP_E_TRUNCATED)
        rc = keep_fail(err, KEEP_E_RUN_NOT_ELF, "%s: truncated program header table", cfg->program);
    if (rc)
        keep_program_free(prog);
    return rc;
}

void keep_program_free(struct keep_program *prog)
{
    free(prog->data);
    memset(prog, 0, sizeof(*prog));
}

/* ---- measurement ------------------------------------------------------- */

void keep_run_shim(const uint8_t **data, size_t *size)
{
#if KEEP_HAVE_SHIM
    keep_shim_image(data, size);
#else
    *data = NULL;
    *size = 0;
#endif
}

int keep_run_measure(const struct keep_config *cfg, const struct keep_program *prog,
                     uint8_t out[KEEP_MEASUREMENT_SIZE], struct keep_error *err)
{
    const uint8_t *shim;
    size_t shim_size;
    keep_run_shim(&shim, &shim_size);
    return keep_measure_launch(cfg, shim, shim_size, prog->data, prog->size, out, err);
}

/* ---- stopping on Ctrl-C ------------------------------------------------ */

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

bool keep_run_stop_requested(void)
{
    return stop_signal != 0;
}

int keep_run_stop_signal(void)
{
    return stop_signal;
}

/*
 * No SA_RESTART: a blocking KVM_RUN or waitpid returns EINTR, so the backend
 * sees the request at once and tears the Keep down in order.
 */
static void install_stop_handlers(struct sigaction old[2])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old[0]);
    sigaction(SIGTERM, &sa, &old[1]);
}

static void restore_stop_handlers(const struct sigaction old[2])
{
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGTERM, &old[1], NULL);
}

/* ---- backend selection ------------------------------------------------- */

static int select_backend(const struct keep_config *cfg, enum keep_backend *out,
                          struct keep_error *err)
{
    char why[256];
    bool kvm_ok = keep_platform_kvm_usable(why, sizeof(why));
    switch (cfg->backend) {
    case KEEP_BACKEND_KVM:
        if (!kvm_ok)
            return keep_fail(err, KEEP_E_RUN_BACKEND_UNAVAILABLE, "--backend kvm: %s", why);
        *out = KEEP_BACKEND_KVM;
        return KEEP_OK;
    case KEEP_BACKEND_NIL:
        if (!KEEP_HAVE_NIL_BACKEND)
            return keep_fail(err, KEEP_E_RUN_BACKEND_UNAVAILABLE,
                             "--backend nil: this keep was built without the nil backend");
        *out = KEEP_BACKEND_NIL;
        return KEEP_OK;
    case KEEP_BACKEND_AUTO:
    default:
        if (kvm_ok) {
            *out = KEEP_BACKEND_KVM;
            return KEEP_OK;
        }
        if (!KEEP_HAVE_NIL_BACKEND)
            return keep_fail(err, KEEP_E_RUN_BACKEND_UNAVAILABLE,
                             "no backend can run here: kvm: %s; nil: not built", why);
        keep_log(KEEP_LOG_WARN,
                 "kvm is not usable (%s); running on the nil backend, which isolates nothing", why);
        *out = KEEP_BACKEND_NIL;
        return KEEP_OK;
    }
}

static int run_on(enum keep_backend backend, const struct keep_config *cfg,
                  const struct keep_program *prog, const uint8_t measurement[48], int *exit_status,
                  struct keep_error *err)
{
    (void)prog;
    (void)measurement;
#if KEEP_HAVE_KVM_BACKEND
    if (backend == KEEP_BACKEND_KVM) {
        struct keep_executor *exec = NULL;
        int rc = keep_executor_new(cfg, measurement, &exec, err);
        if (rc == KEEP_OK)
            rc = keep_kvm_run(cfg, prog->data, prog->size, exec, exit_status, err);
        keep_executor_free(exec);
        return rc;
    }
#endif
#if KEEP_HAVE_NIL_BACKEND
    if (backend == KEEP_BACKEND_NIL)
        return keep_nil_run(cfg, exit_status, err);
#endif
    (void)cfg;
    (void)exit_status;
    return keep_fail(err, KEEP_E_RUN_BACKEND_UNAVAILABLE, "backend %d is not built in",
                     (int)backend);
}

int keep_run(const struct keep_config *cfg, int *exit_status, struct keep_error *err)
{
    struct keep_program prog;
    uint8_t measurement[KEEP_MEASUREMENT_SIZE];
    enum keep_backend backend;
    int rc = keep_program_load(cfg, &prog, err);
    if (rc)
        return rc;
    rc = keep_run_measure(cfg, &prog, measurement, err);
    if (rc == KEEP_OK)
        rc = select_backend(cfg, &backend, err);
    if (rc == KEEP_OK) {
        char hex[2 * KEEP_MEASUREMENT_SIZE + 1];
        keep_hex_encode(measurement, sizeof(measurement), hex);
        keep_log(KEEP_LOG_INFO, "backend %s, measurement %s",
                 backend == KEEP_BACKEND_KVM ? "kvm" : "nil", hex);
        struct sigaction old[2];
        install_stop_handlers(old);
        rc = run_on(backend, cfg, &prog, measurement, exit_status, err);
        restore_stop_handlers(old);
    }
    keep_program_free(&prog);
    return rc;
}

int keep_run_exit_status(int code)
{
    switch (code) {
    case KEEP_E_RUN_BAD_OPTION:
    case KEEP_E_RUN_BAD_MEMORY:
    case KEEP_E_RUN_BAD_VOLUME:
    case KEEP_E_RUN_VOLUME_CONFLICT:
    case KEEP_E_RUN_BAD_ADDRESS:
    case KEEP_E_RUN_BAD_ENV:
    case KEEP_E_RUN_NO_PROGRAM:
        return KEEP_RUN_EXIT_USAGE;
    case KEEP_E_RUN_PROGRAM_MISSING:
        return KEEP_RUN_EXIT_NOT_FOUND;
    case KEEP_E_RUN_NOT_ELF:
    case KEEP_E_RUN_NOT_X86_64:
    case KEEP_E_RUN_DYNAMIC:
    case KEEP_E_RUN_NOT_EXECUTABLE:
    case KEEP_E_RUN_TOO_BIG:
        return KEEP_RUN_EXIT_CANNOT_RUN;
    default:
        return KEEP_RUN_EXIT_FAILED;
    }
}
