/* SPDX-License-Identifier: Apache-2.0 */
/* Paths into /run/keep (src/shim/keepfs_path.c), built for the host from the shim's source. */
#include <string.h>

#include "shim/keepfs_path.h"
#include "tap.h"

static void expect(const char *path, const char *base, int want, const char *want_name,
                   bool want_slash)
{
    char name[KEEPFS_NAME_MAX];
    bool slash;
    int rc = keepfs_path_name(path, base, name, &slash);
    is_int(rc, want, "'%s' (from %s): %d", path, base ? base : "the cwd", want);
    if (want == KEEPFS_INSIDE)
        ok(strcmp(name, want_name) == 0 && slash == want_slash, "  name '%s' (want '%s'), slash %d",
           name, want_name, slash);
}

int main(void)
{
    expect("/run/keep", NULL, KEEPFS_INSIDE, "", false);
    expect("/run/keep/", NULL, KEEPFS_INSIDE, "", true);
    expect("/run/keep/key.pem", NULL, KEEPFS_INSIDE, "key.pem", false);
    expect("//run///keep/./key.pem", NULL, KEEPFS_INSIDE, "key.pem", false);
    expect("/run/keep/secrets/db", NULL, KEEPFS_INSIDE, "secrets/db", false);
    expect("/run/keep/secrets/../key.pem", NULL, KEEPFS_INSIDE, "key.pem", false);
    expect("/../run/keep/x", NULL, KEEPFS_INSIDE, "x", false);
    expect("/run/keep/key.pem/", NULL, KEEPFS_INSIDE, "key.pem", true);
    expect("/run/./keep/.", NULL, KEEPFS_INSIDE, "", false);
    expect("/run/keep/..", NULL, KEEPFS_RUN, "", false);
    expect("/run", NULL, KEEPFS_RUN, "", false);
    expect("/run/keeper", NULL, KEEPFS_ELSEWHERE, "", false);
    expect("/run/kee", NULL, KEEPFS_ELSEWHERE, "", false);
    expect("/etc/passwd", NULL, KEEPFS_ELSEWHERE, "", false);
    expect("/run/keep/../../etc", NULL, KEEPFS_ELSEWHERE, "", false);
    expect("/", NULL, KEEPFS_ELSEWHERE, "", false);
    expect("", NULL, KEEPFS_ELSEWHERE, "", false);
    expect("key.pem", NULL, KEEPFS_ELSEWHERE, "", false);
    expect("run/keep/key.pem", NULL, KEEPFS_ELSEWHERE, "", false);
    expect("key.pem", "", KEEPFS_INSIDE, "key.pem", false);
    expect("db", "secrets", KEEPFS_INSIDE, "secrets/db", false);
    expect("../ca.pem", "secrets", KEEPFS_INSIDE, "ca.pem", false);
    expect("../../x", "", KEEPFS_ELSEWHERE, "", false);
    expect("..", "", KEEPFS_RUN, "", false);
    expect("/run/keep/a/b/c/d/e/f", NULL, KEEPFS_INSIDE, "a/b/c/d/e/f", false);
    expect("/run/keep/a/b/c/d/e/f/g", NULL, -KEEPFS_ENOENT, "", false);
    /* Past KEEPFS_DEPTH, ".." climbs out of the components it did not keep, one by one. */
    expect("/run/keep/a/b/c/d/e/f/g/../../x", NULL, KEEPFS_INSIDE, "a/b/c/d/e/x", false);
    expect("/a/b/c/d/e/f/g/h/i/j/../../../../../../../../../../run/keep/key.pem", NULL,
           KEEPFS_INSIDE, "key.pem", false);
    expect("/a/b/c/d/e/f/g/h/i/j/../../../../../../../../../run/keep/key.pem", NULL,
           KEEPFS_ELSEWHERE, "", false);
    expect("../../../../../../../../../../../run/keep/ca.pem", "a/b/c/d/e/f", KEEPFS_INSIDE,
           "ca.pem", false);
    char long_name[200] = "/run/keep/";
    memset(long_name + 10, 'a', 150);
    expect(long_name, NULL, -KEEPFS_ENOENT, "", false);
    memcpy(long_name + 1, "etc", 3);
    expect(long_name, NULL, KEEPFS_ELSEWHERE, "", false);
    /* A component too long for /run/keep still counts for "..": this is /run/keep/key.pem. */
    char climb[300] = "/";
    memset(climb + 1, 'b', 150);
    strcat(climb, "/../run/keep/key.pem");
    expect(climb, NULL, KEEPFS_INSIDE, "key.pem", false);
    memcpy(climb + 1, "run/keep/", 9);
    expect(climb, NULL, KEEPFS_INSIDE, "run/keep/key.pem", false);
    /* Six components of 20 bytes: 125 bytes with slashes, more than a name holds. */
    char many[200] = "/run/keep";
    for (int i = 0; i < 6; i++)
        strcat(many, "/aaaaaaaaaaaaaaaaaaaa");
    expect(many, NULL, -KEEPFS_ENAMETOOLONG, "", false);
    return done_testing();
}
