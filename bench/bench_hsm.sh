#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Key service benchmark (docs/PERFORMANCE.md, "Key service"): signatures per
# second with 1 and 8 sessions, from the same client (bench_pkcs11) against
# keep-hsm in a Keep and SoftHSM2 (a test-owned token directory), a TPM key
# in swtpm through tpm2-tss ESAPI (bench_tpm2; one session: a TPM runs one
# command at a time), beside OpenSSL signing in-process with as many
# threads, all in one run.
# Usage: bench/bench_hsm.sh [BUILD_DIR]   (default build-bench, then build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
[ -x "$build/src/hsm/keep-hsm" ] || build=build
keep=$build/src/cli/keep
client=$build/bench/bench_pkcs11
mod=$build/src/hsm/libkeep-pkcs11.so
softhsm=/usr/lib/softhsm/libsofthsm2.so
secs=${BENCH_SECONDS:-3}
for f in "$keep" "$client" "$mod" "$build/src/hsm/keep-hsm"; do
  [ -e "$f" ] || { echo "bench_hsm: $f is not built"; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/var/tmp}/keep-bench-hsm.XXXXXX")
hsm_pid=
tpm_pid=
# wait reports the killed process's status (143): under set -e that must not end the cleanup
# before swtpm is stopped and the directory removed.
cleanup() {
  for pid in $hsm_pid $tpm_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

backend=kvm
if ! "$keep" platform 2>/dev/null | grep -q '^kvm: *available'; then
  "$keep" platform --json | python3 -c '
import json, sys
b = {x["name"]: x for x in json.load(sys.stdin)["backends"]}["kvm"]
sys.exit(0 if b["available"] else 1)' || backend=nil
fi
[ "$backend" = kvm ] || echo "# kvm is unavailable: keep-hsm runs on nil, which is not a Keep"

mkdir -p "$work/tok" "$work/run" "$work/softhsm"
args=(--backend "$backend" --listen "unix:$work/run/sock" --volume "$work/tok:/tokens" --
  "$build/src/hsm/keep-hsm" --listen "$work/run/sock" --store /tokens/t.khsm --kdf-iterations 10000)
"$keep" run "${args[@]}" 2>"$work/hsm.log" &
hsm_pid=$!
for _ in $(seq 600); do grep -q serving "$work/hsm.log" && break; sleep 0.1; done
export KEEP_PKCS11_SOCKET=$work/run/sock KEEP_PKCS11_INSECURE=1
KEEP_PKCS11_MEASUREMENT=$("$keep" measure "${args[@]}")
export KEEP_PKCS11_MEASUREMENT
p11() { pkcs11-tool --module "$mod" "$@" >/dev/null 2>&1; }
p11 --init-token --label bench --so-pin 87654321
p11 --init-pin --login --login-type so --so-pin 87654321 --pin 1234

printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$work/softhsm" >"$work/softhsm2.conf"
export SOFTHSM2_CONF=$work/softhsm2.conf
softhsm2-util --init-token --free --label bench --so-pin 87654321 --pin 1234 >/dev/null

# swtpm on a free loopback port (its TCTI speaks TCP), state in the bench directory.
tpm_tcti=
if command -v swtpm >/dev/null && [ -x "$build/bench/bench_tpm2" ]; then
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/tpm"
  swtpm socket --tpm2 --tpmstate "dir=$work/tpm" --flags not-need-init,startup-clear \
    --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
    --ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" 2>"$work/swtpm.log" &
  tpm_pid=$!
  for _ in $(seq 100); do
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
      "$port" 2>/dev/null && break
    sleep 0.1
  done
  tpm_tcti="swtpm:host=localhost,port=$port" # tpm2-tss 3.2 does not parse a dotted host here
else
  echo "# swtpm or bench_tpm2 (libtss2-dev) is missing: no swtpm column"
fi

rate() { "$client" "$@" 2>/dev/null | awk '/^(signs|MB)\/s/ {print $2}'; }
tpm_rate() { # mech sessions
  if [ -n "$tpm_tcti" ] && [ "$1" != aes ] && [ "$2" = 1 ]; then
    "$build/bench/bench_tpm2" "$tpm_tcti" "$1" "$secs" 2>/dev/null | awk '/^signs\/s/ {print $2}'
  else
    echo -
  fi
}
ratio() { python3 -c "import sys
try: a, b = float(sys.argv[1]), float(sys.argv[2])
except ValueError: a = b = 0
print(f'{a / b:.2f}' if b else '-')" "$1" "$2"; }

echo "keep-hsm on $backend; $secs s per figure; session keys; one client process"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "signatures per second; AES-256-GCM in MB/s of 64 KiB messages"
printf '%-14s %8s %10s %10s %10s %10s %12s %12s %12s\n' mechanism sessions keep-hsm SoftHSM2 \
  swtpm OpenSSL keep/SoftHSM keep/swtpm keep/OpenSSL
for mech in ${BENCH_MECHS:-ecdsa rsa aes}; do
  for n in 1 8; do
    k=$(rate "$mod" 1234 $mech $n "$secs")
    s=$(rate "$softhsm" 1234 $mech $n "$secs")
    t=$(tpm_rate $mech $n)
    o=$(rate openssl - $mech $n "$secs")
    name=$([ $mech = ecdsa ] && echo "ECDSA P-256" || echo "RSA-2048")
    [ $mech = aes ] && name="AES-256-GCM MB/s"

    printf '%-14s %8s %10s %10s %10s %10s %12s %12s %12s\n' "$name" $n "$k" "$s" "$t" "$o" \
      "$(ratio "$k" "$s")" "$(ratio "$k" "$t")" "$(ratio "$k" "$o")"
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
