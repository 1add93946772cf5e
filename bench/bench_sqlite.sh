#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SQLite benchmark (issue 11): tests/workloads/wl_sqlite, Debian's
# libsqlite3.a linked statically, on a database in a volume, timed inside
# the process (start-up excluded), in a Keep (both channel paths) and
# natively in the same run on the same file system:
#   8. INSERT of ROWS rows in one transaction
#   9. TXNS one-row transactions (each commit: journal writes, fsyncs, locks)
# Each figure is the median of BENCH_SQLITE_RUNS runs (default 3); "speed"
# is native time / Keep time (1.0 = as fast as native).
# Usage: bench/bench_sqlite.sh [BUILD_DIR]   (default build-bench, then build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
[ -x "$build/src/cli/keep" ] || build=build
keep=$build/src/cli/keep
wl=$build/tests/workloads/wl_sqlite
runs=${BENCH_SQLITE_RUNS:-3}
rows=${BENCH_SQLITE_ROWS:-100000}
txns=${BENCH_SQLITE_TXNS:-1000}
if [ ! -x "$wl" ]; then
  echo "(skipped: $wl was not built: libsqlite3.a is missing, Debian package libsqlite3-dev)"
  exit 0
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/keep-bench-sqlite.XXXXXX")
trap 'rm -rf "$dir"' EXIT

modes="native"
if "$keep" platform --json | python3 -c '
import json, sys
b = {x["name"]: x for x in json.load(sys.stdin)["backends"]}["kvm"]
sys.exit(0 if b["available"] else 1)'; then
  modes="native kvm/direct kvm/bounce"
else
  echo "# kvm is unavailable: only the native figures"
fi

# run MODE: prints "one_transaction SECONDS" and "small_transactions SECONDS"
run() {
  rm -f "$dir"/bench.db*
  if [ "$1" = native ]; then
    "$wl" "$dir/bench.db" bench "$rows" "$txns"
  else
    "$keep" run --backend kvm --channel "${1#*/}" --volume "$dir:/data" "$wl" /data/bench.db \
      bench "$rows" "$txns"
  fi | awk '/^bench/ {print $2, $3}'
}

# Runs interleave the modes, so a load change on the machine hits each alike.
declare -A one small med
for i in $(seq "$runs"); do
  for m in $modes; do
    out=$(run "$m")
    one[$m]+="$(awk '$1 == "one_transaction" {print $2}' <<<"$out") "
    small[$m]+="$(awk '$1 == "small_transactions" {print $2}' <<<"$out") "
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for m in $modes; do
  med[$m.one]=$(median <<<"${one[$m]}")
  med[$m.small]=$(median <<<"${small[$m]}")
done
fmt() { python3 -c "import sys; print(f'{float(sys.argv[1]) * 1e3:.1f} ms')" "$1"; }
speed() { python3 -c "import sys; print(f'{float(sys.argv[2]) / float(sys.argv[1]):.2f}')" "$1" "$2"; }
echo "| benchmark | path | keep | native | speed (native time / keep time) | target |"
echo "|---|---|---|---|---|---|"
for m in $modes; do
  [ "$m" = native ] && continue
  echo "| 8. SQLite INSERT of $rows rows, one transaction | ${m#*/} | $(fmt "${med[$m.one]}") | $(fmt "${med[native.one]}") | $(speed "${med[$m.one]}" "${med[native.one]}") | ≥ 0.7 |"
  echo "| 9. SQLite $txns one-row transactions | ${m#*/} | $(fmt "${med[$m.small]}") | $(fmt "${med[native.small]}") | $(speed "${med[$m.small]}" "${med[native.small]}") | – |"
done
[ "$modes" = native ] && echo "| native only | | | $(fmt "${med[native.one]}") / $(fmt "${med[native.small]}") | | |"
exit 0
