// Assignment, loading and atomic saving of generated identity.
#include "zones/identity.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "zones/atomic_file.hpp"
#include "zones/naming.hpp"

namespace vpced::zones {

using nlohmann::json;

namespace {

constexpr int kFormat = 1;

SourcePos position_of_offset(const std::string& file, const std::string& text, size_t offset) {
  SourcePos pos{file, 1, 1};
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++pos.line;
      pos.column = 1;
    } else {
      ++pos.column;
    }
  }
  return pos;
}

[[noreturn]] void corrupt(const std::filesystem::path& path, SourcePos pos, const std::string& why) {
  LoadError err;
  if (pos.file.empty()) pos.file = path.string();
  err.diags.error(pos, "corrupt state file: " + why +
                           " (refusing to start; restore it from a backup or remove it to regenerate every identity)");
  throw err;
}

// Appends `s` as a JSON string: as is between quotes when no byte needs escaping (IDs, names, addresses),
// else through nlohmann's escaping — the same text its dump() gives either way.
void put_string(std::string& out, const std::string& s) {
  const bool plain = std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
  });
  if (!plain) {
    out += json(s).dump();
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

void put_indent(std::string& out, int level) { out.append(static_cast<size_t>(level) * 2, ' '); }

// Appends `"key": ` at `level`, after a comma and newline unless it is the object's first member.
void put_key(std::string& out, int level, bool& first, const std::string& key) {
  out += first ? "\n" : ",\n";
  first = false;
  put_indent(out, level);
  put_string(out, key);
  out += ": ";
}

// Closes an object opened with "{" whose members started at `level` + 1: "{}" when it had none.
void close_object(std::string& out, int level, bool first) {
  if (first) {
    out += "}";
    return;
  }
  out += "\n";
  put_indent(out, level);
  out += "}";
}

}  // namespace

// Written directly, not through a JSON DOM (100,000 endpoints: the DOM cost ~6 % of a reload): the same text
// nlohmann's dump(2) gives for the same document — keys in sorted order, two-space indent — which
// test_identity.cpp checks against the DOM.
std::string identity_to_json(const IdentityState& state) {
  std::string out;
  out.reserve(256 + state.endpoints.size() * 200 + state.services.size() * 200);
  out += "{";
  bool root_first = true;
  put_key(out, 1, root_first, "endpoints");
  out += "{";
  bool first = true;
  for (const auto& [name, e] : state.endpoints) {
    put_key(out, 2, first, name);
    out += "{";
    bool inner = true;
    put_key(out, 3, inner, "addresses");
    out += "{";
    bool addr_first = true;
    for (const auto& [subnet, a] : e.addresses) {
      put_key(out, 4, addr_first, subnet);
      put_string(out, to_string(a));
    }
    close_object(out, 3, addr_first);
    put_key(out, 3, inner, "dns_suffix");
    put_string(out, e.dns_suffix);
    put_key(out, 3, inner, "id");
    put_string(out, e.id);
    close_object(out, 2, inner);
  }
  close_object(out, 1, first);
  put_key(out, 1, root_first, "format");
  out += std::to_string(kFormat);
  put_key(out, 1, root_first, "serial");
  out += std::to_string(state.serial);
  put_key(out, 1, root_first, "services");
  out += "{";
  first = true;
  for (const auto& [name, sv] : state.services) {
    put_key(out, 2, first, name);
    out += "{";
    bool inner = true;
    put_key(out, 3, inner, "id");
    put_string(out, sv.id);
    if (sv.token) {
      put_key(out, 3, inner, "verification");
      out += "{";
      bool v = true;
      put_key(out, 4, v, "domain_name");
      put_string(out, sv.token->domain_name);
      put_key(out, 4, v, "name");
      put_string(out, sv.token->name);
      put_key(out, 4, v, "value");
      put_string(out, sv.token->value);
      close_object(out, 3, v);
    }
    close_object(out, 2, inner);
  }
  close_object(out, 1, first);
  put_key(out, 1, root_first, "zone_digest");
  put_string(out, state.zone_digest);
  close_object(out, 0, root_first);
  out += "\n";
  return out;
}

namespace {

// Reads identity.json event by event (nlohmann's SAX interface) straight into an IdentityState: no document
// tree (at 100,000 endpoints the tree was ~100 MB beside the state it became, and most of the read's time).
// The first problem is kept and parsing goes on, so that a syntax error anywhere wins, as with a whole-file
// parse, and an unknown format version wins over anything else; unknown keys are skipped. A key given twice
// counts with its last value, as in a document tree.
class IdentityReader {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  IdentityState state;
  std::string problem;           // the first semantic problem, empty if none
  std::optional<size_t> syntax;  // byte offset of a syntax error

  bool null() { return scalar(Kind::Other); }
  bool boolean(bool) { return scalar(Kind::Other); }
  bool number_integer(number_integer_t v) {
    if (v >= 0) return number_unsigned(static_cast<number_unsigned_t>(v));
    return scalar(Kind::Other);
  }
  bool number_unsigned(number_unsigned_t v) {
    number_ = v;
    return scalar(Kind::Unsigned);
  }
  bool number_float(number_float_t, const string_t&) { return scalar(Kind::Other); }
  bool binary(binary_t&) { return scalar(Kind::Other); }
  bool string(string_t& v) {
    string_ = std::move(v);
    return scalar(Kind::String);
  }
  bool key(string_t& k) {
    key_ = std::move(k);
    return true;
  }
  bool start_array(std::size_t) {
    if (skip_ == 0) on_value(Kind::Array);
    ++skip_;  // no array belongs to the format: skipped with all it holds
    return true;
  }
  bool end_array() {
    --skip_;
    return true;
  }
  bool start_object(std::size_t) {
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    const Ctx parent = stack_.empty() ? Ctx::None : stack_.back();
    Ctx next = Ctx::Skip;
    switch (parent) {
      case Ctx::None: next = Ctx::Root; break;
      case Ctx::Root:
        if (key_ == "services") {
          next = Ctx::Services;
          seen_services_ = services_ok_ = true;
          state.services.clear();
        }
        if (key_ == "endpoints") {
          next = Ctx::Endpoints;
          seen_endpoints_ = endpoints_ok_ = true;
          state.endpoints.clear();
        }
        break;
      case Ctx::Services:
        next = Ctx::Service;
        name_ = key_;
        service_ = {};
        token_ = {};
        has_token_ = false;
        seen_.clear();
        break;
      case Ctx::Service:
        if (key_ == "verification") {
          next = Ctx::Verification;
          has_token_ = true;
          token_seen_.clear();
        }
        break;
      case Ctx::Endpoints:
        next = Ctx::Endpoint;
        name_ = key_;
        endpoint_ = {};
        has_addresses_ = false;
        seen_.clear();
        break;
      case Ctx::Endpoint:
        if (key_ == "addresses") next = (has_addresses_ = true, Ctx::Addresses);
        break;
      default: break;
    }
    if (next == Ctx::Skip) {
      on_value(Kind::Object);
      ++skip_;
      return true;
    }
    stack_.push_back(next);
    return true;
  }
  bool end_object() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    const Ctx done = stack_.back();
    stack_.pop_back();
    if (done == Ctx::Service) finish_service();
    if (done == Ctx::Endpoint) finish_endpoint();
    if (done == Ctx::Verification) {
      require({"domain_name", "name", "value"}, token_seen_);
      if (!is_verification_name(token_.name) || !is_verification_value(token_.value))
        fail("service '" + name_ + "' has a malformed verification token");
    }
    if (done == Ctx::Root) finish_root();
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) {
    syntax = position;
    return false;
  }

 private:
  enum class Ctx { None, Root, Services, Service, Verification, Endpoints, Endpoint, Addresses, Skip };
  enum class Kind { String, Unsigned, Other, Object, Array };

  void fail(std::string why) {
    if (problem.empty()) problem = std::move(why);
  }

  bool scalar(Kind kind) {
    if (skip_ == 0) on_value(kind);
    return true;
  }

  // A value (scalar, or an object or array not part of the format) for key_ in the current object.
  void on_value(Kind kind) {
    if (stack_.empty()) {
      fail("top level is not an object");
      return;
    }
    const bool str = kind == Kind::String;
    switch (stack_.back()) {
      case Ctx::Root:
        if (key_ == "format") format_ok_ = kind == Kind::Unsigned && number_ == kFormat;
        if (key_ == "serial") {
          seen_serial_ = true;
          serial_ok_ = kind == Kind::Unsigned && number_ <= UINT32_MAX;
          state.serial = static_cast<uint32_t>(number_);
        }
        if (key_ == "zone_digest") {
          seen_digest_ = true;
          digest_ok_ = str;
          state.zone_digest = std::move(string_);
        }
        if (key_ == "services") seen_services_ = true, services_ok_ = false;
        if (key_ == "endpoints") seen_endpoints_ = true, endpoints_ok_ = false;
        break;
      case Ctx::Services:
      case Ctx::Endpoints: fail("'" + key_ + "' is not an object"); break;
      case Ctx::Service:
        if (key_ == "id") {
          seen_.set(key_, str);
          if (str) service_.id = std::move(string_);
        }
        if (key_ == "verification") fail("service '" + name_ + "' has a malformed verification token");
        break;
      case Ctx::Verification:
        token_seen_.set(key_, str);  // not a string: reported as missing at the token's end
        if (!str) break;
        if (key_ == "domain_name") token_.domain_name = std::move(string_);
        if (key_ == "name") token_.name = std::move(string_);
        if (key_ == "value") token_.value = std::move(string_);
        break;
      case Ctx::Endpoint:
        if (key_ == "id" || key_ == "dns_suffix") {
          seen_.set(key_, str);
          if (str) (key_ == "id" ? endpoint_.id : endpoint_.dns_suffix) = std::move(string_);
        }
        if (key_ == "addresses") fail("endpoint '" + name_ + "' has no address table");
        break;
      case Ctx::Addresses: {
        auto ip = str ? parse_ipv4(string_) : std::nullopt;
        if (!ip)
          fail("endpoint '" + name_ + "' has a malformed address for " + key_);
        else
          endpoint_.addresses.emplace(key_, *ip);
        break;
      }
      default: break;
    }
  }

  void finish_service() {
    require({"id"}, seen_);
    if (!is_service_id(service_.id)) fail("service '" + name_ + "' has a malformed id");
    if (has_token_) service_.token = std::move(token_);
    state.services.insert_or_assign(name_, std::move(service_));
  }

  void finish_endpoint() {
    require({"id", "dns_suffix"}, seen_);
    if (!is_endpoint_id(endpoint_.id) || !is_dns_suffix(endpoint_.dns_suffix))
      fail("endpoint '" + name_ + "' has a malformed id or DNS suffix");
    if (!has_addresses_) fail("endpoint '" + name_ + "' has no address table");
    state.endpoints.insert_or_assign(name_, std::move(endpoint_));
  }

  void finish_root() {
    if (!format_ok_) {
      problem = "unknown format version";  // whatever else looked wrong: another format reads differently
      return;
    }
    if (!seen_serial_) return fail("missing 'serial'");
    if (!serial_ok_) return fail("serial is not a 32-bit unsigned number");
    if (!seen_digest_ || !digest_ok_) return fail("missing string 'zone_digest'");
    if (!seen_services_) return fail("missing object 'services'");
    if (!services_ok_) return fail("services is not an object");
    if (!seen_endpoints_) return fail("missing object 'endpoints'");
    if (!endpoints_ok_) fail("endpoints is not an object");
  }

  std::vector<Ctx> stack_;
  size_t skip_ = 0;  // depth inside a value that is not part of the format
  std::string key_, string_, name_;
  uint64_t number_ = 0;
  ServiceIdentity service_;
  VerificationToken token_;
  EndpointIdentity endpoint_;
  // The string members met in the current service or endpoint, and in its verification token: a few short
  // keys, compared in place.
  struct Seen {
    std::vector<std::string> keys;
    void clear() { keys.clear(); }
    // Records whether the last value of `k` was a string.
    void set(const std::string& k, bool is_string) {
      std::erase(keys, k);
      if (is_string) keys.push_back(k);
    }
    bool contains(std::string_view k) const { return std::find(keys.begin(), keys.end(), k) != keys.end(); }
  };
  void require(std::initializer_list<const char*> keys, const Seen& seen) {
    for (const char* k : keys)
      if (!seen.contains(k)) fail(std::string("missing string '") + k + "'");
  }
  Seen seen_, token_seen_;
  bool has_token_ = false, has_addresses_ = false;
  bool format_ok_ = false, seen_serial_ = false, serial_ok_ = false, seen_digest_ = false, digest_ok_ = false;
  bool seen_services_ = false, services_ok_ = false, seen_endpoints_ = false, endpoints_ok_ = false;
};

}  // namespace

IdentityState load_identity(const std::filesystem::path& state_dir) {
  const auto path = state_dir / kIdentityFile;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) return {};
    corrupt(path, {}, "cannot read it");
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  IdentityReader reader;
  json::sax_parse(text, &reader);
  if (reader.syntax)
    corrupt(path, position_of_offset(path.string(), text, *reader.syntax > 0 ? *reader.syntax - 1 : 0), "not valid JSON");
  if (!reader.problem.empty()) corrupt(path, {}, reader.problem);
  return std::move(reader.state);
}

void save_identity(const std::filesystem::path& state_dir, const IdentityState& state) {
  std::filesystem::create_directories(state_dir);
  write_file_atomic(state_dir / kIdentityFile, identity_to_json(state));
}

namespace {

// ENI address → index of the endpoint holding it: an open-addressing table sized once (300,000 addresses at
// 100,000 endpoints; a node per address in std::unordered_map was ~3 % of a load).
class AddressOwners {
 public:
  explicit AddressOwners(size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
  }
  // Records `owner` for `address` unless it has one; returns (the owner now recorded, whether it was new).
  std::pair<size_t, bool> emplace(uint32_t address, size_t owner) {
    if (size_ * 2 >= slots_.size()) grow();
    size_t i = slot_of(address);
    if (slots_[i].used) return {slots_[i].owner, false};
    slots_[i] = Slot{address, true, owner};
    ++size_;
    return {owner, true};
  }

 private:
  struct Slot {
    uint32_t address = 0;
    bool used = false;
    size_t owner = 0;
  };
  size_t slot_of(uint32_t address) const {
    const size_t mask = slots_.size() - 1;
    size_t i = (uint64_t{address} * 0x9E3779B97F4A7C15ull >> 32) & mask;
    while (slots_[i].used && slots_[i].address != address) i = (i + 1) & mask;
    return i;
  }
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& s : old)
      if (s.used) slots_[slot_of(s.address)] = s;
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace

bool assign_identity(const Config& config, IdentityState& state, Diagnostics& diags) {
  // Sized for 100,000 endpoints: every lookup below is a hash lookup or an index, and the old state is searched
  // once per object (a reload at that size must not spend its time walking trees of names).
  const size_t n_endpoints = config.endpoints.size();
  std::unordered_set<std::string> ids_in_use;
  ids_in_use.reserve(config.services.size() + n_endpoints);
  for (const auto& s : config.services)
    if (s.id) ids_in_use.insert(*s.id);
  for (const auto& e : config.endpoints)
    if (e.id) ids_in_use.insert(*e.id);
  auto keep_or_new = [&](const std::optional<std::string>& pinned, const std::string* stored, auto generate) {
    if (pinned) return *pinned;
    if (stored && ids_in_use.insert(*stored).second) return *stored;
    std::string id;
    do id = generate();
    while (!ids_in_use.insert(id).second);
    return id;
  };

  // Services.
  std::vector<std::pair<std::string_view, ServiceIdentity>> services;
  services.reserve(config.services.size());
  for (const auto& s : config.services) {
    auto old = state.services.find(s.name);
    ServiceIdentity si;
    si.id = keep_or_new(s.id, old != state.services.end() ? &old->second.id : nullptr, new_service_id);
    if (s.private_dns_name) {
      // A new private DNS name gets a new token (AWS re-runs verification for a changed name).
      if (old != state.services.end() && old->second.token && old->second.token->domain_name == *s.private_dns_name)
        si.token = old->second.token;
      else
        si.token = VerificationToken{*s.private_dns_name, new_verification_name(), new_verification_value()};
    }
    services.emplace_back(s.name, std::move(si));
  }

  // Endpoints, by their index in the config. Addresses are placed in three passes so that nothing already
  // held can move: pins from the config, then addresses kept from state, then new ones for what is still missing.
  std::unordered_map<std::string_view, const SubnetConfig*> subnets;
  for (const auto& v : config.vpcs)
    for (const auto& sn : v.subnets) subnets.emplace(sn.id, &sn);
  // AWS reserves the first four addresses and the last one of every subnet.
  auto usable = [](const Cidr& c) { return std::pair{uint64_t{c.first_v4()} + 4, uint64_t{c.last_v4()} - 1}; };
  // Address → index of the endpoint holding it, across all VPCs: VPC CIDRs may overlap, but every ENI address is
  // also a listening address of the relay on this host, so no two ENIs may share one.
  AddressOwners taken(n_endpoints * 3);
  std::vector<EndpointIdentity> endpoints(n_endpoints);
  // The config's endpoints by name (stable: the first of two of one name comes first), and each one's previous
  // identity found by walking that order beside the old state, which a std::map keeps sorted by name: one
  // comparison per step instead of a tree search per endpoint (~0.1 s of a reload at 100,000 endpoints).
  auto by_name = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::vector<std::pair<std::string_view, size_t>> order;
  order.reserve(n_endpoints);
  for (size_t i = 0; i < n_endpoints; ++i) order.emplace_back(config.endpoints[i].name, i);
  std::stable_sort(order.begin(), order.end(), by_name);
  std::vector<const EndpointIdentity*> previous(n_endpoints, nullptr);
  {
    auto old = state.endpoints.begin();
    for (const auto& [name, i] : order) {
      while (old != state.endpoints.end() && std::string_view(old->first) < name) ++old;
      if (old != state.endpoints.end() && old->first == name) previous[i] = &old->second;
    }
  }
  for (size_t i = 0; i < n_endpoints; ++i) {
    const auto& e = config.endpoints[i];
    for (const auto& [subnet, addr] : e.addresses) {
      taken.emplace(addr.value, i);
      endpoints[i].addresses.emplace(subnet, addr);
    }
  }
  for (size_t i = 0; i < n_endpoints; ++i) {
    if (!previous[i]) continue;
    const auto& e = config.endpoints[i];
    auto& ei = endpoints[i];
    for (const auto& subnet_id : e.subnets) {
      auto a = previous[i]->addresses.find(subnet_id);
      auto sn = subnets.find(subnet_id);
      if (a == previous[i]->addresses.end() || sn == subnets.end() || ei.addresses.contains(subnet_id)) continue;
      auto [first, last] = usable(sn->second->cidr);
      if (a->second.value < first || a->second.value > last) continue;  // the subnet changed: a new address
      auto [holder, fresh] = taken.emplace(a->second.value, i);
      if (!fresh) {
        // Reported at the pin: it is the edit that would move an address.
        const auto& pinner = config.endpoints[holder];
        diags.error(pinner.pos, "endpoint '" + e.name + "' already holds " + to_string(a->second) + " in '" +
                                    std::string(subnet_id) + "' (state_dir), but endpoint '" + pinner.name +
                                    "' pins it; pin another address so that no address moves");
        continue;
      }
      ei.addresses.emplace(subnet_id, a->second);
    }
  }
  for (size_t i = 0; i < n_endpoints; ++i) {
    const auto& e = config.endpoints[i];
    const EndpointIdentity* prev = previous[i];
    auto& ei = endpoints[i];
    ei.id = keep_or_new(e.id, prev ? &prev->id : nullptr, new_endpoint_id);
    ei.dns_suffix = prev && is_dns_suffix(prev->dns_suffix) ? prev->dns_suffix : new_dns_suffix();
    for (const auto& subnet_id : e.subnets) {
      auto sn = subnets.find(subnet_id);
      if (sn == subnets.end() || ei.addresses.contains(subnet_id)) continue;
      auto [first, last] = usable(sn->second->cidr);
      if (first > last) {
        diags.error(sn->second->pos,
                    "subnet '" + std::string(subnet_id) + "' has no usable address for endpoint '" + e.name + "'");
        continue;
      }
      const uint64_t span = last - first + 1, start = random_below(span);
      bool placed = false;
      for (uint64_t k = 0; k < span && !placed; ++k) {
        uint32_t candidate = static_cast<uint32_t>(first + (start + k) % span);
        if (taken.emplace(candidate, i).second) {
          ei.addresses.emplace(subnet_id, Ipv4{candidate});
          placed = true;
        }
      }
      if (!placed)
        diags.error(sn->second->pos,
                    "subnet '" + std::string(subnet_id) + "' is full: no free address for endpoint '" + e.name + "'");
    }
  }

  // The new state, keyed by name (the first of two objects of one name wins, as the config check reports the
  // second), and whether it differs from the old one.
  std::stable_sort(services.begin(), services.end(), by_name);
  std::map<std::string, ServiceIdentity> new_services;
  for (auto& [name, si] : services) new_services.emplace_hint(new_services.end(), name, std::move(si));
  std::map<std::string, EndpointIdentity> new_endpoints;
  bool changed = new_services != state.services || order.size() != state.endpoints.size();
  for (const auto& [name, i] : order) {
    auto before = new_endpoints.size();
    auto at = new_endpoints.emplace_hint(new_endpoints.end(), name, std::move(endpoints[i]));
    if (new_endpoints.size() != before && !changed) changed = !previous[i] || *previous[i] != at->second;
  }
  changed = changed || new_endpoints.size() != state.endpoints.size();
  state.services = std::move(new_services);
  state.endpoints = std::move(new_endpoints);
  return changed;
}

bool update_serial(IdentityState& state, std::string_view digest, uint32_t now_unix) {
  if (state.zone_digest == digest && state.serial != 0) return false;
  state.serial = std::max(state.serial + 1, now_unix);
  state.zone_digest = std::string(digest);
  return true;
}

}  // namespace vpced::zones
