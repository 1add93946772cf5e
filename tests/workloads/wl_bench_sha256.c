/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark: wl_bench_sha256 MIB. SHA-256 (FIPS 180-4, section 6.2) of MIB
 * MiB of a fixed pattern in memory; prints the digest so the native and the
 * Keep run can be compared. Pure computation: no calls after setup.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wl_sha256.h"

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 256;
    size_t size = mib << 20; /* a whole number of 64-byte blocks */
    uint8_t *data = malloc(size);
    if (!data)
        return 1;
    for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t)(i * 131 + (i >> 12));
    uint32_t h[8] = WL_SHA256_INIT;
    for (size_t off = 0; off < size; off += 64)
        wl_sha256_block(h, data + off);
    uint8_t last[64] = {0x80};
    uint64_t bits = (uint64_t)size * 8;
    for (int i = 0; i < 8; i++)
        last[63 - i] = (uint8_t)(bits >> (8 * i));
    wl_sha256_block(h, last);
    for (int i = 0; i < 8; i++)
        printf("%08x", h[i]);
    printf("\n");
    free(data);
    return 0;
}
