#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# keep run benchmarks, each measured beside its reference in the same run
# and reported as a ratio (docs/PERFORMANCE.md, "keep run"):
#   1. keep run of a static hello-world, whole process, vs the same program natively
#   2. a forwarded syscall (1-byte write to /dev/null) vs one bare OUT exit (KEEP_SYS_NOP)
#   3. reading a 256 MiB volume file in 1 MiB reads, direct path, vs natively
#   4. SHA-256 of 256 MiB in memory inside the Keep vs natively
#   5. a signal round trip (kill self, handler, rt_sigreturn) and a fault to a handler
# Usage: bench/bench_run.sh [BUILD_DIR]   (default build-bench, then build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
[ -x "$build/src/cli/keep" ] || build=build
keep=$build/src/cli/keep
wl=$build/tests/workloads
runs=${BENCH_RUNS:-30}
calls=${BENCH_CALLS:-50000}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/keep-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

command -v hyperfine >/dev/null || { echo "bench_run: hyperfine is needed (apt install hyperfine)"; exit 1; }

backend=kvm
if ! why=$("$keep" platform --json | python3 -c '
import json, sys
b = {x["name"]: x for x in json.load(sys.stdin)["backends"]}["kvm"]
print(b["reason"]); sys.exit(0 if b["available"] else 1)'); then
  echo "# kvm is unavailable ($why): measuring the nil backend, which is not a Keep"
  backend=nil
fi
kr="$keep run --backend $backend"

# median seconds of each command, via hyperfine's JSON
median() { # json index
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["median"])' "$1" "$2"
}
hf() { # json runs warmup cmd...
  local json=$1 n=$2 w=$3
  shift 3
  hyperfine -N --style none --runs "$n" --warmup "$w" --export-json "$json" "$@" >/dev/null 2>&1
}
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
ms() { python3 -c "import sys; print(f'{float(sys.argv[1]) * 1e3:.3f}')" "$1"; }
us() { python3 -c "import sys; print(f'{float(sys.argv[1]) * 1e6:.3f}')" "$1"; }

echo "## keep run benchmarks ($backend backend, $(date -u +%Y-%m-%dT%H:%MZ))"
echo
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, kernel $(uname -r)"
echo
echo "| benchmark | keep | reference | ratio | target |"
echo "|---|---|---|---|---|"

# 1. Whole-process hello world.
hf "$work/hello.json" "$runs" 3 "$kr $wl/wl_hello" "$wl/wl_hello"
k=$(median "$work/hello.json" 0)
n=$(median "$work/hello.json" 1)
echo "| 1. keep run hello (median, whole process) | $(ms "$k") ms | native $(ms "$n") ms | $(ratio "$k" "$n")x | keep ≤ 3 ms |"

# 2. Per-call cost: (N calls - 0 calls) / N, for write and for the bare exit
# (KEEP_SYS_NOP: the shim answers it with one OUT and no channel work).
have_nop=1
$kr "$wl/wl_bench_write" 1 nop || have_nop=0
cmds=("$kr $wl/wl_bench_write 0" "$kr $wl/wl_bench_write $calls" "$wl/wl_bench_write $calls")
[ $have_nop = 1 ] && cmds+=("$kr $wl/wl_bench_write $calls nop")
hf "$work/calls.json" 5 1 "${cmds[@]}" >/dev/null
base=$(median "$work/calls.json" 0)
wr=$(median "$work/calls.json" 1)
native=$(median "$work/calls.json" 2)
per_write=$(python3 -c "print(($wr - $base) / $calls)")
per_native=$(python3 -c "print($native / $calls)")
if [ $have_nop = 1 ]; then
  nop=$(median "$work/calls.json" 3)
  per_nop=$(python3 -c "print(($nop - $base) / $calls)")
  echo "| 2. forwarded write(1 byte) round trip | $(us "$per_write") µs | bare OUT exit $(us "$per_nop") µs (native write $(us "$per_native") µs) | $(ratio "$per_write" "$per_nop")x | ≤ 2x |"
else
  echo "| 2. forwarded write(1 byte) round trip | $(us "$per_write") µs | bare OUT exit: not measurable (this shim has no KEEP_SYS_NOP); native write $(us "$per_native") µs | – | ≤ 2x |"
fi

# 3. 256 MiB file in a volume, 1 MiB reads (direct path). Page cache warmed first.
head -c $((256 << 20)) /dev/urandom >"$work/data.bin"
cat "$work/data.bin" >/dev/null
hf "$work/read.json" 5 1 \
  "$kr --channel direct --memory 512M --volume $work:/data $wl/wl_bench_read /data/data.bin" \
  "$wl/wl_bench_read $work/data.bin"
k=$(median "$work/read.json" 0)
n=$(median "$work/read.json" 1)
echo "| 3. read 256 MiB from a volume (1 MiB reads) | $(python3 -c "print(f'{256 / $k:.0f}')") MiB/s | native $(python3 -c "print(f'{256 / $n:.0f}')") MiB/s | $(ratio "$n" "$k") of native | ≥ 0.50 |"

# 4. CPU-bound: SHA-256 of 256 MiB in memory.
hf "$work/sha.json" 5 1 "$kr --memory 512M $wl/wl_bench_sha256 256" "$wl/wl_bench_sha256 256"
k=$(median "$work/sha.json" 0)
n=$(median "$work/sha.json" 1)
echo "| 4. SHA-256 of 256 MiB in memory | $(ms "$k") ms | native $(ms "$n") ms | $(ratio "$n" "$k") of native | ≥ 0.95 |"

# 5. Signals: per delivery = (N round trips - 0) / N, in the Keep and natively.
sigs=${BENCH_SIGNALS:-20000}
hf "$work/sig.json" 5 1 "$kr $wl/wl_bench_signal 0" "$kr $wl/wl_bench_signal $sigs" \
  "$wl/wl_bench_signal $sigs" "$kr $wl/wl_bench_signal $sigs fault" "$wl/wl_bench_signal $sigs fault"
base=$(median "$work/sig.json" 0)
per_k=$(python3 -c "print(($(median "$work/sig.json" 1) - $base) / $sigs)")
per_n=$(python3 -c "print($(median "$work/sig.json" 2) / $sigs)")
per_kf=$(python3 -c "print(($(median "$work/sig.json" 3) - $base) / $sigs)")
per_nf=$(python3 -c "print($(median "$work/sig.json" 4) / $sigs)")
echo "| 5a. signal round trip (kill self, handler, sigreturn) | $(us "$per_k") µs | native $(us "$per_n") µs | $(ratio "$per_k" "$per_n")x | – |"
echo "| 5b. SIGSEGV to a handler that steps over the write | $(us "$per_kf") µs | native $(us "$per_nf") µs | $(ratio "$per_kf" "$per_nf")x | – |"
