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
