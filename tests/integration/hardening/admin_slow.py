#!/usr/bin/env python3
"""Admin API deadlines (server.admin_read_timeout, server.admin_write_timeout; docs/security.md) against a running
vpced configured with READ_S and WRITE_S seconds:
- slow loris: a client that sends its request one byte a second is disconnected about READ_S after it connected;
- slow read: a client that pipelines large requests and never reads the (large) responses is disconnected
  about WRITE_S after its responses stopped fitting in the socket buffers;
- meanwhile another admin client is answered at once and DNS keeps answering.
Prints FAIL lines and "CHECKS n".
usage: admin_slow.py ADMIN DNS_PORT APEX READ_S WRITE_S REPORT (measured numbers are appended to REPORT)"""
import select
import socket
import struct
import sys
import threading
import time

admin_host, admin_port = sys.argv[1].rsplit(":", 1)
admin = (admin_host, int(admin_port))
dns_port, apex = int(sys.argv[2]), sys.argv[3]
read_s, write_s = float(sys.argv[4]), float(sys.argv[5])
report = sys.argv[6]
checks = 0
TCP_CLOSE, TCP_CLOSE_WAIT = 7, 8


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        print("FAIL:", what)
    return ok


def healthz_seconds():
    """Seconds a fresh admin client takes to get 200 from /healthz (None on failure)."""
    t0 = time.monotonic()
    try:
        s = socket.create_connection(admin, timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        return time.monotonic() - t0 if data.startswith(b"HTTP/1.1 200") else None
    except OSError:
        return None


def dns_answered():
    q = struct.pack(">HHHHHH", 77, 0, 1, 0, 0, 0)
    for label in apex.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 6, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(q, ("127.0.0.1", dns_port))
        data, _ = s.recvfrom(4096)
        return data[:2] == b"\x00\x4d" and data[3] & 0x0F == 0
    except OSError:
        return False
    finally:
        s.close()


def others_served(label):
    """While a stalled client holds its connection: another admin client and DNS are answered promptly."""
    t = healthz_seconds()
    check(t is not None and t < 1.0, "%s: another admin client's /healthz took %s s" % (label, t))
    check(dns_answered(), "%s: DNS did not answer" % label)


def measured(line):
    with open(report, "a") as f:
        f.write("measured: " + line + "\n")


def tcp_state(s):
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


# --- slow loris: one byte of the request line a second ---------------------------------------------------
request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
s = socket.create_connection(admin, timeout=5)
t0 = time.monotonic()
closed_at = None
for i in range(len(request)):
    # Before each byte, wait up to a second for the server to close (EOF or reset).
    r, _, _ = select.select([s], [], [], 1.0)
    if r:
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:
            closed_at = time.monotonic() - t0
            break
        check(False, "slow loris: the server answered a request it never fully got: %r" % data[:80])
        break
    if i == 1:
        others_served("slow loris")
    try:
        s.send(request[i:i + 1])
    except OSError:
        closed_at = time.monotonic() - t0
        break
s.close()
check(closed_at is not None, "slow loris: still connected after %d bytes at one a second" % len(request))
if closed_at is not None:
    check(read_s - 0.5 <= closed_at <= read_s + 2.0,
          "slow loris: cut off after %.2f s, expected about admin_read_timeout = %.0f s" % (closed_at, read_s))
    measured("slow loris (1 byte/s) disconnected after %.2f s (admin_read_timeout %.0f s)" % (closed_at, read_s))

# --- slow read: pipelined large requests, responses never read -------------------------------------------
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
s.connect(admin)
s.setblocking(False)
pad = b"X-Pad: " + b"p" * 2000 + b"\r\n"
one = b"GET /v1/describe HTTP/1.1\r\nHost: x\r\n" + pad + b"\r\n"
sent_requests = 0
stall_since = None
deadline = time.monotonic() + 10
# Send until the server stops taking requests (it is blocked writing answers nobody reads) for 0.5 s.
while time.monotonic() < deadline and sent_requests < 20000:
    try:
        n = s.send(one)
        if n < len(one):  # the rest of this request when the buffer has room again
            rest = one[n:]
            while rest and time.monotonic() < deadline:
                _, w, _ = select.select([], [s], [], 0.5)
                if not w:
                    break
                rest = rest[s.send(rest):]
        sent_requests += 1
        stall_since = None
    except BlockingIOError:
        if stall_since is None:
            stall_since = time.monotonic()
        if time.monotonic() - stall_since >= 0.5:
            break
        time.sleep(0.01)  # poll interval while the send buffer is full
    except OSError:
        break
check(stall_since is not None, "slow read: the server kept taking requests (%d); nothing stalled" % sent_requests)
stalled = stall_since or time.monotonic()
others_served("slow read")
# The server must give up on the write: the connection is reset (or closed) about write_s after it stalled.
closed_at = None
while time.monotonic() < stalled + write_s + 5:
    if tcp_state(s) in (TCP_CLOSE, TCP_CLOSE_WAIT):
        closed_at = time.monotonic() - stalled
        break
    time.sleep(0.05)  # poll interval of the state check
# Whatever happened, reading now must end in EOF or a reset before all the responses came.
s.setblocking(True)
s.settimeout(5)
received = 0
ended = False
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            ended = True
            break
        received += chunk.count(b"HTTP/1.1 200 OK")
except ConnectionResetError:
    ended = True
except socket.timeout:
    pass
s.close()
check(closed_at is not None, "slow read: connection still open %.0f s after the server stalled" % (write_s + 5))
if closed_at is not None:
    # The write deadline starts with the response being written, at most a little before the stall was seen.
    check(closed_at <= write_s + 2.0,
          "slow read: dropped %.2f s after the stall, expected within admin_write_timeout = %.0f s" % (closed_at, write_s))
    measured("slow reader (%d pipelined requests) dropped %.2f s after its responses stalled "
          "(admin_write_timeout %.0f s); %d responses had been delivered" % (sent_requests, closed_at, write_s, received))
check(ended and received < sent_requests,
      "slow read: the connection was not cut (%d of %d responses, ended=%s)" % (received, sent_requests, ended))
others_served("after both")
print("CHECKS", checks)
