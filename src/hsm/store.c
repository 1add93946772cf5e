/* SPDX-License-Identifier: Apache-2.0 */
#include "hsm/store.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cursor.h"
#include "hsm/wire.h"

static const uint8_t store_magic[8] = {'K', 'H', 'S', 'M', 'T', 'O', 'K', '1'};
#define STORE_VERSION 1

static int format_error(struct keep_error *err, struct keep_error *cur_err)
{
    return keep_fail(err, KEEP_E_HSM_STORE_FORMAT, "token store: %s", cur_err->message);
}

int hsm_store_parse(const uint8_t *data, size_t size, struct hsm_store *out, struct keep_error *err)
{
    struct keep_cursor c;
    struct keep_error ce;
    uint8_t magic[8];
    uint32_t version;
    memset(out, 0, sizeof(*out));
    keep_cursor_init(&c, data, size);
    if (keep_cursor_copy(&c, "magic", magic, 8, &ce) ||
        keep_cursor_u32(&c, "version", &version, &ce))
        return format_error(err, &ce);
    if (memcmp(magic, store_magic, 8) != 0)
        return keep_fail(err, KEEP_E_HSM_STORE_FORMAT, "token store: magic is not KHSMTOK1");
    if (version != STORE_VERSION)
        return keep_fail(err, KEEP_E_HSM_STORE_FORMAT, "token store: version is %u; %u is known",
                         version, STORE_VERSION);
    if (keep_cursor_u32(&c, "flags", &out->flags, &ce) ||
        keep_cursor_u64(&c, "generation", &out->generation, &ce) ||
        keep_cursor_copy(&c, "label", out->label, HSM_LABEL_SIZE, &ce) ||
        keep_cursor_u32(&c, "so_fails", &out->so_fails, &ce) ||
        keep_cursor_u32(&c, "user_fails", &out->user_fails, &ce) ||
        keep_cursor_u32(&c, "kdf_iterations", &out->kdf_iterations, &ce) ||
        keep_cursor_copy(&c, "so_salt", out->so_salt, HSM_SALT_SIZE, &ce) ||
        keep_cursor_copy(&c, "so_wrapped", out->so_wrapped, HSM_WRAPPED_SIZE, &ce) ||
        keep_cursor_copy(&c, "user_salt", out->user_salt, HSM_SALT_SIZE, &ce) ||
        keep_cursor_copy(&c, "user_wrapped", out->user_wrapped, HSM_WRAPPED_SIZE, &ce) ||
        keep_cursor_u32(&c, "record_count", &out->record_count, &ce))
        return format_error(err, &ce);
    if (out->flags &
        ~(uint32_t)(HSM_STORE_INITIALIZED | HSM_STORE_USER_PIN | HSM_STORE_SERVICE_KEY))
        return keep_fail(err, KEEP_E_HSM_STORE_FORMAT, "token store: flags 0x%x has unknown bits",
                         out->flags);
    if (out->kdf_iterations < HSM_KDF_ITERATIONS_MIN)
        return keep_fail(err, KEEP_E_HSM_STORE_FORMAT,
                         "token store: kdf_iterations is %u; at least %u", out->kdf_iterations,
                         HSM_KDF_ITERATIONS_MIN);
    if (out->record_count > HSM_RECORDS_MAX)
        return keep_fail(err, KEEP_E_HSM_STORE_FORMAT, "token store: record_count %u above %u",
                         out->record_count, HSM_RECORDS_MAX);
    out->records = calloc(out->record_count ? out->record_count : 1, sizeof(*out->records));
    if (!out->records)
        return keep_fail(err, KEEP_E_NOMEM, "token store: no memory for %u records",
                         out->record_count);
    for (uint32_t i = 0; i < out->record_count; i++) {
        struct hsm_record *r = &out->records[i];
        const uint8_t *p;
        if (keep_cursor_u64(&c, "record.handle", &r->handle, &ce) ||
            hsm_get_bytes(&c, "record.sealed", HSM_FRAME_MAX, &p, &r->sealed_size, &ce)) {
            hsm_store_free(out);
            return format_error(err, &ce);
        }
        if (r->sealed_size < HSM_NONCE_SIZE + HSM_TAG_SIZE) {
            uint32_t short_size =
                r->sealed_size; /* r lives in out->records, which the free releases */
            hsm_store_free(out);
            return keep_fail(err, KEEP_E_HSM_STORE_FORMAT,
                             "token store: record %u is %u bytes, shorter than nonce and tag", i,
                             short_size);
        }
        r->sealed = malloc(r->sealed_size);
        if (!r->sealed) {
            hsm_store_free(out);
            return keep_fail(err, KEEP_E_NOMEM, "token store: no memory for record %u", i);
        }
        memcpy(r->sealed, p, r->sealed_size);
    }
    if (!keep_cursor_at_end(&c)) {
        size_t extra = keep_cursor_remaining(&c);
        hsm_store_free(out);
        return keep_fail(err, KEEP_E_HSM_TRAILING, "token store: %zu bytes after the last record",
                         extra);
    }
    return KEEP_OK;
}

int hsm_store_encode(const struct hsm_store *st, uint8_t **out, size_t *out_size,
                     struct keep_error *err)
{
    struct hsm_buf b = {0};
    hsm_put(&b, store_magic, 8);
    hsm_put_u32(&b, STORE_VERSION);
    hsm_put_u32(&b, st->flags);
    hsm_put_u64(&b, st->generation);
    hsm_put(&b, st->label, HSM_LABEL_SIZE);
    hsm_put_u32(&b, st->so_fails);
    hsm_put_u32(&b, st->user_fails);
    hsm_put_u32(&b, st->kdf_iterations);
    hsm_put(&b, st->so_salt, HSM_SALT_SIZE);
    hsm_put(&b, st->so_wrapped, HSM_WRAPPED_SIZE);
    hsm_put(&b, st->user_salt, HSM_SALT_SIZE);
    hsm_put(&b, st->user_wrapped, HSM_WRAPPED_SIZE);
    hsm_put_u32(&b, st->record_count);
    for (uint32_t i = 0; i < st->record_count; i++) {
        hsm_put_u64(&b, st->records[i].handle);
        hsm_put_bytes(&b, st->records[i].sealed, st->records[i].sealed_size);
    }
    if (b.failed) {
        hsm_buf_free(&b);
        return keep_fail(err, KEEP_E_NOMEM, "token store: no memory to encode");
    }
    *out = b.data;
    *out_size = b.size;
    return KEEP_OK;
}

void hsm_store_free(struct hsm_store *st)
{
    for (uint32_t i = 0; st->records && i < st->record_count; i++)
        free(st->records[i].sealed);
    free(st->records);
    st->records = NULL;
    st->record_count = 0;
}

int hsm_store_load(const char *path, struct hsm_store *st, bool *exists, struct keep_error *err)
{
    memset(st, 0, sizeof(*st));
    *exists = false;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return KEEP_OK;
        return keep_fail(err, KEEP_E_HSM_STORE_IO, "token store %s: %s", path, strerror(errno));
    }
    struct hsm_buf b = {0};
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.size <= HSM_STORE_MAX)
        hsm_put(&b, chunk, n);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || b.failed || b.size > HSM_STORE_MAX) {
        hsm_buf_free(&b);
        return keep_fail(err, KEEP_E_HSM_STORE_IO, "token store %s: unreadable or above %u bytes",
                         path, HSM_STORE_MAX);
    }
    int rc = hsm_store_parse(b.data, b.size, st, err);
    hsm_buf_free(&b);
    *exists = rc == KEEP_OK;
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync(2) of the directory makes the rename itself durable. */
static void sync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 : slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int hsm_store_save(const char *path, const struct hsm_store *st, struct keep_error *err)
{
    uint8_t *data;
    size_t size;
    char tmp[4096];
    int rc = hsm_store_encode(st, &data, &size, err);
    if (rc)
        return rc;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        free(data);
        return keep_fail(err, KEEP_E_HSM_STORE_IO, "token store path %s is too long", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(data);
        return keep_fail(err, KEEP_E_HSM_STORE_IO, "token store %s: %s", tmp, strerror(errno));
    }
    bool ok = write_all(fd, data, size) == 0 && fsync(fd) == 0;
    int saved = errno;
    close(fd);
    free(data);
    if (!ok || rename(tmp, path) < 0) {
        if (ok)
            saved = errno;
        unlink(tmp);
        return keep_fail(err, KEEP_E_HSM_STORE_IO, "token store %s: writing or renaming: %s", path,
                         strerror(saved));
    }
    sync_parent(path);
    return KEEP_OK;
}

int hsm_store_kek(const uint8_t *pin, size_t pin_size, const uint8_t salt[HSM_SALT_SIZE],
                  uint32_t iterations, uint8_t kek[HSM_KEY_SIZE])
{
    return PKCS5_PBKDF2_HMAC((const char *)pin, (int)pin_size, salt, HSM_SALT_SIZE, (int)iterations,
                             EVP_sha256(), HSM_KEY_SIZE, kek) == 1
               ? 0
               : -1;
}

/* AES-256-GCM seal of plain with aad; out = nonce || ct || tag (plain_size + 28 bytes). */
static int gcm_seal(const uint8_t key[HSM_KEY_SIZE], const uint8_t *aad, size_t aad_size,
                    const uint8_t *plain, size_t plain_size, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len, ok = ctx && RAND_bytes(out, HSM_NONCE_SIZE) == 1 &&
                  EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, out) == 1 &&
                  EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aad_size) == 1 &&
                  EVP_EncryptUpdate(ctx, out + HSM_NONCE_SIZE, &len, plain, (int)plain_size) == 1 &&
                  EVP_EncryptFinal_ex(ctx, out + HSM_NONCE_SIZE + plain_size, &len) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, HSM_TAG_SIZE,
                                      out + HSM_NONCE_SIZE + plain_size) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : -1;
}

static bool gcm_open(const uint8_t key[HSM_KEY_SIZE], const uint8_t *aad, size_t aad_size,
                     const uint8_t *sealed, size_t sealed_size, uint8_t *plain)
{
    size_t ct_size = sealed_size - HSM_NONCE_SIZE - HSM_TAG_SIZE;
    uint8_t tag[HSM_TAG_SIZE];
    memcpy(tag, sealed + HSM_NONCE_SIZE + ct_size, HSM_TAG_SIZE);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len, ok = ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, sealed) == 1 &&
                  EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aad_size) == 1 &&
                  EVP_DecryptUpdate(ctx, plain, &len, sealed + HSM_NONCE_SIZE, (int)ct_size) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, HSM_TAG_SIZE, tag) == 1 &&
                  EVP_DecryptFinal_ex(ctx, plain + ct_size, &len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

static void wrap_aad(const char *who, struct hsm_buf *b)
{
    hsm_put(b, "keep-hsm master key v1 ", 23);
    hsm_put(b, who, strlen(who));
}

int hsm_store_wrap(const uint8_t kek[HSM_KEY_SIZE], const char *who, const uint8_t mk[HSM_KEY_SIZE],
                   uint8_t wrapped[HSM_WRAPPED_SIZE])
{
    struct hsm_buf aad = {0};
    wrap_aad(who, &aad);
    int rc = aad.failed ? -1 : gcm_seal(kek, aad.data, aad.size, mk, HSM_KEY_SIZE, wrapped);
    hsm_buf_free(&aad);
    return rc;
}

bool hsm_store_unwrap(const uint8_t kek[HSM_KEY_SIZE], const char *who,
                      const uint8_t wrapped[HSM_WRAPPED_SIZE], uint8_t mk[HSM_KEY_SIZE])
{
    struct hsm_buf aad = {0};
    wrap_aad(who, &aad);
    bool ok = !aad.failed && gcm_open(kek, aad.data, aad.size, wrapped, HSM_WRAPPED_SIZE, mk);
    hsm_buf_free(&aad);
    return ok;
}

/* AAD of a record: what a host might try to swap (docs/HSM.md "Token store"). */
static void record_aad(struct hsm_buf *b, uint64_t generation, uint32_t index, uint32_t count,
                       uint64_t handle)
{
    hsm_put(b, "keep-hsm object v1", 18);
    hsm_put_u64(b, generation);
    hsm_put_u32(b, index);
    hsm_put_u32(b, count);
    hsm_put_u64(b, handle);
}

int hsm_store_seal_record(const uint8_t mk[HSM_KEY_SIZE], uint64_t generation, uint32_t index,
                          uint32_t count, struct hsm_record *rec, const uint8_t *plain,
                          size_t plain_size)
{
    struct hsm_buf aad = {0};
    if (plain_size > HSM_FRAME_MAX - HSM_NONCE_SIZE - HSM_TAG_SIZE)
        return -1;
    record_aad(&aad, generation, index, count, rec->handle);
    rec->sealed_size = (uint32_t)(plain_size + HSM_NONCE_SIZE + HSM_TAG_SIZE);
    rec->sealed = malloc(rec->sealed_size);
    int rc = (!rec->sealed || aad.failed)
                 ? -1
                 : gcm_seal(mk, aad.data, aad.size, plain, plain_size, rec->sealed);
    hsm_buf_free(&aad);
    return rc;
}

int hsm_store_open_record(const uint8_t mk[HSM_KEY_SIZE], uint64_t generation, uint32_t index,
                          uint32_t count, const struct hsm_record *rec, uint8_t **plain,
                          size_t *plain_size, struct keep_error *err)
{
    struct hsm_buf aad = {0};
    record_aad(&aad, generation, index, count, rec->handle);
    *plain_size = rec->sealed_size - HSM_NONCE_SIZE - HSM_TAG_SIZE;
    *plain = malloc(*plain_size ? *plain_size : 1);
    bool ok = *plain && !aad.failed &&
              gcm_open(mk, aad.data, aad.size, rec->sealed, rec->sealed_size, *plain);
    hsm_buf_free(&aad);
    if (!ok) {
        free(*plain);
        *plain = NULL;
        return keep_fail(err, KEEP_E_HSM_STORE_AUTH,
                         "token store: record %u of %u (handle %llu, generation %llu) fails "
                         "AES-GCM authentication",
                         index, count, (unsigned long long)rec->handle,
                         (unsigned long long)generation);
    }
    return KEEP_OK;
}
