#!/usr/bin/env python3
"""Hostile "authoritative servers" for the verifier (stdlib only), bound to 127.0.0.1:PORT.

  hostile.py silent PORT READY-FILE SECONDS   reads UDP queries and never answers (no TCP listener)
  hostile.py garbage PORT READY-FILE SECONDS  answers UDP and TCP with broken or abusive messages

Both exit by themselves after SECONDS. The garbage server picks what to send by the question, so the
verifier's findings per record name are predictable, and rotates through variants per query:

  _*.api.orders.<...>  malformed, with the query's ID and question (they reach the verifier's parser):
                       an answer cut off inside a record, a compression loop, a forward pointer, RDLENGTH
                       past the end, ANCOUNT 65535 with one record, a TXT string running past its RDATA,
                       a reserved label type
  _*.orders.<...>      abusive sizes: TC=1 (or a UDP answer over 512 bytes) so the client retries over TCP,
                       then one TXT of ~65000 bytes in 255-byte strings of random bytes, or one TXT of ~60000
                       empty strings, or 300 TXT records
  _*.<domain>          not authoritative (AA=0 with a referral), SERVFAIL, REFUSED, NOTAUTH
  anything else        junk: random bytes only, a wrong ID, another question, a random datagram before a
                       valid NODATA answer; over TCP a length prefix promising more than is sent

A line "served N" goes to stdout at exit. RANDOM_SEED (environment) fixes the random bytes.
"""
import os
import random
import socket
import struct
import sys
import threading
import time

mode, port, ready, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
seed = int(os.environ.get("RANDOM_SEED", "0")) or random.randrange(1, 1 << 30)
rng = random.Random(seed)
lock = threading.Lock()
served = 0
counters = {}
deadline = time.time() + seconds


def rand_bytes(n):
    with lock:
        return bytes(rng.getrandbits(8) for _ in range(n))


def next_variant(kind, n):
    with lock:
        i = counters.get(kind, 0)
        counters[kind] = i + 1
    return i % n


def parse_query(msg):
    """(id, rd, question bytes, lowercase qname labels) or None."""
    if len(msg) < 12:
        return None
    qid, flags = struct.unpack("!HH", msg[:4])
    pos, labels = 12, []
    while pos < len(msg):
        n = msg[pos]
        if n == 0:
            pos += 1
            break
        if n > 63:
            return None
        labels.append(msg[pos + 1:pos + 1 + n].decode("latin-1").lower())
        pos += 1 + n
    if pos + 4 > len(msg):
        return None
    return qid, (flags >> 8) & 1, msg[12:pos + 4], labels


def header(qid, rd, an=0, ns=0, ar=0, qd=1, aa=True, tc=False, rcode=0):
    flags = 0x8000 | (0x0400 if aa else 0) | (0x0200 if tc else 0) | (0x0100 if rd else 0) | rcode
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def rr(rtype, rdata, owner=b"\xc0\x0c", rdlength=None):
    return owner + struct.pack("!HHIH", rtype, 1, 300, len(rdata) if rdlength is None else rdlength) + rdata


def txt_rdata(strings):
    return b"".join(bytes([len(s)]) + s for s in strings)


def malformed(qid, rd, q):
    v = next_variant("malformed", 7)
    if v == 0:  # cut off inside the answer record
        return header(qid, rd, an=1) + q + rr(16, txt_rdata([b"vpce:cut-off-here"]))[:9]
    if v == 1:  # compression loop: the owner points at itself
        loop_at = 12 + len(q)
        return header(qid, rd, an=1) + q + struct.pack("!H", 0xC000 | loop_at) + struct.pack("!HHIH", 16, 1, 300, 2) + b"\x01x"
    if v == 2:  # forward pointer (to the end of the message)
        return header(qid, rd, an=1) + q + b"\xc0\xff" + struct.pack("!HHIH", 16, 1, 300, 2) + b"\x01x"
    if v == 3:  # RDLENGTH past the end of the message
        return header(qid, rd, an=1) + q + rr(16, txt_rdata([b"abc"]), rdlength=4000)
    if v == 4:  # ANCOUNT 65535, one record
        return header(qid, rd, an=65535) + q + rr(16, txt_rdata([b"vpce:one-of-many"]))
    if v == 5:  # a TXT string that runs past its RDATA
        return header(qid, rd, an=1) + q + rr(16, b"\xff" + b"short")
    # a reserved label type (0x80) in the owner
    return header(qid, rd, an=1) + q + b"\x81abc\x00" + struct.pack("!HHIH", 16, 1, 300, 2) + b"\x01x"


def huge(qid, rd, q):
    """The abusive-size answers, sent over TCP."""
    v = next_variant("huge", 3)
    if v == 0:  # one TXT of 254 strings of 255 random bytes (~65 KB)
        data = txt_rdata([rand_bytes(255) for _ in range(254)])
        return header(qid, rd, an=1) + q + rr(16, data)
    if v == 1:  # one TXT of 60000 empty strings
        return header(qid, rd, an=1) + q + rr(16, b"\x00" * 60000)
    # 300 TXT records, each a value that looks like a token, with quotes and control bytes
    recs = b"".join(rr(16, txt_rdata([b'"vpce:' + b"%020d" % i + b'"\x00\x7f'])) for i in range(300))
    return header(qid, rd, an=300) + q + recs


def oversize_udp(qid, rd, q):
    v = next_variant("oversize", 2)
    if v == 0:
        return header(qid, rd, tc=True) + q  # TC=1: retry over TCP
    # no TC, but larger than 512 bytes: a client without EDNS in its own bookkeeping retries over TCP too
    return header(qid, rd, an=4) + q + b"".join(rr(16, txt_rdata([b"y" * 200])) for _ in range(4))


def rcode_answer(qid, rd, q):
    v = next_variant("rcode", 4)
    if v == 0:  # referral: AA=0, NS in authority
        ns = rr(2, b"\x03ns1\x07example\x03net\x00", owner=b"\x07example\x03com\x00")
        return header(qid, rd, ns=1, aa=False) + q + ns
    return header(qid, rd, rcode=(2, 5, 9)[v - 1]) + q


def junk(qid, rd, q, tcp):
    """A list of messages to send (UDP datagrams or TCP frames)."""
    v = next_variant("junk-tcp" if tcp else "junk", 5)
    nodata = header(qid, rd) + q
    if v == 0:
        return [rand_bytes(rng.randrange(0, 600))]
    if v == 1:
        return [header(qid ^ 0x5555, rd) + q]
    if v == 2:  # another question
        return [header(qid, rd) + b"\x05other\x07example\x03com\x00\x00\x10\x00\x01"]
    if v == 3:
        return [rand_bytes(40), nodata]
    return [header(qid, rd, qd=0)]  # no question at all


def answer(msg, tcp):
    """The messages to send for one query (None: drop it)."""
    p = parse_query(msg)
    if p is None:
        return [rand_bytes(30)]
    qid, rd, q, labels = p
    if len(labels) >= 2 and labels[0].startswith("_"):
        rest = labels[1:]
        if rest[:2] == ["api", "orders"]:
            return [malformed(qid, rd, q)]
        if rest[:1] == ["orders"]:
            return [huge(qid, rd, q) if tcp else oversize_udp(qid, rd, q)]
        return [rcode_answer(qid, rd, q)]
    return junk(qid, rd, q, tcp)


def count():
    global served
    with lock:
        served += 1


def udp_loop(sock):
    sock.settimeout(0.2)
    while time.time() < deadline:
        try:
            msg, peer = sock.recvfrom(65535)
        except socket.timeout:
            continue
        except OSError:
            return
        count()
        if mode == "silent":
            continue
        for out in answer(msg, False):
            try:
                sock.sendto(out[:65507], peer)
            except OSError:
                pass


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def tcp_conn(conn):
    conn.settimeout(max(0.1, deadline - time.time()))
    try:
        while True:
            head = recv_exact(conn, 2)
            if head is None:
                return
            msg = recv_exact(conn, struct.unpack("!H", head)[0])
            if msg is None:
                return
            count()
            p = parse_query(msg)
            if p is not None and not p[3][0].startswith("_") and next_variant("tcp-cut", 3) == 0:
                conn.sendall(struct.pack("!H", 65535) + rand_bytes(100))  # promises more than it sends
                return
            for out in answer(msg, True):
                out = out[:65535]
                conn.sendall(struct.pack("!H", len(out)) + out)
    except OSError:
        pass
    finally:
        conn.close()


def tcp_loop(sock):
    sock.settimeout(0.2)
    while time.time() < deadline:
        try:
            conn, _ = sock.accept()
        except socket.timeout:
            continue
        except OSError:
            return
        threading.Thread(target=tcp_conn, args=(conn,), daemon=True).start()


def main():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", port))
    threads = [threading.Thread(target=udp_loop, args=(u,), daemon=True)]
    if mode == "garbage":
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("127.0.0.1", port))
        t.listen(64)
        threads.append(threading.Thread(target=tcp_loop, args=(t,), daemon=True))
    elif mode != "silent":
        raise SystemExit("mode must be silent or garbage")
    for th in threads:
        th.start()
    open(ready, "w").write("seed %d\n" % seed)
    for th in threads:
        th.join(max(0.1, deadline - time.time() + 1))
    print("served %d" % served, flush=True)


main()
