/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep run --steward URL --steward-ca FILE [--secret NAME:GUEST_PATH]...:
 * the launch options of in-Keep enrolment (docs/KEEP.md, "Enrolment") and the
 * enroller's command line. The enroller (keep-enroll, src/steward/keep_enroll.c)
 * runs inside the Keep before the workload (src/shim/enroll.c).
 */
#ifndef KEEP_HOST_ENROLL_H
#define KEEP_HOST_ENROLL_H

#include "host/config.h"

/* --steward https://IPV4:PORT (the address also becomes the enroller's one network grant). */
KEEP_WARN_UNUSED int keep_config_set_steward(struct keep_config *cfg, const char *url,
                                             struct keep_error *err);
/* --steward-ca FILE: the PEM the enroller pins the service to (read now, measured). */
KEEP_WARN_UNUSED int keep_config_set_steward_ca(struct keep_config *cfg, const char *path,
                                                struct keep_error *err);
/* --secret NAME:GUEST_PATH (GUEST_PATH below /run/keep/), or NAME: /run/keep/secrets/NAME. */
KEEP_WARN_UNUSED int keep_config_add_secret(struct keep_config *cfg, const char *text,
                                            struct keep_error *err);
/* After the options: --steward and --steward-ca come together; reads keep-enroll
 * ($KEEP_ENROLLER, else keep-enroll beside the keep executable). */
KEEP_WARN_UNUSED int keep_config_finish_steward(struct keep_config *cfg, struct keep_error *err);

/* The enroller's argv (NULL-terminated, malloc'd; free with keep_enroll_argv_free). */
char **keep_enroll_argv(const struct keep_config *cfg, size_t *argc);
void keep_enroll_argv_free(char **argv, size_t argc);

#endif
