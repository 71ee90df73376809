#!/usr/bin/env python3
"""DNS-over-TCP connection cap (design §5, RFC 7766 §6.2.2): one worker thread holds at most CAP connections.
Opens CAP + EXTRA idle connections; the extra ones must be closed by the server at once while UDP keeps being
answered; a new TCP query fails while the cap is full and is answered once some idle connections close; the
rest are closed by the idle timeout. Prints FAIL lines and "CHECKS n"."""
import select
import socket
import struct
import sys
import time

port, cap, extra, idle_s = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
apex = sys.argv[5]
checks = 0


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        print("FAIL:", what)


def query(qid):
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in apex.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 6, 1)


def udp_answered():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(query(7), ("127.0.0.1", port))
        data, _ = s.recvfrom(4096)
        return data[:2] == b"\x00\x07" and data[3] & 0x0F == 0
    except OSError:
        return False
    finally:
        s.close()


def tcp_answered(timeout=2.0):
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
        q = query(9)
        s.sendall(struct.pack(">H", len(q)) + q)
        head = s.recv(2)
        return len(head) == 2
    except OSError:
        return False
    finally:
        s.close()


def closed_by_server(conns, wait):
    """The connections that see EOF (or a reset) within `wait` seconds."""
    closed = set()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and len(closed) < len(conns):
        open_ = [c for c in conns if c not in closed]
        ready, _, _ = select.select(open_, [], [], max(0.0, deadline - time.monotonic()))
        for c in ready:
            try:
                if c.recv(1) == b"":
                    closed.add(c)
            except OSError:
                closed.add(c)
    return closed


start = time.monotonic()
conns = []
for i in range(cap + extra):
    s = socket.socket()
    s.connect(("127.0.0.1", port))
    conns.append(s)
    if i % 64 == 0:
        time.sleep(0.01)  # let the single worker accept as we go; the order of acceptance stays ours
closed = closed_by_server(conns, 2.0)
held = [c for c in conns if c not in closed]
elapsed = time.monotonic() - start
check(elapsed < idle_s - 1, "opening the connections took %.1f s, too close to the idle timeout" % elapsed)
check(len(closed) == extra, "connections over the cap closed by the server: %d, expected %d" % (len(closed), extra))
check(len(held) == cap, "connections held: %d, expected the cap %d" % (len(held), cap))
check(udp_answered(), "UDP query answered while the TCP cap is full")
check(not tcp_answered(1.0), "a new TCP query is refused (closed) while the cap is full")

# Free a few: a new TCP connection is accepted again.
for c in held[:10]:
    c.close()
held = held[10:]
ok = False
for _ in range(20):
    if tcp_answered():
        ok = True
        break
    time.sleep(0.1)
check(ok, "TCP query answered after 10 idle connections closed")
check(udp_answered(), "UDP still answered")

# The rest are idle: the server closes them within the idle timeout (plus slack), freeing the cap.
closed = closed_by_server(held, idle_s + 3)
check(len(closed) == len(held), "idle connections closed by the idle timeout: %d of %d" % (len(closed), len(held)))
for c in conns:
    c.close()
check(tcp_answered(), "TCP query answered after the idle timeout")
print("CHECKS", checks)
