// The verification state file (`state_dir/verification.json`): per service, the private DNS name's token,
// its state (pendingVerification | verified | failed), the last check and its reasons. The verifier writes
// it; the snapshot reads it. A name is served privately only with a `verified` record for the service's
// current name and token.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zones/model.hpp"

namespace vpced::zones {

// One line of the last check, structured: what was asked where, and what came back.
struct VerificationDetail {
  std::string record;               // the name asked ("_tok.example.com")
  std::string server;               // "192.0.2.1:53", or the resolvers ("resolvers 127.0.0.1:53")
  std::string result;               // "match", "different", "NODATA", "NXDOMAIN", "timeout", "SERVFAIL", …
  std::vector<std::string> values;  // TXT values found (escaped, each at most 80 characters + "…")
  bool operator==(const VerificationDetail&) const = default;
};

// Every timestamp is RFC 3339 UTC ("2026-01-02T03:04:05Z") or empty. Fields added after the first
// version of the file load as empty when missing, so older files stay readable.
struct VerificationRecord {
  std::string name;          // the private DNS name the record is about
  std::string token_name;
  std::string token_value;
  DnsNameState state = DnsNameState::PendingVerification;
  std::string last_check;    // empty when never checked
  std::string since;         // when the state last changed
  std::vector<std::string> reasons;  // the last check, one line each, for people
  std::string pending_since;     // start of the give-up clock of a pending name
  std::string unmatched_since;   // a verified name: the first check that no longer matched; empty while it matches
  std::string last_match;        // the last check that matched
  std::string next_check;        // when the verifier means to check next; empty when it will not (failed)
  std::string matched_record;    // the TXT record name that matched at the last check, if any
  std::vector<VerificationDetail> details;  // the last check, structured
  bool operator==(const VerificationRecord&) const = default;
};

struct VerificationState {
  std::map<std::string, VerificationRecord> services;  // service name → record
  bool operator==(const VerificationState&) const = default;
};

inline constexpr const char* kVerificationFile = "verification.json";

// A missing file is an empty state; a corrupt one (bad JSON, unknown format, a missing required field, a
// wrong type, an unknown state or a malformed timestamp) throws LoadError (never silently reset).
VerificationState load_verification(const std::filesystem::path& state_dir);
void save_verification(const std::filesystem::path& state_dir, const VerificationState& state);
std::string verification_to_json(const VerificationState& state);

// The state of each service's private DNS name: `verified`/`failed` only when the record is about the
// service's current name and token; everything else is pendingVerification.
std::map<std::string, DnsNameState> effective_states(const Config& config, const IdentityState& identity,
                                                     const VerificationState& state);

std::optional<DnsNameState> parse_dns_name_state(std::string_view s);

// RFC 3339 UTC timestamps with whole seconds, the form of every time in the file. Parsing accepts
// "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (the fraction is dropped) and nothing else.
std::string format_timestamp(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view s);

}  // namespace vpced::zones
