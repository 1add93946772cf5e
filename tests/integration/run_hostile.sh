#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A hostile host: --hostile-host makes the executor answer a call with a
# result no honest host would give. The shim must catch it and stop the
# Keep (exit 125) naming the violation, before the workload sees the lie.
set -eu
. "$(dirname "$0")/lib.sh"

why=$(backend_status kvm) ||
  skip_all "kvm is unavailable ($why); the nil backend has no shim to catch a lying host"
"$KEEP" run --hostile-host none "$WL/wl_exit" 0 >/dev/null 2>&1 ||
  skip_all "this keep was built without -Dhostile_host=true (the release configuration)"

vol=$TMP/vol
mkdir -p "$vol"
printf 'keep volume test\n' >"$vol/input.txt"

for c in direct bounce; do
  P="[kvm/$c]"
  # read returns more bytes than asked: any read of stdin.
  capture "$KEEP" run --backend kvm --channel $c --hostile-host read-too-long "$WL/wl_stdio" \
    <<<"some input"
  check "$P read-too-long stops the Keep with status 125 (exit $status)" test "$status" -eq 125
  check "$P   names the violation" err_has 'read.*(more|too long|returned)'
  check "$P   the workload never echoed the input" bash -c "! grep -q 'some input' '$TMP/out'"

  # openat returns an fd the host never opened.
  capture "$KEEP" run --backend kvm --channel $c --hostile-host bad-fd --volume "$vol:/data" \
    --volume "$vol:/ro:ro" "$WL/wl_files" /data /ro
  check "$P bad-fd stops the Keep with status 125 (exit $status)" test "$status" -eq 125
  check "$P   names the violation" err_has '(fd|descriptor)'

  # fstat reports a struct larger than struct stat.
  capture "$KEEP" run --backend kvm --channel $c --hostile-host stat-size --volume "$vol:/data" \
    --volume "$vol:/ro:ro" "$WL/wl_files" /data /ro
  check "$P stat-size stops the Keep with status 125 (exit $status)" test "$status" -eq 125
  check "$P   names the violation" err_has 'stat'

  # recvmsg reports an address longer than any sockaddr (sockaddr_storage is 128 bytes).
  port=$(free_port)
  capture "$KEEP" run --backend kvm --channel $c --hostile-host msg-namelen \
    --listen "127.0.0.1:$port" --connect "127.0.0.1:$port" "$WL/wl_msg" 127.0.0.1 "$port" $c
  check "$P msg-namelen stops the Keep with status 125 (exit $status)" test "$status" -eq 125
  check "$P   names the violation" err_has 'recvmsg.*msg_namelen'
  check "$P   the workload never saw the address" bash -c "! grep -q 'names the sender' '$TMP/out'"

  # getsockname reports an address length no sockaddr has (beyond 128 bytes).
  port=$(free_port)
  capture "$KEEP" run --backend kvm --channel $c --hostile-host sockaddr-len \
    --listen "127.0.0.1:$port" --connect "127.0.0.1:$port" "$WL/wl_msg" 127.0.0.1 "$port" $c
  check "$P sockaddr-len stops the Keep with status 125 (exit $status)" test "$status" -eq 125
  check "$P   names the violation" err_has 'getsockname.*address or option length'
  check "$P   the workload never used the length" bash -c "! grep -q 'names the sender' '$TMP/out'"

  # getdents64: the first record's d_reclen runs past the bytes returned; readdir would
  # walk past them into whatever follows in its buffer.
  capture "$KEEP" run --backend kvm --channel $c --hostile-host dirent-reclen \
    --volume "$vol:/data" --volume "$vol:/ro:ro" "$WL/wl_files" /data /ro
  check "$P dirent-reclen stops the Keep with status 125 (exit $status)" test "$status" -eq 125
  check "$P   names the violation" err_has 'getdents64.*d_reclen'
  check "$P   the workload never listed the directory" bash -c "! grep -q 'listing shows' '$TMP/out'"

  # dup2/dup3 return another fd than newfd; fcntl F_DUPFD one below its argument.
  for first in dup2 fcntl; do
    capture "$KEEP" run --backend kvm --channel $c --hostile-host dup-fd "$WL/wl_dup" $first
    check "$P dup-fd ($first first) stops the Keep with status 125 (exit $status)" \
      test "$status" -eq 125
    check "$P   names the violation" err_has "$first returned"
    check "$P   the workload never used the fd" bash -c "! grep -q '^ok - $first' '$TMP/out'"
  done

  # getcwd fills the buffer with no NUL: libc would read the "path" past the buffer.
  capture "$KEEP" run --backend kvm --channel $c --hostile-host getcwd-nul --volume "$vol:/data" \
    --volume "$vol:/ro:ro" "$WL/wl_files" /data /ro
  check "$P getcwd-nul stops the Keep with status 125 (exit $status)" test "$status" -eq 125
  check "$P   names the violation" err_has 'getcwd returned.*NUL'
  check "$P   the workload never used the path" bash -c "! grep -q 'getcwd is' '$TMP/out'"

  # Control: the same runs with an honest host succeed.
  capture "$KEEP" run --backend kvm --channel $c "$WL/wl_stdio" <<<"some input"
  check "$P honest host: the same read works" test "$status" -eq 0
done
done_testing
