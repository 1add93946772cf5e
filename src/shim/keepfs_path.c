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
    char c[KEEPFS_DEPTH][KEEPFS_NAME_MAX];
    int depth;
    bool deep; /* a component went past KEEPFS_DEPTH or KEEPFS_NAME_MAX */
};

static bool ours(const struct comps *p)
{
    return p->depth >= 2 && equal(p->c[0], "run") && equal(p->c[1], "keep");
}

/* Apply one component of n bytes at s. */
static void step(struct comps *p, const char *s, size_t n)
{
    if (n == 1 && s[0] == '.')
        return;
    if (n == 2 && s[0] == '.' && s[1] == '.') {
        if (p->deep) /* climbing out of a place that cannot exist in /run/keep */
            return;
        if (p->depth > 0)
            p->depth--;
        return;
    }
    if (p->deep || p->depth == KEEPFS_DEPTH || n >= KEEPFS_NAME_MAX) {
        p->deep = true;
        return;
    }
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
    if (p.deep) /* a name too deep or too long for /run/keep: none exists there */
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
