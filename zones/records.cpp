// Generating the records of the public zone from the model.
#include "zones/records.hpp"

#include <algorithm>
#include <cstdio>

#include "zones/net.hpp"

namespace vpced::zones {

namespace {

std::string absolute(std::string_view name) { return std::string(name) + "."; }

}  // namespace

ZoneContent public_zone(const Model& model, uint32_t serial) {
  const uint32_t ttl = model.config.server.ttl;
  ZoneContent z;
  z.apex = absolute(model.zone_apex);
  const std::string ns = "ns1." + z.apex;
  std::vector<Record> rs;
  rs.push_back({z.apex, ttl, "NS", ns});
  for (const auto& hp : model.config.server.dns_listen) {
    auto v4 = hp.addr.v4();
    if (v4 && v4->value != 0) rs.push_back({ns, ttl, "A", to_string(*v4)});
  }
  for (const auto& e : model.endpoints) {
    if (e.state != EndpointState::Available) continue;
    for (const auto& a : e.regional_addresses) rs.push_back({absolute(e.regional_name), ttl, "A", to_string(a)});
    for (size_t i = 0; i < e.enis.size(); ++i)
      rs.push_back({absolute(e.zonal_names[i]), ttl, "A", to_string(e.enis[i].address)});
  }
  std::sort(rs.begin(), rs.end());
  rs.erase(std::unique(rs.begin(), rs.end()), rs.end());
  char soa[512];
  std::snprintf(soa, sizeof soa, "%s hostmaster.%s %u %u %u %u %u", ns.c_str(), z.apex.c_str(), serial, kSoaRefresh,
                kSoaRetry, kSoaExpire, ttl);
  z.records.push_back({z.apex, ttl, "SOA", soa});
  z.records.insert(z.records.end(), rs.begin(), rs.end());
  return z;
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
