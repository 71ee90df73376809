#!/usr/bin/env python3
"""A TSIG-signed AXFR over TCP that checks every response message's MAC itself (RFC 8945 §5.3.1): the first
over the request MAC, the message and all TSIG variables; each later one over the previous MAC, the message
and the timers. Prints "messages M records R signed S bytes B seconds T" on success; exits 1 with a reason.
usage: axfr_tsig.py PORT ZONE KEYNAME BASE64_SECRET
"""
import base64, hashlib, hmac, socket, struct, sys, time

port, zone, keyname, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3], base64.b64decode(sys.argv[4])


def wire(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").lower().split(".") if l) + b"\0"


ALG = wire("hmac-sha256")
KEY = wire(keyname)


def skip_name(m, p):
    while True:
        n = m[p]
        if n & 0xC0 == 0xC0:
            return p + 2
        p += 1 + n
        if n == 0:
            return p


def die(why):
    print("FAIL: " + why)
    sys.exit(1)


# The request, signed (RFC 8945 §4.3.3: message, then the TSIG variables).
qid = 0x4A58
q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + wire(zone) + struct.pack(">HH", 252, 1)
now = int(time.time())
variables = KEY + struct.pack(">HI", 255, 0) + ALG + struct.pack(">HIHHH", now >> 32, now & 0xFFFFFFFF, 300, 0, 0)
req_mac = hmac.new(secret, q + variables, hashlib.sha256).digest()
rdata = ALG + struct.pack(">HIHH", now >> 32, now & 0xFFFFFFFF, 300, len(req_mac)) + req_mac + struct.pack(">HHH", qid, 0, 0)
q = q[:10] + struct.pack(">H", 1) + q[12:] + KEY + struct.pack(">HHIH", 250, 255, 0, len(rdata)) + rdata

s = socket.create_connection(("127.0.0.1", port), timeout=30)
s.sendall(struct.pack(">H", len(q)) + q)
buf = b""


def read(n):
    global buf
    while len(buf) < n:
        chunk = s.recv(1 << 20)
        if not chunk:
            die(f"connection closed with {len(buf)} of {n} bytes")
        buf += chunk
    out, buf = buf[:n], buf[n:]
    return out


t0 = time.monotonic()
prior = req_mac
messages = records = signed = total = soas = 0
while soas < 2:
    n = struct.unpack(">H", read(2))[0]
    m = read(n)
    total += n
    messages += 1
    mid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", m[:12])
    if mid != qid or flags & 0x000F:
        die(f"message {messages}: id {mid:#x}, rcode {flags & 0xF}")
    p = 12
    for _ in range(qd):
        p = skip_name(m, p) + 4
    tsig_at = None
    for i in range(an + ns + ar):
        start = p
        p = skip_name(m, p)
        rtype, _, _, rdlen = struct.unpack(">HHIH", m[p:p + 10])
        if i < an and rtype == 6:
            soas += 1
        if i == an + ns + ar - 1 and rtype == 250:
            tsig_at = (start, p + 10, rdlen)
        p += 10 + rdlen
    records += an
    if tsig_at is None:
        die(f"message {messages} is not signed")  # vpced signs every message
    start, rd, rdlen = tsig_at
    alg_end = skip_name(m, rd)
    hi, lo, fudge, maclen = struct.unpack(">HIHH", m[alg_end:alg_end + 10])
    mac = m[alg_end + 10:alg_end + 10 + maclen]
    orig_id, error, olen = struct.unpack(">HHH", m[alg_end + 10 + maclen:alg_end + 16 + maclen])
    other = m[alg_end + 16 + maclen:alg_end + 16 + maclen + olen]
    body = struct.pack(">H", orig_id) + m[2:10] + struct.pack(">H", ar - 1) + m[12:start]
    timers = struct.pack(">HIH", hi, lo, fudge)
    if messages == 1:
        tail = KEY + struct.pack(">HI", 255, 0) + ALG + timers + struct.pack(">HH", error, olen) + other
    else:
        tail = timers
    want = hmac.new(secret, struct.pack(">H", len(prior)) + prior + body + tail, hashlib.sha256).digest()
    if error or not hmac.compare_digest(mac, want):
        die(f"message {messages}: TSIG error {error}, MAC {'matches' if mac == want else 'does not match'}")
    signed += 1
    prior = mac
print(f"messages {messages} records {records} signed {signed} bytes {total} seconds {time.monotonic() - t0:.2f}")
