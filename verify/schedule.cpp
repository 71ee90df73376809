// The verification state machine: transitions and due times from the record's persisted timestamps.
#include "verify/schedule.hpp"

#include <algorithm>

namespace vpced::verify {

using zones::DnsNameState;
using zones::format_timestamp;
using zones::parse_timestamp;

namespace {

// The start of a pending name's give-up clock. Files written before pending_since existed have `since`
// (when it became pending); a record without either starts now.
TimePoint pending_start(zones::VerificationRecord& rec, TimePoint now) {
  if (auto t = parse_timestamp(rec.pending_since)) return *t;
  auto t = parse_timestamp(rec.since);
  const TimePoint start = t ? *t : now;
  rec.pending_since = format_timestamp(start);
  return start;
}

}  // namespace

std::string_view to_string(Transition t) {
  switch (t) {
    case Transition::None: return "none";
    case Transition::Verified: return "verified";
    case Transition::Failed: return "failed";
    case Transition::Restarted: return "restarted";
  }
  return "unknown";
}

zones::VerificationRecord new_record(const Target& target, TimePoint now) {
  zones::VerificationRecord rec;
  rec.name = target.private_dns_name;
  rec.token_name = target.token.name;
  rec.token_value = target.token.value;
  rec.state = DnsNameState::PendingVerification;
  rec.since = rec.pending_since = format_timestamp(now);
  return rec;
}

bool record_matches(const zones::VerificationRecord& rec, const Target& target) {
  return rec.name == target.private_dns_name && rec.token_name == target.token.name &&
         rec.token_value == target.token.value;
}

Transition record_check(zones::VerificationRecord& rec, bool matched, TimePoint now,
                        const zones::VerifyConfig& config) {
  const std::string stamp = format_timestamp(now);
  rec.last_check = stamp;
  if (matched) {
    rec.last_match = stamp;
    rec.unmatched_since.clear();
    if (rec.state == DnsNameState::Verified) return Transition::None;
    if (rec.state == DnsNameState::Failed) return Transition::None;  // only check_now leaves failed
    rec.state = DnsNameState::Verified;
    rec.since = stamp;
    rec.pending_since.clear();
    return Transition::Verified;
  }
  switch (rec.state) {
    case DnsNameState::PendingVerification:
      if (now - pending_start(rec, now) >= config.give_up_after) {
        rec.state = DnsNameState::Failed;
        rec.since = stamp;
        return Transition::Failed;
      }
      return Transition::None;
    case DnsNameState::Verified: {
      if (!parse_timestamp(rec.unmatched_since)) rec.unmatched_since = stamp;
      if (now - *parse_timestamp(rec.unmatched_since) >= config.give_up_after) {
        rec.state = DnsNameState::Failed;
        rec.since = stamp;
        return Transition::Failed;
      }
      return Transition::None;
    }
    case DnsNameState::Failed:
      return Transition::None;
  }
  return Transition::None;
}

Transition restart(zones::VerificationRecord& rec, TimePoint now) {
  if (rec.state != DnsNameState::Failed) return Transition::None;
  rec.state = DnsNameState::PendingVerification;
  rec.since = rec.pending_since = format_timestamp(now);
  rec.unmatched_since.clear();
  return Transition::Restarted;
}

std::optional<TimePoint> give_up_at(const zones::VerificationRecord& rec, const zones::VerifyConfig& config) {
  if (rec.state == DnsNameState::PendingVerification) {
    auto start = parse_timestamp(rec.pending_since);
    if (!start) start = parse_timestamp(rec.since);
    if (start) return *start + config.give_up_after;
    return std::nullopt;
  }
  if (rec.state == DnsNameState::Verified) {
    if (auto start = parse_timestamp(rec.unmatched_since)) return *start + config.give_up_after;
  }
  return std::nullopt;
}

std::optional<TimePoint> next_check_due(const zones::VerificationRecord& rec, TimePoint now,
                                        const zones::VerifyConfig& config) {
  if (rec.state == DnsNameState::Failed) return std::nullopt;
  const auto last = parse_timestamp(rec.last_check);
  if (!last) return now;
  const bool matching = rec.state == DnsNameState::Verified && rec.unmatched_since.empty();
  if (matching) return *last + config.recheck_every;
  TimePoint due = *last + config.interval;
  // Give up on time even when the interval is long: one more check exactly at the deadline.
  if (auto deadline = give_up_at(rec, config); deadline && *deadline > *last) due = std::min(due, *deadline);
  return due;
}

}  // namespace vpced::verify
