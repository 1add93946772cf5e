#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Go net/http hello (tests/workloads/go/httpserver, CGO_ENABLED=0) under
# `wrk -t1 -c8 -d5s`, in a Keep (kvm, direct channel, --listen for its port
# only) and natively, alternating in the same run (issue 8):
#   12. requests/s (ratio Keep / native) and p99 latency of each
# Each figure is the median of BENCH_GO_RUNS runs (default 3).
# Usage: bench/bench_go_http.sh [BUILD_DIR]   (default build-bench, then build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
[ -x "$build/src/cli/keep" ] || build=build
keep=$(pwd)/$build/src/cli/keep
runs=${BENCH_GO_RUNS:-3}
command -v go >/dev/null || { echo "(skipped: go is not installed; scripts/setup installs golang-go)"; exit 0; }
command -v wrk >/dev/null || { echo "(skipped: wrk is not installed; scripts/setup installs it)"; exit 0; }
backend=kvm
if ! "$keep" platform --json | python3 -c '
import json, sys
b = {x["name"]: x for x in json.load(sys.stdin)["backends"]}["kvm"]
sys.exit(0 if b["available"] else 1)'; then
  echo "# kvm is unavailable: measuring the nil backend, which is not a Keep"
  backend=nil
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/keep-bench-go.XXXXXX")
server=
trap '[ -z "$server" ] || kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
(cd tests/workloads/go && CGO_ENABLED=0 GOCACHE="$work/gocache" GOPATH="$work/gopath" \
  GOFLAGS=-mod=mod GOTOOLCHAIN=local go build -o "$work/httpserver" ./httpserver)

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# one MODE: start the server, wait for "listening", run wrk, stop the server.
# Appends "REQUESTS_PER_S P99_MS" to $work/MODE.
one() {
  local port i
  port=$(free_port)
  if [ "$1" = native ]; then
    "$work/httpserver" "127.0.0.1:$port" 0 >"$work/srv.out" 2>&1 &
  else
    "$keep" run --backend "$backend" --memory 1G --listen "127.0.0.1:$port" \
      "$work/httpserver" "127.0.0.1:$port" 0 >"$work/srv.out" 2>&1 &
  fi
  server=$!
  for i in $(seq 1 600); do
    grep -q '^listening' "$work/srv.out" && break
    sleep 0.05
  done
  wrk -t1 -c8 -d5s --latency "http://127.0.0.1:$port/" >"$work/wrk.out"
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=
  # wrk prints "Requests/sec: N" and, with --latency, "99% X" in us/ms/s.
  python3 - "$work/wrk.out" >>"$work/$1" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
v, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", t).groups()
print(rps, float(v) * {"us": 1e-3, "ms": 1, "s": 1e3}[unit])
PY
}

for _ in $(seq "$runs"); do
  one native
  one keep
done
median() { sort -g <(cut -d' ' -f"$2" "$1") | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
kr=$(median "$work/keep" 1)
nr=$(median "$work/native" 1)
echo "| benchmark | keep ($backend) | native | keep / native | target |"
echo "|---|---|---|---|---|"
echo "| 12. Go net/http hello, wrk -t1 -c8 -d5s: requests/s | $kr | $nr | $(python3 -c "print(f'{$kr / $nr:.2f}')") | report |"
echo "| 12. the same: p99 latency | $(median "$work/keep" 2) ms | $(median "$work/native" 2) ms | – | report |"
