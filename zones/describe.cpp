// Rendering the model as AWS API-shaped JSON and as text.
#include "zones/describe.hpp"

#include <sstream>

namespace vpced::zones {

using nlohmann::json;

namespace {

json name_tag(const std::string& name) { return json::array({{{"Key", "Name"}, {"Value", name}}}); }

}  // namespace

std::vector<std::string> dns_entries(const Model& model, const EndpointModel& e) {
  std::vector<std::string> out{e.regional_name()};
  for (size_t i = 0; i < e.enis.size(); ++i) out.push_back(e.zonal_name(i));
  const auto& svc = *model.services.at(e.service).config;
  if (e.private_dns_live) out.push_back(*svc.private_dns_name);
  return out;
}

json describe_json(const Model& model) {
  json services = json::array();
  for (const auto& s : model.services) {
    const ServiceConfig& c = *s.config;
    json azs = json::array(), az_ids = json::array();
    for (const auto& az : s.azs) {
      azs.push_back(az.name);
      az_ids.push_back(az.id);
    }
    json j = {{"ServiceType", json::array({{{"ServiceType", "Interface"}}})},
              {"ServiceId", s.id},
              {"ServiceName", s.service_name},
              {"ServiceState", "Available"},
              {"AvailabilityZones", azs},
              {"AvailabilityZoneIds", az_ids},
              {"AcceptanceRequired", c.acceptance_required},
              {"ManagesVpcEndpoints", false},
              {"BaseEndpointDnsNames", json::array({s.base_name})},
              {"AllowedPrincipals", c.allowed_principals},
              {"Owner", c.owner},
              {"Tags", name_tag(c.name)}};
    if (c.private_dns_name && s.token) {
      j["PrivateDnsName"] = *c.private_dns_name;
      j["PrivateDnsNameConfiguration"] = {
          {"State", to_string(s.dns_name_state)}, {"Type", "TXT"}, {"Value", s.token->value}, {"Name", s.token->name}};
    }
    services.push_back(std::move(j));
  }
  json endpoints = json::array();
  for (const auto& e : model.endpoints) {
    const EndpointConfig& c = *e.config;
    const ServiceModel& s = model.services.at(e.service);
    const VpcConfig& v = model.config.vpcs.at(e.vpc);
    json entries = json::array();
    for (const auto& name : dns_entries(model, e)) entries.push_back({{"DnsName", name}});
    json enis = json::array();
    for (const auto& eni : e.enis)
      enis.push_back({{"SubnetId", eni.subnet_id()},
                      {"AvailabilityZone", eni.az->name},
                      {"AvailabilityZoneId", eni.az->id},
                      {"PrivateIpAddress", to_string(eni.address)}});
    endpoints.push_back({{"VpcEndpointId", e.id},
                         {"VpcEndpointType", "Interface"},
                         {"VpcId", v.id},
                         {"ServiceId", s.id},
                         {"ServiceName", s.service_name},
                         {"State", to_string(e.state)},
                         {"SubnetIds", c.subnets},
                         {"PrivateDnsEnabled", e.private_dns_enabled},
                         {"DnsEntries", std::move(entries)},
                         {"OwnerId", v.account},
                         {"NetworkInterfaces", std::move(enis)},
                         {"Tags", name_tag(c.name)}});
  }
  return {{"ServiceConfigurations", std::move(services)}, {"VpcEndpoints", std::move(endpoints)}};
}

std::string describe_text(const Model& model) {
  std::ostringstream out;
  out << "zone " << model.zone_apex << "\n";
  for (const auto& s : model.services) {
    const ServiceConfig& c = *s.config;
    out << "\nservice " << c.name << "  " << s.id << "\n";
    out << "  name        " << s.service_name << "\n";
    out << "  base name   " << s.base_name << "\n";
    out << "  owner       " << c.owner << "\n";
    out << "  azs        ";
    for (const auto& az : s.azs) {
      out << " " << az.id;
      if (!az.name.empty()) out << " (" << az.name << ")";
    }
    out << "\n  acceptance  " << (c.acceptance_required ? "required" : "automatic") << "\n";
    if (c.private_dns_name && s.token) {
      out << "  private dns " << *c.private_dns_name << "  " << to_string(s.dns_name_state) << "\n";
      out << "  verify with " << s.token->name << "." << (c.private_dns_name->starts_with("*.") ? c.private_dns_name->substr(2) : *c.private_dns_name)
          << " TXT \"" << s.token->value << "\"\n";
    }
  }
  for (const auto& e : model.endpoints) {
    const ServiceModel& s = model.services.at(e.service);
    out << "\nendpoint " << e.config->name << "  " << e.id << "  " << to_string(e.state) << "\n";
    out << "  vpc         " << model.config.vpcs.at(e.vpc).id << "\n";
    out << "  service     " << s.config->name << " (" << s.service_name << ")\n";
    for (const auto& eni : e.enis)
      out << "  eni         " << to_string(eni.address) << "  " << eni.subnet_id() << "  " << eni.az->name << " ("
          << eni.az->id << ")\n";
    for (const auto& name : dns_entries(model, e)) out << "  dns         " << name << "\n";
  }
  return out.str();
}

}  // namespace vpced::zones
