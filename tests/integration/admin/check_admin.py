"""Checks of the admin HTTP API against a running vpced: health, readiness, metrics parsed by the real
Prometheus text parser (counters must move by exactly the queries sent), describe, explain and errors.
Prints FAIL lines and a final 'CHECKS n'.

usage: check_admin.py ADMIN_ADDR DNS_PORT DESCRIBE_JSON"""
import json
import socket
import struct
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

admin, port, describe_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        print("FAIL: " + what)


def http(method, path):
    req = urllib.request.Request("http://" + admin + path, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def query(name, qtype, tcp=False):
    q = struct.pack(">HHHHHH", 0x4242, 0, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", qtype, 1)
    if tcp:
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
        s.sendall(struct.pack(">H", len(q)) + q)
        n = struct.unpack(">H", s.recv(2))[0]
        data = b""
        while len(data) < n:
            data += s.recv(n - len(data))
        s.close()
        return data
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(q, ("127.0.0.1", port))
    data, _ = s.recvfrom(4096)
    s.close()
    return data


def samples():
    status, headers, body = http("GET", "/metrics")
    check(status == 200, "/metrics status %s" % status)
    check(headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"), "/metrics content type")
    out = {}
    families = list(text_string_to_metric_families(body))
    for fam in families:
        check(fam.name.startswith("vpced_"), "metric family %s lacks the vpced_ prefix" % fam.name)
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out, families


def value(snapshot, name, **labels):
    return snapshot.get((name, tuple(sorted(labels.items()))), 0)


# --- health and readiness ---
status, _, body = http("GET", "/healthz")
check(status == 200 and json.loads(body) == {"status": "alive"}, "/healthz: %s %s" % (status, body))
status, _, body = http("GET", "/readyz")
check(status == 200 and json.loads(body) == {"ready": True}, "/readyz: %s %s" % (status, body))

# --- metrics move with queries ---
described = json.load(open(describe_file))
available = [e for e in described["VpcEndpoints"] if e["State"] == "available"]
regional = available[0]["DnsEntries"][0]["DnsName"]
before, families = samples()
types = {f.name: f.type for f in families}
check(types.get("vpced_dns_queries") == "counter", "vpced_dns_queries_total is a counter: %s" % types)
check(types.get("vpced_config_reloads") == "counter", "vpced_config_reloads_total is a counter")
check(types.get("vpced_snapshot_generation") == "gauge", "vpced_snapshot_generation is a gauge")
for _ in range(5):
    query(regional, 1)
for _ in range(3):
    query(regional, 1, tcp=True)
for _ in range(2):
    query(regional, 28)
query("www.example.org", 1)
query("nothing-here." + regional.split(".", 1)[1], 1)
after, _ = samples()
d = lambda name, **l: value(after, name, **l) - value(before, name, **l)
check(d("vpced_dns_queries_total", view="public", transport="udp", qtype="A") == 7,
      "udp A queries moved by %s, expected 7" % d("vpced_dns_queries_total", view="public", transport="udp", qtype="A"))
check(d("vpced_dns_queries_total", view="public", transport="tcp", qtype="A") == 3, "tcp A queries moved by 3")
check(d("vpced_dns_queries_total", view="public", transport="udp", qtype="AAAA") == 2, "AAAA queries moved by 2")
check(d("vpced_dns_responses_total", view="public", transport="udp", rcode="NOERROR") == 7,
      "udp NOERROR moved by %s, expected 7 (5 A + 2 AAAA)" % d("vpced_dns_responses_total", view="public", transport="udp", rcode="NOERROR"))
check(d("vpced_dns_responses_total", view="public", transport="udp", rcode="REFUSED") == 1, "REFUSED moved by 1")
check(d("vpced_dns_responses_total", view="public", transport="udp", rcode="NXDOMAIN") == 1, "NXDOMAIN moved by 1")
check(d("vpced_dns_responses_total", view="public", transport="tcp", rcode="NOERROR") == 3, "tcp NOERROR moved by 3")
check(value(after, "vpced_snapshot_generation") >= 1, "snapshot generation present")
check(value(after, "vpced_endpoints", state="available") == len(available), "vpced_endpoints{state=available}")
check(value(after, "vpced_build_info", version="0.1.0") == 1, "vpced_build_info")

# --- describe ---
status, _, body = http("GET", "/v1/describe")
check(status == 200 and json.loads(body) == described, "/v1/describe equals `vpced describe --json`")
status, headers, body = http("GET", "/v1/describe?format=text")
check(status == 200 and available[0]["VpcEndpointId"] in body, "/v1/describe?format=text")

# --- explain ---
def explain(params):
    status, _, body = http("GET", "/v1/explain?" + params)
    return status, json.loads(body)

status, e = explain("name=" + regional.upper())
tag = next(t["Value"] for t in available[0]["Tags"] if t["Key"] == "Name")
check(status == 200 and e["result"] == "hit" and e["rcode"] == "NOERROR", "explain regional: %s" % e)
check(e["view"] == "public" and e["zone"] == regional.split(".", 2)[2], "explain regional view/zone: %s" % e)
check(len(e["answer"]) == len(available[0]["NetworkInterfaces"]), "explain regional answer count: %s" % e["answer"])
check(any("regional name of endpoint '%s'" % tag in r for r in e["reasons"]), "explain names the endpoint: %s" % e["reasons"])

pending = next(x for x in described["VpcEndpoints"] if x["State"] == "pendingAcceptance")
status, e = explain("name=" + pending["DnsEntries"][0]["DnsName"] + "&from=127.16.0.9")
check(e["result"] == "nxdomain" and e["rcode"] == "NXDOMAIN", "explain pending: %s" % e)
check(any("until the provider accepts it" in r for r in e["reasons"]), "explain pending says why: %s" % e["reasons"])
check(e["from"] == "127.16.0.9", "explain echoes from")

status, e = explain("name=www.example.org&type=AAAA")
check(e["result"] == "refused" and e["zone"] is None and e["type"] == "AAAA", "explain outside: %s" % e)
check(any("outside every zone" in r for r in e["reasons"]), "explain outside says why: %s" % e["reasons"])

private = next(s["PrivateDnsName"] for s in described["ServiceConfigurations"] if "PrivateDnsName" in s)
status, e = explain("name=" + private)
check(e["result"] == "refused", "explain private name in the public view: %s" % e)
check(any("private DNS name" in r and "pendingVerification" in r for r in e["reasons"]), "explain private says why: %s" % e["reasons"])

# --- errors ---
status, _, body = http("GET", "/v1/explain")
check(status == 400 and "error" in json.loads(body), "explain without name: %s %s" % (status, body))
status, _, body = http("GET", "/v1/explain?name=x.example&from=not-an-ip")
check(status == 400 and "not-an-ip" in json.loads(body)["error"], "explain bad from: %s %s" % (status, body))
status, _, body = http("GET", "/v1/explain?name=x.example&type=BOGUS")
check(status == 400, "explain bad type: %s" % status)
status, _, body = http("GET", "/v1/nothing")
check(status == 404 and "error" in json.loads(body), "unknown path: %s" % status)
status, headers, body = http("GET", "/v1/reload")
check(status == 405 and headers.get("Allow") == "POST", "GET /v1/reload: %s %s" % (status, headers.get("Allow")))

print("CHECKS %d" % checks)
