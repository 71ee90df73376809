// Generating the records of the public zone from the model.
#include "zones/records.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <future>

#include "zones/net.hpp"

namespace vpced::zones {

namespace {

std::string absolute(std::string_view name) { return std::string(name) + "."; }

}  // namespace

namespace {
std::string soa_rdata(const std::string& ns, const std::string& apex, uint32_t serial, uint32_t ttl);
}  // namespace

ZoneContent public_zone(const Model& model, uint32_t serial, size_t split_endpoints) {
  const uint32_t ttl = model.config.server.ttl;
  ZoneContent z;
  z.apex = absolute(model.zone_apex);
  const std::string ns = "ns1." + z.apex;
  RecordList rs;
  rs.push_back({z.apex, ttl, "SOA", soa_rdata(ns, z.apex, serial, ttl)});  // first, out of the groups
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
  // Sorted in groups: the records above, then each endpoint's, each group sorted on its own and the groups by
  // their first record. An endpoint's names share a prefix no other endpoint's has (its ID), so the groups
  // do not interleave and the concatenation is sorted (600,000 records: one sort of them all was ~6 % of a
  // load); should they interleave, the whole is sorted after all.
  struct Group {
    size_t begin, end;
  };
  std::vector<Group> groups;
  auto close_group = [](RecordList& out, std::vector<Group>& gs, size_t begin) {
    if (begin == out.size()) return;
    out.sort(begin, out.size());
    gs.push_back({begin, out.size()});
  };
  close_group(rs, groups, 1);
  // Room for the records of endpoints [from, to), reserved up front so that the text is not copied as it
  // grows and keeps no spare half: the names of one endpoint have the shape of every other's (IDs of fixed
  // length), a zonal name is the regional one and "-<az>", an address at most 15 characters.
  auto reserve_for = [&](RecordList& out, size_t from, size_t to) {
    size_t endpoints = 0, addresses = 0, zonals = 0, per_name = 0;
    for (size_t k = from; k < to; ++k) {
      const EndpointModel& e = model.endpoints[k];
      if (e.state != EndpointState::Available) continue;
      if (per_name == 0) per_name = e.regional_name().size() + 1 + 16;
      ++endpoints;
      addresses += e.regional_count();
      zonals += e.enis.size();
    }
    out.reserve(out.size() + addresses + zonals,
                out.text_size() + endpoints * per_name + addresses * 15 + zonals * (per_name + 15));
  };
  // Endpoints [from, to) into `out` and `gs`. Reads only the model: a large config has a helper thread write
  // the second half into a list of its own, which is then appended, its groups moved by what precedes.
  auto endpoint_records = [&](size_t from, size_t to, RecordList& out, std::vector<Group>& gs) {
    std::string regional, zonal;
    for (size_t k = from; k < to; ++k) {
      const EndpointModel& e = model.endpoints[k];
      if (e.state != EndpointState::Available) continue;
      const size_t begin = out.size();
      regional = e.regional_name();
      regional += '.';
      for (size_t i = 0; i < e.enis.size(); ++i)
        if (e.answers_regional(i)) out.push_back({regional, ttl, "A", to_string(e.enis[i].address)});
      for (size_t i = 0; i < e.enis.size(); ++i) {
        zonal = e.zonal_name(i);
        zonal += '.';
        out.push_back({zonal, ttl, "A", to_string(e.enis[i].address)});
      }
      close_group(out, gs, begin);
    }
  };
  const size_t n = model.endpoints.size();
  const size_t mid = n >= split_endpoints ? n / 2 : n;
  RecordList helped;
  std::vector<Group> helped_groups;
  std::future<void> helper;
  // Each half's room in its own list; appending the helper's then sizes `rs` exactly (one copy of the first
  // half). Reserving the whole zone in `rs` up front saves that copy but measured 4 MB more resident once
  // serving at 100,000 endpoints (324 against 328 MB, three alternated starts each).
  if (mid < n)
    helper = std::async(std::launch::async, [&] {
      reserve_for(helped, mid, n);
      endpoint_records(mid, n, helped, helped_groups);
    });
  reserve_for(rs, 0, mid);
  endpoint_records(0, mid, rs, groups);
  if (helper.valid()) {
    helper.get();  // rethrows what the helper threw
    const size_t base = rs.size();
    rs.append(helped);
    helped = RecordList();
    for (const Group& g : helped_groups) groups.push_back({g.begin + base, g.end + base});
  }
  std::sort(groups.begin(), groups.end(), [&](const Group& a, const Group& b) { return rs[a.begin] < rs[b.begin]; });
  // The SOA first, then the groups in their order.
  std::vector<uint32_t> order;
  order.reserve(rs.size());
  order.push_back(0);
  for (const Group& g : groups)
    for (size_t i = g.begin; i < g.end; ++i) order.push_back(static_cast<uint32_t>(i));
  rs.reorder(order);
  z.records = std::move(rs);
  if (!std::is_sorted(z.records.begin() + 1, z.records.end())) z.records.sort(1, z.records.size());
  z.records.unique(1);
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
  z.records.push_back({z.apex, ttl, "NS", ns});
  const std::string owner = absolute(name);
  for (size_t i = 0; i < e.enis.size(); ++i)
    if (e.answers_regional(i)) z.records.push_back({owner, ttl, "A", to_string(e.enis[i].address)});
  z.records.sort(1, z.records.size());
  return z;
}

std::vector<ZoneContent> private_zones(const Model& model, size_t vpc, uint32_t serial) {
  std::vector<ZoneContent> out;
  for (const auto& e : model.endpoints)
    if (e.vpc == vpc && e.private_dns_live) out.push_back(private_zone(model, e, serial));
  return out;
}

namespace {

// Digests over every record but the SOA's serial field: change detectors, not security boundaries. Every
// field is ended (by its length, or FNV's 0xff), so ("ab", "c") and ("a", "bc") differ.

// Eight bytes per step. FNV-1a (below) took a multiply per byte: ~0.1 s of a 100,000-endpoint load, once for
// the serial and again per zone for NOTIFY planning. Written as "2:" and 16 hex digits.
struct WordMix {
  uint64_t h = 0x243F6A8885A308D3ull;
  void mix(std::string_view s) {
    const char* p = s.data();
    size_t n = s.size();
    for (; n >= 8; p += 8, n -= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      step(w);
    }
    uint64_t tail = 0;  // at most 7 bytes: the top one holds the field's length (mod 256), ending it
    std::memcpy(&tail, p, n);
    step(tail | uint64_t{s.size() & 0xff} << 56);
  }
  void number(uint64_t v) { step(v); }
  void step(uint64_t w) {
    h = std::rotl(h ^ w, 23) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
  }
  std::string hex() const {
    char buf[19];
    std::snprintf(buf, sizeof buf, "2:%016llx", static_cast<unsigned long long>(h));
    return buf;
  }
};

// FNV-1a 64, the digest of state files written before the "2:" form (16 hex digits): read once, when such a
// file is loaded, to tell whether the content is still what it describes (zones/load.cpp).
struct Fnv1a {
  uint64_t h = 1469598103934665603ull;
  void mix(std::string_view s) {
    for (unsigned char ch : s) {
      h ^= ch;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  }
  void number(uint64_t v) {
    char text[24];
    mix(std::string_view(text, static_cast<size_t>(std::to_chars(text, text + sizeof text, v).ptr - text)));
  }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }
};

template <class Mix>
class Digest {
 public:
  void record(RecordRef r) {
    m_.mix(r.owner);
    m_.number(r.ttl);
    m_.mix(r.type);
    if (r.type == "SOA") {
      // mname rname serial refresh retry expire minimum: leave the serial out.
      std::string_view d = r.rdata;
      auto sp1 = d.find(' '), sp2 = d.find(' ', sp1 + 1), sp3 = d.find(' ', sp2 + 1);
      m_.mix(d.substr(0, sp2));
      m_.mix(d.substr(sp3));
    } else {
      m_.mix(r.rdata);
    }
  }
  std::string hex() const { return m_.hex(); }

 private:
  Mix m_;
};

template <class Mix>
std::string views_digest(const std::vector<ViewZones>& views) {
  // The public zone's records, then each private zone's records after a separator naming its VPC (the
  // order the state file's zone_digest has always had).
  Digest<Mix> d;
  for (size_t v = 0; v < views.size(); ++v)
    for (const auto& z : views[v].zones) {
      if (v > 0) d.record(Record{"view " + views[v].name, 0, "-", ""});
      for (const auto& r : z.records) d.record(r);
    }
  return d.hex();
}

}  // namespace

std::string zone_digest(const ZoneContent& zone) {
  Digest<WordMix> d;
  for (const auto& r : zone.records) d.record(r);
  return d.hex();
}

void set_digests(std::vector<ViewZones>& views) {
  for (auto& view : views)
    for (auto& zone : view.zones) zone.digest = zone_digest(zone);
}

std::string digest_of(const ZoneContent& zone) { return zone.digest.empty() ? zone_digest(zone) : zone.digest; }

std::vector<ViewZones> all_zones(const Model& model, uint32_t serial) {
  std::vector<ViewZones> out;
  out.reserve(1 + model.config.vpcs.size());
  out.push_back({"public", {}});
  out.back().zones.push_back(public_zone(model, serial));
  for (const auto& vpc : model.config.vpcs) out.push_back({vpc.id, {}});
  // One pass over the endpoints (private_zones per VPC would be VPCs × endpoints), same order.
  for (const auto& e : model.endpoints)
    if (e.private_dns_live) out[1 + e.vpc].zones.push_back(private_zone(model, e, serial));
  return out;
}

void set_serial(std::vector<ViewZones>& views, uint32_t serial) {
  for (auto& view : views)
    for (auto& zone : view.zones)
      for (size_t i = 0; i < zone.records.size(); ++i) {
        const RecordRef r = zone.records[i];
        if (r.type != "SOA") continue;
        // mname rname serial …: replace the third field.
        std::string rdata(r.rdata);
        auto sp1 = rdata.find(' '), sp2 = rdata.find(' ', sp1 + 1), sp3 = rdata.find(' ', sp2 + 1);
        rdata.replace(sp2 + 1, sp3 - sp2 - 1, std::to_string(serial));
        zone.records.set_rdata(i, rdata);
      }
}

std::string content_digest(const std::vector<ViewZones>& views) { return views_digest<WordMix>(views); }

std::string fnv_content_digest(const std::vector<ViewZones>& views) { return views_digest<Fnv1a>(views); }

std::string content_digest(const Model& model) { return content_digest(all_zones(model, 0)); }

std::string to_master_file(const ZoneContent& zone) {
  std::string out = "$ORIGIN " + zone.apex + "\n";
  for (const RecordRef r : zone.records) {
    append_master_line(out, r);
    out += '\n';
  }
  return out;
}

}  // namespace vpced::zones
