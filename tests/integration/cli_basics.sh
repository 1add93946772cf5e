#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The keep CLI refuses bad input with one line and the documented status:
# 64 usage, 127 PROGRAM not found, 126 PROGRAM cannot run, 125 keep failed.
set -eu
. "$(dirname "$0")/lib.sh"

hello=$WL/wl_hello
printf '#!/bin/sh\necho this is a shell script, not ELF\n' >"$TMP/script"

expect_status 64 "keep without a command" "$KEEP"
check "  says usage" err_has '^usage: keep'
expect_status 64 "unknown command" "$KEEP" frobnicate
check "  names it" err_has "unknown command 'frobnicate'"
expect_status 0 "keep --help" "$KEEP" --help
expect_status 0 "keep --version" "$KEEP" --version
check "  prints the version" out_has '^keep [0-9]+\.[0-9]+'

for cmd in run measure; do
  expect_status 0 "$cmd --help" "$KEEP" $cmd --help
  check "  lists --volume" out_has -- '--volume HOST_DIR:GUEST_DIR'
  check "  hides --hostile-host" bash -c "! grep -q hostile '$TMP/out'"
  expect_status 64 "$cmd without PROGRAM" "$KEEP" $cmd
  check "  says no PROGRAM" err_has "keep $cmd: no PROGRAM given"
  expect_status 64 "$cmd --bogus" "$KEEP" $cmd --bogus "$hello"
  check "  names the option" err_has "unknown option '--bogus'"
  expect_status 64 "$cmd --memory without a value" "$KEEP" $cmd --memory
  check "  says it needs a value" err_has "option '--memory' needs a value"
  expect_status 64 "$cmd --memory 12X" "$KEEP" $cmd --memory 12X "$hello"
  check "  names the suffix" err_has "unknown suffix 'X'"
  expect_status 64 "$cmd --volume to a missing dir" "$KEEP" $cmd --volume /nonexistent:/data "$hello"
  check "  names the dir" err_has "host directory '/nonexistent'"
  expect_status 64 "$cmd --connect without port" "$KEEP" $cmd --connect 127.0.0.1 "$hello"
  expect_status 64 "$cmd --env without =" "$KEEP" $cmd --env JUSTNAME "$hello"
  expect_status 64 "$cmd --backend xen" "$KEEP" $cmd --backend xen "$hello"
  expect_status 64 "$cmd --channel pipe" "$KEEP" $cmd --channel pipe "$hello"

  expect_status 127 "$cmd of a missing PROGRAM" "$KEEP" $cmd /nonexistent/prog
  check "  one line naming it" bash -c "[ \$(wc -l <'$TMP/err') -eq 1 ] && grep -q '/nonexistent/prog: No such file' '$TMP/err'"
  expect_status 126 "$cmd of a non-ELF file" "$KEEP" $cmd "$TMP/script"
  check "  says it is not ELF" err_has 'ELF file starts with 7f 45 4c 46'
  expect_status 126 "$cmd of a dynamic executable" "$KEEP" $cmd /bin/true
  check "  says it must be static" err_has 'dynamically linked.*static'
done

# Wrong architecture: the same program with e_machine = 183 (AArch64).
cp "$hello" "$TMP/arm"
printf '\xb7\x00' | dd of="$TMP/arm" bs=1 seek=18 conv=notrunc status=none
expect_status 126 "PROGRAM for AArch64" "$KEEP" run "$TMP/arm"
check "  names e_machine" err_has 'e_machine is 183'
# 32-bit: EI_CLASS = 1.
cp "$hello" "$TMP/elf32"
printf '\x01' | dd of="$TMP/elf32" bs=1 seek=4 conv=notrunc status=none
expect_status 126 "32-bit PROGRAM" "$KEEP" run "$TMP/elf32"
check "  says 64-bit only" err_has '64-bit'
# Too big: 3 MiB of padding makes the file larger than --memory 2M.
cp "$hello" "$TMP/big"
head -c $((3 << 20)) /dev/zero >>"$TMP/big"
expect_status 126 "PROGRAM larger than --memory" "$KEEP" run --memory 2M "$TMP/big"
check "  says raise --memory" err_has 'raise --memory'
# Above the 1 GiB read limit although --memory is larger: the read's own
# message reaches stderr whole (run.c once formatted err->message into itself).
truncate -s $(((1 << 30) + 1)) "$TMP/huge"
expect_status 127 "PROGRAM above the 1 GiB read limit" "$KEEP" run --memory 2G "$TMP/huge"
check "  names the file, its size and the limit" \
  err_has "$TMP/huge is 1073741825 bytes, more than the 1073741824 allowed"
rm -f "$TMP/huge"
# Small file, large image: 512 MiB of .bss against the default 256M.
expect_status 126 "PROGRAM whose segments span more than --memory" "$KEEP" run "$WL/wl_bigbss"
check "  says how much it spans and to raise --memory" err_has 'segments span 524[0-9]+ KiB; --memory is 262144 KiB: raise --memory'
expect_status 0 "  runs with --memory 1G" "$KEEP" run --memory 1G "$WL/wl_bigbss"

# An unusable /dev/kvm, as a user without permission on it.
if [ -e /dev/kvm ] && command -v setpriv >/dev/null && [ "$(id -u)" = 0 ] &&
  setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$hello" 2>/dev/null; then
  expect_status 125 "--backend kvm without permission on /dev/kvm" \
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$KEEP" run --backend kvm "$hello"
  check "  says why" err_has '/dev/kvm.*(permission denied|Permission denied)'
  expect_status 0 "--backend auto without a usable /dev/kvm falls back to nil" \
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$KEEP" run "$hello"
  check "  the workload ran" out_has '^hello from a Keep$'
  check "  a warning says why kvm was not used" err_has 'kvm is not usable \(.*Permission denied.*falling back to the nil backend'
  check "  and that nil isolates nothing" err_has 'NO isolation'
else
  diag "skip: cannot run keep as an unprivileged user here (needs root, setpriv, a readable build)"
fi

expect_status 64 "platform --bogus" "$KEEP" platform --bogus
done_testing
