/* SPDX-License-Identifier: Apache-2.0 */
#include "host/nil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "host/executor.h"
#include "host/netpolicy.h"
#include "host/run.h"

/* What the child tells the parent when setting up failed (before exec). */
struct setup_report {
    int code; /* enum keep_err */
    char message[400];
};

struct nil_plan {
    const struct keep_config *cfg;
    int program_fd;
    int report_fd;    /* write end of the setup pipe (O_CLOEXEC: exec closes it) */
    int status_fd;    /* write end of the pipe the namespace's init reports the wait status on */
    bool new_user_ns; /* uid/gid KEEP_NIL_ID inside, the caller's outside */
    bool confined;    /* own PID, mount (empty root + volumes) and IPC namespaces */
    bool new_net_ns;  /* no --listen / --connect: no network at all */
    const char *root; /* empty directory the new root is mounted on */
    char **envp;      /* cfg->env plus NULL, built before fork: the child does not allocate */
    int stdio[3];     /* the workload's 0..2 (keep_exec_stdio_fd), or -1: keep's own */
};

__attribute__((noreturn, format(printf, 3, 4))) static void
child_fail(const struct nil_plan *p, int code, const char *fmt, ...)
{
    struct setup_report r = {.code = code};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r.message, sizeof(r.message), fmt, ap);
    va_end(ap);
    if (write(p->report_fd, &r, sizeof(r)) < 0)
        _exit(127);
    _exit(127);
}

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/*
 * The uid and gid the workload sees, as in a kvm Keep (KEEP_UID in
 * src/shim/shim.c, AT_UID in src/host/kvm_loader.c).
 */
#define KEEP_NIL_ID 1000u

/*
 * Map KEEP_NIL_ID inside the new user namespace to the caller's uid and gid
 * outside (user_namespaces(7), "User and group ID mappings"): the workload
 * is uid 1000 with no capability in the host's namespace, and what it
 * creates in a rw volume belongs to the caller, as on kvm.
 */
static void map_ids(const struct nil_plan *p, uid_t uid, gid_t gid)
{
    char line[64];
    if (write_text("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
        child_fail(p, KEEP_E_NIL_NAMESPACES, "writing /proc/self/setgroups: %s", strerror(errno));
    snprintf(line, sizeof(line), "%u %u 1", KEEP_NIL_ID, (unsigned)uid);
    if (write_text("/proc/self/uid_map", line) < 0)
        child_fail(p, KEEP_E_NIL_NAMESPACES, "writing /proc/self/uid_map: %s", strerror(errno));
    snprintf(line, sizeof(line), "%u %u 1", KEEP_NIL_ID, (unsigned)gid);
    if (write_text("/proc/self/gid_map", line) < 0)
        child_fail(p, KEEP_E_NIL_NAMESPACES, "writing /proc/self/gid_map: %s", strerror(errno));
}

static void mkdir_p(const struct nil_plan *p, char *path)
{
    for (char *s = path + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(path, 0755) < 0 && errno != EEXIST)
                child_fail(p, KEEP_E_NIL_SPAWN, "mkdir %s: %s", path, strerror(errno));
            *s = '/';
        }
    }
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        child_fail(p, KEEP_E_NIL_SPAWN, "mkdir %s: %s", path, strerror(errno));
}

/* Remount a bind mount read-only, keeping the flags a user namespace may not drop. */
static int remount_read_only(const char *target)
{
    struct statvfs sv;
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
    if (statvfs(target, &sv) == 0) {
        if (sv.f_flag & ST_NOSUID)
            flags |= MS_NOSUID;
        if (sv.f_flag & ST_NODEV)
            flags |= MS_NODEV;
        if (sv.f_flag & ST_NOEXEC)
            flags |= MS_NOEXEC;
        if (sv.f_flag & ST_NOATIME)
            flags |= MS_NOATIME;
        if (sv.f_flag & ST_NODIRATIME)
            flags |= MS_NODIRATIME;
        if (sv.f_flag & ST_RELATIME)
            flags |= MS_RELATIME;
    }
    return mount(NULL, target, NULL, flags, NULL);
}

/*
 * --listen unix:PATH under nil: the workload binds PATH itself, so the
 * directory holding it is bind-mounted at the same path in the new root
 * (nil isolates nothing anyway; docs/HSM.md). On kvm the host binds it.
 */
static void mount_unix_socket_dirs(const struct nil_plan *p, char *target, size_t size)
{
    const struct keep_config *cfg = p->cfg;
    for (size_t i = 0; i < cfg->listen_count; i++) {
        const char *path = cfg->listen[i].unix_path;
        if (cfg->listen[i].family != AF_UNIX)
            continue;
        const char *slash = strrchr(path, '/');
        int dir_len = (int)(slash - path);
        int n = snprintf(target, size, "%s%.*s", p->root, dir_len, path);
        if (n < 0 || (size_t)n >= size)
            child_fail(p, KEEP_E_NIL_SPAWN, "socket path %s is too long", path);
        if (dir_len == 0)
            continue; /* a socket in "/": the new root is read-only; bind will say EROFS */
        mkdir_p(p, target);
        char host_dir[KEEP_UNIX_PATH_MAX + 1];
        snprintf(host_dir, sizeof(host_dir), "%.*s", dir_len, path);
        if (mount(host_dir, target, NULL, MS_BIND, NULL) < 0)
            child_fail(p, KEEP_E_NIL_SPAWN, "bind-mounting %s for --listen unix:%s: %s", host_dir,
                       path, strerror(errno));
    }
}

/* New root: an empty tmpfs with each volume bind-mounted at its guest path. */
static void build_root(const struct nil_plan *p)
{
    const struct keep_config *cfg = p->cfg;
    char target[4096];
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        child_fail(p, KEEP_E_NIL_NAMESPACES, "making mounts private: %s", strerror(errno));
    if (mount("keep-nil", p->root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") < 0)
        child_fail(p, KEEP_E_NIL_NAMESPACES, "mounting the empty root on %s: %s", p->root,
                   strerror(errno));
    for (size_t i = 0; i < cfg->volume_count; i++) {
        const struct keep_volume *v = &cfg->volumes[i];
        int n = snprintf(target, sizeof(target), "%s%s", p->root, v->guest_dir);
        if (n < 0 || (size_t)n >= sizeof(target))
            child_fail(p, KEEP_E_NIL_SPAWN, "volume path %s is too long", v->guest_dir);
        mkdir_p(p, target);
        if (mount(v->host_dir, target, NULL, MS_BIND | MS_REC, NULL) < 0)
            child_fail(p, KEEP_E_NIL_SPAWN, "bind-mounting volume %s at %s: %s", v->host_dir,
                       v->guest_dir, strerror(errno));
        if (v->read_only && remount_read_only(target) < 0)
            child_fail(p, KEEP_E_NIL_SPAWN, "making volume %s read-only: %s", v->guest_dir,
                       strerror(errno));
    }
    mount_unix_socket_dirs(p, target, sizeof(target));
    /* The root itself is read-only: the workload can write only inside rw volumes. */
    if (mount(NULL, p->root, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        child_fail(p, KEEP_E_NIL_SPAWN, "making the root read-only: %s", strerror(errno));
    /*
     * pivot_root, not chroot: the host's tree is detached from this mount
     * namespace, so no chroot + chdir("..") can climb back to it
     * (pivot_root(2): new_root and put_old may be the same directory).
     */
    if (chdir(p->root) < 0)
        child_fail(p, KEEP_E_NIL_SPAWN, "entering the new root %s: %s", p->root, strerror(errno));
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        child_fail(p, KEEP_E_NIL_NAMESPACES, "pivot_root to %s: %s", p->root, strerror(errno));
    if (umount2(".", MNT_DETACH) < 0)
        child_fail(p, KEEP_E_NIL_NAMESPACES, "detaching the host's root: %s", strerror(errno));
}

/*
 * The workload holds no capability, whoever runs keep: as root, without a
 * user namespace, it would otherwise be real root and could remount a :ro
 * volume read-write or chroot out of its root. The bounding set is emptied
 * (execve then grants root no capability, capabilities(7) "Transformation
 * of capabilities during execve()"), ambient and inheritable sets cleared,
 * and no_new_privs stops set-user-ID programs and file capabilities.
 * Without CAP_SETPCAP (an ordinary user outside a user namespace) there is
 * no capability to drop, so only no_new_privs applies.
 */
static void drop_privileges(const struct nil_plan *p)
{
    bool can_drop = p->new_user_ns || geteuid() == 0;
    for (int cap = 0; can_drop; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
            continue;
        if (errno == EINVAL)
            break; /* past the kernel's last capability */
        child_fail(p, KEEP_E_NIL_SPAWN, "dropping capability %d from the bounding set: %s", cap,
                   strerror(errno));
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        child_fail(p, KEEP_E_NIL_SPAWN, "clearing ambient capabilities: %s", strerror(errno));
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
    memset(none, 0, sizeof(none));
    if (syscall(SYS_capset, &hdr, none) < 0)
        child_fail(p, KEEP_E_NIL_SPAWN, "clearing capabilities: %s", strerror(errno));
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(p, KEEP_E_NIL_SPAWN, "setting no_new_privs: %s", strerror(errno));
}

/*
 * pid 1 of the Keep's PID namespace. The workload is its child, not init
 * itself: init ignores every signal it has no handler for when it comes from
 * inside its namespace (pid_namespaces(7)), so a workload that was init could
 * not kill(getpid(), SIGSEGV) or abort(). This init holds nothing (its copy of
 * the setup pipe closed, so keep sees EOF when the workload execs), reaps
 * orphans, and hands the workload's wait status to keep; its own exit then
 * ends whatever the workload left behind.
 */
__attribute__((noreturn)) static void be_init(const struct nil_plan *p, pid_t workload)
{
    close(p->report_fd);
    close(p->program_fd);
    for (int i = 0; i < 3; i++) {
        close(i);
        if (p->stdio[i] >= 0)
            close(p->stdio[i]);
    }
    int st = 0;
    for (;;) {
        pid_t got = waitpid(-1, &st, 0);
        if (got == workload)
            break;
        if (got < 0 && errno != EINTR)
            _exit(127);
    }
    if (write(p->status_fd, &st, sizeof(st)) != (ssize_t)sizeof(st))
        _exit(127);
    _exit(0);
}

__attribute__((noreturn)) static void child(const struct nil_plan *p, uid_t uid, gid_t gid)
{
    const struct keep_config *cfg = p->cfg;
    /* The workload does not outlive keep. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGPIPE, SIG_DFL);
    /*
     * keep's stop handlers came with fork; the workload gets the default
     * actions, as a program started from a shell would. A stop signal that
     * hit the inherited handler first is not lost: keep saw it too and
     * kills this process once it waits (wait_child).
     */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    /* The namespaces came with clone (spawn_child). */
    if (p->new_user_ns)
        map_ids(p, uid, gid);
    if (p->confined)
        build_root(p);
    if (chdir("/") < 0)
        child_fail(p, KEEP_E_NIL_SPAWN, "chdir /: %s", strerror(errno));
    /* Descriptions of its own where possible: its O_NONBLOCK stays with it (issue 7). */
    for (int i = 0; i < 3; i++)
        if (p->stdio[i] >= 0 && dup2(p->stdio[i], i) < 0)
            child_fail(p, KEEP_E_NIL_SPAWN, "stdio fd %d: %s", i, strerror(errno));
    if (cfg->memory_size) {
        /*
         * RLIMIT_DATA (setrlimit(2)) counts private writable mappings and the
         * heap, not PROT_NONE reservations (Go, the JVM and V8 reserve GiBs);
         * the closest a plain process comes to the kvm backend's bound on
         * touched pages (docs/KEEP.md, "The nil backend").
         */
        struct rlimit rl = {cfg->memory_size, cfg->memory_size};
        if (setrlimit(RLIMIT_DATA, &rl) < 0)
            child_fail(p, KEEP_E_NIL_SPAWN, "limiting memory to %llu bytes: %s",
                       (unsigned long long)cfg->memory_size, strerror(errno));
    }
    drop_privileges(p); /* last: the limit above may need CAP_SYS_RESOURCE */
    if (p->confined) {
        /* As fork(2), without glibc's fork handlers (spawn_child says why). */
        pid_t workload = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, 0UL);
        if (workload < 0)
            child_fail(p, KEEP_E_NIL_SPAWN, "fork of the workload: %s", strerror(errno));
        if (workload > 0)
            be_init(p, workload);
        close(p->status_fd);
        /*
         * keep's session and process group lie outside the PID namespace,
         * where getsid/getpgrp would answer 0: the workload leads its own,
         * as a Keep's process does (setsid(2)). A terminal's Ctrl-C then
         * reaches keep, which ends the Keep (wait_child).
         */
        if (setsid() < 0)
            child_fail(p, KEEP_E_NIL_SPAWN, "setsid: %s", strerror(errno));
    }
    syscall(SYS_execveat, p->program_fd, "", cfg->argv, p->envp, AT_EMPTY_PATH);
    child_fail(p, KEEP_E_NIL_SPAWN, "cannot execute %s: %s", cfg->program, strerror(errno));
}

/* Can this process make the namespaces the plan needs? Probe in a throwaway child. */
static bool namespaces_work(int flags)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(unshare(flags) == 0 ? 0 : 1);
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return false;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int plan_flags(const struct nil_plan *p)
{
    return (p->new_user_ns ? CLONE_NEWUSER : 0) |
           (p->confined ? CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC : 0) |
           (p->new_net_ns ? CLONE_NEWNET : 0);
}

/*
 * Settle how the child gets the namespaces the plan asks for: inside a new
 * user namespace (uid KEEP_NIL_ID), whoever runs keep; as root, if the
 * machine refuses user namespaces, directly with CAP_SYS_ADMIN (the workload
 * then stays uid 0, without capabilities). False when neither works.
 */
static bool choose_namespaces(struct nil_plan *p)
{
    p->new_user_ns = false;
    if (!plan_flags(p))
        return true;
    p->new_user_ns = true;
    if (namespaces_work(plan_flags(p)))
        return true;
    p->new_user_ns = false;
    return geteuid() == 0 && namespaces_work(plan_flags(p));
}

/*
 * fork, but straight into the plan's namespaces: with CLONE_NEWPID the child
 * is init (pid 1) of its own PID namespace (pid_namespaces(7)), so it sees
 * and can signal no host process, and keep waits on it as on any child. No
 * new stack: the child runs on a copy of this one, as after fork(2). The
 * child only does what child() does (no allocation, no stdio buffers: they
 * were flushed), so skipping glibc's fork handlers is safe.
 */
static pid_t spawn_child(const struct nil_plan *p)
{
    return (pid_t)syscall(SYS_clone, (unsigned long)(SIGCHLD | plan_flags(p)), NULL, NULL, NULL,
                          0UL);
}

static void warn_limits(const struct keep_config *cfg, bool net_isolated)
{
    keep_log(KEEP_LOG_WARN,
             "nil backend: the workload runs as an ordinary process with NO isolation from the "
             "host and nothing to attest; use it only for development");
    if (cfg->listen_count || cfg->connect_count)
        keep_log(KEEP_LOG_WARN,
                 "nil backend: --listen/--connect are NOT enforced; the workload shares the "
                 "host's network and can reach any address");
    else if (!net_isolated)
        keep_log(KEEP_LOG_WARN,
                 "nil backend: no network namespace available; the workload shares the host's "
                 "network although no --listen/--connect was given");
    if (cfg->hostile_host != KEEP_HOSTILE_NONE)
        keep_log(KEEP_LOG_WARN, "nil backend: --hostile-host has no effect (there is no host "
                                "call channel to fault)");
}

static volatile pid_t running_child;
static volatile sig_atomic_t interrupt_forwarded;

/* "/proc/PID" then tail into path; only async-signal-safe work. */
static void proc_path(char *path, pid_t pid, const char *tail)
{
    char digits[16];
    int n = 0, len = 6;
    memcpy(path, "/proc/", 6);
    for (pid_t p = pid; p > 0 && n < 15; p /= 10)
        digits[n++] = (char)('0' + p % 10);
    while (n > 0)
        path[len++] = digits[--n];
    size_t t = strlen(tail);
    memcpy(path + len, tail, t + 1);
}

/*
 * The workload: the child's first child when the child is the init of the
 * workload's own PID namespace (/proc/PID/task/PID/children, proc(5)), else
 * the child itself.
 */
static pid_t workload_pid(pid_t child)
{
    char path[80], buf[64];
    proc_path(path, child, "/task/");
    size_t len = strlen(path);
    char tail[32];
    proc_path(tail, child, "/children");
    memcpy(path + len, tail + 6, strlen(tail + 6) + 1); /* "/proc/P/task/" + "P/children" */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return child;
    ssize_t got = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    pid_t first = 0;
    for (ssize_t i = 0; i < got && buf[i] >= '0' && buf[i] <= '9'; i++)
        first = first * 10 + (buf[i] - '0');
    return first > 0 ? first : child;
}

/* Does /proc/PID/status say the process catches SIGINT? Only async-signal-safe calls. */
static bool catches_sigint(pid_t pid)
{
    char path[40], buf[2048];
    proc_path(path, pid, "/status");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t got = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (got <= 0)
        return false;
    buf[got] = 0;
    /* proc(5): "SigCgt:" and 16 hex digits, the mask of caught signals; SIGINT is bit 1. */
    const char *c = strstr(buf, "SigCgt:");
    if (!c)
        return false;
    c += 7;
    while (*c == '\t' || *c == ' ')
        c++;
    for (int i = 0; i < 15; i++)
        if (!c[i])
            return false;
    char last = c[15]; /* the digit holding signals 1..4 */
    int v = last >= '0' && last <= '9'   ? last - '0'
            : last >= 'a' && last <= 'f' ? last - 'a' + 10
                                         : 0;
    return v & 2;
}

bool keep_nil_forward_interrupt(bool child_has_it)
{
    pid_t pid = running_child;
    if (pid <= 0 || interrupt_forwarded)
        return false;
    pid = workload_pid(pid);
    if (!catches_sigint(pid))
        return false;
    interrupt_forwarded = 1;
    if (!child_has_it)
        kill(pid, SIGINT);
    return true;
}

/*
 * Sleep until the child may have ended or a stop signal arrived. SIGINT and
 * SIGTERM are blocked by the caller and unblocked only inside ppoll, so one
 * that arrives between the caller's check and the sleep is not lost
 * (ppoll(2)). Without a pidfd (kernels before 5.3) it wakes every 50 ms.
 */
static void sleep_on_child(int pidfd, const sigset_t *unblocked)
{
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
    struct timespec tick = {.tv_nsec = 50 * 1000 * 1000};
    ppoll(&pfd, pidfd >= 0 ? 1 : 0, pidfd >= 0 ? NULL : &tick, unblocked);
}

/*
 * Wait for the workload. A stop request (keep_run_stop_requested: SIGINT or
 * SIGTERM to keep) ends it with SIGKILL, as the kvm backend ends a Keep
 * whatever the workload does with signals: a terminal's Ctrl-C reaches the
 * workload itself (same process group), but a signal sent to keep alone
 * (kill(1), systemd) would otherwise leave keep waiting on it forever.
 */
static int wait_child(pid_t pid, int status_fd, int *exit_status, struct keep_error *err)
{
    sigset_t stops, old;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stops, &old);
    sigset_t unblocked = old;
    sigdelset(&unblocked, SIGINT);
    sigdelset(&unblocked, SIGTERM);
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    bool killed = false;
    running_child = pid; /* keep_nil_forward_interrupt() may send it the first SIGINT */
    int st = 0, rc = KEEP_OK;
    for (;;) {
        if (keep_run_stop_requested() && !killed) {
            kill(pid, SIGKILL);
            killed = true;
        }
        pid_t got = waitpid(pid, &st, WNOHANG);
        if (got == pid)
            break;
        if (got < 0 && errno != EINTR) {
            rc = keep_fail(err, KEEP_E_NIL_WAIT, "waitpid for workload %d: %s", (int)pid,
                           strerror(errno));
            break;
        }
        sleep_on_child(pidfd, &unblocked);
    }
    running_child = 0;
    if (pidfd >= 0)
        close(pidfd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc)
        return rc;
    /* Confined, pid is the namespace's init; it passed on the workload's status. */
    int workload_st;
    if (!killed && status_fd >= 0 &&
        read(status_fd, &workload_st, sizeof(workload_st)) == (ssize_t)sizeof(workload_st))
        st = workload_st;
    if (killed) {
        /* keep_run reports the stop as 128 + the stop signal. */
        *exit_status = 128 + SIGKILL;
    } else if (WIFSIGNALED(st)) {
        *exit_status = 128 + WTERMSIG(st);
        fprintf(stderr, "keep: workload killed by signal %d (%s)\n", WTERMSIG(st),
                strsignal(WTERMSIG(st)));
    } else {
        *exit_status = WEXITSTATUS(st);
    }
    return KEEP_OK;
}

int keep_nil_run(const struct keep_config *cfg, int *exit_status, struct keep_error *err)
{
    char root[] = "/tmp/keep-nil-root-XXXXXX";
    struct nil_plan plan = {
        .cfg = cfg, .program_fd = -1, .report_fd = -1, .status_fd = -1, .stdio = {-1, -1, -1}};
    int stdio_restore[3] = {-1, -1, -1};
    int pipefd[2] = {-1, -1}, statusfd[2] = {-1, -1};
    int rc = KEEP_OK;

    plan.confined = true;
    if (keep_netpolicy_has_unix(cfg->listen, cfg->listen_count))
        keep_log(KEEP_LOG_WARN, "nil backend: the directory of each --listen unix:PATH is "
                                "visible to the workload at the same path");
    plan.new_net_ns = cfg->listen_count == 0 && cfg->connect_count == 0;
    /* The network namespace is a bonus: without it nil still runs, and says so. */
    if (!choose_namespaces(&plan) && plan.new_net_ns) {
        plan.new_net_ns = false;
        choose_namespaces(&plan);
    }
    if (!choose_namespaces(&plan)) {
        /*
         * Unconfined, root's workload could signal every host process and
         * write root's files; an ordinary user's can do no more than the
         * user, so only --volume (which promises a file system of volumes)
         * needs the namespaces.
         */
        if (geteuid() == 0 || cfg->volume_count)
            return keep_fail(err, KEEP_E_NIL_NAMESPACES,
                             "nil backend: %s needs PID and mount namespaces, which this machine "
                             "refuses (see /proc/sys/user/max_user_namespaces); use the kvm "
                             "backend",
                             cfg->volume_count ? "--volume" : "running as root");
        plan.confined = false;
        choose_namespaces(&plan);
        keep_log(KEEP_LOG_WARN,
                 "nil backend: no PID or mount namespace available; the workload "
                 "sees the host's processes and files as uid %u",
                 (unsigned)geteuid());
    } else if (!plan.new_user_ns) {
        keep_log(KEEP_LOG_WARN, "nil backend: no user namespace available; the workload runs as "
                                "uid 0 without capabilities");
    }
    warn_limits(cfg, plan.new_net_ns);

    plan.program_fd = open(cfg->program, O_RDONLY | O_CLOEXEC);
    if (plan.program_fd < 0)
        return keep_fail(err, KEEP_E_NIL_SPAWN, "cannot open program %s: %s", cfg->program,
                         strerror(errno));
    if (plan.confined) {
        if (!mkdtemp(root)) {
            rc = keep_fail(err, KEEP_E_NIL_SPAWN, "cannot create the empty root %s: %s", root,
                           strerror(errno));
            goto out;
        }
        plan.root = root;
    }
    plan.envp = calloc(cfg->env_count + 1, sizeof(char *));
    if (!plan.envp) {
        rc = keep_fail(err, KEEP_E_NOMEM, "out of memory for %zu environment strings",
                       cfg->env_count);
        goto out;
    }
    if (cfg->env_count)
        memcpy(plan.envp, cfg->env, cfg->env_count * sizeof(char *));
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        rc = keep_fail(err, KEEP_E_NIL_SPAWN, "pipe: %s", strerror(errno));
        goto out;
    }
    plan.report_fd = pipefd[1];
    if (plan.confined && pipe2(statusfd, O_CLOEXEC) < 0) {
        rc = keep_fail(err, KEEP_E_NIL_SPAWN, "pipe: %s", strerror(errno));
        goto out;
    }
    plan.status_fd = statusfd[1];
    for (int i = 0; i < 3; i++)
        plan.stdio[i] = keep_exec_stdio_fd(i, &stdio_restore[i]);
    uid_t uid = geteuid();
    gid_t gid = getegid();
    fflush(NULL);
    pid_t pid = spawn_child(&plan);
    if (pid < 0) {
        rc = keep_fail(err, KEEP_E_NIL_SPAWN, "clone(flags 0x%x): %s", plan_flags(&plan),
                       strerror(errno));
        goto out;
    }
    if (pid == 0)
        child(&plan, uid, gid);
    close(pipefd[1]);
    pipefd[1] = -1;
    if (statusfd[1] >= 0)
        close(statusfd[1]);
    statusfd[1] = -1;

    /* EOF on the pipe: exec succeeded (O_CLOEXEC closed it). A report: it failed. */
    struct setup_report report;
    ssize_t n;
    do
        n = read(pipefd[0], &report, sizeof(report));
    while (n < 0 && errno == EINTR);
    int wait_rc =
        wait_child(pid, statusfd[0], exit_status, n == (ssize_t)sizeof(report) ? NULL : err);
    if (n == (ssize_t)sizeof(report)) {
        report.message[sizeof(report.message) - 1] = '\0';
        rc = keep_fail(err, report.code, "nil backend: %s", report.message);
    } else {
        rc = wait_rc;
    }
out:
    for (int i = 0; i < 3; i++) {
        if (plan.stdio[i] >= 0)
            close(plan.stdio[i]);
        if (stdio_restore[i] >= 0) /* a shared description: the caller's flags back */
            fcntl(i, F_SETFL, stdio_restore[i]);
    }
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    for (int i = 0; i < 2; i++)
        if (statusfd[i] >= 0)
            close(statusfd[i]);
    close(plan.program_fd);
    free(plan.envp);
    if (plan.root)
        rmdir(plan.root);
    return rc;
}
