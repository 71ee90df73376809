// Explaining an answer: run the responder on a synthetic query, then say in words which objects made it.
#include "cmd/explain.hpp"

#include <algorithm>

#include "dns/respond.hpp"
#include "zones/describe.hpp"
#include "zones/ldns.hpp"

namespace vpced::cmd {

using nlohmann::json;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// Words for each object the name belongs to.
std::vector<std::string> reasons_for(const zones::Model& m, const std::string& name, zones::Lookup result,
                                     const std::string& view_name, bool synthesized) {
  std::vector<std::string> why;
  for (const auto& e : m.endpoints) {
    const auto& svc = m.services.at(e.service);
    const std::string who = "endpoint '" + e.config->name + "' (" + e.id + ", " + std::string(zones::to_string(e.state)) +
                            ") of service '" + svc.config->name + "'";
    const std::string not_live =
        e.state == zones::EndpointState::PendingAcceptance
            ? "; it has no names until the provider accepts it (add it to 'accepted' of service '" + svc.config->name + "')"
        : e.state == zones::EndpointState::Rejected ? "; the provider rejected it, so its names do not exist"
                                                    : "";
    if (name == e.regional_name()) {
      why.push_back("regional name of " + who + not_live);
      if (e.state == zones::EndpointState::Available) {
        if (e.regional_count() == e.enis.size()) {
          bool any_healthy = false;
          for (const auto& eni : e.enis) any_healthy |= zones::az_has_healthy_target(*svc.config, eni.az->id, {});
          why.push_back(any_healthy ? "every ENI's AZ reaches a healthy target: all " + std::to_string(e.enis.size()) +
                                          " ENI addresses answer"
                                    : "no AZ reaches a healthy target: failing open, every ENI address answers");
        } else {
          for (size_t i = 0; i < e.enis.size(); ++i)
            if (const auto& eni = e.enis[i]; !e.answers_regional(i))
              why.push_back("ENI " + zones::to_string(eni.address) + " in " + std::string(eni.az->name) + " (" +
                            std::string(eni.az->id) + ") left out: no healthy target in that AZ" +
                            (svc.config->load_balancer.cross_zone ? "" : " and cross_zone is off"));
        }
      }
    }
    for (size_t i = 0; i < e.enis.size(); ++i)
      if (name == e.zonal_name(i))
        why.push_back("zonal name of " + who + " for " + std::string(e.enis[i].az->name) + " (" +
                      std::string(e.enis[i].az->id) +
                      " in account " + m.config.vpcs.at(e.vpc).account + "'s names), ENI " +
                      zones::to_string(e.enis[i].address) + not_live);
    const auto& pdn = svc.config->private_dns_name;
    if (pdn && e.private_dns_enabled) {
      const bool wildcard = pdn->starts_with("*.");
      const std::string apex = wildcard ? pdn->substr(2) : *pdn;
      const bool covered = name == *pdn || (wildcard && name.size() > apex.size() + 1 && name.ends_with("." + apex));
      if (covered) {
        const std::string& vpc = m.config.vpcs.at(e.vpc).id;
        std::string line = "private DNS name " + *pdn + " of service '" + svc.config->name + "' for " + who + " in " + vpc;
        if (!e.private_dns_live)
          line += e.state != zones::EndpointState::Available
                      ? ": not served, the endpoint is not available"
                      : ": not served until the name is verified (now " + std::string(zones::to_string(svc.dns_name_state)) + ")";
        else if (view_name != vpc)
          line += ": served only in that VPC's view, not in view " + view_name;
        else
          line += std::string(": served in this view") + (wildcard && synthesized ? " (synthesized from the wildcard, RFC 4592)" : "");
        why.push_back(line);
      }
    }
  }
  if (why.empty()) {
    if (result == zones::Lookup::Refused)
      why.push_back(m.config.server.forwarders.empty()
                        ? "the name is outside every zone of this view and no forwarders are configured: REFUSED"
                        : "the name is outside every zone of this view: it is forwarded to server.forwarders");
    else if (result == zones::Lookup::NxDomain)
      why.push_back("no endpoint, service or record has this name in the zone");
    else if (name == m.zone_apex)
      why.push_back("the zone apex: SOA and NS");
  }
  return why;
}

}  // namespace

json explain(const zones::Snapshot& snapshot, const std::string& name, const zones::IpAddr& from,
             const std::string& type) {
  ldns_rr_type qtype = ldns_get_rr_type_by_name(type.c_str());
  if (qtype == 0) throw ExplainError{"unknown record type '" + type + "'"};
  ldns_rdf* dname = nullptr;
  if (name.empty() || ldns_str2rdf_dname(&dname, name.c_str()) != LDNS_STATUS_OK)
    throw ExplainError{"'" + name + "' is not a valid domain name"};
  std::unique_ptr<ldns_rdf, decltype(&ldns_rdf_deep_free)> owned_name(dname, &ldns_rdf_deep_free);
  ldns::PktPtr query(ldns_pkt_query_new(ldns_rdf_clone(dname), qtype, LDNS_RR_CLASS_IN, LDNS_RD));
  ldns_pkt_set_id(query.get(), 1);
  uint8_t* wire = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&wire, query.get(), &size) != LDNS_STATUS_OK) throw ExplainError{"cannot encode the query"};
  std::vector<uint8_t> in(wire, wire + size);
  LDNS_FREE(wire);

  std::vector<uint8_t> out(65535);
  dns::Outcome oc;
  dns::Client client{from, dns::Transport::Tcp, -1};
  size_t n = dns::respond(snapshot, in, client, out, &oc);
  // A forwarded query has no local answer: the upstream's is not part of the explanation.
  ldns_pkt* resp = nullptr;
  std::string rcode_text = "(forwarded)";
  if (!oc.forward) {
    if (n == 0 || ldns_wire2pkt(&resp, out.data(), n) != LDNS_STATUS_OK) throw ExplainError{"no answer"};
    char* rcode = ldns_pkt_rcode2str(ldns_pkt_get_rcode(resp));
    rcode_text = rcode ? rcode : "?";
    free(rcode);
  }
  ldns::PktPtr response(resp);

  const std::string qname = lower(name);
  ldns_dname2canonical(dname);  // lowercase, as the responder looks names up
  const auto choice = snapshot.choose_view(from);
  const uint32_t view = choice.view;
  auto lookup = snapshot.lookup(view, std::span(ldns_rdf_data(dname), ldns_rdf_size(dname)), qtype);
  json zone = nullptr;
  if (lookup.kind != zones::Lookup::Refused) {
    std::string apex = snapshot.zones(lookup.zone_view).at(lookup.zone).apex;
    zone = apex.substr(0, apex.size() - 1);
  }
  const std::string view_name = snapshot.view_name(view);
  std::string view_reason =
      choice.by == zones::ViewChoice::By::ClientPrefix
          ? zones::to_string(from) + " is in " + zones::to_string(choice.prefix) + ", dns_clients of " + view_name
          : zones::to_string(from) + " is in no VPC's dns_clients: the public view";
  json result = {{"name", name},
                 {"type", type},
                 {"from", zones::to_string(from)},
                 {"view", view_name},
                 {"view_reason", view_reason},
                 {"zone", zone},
                 {"result", oc.forward ? std::string("forwarded") : std::string(zones::to_string(lookup.kind))},
                 {"rcode", rcode_text},
                 {"answer", resp ? ldns::section_lines(resp, LDNS_SECTION_ANSWER) : std::vector<std::string>{}},
                 {"authority", resp ? ldns::section_lines(resp, LDNS_SECTION_AUTHORITY) : std::vector<std::string>{}},
                 {"reasons", reasons_for(snapshot.model(), qname, lookup.kind, view_name, lookup.wildcard)}};
  return result;
}

}  // namespace vpced::cmd
