#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Thread benchmarks (issue 8), tests/workloads/wl_bench_threads timed inside
# the process (start-up left out), in a Keep (kvm, direct channel) and
# natively, runs interleaved in the same run so load from elsewhere hits both:
#   10. N threads each hashing its own 32 MiB buffer 4 times (SHA-256), N = 1, 2:
#       throughput ratio Keep / native, target >= 0.9 each
#   11. futex ping-pong between two threads: round trips/s, Keep / native
# Each figure is the median of BENCH_THREADS_RUNS runs (default 5).
# Usage: bench/bench_threads.sh [BUILD_DIR]   (default build-bench, then build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
[ -x "$build/src/cli/keep" ] || build=build
keep=$build/src/cli/keep
wl=$build/tests/workloads/wl_bench_threads
runs=${BENCH_THREADS_RUNS:-5}
rounds=${BENCH_FUTEX_ROUNDS:-20000}
backend=kvm
if ! "$keep" platform --json | python3 -c '
import json, sys
b = {x["name"]: x for x in json.load(sys.stdin)["backends"]}["kvm"]
sys.exit(0 if b["available"] else 1)'; then
  echo "# kvm is unavailable: measuring the nil backend, which is not a Keep"
  backend=nil
fi

# field RUNS-FILE COLUMN: the median of that column over the runs
median() { sort -g <(cut -d' ' -f"$2" "$1") | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
work=$(mktemp -d "${TMPDIR:-/tmp}/keep-bench-threads.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "| benchmark | keep ($backend) | native | keep / native | target |"
echo "|---|---|---|---|---|"
for n in 1 2; do
  for _ in $(seq "$runs"); do
    "$wl" sha "$n" 32 4 >>"$work/sha$n.native"
    "$keep" run --backend "$backend" --memory 1G "$wl" sha "$n" 32 4 >>"$work/sha$n.keep"
  done
  [ "$(cut -d' ' -f5 "$work/sha$n.native" "$work/sha$n.keep" | sort -u | wc -l)" -eq 1 ] ||
    echo "# WARNING: the digests differ between runs"
  k=$(median "$work/sha$n.keep" 4)
  nat=$(median "$work/sha$n.native" 4)
  echo "| 10. SHA-256, $n thread(s), 128 MiB each | $k MiB/s | $nat MiB/s | $(ratio "$k" "$nat") | ≥ 0.9 |"
done
for _ in $(seq "$runs"); do
  "$wl" futex "$rounds" >>"$work/futex.native"
  "$keep" run --backend "$backend" "$wl" futex "$rounds" >>"$work/futex.keep"
done
k=$(median "$work/futex.keep" 4)
nat=$(median "$work/futex.native" 4)
echo "| 11. futex ping-pong, 2 threads, $rounds round trips | $k /s | $nat /s | $(ratio "$k" "$nat") | – |"
