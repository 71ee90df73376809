// Compiling zone content into wire answers, lookup on the query path, and snapshot publication.
#include "zones/snapshot.hpp"

#include <map>
#include <set>
#include <stdexcept>

#include "zones/ldns.hpp"

namespace vpced::zones {

std::string_view to_string(Lookup l) {
  switch (l) {
    case Lookup::Hit: return "hit";
    case Lookup::NoData: return "nodata";
    case Lookup::NxDomain: return "nxdomain";
    case Lookup::Refused: return "refused";
  }
  return "unknown";
}

namespace {

constexpr uint16_t kTypeA = 1, kTypeNs = 2, kTypeSoa = 6, kTypeAny = 255;
constexpr uint8_t kRcodeNxDomain = 3;

std::string lower_wire(const ldns_rdf* name) {
  std::string w(reinterpret_cast<const char*>(ldns_rdf_data(name)), ldns_rdf_size(name));
  for (auto& ch : w)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return w;
}

// The wire names of `name`'s ancestors strictly below `apex` (the empty non-terminals candidates).
std::vector<std::string> ancestors_below(const std::string& name, const std::string& apex) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < name.size() && name[pos] != 0) {
    pos += 1 + static_cast<uint8_t>(name[pos]);
    std::string parent = name.substr(pos);
    if (parent.size() <= apex.size()) break;
    out.push_back(std::move(parent));
  }
  return out;
}

class Compiler {
 public:
  Compiler(std::string& arena, std::vector<CompiledAnswer>& answers) : arena_(arena), answers_(answers) {}

  // Renders a response to (owner, qtype) holding `answer`, `authority` and `additional`, and keeps the bytes
  // after the question.
  uint32_t packet(const ldns_rdf* owner, uint16_t qtype, uint8_t rcode, const std::vector<const ldns_rr*>& answer,
                  const std::vector<const ldns_rr*>& authority, const std::vector<const ldns_rr*>& additional) {
    ldns::PktPtr p(ldns_pkt_new());
    if (!p) throw std::bad_alloc();
    ldns_pkt_set_qr(p.get(), true);
    ldns_pkt_set_aa(p.get(), true);
    ldns_pkt_set_rcode(p.get(), rcode);
    ldns_rr* q = ldns_rr_new();
    ldns_rr_set_owner(q, ldns_rdf_clone(owner));
    ldns_rr_set_type(q, static_cast<ldns_rr_type>(qtype));
    ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
    ldns_rr_set_question(q, true);
    ldns_pkt_push_rr(p.get(), LDNS_SECTION_QUESTION, q);
    for (auto* rr : answer) ldns_pkt_push_rr(p.get(), LDNS_SECTION_ANSWER, ldns_rr_clone(rr));
    for (auto* rr : authority) ldns_pkt_push_rr(p.get(), LDNS_SECTION_AUTHORITY, ldns_rr_clone(rr));
    for (auto* rr : additional) ldns_pkt_push_rr(p.get(), LDNS_SECTION_ADDITIONAL, ldns_rr_clone(rr));
    uint8_t* wire = nullptr;
    size_t size = 0;
    if (ldns_pkt2wire(&wire, p.get(), &size) != LDNS_STATUS_OK) throw std::runtime_error("ldns_pkt2wire failed");
    const size_t skip = 12 + ldns_rdf_size(owner) + 4;
    CompiledAnswer a;
    a.rcode = rcode;
    a.ancount = ldns_pkt_ancount(p.get());
    a.nscount = ldns_pkt_nscount(p.get());
    a.arcount = ldns_pkt_arcount(p.get());
    a.offset = static_cast<uint32_t>(arena_.size());
    a.length = static_cast<uint32_t>(size - skip);
    arena_.append(reinterpret_cast<const char*>(wire) + skip, size - skip);
    LDNS_FREE(wire);
    answers_.push_back(a);
    return static_cast<uint32_t>(answers_.size() - 1);
  }

  // An authority section with the SOA, its names uncompressed: it follows any question name.
  uint32_t uncompressed_soa(const ldns_rr* soa, uint8_t rcode) {
    uint8_t* wire = nullptr;
    size_t size = 0;
    if (ldns_rr2wire(&wire, soa, LDNS_SECTION_AUTHORITY, &size) != LDNS_STATUS_OK)
      throw std::runtime_error("ldns_rr2wire failed");
    CompiledAnswer a;
    a.rcode = rcode;
    a.nscount = 1;
    a.offset = static_cast<uint32_t>(arena_.size());
    a.length = static_cast<uint32_t>(size);
    arena_.append(reinterpret_cast<const char*>(wire), size);
    LDNS_FREE(wire);
    answers_.push_back(a);
    return static_cast<uint32_t>(answers_.size() - 1);
  }

 private:
  std::string& arena_;
  std::vector<CompiledAnswer>& answers_;
};

}  // namespace

namespace {

// The key of a prefix in the client table: family byte, the address masked to `length`, the length.
size_t prefix_key(const IpAddr& a, uint8_t length, char (&key)[18]) {
  key[0] = a.v6 ? 6 : 4;
  const unsigned bytes = a.v6 ? 16 : 4;
  for (unsigned i = 0; i < bytes; ++i) {
    const unsigned bit = i * 8;
    uint8_t mask = length >= bit + 8 ? 0xff : length <= bit ? 0 : static_cast<uint8_t>(0xff << (8 - (length - bit)));
    key[1 + i] = static_cast<char>(a.bytes[i] & mask);
  }
  key[1 + bytes] = static_cast<char>(length);
  return 2 + bytes;
}

}  // namespace

// Compiles one zone's records into `view`: nodes per name (with empty non-terminals), answers per type,
// the zone's NXDOMAIN, and the wildcard's synthesized answers.
// Compiles one zone's records into `view`.
struct SnapshotBuilder {
  static void compile_zone(Compiler& compiler, Snapshot::View& view, uint32_t zi,
                           std::vector<Snapshot::TypeAnswer>& types);
};

void SnapshotBuilder::compile_zone(Compiler& compiler, Snapshot::View& view, uint32_t zi,
                                   std::vector<Snapshot::TypeAnswer>& types) {
  const ZoneContent& zone = view.contents[zi];
  std::vector<ldns::RrPtr> owned;
  std::map<std::string, std::map<uint16_t, std::vector<const ldns_rr*>>> by_name;
  std::map<std::string, const ldns_rdf*> owner_rdf;
  const ldns_rr* soa = nullptr;
  for (const auto& r : zone.records) {
    std::string line = r.owner + " " + std::to_string(r.ttl) + " IN " + r.type + " " + r.rdata;
    ldns_rr* rr = nullptr;
    if (ldns_rr_new_frm_str(&rr, line.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK)
      throw std::runtime_error("cannot compile record: " + line);
    owned.emplace_back(rr);
    std::string key = lower_wire(ldns_rr_owner(rr));
    by_name[key][ldns_rr_get_type(rr)].push_back(rr);
    owner_rdf.emplace(key, ldns_rr_owner(rr));
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) soa = rr;
  }
  if (!soa) throw std::runtime_error("zone without SOA: " + zone.apex);
  const std::string apex = lower_wire(ldns_rr_owner(soa));
  view.apexes.emplace(apex, zi);
  Snapshot::Zone compiled;
  compiled.nxdomain = compiler.uncompressed_soa(soa, kRcodeNxDomain);

  // Empty non-terminals exist (RFC 8020: NODATA, not NXDOMAIN); give them an owner for rendering.
  std::vector<ldns::RrPtr> ent_owners;
  std::map<std::string, ldns_rdf*> ent_rdf;
  for (const auto& [name, types_at] : std::map(by_name)) {
    for (auto& anc : ancestors_below(name, apex)) {
      if (by_name.contains(anc) || ent_rdf.contains(anc)) continue;
      ldns_rdf* rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, anc.size(), anc.data());
      ldns_rr* holder = ldns_rr_new();
      ldns_rr_set_owner(holder, rdf);
      ent_owners.emplace_back(holder);
      ent_rdf.emplace(anc, rdf);
    }
  }
  for (const auto& [name, rdf] : ent_rdf) {
    by_name[name];
    owner_rdf.emplace(name, rdf);
  }

  const std::string wildcard = std::string("\x01*", 2) + apex;
  for (const auto& [name, types_at] : by_name) {
    const ldns_rdf* owner = owner_rdf.at(name);
    Snapshot::Node node;
    node.zone = zi;
    node.types_begin = static_cast<uint32_t>(types.size());
    node.nodata = compiler.packet(owner, kTypeA, 0, {}, {soa}, {});
    node.any = node.nodata;
    for (const auto& [type, rrs] : types_at) {
      std::vector<const ldns_rr*> additional;
      if (type == kTypeNs && name == apex) {
        // Glue for in-zone name servers.
        for (const auto* ns : rrs) {
          std::string target = lower_wire(ldns_rr_rdf(ns, 0));
          if (auto it = by_name.find(target); it != by_name.end())
            for (uint16_t glue : {kTypeA, uint16_t{28}})
              if (auto a = it->second.find(glue); a != it->second.end())
                additional.insert(additional.end(), a->second.begin(), a->second.end());
        }
      }
      uint32_t idx = compiler.packet(owner, type, 0, rrs, {}, additional);
      types.push_back({type, idx});
      // ANY gets one RRset (RFC 8482): the A set where there is one, else the SOA at the apex.
      if (type == kTypeA || (type == kTypeSoa && node.any == node.nodata)) node.any = idx;
      // The wildcard's A answer: its owner compresses to the QNAME pointer, so it serves any name it covers.
      if (type == kTypeA && name == wildcard) {
        compiled.wildcard = true;
        compiled.wildcard_a = idx;
      }
    }
    node.types_end = static_cast<uint32_t>(types.size());
    view.names.emplace(name, node);
  }
  if (compiled.wildcard) compiled.wildcard_nodata = compiler.uncompressed_soa(soa, 0);
  view.zones.push_back(compiled);
}

std::shared_ptr<const Snapshot> compile_snapshot(std::shared_ptr<const Model> model, uint32_t serial) {
  auto snap = std::make_shared<Snapshot>();
  snap->model_ = model;
  snap->serial_ = serial;
  Compiler compiler(snap->arena_, snap->answers_);
  const Config& c = model->config;

  Snapshot::View pub;
  pub.name = "public";
  pub.contents.push_back(public_zone(*model, serial));
  SnapshotBuilder::compile_zone(compiler, pub, 0, snap->types_);
  snap->views_.push_back(std::move(pub));

  std::set<uint8_t> v4_lengths, v6_lengths;
  for (size_t v = 0; v < c.vpcs.size(); ++v) {
    Snapshot::View view;
    view.name = c.vpcs[v].id;
    view.contents = private_zones(*model, v, serial);
    for (uint32_t zi = 0; zi < view.contents.size(); ++zi)
      SnapshotBuilder::compile_zone(compiler, view, zi, snap->types_);
    const auto index = static_cast<uint32_t>(snap->views_.size());
    snap->views_.push_back(std::move(view));
    for (const auto& cidr : c.vpcs[v].dns_clients) {
      char key[18];
      size_t n = prefix_key(cidr.addr, cidr.length, key);
      snap->clients_.emplace(std::string(key, n), index);
      (cidr.addr.v6 ? v6_lengths : v4_lengths).insert(cidr.length);
    }
    for (const auto& hp : c.vpcs[v].dns_listen) snap->listeners_.emplace(hp, index);
  }
  snap->client_prefix_lengths_.assign(v4_lengths.rbegin(), v4_lengths.rend());
  snap->client_prefix_lengths_v6_.assign(v6_lengths.rbegin(), v6_lengths.rend());
  return snap;
}

LookupResult Snapshot::lookup_in(uint32_t view_index, std::string_view name, uint16_t qtype, bool& covered) const {
  const View& view = views_[view_index];
  covered = true;
  if (auto it = view.names.find(name); it != view.names.end()) {
    const Node& node = it->second;
    if (qtype == kTypeAny) {
      const CompiledAnswer& a = answers_[node.any];
      return {node.any == node.nodata ? Lookup::NoData : Lookup::Hit, &a, view_index, node.zone, false};
    }
    for (uint32_t i = node.types_begin; i < node.types_end; ++i)
      if (types_[i].qtype == qtype) return {Lookup::Hit, &answers_[types_[i].answer], view_index, node.zone, false};
    return {Lookup::NoData, &answers_[node.nodata], view_index, node.zone, false};
  }
  // The closest encloser: strip labels until an existing name or a zone apex.
  size_t pos = 0;
  while (pos < name.size() && name[pos] != 0) {
    pos += 1 + static_cast<uint8_t>(name[pos]);
    std::string_view suffix = name.substr(pos);
    if (auto z = view.apexes.find(suffix); z != view.apexes.end()) {
      const Zone& zone = view.zones[z->second];
      // RFC 4592 §3.3.1: the apex is the closest encloser here, so `*.<apex>` synthesizes the answer.
      if (zone.wildcard) {
        if (qtype == kTypeA || qtype == kTypeAny)
          return {Lookup::Hit, &answers_[zone.wildcard_a], view_index, z->second, true};
        return {Lookup::NoData, &answers_[zone.wildcard_nodata], view_index, z->second, true};
      }
      return {Lookup::NxDomain, &answers_[zone.nxdomain], view_index, z->second, false};
    }
    if (auto it = view.names.find(suffix); it != view.names.end())  // a closer encloser below the apex
      return {Lookup::NxDomain, &answers_[view.zones[it->second.zone].nxdomain], view_index, it->second.zone, false};
  }
  covered = false;
  return {Lookup::Refused, nullptr, view_index, 0, false};
}

LookupResult Snapshot::lookup(uint32_t view, std::span<const uint8_t> lower_name, uint16_t qtype) const {
  std::string_view name(reinterpret_cast<const char*>(lower_name.data()), lower_name.size());
  bool covered = false;
  if (view != kPublicView) {
    auto r = lookup_in(view, name, qtype, covered);
    if (covered) return r;
  }
  return lookup_in(kPublicView, name, qtype, covered);
}

ViewChoice Snapshot::choose_view(const IpAddr& client) const {
  const auto& lengths = client.v6 ? client_prefix_lengths_v6_ : client_prefix_lengths_;
  for (uint8_t len : lengths) {
    char key[18];
    size_t n = prefix_key(client, len, key);
    if (auto it = clients_.find(std::string_view(key, n)); it != clients_.end()) {
      ViewChoice c{it->second, ViewChoice::By::ClientPrefix, {}};
      c.prefix.addr = client;
      c.prefix.length = len;
      char masked[18];
      prefix_key(client, len, masked);
      std::copy(masked + 1, masked + 1 + (client.v6 ? 16 : 4), c.prefix.addr.bytes.begin());
      return c;
    }
  }
  return {kPublicView, ViewChoice::By::Public, {}};
}

int32_t Snapshot::view_for_listener(const HostPort& local) const {
  auto it = listeners_.find(local);
  return it == listeners_.end() ? -1 : static_cast<int32_t>(it->second);
}

bool Snapshot::trusts_ecs(const IpAddr& source) const {
  for (const auto& c : model_->config.server.trust_ecs_from)
    if (c.contains(source)) return true;
  return false;
}

int32_t Snapshot::view_index(std::string_view name) const {
  for (size_t i = 0; i < views_.size(); ++i)
    if (views_[i].name == name) return static_cast<int32_t>(i);
  return -1;
}

void SnapshotHolder::publish(std::shared_ptr<const Snapshot> s) {
  std::lock_guard lock(mu_);
  current_ = std::move(s);
  generation_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const Snapshot> SnapshotHolder::get() const {
  std::lock_guard lock(mu_);
  return current_;
}

}  // namespace vpced::zones
