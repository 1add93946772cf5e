/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Platform detection for `keep platform` and `--backend auto`.
 *
 * References:
 *   KVM API: Documentation/virt/kvm/api.rst (KVM_GET_API_VERSION must be 12,
 *     KVM_CREATE_VM, KVM_CREATE_VCPU).
 *   AMD64 APM vol. 3, CPUID Fn8000_001F (EAX bit 1 SEV, bit 4 SEV-SNP);
 *     Linux Documentation/virt/kvm/x86/amd-memory-encryption.rst (/dev/sev,
 *     kvm_amd parameters sev and sev_snp).
 *   Intel SDM vol. 2A, CPUID leaf 07H (EBX bit 2 SGX), leaf 12H (SGX
 *     capabilities); Linux Documentation/arch/x86/sgx.rst (/dev/sgx_enclave).
 *   Intel TDX: Linux Documentation/arch/x86/tdx.rst (kvm_intel parameter tdx;
 *     /dev/tdx_guest exists inside a TD, not on a TDX host).
 */
#include "host/platform.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/kvm.h"

#define KVM_EXPECTED_API_VERSION 12

__attribute__((format(printf, 4, 5))) static bool check(struct keep_platform *p, const char *name,
                                                        bool ok, const char *fmt, ...)
{
    if (p->check_count < KEEP_PLATFORM_MAX_CHECKS) {
        struct keep_platform_check *c = &p->checks[p->check_count++];
        c->name = name;
        c->ok = ok;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
        va_end(ap);
    }
    return ok;
}

__attribute__((format(printf, 2, 3))) static void unavailable(struct keep_platform *p,
                                                              const char *fmt, ...)
{
    p->available = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
    va_end(ap);
}

/* ---- CPU --------------------------------------------------------------- */

static void cpu_vendor(char out[13])
{
    unsigned a, b, c, d;
    memset(out, 0, 13);
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return;
    memcpy(out, &b, 4);
    memcpy(out + 4, &d, 4);
    memcpy(out + 8, &c, 4);
}

static bool cpuid_leaf(unsigned leaf, unsigned sub, unsigned regs[4])
{
    unsigned max = __get_cpuid_max(leaf & 0x80000000u, NULL);
    if (max < leaf)
        return false;
    __cpuid_count(leaf, sub, regs[0], regs[1], regs[2], regs[3]);
    return true;
}

/* Read a one-line sysfs file; "" when absent. */
static bool read_sysfs(const char *path, char *out, size_t size)
{
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fgets(out, (int)size, f) != NULL;
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
    return ok;
}

static bool sysfs_yes(const char *value)
{
    return strcmp(value, "Y") == 0 || strcmp(value, "y") == 0 || strcmp(value, "1") == 0;
}

static bool device_exists(struct keep_platform *p, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return check(p, path, S_ISCHR(st.st_mode), "%s",
                     S_ISCHR(st.st_mode) ? "character device present" : "not a character device");
    return check(p, path, false, "%s", strerror(errno));
}

/* ---- kvm --------------------------------------------------------------- */

/* The kvm backend's own requirements (capabilities, CPUID it relies on). */
static bool backend_probe(struct keep_platform *p)
{
    struct keep_error err = {0};
    if (!check(p, "backend", keep_kvm_probe(&err) == KEEP_OK, "%s",
               err.code ? err.message : "capabilities present")) {
        unavailable(p, "%s", err.message);
        return false;
    }
    return true;
}

static void probe_kvm(struct keep_platform *p)
{
    p->supported = true;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        int e = errno;
        check(p, "/dev/kvm", false, "open: %s", strerror(e));
        if (e == ENOENT)
            unavailable(p, "/dev/kvm does not exist: load kvm_intel or kvm_amd, enable "
                           "virtualisation in the firmware, or enable nested virtualisation");
        else if (e == EACCES || e == EPERM)
            unavailable(p, "/dev/kvm: permission denied; add this user to the kvm group or run "
                           "as root");
        else
            unavailable(p, "/dev/kvm cannot be opened: %s", strerror(e));
        return;
    }
    check(p, "/dev/kvm", true, "opened read-write");
    int version = ioctl(kvm, KVM_GET_API_VERSION, 0);
    if (!check(p, "KVM_GET_API_VERSION", version == KVM_EXPECTED_API_VERSION, "%d (need %d)",
               version, KVM_EXPECTED_API_VERSION)) {
        unavailable(p, "KVM_GET_API_VERSION returned %d; keep needs API version %d", version,
                    KVM_EXPECTED_API_VERSION);
        close(kvm);
        return;
    }
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (!check(p, "KVM_CREATE_VM", vm >= 0, "%s", vm >= 0 ? "ok" : strerror(errno))) {
        unavailable(p, "KVM_CREATE_VM failed: %s (is another hypervisor holding VT-x/AMD-V?)",
                    strerror(errno));
        close(kvm);
        return;
    }
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (!check(p, "KVM_CREATE_VCPU", vcpu >= 0, "%s", vcpu >= 0 ? "ok" : strerror(errno))) {
        unavailable(p, "KVM_CREATE_VCPU failed: %s", strerror(errno));
    } else if (!backend_probe(p)) {
        /* backend_probe() filled the reason: a capability the backend needs is missing. */
    } else {
        p->available = true;
        snprintf(p->reason, sizeof(p->reason), "/dev/kvm works (API version %d)", version);
    }
    if (vcpu >= 0)
        close(vcpu);
    close(vm);
    close(kvm);
}

/* ---- nil --------------------------------------------------------------- */

static void probe_nil(struct keep_platform *p)
{
    p->supported = true;
    check(p, "backend", true, "built in");
    p->available = true;
    snprintf(p->reason, sizeof(p->reason),
             "always available; isolates nothing: the workload runs as an ordinary host "
             "process (development and tests only)");
}

/* ---- AMD SEV-SNP ------------------------------------------------------- */

/*
 * /dev/sev-guest and /dev/tdx_guest exist inside a confidential VM, not on
 * a host: noted as a check so the reason is clear on such a machine (it can
 * produce its own evidence, but cannot start Keeps of that kind).
 */
static void note_guest_device(struct keep_platform *p, const char *path, const char *what)
{
    struct stat st;
    if (stat(path, &st) == 0)
        check(p, path, false, "present: this machine is itself %s guest, not a host", what);
}

static void probe_sev_snp(struct keep_platform *p)
{
    char vendor[13], value[32];
    unsigned r[4] = {0};
    note_guest_device(p, "/dev/sev-guest", "an SEV-SNP");
    cpu_vendor(vendor);
    if (!check(p, "cpu.vendor", strcmp(vendor, "AuthenticAMD") == 0, "%s", vendor)) {
        unavailable(p, "the CPU is %s; SEV-SNP needs an AMD EPYC CPU (AuthenticAMD)", vendor);
        return;
    }
    /* AMD APM vol. 3, CPUID Fn8000_001F_EAX: bit 1 SEV, bit 4 SEV-SNP. */
    if (!check(p, "cpuid.0x8000001f", cpuid_leaf(0x8000001f, 0, r), "%s",
               "encrypted memory capabilities leaf")) {
        unavailable(p, "CPUID leaf 0x8000001F is absent: this CPU (or the hypervisor in front "
                       "of it) exposes no memory encryption");
        return;
    }
    if (!check(p, "cpuid.sev_snp", (r[0] >> 4) & 1, "Fn8000_001F EAX=0x%08x", r[0])) {
        unavailable(p, "CPUID Fn8000_001F EAX bit 4 (SEV-SNP) is clear: the CPU or the "
                       "firmware does not offer SEV-SNP");
        return;
    }
    bool have = read_sysfs("/sys/module/kvm_amd/parameters/sev_snp", value, sizeof(value));
    if (!check(p, "kvm_amd.sev_snp", have && sysfs_yes(value), "%s", have ? value : "absent")) {
        if (have)
            unavailable(p,
                        "kvm_amd is loaded with sev_snp=%s: the kernel or the firmware "
                        "(SNP_INIT) did not enable SEV-SNP",
                        value);
        else
            unavailable(p, "/sys/module/kvm_amd/parameters/sev_snp is absent: load kvm_amd from "
                           "a kernel with SEV-SNP host support");
        return;
    }
    if (!device_exists(p, "/dev/sev")) {
        unavailable(p, "/dev/sev is missing: the ccp driver did not initialise the SEV firmware");
        return;
    }
    unavailable(p, "SEV-SNP is present, but this keep has no sev-snp backend yet");
}

/* ---- Intel TDX --------------------------------------------------------- */

static void probe_tdx(struct keep_platform *p)
{
    char vendor[13], value[32];
    note_guest_device(p, "/dev/tdx_guest", "a TDX");
    cpu_vendor(vendor);
    if (!check(p, "cpu.vendor", strcmp(vendor, "GenuineIntel") == 0, "%s", vendor)) {
        unavailable(p, "the CPU is %s; TDX needs an Intel Xeon CPU (GenuineIntel)", vendor);
        return;
    }
    /*
     * A TDX host has no CPUID bit of its own (leaf 0x21 "IntelTDX" is seen
     * only inside a TD): whether the BIOS enabled TDX and the TDX module
     * initialised is what kvm_intel reports in its tdx parameter.
     */
    bool have = read_sysfs("/sys/module/kvm_intel/parameters/tdx", value, sizeof(value));
    if (!check(p, "kvm_intel.tdx", have && sysfs_yes(value), "%s", have ? value : "absent")) {
        if (have)
            unavailable(p,
                        "kvm_intel is loaded with tdx=%s: the BIOS did not enable TDX or the "
                        "TDX module failed to load",
                        value);
        else
            unavailable(p, "/sys/module/kvm_intel/parameters/tdx is absent: load kvm_intel from a "
                           "kernel with TDX host support");
        return;
    }
    unavailable(p, "TDX is present, but this keep has no tdx backend yet");
}

/* ---- Intel SGX --------------------------------------------------------- */

static void probe_sgx(struct keep_platform *p)
{
    char vendor[13];
    unsigned r[4] = {0};
    cpu_vendor(vendor);
    if (!check(p, "cpu.vendor", strcmp(vendor, "GenuineIntel") == 0, "%s", vendor)) {
        unavailable(p, "the CPU is %s; SGX needs an Intel CPU (GenuineIntel)", vendor);
        return;
    }
    /* Intel SDM vol. 2A, CPUID leaf 07H subleaf 0: EBX bit 2 = SGX. */
    bool leaf7 = cpuid_leaf(7, 0, r);
    if (!check(p, "cpuid.sgx", leaf7 && ((r[1] >> 2) & 1), "leaf 7 EBX=0x%08x", leaf7 ? r[1] : 0)) {
        unavailable(p, "CPUID leaf 7 EBX bit 2 (SGX) is clear: the CPU lacks SGX, the BIOS "
                       "disabled it, or the hypervisor hides it");
        return;
    }
    /* Leaf 12H subleaf 0: EAX bit 0 = SGX1 (enclave instructions usable). */
    bool leaf12 = cpuid_leaf(0x12, 0, r);
    if (!check(p, "cpuid.sgx1", leaf12 && (r[0] & 1), "leaf 0x12 EAX=0x%08x", leaf12 ? r[0] : 0)) {
        unavailable(p, "CPUID leaf 0x12 EAX bit 0 (SGX1) is clear: SGX is not enabled in the "
                       "firmware (no EPC)");
        return;
    }
    if (!device_exists(p, "/dev/sgx_enclave")) {
        unavailable(p, "/dev/sgx_enclave is missing: the kernel's SGX driver (5.11+, "
                       "CONFIG_X86_SGX) is not active");
        return;
    }
    unavailable(p, "SGX is present, but this keep has no sgx backend yet");
}

void keep_platform_probe(enum keep_platform_id id, struct keep_platform *out)
{
    static const char *names[KEEP_PLATFORM_COUNT] = {"kvm", "nil", "sev-snp", "tdx", "sgx"};
    memset(out, 0, sizeof(*out));
    out->name = (unsigned)id < KEEP_PLATFORM_COUNT ? names[id] : "unknown";
    switch (id) {
    case KEEP_PLATFORM_KVM:
        probe_kvm(out);
        break;
    case KEEP_PLATFORM_NIL:
        probe_nil(out);
        break;
    case KEEP_PLATFORM_SEV_SNP:
        probe_sev_snp(out);
        break;
    case KEEP_PLATFORM_TDX:
        probe_tdx(out);
        break;
    case KEEP_PLATFORM_SGX:
        probe_sgx(out);
        break;
    default:
        unavailable(out, "unknown platform %d", (int)id);
        break;
    }
}
