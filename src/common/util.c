/* SPDX-License-Identifier: Apache-2.0 */
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void keep_hex_encode(const uint8_t *data, size_t size, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < size; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0xf];
    }
    out[2 * size] = '\0';
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int keep_hex_decode(const char *text, size_t text_len, uint8_t *out, size_t out_size,
                    const char *field, struct keep_error *err)
{
    if (text_len != 2 * out_size)
        return keep_fail(err, KEEP_E_BAD_HEX, "%s: expected %zu hex digits (%zu bytes), got %zu",
                         field, 2 * out_size, out_size, text_len);
    for (size_t i = 0; i < out_size; i++) {
        int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return keep_fail(err, KEEP_E_BAD_HEX, "%s: character %zu is not a hex digit", field,
                             hi < 0 ? 2 * i : 2 * i + 1);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return KEEP_OK;
}

int keep_hex_decode_alloc(const char *text, size_t text_len, uint8_t **out, size_t *out_size,
                          const char *field, struct keep_error *err)
{
    if (text_len % 2)
        return keep_fail(err, KEEP_E_BAD_HEX, "%s: odd number of hex digits (%zu)", field,
                         text_len);
    uint8_t *buf = malloc(text_len / 2 + 1);
    if (!buf)
        return keep_fail(err, KEEP_E_NOMEM, "%s: out of memory for %zu bytes", field, text_len / 2);
    int rc = keep_hex_decode(text, text_len, buf, text_len / 2, field, err);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_size = text_len / 2;
    return KEEP_OK;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/*
 * Fault in the whole pages of a large buffer with one call before read()
 * fills it: read() otherwise takes one page fault per 4 KiB inside its copy.
 * Measured for keep run's ~760 KB hello-world (187 pages): 430 page faults
 * become 249 and the process takes about 0.25 ms less CPU on this PVM guest,
 * where a fault is costly (docs/PERFORMANCE.md, "Start-up of keep run"). Advice only:
 * a kernel without MADV_POPULATE_WRITE reads the same bytes.
 */
static void populate(uint8_t *buf, size_t size)
{
    const uintptr_t page = 4096;
    uintptr_t start = ((uintptr_t)buf + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)buf + size) & ~(page - 1);
    if (size >= (64u << 10) && end > start)
        (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

int keep_read_file(const char *path, size_t max_size, uint8_t **data, size_t *size,
                   struct keep_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return keep_fail(err, KEEP_E_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return keep_fail(err, KEEP_E_IO, "%s is not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_size) {
        close(fd);
        return keep_fail(err, KEEP_E_IO, "%s is %lld bytes, more than the %zu allowed", path,
                         (long long)st.st_size, max_size);
    }
    size_t want = (size_t)st.st_size;
    uint8_t *buf = malloc(want + 1);
    if (!buf) {
        close(fd);
        return keep_fail(err, KEEP_E_NOMEM, "out of memory reading %s", path);
    }
    populate(buf, want);
    size_t got = 0;
    while (got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int saved = errno;
            free(buf);
            close(fd);
            return keep_fail(err, KEEP_E_IO, "reading %s: %s", path,
                             n == 0 ? "file shrank while reading" : strerror(saved));
        }
        got += (size_t)n;
    }
    close(fd);
    buf[want] = '\0';
    *data = buf;
    *size = want;
    return KEEP_OK;
}

static bool leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int keep_parse_time(const char *text, int64_t *out, struct keep_error *err)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h = 0, mi = 0, s = 0, n = 0;
    if (sscanf(text, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        goto bad;
    const char *p = text + n;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        int m2 = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &s, &m2) != 3 || m2 != 8)
            goto bad;
        p += 1 + m2;
        if (*p == '.') {
            p++;
            if (*p < '0' || *p > '9')
                goto bad;
            while (*p >= '0' && *p <= '9')
                p++;
        }
        if (*p == 'Z' || *p == 'z')
            p++;
        else if (strcmp(p, "+00:00") == 0)
            p += 6;
        else
            goto bad;
    }
    if (*p != '\0')
        goto bad;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60)
        goto bad;
    unsigned maxd = mdays[mo - 1] + (mo == 2 && leap_year(y));
    if ((unsigned)d > maxd)
        goto bad;
    *out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
    return KEEP_OK;
bad:
    return keep_fail(err, KEEP_E_BAD_TIME,
                     "time '%.64s' is not RFC 3339 UTC (expected YYYY-MM-DDTHH:MM:SSZ)", text);
}

void keep_format_time(int64_t t, char *out, size_t out_size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, out_size, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, out_size, "@%lld", (long long)t);
}

bool keep_mem_equal(const void *a, const void *b, size_t size)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < size; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}

bool keep_mem_is_zero(const void *a, size_t size)
{
    const uint8_t *p = a;
    uint8_t acc = 0;
    for (size_t i = 0; i < size; i++)
        acc |= p[i];
    return acc == 0;
}

static enum keep_log_level log_level = KEEP_LOG_WARN;

void keep_log_set_level(enum keep_log_level level)
{
    log_level = level;
}

enum keep_log_level keep_log_get_level(void)
{
    return log_level;
}

int keep_log_parse_level(const char *text, enum keep_log_level *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < KEEP_ARRAY_LEN(names); i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (enum keep_log_level)i;
            return KEEP_OK;
        }
    }
    return KEEP_E_USAGE;
}

void keep_log(enum keep_log_level level, const char *fmt, ...)
{
    static const char *prefix[] = {"error", "warning", "info", "debug"};
    if (level > log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "keep: %s: ", prefix[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
