/* SPDX-License-Identifier: Apache-2.0 */
#include "host/volumes.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/util.h"

static bool openat2_works(int dirfd)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC | O_DIRECTORY,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, dirfd, ".", &how, sizeof(how));
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/*
 * True when ro volume in's host directory lies beneath rw volume out's at
 * the same place the guest sees it (host out/R, guest out/R): Linux resolves
 * a symlink in out that points into R through the guest's mounts, so into
 * the ro volume (EROFS); openat2 beneath out's root would reach the same
 * host files writable. (Elsewhere in the guest, R is writable through out on
 * Linux too: bind mounts behave the same.)
 */
static bool holds_read_only(const struct keep_volume *out, const struct keep_volume *in)
{
    char *o = realpath(out->host_dir, NULL), *i = realpath(in->host_dir, NULL);
    bool held = false;
    if (o && i) {
        size_t on = strcmp(o, "/") == 0 ? 0 : strlen(o);
        size_t gn = strcmp(out->guest_dir, "/") == 0 ? 0 : strlen(out->guest_dir);
        held = strncmp(i, o, on) == 0 && i[on] == '/' &&
               strncmp(in->guest_dir, out->guest_dir, gn) == 0 &&
               strcmp(in->guest_dir + gn, i + on) == 0;
    }
    free(o);
    free(i);
    return held;
}

static void mark_nested_read_only(struct keep_volumes *vols, const struct keep_volume *cfg_vols)
{
    for (size_t a = 0; a < vols->count; a++) {
        for (size_t b = 0; b < vols->count && !vols->roots[a].read_only; b++) {
            if (b == a || !cfg_vols[b].read_only || !holds_read_only(&cfg_vols[a], &cfg_vols[b]))
                continue;
            if (!vols->roots[a].no_symlinks)
                keep_log(KEEP_LOG_WARN,
                         "volume %s holds the host directory of read-only volume %s: symlinks "
                         "in %s are not followed (ELOOP), so none reaches %s writable",
                         cfg_vols[a].guest_dir, cfg_vols[b].guest_dir, cfg_vols[a].guest_dir,
                         cfg_vols[b].guest_dir);
            vols->roots[a].no_symlinks = true;
        }
    }
}

int keep_volumes_open(struct keep_volumes *vols, const struct keep_volume *cfg_vols, size_t count,
                      struct keep_error *err)
{
    memset(vols, 0, sizeof(*vols));
    if (count == 0)
        return KEEP_OK;
    vols->roots = calloc(count, sizeof(*vols->roots));
    if (!vols->roots)
        return keep_fail(err, KEEP_E_NOMEM, "out of memory for %zu volumes", count);
    for (size_t i = 0; i < count; i++) {
        struct keep_volume_root *r = &vols->roots[i];
        r->root_fd = open(cfg_vols[i].host_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (r->root_fd < 0) {
            int saved = errno;
            vols->count = i;
            keep_volumes_close(vols);
            return keep_fail(err, KEEP_E_VOLUME_OPEN,
                             "volume %s:%s: cannot open host directory: %s", cfg_vols[i].host_dir,
                             cfg_vols[i].guest_dir, strerror(saved));
        }
        r->guest_dir = cfg_vols[i].guest_dir;
        r->guest_dir_len = strlen(cfg_vols[i].guest_dir);
        r->read_only = cfg_vols[i].read_only;
    }
    vols->count = count;
    vols->use_openat2 = openat2_works(vols->roots[0].root_fd);
    mark_nested_read_only(vols, cfg_vols);
    return KEEP_OK;
}

void keep_volumes_close(struct keep_volumes *vols)
{
    for (size_t i = 0; i < vols->count; i++)
        close(vols->roots[i].root_fd);
    free(vols->roots);
    memset(vols, 0, sizeof(*vols));
}

/* Append one component to the normalised path in out (length *len). */
static int push_component(char *out, size_t out_size, size_t *len, const char *comp,
                          size_t comp_len)
{
    if (comp_len == 0 || (comp_len == 1 && comp[0] == '.'))
        return 0;
    if (comp_len == 2 && comp[0] == '.' && comp[1] == '.') {
        /* Lexical "..": drop the last component, never above "/". */
        while (*len > 1 && out[*len - 1] != '/')
            (*len)--;
        if (*len > 1)
            (*len)--;
        out[*len] = '\0';
        return 0;
    }
    size_t need = *len + (*len > 1 ? 1 : 0) + comp_len + 1;
    if (need > out_size)
        return -ENAMETOOLONG;
    if (*len > 1)
        out[(*len)++] = '/';
    memcpy(out + *len, comp, comp_len);
    *len += comp_len;
    out[*len] = '\0';
    return 0;
}

/*
 * The next component of the path at *p: its start, its length in *len
 * (0 for the empty component at a trailing '/'); *p moves past it. NULL at
 * the end of the path.
 */
static const char *next_component(const char **p, size_t *len)
{
    if (**p == '\0')
        return NULL;
    while (**p == '/')
        (*p)++;
    const char *start = *p;
    while (**p && **p != '/')
        (*p)++;
    *len = (size_t)(*p - start);
    return start;
}

static int push_path(char *out, size_t out_size, size_t *len, const char *path)
{
    const char *comp;
    size_t comp_len;
    while ((comp = next_component(&path, &comp_len)) != NULL) {
        int rc = push_component(out, out_size, len, comp, comp_len);
        if (rc)
            return rc;
    }
    return 0;
}

enum keep_path_tail keep_guest_path_tail(const char *path)
{
    size_t end = strlen(path);
    bool slash = false;
    while (end > 0 && path[end - 1] == '/') {
        end--;
        slash = true;
    }
    if (end == 0)
        return KEEP_TAIL_NONE; /* "/" or "": the root itself, or nothing */
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    if (end - start == 1 && path[start] == '.')
        return KEEP_TAIL_DOT;
    if (end - start == 2 && path[start] == '.' && path[start + 1] == '.')
        return KEEP_TAIL_DOTDOT;
    return slash ? KEEP_TAIL_SLASH : KEEP_TAIL_NONE;
}

int keep_guest_rel_with_tail(const char *rel, enum keep_path_tail tail, char *out, size_t out_size)
{
    static const char *const suffix[] = {"", "/", "/.", "/.."};
    const char *add = suffix[tail];
    if (rel[0] == '\0' && tail != KEEP_TAIL_NONE)
        add = tail == KEEP_TAIL_SLASH ? "" : add + 1; /* the root: "", ".", ".." */
    size_t n = strlen(rel), m = strlen(add);
    if (n + m + 1 > out_size)
        return -ENAMETOOLONG;
    memmove(out, rel, n);
    memcpy(out + n, add, m + 1);
    return 0;
}

bool keep_guest_path_has_dotdot(const char *path)
{
    const char *comp;
    size_t len;
    while ((comp = next_component(&path, &len)) != NULL) {
        if (len == 2 && comp[0] == '.' && comp[1] == '.')
            return true;
    }
    return false;
}

int keep_guest_path_normalise(const char *dir, const char *path, char *out, size_t out_size)
{
    if (path[0] == '\0')
        return -ENOENT; /* POSIX: an empty path names nothing */
    if (out_size < 2)
        return -ENAMETOOLONG;
    size_t len = 1;
    out[0] = '/';
    out[1] = '\0';
    if (path[0] != '/') {
        int rc = push_path(out, out_size, &len, dir);
        if (rc)
            return rc;
    }
    return push_path(out, out_size, &len, path);
}

/* 0 when the normalised absolute abs is a directory in the Keep, or -errno. */
static int is_keep_dir(const struct keep_volumes *vols, const char *abs)
{
    const char *rel;
    if (keep_volumes_is_synthetic_dir(vols, abs))
        return 0;
    int vol = keep_volumes_lookup(vols, abs, &rel);
    if (vol < 0)
        return vol;
    int fd = keep_volumes_openat(vols, vol, rel, O_PATH | O_DIRECTORY, 0);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

int keep_volumes_check_dotdot(const struct keep_volumes *vols, const char *dir, const char *path)
{
    char abs[KEEP_VOLUME_PATH_MAX] = "/";
    size_t len = 1, comp_len;
    const char *comp;
    int rc = path[0] == '/' ? 0 : push_path(abs, sizeof(abs), &len, dir);
    while (rc == 0 && (comp = next_component(&path, &comp_len)) != NULL) {
        if (comp_len == 2 && comp[0] == '.' && comp[1] == '.' && (rc = is_keep_dir(vols, abs)))
            break;
        rc = push_component(abs, sizeof(abs), &len, comp, comp_len);
    }
    return rc;
}

int keep_volumes_lookup(const struct keep_volumes *vols, const char *abs, const char **rel)
{
    int best = -1;
    size_t best_len = 0;
    for (size_t i = 0; i < vols->count; i++) {
        const struct keep_volume_root *r = &vols->roots[i];
        /* A prefix only at a component boundary: "/data" holds "/data/x", not "/database". */
        if (strncmp(abs, r->guest_dir, r->guest_dir_len) != 0)
            continue;
        char next = abs[r->guest_dir_len];
        if (next != '\0' && next != '/')
            continue;
        if (r->guest_dir_len > best_len) {
            best = (int)i;
            best_len = r->guest_dir_len;
        }
    }
    if (best < 0)
        return -ENOENT;
    const char *p = abs + best_len;
    while (*p == '/')
        p++;
    *rel = p;
    return best;
}

bool keep_volumes_is_synthetic_dir(const struct keep_volumes *vols, const char *abs)
{
    const char *rel;
    size_t n = strlen(abs);
    if (abs[0] != '/')
        return false; /* not a normalised absolute path ("": a path that names nothing) */
    if (keep_volumes_lookup(vols, abs, &rel) >= 0)
        return false; /* inside a volume: the host's directory, or nothing */
    if (n == 1 && abs[0] == '/')
        return true;
    for (size_t i = 0; i < vols->count; i++) {
        const struct keep_volume_root *r = &vols->roots[i];
        if (r->guest_dir_len > n && strncmp(r->guest_dir, abs, n) == 0 && r->guest_dir[n] == '/')
            return true;
    }
    return false;
}

/* Component walk for kernels without openat2: no symlink is followed at all. */
static int walk_nofollow(int root_fd, const char *rel, int flags, mode_t mode)
{
    char comp[256];
    int cur = root_fd;
    const char *p = rel;
    for (;;) {
        const char *start = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - start);
        if (n >= sizeof(comp)) {
            if (cur != root_fd)
                close(cur);
            return -ENAMETOOLONG;
        }
        memcpy(comp, start, n);
        comp[n] = '\0';
        bool slash = *p == '/';
        while (*p == '/')
            p++;
        bool last = *p == '\0';
        if (last && slash && n + 1 < sizeof(comp)) {
            comp[n] = '/'; /* "f/": the kernel demands a directory */
            comp[n + 1] = '\0';
        }
        int next = last ? openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode)
                        : openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        if (cur != root_fd)
            close(cur);
        if (next < 0)
            return -saved;
        if (last)
            return next;
        cur = next;
    }
}

int keep_volumes_openat(const struct keep_volumes *vols, int vol, const char *rel, int flags,
                        mode_t mode)
{
    const struct keep_volume_root *r = &vols->roots[vol];
    char up[KEEP_VOLUME_PATH_MAX];
    const char *path = rel[0] ? rel : ".";
    size_t n = strlen(path);
    if ((n == 2 || (n > 2 && path[n - 3] == '/')) && strcmp(path + n - 2, "..") == 0) {
        /* The lexical ".." already happened: open the result itself, as a directory. */
        if (n >= sizeof(up))
            return -ENAMETOOLONG;
        memcpy(up, path, n - 1);
        up[n - 1] = '\0';
        path = up;
    }
    /* __O_TMPFILE includes O_DIRECTORY's bit: test all of it. */
    if (!(flags & O_CREAT) && (flags & __O_TMPFILE) != __O_TMPFILE)
        mode = 0; /* openat2 refuses a mode without O_CREAT / O_TMPFILE */
    if (vols->use_openat2) {
        struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
                               .mode = mode & 07777,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                                          (r->no_symlinks ? RESOLVE_NO_SYMLINKS : 0)};
        int fd = (int)syscall(SYS_openat2, r->root_fd, path, &how, sizeof(how));
        return fd < 0 ? -errno : fd;
    }
    return walk_nofollow(r->root_fd, path, flags, mode & 07777);
}

int keep_volumes_open_parent(const struct keep_volumes *vols, int vol, const char *rel,
                             const char **name)
{
    size_t end = strlen(rel);
    while (end > 0 && rel[end - 1] == '/')
        end--; /* a trailing '/' belongs to the name: the kernel checks it */
    if (end == 0)
        return -EBUSY;
    const char *slash = memrchr(rel, '/', end);
    if (!slash) {
        *name = rel;
        int fd = fcntl(vols->roots[vol].root_fd, F_DUPFD_CLOEXEC, 0);
        return fd < 0 ? -errno : fd;
    }
    char parent[KEEP_VOLUME_PATH_MAX];
    size_t n = (size_t)(slash - rel);
    if (n >= sizeof(parent))
        return -ENAMETOOLONG;
    memcpy(parent, rel, n);
    parent[n] = '\0';
    *name = slash + 1;
    return keep_volumes_openat(vols, vol, parent, O_PATH | O_DIRECTORY, 0);
}
