// Building the model: AZ mapping per account, the common-AZ rule, endpoint states and names.
#include "zones/model.hpp"

#include <algorithm>
#include <cassert>
#include <memory>
#include <unordered_map>

#include "zones/naming.hpp"

namespace vpced::zones {

std::string_view to_string(EndpointState s) {
  switch (s) {
    case EndpointState::Available: return "available";
    case EndpointState::PendingAcceptance: return "pendingAcceptance";
    case EndpointState::Rejected: return "rejected";
  }
  return "unknown";
}

std::string_view to_string(DnsNameState s) {
  switch (s) {
    case DnsNameState::PendingVerification: return "pendingVerification";
    case DnsNameState::Verified: return "verified";
    case DnsNameState::Failed: return "failed";
  }
  return "unknown";
}

namespace {

const AccountConfig* find_account(const Config& c, std::string_view id) {
  for (const auto& a : c.accounts)
    if (a.id == id) return &a;
  return nullptr;
}

std::string_view az_name_for(const AccountConfig* account, std::string_view az_id) {
  if (!account) return {};
  for (const auto& [name, id] : account->az_names)
    if (id == az_id) return name;
  return {};
}

// The AZ ID that `account` names `az_name`, as a view into the account's config (empty when unknown).
std::string_view az_id_for(const AccountConfig* account, std::string_view az_name) {
  if (!account) return {};
  auto it = account->az_names.find(std::string(az_name));
  return it == account->az_names.end() ? std::string_view() : std::string_view(it->second);
}

bool listed(const std::vector<std::string>& list, const EndpointConfig& e, std::string_view id) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& x) { return x == e.name || x == id; });
}

}  // namespace

bool az_has_healthy_target(const ServiceConfig& service, std::string_view az_id, const RuntimeInputs& runtime) {
  for (const auto& t : service.load_balancer.targets) {
    if (!service.load_balancer.cross_zone && t.az != az_id) continue;
    if (!runtime.unhealthy_targets.contains({service.name, t.address})) return true;
  }
  return false;
}

std::shared_ptr<const Model> build_model(Config config, const IdentityState& identity, const RuntimeInputs& runtime) {
  auto model = std::make_shared<Model>();
  model->config = std::move(config);
  const Config& c = model->config;
  model->zone_apex = public_zone_apex(c.region.name, c.region.dns_suffix);

  model->services.reserve(c.services.size());
  for (const auto& s : c.services) {
    ServiceModel sm;
    sm.config = &s;
    auto ident = identity.services.find(s.name);
    if (ident != identity.services.end()) {
      sm.id = ident->second.id;
      sm.token = ident->second.token;
    }
    sm.service_name = service_name(c.region.name, sm.id);
    sm.base_name = base_name(sm.id, c.region.name, c.region.dns_suffix);
    const AccountConfig* owner = find_account(c, s.owner);
    sm.azs.reserve(s.azs.size());
    for (const auto& az : s.azs) sm.azs.push_back({az, az_name_for(owner, az), {}});
    if (s.private_dns_name) {
      auto v = runtime.verification.find(s.name);
      if (v != runtime.verification.end()) sm.dns_name_state = v->second;
    }
    model->services.push_back(std::move(sm));
  }

  // Services and VPCs by reference (name or id), first match in config order as a linear search would find.
  std::unordered_map<std::string_view, size_t> service_by_ref, vpc_by_id;
  service_by_ref.reserve(2 * c.services.size());
  for (size_t i = 0; i < c.services.size(); ++i) {
    service_by_ref.emplace(c.services[i].name, i);
    if (c.services[i].id) service_by_ref.emplace(*c.services[i].id, i);
  }
  for (size_t i = 0; i < c.vpcs.size(); ++i) vpc_by_id.emplace(c.vpcs[i].id, i);
  model->endpoints.reserve(c.endpoints.size());
  std::unordered_map<const SubnetConfig*, const AzView*> az_of_subnet;
  for (const auto& e : c.endpoints) {
    EndpointModel em;
    em.config = &e;
    auto svc = service_by_ref.find(e.service);
    em.service = static_cast<uint32_t>(svc == service_by_ref.end() ? c.services.size() : svc->second);
    auto vpc = vpc_by_id.find(e.vpc);
    em.vpc = static_cast<uint32_t>(vpc == vpc_by_id.end() ? c.vpcs.size() : vpc->second);
    auto ident = identity.endpoints.find(e.name);
    if (ident != identity.endpoints.end()) {
      em.id = ident->second.id;
      em.dns_suffix = ident->second.dns_suffix;
    }
    const ServiceModel& sm = model->services.at(em.service);
    const ServiceConfig& sc = *sm.config;
    if (listed(sc.rejected, e, em.id))
      em.state = EndpointState::Rejected;
    else if (!sc.acceptance_required || listed(sc.accepted, e, em.id))
      em.state = EndpointState::Available;
    else
      em.state = EndpointState::PendingAcceptance;
    em.private_dns_enabled = e.private_dns_enabled.value_or(sc.private_dns_name.has_value());

    const VpcConfig& v = c.vpcs.at(em.vpc);
    const AccountConfig* consumer = find_account(c, v.account);
    em.base_name = &sm.base_name;
    em.enis.reserve(e.subnets.size());  // exactly: 100,000 endpoints in three AZs would keep room for a fourth
    for (const auto& subnet_id : e.subnets) {
      auto sn = std::find_if(v.subnets.begin(), v.subnets.end(), [&](const SubnetConfig& x) { return x.id == subnet_id; });
      if (sn == v.subnets.end()) continue;
      auto [az, fresh] = az_of_subnet.try_emplace(&*sn, nullptr);
      if (fresh) az->second = &model->eni_azs.emplace_back(AzView{az_id_for(consumer, sn->az), sn->az, subnet_id});
      Eni eni{az->second, {}};
      if (ident != identity.endpoints.end()) {
        if (auto a = ident->second.addresses.find(subnet_id); a != ident->second.addresses.end()) eni.address = a->second;
      }
      em.enis.push_back(std::move(eni));
    }
    // One ENI per AZ and at most kMaxAzs AZs (the config check), so every ENI has its bit.
    assert(em.enis.size() <= kMaxAzs);
    for (size_t i = 0; i < em.enis.size() && i < kMaxAzs; ++i)
      if (az_has_healthy_target(sc, em.enis[i].az->id, runtime)) em.regional_enis |= uint64_t{1} << i;
    if (em.regional_enis == 0)  // fail open: no AZ reaches a healthy target, answer with every ENI
      em.regional_enis = em.enis.size() >= kMaxAzs ? ~uint64_t{0} : (uint64_t{1} << em.enis.size()) - 1;
    em.private_dns_live = em.state == EndpointState::Available && em.private_dns_enabled && sc.private_dns_name &&
                          sm.dns_name_state == DnsNameState::Verified;
    model->endpoints.push_back(std::move(em));
  }
  return model;
}

}  // namespace vpced::zones
