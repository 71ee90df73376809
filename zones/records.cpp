// Generating the records of the public zone from the model.
#include "zones/records.hpp"

#include <algorithm>
#include <cstdio>

#include "zones/net.hpp"

namespace vpced::zones {

namespace {

std::string absolute(std::string_view name) { return std::string(name) + "."; }

}  // namespace

namespace {
std::string soa_rdata(const std::string& ns, const std::string& apex, uint32_t serial, uint32_t ttl);
}  // namespace

ZoneContent public_zone(const Model& model, uint32_t serial) {
  const uint32_t ttl = model.config.server.ttl;
  ZoneContent z;
  z.apex = absolute(model.zone_apex);
  const std::string ns = "ns1." + z.apex;
  std::vector<Record> rs;
  rs.push_back({z.apex, ttl, "NS", ns});
  // Glue for ns1: every concrete dns_listen address. A wildcard listener (0.0.0.0, ::) has no address of its
  // own; it answers on loopback too, so it contributes 127.0.0.1 or ::1, keeping the zone loadable.
  for (const auto& hp : model.config.server.dns_listen) {
    const bool wildcard = std::all_of(hp.addr.bytes.begin(), hp.addr.bytes.begin() + (hp.addr.v6 ? 16 : 4),
                                      [](uint8_t b) { return b == 0; });
    if (hp.addr.v6)
      rs.push_back({ns, ttl, "AAAA", wildcard ? "::1" : to_string(hp.addr)});
    else
      rs.push_back({ns, ttl, "A", wildcard ? "127.0.0.1" : to_string(hp.addr)});
  }
  for (const auto& e : model.endpoints) {
    if (e.state != EndpointState::Available) continue;
    for (const auto& a : e.regional_addresses) rs.push_back({absolute(e.regional_name), ttl, "A", to_string(a)});
    for (size_t i = 0; i < e.enis.size(); ++i)
      rs.push_back({absolute(e.zonal_names[i]), ttl, "A", to_string(e.enis[i].address)});
  }
  std::sort(rs.begin(), rs.end());
  rs.erase(std::unique(rs.begin(), rs.end()), rs.end());
  z.records.push_back({z.apex, ttl, "SOA", soa_rdata(ns, z.apex, serial, ttl)});
  z.records.insert(z.records.end(), rs.begin(), rs.end());
  return z;
}

namespace {

std::string soa_rdata(const std::string& ns, const std::string& apex, uint32_t serial, uint32_t ttl) {
  char soa[600];
  std::snprintf(soa, sizeof soa, "%s hostmaster.%s %u %u %u %u %u", ns.c_str(), apex.c_str(), serial, kSoaRefresh,
                kSoaRetry, kSoaExpire, ttl);
  return soa;
}

}  // namespace

ZoneContent private_zone(const Model& model, const EndpointModel& e, uint32_t serial) {
  const uint32_t ttl = model.config.server.ttl;
  const std::string& name = *model.services.at(e.service).config->private_dns_name;
  ZoneContent z;
  z.apex = absolute(name.starts_with("*.") ? name.substr(2) : name);
  const std::string ns = "ns1." + absolute(model.zone_apex);
  z.records.push_back({z.apex, ttl, "SOA", soa_rdata(ns, z.apex, serial, ttl)});
  std::vector<Record> rs;
  rs.push_back({z.apex, ttl, "NS", ns});
  for (const auto& a : e.regional_addresses) rs.push_back({absolute(name), ttl, "A", to_string(a)});
  std::sort(rs.begin(), rs.end());
  z.records.insert(z.records.end(), rs.begin(), rs.end());
  return z;
}

std::vector<ZoneContent> private_zones(const Model& model, size_t vpc, uint32_t serial) {
  std::vector<ZoneContent> out;
  for (const auto& e : model.endpoints)
    if (e.vpc == vpc && e.private_dns_live) out.push_back(private_zone(model, e, serial));
  return out;
}

std::string zone_digest(const ZoneContent& zone) {
  // FNV-1a 64 over every record but the SOA's serial field: a change detector, not a security boundary.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::string_view s) {
    for (unsigned char ch : s) {
      h ^= ch;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (const auto& r : zone.records) {
    mix(r.owner);
    mix(std::to_string(r.ttl));
    mix(r.type);
    if (r.type == "SOA") {
      // mname rname serial refresh retry expire minimum: leave the serial out.
      auto sp1 = r.rdata.find(' '), sp2 = r.rdata.find(' ', sp1 + 1), sp3 = r.rdata.find(' ', sp2 + 1);
      mix(r.rdata.substr(0, sp2));
      mix(r.rdata.substr(sp3));
    } else {
      mix(r.rdata);
    }
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string content_digest(const Model& model) {
  ZoneContent all;
  all.records = public_zone(model, 0).records;
  for (size_t v = 0; v < model.config.vpcs.size(); ++v)
    for (auto& z : private_zones(model, v, 0)) {
      all.records.push_back({"view " + model.config.vpcs[v].id, 0, "-", ""});
      all.records.insert(all.records.end(), z.records.begin(), z.records.end());
    }
  return zone_digest(all);
}

std::string to_master_file(const ZoneContent& zone) {
  std::string out = "$ORIGIN " + zone.apex + "\n";
  for (const auto& r : zone.records) {
    out += r.owner;
    out += '\t';
    out += std::to_string(r.ttl);
    out += "\tIN\t";
    out += r.type;
    out += '\t';
    out += r.rdata;
    out += '\n';
  }
  return out;
}

}  // namespace vpced::zones
