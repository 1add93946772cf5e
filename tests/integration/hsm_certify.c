/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Read a key's attestation from keep-hsm through libkeep-pkcs11.so, as any
 * PKCS#11 application can (docs/HSM.md "Key attestation"):
 *
 *   hsm_certify MODULE PIN LABEL STATEMENT_OUT EVIDENCE_OUT
 *
 * writes the private key LABEL's HSM_ATTR_KEY_STATEMENT and
 * HSM_ATTR_KEY_EVIDENCE. Exit 0 when both were written, 2 when the token
 * has no evidence to give (nil backend), 1 on any other failure.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/cryptoki.h"
#include "hsm/mechs.h"

static CK_FUNCTION_LIST_PTR f;

static int fail(const char *what, CK_RV rv)
{
    fprintf(stderr, "hsm_certify: %s: 0x%lx\n", what, rv);
    return 1;
}

/* One attribute, size query first (PKCS#11 2.40 5.7), written to path. */
static CK_RV save_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
                       const char *path)
{
    CK_ATTRIBUTE a = {type, NULL, 0};
    CK_RV rv = f->C_GetAttributeValue(s, o, &a, 1);
    if (rv != CKR_OK)
        return rv;
    a.pValue = malloc(a.ulValueLen ? a.ulValueLen : 1);
    if (!a.pValue)
        return CKR_HOST_MEMORY;
    rv = f->C_GetAttributeValue(s, o, &a, 1);
    FILE *out = rv == CKR_OK ? fopen(path, "wb") : NULL;
    if (rv == CKR_OK && (!out || fwrite(a.pValue, 1, a.ulValueLen, out) != a.ulValueLen))
        rv = CKR_FUNCTION_FAILED;
    if (out)
        fclose(out);
    free(a.pValue);
    return rv;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: hsm_certify MODULE PIN LABEL STATEMENT_OUT EVIDENCE_OUT\n");
        return 64;
    }
    void *lib = dlopen(argv[1], RTLD_NOW);
    CK_C_GetFunctionList gfl = lib ? (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList") : NULL;
    if (!gfl || gfl(&f) != CKR_OK)
        return fail("loading the module", 0);
    CK_SESSION_HANDLE s;
    CK_SLOT_ID slot;
    CK_ULONG n = 1;
    CK_RV rv;
    if ((rv = f->C_Initialize(NULL)) || (rv = f->C_GetSlotList(CK_TRUE, &slot, &n)) ||
        (rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s)) ||
        (rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)argv[2], strlen(argv[2]))))
        return fail("opening a logged-in session", rv);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, argv[3], strlen(argv[3])}};
    CK_OBJECT_HANDLE key;
    if ((rv = f->C_FindObjectsInit(s, tmpl, 2)) || (rv = f->C_FindObjects(s, &key, 1, &n)) ||
        (rv = f->C_FindObjectsFinal(s)) || n != 1)
        return fail("finding the private key", rv);
    if ((rv = save_attr(s, key, HSM_ATTR_KEY_STATEMENT, argv[4])) != CKR_OK)
        return fail("reading the key statement", rv);
    rv = save_attr(s, key, HSM_ATTR_KEY_EVIDENCE, argv[5]);
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID) {
        fprintf(stderr, "hsm_certify: the token has no evidence (not in a Keep that gives it)\n");
        return 2;
    }
    if (rv != CKR_OK)
        return fail("reading the key evidence", rv);
    f->C_Finalize(NULL);
    return 0;
}
