// Test fixture: a small config as TOML text, loaded through the real loader into a model and snapshot.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "zones/config.hpp"
#include "zones/identity.hpp"
#include "zones/model.hpp"
#include "zones/snapshot.hpp"

namespace vpced::testing {

// Provider 111122223333 (us-east-1a→az1, 1b→az2, 1c→az4); consumer 444455556666 with the letters shifted
// (us-east-1a→az2, 1b→az4, 1c→az1). Service "orders" in az1+az2 with targets in both; endpoint "app" in
// two subnets (pinned addresses), endpoint "pending" awaiting acceptance, endpoint "gone" rejected.
inline const char* kSmallConfig = R"(
[region]
name = "us-east-1"
azs = ["use1-az1", "use1-az2", "use1-az4"]

[server]
state_dir = "state"
dns_listen = ["127.0.0.1:5300"]
ttl = 60

[[accounts]]
id = "111122223333"
az_names = { "us-east-1a" = "use1-az1", "us-east-1b" = "use1-az2", "us-east-1c" = "use1-az4" }

[[accounts]]
id = "444455556666"
az_names = { "us-east-1a" = "use1-az2", "us-east-1b" = "use1-az4", "us-east-1c" = "use1-az1" }

[[services]]
name = "orders"
owner = "111122223333"
azs = ["use1-az1", "use1-az2"]
acceptance_required = true
allowed_principals = ["arn:aws:iam::444455556666:root"]
accepted = ["app"]
rejected = ["gone"]
private_dns_name = "api.example.com"
  [services.load_balancer]
  listeners = [443]
  targets = [{ address = "127.0.0.1:9443", az = "use1-az1" }, { address = "127.0.0.2:9443", az = "use1-az2" }]

[[vpcs]]
id = "vpc-0a000000000000001"
account = "444455556666"
dns_clients = ["127.16.0.0/16"]
subnets = [
  { id = "subnet-0a000000000000001", az = "us-east-1a", cidr = "127.16.1.0/24" },
  { id = "subnet-0a000000000000003", az = "us-east-1c", cidr = "127.16.3.0/24" },
]

[[endpoints]]
name = "app"
id = "vpce-0123456789abcdef0"
vpc = "vpc-0a000000000000001"
service = "orders"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0a000000000000001", "subnet-0a000000000000003"]
addresses = { "subnet-0a000000000000001" = "127.16.1.10", "subnet-0a000000000000003" = "127.16.3.10" }

[[endpoints]]
name = "pending"
id = "vpce-0123456789abcdef1"
vpc = "vpc-0a000000000000001"
service = "orders"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0a000000000000001"]
private_dns_enabled = false

[[endpoints]]
name = "gone"
id = "vpce-0123456789abcdef2"
vpc = "vpc-0a000000000000001"
service = "orders"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0a000000000000003"]
private_dns_enabled = false
)";

inline zones::Config load_text(const std::string& text) {
  zones::Diagnostics diags;
  auto c = zones::load_config_text(text, "/tmp/vpced-test/test.toml", diags);
  INFO(diags.format());
  REQUIRE(c);
  REQUIRE_FALSE(diags.has_errors());
  return *c;
}

inline std::shared_ptr<const zones::Model> model_of(const std::string& text, zones::IdentityState& state,
                                                    const zones::RuntimeInputs& runtime = {}) {
  auto config = load_text(text);
  zones::Diagnostics diags;
  zones::assign_identity(config, state, diags);
  INFO(diags.format());
  REQUIRE_FALSE(diags.has_errors());
  return zones::build_model(std::move(config), state, runtime);
}

inline std::shared_ptr<const zones::Snapshot> snapshot_of(const std::string& text, uint32_t serial = 2026112701,
                                                          const zones::RuntimeInputs& runtime = {}) {
  zones::IdentityState state;
  return zones::compile_snapshot(model_of(text, state, runtime), serial);
}

}  // namespace vpced::testing
