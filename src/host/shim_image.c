/* SPDX-License-Identifier: Apache-2.0 */
#include "host/shim_image.h"

/* Defined in the generated shim_blob.c. */
extern const uint8_t keep_shim_bytes[];
extern const size_t keep_shim_size;

void keep_shim_image(const uint8_t **data, size_t *size)
{
    *data = keep_shim_bytes;
    *size = keep_shim_size;
}
