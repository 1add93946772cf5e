/* SPDX-License-Identifier: Apache-2.0 */
#include "steward/store.h"

#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct steward_store {
    sqlite3 *db;
    uint8_t audit_head[32]; /* hash of the last audit entry */
    int64_t audit_seq;      /* its number; 0 when the log is empty */
    int64_t begin_seq;      /* audit_seq when the outermost transaction began */
    /* Open levels: 1 is the transaction (BEGIN IMMEDIATE ... COMMIT), each deeper one a
     * SAVEPOINT, so a group commit (server.c) wraps several requests' own transactions in one
     * and a failing request undoes only its own records. Each level keeps the audit head it
     * started from, restored when it rolls back. */
    int depth;
    struct {
        int64_t seq;
        uint8_t head[32];
    } saved[STEWARD_STORE_MAX_DEPTH];
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS nonces(nonce BLOB PRIMARY KEY, expires INTEGER NOT NULL,"
    " used_at INTEGER);"
    "CREATE TABLE IF NOT EXISTS certificates(serial TEXT PRIMARY KEY, workload TEXT NOT NULL,"
    " tee TEXT NOT NULL, measurement TEXT NOT NULL, not_before INTEGER NOT NULL,"
    " not_after INTEGER NOT NULL, insecure INTEGER NOT NULL, der BLOB NOT NULL,"
    " revoked_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS certificates_measurement ON certificates(measurement);"
    "CREATE TABLE IF NOT EXISTS revoked_measurements(measurement TEXT PRIMARY KEY,"
    " revoked_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS policies(name TEXT PRIMARY KEY, document TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS secrets(name TEXT PRIMARY KEY, wrapped BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS collateral(url TEXT PRIMARY KEY, body BLOB NOT NULL,"
    " fetched_at INTEGER NOT NULL, not_after INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS counters(tee TEXT NOT NULL, measurement TEXT NOT NULL,"
    " name TEXT NOT NULL, value INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " PRIMARY KEY(tee, measurement, name));"
    "CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
    " event TEXT NOT NULL, detail TEXT NOT NULL, hash BLOB NOT NULL);";

static int db_fail(struct steward_store *s, struct keep_error *err, const char *what)
{
    return keep_fail(err, KEEP_E_STEWARD_STORE, "%s: %s", what, sqlite3_errmsg(s->db));
}

static int prepare(struct steward_store *s, const char *sql, sqlite3_stmt **st,
                   struct keep_error *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_fail(s, err, sql);
    return KEEP_OK;
}

/* Step a statement that returns no rows, then finalize it. */
static int step_done(struct steward_store *s, sqlite3_stmt *st, const char *what,
                     struct keep_error *err)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? KEEP_OK : db_fail(s, err, what);
    sqlite3_finalize(st);
    return rc;
}

static void audit_hash(const uint8_t prev[32], int64_t seq, int64_t time, const char *event,
                       const char *detail, uint8_t out[32])
{
    uint8_t be[16];
    for (int i = 0; i < 8; i++) {
        be[i] = (uint8_t)((uint64_t)seq >> (56 - 8 * i));
        be[8 + i] = (uint8_t)((uint64_t)time >> (56 - 8 * i));
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, prev, 32);
    EVP_DigestUpdate(md, be, sizeof(be));
    EVP_DigestUpdate(md, event, strlen(event) + 1); /* with its NUL: the separator */
    EVP_DigestUpdate(md, detail, strlen(detail));
    EVP_DigestFinal_ex(md, out, &n);
    EVP_MD_CTX_free(md);
}

int steward_audit_verify(struct steward_store *s, int64_t *count, struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "SELECT seq, time, event, detail, hash FROM audit ORDER BY seq", &st, err);
    if (rc)
        return rc;
    uint8_t head[32] = {0};
    int64_t n = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        uint8_t want[32];
        audit_hash(head, seq, sqlite3_column_int64(st, 1), (const char *)sqlite3_column_text(st, 2),
                   (const char *)sqlite3_column_text(st, 3), want);
        if (seq != n + 1 || sqlite3_column_bytes(st, 4) != 32 ||
            memcmp(sqlite3_column_blob(st, 4), want, 32) != 0) {
            sqlite3_finalize(st);
            return keep_fail(err, KEEP_E_STEWARD_AUDIT_CHAIN, "audit entry %lld: %s",
                             (long long)seq,
                             seq != n + 1 ? "sequence has a gap" : "hash does not chain");
        }
        memcpy(head, want, 32);
        n = seq;
    }
    sqlite3_finalize(st);
    if (step != SQLITE_DONE)
        return db_fail(s, err, "reading the audit log");
    memcpy(s->audit_head, head, 32);
    s->audit_seq = n;
    if (count)
        *count = n;
    return KEEP_OK;
}

int steward_store_open(const char *path, struct steward_store **out, struct keep_error *err)
{
    struct steward_store *s = calloc(1, sizeof(*s));
    if (!s)
        return keep_fail(err, KEEP_E_NOMEM, "out of memory");
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        int rc = db_fail(s, err, path);
        steward_store_close(s);
        return rc;
    }
    sqlite3_busy_timeout(s->db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = keep_fail(err, KEEP_E_STEWARD_STORE, "%s: schema: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        steward_store_close(s);
        return rc;
    }
    /* The chain is checked at every start: a tampered log stops the service. */
    int rc = steward_audit_verify(s, NULL, err);
    if (rc) {
        steward_store_close(s);
        return rc;
    }
    *out = s;
    return KEEP_OK;
}

void steward_store_close(struct steward_store *s)
{
    if (!s)
        return;
    sqlite3_close(s->db);
    free(s);
}

static int exec_simple(struct steward_store *s, const char *sql, struct keep_error *err)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? KEEP_OK : db_fail(s, err, sql);
}

int steward_store_begin(struct steward_store *s, struct keep_error *err)
{
    if (s->depth >= STEWARD_STORE_MAX_DEPTH)
        return keep_fail(err, KEEP_E_STEWARD_STORE, "transactions nested deeper than %d",
                         STEWARD_STORE_MAX_DEPTH);
    int rc = exec_simple(s, s->depth ? "SAVEPOINT request" : "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    if (s->depth == 0)
        s->begin_seq = s->audit_seq;
    s->saved[s->depth].seq = s->audit_seq;
    memcpy(s->saved[s->depth].head, s->audit_head, 32);
    s->depth++;
    return KEEP_OK;
}

int steward_store_commit(struct steward_store *s, struct keep_error *err)
{
    if (s->depth == 0)
        return keep_fail(err, KEEP_E_STEWARD_STORE, "commit without a transaction");
    /* On failure the level stays open: the caller rolls it back. */
    int rc = exec_simple(s, s->depth > 1 ? "RELEASE request" : "COMMIT", err);
    if (rc == KEEP_OK)
        s->depth--;
    return rc;
}

bool steward_store_in_transaction(const struct steward_store *s)
{
    return s->depth > 0;
}

void steward_store_rollback(struct steward_store *s)
{
    if (s->depth > 1) {
        /* ROLLBACK TO keeps the savepoint open; RELEASE then ends it (SQLite "SAVEPOINT"). */
        sqlite3_exec(s->db, "ROLLBACK TO request; RELEASE request", NULL, NULL, NULL);
        s->depth--;
        s->audit_seq = s->saved[s->depth].seq;
        memcpy(s->audit_head, s->saved[s->depth].head, 32);
        return;
    }
    s->depth = 0;
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    /* The in-memory head may be ahead of the database now: reload it (a full pass over the
     * log, so only when this transaction appended to it). */
    if (s->audit_seq != s->begin_seq)
        steward_audit_verify(s, NULL, NULL);
}

int steward_audit_append(struct steward_store *s, int64_t time, const char *event,
                         const char *detail, struct keep_error *err)
{
    uint8_t hash[32];
    int64_t seq = s->audit_seq + 1;
    audit_hash(s->audit_head, seq, time, event, detail, hash);
    sqlite3_stmt *st;
    int rc =
        prepare(s, "INSERT INTO audit(seq, time, event, detail, hash) VALUES(?,?,?,?,?)", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, time);
    sqlite3_bind_text(st, 3, event, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, detail, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 5, hash, 32, SQLITE_TRANSIENT);
    if ((rc = step_done(s, st, "audit append", err)))
        return rc;
    memcpy(s->audit_head, hash, 32);
    s->audit_seq = seq;
    return KEEP_OK;
}

/* ---- nonces ------------------------------------------------------------- */

int steward_nonce_add(struct steward_store *s, const uint8_t *nonce, size_t size, int64_t expires,
                      struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "INSERT INTO nonces(nonce, expires) VALUES(?,?)", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, nonce, (int)size, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, expires);
    return step_done(s, st, "nonce insert", err);
}

int steward_nonce_use(struct steward_store *s, const uint8_t *nonce, size_t size, int64_t now,
                      struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "SELECT expires, used_at FROM nonces WHERE nonce = ?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, nonce, (int)size, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_finalize(st);
        return step == SQLITE_DONE
                   ? keep_fail(err, KEEP_E_STEWARD_NONCE_UNKNOWN,
                               "request.nonce was not issued by this service (or was purged)")
                   : db_fail(s, err, "nonce lookup");
    }
    int64_t expires = sqlite3_column_int64(st, 0);
    bool used = sqlite3_column_type(st, 1) != SQLITE_NULL;
    int64_t used_at = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    if (used)
        return keep_fail(err, KEEP_E_STEWARD_NONCE_REUSED,
                         "request.nonce was already used at %lld; nonces are single-use",
                         (long long)used_at);
    if (now > expires)
        return keep_fail(err, KEEP_E_STEWARD_NONCE_EXPIRED,
                         "request.nonce expired at %lld, %lld s before this request",
                         (long long)expires, (long long)(now - expires));
    if ((rc = prepare(s, "UPDATE nonces SET used_at = ? WHERE nonce = ?", &st, err)))
        return rc;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_blob(st, 2, nonce, (int)size, SQLITE_TRANSIENT);
    return step_done(s, st, "nonce use", err);
}

int steward_nonce_purge(struct steward_store *s, int64_t before, struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "DELETE FROM nonces WHERE expires < ?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, before);
    return step_done(s, st, "nonce purge", err);
}

int steward_nonce_outstanding(struct steward_store *s, int64_t now, int64_t *count,
                              struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc =
        prepare(s, "SELECT count(*) FROM nonces WHERE used_at IS NULL AND expires >= ?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    int step = sqlite3_step(st);
    *count = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return step == SQLITE_ROW ? KEEP_OK : db_fail(s, err, "nonce count");
}

/* ---- certificates ------------------------------------------------------- */

int steward_cert_add(struct steward_store *s, const struct steward_cert_record *r,
                     struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s,
                     "INSERT INTO certificates(serial, workload, tee, measurement, not_before,"
                     " not_after, insecure, der) VALUES(?,?,?,?,?,?,?,?)",
                     &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, r->serial, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->workload, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, r->tee, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, r->measurement, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, r->not_before);
    sqlite3_bind_int64(st, 6, r->not_after);
    sqlite3_bind_int(st, 7, r->insecure);
    sqlite3_bind_blob(st, 8, r->der, (int)r->der_size, SQLITE_TRANSIENT);
    return step_done(s, st, "certificate insert", err);
}

static void copy_text(char *dst, size_t size, const unsigned char *src)
{
    snprintf(dst, size, "%s", src ? (const char *)src : "");
}

int steward_cert_get(struct steward_store *s, const char *serial, struct steward_cert_record *r,
                     struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s,
                     "SELECT workload, tee, measurement, not_before, not_after, insecure,"
                     " revoked_at FROM certificates WHERE serial = ?",
                     &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, serial, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_finalize(st);
        return step == SQLITE_DONE ? keep_fail(err, KEEP_E_STEWARD_NOT_FOUND,
                                               "no certificate has serial %.40s", serial)
                                   : db_fail(s, err, "certificate lookup");
    }
    memset(r, 0, sizeof(*r));
    snprintf(r->serial, sizeof(r->serial), "%s", serial);
    copy_text(r->workload, sizeof(r->workload), sqlite3_column_text(st, 0));
    copy_text(r->tee, sizeof(r->tee), sqlite3_column_text(st, 1));
    copy_text(r->measurement, sizeof(r->measurement), sqlite3_column_text(st, 2));
    r->not_before = sqlite3_column_int64(st, 3);
    r->not_after = sqlite3_column_int64(st, 4);
    r->insecure = sqlite3_column_int(st, 5) != 0;
    r->revoked_at = sqlite3_column_int64(st, 6);
    sqlite3_finalize(st);
    return KEEP_OK;
}

int steward_cert_revoke(struct steward_store *s, const char *serial, int64_t now,
                        struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc =
        prepare(s, "UPDATE certificates SET revoked_at = ? WHERE serial = ? AND revoked_at IS NULL",
                &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, serial, -1, SQLITE_TRANSIENT);
    if ((rc = step_done(s, st, "certificate revoke", err)))
        return rc;
    if (sqlite3_changes(s->db) == 0) {
        struct steward_cert_record r;
        if ((rc = steward_cert_get(s, serial, &r, err)))
            return rc; /* unknown serial */
    }
    return KEEP_OK;
}

int steward_measurement_revoke(struct steward_store *s, const char *measurement, int64_t now,
                               struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s,
                     "INSERT OR IGNORE INTO revoked_measurements(measurement, revoked_at)"
                     " VALUES(?,?)",
                     &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, measurement, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now);
    return step_done(s, st, "measurement revoke", err);
}

bool steward_measurement_revoked(struct steward_store *s, const char *measurement)
{
    sqlite3_stmt *st;
    if (prepare(s, "SELECT 1 FROM revoked_measurements WHERE measurement = ?", &st, NULL))
        return true; /* fail closed */
    sqlite3_bind_text(st, 1, measurement, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    return step != SQLITE_DONE;
}

int steward_revoked_each(struct steward_store *s, int64_t now, steward_revoked_fn fn, void *ctx,
                         struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s,
                     "SELECT c.serial, COALESCE(c.revoked_at, m.revoked_at) FROM certificates c"
                     " LEFT JOIN revoked_measurements m ON m.measurement = c.measurement"
                     " WHERE c.not_after >= ? AND (c.revoked_at IS NOT NULL OR"
                     " m.measurement IS NOT NULL) ORDER BY c.serial",
                     &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1))))
            break;
    }
    sqlite3_finalize(st);
    if (rc)
        return keep_fail(err, rc, "building the revocation list failed");
    return step == SQLITE_DONE ? KEEP_OK : db_fail(s, err, "revoked certificates");
}

/* ---- policies and secrets ----------------------------------------------- */

int steward_policy_put(struct steward_store *s, const char *name, const char *doc,
                       struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "INSERT OR REPLACE INTO policies(name, document) VALUES(?,?)", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, doc, -1, SQLITE_TRANSIENT);
    return step_done(s, st, "policy put", err);
}

int steward_policy_get(struct steward_store *s, const char *name, char **doc,
                       struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "SELECT document FROM policies WHERE name = ?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_finalize(st);
        return step == SQLITE_DONE ? keep_fail(err, KEEP_E_STEWARD_WORKLOAD_UNKNOWN,
                                               "workload %.64s has no policy", name)
                                   : db_fail(s, err, "policy lookup");
    }
    *doc = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return *doc ? KEEP_OK : keep_fail(err, KEEP_E_NOMEM, "out of memory");
}

int steward_policy_delete(struct steward_store *s, const char *name, struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "DELETE FROM policies WHERE name = ?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if ((rc = step_done(s, st, "policy delete", err)))
        return rc;
    return sqlite3_changes(s->db) ? KEEP_OK
                                  : keep_fail(err, KEEP_E_STEWARD_WORKLOAD_UNKNOWN,
                                              "workload %.64s has no policy", name);
}

void steward_names_free(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

int steward_policy_names(struct steward_store *s, char ***names, size_t *count,
                         struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "SELECT name FROM policies ORDER BY name", &st, err);
    if (rc)
        return rc;
    char **list = NULL;
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char **grown = realloc(list, (n + 1) * sizeof(*list));
        char *name = strdup((const char *)sqlite3_column_text(st, 0));
        if (!grown || !name) {
            free(name);
            steward_names_free(grown ? grown : list, n);
            sqlite3_finalize(st);
            return keep_fail(err, KEEP_E_NOMEM, "out of memory");
        }
        list = grown;
        list[n++] = name;
    }
    sqlite3_finalize(st);
    *names = list;
    *count = n;
    return KEEP_OK;
}

int steward_secret_put(struct steward_store *s, const char *name, const uint8_t *wrapped,
                       size_t size, struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "INSERT OR REPLACE INTO secrets(name, wrapped) VALUES(?,?)", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, wrapped, (int)size, SQLITE_TRANSIENT);
    return step_done(s, st, "secret put", err);
}

int steward_secret_get(struct steward_store *s, const char *name, uint8_t **wrapped, size_t *size,
                       struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "SELECT wrapped FROM secrets WHERE name = ?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_finalize(st);
        return step == SQLITE_DONE
                   ? keep_fail(err, KEEP_E_STEWARD_SECRET_UNKNOWN, "no secret is named %.64s", name)
                   : db_fail(s, err, "secret lookup");
    }
    *size = (size_t)sqlite3_column_bytes(st, 0);
    *wrapped = malloc(*size ? *size : 1);
    if (*wrapped)
        memcpy(*wrapped, sqlite3_column_blob(st, 0), *size);
    sqlite3_finalize(st);
    return *wrapped ? KEEP_OK : keep_fail(err, KEEP_E_NOMEM, "out of memory");
}

int64_t steward_store_count(struct steward_store *s, const char *table)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    sqlite3_stmt *st;
    if (prepare(s, sql, &st, NULL))
        return -1;
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

/* ---- collateral cache ----------------------------------------------------- */

int steward_collateral_get(struct steward_store *s, const char *url, int64_t now, uint8_t **body,
                           size_t *size, struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "SELECT body FROM collateral WHERE url = ? AND not_after >= ?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, url, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_finalize(st);
        return step == SQLITE_DONE ? keep_fail(err, KEEP_E_STEWARD_NOT_FOUND, "not cached")
                                   : db_fail(s, err, "collateral lookup");
    }
    *size = (size_t)sqlite3_column_bytes(st, 0);
    *body = malloc(*size ? *size : 1);
    if (*body)
        memcpy(*body, sqlite3_column_blob(st, 0), *size);
    sqlite3_finalize(st);
    return *body ? KEEP_OK : keep_fail(err, KEEP_E_NOMEM, "out of memory");
}

int steward_collateral_put(struct steward_store *s, const char *url, const uint8_t *body,
                           size_t size, int64_t now, int64_t not_after, struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s,
                     "INSERT OR REPLACE INTO collateral(url, body, fetched_at, not_after)"
                     " VALUES(?,?,?,?)",
                     &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, url, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, body, (int)size, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, not_after);
    return step_done(s, st, "collateral insert", err);
}

/* ---- counters --------------------------------------------------------------- */

int steward_counter_get(struct steward_store *s, const struct steward_counter_key *key,
                        uint64_t *value, struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s, "SELECT value FROM counters WHERE tee = ? AND measurement = ? AND name = ?",
                     &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key->tee, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, key->measurement, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, key->name, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    *value = step == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? KEEP_OK : db_fail(s, err, "counter lookup");
}

int steward_counter_put(struct steward_store *s, const struct steward_counter_key *key,
                        uint64_t value, int64_t now, struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s,
                     "INSERT OR REPLACE INTO counters(tee, measurement, name, value, updated_at)"
                     " VALUES(?,?,?,?,?)",
                     &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key->tee, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, key->measurement, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, key->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, (int64_t)value);
    sqlite3_bind_int64(st, 5, now);
    return step_done(s, st, "counter put", err);
}

int steward_counter_count(struct steward_store *s, const struct steward_counter_key *key,
                          int64_t *count, struct keep_error *err)
{
    sqlite3_stmt *st;
    int rc =
        prepare(s, "SELECT count(*) FROM counters WHERE tee = ? AND measurement = ?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key->tee, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, key->measurement, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    *count = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return step == SQLITE_ROW ? KEEP_OK : db_fail(s, err, "counter count");
}
