/* SPDX-License-Identifier: Apache-2.0 */
/* Guest path normalisation, volume lookup and confined opens (host/volumes.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/volumes.h"
#include "tap.h"

static void norm(const char *dir, const char *path, const char *want)
{
    char out[KEEP_VOLUME_PATH_MAX];
    int rc = keep_guest_path_normalise(dir, path, out, sizeof(out));
    if (!ok(rc == 0 && strcmp(out, want) == 0, "normalise('%s', '%s') = '%s'", dir, path, want))
        diag("got rc %d, '%s'", rc, rc ? "" : out);
}

static void test_normalise(void)
{
    char small[8];
    norm("/", "/data/x", "/data/x");
    norm("/", "data/x", "/data/x");
    norm("/data", "x/y", "/data/x/y");
    norm("/", "//data///x//", "/data/x");
    norm("/", "/data/./x/.", "/data/x");
    norm("/", "/data/x/../y", "/data/y");
    norm("/", "/data/../../../etc", "/etc");
    norm("/data", "../..", "/");
    norm("/data/sub", "/abs", "/abs");
    norm("/", ".", "/");
    norm("/", "...", "/...");
    norm("/", "/a/..b/c..", "/a/..b/c..");
    is_int(keep_guest_path_normalise("/", "", small, sizeof(small)), -ENOENT, "empty path: ENOENT");
    is_int(keep_guest_path_normalise("/", "/abcdefgh", small, sizeof(small)), -ENAMETOOLONG,
           "a result longer than the buffer: ENAMETOOLONG");
    is_int(keep_guest_path_normalise("/abcd", "efgh", small, sizeof(small)), -ENAMETOOLONG,
           "dir + path longer than the buffer: ENAMETOOLONG");
}

static void test_has_dotdot(void)
{
    ok(keep_guest_path_has_dotdot("/a/../b"), "'/a/../b' has ..");
    ok(keep_guest_path_has_dotdot(".."), "'..' has ..");
    ok(keep_guest_path_has_dotdot("//x//..//"), "'//x//..//' has ..");
    ok(!keep_guest_path_has_dotdot("/a/..b/c../..."), "'/a/..b/c../...' has none");
    ok(!keep_guest_path_has_dotdot("/./a/."), "'/./a/.' has none");
    ok(!keep_guest_path_has_dotdot(""), "'' has none");
}

static void test_tail(void)
{
    is_int(keep_guest_path_tail("f"), KEEP_TAIL_NONE, "'f' ends in a name");
    is_int(keep_guest_path_tail("/a/f/"), KEEP_TAIL_SLASH, "'/a/f/' ends in '/'");
    is_int(keep_guest_path_tail("f//"), KEEP_TAIL_SLASH, "'f//' ends in '/'");
    is_int(keep_guest_path_tail("d/."), KEEP_TAIL_DOT, "'d/.' ends in '.'");
    is_int(keep_guest_path_tail("d/./"), KEEP_TAIL_DOT, "'d/./' ends in '.'");
    is_int(keep_guest_path_tail("."), KEEP_TAIL_DOT, "'.' is '.'");
    is_int(keep_guest_path_tail("a/.."), KEEP_TAIL_DOTDOT, "'a/..' ends in '..'");
    is_int(keep_guest_path_tail("a/..."), KEEP_TAIL_NONE, "'a/...' is a name");
    is_int(keep_guest_path_tail("/"), KEEP_TAIL_NONE, "'/' is the root");
    is_int(keep_guest_path_tail(""), KEEP_TAIL_NONE, "'' has no tail");

    char out[16];
    struct {
        const char *rel;
        enum keep_path_tail tail;
        const char *want;
    } cases[] = {{"f", KEEP_TAIL_NONE, "f"},      {"f", KEEP_TAIL_SLASH, "f/"},
                 {"a/d", KEEP_TAIL_DOT, "a/d/."}, {"a", KEEP_TAIL_DOTDOT, "a/.."},
                 {"", KEEP_TAIL_SLASH, ""},       {"", KEEP_TAIL_DOT, "."},
                 {"", KEEP_TAIL_DOTDOT, ".."}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = keep_guest_rel_with_tail(cases[i].rel, cases[i].tail, out, sizeof(out));
        ok(rc == 0 && strcmp(out, cases[i].want) == 0, "rel '%s' with tail %d is '%s'",
           cases[i].rel, cases[i].tail, cases[i].want);
    }
    is_int(keep_guest_rel_with_tail("0123456789abcd", KEEP_TAIL_DOT, out, sizeof(out)),
           -ENAMETOOLONG, "a rel and tail longer than the buffer: ENAMETOOLONG");
}

static char tmp[128];

static void mk(const char *rel, bool dir)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", tmp, rel);
    if (dir)
        mkdir(p, 0755);
    else
        close(open(p, O_CREAT | O_WRONLY, 0644));
}

static void test_lookup_and_open(bool openat2)
{
    char a[200], b[200], c[200], link[256];
    snprintf(a, sizeof(a), "%s/a", tmp);
    snprintf(b, sizeof(b), "%s/b", tmp);
    snprintf(c, sizeof(c), "%s/b/inner", tmp);
    char g1[] = "/data", g2[] = "/data/inner", g3[] = "/ro";
    struct keep_volume cfg[] = {{a, g1, false}, {c, g2, false}, {b, g3, true}};
    struct keep_volumes v;
    struct keep_error err;
    const char *rel, *name;
    const char *mode = openat2 ? "openat2" : "component walk";
    if (keep_volumes_open(&v, cfg, 3, &err) != KEEP_OK)
        return (void)ok(0, "open volumes: %s", err.message);
    if (!openat2)
        v.use_openat2 = false;
    else if (!v.use_openat2)
        return (void)ok(1, "# SKIP openat2 unavailable on this kernel");

    is_int(keep_volumes_lookup(&v, "/data/f", &rel), 0, "/data/f is in volume 0");
    is_str(rel, "f", "... at 'f'");
    is_int(keep_volumes_lookup(&v, "/data", &rel), 0, "/data is volume 0's root");
    is_str(rel, "", "... rel ''");
    is_int(keep_volumes_lookup(&v, "/data/inner/x", &rel), 1,
           "the longest prefix wins (/data/inner)");
    is_str(rel, "x", "... at 'x'");
    is_int(keep_volumes_lookup(&v, "/datax", &rel), -ENOENT, "/datax: not a component prefix");
    is_int(keep_volumes_lookup(&v, "/", &rel), -ENOENT, "/ is in no volume");
    is_int(keep_volumes_lookup(&v, "/etc/passwd", &rel), -ENOENT, "/etc/passwd: ENOENT");

    /* What the kernel gets back of a path's tail (issue 7: it was dropped). */
    is_int(keep_volumes_openat(&v, 0, "f/", O_WRONLY | O_TRUNC, 0), -ENOTDIR,
           "%s: 'f/' for writing is ENOTDIR (the file is not truncated)", mode);
    is_int(keep_volumes_openat(&v, 0, "new/", O_WRONLY | O_CREAT, 0644), -EISDIR,
           "%s: O_CREAT of 'new/' is EISDIR", mode);
    is_int(keep_volumes_openat(&v, 0, "new", O_PATH, 0), -ENOENT, "%s: ... and made nothing", mode);
    int dfd = keep_volumes_openat(&v, 0, "d/..", O_RDONLY | O_DIRECTORY, 0);
    ok(dfd >= 0, "%s: a final '..' (already applied lexically) opens the directory itself", mode);
    if (dfd >= 0)
        close(dfd);
    is_int(keep_volumes_openat(&v, 0, "..", O_RDONLY, 0) >= 0, 1,
           "%s: '..' at the volume root opens the root, never its host parent", mode);
    int pfd = keep_volumes_open_parent(&v, 0, "d/g/", &name);
    ok(pfd >= 0 && strcmp(name, "g/") == 0, "open_parent of 'd/g/' names 'g/' in 'd'");
    if (pfd >= 0) {
        is_int(unlinkat(pfd, name, 0) == 0 ? 0 : -errno, -ENOTDIR,
               "... and the kernel refuses to unlink 'g/' (a file): ENOTDIR");
        close(pfd);
    }
    is_int(keep_volumes_open_parent(&v, 0, "", &name), -EBUSY, "open_parent of the root: EBUSY");
    ok(keep_volumes_is_synthetic_dir(&v, "/"), "'/' is a synthetic directory");
    ok(!keep_volumes_is_synthetic_dir(&v, "/data"), "a volume root is not synthetic");
    ok(!keep_volumes_is_synthetic_dir(&v, "/dat"), "'/dat' (a prefix, not a component) is not");
    is_int(keep_volumes_check_dotdot(&v, "/", "/data/f/../d"), -ENOTDIR,
           "%s: 'f/..' with f a file is ENOTDIR, as Linux walks it", mode);
    is_int(keep_volumes_check_dotdot(&v, "/", "/data/nope/../d"), -ENOENT,
           "%s: 'nope/..' with nope missing is ENOENT", mode);
    is_int(keep_volumes_check_dotdot(&v, "/data", "d/../f"), 0, "%s: 'd/..' from /data is fine",
           mode);
    is_int(keep_volumes_check_dotdot(&v, "/", "/etc/../data"), -ENOENT,
           "'..' out of a directory the Keep does not have: ENOENT");
    is_int(keep_volumes_check_dotdot(&v, "/", "/../data/f"), 0, "'..' above '/' stays at '/'");

    int fd = keep_volumes_openat(&v, 0, "f", O_RDONLY, 0);
    ok(fd >= 0, "%s: open a file in the volume", mode);
    if (fd >= 0)
        close(fd);
    fd = keep_volumes_openat(&v, 0, "", O_RDONLY | O_DIRECTORY, 0);
    ok(fd >= 0, "%s: open the volume root", mode);
    if (fd >= 0)
        close(fd);
    fd = keep_volumes_openat(&v, 0, "d/g", O_RDONLY, 0);
    ok(fd >= 0, "%s: open a file in a subdirectory", mode);
    if (fd >= 0)
        close(fd);
    snprintf(link, sizeof(link), "%s/a/up", tmp);
    symlink("../b/secret", link);
    fd = keep_volumes_openat(&v, 0, "up", O_RDONLY, 0);
    ok(fd == -EXDEV || fd == -ELOOP, "%s: a symlink out of the volume is refused (%d)", mode, fd);
    snprintf(link, sizeof(link), "%s/a/dirlink", tmp);
    symlink("/", link);
    fd = keep_volumes_openat(&v, 0, "dirlink/etc/passwd", O_RDONLY, 0);
    ok(fd == -EXDEV || fd == -ELOOP || fd == -ENOTDIR,
       "%s: a symlinked directory out of the volume is refused (%d)", mode, fd);
    snprintf(link, sizeof(link), "%s/a/same", tmp);
    symlink("f", link);
    fd = keep_volumes_openat(&v, 0, "same", O_RDONLY, 0);
    if (openat2)
        ok(fd >= 0, "openat2: a symlink that stays inside is followed");
    else
        is_int(fd, -ELOOP, "component walk: every symlink is refused");
    if (fd >= 0)
        close(fd);

    fd = keep_volumes_open_parent(&v, 0, "d/g", &name);
    ok(fd >= 0, "%s: open_parent of d/g", mode);
    is_str(name, "g", "... names 'g'");
    ok(fd >= 0 && faccessat(fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0, "... and g is in it");
    if (fd >= 0)
        close(fd);
    fd = keep_volumes_open_parent(&v, 0, "f", &name);
    ok(fd >= 0 && strcmp(name, "f") == 0, "%s: open_parent of a top-level name", mode);
    if (fd >= 0)
        close(fd);
    is_int(keep_volumes_open_parent(&v, 0, "", &name), -EBUSY, "open_parent of the root: EBUSY");
    fd = keep_volumes_open_parent(&v, 0, "dirlink/x", &name);
    ok(fd < 0, "%s: open_parent through an escaping symlink is refused (%d)", mode, fd);
    unlink(link);
    snprintf(link, sizeof(link), "%s/a/up", tmp);
    unlink(link);
    snprintf(link, sizeof(link), "%s/a/dirlink", tmp);
    unlink(link);
    keep_volumes_close(&v);
}

/*
 * A read-only volume nested in a rw one, on the host too (--volume N:/n
 * --volume N/cfg:/n/cfg:ro): Linux resolves a symlink in /n that points to
 * "cfg" through the guest's mounts, into the ro volume (EROFS). Beneath the
 * rw volume's root it would reach the same host files writable, so symlinks
 * in that volume are not followed (ELOOP) and nothing is written.
 */
static void test_nested_read_only(void)
{
    char n[200], cfgdir[200], p[256];
    snprintf(n, sizeof(n), "%s/n", tmp);
    snprintf(cfgdir, sizeof(cfgdir), "%s/n/cfg", tmp);
    mk("n", true);
    mk("n/cfg", true);
    mk("n/cfg/f", false);
    mk("n/plain", false);
    snprintf(p, sizeof(p), "%s/n/link", tmp);
    if (symlink("cfg", p) < 0)
        abort();
    char g1[] = "/n", g2[] = "/n/cfg";
    struct keep_volume cfg[] = {{n, g1, false}, {cfgdir, g2, true}};
    struct keep_volumes v;
    struct keep_error err;
    if (keep_volumes_open(&v, cfg, 2, &err) != KEEP_OK)
        return (void)ok(0, "open volumes: %s", err.message);
    int fd = keep_volumes_openat(&v, 0, "link/f", O_WRONLY | O_TRUNC, 0);
    ok(fd < 0, "writing 'link/f' (a symlink into the nested ro volume) fails (%d)", fd);
    if (fd >= 0)
        close(fd);
    fd = keep_volumes_openat(&v, 0, "link/new", O_WRONLY | O_CREAT, 0644);
    ok(fd < 0, "creating 'link/new' fails (%d)", fd);
    if (fd >= 0)
        close(fd);
    snprintf(p, sizeof(p), "%s/n/cfg/new", tmp);
    ok(access(p, F_OK) != 0, "... and nothing was created in the ro volume's directory");
    fd = keep_volumes_openat(&v, 0, "plain", O_WRONLY, 0);
    ok(fd >= 0, "a file of the rw volume itself is still writable");
    if (fd >= 0)
        close(fd);
    keep_volumes_close(&v);
}

static void test_open_errors(void)
{
    char missing[] = "/nonexistent/keep/volume", g[] = "/x";
    struct keep_volume cfg = {missing, g, false};
    struct keep_volumes v;
    struct keep_error err;
    is_int(keep_volumes_open(&v, &cfg, 1, &err), KEEP_E_VOLUME_OPEN,
           "a missing host directory fails with channel.volume_open");
    ok(strstr(err.message, missing) != NULL, "the message names the directory: %s", err.message);
    is_int(keep_volumes_open(&v, NULL, 0, &err), KEEP_OK, "no volumes is fine");
    const char *rel;
    is_int(keep_volumes_lookup(&v, "/x", &rel), -ENOENT, "with no volumes every path is ENOENT");
    keep_volumes_close(&v);
}

int main(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/keep-test-volumes-XXXXXX");
    if (!mkdtemp(tmp))
        return 1;
    mk("a", true);
    mk("a/f", false);
    mk("a/d", true);
    mk("a/d/g", false);
    mk("b", true);
    mk("b/secret", false);
    mk("b/inner", true);
    test_normalise();
    test_has_dotdot();
    test_tail();
    test_lookup_and_open(true);
    test_lookup_and_open(false);
    test_nested_read_only();
    test_open_errors();
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        diag("could not remove %s", tmp);
    return done_testing();
}
