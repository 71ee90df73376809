// Identity generated once and persisted in state_dir (design §4): IDs, DNS suffixes, ENI addresses,
// verification tokens, and the zone serial.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "zones/config.hpp"
#include "zones/diagnostics.hpp"
#include "zones/net.hpp"

namespace vpced::zones {

struct VerificationToken {
  std::string domain_name;  // the private DNS name the token was issued for
  std::string name;         // "_" + 20 of [a-z0-9]
  std::string value;        // "vpce:" + 20 of [A-Za-z0-9]
  auto operator<=>(const VerificationToken&) const = default;
};

struct ServiceIdentity {
  std::string id;
  std::optional<VerificationToken> token;
  auto operator<=>(const ServiceIdentity&) const = default;
};

struct EndpointIdentity {
  std::string id;
  std::string dns_suffix;
  std::map<std::string, Ipv4, std::less<>> addresses;  // subnet id → ENI address
  auto operator<=>(const EndpointIdentity&) const = default;
};

// Objects are keyed by their config `name` (services, endpoints): the name is what an operator edits by.
struct IdentityState {
  uint32_t serial = 0;
  std::string zone_digest;  // digest of the zone content the serial belongs to
  std::map<std::string, ServiceIdentity> services;
  std::map<std::string, EndpointIdentity> endpoints;
  bool operator==(const IdentityState&) const = default;
};

inline constexpr const char* kIdentityFile = "identity.json";

// Reads `<state_dir>/identity.json`; a missing file is an empty state. A corrupt file throws LoadError:
// it is never silently reset.
IdentityState load_identity(const std::filesystem::path& state_dir);
void save_identity(const std::filesystem::path& state_dir, const IdentityState& state);
std::string identity_to_json(const IdentityState& state);

// Gives every object of `config` the identity it lacks and drops the entries of objects no longer in it.
// Existing identity never moves; pinned values in the config win. Errors (a pinned address that another
// endpoint already holds, a subnet with no free address) go to `diags`. Returns whether `state` changed.
bool assign_identity(const Config& config, IdentityState& state, Diagnostics& diags);

// Records the digest of the current zone content; when it differs from the stored one, the serial becomes
// max(serial + 1, now_unix) (RFC 1982 arithmetic is not needed while it only grows). Returns true if it moved.
bool update_serial(IdentityState& state, std::string_view digest, uint32_t now_unix);

}  // namespace vpced::zones
