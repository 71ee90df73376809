// Tests of the per-source TCP connection counters: the limit, release, the /64 key, and threads racing on one slot.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "dns/tcp_sources.hpp"

using namespace vpced;
using namespace vpced::dns;

namespace {

zones::IpAddr ip(const char* text) {
  auto a = zones::parse_ip(text);
  REQUIRE(a);
  return *a;
}

}  // namespace

TEST_CASE("tcp sources: at most `limit` connections per source, released ones come back") {
  TcpSourceCounter counter(1024, 42);
  const size_t s = counter.slot(ip("127.50.0.1"));
  for (int i = 0; i < 64; ++i) CHECK(counter.try_acquire(s, 64));
  CHECK_FALSE(counter.try_acquire(s, 64));
  CHECK_FALSE(counter.try_acquire(s, 64));
  CHECK(counter.held(s) == 64);  // a refusal leaves nothing behind
  counter.release(s);
  CHECK(counter.try_acquire(s, 64));
  CHECK_FALSE(counter.try_acquire(s, 64));
  // Another source has its own counter (with this seed the two slots differ).
  const size_t other = counter.slot(ip("127.50.0.2"));
  REQUIRE(other != s);
  CHECK(counter.try_acquire(other, 64));
  CHECK(counter.held(other) == 1);
}

TEST_CASE("tcp sources: limit 0 admits everything but still counts") {
  TcpSourceCounter counter(1024, 7);
  const size_t s = counter.slot(ip("192.0.2.1"));
  for (int i = 0; i < 1000; ++i) CHECK(counter.try_acquire(s, 0));
  CHECK(counter.held(s) == 1000);
  CHECK_FALSE(counter.try_acquire(s, 1000));  // a limit set later sees the connections already open
  for (int i = 0; i < 1000; ++i) counter.release(s);
  CHECK(counter.held(s) == 0);
}

TEST_CASE("tcp sources: an IPv6 source is keyed by its /64, an IPv4 one by its /32") {
  TcpSourceCounter counter(1 << 14, 99);
  CHECK(counter.slot(ip("2001:db8:1:2::1")) == counter.slot(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")));
  CHECK(counter.slot(ip("2001:db8:1:2::1")) != counter.slot(ip("2001:db8:1:3::1")));
  CHECK(counter.slot(ip("10.0.0.1")) != counter.slot(ip("10.0.0.2")));
  // Different seeds place a source differently (a sender cannot aim at a victim's slot).
  TcpSourceCounter other(1 << 14, 100);
  int same = 0;
  for (int i = 1; i <= 16; ++i) {
    const std::string a = "10.1.0." + std::to_string(i);
    same += counter.slot(ip(a.c_str())) == other.slot(ip(a.c_str()));
  }
  CHECK(same < 4);
}

TEST_CASE("tcp sources: four threads racing on one slot admit exactly the limit") {
  TcpSourceCounter counter(64, 5);
  const size_t s = counter.slot(ip("127.50.0.1"));
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i)
        if (counter.try_acquire(s, 100)) admitted.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  CHECK(admitted.load() == 100);
  CHECK(counter.held(s) == 100);
}
