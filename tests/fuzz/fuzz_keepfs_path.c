/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Paths into /run/keep (src/shim/keepfs_path.c), as the shim normalises the
 * workload's paths. Input: the path, then optionally a NUL and a base
 * directory name. Every name accepted must be normalised: no empty, "." or
 * ".." component, no leading or trailing '/', shorter than KEEPFS_NAME_MAX.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shim/keepfs_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *buf = malloc(size + 2);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = 0;
    const char *base = memchr(buf, 0, size) ? buf + strlen(buf) + 1 : NULL;
    char name[KEEPFS_NAME_MAX];
    bool slash;
    int rc = keepfs_path_name(buf, base, name, &slash);
    if (rc == KEEPFS_INSIDE) {
        size_t n = strnlen(name, sizeof(name));
        if (n >= sizeof(name) || (n && (name[0] == '/' || name[n - 1] == '/')) ||
            strstr(name, "//"))
            abort();
        for (char *c = strtok(name, "/"); c; c = strtok(NULL, "/"))
            if (!strcmp(c, ".") || !strcmp(c, ".."))
                abort();
    } else if (rc != KEEPFS_ELSEWHERE && rc != KEEPFS_RUN && rc != -KEEPFS_ENOENT &&
               rc != -KEEPFS_ENAMETOOLONG) {
        abort();
    }
    free(buf);
    return 0;
}
