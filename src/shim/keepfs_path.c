/* SPDX-License-Identifier: Apache-2.0 */
#include "keepfs_path.h"

static size_t length(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static bool equal(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    return a[i] == b[i];
}

struct comps {
    char c[KEEPFS_DEPTH][KEEPFS_NAME_MAX]; /* "" for a name too long to exist in /run/keep */
    int depth;
    int beyond; /* components past KEEPFS_DEPTH, still there for ".." to climb out of */
};

static bool ours(const struct comps *p)
{
    return p->depth >= 2 && equal(p->c[0], "run") && equal(p->c[1], "keep");
}

/* A name no file in /run/keep has: a component past KEEPFS_DEPTH or too long. */
static bool impossible(const struct comps *p)
{
    if (p->beyond)
        return true;
    for (int i = 0; i < p->depth; i++)
        if (!p->c[i][0])
            return true;
    return false;
}

/*
 * Apply one component of n bytes at s. A component that cannot be kept still
 * counts, so that ".." climbs out of exactly it (path_resolution(7)): the
 * path "/A/B/.../../../run/keep/key.pem" names /run/keep however deep it went.
 */
static void step(struct comps *p, const char *s, size_t n)
{
    if (n == 1 && s[0] == '.')
        return;
    if (n == 2 && s[0] == '.' && s[1] == '.') {
        if (p->beyond)
            p->beyond--;
        else if (p->depth > 0)
            p->depth--;
        return;
    }
    if (p->depth == KEEPFS_DEPTH) {
        p->beyond++; /* at most one per byte of a path: no overflow */
        return;
    }
    if (n >= KEEPFS_NAME_MAX)
        n = 0; /* kept as "", which no name below /run/keep is */
    for (size_t i = 0; i < n; i++)
        p->c[p->depth][i] = s[i];
    p->c[p->depth++][n] = 0;
}

/* Split s at '/' into steps; *slash: s ended in '/'. */
static void walk(struct comps *p, const char *s, bool *slash)
{
    while (*s) {
        while (*s == '/')
            s++;
        size_t n = 0;
        while (s[n] && s[n] != '/')
            n++;
        if (n == 0)
            break;
        if (slash)
            *slash = s[n] == '/';
        step(p, s, n);
        s += n;
    }
}

int keepfs_path_name(const char *path, const char *base, char name[KEEPFS_NAME_MAX], bool *slash)
{
    static const char run_keep[] = "/run/keep/";
    struct comps p = {.depth = 0};
    *slash = false;
    name[0] = 0;
    if (path[0] != '/') {
        if (!base)
            return KEEPFS_ELSEWHERE;
        walk(&p, run_keep, NULL);
        walk(&p, base, NULL);
    }
    walk(&p, path, slash);
    if (impossible(&p)) /* a name too deep or too long for /run/keep: none exists there */
        return ours(&p) ? -KEEPFS_ENOENT : KEEPFS_ELSEWHERE;
    if (p.depth == 1 && equal(p.c[0], "run"))
        return KEEPFS_RUN;
    if (!ours(&p))
        return KEEPFS_ELSEWHERE;
    size_t len = 0;
    for (int i = 2; i < p.depth; i++) {
        size_t n = length(p.c[i]);
        if (len + n + 2 > KEEPFS_NAME_MAX)
            return -KEEPFS_ENAMETOOLONG;
        if (i > 2)
            name[len++] = '/';
        for (size_t k = 0; k < n; k++)
            name[len + k] = p.c[i][k];
        len += n;
    }
    name[len] = 0;
    return KEEPFS_INSIDE;
}
