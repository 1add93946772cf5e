#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# busybox-static, a real unmodified program, inside a Keep: each applet's
# output must equal what the host's own tools say about the same files.
set -eu
. "$(dirname "$0")/lib.sh"

BB=${KEEP_BUSYBOX:-/bin/busybox}
[ -x "$BB" ] || skip_all "$BB is missing (Debian package busybox-static)"
file -L "$BB" 2>/dev/null | grep -q 'statically linked' ||
  skip_all "$BB is not statically linked (install busybox-static, not busybox)"

if why=$(backend_status kvm); then
  backends="kvm/direct kvm/bounce"
else
  echo "# SKIP kvm: $why; running busybox on nil instead"
  why_nil=$(backend_status nil) || skip_all "neither kvm ($why) nor nil ($why_nil) can run here"
  backends="nil/direct"
fi

vol=$TMP/vol
mkdir -p "$vol"
head -c 1000000 /dev/urandom >"$vol/random.bin"
printf 'pear\napple\nfig\nbanana\napple\n' >"$vol/fruit.txt"
seq 1 5000 >"$vol/numbers.txt"

for bc in $backends; do
  b=${bc%/*}
  c=${bc#*/}
  P="[$b/$c]"
  bb() { "$KEEP" run --backend "$b" --channel "$c" --volume "$vol:/data" "$BB" "$@"; }

  expect_status 0 "$P busybox echo" bb echo hello keep
  check "$P   prints its arguments" out_has '^hello keep$'

  expect_status 0 "$P busybox cat of a volume file" bb cat /data/fruit.txt
  check "$P   same bytes as the file" cmp -s "$TMP/out" "$vol/fruit.txt"

  expect_status 0 "$P busybox wc" bb wc -l /data/numbers.txt
  check "$P   5000 lines" out_has '^ *5000 /data/numbers.txt$'

  expect_status 0 "$P busybox sha256sum of 1 MB in a volume" bb sha256sum /data/random.bin
  want=$(sha256sum "$vol/random.bin" | cut -d' ' -f1)
  check "$P   equals the host's sha256sum" out_has "^$want  /data/random.bin\$"

  expect_status 0 "$P busybox ls of a volume" bb ls /data
  check "$P   lists the three files" bash -c \
    "[ \"\$(tr '\n' ' ' <'$TMP/out')\" = 'fruit.txt numbers.txt random.bin ' ]"

  capture "$KEEP" run --backend "$b" --channel "$c" "$BB" sort <"$vol/fruit.txt"
  check "$P busybox sort of stdin (exit $status)" bash -c \
    "[ $status -eq 0 ] && sort '$vol/fruit.txt' | cmp -s - '$TMP/out'"

  rm -f "$vol/random.bin.gz"
  expect_status 0 "$P busybox gzip -k in the volume" bb gzip -k /data/random.bin
  check "$P   the host's gzip accepts it" gzip -t "$vol/random.bin.gz"
  expect_status 0 "$P busybox gunzip -c" bb gunzip -c /data/random.bin.gz
  check "$P   round trip gives the original bytes" cmp -s "$TMP/out" "$vol/random.bin"
  rm -f "$vol/random.bin.gz"
done

# A shell pipeline forks (issue 8). A Keep is one process, so on kvm fork is
# ENOSYS: sh says so and keep's log names the call once. On nil, where the
# program is an ordinary process, the pipeline runs (wc is found under the
# volume at /bin, the only PATH the empty nil root has).
mkdir -p "$TMP/bin"
cp "$BB" "$TMP/bin/busybox"
ln -s busybox "$TMP/bin/wc"
pipeline=(--volume "$TMP/bin:/bin:ro" --env PATH=/bin "$BB" sh -c 'echo a | wc -c')
for bc in $backends; do
  b=${bc%/*}
  c=${bc#*/}
  P="[$b/$c]"
  expect_status 2 "$P busybox sh -c 'echo a | wc -c' fails clearly" \
    "$KEEP" run --backend "$b" --channel "$c" --log info "${pipeline[@]}"
  check "$P   sh reports fork as ENOSYS" err_has "^sh: can't fork: Function not implemented$"
  check "$P   keep names the call once at --log info" bash -c \
    "[ \$(grep -c 'syscall 56 (clone of a new process, fork: a Keep is one process).*ENOSYS' '$TMP/err') -eq 1 ]"
done
if why_nil=$(backend_status nil); then
  expect_status 0 "[nil] busybox sh -c 'echo a | wc -c' forks natively" \
    "$KEEP" run --backend nil "${pipeline[@]}"
  check "[nil]   prints 2, as the host's shell does" out_has '^ *2$'
else
  diag "SKIP nil: $why_nil"
fi
done_testing
