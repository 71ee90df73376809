// The verification state file (`state_dir/verification.json`): per service, the private DNS name's token,
// its state (pendingVerification | verified | failed), the last check and its reasons. The verifier writes
// it; the snapshot reads it. A name is served privately only with a `verified` record for the service's
// current name and token.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "zones/model.hpp"

namespace vpced::zones {

struct VerificationRecord {
  std::string name;          // the private DNS name the record is about
  std::string token_name;
  std::string token_value;
  DnsNameState state = DnsNameState::PendingVerification;
  std::string last_check;    // RFC 3339 UTC, empty when never checked
  std::string since;         // when the state last changed
  std::vector<std::string> reasons;
  bool operator==(const VerificationRecord&) const = default;
};

struct VerificationState {
  std::map<std::string, VerificationRecord> services;  // service name → record
  bool operator==(const VerificationState&) const = default;
};

inline constexpr const char* kVerificationFile = "verification.json";

// A missing file is an empty state; a corrupt one throws LoadError (never silently reset).
VerificationState load_verification(const std::filesystem::path& state_dir);
void save_verification(const std::filesystem::path& state_dir, const VerificationState& state);

// The state of each service's private DNS name: `verified`/`failed` only when the record is about the
// service's current name and token; everything else is pendingVerification.
std::map<std::string, DnsNameState> effective_states(const Config& config, const IdentityState& identity,
                                                     const VerificationState& state);

std::optional<DnsNameState> parse_dns_name_state(std::string_view s);

}  // namespace vpced::zones
