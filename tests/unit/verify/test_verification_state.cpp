// The verification state file: new fields round-trip, older files load with defaults, corruption is an
// error (design §6: never silently reset).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "zones/naming.hpp"
#include "zones/verification_state.hpp"

using namespace vpced::zones;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("vpced-verify-test-" + random_string("abcdefghijklmnopqrstuvwxyz", 12));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  void write(const std::string& content) const { std::ofstream(path / kVerificationFile) << content; }
};

}  // namespace

TEST_CASE("verification_state: timestamps") {
  using namespace std::chrono;
  const auto t = sys_days{year{2026} / 1 / 2} + hours{3} + minutes{4} + seconds{5} + milliseconds{678};
  CHECK(format_timestamp(t) == "2026-01-02T03:04:05Z");
  CHECK(parse_timestamp("2026-01-02T03:04:05Z") == floor<seconds>(t));
  CHECK(parse_timestamp("2026-01-02T03:04:05.999Z") == floor<seconds>(t));
  CHECK(parse_timestamp("1970-01-01T00:00:00Z") == system_clock::time_point{});
  for (const char* bad : {"", "2026-01-02", "2026-01-02T03:04:05", "2026-01-02T03:04:05+00:00", "2026-02-30T00:00:00Z",
                          "2026-01-02T24:00:00Z", "2026-01-02T03:04:05.Z", "2026-01-02 03:04:05Z", "x026-01-02T03:04:05Z"})
    CHECK_FALSE(parse_timestamp(bad));
}

TEST_CASE("verification_state: every field round-trips") {
  TempDir dir;
  VerificationState s;
  VerificationRecord r;
  r.name = "api.example.com";
  r.token_name = "_6e86v84tqgqubxbwii1m";
  r.token_value = "vpce:l6p0ERxlTt45jevFwOCp";
  r.state = DnsNameState::Verified;
  r.last_check = r.since = r.last_match = "2026-01-02T03:04:05Z";
  r.next_check = "2026-01-03T03:04:05Z";
  r.unmatched_since = "2026-01-02T03:00:00Z";
  r.matched_record = "_6e86v84tqgqubxbwii1m.example.com";
  r.reasons = {"verified: …", "line with \"quotes\""};
  r.details = {{"_6e86v84tqgqubxbwii1m.example.com", "127.0.0.1:5399 (pinned)", "match", {}},
               {"_6e86v84tqgqubxbwii1m.api.example.com", "127.0.0.1:5399 (pinned)", "different", {"\"x\""}}};
  s.services["orders"] = r;
  VerificationRecord p;
  p.name = "*.example.org";
  p.token_name = "_aaaaaaaaaaaaaaaaaaaa";
  p.token_value = "vpce:AAAAAAAAAAAAAAAAAAAA";
  p.pending_since = p.since = "2026-01-01T00:00:00Z";
  s.services["billing"] = p;
  save_verification(dir.path, s);
  CHECK(load_verification(dir.path) == s);
}

TEST_CASE("verification_state: a file without the newer fields loads with defaults") {
  TempDir dir;
  dir.write(R"({"format": 1, "services": {"orders": {"name": "api.example.com",
      "token_name": "_6e86v84tqgqubxbwii1m", "token_value": "vpce:l6p0ERxlTt45jevFwOCp", "state": "verified",
      "last_check": "2026-01-01T00:00:00Z", "since": "2026-01-01T00:00:00Z", "reasons": []}}})");
  const auto s = load_verification(dir.path);
  const auto& r = s.services.at("orders");
  CHECK(r.state == DnsNameState::Verified);
  CHECK(r.pending_since.empty());
  CHECK(r.unmatched_since.empty());
  CHECK(r.last_match.empty());
  CHECK(r.details.empty());
  dir.write(R"({"format": 1, "services": {"orders": {"name": "a.example.com", "token_name": "_x", "token_value": "v",
      "state": "pendingVerification"}}})");
  CHECK(load_verification(dir.path).services.at("orders").last_check.empty());
}

TEST_CASE("verification_state: corruption is an error") {
  TempDir dir;
  const std::string head = R"({"format": 1, "services": {"orders": {"name": "api.example.com", "token_name": "_x", "token_value": "v", )";
  for (const std::string& bad : {
           std::string("{not json"),
           std::string(R"({"format": 2, "services": {}})"),
           head + R"("state": "maybe"}}})",
           head + R"("state": "verified", "last_check": "yesterday"}}})",
           head + R"("state": "verified", "pending_since": 5}}})",
           head + R"("state": "verified", "details": {"a": 1}}}})",
           head + R"("state": "verified", "details": [{"record": "x"}]}}})",
           std::string(R"({"format": 1, "services": {"orders": {"name": "x"}}})"),
       }) {
    INFO(bad);
    dir.write(bad);
    CHECK_THROWS_AS(load_verification(dir.path), LoadError);
  }
  fs::remove(dir.path / kVerificationFile);
  CHECK(load_verification(dir.path).services.empty());  // missing: empty, not an error
}

TEST_CASE("verification_state: bytes that are not UTF-8 never make saving fail") {
  TempDir dir;
  VerificationState s;
  s.services["orders"].name = "api.example.com";
  s.services["orders"].reasons = {std::string("bad \xff\xfe bytes")};
  CHECK_NOTHROW(save_verification(dir.path, s));
  CHECK(load_verification(dir.path).services.at("orders").reasons.size() == 1);
}
