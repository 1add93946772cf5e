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

#include "common/channel.h"
#include "common/util.h"
#include "keep/error.h"

enum keep_backend { KEEP_BACKEND_AUTO, KEEP_BACKEND_KVM, KEEP_BACKEND_NIL };

/* How forwarded calls move data (docs/KEEP.md, "Two data paths"). */
enum keep_channel_path {
    KEEP_CHANNEL_DIRECT = 0, /* host reads/writes workload buffers in guest memory */
    KEEP_CHANNEL_BOUNCE = 1, /* shim copies through the shared pages (SEV-SNP/TDX/SGX) */
};
_Static_assert(KEEP_CHANNEL_DIRECT == (int)KEEP_CHAN_PATH_DIRECT &&
                   KEEP_CHANNEL_BOUNCE == (int)KEEP_CHAN_PATH_BOUNCE,
               "--channel values are the channel header's path values (common/channel.h)");

struct keep_volume {
    char *host_dir;  /* absolute, resolved with realpath() at parse time */
    char *guest_dir; /* absolute, normalised ("/data"), never "/" alone */
    bool read_only;
};

/*
 * One --listen or --connect rule: an exact address and port, or (--listen
 * unix:PATH only) family AF_UNIX and an absolute socket path.
 */
struct keep_net_rule {
    char *text;       /* as given, for messages and the measurement */
    int family;       /* AF_INET, AF_INET6 or AF_UNIX */
    uint8_t addr[16]; /* network order; first 4 bytes for AF_INET */
    uint16_t port;    /* host order */
    char *unix_path;  /* AF_UNIX: the path the workload may bind (and the host binds) */
};

/* Longest unix:PATH path: sun_path (108 bytes, unix(7)) less its NUL. */
#define KEEP_UNIX_PATH_MAX 107

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
    KEEP_HOSTILE_MSG_NAMELEN,   /* recvmsg reports an address longer than a sockaddr_storage */
    KEEP_HOSTILE_SOCKADDR_LEN,  /* accept/recvfrom/getsockname/getpeername: addrlen 200 */
    KEEP_HOSTILE_DIRENT_RECLEN, /* getdents64: the first d_reclen runs past the bytes returned */
    KEEP_HOSTILE_DUP_FD,        /* dup2/dup3: newfd + 1; fcntl F_DUPFD: arg - 1; dup: fd 1031 */
    KEEP_HOSTILE_GETCWD_NUL,    /* getcwd fills the whole buffer with '/' and no NUL */
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

    /* keep run --steward (src/host/enroll.c, docs/KEEP.md "Enrolment"); all measured. */
    char *steward_url;            /* as given, NULL without --steward */
    struct keep_net_rule steward; /* its address: the enroller's one network grant */
    char *steward_ca_pem;         /* --steward-ca: the PEM the enroller pins the service to */
    char **secret_names, **secret_paths; /* --secret NAME:GUEST_PATH */
    size_t secret_count;
    uint8_t *enroller; /* the keep-enroll image */
    size_t enroller_size;
};

#define KEEP_DEFAULT_MEMORY_SIZE (256ull << 20)
/* --memory bounds: the shim needs a few pages, the host must be able to map it. */
#define KEEP_MIN_MEMORY_SIZE (2ull << 20)
#define KEEP_MAX_MEMORY_SIZE (64ull << 30)

/* Defaults: auto backend, direct channel, KEEP_DEFAULT_MEMORY_SIZE, nothing else. */
void keep_config_init(struct keep_config *cfg);
/* Free everything a parser allocated inside cfg (not cfg itself). */
void keep_config_free(struct keep_config *cfg);

/*
 * Parsers for one launch option each. They append to cfg (or fill *out) and
 * fail with a run.* code and a message naming the option and the value.
 */
/* "256M", "1G", "65536", "512K": a whole number of 4 KiB pages in [MIN, MAX]. */
KEEP_WARN_UNUSED int keep_parse_memory_size(const char *text, uint64_t *out,
                                            struct keep_error *err);
/* HOST_DIR:GUEST_DIR[:ro]; HOST_DIR resolved with realpath(), GUEST_DIR normalised. */
KEEP_WARN_UNUSED int keep_config_add_volume(struct keep_config *cfg, const char *text,
                                            struct keep_error *err);
/* ADDR:PORT, [IPv6]:PORT or NAME:PORT (resolved now, with getaddrinfo). */
KEEP_WARN_UNUSED int keep_parse_net_rule(const char *option, const char *text,
                                         struct keep_net_rule *rule, struct keep_error *err);
/* ADDR:PORT as above, or unix:PATH: an absolute path of at most KEEP_UNIX_PATH_MAX bytes. */
KEEP_WARN_UNUSED int keep_config_add_listen(struct keep_config *cfg, const char *text,
                                            struct keep_error *err);
KEEP_WARN_UNUSED int keep_config_add_connect(struct keep_config *cfg, const char *text,
                                             struct keep_error *err);
/* NAME=VALUE; NAME non-empty and given once. */
KEEP_WARN_UNUSED int keep_config_add_env(struct keep_config *cfg, const char *text,
                                         struct keep_error *err);
/* PROGRAM and its arguments: copies argv[0..argc-1]; argv[0] becomes cfg->program. */
KEEP_WARN_UNUSED int keep_config_set_program(struct keep_config *cfg, int argc, char *const *argv,
                                             struct keep_error *err);

/* What the launch-option parser found besides the configuration. */
struct keep_launch_extras {
    bool help;                     /* --help / -h was given */
    enum keep_log_level log_level; /* --log, KEEP_LOG_WARN by default */
};

/* The --help text of the launch options, one per line, for run and measure. */
extern const char keep_launch_options_help[];

/*
 * Parse the launch options shared by `keep run` and `keep measure`
 * (argv[0] is the command name), then PROGRAM [ARGS...]. Stops at the first
 * non-option or after "--". cfg must have been keep_config_init()ed.
 */
KEEP_WARN_UNUSED int keep_config_parse_args(struct keep_config *cfg, int argc, char **argv,
                                            struct keep_launch_extras *extras,
                                            struct keep_error *err);

#endif /* KEEP_HOST_CONFIG_H */
