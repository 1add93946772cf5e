/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: keep_elf_parse and keep_elf_check_fits on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "host/elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keep_elf elf;
    struct keep_error err;
    if (keep_elf_parse(data, size, &elf, &err) == KEEP_OK) {
        /* Accepted images must describe sorted, in-file segments: the loader relies on it. */
        for (size_t i = 0; i < elf.segment_count; i++) {
            const struct keep_elf_segment *s = &elf.segments[i];
            if (s->file_offset + s->file_size > size || s->file_size > s->mem_size)
                __builtin_trap();
            if (i && s->vaddr < elf.segments[i - 1].vaddr + elf.segments[i - 1].mem_size)
                __builtin_trap();
        }
        (void)keep_elf_check_fits(&elf, 0x400000, 256u << 20, 8u << 20, &err);
    }
    return 0;
}
