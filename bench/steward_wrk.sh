#!/usr/bin/env bash
# keep-steward over HTTPS under wrk (16 connections, 2 threads, loopback), beside the
# in-process floor (bench_steward) measured in the same run. Needs wrk (Debian package).
# Usage: bench/steward_wrk.sh BUILD_DIR [SECONDS]
# STEWARD_BASELINE=PATH also runs that keep-steward binary (e.g. one built before the group
# commit) first, on the same state, as a third configuration of the same run.
set -euo pipefail
build=${1:-build}
seconds=${2:-4}
src=$(cd "$(dirname "$0")/.." && pwd)
command -v wrk >/dev/null || { echo "(skipped: wrk is not installed)"; exit 0; }
export KEEP_SOURCE_ROOT=$src
dir=$(mktemp -d /tmp/keep-bench-wrk.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
n=1500 # per configuration; nonces cost one commit each to make; wrk does ~200-900 per second
serve() { # [--workers N]: (re)start the service on the same state (nonces made earlier stay valid)
  local bin=${steward_bin:-$build/src/steward/keep-steward}
  [ -n "$pid" ] && { kill "$pid"; wait "$pid" 2>/dev/null || true; }
  : >"$dir/log"
  "$bin" serve --state "$dir/state" --listen 127.0.0.1:0 \
    --roots "$dir/roots" "$@" >"$dir/log" 2>&1 &
  pid=$!
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's/^keep-steward: listening on https:\/\/127.0.0.1:\([0-9]*\) .*/\1/p' "$dir/log")
    [ -n "$port" ] && break
    sleep 0.1
  done
}
"$build/bench/bench_steward" --prepare "$dir" 0 >/dev/null 2>&1 || true # roots only
serve --workers 2
echo '{"attest": {}, "secrets": ["bench-secret"]}' |
  "$build/src/steward/keep-steward" admin --state "$dir/state" policy-put bench - >/dev/null
printf 'a 32-byte secret for the bench..' >"$dir/secret"
"$build/src/steward/keep-steward" admin --state "$dir/state" secret-put bench-secret "$dir/secret" >/dev/null
configs="0 2"
[ -n "${STEWARD_BASELINE:-}" ] && configs="baseline 0 2"
total=$(($(echo $configs | wc -w) * n + 1))
python3 - "$port" "$dir/state/ca.pem" "$total" >"$dir/nonces.txt" <<'PY'
import http.client, json, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ctx)
for _ in range(int(sys.argv[3])):
    c.request("POST", "/v1/nonce", body=b"")
    print(json.loads(c.getresponse().read())["nonce"])
PY
"$build/bench/bench_steward" --prepare "$dir" "$total"
# The last body gets the certificate that the secret-fetch figure uses.
tail -n 1 "$dir/bodies.txt" >"$dir/cert_body.json"
sed -i '$d' "$dir/bodies.txt"
k=0
for w in $configs; do
  sed -n "$((k * n + 1)),$(((k + 1) * n))p" "$dir/bodies.txt" >"$dir/bodies$w.txt"
  k=$((k + 1))
done
# Verification on the event loop (--workers 0) and on two worker threads, one after the other
# in this run; both with the group commit. Load average and commit batches beside each.
for w in $configs; do
  if [ "$w" = baseline ]; then
    steward_bin=$STEWARD_BASELINE serve
  else
    steward_bin= serve --workers "$w"
  fi
  echo "wrk --workers $w: load average $(cut -d' ' -f1-3 /proc/loadavg)"
  wrk -t2 -c16 -d"${seconds}s" --latency -s "$src/bench/steward_wrk.lua" "https://127.0.0.1:$port" \
    -- "$dir/bodies$w.txt" 2 >"$dir/wrk.txt"
  grep -E "Requests/sec|99%|Non-2xx|requests in" "$dir/wrk.txt" | sed "s/^/wrk --workers $w: /"
  used=$(grep -Eo '^ *[0-9]+ requests in' "$dir/wrk.txt" | grep -Eo '[0-9]+')
  [ "$used" -le "$n" ] || echo "wrk: (more requests than prepared bodies: the extra reused nonces)"
  curl -sS --cacert "$dir/state/ca.pem" "https://127.0.0.1:$port/metrics" |
    { grep -E '^keep_steward_(commit_batch|batched)' || true; } | tr '\n' ' ' | sed "s/^/wrk --workers $w: /"
  echo
done
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
