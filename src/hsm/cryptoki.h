/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one PKCS#11 header src/hsm, its tests and bench build on: the OASIS
 * PKCS#11 3.0 pkcs11.h / pkcs11t.h / pkcs11f.h that Debian's libnss3-dev
 * ships in /usr/include/nss (found through pkg-config `nss`; meson
 * dependency `pkcs11h`). It defines CK_PTR and the other platform macros
 * itself (pkcs11t.h), so nothing is defined before it. p11-kit's 2.40
 * <p11-kit/pkcs11.h> must never be included next to it: both define the
 * same CK_* types under different include guards.
 *
 * Named cryptoki.h, not pkcs11.h, because meson puts src/hsm on the include
 * path and <pkcs11.h> below must find NSS's file, not this one.
 */
#ifndef KEEP_HSM_CRYPTOKI_H
#define KEEP_HSM_CRYPTOKI_H

#include <pkcs11.h>

#if CRYPTOKI_VERSION_MAJOR < 3
#error "src/hsm needs a PKCS#11 3.0 pkcs11.h (libnss3-dev's, pkg-config nss)"
#endif

#endif /* KEEP_HSM_CRYPTOKI_H */
