// The state machine with an injected time: transitions and due times.
#include <catch2/catch.hpp>

#include "verify/schedule.hpp"

using namespace vpced::verify;
using vpced::zones::DnsNameState;
using vpced::zones::format_timestamp;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

const TimePoint kT0 = std::chrono::sys_days{std::chrono::year{2026} / 1 / 2} + hours{3};

vpced::zones::VerifyConfig timing() {
  vpced::zones::VerifyConfig c;
  c.interval = seconds{60};
  c.give_up_after = seconds{300};
  c.recheck_every = seconds{3600};
  return c;
}

Target target(std::string name = "api.example.com", std::string value = "vpce:l6p0ERxlTt45jevFwOCp") {
  return Target{"orders", name, {name, "_6e86v84tqgqubxbwii1m", value}};
}

}  // namespace

TEST_CASE("schedule: a new name is pending and due at once") {
  const auto cfg = timing();
  auto rec = new_record(target(), kT0);
  CHECK(rec.state == DnsNameState::PendingVerification);
  CHECK(rec.pending_since == format_timestamp(kT0));
  CHECK(rec.since == format_timestamp(kT0));
  CHECK(next_check_due(rec, kT0, cfg) == kT0);
  CHECK(record_matches(rec, target()));
  CHECK_FALSE(record_matches(rec, target("www.example.com")));
  CHECK_FALSE(record_matches(rec, target("api.example.com", "vpce:other")));
}

TEST_CASE("schedule: pending → verified; then rechecked after recheck_every") {
  const auto cfg = timing();
  auto rec = new_record(target(), kT0);
  CHECK(record_check(rec, false, kT0, cfg) == Transition::None);
  CHECK(next_check_due(rec, kT0, cfg) == kT0 + seconds{60});
  CHECK(record_check(rec, true, kT0 + seconds{60}, cfg) == Transition::Verified);
  CHECK(rec.state == DnsNameState::Verified);
  CHECK(rec.since == format_timestamp(kT0 + seconds{60}));
  CHECK(rec.last_match == rec.last_check);
  CHECK(next_check_due(rec, kT0 + seconds{60}, cfg) == kT0 + seconds{60 + 3600});
  CHECK(record_check(rec, true, kT0 + seconds{3660}, cfg) == Transition::None);
  CHECK(rec.since == format_timestamp(kT0 + seconds{60}));  // the state did not change
}

TEST_CASE("schedule: pending → failed after give_up_after without a match") {
  const auto cfg = timing();
  auto rec = new_record(target(), kT0);
  for (int s = 0; s < 300; s += 60) {
    CHECK(record_check(rec, false, kT0 + seconds{s}, cfg) == Transition::None);
    CHECK(rec.state == DnsNameState::PendingVerification);
  }
  CHECK(record_check(rec, false, kT0 + seconds{300}, cfg) == Transition::Failed);
  CHECK(rec.state == DnsNameState::Failed);
  CHECK_FALSE(next_check_due(rec, kT0 + seconds{300}, cfg));  // failed: no automatic checks
}

TEST_CASE("schedule: the give-up deadline is checked on time even with a long interval") {
  auto cfg = timing();
  cfg.interval = seconds{200};
  auto rec = new_record(target(), kT0);
  record_check(rec, false, kT0 + seconds{200}, cfg);
  CHECK(next_check_due(rec, kT0 + seconds{200}, cfg) == kT0 + seconds{300});
  CHECK(record_check(rec, false, kT0 + seconds{300}, cfg) == Transition::Failed);
}

TEST_CASE("schedule: verified that stops matching → checked every interval → failed after give_up_after") {
  const auto cfg = timing();
  auto rec = new_record(target(), kT0);
  record_check(rec, true, kT0, cfg);
  const TimePoint broke = kT0 + seconds{3600};
  CHECK(record_check(rec, false, broke, cfg) == Transition::None);
  CHECK(rec.state == DnsNameState::Verified);  // still served while the give-up clock runs
  CHECK(rec.unmatched_since == format_timestamp(broke));
  CHECK(next_check_due(rec, broke, cfg) == broke + seconds{60});
  CHECK(give_up_at(rec, cfg) == broke + seconds{300});
  for (int s = 60; s < 300; s += 60) CHECK(record_check(rec, false, broke + seconds{s}, cfg) == Transition::None);
  CHECK(record_check(rec, false, broke + seconds{300}, cfg) == Transition::Failed);
  CHECK(rec.state == DnsNameState::Failed);

  SECTION("matching again in time clears the clock") {
    auto again = new_record(target(), kT0);
    record_check(again, true, kT0, cfg);
    record_check(again, false, broke, cfg);
    CHECK(record_check(again, true, broke + seconds{120}, cfg) == Transition::None);
    CHECK(again.unmatched_since.empty());
    CHECK(next_check_due(again, broke + seconds{120}, cfg) == broke + seconds{120 + 3600});
    record_check(again, false, broke + seconds{3720}, cfg);
    CHECK(again.unmatched_since == format_timestamp(broke + seconds{3720}));  // a new clock
  }
}

TEST_CASE("schedule: check_now moves failed back to pending with a fresh give-up clock") {
  const auto cfg = timing();
  auto rec = new_record(target(), kT0);
  record_check(rec, false, kT0 + seconds{300}, cfg);
  REQUIRE(rec.state == DnsNameState::Failed);
  const TimePoint later = kT0 + hours{5};
  CHECK(restart(rec, later) == Transition::Restarted);
  CHECK(rec.state == DnsNameState::PendingVerification);
  CHECK(rec.pending_since == format_timestamp(later));
  CHECK(record_check(rec, false, later + seconds{240}, cfg) == Transition::None);  // clock restarted
  CHECK(record_check(rec, false, later + seconds{300}, cfg) == Transition::Failed);
  auto verified = new_record(target(), kT0);
  record_check(verified, true, kT0, cfg);
  CHECK(restart(verified, later) == Transition::None);  // only failed restarts
  CHECK(verified.state == DnsNameState::Verified);
}

TEST_CASE("schedule: a failed name stays failed even if a late check matches") {
  const auto cfg = timing();
  auto rec = new_record(target(), kT0);
  record_check(rec, false, kT0 + seconds{300}, cfg);
  CHECK(record_check(rec, true, kT0 + seconds{360}, cfg) == Transition::None);
  CHECK(rec.state == DnsNameState::Failed);
}

TEST_CASE("schedule: records from before pending_since existed use `since` as the give-up start") {
  const auto cfg = timing();
  vpced::zones::VerificationRecord old;
  old.name = "api.example.com";
  old.state = DnsNameState::PendingVerification;
  old.since = format_timestamp(kT0);
  CHECK(give_up_at(old, cfg) == kT0 + seconds{300});
  CHECK(record_check(old, false, kT0 + seconds{300}, cfg) == Transition::Failed);
  vpced::zones::VerificationRecord bare;  // no timestamps at all: the clock starts at the first check
  CHECK(record_check(bare, false, kT0, cfg) == Transition::None);
  CHECK(bare.pending_since == format_timestamp(kT0));
}
