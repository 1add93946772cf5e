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
echo '{"attest": {}}' | "$build/src/steward/keep-steward" admin --state "$dir/state" policy-put bench - >/dev/null
python3 - "$port" "$dir/state/ca.pem" "$n" >"$dir/nonces.txt" <<'PY'
import http.client, json, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ctx)
for _ in range(int(sys.argv[3])):
    c.request("POST", "/v1/nonce", body=b"")
    print(json.loads(c.getresponse().read())["nonce"])
PY
"$build/bench/bench_steward" --prepare "$dir" "$n"
wrk -t2 -c16 -d"${seconds}s" --latency -s "$src/bench/steward_wrk.lua" "https://127.0.0.1:$port" \
  -- "$dir/bodies.txt" 2 >"$dir/wrk.txt"
grep -E "Requests/sec|99%|Non-2xx|requests in" "$dir/wrk.txt" | sed 's/^/wrk: /'
used=$(grep -Eo '^ *[0-9]+ requests in' "$dir/wrk.txt" | grep -Eo '[0-9]+')
[ "$used" -le "$n" ] || echo "wrk: (more requests than prepared bodies: the extra reused nonces)"
"$build/bench/bench_steward" | sed 's/^/in-process: /'
