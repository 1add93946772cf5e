#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every shared real-hardware vector through the built `keep attest verify`
# ($KEEP_BIN): the verdict printed with --json and the exit status
# (0 accept, 1 reject, 2 invalid). Expected outcomes: shared/vectors/README.md.
set -uo pipefail

keep=${KEEP_BIN:?KEEP_BIN must name the keep binary}
dir=${KEEP_VECTORS:-${KEEP_VECTORS_DEFAULT:-}}
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  # Meson's TAP protocol reads this plan as SKIP; exit 77 would be an ERROR.
  echo "1..0 # SKIP real-hardware vectors not found at ${dir:-(unset)} (set KEEP_VECTORS)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0
# check NAME WANT_STATUS WANT_VERDICT WANT_CODE(or -) ARGS...
check() {
  local name=$1 want_status=$2 want_verdict=$3 want_code=$4
  shift 4
  n=$((n + 1))
  local out status verdict codes
  out=$("$keep" attest verify --json "$@" 2>"$tmp/stderr")
  status=$?
  verdict=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"])' 2>/dev/null)
  codes=$(printf '%s' "$out" | python3 -c 'import json,sys; print(" ".join(e["code"] for e in json.load(sys.stdin)["errors"]))' 2>/dev/null)
  if [ "$status" = "$want_status" ] && [ "$verdict" = "$want_verdict" ] &&
     { [ "$want_code" = - ] || [[ " $codes " == *" $want_code "* ]]; }; then
    echo "ok $n - $name: exit $status, $verdict${codes:+ ($codes)}"
  else
    failed=$((failed + 1))
    echo "not ok $n - $name: exit $status, verdict '$verdict', errors '$codes'; want exit $want_status, $want_verdict, $want_code"
    sed 's/^/# /' "$tmp/stderr"
  fi
}

snp=$dir/snp
printf '{"allow_debug": true}' >"$tmp/allow_debug.json"
check "snp/milan-release" 0 accept - --vcek "$snp/milan-release/vcek.der" "$snp/milan-release/report.bin"
# mutate SRC OFFSET EXPR: write SRC with byte OFFSET replaced by EXPR (of b, the old byte) to $tmp/mutated.bin
mutate() {
  python3 -c 'import sys; d=bytearray(open(sys.argv[1],"rb").read()); o=int(sys.argv[2],0); b=d[o]; d[o]=eval(sys.argv[3])%256; open(sys.argv[4],"wb").write(d)' \
    "$1" "$2" "$3" "$tmp/mutated.bin"
}
mutate "$snp/milan-release/report.bin" 21 'b ^ 0x80'
check "snp/milan-release, byte 21 ^ 0x80" 2 invalid snp.signature_invalid --vcek "$snp/milan-release/vcek.der" "$tmp/mutated.bin"
check "snp/milan-debug, default policy" 1 reject policy.debug --vcek "$snp/milan-debug/vcek.der" "$snp/milan-debug/report.bin"
check "snp/milan-debug, debug allowed" 0 accept - --policy "$tmp/allow_debug.json" --vcek "$snp/milan-debug/vcek.der" "$snp/milan-debug/report.bin"
check "snp/milan-idblock" 0 accept - --format snp --vcek "$snp/milan-idblock/vcek.der" "$snp/milan-idblock/report.bin"
mutate "$snp/milan-idblock/report.bin" 42 'b + 1'
check "snp/milan-idblock, byte 42 + 1" 2 invalid snp.signature_invalid --vcek "$snp/milan-idblock/vcek.der" "$tmp/mutated.bin"
mutate "$snp/milan-idblock/report.bin" 0x180 'b + 1'
check "snp/milan-idblock, reported_tcb.bl + 1" 2 invalid - --vcek "$snp/milan-idblock/vcek.der" "$tmp/mutated.bin"
check "snp/milan-vlek-expired at 2025-06-01" 0 accept - --time 2025-06-01T00:00:00Z --vcek "$snp/milan-vlek-expired/vlek.der" "$snp/milan-vlek-expired/report.bin"
check "snp/milan-vlek-expired today" 2 invalid x509.expired --vcek "$snp/milan-vlek-expired/vlek.der" "$snp/milan-vlek-expired/report.bin"
python3 - "$snp/milan-release/vcek.der" "$dir/roots/amd_ask_ark_milan.pem" "$tmp/bundle.pem" <<'PY'
import base64, sys, textwrap
der = open(sys.argv[1], "rb").read()
pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64)) + "\n-----END CERTIFICATE-----\n"
open(sys.argv[3], "w").write(pem + open(sys.argv[2]).read())
PY
check "snp/milan-release, VCEK + ASK + ARK as --cert-chain" 0 accept - --cert-chain "$tmp/bundle.pem" "$snp/milan-release/report.bin"
check "snp/milan-release with the wrong VCEK" 2 invalid - --vcek "$snp/milan-debug/vcek.der" "$snp/milan-release/report.bin"
check "snp/milan-release without a VCEK" 2 invalid attest.endorsement_missing "$snp/milan-release/report.bin"

sgx=$dir/sgx
printf '{"tcb_statuses": ["ConfigurationAndSWHardeningNeeded"], "allowed_advisories": ["INTEL-SA-00289", "INTEL-SA-00615"]}' >"$tmp/sgx_status.json"
check "sgx/full-collateral, default policy" 1 reject policy.tcb_status --time 2025-07-19T10:01:17Z --collateral "$sgx/full-collateral/collateral.json" "$sgx/full-collateral/quote.bin"
check "sgx/full-collateral, status and advisories allowed" 0 accept - --policy "$tmp/sgx_status.json" --time 2025-07-19T10:01:17Z --collateral "$sgx/full-collateral/collateral.json" "$sgx/full-collateral/quote.bin"
check "sgx/full-collateral today" 2 invalid - --policy "$tmp/sgx_status.json" --collateral "$sgx/full-collateral/collateral.json" "$sgx/full-collateral/quote.bin"
out=$("$keep" attest verify --json --time 2025-07-19T10:01:17Z --collateral "$sgx/full-collateral/collateral.json" "$sgx/full-collateral/quote.bin")
n=$((n + 1))
if printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["tcb_status"] == "ConfigurationAndSWHardeningNeeded", d["tcb_status"]
assert d["advisories"] == ["INTEL-SA-00289", "INTEL-SA-00615"], d["advisories"]
assert d["claims"]["pck"]["fmspc"] == "00a067110000"
assert d["claims"]["pck"]["pcesvn"] == 13
assert d["claims"]["body"]["mr_signer"] == "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"
'; then
  echo "ok $n - sgx/full-collateral: --json has the status, both advisories, FMSPC, PCESVN, mrsigner"
else
  failed=$((failed + 1)); echo "not ok $n - sgx/full-collateral: --json content"
fi
check "sgx/debug-quote-only, default policy" 1 reject policy.debug "$sgx/debug-quote-only/quote.bin"

tdx=$dir/tdx
printf '{"allow_missing_collateral": true}' >"$tmp/no_collateral.json"
check "tdx/full-collateral" 0 accept - --time 2025-07-19T10:00:34Z --collateral "$tdx/full-collateral/collateral.json" "$tdx/full-collateral/quote.bin"
check "tdx/full-collateral after its window" 2 invalid - --time 2025-07-19T10:00:36Z --collateral "$tdx/full-collateral/collateral.json" "$tdx/full-collateral/quote.bin"
check "tdx/spr-2023, collateral not required" 0 accept - --policy "$tmp/no_collateral.json" --time 2023-07-01T01:00:00Z "$tdx/spr-2023/quote.bin"
check "tdx/spr-2023, separate files without issuer chains" 1 reject policy.collateral_missing --time 2023-07-01T01:00:00Z \
  --tcb-info "$tdx/spr-2023/tcb_info.json" --qe-identity "$tdx/spr-2023/qe_identity.json" \
  --pck-crl "$tdx/spr-2023/pck_crl.der" --root-crl "$tdx/spr-2023/root_crl.der" "$tdx/spr-2023/quote.bin"
check "tdx/spr-2023 at 2053-07-01" 2 invalid x509.expired --policy "$tmp/no_collateral.json" --time 2053-07-01T00:00:00Z "$tdx/spr-2023/quote.bin"
for m in 0x00:0x03:quote.version 0x1e:0x32:quote.signature_invalid 0x3c:0x32:quote.signature_invalid \
         0xb77:0x32:x509.signature 0xf5f:0x32:x509.signature 0x1329:0x32:x509.signature \
         0x1343:0x32:x509.parse 0x278:0x10:quote.size_mismatch; do
  IFS=: read -r off val code <<<"$m"
  mutate "$tdx/spr-2023/quote.bin" "$off" "$val"
  check "tdx/spr-2023, byte $off = $val" 2 invalid "$code" --policy "$tmp/no_collateral.json" --time 2023-07-01T01:00:00Z "$tmp/mutated.bin"
done
check "tdx/v5-2026" 0 accept - --policy "$tmp/no_collateral.json" --time 2026-02-03T01:00:00Z "$tdx/v5-2026/quote.bin"
check "tdx/debug-quote-only, default policy" 1 reject policy.debug "$tdx/debug-quote-only/quote.bin"
check "tdx/debug-quote-only as sgx" 2 invalid attest.format_mismatch --format sgx "$tdx/debug-quote-only/quote.bin"

echo "1..$n"
[ "$failed" -eq 0 ]
