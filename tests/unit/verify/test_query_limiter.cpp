// The in-flight bound: never more than N queries at the transport, the rest in order, nothing after stop.
#include <catch2/catch.hpp>

#include "fake_dns.hpp"
#include "verify/query_limiter.hpp"

using namespace vpced::verify;
using namespace vpced::verify::testing;

TEST_CASE("query_limiter: at most N in flight, all answered, in order") {
  boost::asio::io_context ctx;
  FakeDns dns(ctx);
  auto limiter = std::make_shared<QueryLimiter>(dns, 8);
  std::vector<int> answered;
  for (int i = 0; i < 100; ++i) {
    std::string name = "n";  // not "n" + …: GCC 12's -Wrestrict false positive (PR 105329)
    name += std::to_string(i);
    name += ".example.com";
    auto q = build_query(static_cast<uint16_t>(i), name, kTypeTxt, false);
    limiter->send({hp("127.0.0.1:53")}, *q, [&answered, i](std::span<const uint8_t> r) {
      CHECK_FALSE(r.empty());
      answered.push_back(i);
    });
  }
  CHECK(limiter->in_flight() == 8);
  CHECK(limiter->queued() == 92);
  CHECK(dns.sent.size() == 8);
  ctx.run();
  CHECK(answered.size() == 100);
  CHECK(std::is_sorted(answered.begin(), answered.end()));
  CHECK(dns.peak_in_flight == 8);
  CHECK(limiter->peak_in_flight() == 8);
  CHECK(limiter->in_flight() == 0);
}

TEST_CASE("query_limiter: stop drops the queue and swallows late answers") {
  boost::asio::io_context ctx;
  FakeDns dns(ctx);
  auto limiter = std::make_shared<QueryLimiter>(dns, 2);
  int answered = 0;
  for (int i = 0; i < 5; ++i) {
    auto q = build_query(1, "x.example.com", kTypeTxt, false);
    limiter->send({hp("127.0.0.1:53")}, *q, [&](std::span<const uint8_t>) { ++answered; });
  }
  limiter->stop();
  ctx.run();
  CHECK(answered == 0);
  CHECK(dns.sent.size() == 2);
  CHECK(limiter->queued() == 0);
}
