// The parsed TOML configuration (design §3): plain values with the source position of each object.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "zones/diagnostics.hpp"
#include "zones/net.hpp"

namespace vpced::zones {

using Seconds = std::chrono::seconds;

// AZs a region may list: an endpoint has one ENI per AZ at most, and the model keeps which ENIs answer the
// regional name as bits of one 64-bit word (AWS regions have up to six).
inline constexpr size_t kMaxAzs = 64;
static_assert(kMaxAzs <= 64, "EndpointModel::regional_enis is one 64-bit word");

struct RegionConfig {
  std::string name;                               // "us-east-1"
  std::string dns_suffix = "vpce.amazonaws.com";
  std::vector<std::string> azs;                   // AZ IDs of the region ("use1-az1")
  SourcePos pos;
};

// Response rate limiting for UDP (docs/dns.md): a token bucket per source prefix; rate 0 turns it off.
struct RrlConfig {
  uint32_t rate = 0;                              // responses per second per prefix (also the burst); 0: off
  uint32_t slip = 2;                              // every slip-th limited response goes out with TC=1; 0: none
  uint8_t ipv4_prefix = 24;
  uint8_t ipv6_prefix = 56;
  std::vector<Cidr> exempt;                       // sources never limited
  SourcePos pos;
};

struct ServerConfig {
  std::filesystem::path state_dir;                // absolute (made relative to the config file's folder)
  std::vector<HostPort> dns_listen;
  HostPort admin_listen;                          // default 127.0.0.1:8053
  uint32_t ttl = 60;
  std::vector<HostPort> forwarders;               // port defaults to 53
  std::vector<Cidr> trust_ecs_from;
  Seconds admin_read_timeout{10};                 // a whole request (headers and body) must arrive within this
  Seconds admin_write_timeout{10};                // a whole response must be taken by the client within this
  uint32_t tcp_max_connections_per_source = 64;   // DNS over TCP, per IPv4 /32 or IPv6 /64, all workers; 0: no limit
  RrlConfig rrl;
  SourcePos pos;
};

struct TsigKeyConfig {
  std::string name;
  std::string algorithm;                          // hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512
  std::filesystem::path secret_file;              // absolute
  std::string view;                               // a VPC id, or empty for the public view
  SourcePos pos;
};

// A NOTIFY target; with `key`, the NOTIFY is signed with that transfer key and covers the zones of the key's
// view (docs/secondaries.md).
struct SecondaryConfig {
  HostPort address;                               // port defaults to 53
  std::string key;                                // a transfer.keys name, or empty: unsigned NOTIFY
  SourcePos pos;
};

struct TransferConfig {
  std::vector<SecondaryConfig> secondaries;       // NOTIFY targets
  std::vector<Cidr> allow;                        // AXFR/IXFR ACL
  std::vector<TsigKeyConfig> keys;
  SourcePos pos;
};

enum class VerifyMode { Authoritative, Recursive };

struct VerifyConfig {
  std::vector<HostPort> resolvers;                               // port defaults to 53
  std::map<std::string, std::vector<HostPort>> nameservers;      // domain (lowercase, no trailing dot) → servers
  VerifyMode mode = VerifyMode::Authoritative;
  Seconds interval{60};
  Seconds give_up_after{72 * 3600};
  Seconds recheck_every{24 * 3600};
  SourcePos pos;
};

struct AccountConfig {
  std::string id;                                 // 12 digits
  std::map<std::string, std::string> az_names;    // AZ name ("us-east-1a") → AZ ID ("use1-az1")
  SourcePos pos;
};

struct HealthCheckConfig {
  Seconds interval{30};
  Seconds timeout{10};
  uint32_t healthy_threshold = 5;
  uint32_t unhealthy_threshold = 2;
};

struct TargetConfig {
  HostPort address;
  std::string az;                                 // AZ ID
  SourcePos pos;
};

struct LoadBalancerConfig {
  bool cross_zone = false;
  bool proxy_protocol_v2 = false;
  Seconds idle_timeout{350};
  Seconds connect_timeout{10};
  uint32_t max_connections_per_target = 55000;
  uint32_t max_connections_per_endpoint = 0;  // open consumer connections per endpoint; 0 = no limit
  std::vector<uint16_t> listeners;
  std::vector<TargetConfig> targets;
  HealthCheckConfig health_check;
};

struct ServiceConfig {
  std::string name;
  std::optional<std::string> id;                  // pinned "vpce-svc-" + 17 hex
  std::string owner;                              // account id
  std::vector<std::string> azs;                   // AZ IDs
  bool acceptance_required = true;
  std::vector<std::string> allowed_principals;    // ARNs or "*"
  std::vector<std::string> accepted;              // endpoint names or ids
  std::vector<std::string> rejected;
  std::optional<std::string> private_dns_name;    // lowercase, may start with "*."
  LoadBalancerConfig load_balancer;
  SourcePos pos;
};

struct SubnetConfig {
  std::string id;                                 // "subnet-…"
  std::string az;                                 // AZ name of the VPC's account
  Cidr cidr;                                      // IPv4
  SourcePos pos;
};

struct VpcConfig {
  std::string id;                                 // "vpc-…"
  std::string account;
  std::vector<Cidr> dns_clients;
  std::vector<HostPort> dns_listen;               // port defaults to 53
  std::vector<SubnetConfig> subnets;
  SourcePos pos;
};

// One copy of each string that many endpoints repeat (VPC ids, principals, subnet ids); the endpoints view
// them here. At 100,000 endpoints in three subnets each, a std::string per field was ~24 MB of small heap
// blocks. Written only while a config loads; every copy of the Config shares it.
class StringPool {
 public:
  StringPool() = default;
  StringPool(const StringPool&) = delete;  // a copy's index would view the original's strings
  StringPool& operator=(const StringPool&) = delete;
  std::string_view intern(std::string_view s);
  // A list of interned strings, held once however many endpoints list the same (the subnets of a VPC).
  std::span<const std::string_view> intern_list(const std::vector<std::string_view>& list);
  // Drops the indexes once the config is read: only loading looks strings up (and with mostly distinct values
  // the index would cost more than the copies it saves).
  void seal() {
    index_ = {};
    list_index_ = {};
  }

 private:
  std::deque<std::string> strings_;  // a deque: no string moves, so the views stay valid
  std::unordered_set<std::string_view> index_;
  std::deque<std::vector<std::string_view>> lists_;  // likewise: no list moves
  std::map<std::vector<std::string_view>, std::span<const std::string_view>> list_index_;
};

// One per endpoint (100,000 in the large configs): what repeats across endpoints lives once in Config::strings.
struct EndpointConfig {
  std::string name;
  std::optional<std::string> id;                  // pinned "vpce-" + 17 hex
  std::string_view vpc;                           // in Config::strings
  std::string_view service;                       // service name (config name) or service id, in Config::strings
  std::string_view principal;                     // ARN, in Config::strings
  std::span<const std::string_view> subnets;      // subnet ids: a list in Config::strings
  std::optional<bool> private_dns_enabled;        // unset: true when the service has a private DNS name
  // Pinned ENI addresses, sorted by subnet id (views into Config::strings); mostly none, at most one per
  // subnet, so pinned() looks them up in order.
  std::vector<std::pair<std::string_view, Ipv4>> addresses;
  SourcePos pos;

  const Ipv4* pinned(std::string_view subnet) const {
    for (const auto& [s, a] : addresses)
      if (s == subnet) return &a;
    return nullptr;
  }
};

struct Config {
  std::filesystem::path file;                     // the config file as given
  uint64_t text_hash = 0;                         // of the config text (std::hash): same text, same config
  RegionConfig region;
  ServerConfig server;
  TransferConfig transfer;
  VerifyConfig verify;
  std::vector<AccountConfig> accounts;
  std::vector<ServiceConfig> services;
  std::vector<VpcConfig> vpcs;
  std::vector<EndpointConfig> endpoints;
  std::shared_ptr<StringPool> strings = std::make_shared<StringPool>();  // what the endpoints' views point into
};

// One table of the config file and the keys it may hold. `path` is dotted from the top level ("" is the top level
// itself, "services.load_balancer.health_check" an inline table); arrays of tables have no brackets
// ("services", "transfer.keys"). Any other key in such a table is an "unknown key" error.
struct SchemaTable {
  std::string path;
  std::vector<std::string> keys;
};

// Every table the loader checks keys of, parents before children. The loader's checks and the documentation
// test (every key is documented in docs/config.md) both read this one list.
const std::vector<SchemaTable>& config_schema();

// "30s", "5m", "2h", "7d" and combinations in descending units ("1h30m"); integer counts only.
// Empty strings, signs, bare numbers and unknown units give nullopt.
std::optional<Seconds> parse_duration(std::string_view s);

// Parses and validates a config file: syntax, types, ranges and every semantic rule of design §3.
// Returns the config only when `diags` holds no error; all errors of the file are collected, sorted by position.
// `on_state_dir`, when given, is called with server.state_dir as soon as it is known (the rest of the file is
// still being read and checked): the load path starts reading the state files then.
using StateDirKnown = std::function<void(const std::filesystem::path&)>;
std::optional<Config> load_config(const std::filesystem::path& file, Diagnostics& diags,
                                  const StateDirKnown& on_state_dir = {});
// Whether `[transfer]` can allow any zone transfer: a secondary to NOTIFY, an `allow` prefix or a key.
inline bool transfers_configured(const Config& c) {
  return !c.transfer.secondaries.empty() || !c.transfer.allow.empty() || !c.transfer.keys.empty();
}
std::optional<Config> load_config_text(std::string_view text, const std::filesystem::path& file, Diagnostics& diags,
                                       const StateDirKnown& on_state_dir = {});

}  // namespace vpced::zones
