#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Static Go programs (golang-go, CGO_ENABLED=0), built here from
# tests/workloads/go/, in Keeps on kvm (both channel paths) and nil, each
# compared with the same program run natively: hello, goroutines and
# channels, crypto/sha256 of a volume file, a net/http server reached by curl.
set -eu
. "$(dirname "$0")/lib.sh"

src=$(cd "$(dirname "$0")/../workloads/go" && pwd)
command -v go >/dev/null || skip_all "go is not installed (scripts/setup installs golang-go)"
command -v curl >/dev/null || skip_all "curl is not installed (scripts/setup installs it)"
bin=$TMP/go
mkdir -p "$bin"
for p in hello goroutines sha256file httpserver; do
  (cd "$src" && CGO_ENABLED=0 GOCACHE="$TMP/gocache" GOPATH="$TMP/gopath" GOFLAGS=-mod=mod \
    GOTOOLCHAIN=local go build -o "$bin/$p" "./$p") || skip_all "go build of $p failed"
done
vol=$TMP/vol
mkdir -p "$vol"
head -c 3000000 /dev/urandom >"$vol/blob"
want_sha=$(sha256sum "$vol/blob" | cut -d' ' -f1)

go_suite() { # backend channel
  local P="[$1/$2]" kr=("$KEEP" run --backend "$1" --channel "$2" --memory 1G)
  expect_status 0 "$P Go hello" "${kr[@]}" "$bin/hello"
  check "$P   prints what it prints natively" out_has '^hello from Go$'
  expect_status 0 "$P Go goroutines and channels" "${kr[@]}" "$bin/goroutines"
  check "$P   every goroutine's sum arrived (same as natively)" \
    out_has "^$("$bin/goroutines" | cut -d' ' -f1-4) "
  expect_status 0 "$P Go crypto/sha256 of a volume file" \
    "${kr[@]}" --volume "$vol:/data:ro" "$bin/sha256file" /data/blob
  check "$P   equals the host's sha256sum" out_has "^$want_sha  /data/blob$"
  local port pid i
  port=$(free_port)
  rm -f "$TMP/http.out"
  timeout -s KILL 120 "${kr[@]}" --listen "127.0.0.1:$port" "$bin/httpserver" \
    "127.0.0.1:$port" 2 >"$TMP/http.out" 2>"$TMP/http.err" &
  pid=$!
  for i in $(seq 1 200); do
    grep -q '^listening' "$TMP/http.out" 2>/dev/null && break
    sleep 0.05
  done
  check "$P Go net/http server answers curl" bash -c \
    "[ \"\$(curl -s --max-time 20 http://127.0.0.1:$port/)\" = 'hello from Go in a Keep' ]"
  check "$P   and a second request" bash -c \
    "[ \"\$(curl -s --max-time 20 http://127.0.0.1:$port/again)\" = 'hello from Go in a Keep' ]"
  local st=0
  wait $pid || st=$?
  ok $st "$P   the server exits 0 after two requests (exit $st)"
}

if why=$(backend_status kvm); then
  go_suite kvm direct
  go_suite kvm bounce
else
  diag "SKIP kvm: $why"
fi
why_nil=$(backend_status nil) && go_suite nil direct || diag "SKIP nil: $why_nil"
done_testing
