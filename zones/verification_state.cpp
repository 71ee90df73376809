// Reading, writing and applying the verification state file.
#include "zones/verification_state.hpp"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "zones/atomic_file.hpp"

namespace vpced::zones {

using nlohmann::json;

namespace {

constexpr int kFormat = 1;  // later fields are optional on load, so the version did not need to move

[[noreturn]] void corrupt(const std::filesystem::path& path, const std::string& why) {
  LoadError err;
  err.diags.error({path.string(), 0, 0}, "corrupt state file: " + why +
                                             " (refusing to start; restore it from a backup or remove it to "
                                             "start every private DNS name over at pendingVerification)");
  throw err;
}

// An optional timestamp field: missing → empty; present → a string that parses, else the file is corrupt.
std::string timestamp_field(const std::filesystem::path& path, const std::string& service, const json& r,
                            const char* key) {
  std::string s = r.value(key, "");
  if (!s.empty() && !parse_timestamp(s))
    corrupt(path, "service '" + service + "': " + key + " is not an RFC 3339 UTC time: '" + s + "'");
  return s;
}

bool parse_digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

std::string format_timestamp(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(t);
  const auto day = floor<days>(secs);
  const year_month_day ymd{day};
  const hh_mm_ss hms{secs - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view s) {
  using namespace std::chrono;
  int y, mo, d, h, mi, se;
  if (s.size() < 20 || !parse_digits(s, 0, 4, y) || s[4] != '-' || !parse_digits(s, 5, 2, mo) || s[7] != '-' ||
      !parse_digits(s, 8, 2, d) || s[10] != 'T' || !parse_digits(s, 11, 2, h) || s[13] != ':' ||
      !parse_digits(s, 14, 2, mi) || s[16] != ':' || !parse_digits(s, 17, 2, se))
    return std::nullopt;
  size_t i = 19;
  if (s[i] == '.') {
    ++i;
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return std::nullopt;
  }
  if (i + 1 != s.size() || s[i] != 'Z') return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;  // 60: a leap second, as RFC 3339 allows
  return sys_days{ymd} + hours{h} + minutes{mi} + seconds{se};
}

std::optional<DnsNameState> parse_dns_name_state(std::string_view s) {
  if (s == "pendingVerification") return DnsNameState::PendingVerification;
  if (s == "verified") return DnsNameState::Verified;
  if (s == "failed") return DnsNameState::Failed;
  return std::nullopt;
}

VerificationState load_verification(const std::filesystem::path& state_dir) {
  const auto path = state_dir / kVerificationFile;
  VerificationState state;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) return state;
    corrupt(path, "cannot read it");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json root;
  try {
    root = json::parse(ss.str());
  } catch (const json::parse_error& e) {
    corrupt(path, std::string("not valid JSON: ") + e.what());
  }
  try {
    if (!root.is_object() || root.at("format") != kFormat) corrupt(path, "unknown format version");
    for (const auto& [service, r] : root.at("services").items()) {
      VerificationRecord rec;
      rec.name = r.at("name").get<std::string>();
      rec.token_name = r.at("token_name").get<std::string>();
      rec.token_value = r.at("token_value").get<std::string>();
      auto st = parse_dns_name_state(r.at("state").get<std::string>());
      if (!st) corrupt(path, "service '" + service + "' has an unknown state");
      rec.state = *st;
      rec.last_check = timestamp_field(path, service, r, "last_check");
      rec.since = timestamp_field(path, service, r, "since");
      rec.reasons = r.value("reasons", std::vector<std::string>{});
      rec.pending_since = timestamp_field(path, service, r, "pending_since");
      rec.unmatched_since = timestamp_field(path, service, r, "unmatched_since");
      rec.last_match = timestamp_field(path, service, r, "last_match");
      rec.next_check = timestamp_field(path, service, r, "next_check");
      rec.matched_record = r.value("matched_record", "");
      if (auto it = r.find("details"); it != r.end()) {
        if (!it->is_array()) corrupt(path, "service '" + service + "': details is not an array");
        for (const auto& d : *it) {
          VerificationDetail det;
          det.record = d.at("record").get<std::string>();
          det.server = d.at("server").get<std::string>();
          det.result = d.at("result").get<std::string>();
          det.values = d.value("values", std::vector<std::string>{});
          rec.details.push_back(std::move(det));
        }
      }
      state.services.emplace(service, std::move(rec));
    }
  } catch (const json::exception& e) {
    corrupt(path, e.what());
  }
  return state;
}

std::string verification_to_json(const VerificationState& state) {
  json services = json::object();
  for (const auto& [service, r] : state.services) {
    json details = json::array();
    for (const auto& d : r.details)
      details.push_back({{"record", d.record}, {"server", d.server}, {"result", d.result}, {"values", d.values}});
    services[service] = {{"name", r.name},
                         {"token_name", r.token_name},
                         {"token_value", r.token_value},
                         {"state", to_string(r.state)},
                         {"last_check", r.last_check},
                         {"since", r.since},
                         {"reasons", r.reasons},
                         {"pending_since", r.pending_since},
                         {"unmatched_since", r.unmatched_since},
                         {"last_match", r.last_match},
                         {"next_check", r.next_check},
                         {"matched_record", r.matched_record},
                         {"details", details}};
  }
  // Replace, not throw, on invalid UTF-8: reasons quote bytes from untrusted DNS answers (escaped by the
  // verifier, but the file must be writable whatever a caller puts in it).
  return json{{"format", kFormat}, {"services", services}}.dump(2, ' ', false, json::error_handler_t::replace) +
         "\n";
}

void save_verification(const std::filesystem::path& state_dir, const VerificationState& state) {
  std::filesystem::create_directories(state_dir);
  write_file_atomic(state_dir / kVerificationFile, verification_to_json(state));
}

std::map<std::string, DnsNameState> effective_states(const Config& config, const IdentityState& identity,
                                                     const VerificationState& state) {
  std::map<std::string, DnsNameState> out;
  for (const auto& s : config.services) {
    if (!s.private_dns_name) continue;
    DnsNameState st = DnsNameState::PendingVerification;
    auto rec = state.services.find(s.name);
    auto ident = identity.services.find(s.name);
    if (rec != state.services.end() && ident != identity.services.end() && ident->second.token &&
        rec->second.name == *s.private_dns_name && rec->second.token_value == ident->second.token->value &&
        rec->second.token_name == ident->second.token->name)
      st = rec->second.state;
    out.emplace(s.name, st);
  }
  return out;
}

}  // namespace vpced::zones
