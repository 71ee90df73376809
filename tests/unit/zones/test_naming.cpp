// Tests of generated ID, suffix and token formats (design §1, §4, §6).
#include <catch2/catch.hpp>
#include <regex>
#include <set>

#include "zones/naming.hpp"

using namespace vpced::zones;

TEST_CASE("generated identifiers match the AWS formats", "[naming]") {
  const std::regex service_id("^vpce-svc-[0-9a-f]{17}$"), endpoint_id("^vpce-[0-9a-f]{17}$"),
      suffix("^[a-z0-9]{8}$"), token_name("^_[a-z0-9]{20}$"), token_value("^vpce:[A-Za-z0-9]{20}$");
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto s = new_service_id(), e = new_endpoint_id(), d = new_dns_suffix(), n = new_verification_name(),
         v = new_verification_value();
    CHECK(std::regex_match(s, service_id));
    CHECK(std::regex_match(e, endpoint_id));
    CHECK(std::regex_match(d, suffix));
    CHECK(std::regex_match(n, token_name));
    CHECK(std::regex_match(v, token_value));
    CHECK(is_service_id(s));
    CHECK(is_endpoint_id(e));
    CHECK(is_dns_suffix(d));
    CHECK(is_verification_name(n));
    CHECK(is_verification_value(v));
    seen.insert(e);
  }
  CHECK(seen.size() == 200);  // 68 bits of randomness: a collision here means a broken generator
  CHECK_FALSE(is_endpoint_id("vpce-0123456789ABCDEF0"));
  CHECK_FALSE(is_service_id("vpce-svc-123cabc125efa123"));  // 16 hex: AWS's hand-edited placeholder
}

TEST_CASE("random strings use the whole alphabet", "[naming]") {
  std::set<char> chars;
  for (int i = 0; i < 100; ++i)
    for (char c : new_verification_value().substr(5)) chars.insert(c);
  CHECK(chars.size() > 55);  // 2000 draws from 62 symbols: all but a handful appear
}

TEST_CASE("endpoint DNS names are built as AWS builds them", "[naming]") {
  auto base = base_name("vpce-svc-0e7555fb6441987e1", "us-east-1", "vpce.amazonaws.com");
  CHECK(base == "vpce-svc-0e7555fb6441987e1.us-east-1.vpce.amazonaws.com");
  CHECK(service_name("us-east-1", "vpce-svc-0e7555fb6441987e1") ==
        "com.amazonaws.vpce.us-east-1.vpce-svc-0e7555fb6441987e1");
  CHECK(regional_name("vpce-04f3094497ceabca1", "q634a777", base) ==
        "vpce-04f3094497ceabca1-q634a777.vpce-svc-0e7555fb6441987e1.us-east-1.vpce.amazonaws.com");
  CHECK(zonal_name("vpce-04f3094497ceabca1", "q634a777", "us-east-1a", base) ==
        "vpce-04f3094497ceabca1-q634a777-us-east-1a.vpce-svc-0e7555fb6441987e1.us-east-1.vpce.amazonaws.com");
  CHECK(public_zone_apex("us-east-1", "vpce.amazonaws.com") == "us-east-1.vpce.amazonaws.com");
}
