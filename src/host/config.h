/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The launch configuration of a Keep: everything `keep run` and `keep
 * measure` take from the command line. The launch measurement covers all of
 * it (src/host/measure.c), so two Keeps with equal configurations and equal
 * images have equal measurements on any machine.
 */
#ifndef KEEP_HOST_CONFIG_H
#define KEEP_HOST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "keep/error.h"

enum keep_backend { KEEP_BACKEND_AUTO, KEEP_BACKEND_KVM, KEEP_BACKEND_NIL };

/* How forwarded calls move data (docs/KEEP.md, "Two data paths"). */
enum keep_channel_path {
    KEEP_CHANNEL_DIRECT = 0, /* host reads/writes workload buffers in guest memory */
    KEEP_CHANNEL_BOUNCE = 1, /* shim copies through the shared pages (SEV-SNP/TDX/SGX) */
};

struct keep_volume {
    char *host_dir;  /* absolute, resolved with realpath() at parse time */
    char *guest_dir; /* absolute, normalised ("/data"), never "/" alone */
    bool read_only;
};

/* One --listen or --connect rule: an exact address and port. */
struct keep_net_rule {
    char *text;       /* as given, for messages and the measurement */
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network order; first 4 bytes for AF_INET */
    uint16_t port;    /* host order */
};

/*
 * Test-only fault injection for the host-call executor: it answers with a
 * wrong result so tests can show the shim catches it (`--hostile-host MODE`,
 * hidden from --help).
 */
enum keep_hostile_host {
    KEEP_HOSTILE_NONE = 0,
    KEEP_HOSTILE_READ_TOO_LONG, /* read returns more bytes than asked */
    KEEP_HOSTILE_BAD_FD,        /* openat returns an fd the host never opened */
    KEEP_HOSTILE_STAT_SIZE,     /* fstat reports more bytes than a struct stat */
};

struct keep_config {
    enum keep_backend backend;
    enum keep_channel_path channel;
    uint64_t memory_size; /* bytes of workload memory (--memory), page aligned */

    const char *program; /* host path of the ELF to run */
    char **argv;         /* argv[0..argc-1] passed to the workload; argv[argc] == NULL */
    size_t argc;
    char **env; /* NAME=VALUE strings from --env, in order given */
    size_t env_count;

    struct keep_volume *volumes;
    size_t volume_count;
    struct keep_net_rule *listen;
    size_t listen_count;
    struct keep_net_rule *connect;
    size_t connect_count;

    enum keep_hostile_host hostile_host;
};

#define KEEP_DEFAULT_MEMORY_SIZE (256ull << 20)

/* Free everything a parser allocated inside cfg (not cfg itself). */
void keep_config_free(struct keep_config *cfg);

#endif /* KEEP_HOST_CONFIG_H */
