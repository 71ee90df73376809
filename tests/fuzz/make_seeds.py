#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/ (stdlib only; rerun after
changing it). Seeds are small, valid inputs of each parser plus a few classic near-misses; regression inputs
(crashes found and fixed) live beside them as regress-*."""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def wire_name(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(name, qtype, qid=0xBEEF, flags=0x0100, qd=1, edns=None, opt_rdata=b"", extra=b""):
    arcount = 1 if edns is not None else 0
    msg = struct.pack(">HHHHHH", qid, flags, qd, 0, 0, arcount) + wire_name(name) + struct.pack(">HH", qtype, 1)
    if edns is not None:
        size, version = edns
        msg += b"\0" + struct.pack(">HHBBHH", 41, size, 0, version, 0, len(opt_rdata)) + opt_rdata
    return msg + extra


def ecs(family, prefix, addr):
    data = struct.pack(">HBB", family, prefix, 0) + addr
    return struct.pack(">HH", 8, len(data)) + data


def rr(owner, rtype, rdata, ttl=300, compressed_owner=None):
    o = compressed_owner if compressed_owner is not None else wire_name(owner)
    return o + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def response(q, rcode=0, answer=(), authority=(), flags_extra=0x0400):
    qid = struct.unpack(">H", q[:2])[0]
    qsec_end = 12
    while q[qsec_end] != 0:
        qsec_end += 1 + q[qsec_end]
    qsec = q[12:qsec_end + 5]
    head = struct.pack(">HHHHHH", qid, 0x8000 | flags_extra | rcode, 1, len(answer), len(authority), 0)
    return head + qsec + b"".join(answer) + b"".join(authority)


def txt(*strings):
    return b"".join(bytes([len(s)]) + s for s in strings)


def soa(mname="ns1.example.com", rname="hostmaster.example.com"):
    return wire_name(mname) + wire_name(rname) + struct.pack(">IIIII", 1, 3600, 600, 86400, 60)


def dns_seeds():
    apex = "us-east-1.vpce.amazonaws.com"
    seeds = {
        "a-apex": query(apex, 1),
        "soa-apex": query(apex, 6),
        "ns-apex": query(apex, 2),
        "aaaa-apex": query(apex, 28),
        "any-apex": query(apex, 255),
        "a-upper": query("US-EAST-1.VPCE.amazonaws.COM", 1),
        "a-nx": query("vpce-0123-abcd." + apex, 1),
        "a-private": query("api.orders.example.com", 1),
        "a-outside": query("www.example.org", 1),
        "edns": query(apex, 1, edns=(1232, 0)),
        "edns-small": query(apex, 255, edns=(512, 0)),
        "edns-badvers": query(apex, 1, edns=(1232, 1)),
        "edns-ecs4": query(apex, 1, edns=(1232, 0), opt_rdata=ecs(1, 24, bytes([127, 16, 1]))),
        "edns-ecs6": query(apex, 1, edns=(1232, 0), opt_rdata=ecs(2, 56, bytes(7))),
        "axfr": query(apex, 252),
        "ixfr": query(apex, 251),
        "notify": query(apex, 6, flags=0x2000),
        "qd2": query(apex, 1, qd=2),
        "qd0": struct.pack(">HHHHHH", 1, 0x0100, 0, 0, 0, 0),
        "response": query(apex, 1, flags=0x8100),
        "compressed": struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + struct.pack(">HH", 1, 1),
        "root": query(".", 2),
        "trailing": query(apex, 1, extra=b"\0\0\0"),
        "short": b"\xbe\xef\x01\x00\x00\x01",
    }
    for name, q in seeds.items():
        write("fuzz_dns_wire", name, q)
        # fuzz_respond's first byte picks the client: 0 public UDP 512, 0x81 VPC A large, 0x0a TCP VPC B.
        for sel in (0x00, 0x81, 0x8A):
            write("fuzz_respond", "%s-%02x" % (name, sel), bytes([sel]) + q)


def proxy_seeds():
    sig = b"\r\n\r\n\0\r\nQUIT\n"
    vpce = b"vpce-0123456789abcdef0"
    tlv = bytes([0xEA]) + struct.pack(">H", 1 + len(vpce)) + b"\x01" + vpce
    v4 = bytes([127, 16, 1, 9, 127, 16, 1, 5]) + struct.pack(">HH", 40000, 443)
    write("fuzz_proxy_v2", "tcp4-vpce", sig + b"\x21\x11" + struct.pack(">H", 12 + len(tlv)) + v4 + tlv)
    write("fuzz_proxy_v2", "tcp4", sig + b"\x21\x11" + struct.pack(">H", 12) + v4)
    v6 = bytes(15) + b"\x01" + bytes(15) + b"\x02" + struct.pack(">HH", 40000, 443)
    write("fuzz_proxy_v2", "tcp6-vpce", sig + b"\x21\x21" + struct.pack(">H", 36 + len(tlv)) + v6 + tlv)
    write("fuzz_proxy_v2", "local", sig + b"\x20\x00\x00\x00")
    write("fuzz_proxy_v2", "local-addr", sig + b"\x20\x11" + struct.pack(">H", 12) + v4)
    write("fuzz_proxy_v2", "unix", sig + b"\x21\x31" + struct.pack(">H", 216) + bytes(216))
    noop = bytes([0x04]) + struct.pack(">H", 3) + b"abc"
    write("fuzz_proxy_v2", "tlvs", sig + b"\x21\x11" + struct.pack(">H", 12 + len(noop) + len(tlv)) + v4 + noop + tlv)
    write("fuzz_proxy_v2", "tlv-overrun", sig + b"\x21\x11" + struct.pack(">H", 12 + 3) + v4 + b"\xEA\x00\x09")
    write("fuzz_proxy_v2", "payload-after", sig + b"\x21\x11" + struct.pack(">H", 12) + v4 + b"GET / HTTP/1.1\r\n")
    write("fuzz_proxy_v2", "v1", b"PROXY TCP4 127.0.0.1 127.0.0.2 1 2\r\n")


def verify_seeds():
    q = query("_abcdefghij0123456789.example.com", 16, qid=0x1234, flags=0, edns=(1232, 0))
    name = "_abcdefghij0123456789.example.com"
    ok = response(q, answer=[rr(name, 16, txt(b"vpce:ABCDEFGHIJabcdefghij"))])
    write("fuzz_verify_message", "query", q)
    write("fuzz_verify_message", "txt", ok)
    write("fuzz_verify_message", "txt-split", response(q, answer=[rr(name, 16, txt(b"vpce:ABCDEFGHIJ", b"abcdefghij")),
                                                                 rr(name, 16, txt(b"v=spf1 -all"))]))
    write("fuzz_verify_message", "txt-compressed", response(q, answer=[rr(name, 16, txt(b"vpce:x"), compressed_owner=b"\xc0\x0c")]))
    write("fuzz_verify_message", "txt-bomb", response(q, answer=[rr(name, 16, b"\0" * 4000, compressed_owner=b"\xc0\x0c")]))
    write("fuzz_verify_message", "nxdomain", response(q, rcode=3, authority=[rr("example.com", 6, soa())]))
    write("fuzz_verify_message", "nodata", response(q, authority=[rr("example.com", 6, soa())]))
    write("fuzz_verify_message", "cname", response(q, answer=[rr(name, 5, wire_name("other.example.net"))]))
    write("fuzz_verify_message", "referral", response(q, flags_extra=0, authority=[
        rr("example.com", 2, wire_name("ns1.example.com")), rr("example.com", 2, b"\x03ns2\xc0\x0c")]))
    write("fuzz_verify_message", "a", response(query("ns1.example.com", 1), answer=[rr("ns1.example.com", 1, bytes([127, 0, 0, 53]))]))
    write("fuzz_verify_message", "loop", response(q, answer=[rr(name, 16, txt(b"x"), compressed_owner=b"\xc0\x2e")]))
    write("fuzz_verify_message", "servfail-noq", struct.pack(">HHHHHH", 0x1234, 0x8002, 0, 0, 0, 0))


def config_seeds():
    with open(os.path.join(SRC, "conf", "example.toml")) as f:
        write("fuzz_config", "example.toml", f.read())
    write("fuzz_config", "minimal.toml", '[region]\nname = "us-east-1"\nazs = ["use1-az1"]\n[server]\nstate_dir = "s"\n'
                                          'dns_listen = ["127.0.0.1:5300"]\n')
    write("fuzz_config", "bad-type.toml", '[region]\nname = 1\n')
    write("fuzz_config", "unknown-key.toml", '[region]\nname = "us-east-1"\nazs = ["use1-az1"]\nbogus = true\n')
    write("fuzz_config", "durations.toml", '[verify]\ninterval = "1m"\ngive_up_after = "72h"\nrecheck_every = "7d"\n')
    write("fuzz_config", "garbage.toml", '[[services]\nname = "\\u0000"\n')


def admin_seeds():
    reqs = {
        "healthz": "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "explain": "GET /v1/explain?name=api.orders.example.com&from=127.16.1.9&type=A HTTP/1.1\r\nHost: x\r\n\r\n",
        "explain-escapes": "GET /v1/explain?name=a%2Eb+c&from=%31%32 HTTP/1.1\r\nHost: x\r\n\r\n",
        "reload": "POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        "verify": "POST /v1/services/orders/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
        "chunked": "POST /v1/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
        "describe-text": "GET /v1/describe?format=text HTTP/1.0\r\n\r\n",
        "huge-length": "POST /v1/reload HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
        "bad-escape": "GET /v1/explain?name=%zz HTTP/1.1\r\n\r\n",
    }
    for name, r in reqs.items():
        write("fuzz_admin_request", name, b"\x05" + r.encode())


# The keys of fuzz_tsig_transfer.cpp (name, algorithm, base64 secret) and its clock.
TSIG_KEYS = {
    "xfr-key": ("hmac-sha256", "c2VjcmV0LWtleS1mb3ItZnV6emluZy0wMDAwMDAwMQ=="),
    "vpc-a-key": ("hmac-sha256", "dnBjLWEta2V5LXNlY3JldC0xMjM0NTY3ODkwYWI="),
    "md5-key": ("hmac-md5", "bWQ1LWtleS1zZWNyZXQ="),
    "sha512-key": ("hmac-sha512", "c2hhNTEyLWtleS1zZWNyZXQtc2hhNTEyLWtleS1zZWNyZXQ="),
}
TSIG_NOW = 1700000000


def tsig_sign(msg, key, time_signed=TSIG_NOW, fudge=300, corrupt=False):
    """`msg` with a TSIG RR appended that signs it as a request (RFC 8945 §4.3.3), ARCOUNT incremented."""
    import base64
    import hashlib
    import hmac
    alg, secret = TSIG_KEYS[key]
    digestmod = {"hmac-sha256": hashlib.sha256, "hmac-md5": hashlib.md5, "hmac-sha512": hashlib.sha512}[alg]
    alg_name = wire_name("hmac-md5.sig-alg.reg.int" if alg == "hmac-md5" else alg)  # RFC 8945 §6
    variables = (wire_name(key) + struct.pack(">HI", 255, 0) + alg_name +
                 time_signed.to_bytes(6, "big") + struct.pack(">HHH", fudge, 0, 0))
    mac = hmac.new(base64.b64decode(secret), msg + variables, digestmod).digest()
    if corrupt:
        mac = bytes([mac[0] ^ 1]) + mac[1:]
    rdata = (alg_name + time_signed.to_bytes(6, "big") + struct.pack(">HH", fudge, len(mac)) + mac +
             msg[:2] + struct.pack(">HH", 0, 0))
    rr_ = wire_name(key) + struct.pack(">HHIH", 250, 255, 0, len(rdata)) + rdata
    arcount = struct.unpack(">H", msg[10:12])[0] + 1
    return msg[:10] + struct.pack(">H", arcount) + msg[12:] + rr_


def tsig_seeds():
    apex = "us-east-1.vpce.amazonaws.com"
    axfr = query(apex, 252, flags=0)
    ixfr = struct.pack(">HHHHHH", 0xBEEF, 0, 1, 0, 1, 0) + wire_name(apex) + struct.pack(">HH", 251, 1) + \
        rr(apex, 6, soa("ns1." + apex, "hostmaster." + apex))
    private = query("api.orders.example.com", 252, flags=0)
    notify = query(apex, 6, flags=0x2000)
    raw = {  # first byte 0x00: the bytes as sent, from 127.0.0.1, at the fuzzer's clock
        "axfr-signed": tsig_sign(axfr, "xfr-key"),
        "ixfr-signed": tsig_sign(ixfr, "xfr-key"),
        "axfr-private-signed": tsig_sign(private, "vpc-a-key"),
        "notify-signed-md5": tsig_sign(notify, "md5-key"),
        "axfr-signed-sha512": tsig_sign(axfr, "sha512-key"),
        "axfr-badsig": tsig_sign(axfr, "xfr-key", corrupt=True),
        "axfr-badtime": tsig_sign(axfr, "xfr-key", time_signed=TSIG_NOW - 1000),
        "axfr-unsigned": axfr,
        "tsig-not-last": tsig_sign(axfr, "xfr-key")[:10] + b"\x00\x02" + tsig_sign(axfr, "xfr-key")[12:] +
                         rr(apex, 1, bytes(4)),
    }
    unknown = tsig_sign(axfr, "xfr-key")
    raw["axfr-unknown-key"] = unknown.replace(wire_name("xfr-key"), wire_name("xyz-key"))
    for name, msg in raw.items():
        write("fuzz_tsig_transfer", name, b"\x00" + msg)
    # Odd first byte: the fuzzer signs the rest itself (key (byte >> 1) & 3, 0x08 late, 0x10 outside the ACL).
    for name, sel, msg in (("resign-axfr", 0x01, axfr), ("resign-private", 0x03, private),
                           ("resign-ixfr-late", 0x09, ixfr), ("resign-outside-acl", 0x11, axfr),
                           ("resign-notify-sha512", 0x07, notify), ("resign-axfr-md5", 0x05, axfr)):
        write("fuzz_tsig_transfer", name, bytes([sel]) + msg)


if __name__ == "__main__":
    dns_seeds()
    proxy_seeds()
    verify_seeds()
    config_seeds()
    admin_seeds()
    tsig_seeds()
    sys.exit(0)
