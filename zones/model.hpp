// The validated model (design §1, §4): config joined with identity, AZ names resolved per account,
// endpoint states decided. Pure data; the snapshot and the describe output are built from it.
#pragma once

#include <bit>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zones/config.hpp"
#include "zones/naming.hpp"
#include "zones/identity.hpp"

namespace vpced::zones {

enum class EndpointState { Available, PendingAcceptance, Rejected };
std::string_view to_string(EndpointState s);  // AWS wire spelling: "available", "pendingAcceptance", "rejected"

enum class DnsNameState { PendingVerification, Verified, Failed };
std::string_view to_string(DnsNameState s);  // "pendingVerification", "verified", "failed"

// What the running daemon knows beyond config and identity. Defaults describe a daemon that has not
// checked anything yet: every name pending verification, every target healthy.
struct RuntimeInputs {
  std::map<std::string, DnsNameState> verification;              // service name → state of its private DNS name
  std::set<std::pair<std::string, HostPort>> unhealthy_targets;  // (service name, target address)
};

// An AZ as an account sees it: views into the model's config (the account's az_names, the service's azs or
// the subnet), not copies — 300,000 ENIs at 100,000 endpoints.
struct AzView {
  std::string_view id;         // "use1-az1"
  std::string_view name;       // in that account; empty when the account has no name for it
  std::string_view subnet_id;  // for an ENI's: the subnet the ENI is in (Model::eni_azs holds one per subnet);
                               // empty in ServiceModel::azs
};

struct ServiceModel {
  const ServiceConfig* config = nullptr;
  std::string id;
  std::string service_name;  // com.amazonaws.vpce.<region>.<id>
  std::string base_name;     // <id>.<region>.<dns_suffix>
  std::vector<AzView> azs;   // the service's AZ IDs with the owner's names (views into model.config)
  std::optional<VerificationToken> token;
  DnsNameState dns_name_state = DnsNameState::PendingVerification;
};

// 16 bytes: the subnet and its AZ are shared by every ENI in that subnet.
struct Eni {
  const AzView* az = nullptr;  // the ENI's subnet and AZ, with the consumer account's name; in Model::eni_azs
  Ipv4 address;
  std::string_view subnet_id() const { return az->subnet_id; }
};

struct EndpointModel {
  const EndpointConfig* config = nullptr;
  uint32_t service = 0;  // index into Model::services
  uint32_t vpc = 0;      // index into Config::vpcs
  std::string id;
  std::string dns_suffix;
  std::vector<Eni> enis;               // in the config's subnet order; one per AZ, so at most kMaxAzs
  const std::string* base_name = nullptr;  // the service's (ServiceModel::base_name)
  // The ENIs the regional name answers with, bit i for enis[i]: those whose AZ can reach a healthy target
  // (design §5). Bits, not a vector of addresses: 56 bytes less per endpoint, 5.6 MB at 100,000.
  uint64_t regional_enis = 0;
  EndpointState state = EndpointState::PendingAcceptance;
  bool private_dns_enabled = false;
  // The private DNS name is served in the VPC's view: available, private DNS enabled, name verified.
  bool private_dns_live = false;

  // The endpoint's DNS names, made on demand (not stored: at 100,000 endpoints they would be ~40 MB).
  std::string regional_name() const { return zones::regional_name(id, dns_suffix, *base_name); }
  std::string zonal_name(size_t eni) const { return zones::zonal_name(id, dns_suffix, enis.at(eni).az->name, *base_name); }
  bool answers_regional(size_t eni) const { return eni < kMaxAzs && ((regional_enis >> eni) & 1) != 0; }
  size_t regional_count() const { return static_cast<size_t>(std::popcount(regional_enis)); }
};

// Not copyable or movable: the services, endpoints and ENIs view into `config` and `eni_azs`, which a copy
// would not carry along. build_model makes one in place behind a shared_ptr.
struct Model {
  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  Config config;
  std::string zone_apex;  // <region>.<dns_suffix>
  std::vector<ServiceModel> services;
  std::vector<EndpointModel> endpoints;
  // Each subnet an ENI is in, with its AZ as its VPC's account names it: ENIs point here, 8 bytes each instead
  // of a 48-byte triple of views (300,000 ENIs at 100,000 endpoints). A deque: the pointers stay valid.
  std::deque<AzView> eni_azs;
};

// Joins a validated config with its assigned identity. The config is copied in; pointers inside the model
// point into model.config. Precondition: assign_identity(config, identity) ran without errors.
std::shared_ptr<const Model> build_model(Config config, const IdentityState& identity, const RuntimeInputs& runtime);

// The AZ IDs of `service` reachable from an ENI in `az_id`: true when a healthy target in that AZ exists, or
// any healthy target when cross_zone is on (NLB: an AZ without targets counts as unhealthy).
bool az_has_healthy_target(const ServiceConfig& service, std::string_view az_id, const RuntimeInputs& runtime);

}  // namespace vpced::zones
