// PROXY protocol v2 codec: our header byte for byte, round trips, every truncation, malformed headers.
#include <catch2/catch.hpp>

#include <vector>

#include "proxy/proxy_v2.hpp"

using namespace vpced;
using namespace vpced::proxy;

namespace {

zones::HostPort hp(const char* s) {
  auto r = zones::parse_host_port(s);
  REQUIRE(r);
  return *r;
}

// What the relay sends for endpoint vpce-08d2bf15fac5001c9, consumer 127.16.0.5:40000 → ENI 127.16.1.46:443.
const std::vector<uint8_t> kOurHeader = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature "\r\n\r\n\0\r\nQUIT\n"
    0x21,                                                                    // version 2, command PROXY
    0x11,                                                                    // AF_INET, STREAM (TCP over IPv4)
    0x00, 0x26,                                                              // len 38 = 12 addresses + 26 TLV
    0x7F, 0x10, 0x00, 0x05,                                                  // source 127.16.0.5
    0x7F, 0x10, 0x01, 0x2E,                                                  // destination 127.16.1.46
    0x9C, 0x40,                                                              // source port 40000
    0x01, 0xBB,                                                              // destination port 443
    0xEA,                                                                    // PP2_TYPE_AWS
    0x00, 0x17,                                                              // TLV length 23 (AWS's example)
    0x01,                                                                    // PP2_SUBTYPE_AWS_VPCE_ID
    'v', 'p', 'c', 'e', '-', '0', '8', 'd', '2', 'b', 'f',                   // the endpoint id in ASCII
    '1', '5', 'f', 'a', 'c', '5', '0', '0', '1', 'c', '9',
};

const std::vector<uint8_t> kLocalHeader = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature
    0x20,                                                                    // version 2, command LOCAL
    0x00,                                                                    // AF_UNSPEC, UNSPEC
    0x00, 0x00,                                                              // len 0
};

DecodeResult decode(const std::vector<uint8_t>& bytes, Header& h) { return decode_proxy_v2(bytes, h); }

}  // namespace

TEST_CASE("encode_proxy_v2 writes the AWS header byte for byte", "[proxy_v2]") {
  auto out = encode_proxy_v2(hp("127.16.0.5:40000"), hp("127.16.1.46:443"), "vpce-08d2bf15fac5001c9");
  CHECK(out == kOurHeader);
}

TEST_CASE("encode_proxy_v2_local is a bare LOCAL header", "[proxy_v2]") {
  CHECK(encode_proxy_v2_local() == kLocalHeader);
  Header h;
  REQUIRE(decode(kLocalHeader, h) == DecodeResult::Done);
  CHECK(h.command == kProxyV2CmdLocal);
  CHECK_FALSE(h.has_addresses);
  CHECK(h.consumed == 16);
}

TEST_CASE("decode_proxy_v2 round-trips our header", "[proxy_v2]") {
  std::vector<uint8_t> bytes = kOurHeader;
  bytes.insert(bytes.end(), {'G', 'E', 'T'});  // payload after the header is not consumed
  Header h;
  REQUIRE(decode(bytes, h) == DecodeResult::Done);
  CHECK(h.consumed == kOurHeader.size());
  CHECK(h.command == kProxyV2CmdProxy);
  CHECK(h.family == kProxyV2AfInet);
  CHECK(h.transport == kProxyV2TransportStream);
  CHECK(h.has_addresses);
  CHECK(h.source == hp("127.16.0.5:40000"));
  CHECK(h.destination == hp("127.16.1.46:443"));
  REQUIRE(h.vpce_id);
  CHECK(*h.vpce_id == "vpce-08d2bf15fac5001c9");
  REQUIRE(h.tlvs.size() == 1);
  CHECK(h.tlvs[0].type == kPp2TypeAws);
  CHECK(h.tlvs[0].value.size() == 0x17);
}

TEST_CASE("decode_proxy_v2 wants more at every truncation", "[proxy_v2]") {
  for (const auto* whole : {&kOurHeader, &kLocalHeader}) {
    for (size_t n = 0; n < whole->size(); ++n) {
      std::vector<uint8_t> part(whole->begin(), whole->begin() + static_cast<std::ptrdiff_t>(n));
      Header h;
      INFO("prefix of " << n << " bytes");
      CHECK(decode(part, h) == DecodeResult::NeedMore);
    }
  }
}

TEST_CASE("decode_proxy_v2 rejects malformed headers", "[proxy_v2]") {
  struct Case {
    const char* what;
    size_t offset;
    uint8_t value;
  };
  const Case cases[] = {
      {"signature first byte", 0, 'G'},
      {"signature NUL", 4, 0x01},
      {"signature last byte", 11, 0x0B},
      {"version 1", 12, 0x11},
      {"version 3", 12, 0x31},
      {"command 2", 12, 0x22},
      {"command 15", 12, 0x2F},
      {"family 4", 13, 0x41},
      {"transport 3", 13, 0x13},
      {"length shorter than the IPv4 block", 15, 11},
      {"TLV length past the end", 30, 0x18},
  };
  for (const auto& c : cases) {
    std::vector<uint8_t> bad = kOurHeader;
    bad[c.offset] = c.value;
    Header h;
    INFO(c.what);
    CHECK(decode(bad, h) == DecodeResult::Invalid);
  }

  SECTION("a TLV header cut by the length") {
    std::vector<uint8_t> bad = kOurHeader;
    bad.resize(16 + 12 + 2);  // addresses, then two bytes of a TLV header
    bad[15] = 14;
    Header h;
    CHECK(decode(bad, h) == DecodeResult::Invalid);
  }
  SECTION("a wrong signature is rejected before 16 bytes arrive") {
    const std::vector<uint8_t> http = {'G', 'E', 'T', ' '};
    Header h;
    CHECK(decode(http, h) == DecodeResult::Invalid);
  }
  SECTION("an IPv6 family with an IPv4-sized block") {
    std::vector<uint8_t> bad = kOurHeader;
    bad[13] = 0x21;
    Header h;
    CHECK(decode(bad, h) == DecodeResult::Invalid);  // 38 bytes: the 36-byte block, then 2 cannot hold a TLV
  }
}

TEST_CASE("decode_proxy_v2 accepts TLVs in any order", "[proxy_v2]") {
  // AWS's sample: CRC32C (0x03, 4 bytes), the VPCE TLV, NOOP padding (0x04); here the VPCE TLV comes last.
  std::vector<uint8_t> bytes = {
      0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature
      0x21,                                                                    // PROXY
      0x11,                                                                    // TCP over IPv4
      0x00, 0x2B,                                                              // len 43 = 12 + 7 + 5 + 19
      0xC0, 0x00, 0x02, 0x01,                                                  // source 192.0.2.1
      0xC0, 0x00, 0x02, 0x02,                                                  // destination 192.0.2.2
      0x30, 0x39,                                                              // source port 12345
      0x00, 0x50,                                                              // destination port 80
      0x03, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF,                                // PP2_TYPE_CRC32C
      0x04, 0x00, 0x02, 0x00, 0x00,                                            // PP2_TYPE_NOOP
      0xEA, 0x00, 0x10, 0x01,                                                  // PP2_TYPE_AWS, VPCE_ID
      'v', 'p', 'c', 'e', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
  };
  Header h;
  REQUIRE(decode(bytes, h) == DecodeResult::Done);
  CHECK(h.consumed == bytes.size());
  REQUIRE(h.tlvs.size() == 3);
  CHECK(h.tlvs[0].type == 0x03);
  CHECK(h.tlvs[1].type == 0x04);
  CHECK(h.tlvs[2].type == kPp2TypeAws);
  REQUIRE(h.vpce_id);
  CHECK(*h.vpce_id == "vpce-0123456789");
  CHECK(h.source == hp("192.0.2.1:12345"));

  SECTION("an AWS TLV of another subtype is not an endpoint id") {
    bytes[16 + 12 + 7 + 5 + 3] = 0x02;
    Header h2;
    REQUIRE(decode(bytes, h2) == DecodeResult::Done);
    CHECK_FALSE(h2.vpce_id);
  }
}

TEST_CASE("IPv6 headers", "[proxy_v2]") {
  const auto src = hp("[2001:db8::5]:40000"), dst = hp("[2001:db8::1:2e]:443");
  auto out = encode_proxy_v2(src, dst, "vpce-08d2bf15fac5001c9");
  REQUIRE(out.size() == 16 + 36 + 26);
  CHECK(out[13] == 0x21);  // AF_INET6, STREAM
  CHECK(out[14] == 0x00);
  CHECK(out[15] == 36 + 26);
  Header h;
  REQUIRE(decode(out, h) == DecodeResult::Done);
  CHECK(h.family == kProxyV2AfInet6);
  CHECK(h.source == src);
  CHECK(h.destination == dst);
  CHECK(*h.vpce_id == "vpce-08d2bf15fac5001c9");
  for (size_t n = 0; n < out.size(); ++n) {
    Header part;
    CHECK(decode_proxy_v2(std::span(out.data(), n), part) == DecodeResult::NeedMore);
  }

  SECTION("mixed families travel as IPv4-mapped IPv6") {
    auto mixed = encode_proxy_v2(hp("127.16.0.5:40000"), dst, "");
    Header m;
    REQUIRE(decode(mixed, m) == DecodeResult::Done);
    CHECK(m.family == kProxyV2AfInet6);
    CHECK(zones::to_string(m.source.addr) == "::ffff:127.16.0.5");
    CHECK(m.tlvs.empty());
  }
}

TEST_CASE("LOCAL and UNSPEC headers skip their block", "[proxy_v2]") {
  SECTION("LOCAL with an address block and TLVs is accepted and discarded") {
    std::vector<uint8_t> local = kOurHeader;
    local[12] = 0x20;
    Header h;
    REQUIRE(decode(local, h) == DecodeResult::Done);
    CHECK(h.command == kProxyV2CmdLocal);
    CHECK_FALSE(h.has_addresses);
    CHECK_FALSE(h.vpce_id);
    CHECK(h.consumed == kOurHeader.size());
  }
  SECTION("PROXY over UNSPEC carries no addresses but may carry TLVs") {
    std::vector<uint8_t> unspec(kOurHeader.begin(), kOurHeader.begin() + 16);
    unspec[13] = 0x00;
    unspec[15] = 26;
    unspec.insert(unspec.end(), kOurHeader.begin() + 28, kOurHeader.end());
    Header h;
    REQUIRE(decode(unspec, h) == DecodeResult::Done);
    CHECK_FALSE(h.has_addresses);
    CHECK(*h.vpce_id == "vpce-08d2bf15fac5001c9");
  }
}
