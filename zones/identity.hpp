// Identity generated once and persisted in state_dir (design §4): IDs, DNS suffixes, ENI addresses,
// verification tokens, and the zone serial.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// An endpoint's ENI address per subnet id: a handful of entries (one per subnet it is in), kept sorted by
// subnet id in one vector. A std::map node each was an allocation and ~80 bytes: 300,000 of them for
// 100,000 endpoints in three subnets, built, compared and read again at every load.
class SubnetAddresses {
 public:
  using value_type = std::pair<std::string, Ipv4>;
  using const_iterator = std::vector<value_type>::const_iterator;

  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

  const_iterator find(std::string_view subnet) const {
    auto it = lower_bound(subnet);
    return it != items_.end() && it->first == subnet ? it : items_.end();
  }
  bool contains(std::string_view subnet) const { return find(subnet) != items_.end(); }
  const Ipv4& at(std::string_view subnet) const {
    auto it = find(subnet);
    if (it == items_.end()) throw std::out_of_range("no address in subnet " + std::string(subnet));
    return it->second;
  }
  // Adds `subnet`'s address unless it has one; as std::map::emplace, the entry and whether it was added.
  std::pair<const_iterator, bool> emplace(std::string_view subnet, Ipv4 address) {
    auto it = lower_bound(subnet);
    if (it != items_.end() && it->first == subnet) return {it, false};
    return {items_.emplace(it, std::string(subnet), address), true};
  }

  auto operator<=>(const SubnetAddresses&) const = default;
  bool operator==(const SubnetAddresses&) const = default;

 private:
  const_iterator lower_bound(std::string_view subnet) const {
    return std::lower_bound(items_.begin(), items_.end(), subnet,
                            [](const value_type& e, std::string_view s) { return e.first < s; });
  }
  std::vector<value_type> items_;
};

struct EndpointIdentity {
  std::string id;
  std::string dns_suffix;
  SubnetAddresses addresses;  // subnet id → ENI address
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
