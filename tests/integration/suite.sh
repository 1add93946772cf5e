# SPDX-License-Identifier: Apache-2.0
# The workload suite, sourced by run_kvm.sh and run_nil.sh:
#   run_suite BACKEND CHANNEL
# Each family of calls has its own workload (tests/workloads/); every check
# compares what the workload saw or did with what the host expects.

SUITE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

kr() { "$KEEP" run --backend "$SUITE_BACKEND" --channel "$SUITE_CHANNEL" "$@"; }

# Start keep in the background as the shell's direct child: $! is keep
# itself, so a signal sent to it reaches keep and not a subshell. A
# non-interactive shell starts background jobs with SIGINT ignored; keep
# installs its own handler, so SIGINT still stops it. The timeout bounds a
# hung Keep so the suite cannot hang.
kr_bg() { # output-prefix args...
  local prefix=$1
  shift
  rm -f "$prefix.out" "$prefix.err" # a stale file would answer the readiness poll
  timeout -s KILL 600 "$KEEP" run --backend "$SUITE_BACKEND" --channel "$SUITE_CHANNEL" "$@" \
    >"$prefix.out" 2>"$prefix.err" &
}

# Wait for a state, not a time: until FILE has a line matching REGEX, or PID
# has ended (then fail). On a loaded 2-core machine (the ASan tree) a Keep
# can take many seconds to start; only kr_bg's timeout bounds a hung one.
wait_line() { # file regex pid
  while ! grep -Eq -- "$2" "$1" 2>/dev/null; do
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
}

suite_hello() {
  local v
  for v in wl_hello wl_hello-pie wl_hello-musl; do
    [ -x "$WL/$v" ] || continue
    expect_status 0 "$P $v runs" kr "$WL/$v"
    check "$P $v printed its line" out_has '^hello from a Keep$'
  done
}

suite_args() {
  local v
  for v in wl_args wl_args-pie wl_args-musl; do
    [ -x "$WL/$v" ] || continue
    expect_status 0 "$P $v: argv, empty env, auxv" kr "$WL/$v" one "two words" ""
    check "$P   argc is 4" out_has '^argc=4$'
    check "$P   argv[0] is the program" out_has "^argv\\[0\\]=$WL/$v\$"
    check "$P   argv[2] keeps its space" out_has '^argv\[2\]=two words$'
    check "$P   argv[3] is empty" out_has '^argv\[3\]=$'
    check "$P   environment is empty without --env" out_has '^env_count=0$'
  done
  expect_status 0 "$P --env reaches the workload" kr --env A=1 --env B=x=y --env EMPTY= \
    "$WL/wl_args"
  check "$P   exactly the three variables, in order" bash -c \
    "grep '^env' '$TMP/out' | tr '\n' ' ' | grep -qx 'env\\[0\\]=A=1 env\\[1\\]=B=x=y env\\[2\\]=EMPTY= env_count=3 '"
  local many=()
  for i in $(seq 1 200); do many+=("arg-$i-$(printf 'x%.0s' $(seq 1 20))"); done
  expect_status 0 "$P 200 arguments" kr "$WL/wl_args" "${many[@]}"
  check "$P   argc is 201" out_has '^argc=201$'
}

suite_stdio() {
  head -c 300000 /dev/urandom >"$TMP/stdin.bin"
  capture kr "$WL/wl_stdio" <"$TMP/stdin.bin"
  check "$P stdio workload exits 0 (exit $status)" test "$status" -eq 0
  check "$P   stdout is stdin, byte for byte (300000 bytes)" cmp -s "$TMP/stdin.bin" "$TMP/out"
  check "$P   stderr reaches the host" err_has '^wl_stdio: stderr works$'
  capture kr "$WL/wl_stdio" </dev/null
  check "$P   empty stdin gives empty stdout (exit $status)" test "$status" -eq 0 -a ! -s "$TMP/out"
}

# O_NONBLOCK set by the workload on its stdin and stdout (fcntl, FIONBIO)
# stays inside the Keep: keep's caller keeps its own flags on a pipe, a
# terminal and a socket, after a normal exit and after SIGTERM (issue 7).
suite_stdio_flags() {
  local kind
  for kind in pipe pty socket; do
    check "$P O_NONBLOCK on stdio does not outlive the Keep ($kind)" \
      python3 "$SUITE_DIR/stdio_flags.py" "$kind" "$KEEP" run --backend "$SUITE_BACKEND" \
      --channel "$SUITE_CHANNEL" "$WL/wl_nonblock"
  done
  check "$P   nor a Keep stopped by SIGTERM (socket, restored at exit)" \
    python3 "$SUITE_DIR/stdio_flags.py" socket --signal "$KEEP" run --backend "$SUITE_BACKEND" \
    --channel "$SUITE_CHANNEL" "$WL/wl_nonblock" block
}

suite_exit() {
  local code
  for code in 0 1 42 255; do
    expect_status $code "$P exit($code)" kr "$WL/wl_exit" $code
  done
  expect_status 7 "$P _exit(7)" kr "$WL/wl_exit" 7 _exit
  expect_status 3 "$P musl exit(3)" kr "$WL/wl_exit-musl" 3
}

suite_files() {
  local rw=$TMP/vol-rw ro=$TMP/vol-ro v
  for v in wl_files wl_files-musl; do
    [ -x "$WL/$v" ] || continue
    rm -rf "$rw" "$ro"
    mkdir -p "$rw" "$ro"
    printf 'keep volume test\n' >"$rw/input.txt"
    printf 'keep volume test\n' >"$ro/input.txt"
    expect_status 0 "$P $v: read, write, create, rename, list, ro refused" \
      kr --volume "$rw:/data" --volume "$ro:/ro:ro" "$WL/$v" /data /ro
    grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
    check "$P   the host sees renamed.txt with the workload's bytes" \
      bash -c "[ \"\$(cat '$rw/renamed.txt')\" = 'written inside the Keep' ]"
    check "$P   new.txt was renamed away" [ ! -e "$rw/new.txt" ]
    check "$P   nothing was created in the read-only volume" \
      bash -c "[ \"\$(ls '$ro')\" = input.txt ]"
  done
}

# Path ends ('/', '.', '..'), "/" and a volume's mount point: the same
# program run natively is the oracle, compared line by line (issue 7).
suite_paths() {
  local v native=$TMP/paths-native keep=$TMP/paths-keep
  for v in wl_paths wl_paths-musl; do
    [ -x "$WL/$v" ] || continue
    rm -rf "$native" "$keep"
    mkdir -p "$native" "$keep"
    "$WL/$v" "$native" >"$TMP/paths-native.out"
    expect_status 0 "$P $v: trailing '/', final '.' and '..', mkdir(\"/\")" \
      kr --volume "$keep:/data" "$WL/$v" /data
    check "$P   every line equals the native run's" cmp -s "$TMP/paths-native.out" "$TMP/out"
    diff "$TMP/paths-native.out" "$TMP/out" | sed 's/^/#   /' || true
  done
  local bb=${KEEP_BUSYBOX:-/bin/busybox}
  if [ -x "$bb" ]; then
    rm -rf "$keep"
    mkdir -p "$keep"
    expect_status 0 "$P busybox mkdir -p /data/a/b/c (mkdir(\"/\") and mkdir(\"/data\") are EEXIST)" \
      kr --volume "$keep:/data" "$bb" mkdir -p /data/a/b/c
    check "$P   the host sees a/b/c" test -d "$keep/a/b/c"
  fi
}

# The guest's umask alone masks the modes it creates with (issue 7): native
# and Keep runs under the same host umask must report the same modes.
suite_umask() {
  local v m native=$TMP/umask-native keep=$TMP/umask-keep
  for v in wl_umask wl_umask-musl; do
    [ -x "$WL/$v" ] || continue
    for m in 022 077; do
      rm -rf "$native" "$keep"
      mkdir -p "$native" "$keep"
      (umask $m && "$WL/$v" "$native" >"$TMP/umask-native.out")
      local st=0
      (umask $m && kr --volume "$keep:/data" "$WL/$v" /data >"$TMP/out" 2>"$TMP/err") || st=$?
      check "$P $v under host umask $m: the modes equal the native run's (exit $st)" \
        bash -c "[ $st -eq 0 ] && cmp -s '$TMP/umask-native.out' '$TMP/out'"
      diff "$TMP/umask-native.out" "$TMP/out" | sed 's/^/#   /' || true
    done
  done
}

suite_dup() {
  local v
  for v in wl_dup wl_dup-musl; do
    [ -x "$WL/$v" ] || continue
    expect_status 0 "$P $v: dup2, dup3 and fcntl F_DUPFD number fds as Linux does" kr "$WL/$v"
    grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  done
}

suite_memory() {
  expect_status 0 "$P memory: brk, mmap and touch 1.5x --memory 64M in rounds, ENOMEM, mprotect" \
    kr --memory 64M "$WL/wl_memory" 64
  grep -E '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  # Reservations cost no --memory (issue 12); kvm also overcommits MAP_NORESERVE.
  local over=
  [ "$SUITE_BACKEND" = kvm ] && over=overcommit
  expect_status 0 "$P memory: 4 GiB PROT_NONE reserved, 16 MiB of it used 8 times at --memory 64M" \
    kr --memory 64M "$WL/wl_reserve" reserve $over
  grep -E '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  expect_status 139 "$P memory: a write to a touched page made read-only faults" \
    kr --memory 64M "$WL/wl_reserve" rowrite
  expect_status 0 "$P memory: mremap moves a touched 40 MiB mapping at --memory 64M" \
    kr --memory 64M "$WL/wl_reserve" move
  grep -E '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  # Edge cases of the memory calls: the same program run natively is the oracle.
  "$WL/wl_mmsem" >"$TMP/mmsem-native.out"
  expect_status 0 "$P memory: mmap/munmap/mprotect/mremap/madvise/brk edge cases" kr "$WL/wl_mmsem"
  check "$P   every result equals the native run's" cmp -s "$TMP/mmsem-native.out" "$TMP/out"
  diff "$TMP/mmsem-native.out" "$TMP/out" | sed 's/^/#   /' || true
  if [ "$SUITE_BACKEND" = kvm ]; then
    expect_status 135 "$P memory: touching 256 MiB at --memory 64M stops the workload" \
      kr --memory 64M "$WL/wl_reserve" oom
    check "$P   with one line saying out of memory, the address and --memory" bash -c \
      "[ \$(wc -l <'$TMP/err') -eq 1 ] && grep -q 'out of memory: the workload touched 0x.* 16384 pages of --memory (64 MiB)' '$TMP/err'"
  fi
}

suite_time_random() {
  expect_status 0 "$P time: realtime, monotonic, nanosleep" kr "$WL/wl_time" "$(date +%s)"
  expect_status 0 "$P getrandom" kr "$WL/wl_random"
}

suite_faults() {
  # kind, signal number, what the one-line reason must name
  local spec kind sig name
  for spec in "null 11 page fault|#PF" "ud2 4 invalid opcode|#UD" "div0 8 divide|#DE" \
    "gp 11 general protection|#GP"; do
    read -r kind sig name <<<"$spec"
    expect_status $((128 + sig)) "$P fault $kind ends the Keep with 128+$sig" kr "$WL/wl_fault" "$kind"
    if [ "$SUITE_BACKEND" = kvm ]; then
      check "$P   one line naming the fault ($name), RIP and address" bash -c \
        "[ \$(wc -l <'$TMP/err') -eq 1 ] && grep -Eiq '$name' '$TMP/err' && grep -Eiq 'rip' '$TMP/err'"
    fi
  done
}

suite_tcp_server() {
  local port
  port=$(free_port)
  kr_bg "$TMP/srv" --listen "127.0.0.1:$port" "$WL/wl_echo_server" 127.0.0.1 "$port" 2 \
    $UNCONFINED
  local pid=$!
  check "$P echo server is listening on 127.0.0.1:$port" wait_line "$TMP/srv.out" '^listening' $pid
  check "$P   python client gets its 100 KiB back" python3 - "$port" <<'PY'
import os, socket, sys
data = os.urandom(100 * 1024)
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20) as s:
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while chunk := s.recv(65536):
        got += chunk
sys.exit(0 if got == data else 1)
PY
  check "$P   bash /dev/tcp client gets its line back" bash -c \
    "exec 3<>/dev/tcp/127.0.0.1/$port; echo hello-keep >&3; read -r line <&3; exec 3>&-; [ \"\$line\" = hello-keep ]"
  local st=0
  wait $pid || st=$?
  ok $st "$P   server exits 0 after two connections (exit $st)"
  if [ -z "$UNCONFINED" ]; then
    check "$P   binding a port not given with --listen was refused" \
      grep -q '^ok - bind to a port not given' "$TMP/srv.out"
  fi
}

suite_tcp_client() {
  local port refused
  port=$(free_port)
  refused=$(free_port)
  rm -f "$TMP/pong.log" # a stale file would answer the readiness poll
  python3 - "$port" "$refused" >"$TMP/pong.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
# Also listen on the refused port: a connection there would succeed on the
# host, so only the Keep's --connect policy can refuse it.
r = socket.socket()
r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
r.bind(("127.0.0.1", int(sys.argv[2])))
r.listen(1)
print("ready", flush=True)
s.settimeout(30)
c, _ = s.accept()
if c.recv(5) == b"ping\n":
    c.sendall(b"pong\n")
c.close()
PY
  local spid=$!
  wait_line "$TMP/pong.log" '^ready' $spid || diag "the python server did not start"
  expect_status 0 "$P TCP client: allowed address answers, other address refused" \
    kr --log info --connect "127.0.0.1:$port" "$WL/wl_tcp_client" 127.0.0.1 "$port" 127.0.0.1 \
    "$refused" $UNCONFINED
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  if [ -z "$UNCONFINED" ]; then
    check "$P   the refused connect is one line at --log info naming the flag" bash -c \
      "[ \$(grep -c 'connect .* denied' '$TMP/err') -eq 1 ] && grep -q 'connect 127.0.0.1:$refused denied: not granted; allow with --connect 127.0.0.1:$refused' '$TMP/err'"
  fi
  kill $spid 2>/dev/null || true
  wait $spid 2>/dev/null || true
}

# A real server that binds the wildcard (busybox nc -l binds [::]:P), given
# only --listen 127.0.0.1:P: served on exactly that address (issue 7). kvm
# only: nil shares the host network and cannot narrow.
suite_wildcard_bind() {
  local bb=${KEEP_BUSYBOX:-/bin/busybox} port
  [ -x "$bb" ] && [ -z "$UNCONFINED" ] || return 0
  port=$(free_port)
  echo from-keep >"$TMP/nc-in.txt"
  rm -f "$TMP/nc.out" "$TMP/nc.err"
  timeout -s KILL 60 "$KEEP" run --backend "$SUITE_BACKEND" --channel "$SUITE_CHANNEL" --log info \
    --listen "127.0.0.1:$port" "$bb" nc -l -p "$port" <"$TMP/nc-in.txt" >"$TMP/nc.out" \
    2>"$TMP/nc.err" &
  local pid=$! i
  for i in $(seq 1 200); do
    grep -q 'served on' "$TMP/nc.err" 2>/dev/null && break
    sleep 0.05
  done
  check "$P busybox nc -l -p $port: bind [::]:$port is served on 127.0.0.1 only, said at --log info" \
    grep -q "bind \[::\]:$port served on \[::ffff:127.0.0.1\]:$port only (--listen)" "$TMP/nc.err"
  check "$P   [::1]:$port (not granted) is not served" python3 - "$port" <<'PY'
import socket, sys
try:
    socket.create_connection(("::1", int(sys.argv[1])), timeout=5).close()
except OSError:
    sys.exit(0)
sys.exit(1)
PY
  check "$P   a host client on 127.0.0.1:$port talks to it both ways" python3 - "$port" "$TMP/nc.out" <<'PY'
import socket, sys, time
deadline = time.time() + 30
while True:
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
        break
    except OSError:
        if time.time() > deadline:
            sys.exit(1)
        time.sleep(0.1)
s.sendall(b"from-host\n")
got = b""
while not got.endswith(b"\n"):
    chunk = s.recv(100)
    if not chunk:
        break
    got += chunk
s.close()
sys.exit(0 if got == b"from-keep\n" else 1)
PY
  local st=0
  wait $pid || st=$?
  check "$P   nc exits 0 (exit $st) and printed what the client sent" \
    bash -c "[ $st -eq 0 ] && grep -qx from-host '$TMP/nc.out'"
  local other=$((port + 1))
  capture kr --log info --listen "127.0.0.1:$port" "$bb" nc -l -p "$other" </dev/null
  check "$P   nc -l -p $other (no --listen for it) fails, one line names the flag (exit $status)" \
    bash -c "[ $status -ne 0 ] && [ \$(grep -c 'bind .* denied' '$TMP/err') -eq 1 ] && grep -q 'bind \[::\]:$other denied: no --listen for port $other; allow with --listen 127.0.0.1:$other' '$TMP/err'"
}

suite_msg() {
  local port
  port=$(free_port)
  expect_status 0 "$P sendmsg/recvmsg: UDP and TCP round trips with scatter/gather iovecs" \
    kr --listen "127.0.0.1:$port" --connect "127.0.0.1:$port" "$WL/wl_msg" 127.0.0.1 "$port" \
    "$SUITE_CHANNEL" $UNCONFINED
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  check "$P   a stream larger than the data area arrives whole" \
    out_has '^ok - TCP recvmsg MSG_WAITALL gets them back in order'
  if [ "$SUITE_CHANNEL" = bounce ] && [ -z "$UNCONFINED" ]; then
    check "$P   a datagram larger than the data area is EMSGSIZE, never split" \
      out_has '^ok - bounce: a 64000-byte datagram does not fit the data area: EMSGSIZE'
  else
    check "$P   a 64000-byte datagram arrives whole" out_has '^ok - \.\.\. which arrives whole'
  fi
}

# An unbound UDP socket sending to its --connect peer (issue 7): the kernel
# binds it 0.0.0.0:ephemeral, so without the host's association datagrams
# from any source would reach the guest. The peer (python3 on 127.0.0.1)
# has a third socket send "intruder" to the guest before it replies.
udp_peer() { # port log
  python3 - "$1" >"$2" 2>&1 <<'PY' &
import socket, sys
peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
peer.bind(("127.0.0.1", int(sys.argv[1])))
peer.settimeout(600)
other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
other.bind(("127.0.0.1", 0))
print("ready", flush=True)
data, guest = peer.recvfrom(100)
other.sendto(b"intruder", guest)
peer.sendto(b"reply:" + data, guest)
print("served", guest, flush=True)
PY
}

suite_udp_peer() {
  [ -z "$UNCONFINED" ] || return 0 # nil enforces no --connect (run_suite says so)
  local port pid how
  for how in sendto msg; do
    port=$(free_port)
    rm -f "$TMP/udp-$how.log" # a stale "ready" would answer the readiness poll
    udp_peer "$port" "$TMP/udp-$how.log"
    pid=$!
    wait_line "$TMP/udp-$how.log" '^ready' "$pid" ||
      diag "UDP peer did not start: $(cat "$TMP/udp-$how.log")"
    expect_status 0 "$P UDP ($how) from an unbound socket: only the --connect peer's reply arrives" \
      kr --connect "127.0.0.1:$port" "$WL/wl_udp_peer" 127.0.0.1 "$port" "$how"
    grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

suite_hostile_guest() {
  local vol=$TMP/vol-hostile
  rm -rf "$vol"
  mkdir -p "$vol"
  ln -s /etc/passwd "$vol/escape"
  ln -s /etc "$vol/escape_dir"
  expect_status 0 "$P hostile guest: every malformed request gets an error" \
    kr --volume "$vol:/data" "$WL/wl_hostile" /data
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  check "$P   the Keep is still healthy afterwards" out_has '^still healthy$'
}

# The shim's #UD gate, called by the workload with a forged boot page: it
# must refuse every page outside workload memory (kvm only: nil has no shim).
suite_gate() {
  [ "$SUITE_BACKEND" = kvm ] || return 0
  expect_status 139 "$P #UD gate: a forged boot page maps no supervisor page" kr "$WL/wl_gate"
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  check "$P   every forged gate call was refused" bash -c \
    "! grep -q '^not ok' '$TMP/out' && [ \$(grep -c '^ok' '$TMP/out') -eq 4 ]"
  check "$P   the IDT read from CPL3 is a page fault" grep -Eiq 'page fault|#PF' "$TMP/err"
  # The frame pool: the gate maps no page the pool did not count (issue 12).
  expect_status 139 "$P #UD gate: a forged protect maps no untouched page" kr "$WL/wl_gate" pool
  local at
  at=$(sed -n 's/^reading the untouched page at //p' "$TMP/out")
  check "$P   the read faults at that page ($at), not mapped" bash -c \
    "[ -n '$at' ] && grep -q 'address $at (not mapped, read)' '$TMP/err'"
  expect_status 0 "$P memory requests from the workload outside its memory are refused" \
    kr "$WL/wl_gate" host
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  # A batch the workload forges itself: the host fills only pages in use (issue 12).
  expect_status 0 "$P a forged read() into a page not in use is EFAULT (the pool's bound)" \
    kr "$WL/wl_gate" channel <"$KEEP"
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  expect_status 0 "$P a page freed through the gate alone leaves the host too (reads zero)" \
    kr "$WL/wl_gate" unmap
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  # A corrupted area count must not hang the CPL0 fault handler (the timeout only catches a hang).
  expect_status 139 "$P a corrupted area list count: the touch is SIGSEGV, no CPL0 hang" \
    timeout -s KILL 300 "$KEEP" run --backend kvm --channel "$SUITE_CHANNEL" "$WL/wl_gate" areas
  at=$(sed -n 's/^touching \(0x[0-9a-f]*\) .*/\1/p' "$TMP/out")
  check "$P   the fault names the touched page ($at)" bash -c \
    "[ -n '$at' ] && grep -q 'address $at (not mapped, read)' '$TMP/err'"
  expect_status 0 "$P   and an mmap then stores nothing past the list" kr "$WL/wl_gate" areas mmap
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  # The CPL0 fault handler's set-up from a forged boot page must not reach the page tables.
  expect_status 139 "$P a forged boot page before the first fault leaves the tables supervisor" \
    kr "$WL/wl_gate" init
  at=$(sed -n 's/.*reading the PML4 at \(0x[0-9a-f]*\)$/\1/p' "$TMP/out")
  check "$P   reading the PML4 from CPL3 faults ($at)" bash -c \
    "[ -n '$at' ] && grep -q 'address $at (protection violation, read)' '$TMP/err'"
}

suite_ctrl_c() {
  local port
  port=$(free_port)
  kr_bg "$TMP/int" --listen "127.0.0.1:$port" "$WL/wl_echo_server" 127.0.0.1 "$port"
  local pid=$!
  # keep installs its SIGINT handler before the workload runs, so once the
  # workload says it listens, the signal is keep's to handle.
  wait_line "$TMP/int.out" '^listening' $pid || diag "the Keep ended before it listened"
  kill -INT $pid
  local st=0
  wait $pid || st=$?
  check "$P SIGINT stops a blocked Keep with status 130 (got $st)" [ "$st" -eq 130 ]
  check "$P   and says nothing alarming on stderr" bash -c "! grep -qi 'error' '$TMP/int.err'"
  # kr_bg's timeout signals its whole process group, the workload too (as a
  # terminal's Ctrl-C does); systemd or kill(1) signal keep alone, and keep
  # must stop the Keep itself. timeout --foreground passes SIGTERM to keep
  # only; its KILL ends a hung keep so this fails instead of hanging.
  port=$(free_port)
  rm -f "$TMP/term.out"
  timeout --foreground -s KILL 600 "$KEEP" run --backend "$SUITE_BACKEND" \
    --channel "$SUITE_CHANNEL" --listen "127.0.0.1:$port" \
    "$WL/wl_echo_server" 127.0.0.1 "$port" >"$TMP/term.out" 2>"$TMP/term.err" &
  pid=$!
  wait_line "$TMP/term.out" '^listening' $pid || diag "the Keep ended before it listened"
  kill -TERM $pid
  st=0
  wait $pid || st=$?
  check "$P SIGTERM to keep alone stops a blocked Keep with status 143 (got $st)" [ "$st" -eq 143 ]
}

# keep_get_evidence(): the evidence binds the workload's report_data and the
# measurement `keep measure` prints for the same launch (kvm: unsigned "kvm"
# evidence; nil has no shim and answers -ENOSYS, so this runs on kvm only).
suite_evidence() {
  [ "$SUITE_BACKEND" = kvm ] || return 0
  local vol=$TMP/vol-ev rd m other
  rm -rf "$vol"
  mkdir -p "$vol"
  rd=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')
  other=$(printf '%0128d' 0)
  local launch=(--channel "$SUITE_CHANNEL" --volume "$vol:/out" "$WL/wl_evidence" "$rd" /out/ev.bin)
  m=$("$KEEP" measure "${launch[@]}")
  expect_status 0 "$P keep_get_evidence: size, -ERANGE, -EFAULT, evidence" \
    "$KEEP" run --backend kvm "${launch[@]}"
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  expect_status 0 "$P   keep attest show reads it" "$KEEP" attest show "$vol/ev.bin"
  check "$P   it carries the measurement keep measure printed" grep -qi "$m" "$TMP/out"
  check "$P   it carries the workload's report_data" grep -qi "$rd" "$TMP/out"
  printf '{"allow_insecure": true, "measurement": ["%s"], "report_data": "%s"}' "$m" "$rd" \
    >"$TMP/policy-ok.json"
  expect_status 0 "$P   verify accepts it with that measurement and report_data" \
    "$KEEP" attest verify --policy "$TMP/policy-ok.json" "$vol/ev.bin"
  printf '{"allow_insecure": true, "measurement": ["%s"]}' "$(printf '%096d' 0)" \
    >"$TMP/policy-m.json"
  expect_status 1 "$P   verify rejects it for another measurement" \
    "$KEEP" attest verify --policy "$TMP/policy-m.json" "$vol/ev.bin"
  printf '{"allow_insecure": true, "report_data": "%s"}' "$other" >"$TMP/policy-rd.json"
  expect_status 1 "$P   verify rejects it for another report_data" \
    "$KEEP" attest verify --policy "$TMP/policy-rd.json" "$vol/ev.bin"
  expect_status 1 "$P   the default policy rejects unsigned kvm evidence" \
    "$KEEP" attest verify "$vol/ev.bin"
}

# Signals (tests/workloads/wl_signal.c): handlers, masks, the alternate
# stack, faults to handlers, SIGPIPE, SIGALRM; each default action ends the
# workload with 128 + the signal as on Linux; the first Ctrl-C goes to a
# workload that catches SIGINT, the second stops the Keep.
suite_signals() {
  local v spec how st
  for v in wl_signal wl_signal-musl; do
    [ -x "$WL/$v" ] || continue
    expect_status 0 "$P $v: handlers, masks, altstack, faults, SIGPIPE, SIGALRM" kr "$WL/$v"
    grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  done
  for spec in "pipe-default 13" "kill-self 9" "abort 6" "term 15"; do
    read -r how st <<<"$spec"
    expect_status $((128 + st)) "$P $how: killed by signal $st" kr "$WL/wl_signal" "$how"
    check "$P   one line naming signal $st" bash -c \
      "[ \$(grep -c 'killed by signal $st' '$TMP/err') -eq 1 ]"
  done
  # A hostile workload's own rt_sigreturn frame gets no privilege.
  expect_status 0 "$P forged sigreturn: lands, IOPL stays 0, cli faults" kr "$WL/wl_signal" forge
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  expect_status 139 "$P forged sigreturn with FPU state at 0x1000: SIGSEGV" \
    kr "$WL/wl_signal" forge-fp
  if [ "$SUITE_BACKEND" = kvm ]; then
    expect_status 125 "$P a workload reporting death by signal 99 itself is refused" \
      kr "$WL/wl_signal" bad-killed
    check "$P   the message names the value" err_has 'signal 99; signals are 1\.\.64'
  fi
  kr_bg "$TMP/sigint" "$WL/wl_signal" sigint
  local pid=$! i kpid
  for i in $(seq 1 200); do
    grep -q '^ready' "$TMP/sigint.out" 2>/dev/null && break
    sleep 0.05
  done
  # keep itself, not the timeout wrapper (which passes on only the first SIGINT).
  kpid=$(pgrep -P $pid -x keep || echo $pid)
  kill -INT $kpid
  for i in $(seq 1 200); do
    grep -q '^caught SIGINT' "$TMP/sigint.out" 2>/dev/null && break
    sleep 0.05
  done
  check "$P the first SIGINT reaches the workload's handler" grep -q '^caught SIGINT' "$TMP/sigint.out"
  kill -INT $kpid
  st=0
  wait $pid || st=$?
  check "$P   the second SIGINT stops the Keep: 130 (got $st)" [ "$st" -eq 130 ]
}

# fork/execve: ENOSYS on kvm, named once at --log info; the real thing on nil.
# POSIX timers (tests/workloads/wl_timer.c): SI_TIMER siginfo, SIGEV_NONE,
# TIMER_ABSTIME, overruns, errors; the native run is the oracle.
suite_timers() {
  local v
  for v in wl_timer wl_timer-musl; do
    [ -x "$WL/$v" ] || continue
    "$WL/$v" >"$TMP/timer-native.out"
    expect_status 0 "$P $v: timer_create/settime/gettime/getoverrun/delete" kr "$WL/$v"
    check "$P   every line equals the native run's" cmp -s "$TMP/timer-native.out" "$TMP/out"
    diff "$TMP/timer-native.out" "$TMP/out" | sed 's/^/#   /' || true
  done
}

suite_processes() {
  expect_status 0 "$P fork twice, then execve" kr --log info "$WL/wl_fork"
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  if [ "$SUITE_BACKEND" = kvm ]; then
    check "$P   fork is ENOSYS in a Keep" out_has '^ok - fork: ENOSYS'
    check "$P   vfork and clone(SIGCHLD) are ENOSYS too" bash -c \
      "grep -q '^ok - vfork: ENOSYS' '$TMP/out' && grep -q '^ok - clone(SIGCHLD): ENOSYS' '$TMP/out'"
    check "$P   the log names vfork once" bash -c "[ \$(grep -c 'syscall 58 (fork/vfork' '$TMP/err') -eq 1 ]"
    check "$P   the log names clone or fork once, and execve" bash -c \
      "[ \$(grep -Ec 'syscall 5[67] \\((clone|fork)' '$TMP/err') -eq 1 ] && grep -q 'syscall 59 (execve' '$TMP/err'"
  else
    check "$P   fork runs the child natively" out_has '^ok - fork: the child exited 7'
    check "$P   so do vfork and clone(SIGCHLD)" bash -c \
      "grep -q '^ok - vfork: the child exited 7' '$TMP/out' && grep -q '^ok - clone(SIGCHLD): the child exited 7' '$TMP/out'"
  fi
}

# Threads: pthreads (mutex, condition variable, thread-local storage, join)
# with 8 threads, twice, glibc and musl: a vCPU per thread on kvm.
suite_threads() {
  local v
  for v in wl_threads wl_threads-musl; do
    [ -x "$WL/$v" ] || continue
    expect_status 0 "$P $v: 8 pthreads, mutex, condvar, TLS, join, twice" kr "$WL/$v"
    grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  done
  if [ "$SUITE_BACKEND" = kvm ]; then
    expect_status 0 "$P thread requests from the workload with impossible values are refused" \
      kr "$WL/wl_threads" hostile
    grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  fi
}

# Cross-thread TLB shootdown: one thread touches a page while another
# munmaps it, mprotects it (PROT_NONE, PROT_READ) or discards it
# (MADV_DONTNEED). After the call returns the toucher must fault (or read
# zero), as in the native run of the same program.
suite_tlb() {
  local v
  for v in wl_tlb wl_tlb-musl; do
    [ -x "$WL/$v" ] || continue
    expect_status 0 "$P $v natively: the same checks pass on Linux" "$WL/$v"
    expect_status 0 "$P $v: no thread touches a page after munmap/mprotect/madvise returned" \
      kr "$WL/$v"
    grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  done
  if [ "$SUITE_BACKEND" = kvm ] && [ -x "$WL/wl_tlb" ]; then
    expect_status 0 "$P wl_tlb at --log debug" kr --log debug "$WL/wl_tlb"
    check "$P   another vCPU took an NMI for the shootdown" err_has 'NMI injected: a TLB shootdown'
  fi
}

# A thread blocked in a host call does not block the others (issue 8): in
# each mode thread A waits in read of an empty pipe, write to a full pipe or
# accept, until thread B, after printing, ends its wait (tgkill: B's
# SIGUSR1 runs its handler on A, in the read and spinning). Compared line by
# line with the same program run natively. The timeout makes a Keep where
# A's wait holds up B (all threads stopped) a failure, not a hang.
suite_blocking() {
  local v mode port
  for v in wl_blocking wl_blocking-musl; do
    [ -x "$WL/$v" ] || continue
    for mode in pipe full-pipe tgkill accept; do
      local args=("$mode") opts=()
      if [ "$mode" = accept ]; then
        port=$(free_port)
        args=(accept 127.0.0.1 "$port")
        opts=(--listen "127.0.0.1:$port" --connect "127.0.0.1:$port")
      fi
      # The same port for both runs: the workload sets SO_REUSEADDR.
      timeout -s KILL 120 "$WL/$v" "${args[@]}" >"$TMP/blocking-native.out" 2>/dev/null || true
      expect_status 0 "$P $v $mode: thread A waits in the host, thread B runs and ends the wait" \
        timeout -s KILL 120 "$KEEP" run --backend "$SUITE_BACKEND" --channel "$SUITE_CHANNEL" \
        "${opts[@]}" "$WL/$v" "${args[@]}"
      # A kick that lands before thread A's read reaches the host is seen only at
      # A's next exit (docs/KEEP.md, threads: "A kick that lands just before..."),
      # and then A's read is not EINTR.
      # tgkill gets one more run, and the first run's difference stays in the log.
      if [ "$mode" = tgkill ] && ! cmp -s "$TMP/blocking-native.out" "$TMP/out"; then
        diag "$v tgkill: first run differed (the known kick race); running once more:"
        diff "$TMP/blocking-native.out" "$TMP/out" | sed 's/^/#   /' || true
        timeout -s KILL 120 "$KEEP" run --backend "$SUITE_BACKEND" --channel "$SUITE_CHANNEL" \
          "$WL/$v" "${args[@]}" >"$TMP/out" 2>/dev/null || true
      fi
      check "$P   every line equals the native run's" cmp -s "$TMP/blocking-native.out" "$TMP/out"
      diff "$TMP/blocking-native.out" "$TMP/out" | sed 's/^/#   /' || true
    done
  done
  # A SIGINT to keep, with the first thread blocking SIGINT and thread A
  # spinning with it unblocked: its handler runs on A (POSIX's
  # process-directed rule), which only then leaves its loop.
  kr_bg "$TMP/sigint-thread" "$WL/wl_blocking" sigint
  local pid=$! st=0
  check "$P wl_blocking sigint: the Keep is ready" wait_line "$TMP/sigint-thread.out" '^ready' $pid
  kill -INT "$(pgrep -P $pid -x keep || echo $pid)" 2>/dev/null || true
  wait $pid || st=$?
  check "$P   the SIGINT handler ran on the thread that does not block it (exit $st)" \
    bash -c "[ $st -eq 0 ] && grep -q '^ok - the process.s SIGINT ran its handler on A' '$TMP/sigint-thread.out'"
}

# A workload that exits with SO_LINGER {1, 3600} on a socket whose send queue
# is full: keep must not wait in close(), and the peer must get what Linux
# gives it when the process dies: every byte, then EOF (checked against the
# same program run natively). The timeout only ends a keep stuck in close.
# A workload that tries to leave its file system (issue 7): remount its :ro
# volume rw, unmount it, chroot + chdir("..") out of a rw volume. On nil as
# root (this is what made the workload real root in a plain chroot) and on
# kvm every attempt must fail and change nothing on the host.
suite_escape() {
  local rw=$TMP/vol-esc-rw ro=$TMP/vol-esc-ro marker=$TMP/host-only.txt
  rm -rf "$rw" "$ro"
  mkdir -p "$rw" "$ro"
  printf 'ro\n' >"$ro/input.txt"
  printf 'host only\n' >"$marker"
  # Without --volume: no host process to signal, no host file to write, uid 1000.
  expect_status 0 "$P escape attempts (as uid $(id -u)): kill(-1, 0), kill(1, 0), /etc/passwd, uid" \
    kr "$WL/wl_escape"
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  expect_status 0 "$P escape attempts (as uid $(id -u)): remount rw, umount, chroot + chdir .." \
    kr --volume "$rw:/data" --volume "$ro:/ro:ro" "$WL/wl_escape" /ro /data "$marker"
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  check "$P   nothing was created in the read-only volume" bash -c "[ \"\$(ls '$ro')\" = input.txt ]"
  check "$P   what it made in the rw volume belongs to the caller (uid $(id -u))" \
    bash -c "[ \"\$(stat -c %u '$rw/jail')\" = $(id -u) ]"
  # nil run by an ordinary user (user namespace path): the same attempts fail.
  [ "$SUITE_BACKEND" = nil ] && [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null || return 0
  local as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  if ! "${as_nobody[@]}" test -x "$KEEP" -a -x "$WL/wl_escape"; then
    diag "escape attempts as nobody not run: nobody cannot execute $KEEP"
    return 0
  fi
  local top
  top=$(mktemp -d "${TMPDIR:-/tmp}/keep-esc.XXXXXX")
  chmod 755 "$top"
  mkdir "$top/rw" "$top/ro"
  chown nobody "$top/rw"
  printf 'ro\n' >"$top/ro/input.txt"
  printf 'host only\n' >"$top/host-only.txt"
  expect_status 0 "$P escape attempts as nobody (user namespace): remount rw, umount, chroot" \
    "${as_nobody[@]}" "$KEEP" run --backend nil --volume "$top/rw:/data" \
    --volume "$top/ro:/ro:ro" "$WL/wl_escape" /ro /data "$top/host-only.txt"
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  check "$P   nothing was created in the read-only volume" bash -c "[ \"\$(ls '$top/ro')\" = input.txt ]"
  rm -rf "$top"
}

linger_peer() { # port go-file log
  python3 - "$1" "$2" >"$3" 2>&1 <<'PY' &
import os, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
print("ready", flush=True)
s.settimeout(300)  # a workload that never connects fails the test, not hangs it
c, _ = s.accept()
c.settimeout(None)
while not os.path.exists(sys.argv[2]):  # read only after the writer is gone
    time.sleep(0.05)
n = 0
try:
    while chunk := c.recv(65536):
        n += len(chunk)
    print("got %d eof" % n)
except ConnectionResetError:
    print("got %d reset" % n)
PY
}

linger_run() { # native|Keep
  local label=$1 port ppid sent
  port=$(free_port)
  local cmd=("$WL/wl_linger")
  [ "$label" = native ] || cmd=("$KEEP" run --backend "$SUITE_BACKEND" --channel "$SUITE_CHANNEL"
    --connect "127.0.0.1:$port" "$WL/wl_linger")
  rm -f "$TMP/linger.go" "$TMP/linger.log"
  linger_peer "$port" "$TMP/linger.go" "$TMP/linger.log"
  ppid=$!
  wait_line "$TMP/linger.log" '^ready' $ppid || diag "the python peer did not start"
  expect_status 0 "$P $label: exits with SO_LINGER {1, 3600} and unsent data" \
    timeout -s KILL 300 "${cmd[@]}" 127.0.0.1 "$port"
  grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
  sent=$(sed -n 's/^sent //p' "$TMP/out")
  touch "$TMP/linger.go"
  wait $ppid || true
  check "$P   $label: the peer reads all ${sent:-?} bytes, then EOF ($(cat "$TMP/linger.log" | tail -1))" \
    grep -qx "got ${sent:-x} eof" "$TMP/linger.log"
}

suite_linger() {
  linger_run native
  linger_run Keep
}

# Issue 11/12 calls: locks, links, ownership, statfs, sendfile, creat,
# select, file mmap, getrusage, prctl, identity, session, sysinfo. The same
# workload passes natively (checked beside it) and in the Keep.
suite_fscalls() {
  local vol=$TMP/vol-fs v
  for v in wl_fscalls wl_fscalls-musl; do
    [ -x "$WL/$v" ] || continue
    rm -rf "$vol" "$TMP/native-fs"
    mkdir -p "$vol" "$TMP/native-fs"
    expect_status 0 "$P $v natively" "$WL/$v" "$TMP/native-fs" native
    expect_status 0 "$P $v: locks, links, chown, statfs, sendfile, select, mmap, ids" \
      kr --volume "$vol:/data" "$WL/$v" /data "$SUITE_BACKEND"
    grep '^not ok' "$TMP/out" | sed 's/^/#   /' || true
    check "$P   the host sees the symlink the Keep made" \
      bash -c "[ \"\$(readlink '$vol/plink')\" = people.txt ]"
    check "$P   and the hard link (one inode, two names)" \
      bash -c "[ \"\$(stat -c %i '$vol/people.txt')\" = \"\$(stat -c %i '$vol/hard')\" ]"
    check "$P   the MAP_PRIVATE write did not reach the host file" \
      bash -c "[ \"\$(cat '$vol/map.txt')\" = 'mapped file contents' ]"
  done
  if [ "$SUITE_BACKEND" = kvm ]; then
    expect_status 0 "$P wl_fscalls with --log debug" \
      kr --log debug --volume "$vol:/data" "$WL/wl_fscalls" /data kvm
    check "$P   the refused MAP_SHARED|PROT_WRITE says so in one line" bash -c \
      "[ \$(grep -c 'MAP_SHARED with PROT_WRITE of a file is not available' '$TMP/err') -eq 1 ]"
  fi
}

# A select()-based server with three clients at once (glibc and musl).
suite_select_server() {
  local v port pid st
  for v in wl_select_server wl_select_server-musl; do
    [ -x "$WL/$v" ] || continue
    port=$(free_port)
    kr_bg "$TMP/sel" --listen "127.0.0.1:$port" "$WL/$v" 127.0.0.1 "$port" 3 $UNCONFINED
    pid=$!
    for i in $(seq 1 200); do
      grep -q '^listening' "$TMP/sel.out" 2>/dev/null && break
      sleep 0.05
    done
    check "$P $v: three clients at once each get their lines back" python3 - "$port" <<'PY'
import socket, sys
port = int(sys.argv[1])
conns = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(3)]
ok = True
for rnd in range(3):
    for i, c in enumerate(conns):
        c.sendall(b"client %d round %d\n" % (i, rnd))
    for i, c in enumerate(conns):
        want = b"client %d round %d\n" % (i, rnd)
        got = b""
        while len(got) < len(want):
            chunk = c.recv(100)
            if not chunk:
                break
            got += chunk
        ok = ok and got == want
for c in conns:
    c.close()
sys.exit(0 if ok else 1)
PY
    st=0
    wait $pid || st=$?
    ok $st "$P   $v exits 0 after serving 3 clients (exit $st)"
  done
}

run_suite() { # backend channel
  SUITE_BACKEND=$1
  SUITE_CHANNEL=$2
  P="[$1/$2]"
  # nil cannot allow single addresses (docs/KEEP.md, "The nil backend"):
  # the socket-policy checks run on kvm only.
  UNCONFINED=
  if [ "$1" = nil ]; then
    UNCONFINED=unconfined
    diag "$P nil shares the host network when --listen/--connect are given: socket policy checks skipped"
  fi
  suite_hello
  suite_args
  suite_stdio
  suite_stdio_flags
  suite_exit
  suite_files
  suite_paths
  suite_umask
  suite_dup
  suite_memory
  suite_time_random
  suite_faults
  suite_tcp_server
  suite_tcp_client
  suite_wildcard_bind
  suite_msg
  suite_udp_peer
  suite_hostile_guest
  suite_evidence
  suite_gate
  suite_ctrl_c
  suite_signals
  suite_timers
  suite_processes
  suite_threads
  suite_tlb
  suite_blocking
  suite_linger
  suite_escape
  suite_fscalls
  suite_select_server
}
