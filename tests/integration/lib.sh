# SPDX-License-Identifier: Apache-2.0
# TAP helpers shared by the integration scripts (sourced, not run).
#
#   check "what" command...       ok when the command succeeds
#   expect_status N "what" cmd... ok when cmd exits with status N
#   done_testing                  prints the plan, exits 0 or 1
#
# KEEP_BIN and KEEP_WORKLOADS come from the build (tests/meson.build).
set -u
KEEP=${KEEP_BIN:?KEEP_BIN must point at the keep binary}
WL=${KEEP_WORKLOADS:?KEEP_WORKLOADS must point at the built workloads}
tap_n=0
tap_failed=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/keep-it.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

ok() { # status description
  tap_n=$((tap_n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $tap_n - $2"
  else
    echo "not ok $tap_n - $2"
    tap_failed=$((tap_failed + 1))
  fi
}

diag() { echo "# $*"; }

check() { # description command...
  local what=$1
  shift
  if "$@"; then ok 0 "$what"; else ok 1 "$what"; fi
}

# Run cmd with stdout to $TMP/out and stderr to $TMP/err; status in $status.
capture() {
  set +e
  "$@" >"$TMP/out" 2>"$TMP/err"
  status=$?
  set -e
  return 0
}

expect_status() { # want description command...
  local want=$1 what=$2
  shift 2
  capture "$@"
  if [ "$status" -eq "$want" ]; then
    ok 0 "$what (exit $status)"
  else
    ok 1 "$what (exit $status, want $want)"
    sed 's/^/#   stdout: /' "$TMP/out" | head -20
    sed 's/^/#   stderr: /' "$TMP/err" | head -20
  fi
}

# The last capture's stdout/stderr contains an extended regex.
out_has() { grep -Eq -- "$1" "$TMP/out"; }
err_has() { grep -Eq -- "$1" "$TMP/err"; }
err_lines() { wc -l <"$TMP/err"; }

# Under protocol 'tap' meson reads the "1..0 # SKIP" plan; exit 77 would be
# an ERROR there, so a skipped script exits 0.
skip_all() {
  echo "1..0 # SKIP $1"
  exit 0
}

done_testing() {
  echo "1..$tap_n"
  [ "$tap_failed" -eq 0 ] || { diag "$tap_failed of $tap_n failed"; exit 1; }
  exit 0
}

# Is backend NAME available according to `keep platform --json`? Prints the
# reason on stdout.
backend_status() { # name -> exit 0 when available
  "$KEEP" platform --json | python3 -c '
import json, sys
name = sys.argv[1]
for b in json.load(sys.stdin)["backends"]:
    if b["name"] == name:
        print(b["reason"])
        sys.exit(0 if b["available"] else 1)
print("keep platform does not list " + name)
sys.exit(1)' "$1"
}

# A free TCP port on 127.0.0.1 (bind to port 0, read it back).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
