#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Memory benchmarks (issue 12), each timed inside the process (start-up
# excluded) by tests/workloads/wl_bench_mem, in a Keep and natively in the
# same run, reported as a ratio (docs/PERFORMANCE.md, "Memory"):
#   5. mmap + munmap of 1 GiB PROT_NONE (a reservation)
#   6. first touch of a 4 KiB page of fresh read-write memory (64 MiB, one byte per page)
#   7. the same in a MADV_HUGEPAGE mapping (2 MiB pages in the Keep, THP natively)
# Each figure is the median of BENCH_MEM_RUNS runs (default 5).
# Usage: bench/bench_mem.sh [BUILD_DIR]   (default build-bench, then build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
[ -x "$build/src/cli/keep" ] || build=build
keep=$build/src/cli/keep
wl=$build/tests/workloads/wl_bench_mem
runs=${BENCH_MEM_RUNS:-5}

backend=kvm
if ! "$keep" platform --json | python3 -c '
import json, sys
b = {x["name"]: x for x in json.load(sys.stdin)["backends"]}["kvm"]
sys.exit(0 if b["available"] else 1)'; then
  echo "# kvm is unavailable: measuring the nil backend, which is not a Keep"
  backend=nil
fi

# median of the number wl_bench_mem prints, over $runs runs of the command
median() {
  local out=()
  for _ in $(seq "$runs"); do out+=("$("$@" | awk '{print $2}')"); done
  printf '%s\n' "${out[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.1f}')" "$1" "$2"; }
us() { python3 -c "import sys; print(f'{float(sys.argv[1]) / 1e3:.2f}')" "$1"; }

kr=("$keep" run --backend "$backend" --memory 512M)
echo "| benchmark | keep | native | ratio | target |"
echo "|---|---|---|---|---|"
k=$(median "${kr[@]}" "$wl" reserve 2000)
n=$(median "$wl" reserve 2000)
echo "| 5. mmap + munmap of 1 GiB PROT_NONE | $(us "$k") µs | $(us "$n") µs | $(ratio "$k" "$n")x | ≤ 10x |"
k=$(median "${kr[@]}" "$wl" touch 64)
n=$(median "$wl" touch 64)
echo "| 6. first touch of a 4 KiB page (64 MiB) | $(us "$k") µs | $(us "$n") µs | $(ratio "$k" "$n")x | – |"
k=$(median "${kr[@]}" "$wl" touch-huge 64)
n=$(median "$wl" touch-huge 64)
echo "| 7. the same after MADV_HUGEPAGE, per 4 KiB | $(us "$k") µs | $(us "$n") µs | $(ratio "$k" "$n")x | – |"
