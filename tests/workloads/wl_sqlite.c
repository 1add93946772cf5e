/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQLite (Debian's libsqlite3.a, linked statically) on a database file:
 *   wl_sqlite DB script FILE      run the SQL in FILE, print every row as a|b|c
 *   wl_sqlite DB insert N TAG     N rows, one transaction each (for two Keeps at once)
 *   wl_sqlite DB bench ROWS TXNS  time ROWS inserts in one transaction, then
 *                                 TXNS one-row transactions: "bench NAME SECONDS"
 * Any SQLite error is printed and the exit status is 1.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int print_row(void *unused, int n, char **values, char **names)
{
    (void)unused;
    (void)names;
    for (int i = 0; i < n; i++)
        printf("%s%s", i ? "|" : "", values[i] ? values[i] : "NULL");
    printf("\n");
    return 0;
}

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, print_row, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "wl_sqlite: %s\n", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return 1;
    }
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (buf)
        buf[n] = 0;
    return buf;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int insert_rows(sqlite3 *db, long n, const char *tag, int one_transaction)
{
    sqlite3_stmt *st;
    if (exec(db, "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, tag TEXT, v INTEGER)"))
        return 1;
    if (sqlite3_prepare_v2(db, "INSERT INTO t(tag, v) VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK)
        return exec(db, "SELECT 'prepare failed'") || 1;
    if (one_transaction && exec(db, "BEGIN"))
        return 1;
    for (long i = 0; i < n; i++) {
        sqlite3_bind_text(st, 1, tag, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, i);
        if (sqlite3_step(st) != SQLITE_DONE) {
            fprintf(stderr, "wl_sqlite: insert %ld: %s\n", i, sqlite3_errmsg(db));
            return 1;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return one_transaction ? exec(db, "COMMIT") : 0;
}

int main(int argc, char **argv)
{
    sqlite3 *db;
    if (argc < 4) {
        fprintf(stderr, "usage: wl_sqlite DB script FILE | insert N TAG | bench ROWS TXNS\n");
        return 2;
    }
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
        fprintf(stderr, "wl_sqlite: open %s: %s\n", argv[1], sqlite3_errmsg(db));
        return 1;
    }
    /* Two writers at once wait for each other's locks (up to 60 s) instead of failing. */
    sqlite3_busy_timeout(db, 60000);
    int rc = 1;
    if (strcmp(argv[2], "script") == 0) {
        char *sql = slurp(argv[3]);
        rc = sql ? exec(db, sql) : (fprintf(stderr, "wl_sqlite: cannot read %s\n", argv[3]), 1);
        free(sql);
    } else if (strcmp(argv[2], "insert") == 0 && argc >= 5) {
        rc = insert_rows(db, atol(argv[3]), argv[4], 0);
    } else if (strcmp(argv[2], "bench") == 0 && argc >= 5) {
        double t0 = now();
        rc = insert_rows(db, atol(argv[3]), "bulk", 1);
        double t1 = now();
        rc = rc || insert_rows(db, atol(argv[4]), "small", 0);
        double t2 = now();
        printf("bench one_transaction %.6f\nbench small_transactions %.6f\n", t1 - t0, t2 - t1);
    }
    sqlite3_close(db);
    return rc;
}
