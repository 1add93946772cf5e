/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The nil backend: the workload runs as a plain child process of keep.
 * There is NO isolation from the host and nothing to attest; it exists to
 * run and debug workloads where KVM is missing. docs/KEEP.md, "The nil
 * backend", says exactly what it enforces:
 *
 *  - argv as given, an empty environment plus --env, cwd "/";
 *  - exit status as the kvm backend reports it (128 + signal);
 *  - --memory as an address-space limit (RLIMIT_AS);
 *  - --volume: the child runs in a new mount namespace (a user namespace too
 *    unless keep is root) whose root, entered with pivot_root, is an empty
 *    read-only tmpfs holding only the volumes, bind-mounted at their guest
 *    paths (read-only ones remounted read-only). Without namespaces,
 *    volumes are refused (nil.namespaces);
 *  - no capabilities and no_new_privs, even when keep runs as root;
 *  - no --listen/--connect: the child gets a new network namespace, so it has
 *    no network at all (a warning says so if namespaces are unavailable);
 *  - with --listen/--connect: nil cannot enforce single addresses; the child
 *    shares the host's network and a warning says so.
 */
#ifndef KEEP_HOST_NIL_H
#define KEEP_HOST_NIL_H

#include <stdbool.h>

#include "host/config.h"
#include "keep/error.h"

/*
 * Run cfg->program with cfg->argv and cfg->env; wait for it. *exit_status is
 * its exit status, or 128 + the signal that killed it. Fails (nil.*) only
 * when the process could not be started.
 */
KEEP_WARN_UNUSED int keep_nil_run(const struct keep_config *cfg, int *exit_status,
                                  struct keep_error *err);

/*
 * Async-signal-safe, for SIGINT: the nil twin of keep_kvm_forward_interrupt().
 * When the running workload catches SIGINT (its /proc status SigCgt) and no
 * SIGINT was forwarded before, send it one (unless child_has_it: a terminal
 * signalled the whole group) and return true; else false.
 */
bool keep_nil_forward_interrupt(bool child_has_it);

#endif /* KEEP_HOST_NIL_H */
