// Health state machine: thresholds driven by an injected sequence of check results (no sockets, no sleeps).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "proxy/health.hpp"

using namespace vpced::proxy;

namespace {

// Feeds "o" (ok) and "x" (failed) results; returns the health after each one ('H' or 'U') and where it flipped.
struct Trace {
  std::string health;
  std::string flips;
};

Trace run(const std::string& results, HealthThresholds t, HealthState s = {}) {
  Trace out;
  for (char r : results) {
    bool changed = s.observe(r == 'o', t);
    out.health += s.healthy ? 'H' : 'U';
    out.flips += changed ? '^' : '.';
  }
  return out;
}

}  // namespace

TEST_CASE("HealthState starts healthy", "[health]") {
  HealthState s;
  CHECK(s.healthy);
  CHECK(s.consecutive_ok == 0);
  CHECK(s.consecutive_fail == 0);
}

TEST_CASE("HealthState follows the thresholds", "[health]") {
  struct Case {
    const char* results;
    HealthThresholds thresholds;
    const char* health;
    const char* flips;
  };
  const Case cases[] = {
      // ELBv2 defaults: 2 failures out, 5 successes back.
      {"oooo", {5, 2}, "HHHH", "...."},
      {"x", {5, 2}, "H", "."},
      {"xx", {5, 2}, "HU", ".^"},
      {"xoxoxo", {5, 2}, "HHHHHH", "......"},  // failures must be consecutive
      {"xxooooo", {5, 2}, "HUUUUUH", ".^....^"},
      {"xxoooxooooo", {5, 2}, "HUUUUUUUUUH", ".^........^"},  // one failure restarts the count back
      {"xxxxxx", {5, 2}, "HUUUUU", ".^...."},  // reported once
      // The range's other end: 10 failures out, 10 successes back.
      {"xxxxxxxxx", {10, 10}, "HHHHHHHHH", "........."},
      {"xxxxxxxxxx", {10, 10}, "HHHHHHHHHU", ".........^"},
      // The example config: 3 back, 2 out.
      {"xxoooxxooo", {3, 2}, "HUUUHHUUUH", ".^..^.^..^"},
  };
  for (const auto& c : cases) {
    INFO(c.results);
    Trace t = run(c.results, c.thresholds);
    CHECK(t.health == c.health);
    CHECK(t.flips == c.flips);
  }
}

TEST_CASE("HealthState counts consecutive results", "[health]") {
  HealthState s;
  HealthThresholds t{3, 2};
  s.observe(true, t);
  s.observe(true, t);
  CHECK(s.consecutive_ok == 2);
  CHECK(s.consecutive_fail == 0);
  s.observe(false, t);
  CHECK(s.consecutive_ok == 0);
  CHECK(s.consecutive_fail == 1);
  CHECK(s.healthy);
}

// The Asio driver against a real loopback port: bounded by run_for, no fixed sleeps.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <tuple>

#include "proxy/asio.hpp"
#include "proxy/proxy_v2.hpp"

namespace {

int listen_on(uint16_t port, int backlog = 16) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  REQUIRE(::listen(fd, backlog) == 0);
  return fd;
}

// A check of 127.0.0.1:port, thresholds 2 and 2.
HealthCheckSpec spec_on(const std::string& service, uint16_t port, std::chrono::milliseconds interval,
                        std::chrono::milliseconds timeout) {
  HealthCheckSpec s;
  s.service = service;
  s.target = *vpced::zones::parse_host_port("127.0.0.1:" + std::to_string(port));
  s.interval = interval;
  s.timeout = timeout;
  s.thresholds = {2, 2};
  return s;
}

uint16_t port_of(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

}  // namespace

TEST_CASE("HealthChecker drives the state machine with TCP connects", "[health][asio]") {
  boost::asio::io_context ctx;
  int fd = listen_on(0);
  const uint16_t port = port_of(fd);
  std::vector<std::pair<std::string, bool>> changes;
  HealthChecker checker(ctx, [&](const std::string& service, const vpced::zones::HostPort& target, bool healthy) {
    CHECK(target.port == port);
    changes.emplace_back(service, healthy);
  });
  // The timeout is long enough that a connect to a listening socket never times out on a loaded machine; a
  // closed port is refused at once, so the down phase below does not wait for it.
  HealthCheckSpec spec = spec_on("orders", port, std::chrono::milliseconds(20), std::chrono::milliseconds(2000));
  spec.proxy_protocol_v2 = true;
  checker.set_targets({spec});

  // Up: checks pass and each connection starts with a LOCAL header.
  for (int i = 0; i < 100; ++i) {
    ctx.run_for(std::chrono::milliseconds(20));
    if (checker.state("orders", spec.target) && checker.state("orders", spec.target)->consecutive_ok >= 2) break;
  }
  CHECK(changes.empty());
  REQUIRE(checker.state("orders", spec.target));
  CHECK(checker.state("orders", spec.target)->consecutive_ok >= 2);
  int conn = ::accept(fd, nullptr, nullptr);
  REQUIRE(conn >= 0);
  uint8_t buf[64];
  ssize_t n = ::recv(conn, buf, sizeof buf, 0);
  ::close(conn);
  const auto local = encode_proxy_v2_local();
  REQUIRE(n == static_cast<ssize_t>(local.size()));
  CHECK(std::equal(local.begin(), local.end(), buf));

  // Down: the port closes; two failures flip it once.
  ::close(fd);
  for (int i = 0; i < 50 && changes.empty(); ++i) ctx.run_for(std::chrono::milliseconds(20));
  REQUIRE(changes.size() == 1);
  CHECK(changes[0] == std::make_pair(std::string("orders"), false));

  // A new interval and thresholds keep the state.
  spec.thresholds = {3, 2};
  checker.set_targets({spec});
  CHECK_FALSE(checker.state("orders", spec.target)->healthy);

  // Back: listening again, three passes bring it back.
  fd = listen_on(port);
  for (int i = 0; i < 50 && changes.size() < 2; ++i) ctx.run_for(std::chrono::milliseconds(20));
  REQUIRE(changes.size() == 2);
  CHECK(changes[1] == std::make_pair(std::string("orders"), true));

  // Removed: no state, no callback.
  checker.set_targets({});
  CHECK_FALSE(checker.state("orders", spec.target));
  ::close(fd);
  ctx.run_for(std::chrono::milliseconds(60));
  CHECK(changes.size() == 2);
}

TEST_CASE("HealthChecker times out a hanging connect and cancels the check of a removed target", "[health][asio]") {
  boost::asio::io_context ctx;
  // A listener whose accept queue (backlog 0: one connection) is filled and never drained: the kernel drops
  // further SYNs, so a check's connect to it hangs until the check's timeout.
  int hung_fd = listen_on(0, 0);
  const uint16_t hung_port = port_of(hung_fd);
  int filler = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(hung_port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(filler, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  pollfd pf{filler, POLLOUT, 0};
  REQUIRE(::poll(&pf, 1, 5000) == 1);  // established: the queue is full now
  int up_fd = listen_on(0);

  std::vector<std::tuple<std::string, uint16_t, bool>> changes;
  HealthChecker checker(ctx, [&](const std::string& service, const vpced::zones::HostPort& target, bool healthy) {
    changes.emplace_back(service, target.port, healthy);
  });
  HealthCheckSpec hung = spec_on("hung", hung_port, std::chrono::milliseconds(50), std::chrono::milliseconds(50));
  HealthCheckSpec up = spec_on("up", port_of(up_fd), std::chrono::milliseconds(20), std::chrono::milliseconds(2000));
  checker.set_targets({hung, up});

  // Two timeouts take the hung target out; the other target, on its own schedule, stays in.
  for (int i = 0; i < 100 && changes.empty(); ++i) ctx.run_for(std::chrono::milliseconds(20));
  REQUIRE(changes.size() == 1);
  CHECK(changes[0] == std::make_tuple(std::string("hung"), hung_port, false));
  for (int i = 0; i < 100 && checker.state("up", up.target)->consecutive_ok < 3; ++i)
    ctx.run_for(std::chrono::milliseconds(20));
  CHECK(checker.state("up", up.target)->healthy);
  CHECK(checker.state("up", up.target)->consecutive_ok >= 3);

  // A long timeout from the next check on: that check hangs (no result for the whole wait below)...
  hung.timeout = std::chrono::seconds(30);
  checker.set_targets({hung, up});
  ctx.run_for(std::chrono::milliseconds(100));
  const uint32_t failures = checker.state("hung", hung.target)->consecutive_fail;
  ctx.run_for(std::chrono::milliseconds(200));
  CHECK(checker.state("hung", hung.target)->consecutive_fail == failures);

  // ...and removing the target cancels it: no callback, no state, and once the checker stops nothing is left
  // on the context (the 30 s timeout would keep it busy), so run_for returns with the context out of work.
  checker.set_targets({up});
  CHECK_FALSE(checker.state("hung", hung.target));
  ctx.run_for(std::chrono::milliseconds(100));
  CHECK(changes.size() == 1);
  checker.stop();
  ctx.run_for(std::chrono::seconds(10));
  CHECK(ctx.stopped());
  CHECK(changes.size() == 1);
  ::close(filler);
  ::close(hung_fd);
  ::close(up_fd);
}

TEST_CASE("HealthChecker starts more targets than one burst at once, and a re-added target starts afresh",
          "[health][asio]") {
  boost::asio::io_context ctx;
  // A port nobody listens on: every connect is refused at once.
  int closed = listen_on(0);
  const uint16_t closed_port = port_of(closed);
  ::close(closed);
  std::vector<std::string> down;
  HealthChecker checker(ctx, [&](const std::string& service, const vpced::zones::HostPort&, bool healthy) {
    if (!healthy) down.push_back(service);
  });
  // 150 targets (three bursts of at most 64 starts), a long interval: each is checked once at the start, and
  // with thresholds {1, 1} that one refused connect takes it out. Waiting for the interval would take 60 s.
  std::vector<HealthCheckSpec> specs;
  for (int i = 0; i < 150; ++i) {
    const std::string service = std::string(1, 's').append(std::to_string(i));  // not "s" + …: GCC 12 -Wrestrict
    specs.push_back(spec_on(service, closed_port, std::chrono::seconds(60), std::chrono::seconds(2)));
    specs.back().thresholds = {1, 1};
  }
  checker.set_targets(specs);
  for (int i = 0; i < 250 && down.size() < specs.size(); ++i) ctx.run_for(std::chrono::milliseconds(20));
  CHECK(down.size() == specs.size());
  for (const auto& s : specs) {
    REQUIRE(checker.state(s.service, s.target));
    CHECK(checker.state(s.service, s.target)->consecutive_fail == 1);  // once each, not again before 60 s
  }

  // Removed and added back: a new target, healthy, checked at once again.
  checker.set_targets({});
  checker.set_targets({specs[7]});
  REQUIRE(checker.state("s7", specs[7].target));
  CHECK(checker.state("s7", specs[7].target)->healthy);
  CHECK(checker.state("s7", specs[7].target)->consecutive_fail == 0);
  for (int i = 0; i < 100 && checker.state("s7", specs[7].target)->healthy; ++i)
    ctx.run_for(std::chrono::milliseconds(20));
  CHECK_FALSE(checker.state("s7", specs[7].target)->healthy);
  CHECK(std::count(down.begin(), down.end(), "s7") == 2);
  checker.stop();
}
