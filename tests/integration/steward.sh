#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# keep-steward end to end: the service over TLS 1.3 (problem+json errors, bounded
# bodies, per-client connection limits, the Enarx POST / form), a workload in a
# kvm Keep enrolling (nonce, evidence bound to its key, certificate, secret over
# mTLS), the certificate profile read back with openssl, revocation and the CRL,
# kill -9 during issuance (nothing acknowledged lost, integrity_check ok), restart
# with the audit chain intact, and kvm evidence refused without --insecure-kvm.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
STEWARD=${KEEP_STEWARD_BIN:?KEEP_STEWARD_BIN must point at keep-steward}
STATE=$TMP/state
mkdir -p "$TMP/w/out"
pid=

stop() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
  fi
}
trap 'stop; rm -rf "$TMP"' EXIT

start() { # args... : start the service on a free port, wait until it listens
  stop
  : >"$TMP/log"
  "$STEWARD" serve --state "$STATE" --listen 127.0.0.1:0 "$@" >"$TMP/log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    PORT=$(sed -n 's/^keep-steward: listening on https:\/\/127.0.0.1:\([0-9]*\) .*/\1/p' "$TMP/log")
    [ -n "$PORT" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "${PORT:-}" ] || { sed 's/^/# log: /' "$TMP/log"; return 1; }
  URL=https://127.0.0.1:$PORT
}

admin() { "$STEWARD" admin --state "$STATE" "$@" >/dev/null; }

# curl with the service's CA; writes the body to $TMP/body, prints the status.
call() {
  curl -sS --cacert "$STATE/ca.pem" -o "$TMP/body" -w '%{http_code} %{content_type}' "$@"
}

check "service starts with --insecure-kvm" start --insecure-kvm
check "it says it is insecure" grep -q "INSECURE: kvm evidence accepted" "$TMP/log"
check "admin socket is 0600" test "$(stat -c %a "$STATE/admin.sock")" = 600
check "kek and ca.key are 0600" test "$(stat -c %a "$STATE/kek")$(stat -c %a "$STATE/ca.key")" = 600600
check "GET /healthz" test "$(call "$URL/healthz")" = "200 text/plain"
check "GET /ca.pem is the state's CA" bash -c "curl -sS --cacert '$STATE/ca.pem' '$URL/ca.pem' | cmp -s - '$STATE/ca.pem'"
expect_status 35 "TLS 1.2 is refused" curl -sS --cacert "$STATE/ca.pem" --tls-max 1.2 "$URL/healthz"
r=$(call -X POST "$URL/v1/nonce")
check "POST /v1/nonce gives a 32-byte nonce" python3 -c '
import json, sys; b = json.load(open(sys.argv[1])); assert sys.argv[2].startswith("201")
assert len(bytes.fromhex(b["nonce"])) == 32 and b["expires"].endswith("Z")' "$TMP/body" "$r"
r=$(call -X POST -H 'Content-Type: application/json' --data '{}' "$URL/v1/certificates")
check "a request without nonce: 400 problem+json naming the check ($r)" python3 -c '
import json, sys; b = json.load(open(sys.argv[1]))
assert sys.argv[2] == "400 application/problem+json", sys.argv[2]
assert b["check"] == "steward.request_field" and b["status"] == 400 and "nonce" in b["detail"]' "$TMP/body" "$r"
head -c 2000000 /dev/zero | tr '\0' a >"$TMP/big"
r=$(call -X POST -H 'Content-Type: application/json' --data-binary @"$TMP/big" "$URL/v1/certificates" || true)
check "a 2 MB body is refused (413): $r" test "${r%% *}" = 413
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$TMP/k.pem" \
  -subj /CN=x -outform DER -out "$TMP/plain.csr" 2>/dev/null
r=$(call -X POST -H 'Content-Type: application/pkcs10' --data-binary @"$TMP/plain.csr" "$URL/")
check "Enarx POST / with a CSR carrying no evidence: 400 steward.csr_extension" \
  python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["check"] == "steward.csr_extension"' "$TMP/body"

# Per-client connection limit: with 2 allowed, a third concurrent TLS connection fails.
check "restart with --max-conns-per-client 2" start --insecure-kvm --max-conns-per-client 2
check "third concurrent connection from one client is refused" python3 -c '
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1]); ctx.check_hostname = False
conns = []
for i in range(2):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=30))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); s.recv(100); conns.append(s)
try:
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=30))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); data = s.recv(100)
    sys.exit(1 if data else 0)
except (ssl.SSLError, ConnectionError):
    sys.exit(0)' "$STATE/ca.pem" "$PORT"
check "and counted in /metrics" bash -c "curl -sS --cacert '$STATE/ca.pem' '$URL/metrics' | grep -q '^keep_steward_connections_limited_total [1-9]'"
check "restart (default limits)" start --insecure-kvm

# Collateral from a KDS: a local server plays AMD KDS with the recorded milan-release VCEK
# (read in place); the service fetches it for a report sent without one, then uses its cache.
vectors=${KEEP_VECTORS:-${KEEP_VECTORS_DEFAULT:-}}
if [ -f "$vectors/snp/milan-release/report.bin" ]; then
  echo '{}' >"$TMP/any.json"
  admin policy-put any "$TMP/any.json"
  kport=$(free_port)
  python3 - "$kport" "$vectors/snp/milan-release/vcek.der" "$TMP/kds.log" "$TMP/kds.hold" <<'PY' &
import http.server, os, sys, time
port, vcek, log, hold = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
class KDS(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write(self.path + "\n")
        t0 = time.monotonic()  # while the hold file exists, the reply waits (at most 60 s)
        while os.path.exists(hold) and time.monotonic() - t0 < 60:
            time.sleep(0.05)
        if "/vcek/v1/Milan/" not in self.path:
            self.send_error(404)
            return
        body = open(vcek, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-x509-ca-cert")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), KDS).serve_forever()
PY
  kds=$!
  snp_body() { # a fresh request body in $TMP/snp.json
    local nonce
    nonce=$(curl -sS --cacert "$STATE/ca.pem" -X POST "$URL/v1/nonce" | python3 -c 'import json,sys; print(json.load(sys.stdin)["nonce"])')
    python3 -c '
import base64, json, sys
csr = open(sys.argv[3]).read()
print(json.dumps({"nonce": sys.argv[1], "csr": csr, "workload": "any",
                  "evidence": base64.b64encode(open(sys.argv[2], "rb").read()).decode()}))' \
      "$nonce" "$vectors/snp/milan-release/report.bin" "$TMP/req.pem" >"$TMP/snp.json"
  }
  snp_request() { # -> HTTP status; body in $TMP/body
    snp_body
    call -X POST -H 'Content-Type: application/json' --data-binary @"$TMP/snp.json" "$URL/v1/certificates" >/dev/null
  }
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj /CN=x -out "$TMP/req.pem" 2>/dev/null
  snp_request
  check "SNP report without VCEK and no --kds: evidence invalid" grep -q '"check":"steward.evidence_invalid"' "$TMP/body"
  for _ in $(seq 100); do python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])))' "$kport" 2>/dev/null && break; sleep 0.1; done
  check "restart with --kds" start --insecure-kvm --kds "http://127.0.0.1:$kport" --kds-product Milan
  snp_request
  check "with --kds the VCEK is fetched: only the fresh-nonce binding fails" python3 -c '
import json, sys; b = json.load(open(sys.argv[1]))
assert [e["code"] for e in b["errors"]] == ["policy.report_data"], b' "$TMP/body"
  check "the KDS was asked for /vcek/v1/Milan/<chip_id>?blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115" \
    grep -Eq '^/vcek/v1/Milan/[0-9a-f]{128}\?blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115$' "$TMP/kds.log"
  snp_request
  check "a second report from the chip uses the cached VCEK (one KDS request)" test "$(wc -l <"$TMP/kds.log")" = 1
  check "the fetch is in the audit log" test "$(sqlite3 "$STATE/steward.db" "SELECT count(*) FROM audit WHERE event = 'collateral.fetched'")" = 1
  # The fetch runs off the event loop: while the KDS holds its reply, the service answers others.
  touch "$TMP/kds.hold"
  check "restart with a KDS (another base URL: not cached) that holds its reply" \
    start --insecure-kvm --kds "http://127.0.0.1:$kport/held" --kds-product Milan
  snp_body
  curl -sS --cacert "$STATE/ca.pem" -H 'Content-Type: application/json' --data-binary @"$TMP/snp.json" \
    -o "$TMP/held.body" "$URL/v1/certificates" &
  held=$!
  for _ in $(seq 600); do grep -q '^/held/vcek/' "$TMP/kds.log" && break; sleep 0.05; done
  check "the KDS was asked (the reply is held)" grep -q '^/held/vcek/v1/Milan/' "$TMP/kds.log"
  check "meanwhile POST /v1/nonce is answered (201 within 5 s)" \
    test "$(curl -sS --max-time 5 --cacert "$STATE/ca.pem" -X POST -o /dev/null -w '%{http_code}' "$URL/v1/nonce")" = 201
  rm -f "$TMP/kds.hold"
  wait "$held" || true
  check "once the KDS answers, the held request is verified with the fetched VCEK" python3 -c '
import json, sys; b = json.load(open(sys.argv[1]))
assert [e["code"] for e in b["errors"]] == ["policy.report_data"], b' "$TMP/held.body"
  kill "$kds"
  wait "$kds" 2>/dev/null || true
  start --insecure-kvm
else
  diag "SKIP KDS fetch: no shared vectors at '$vectors'"
fi

# Intel collateral from a PCS: tests/vectors/pcs_server.py serves the recorded SGX collateral
# as Intel PCS API v4 does (issuer chains in percent-encoded headers) for a quote sent without
# any. At the real time it is past its nextUpdate (2025): the service fetches it off the loop,
# verifies with it (expired CRLs or stale documents, not collateral.missing), and does not cache it.
if [ -f "$vectors/sgx/full-collateral/quote.bin" ]; then
  python3 "$(dirname "$0")/../vectors/pcs_server.py" "$vectors" "$TMP/pcs.port" "$TMP/pcs.log" &
  pcs=$!
  for _ in $(seq 600); do [ -s "$TMP/pcs.port" ] && break; sleep 0.05; done
  pport=$(cat "$TMP/pcs.port")
  [ -f "$TMP/req.pem" ] || openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout /dev/null -subj /CN=x -out "$TMP/req.pem" 2>/dev/null
  echo '{}' >"$TMP/any.json"
  admin policy-put any "$TMP/any.json"
  sgx_request() { # -> HTTP status; body in $TMP/body
    local nonce
    nonce=$(curl -sS --cacert "$STATE/ca.pem" -X POST "$URL/v1/nonce" | python3 -c 'import json,sys; print(json.load(sys.stdin)["nonce"])')
    python3 -c '
import base64, json, sys
print(json.dumps({"nonce": sys.argv[1], "csr": open(sys.argv[3]).read(), "workload": "any",
                  "evidence": base64.b64encode(open(sys.argv[2], "rb").read()).decode()}))' \
      "$nonce" "$vectors/sgx/full-collateral/quote.bin" "$TMP/req.pem" >"$TMP/sgx.json"
    call -X POST -H 'Content-Type: application/json' --data-binary @"$TMP/sgx.json" "$URL/v1/certificates"
  }
  check "restart with --intel-pcs" start --insecure-kvm --intel-pcs "http://127.0.0.1:$pport/sgx"
  r=$(sgx_request)
  check "an SGX quote without collateral is verified with the PCS's (stale now: $r)" python3 -c '
import json, sys; b = json.load(open(sys.argv[1]))
codes = [e["code"] for e in b["errors"]]
assert b["check"] == "steward.evidence_invalid" and "collateral.missing" not in codes, b
assert any(c in ("collateral.stale", "x509.crl_expired") for c in codes), b' "$TMP/body"
  check "the PCS was asked for TCB Info, QE Identity, PCK CRL and Root CA CRL" python3 -c '
import re, sys; got = open(sys.argv[1]).read().split()
want = [r"/sgx/sgx/certification/v4/tcb\?fmspc=[0-9A-F]{12}", "/sgx/sgx/certification/v4/qe/identity",
        r"/sgx/sgx/certification/v4/pckcrl\?ca=(processor|platform)&encoding=der",
        "/sgx/sgx/certification/v4/rootcacrl"]
assert len(got) == 4 and all(re.fullmatch(w, g) for w, g in zip(want, got)), got' "$TMP/pcs.log"
  sgx_request >/dev/null
  check "collateral past its nextUpdate is not cached (asked again)" test "$(wc -l <"$TMP/pcs.log")" = 8
  check "restart with a PCS whose TCB-Info-Issuer-Chain header is broken" \
    start --insecure-kvm --intel-pcs "http://127.0.0.1:$pport/broken"
  r=$(sgx_request)
  check "a broken issuer-chain header: 502 problem+json steward.pcs_header naming it ($r)" python3 -c '
import json, sys; b = json.load(open(sys.argv[1]))
assert sys.argv[2] == "502 application/problem+json", sys.argv[2]
assert b["check"] == "steward.pcs_header" and "TCB-Info-Issuer-Chain" in b["detail"], b' "$TMP/body" "$r"
  kill "$pcs"
  wait "$pcs" 2>/dev/null || true
  start --insecure-kvm
else
  diag "SKIP Intel PCS fetch: no shared vectors at '$vectors'"
fi

if ! why=$(backend_status kvm); then
  diag "SKIP the in-Keep enrollment: kvm backend unavailable ($why); nil has no evidence"
  done_testing
fi

cp "$STATE/ca.pem" "$TMP/w/ca.pem"
enroll() { # out_dir workload [secret...]
  local out=$1
  shift
  mkdir -p "$TMP/w/$out"
  "$KEEP" run --backend kvm --connect "127.0.0.1:$PORT" --volume "$TMP/w:/w" -- \
    "$WL/wl_steward" 127.0.0.1 "$PORT" /w/ca.pem "/w/$out" "$@"
}
echo '{"secrets": ["db"], "dns": ["app.local"], "lifetime": 7200}' >"$TMP/app.json"
check "admin policy-put app" admin policy-put app "$TMP/app.json"
echo '{"secrets": ["theirs"], "attest": {"measurement": ["'"$(printf '00%.0s' $(seq 48))"'"]}}' >"$TMP/other.json"
check "admin policy-put other (another measurement)" admin policy-put other "$TMP/other.json"
printf 'hunter2' >"$TMP/db"
printf 'not yours' >"$TMP/theirs"
check "admin secret-put db" admin secret-put db "$TMP/db"
check "admin secret-put theirs" admin secret-put theirs "$TMP/theirs"
check "secrets are not stored in clear" bash -c "! grep -q hunter2 '$STATE'/steward.db*"

expect_status 0 "a workload in a kvm Keep enrolls and fetches secret db" enroll out app db
O=$TMP/w/out
check "secrets/db holds the secret" test "$(cat "$O/secrets/db")" = hunter2
check "key.pem is 0600" test "$(stat -c %a "$O/key.pem")" = 600
check "cert.pem verifies with the CA" bash -c "openssl verify -CAfile '$STATE/ca.pem' '$O/cert.pem' >/dev/null"
openssl x509 -in "$O/cert.pem" -noout -text >"$TMP/x509.txt"
m=$(sed -n 's/.*URI:urn:keep:\([0-9a-f]\{96\}\).*/\1/p' "$TMP/x509.txt")
check "SAN URI urn:keep:<48-byte measurement>" test -n "$m"
check "SAN DNS from the policy" grep -q "DNS:app.local" "$TMP/x509.txt"
check "EKU serverAuth and clientAuth" grep -q "TLS Web Server Authentication, TLS Web Client Authentication" "$TMP/x509.txt"
check "CRL distribution point" grep -q "URI:https://localhost:$PORT/crl.der" "$TMP/x509.txt"
check "EAR claims extension says insecure" grep -q '2.25.117114582946585880964899027041543177223.1.1:' "$TMP/x509.txt"
check "... with keep.insecure true" grep -q '"keep.insecure":true' "$TMP/x509.txt"
nb=$(date -d "$(openssl x509 -in "$O/cert.pem" -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in "$O/cert.pem" -noout -enddate | cut -d= -f2)" +%s)
check "lifetime from the policy (<= 2 h + 60 s)" test $((na - nb)) -le 7260

mtls() { curl -sS --cacert "$STATE/ca.pem" --cert "$O/cert.pem" --key "$O/key.pem" -o "$TMP/body" -w '%{http_code}' "$@"; }
check "the issued identity fetches db over mTLS from the host too" test "$(mtls "$URL/v1/secrets/db")" = 200
r=$(call "$URL/v1/secrets/db")
check "without a client certificate: 401 steward.client_cert ($r)" grep -q '"check":"steward.client_cert"' "$TMP/body"
r=$(mtls "$URL/v1/secrets/theirs")
check "another workload's secret: 403 steward.secret_denied" grep -q '"check":"steward.secret_denied"' "$TMP/body"
r=$(mtls "$URL/v1/secrets/nothing")
check "a secret the policy does not list: 403" test "$r" = 403
# Monotonic counters over mTLS (docs/STEWARD.md, "Counters"): CAS, 409 with the value held,
# per-workload namespaces, durable across a restart. The Keep side is keep_steward_counter*
# in wl_steward (WL_COUNTER, which is measured like all the environment).
counter_keep() { # out_dir [keep options...]: enroll, then drive counter gen from inside
  local out=$1
  shift
  mkdir -p "$TMP/w/$out"
  "$KEEP" run --backend kvm --connect "127.0.0.1:$PORT" "$@" --volume "$TMP/w:/w" \
    --env WL_COUNTER=gen -- "$WL/wl_steward" 127.0.0.1 "$PORT" /w/ca.pem "/w/$out" app
}
expect_status 0 "a Keep enrolls and drives counter gen with the client API" counter_keep ca
check "... a counter never set reads 0" out_has "^counter gen = 0$"
check "... compare-and-swap 0 -> 1" out_has "^counter gen 0 -> 1$"
check "... a stale swap reports the value held (1)" out_has "^counter gen stale: holds 1$"
C=$TMP/w/ca
cm() { curl -sS --cacert "$STATE/ca.pem" --cert "$C/cert.pem" --key "$C/key.pem" -o "$TMP/body" -w '%{http_code}' "$@"; }
jvalue() { python3 -c 'import json,sys; b = json.load(open(sys.argv[1])); print(b.get("check", ""), b["value"])' "$TMP/body"; }
cpost() { cm -X POST -H 'Content-Type: application/json' --data "$2" "$URL/v1/counters/$1"; }
check "GET /v1/counters/gen with that Keep's certificate: 200 {value: 1}" test "$(cm "$URL/v1/counters/gen") $(jvalue)" = "200  1"
check "POST {expect 1, set 3}: 200 {value: 3}" test "$(cpost gen '{"expect":1,"set":3}') $(jvalue)" = "200  3"
check "a stale expect: 409 steward.counter_conflict with the value held (3)" \
  test "$(cpost gen '{"expect":1,"set":7}') $(jvalue)" = "409 steward.counter_conflict 3"
r=$(cpost gen '{"expect":3,"set":3}')
check "set not above expect: 400 steward.counter_request ($r)" grep -q '"check":"steward.counter_request"' "$TMP/body"
r=$(call -X POST -H 'Content-Type: application/json' --data '{"expect":3,"set":4}' "$URL/v1/counters/gen")
check "without a client certificate: 401 steward.client_cert ($r)" grep -q '"check":"steward.client_cert"' "$TMP/body"
check "... and the counter did not move" test "$(cm "$URL/v1/counters/gen") $(jvalue)" = "200  3"
r=$(cm "$URL/v1/counters/.hidden")
check "a bad counter name: 400 steward.counter_name ($r)" grep -q '"check":"steward.counter_name"' "$TMP/body"
expect_status 0 "the same Keep again (same measurement)" counter_keep ca
check "... reads the value set over curl (3) and swaps 3 -> 4" bash -c "grep -q '^counter gen = 3$' '$TMP/out' && grep -q '^counter gen 3 -> 4$' '$TMP/out'"
expect_status 0 "a Keep of another measurement (one more --connect rule)" counter_keep cb --connect 127.0.0.1:9
check "... has its own counter gen, starting at 0" out_has "^counter gen = 0$"
check "... the measurements differ" test "$(openssl x509 -in "$TMP/w/cb/cert.pem" -noout -ext subjectAltName | grep -o 'urn:keep:[0-9a-f]*')" != \
  "$(openssl x509 -in "$C/cert.pem" -noout -ext subjectAltName | grep -o 'urn:keep:[0-9a-f]*')"
check "the first enrolled identity (a third measurement) reads its own gen: 0" test "$(mtls "$URL/v1/counters/gen") $(jvalue)" = "200  0"
check "restart (counters kept)" start --insecure-kvm
check "counter gen is still 4 after the restart" test "$(cm "$URL/v1/counters/gen") $(jvalue)" = "200  4"
check "each counter set is audited (4)" test "$(sqlite3 "$STATE/steward.db" "SELECT count(*) FROM audit WHERE event = 'counter.set'")" = 4

expect_status 1 "workload other (wrong measurement) is refused" enroll refused other
check "... naming steward.evidence_rejected" err_has "HTTP 403.*steward.evidence_rejected"

# The Keep serves HTTPS with the identity it obtained; the host verifies it with the CA.
SP=$(free_port)
mkdir -p "$TMP/w/srv"
"$KEEP" run --backend kvm --connect "127.0.0.1:$PORT" --listen "127.0.0.1:$SP" --env "WL_SERVE=$SP" \
  --volume "$TMP/w:/w" -- "$WL/wl_steward" 127.0.0.1 "$PORT" /w/ca.pem /w/srv app >"$TMP/srv.out" 2>&1 &
srv=$!
for _ in $(seq 600); do grep -q "^serving" "$TMP/srv.out" && break; kill -0 "$srv" 2>/dev/null || break; sleep 0.1; done
check "curl --cacert ca.pem verifies the Keep's TLS identity (app.local)" bash -c \
  "curl -sS --cacert '$STATE/ca.pem' --resolve app.local:$SP:127.0.0.1 https://app.local:$SP/ | grep -q 'hello from a Keep'"
wait "$srv" 2>/dev/null || true

check "admin policy-list shows the stored policies" bash -c \
  "'$STEWARD' admin --state '$STATE' policy-list | python3 -c 'import json,sys; p = json.load(sys.stdin)[\"policies\"]; assert p[\"app\"][\"secrets\"] == [\"db\"] and \"other\" in p'"
check "admin policy-delete other" admin policy-delete other
expect_status 1 "deleting it again fails" "$STEWARD" admin --state "$STATE" policy-delete other
check "... naming steward.workload_unknown" out_has "steward.workload_unknown"

serial=$(openssl x509 -in "$O/cert.pem" -noout -serial | cut -d= -f2 | tr A-F a-f | sed 's/^0*//')
check "admin revoke-serial" admin revoke-serial "$serial"
r=$(mtls "$URL/v1/secrets/db")
check "revoked certificate: 403 steward.revoked" grep -q '"check":"steward.revoked"' "$TMP/body"
curl -sS --cacert "$STATE/ca.pem" "$URL/crl.der" -o "$TMP/crl.der"
check "CRL is signed by the CA" bash -c "openssl crl -inform DER -in '$TMP/crl.der' -CAfile '$STATE/ca.pem' -noout 2>&1 | grep -q 'verify OK'"
openssl crl -inform DER -in "$TMP/crl.der" -noout -text | tr A-F a-f >"$TMP/crl.txt"
check "CRL lists the revoked serial" grep -Eiq "serial number: 0*$serial" "$TMP/crl.txt"

# kill -9 while Keeps enroll, three at a time (so the group commit has batches of several):
# every acknowledged certificate is in the database.
loops=
for j in a b c; do
  (for i in 1 2 3 4; do enroll "k$j$i" app >/dev/null 2>&1 || true; done) &
  loops="$loops $!"
done
for _ in $(seq 600); do # until some are acknowledged, but not all
  [ "$(ls "$TMP"/w/k*/cert.pem 2>/dev/null | wc -l)" -ge 3 ] && break
  sleep 0.05
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=
for l in $loops; do wait "$l" 2>/dev/null || true; done
check "integrity_check after kill -9" test "$(sqlite3 "$STATE/steward.db" 'PRAGMA integrity_check')" = ok
lost=0
acked=0
for c in "$TMP"/w/k*/cert.pem; do
  [ -f "$c" ] || continue
  acked=$((acked + 1))
  s=$(openssl x509 -in "$c" -noout -serial | cut -d= -f2 | tr A-F a-f | sed 's/^0*//')
  n=$(sqlite3 "$STATE/steward.db" "SELECT count(*) FROM certificates WHERE ltrim(serial,'0') = '$s'")
  [ "$n" = 1 ] || lost=$((lost + 1))
done
diag "$acked issuance(s) acknowledged before kill -9"
check "no acknowledged certificate lost ($acked acknowledged)" test "$lost" = 0
before=$(sqlite3 "$STATE/steward.db" 'SELECT count(*) FROM certificates')

check "restart without --insecure-kvm" start
check "issued records survive the restart" test "$(sqlite3 "$STATE/steward.db" 'SELECT count(*) FROM certificates')" = "$before"
check "admin audit-verify: the chain verifies" bash -c "'$STEWARD' admin --state '$STATE' audit-verify | grep -q '\"ok\":true'"
check "the audit log records the insecure issuance" test "$(sqlite3 "$STATE/steward.db" \
  "SELECT count(*) FROM audit WHERE event = 'certificate.issued' AND detail LIKE '%\"insecure\":true%'")" -ge 1
expect_status 1 "kvm evidence refused without --insecure-kvm" enroll noflag app
check "... naming steward.insecure_kvm" err_has "steward.insecure_kvm"
stop
sqlite3 "$STATE/steward.db" "UPDATE audit SET detail = '{}' WHERE seq = 2"
expect_status 1 "a tampered audit log stops the service" "$STEWARD" serve --state "$STATE" --listen 127.0.0.1:0
check "... naming steward.audit_chain" err_has "steward.audit_chain"
done_testing
