#!/usr/bin/env python3
"""Prints N ports (default 1), all different, each free on 127.0.0.1 for both TCP and UDP right now.

Each chosen port stays bound (TCP and UDP) until all are chosen, so the kernel cannot hand the same one out
twice. Gives up after 50 tries per port (exit 1). Used by tests/integration/lib.sh and bench/lib.sh.
usage: free_ports.py [N]
"""
import socket
import sys

count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
held, ports = [], []
for _ in range(50 * count):
    if len(ports) == count:
        break
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close()
        u.close()
        continue
    held += [t, u]
    ports.append(port)
if len(ports) < count:
    raise SystemExit("no free port")
print(*ports)
