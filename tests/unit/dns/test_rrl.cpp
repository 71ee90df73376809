// Tests of response rate limiting: the GCRA buckets with an injected clock, prefixes, slip, and the slip answer.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "dns/rrl.hpp"
#include "dns/wire.hpp"
#include "dns_test_util.hpp"

using namespace vpced;
using namespace vpced::dns;

namespace {

constexpr uint64_t kSecond = 1000000;
constexpr uint64_t kT0 = 5 * kSecond;  // any start; the clock only has to be monotonic

zones::IpAddr ip(const char* text) {
  auto a = zones::parse_ip(text);
  REQUIRE(a);
  return *a;
}

zones::RrlConfig config(uint32_t rate, uint32_t slip = 2) {
  zones::RrlConfig c;
  c.rate = rate;
  c.slip = slip;
  return c;
}

// How many of `n` responses to `source`, all at `now`, the limiter lets through.
int allowed(RateLimiter& rl, const char* source, const zones::RrlConfig& c, uint64_t now, int n) {
  int ok = 0;
  for (int i = 0; i < n; ++i) ok += rl.allow(ip(source), c, now) ? 1 : 0;
  return ok;
}

}  // namespace

TEST_CASE("rate 0 turns RRL off", "[rrl]") {
  RateLimiter rl(1024, 42);
  uint32_t count = 0;
  const auto c = config(0);
  for (int i = 0; i < 10000; ++i) REQUIRE(rrl_decide(rl, c, ip("127.0.0.1"), kT0, count) == RrlAction::Pass);
}

TEST_CASE("a prefix gets `rate` responses at once, then `rate` per second", "[rrl]") {
  RateLimiter rl(1024, 42);
  const auto c = config(10);
  CHECK(allowed(rl, "127.1.2.3", c, kT0, 25) == 10);
  CHECK(allowed(rl, "127.1.2.3", c, kT0 + kSecond / 10 - 1, 5) == 0);  // not a whole token yet
  CHECK(allowed(rl, "127.1.2.3", c, kT0 + kSecond / 10, 5) == 1);
  CHECK(allowed(rl, "127.1.2.3", c, kT0 + kSecond / 2, 10) == 4);
  // A long pause refills the bucket to `rate`, not more.
  CHECK(allowed(rl, "127.1.2.3", c, kT0 + 60 * kSecond, 100) == 10);
  // A steady 10/s is never limited.
  int ok = 0;
  for (int i = 1; i <= 50; ++i) ok += rl.allow(ip("127.1.2.3"), c, kT0 + 61 * kSecond + i * kSecond / 10) ? 1 : 0;
  CHECK(ok == 50);
}

TEST_CASE("sources share a bucket per /24 and per /56 by default", "[rrl]") {
  RateLimiter rl(4096, 7);
  const auto c = config(4);
  CHECK(allowed(rl, "127.1.2.3", c, kT0, 2) == 2);
  CHECK(allowed(rl, "127.1.2.200", c, kT0, 5) == 2);  // same /24: the rest of the same bucket
  CHECK(allowed(rl, "127.1.3.3", c, kT0, 5) == 4);    // the next /24 is unaffected
  CHECK(allowed(rl, "10.1.2.3", c, kT0, 5) == 4);
  CHECK(allowed(rl, "2001:db8:0:1200::1", c, kT0, 3) == 3);
  CHECK(allowed(rl, "2001:db8:0:12ff:ffff::9", c, kT0, 3) == 1);  // same /56
  CHECK(allowed(rl, "2001:db8:0:1300::1", c, kT0, 5) == 4);        // the next /56
}

TEST_CASE("the prefix lengths are configurable", "[rrl]") {
  RateLimiter rl(4096, 7);
  auto c = config(3);
  c.ipv4_prefix = 32;
  c.ipv6_prefix = 64;
  CHECK(allowed(rl, "127.1.2.3", c, kT0, 5) == 3);
  CHECK(allowed(rl, "127.1.2.4", c, kT0, 5) == 3);
  CHECK(allowed(rl, "2001:db8::1", c, kT0, 5) == 3);
  CHECK(allowed(rl, "2001:db8::2", c, kT0, 5) == 0);  // same /64
  CHECK(allowed(rl, "2001:db8:0:1::1", c, kT0, 5) == 3);
  c.ipv4_prefix = 16;
  CHECK(allowed(rl, "127.9.0.1", c, kT0, 2) == 2);
  CHECK(allowed(rl, "127.9.200.1", c, kT0, 5) == 1);
}

TEST_CASE("slip: every Nth limited response is truncated, the others dropped", "[rrl]") {
  RateLimiter rl(1024, 42);
  std::vector<RrlAction> seen;
  auto run = [&](uint32_t slip) {
    seen.clear();
    uint32_t count = 0;
    const auto c = config(2, slip);
    const auto src = ip(slip == 0 ? "127.0.0.1" : slip == 1 ? "127.0.1.1" : "127.0.2.1");
    for (int i = 0; i < 8; ++i) seen.push_back(rrl_decide(rl, c, src, kT0, count));
  };
  using A = RrlAction;
  run(2);
  CHECK(seen == std::vector<A>{A::Pass, A::Pass, A::Drop, A::Slip, A::Drop, A::Slip, A::Drop, A::Slip});
  run(1);
  CHECK(seen == std::vector<A>{A::Pass, A::Pass, A::Slip, A::Slip, A::Slip, A::Slip, A::Slip, A::Slip});
  run(0);
  CHECK(seen == std::vector<A>{A::Pass, A::Pass, A::Drop, A::Drop, A::Drop, A::Drop, A::Drop, A::Drop});
}

TEST_CASE("exempt sources are never limited", "[rrl]") {
  RateLimiter rl(1024, 42);
  auto c = config(1, 0);
  c.exempt.push_back(*zones::parse_cidr("127.5.0.0/16"));
  uint32_t count = 0;
  for (int i = 0; i < 100; ++i) REQUIRE(rrl_decide(rl, c, ip("127.5.9.9"), kT0, count) == RrlAction::Pass);
  CHECK(rrl_decide(rl, c, ip("127.6.0.1"), kT0, count) == RrlAction::Pass);
  CHECK(rrl_decide(rl, c, ip("127.6.0.1"), kT0, count) == RrlAction::Drop);
}

TEST_CASE("a prefix that lands on another's bucket starts with a full one", "[rrl]") {
  RateLimiter rl(1, 42);  // one bucket: every prefix collides
  const auto c = config(3);
  CHECK(allowed(rl, "127.1.0.1", c, kT0, 5) == 3);
  CHECK(allowed(rl, "127.2.0.1", c, kT0, 5) == 3);  // took the bucket over (the tags differ for this seed)
  CHECK(allowed(rl, "127.2.0.1", c, kT0, 5) == 0);
}

TEST_CASE("workers sharing a bucket admit exactly `rate` between them", "[rrl]") {
  RateLimiter rl(1024, 42);
  const auto c = config(5000);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  const zones::IpAddr client = ip("127.1.1.1");  // parsed here: Catch2's assertions are not for other threads
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i)
        if (rl.allow(client, c, kT0)) ok.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  CHECK(ok.load() == 5000);
}

TEST_CASE("the table size is rounded up to a power of two", "[rrl]") {
  CHECK(RateLimiter(1000, 1).buckets() == 1024);
  CHECK(RateLimiter(1, 1).buckets() == 1);
  CHECK(RateLimiter().buckets() == RateLimiter::kDefaultBuckets);
}

TEST_CASE("the slip answer is the header and question with QR and TC, no records", "[rrl]") {
  auto q = testing::make_query("Www.Example.com", kTypeA, testing::with_edns(1232));
  q[2] |= 0x00;  // RD is already set by make_query
  std::vector<uint8_t> out(512, 0xAA);
  const size_t n = slip_response(q, out);
  Query parsed;
  REQUIRE(parse_query(q, parsed) == ParseResult::Ok);
  REQUIRE(n == parsed.question_end);  // the OPT RR is not echoed
  CHECK(out[0] == 0xbe);
  CHECK(out[1] == 0xef);
  CHECK(out[2] == (kFlagQr | kFlagTc | kFlagRd));
  CHECK(out[3] == 0);  // NOERROR
  CHECK(read_u16(&out[4]) == 1);
  CHECK(read_u16(&out[6]) == 0);
  CHECK(read_u16(&out[8]) == 0);
  CHECK(read_u16(&out[10]) == 0);
  CHECK(std::equal(out.begin() + 12, out.begin() + static_cast<long>(n), q.begin() + 12));  // case kept
}

TEST_CASE("the slip answer to an unparsable query is a bare header", "[rrl]") {
  std::vector<uint8_t> q = {0x12, 0x34, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0, 1};  // QDCOUNT 2, truncated
  std::vector<uint8_t> out(512);
  REQUIRE(slip_response(q, out) == kHeaderSize);
  CHECK(out[2] == (kFlagQr | kFlagTc | kFlagRd));
  CHECK(read_u16(&out[4]) == 0);
  std::vector<uint8_t> shorter(q.begin(), q.begin() + 11);
  CHECK(slip_response(shorter, out) == 0);
}
