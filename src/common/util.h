/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by every part of keep: hex, files, time, logging. */
#ifndef KEEP_COMMON_UTIL_H
#define KEEP_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "keep/error.h"

#define KEEP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Lower-case hex of size bytes into out, which must hold 2*size+1 chars. */
void keep_hex_encode(const uint8_t *data, size_t size, char *out);
/*
 * Decode exactly out_size bytes from hex text of length text_len (upper or
 * lower case). Fails with KEEP_E_BAD_HEX naming field.
 */
KEEP_WARN_UNUSED int keep_hex_decode(const char *text, size_t text_len, uint8_t *out,
                                     size_t out_size, const char *field, struct keep_error *err);
/* Decode hex text of any even length into a malloc'd buffer. */
KEEP_WARN_UNUSED int keep_hex_decode_alloc(const char *text, size_t text_len, uint8_t **out,
                                           size_t *out_size, const char *field,
                                           struct keep_error *err);

/*
 * Read a whole file into a malloc'd buffer (NUL-terminated for text use;
 * *size excludes the NUL). Refuses files larger than max_size.
 */
KEEP_WARN_UNUSED int keep_read_file(const char *path, size_t max_size, uint8_t **data, size_t *size,
                                    struct keep_error *err);

/*
 * Parse an RFC 3339 / ISO 8601 UTC time ("2025-06-01T00:00:00Z", fractional
 * seconds and "+00:00" accepted, "2025-06-01" too) into seconds since the epoch.
 */
KEEP_WARN_UNUSED int keep_parse_time(const char *text, int64_t *out, struct keep_error *err);
/* Format t as "YYYY-MM-DDTHH:MM:SSZ" into out (at least 21 bytes). */
void keep_format_time(int64_t t, char *out, size_t out_size);

/* Constant-time comparison for secrets and digests. */
bool keep_mem_equal(const void *a, const void *b, size_t size);
bool keep_mem_is_zero(const void *a, size_t size);

enum keep_log_level { KEEP_LOG_ERROR, KEEP_LOG_WARN, KEEP_LOG_INFO, KEEP_LOG_DEBUG };
void keep_log_set_level(enum keep_log_level level);
enum keep_log_level keep_log_get_level(void);
/* Parse "error", "warn", "info" or "debug". */
KEEP_WARN_UNUSED int keep_log_parse_level(const char *text, enum keep_log_level *out);
void keep_log(enum keep_log_level level, const char *fmt, ...) KEEP_PRINTF(2, 3);

#endif /* KEEP_COMMON_UTIL_H */
