// Tests of query parsing: every outcome, and truncation at every length.
#include <catch2/catch.hpp>
#include <vector>

#include "dns/wire.hpp"

using namespace vpced::dns;

namespace {

// A query for "Www.Example.com" A IN with an OPT RR (payload 4096, version 0, DO set).
std::vector<uint8_t> sample() {
  return {
      0x12, 0x34,              // ID
      0x01, 0x00,              // RD
      0x00, 0x01,              // QDCOUNT
      0x00, 0x00,              // ANCOUNT
      0x00, 0x00,              // NSCOUNT
      0x00, 0x01,              // ARCOUNT
      3, 'W', 'w', 'w',        // QNAME
      7, 'E', 'x', 'a', 'm', 'p', 'l', 'e',
      3, 'c', 'o', 'm', 0,
      0x00, 0x01,              // QTYPE A
      0x00, 0x01,              // QCLASS IN
      0x00,                    // OPT owner: root
      0x00, 0x29,              // TYPE OPT
      0x10, 0x00,              // payload 4096
      0x00, 0x00, 0x80, 0x00,  // ext-rcode 0, version 0, DO
      0x00, 0x00,              // RDLENGTH
  };
}

}  // namespace

TEST_CASE("a well-formed query parses", "[wire]") {
  auto p = sample();
  Query q;
  REQUIRE(parse_query(p, q) == ParseResult::Ok);
  CHECK(q.id == 0x1234);
  CHECK(q.qtype == kTypeA);
  CHECK(q.qclass == kClassIn);
  CHECK(q.edns);
  CHECK(q.udp_size == 4096);
  CHECK(q.edns_version == 0);
  CHECK(q.edns_flags == kEdnsFlagDo);
  const uint8_t lower[] = {3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
  REQUIRE(q.name_length == sizeof lower);
  CHECK(std::equal(lower, lower + sizeof lower, q.lower_name));
  CHECK(q.question_end == 12 + sizeof lower + 4);
}

TEST_CASE("every truncation of a query is dropped or FORMERR, never read past the end", "[wire]") {
  auto p = sample();
  for (size_t n = 0; n < p.size(); ++n) {
    Query q;
    auto r = parse_query(std::span(p.data(), n), q);
    INFO("length " << n);
    CHECK(r == (n < 12 ? ParseResult::Drop : ParseResult::FormErr));
  }
}

TEST_CASE("malformed queries are classified", "[wire]") {
  Query q;
  SECTION("a response is dropped") {
    auto p = sample();
    p[2] |= kFlagQr;
    CHECK(parse_query(p, q) == ParseResult::Drop);
  }
  SECTION("opcode other than QUERY is NOTIMP") {
    auto p = sample();
    p[2] = 0x10;  // opcode 2 (STATUS)
    CHECK(parse_query(p, q) == ParseResult::NotImp);
  }
  SECTION("QDCOUNT 0 and 2 are FORMERR") {
    auto p = sample();
    p[5] = 0;
    CHECK(parse_query(p, q) == ParseResult::FormErr);
    p[5] = 2;
    CHECK(parse_query(p, q) == ParseResult::FormErr);
  }
  SECTION("a label longer than 63 is FORMERR") {
    auto p = sample();
    p[12] = 0x40;
    CHECK(parse_query(p, q) == ParseResult::FormErr);
  }
  SECTION("a compression pointer in the QNAME (here a loop onto itself) is FORMERR") {
    auto p = sample();
    p[12] = 0xC0;
    p[13] = 0x0C;
    CHECK(parse_query(p, q) == ParseResult::FormErr);
  }
  SECTION("two OPT records are FORMERR") {
    auto p = sample();
    p[11] = 2;
    std::vector<uint8_t> opt(p.end() - 11, p.end());
    p.insert(p.end(), opt.begin(), opt.end());
    CHECK(parse_query(p, q) == ParseResult::FormErr);
  }
  SECTION("trailing bytes are FORMERR") {
    auto p = sample();
    p.push_back(0);
    p.push_back(0);
    CHECK(parse_query(p, q) == ParseResult::FormErr);
  }
  SECTION("a name longer than 255 octets is FORMERR") {
    std::vector<uint8_t> p = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 5; ++i) {
      p.push_back(63);
      p.insert(p.end(), 63, 'a');
    }
    p.push_back(0);
    p.insert(p.end(), {0, 1, 0, 1});
    CHECK(parse_query(p, q) == ParseResult::FormErr);
  }
}
