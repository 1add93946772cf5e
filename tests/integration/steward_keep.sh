#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# keep run --steward URL --steward-ca FILE --secret NAME:PATH (docs/KEEP.md,
# "Enrolment"): UNMODIFIED programs get the Keep's identity and secrets as
# files in the Keep-private /run/keep. A local keep-steward (--insecure-kvm,
# kvm evidence is unsigned); busybox reads the secret (both channel paths);
# the certificate verifies against the service's CA; a static Go net/http
# server serves HTTPS with that identity and curl --cacert verifies it; a
# wrong CA pin, a secret outside the policy and an unknown measurement stop
# the Keep before the workload with one line naming the step; the secret
# never appears in keep's --log debug output nor in the bytes keep writes
# or sends (strace); after enrolment the grant to the service is gone and
# /run/keep is read-only; nil refuses --steward.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
STEWARD=${KEEP_STEWARD_BIN:?KEEP_STEWARD_BIN must point at keep-steward}
why=$(backend_status kvm) || skip_all "kvm is not available: $why"
[ -x /bin/busybox ] || skip_all "busybox-static is not installed (scripts/setup installs it)"
BB=/bin/busybox
STATE=$TMP/state
pid=
stop() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
  fi
}
trap 'stop; rm -rf "$TMP"' EXIT
"$STEWARD" serve --state "$STATE" --listen 127.0.0.1:0 --insecure-kvm >"$TMP/log" 2>&1 &
pid=$!
PORT=
for _ in $(seq 300); do
  PORT=$(sed -n 's/^keep-steward: listening on https:\/\/127.0.0.1:\([0-9]*\) .*/\1/p' "$TMP/log")
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { sed 's/^/# /' "$TMP/log"; skip_all "keep-steward did not start"; }
CA=$STATE/ca.pem
S=(--steward "https://127.0.0.1:$PORT" --steward-ca "$CA")
SECRET="db-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s' "$SECRET" >"$TMP/db"
printf 'other' >"$TMP/other"
"$STEWARD" admin --state "$STATE" secret-put db "$TMP/db" >/dev/null
"$STEWARD" admin --state "$STATE" secret-put other "$TMP/other" >/dev/null
rm -f "$TMP/db"

n=0
allow() { # launch...: a policy for exactly this launch's measurement, releasing db
  n=$((n + 1))
  local m
  m=$("$KEEP" measure "$@")
  printf '{"attest": {"measurement": ["%s"]}, "secrets": ["db"], "dns": ["localhost"]}\n' "$m" \
    >"$TMP/policy.json"
  "$STEWARD" admin --state "$STATE" policy-put "w$n" "$TMP/policy.json" >/dev/null
}
run() { allow "$@" && expect_status 0 "$what" "$KEEP" run "$@"; }

for ch in direct bounce; do
  what="[$ch] busybox cat /run/keep/db (an unmodified program)"
  run --channel "$ch" "${S[@]}" --secret db:/run/keep/db $BB cat /run/keep/db
  check "[$ch]   prints the secret the admin stored" test "$(cat "$TMP/out")" = "$SECRET"
done
# The read side of /run/keep behaves as the same files in a host directory, run natively.
printf 'abcdefghij-secret' >"$TMP/kfsdb"
"$STEWARD" admin --state "$STATE" secret-put kfsdb "$TMP/kfsdb" >/dev/null
"$STEWARD" admin --state "$STATE" secret-put api "$TMP/kfsdb" >/dev/null
mkdir -p "$TMP/native/secrets"
cp "$TMP/kfsdb" "$TMP/native/db"
cp "$TMP/kfsdb" "$TMP/native/secrets/api"
chmod 600 "$TMP/native/db" "$TMP/native/secrets/api"
"$WL/wl_keepfs" "$TMP/native" >"$TMP/native.out"
for ch in direct bounce; do
  launch=(--channel "$ch" "${S[@]}" --secret kfsdb:/run/keep/db --secret api "$WL/wl_keepfs" /run/keep)
  m=$("$KEEP" measure "${launch[@]}")
  printf '{"attest": {"measurement": ["%s"]}, "secrets": ["kfsdb", "api"]}\n' "$m" >"$TMP/policy.json"
  "$STEWARD" admin --state "$STATE" policy-put "kfs-$ch" "$TMP/policy.json" >/dev/null
  expect_status 0 "[$ch] wl_keepfs: read, pread, readv, lseek, stat, statx, getdents, mmap on /run/keep" \
    "$KEEP" run "${launch[@]}"
  check "[$ch]   prints what it prints natively on the same files ($(wc -l <"$TMP/native.out") lines)" \
    cmp -s "$TMP/out" "$TMP/native.out"
done
# A binary secret: every byte, NUL included, as the admin stored it (it was cut at the first NUL).
printf 'ab\0cd\377\0' >"$TMP/bin"
"$STEWARD" admin --state "$STATE" secret-put bin "$TMP/bin" >/dev/null
what="busybox od of a binary secret"
launch=("${S[@]}" --secret bin $BB od -An -tx1 /run/keep/secrets/bin)
m=$("$KEEP" measure "${launch[@]}")
printf '{"attest": {"measurement": ["%s"]}, "secrets": ["bin"]}\n' "$m" >"$TMP/policy.json"
"$STEWARD" admin --state "$STATE" policy-put bin "$TMP/policy.json" >/dev/null
expect_status 0 "$what" "$KEEP" run "${launch[@]}"
check "  its 7 bytes, NUL bytes included: $(od -An -tx1 "$TMP/bin")" \
  test "$(tr -s ' ' <"$TMP/out")" = "$(od -An -tx1 "$TMP/bin" | tr -s ' ')"
what="busybox ls /run/keep and /run/keep/secrets"
run "${S[@]}" --secret db $BB ls -a /run/keep /run/keep/secrets
check "  lists ., .., ca.pem, cert.pem, key.pem, secrets and secrets/db" test \
  "$(tr '\n' ' ' <"$TMP/out")" = "/run/keep: . .. ca.pem cert.pem key.pem secrets  /run/keep/secrets: . .. db "
what="busybox stat of key.pem"
run "${S[@]}" $BB stat -c '%a %s %F' /run/keep/key.pem
check "  key.pem is 0600, a regular file, not empty" grep -Eq '^600 [1-9][0-9]* regular file$' "$TMP/out"
what="the Keep prints its certificate"
run "${S[@]}" $BB cat /run/keep/cert.pem
cp "$TMP/out" "$TMP/cert.pem"
check "  cert.pem verifies against the service's CA (openssl verify)" bash -c \
  "openssl verify -CAfile '$CA' '$TMP/cert.pem' >/dev/null"
check "  and names the Keep's measurement (urn:keep:)" bash -c \
  "openssl x509 -in '$TMP/cert.pem' -noout -ext subjectAltName | grep -q 'URI:urn:keep:'"
what="/run/keep is read-only once the workload runs"
allow "${S[@]}" $BB touch /run/keep/new
expect_status 1 "$what" "$KEEP" run "${S[@]}" $BB touch /run/keep/new
check "  touch says Read-only file system (EROFS)" err_has 'Read-only file system'
what="creat(2) of /run/keep/new (it once went to the host as an open)"
run "${S[@]}" "$WL/wl_keepfs" creat /run/keep/new
check "  says EROFS, as open(O_CREAT) does" grep -qx 'creat: -1 EROFS' "$TMP/out"
what="wl_fpstate after the enroller (its registers held its TLS keys)"
run "${S[@]}" "$WL/wl_fpstate"
check "  starts with the x87/SSE state execve(2) gives: $("$WL/wl_fpstate")" \
  test "$(cat "$TMP/out")" = "$("$WL/wl_fpstate")"
port2=$(free_port)
allow "${S[@]}" $BB nc -w 3 127.0.0.1 "$PORT"
capture "$KEEP" run --log info "${S[@]}" $BB nc -w 3 127.0.0.1 "$PORT"
check "the workload cannot reach the service: the grant ended with enrolment (exit $status)" \
  bash -c "[ $status -ne 0 ] && grep -q 'connect 127.0.0.1:$PORT denied' '$TMP/err'"
check "  keep logs the grant and its end" bash -c \
  "grep -q 'enrolment: the enroller may connect to 127.0.0.1:$PORT' '$TMP/err' && grep -q 'enrolment done' '$TMP/err'"

# Go net/http serving HTTPS with the Keep's identity; curl verifies it with the CA.
if command -v go >/dev/null && command -v curl >/dev/null; then
  src=$(cd "$(dirname "$0")/../workloads/go" && pwd)
  if (cd "$src" && CGO_ENABLED=0 GOCACHE="$TMP/gocache" GOPATH="$TMP/gopath" GOFLAGS=-mod=mod \
    GOTOOLCHAIN=local go build -o "$TMP/tlsserver" ./tlsserver); then
    sp=$(free_port)
    launch=("${S[@]}" --memory 1G --listen "127.0.0.1:$sp" "$TMP/tlsserver" "127.0.0.1:$sp" 1)
    allow "${launch[@]}"
    timeout -s KILL 120 "$KEEP" run "${launch[@]}" >"$TMP/go.out" 2>"$TMP/go.err" &
    kp=$!
    for _ in $(seq 600); do
      grep -q '^listening' "$TMP/go.out" 2>/dev/null && break
      kill -0 $kp 2>/dev/null || break
      sleep 0.1
    done
    check "Go net/http TLS server in the Keep: curl --cacert verifies it" bash -c \
      "[ \"\$(curl -sS --max-time 30 --cacert '$CA' --resolve localhost:$sp:127.0.0.1 https://localhost:$sp/)\" = 'hello from a Keep' ]"
    st=0
    wait $kp || st=$?
    ok $st "  the server exits 0 (exit $st)"
  else
    diag "SKIP Go TLS server: go build failed"
  fi
else
  diag "SKIP Go TLS server: go or curl is not installed (scripts/setup installs both)"
fi

# Negative: each failure stops the Keep before the workload, naming the step (keep's own
# failures exit 125; a bad command line 64).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/evil.key" \
  -out "$TMP/evil.pem" -subj /CN=evil -days 1 2>/dev/null
W=($BB echo WORKLOAD-RAN)
allow --steward "https://127.0.0.1:$PORT" --steward-ca "$TMP/evil.pem" "${W[@]}"
expect_status 125 "a wrong CA pin stops the Keep" \
  "$KEEP" run --steward "https://127.0.0.1:$PORT" --steward-ca "$TMP/evil.pem" "${W[@]}"
check "  naming the TLS handshake, and the workload never ran" bash -c \
  "grep -q 'keep-enroll: enrolment failed: TLS handshake' '$TMP/err' && grep -q 'the workload did not run' '$TMP/err' && ! grep -q WORKLOAD-RAN '$TMP/out'"
allow "${S[@]}" --secret other "${W[@]}"
expect_status 125 "a secret the policy does not list stops the Keep" \
  "$KEEP" run "${S[@]}" --secret other "${W[@]}"
check "  naming GET /v1/secrets/other, and the workload never ran" bash -c \
  "grep -q 'enrolment failed: GET /v1/secrets/other: HTTP 403' '$TMP/err' && ! grep -q WORKLOAD-RAN '$TMP/out'"
dead=$(free_port)
expect_status 125 "a service nobody answers at stops the Keep" \
  "$KEEP" run --steward "https://127.0.0.1:$dead" --steward-ca "$CA" "${W[@]}"
check "  naming the connect, and the workload never ran" bash -c \
  "grep -q 'enrolment failed: connect 127.0.0.1:$dead' '$TMP/err' && ! grep -q WORKLOAD-RAN '$TMP/out'"
expect_status 125 "a measurement no policy lists gets no certificate" \
  "$KEEP" run "${S[@]}" $BB echo unlisted
check "  naming POST /v1/certificates" err_has 'enrolment failed: POST /v1/certificates: HTTP 4'

# The host never sees the secret: not in keep's debug log, not in what keep writes or sends.
if command -v strace >/dev/null; then
  launch=("${S[@]}" --secret db $BB wc -c /run/keep/secrets/db)
  allow "${launch[@]}"
  capture strace -f -qq -s 65536 -e trace=write,writev,sendto,sendmsg -o "$TMP/strace" \
    "$KEEP" run --log debug "${launch[@]}"
  check "strace'd Keep with --log debug ran (exit $status) and counted the secret" \
    grep -q "^${#SECRET} /run/keep/secrets/db$" "$TMP/out"
  check "  the secret is in neither keep's debug log nor its writes and sends" bash -c \
    "[ -s '$TMP/strace' ] && ! grep -qF '$SECRET' '$TMP/strace' '$TMP/err'"
else
  diag "SKIP strace check: strace is not installed"
fi

# Launch options.
m1=$("$KEEP" measure "${S[@]}" $BB true)
m2=$("$KEEP" measure "${S[@]}" --secret db $BB true)
m3=$("$KEEP" measure --steward "https://127.0.0.1:$PORT" --steward-ca "$TMP/evil.pem" $BB true)
m0=$("$KEEP" measure $BB true)
check "the measurement covers --steward, --secret and the pinned CA" bash -c \
  "[ $m0 != $m1 ] && [ $m1 != $m2 ] && [ $m1 != $m3 ]"
expect_status 64 "--steward without --steward-ca is refused" "$KEEP" run --steward "https://127.0.0.1:$PORT" $BB true
check "  saying why the CA must be pinned" err_has 'needs --steward-ca FILE'
expect_status 64 "--secret outside /run/keep is refused" "$KEEP" run "${S[@]}" --secret db:/etc/db $BB true
check "  naming the path" err_has "GUEST_PATH '/etc/db' must be /run/keep/"
expect_status 64 "--steward http:// is refused" "$KEEP" run --steward "http://127.0.0.1:$PORT" --steward-ca "$CA" $BB true
if backend_status nil >/dev/null; then
  expect_status 125 "nil refuses --steward" "$KEEP" run --backend nil "${S[@]}" $BB true
  check "  saying the nil backend isolates nothing" err_has 'needs the kvm backend'
fi
done_testing
