#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# keep measure: 96 hex digits, the same for the same launch, different when
# any measured input changes, unchanged by what is not measured.
set -eu
. "$(dirname "$0")/lib.sh"

prog=$TMP/prog
cp "$WL/wl_args" "$prog"
mkdir -p "$TMP/d1" "$TMP/d2"
m() { "$KEEP" measure "$@"; }

base=$(m --volume "$TMP/d1:/data" --listen 127.0.0.1:8080 --connect 127.0.0.1:9090 \
  --env A=1 --memory 64M "$prog" x y)
check "96 lower-case hex digits" bash -c "[[ '$base' =~ ^[0-9a-f]{96}\$ ]]"
again=$(m --volume "$TMP/d1:/data" --listen 127.0.0.1:8080 --connect 127.0.0.1:9090 \
  --env A=1 --memory 64M "$prog" x y)
check "deterministic" [ "$base" = "$again" ]

differs() { # what, then the launch options and program that differ
  local what=$1
  shift
  local v
  v=$(m "$@")
  check "$what changes it" [ -n "$v" ] && [ "$v" != "$base" ]
}
same() {
  local what=$1
  shift
  local v
  v=$(m "$@")
  check "$what does not change it" [ "$v" = "$base" ]
}

cp "$prog" "$TMP/prog2"
printf '\0' >>"$TMP/prog2"
differs "one more program byte" --volume "$TMP/d1:/data" --listen 127.0.0.1:8080 \
  --connect 127.0.0.1:9090 --env A=1 --memory 64M "$TMP/prog2" x y
differs "an argument" --volume "$TMP/d1:/data" --listen 127.0.0.1:8080 \
  --connect 127.0.0.1:9090 --env A=1 --memory 64M "$prog" x z
differs "splitting arguments differently" --volume "$TMP/d1:/data" --listen 127.0.0.1:8080 \
  --connect 127.0.0.1:9090 --env A=1 --memory 64M "$prog" "x y"
differs "an env value" --volume "$TMP/d1:/data" --listen 127.0.0.1:8080 \
  --connect 127.0.0.1:9090 --env A=2 --memory 64M "$prog" x y
differs "the volume's guest path" --volume "$TMP/d1:/data2" --listen 127.0.0.1:8080 \
  --connect 127.0.0.1:9090 --env A=1 --memory 64M "$prog" x y
differs "a read-only volume" --volume "$TMP/d1:/data:ro" --listen 127.0.0.1:8080 \
  --connect 127.0.0.1:9090 --env A=1 --memory 64M "$prog" x y
differs "a listen port" --volume "$TMP/d1:/data" --listen 127.0.0.1:8081 \
  --connect 127.0.0.1:9090 --env A=1 --memory 64M "$prog" x y
differs "a connect address" --volume "$TMP/d1:/data" --listen 127.0.0.1:8080 \
  --connect 127.0.0.2:9090 --env A=1 --memory 64M "$prog" x y
differs "memory size" --volume "$TMP/d1:/data" --listen 127.0.0.1:8080 \
  --connect 127.0.0.1:9090 --env A=1 --memory 65M "$prog" x y
differs "the channel path" --channel bounce --volume "$TMP/d1:/data" --listen 127.0.0.1:8080 \
  --connect 127.0.0.1:9090 --env A=1 --memory 64M "$prog" x y
same "the host directory behind the volume" --volume "$TMP/d2:/data" --listen 127.0.0.1:8080 \
  --connect 127.0.0.1:9090 --env A=1 --memory 64M "$prog" x y
same "the backend and --log" --backend nil --log debug --volume "$TMP/d1:/data" \
  --listen 127.0.0.1:8080 --connect 127.0.0.1:9090 --env A=1 --memory 64M "$prog" x y
same "spelling the guest path differently" --volume "$TMP/d1://data/" \
  --listen 127.0.0.1:8080 --connect 127.0.0.1:9090 --env A=1 --memory 64M "$prog" x y
same "--memory 64M written as 65536K" --volume "$TMP/d1:/data" --listen 127.0.0.1:8080 \
  --connect 127.0.0.1:9090 --env A=1 --memory 65536K "$prog" x y
# argv[0] is the path as given: the workload sees it, so it is measured.
cp "$prog" "$TMP/copy"
differs "the program path (argv[0])" --volume "$TMP/d1:/data" --listen 127.0.0.1:8080 \
  --connect 127.0.0.1:9090 --env A=1 --memory 64M "$TMP/copy" x y
# keep run --steward (docs/KEEP.md, "Enrolment", field 11): the enroller, the service, the
# pinned CA and where each secret goes are measured.
printf -- '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n' >"$TMP/ca1.pem"
printf -- '-----BEGIN CERTIFICATE-----\nMQ==\n-----END CERTIFICATE-----\n' >"$TMP/ca2.pem"
st=(--steward https://127.0.0.1:8443 --steward-ca "$TMP/ca1.pem")
s1=$(m "${st[@]}" "$prog")
s2=$(m "${st[@]}" "$prog")
check "--steward measures the same twice" test -n "$s1" -a "$s1" = "$s2"
check "--steward changes it" [ "$s1" != "$(m "$prog")" ]
check "another pinned CA changes it" [ "$s1" != "$(m --steward https://127.0.0.1:8443 \
  --steward-ca "$TMP/ca2.pem" "$prog")" ]
check "another service address changes it" [ "$s1" != "$(m --steward https://127.0.0.1:8444 \
  --steward-ca "$TMP/ca1.pem" "$prog")" ]
s3=$(m "${st[@]}" --secret db "$prog")
check "a --secret changes it" [ "$s1" != "$s3" ]
check "the secret's guest path changes it" [ "$s3" != "$(m "${st[@]}" --secret db:/run/keep/db "$prog")" ]
cp "$(dirname "$KEEP")/keep-enroll" "$TMP/enroll2"
printf 'x' >>"$TMP/enroll2"
check "another enroller image changes it" [ "$s1" != "$(KEEP_ENROLLER=$TMP/enroll2 m "${st[@]}" "$prog")" ]
# keep run computes the same value before it starts the Keep (--log info prints it).
want=$(m --memory 64M "$WL/wl_hello")
capture "$KEEP" run --log info --memory 64M "$WL/wl_hello"
check "keep run --log info reports the measurement keep measure prints" \
  err_has "measurement $want\$"
done_testing
