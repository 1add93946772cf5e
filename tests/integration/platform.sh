#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# keep platform: one line per backend, and --json with a fixed shape whose
# kvm answer agrees with what /dev/kvm actually does.
set -eu
. "$(dirname "$0")/lib.sh"

expect_status 0 "keep platform" "$KEEP" platform
check "five lines" bash -c "[ \$(wc -l <'$TMP/out') -eq 5 ]"
for name in kvm nil sev-snp tdx sgx; do
  check "a line for $name" out_has "^$name +(available|unavailable) +[^ ]"
done

expect_status 0 "keep platform --json" "$KEEP" platform --json
cp "$TMP/out" "$TMP/platform.json"
check "JSON shape: backends, each with name, available, supported, reason, checks" python3 - "$TMP/platform.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
names = [b["name"] for b in doc["backends"]]
assert names == ["kvm", "nil", "sev-snp", "tdx", "sgx"], names
for b in doc["backends"]:
    assert isinstance(b["available"], bool) and isinstance(b["supported"], bool), b
    assert isinstance(b["reason"], str) and b["reason"], b
    assert isinstance(b["checks"], list) and b["checks"], b
    for c in b["checks"]:
        assert isinstance(c["name"], str) and isinstance(c["ok"], bool) and isinstance(c["detail"], str), c
    if b["available"]:
        assert all(c["ok"] for c in b["checks"]), b
    elif b["name"] != "nil" and b["supported"]:
        assert not all(c["ok"] for c in b["checks"]), b
PY

json_field() { # backend field
  python3 -c 'import json,sys; d={b["name"]:b for b in json.load(open(sys.argv[1]))["backends"]}; print(str(d[sys.argv[2]][sys.argv[3]]).lower())' \
    "$TMP/platform.json" "$1" "$2"
}

for tee in sev-snp tdx sgx; do
  check "$tee is reported unavailable (no backend yet)" [ "$(json_field $tee available)" = false ]
done
vendor=$(grep -m1 vendor_id /proc/cpuinfo | awk '{print $3}')
if [ "$vendor" = AuthenticAMD ]; then
  check "on AMD, sgx and tdx name the CPU vendor" bash -c \
    "grep -q 'the CPU is AuthenticAMD' <<<\"\$(python3 -c 'import json;print(json.load(open(\"$TMP/platform.json\")))')\""
fi

# kvm: available exactly when /dev/kvm opens and creates a VM; a user
# without permission gets the permission reason.
kvm_probe_ok() {
  python3 - <<'PY'
import fcntl, os, sys
KVM_GET_API_VERSION, KVM_CREATE_VM = 0xAE00, 0xAE01
try:
    fd = os.open("/dev/kvm", os.O_RDWR)
except OSError:
    sys.exit(1)
ok = fcntl.ioctl(fd, KVM_GET_API_VERSION) == 12
vm = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
os.close(vm); os.close(fd)
sys.exit(0 if ok and vm >= 0 else 1)
PY
}
if kvm_probe_ok; then
  check "/dev/kvm works, so kvm's checks all pass" bash -c \
    "python3 -c 'import json,sys; b=json.load(open(\"$TMP/platform.json\"))[\"backends\"][0]; sys.exit(0 if all(c[\"ok\"] for c in b[\"checks\"] if c[\"name\"]!=\"backend\") else 1)'"
else
  check "/dev/kvm does not work, so kvm is unavailable" [ "$(json_field kvm available)" = false ]
fi
if [ -e /dev/kvm ] && [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  capture setpriv --reuid=nobody --regid=nogroup --clear-groups "$KEEP" platform
  check "as nobody: kvm unavailable, permission denied" out_has '^kvm +unavailable +/dev/kvm: permission denied'
fi
done_testing
