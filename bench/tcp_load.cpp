// A small epoll TCP load tool for the relay benchmark and the relay soak test (docs/performance.md).
//
//   tcp_load serve HOST:PORT
//       Accepts connections; skips a PROXY v2 header when one arrives, reads the request line ("GET\n"),
//       answers "OK <n>\n" (n = the PROXY header's length, 0 without one) and closes. Runs until killed.
//   tcp_load connect HOST:PORT -n COUNT [-c CONCURRENCY] [-t SECONDS] [-s SOURCE_PREFIX]
//       Keeps CONCURRENCY connections in flight, each: connect, send "GET\n", read until EOF, close; stops
//       after COUNT connections or SECONDS. Sources rotate over SOURCE_PREFIX.1 … .250 (e.g. 127.16.0) so
//       ephemeral ports do not run out. Prints one line:
//         connections N failed F seconds T rate R
//       and exits 1 when a reply is not "OK".
//   tcp_load idle HOST:PORT -n COUNT [-s SOURCE_PREFIX]
//       Opens COUNT connections that send nothing, prints "open N" once all are established, then holds them
//       until stdin reaches EOF.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "tcp_load: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(2);
}

sockaddr_in parse(const std::string& hp) {
  auto colon = hp.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "tcp_load: HOST:PORT expected, got '%s'\n", hp.c_str());
    std::exit(2);
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::atoi(hp.c_str() + colon + 1)));
  if (inet_pton(AF_INET, hp.substr(0, colon).c_str(), &sa.sin_addr) != 1) die("bad address " + hp);
  return sa;
}

constexpr uint8_t kSig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// --- serve ----------------------------------------------------------------------------------------------

struct ServerConn {
  std::string in;
};

int serve(const sockaddr_in& addr) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) die("bind");
  if (listen(ls, 4096) != 0) die("listen");
  int ep = epoll_create1(0);
  epoll_event ev{EPOLLIN, {.fd = ls}};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  std::vector<ServerConn> conns(1 << 16);
  epoll_event events[256];
  char buf[4096];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == ls) {
        for (;;) {
          int c = accept4(ls, nullptr, nullptr, SOCK_NONBLOCK);
          if (c < 0) break;
          if (static_cast<size_t>(c) >= conns.size()) conns.resize(static_cast<size_t>(c) * 2);
          conns[static_cast<size_t>(c)].in.clear();
          epoll_event cev{EPOLLIN, {.fd = c}};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      std::string& in = conns[static_cast<size_t>(fd)].in;
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) {
        close(fd);
        continue;
      }
      in.append(buf, static_cast<size_t>(r));
      size_t header = 0;
      if (in.size() >= 1 && static_cast<uint8_t>(in[0]) == kSig[0]) {
        if (in.size() < 16) continue;
        if (std::memcmp(in.data(), kSig, 12) != 0) {
          close(fd);
          continue;
        }
        header = 16 + (static_cast<size_t>(static_cast<uint8_t>(in[14])) << 8 | static_cast<uint8_t>(in[15]));
        if (in.size() < header) continue;
      }
      if (in.find('\n', header) == std::string::npos) continue;
      std::string reply = "OK " + std::to_string(header) + "\n";
      if (write(fd, reply.data(), reply.size()) < 0) {
      }
      close(fd);  // the server closes first: its side keeps the TIME_WAIT
    }
  }
}

// --- connect / idle ---------------------------------------------------------------------------------------

struct Sources {
  std::string prefix;
  unsigned next = 0;
  void bind_next(int fd) {
    if (prefix.empty()) return;
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    std::string ip = prefix + "." + std::to_string(1 + next++ % 250);
    inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) die("bind " + ip);
  }
};

int open_conn(const sockaddr_in& to, Sources& src) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  src.bind_next(fd);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

struct ClientConn {
  bool connected = false;
  std::string in;
};

int run_connect(const sockaddr_in& to, long count, int concurrency, double seconds, Sources& src) {
  int ep = epoll_create1(0);
  std::vector<ClientConn> conns(1 << 16);
  long started = 0, done = 0, failed = 0, bad = 0;
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  int inflight = 0;
  auto start_one = [&] {
    int fd = open_conn(to, src);
    ++started;
    if (fd < 0) {
      ++failed;
      return;
    }
    if (static_cast<size_t>(fd) >= conns.size()) conns.resize(static_cast<size_t>(fd) * 2);
    conns[static_cast<size_t>(fd)] = {};
    epoll_event ev{EPOLLOUT | EPOLLIN, {.fd = fd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    ++inflight;
  };
  auto finish = [&](int fd, bool ok) {
    close(fd);
    --inflight;
    if (ok)
      ++done;
    else
      ++failed;
  };
  epoll_event events[256];
  char buf[512];
  while (true) {
    const bool more = started < count && Clock::now() < deadline;
    while (more && inflight < concurrency && started < count) start_one();
    if (inflight == 0 && !more) break;
    int n = epoll_wait(ep, events, 256, 100);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      ClientConn& c = conns[static_cast<size_t>(fd)];
      if (!c.connected) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          finish(fd, false);
          continue;
        }
        c.connected = true;
        if (write(fd, "GET\n", 4) != 4) {
          finish(fd, false);
          continue;
        }
        epoll_event ev{EPOLLIN, {.fd = fd}};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r > 0) {
        c.in.append(buf, static_cast<size_t>(r));
        continue;
      }
      if (r < 0 && errno == EAGAIN) continue;
      const bool ok = r == 0 && c.in.rfind("OK ", 0) == 0;
      if (r == 0 && !ok) ++bad;
      finish(fd, ok);
    }
  }
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("connections %ld failed %ld seconds %.3f rate %.0f\n", done, failed, took, done / took);
  return bad ? 1 : 0;
}

int run_idle(const sockaddr_in& to, long count, Sources& src) {
  std::vector<int> fds;
  int ep = epoll_create1(0);
  for (long i = 0; i < count; ++i) {
    int fd = open_conn(to, src);
    if (fd < 0) die("connect");
    epoll_event ev{EPOLLOUT, {.fd = fd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    fds.push_back(fd);
  }
  long established = 0;
  epoll_event events[256];
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (established < count && Clock::now() < deadline) {
    int n = epoll_wait(ep, events, 256, 1000);
    for (int i = 0; i < n; ++i) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(events[i].data.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) die("connect");
      epoll_ctl(ep, EPOLL_CTL_DEL, events[i].data.fd, nullptr);
      ++established;
    }
  }
  std::printf("open %ld\n", established);
  std::fflush(stdout);
  while (read(0, events, sizeof events) > 0) {
  }
  for (int fd : fds) close(fd);
  return established == count ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: tcp_load serve|connect|idle HOST:PORT [-n COUNT] [-c CONC] [-t SECONDS] [-s PREFIX]\n");
    return 2;
  }
  const std::string mode = argv[1];
  const sockaddr_in addr = parse(argv[2]);
  long count = 1000;
  int concurrency = 64;
  double seconds = 60;
  Sources src;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "-n") count = std::atol(argv[i + 1]);
    else if (k == "-c") concurrency = std::atoi(argv[i + 1]);
    else if (k == "-t") seconds = std::atof(argv[i + 1]);
    else if (k == "-s") src.prefix = argv[i + 1];
    else {
      std::fprintf(stderr, "tcp_load: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (mode == "serve") return serve(addr);
  if (mode == "connect") return run_connect(addr, count, concurrency, seconds, src);
  if (mode == "idle") return run_idle(addr, count, src);
  std::fprintf(stderr, "tcp_load: unknown mode %s\n", mode.c_str());
  return 2;
}
