/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Paths into /run/keep (src/shim/keepfs.c): the lexical normalisation of a
 * workload's path, freestanding so the host builds it too for
 * tests/unit/test_keepfs_path.c and tests/fuzz/fuzz_keepfs_path.c.
 */
#ifndef KEEP_SHIM_KEEPFS_PATH_H
#define KEEP_SHIM_KEEPFS_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define KEEPFS_NAME_MAX 112 /* bytes of a name below /run/keep, with its NUL */
#define KEEPFS_DEPTH    8   /* components, "run" and "keep" included */

enum keepfs_where {
    KEEPFS_ELSEWHERE = 0, /* not in /run/keep: the host's */
    KEEPFS_INSIDE = 1,    /* /run/keep or below: *name filled */
    KEEPFS_RUN = 2,       /* exactly /run, the parent of /run/keep */
};
#define KEEPFS_ENOENT       2 /* Linux errno values, returned negated */
#define KEEPFS_ENAMETOOLONG 36

/*
 * Normalise path (NUL-terminated) lexically: absolute, or relative to the
 * /run/keep directory base (a name as *name holds, "" for /run/keep; NULL
 * when the path is relative to anything else). "." goes, ".." climbs (not
 * above "/"), repeated '/' count once. Returns enum keepfs_where or
 * -errno; with KEEPFS_INSIDE, name is the rest below /run/keep ("",
 * "key.pem", "secrets/db") and *slash says whether path ended in '/'.
 * /run/keep holds no symbolic links, so lexical is exact there.
 */
int keepfs_path_name(const char *path, const char *base, char name[KEEPFS_NAME_MAX], bool *slash);

#endif
