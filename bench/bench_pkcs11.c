/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One PKCS#11 client for every row of the key-service benchmark
 * (bench/bench_hsm.sh, docs/PERFORMANCE.md "Key service"): the same program
 * drives libkeep-pkcs11.so and SoftHSM2, or signs with OpenSSL in-process
 * as the raw reference.
 *
 *   bench_pkcs11 MODULE|openssl PIN ecdsa|rsa|aes THREADS SECONDS
 *
 * Each thread opens its own session and signs a 32-byte digest (CKM_ECDSA
 * with a P-256 key, CKM_RSA_PKCS with a DigestInfo-sized input for RSA-2048)
 * with one session key pair made at start, as fast as it can, and prints
 * "signs/s N"; aes seals 64 KiB messages with AES-256-GCM (a session key)
 * and prints "MB/s N".
 */
#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include "hsm/cryptoki.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static CK_FUNCTION_LIST_PTR f;
static CK_OBJECT_HANDLE priv_key;
static CK_SLOT_ID slot;
static bool rsa, aes;
#define AES_MSG (64 * 1024)
static EVP_PKEY *ossl_key;
static atomic_bool stop;
static atomic_ulong total;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, CK_RV rv)
{
    fprintf(stderr, "bench_pkcs11: %s failed: 0x%lx\n", what, rv);
    exit(1);
}

/* AES-256-GCM over 64 KiB messages; counts messages (total reports MB/s). */
static void *aes_worker(CK_SESSION_HANDLE s)
{
    CK_BYTE iv[12] = {0}, aad[1] = {0}; /* per thread */
    CK_GCM_PARAMS gp = {iv, sizeof(iv), 96, aad, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_BYTE *in = calloc(1, AES_MSG), *out = malloc(AES_MSG + 16);
    unsigned long n = 0;
    CK_RV rv;
    while (in && out && !atomic_load(&stop)) {
        CK_ULONG len = AES_MSG + 16;
        iv[0]++;
        if ((rv = f->C_EncryptInit(s, &m, priv_key)) != CKR_OK ||
            (rv = f->C_Encrypt(s, in, AES_MSG, out, &len)) != CKR_OK)
            die("C_Encrypt", rv);
        n++;
    }
    free(in);
    free(out);
    atomic_fetch_add(&total, n);
    f->C_CloseSession(s);
    return NULL;
}

static void *pkcs11_worker(void *arg)
{
    (void)arg;
    CK_SESSION_HANDLE s;
    CK_RV rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
    if (rv)
        die("C_OpenSession", rv);
    CK_MECHANISM m = {rsa ? CKM_RSA_PKCS : CKM_ECDSA, NULL, 0};
    CK_BYTE data[51] = {1}, sig[512];
    unsigned long n = 0;
    if (aes)
        return aes_worker(s);
    while (!atomic_load(&stop)) {
        CK_ULONG len = sizeof(sig);
        if ((rv = f->C_SignInit(s, &m, priv_key)) != CKR_OK ||
            (rv = f->C_Sign(s, data, rsa ? 51 : 32, sig, &len)) != CKR_OK)
            die("C_Sign", rv);
        n++;
    }
    atomic_fetch_add(&total, n);
    f->C_CloseSession(s);
    return NULL;
}

static void *openssl_aes_worker(void)
{
    static const uint8_t key[32] = {7};
    uint8_t iv[12] = {0}, tag[16], *in = calloc(1, AES_MSG), *out = malloc(AES_MSG + 16);
    unsigned long n = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len;
    while (in && out && ctx && !atomic_load(&stop)) {
        iv[0]++;
        if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv) != 1 ||
            EVP_EncryptUpdate(ctx, out, &len, in, AES_MSG) != 1 ||
            EVP_EncryptFinal_ex(ctx, out + len, &len) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
            die("EVP AES-GCM", 0);
        n++;
    }
    EVP_CIPHER_CTX_free(ctx);
    free(in);
    free(out);
    atomic_fetch_add(&total, n);
    return NULL;
}

static void *openssl_worker(void *arg)
{
    (void)arg;
    if (aes)
        return openssl_aes_worker();
    uint8_t data[51] = {1}, sig[512];
    unsigned long n = 0;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(ossl_key, NULL);
    EVP_PKEY_sign_init(ctx);
    if (rsa)
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
    while (!atomic_load(&stop)) {
        size_t len = sizeof(sig);
        if (EVP_PKEY_sign(ctx, sig, &len, data, rsa ? 51 : 32) != 1)
            die("EVP_PKEY_sign", 0);
        n++;
    }
    EVP_PKEY_CTX_free(ctx);
    atomic_fetch_add(&total, n);
    return NULL;
}

static void make_aes_key(CK_SESSION_HANDLE s)
{
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_VALUE_LEN, &len, sizeof(len)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_ENCRYPT, &yes, 1}};
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    CK_RV rv = f->C_GenerateKey(s, &m, t, 5, &priv_key);
    if (rv)
        die("C_GenerateKey", rv);
}

static void make_key(CK_SESSION_HANDLE s)
{
    if (aes)
        return make_aes_key(s);
    static CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_ULONG bits = 2048;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE pub_ec[] = {{CKA_EC_PARAMS, p256, sizeof(p256)}, {CKA_TOKEN, &no, 1}};
    CK_ATTRIBUTE pub_rsa[] = {{CKA_MODULUS_BITS, &bits, sizeof(bits)}, {CKA_TOKEN, &no, 1}};
    CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &no, 1}, {CKA_SIGN, &yes, 1}, {CKA_SENSITIVE, &yes, 1}};
    CK_MECHANISM m = {rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE pub;
    CK_RV rv = f->C_GenerateKeyPair(s, &m, rsa ? pub_rsa : pub_ec, 2, priv, 3, &pub, &priv_key);
    if (rv)
        die("C_GenerateKeyPair", rv);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_pkcs11 MODULE|openssl PIN ecdsa|rsa THREADS SECONDS\n");
        return 64;
    }
    rsa = strcmp(argv[3], "rsa") == 0;
    aes = strcmp(argv[3], "aes") == 0;
    int threads = atoi(argv[4]);
    double seconds = atof(argv[5]);
    bool openssl = strcmp(argv[1], "openssl") == 0;
    CK_SESSION_HANDLE main_session = 0;
    if (openssl) {
        ossl_key = aes   ? NULL
                   : rsa ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                         : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    } else {
        void *lib = dlopen(argv[1], RTLD_NOW);
        CK_C_GetFunctionList gfl =
            lib ? (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList") : NULL;
        if (!gfl || gfl(&f) != CKR_OK) {
            fprintf(stderr, "bench_pkcs11: cannot load %s: %s\n", argv[1], dlerror());
            return 1;
        }
        CK_C_INITIALIZE_ARGS ia = {.flags = CKF_OS_LOCKING_OK};
        CK_RV rv = f->C_Initialize(&ia);
        if (rv)
            die("C_Initialize", rv);
        CK_SLOT_ID slots[4];
        CK_ULONG ns = 4;
        if ((rv = f->C_GetSlotList(CK_TRUE, slots, &ns)) != CKR_OK || ns == 0)
            die("C_GetSlotList", rv);
        slot = slots[0]; /* the first slot with a token: the test-owned one */
        if ((rv = f->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                   &main_session)) != CKR_OK)
            die("C_OpenSession", rv);
        if ((rv = f->C_Login(main_session, CKU_USER, (CK_UTF8CHAR_PTR)argv[2], strlen(argv[2]))))
            die("C_Login", rv);
        make_key(main_session);
    }
    pthread_t t[64];
    threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
    double t0 = now();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, openssl ? openssl_worker : pkcs11_worker, NULL);
    while (now() - t0 < seconds) {
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double dt = now() - t0;
    if (aes)
        printf("MB/s %.1f\n", (double)atomic_load(&total) * AES_MSG / dt / 1e6);
    else
        printf("signs/s %.0f\n", (double)atomic_load(&total) / dt);
    if (!openssl)
        f->C_Finalize(NULL);
    return 0;
}
