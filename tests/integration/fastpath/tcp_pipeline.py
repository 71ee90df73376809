"""Pipelined DNS over TCP (RFC 7766 §6.2.1.1): many queries in one segment answered in order, each with its
own ID and the answer the zone file says; a query split across segments; several pipelining connections at
once; forwarded queries and an AXFR inside a pipeline keep their place; a too-short length or a dropped query
ends the connection after the answers before it. A UDP upstream on UPSTREAM_PORT (started here) answers every
forwarded name with 192.0.2.77. Prints "FAIL: ..." lines and a final "CHECKS n" (lib.sh py_checks).
usage: tcp_pipeline.py PORT ZONE_FILE UPSTREAM_PORT"""
import random, socket, struct, sys, threading, time
import os
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/integration/dnswire.py
from dnswire import Checks, load_zone, parse, query, skip_name

port, zone_file, upstream_port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])

T = Checks()
check, fail = T.check, T.fail
FORWARDED = "192.0.2.77"


zone, apex = load_zone(zone_file)
names = sorted(n for n in zone if n.startswith("vpce-"))
wide = max(names, key=lambda n: len(zone[n]))


def framed(msg):
    return struct.pack(">H", len(msg)) + msg


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_message(s):
    head = recv_exact(s, 2)
    if head is None:
        return None
    return recv_exact(s, struct.unpack(">H", head)[0])


def closed(s):
    """Whether the server closes the connection (EOF or reset) with nothing more to read."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


# The forwarders' upstream: any A query gets FORWARDED.
upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
upstream.bind(("127.0.0.1", upstream_port))
upstream_seen = []


def serve_upstream():
    while True:
        try:
            data, peer = upstream.recvfrom(4096)
        except OSError:
            return
        qid, flags = struct.unpack(">HH", data[:4])
        end = skip_name(data, 12) + 4
        upstream_seen.append(data[12:end])
        answer = (struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100), 1, 1, 0, 0) + data[12:end] +
                  b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(FORWARDED))
        upstream.sendto(answer, peer)


threading.Thread(target=serve_upstream, daemon=True).start()

rng = random.Random(7)


def mixed(qid):
    """A query and what its answer must be: (kind, addresses)."""
    r = qid % 10
    if r == 7:
        return query(qid, "nx%d.%s" % (qid, apex), 1), ("nxdomain", set())
    if r == 8:
        n = rng.choice(names)
        return query(qid, n, 28), ("nodata", set())
    if r == 9:  # 26 addresses: more than 512 bytes, no TC over TCP
        return query(qid, wide, 1), ("hit", zone[wide])
    n = rng.choice(names)
    return query(qid, n, 1), ("hit", zone[n])


def check_answer(where, data, qid, kind, wanted):
    check(data is not None, f"{where}: no answer for ID {qid}")
    if data is None:
        return False
    got_id, flags, an, addrs, _ = parse(data)
    rcode, tc = flags & 0xF, bool(flags & 0x0200)
    check(got_id == qid, f"{where}: answer ID {got_id}, expected {qid} (answers out of order)")
    if kind == "hit":
        check(rcode == 0 and not tc and addrs == wanted, f"{where}: ID {qid}: rcode {rcode} tc {tc} {sorted(addrs)} != {sorted(wanted)}")
    elif kind == "nxdomain":
        check(rcode == 3 and an == 0, f"{where}: ID {qid}: expected NXDOMAIN, rcode {rcode}")
    elif kind == "nodata":
        check(rcode == 0 and an == 0, f"{where}: ID {qid}: expected NODATA, rcode {rcode} an {an}")
    elif kind == "forwarded":
        check(rcode == 0 and addrs == {FORWARDED}, f"{where}: ID {qid}: expected the upstream's {FORWARDED}, rcode {rcode} {sorted(addrs)}")
    return got_id == qid


# --- 200 queries in one send, answered in order ----------------------------------------------------------------
s = connect()
expect = []
blob = b""
for qid in range(1, 201):
    q, want = mixed(qid)
    blob += framed(q)
    expect.append((qid, want))
s.sendall(blob)
for qid, (kind, wanted) in expect:
    if not check_answer("200 in one send", read_message(s), qid, kind, wanted):
        break
s.close()

# --- the same on 8 connections at once, 500 queries each, interleaved -----------------------------------------
conns = [connect() for _ in range(8)]
expects = []
for ci, c in enumerate(conns):
    blob, exp = b"", []
    for k in range(500):
        qid = 1000 * (ci + 1) + k
        q, want = mixed(qid)
        blob += framed(q)
        exp.append((qid, want))
    expects.append((blob, exp))
for (blob, _), c in zip(expects, conns):  # all sent before any answer is read: ~30 KB each fits the buffers
    c.sendall(blob)
for (_, exp), c in zip(expects, conns):
    for qid, (kind, wanted) in exp:
        if not check_answer("8 connections", read_message(c), qid, kind, wanted):
            break
    c.close()

# --- a query sent right after connect, before vpced has accepted the connection ---------------------------------
# Its bytes are there before the socket's first wait is queued, so they raise no event that wait would see (the
# reactor is edge-triggered): they must be found anyway, at once, not after the 10 s idle timeout.
slow = 0
for wave in range(8):
    burst = []
    for k in range(40):  # under tcp_max_connections_per_source (64)
        c = socket.socket()
        c.connect(("127.0.0.1", port))
        name = names[(40 * wave + k) % len(names)]
        c.send(framed(query(k, name, 1)))
        burst.append((c, k, name))
    t0 = time.monotonic()
    for c, k, name in burst:
        c.settimeout(max(0.1, 3 - (time.monotonic() - t0)))
        try:
            check_answer("sent before accept", read_message(c), k, "hit", zone[name])
        except socket.timeout:
            slow += 1
        c.close()
check(slow == 0, f"queries sent right after connect answered within 3 s: {slow} of 320 were not")

# --- queries split across segments -----------------------------------------------------------------------------
n0 = rng.choice(names)
q = framed(query(4242, n0, 1))
for cut in (1, 2, 3, 2 + 12, len(q) - 1):
    s = connect()
    s.sendall(q[:cut])
    time.sleep(0.05)  # lets the server read the first part on its own; not a synchronisation
    s.sendall(q[cut:])
    check_answer(f"split at byte {cut}", read_message(s), 4242, "hit", zone[n0])
    s.close()
# Two queries, the second cut inside its header, the rest with a third query.
s = connect()
n1, n2, n3 = rng.choice(names), rng.choice(names), rng.choice(names)
stream = framed(query(1, n1, 1)) + framed(query(2, n2, 1)) + framed(query(3, n3, 1))
cut = len(framed(query(1, n1, 1))) + 7
s.sendall(stream[:cut])
check_answer("split pipeline, first", read_message(s), 1, "hit", zone[n1])  # answered before the rest arrives
s.sendall(stream[cut:])
check_answer("split pipeline, second", read_message(s), 2, "hit", zone[n2])
check_answer("split pipeline, third", read_message(s), 3, "hit", zone[n3])
s.close()

# --- forwarded queries and an AXFR inside a pipeline keep their place ------------------------------------------
s = connect()
s.settimeout(10)
plan = [(11, query(11, n1, 1), ("hit", zone[n1])),
        (12, query(12, "www.example.org", 1), ("forwarded", set())),
        (13, query(13, n2, 1), ("hit", zone[n2])),
        (14, query(14, apex, 252), ("axfr", set())),
        (15, query(15, n3, 1), ("hit", zone[n3])),
        (16, query(16, "mail.example.net", 1), ("forwarded", set())),
        (17, query(17, "nx." + apex, 1), ("nxdomain", set()))]
s.sendall(b"".join(framed(q) for _, q, _ in plan))
for qid, _, (kind, wanted) in plan:
    if kind != "axfr":
        if not check_answer("forward/AXFR pipeline", read_message(s), qid, kind, wanted):
            break
        continue
    soa, records, messages, ok = 0, 0, 0, True
    while soa < 2:  # the transfer ends with its second SOA (RFC 5936 §2.2)
        data = read_message(s)
        if data is None:
            ok = False
            break
        got_id, flags, an, _, types = parse(data)
        messages += 1
        if got_id != qid or flags & 0xF != 0:
            ok = False
            break
        soa += types.count(6)
        records += an
    check(ok and soa == 2, f"forward/AXFR pipeline: AXFR ID {qid} in place, {messages} messages, {records} records, SOA {soa}")
    check(records > len(zone), f"forward/AXFR pipeline: AXFR carried {records} records for {len(zone)} A owners")
check(len(upstream_seen) >= 2, f"the upstream saw the forwarded queries: {len(upstream_seen)}")
s.close()

# --- a too-short length or a dropped query ends the connection after the answers before it ---------------------
s = connect()
s.sendall(framed(query(21, n1, 1)) + framed(query(22, n2, 1)) + b"\x00\x05hello" + framed(query(23, n3, 1)))
check_answer("too-short in a pipeline", read_message(s), 21, "hit", zone[n1])
check_answer("too-short in a pipeline", read_message(s), 22, "hit", zone[n2])
check(closed(s), "too-short in a pipeline: the connection closes after the answers before it")
s.close()
s = connect()
response = query(32, n2, 1, flags=0x8000)  # QR set: a response, dropped
s.sendall(framed(query(31, n1, 1)) + framed(response) + framed(query(33, n3, 1)))
check_answer("dropped in a pipeline", read_message(s), 31, "hit", zone[n1])
check(closed(s), "dropped in a pipeline: the connection closes after the answers before it")
s.close()

upstream.close()
T.done()
