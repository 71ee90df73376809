"""Demo provider backend for `make run`: listens on every target address of a vpced config and answers each
connection with a small HTTP response saying what the PROXY protocol v2 header told it (consumer address,
ENI address, endpoint ID from the AWS TLV 0xEA/0x01). Connections without a header (health checks that send
LOCAL, or services without proxy_protocol_v2) are answered too.

usage: /usr/bin/python3 scripts/demo_backend.py CONFIG.toml"""
import selectors
import socket
import struct
import sys
import tomllib

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def parse_proxy_v2(data):
    """Returns (consumed, info dict) or (0, None) when more bytes are needed; raises ValueError if invalid."""
    if len(data) < 16:
        return 0, None
    if data[:12] != SIGNATURE:
        return -1, None  # no PROXY header: plain connection
    ver_cmd, fam, length = data[12], data[13], struct.unpack(">H", data[14:16])[0]
    if ver_cmd >> 4 != 2:
        raise ValueError("not PROXY v2")
    if len(data) < 16 + length:
        return 0, None
    body = data[16:16 + length]
    info = {"command": "PROXY" if ver_cmd & 0x0F == 1 else "LOCAL"}
    pos = 0
    if fam == 0x11 and length >= 12:
        src, dst, sport, dport = body[0:4], body[4:8], *struct.unpack(">HH", body[8:12])
        info["source"] = "%s:%d" % (socket.inet_ntoa(src), sport)
        info["destination"] = "%s:%d" % (socket.inet_ntoa(dst), dport)
        pos = 12
    elif fam == 0x21 and length >= 36:
        src, dst, sport, dport = body[0:16], body[16:32], *struct.unpack(">HH", body[32:36])
        info["source"] = "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, src), sport)
        info["destination"] = "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, dst), dport)
        pos = 36
    while pos + 3 <= len(body):
        t, n = body[pos], struct.unpack(">H", body[pos + 1:pos + 3])[0]
        value = body[pos + 3:pos + 3 + n]
        if t == 0xEA and value[:1] == b"\x01":
            info["vpce_id"] = value[1:].decode("ascii", "replace")
        pos += 3 + n
    return 16 + length, info


def main():
    config = tomllib.load(open(sys.argv[1], "rb"))
    sel = selectors.DefaultSelector()
    listeners = 0
    for service in config.get("services", []):
        for target in service.get("load_balancer", {}).get("targets", []):
            host, port = target["address"].rsplit(":", 1)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, int(port)))
            except OSError as e:
                print("demo backend: cannot listen on %s: %s" % (target["address"], e), file=sys.stderr)
                continue
            s.listen(128)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, ("listen", service["name"], target["address"], target["az"]))
            listeners += 1
    print("demo backend: %d target listeners" % listeners, file=sys.stderr, flush=True)
    buffers = {}
    while True:
        for key, _ in sel.select():
            kind = key.data[0]
            if kind == "listen":
                conn, peer = key.fileobj.accept()
                conn.setblocking(False)
                buffers[conn] = b""
                sel.register(conn, selectors.EVENT_READ, ("conn",) + key.data[1:] + (peer,))
                continue
            conn = key.fileobj
            _, service, target, az, peer = key.data
            try:
                chunk = conn.recv(65536)
            except OSError:
                chunk = b""
            buffers[conn] += chunk
            data = buffers[conn]
            try:
                consumed, info = parse_proxy_v2(data)
            except ValueError as e:
                consumed, info = -2, {"error": str(e)}
            done = not chunk or consumed != 0 or len(data) > 4096
            if not done:
                continue
            if info and info.get("command") == "LOCAL":
                pass  # a health check: nothing to say
            else:
                if info and "vpce_id" in info:
                    line = "hello from %s (%s, %s): consumer %s reached %s through endpoint %s\n" % (
                        target, service, az, info.get("source"), info.get("destination"), info["vpce_id"])
                else:
                    line = "hello from %s (%s, %s): connection from %s:%d without a PROXY header\n" % (
                        target, service, az, peer[0], peer[1])
                print("demo backend: " + line.strip(), file=sys.stderr, flush=True)
                body = line.encode()
                try:
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                except OSError:
                    pass
            sel.unregister(conn)
            del buffers[conn]
            conn.close()


main()
