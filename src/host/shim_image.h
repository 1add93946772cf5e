/* SPDX-License-Identifier: Apache-2.0 */
/* The shim image embedded in keep (built by src/shim/meson.build). */
#ifndef KEEP_HOST_SHIM_IMAGE_H
#define KEEP_HOST_SHIM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The flat image, loaded at KEEP_GUEST_SHIM. keep measure hashes exactly
 * these bytes, so the measurement changes whenever the shim does.
 */
void keep_shim_image(const uint8_t **data, size_t *size);

#endif /* KEEP_HOST_SHIM_IMAGE_H */
