// Does a TXT record set prove control of the domain? Exact match on the joined strings, plus hints for the
// near misses providers usually make (design §6, shared reference §2.2).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "verify/message.hpp"
#include "zones/identity.hpp"

namespace vpced::verify {

inline constexpr size_t kMaxValueShown = 80;   // characters of one found value kept in reasons
inline constexpr size_t kMaxValuesShown = 8;   // found values kept per record set

struct Verdict {
  bool matched = false;
  std::vector<std::string> values;  // the other values found, shown (escaped, truncated); "…N more" at the end
  std::vector<std::string> hints;   // one per near miss, naming the mistake and the fix
};

// Verified when some record's strings, concatenated, equal token.value byte for byte (case-sensitive,
// AWS: "exactly matches the value that we provided"). `records` are the TXT records at the record name.
Verdict check_txt(const zones::VerificationToken& token, std::span<const TxtRecord> records);

// The hints for one value that is not the token's: empty when it is not a near miss.
std::vector<std::string> near_miss_hints(const zones::VerificationToken& token, std::string_view value);

// A value as reasons show it: quoted, printable ASCII kept, '"' and '\' escaped, other bytes as \DDD, at
// most kMaxValueShown characters of content then "…". Untrusted bytes never reach logs or files raw.
std::string show_value(std::string_view raw, bool truncated = false);

}  // namespace vpced::verify
