#!/usr/bin/env bash
# keep-steward over HTTPS under wrk (16 connections, 2 threads, loopback), beside the
# in-process floor (bench_steward) measured in the same run. Needs wrk (Debian package).
# Usage: bench/steward_wrk.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=${1:-build}
seconds=${2:-4}
src=$(cd "$(dirname "$0")/.." && pwd)
command -v wrk >/dev/null || { echo "(skipped: wrk is not installed)"; exit 0; }
export KEEP_SOURCE_ROOT=$src
dir=$(mktemp -d /tmp/keep-bench-wrk.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
n=1500 # nonces cost one commit each to make; wrk does ~200-900 per second here
"$build/bench/bench_steward" --prepare "$dir" 0 >/dev/null 2>&1 || true # roots only
"$build/src/steward/keep-steward" serve --state "$dir/state" --listen 127.0.0.1:0 \
  --roots "$dir/roots" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  port=$(sed -n 's/^keep-steward: listening on https:\/\/127.0.0.1:\([0-9]*\) .*/\1/p' "$dir/log")
  [ -n "$port" ] && break
  sleep 0.1
done
echo '{"attest": {}, "secrets": ["bench-secret"]}' |
  "$build/src/steward/keep-steward" admin --state "$dir/state" policy-put bench - >/dev/null
printf 'a 32-byte secret for the bench..' >"$dir/secret"
"$build/src/steward/keep-steward" admin --state "$dir/state" secret-put bench-secret "$dir/secret" >/dev/null
python3 - "$port" "$dir/state/ca.pem" "$n" >"$dir/nonces.txt" <<'PY'
import http.client, json, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ctx)
for _ in range(int(sys.argv[3])):
    c.request("POST", "/v1/nonce", body=b"")
    print(json.loads(c.getresponse().read())["nonce"])
PY
"$build/bench/bench_steward" --prepare "$dir" "$n"
# The last body gets the certificate that the secret-fetch figure uses.
tail -n 1 "$dir/bodies.txt" >"$dir/cert_body.json"
sed -i '$d' "$dir/bodies.txt"
wrk -t2 -c16 -d"${seconds}s" --latency -s "$src/bench/steward_wrk.lua" "https://127.0.0.1:$port" \
  -- "$dir/bodies.txt" 2 >"$dir/wrk.txt"
grep -E "Requests/sec|99%|Non-2xx|requests in" "$dir/wrk.txt" | sed 's/^/wrk: /'
used=$(grep -Eo '^ *[0-9]+ requests in' "$dir/wrk.txt" | grep -Eo '[0-9]+')
[ "$used" -le "$n" ] || echo "wrk: (more requests than prepared bodies: the extra reused nonces)"
"$build/bench/bench_steward" | sed 's/^/in-process: /'

# Secret fetches over mutual TLS: new connections with full TLS 1.3 handshakes beside new
# connections resuming a session (ticket), each GET /v1/secrets/bench-secret answered 200.
curl -sS --cacert "$dir/state/ca.pem" -H 'Content-Type: application/json' \
  --data-binary @"$dir/cert_body.json" "https://127.0.0.1:$port/v1/certificates" |
  python3 -c 'import json, sys; open(sys.argv[1], "w").write(json.load(sys.stdin)["chain"])' "$dir/cert.pem"
python3 - "$port" "$dir" <<'PY'
import socket, ssl, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_verify_locations(d + "/state/ca.pem")
ctx.load_cert_chain(d + "/cert.pem", d + "/key.pem")
ctx.check_hostname = False
def fetch(session):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), session=session)
    s.sendall(b"GET /v1/secrets/bench-secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:80]
    reused, sess = s.session_reused, s.session
    s.close()
    return reused, sess
def rate(resume, seconds=2.0):
    _, sess = fetch(None)
    n, reused, t0 = 0, 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        r, new = fetch(sess if resume else None)
        reused += r
        sess = new if resume else sess
        n += 1
    return n / (time.monotonic() - t0), reused, n
full, _, nf = rate(False)
res, reused, nr = rate(True)
print(f"secrets: full handshake {full:.1f} /s ({nf}); resumed {res:.1f} /s ({reused} of {nr} resumed); ratio {res / full:.2f}")
PY
