"""Bursts of UDP queries, larger than vpced's recvmmsg batch (32), from several sockets at once: every
query is answered exactly once with its own ID and the answer the zone file says; an oversized answer inside
a burst comes back with TC; malformed packets inside a burst (dropped, or FORMERR) leave the others intact.
Prints "FAIL: ..." lines and a final "CHECKS n" (lib.sh py_checks).
usage: burst.py PORT ZONE_FILE"""
import random, select, socket, struct, sys, time
import os
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/integration/dnswire.py
from dnswire import Checks, load_zone, parse, query, wire_name

port, zone_file = int(sys.argv[1]), sys.argv[2]

T = Checks()
check, fail = T.check, T.fail
SOCKETS, PER_SOCKET, WAVES = 3, 48, 4   # 144 datagrams per wave: well inside the default socket buffers


zone, apex = load_zone(zone_file)
names = sorted(n for n in zone if n.startswith("vpce-"))
wide = max(names, key=lambda n: len(zone[n]))
check(len(zone[wide]) == 26, f"the wide regional name has 26 addresses, got {len(zone[wide])}")
names.remove(wide)  # the random picks below must fit in 512 bytes


rng = random.Random(11)
socks = []
for _ in range(SOCKETS):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.connect(("127.0.0.1", port))
    socks.append(s)

qid = 0
for wave in range(WAVES):
    expect = {}  # (socket index, id) -> (kind, wanted addresses)
    packets = []
    for si in range(SOCKETS):
        for k in range(PER_SOCKET):
            qid = (qid + 1) & 0xFFFF
            r = k % 12
            if r == 5:    # an answer over 512 bytes without EDNS: TC, no records
                packets.append((si, query(qid, wide, 1)))
                expect[(si, qid)] = ("tc", set())
            elif r == 6:  # the same with EDNS 1232: all 26 addresses
                packets.append((si, query(qid, wide, 1, edns=1232)))
                expect[(si, qid)] = ("hit", zone[wide])
            elif r == 7:  # shorter than a header: dropped, no answer
                packets.append((si, bytes([qid >> 8, qid & 0xFF, 1, 0, 0])))
            elif r == 8:  # QDCOUNT 2: FORMERR, header only, same ID
                packets.append((si, struct.pack(">HHHHHH", qid, 0x0100, 2, 0, 0, 0) + wire_name(wide) + b"\0\1\0\1"))
                expect[(si, qid)] = ("formerr", set())
            elif r == 9:  # a response (QR set): dropped
                packets.append((si, struct.pack(">HHHHHH", qid, 0x8100, 1, 0, 0, 0) + wire_name(wide) + b"\0\1\0\1"))
            elif r == 10:
                packets.append((si, query(qid, "nx%d.%s" % (qid, apex), 1)))
                expect[(si, qid)] = ("nxdomain", set())
            elif r == 11:
                packets.append((si, query(qid, rng.choice(names), 28)))
                expect[(si, qid)] = ("nodata", set())
            else:
                n = rng.choice(names)
                packets.append((si, query(qid, n, 1)))
                expect[(si, qid)] = ("hit", zone[n])
    rng.shuffle(packets)  # the sockets' queries interleave on the listener
    for si, p in packets:
        socks[si].send(p)
    got = {}
    deadline = time.monotonic() + 5
    while len(got) < len(expect) and time.monotonic() < deadline:
        ready, _, _ = select.select(socks, [], [], 0.2)
        for s in ready:
            si = socks.index(s)
            data = s.recv(65535)
            key = (si, struct.unpack(">H", data[:2])[0])
            check(key not in got, f"wave {wave}: a second answer for ID {key[1]} on socket {si}")
            got[key] = data
    time.sleep(0.3)  # late extra answers (to dropped packets) would show up here
    for s in socks:
        s.setblocking(False)
        while True:
            try:
                data = s.recv(65535)
            except BlockingIOError:
                break
            fail(f"wave {wave}: unexpected answer with ID {struct.unpack('>H', data[:2])[0]}")
        s.setblocking(True)
    for key, (kind, wanted) in sorted(expect.items()):
        data = got.get(key)
        check(data is not None, f"wave {wave}: no answer for {kind} query ID {key[1]} on socket {key[0]}")
        if data is None:
            continue
        _, flags, an, addrs, _ = parse(data)
        rcode, tc = flags & 0xF, bool(flags & 0x0200)
        if kind == "hit":
            check(rcode == 0 and not tc and addrs == wanted, f"wave {wave}: ID {key[1]}: rcode {rcode} tc {tc} {sorted(addrs)} != {sorted(wanted)}")
        elif kind == "tc":
            check(rcode == 0 and tc and an == 0 and len(data) <= 512, f"wave {wave}: ID {key[1]}: expected TC, rcode {rcode} tc {tc} an {an} size {len(data)}")
        elif kind == "formerr":
            check(rcode == 1 and len(data) == 12, f"wave {wave}: ID {key[1]}: expected header-only FORMERR, rcode {rcode} size {len(data)}")
        elif kind == "nxdomain":
            check(rcode == 3 and an == 0, f"wave {wave}: ID {key[1]}: expected NXDOMAIN, rcode {rcode}")
        elif kind == "nodata":
            check(rcode == 0 and an == 0 and not tc, f"wave {wave}: ID {key[1]}: expected NODATA, rcode {rcode} an {an}")
T.done()
