#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `keep attest` command-line behaviour on synthetic evidence (no vectors
# needed): strict options and exit 64 for usage errors, `show`, the --json
# shape, and exit 2 for evidence that cannot be verified.
set -uo pipefail

keep=${KEEP_BIN:?KEEP_BIN must name the keep binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
# status NAME WANT CMD...: the exit status of CMD is WANT
status() {
  local name=$1 want=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" = "$want" ]; then pass "$name (exit $got)"; else
    fail "$name: exit $got, want $want"; sed 's/^/# /' "$tmp/err"; fi
}

# A well-formed SEV-SNP v2 report (ABI 56860 Table 23) with an all-zero
# signature: it parses, and cannot verify.
python3 - "$tmp/report.bin" <<'PY'
import struct, sys
r = bytearray(1184)
struct.pack_into("<I", r, 0x000, 2)         # VERSION
struct.pack_into("<I", r, 0x004, 7)         # GUEST_SVN
struct.pack_into("<Q", r, 0x008, 0x30000)   # POLICY: SMT, bit 17
struct.pack_into("<I", r, 0x034, 1)         # SIGNATURE_ALGO: ECDSA P-384
r[0x050:0x055] = b"\x01\x02\x03\x04\x05"      # REPORT_DATA
r[0x090:0x0c0] = b"\x4d" * 48               # MEASUREMENT
open(sys.argv[1], "wb").write(r)
PY
head -c 700 /dev/urandom >"$tmp/random.bin"
: >"$tmp/empty.bin"
printf '{"allow_debug": true}' >"$tmp/policy.json"
printf '{"allow_debgu": true}' >"$tmp/bad_policy.json"

# Usage errors: 64, with a message naming the problem.
status "no subcommand" 64 "$keep" attest
status "unknown subcommand" 64 "$keep" attest frobnicate
status "verify without evidence" 64 "$keep" attest verify
status "verify with two evidence files" 64 "$keep" attest verify "$tmp/report.bin" "$tmp/report.bin"
status "unknown option" 64 "$keep" attest verify --jsn "$tmp/report.bin"
status "an option prefix is not accepted" 64 "$keep" attest verify --pol "$tmp/policy.json" "$tmp/report.bin"
status "option without its value" 64 "$keep" attest verify "$tmp/report.bin" --vcek
status "option given twice" 64 "$keep" attest verify --roots a --roots b "$tmp/report.bin"
status "--vcek with --cert-chain" 64 "$keep" attest verify --vcek a --cert-chain b "$tmp/report.bin"
status "--collateral with --tcb-info" 64 "$keep" attest verify --collateral a --tcb-info b "$tmp/report.bin"
status "unknown --format" 64 "$keep" attest verify --format sev "$tmp/report.bin"
status "bad --time" 64 "$keep" attest verify --time yesterday "$tmp/report.bin"
status "policy with an unknown key" 64 "$keep" attest verify --policy "$tmp/bad_policy.json" "$tmp/report.bin"
grep -q "allow_debgu" "$tmp/err" && pass "the policy error names the key" || fail "the policy error names the key"
status "missing policy file" 64 "$keep" attest verify --policy "$tmp/nonexistent" "$tmp/report.bin"
status "show without evidence" 64 "$keep" attest show
status "show with an unknown option" 64 "$keep" attest show --json "$tmp/report.bin"

# Help: exit 0, on stdout.
status "attest --help" 0 "$keep" attest --help
grep -q "keep attest verify" "$tmp/out" && pass "--help describes verify" || fail "--help describes verify"
status "verify --help" 0 "$keep" attest verify --help

# show parses without verifying.
status "show a synthetic SNP report" 0 "$keep" attest show "$tmp/report.bin"
if python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
assert c["version"] == 2 and c["guest_svn"] == 7, c
assert c["measurement"] == "4d" * 48
assert c["report_data"].startswith("0102030405")
assert c["policy"]["debug"] is False
' "$tmp/out"; then pass "show prints the report's claims as JSON"; else fail "show prints the report's claims as JSON"; fi
status "show random bytes" 2 "$keep" attest show "$tmp/random.bin"
grep -q "attest.format_unknown" "$tmp/err" && pass "show names the error code" || fail "show names the error code"
status "show an empty file" 2 "$keep" attest show "$tmp/empty.bin"
status "show as sgx" 2 "$keep" attest show --format sgx "$tmp/report.bin"

# verify: evidence that cannot be verified exits 2, and --json has the documented shape.
status "verify without a VCEK" 2 "$keep" attest verify --json "$tmp/report.bin"
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {"verdict", "tee", "errors", "tcb_status", "advisories", "claims", "checks"}, set(d)
assert d["verdict"] == "invalid" and d["tee"] == "snp"
assert d["errors"][0]["code"] == "attest.endorsement_missing", d["errors"]
assert all(set(e) == {"code", "message"} for e in d["errors"])
assert d["tcb_status"] is None and d["advisories"] == []
assert d["claims"]["measurement"] == "4d" * 48
names = [c["name"] for c in d["checks"]]
assert names[0] == "snp.report_format" and d["checks"][0]["state"] == "passed", d["checks"]
assert d["checks"][-1] == {"name": "policy", "state": "skipped", "detail": "the evidence is not proven genuine"}
' "$tmp/out"; then pass "--json shape: verdict, tee, errors, tcb_status, advisories, claims, checks"; else
  fail "--json shape"; sed 's/^/# /' "$tmp/out" | head -20; fi
status "verify random bytes" 2 "$keep" attest verify "$tmp/random.bin"
grep -q "^verdict: invalid" "$tmp/out" && pass "the summary starts with the verdict" || fail "the summary starts with the verdict"
grep -q "^error: attest.format_unknown" "$tmp/out" && pass "the summary lists the error" || fail "the summary lists the error"
status "verify an empty file" 2 "$keep" attest verify "$tmp/empty.bin"
status "verify a missing file" 2 "$keep" attest verify "$tmp/nonexistent"
status "verify with a VCEK that is not a certificate" 2 "$keep" attest verify --vcek "$tmp/random.bin" "$tmp/report.bin"
status "verify as tdx" 2 "$keep" attest verify --format tdx "$tmp/report.bin"
status "verify a quote with unreadable collateral" 2 "$keep" attest verify --collateral "$tmp/nonexistent" "$tmp/random.bin"
status "verify with --opt=value syntax" 2 "$keep" attest verify --format=snp "$tmp/report.bin"

# kvm evidence (src/attest/kvm_evidence.h): unsigned, rejected unless the policy allows it.
python3 - "$tmp/kvm.bin" <<'PY'
import struct, sys
e = b"KEEPEVID" + struct.pack("<HHI", 1, 0, 136) + b"kvm".ljust(8, b"\0") + b"\x6b" * 48 + b"\x01" * 64
assert len(e) == 136
open(sys.argv[1], "wb").write(e)
PY
printf '{"allow_insecure": true}' >"$tmp/insecure.json"
status "verify kvm evidence, default policy" 1 "$keep" attest verify "$tmp/kvm.bin"
grep -q "^error: policy.insecure_evidence" "$tmp/out" && pass "kvm evidence is rejected as insecure" || fail "kvm evidence is rejected as insecure"
status "verify kvm evidence, allow_insecure" 0 "$keep" attest verify --policy "$tmp/insecure.json" "$tmp/kvm.bin"
status "show kvm evidence" 0 "$keep" attest show "$tmp/kvm.bin"
grep -q '"signed": false' "$tmp/out" && pass "show says kvm evidence is unsigned" || fail "show says kvm evidence is unsigned"

echo "1..$n"
[ "$failed" -eq 0 ]
