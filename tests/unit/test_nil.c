/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The nil backend with a real static program (busybox): exit status,
 * 128 + signal, the empty environment, volumes in an empty root, read-only
 * volumes, the network namespace when no --listen/--connect is given, and
 * the PID namespace.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/nil.h"
#include "tap.h"

#define BUSYBOX "/bin/busybox"

static int run(struct keep_config *cfg, const char *script, struct keep_error *err)
{
    char *argv[] = {(char[]){"busybox"}, (char[]){"sh"}, (char[]){"-c"}, (char *)(uintptr_t)script,
                    NULL};
    int status = -1;
    cfg->program = BUSYBOX;
    cfg->argv = argv;
    cfg->argc = 4;
    int rc = keep_nil_run(cfg, &status, err);
    return rc ? -1000 - rc : status;
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, ch;
    if (!f)
        return -1;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

int main(void)
{
    struct keep_error err;
    struct stat st;
    if (stat(BUSYBOX, &st) != 0)
        skip_all("needs a static " BUSYBOX " (Debian busybox-static) to run as the workload");
    keep_log_set_level(KEEP_LOG_ERROR); /* the no-isolation warnings are expected here */
    struct keep_config cfg = {.backend = KEEP_BACKEND_NIL, .memory_size = 256ull << 20};

    is_int(run(&cfg, "exit 3", &err), 3, "exit status 3 comes back");
    is_int(run(&cfg, "kill -SEGV $$", &err), 128 + SIGSEGV, "killed by SIGSEGV: 139");
    is_int(run(&cfg, "[ -z \"$HOME\" ] && [ -z \"$LANG\" ]", &err), 0,
           "the environment is empty without --env (HOME, LANG unset)");
    char env1[] = "GREETING=hello", *envs[] = {env1};
    cfg.env = envs;
    cfg.env_count = 1;
    is_int(run(&cfg, "[ \"$GREETING\" = hello ] && [ -z \"$HOME\" ]", &err), 0,
           "--env GREETING=hello is all there is");
    cfg.env = NULL;
    cfg.env_count = 0;
    is_int(run(&cfg, "[ \"$(pwd)\" = / ]", &err), 0, "the cwd is /");
    is_int(run(&cfg, "[ \"$0\" = sh ] && [ \"$1\" = \"\" ]", &err), 0, "argv as given");

    /*
     * The Keep's root holds only volumes (no /proc): busybox comes in as a
     * read-only volume and asks the kernel over netlink (ip -o link: one
     * line per interface).
     */
    int host_lines = count_lines("/proc/self/net/dev");
    char bin_dir[] = "/bin";
    struct keep_volume bin = {bin_dir, bin_dir, true};
    cfg.volumes = &bin;
    cfg.volume_count = 1;
    if (host_lines > 3)
        is_int(run(&cfg, "[ $(/bin/busybox ip -o link | /bin/busybox wc -l) -eq 1 ]", &err), 0,
               "no --listen/--connect: only a loopback interface (new network namespace)");
    else
        ok(1, "# SKIP the host itself has only loopback; cannot tell namespaces apart");
    cfg.volumes = NULL;
    cfg.volume_count = 0;
    /* kill(2) with signal 0 probes: pid 1 is the Keep's init, no host process is there. */
    is_int(run(&cfg, "kill -0 -1", &err), 1, "kill -0 -1 finds no process outside the Keep");
    is_int(run(&cfg, "[ $$ -eq 2 ] && [ $PPID -eq 1 ]", &err), 0,
           "the workload is pid 2, its parent the namespace's init");

    char tmp[] = "/tmp/keep-test-nil-XXXXXX", rw[64], ro[64], path[128];
    if (!mkdtemp(tmp))
        return 1;
    snprintf(rw, sizeof(rw), "%s/rw", tmp);
    snprintf(ro, sizeof(ro), "%s/ro", tmp);
    mkdir(rw, 0755);
    mkdir(ro, 0755);
    snprintf(path, sizeof(path), "%s/rw/in.txt", tmp);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    char g1[] = "/data", g2[] = "/srv/ro";
    struct keep_volume vols[] = {{rw, g1, false}, {ro, g2, true}};
    cfg.volumes = vols;
    cfg.volume_count = 2;
    char *argv[] = {(char[]){"busybox"}, (char[]){"test"}, (char[]){"-f"}, (char[]){"/data/in.txt"},
                    NULL};
    int status = -1;
    cfg.program = BUSYBOX;
    cfg.argv = argv;
    cfg.argc = 4;
    int rc = keep_nil_run(&cfg, &status, &err);
    if (rc == KEEP_E_NIL_NAMESPACES) {
        ok(strstr(err.message, "namespaces") != NULL, "without namespaces volumes are refused: %s",
           err.message);
    } else {
        ok(rc == KEEP_OK && status == 0, "a volume's file is visible at its guest path (%s)",
           rc ? err.message : "ok");
        argv[3] = (char[]){"/etc/passwd"};
        ok(keep_nil_run(&cfg, &status, &err) == KEEP_OK && status == 1,
           "the host's /etc/passwd is not visible");
        argv[1] = (char[]){"touch"};
        argv[2] = (char[]){"/data/out.txt"};
        argv[3] = NULL;
        snprintf(path, sizeof(path), "%s/rw/out.txt", tmp);
        ok(keep_nil_run(&cfg, &status, &err) == KEEP_OK && status == 0 && stat(path, &st) == 0,
           "a file written in a rw volume appears in the host directory");
        argv[2] = (char[]){"/srv/ro/x"};
        snprintf(path, sizeof(path), "%s/ro/x", tmp);
        ok(keep_nil_run(&cfg, &status, &err) == KEEP_OK && status != 0 && stat(path, &st) != 0,
           "writing in a ro volume fails");
        argv[2] = (char[]){"/new-at-root"};
        ok(keep_nil_run(&cfg, &status, &err) == KEEP_OK && status != 0,
           "the root outside volumes is read-only");
    }
    cfg.program = "/nonexistent/program";
    is_int(keep_nil_run(&cfg, &status, &err), KEEP_E_NIL_SPAWN, "a missing program: nil.spawn");
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        diag("could not remove %s", tmp);
    return done_testing();
}
