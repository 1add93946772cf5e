#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The key service end to end (docs/HSM.md): keep-hsm in a Keep behind
# `--listen unix:PATH`, used by unmodified clients through libkeep-pkcs11.so:
# pkcs11-tool, p11tool (GnuTLS), OpenSSL's pkcs11 engine, p11-kit's proxy,
# ssh-keygen -D and ssh -I against a test-owned sshd. Negative cases: wrong
# PIN lockout, sensitive key extraction, a tampered token file, a Keep
# killed with SIGKILL while it writes. Runs on kvm and on nil.
set -eu
. "$(dirname "$0")/lib.sh"

HSM=${KEEP_HSM_BIN:?KEEP_HSM_BIN must point at keep-hsm}
MOD=${KEEP_PKCS11_MODULE:?KEEP_PKCS11_MODULE must point at libkeep-pkcs11.so}
KEEP_HSM_CERTIFY=${KEEP_HSM_CERTIFY:?KEEP_HSM_CERTIFY must point at hsm_certify}
KEEP_HSM_LOAD=${KEEP_HSM_LOAD:?KEEP_HSM_LOAD must point at hsm_load (bench/bench_pkcs11.c)}
KEEP_HSM_V3=${KEEP_HSM_V3:?KEEP_HSM_V3 must point at hsm_v3}
for tool in pkcs11-tool p11tool openssl ssh-keygen; do
  command -v $tool >/dev/null || skip_all "$tool is not installed (scripts/setup installs it)"
done
# An ASan build's module cannot be loaded into the uninstrumented clients without preloading
# the sanitizer runtime, and then ASan stops pkcs11-tool 0.23 on its own use-after-free when it
# reads an EC public key (in EVP_PKEY_fromdata, none of our frames). The unit test and fuzzers
# run the service under ASan; this test runs on the plain build.
# (ldd's whole output is read first: with pipefail, grep -q closing the pipe early
# could make ldd die of SIGPIPE and the test run the ASan module after all.)
if [[ $(ldd "$MOD" 2>/dev/null || true) == *libasan* ]]; then
  skip_all "the module is an ASan build; real clients are uninstrumented (run on build/)"
fi
ENGINE=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"/\1/p')/pkcs11.so
export KEEP_PKCS11_INSECURE=1 # kvm evidence is unsigned; nil has none (docs/HSM.md "Trust")

hsm_pid=
# Never leave a Keep behind, whatever stops the script.
trap '[ -z "$hsm_pid" ] || kill -KILL "$hsm_pid" 2>/dev/null || true; rm -rf "$TMP"' EXIT
start_hsm() { # backend
  local b=$1
  mkdir -p "$TMP/$b/tok" "$TMP/$b/run"
  HSM_ARGS=(--backend "$b" --listen "unix:$TMP/$b/run/sock" --volume "$TMP/$b/tok:/tokens"
    -- "$HSM" --listen "$TMP/$b/run/sock" --store /tokens/token.khsm --kdf-iterations 2000)
  export KEEP_PKCS11_SOCKET=$TMP/$b/run/sock
  if [ "$b" = kvm ]; then
    KEEP_PKCS11_MEASUREMENT=$("$KEEP" measure "${HSM_ARGS[@]}")
    export KEEP_PKCS11_MEASUREMENT
  else
    unset KEEP_PKCS11_MEASUREMENT
  fi
  rm -f "$TMP/$b/run/up"
  "$KEEP" run "${HSM_ARGS[@]}" 2>>"$TMP/$b/hsm.log" &
  hsm_pid=$!
  # Ready when it says so (keep-hsm logs "serving" after listen()).
  for _ in $(seq 1200); do
    grep -q "serving" "$TMP/$b/hsm.log" 2>/dev/null && [ -S "$TMP/$b/run/sock" ] && return 0
    kill -0 "$hsm_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

stop_hsm() { # signal
  kill -"${1:-TERM}" "$hsm_pid" 2>/dev/null || true
  wait "$hsm_pid" 2>/dev/null || true
  : >"$TMP/$B/hsm.log"
}

p11() { pkcs11-tool --module "$MOD" "$@"; }

run_backend() { # backend
  B=$1
  local d=$TMP/$B
  check "$B: keep-hsm starts in a Keep behind --listen unix:PATH" start_hsm "$B"
  expect_status 0 "$B: C_InitToken" p11 --init-token --label "keep-$B" --so-pin 87654321
  expect_status 0 "$B: C_InitPIN by the SO" p11 --init-pin --login --login-type so \
    --so-pin 87654321 --pin 1234
  expect_status 0 "$B: pkcs11-tool --test" p11 --login --pin 1234 --test
  check "$B: --test: no errors" out_has "No errors"
  expect_status 0 "$B: pkcs11-tool --test-ec" p11 --login --pin 1234 --session-rw --test-ec \
    --id 0e --key-type EC:prime256v1
  check "$B: --test-ec: OK" out_has "==> OK"

  # EC P-256: generated in the Keep, signed there, verified by plain openssl.
  expect_status 0 "$B: EC P-256 keygen" p11 --login --pin 1234 --keypairgen \
    --key-type EC:prime256v1 --id 01 --label ec1
  echo "data to sign" >"$d/data"
  expect_status 0 "$B: ECDSA-SHA256 sign" p11 --login --pin 1234 --sign --id 01 \
    -m ECDSA-SHA256 --signature-format openssl -i "$d/data" -o "$d/ec.sig"
  p11 --read-object --type pubkey --id 01 -o "$d/ec.der" >/dev/null 2>&1
  openssl pkey -pubin -inform DER -in "$d/ec.der" -out "$d/ec.pem" 2>/dev/null
  expect_status 0 "$B: openssl verifies the ECDSA signature" \
    openssl dgst -sha256 -verify "$d/ec.pem" -signature "$d/ec.sig" "$d/data"
  expect_status 1 "$B: a tampered message does not verify" \
    openssl dgst -sha256 -verify "$d/ec.pem" -signature "$d/ec.sig" "$d/ec.der"

  # RSA-2048: PSS sign, OAEP decrypt of what openssl encrypted.
  expect_status 0 "$B: RSA-2048 keygen" p11 --login --pin 1234 --keypairgen --key-type rsa:2048 \
    --id 02 --label rsa1
  p11 --read-object --type pubkey --id 02 -o "$d/rsa.der" >/dev/null 2>&1
  openssl pkey -pubin -inform DER -in "$d/rsa.der" -out "$d/rsa.pem" 2>/dev/null
  expect_status 0 "$B: RSA-PSS sign" p11 --login --pin 1234 --sign --id 02 -m SHA256-RSA-PKCS-PSS \
    --mgf MGF1-SHA256 --salt-len 32 -i "$d/data" -o "$d/rsa.sig"
  expect_status 0 "$B: openssl verifies the PSS signature" openssl dgst -sha256 -verify \
    "$d/rsa.pem" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -signature "$d/rsa.sig" "$d/data"
  echo "a secret" >"$d/plain"
  openssl pkeyutl -encrypt -pubin -inkey "$d/rsa.pem" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in "$d/plain" -out "$d/ct"
  expect_status 0 "$B: RSA-OAEP decrypt in the Keep" p11 --login --pin 1234 --decrypt --id 02 \
    -m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 -i "$d/ct" -o "$d/dec"
  check "$B: OAEP round trip" cmp -s "$d/plain" "$d/dec"

  # AES-256 and HMAC keys made in the Keep (GCM and CTR are in the unit test: this
  # pkcs11-tool has no options for their parameters).
  expect_status 0 "$B: AES-256 keygen" p11 --login --pin 1234 --keygen --key-type AES:32 --id 10 \
    --label aes1
  head -c 1000 /dev/urandom >"$d/blob"
  local iv=000102030405060708090a0b0c0d0e0f
  expect_status 0 "$B: AES-CBC-PAD encrypt" p11 --login --pin 1234 --encrypt --id 10 \
    -m AES-CBC-PAD --iv $iv -i "$d/blob" -o "$d/blob.enc"
  expect_status 0 "$B: AES-CBC-PAD decrypt" p11 --login --pin 1234 --decrypt --id 10 \
    -m AES-CBC-PAD --iv $iv -i "$d/blob.enc" -o "$d/blob.dec"
  check "$B: AES round trip, and the ciphertext is not the plaintext" \
    sh -c "cmp -s '$d/blob' '$d/blob.dec' && ! cmp -s '$d/blob' '$d/blob.enc'"
  expect_status 0 "$B: HMAC key" p11 --login --pin 1234 --keygen --key-type GENERIC:32 --id 11 \
    --label mac1
  expect_status 0 "$B: HMAC-SHA256 sign" p11 --login --pin 1234 --sign --id 11 -m SHA256-HMAC \
    -i "$d/blob" -o "$d/blob.mac"
  expect_status 0 "$B: HMAC-SHA256 verify" p11 --login --pin 1234 --verify --id 11 \
    -m SHA256-HMAC -i "$d/blob" --signature-file "$d/blob.mac"

  # ECDH (C_DeriveKey): pkcs11-tool's secret equals plain openssl's from the other side.
  expect_status 0 "$B: EC P-256 key with CKA_DERIVE" p11 --login --pin 1234 --keypairgen \
    --key-type EC:prime256v1 --id 20 --label dh1 --usage-derive
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/peer.pem" 2>/dev/null
  openssl pkey -in "$d/peer.pem" -pubout -outform DER -out "$d/peer.der"
  expect_status 0 "$B: pkcs11-tool --derive (ECDH1)" p11 --login --pin 1234 --derive --id 20 \
    -i "$d/peer.der" -o "$d/dh.bin"
  p11 --read-object --type pubkey --id 20 -o "$d/dh.der" >/dev/null 2>&1
  openssl pkeyutl -derive -inkey "$d/peer.pem" -peerkey "$d/dh.der" -peerform DER \
    -out "$d/dh.expect"
  check "$B: the Keep's ECDH secret equals openssl's" cmp -s "$d/dh.bin" "$d/dh.expect"

  # AES key wrap (RFC 3394): wrap an extractable key, unwrap it as a new key, same value.
  expect_status 0 "$B: AES KEK with CKA_WRAP/UNWRAP" p11 --login --pin 1234 --keygen \
    --key-type AES:32 --id 30 --label kek1 --usage-wrap
  expect_status 0 "$B: extractable AES key" p11 --login --pin 1234 --keygen --key-type AES:16 \
    --id 31 --label tgt1 --extractable
  expect_status 0 "$B: pkcs11-tool --wrap AES-KEY-WRAP" p11 --login --pin 1234 --wrap \
    -m AES-KEY-WRAP --id 30 --application-id 31 -o "$d/wrapped"
  check "$B: 16 bytes wrap into 24" test "$(stat -c %s "$d/wrapped")" = 24
  expect_status 0 "$B: pkcs11-tool --unwrap" p11 --login --pin 1234 --unwrap -m AES-KEY-WRAP \
    --id 30 -i "$d/wrapped" --key-type AES: --application-id 32 --extractable
  p11 --login --pin 1234 --read-object --type secrkey --id 31 -o "$d/k31" >/dev/null 2>&1
  p11 --login --pin 1234 --read-object --type secrkey --id 32 -o "$d/k32" >/dev/null 2>&1
  check "$B: the unwrapped key is the wrapped one" sh -c "test -s '$d/k31' && cmp -s '$d/k31' '$d/k32'"
  expect_status 1 "$B: the never-extractable KEK does not wrap" p11 --login --pin 1234 --wrap \
    -m AES-KEY-WRAP --id 30 --application-id 30 -o "$d/wrapped2"

  # Sensitive keys do not leave: pkcs11-tool cannot even ask (CKA_VALUE is refused in
  # tests/unit/test_hsm_service.c); the attributes say so.
  expect_status 0 "$B: the private key's attributes" p11 --login --pin 1234 -O --type privkey --id 01
  check "$B: sensitive, never extractable" out_has "sensitive, always sensitive, never extractable"

  # p11tool (GnuTLS) lists and signs.
  expect_status 0 "$B: p11tool lists the objects" p11tool --provider "$MOD" --list-all \
    --login --set-pin=1234 "pkcs11:token=keep-$B"
  check "$B: p11tool sees the private key" out_has "object=ec1;type=private"
  expect_status 0 "$B: p11tool --test-sign" p11tool --provider "$MOD" --login --set-pin=1234 \
    --test-sign "pkcs11:token=keep-$B;object=ec1"

  # OpenSSL through libengine-pkcs11-openssl: a CSR signed in the Keep.
  if [ -e "$ENGINE" ]; then
    expect_status 0 "$B: openssl req -engine pkcs11 signs a CSR" env PKCS11_MODULE_PATH="$MOD" \
      openssl req -engine pkcs11 -keyform engine -new -subj "/CN=keep-$B" -out "$d/csr.pem" \
      -key "pkcs11:token=keep-$B;object=ec1;type=private;pin-value=1234"
    expect_status 0 "$B: plain openssl verifies the CSR" openssl req -verify -noout -in "$d/csr.pem"
  else
    diag "SKIP openssl engine: $ENGINE missing (libengine-pkcs11-openssl)"
  fi

  p11kit_case
  certify_case
  expect_status 0 "$B: PKCS#11 3.0: C_GetInterface, both lists, sign through 3.0 checked by 2.40" \
    "$KEEP_HSM_V3" "$MOD" 1234 ec1
  load_case

  ssh_case

  # Lockout: five wrong PINs lock the user PIN; the SO unlocks it.
  local locked=0
  for _ in 1 2 3 4 5; do p11 --login --pin 0000 --list-objects >/dev/null 2>&1 || true; done
  expect_status 1 "$B: after 5 wrong PINs the right one is refused" p11 --login --pin 1234 -O
  check "$B: CKR_PIN_LOCKED" err_has "CKR_PIN_LOCKED"
  expect_status 0 "$B: the SO resets the user PIN" p11 --init-pin --login --login-type so \
    --so-pin 87654321 --pin 1234
  expect_status 0 "$B: the user logs in again" p11 --login --pin 1234 -O

  crash_case
  tamper_case
  stop_hsm TERM
}

# Eight threads of one process share the connection: their requests and replies are pipelined
# and batched (docs/HSM.md "Transport"); 64 KiB AES-GCM messages span several TLS records and
# socket writes. Every reply must reach its own thread (hsm_load exits 1 on any error). Before
# the module queued whole frames for one writer, a thread waiting to write released the lock in
# mid-frame and another thread's frame cut into it: keep-hsm saw "frame.length is 0" and closed
# the connection, and the client died of SIGPIPE (exit 141) or hung (the timeout's 124).
load_case() {
  local secs=1
  expect_status 0 "$B: 8 threads seal 64 KiB messages side by side" \
    timeout 120 "$KEEP_HSM_LOAD" "$MOD" 1234 aes 8 $secs
  check "$B: and report a rate" out_has "MB/s"
  expect_status 0 "$B: 8 threads sign side by side" \
    timeout 120 "$KEEP_HSM_LOAD" "$MOD" 1234 ecdsa 8 $secs
  check "$B: and report a rate" out_has "signs/s"
}

# Key attestation: the statement that ec1 was made in this Keep, checked with keep attest.
certify_case() {
  local d=$TMP/$B
  expect_status "$([ "$B" = kvm ] && echo 0 || echo 2)" "$B: read ec1's key attestation" \
    "$KEEP_HSM_CERTIFY" "$MOD" 1234 ec1 "$d/statement" "$d/evidence"
  [ "$B" = kvm ] || return 0
  local st
  st=$(od -An -v -tx1 "$d/statement" | tr -d ' \n')
  printf '{"allow_insecure": true, "measurement": ["%s"], "report_data": {"sha256_of": "%s"}}' \
    "$KEEP_PKCS11_MEASUREMENT" "$st" >"$d/policy.json"
  expect_status 0 "$B: keep attest accepts the key's evidence for its statement" \
    "$KEEP" attest verify --format kvm --policy "$d/policy.json" "$d/evidence"
  p11 --read-object --type pubkey --label ec1 -o "$d/ec1.spki"
  check "$B: the statement names ec1's public key" \
    cmp -s "$d/ec1.spki" <(tail -c +29 "$d/statement")
  printf '{"allow_insecure": true, "report_data": {"sha256_of": "%s00"}}' "$st" >"$d/other.json"
  expect_status 1 "$B: the evidence does not vouch for another statement" \
    "$KEEP" attest verify --format kvm --policy "$d/other.json" "$d/evidence"
}

# p11-kit remoting: `p11-kit server` exports the token, p11-kit-client.so reaches it.
p11kit_case() {
  local d=$TMP/$B client
  client=$(pkg-config --variable=p11_module_path p11-kit-1 2>/dev/null)/p11-kit-client.so
  if ! command -v p11-kit >/dev/null || [ ! -e "$client" ]; then
    diag "SKIP p11-kit server: p11-kit or $client missing"
    return
  fi
  rm -f "$d/p11.sock"
  p11-kit server -f -n "$d/p11.sock" --provider "$MOD" "pkcs11:token=keep-$B" \
    >"$d/p11kit.out" 2>"$d/p11kit.err" &
  local pid=$!
  for _ in $(seq 600); do
    [ -S "$d/p11.sock" ] && break
    sleep 0.1
  done
  expect_status 0 "$B: p11-kit server exports the token" env \
    P11_KIT_SERVER_ADDRESS="unix:path=$d/p11.sock" pkcs11-tool --module "$client" -L
  check "$B: p11-kit-client lists the keep token" out_has "keep-$B"
  expect_status 0 "$B: RSA signing through p11-kit remoting" env \
    P11_KIT_SERVER_ADDRESS="unix:path=$d/p11.sock" pkcs11-tool --module "$client" --login \
    --pin 1234 --sign --id 02 -m SHA256-RSA-PKCS -i "$d/data" -o "$d/p11kit.sig"
  expect_status 0 "$B: openssl verifies it" openssl dgst -sha256 -verify "$d/rsa.pem" \
    -signature "$d/p11kit.sig" "$d/data"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

ssh_case() {
  local d=$TMP/$B
  command -v /usr/sbin/sshd >/dev/null || { diag "SKIP ssh: openssh-server missing"; return; }
  expect_status 0 "$B: ssh-keygen -D prints the token's public keys" ssh-keygen -D "$MOD"
  check "$B: an ecdsa-sha2-nistp256 key" out_has "^ecdsa-sha2-nistp256 "
  grep '^ecdsa-sha2-nistp256 ' "$TMP/out" >"$d/authorized_keys"
  ssh-keygen -q -t ed25519 -N '' -f "$d/hostkey" >/dev/null
  local port
  port=$(free_port)
  cat >"$d/sshd_config" <<CFG
Port $port
ListenAddress 127.0.0.1
HostKey $d/hostkey
AuthorizedKeysFile $d/authorized_keys
PidFile $d/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
CFG
  mkdir -p /run/sshd
  /usr/sbin/sshd -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
  local sshd_pid=$!
  for _ in $(seq 300); do
    grep -q "Server listening" "$d/sshd.log" && break
    sleep 0.1
  done
  printf '#!/bin/sh\necho 1234\n' >"$d/askpass"
  chmod +x "$d/askpass"
  expect_status 0 "$B: ssh -I logs in with the key in the Keep" env SSH_ASKPASS="$d/askpass" \
    SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh -F /dev/null -I "$MOD" -p "$port" \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o PasswordAuthentication=no -o ConnectTimeout=60 "$(id -un)@127.0.0.1" echo ssh-in-keep-ok
  check "$B: the remote command ran" out_has "ssh-in-keep-ok"
  kill "$sshd_pid" 2>/dev/null || true
  wait "$sshd_pid" 2>/dev/null || true
}

# SIGKILL while token objects are being written: what was committed survives,
# and the file is never half old and half new.
crash_case() {
  local d=$TMP/$B n=0
  : >"$d/committed"
  (
    for i in $(seq 10 99); do
      p11 --login --pin 1234 --keypairgen --key-type EC:prime256v1 --id "$i" --label crash \
        >/dev/null 2>&1 || exit 0
      echo "$i" >>"$d/committed"
    done
  ) &
  local loop=$!
  for _ in $(seq 1200); do
    [ "$(wc -l <"$d/committed")" -ge 2 ] && break
    sleep 0.05
  done
  kill -KILL "$hsm_pid"
  wait "$hsm_pid" 2>/dev/null || true
  wait "$loop" 2>/dev/null || true
  n=$(wc -l <"$d/committed")
  : >"$d/hsm.log"
  check "$B: keep-hsm restarts after SIGKILL mid-write" start_hsm "$B"
  expect_status 0 "$B: the token opens after the crash" p11 --login --pin 1234 -O
  local crash
  crash=$(grep -c "label: *crash$" "$TMP/out" || true)
  check "$B: every acknowledged keygen survived ($n acknowledged, $crash crash objects)" \
    test "$crash" -ge $((2 * n))
  check "$B: the crash keys come in whole pairs" test $((crash % 2)) -eq 0
}

# A host that flips one bit of the sealed store is caught at login.
tamper_case() {
  local d=$TMP/$B
  stop_hsm TERM
  cp "$d/tok/token.khsm" "$d/token.good"
  python3 - "$d/tok/token.khsm" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[-5] ^= 1
open(p, "wb").write(b)
PY
  check "$B: keep-hsm starts on the tampered file" start_hsm "$B"
  expect_status 1 "$B: login to the tampered token fails" p11 --login --pin 1234 -O
  check "$B: keep-hsm says the store is damaged" grep -q "tampered" "$d/hsm.log"
  stop_hsm TERM
  cp "$d/token.good" "$d/tok/token.khsm"
  check "$B: keep-hsm starts on the good file again" start_hsm "$B"
  expect_status 0 "$B: and the token opens" p11 --login --pin 1234 -O
}

ran=0
if why=$(backend_status kvm); then
  run_backend kvm
  ran=1
else
  diag "SKIP kvm: $why"
fi
if why=$(backend_status nil); then
  run_backend nil
  ran=1
else
  diag "SKIP nil: $why"
fi
[ "$ran" = 1 ] || skip_all "neither kvm nor nil can run here"
done_testing
