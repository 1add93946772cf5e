#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Host client of tests/workloads/rust/echo_server.rs: opens CONNECTIONS
# connections one at a time and, after each new one, exchanges a message on
# every connection open so far. So the first exchanges happen while the
# server's main thread is blocked in accept and the other connections'
# threads are blocked in read: a Keep must let each thread's call proceed
# while the others wait. Prints one line per connection; exits 1 on any
# mismatch.
import socket
import sys

port, count = int(sys.argv[1]), int(sys.argv[2])
conns = []
failed = 0
for rnd in range(count):
    conns.append(socket.create_connection(("127.0.0.1", port), timeout=20))
    for i, c in enumerate(conns):
        msg = (f"round {rnd} connection {i} " + "x" * (1000 * i)).encode()
        c.sendall(msg)
        got = b""
        while len(got) < len(msg):
            part = c.recv(65536)
            if not part:
                break
            got += part
        if got != msg:
            print(f"connection {i} round {rnd}: echoed {len(got)} bytes, want {len(msg)}")
            failed = 1
for i, c in enumerate(conns):
    c.shutdown(socket.SHUT_WR)
    rest = c.recv(1)
    print(f"connection {i}: echoes ok, closed by server: {rest == b''}")
    c.close()
sys.exit(failed)
