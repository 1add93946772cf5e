#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# keep-hsm bound to keep-steward (docs/HSM.md "Rollback"): keep-hsm runs in a
# Keep enrolled with `keep run --steward` and, with --counter-steward, keeps
# its token store's generation in the service's counter for its measurement.
# pkcs11-tool makes an object; the token directory is copied; a second object
# is made; restoring the old copy makes keep-hsm refuse to start ("token
# rolled back: store generation G, service counter C"); the current copy
# starts again with both objects. With --master-key-secret the token's master
# key is sealed under the PINs and a secret the service releases only to this
# measurement: the same token in a Keep without that secret does not open.
# kvm only: nil refuses --steward.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
STEWARD=${KEEP_STEWARD_BIN:?KEEP_STEWARD_BIN must point at keep-steward}
HSM=${KEEP_HSM_BIN:?KEEP_HSM_BIN must point at keep-hsm}
MOD=${KEEP_PKCS11_MODULE:?KEEP_PKCS11_MODULE must point at libkeep-pkcs11.so}
why=$(backend_status kvm) || skip_all "kvm is not available ($why); nil refuses --steward"
command -v pkcs11-tool >/dev/null || skip_all "pkcs11-tool is not installed (scripts/setup installs it)"
# (ldd's whole output is read first: with pipefail, grep -q closing the pipe early
# could make ldd die of SIGPIPE and the test run the ASan module after all.)
if [[ $(ldd "$MOD" 2>/dev/null || true) == *libasan* ]]; then
  skip_all "the module is an ASan build; real clients are uninstrumented (run on build/)"
fi
export KEEP_PKCS11_INSECURE=1 # kvm evidence is unsigned (docs/HSM.md "Trust")
STATE=$TMP/state
pid= hsm_pid=
trap '[ -z "$hsm_pid" ] || kill -KILL "$hsm_pid" 2>/dev/null || true
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; rm -rf "$TMP"' EXIT
"$STEWARD" serve --state "$STATE" --listen 127.0.0.1:0 --insecure-kvm >"$TMP/steward.log" 2>&1 &
pid=$!
PORT=
for _ in $(seq 300); do
  PORT=$(sed -n 's/^keep-steward: listening on https:\/\/127.0.0.1:\([0-9]*\) .*/\1/p' "$TMP/steward.log")
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { sed 's/^/# /' "$TMP/steward.log"; skip_all "keep-steward did not start"; }
URL=https://127.0.0.1:$PORT
mkdir -p "$TMP/tok" "$TMP/run"
head -c 32 /dev/urandom >"$TMP/master"
"$STEWARD" admin --state "$STATE" secret-put hsm-master "$TMP/master" >/dev/null
rm -f "$TMP/master"
HSM_ARGS=(--steward "$URL" --steward-ca "$STATE/ca.pem" --secret hsm-master
  --connect "127.0.0.1:$PORT"
  --listen "unix:$TMP/run/sock" --volume "$TMP/tok:/tokens"
  -- "$HSM" --listen "$TMP/run/sock" --store /tokens/token.khsm --kdf-iterations 2000
  --counter-steward "$URL" --master-key-secret /run/keep/secrets/hsm-master)
export KEEP_PKCS11_SOCKET=$TMP/run/sock
KEEP_PKCS11_MEASUREMENT=$("$KEEP" measure "${HSM_ARGS[@]}")
export KEEP_PKCS11_MEASUREMENT
printf '{"attest": {"measurement": ["%s"]}, "secrets": ["hsm-master"]}\n' "$KEEP_PKCS11_MEASUREMENT" \
  >"$TMP/policy.json"
"$STEWARD" admin --state "$STATE" policy-put keep-hsm "$TMP/policy.json" >/dev/null

start_hsm() { # -> 0 once serving; 1 if the Keep ended first (its log in $TMP/hsm.log)
  : >"$TMP/hsm.log"
  rm -f "$TMP/run/sock"
  "$KEEP" run "${HSM_ARGS[@]}" 2>>"$TMP/hsm.log" &
  hsm_pid=$!
  for _ in $(seq 1200); do
    grep -q "serving" "$TMP/hsm.log" 2>/dev/null && [ -S "$TMP/run/sock" ] && return 0
    kill -0 "$hsm_pid" 2>/dev/null || { wait "$hsm_pid" || true; hsm_pid=; return 1; }
    sleep 0.1
  done
  return 1
}
stop_hsm() {
  kill -TERM "$hsm_pid" 2>/dev/null || true
  wait "$hsm_pid" 2>/dev/null || true
  hsm_pid=
}
p11() { pkcs11-tool --module "$MOD" "$@"; }
log_has() { grep -Eq -- "$1" "$TMP/hsm.log"; }

check "keep-hsm starts enrolled, with --counter-steward" start_hsm
check "  logs that the token is bound to the service's counter" \
  log_has "token bound to version counter keep-hsm-token at $URL"
expect_status 0 "C_InitToken" p11 --init-token --label steward --so-pin 87654321
check "  sealed under the PINs and the service's secret" \
  log_has "sealed under keys derived from the PINs and the master key secret"
expect_status 0 "C_InitPIN" p11 --init-pin --login --login-type so --so-pin 87654321 --pin 1234
expect_status 0 "an AES key 'first'" p11 --login --pin 1234 --keygen --key-type AES:32 --id 01 \
  --label first
stop_hsm
cp -a "$TMP/tok" "$TMP/tok.old"
check "restart: serves the current store" start_hsm
expect_status 0 "an AES key 'second'" p11 --login --pin 1234 --keygen --key-type AES:32 --id 02 \
  --label second
stop_hsm
mv "$TMP/tok" "$TMP/tok.new"
cp -a "$TMP/tok.old" "$TMP/tok"
if start_hsm; then
  ok 1 "the old copy is refused (it served)"
  stop_hsm
else
  ok 0 "the old copy is refused: keep-hsm ends before serving"
fi
g=$(sed -n 's/.*token rolled back: store generation \([0-9]*\), service counter \([0-9]*\).*/\1 \2/p' \
  "$TMP/hsm.log")
check "  with 'token rolled back: store generation G, service counter C', G < C ($g)" \
  bash -c "set -- $g; [ \$# -eq 2 ] && [ \$1 -lt \$2 ]"
[ -n "$g" ] || sed 's/^/# /' "$TMP/hsm.log"
rm -rf "$TMP/tok"
mv "$TMP/tok.new" "$TMP/tok"
check "the current copy starts again" start_hsm
expect_status 0 "pkcs11-tool lists the objects" p11 --login --pin 1234 --list-objects --type secrkey
check "  both keys are there" bash -c "grep -q 'label: *first' '$TMP/out' && grep -q 'label: *second' '$TMP/out'"
stop_hsm
# The same token in a Keep that was not given the service's secret.
expect_status 1 "keep-hsm without --master-key-secret refuses the token" "$KEEP" run \
  --volume "$TMP/tok:/tokens" -- "$HSM" --listen /tmp/sock --store /tokens/token.khsm \
  --kdf-iterations 2000
check "  saying it is sealed under the service's secret" \
  err_has "sealed under a master key secret from the attestation service"
done_testing
