// Relay reconciliation with snapshots: which addresses listen, bind errors, status and metrics shape.
// (Relaying itself runs against real peers in tests/integration/relay.)
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "../fixture.hpp"
#include "proxy/relay.hpp"

using namespace vpced;

namespace {

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  return ntohs(sa.sin_port);
}

// kSmallConfig with the listener on `port`: endpoint "app" is available on 127.16.1.10 and 127.16.3.10,
// "pending" awaits acceptance, "gone" is rejected.
std::string config_on(uint16_t port, bool app_accepted = true) {
  std::string text = testing::kSmallConfig;
  auto at = text.find("listeners = [443]");
  REQUIRE(at != std::string::npos);
  text.replace(at, 17, "listeners = [" + std::to_string(port) + "]");
  if (!app_accepted) {
    at = text.find("accepted = [\"app\"]");
    REQUIRE(at != std::string::npos);
    text.replace(at, 18, "accepted = []");
  }
  return text;
}

sockaddr_in ipv4(const char* addr, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, addr, &sa.sin_addr);
  return sa;
}

// A TCP socket listening on addr:port, or -1.
int listening(const char* addr, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa = ipv4(addr, port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 16) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A connected TCP socket to addr:port, or -1.
int connected(const char* addr, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa = ipv4(addr, port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool connects(const char* addr, uint16_t port) {
  int fd = connected(addr, port);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

// The config's targets (127.0.0.1 in use1-az1, 127.0.0.2 in use1-az2) on `target_port`.
std::string targets_on(std::string text, uint16_t target_port) {
  std::string target_suffix = std::to_string(target_port);
  target_suffix.insert(0, 1, ':');  // not ":" + …: GCC 12 warns falsely (-Wrestrict) on that concatenation
  for (size_t at = text.find(":9443"); at != std::string::npos; at = text.find(":9443"))
    text.replace(at, 5, target_suffix);
  return text;
}

nlohmann::json endpoint_status(const nlohmann::json& status, const std::string& name) {
  for (const auto& e : status["endpoints"])
    if (e["name"] == name) return e;
  return {};
}

}  // namespace

TEST_CASE("Relay listens on the ENIs of available endpoints only", "[relay]") {
  const uint16_t port = free_port();
  proxy::Relay relay({}, {});
  relay.start();
  auto errors = relay.update(testing::snapshot_of(config_on(port)));
  CHECK(errors.empty());
  auto st = relay.status();
  const std::string p = std::to_string(port);
  CHECK(endpoint_status(st, "app")["listeners"] ==
        nlohmann::json::array({"127.16.1.10:" + p, "127.16.3.10:" + p}));
  CHECK(endpoint_status(st, "app")["state"] == "available");
  CHECK(endpoint_status(st, "pending")["listeners"].empty());
  CHECK(endpoint_status(st, "gone")["state"] == "rejected");
  CHECK(st["targets"].size() == 2);
  CHECK(st["targets"][0]["healthy"] == true);  // targets start healthy
  CHECK(relay.unhealthy_targets().empty());
  CHECK(connects("127.16.1.10", port));
  CHECK(connects("127.16.3.10", port));

  SECTION("an endpoint that leaves `available` stops listening") {
    CHECK(relay.update(testing::snapshot_of(config_on(port, false))).empty());
    CHECK(endpoint_status(relay.status(), "app")["listeners"].empty());
    bool refused = false;
    for (int i = 0; i < 100 && !refused; ++i) {  // the worker closes the socket just after update() returns
      refused = !connects("127.16.1.10", port);
      if (!refused) ::usleep(10000);
    }
    CHECK(refused);
  }
  SECTION("stop closes every listener") {
    relay.stop();
    CHECK_FALSE(connects("127.16.1.10", port));
    relay.stop();  // idempotent
  }
}

TEST_CASE("Relay reports an address it cannot bind and serves the others", "[relay]") {
  const uint16_t port = free_port();
  const int taken = listening("127.16.3.10", port);
  REQUIRE(taken >= 0);

  std::vector<std::string> logged;
  proxy::RelayCallbacks cb;
  cb.log = [&](std::string_view s) { logged.emplace_back(s); };
  proxy::Relay relay({}, cb);  // not started: update() binds on the caller's thread all the same
  auto snap = testing::snapshot_of(config_on(port));
  auto errors = relay.update(snap);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("127.16.3.10:" + std::to_string(port)) &&
                            Catch::Contains("another process serves it"));
  CHECK(relay.status()["listener_errors"].size() == 1);
  CHECK(endpoint_status(relay.status(), "app")["listeners"].size() == 1);
  CHECK(relay.update(snap).size() == 1);  // retried at each update, logged once
  CHECK(logged.size() == 1);

  ::close(taken);
  CHECK(relay.update(snap).empty());
  CHECK(endpoint_status(relay.status(), "app")["listeners"].size() == 2);
  CHECK(relay.status()["listener_errors"].empty());
}

TEST_CASE("Relay metrics name every family", "[relay]") {
  proxy::Relay relay({}, {});
  relay.update(testing::snapshot_of(config_on(free_port())));
  zones::MetricsWriter w;
  relay.collect(w);
  const std::string& text = w.text();
  for (const char* family : {"vpced_relay_connections_total", "vpced_relay_active_connections",
                             "vpced_relay_bytes_total", "vpced_relay_connect_failures_total",
                             "vpced_relay_target_healthy", "vpced_relay_rejected_connections_total"})
    CHECK_THAT(text, Catch::Contains(std::string("# TYPE ") + family));
  CHECK_THAT(text, Catch::Contains("vpced_relay_target_healthy{service=\"orders\",target=\"127.0.0.1:9443\"} 1"));
  CHECK_THAT(text, Catch::Contains("direction=\"to_target\""));
}

TEST_CASE("Relay keeps nothing for endpoints of a service without a load balancer", "[relay]") {
  const uint16_t port = free_port();
  // kSmallConfig plus a service that only publishes names ("names") with an available endpoint ("reader").
  std::string text = config_on(port);
  text += R"(
[[services]]
name = "names"
owner = "111122223333"
azs = ["use1-az1", "use1-az2"]
acceptance_required = false
allowed_principals = ["*"]

[[endpoints]]
name = "reader"
vpc = "vpc-0a000000000000001"
service = "names"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0a000000000000001"]
addresses = { "subnet-0a000000000000001" = "127.16.1.11" }
)";
  proxy::Relay relay({}, {});
  relay.start();
  REQUIRE(relay.update(testing::snapshot_of(text)).empty());
  auto st = relay.status();
  CHECK(endpoint_status(st, "app")["state"] == "available");
  CHECK(endpoint_status(st, "reader").is_null());  // no relay: no status entry
  CHECK(st["endpoints"].size() == 3);              // app, pending, gone
  CHECK_FALSE(connects("127.16.1.11", port));
  zones::MetricsWriter w;
  relay.collect(w);
  CHECK_THAT(w.text(), Catch::Contains("vpced_relay_active_connections{endpoint=\"vpce-0123456789abcdef0\"}"));
  size_t series = 0;  // one per endpoint with a relay: app, pending, gone
  for (size_t at = w.text().find("vpced_relay_active_connections{"); at != std::string::npos;
       at = w.text().find("vpced_relay_active_connections{", at + 1))
    ++series;
  CHECK(series == 3);

  SECTION("a load balancer added by a reload gives its endpoints counters and listeners") {
    std::string with_lb = text;
    with_lb.replace(with_lb.find("allowed_principals = [\"*\"]"), 26,
                    "allowed_principals = [\"*\"]\n  [services.load_balancer]\n  listeners = [" + std::to_string(port) +
                        "]\n  targets = [{ address = \"127.0.0.3:9443\", az = \"use1-az1\" }]");
    REQUIRE(relay.update(testing::snapshot_of(with_lb)).empty());
    auto st2 = relay.status();
    CHECK(endpoint_status(st2, "reader")["listeners"] == nlohmann::json::array({"127.16.1.11:" + std::to_string(port)}));
    CHECK(connects("127.16.1.11", port));
  }
}

TEST_CASE("a reload that removes a service's load balancer resets its open connections", "[relay]") {
  const uint16_t port = free_port();
  const uint16_t target_port = free_port();
  // The targets: listening sockets the kernel completes handshakes on (nobody needs to accept).
  std::vector<int> targets;
  for (const char* addr : {"127.0.0.1", "127.0.0.2"}) {
    targets.push_back(listening(addr, target_port));
    REQUIRE(targets.back() >= 0);
  }
  std::string text = targets_on(config_on(port), target_port);
  proxy::Relay relay({}, {});
  relay.start();
  REQUIRE(relay.update(testing::snapshot_of(text)).empty());

  const int client = connected("127.16.1.10", port);
  REQUIRE(client >= 0);
  bool open = false;
  for (int i = 0; i < 200 && !open; ++i) {  // the relay thread accepts and counts it
    open = endpoint_status(relay.status(), "app")["active_connections"] == 1;
    if (!open) ::usleep(10000);
  }
  REQUIRE(open);

  // The same config without the service's [services.load_balancer] table.
  const auto lb = text.find("  [services.load_balancer]");
  REQUIRE(lb != std::string::npos);
  const auto end = text.find("\n\n", lb);
  REQUIRE(end != std::string::npos);
  REQUIRE(relay.update(testing::snapshot_of(text.substr(0, lb) + text.substr(end + 1))).empty());
  CHECK(endpoint_status(relay.status(), "app").is_null());

  pollfd p{client, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 5000) == 1);  // reset (or closed) at once, not after an idle timeout
  char buf[16];
  CHECK(::recv(client, buf, sizeof buf, 0) <= 0);
  ::close(client);
  for (int fd : targets) ::close(fd);
}

TEST_CASE("a listener that runs out of descriptors pauses, and accepts the waiting connection after the backoff",
          "[relay]") {
  const uint16_t port = free_port();
  std::mutex mu;
  std::vector<std::string> logs;
  proxy::RelayOptions options;
  options.accept_backoff_ms = 50;
  proxy::RelayCallbacks callbacks;
  callbacks.log = [&](std::string_view line) {
    std::lock_guard lk(mu);
    logs.emplace_back(line);
  };
  proxy::Relay relay(options, callbacks);
  relay.start();
  REQUIRE(relay.update(testing::snapshot_of(config_on(port))).empty());
  const std::string accept_error = "relay: accept on 127.16.1.10:" + std::to_string(port) + ": ";
  const auto logged = [&] {
    std::lock_guard lk(mu);
    return std::any_of(logs.begin(), logs.end(), [&](const std::string& l) { return l.starts_with(accept_error); });
  };

  // The client's socket exists before the limit (connect needs no new descriptor). Then the soft limit goes
  // down to the lowest free descriptor, so the relay's accept4 fails with EMFILE while the kernel keeps the
  // completed connection queued.
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(client >= 0);
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  const int lowest = ::dup(0);
  REQUIRE(lowest >= 0);
  ::close(lowest);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(lowest);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
  const sockaddr_in sa = ipv4("127.16.1.10", port);
  const int rc = ::connect(client, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  bool paused = false;
  for (int i = 0; i < 200 && !paused; ++i) {
    paused = logged();
    if (!paused) ::usleep(10000);
  }
  const uint64_t accepted_while_short = endpoint_status(relay.status(), "app")["connections_total"];
  ::setrlimit(RLIMIT_NOFILE, &saved);  // restored before any REQUIRE below could leave the test
  REQUIRE(rc == 0);
  REQUIRE(paused);
  CHECK(accepted_while_short == 0);

  // Descriptors again: the listener resumes after the backoff and takes the connection that waited.
  bool accepted = false;
  for (int i = 0; i < 200 && !accepted; ++i) {
    accepted = endpoint_status(relay.status(), "app")["connections_total"] == 1;
    if (!accepted) ::usleep(10000);
  }
  CHECK(accepted);
  ::close(client);
}

TEST_CASE("a reload that changes a service's ports adds, keeps and closes listeners in one pass", "[relay]") {
  const uint16_t a = free_port();
  uint16_t b = free_port();
  while (b == a) b = free_port();
  const auto with_ports = [&](const std::vector<uint16_t>& ports) {
    std::string text = config_on(a);
    const std::string from = "listeners = [" + std::to_string(a) + "]";
    std::string to = "listeners = [";
    for (uint16_t p : ports) to += std::to_string(p) + (p == ports.back() ? "]" : ", ");
    text.replace(text.find(from), from.size(), to);
    return testing::snapshot_of(text);
  };
  const auto accepted_total = [](proxy::Relay& relay, uint64_t want) {
    for (int i = 0; i < 200; ++i) {  // the relay thread accepts and counts
      if (endpoint_status(relay.status(), "app")["connections_total"] == want) return true;
      ::usleep(10000);
    }
    return false;
  };
  const auto refused = [](const char* addr, uint16_t port) {
    for (int i = 0; i < 100; ++i) {  // the worker closes the socket just after update() returns
      if (!connects(addr, port)) return true;
      ::usleep(10000);
    }
    return false;
  };
  proxy::Relay relay({}, {});
  relay.start();
  // Both ports on both ENIs: the worker's keys interleave (address, then port), old and new.
  REQUIRE(relay.update(with_ports({a})).empty());
  REQUIRE(relay.update(with_ports({a, b})).empty());
  CHECK(endpoint_status(relay.status(), "app")["listeners"].size() == 4);
  uint64_t total = 0;
  for (const char* addr : {"127.16.1.10", "127.16.3.10"})
    for (uint16_t port : {a, b}) {
      CHECK(connects(addr, port));
      CHECK(accepted_total(relay, ++total));  // every listener, old or adopted, accepts for the endpoint
    }

  // Only the second port: the first one's listeners close, the second's are kept and still accept.
  REQUIRE(relay.update(with_ports({b})).empty());
  CHECK(refused("127.16.1.10", a));
  CHECK(refused("127.16.3.10", a));
  // A connection the closing listeners took before they closed counts too; none can come after.
  total = endpoint_status(relay.status(), "app")["connections_total"];
  for (const char* addr : {"127.16.1.10", "127.16.3.10"}) {
    CHECK(connects(addr, b));
    CHECK(accepted_total(relay, ++total));
  }

  // And the first port back: its new sockets are adopted between the kept ones.
  REQUIRE(relay.update(with_ports({a, b})).empty());
  for (const char* addr : {"127.16.1.10", "127.16.3.10"})
    for (uint16_t port : {a, b}) {
      CHECK(connects(addr, port));
      CHECK(accepted_total(relay, ++total));
    }
}

TEST_CASE("a reload that moves an ENI to another AZ sends its new connections to that AZ's target", "[relay]") {
  const uint16_t port = free_port();
  const uint16_t target_port = free_port();
  std::vector<int> targets;  // the kernel completes their handshakes; nobody needs to accept
  for (const char* addr : {"127.0.0.1", "127.0.0.2"}) {
    targets.push_back(listening(addr, target_port));
    REQUIRE(targets.back() >= 0);
  }
  // The consumer account names us-east-1a use1-az2: the ENI 127.16.1.10 is in use1-az2, whose target is
  // 127.0.0.2. Swapping the account's names puts the same ENI (the same listener) in use1-az1.
  const std::string text = targets_on(config_on(port), target_port);
  const std::string names = R"("us-east-1a" = "use1-az2", "us-east-1b" = "use1-az4", "us-east-1c" = "use1-az1")";
  const std::string swapped = R"("us-east-1a" = "use1-az1", "us-east-1b" = "use1-az4", "us-east-1c" = "use1-az2")";
  std::string moved = text;
  REQUIRE(moved.find(names) != std::string::npos);
  moved.replace(moved.find(names), names.size(), swapped);
  const auto to_target = [&](proxy::Relay& relay, const char* target) {
    const nlohmann::json per_target = endpoint_status(relay.status(), "app")["connections_per_target"];
    const std::string key = std::string(target) + ":" + std::to_string(target_port);
    return per_target.contains(key) ? per_target[key].get<uint64_t>() : uint64_t{0};
  };
  const auto relayed_to = [&](proxy::Relay& relay, const char* target, uint64_t want) {
    for (int i = 0; i < 200; ++i) {  // the relay thread accepts, chooses and connects
      if (to_target(relay, target) == want) return true;
      ::usleep(10000);
    }
    return false;
  };

  proxy::Relay relay({}, {});
  relay.start();
  REQUIRE(relay.update(testing::snapshot_of(text)).empty());
  int client = connected("127.16.1.10", port);
  REQUIRE(client >= 0);
  CHECK(relayed_to(relay, "127.0.0.2", 1));
  ::close(client);

  REQUIRE(relay.update(testing::snapshot_of(moved)).empty());
  client = connected("127.16.1.10", port);
  REQUIRE(client >= 0);
  CHECK(relayed_to(relay, "127.0.0.1", 1));
  CHECK(to_target(relay, "127.0.0.2") == 1);  // the counters carried over; nothing more went there
  ::close(client);
  for (int fd : targets) ::close(fd);
}
