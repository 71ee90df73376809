// The hand-written identifier matchers against the regular expressions they implement: fixed cases, then
// every one-character edit of valid examples and, for short ones, two-character edits (where hand-written matchers go wrong: boundaries,
// empty groups, doubled separators, lengths off by one).
#include <catch2/catch.hpp>
#include <regex>
#include <string>
#include <vector>

#include "zones/naming.hpp"
#include "zones/shapes.hpp"

namespace shape = vpced::zones::shape;

namespace {

struct Case {
  const char* name;
  bool (*matches)(std::string_view);
  std::regex re;
  std::vector<std::string> valid;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"region", shape::region_name, std::regex("[a-z]{2}(-[a-z]+)+-[0-9]+"), {"us-east-1", "us-gov-west-12", "ap-southeast-3"}},
      {"az id", shape::az_id, std::regex("[a-z]{2,}[0-9]+-az[0-9]+"), {"use1-az1", "usw2-az12", "apse10-az3"}},
      {"az name", shape::az_name, std::regex("[a-z]{2}(-[a-z]+)+-[0-9]+[a-z]"), {"us-east-1a", "us-gov-west-1b"}},
      {"account", shape::account_id, std::regex("[0-9]{12}"), {"111122223333"}},
      {"service id", vpced::zones::is_service_id, std::regex("vpce-svc-[0-9a-f]{17}"), {"vpce-svc-0123456789abcdef0"}},
      {"endpoint id", vpced::zones::is_endpoint_id, std::regex("vpce-[0-9a-f]{17}"), {"vpce-0123456789abcdef0"}},
      {"vpc id", shape::vpc_id, std::regex("vpc-[0-9a-f]{8}([0-9a-f]{9})?"), {"vpc-0a1b2c3d", "vpc-0a1b2c3d4e5f60718"}},
      {"subnet id", shape::subnet_id, std::regex("subnet-[0-9a-f]{8}([0-9a-f]{9})?"),
       {"subnet-0a1b2c3d", "subnet-0a1b2c3d4e5f60718"}},
      {"object name", shape::object_name, std::regex("[A-Za-z0-9._-]{1,64}"), {"a", "orders-api_v2.1", std::string(64, 'x')}},
      {"principal", shape::principal,
       std::regex("arn:aws:iam::([0-9]{12}):(root|(role|user)/[A-Za-z0-9+=,.@_-]+(/[A-Za-z0-9+=,.@_-]+)*)"),
       {"arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:role/app", "arn:aws:iam::111122223333:user/a/b=c"}},
  };
  return all;
}

// Characters an edit inserts or substitutes: every class the shapes use, their separators, and outsiders;
// the second edit of short examples uses the small set.
const std::string kAlphabet = "az09fgAZ-_./:+=,@ \x01\xc3";
const std::string kSmall = "a0-/";

std::vector<std::string> edits(const std::string& s, const std::string& alphabet) {
  std::vector<std::string> out{"", s + s};
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i < s.size()) out.push_back(s.substr(0, i) + s.substr(i + 1));  // deletion
    for (char c : alphabet) {
      out.push_back(s.substr(0, i) + c + s.substr(i));                     // insertion
      if (i < s.size()) out.push_back(s.substr(0, i) + c + s.substr(i + 1));  // substitution
    }
  }
  return out;
}

}  // namespace

TEST_CASE("identifier shapes accept exactly what their regular expressions accept", "[config][shapes]") {
  for (const auto& c : cases()) {
    INFO(c.name);
    std::vector<std::string> inputs;
    for (const auto& v : c.valid) {
      CHECK(c.matches(v));
      for (auto& e : edits(v, kAlphabet)) {
        if (v.size() <= 16)
          for (auto& e2 : edits(e, kSmall)) inputs.push_back(std::move(e2));
        inputs.push_back(std::move(e));
      }
    }
    size_t accepted = 0, rejected = 0;
    for (const auto& in : inputs) {
      const bool expected = std::regex_match(in, c.re);
      if (c.matches(in) != expected) FAIL_CHECK("'" << in << "': matcher says " << !expected);
      ++(expected ? accepted : rejected);
    }
    // Both sides of the shape were exercised.
    CHECK(accepted > 10);
    CHECK(rejected > 100);
  }
}

TEST_CASE("a principal's account is the twelve digits after arn:aws:iam::", "[config][shapes]") {
  const std::string p = "arn:aws:iam::444455556666:role/x";
  REQUIRE(shape::principal(p));
  CHECK(p.substr(13, 12) == "444455556666");
}
