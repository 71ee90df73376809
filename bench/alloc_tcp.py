"""Pipelined DNS-over-TCP queries against a vpced that runs under bench/alloc_preload: a warm-up, then BATCHES
batches of 100 queries on one connection (each batch sent in one piece, its 100 answers read), and the process's
heap allocations over them from ALLOC_COUNT_FILE. Prints one line; exits 1 when there were more than LIMIT.
usage: alloc_tcp.py PORT ZONE_FILE COUNT_FILE BATCHES LIMIT"""
import socket, struct, sys, time

port, zone_file, count_file, batches, limit = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
names = sorted({f[0] for f in (line.split() for line in open(zone_file)) if len(f) >= 5 and f[3] in ("A", "SOA")})


def framed(qid, name):
    wire = b"".join(bytes([len(x)]) + x.encode() for x in name.rstrip(".").split(".")) + b"\0"
    m = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + wire + struct.pack(">HH", 1, 1)
    return struct.pack(">H", len(m)) + m


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise SystemExit("vpced closed the connection")
        data += chunk
    return data


def count():
    time.sleep(0.2)  # the count file is rewritten every 50 ms
    return int(open(count_file).read())


s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
batch = b"".join(framed(i, names[i % len(names)]) for i in range(100))


def run(n):
    for _ in range(n):
        s.sendall(batch)
        for i in range(100):
            answer = recv_exact(s, struct.unpack(">H", recv_exact(s, 2))[0])
            if answer[:2] != struct.pack(">H", i):
                raise SystemExit("answer %d out of order" % i)


run(20)  # warm-up: the connection's buffers, the io_context's recycled operation memory
before = count()
run(batches)
after = count()
idle = count() - after
print("%d pipelined TCP queries in batches of 100: %d heap allocations (%d in the 0.2 s after, idle)"
      % (batches * 100, after - before, idle))
sys.exit(0 if after - before <= limit else 1)
