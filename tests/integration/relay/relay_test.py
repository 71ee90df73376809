"""The relay of `vpced run` against real peers on loopback (design §7): python backends, haproxy with
accept-proxy, dig for the regional DNS answer. The config's own timers are used (NLB's floors: health checks
every 5 s, idle timeout 60 s), so the slow parts overlap: the idle-timeout connections run in threads from the
start, and targets of several services go down together.

usage: relay_test.py VPCED WORKDIR HAPROXY DIG
Prints "FAIL: ..." lines and a final "CHECKS n" line (tests/integration/lib.sh py_checks format).
"""

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backends import Backend, control_segments, generated  # noqa: E402

VPCED, WORK, HAPROXY, DIG = sys.argv[1:5]
CHECKS = 0
FAILS = 0
CLIENT_SRC = "127.16.0.5"       # the consumer's address (inside the VPC's dns_clients)
IDLE_S = 60                     # the echo service's idle_timeout: NLB's minimum
HEALTH_WAIT = 25                # health checks every 5 s, 2 in a row to flip: ≤ 10–15 s; bounded waits
# Two relay threads: each has its own SO_REUSEPORT listener, and the per-target limit is shared.


def check(what, ok, detail=""):
    global CHECKS, FAILS
    CHECKS += 1
    if not ok:
        FAILS += 1
        print("FAIL: %s%s" % (what, (": " + detail) if detail else ""), flush=True)
    return ok


def free_port():
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


# --- config ------------------------------------------------------------------------------------------------

LISTEN = free_port()     # every endpoint's listener port (ENI addresses differ)
DNS_PORT = free_port()
ADMIN_PORT = free_port()
TPORT = free_port()      # every python target's port (target addresses differ)
HPORT = free_port()      # haproxy

# Python backends: name → (address, AZ ID, PROXY v2)
BACKENDS = {
    "e1": ("127.0.0.11", "use1-az1", False), "e2": ("127.0.0.12", "use1-az2", False),
    "x1": ("127.0.0.21", "use1-az1", False), "x2": ("127.0.0.22", "use1-az2", False),
    "f1": ("127.0.0.31", "use1-az1", False), "f2": ("127.0.0.32", "use1-az2", False),
    "p1": ("127.0.0.41", "use1-az1", True),
    "l1": ("127.0.0.61", "use1-az1", False),
    "g1": ("127.0.0.71", "use1-az1", False),
    "s1": ("127.0.0.81", "use1-az1", False), "s2": ("127.0.0.82", "use1-az1", False),
    "m1": ("127.0.0.91", "use1-az1", False),
}


def targets(*names):
    return "[" + ", ".join('{ address = "%s:%d", az = "%s" }' % (BACKENDS[n][0], TPORT, BACKENDS[n][1])
                           for n in names) + "]"


def service(name, tgts, extra_lb="", acceptance=False, extra=""):
    return """
[[services]]
name = "%s"
owner = "111122223333"
azs = ["use1-az1", "use1-az2"]
acceptance_required = %s
allowed_principals = ["*"]
%s
  [services.load_balancer]
  listeners = [%d]
  targets = %s
  %s
""" % (name, "true" if acceptance else "false", extra, LISTEN, tgts, extra_lb)


def endpoint(name, svc, subnets):
    return """
[[endpoints]]
name = "%s"
vpc = "vpc-0a000001"
service = "%s"
principal = "arn:aws:iam::444455556666:root"
subnets = [%s]
""" % (name, svc, ", ".join('"%s"' % s for s in subnets))


HC = 'health_check = { interval = "5s", timeout = "2s", healthy_threshold = %d, unhealthy_threshold = 2 }'


def config_text(gate_accepted):
    text = """
[region]
name = "us-east-1"
azs = ["use1-az1", "use1-az2", "use1-az4"]

[server]
state_dir = "state"
dns_listen = ["127.0.0.1:%d"]
admin_listen = "127.0.0.1:%d"

[[accounts]]
id = "111122223333"
az_names = { "us-east-1a" = "use1-az1", "us-east-1b" = "use1-az2", "us-east-1c" = "use1-az4" }

# The consumer's letters are shifted: its us-east-1a is use1-az2.
[[accounts]]
id = "444455556666"
az_names = { "us-east-1a" = "use1-az2", "us-east-1b" = "use1-az1", "us-east-1c" = "use1-az4" }

[[vpcs]]
id = "vpc-0a000001"
account = "444455556666"
dns_clients = ["127.16.0.0/16"]
subnets = [
  { id = "subnet-0a00001a", az = "us-east-1a", cidr = "127.16.1.0/24" },
  { id = "subnet-0a00001b", az = "us-east-1b", cidr = "127.16.2.0/24" },
]
""" % (DNS_PORT, ADMIN_PORT)
    gate = '"c-gate"' if gate_accepted else ""
    rejected = '"c-rej"' if gate_accepted else '"c-rej", "c-gate"'
    text += service("echo", targets("e1", "e2"), 'idle_timeout = "%ds"\n  ' % IDLE_S + HC % 2)
    text += service("xz", targets("x1", "x2"), "cross_zone = true\n  " + HC % 2)
    text += service("fo", targets("f1", "f2"), HC % 10)   # slow to come back: a window to see fail-open
    text += service("pp", targets("p1"), "proxy_protocol_v2 = true\n  " + HC % 2)
    text += service("hap", '[{ address = "127.0.0.51:%d", az = "use1-az1" }]' % HPORT,
                    "proxy_protocol_v2 = true\n  " + HC % 2)
    text += service("lim", targets("l1"), "max_connections_per_target = 2\n  " + HC % 2)
    # s1 will stop answering SYNs: connects to it time out. 10 failed checks to go down: a window to see that.
    text += service("slow", targets("s1", "s2"), 'connect_timeout = "1s"\n  ' +
                    HC.replace("unhealthy_threshold = 2", "unhealthy_threshold = 10") % 2)
    text += service("epl", targets("m1"), "cross_zone = true\n  max_connections_per_endpoint = 2\n  " + HC % 2)
    text += service("gate", targets("g1"), HC % 2, acceptance=True,
                    extra="accepted = [%s]\nrejected = [%s]" % (gate, rejected))
    both = ["subnet-0a00001a", "subnet-0a00001b"]
    az1 = ["subnet-0a00001b"]  # us-east-1b = use1-az1 for the consumer
    for name, svc, subnets in [("c-echo", "echo", both), ("c-xz", "xz", both), ("c-fo", "fo", both),
                               ("c-pp", "pp", az1), ("c-hap", "hap", az1), ("c-lim", "lim", az1),
                               ("c-slow", "slow", az1), ("c-epl", "epl", both),
                               ("c-gate", "gate", az1), ("c-pend", "gate", az1), ("c-rej", "gate", az1)]:
        text += endpoint(name, svc, subnets)
    return text


CONF = os.path.join(WORK, "relay.toml")
with open(CONF, "w") as f:
    f.write(config_text(True))

# --- describe: endpoint ids and ENI addresses, as an operator would read them ------------------------------

out = subprocess.run([VPCED, "describe", "-c", CONF, "--json"], capture_output=True, text=True)
if not check("vpced describe", out.returncode == 0, out.stderr):
    print("CHECKS %d" % CHECKS)
    sys.exit(0)
EP = {}
for e in json.loads(out.stdout)["VpcEndpoints"]:
    name = next(t["Value"] for t in e["Tags"] if t["Key"] == "Name")
    regional = [d["DnsName"] for d in e["DnsEntries"] if d["DnsName"].split(".")[0].count("-") == 2]
    zonal_names = [d["DnsName"] for d in e["DnsEntries"] if d["DnsName"].split(".")[0].count("-") > 2]
    EP[name] = {"id": e["VpcEndpointId"], "state": e["State"], "regional": regional[0] if regional else None,
                "zonal": zonal_names,
                "enis": {n["AvailabilityZoneId"]: n["PrivateIpAddress"] for n in e["NetworkInterfaces"]}}
check("describe states", [EP[n]["state"] for n in ("c-echo", "c-gate", "c-pend", "c-rej")] ==
      ["available", "available", "pendingAcceptance", "rejected"], json.dumps(EP))


def eni(name, az="use1-az1"):
    return EP[name]["enis"][az]


# --- peers -------------------------------------------------------------------------------------------------

backends = {n: Backend(n, a, TPORT, pp) for n, (a, az, pp) in BACKENDS.items()}
for b in backends.values():
    b.start()

hap_cfg = os.path.join(WORK, "haproxy.cfg")
with open(hap_cfg, "w") as f:
    f.write("""global
  maxconn 100

defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s

frontend relay_target
  bind 127.0.0.51:%d accept-proxy
  http-request return status 200 content-type text/plain lf-string "src=%%[src]:%%[src_port] dst=%%[dst]:%%[dst_port] proxied=%%[fc_rcvd_proxy]\\n"
""" % HPORT)
hap_log = open(os.path.join(WORK, "haproxy.log"), "w")
hap = subprocess.Popen([HAPROXY, "-db", "-f", hap_cfg], stdout=hap_log, stderr=subprocess.STDOUT)

vpced_log = open(os.path.join(WORK, "vpced.log"), "w")
vpced = subprocess.Popen([VPCED, "run", "-c", CONF, "--threads", "1",
                          "--relay-threads", os.environ.get("RELAY_THREADS", "2")],
                         stdout=vpced_log, stderr=subprocess.STDOUT)


def admin(path, method="GET"):
    try:
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (ADMIN_PORT, path), method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read().decode()
    except (OSError, ValueError):
        return None


def status():
    body = admin("/v1/status")
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def metric(name, **labels):
    text = admin("/metrics")
    if not text:
        return None
    for line in text.splitlines():
        m = re.match(r'^(\w+)(?:\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


def target_healthy(svc, name):
    s = status()
    if not s:
        return None
    addr = "%s:%d" % (BACKENDS[name][0], TPORT)
    for t in s["relay"]["targets"]:
        if t["service"] == svc and t["address"] == addr:
            return t["healthy"]
    return None


def target_field(svc, addr, field):
    s = status()
    for t in (s or {"relay": {"targets": []}})["relay"]["targets"]:
        if t["service"] == svc and t["address"] == addr:
            return t[field]
    return None


def a_records(name):
    """A records of `name` as vpced's DNS answers them (public view: the query comes from 127.0.0.1), sorted."""
    out = subprocess.run([DIG, "+short", "+time=2", "+tries=1", "-p", str(DNS_PORT), "@127.0.0.1", name, "A"],
                         capture_output=True, text=True)
    return sorted(l for l in out.stdout.split() if re.match(r"^\d+\.\d+\.\d+\.\d+$", l))


def regional(ep):
    return a_records(EP[ep]["regional"])


def zonal(ep):
    return sorted(a for n in EP[ep]["zonal"] for a in a_records(n))


def log_text():
    with open(os.path.join(WORK, "vpced.log")) as f:
        return f.read()


# --- clients -----------------------------------------------------------------------------------------------

def connect(addr, port=None, src=CLIENT_SRC, timeout=5):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((addr, port or LISTEN))
    return s


def who(addr):
    """The backend that answers through the relay, or None when the relay resets or closes the connection. The
    reply gains `client` (this side's address) and `client_control_segments` (segments without data that this
    side received, counted once the relay's FIN arrived)."""
    try:
        with connect(addr) as s:
            s.sendall(b"WHO\n")
            buf = b""
            while True:
                c = s.recv(4096)
                if not c:
                    break
                buf += c
            if not buf.endswith(b"\n"):
                return None
            reply = json.loads(buf)
            reply["client"] = "%s:%d" % s.getsockname()
            reply["client_control_segments"] = control_segments(s)
            return reply
    except (ConnectionResetError, BrokenPipeError, ConnectionRefusedError, socket.timeout):
        return None


def names(addr, n):
    return [(who(addr) or {}).get("name") for _ in range(n)]


def hap_get():
    """GET through the relay to haproxy: (response text, the client's address:port)."""
    try:
        with connect(eni("c-hap")) as s:
            client = "%s:%d" % s.getsockname()
            s.sendall(b"GET / HTTP/1.0\r\nHost: relay\r\n\r\n")
            buf = b""
            while True:
                d = s.recv(4096)
                if not d:
                    break
                buf += d
        return buf.decode(errors="replace"), client
    except OSError as e:
        return "error: %s" % e, "?"


def refused(addr):
    try:
        connect(addr, timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True



# --- idle timeout: two connections that run in the background from the start (60 s is NLB's minimum) --------

IDLE = {}


def idle_silent():
    """A silent connection: reset on both sides after the idle timeout."""
    try:
        with connect(eni("c-echo", "use1-az2"), timeout=IDLE_S + 15) as s:
            s.sendall(b"HOLD\n")
            t0 = time.monotonic()
            outcome = "?"
            try:
                outcome = "eof" if s.recv(1) == b"" else "data"
            except ConnectionResetError:
                outcome = "reset"
            except socket.timeout:
                outcome = "timeout"
            IDLE["silent"] = (outcome, time.monotonic() - t0)
    except OSError as e:
        IDLE["silent"] = ("error %s" % e, 0)


def idle_talking():
    """Traffic at 0, 0.6 and 1.2 × the idle timeout: alive at the end proves each byte reset the timer."""
    alive = False
    try:
        with connect(eni("c-echo", "use1-az2"), timeout=10) as s:
            s.sendall(b"ECHO\n")
            for k in range(3):
                if k:
                    time.sleep(IDLE_S * 0.6)
                s.sendall(b"k")
                alive = s.recv(1) == b"k"
                if not alive:
                    break
    except OSError:
        alive = False
    IDLE["talking"] = alive


try:
    ready = wait_for(lambda: (status() or {}).get("relay", {}).get("endpoints"), 15)
    check("vpced run serves the relay status", bool(ready), log_text()[-2000:])
    s0 = status() or {"relay": {"endpoints": [], "listener_errors": []}}
    listeners = {e["name"]: sorted(e["listeners"]) for e in s0["relay"]["endpoints"]}
    check("listeners on every ENI of available endpoints",
          listeners.get("c-echo") == sorted("%s:%d" % (a, LISTEN) for a in EP["c-echo"]["enis"].values()),
          json.dumps(listeners))
    check("no listeners for pending and rejected endpoints",
          listeners.get("c-pend") == [] and listeners.get("c-rej") == [], json.dumps(listeners))
    check("no listener errors", s0["relay"]["listener_errors"] == [], json.dumps(s0["relay"]["listener_errors"]))
    wait_for(lambda: hap.poll() is not None or "proxied=1" in hap_get()[0], 10)
    idle_threads = [threading.Thread(target=f, daemon=True) for f in (idle_silent, idle_talking)]
    for t in idle_threads:
        t.start()
    t_idle = time.monotonic()

    # AZ affinity, cross-zone off: each ENI reaches the target of its own AZ ID (the consumer's us-east-1a is
    # use1-az2).
    check("az1 ENI reaches only e1", set(names(eni("c-echo", "use1-az1"), 10)) == {"e1"})
    # Segments on the wire (docs/relay.md, "Fewer packets per connection"). Without PROXY v2 the relay has
    # nothing to send when its connect completes: the target must get the handshake's last ACK on its own (SYN
    # + ACK), or a server-first target could not accept. The target's reply and FIN arrive together, and the
    # relay passes them on as one segment: the client gets the SYN-ACK, the ACK of its request, then data+FIN.
    r = who(eni("c-echo", "use1-az1")) or {}
    check("no PROXY v2: the target gets the handshake's ACK on its own", r.get("control_segments") == 2,
          json.dumps(r))
    check("reply and FIN reach the client in one segment", r.get("client_control_segments") == 2, json.dumps(r))
    check("az2 ENI reaches only e2", set(names(eni("c-echo", "use1-az2"), 10)) == {"e2"})
    ep_echo, ep_fo = EP["c-echo"]["id"], EP["c-fo"]["id"]
    check("regional DNS answer has every ENI while healthy",
          regional("c-echo") == sorted(EP["c-echo"]["enis"].values()), repr(regional("c-echo")))

    # Several MB both ways, checksummed; the client half-closes and still receives everything.
    payload = os.urandom(6 * 1024 * 1024)
    with connect(eni("c-echo")) as s:
        s.settimeout(30)
        s.sendall(b"ECHO\n")
        got = []

        def reader():
            while True:
                d = s.recv(1 << 20)
                if not d:
                    return
                got.append(d)
        t = threading.Thread(target=reader)
        t.start()
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        t.join(30)
        echoed = b"".join(got)
    check("6 MB echoed intact", hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest(),
          "%d of %d bytes" % (len(echoed), len(payload)))

    with connect(eni("c-echo", "use1-az2")) as s:
        s.settimeout(30)
        reply_len = 5 * 1024 * 1024
        s.sendall(b"HASH %d\n" % reply_len)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)  # half-close: the backend answers only after this EOF
        buf = b""
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            buf += d
    line, _, rest = buf.partition(b"\n")
    try:
        summary = json.loads(line)
    except ValueError:
        summary = {}
    check("half-close: the target saw all bytes then EOF",
          summary == {"sha256": hashlib.sha256(payload).hexdigest(), "count": len(payload)}, repr(line[:200]))
    check("half-close: the full response arrives after the client's FIN",
          len(rest) == reply_len and rest == generated(reply_len), "%d bytes" % len(rest))

    # A slow reader: the target's 4 MB reply outruns the consumer, so the relay holds it back (the flow waits
    # for the consumer's socket to drain, the target's socket fills, TCP stops the target) and loses nothing.
    with connect(eni("c-echo", "use1-az2")) as s:
        s.settimeout(30)
        slow_len = 4 * 1024 * 1024
        s.sendall(b"HASH %d\n" % slow_len)
        s.shutdown(socket.SHUT_WR)
        time.sleep(0.5)  # not a synchronisation: lets every buffer on the path fill before reading starts
        buf = b""
        while True:
            d = s.recv(16384)
            if not d:
                break
            buf += d
            time.sleep(0.004)
    line, _, rest = buf.partition(b"\n")
    check("slow reader: the whole reply arrives intact through back-pressure",
          rest == generated(slow_len), "%d of %d bytes" % (len(rest), slow_len))

    check("bytes to target counted",
          wait_for(lambda: (metric("vpced_relay_bytes_total", endpoint=ep_echo, direction="to_target") or 0)
                   >= 2 * len(payload), 2))
    check("bytes to client counted",
          wait_for(lambda: (metric("vpced_relay_bytes_total", endpoint=ep_echo, direction="to_client") or 0)
                   >= len(payload) + reply_len, 2))
    check("connections per endpoint and target counted",
          wait_for(lambda: (metric("vpced_relay_connections_total", endpoint=ep_echo,
                                   target=BACKENDS["e1"][0] + ":%d" % TPORT) or 0) >= 11, 2))

    # PROXY v2 to a python receiver: source = consumer, destination = ENI:listener, TLV 0xEA/0x01 = endpoint id.
    r = who(eni("c-pp"))
    check("PROXY v2 backend answers", r is not None and r.get("proxy") is not None, json.dumps(r))
    # The kernel holds that ACK back for at most its delayed-ACK timer (~200 ms): a relay thread stalled that long
    # between the SYN-ACK and the header (a loaded host, a sanitizer build) lets it go alone. Up to 3 tries.
    seen = [(r or {}).get("control_segments")]
    while seen[-1] != 1 and len(seen) < 3:
        seen.append((who(eni("c-pp")) or {}).get("control_segments"))
    check("PROXY v2: the handshake's last ACK rides on the header (the target got the SYN, no bare ACK)",
          seen[-1] == 1, "control segments per try: %r" % seen)
    if r and r.get("proxy"):
        p = r["proxy"]
        check("PROXY v2 source is the consumer", p["src"] == r["client"], json.dumps(p))
        check("PROXY v2 destination is ENI:listener", p["dst"] == "%s:%d" % (eni("c-pp"), LISTEN), json.dumps(p))
        check("PROXY v2 family TCP4", p["family"] == 0x11, json.dumps(p))
        check("AWS TLV carries the endpoint id", p["vpce"] == EP["c-pp"]["id"], json.dumps(p))
        check("AWS TLV length is id + 1", p["tlvs"] == [{"type": 0xEA, "length": len(EP["c-pp"]["id"]) + 1,
                                                          "hex": ("01" + EP["c-pp"]["id"].encode().hex())}],
              json.dumps(p["tlvs"]))
    check("health checks send LOCAL headers", wait_for(lambda: backends["p1"].local_headers > 0, 12))
    check("no malformed PROXY headers", backends["p1"].header_errors == [], repr(backends["p1"].header_errors))

    # haproxy 2.6 with accept-proxy sees the consumer's address.
    body, client = hap_get()
    check("haproxy accept-proxy sees consumer and ENI",
          ("src=%s dst=%s:%d proxied=1" % (client, eni("c-hap"), LISTEN)) in body, body)
    check("haproxy target healthy (LOCAL health checks accepted)",
          target_field("hap", "127.0.0.51:%d" % HPORT, "healthy") is True)

    # Cross-zone on: an az1 ENI spreads over both AZs.
    check("cross-zone spreads over AZs", set(names(eni("c-xz"), 30)) == {"x1", "x2"})

    # Targets of three services go down together (health needs two failed checks, 5 s apart):
    #   xz: x1 (cross-zone on), echo: e1 (cross-zone off, az1's only target), fo: f1 and f2 (every target).
    x1 = "%s:%d" % (BACKENDS["x1"][0], TPORT)
    fails0 = metric("vpced_relay_connect_failures_total", target=x1) or 0
    fa = [metric("vpced_relay_connect_failures_total", target="%s:%d" % (BACKENDS[n][0], TPORT)) or 0
          for n in ("f1", "f2")]
    for n in ("x1", "e1", "f1", "f2"):
        backends[n].stop()
    # Before health notices: a refused connect moves on to the next target.
    seen = names(eni("c-xz"), 20)
    check("refused connect moves on to the next target", seen == ["x2"] * 20, repr(seen))
    check("connect failures counted",
          wait_for(lambda: (metric("vpced_relay_connect_failures_total", target=x1) or 0) > fails0, 2))
    down = wait_for(lambda: all(target_healthy(svc, n) is False
                                for svc, n in (("xz", "x1"), ("echo", "e1"), ("fo", "f1"), ("fo", "f2"))),
                    HEALTH_WAIT, step=0.5)
    check("health marks x1, e1, f1 and f2 down", down, json.dumps((status() or {}).get("relay", {}).get("targets")))
    check("health changes logged",
          "target %s of service 'xz' is unhealthy" % x1 in log_text(), log_text()[-1500:])
    check("cross-zone on, same-AZ target down: other AZ serves", set(names(eni("c-xz"), 10)) == {"x2"})

    # Cross-zone off, the only same-AZ target down: the az1 ENI fails, the az2 ENI still works; DNS follows.
    check("cross-zone off, same-AZ target down: connection fails", names(eni("c-echo"), 5) == [None] * 5)
    check("other AZ's ENI still served", set(names(eni("c-echo", "use1-az2"), 5)) == {"e2"})
    check("regional DNS answer drops the az1 ENI",
          wait_for(lambda: regional("c-echo") == [eni("c-echo", "use1-az2")], 5), repr(regional("c-echo")))
    check("zonal DNS names keep every ENI (as AWS does)",
          zonal("c-echo") == sorted(EP["c-echo"]["enis"].values()), repr(zonal("c-echo")))
    check("rejection counted as no healthy target",
          wait_for(lambda: (metric("vpced_relay_rejected_connections_total", endpoint=ep_echo,
                                   reason="no_healthy_target") or 0) >= 5, 2))

    # Every target down: fail open, in DNS (every ENI) and in the relay (every target is tried).
    check("regional DNS answer fails open (every ENI)",
          wait_for(lambda: regional("c-fo") == sorted(EP["c-fo"]["enis"].values()), 5), repr(regional("c-fo")))
    check("all targets down: connection fails", who(eni("c-fo")) is None)

    def fo_failures():
        return [metric("vpced_relay_connect_failures_total", target="%s:%d" % (BACKENDS[n][0], TPORT)) or 0
                for n in ("f1", "f2")]
    fb = wait_for(lambda: (lambda f: f if f[0] > fa[0] and f[1] > fa[1] else None)(fo_failures()), 2)
    check("fail open tries every target", fb is not None, "%r → %r" % (fa, fo_failures()))
    # f2 (az2) listens again but stays unhealthy for 10 checks: the az1 ENI reaches it through fail-open.
    backends["f2"].start()
    r = who(eni("c-fo"))
    check("fail open reaches a target still marked unhealthy in another AZ", r is not None and r["name"] == "f2",
          json.dumps(r))
    check("f2 was still unhealthy", target_healthy("fo", "f2") is False)

    for n in ("x1", "e1", "f1"):
        backends[n].start()
    up = wait_for(lambda: target_healthy("xz", "x1") is True and target_healthy("echo", "e1") is True,
                  HEALTH_WAIT, step=0.5)
    check("health brings x1 and e1 back", up)
    check("az1 ENI served again", set(names(eni("c-echo"), 3)) == {"e1"})
    check("regional DNS answer restores the az1 ENI",
          wait_for(lambda: regional("c-echo") == sorted(EP["c-echo"]["enis"].values()), 5), repr(regional("c-echo")))

    # Connect timeout (1 s in the config) → the next candidate. s1 is replaced by a socket whose accept queue is
    # full, so the kernel drops SYNs and connects hang; health needs 10 failed checks (50 s) to notice.
    check("slow service reaches both targets", set(names(eni("c-slow"), 12)) == {"s1", "s2"})
    backends["s1"].stop()
    hole = socket.socket()
    hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hole.bind((BACKENDS["s1"][0], TPORT))
    hole.listen(0)
    fillers = []
    for _ in range(3):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex((BACKENDS["s1"][0], TPORT))
        fillers.append(f)
    s1 = "%s:%d" % (BACKENDS["s1"][0], TPORT)
    before = metric("vpced_relay_connect_failures_total", target=s1) or 0
    results = [None] * 12

    def timed_who(i):
        t0 = time.monotonic()
        r = who(eni("c-slow"))
        results[i] = ((r or {}).get("name"), time.monotonic() - t0)
    threads = [threading.Thread(target=timed_who, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    check("connect timeout moves on to the next target", all(r and r[0] == "s2" for r in results), repr(results))
    check("a timed-out connect took the connect timeout", any(r and 0.9 <= r[1] <= 3 for r in results),
          repr(results))
    check("s1 still healthy while it timed out (the relay did not wait for health)",
          target_healthy("slow", "s1") is True)
    check("connect timeouts counted",
          wait_for(lambda: (metric("vpced_relay_connect_failures_total", target=s1) or 0) > before, 2))
    for f in fillers:
        f.close()
    hole.close()
    backends["s1"].start()

    # max_connections_per_target = 2: the third concurrent connection is reset; a freed slot serves again.
    l1 = "%s:%d" % (BACKENDS["l1"][0], TPORT)
    holds = []
    for _ in range(2):
        s = connect(eni("c-lim"))
        s.sendall(b"HOLD\n")
        holds.append(s)
    check("two connections held", wait_for(lambda: target_field("lim", l1, "active_connections") == 2, 2))
    check("third connection over the limit fails", who(eni("c-lim")) is None)
    check("limit rejection counted",
          wait_for(lambda: (metric("vpced_relay_rejected_connections_total", endpoint=EP["c-lim"]["id"],
                                   reason="limit_reached") or 0) >= 1, 2))
    holds.pop().close()
    check("a freed slot serves again",
          wait_for(lambda: target_field("lim", l1, "active_connections") == 1, 2) and
          (who(eni("c-lim")) or {}).get("name") == "l1")
    holds.pop().close()

    # max_connections_per_endpoint = 2 counts both ENIs of the endpoint together: the third is reset.
    ep_epl = EP["c-epl"]["id"]
    holds = []
    for az in ("use1-az1", "use1-az2"):
        s = connect(eni("c-epl", az))
        s.sendall(b"HOLD\n")
        holds.append(s)
    check("two connections held on two ENIs of one endpoint",
          wait_for(lambda: next((e.get("active_connections") for e in (status() or {"relay": {"endpoints": []}})
                                 ["relay"]["endpoints"] if e["name"] == "c-epl"), None) == 2, 3))
    check("third connection to the endpoint is reset", who(eni("c-epl", "use1-az2")) is None)
    check("endpoint limit counted",
          wait_for(lambda: (metric("vpced_relay_rejected_connections_total", endpoint=ep_epl,
                                   reason="endpoint_limit") or 0) >= 1, 2))
    holds.pop().close()
    check("a freed endpoint slot serves again",
          wait_for(lambda: (who(eni("c-epl")) or {}).get("name") == "m1", 3))
    holds.pop().close()

    # A target that accepts and never reads: the relay stops reading the consumer (back-pressure through TCP
    # windows), holds no more than its bounded buffers, and other connections go on.
    rss0 = int(re.search(r"VmRSS:\s+(\d+)", open("/proc/%d/status" % vpced.pid).read()).group(1))
    stall = connect(eni("c-echo", "use1-az2"), timeout=3)
    stall.sendall(b"STALL\n")
    sent = 0
    chunk = b"x" * 65536
    try:
        while sent < 256 * 1024 * 1024:
            sent += stall.send(chunk)
    except socket.timeout:
        pass
    rss1 = int(re.search(r"VmRSS:\s+(\d+)", open("/proc/%d/status" % vpced.pid).read()).group(1))
    check("a stalled target stops the consumer (TCP back-pressure, %d KiB taken)" % (sent // 1024),
          sent < 64 * 1024 * 1024, "%d bytes" % sent)
    check("vpced holds no copy of the stalled stream (RSS %d -> %d KiB)" % (rss0, rss1), rss1 - rss0 < 4096)
    check("other connections go on beside the stalled one", (who(eni("c-echo", "use1-az2")) or {}).get("name") == "e2")
    stall.close()

    # Pending and rejected endpoints have no listener: their ENI addresses refuse.
    check("available gate endpoint served", (who(eni("c-gate")) or {}).get("name") == "g1")
    check("pendingAcceptance ENI refuses", refused(eni("c-pend")))
    check("rejected ENI refuses", refused(eni("c-rej")))

    # Idle timeout: the background connections end about IDLE_S × 1.2 after they started.
    for t in idle_threads:
        t.join(max(1, IDLE_S * 1.2 + 20 - (time.monotonic() - t_idle)))
    outcome, took = IDLE.get("silent", ("not finished", 0))
    check("idle connection reset", outcome == "reset", outcome)
    check("after the idle timeout", IDLE_S - 0.5 <= took <= IDLE_S + 3, "%.2f s" % took)
    check("target side reset too", wait_for(lambda: ("hold", "reset") in backends["e2"].events, 3),
          repr(backends["e2"].events))
    check("traffic resets the idle timer", IDLE.get("talking") is True, repr(IDLE.get("talking")))

    # Reload (SIGHUP): the provider rejects c-gate. Its listener closes and its open connection is reset; an
    # unrelated connection stays up.
    gate = connect(eni("c-gate"), timeout=5)
    gate.sendall(b"ECHO\nping")
    other = connect(eni("c-echo", "use1-az2"), timeout=5)
    other.sendall(b"ECHO\nping")
    check("connections open before reload", gate.recv(4) == b"ping" and other.recv(4) == b"ping")
    with open(CONF, "w") as f:
        f.write(config_text(False))
    vpced.send_signal(signal.SIGHUP)
    check("reload applied", wait_for(lambda: ((status() or {}).get("endpoints") or {}).get("rejected") == 2, 5),
          json.dumps((status() or {}).get("last_reload")))
    try:
        gone = gate.recv(1) == b""
    except ConnectionResetError:
        gone = True
    except socket.timeout:
        gone = False
    gate.close()
    check("rejected endpoint's open connection closed", gone)
    check("rejected endpoint's ENI refuses", wait_for(lambda: refused(eni("c-gate")), 3))
    try:
        other.sendall(b"pong")
        same = other.recv(4) == b"pong"
    except OSError:
        same = False
    other.close()
    check("unrelated connection untouched by the reload", same)
    st = status() or {"relay": {"endpoints": []}}
    g = next((e for e in st["relay"]["endpoints"] if e["name"] == "c-gate"), {})
    check("status shows c-gate rejected without listeners", g.get("state") == "rejected" and g.get("listeners") == [],
          json.dumps(g))

    # Graceful stop.
    vpced.send_signal(signal.SIGTERM)
    try:
        rc = vpced.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    check("vpced stops on SIGTERM", rc == 0, str(rc))
    check("haproxy still running (it accepted LOCAL health checks)", hap.poll() is None)
except Exception:
    import traceback
    check("the test script ran to its end", False, traceback.format_exc())
finally:
    for p in (vpced, hap):
        if p.poll() is None:
            p.kill()
            p.wait()
    for b in backends.values():
        b.stop()
    if FAILS:
        for name in ("vpced.log", "haproxy.log"):
            try:
                print("---- %s ----\n%s" % (name, open(os.path.join(WORK, name)).read()[-3000:]))
            except OSError:
                pass

print("CHECKS %d" % CHECKS)
