#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The workload suite on the nil backend (a plain host process: nothing is
# isolated, but every call still goes through the executor's checks).
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/suite.sh"

why=$(backend_status nil) || skip_all "the nil backend is unavailable: $why"
run_suite nil direct
done_testing
