/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Backend-neutral `keep run`: check PROGRAM, measure, pick a backend, run.
 *
 * PROGRAM is checked with the ELF parser (src/host/elf.c) before any
 * backend starts, so not-ELF, wrong architecture, dynamic linking and
 * "too big for --memory" each get one precise line and exit status 126.
 */
#include "host/run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cursor.h"
#include "host/elf.h"
#include "host/executor.h"
#include "host/kvm.h"
#include "host/nil.h"
#include "host/shim_image.h"

/* ---- PROGRAM checks ---------------------------------------------------- */

static bool is_elf_code(int code)
{
    return code > KEEP_E_KVM_BASE && code <= KEEP_E_ELF_ADDRESS;
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
    /* Refuse before reading: a file larger than --memory cannot fit in it. */
    if ((uint64_t)st.st_size >= cfg->memory_size)
        return keep_fail(err, KEEP_E_ELF_TOO_BIG,
                         "%s is %lld bytes, more than --memory (%llu bytes): raise --memory",
                         cfg->program, (long long)st.st_size, (unsigned long long)cfg->memory_size);
    /* Read into its own error: formatting err->message into itself is undefined (C17 7.21.6.5). */
    struct keep_error read_err = {0};
    int rc =
        keep_read_file(cfg->program, KEEP_MAX_PROGRAM_SIZE, &prog->data, &prog->size, &read_err);
    if (rc)
        return keep_fail(err, KEEP_E_RUN_PROGRAM_MISSING, "%s", read_err.message);
    /*
     * The early check needs no guest layout: the segments must span less
     * than --memory. The backend's loader checks placement and the stack
     * and heap reserve against its own layout.
     */
    rc = keep_elf_parse(prog->data, prog->size, &prog->elf, err);
    if (rc == KEEP_OK && keep_elf_span(&prog->elf) >= cfg->memory_size)
        rc = keep_fail(err, KEEP_E_ELF_TOO_BIG,
                       "its segments span %llu KiB; --memory is %llu KiB: raise --memory",
                       (unsigned long long)(keep_elf_span(&prog->elf) >> 10),
                       (unsigned long long)(cfg->memory_size >> 10));
    if (rc) {
        char message[KEEP_ERROR_MESSAGE_SIZE];
        snprintf(message, sizeof(message), "%s", err ? err->message : "");
        keep_program_free(prog);
        return keep_fail(err, rc, "%s: %s", cfg->program, message);
    }
    return KEEP_OK;
}

void keep_program_free(struct keep_program *prog)
{
    free(prog->data);
    memset(prog, 0, sizeof(*prog));
}

/* ---- measurement ------------------------------------------------------- */

int keep_run_measure(const struct keep_config *cfg, const struct keep_program *prog,
                     uint8_t out[KEEP_MEASUREMENT_SIZE], struct keep_error *err)
{
    const uint8_t *shim;
    size_t shim_size;
    keep_shim_image(&shim, &shim_size);
    return keep_measure_launch(cfg, shim, shim_size, prog->data, prog->size, out, err);
}

/* ---- stopping on Ctrl-C ------------------------------------------------ */

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig, siginfo_t *info, void *uc)
{
    (void)uc;
    /*
     * A workload that catches SIGINT gets the first Ctrl-C; the next one
     * stops the Keep. From the terminal (SI_KERNEL) the whole foreground
     * group got it, the nil backend's child included.
     */
    bool to_group = info && info->si_code == SI_KERNEL;
    if (sig == SIGINT && (keep_kvm_forward_interrupt() || keep_nil_forward_interrupt(to_group)))
        return;
    stop_signal = sig;
    keep_executor_request_stop(); /* the rest of a batch is cancelled */
    keep_kvm_request_stop();
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
    sa.sa_sigaction = on_stop_signal;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    keep_executor_clear_stop();
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
    if (cfg->backend == KEEP_BACKEND_NIL) {
        *out = KEEP_BACKEND_NIL;
        return KEEP_OK;
    }
    /*
     * The backend's own probe: it says precisely what is missing, and the
     * /dev/kvm handle and capabilities it gathers are reused by the run.
     */
    struct keep_error probe = {0};
    if (keep_kvm_probe(&probe) == KEEP_OK) {
        *out = KEEP_BACKEND_KVM;
        return KEEP_OK;
    }
    if (cfg->backend == KEEP_BACKEND_KVM)
        return keep_fail(err, KEEP_E_RUN_BACKEND_UNAVAILABLE, "--backend kvm: %s", probe.message);
    /* The nil backend adds its own warning that it isolates nothing. */
    keep_log(KEEP_LOG_WARN, "kvm is not usable (%s); falling back to the nil backend",
             probe.message);
    *out = KEEP_BACKEND_NIL;
    return KEEP_OK;
}

static int run_on(enum keep_backend backend, const struct keep_config *cfg,
                  const struct keep_program *prog, struct keep_measure_job *measuring,
                  int *exit_status, struct keep_error *err)
{
    if (backend == KEEP_BACKEND_NIL)
        return keep_nil_run(cfg, exit_status, err);
    struct keep_executor *exec = NULL;
    int rc = keep_executor_new(cfg, NULL, &exec, err);
    if (rc == KEEP_OK) {
        keep_executor_defer_measurement(exec, measuring);
        rc = keep_kvm_run(cfg, &prog->elf, exec, exit_status, err);
    }
    keep_executor_free(exec);
    return rc;
}

static void log_start(enum keep_backend backend, struct keep_measure_job *measuring)
{
    /* Waiting for the measurement only to log it would undo the overlap. */
    if (keep_log_get_level() < KEEP_LOG_INFO)
        return;
    uint8_t measurement[KEEP_MEASUREMENT_SIZE];
    struct keep_error e = {0};
    char hex[2 * KEEP_MEASUREMENT_SIZE + 1] = "(unknown)";
    if (keep_measure_job_wait(measuring, measurement, &e) == KEEP_OK)
        keep_hex_encode(measurement, sizeof(measurement), hex);
    keep_log(KEEP_LOG_INFO, "backend %s, measurement %s",
             backend == KEEP_BACKEND_KVM ? "kvm" : "nil", hex);
}

/*
 * A Keep stopped by Ctrl-C or SIGTERM ended the way the user asked: that is
 * not a failure of keep, and the status is the shell's 128 + signal.
 */
static int stopped_by_signal(int rc, int *exit_status, struct keep_error *err)
{
    if (!keep_run_stop_requested() || (rc != KEEP_OK && rc != KEEP_E_KVM_INTERRUPTED))
        return rc;
    keep_log(KEEP_LOG_INFO, "stopped by signal %d", keep_run_stop_signal());
    keep_error_clear(err);
    *exit_status = 128 + keep_run_stop_signal();
    return KEEP_OK;
}

int keep_run(const struct keep_config *cfg, int *exit_status, struct keep_error *err)
{
    struct keep_program prog;
    struct keep_measure_job measuring;
    uint8_t measurement[KEEP_MEASUREMENT_SIZE];
    enum keep_backend backend = KEEP_BACKEND_NIL;
    const uint8_t *shim;
    size_t shim_size;
    int rc = keep_program_load(cfg, &prog, err);
    if (rc)
        return rc;
    /* Hashed on a second thread while the backend starts (host/measure.h). */
    keep_shim_image(&shim, &shim_size);
    keep_measure_job_start(&measuring, cfg, shim, shim_size, prog.data, prog.size);
    rc = select_backend(cfg, &backend, err);
    /*
     * The nil backend runs the workload as a plain process the host can read: a Keep-private
     * /run/keep would be private to nothing, so --steward is refused there (docs/KEEP.md).
     */
    if (rc == KEEP_OK && backend == KEEP_BACKEND_NIL && cfg->steward_url)
        rc = keep_fail(err, KEEP_E_RUN_STEWARD_BACKEND,
                       "--steward needs the kvm backend: the nil backend isolates nothing, so "
                       "its /run/keep would be readable by the host");
    if (rc == KEEP_OK) {
        log_start(backend, &measuring);
        struct sigaction old[2];
        install_stop_handlers(old);
        rc = run_on(backend, cfg, &prog, &measuring, exit_status, err);
        restore_stop_handlers(old);
        rc = stopped_by_signal(rc, exit_status, err);
    }
    /* Joined before prog (the hashed bytes) goes away, whatever happened. */
    struct keep_error measure_err = {0};
    int measure_rc = keep_measure_job_wait(&measuring, measurement, &measure_err);
    if (rc == KEEP_OK && measure_rc != KEEP_OK)
        rc = keep_fail(err, measure_rc, "%s", measure_err.message);
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
    case KEEP_E_RUN_BAD_STEWARD:
    case KEEP_E_RUN_BAD_SECRET:
        return KEEP_RUN_EXIT_USAGE;
    case KEEP_E_RUN_PROGRAM_MISSING:
        return KEEP_RUN_EXIT_NOT_FOUND;
    default:
        return is_elf_code(code) ? KEEP_RUN_EXIT_CANNOT_RUN : KEEP_RUN_EXIT_FAILED;
    }
}
