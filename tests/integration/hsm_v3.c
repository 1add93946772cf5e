/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PKCS#11 3.0 interfaces of libkeep-pkcs11.so (docs/HSM.md "PKCS#11 3.0"),
 * driven as a 3.0 application does, against a running keep-hsm:
 *
 *   hsm_v3 MODULE PIN LABEL
 *
 * C_GetInterfaceList / C_GetInterface (NULL and "PKCS 11", versions 3.0 and
 * 2.40, bad names, versions and flags), the version fields of both function
 * lists, C_GetInfo through each, C_LoginUser, C_SessionCancel, the refused
 * message API, and an ECDSA signature of private key LABEL made through the
 * 3.0 list and checked through the 2.40 list (and the other way round).
 * Prints one line per failed check; exit 0 when all hold, 1 otherwise.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "hsm/cryptoki.h"

static int failures;

static void expect(int ok, const char *what, CK_RV rv)
{
    if (!ok) {
        fprintf(stderr, "hsm_v3: %s (rv 0x%lx)\n", what, rv);
        failures++;
    }
}

static CK_VERSION version_of(const CK_INTERFACE *i)
{
    return *(const CK_VERSION *)i->pFunctionList; /* every function list starts with it */
}

static int is_version(CK_VERSION v, int major, int minor)
{
    return v.major == major && v.minor == minor;
}

static void check_list(CK_C_GetInterfaceList list)
{
    CK_ULONG n = 0;
    CK_RV rv = list(NULL, &n);
    expect(rv == CKR_OK && n == 2, "C_GetInterfaceList(NULL) counts 2 interfaces", rv);
    CK_INTERFACE got[3];
    CK_ULONG small = 1;
    rv = list(got, &small);
    expect(rv == CKR_BUFFER_TOO_SMALL && small == 2, "a 1-entry list is CKR_BUFFER_TOO_SMALL, 2",
           rv);
    n = 3;
    rv = list(got, &n);
    expect(rv == CKR_OK && n == 2, "C_GetInterfaceList fills 2 entries", rv);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        expect(strcmp((const char *)got[i].pInterfaceName, "PKCS 11") == 0,
               "each interface is named \"PKCS 11\"", 0);
        expect(got[i].flags == 0, "no interface claims CKF_INTERFACE_FORK_SAFE", got[i].flags);
    }
    if (rv == CKR_OK) {
        expect(is_version(version_of(&got[0]), 3, 0), "the first (default) list is 3.0", 0);
        expect(is_version(version_of(&got[1]), 2, 40), "the second list is 2.40", 0);
    }
    expect(list(got, NULL) == CKR_ARGUMENTS_BAD, "a NULL count is CKR_ARGUMENTS_BAD", 0);
}

/* The interface C_GetInterface gives for name/version/flags, or NULL. */
static CK_INTERFACE *get(CK_C_GetInterface gi, const char *name, CK_VERSION *v, CK_FLAGS flags,
                         CK_RV *rv)
{
    CK_UTF8CHAR buf[32];
    CK_INTERFACE *out = NULL;
    if (name)
        snprintf((char *)buf, sizeof(buf), "%s", name);
    *rv = gi(name ? buf : NULL, v, &out, flags);
    return *rv == CKR_OK ? out : NULL;
}

/* C_GetInterface's answers; the 3.0 list through *v3 and the 2.40 list through *v2. */
static void check_get(CK_C_GetInterface gi, CK_FUNCTION_LIST_3_0 **v3, CK_FUNCTION_LIST **v2)
{
    CK_RV rv;
    CK_VERSION want3 = {3, 0}, want2 = {2, 40}, old = {2, 20}, next = {3, 1};
    CK_INTERFACE *i = get(gi, NULL, NULL, 0, &rv);
    expect(i && is_version(version_of(i), 3, 0), "C_GetInterface(NULL, NULL) is the 3.0 list", rv);
    i = get(gi, "PKCS 11", NULL, 0, &rv);
    expect(i && is_version(version_of(i), 3, 0), "\"PKCS 11\" with no version is 3.0", rv);
    i = get(gi, "PKCS 11", &want3, 0, &rv);
    expect(i && is_version(version_of(i), 3, 0), "\"PKCS 11\" 3.0", rv);
    *v3 = i ? i->pFunctionList : NULL;
    i = get(gi, "PKCS 11", &want2, 0, &rv);
    expect(i && is_version(version_of(i), 2, 40), "\"PKCS 11\" 2.40", rv);
    *v2 = i ? i->pFunctionList : NULL;
    i = get(gi, NULL, &want2, 0, &rv);
    expect(i && is_version(version_of(i), 2, 40), "any name, 2.40", rv);
    get(gi, "PKCS 11", &old, 0, &rv);
    expect(rv == CKR_ARGUMENTS_BAD, "\"PKCS 11\" 2.20 is not offered", rv);
    get(gi, "PKCS 11", &next, 0, &rv);
    expect(rv == CKR_ARGUMENTS_BAD, "\"PKCS 11\" 3.1 is not offered", rv);
    get(gi, "Vendor keep", NULL, 0, &rv);
    expect(rv == CKR_ARGUMENTS_BAD, "an unknown interface name is CKR_ARGUMENTS_BAD", rv);
    get(gi, NULL, NULL, CKF_INTERFACE_FORK_SAFE, &rv);
    expect(rv == CKR_ARGUMENTS_BAD, "no interface is fork-safe", rv);
    expect(gi(NULL, NULL, NULL, 0) == CKR_ARGUMENTS_BAD, "a NULL out is CKR_ARGUMENTS_BAD", 0);
}

static CK_OBJECT_HANDLE find_key(CK_FUNCTION_LIST_3_0 *f, CK_SESSION_HANDLE s, char *label)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_LABEL, label, (CK_ULONG)strlen(label)}};
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    CK_RV rv = f->C_FindObjectsInit(s, t, 2);
    if (rv == CKR_OK)
        rv = f->C_FindObjects(s, &key, 1, &n);
    f->C_FindObjectsFinal(s);
    expect(rv == CKR_OK && n == 1, "the 3.0 list finds the private key", rv);
    return n == 1 ? key : CK_INVALID_HANDLE;
}

/* The public key object of the same label, for C_Verify. */
static CK_OBJECT_HANDLE find_pub(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, char *label)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_LABEL, label, (CK_ULONG)strlen(label)}};
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    CK_RV rv = f->C_FindObjectsInit(s, t, 2);
    if (rv == CKR_OK)
        rv = f->C_FindObjects(s, &key, 1, &n);
    f->C_FindObjectsFinal(s);
    expect(rv == CKR_OK && n == 1, "the 2.40 list finds the public key", rv);
    return n == 1 ? key : CK_INVALID_HANDLE;
}

static CK_RV sign(CK_C_SignInit init, CK_C_Sign do_sign, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
                  CK_BYTE *sig, CK_ULONG *sig_len)
{
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    CK_BYTE msg[] = "signed through one list, checked through the other";
    CK_RV rv = init(s, &m, key);
    return rv != CKR_OK ? rv : do_sign(s, msg, sizeof(msg), sig, sig_len);
}

static CK_RV verify(CK_C_VerifyInit init, CK_C_Verify do_verify, CK_SESSION_HANDLE s,
                    CK_OBJECT_HANDLE key, CK_BYTE *sig, CK_ULONG sig_len)
{
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    CK_BYTE msg[] = "signed through one list, checked through the other";
    CK_RV rv = init(s, &m, key);
    return rv != CKR_OK ? rv : do_verify(s, msg, sizeof(msg), sig, sig_len);
}

static void check_sign(CK_FUNCTION_LIST_3_0 *v3, CK_FUNCTION_LIST *v2, CK_SESSION_HANDLE s,
                       char *label)
{
    CK_OBJECT_HANDLE priv = find_key(v3, s, label), pub = find_pub(v2, s, label);
    CK_BYTE sig[256];
    CK_ULONG n = sizeof(sig);
    CK_RV rv = sign(v3->C_SignInit, v3->C_Sign, s, priv, sig, &n);
    expect(rv == CKR_OK, "C_Sign through the 3.0 list", rv);
    rv = verify(v2->C_VerifyInit, v2->C_Verify, s, pub, sig, n);
    expect(rv == CKR_OK, "the 2.40 list verifies the 3.0 list's signature", rv);
    sig[n / 2] ^= 1;
    rv = verify(v2->C_VerifyInit, v2->C_Verify, s, pub, sig, n);
    expect(rv == CKR_SIGNATURE_INVALID, "a changed signature is CKR_SIGNATURE_INVALID", rv);
    n = sizeof(sig);
    rv = sign(v2->C_SignInit, v2->C_Sign, s, priv, sig, &n);
    expect(rv == CKR_OK, "C_Sign through the 2.40 list", rv);
    rv = verify(v3->C_VerifyInit, v3->C_Verify, s, pub, sig, n);
    expect(rv == CKR_OK, "the 3.0 list verifies the 2.40 list's signature", rv);

    /* C_SessionCancel ends an active C_SignInit: a second init is then accepted. */
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    expect(v3->C_SignInit(s, &m, priv) == CKR_OK, "C_SignInit", 0);
    rv = v3->C_SignInit(s, &m, priv);
    expect(rv == CKR_OPERATION_ACTIVE, "a second C_SignInit is CKR_OPERATION_ACTIVE", rv);
    rv = v3->C_SessionCancel(s, CKF_SIGN);
    expect(rv == CKR_OK, "C_SessionCancel(CKF_SIGN)", rv);
    rv = v3->C_SignInit(s, &m, priv);
    expect(rv == CKR_OK, "C_SignInit after C_SessionCancel", rv);
    v3->C_SessionCancel(s, CKF_SIGN);
    rv = v3->C_MessageSignInit(s, &m, priv);
    expect(rv == CKR_FUNCTION_NOT_SUPPORTED, "the message API is CKR_FUNCTION_NOT_SUPPORTED", rv);
}

static void check_session(CK_FUNCTION_LIST_3_0 *v3, CK_FUNCTION_LIST *v2, const char *pin,
                          char *label)
{
    CK_INFO info;
    CK_RV rv = v3->C_GetInfo(&info);
    expect(rv == CKR_OK && is_version(info.cryptokiVersion, 3, 0),
           "C_GetInfo through the 3.0 list says 3.0", rv);
    rv = v2->C_GetInfo(&info);
    expect(rv == CKR_OK && is_version(info.cryptokiVersion, 2, 40),
           "C_GetInfo through the 2.40 list says 2.40", rv);
    CK_SLOT_ID slot;
    CK_ULONG n = 1;
    CK_SESSION_HANDLE s;
    rv = v3->C_GetSlotList(CK_TRUE, &slot, &n);
    if (rv == CKR_OK)
        rv = v3->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    expect(rv == CKR_OK, "a session through the 3.0 list", rv);
    if (rv != CKR_OK)
        return;
    CK_UTF8CHAR name[] = "alice", p[64];
    CK_ULONG pn = (CK_ULONG)snprintf((char *)p, sizeof(p), "%s", pin);
    rv = v3->C_LoginUser(s, CKU_USER, p, pn, name, sizeof(name) - 1);
    expect(rv == CKR_ARGUMENTS_BAD, "C_LoginUser with a user name is refused", rv);
    rv = v3->C_LoginUser(s, CKU_USER, p, pn, NULL, 0);
    expect(rv == CKR_OK, "C_LoginUser without a name logs the user in", rv);
    if (rv == CKR_OK)
        check_sign(v3, v2, s, label);
    v2->C_CloseSession(s);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: hsm_v3 MODULE PIN LABEL\n");
        return 64;
    }
    void *lib = dlopen(argv[1], RTLD_NOW);
    CK_C_GetInterfaceList list = lib ? (CK_C_GetInterfaceList)dlsym(lib, "C_GetInterfaceList") : 0;
    CK_C_GetInterface gi = lib ? (CK_C_GetInterface)dlsym(lib, "C_GetInterface") : 0;
    CK_C_GetFunctionList gfl = lib ? (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList") : 0;
    if (!list || !gi || !gfl) {
        fprintf(stderr, "hsm_v3: %s lacks C_GetInterfaceList or C_GetInterface\n", argv[1]);
        return 1;
    }
    check_list(list);
    CK_FUNCTION_LIST_3_0 *v3 = NULL;
    CK_FUNCTION_LIST *v2 = NULL, *old = NULL;
    check_get(gi, &v3, &v2);
    CK_RV rv = gfl(&old);
    expect(rv == CKR_OK && old == v2, "C_GetFunctionList gives the same 2.40 list", rv);
    if (!v3 || !v2)
        return 1;
    /*
     * NSS's CK_C_INITIALIZE_ARGS calls the spec's pReserved LibraryParameters
     * and appends a pReserved the spec's struct lacks: a caller built on the
     * OASIS header (p11-kit) leaves whatever follows its struct there. The
     * module must judge the spec's field only.
     */
    CK_CHAR_PTR params = NULL;
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK, .LibraryParameters = &params};
    rv = v3->C_Initialize(&args);
    expect(rv == CKR_ARGUMENTS_BAD, "a non-NULL pReserved (NSS: LibraryParameters) is refused", rv);
    args.LibraryParameters = NULL;
    args.pReserved = &params; /* past the end of an OASIS-layout struct */
    rv = v3->C_Initialize(&args);
    expect(rv == CKR_OK, "C_Initialize through the 3.0 list, OASIS-layout arguments", rv);
    if (rv == CKR_OK) {
        check_session(v3, v2, argv[2], argv[3]);
        v3->C_Finalize(NULL);
    }
    return failures ? 1 : 0;
}
