// Tests of the DNS server's hold on snapshots: once a new one is published, no thread keeps the old one alive.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>

#include "dns/server.hpp"
#include "dns_test_util.hpp"
#include "../fixture.hpp"

using namespace vpced;

namespace {

// A port free for TCP and UDP on 127.0.0.1 right now (the kernel's choice for an ephemeral TCP bind).
uint16_t free_port() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    int t = ::socket(AF_INET, SOCK_STREAM, 0), u = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (::bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(t, reinterpret_cast<sockaddr*>(&a), &len) == 0 &&
        ::bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
      port = ntohs(a.sin_port);
    ::close(t);
    ::close(u);
    if (port) return port;
  }
  FAIL("no free port");
  return 0;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

// One UDP query; true when an answer with the query's ID came back within 2 s.
bool udp_answered(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const auto q = testing::make_query("us-east-1.vpce.amazonaws.com", 6);
  const sockaddr_in to = loopback(port);
  ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  uint8_t buf[1500];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ::close(fd);
  return n >= 12 && buf[0] == q[0] && buf[1] == q[1];
}

// Connects over TCP, sends one query, reads the two-byte length of its answer, closes: the accept loop and a
// session both ran. True when the length arrived.
bool tcp_answered(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const sockaddr_in to = loopback(port);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) {
    auto q = testing::make_query("us-east-1.vpce.amazonaws.com", 6);
    std::vector<uint8_t> framed = {static_cast<uint8_t>(q.size() >> 8), static_cast<uint8_t>(q.size())};
    framed.insert(framed.end(), q.begin(), q.end());
    uint8_t len[2];
    ok = ::send(fd, framed.data(), framed.size(), 0) == static_cast<ssize_t>(framed.size()) &&
         ::recv(fd, len, 2, MSG_WAITALL) == 2;
  }
  ::close(fd);
  return ok;
}

// Waits up to 5 s for `w` to expire (the server's threads let go at their own pace).
bool released(const std::weak_ptr<const zones::Snapshot>& w) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!w.expired() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return w.expired();
}

}  // namespace

TEST_CASE("dns server: an idle server lets the previous snapshot go once told of a new one") {
  zones::SnapshotHolder holder;
  dns::DnsMetrics metrics;
  dns::ServerOptions options;
  options.threads = 2;
  std::weak_ptr<const zones::Snapshot> first;
  {
    auto snap = testing::snapshot_of(testing::kSmallConfig, 2026112701);
    first = snap;
    holder.publish(std::move(snap));
  }
  dns::DnsServer server(holder, metrics, options);
  server.start();
  const uint16_t port = free_port();
  server.set_listeners({zones::HostPort{*zones::parse_ip("127.0.0.1"), port}});
  // Every UDP thread and the TCP accept loops have seen the first snapshot (a few queries reach both workers).
  for (int i = 0; i < 8; ++i) {
    REQUIRE(udp_answered(port));
    REQUIRE(tcp_answered(port));
  }
  REQUIRE_FALSE(first.expired());

  holder.publish(testing::snapshot_of(testing::kSmallConfig, 2026112702));
  server.snapshot_published();
  // No query arrives: without the wake-up an idle UDP thread (and a listener without new connections) would
  // hold the first snapshot, its model and config until the next query.
  CHECK(released(first));

  // Still serving, from the new snapshot.
  CHECK(udp_answered(port));
  CHECK(tcp_answered(port));
  server.stop();
}
