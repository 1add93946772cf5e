#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# libkeep-attest as a user gets it: `meson install` into a DESTDIR, a tiny
# program built against it with nothing but pkg-config, run against the
# installed library. Also: the library exports exactly the functions the
# installed public headers declare (nm -D --defined-only).
set -u
build=${KEEP_BUILD_ROOT:?KEEP_BUILD_ROOT must name the build directory}
tap_n=0
failed=0
ok() { # status description
  tap_n=$((tap_n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; failed=$((failed + 1)); fi
}
for tool in pkg-config nm cc; do
  command -v $tool >/dev/null || { echo "1..0 # SKIP $tool is not installed"; exit 0; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/keep-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest

meson install -C "$build" --no-rebuild --destdir "$dest" >"$tmp/install.log" 2>&1
ok $? "meson install --destdir"
pc=$(find "$dest" -name keep-attest.pc | head -1)
ok "$([ -n "$pc" ]; echo $?)" "keep-attest.pc is installed (${pc#"$dest"})"
lib=$(find "$dest" -name 'libkeep-attest.so.*' -type f | head -1)
ok "$([ -n "$lib" ]; echo $?)" "libkeep-attest.so is installed (${lib#"$dest"})"
inc=$(find "$dest" -path '*/include/keep' -type d | head -1)
for h in attest.h error.h keep.h errors/common.def; do
  ok "$([ -f "$inc/$h" ]; echo $?)" "include/keep/$h is installed"
done

export PKG_CONFIG_PATH=${pc%/*} PKG_CONFIG_SYSROOT_DIR=$dest
cat >"$tmp/prog.c" <<'C'
#include <keep/attest.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    struct keep_error err;
    struct keep_attest_verifier *v;
    if (keep_attest_verifier_new(NULL, &v, &err) != KEEP_OK) {
        printf("verifier: %s\n", err.message);
        return 1;
    }
    static const unsigned char junk[100];
    struct keep_attest_input in = {.format = KEEP_ATTEST_FORMAT_SNP, .evidence = {junk, sizeof(junk)}};
    struct keep_attest_result *r;
    if (keep_attest_verify(v, &in, NULL, &r, &err) != KEEP_OK) {
        printf("verify: %s\n", err.message);
        return 1;
    }
    printf("verdict %s\n", keep_attest_verdict_name(keep_attest_result_verdict(r)));
    keep_attest_result_free(r);
    keep_attest_verifier_free(v);
    return 0;
}
C
# shellcheck disable=SC2046 # pkg-config's output is meant to be split
cc -std=c17 -Wall -Werror -o "$tmp/prog" "$tmp/prog.c" $(pkg-config --cflags --libs keep-attest) \
  >"$tmp/cc.log" 2>&1
st=$?
ok $st "a program builds with only \$(pkg-config --cflags --libs keep-attest)"
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/cc.log"
out=$(KEEP_ROOTS_DIR=${KEEP_SOURCE_ROOT:-.}/data/roots LD_LIBRARY_PATH=${lib%/*} "$tmp/prog" 2>&1)
ok "$([ "$out" = "verdict invalid" ]; echo $?)" "it runs on the installed library: 100 zero bytes as SNP are '$out'"
ok "$(LD_LIBRARY_PATH=${lib%/*} ldd "$tmp/prog" 2>/dev/null | grep -q "${lib%/*}/libkeep-attest.so"; echo $?)" \
  "and it loaded the installed copy"

# Every exported function is declared in an installed header.
undeclared=()
while read -r sym; do
  grep -qw -- "$sym" "$inc"/*.h || undeclared+=("$sym")
done < <(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDRBW]$/ {print $3}')
ok ${#undeclared[@]} "the library exports only what include/keep/*.h declares (extra: ${undeclared[*]:-none})"
echo "1..$tap_n"
[ $failed -eq 0 ]
