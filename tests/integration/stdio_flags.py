#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# stdio_flags.py KIND [--signal] KEEP-RUN-ARGS...: runs keep with stdin and stdout on
# KIND (pipe, pty or socket) while holding the other ends, then prints
# whether keep's caller still sees its own file status flags (issue 7: a
# workload's O_NONBLOCK outlived the Keep). Exit 0 when they are unchanged
# and keep exited 0; the lines printed say what changed. With --signal (for
# KIND socket, whose description keep shares and restores), waits until
# the workload's O_NONBLOCK shows on the caller's end, then stops keep with
# SIGTERM: the flags must come back on that exit too (status 143).
import fcntl
import os
import pty
import signal
import socket
import subprocess
import sys
import time


def ends(kind):
    """(stdin for keep, stdout for keep, fds to close after) with the caller's copies."""
    if kind == "pipe":
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()
        return r_in, w_out, [w_in, r_out]
    if kind == "pty":
        master, slave = pty.openpty()
        return slave, slave, [master]
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    return a.detach(), c.detach(), [b.detach(), d.detach()]


def main():
    kind, cmd = sys.argv[1], sys.argv[2:]
    by_signal = cmd[0] == "--signal"
    if by_signal:
        cmd = cmd[1:]
    stdin, stdout, others = ends(kind)
    before = (fcntl.fcntl(stdin, fcntl.F_GETFL), fcntl.fcntl(stdout, fcntl.F_GETFL))
    want = 0
    if by_signal:
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
        # Wait for a state, not a time: the workload's flag reaching the shared description.
        deadline = time.time() + 120
        while not fcntl.fcntl(stdout, fcntl.F_GETFL) & os.O_NONBLOCK and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.stderr.read()
        proc.wait(timeout=120)
        want = 128 + signal.SIGTERM
    else:
        proc = subprocess.run(cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                              timeout=120)
    after = (fcntl.fcntl(stdin, fcntl.F_GETFL), fcntl.fcntl(stdout, fcntl.F_GETFL))
    for name, b, a in zip(("stdin", "stdout"), before, after):
        print(f"# {kind} {name}: flags {b:#o} before, {a:#o} after"
              f"{'' if a == b else ' (CHANGED)'}")
    if proc.returncode != want:
        print(f"# keep exited {proc.returncode}, not {want}")
    for fd in [stdin, stdout] + others:
        try:
            os.close(fd)
        except OSError:
            pass
    sys.exit(0 if before == after and proc.returncode == want else 1)


main()
