// Reading, writing and applying the verification state file.
#include "zones/verification_state.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "zones/atomic_file.hpp"

namespace vpced::zones {

using nlohmann::json;

namespace {

constexpr int kFormat = 1;

[[noreturn]] void corrupt(const std::filesystem::path& path, const std::string& why) {
  LoadError err;
  err.diags.error({path.string(), 0, 0}, "corrupt state file: " + why +
                                             " (refusing to start; restore it from a backup or remove it to "
                                             "start every private DNS name over at pendingVerification)");
  throw err;
}

}  // namespace

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
      rec.last_check = r.value("last_check", "");
      rec.since = r.value("since", "");
      rec.reasons = r.value("reasons", std::vector<std::string>{});
      state.services.emplace(service, std::move(rec));
    }
  } catch (const json::exception& e) {
    corrupt(path, e.what());
  }
  return state;
}

void save_verification(const std::filesystem::path& state_dir, const VerificationState& state) {
  json services = json::object();
  for (const auto& [service, r] : state.services)
    services[service] = {{"name", r.name},         {"token_name", r.token_name},
                         {"token_value", r.token_value}, {"state", to_string(r.state)},
                         {"last_check", r.last_check}, {"since", r.since},
                         {"reasons", r.reasons}};
  std::filesystem::create_directories(state_dir);
  write_file_atomic(state_dir / kVerificationFile, json{{"format", kFormat}, {"services", services}}.dump(2) + "\n");
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
