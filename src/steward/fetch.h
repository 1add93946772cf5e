/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fetching collateral from a vendor service (AMD KDS, or a local mirror) with
 * libevent's HTTP client (its own bounded response parser) on a private event
 * base: the call blocks the service for at most the timeout, which is why
 * every fetched item is cached in SQLite until its validity ends.
 */
#ifndef KEEP_STEWARD_FETCH_H
#define KEEP_STEWARD_FETCH_H

#include "steward/request.h"

#define STEWARD_FETCH_MAX         (1 << 20)
#define STEWARD_FETCH_HEADERS_MAX (128 * 1024) /* Intel PCS issuer chains come in headers */

/* GET url (http:// or https://, verified with the system's roots); body of a 200 reply. */
int steward_fetch(const char *url, int timeout_seconds, struct steward_bytes *out,
                  struct keep_error *err);
/* The same, also returning the value of response header `header` (malloc'd; NULL if absent). */
int steward_fetch_header(const char *url, int timeout_seconds, const char *header,
                         struct steward_bytes *out, char **header_value, struct keep_error *err);

#endif
