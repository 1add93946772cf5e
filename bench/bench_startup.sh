#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Start-up (issue 8): `keep run` of a static hello (tests/workloads/wl_hello)
# beside `bwrap --unshare-all` of the same program, in one hyperfine run, with
# the bare program as the floor:
#   13. median wall time of each; target: keep <= bubblewrap's median
# Usage: bench/bench_startup.sh [BUILD_DIR]   (default build-bench, then build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
[ -x "$build/src/cli/keep" ] || build=build
keep=$build/src/cli/keep
hello=$(pwd)/$build/tests/workloads/wl_hello
runs=${BENCH_STARTUP_RUNS:-40}
command -v hyperfine >/dev/null || { echo "(skipped: hyperfine is not installed; scripts/setup installs it)"; exit 0; }
command -v bwrap >/dev/null || { echo "(skipped: bwrap is not installed; scripts/setup installs bubblewrap)"; exit 0; }
backend=kvm
if ! "$keep" platform --json | python3 -c '
import json, sys
b = {x["name"]: x for x in json.load(sys.stdin)["backends"]}["kvm"]
sys.exit(0 if b["available"] else 1)'; then
  echo "# kvm is unavailable: measuring the nil backend, which is not a Keep"
  backend=nil
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/keep-bench-startup.XXXXXX")
trap 'rm -rf "$work"' EXIT
# bwrap gets the program's file bound read-only and nothing else, the nearest
# thing to a Keep (no host file system, every namespace unshared).
bw="bwrap --unshare-all --ro-bind $hello /hello /hello"
$bw >/dev/null || { echo "(skipped: bwrap --unshare-all cannot run here)"; exit 0; }
hyperfine -N --style none --runs "$runs" --warmup 3 --export-json "$work/s.json" \
  "$keep run --backend $backend $hello" "$bw" "$hello" >/dev/null 2>&1
python3 - "$work/s.json" "$backend" <<'PY'
import json, sys
r = [x["median"] * 1e3 for x in json.load(open(sys.argv[1]))["results"]]
print("| benchmark | keep (%s) | bwrap --unshare-all | bare program | keep / bwrap | target |" % sys.argv[2])
print("|---|---|---|---|---|---|")
print(f"| 13. start-up, static hello (median) | {r[0]:.2f} ms | {r[1]:.2f} ms | {r[2]:.2f} ms | {r[0] / r[1]:.2f} | keep ≤ bwrap: {'met' if r[0] <= r[1] else 'NOT met'} |")
PY
