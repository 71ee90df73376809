// TXT matching: exact, case-sensitive, strings concatenated; each near miss names its mistake.
#include <catch2/catch.hpp>

#include "verify/txt_check.hpp"

using namespace vpced::verify;

namespace {

const vpced::zones::VerificationToken kToken{"api.example.com", "_6e86v84tqgqubxbwii1m", "vpce:l6p0ERxlTt45jevFwOCp"};

TxtRecord rec(std::string text, size_t strings = 1) { return TxtRecord{"_6e86v84tqgqubxbwii1m.example.com", std::move(text), strings, false}; }

bool has_hint(const Verdict& v, const std::string& part) {
  for (const auto& h : v.hints)
    if (h.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("txt_check: exact value matches; records of several strings are concatenated") {
  std::vector<TxtRecord> one{rec("vpce:l6p0ERxlTt45jevFwOCp")};
  CHECK(check_txt(kToken, one).matched);
  std::vector<TxtRecord> split{rec("vpce:l6p0ERxlTt45jevFwOCp", 3)};  // the parser joins "vpce:" "l6p0ER" "xlTt45jevFwOCp"
  CHECK(check_txt(kToken, split).matched);
  CHECK(check_txt(kToken, {}).matched == false);
}

TEST_CASE("txt_check: one matching record among several is enough; the others are shown") {
  std::vector<TxtRecord> many{rec("v=spf1 -all"), rec("vpce:l6p0ERxlTt45jevFwOCp"), rec("google-site-verification=x")};
  const Verdict v = check_txt(kToken, many);
  CHECK(v.matched);
  CHECK(v.values == std::vector<std::string>{"\"v=spf1 -all\"", "\"google-site-verification=x\""});
  CHECK(v.hints.empty());
}

TEST_CASE("txt_check: matching is case-sensitive and the lowercased value gets a hint") {
  std::vector<TxtRecord> lower{rec("vpce:l6p0erxltt45jevfwocp")};
  const Verdict v = check_txt(kToken, lower);
  CHECK_FALSE(v.matched);
  CHECK(v.values == std::vector<std::string>{"\"vpce:l6p0erxltt45jevfwocp\""});
  REQUIRE(v.hints.size() == 1);
  CHECK(has_hint(v, "letter case"));
}

TEST_CASE("txt_check: each near miss names its mistake") {
  auto verdict = [](std::string text) {
    std::vector<TxtRecord> r{rec(std::move(text))};
    return check_txt(kToken, r);
  };
  SECTION("without the vpce: prefix") {
    const Verdict v = verdict("l6p0ERxlTt45jevFwOCp");
    CHECK_FALSE(v.matched);
    CHECK(v.hints.size() == 1);
    CHECK(has_hint(v, "lacks the \"vpce:\" prefix"));
  }
  SECTION("quotes inside the value") {
    const Verdict v = verdict("\"vpce:l6p0ERxlTt45jevFwOCp\"");
    CHECK(v.hints.size() == 1);
    CHECK(has_hint(v, "quote characters"));
    CHECK(v.values == std::vector<std::string>{"\"\\\"vpce:l6p0ERxlTt45jevFwOCp\\\"\""});
  }
  SECTION("spaces inside the value") {
    CHECK(has_hint(verdict(" vpce:l6p0ERxlTt45jevFwOCp"), "whitespace"));
    CHECK(has_hint(verdict("vpce: l6p0ERxlTt45jevFwOCp"), "whitespace"));
  }
  SECTION("several mistakes at once: each is named") {
    const Verdict v = verdict("\"l6p0erxltt45jevfwocp \"");
    CHECK(has_hint(v, "quote characters"));
    CHECK(has_hint(v, "whitespace"));
    CHECK(has_hint(v, "prefix"));
    CHECK(has_hint(v, "letter case"));
  }
  SECTION("the record name published as the value") {
    CHECK(has_hint(verdict("_6e86v84tqgqubxbwii1m"), "its own name"));
  }
  SECTION("another token's value") {
    CHECK(has_hint(verdict("vpce:qUAth3FdeABCApUiXabc"), "another vpced verification value"));
  }
  SECTION("unrelated values get no hint") {
    CHECK(verdict("v=spf1 -all").hints.empty());
  }
}

TEST_CASE("txt_check: shown values are escaped and truncated to 80 characters") {
  CHECK(show_value("a\nb\\c") == "\"a\\010b\\\\c\"");
  const std::string longv(200, 'x');
  CHECK(show_value(longv) == "\"" + std::string(80, 'x') + "\"…");
  std::vector<TxtRecord> many;
  for (int i = 0; i < 20; ++i) {
    std::string v = "v";  // not "v" + …: GCC 12's -Wrestrict false positive (PR 105329)
    v += std::to_string(i);
    many.push_back(rec(v));
  }
  const Verdict v = check_txt(kToken, many);
  REQUIRE(v.values.size() == kMaxValuesShown + 1);
  CHECK(v.values.back() == "…12 more");
  TxtRecord truncated = rec(std::string(kMaxTxtKept, 'v'));
  truncated.truncated = true;
  std::vector<TxtRecord> t{truncated};
  CHECK_FALSE(check_txt(kToken, t).matched);
}
