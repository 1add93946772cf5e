/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Volumes at run time: how a guest path becomes a host file, and why it
 * cannot become any other. docs/KEEP.md, "Syscall table" (paths).
 *
 * A guest path is first made absolute against its directory (the guest cwd
 * is "/") and normalised lexically: "." and empty components dropped, ".."
 * removes the previous component and stops at "/". The longest volume whose
 * guest directory is a prefix of the result holds the path; a path in no
 * volume does not exist (-ENOENT), and "/" itself is in no volume.
 *
 * The rest of the path is opened beneath the volume's root directory fd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so neither ".." nor a
 * symlink nor a /proc magic link inside the volume can leave it: the kernel
 * refuses with -EXDEV (absolute or escaping symlinks) or -ELOOP. Without
 * openat2 (Linux < 5.6) the path is walked one component at a time with
 * O_NOFOLLOW: symlinks are then refused outright (-ELOOP / -ENOTDIR).
 *
 * All functions return a host fd or 0 on success and -errno on failure: the
 * value goes straight back to the guest.
 */
#ifndef KEEP_HOST_VOLUMES_H
#define KEEP_HOST_VOLUMES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "host/config.h"
#include "keep/error.h"

/* Longest guest path, with its NUL (Linux PATH_MAX; KEEP_CHAN_PATH_MAX). */
#define KEEP_VOLUME_PATH_MAX 4096

struct keep_volume_root {
    const char *guest_dir; /* normalised, from the configuration */
    size_t guest_dir_len;
    int root_fd; /* O_PATH | O_DIRECTORY of the host directory */
    bool read_only;
    /* Holds a ro volume's host directory where the guest sees that volume too: no symlink
     * here is followed (keep_volumes_open), so none reaches the ro files writable. */
    bool no_symlinks;
};

struct keep_volumes {
    struct keep_volume_root *roots;
    size_t count;
    bool use_openat2; /* false: component walk with O_NOFOLLOW */
};

/* Open every volume's host directory. Fails with channel.volume_open. */
KEEP_WARN_UNUSED int keep_volumes_open(struct keep_volumes *vols,
                                       const struct keep_volume *cfg_vols, size_t count,
                                       struct keep_error *err);
void keep_volumes_close(struct keep_volumes *vols);

/*
 * Make path absolute against dir (an absolute, normalised guest path) and
 * normalise it into out (out_size bytes). -ENAMETOOLONG when it does not fit,
 * -ENOENT for an empty path.
 */
KEEP_WARN_UNUSED int keep_guest_path_normalise(const char *dir, const char *path, char *out,
                                               size_t out_size);

/*
 * What a path's end asks beyond its lexical result, which normalising drops
 * but the kernel acts on (path_resolution(7)): "f/" must be a directory
 * (open ENOTDIR, O_CREAT EISDIR, unlink ENOTDIR), a final "." or ".." names
 * no entry that could be removed or created (rmdir EINVAL / ENOTEMPTY,
 * mkdir EEXIST, unlink EISDIR).
 */
enum keep_path_tail {
    KEEP_TAIL_NONE = 0, /* ends in a name */
    KEEP_TAIL_SLASH,    /* ends in '/' after a name */
    KEEP_TAIL_DOT,      /* last component "." */
    KEEP_TAIL_DOTDOT,   /* last component ".." */
};
enum keep_path_tail keep_guest_path_tail(const char *path);

/*
 * rel (below a volume root, from keep_volumes_lookup) with tail put back,
 * into out: "f" + SLASH is "f/", + DOT "f/.", + DOTDOT "f/..". The root
 * ("") stays "" for SLASH (it is a directory), and becomes "." or "..".
 * keep_volumes_openat and keep_volumes_open_parent give the kernel that
 * text, so it applies Linux's rules itself. -ENAMETOOLONG when it does not fit.
 */
KEEP_WARN_UNUSED int keep_guest_rel_with_tail(const char *rel, enum keep_path_tail tail, char *out,
                                              size_t out_size);

/*
 * Linux walks "a/.." through a: it must be a directory (ENOTDIR for a file,
 * ENOENT when missing). Normalising drops both lexically; this checks, for
 * each ".." of path (against dir, as keep_guest_path_normalise), that what
 * it climbs out of is a directory in the Keep: one beneath a volume, or a
 * synthetic one. 0 or -errno. Only paths with ".." pay for it.
 */
KEEP_WARN_UNUSED int keep_volumes_check_dotdot(const struct keep_volumes *vols, const char *dir,
                                               const char *path);

/* True when a component of path is "..". */
bool keep_guest_path_has_dotdot(const char *path);

/*
 * The volume holding the normalised absolute guest path abs, or -ENOENT.
 * *rel points into abs at the path below the volume root ("" for the root).
 */
KEEP_WARN_UNUSED int keep_volumes_lookup(const struct keep_volumes *vols, const char *abs,
                                         const char **rel);

/*
 * True when the normalised absolute abs is "/" or a directory above a
 * volume ("/srv" for a volume at "/srv/data"): the Keep's synthetic
 * directories, which exist (mkdir EEXIST, stat a directory) but hold
 * nothing but the way to the volumes.
 */
bool keep_volumes_is_synthetic_dir(const struct keep_volumes *vols, const char *abs);

/*
 * Open rel (from keep_volumes_lookup, perhaps with its tail put back)
 * beneath volume vol. flags are host open flags (O_CLOEXEC is added); mode
 * is used only with O_CREAT/O_TMPFILE. A final ".." opens the lexical result
 * itself (rel already went up): it stays "/." so the kernel still demands a
 * directory, and never climbs out of the volume.
 */
KEEP_WARN_UNUSED int keep_volumes_openat(const struct keep_volumes *vols, int vol, const char *rel,
                                         int flags, mode_t mode);

/*
 * Open the directory that holds rel's last component beneath volume vol
 * (O_PATH) and point *name at that component, with its trailing '/' if it
 * has one ("a/f/" gives "a" and "f/"; "a/." gives "a" and "."). -EBUSY when
 * rel is the volume root itself (it has no name to unlink or rename).
 * Returns the fd, which the caller closes (it may be a dup of the root).
 * The name may be "." or "..", for calls that refuse such a name themselves
 * (unlinkat, mkdirat, renameat2: Linux's errno). A call that resolves the
 * name (utimensat, fchownat, linkat...) must not get one: ".." beside the
 * root would name the host directory that holds the volume.
 */
KEEP_WARN_UNUSED int keep_volumes_open_parent(const struct keep_volumes *vols, int vol,
                                              const char *rel, const char **name);

#endif /* KEEP_HOST_VOLUMES_H */
