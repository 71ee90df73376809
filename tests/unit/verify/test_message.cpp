// Query building and the defensive response parser: round trips, truncation at every length, compression
// loops, caps on hostile sizes, and garbage that must never crash.
#include <catch2/catch.hpp>

#include <random>

#include "verify/message.hpp"

using namespace vpced::verify;
using Bytes = std::vector<uint8_t>;

namespace {

void append(Bytes& m, std::initializer_list<uint8_t> bytes) {
  for (uint8_t b : bytes) m.push_back(b);  // (vector::insert here trips GCC 12's -Warray-bounds false positive)
}

// "v" + number, built without operator+ on a temporary (GCC 12's -Wrestrict false positive, PR 105329).
std::string numbered(const char* prefix, int i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

Bytes query_for(const std::string& name, uint16_t type, uint16_t id = 0x1234, bool rd = false) {
  auto q = build_query(id, name, type, rd);
  REQUIRE(q);
  return *q;
}

// A header of a response to ID 0x1234 with one question "a.example." TXT, then the caller's records.
Bytes response_header(uint16_t ancount, uint16_t nscount = 0, uint16_t arcount = 0) {
  Bytes m = {
      0x12, 0x34,  // ID
      0x84, 0x00,  // QR, AA; RCODE 0
      0x00, 0x01,  // QDCOUNT
      static_cast<uint8_t>(ancount >> 8), static_cast<uint8_t>(ancount),
      static_cast<uint8_t>(nscount >> 8), static_cast<uint8_t>(nscount),
      static_cast<uint8_t>(arcount >> 8), static_cast<uint8_t>(arcount),
  };
  append(m, {1, 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0});  // QNAME at offset 12
  append(m, {0x00, 0x10, 0x00, 0x01});                          // QTYPE TXT, QCLASS IN
  return m;
}

const Expected kExpectA{0x1234, "a.example", kTypeTxt};

}  // namespace

TEST_CASE("message: a query carries RD as asked, one question and an OPT RR") {
  const Bytes q = query_for("_abc.example.com", kTypeTxt, 0xbeef, false);
  Bytes want = {
      0xbe, 0xef,  // ID
      0x00, 0x00,  // QR=0 opcode QUERY, RD=0
      0x00, 0x01,  // QDCOUNT
      0x00, 0x00,  // ANCOUNT
      0x00, 0x00,  // NSCOUNT
      0x00, 0x01,  // ARCOUNT (OPT)
  };
  append(want, {4, '_', 'a', 'b', 'c', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0});
  append(want, {
                   0x00, 0x10,              // QTYPE TXT
                   0x00, 0x01,              // QCLASS IN
                   0x00,                    // OPT owner: root
                   0x00, 0x29,              // TYPE OPT
                   0x04, 0xd0,              // payload 1232
                   0x00, 0x00, 0x00, 0x00,  // ext-rcode, version, DO=0
                   0x00, 0x00,              // RDLENGTH
               });
  CHECK(q == want);
  const Bytes rd = query_for("example.com", kTypeNs, 1, true);
  CHECK(rd[2] == 0x01);
  auto parsed = parse_query(rd);
  REQUIRE(parsed);
  CHECK(parsed->rd);
  CHECK(parsed->qname == "example.com");
  CHECK(parsed->qtype == kTypeNs);
}

TEST_CASE("message: names that cannot be encoded are refused") {
  CHECK_FALSE(build_query(1, std::string(64, 'a') + ".com", kTypeTxt, false));
  CHECK_FALSE(build_query(1, "a..com", kTypeTxt, false));
  std::string long_name;
  for (int i = 0; i < 5; ++i) long_name += std::string(60, 'x') + ".";
  long_name += "com";  // 5*61 + 4 + 1 > 255
  CHECK_FALSE(build_query(1, long_name, kTypeTxt, false));
  CHECK(encode_name("a\\.b.com") == Bytes{3, 'a', '.', 'b', 3, 'c', 'o', 'm', 0});
  CHECK(encode_name("\\255x.com") == Bytes{2, 255, 'x', 3, 'c', 'o', 'm', 0});
  CHECK_FALSE(encode_name("\\256.com"));
}

TEST_CASE("message: round trip of every kept type") {
  const Bytes q = query_for("_tok.example.com", kTypeTxt);
  ResponseSpec spec;
  spec.answer = {txt_rr("_tok.example.com", {"vpce:", "abc"}), txt_rr("_tok.example.com", {"other"}),
                 name_rr("x.example.com", kTypeCname, "y.example.net"),
                 name_rr("example.com", kTypeNs, "ns1.example.com"),
                 a_rr("ns1.example.com", vpced::zones::Ipv4{0xC0000201})};
  spec.authority = {soa_rr("example.com"), name_rr("sub.example.com", kTypeNs, "ns.sub.example.com")};
  const Bytes r = build_response(q, spec);
  Response resp;
  REQUIRE(parse_response(r, Expected{0x1234, "_tok.example.com", kTypeTxt}, resp) == ParseResult::Ok);
  CHECK(resp.aa);
  CHECK_FALSE(resp.tc);
  CHECK(resp.rcode == kRcodeNoError);
  REQUIRE(resp.txt.size() == 2);
  CHECK(resp.txt[0].text == "vpce:abc");  // strings of one record are concatenated
  CHECK(resp.txt[0].strings == 2);
  CHECK(resp.txt[1].text == "other");
  CHECK(resp.cname == std::vector<NameRecord>{{"x.example.com", "y.example.net"}});
  CHECK(resp.ns == std::vector<NameRecord>{{"example.com", "ns1.example.com"}});
  REQUIRE(resp.a.size() == 1);
  CHECK(resp.a[0].address.value == 0xC0000201);
  CHECK(resp.soa == std::vector<std::string>{"example.com"});
  CHECK(resp.authority_ns == std::vector<NameRecord>{{"sub.example.com", "ns.sub.example.com"}});
  CHECK(resp.records == 7);
  CHECK_FALSE(resp.capped);
}

TEST_CASE("message: compressed names are followed backwards and lowercased") {
  Bytes m = response_header(1);
  append(m, {
                0xc0, 0x0c,              // NAME: pointer to the question (offset 12)
                0x00, 0x05,              // TYPE CNAME
                0x00, 0x01,              // CLASS IN
                0x00, 0x00, 0x00, 0x3c,  // TTL
                0x00, 0x04,              // RDLENGTH
                1, 'B',                  // "b." then
                0xc0, 0x0e,              // pointer to "example" (offset 14)
            });
  Response r;
  REQUIRE(parse_response(m, kExpectA, r) == ParseResult::Ok);
  CHECK(r.cname == std::vector<NameRecord>{{"a.example", "b.example"}});
}

TEST_CASE("message: compression loops and forward pointers are refused") {
  SECTION("a pointer to itself") {
    Bytes m = response_header(1);
    const uint8_t at = static_cast<uint8_t>(m.size());
    append(m, {0xc0, at, 0x00, 0x10, 0x00, 0x01, 0, 0, 0, 0, 0, 0});
    Response r;
    CHECK(parse_response(m, kExpectA, r) == ParseResult::BadName);
  }
  SECTION("two pointers pointing at each other") {
    Bytes m = response_header(1);
    const uint8_t at = static_cast<uint8_t>(m.size());
    // owner: label "x" then a pointer to offset at+4, which points back to `at`
    append(m, {1, 'x', 0xc0, static_cast<uint8_t>(at + 4), 0xc0, at, 0x00, 0x10, 0x00, 0x01, 0, 0, 0, 0, 0, 0});
    Response r;
    CHECK(parse_response(m, kExpectA, r) == ParseResult::BadName);
  }
  SECTION("a forward pointer") {
    Bytes m = response_header(1);
    const uint8_t at = static_cast<uint8_t>(m.size());
    append(m, {0xc0, static_cast<uint8_t>(at + 2), 0, 0x00, 0x10, 0x00, 0x01, 0, 0, 0, 0, 0, 0});
    Response r;
    CHECK(parse_response(m, kExpectA, r) == ParseResult::BadName);
  }
  SECTION("a pointer loop inside RDATA") {
    Bytes m = response_header(1);
    const uint8_t rdata = static_cast<uint8_t>(m.size() + 12);
    append(m, {0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0, 0, 0, 60, 0x00, 0x02, 0xc0, rdata});
    Response r;
    CHECK(parse_response(m, kExpectA, r) == ParseResult::BadName);
  }
  SECTION("label types 01 and 10") {
    Bytes m = response_header(1);
    append(m, {0x40, 0x00, 0x10, 0x00, 0x01, 0, 0, 0, 0, 0, 0});
    Response r;
    CHECK(parse_response(m, kExpectA, r) == ParseResult::BadName);
  }
}

TEST_CASE("message: a response truncated at every length is an error, never a crash") {
  const Bytes q = query_for("_tok.example.com", kTypeTxt);
  ResponseSpec spec;
  spec.answer = {txt_rr("_tok.example.com", {"vpce:abc", "def"}), name_rr("_tok.example.com", kTypeCname, "t.example.net"),
                 a_rr("a.example.com", vpced::zones::Ipv4{1})};
  spec.authority = {soa_rr("example.com")};
  const Bytes full = build_response(q, spec);
  Response r;
  REQUIRE(parse_response(full, Expected{0x1234, "_tok.example.com", kTypeTxt}, r) == ParseResult::Ok);
  for (size_t len = 0; len < full.size(); ++len) {
    INFO("length " << len);
    const auto res = parse_response(std::span(full).first(len), Expected{0x1234, "_tok.example.com", kTypeTxt}, r);
    CHECK(res != ParseResult::Ok);
  }
}

TEST_CASE("message: a TXT of 10000 strings is capped, not kept") {
  const Bytes q = query_for("_tok.example.com", kTypeTxt);
  std::vector<std::string> strings(10000, "a");
  ResponseSpec spec;
  spec.answer = {txt_rr("_tok.example.com", strings)};
  const Bytes m = build_response(q, spec);
  REQUIRE(m.size() > 20000);
  Response r;
  REQUIRE(parse_response(m, Expected{0x1234, "_tok.example.com", kTypeTxt}, r) == ParseResult::Ok);
  REQUIRE(r.txt.size() == 1);
  CHECK(r.txt[0].strings == 10000);
  CHECK(r.txt[0].text.size() == kMaxTxtKept);
  CHECK(r.txt[0].truncated);
  CHECK(r.capped);

  SECTION("16384 empty strings: nothing to keep, counted only") {
    ResponseSpec empty;
    empty.answer = {txt_rr("_tok.example.com", std::vector<std::string>(16384, ""))};
    Response e;
    REQUIRE(parse_response(build_response(q, empty), Expected{0x1234, "_tok.example.com", kTypeTxt}, e) ==
            ParseResult::Ok);
    CHECK(e.txt[0].strings == 16384);
    CHECK(e.txt[0].text.empty());
  }
}

TEST_CASE("message: thousands of records keep at most the cap per list") {
  const Bytes q = query_for("_tok.example.com", kTypeTxt);
  ResponseSpec spec;
  for (int i = 0; i < 1500; ++i) spec.answer.push_back(txt_rr("_tok.example.com", {numbered("v", i)}));
  Response r;
  REQUIRE(parse_response(build_response(q, spec), Expected{0x1234, "_tok.example.com", kTypeTxt}, r) == ParseResult::Ok);
  CHECK(r.txt.size() == kMaxRecordsPerList);
  CHECK(r.records == 1500);
  CHECK(r.capped);
}

TEST_CASE("message: header checks") {
  const Bytes q = query_for("_tok.example.com", kTypeTxt);
  const Bytes good = build_response(q, ResponseSpec{});
  const Expected e{0x1234, "_tok.example.com", kTypeTxt};
  Response r;
  CHECK(parse_response(good, e, r) == ParseResult::Ok);
  CHECK(parse_response(Bytes(11, 0), e, r) == ParseResult::TooShort);
  Bytes big = good;
  big.resize(65536);
  CHECK(parse_response(big, e, r) == ParseResult::TooLong);
  CHECK(parse_response(q, e, r) == ParseResult::NotResponse);
  CHECK(parse_response(good, Expected{0x4321, "_tok.example.com", kTypeTxt}, r) == ParseResult::IdMismatch);
  CHECK(parse_response(good, Expected{0x1234, "other.example.com", kTypeTxt}, r) == ParseResult::QuestionMismatch);
  CHECK(parse_response(good, Expected{0x1234, "_tok.example.com", kTypeA}, r) == ParseResult::QuestionMismatch);
  Bytes opcode = good;
  opcode[2] |= 0x10;  // opcode 2 (STATUS)
  CHECK(parse_response(opcode, e, r) == ParseResult::BadOpcode);
  SECTION("an error without a question is accepted, a NOERROR without one is not") {
    Bytes refused = {0x12, 0x34, 0x80, 0x05, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(parse_response(refused, e, r) == ParseResult::Ok);
    CHECK(r.rcode == kRcodeRefused);
    refused[3] = 0x00;
    CHECK(parse_response(refused, e, r) == ParseResult::QuestionMismatch);
  }
  SECTION("the question is compared case-insensitively") {
    Bytes upper = good;
    upper[14] = 'T';  // "_Tok"
    CHECK(parse_response(upper, e, r) == ParseResult::Ok);
  }
}

TEST_CASE("message: bad RDATA") {
  SECTION("an A record of 3 bytes") {
    Bytes m = response_header(1);
    append(m, {0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0, 0, 0, 60, 0x00, 0x03, 1, 2, 3});
    Response r;
    CHECK(parse_response(m, kExpectA, r) == ParseResult::BadRecord);
  }
  SECTION("a TXT string running past its RDATA") {
    Bytes m = response_header(1);
    append(m, {0xc0, 0x0c, 0x00, 0x10, 0x00, 0x01, 0, 0, 0, 60, 0x00, 0x03, 5, 'a', 'b', 0xff, 0xff});
    Response r;
    CHECK(parse_response(m, kExpectA, r) == ParseResult::BadRecord);
  }
  SECTION("a CNAME whose name runs past its RDATA") {
    Bytes m = response_header(1);
    append(m, {0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0, 0, 0, 60, 0x00, 0x02, 3, 'a', 'b', 'c', 0});
    Response r;
    CHECK(parse_response(m, kExpectA, r) == ParseResult::BadRecord);
  }
  SECTION("other classes and OPT are skipped") {
    Bytes m = response_header(1, 0, 1);
    append(m, {0xc0, 0x0c, 0x00, 0x10, 0x00, 0x03, 0, 0, 0, 60, 0x00, 0x02, 1, 'x'});  // TXT class CH
    append(m, {0x00, 0x00, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0x00, 0x00});               // OPT
    Response r;
    REQUIRE(parse_response(m, kExpectA, r) == ParseResult::Ok);
    CHECK(r.txt.empty());
    CHECK(r.records == 2);
  }
}

TEST_CASE("message: odd bytes in names are escaped") {
  Bytes m = response_header(1);
  append(m, {0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0, 0, 0, 60, 0x00, 0x06, 4, 'a', '.', '\n', 'Z', 0});
  Response r;
  REQUIRE(parse_response(m, kExpectA, r) == ParseResult::Ok);
  CHECK(r.cname[0].target == "a\\046\\010z");
  CHECK(encode_name(r.cname[0].target) == Bytes{4, 'a', '.', '\n', 'z', 0});
}

TEST_CASE("message: random garbage and mutations never crash") {
  std::mt19937 rng(12345);
  const Bytes q = query_for("_tok.example.com", kTypeTxt);
  ResponseSpec spec;
  spec.answer = {txt_rr("_tok.example.com", {"vpce:abc"}), name_rr("_tok.example.com", kTypeCname, "t.example.net")};
  spec.authority = {soa_rr("example.com")};
  const Bytes base = build_response(q, spec);
  Response r;
  size_t ok = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes m = base;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) m[rng() % m.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) m.resize(rng() % (m.size() + 1));
    if (parse_response(m, r) == ParseResult::Ok) ++ok;
    Bytes garbage(rng() % 600);
    for (auto& b : garbage) b = static_cast<uint8_t>(rng());
    (void)parse_response(garbage, r);
    (void)parse_query(garbage);
  }
  CHECK(ok > 0);  // some mutations stay valid: the loop did exercise the record paths
}
