/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep_get_evidence(): wl_evidence REPORT_DATA_HEX OUT_FILE. Asks for the
 * size, checks the error answers (-ERANGE for a short buffer, -EFAULT for a
 * buffer outside the workload), then writes the evidence with REPORT_DATA
 * bound into OUT_FILE (in a volume) for the test to verify with keep attest.
 */
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "keep/keep.h"
#include "wl.h"

static int parse_hex(const char *text, uint8_t out[KEEP_REPORT_DATA_SIZE])
{
    if (strlen(text) != 2 * KEEP_REPORT_DATA_SIZE)
        return -1;
    for (int i = 0; i < KEEP_REPORT_DATA_SIZE; i++) {
        unsigned v;
        if (sscanf(text + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint8_t report_data[KEEP_REPORT_DATA_SIZE];
    static uint8_t evidence[4096];
    if (argc < 3 || parse_hex(argv[1], report_data) != 0) {
        fprintf(stderr, "usage: wl_evidence REPORT_DATA_HEX(128 digits) OUT_FILE\n");
        return 2;
    }
    long size = keep_get_evidence(report_data, NULL, 0);
    if (!wl_check(size > 0 && size <= (long)sizeof(evidence), "size query answers %ld", size))
        return wl_done();
    wl_check(keep_get_evidence(report_data, evidence, (size_t)size - 1) == -ERANGE,
             "a buffer one byte short is -ERANGE");
    wl_check(keep_get_evidence(report_data, (void *)(uintptr_t)0x10, (size_t)size) == -EFAULT,
             "a buffer at 0x10 is -EFAULT");
    /* Through a volatile, so the compiler does not judge the bad pointer itself. */
    volatile uintptr_t bad = 0x10;
    wl_check(keep_get_evidence((const uint8_t *)bad, evidence, (size_t)size) == -EFAULT,
             "report_data at 0x10 is -EFAULT");
    long got = keep_get_evidence(report_data, evidence, sizeof(evidence));
    wl_check(got == size, "evidence is %ld bytes", got);
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    wl_check(fd >= 0 && write(fd, evidence, (size_t)got) == got && close(fd) == 0,
             "evidence written to %s", argv[2]);
    return wl_done();
}
