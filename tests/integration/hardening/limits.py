#!/usr/bin/env python3
"""Admin API limits (cmd/admin.cpp session): a body over 64 KiB is refused without being buffered, an
oversized header too, and the API keeps answering afterwards. Prints FAIL lines and "CHECKS n"."""
import socket
import sys

host, port = sys.argv[1].rsplit(":", 1)
port = int(port)
checks = 0


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        print("FAIL:", what)


def exchange(data, timeout=5):
    """Sends `data` (tolerating a server that closes early) and returns what came back before EOF."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


big = b"x" * (64 * 1024 + 1)
reply = exchange(b"POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(big) + big)
check(not reply.startswith(b"HTTP/1.1 200"), "a 64 KiB + 1 body is not processed: %r" % reply[:80])
reply = exchange(b"POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\nConnection: close\r\n\r\n")
check(not reply.startswith(b"HTTP/1.1 200"), "a huge Content-Length is refused: %r" % reply[:80])
reply = exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (16 * 1024) + b"\r\nConnection: close\r\n\r\n")
check(not reply.startswith(b"HTTP/1.1 200"), "a 16 KiB header is refused: %r" % reply[:80])
reply = exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
check(reply.startswith(b"HTTP/1.1 200"), "/healthz still answers: %r" % reply[:80])
reply = exchange(b"GET /v1/explain?name=%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
check(reply.startswith(b"HTTP/1.1 400"), "a malformed query string is 400: %r" % reply[:80])
reply = exchange(b"GET /v1/services/verify HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
check(reply.startswith(b"HTTP/1.1 404"), "/v1/services/verify (no service) is 404: %r" % reply[:80])
print("CHECKS", checks)
