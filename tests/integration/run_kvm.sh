#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The workload suite on the kvm backend, once per channel path (direct and
# bounce). Where kvm cannot run, says why and runs the suite on nil.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/suite.sh"

if why=$(backend_status kvm); then
  run_suite kvm direct
  run_suite kvm bounce
else
  echo "# SKIP kvm: $why; running the suite on nil instead"
  why_nil=$(backend_status nil) || skip_all "neither kvm ($why) nor nil ($why_nil) can run here"
  run_suite nil direct
fi
done_testing
