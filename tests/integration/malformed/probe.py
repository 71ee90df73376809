#!/usr/bin/python3
"""Sends one malformed DNS message (by case name) to vpced over UDP or TCP and checks what comes back
(design §5: < 12 bytes or QR=1 -> dropped; QDCOUNT != 1, bad labels, compression pointers in the QNAME,
a truncated question -> FORMERR; opcode != QUERY -> NOTIMP; TCP length prefix < 12 -> connection closed).
Afterwards a valid query on a fresh socket must still be answered.

usage: probe.py PORT APEX CASE      (probe.py --list prints the case names)
Prints "ok: CASE: ..." and exits 0, or "FAIL: CASE: ..." lines and exits 1.
"""
import os
import socket
import struct
import sys

HOST = "127.0.0.1"
NOERROR, FORMERR, NOTIMP, REFUSED = 0, 1, 4, 5
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
TYPE_SOA, TYPE_A, TYPE_OPT, TYPE_AXFR, CLASS_IN = 6, 1, 41, 252, 1
QUIET = 0.5        # seconds of silence that count as "no answer" over UDP (loopback answers take < 1 ms)
TIMEOUT = 2.0      # seconds to wait for an answer that must come

failures = []


def fail(msg):
    failures.append(msg)


def new_id():
    return struct.unpack("!H", os.urandom(2))[0]


def header(qid, flags=0x0000, qd=1, an=0, ns=0, ar=0):
    # ID, flags (QR|Opcode|AA|TC|RD, RA|Z|RCODE), QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT (RFC 1035 §4.1.1)
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def qname(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def question(name, qtype=TYPE_SOA):
    return qname(name) + struct.pack("!HH", qtype, CLASS_IN)


def opt(rdlength=0):
    # root owner, TYPE OPT, CLASS = UDP payload 1232, TTL = ext-rcode 0 / version 0 / flags 0, RDLENGTH
    return b"\x00" + struct.pack("!HHIH", TYPE_OPT, 1232, 0, rdlength)


def opcode_flags(opcode):
    return (opcode & 0x0F) << 11


# Each case: (transport, builder(qid, apex) -> bytes, expectation)
# expectation: None = no answer (UDP) / closed with no bytes (TCP); an int = that rcode with the same ID.
def cases(apex):
    long_label = b"\x3f" + b"a" * 63
    return {
        # fewer than 12 bytes: dropped
        "udp-empty": ("udp", lambda q: b"", None),
        "udp-5-bytes": ("udp", lambda q: b"\x12\x34\x01\x00\x00", None),
        "udp-11-bytes": ("udp", lambda q: header(q)[:11], None),
        # a response: dropped (never answer an answer)
        "udp-qr1": ("udp", lambda q: header(q, flags=0x8000) + question(apex), None),
        "udp-qr1-header-only": ("udp", lambda q: header(q, flags=0x8000, qd=0), None),
        # QDCOUNT != 1
        "udp-qdcount2": ("udp", lambda q: header(q, qd=2) + question(apex) + question("ns1." + apex), FORMERR),
        "udp-qdcount2-one-question": ("udp", lambda q: header(q, qd=2) + question(apex), FORMERR),
        "udp-qdcount0": ("udp", lambda q: header(q, qd=0), FORMERR),
        # label length bytes 0x40-0xBF are the reserved/extended label types (RFC 6891 §5), > 63 in any case
        "udp-label-0x40": ("udp", lambda q: header(q) + b"\x40" + b"a" * 64 + b"\x00" + struct.pack("!HH", 1, 1), FORMERR),
        "udp-label-0x40-second": ("udp", lambda q: header(q) + b"\x03www\x40" + b"a" * 64 + b"\x00" + struct.pack("!HH", 1, 1), FORMERR),
        "udp-label-0x41-short": ("udp", lambda q: header(q) + b"\x41abc\x00" + struct.pack("!HH", 1, 1), FORMERR),
        "udp-label-0x80": ("udp", lambda q: header(q) + b"\x80" + b"a" * 20 + b"\x00" + struct.pack("!HH", 1, 1), FORMERR),
        "udp-label-0xbf": ("udp", lambda q: header(q) + b"\xbf\x00" + struct.pack("!HH", 1, 1), FORMERR),
        # compression pointers in the QNAME: a self-loop at offset 12, after a label, and forward
        "udp-pointer-self-loop": ("udp", lambda q: header(q) + b"\xc0\x0c" + struct.pack("!HH", 1, 1), FORMERR),
        "udp-pointer-after-label": ("udp", lambda q: header(q) + b"\x03www\xc0\x0c" + struct.pack("!HH", 1, 1), FORMERR),
        "udp-pointer-forward": ("udp", lambda q: header(q) + b"\xc0\x12" + struct.pack("!HH", 1, 1) + qname(apex), FORMERR),
        "udp-pointer-backward-to-header": ("udp", lambda q: header(q) + b"\xc0\x00" + struct.pack("!HH", 1, 1), FORMERR),
        # the question ends early
        "udp-no-question": ("udp", lambda q: header(q), FORMERR),
        "udp-name-unterminated": ("udp", lambda q: header(q) + qname(apex)[:-1], FORMERR),
        "udp-label-runs-off-end": ("udp", lambda q: header(q) + b"\x3fabc", FORMERR),
        "udp-no-qtype": ("udp", lambda q: header(q) + qname(apex), FORMERR),
        "udp-half-qtype": ("udp", lambda q: header(q) + qname(apex) + b"\x00", FORMERR),
        "udp-no-qclass": ("udp", lambda q: header(q) + qname(apex) + b"\x00\x06", FORMERR),
        "udp-half-qclass": ("udp", lambda q: header(q) + qname(apex) + b"\x00\x06\x00", FORMERR),
        # a name longer than 255 bytes (RFC 1035 §3.1)
        "udp-name-too-long": ("udp", lambda q: header(q) + long_label * 5 + qname(apex) + struct.pack("!HH", 1, 1), FORMERR),
        # the other sections (RFC 6891 §6.1.1: one OPT, owned by the root, in the additional section)
        "udp-two-opt": ("udp", lambda q: header(q, ar=2) + question(apex) + opt() + opt(), FORMERR),
        "udp-opt-in-answer": ("udp", lambda q: header(q, an=1) + question(apex) + opt(), FORMERR),
        "udp-opt-owner-not-root": ("udp", lambda q: header(q, ar=1) + question(apex) + b"\x01a" + opt(), FORMERR),
        "udp-arcount-without-record": ("udp", lambda q: header(q, ar=1) + question(apex), FORMERR),
        "udp-opt-rdlength-past-end": ("udp", lambda q: header(q, ar=1) + question(apex) + opt(rdlength=8), FORMERR),
        "udp-trailing-bytes": ("udp", lambda q: header(q) + question(apex) + b"\x00\x00", FORMERR),
        # zone transfers are TCP-only (RFC 5936 §4.2)
        "udp-axfr": ("udp", lambda q: header(q) + question(apex, TYPE_AXFR), NOTIMP),
        # class CHAOS (version.bind): not served
        "udp-chaos-version-bind": ("udp", lambda q: header(q) + qname("version.bind") + struct.pack("!HH", 16, 3), REFUSED),
        # opcodes other than QUERY
        "udp-opcode2": ("udp", lambda q: header(q, flags=opcode_flags(2)) + question(apex), NOTIMP),
        "udp-opcode15": ("udp", lambda q: header(q, flags=opcode_flags(15)) + question(apex), NOTIMP),
        "udp-opcode2-qdcount0": ("udp", lambda q: header(q, flags=opcode_flags(2), qd=0), NOTIMP),
        # TCP: a length prefix shorter than a header closes the connection at once (Knot, NSD, BIND)
        "tcp-length-0": ("tcp", lambda q: b"\x00\x00", None),
        "tcp-length-1": ("tcp", lambda q: b"\x00\x01\x00", None),
        "tcp-length-11": ("tcp", lambda q: b"\x00\x0b" + header(q)[:11], None),
        # TCP: malformed messages with a correct length prefix get the same rcode as over UDP
        "tcp-qdcount2": ("tcp", lambda q: header(q, qd=2) + question(apex) + question(apex), FORMERR),
        "tcp-pointer-self-loop": ("tcp", lambda q: header(q) + b"\xc0\x0c" + struct.pack("!HH", 1, 1), FORMERR),
        "tcp-label-0x40": ("tcp", lambda q: header(q) + b"\x40" + b"a" * 64 + b"\x00" + struct.pack("!HH", 1, 1), FORMERR),
        "tcp-no-qclass": ("tcp", lambda q: header(q) + qname(apex) + b"\x00\x06", FORMERR),
        "tcp-opcode2": ("tcp", lambda q: header(q, flags=opcode_flags(2)) + question(apex), NOTIMP),
        # TCP framing: three queries in one write (valid, malformed, valid) get three answers, matched by ID
        # (RFC 7766 §6.2.1.1 allows any order); a query written a byte at a time is still answered.
        "tcp-pipelined-with-malformed": ("special", tcp_pipelined, None),
        "tcp-split-writes": ("special", tcp_split, None),
        # TCP: AXFR is refused while no transfer ACL allows it (conf/example.toml: transfer.allow = [])
        "tcp-axfr-refused": ("tcp", lambda q: header(q) + question(apex, TYPE_AXFR), REFUSED),
        # TCP: a response sent as a query is not answered (the connection may be closed or stay silent)
        "tcp-qr1": ("special", tcp_qr1, None),
    }


def frame(msg):
    return struct.pack("!H", len(msg)) + msg


def check_reply(case, reply, qid, rcode, query_flags):
    if len(reply) < 12:
        fail(f"{case}: reply of {len(reply)} bytes is shorter than a header")
        return
    rid, flags = struct.unpack("!HH", reply[:4])
    if rid != qid:
        fail(f"{case}: reply ID: expected {qid:#06x}, got {rid:#06x}")
    if not flags & 0x8000:
        fail(f"{case}: reply has QR=0")
    got = flags & 0x000F
    if got != rcode:
        fail(f"{case}: rcode: expected {RCODES.get(rcode, rcode)}, got {RCODES.get(got, got)}")
    if (flags >> 11) & 0x0F != (query_flags >> 11) & 0x0F:
        fail(f"{case}: reply opcode {(flags >> 11) & 0xF} differs from the query's {(query_flags >> 11) & 0xF}")


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def valid_query_udp(port, apex):
    qid = new_id()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    try:
        s.connect((HOST, port))
        s.send(header(qid) + question(apex))
        reply = s.recv(65535)
    except OSError as e:
        fail(f"valid UDP query after the case: {e!r}")
        return
    finally:
        s.close()
    rid, flags, qd, an = struct.unpack("!HHHH", reply[:8])
    if rid != qid or flags & 0xF != NOERROR or an != 1:
        fail(f"valid UDP query after the case: expected ID {qid:#06x} NOERROR ANCOUNT 1, "
             f"got ID {rid:#06x} {RCODES.get(flags & 0xF)} ANCOUNT {an}")


def run_udp(port, apex, case, build, expect):
    qid = new_id()
    msg = build(qid)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((HOST, port))
    s.send(msg)
    s.settimeout(QUIET if expect is None else TIMEOUT)
    try:
        reply = s.recv(65535)
    except socket.timeout:
        reply = None
    except ConnectionRefusedError:
        fail(f"{case}: ICMP port unreachable: nothing listens on UDP {HOST}:{port}")
        return
    finally:
        s.close()
    if expect is None:
        if reply is not None:
            fail(f"{case}: expected no answer, got {len(reply)} bytes: {reply[:16].hex()}")
        return
    if reply is None:
        fail(f"{case}: expected {RCODES[expect]}, got no answer within {TIMEOUT} s")
        return
    flags = struct.unpack("!H", msg[2:4])[0] if len(msg) >= 4 else 0
    check_reply(case, reply, qid, expect, flags)


def run_tcp(port, apex, case, build, expect):
    qid = new_id()
    payload = build(qid)
    s = socket.create_connection((HOST, port), timeout=TIMEOUT)
    try:
        if expect is None:
            s.sendall(payload)       # the case builds its own (short) length prefix
            try:
                data = s.recv(65535)
            except socket.timeout:
                fail(f"{case}: expected the connection to be closed, still open after {TIMEOUT} s")
                return
            except ConnectionResetError:
                return               # RST counts as closed (NSD, BIND)
            if data:
                fail(f"{case}: expected the connection closed without an answer, got {len(data)} bytes")
            return
        s.sendall(frame(payload))
        try:
            length = recv_exact(s, 2)
            if len(length) < 2:
                fail(f"{case}: expected {RCODES[expect]}, the connection was closed")
                return
            reply = recv_exact(s, struct.unpack("!H", length)[0])
        except socket.timeout:
            fail(f"{case}: expected {RCODES[expect]}, got no answer within {TIMEOUT} s")
            return
        check_reply(case, reply, qid, expect, struct.unpack("!H", payload[2:4])[0])
        # An error answer does not end the connection: a valid query on it is still answered (RFC 7766 §6.2.1).
        qid2 = new_id()
        s.sendall(frame(header(qid2) + question(apex)))
        try:
            length = recv_exact(s, 2)
            reply = recv_exact(s, struct.unpack("!H", length)[0]) if len(length) == 2 else b""
        except (socket.timeout, ConnectionResetError) as e:
            fail(f"{case}: valid query on the same connection after the error: {e!r}")
            return
        if len(reply) < 12:
            fail(f"{case}: valid query on the same connection after the error: connection closed")
            return
        rid, flags = struct.unpack("!HH", reply[:4])
        if rid != qid2 or flags & 0xF != NOERROR:
            fail(f"{case}: valid query on the same connection: expected ID {qid2:#06x} NOERROR, "
                 f"got ID {rid:#06x} {RCODES.get(flags & 0xF)}")
    finally:
        s.close()


def read_framed(s):
    length = recv_exact(s, 2)
    if len(length) < 2:
        return None
    return recv_exact(s, struct.unpack("!H", length)[0])


def tcp_pipelined(port, apex, case):
    ids = [new_id() for _ in range(3)]
    while len(set(ids)) < 3:
        ids = [new_id() for _ in range(3)]
    msgs = [header(ids[0]) + question(apex),
            header(ids[1]) + b"\x40" + b"a" * 64 + b"\x00" + struct.pack("!HH", 1, 1),
            header(ids[2]) + question("ns1." + apex, TYPE_A)]
    want = {ids[0]: NOERROR, ids[1]: FORMERR, ids[2]: NOERROR}
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as s:
        s.sendall(b"".join(frame(m) for m in msgs))
        got = {}
        for _ in range(3):
            try:
                reply = read_framed(s)
            except (socket.timeout, ConnectionResetError) as e:
                fail(f"{case}: {len(got)} of 3 answers, then {e!r}")
                return
            if not reply or len(reply) < 12:
                fail(f"{case}: {len(got)} of 3 answers, then the connection was closed")
                return
            rid, flags = struct.unpack("!HH", reply[:4])
            got[rid] = flags & 0xF
    for qid, rcode in want.items():
        if got.get(qid) != rcode:
            fail(f"{case}: query {qid:#06x}: expected {RCODES[rcode]}, got {RCODES.get(got.get(qid), got.get(qid))}")


def tcp_split(port, apex, case):
    qid = new_id()
    data = frame(header(qid) + question(apex))
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
        try:
            reply = read_framed(s)
        except socket.timeout:
            fail(f"{case}: no answer within {TIMEOUT} s")
            return
        if not reply or len(reply) < 12:
            fail(f"{case}: connection closed without an answer")
            return
        check_reply(case, reply, qid, NOERROR, 0)


def tcp_qr1(port, apex, case):
    with socket.create_connection((HOST, port), timeout=QUIET) as s:
        s.sendall(frame(header(new_id(), flags=0x8000) + question(apex)))
        try:
            data = s.recv(65535)
        except (socket.timeout, ConnectionResetError):
            return
        if data:
            fail(f"{case}: expected no answer to a response, got {len(data)} bytes: {data[:16].hex()}")


IDLE_MIN, IDLE_MAX = 1.0, 20.0   # an idle TCP connection must be closed, but not at once (RFC 7766 §6.2.3)


def tcp_idle(port, apex, case, after_answer):
    import time
    with socket.create_connection((HOST, port), timeout=IDLE_MAX) as s:
        if after_answer:
            qid = new_id()
            s.sendall(frame(header(qid) + question(apex)))
            reply = read_framed(s)
            if not reply or len(reply) < 12:
                fail(f"{case}: no answer to the first query")
                return
        start = time.monotonic()
        try:
            data = s.recv(65535)
        except socket.timeout:
            fail(f"{case}: idle connection still open after {IDLE_MAX} s")
            return
        except ConnectionResetError:
            data = b""
        waited = time.monotonic() - start
        if data:
            fail(f"{case}: unexpected {len(data)} bytes on an idle connection")
        elif waited < IDLE_MIN:
            fail(f"{case}: idle connection closed after {waited:.2f} s, expected to be kept at least {IDLE_MIN} s")
        else:
            print(f"{case}: closed after {waited:.1f} s idle")


# Slow cases (about the server's idle timeout each): not listed by --list, run in the background.
SLOW = {
    "tcp-idle-no-query": lambda port, apex, case: tcp_idle(port, apex, case, False),
    "tcp-idle-after-answer": lambda port, apex, case: tcp_idle(port, apex, case, True),
}


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--list":
        print("\n".join(cases("example.test")))
        return 0
    port, apex, case = int(sys.argv[1]), sys.argv[2].rstrip("."), sys.argv[3]
    table = cases(apex)
    for name, fn in SLOW.items():
        table[name] = ("special", fn, None)
    if case not in table:
        print(f"FAIL: {case}: unknown case")
        return 1
    transport, build, expect = table[case]
    try:
        if transport == "special":
            build(port, apex, case)
        else:
            (run_udp if transport == "udp" else run_tcp)(port, apex, case, build, expect)
    except OSError as e:
        fail(f"{case}: {e!r}")
    valid_query_udp(port, apex)
    for f in failures:
        print(f"FAIL: {f}")
    if not failures:
        want = "as expected" if transport == "special" else ("no answer" if expect is None else RCODES[expect])
        print(f"ok: {case}: {want}")
    return 1 if failures else 0


sys.exit(main())
