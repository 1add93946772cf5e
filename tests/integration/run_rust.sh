#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Static Rust programs built here with Debian's rustc (/usr/bin/rustc, never a
# rustup toolchain: scripts/setup installs the package) from
# tests/workloads/rust/, in Keeps on kvm (both channel paths) and nil, each
# compared with the same program run natively: std::thread::spawn + join
# with a Mutex and a channel, and a TcpListener echo server (a thread per
# connection, blocking accept and read) reached by a host client.
set -eu
. "$(dirname "$0")/lib.sh"

src=$(cd "$(dirname "$0")/../workloads/rust" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
rustc=${KEEP_RUSTC:-/usr/bin/rustc}
[ -x "$rustc" ] || skip_all "$rustc is absent (scripts/setup installs Debian's rustc)"
bin=$TMP/rust
mkdir -p "$bin"
for p in threads echo_server; do
  # crt-static: a static binary against libc6-dev's libc.a, which a Keep runs.
  "$rustc" -O -C target-feature=+crt-static --target x86_64-unknown-linux-gnu \
    -o "$bin/$p" "$src/$p.rs" 2>"$TMP/rustc.err" ||
    skip_all "rustc could not build $p: $(tail -n 1 "$TMP/rustc.err")"
done
"$bin/threads" >"$TMP/threads.native"
conns=3

# echo_run NAME PORT cmd...: the server under cmd on 127.0.0.1:PORT, the host
# client against it. The client's lines go to $TMP/NAME.client, the server's to
# $TMP/NAME.out.
echo_run() {
  local name=$1 port=$2 pid i st=0
  shift 2
  timeout -s KILL 60 "$@" "127.0.0.1:$port" $conns >"$TMP/$name.out" 2>"$TMP/$name.err" &
  pid=$!
  for i in $(seq 1 400); do
    grep -q '^listening' "$TMP/$name.out" 2>/dev/null && break
    sleep 0.05
  done
  timeout 50 python3 "$here/rust_echo_client.py" "$port" $conns >"$TMP/$name.client" 2>&1 || true
  wait $pid || st=$?
  return $st
}

echo_run native "$(free_port)" "$bin/echo_server" || diag "the native echo server exited $?"
grep -v '^listening' "$TMP/native.out" >"$TMP/native.tail" || true

# same A B: the files are equal; otherwise their diff as TAP comments.
same() { diff -u "$1" "$2" >"$TMP/diff" || { sed 's/^/#   /' "$TMP/diff"; return 1; }; }

rust_suite() { # backend channel
  # The server's main thread stays blocked in accept while each connection's
  # thread reads and writes: the executor runs blocking host calls unlocked
  # (docs/HACKING.md, "The executor lock").
  local P="[$1/$2]" kr=("$KEEP" run --backend "$1" --channel "$2" --memory 512M)
  expect_status 0 "$P Rust thread::spawn + join, Mutex, channel" "${kr[@]}" "$bin/threads"
  check "$P   output identical to the native run" same "$TMP/threads.native" "$TMP/out"
  local st=0 port
  port=$(free_port)
  echo_run keep "$port" "${kr[@]}" --listen "127.0.0.1:$port" "$bin/echo_server" || st=$?
  ok $st "$P Rust TcpListener echo server exits 0 after $conns connections (exit $st)"
  [ $st -eq 0 ] || sed 's/^/#   stderr: /' "$TMP/keep.err" | head -10
  check "$P   the host client got every echo, as natively" same "$TMP/native.client" "$TMP/keep.client"
  grep -v '^listening' "$TMP/keep.out" >"$TMP/keep.tail" || true
  check "$P   the server's byte counts match the native run" same "$TMP/native.tail" "$TMP/keep.tail"
}

if why=$(backend_status kvm); then
  rust_suite kvm direct
  rust_suite kvm bounce
else
  diag "SKIP kvm: $why"
fi
why_nil=$(backend_status nil) && rust_suite nil direct || diag "SKIP nil: $why_nil"
done_testing
