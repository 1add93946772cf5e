/* SPDX-License-Identifier: Apache-2.0 */
/* keep platform: which Keep backends this machine can run, and why not. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "host/platform.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: keep platform [--json]\n\n"
                 "Show which Keep backends this machine can run and, for each one it cannot,\n"
                 "the first thing that is missing (CPU feature, kernel module, firmware, device,\n"
                 "permission).\n\noptions:\n"
                 "  --json      print a JSON object instead (see docs/KEEP.md, \"Platform "
                 "detection\")\n"
                 "  -h, --help  show this help\n");
}

static json_t *platform_json(const struct keep_platform *p)
{
    json_t *checks = json_array();
    for (size_t i = 0; i < p->check_count; i++) {
        json_array_append_new(checks, json_pack("{s:s, s:b, s:s}", "name", p->checks[i].name, "ok",
                                                p->checks[i].ok, "detail", p->checks[i].detail));
    }
    return json_pack("{s:s, s:b, s:b, s:s, s:o}", "name", p->name, "available", p->available,
                     "supported", p->supported, "reason", p->reason, "checks", checks);
}

static int print_json(const struct keep_platform *all)
{
    json_t *list = json_array();
    for (int i = 0; i < KEEP_PLATFORM_COUNT; i++)
        json_array_append_new(list, platform_json(&all[i]));
    json_t *root = json_pack("{s:o}", "backends", list);
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (!text) {
        fprintf(stderr, "keep platform: cannot format JSON\n");
        return 1;
    }
    printf("%s\n", text);
    free(text);
    return 0;
}

static void print_text(const struct keep_platform *all)
{
    for (int i = 0; i < KEEP_PLATFORM_COUNT; i++)
        printf("%-8s %-11s %s\n", all[i].name, all[i].available ? "available" : "unavailable",
               all[i].reason);
}

int cmd_platform(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "keep platform: unknown %s '%s'\n",
                    argv[i][0] == '-' ? "option" : "argument", argv[i]);
            usage(stderr);
            return KEEP_EXIT_USAGE;
        }
    }
    struct keep_platform all[KEEP_PLATFORM_COUNT];
    for (int i = 0; i < KEEP_PLATFORM_COUNT; i++)
        keep_platform_probe((enum keep_platform_id)i, &all[i]);
    if (json)
        return print_json(all);
    print_text(all);
    return 0;
}
