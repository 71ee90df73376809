// Compiling zone content into wire answers, lookup on the query path, and snapshot publication.
#include "zones/snapshot.hpp"

#include <map>
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
  uint32_t nxdomain(const ldns_rr* soa) {
    uint8_t* wire = nullptr;
    size_t size = 0;
    if (ldns_rr2wire(&wire, soa, LDNS_SECTION_AUTHORITY, &size) != LDNS_STATUS_OK)
      throw std::runtime_error("ldns_rr2wire failed");
    CompiledAnswer a;
    a.rcode = kRcodeNxDomain;
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

std::shared_ptr<const Snapshot> compile_snapshot(std::shared_ptr<const Model> model, uint32_t serial) {
  auto snap = std::make_shared<Snapshot>();
  snap->model_ = model;
  snap->serial_ = serial;
  Compiler compiler(snap->arena_, snap->answers_);

  Snapshot::View view;
  view.name = "public";
  view.contents.push_back(public_zone(*model, serial));

  for (uint32_t zi = 0; zi < view.contents.size(); ++zi) {
    const ZoneContent& zone = view.contents[zi];
    // Parse every record once; group them by owner and type.
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
    view.nxdomain.push_back(compiler.nxdomain(soa));

    // Empty non-terminals exist (RFC 8020: NODATA, not NXDOMAIN); give them an owner for rendering.
    std::vector<ldns::RrPtr> ent_owners;
    std::map<std::string, ldns_rdf*> ent_rdf;
    for (const auto& [name, types] : std::map(by_name)) {
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

    for (const auto& [name, types] : by_name) {
      const ldns_rdf* owner = owner_rdf.at(name);
      Snapshot::Node node;
      node.zone = zi;
      node.types_begin = static_cast<uint32_t>(snap->types_.size());
      node.nodata = compiler.packet(owner, kTypeA, 0, {}, {soa}, {});
      node.any = node.nodata;
      for (const auto& [type, rrs] : types) {
        std::vector<const ldns_rr*> additional;
        if (type == kTypeNs && name == apex) {
          // Glue for in-zone name servers.
          for (const auto* ns : rrs) {
            std::string target = lower_wire(ldns_rr_rdf(ns, 0));
            if (auto it = by_name.find(target); it != by_name.end())
              if (auto a = it->second.find(kTypeA); a != it->second.end())
                additional.insert(additional.end(), a->second.begin(), a->second.end());
          }
        }
        uint32_t idx = compiler.packet(owner, type, 0, rrs, {}, additional);
        snap->types_.push_back({type, idx});
        // ANY gets one RRset (RFC 8482): the A set where there is one, else the SOA at the apex.
        if (type == kTypeA || (type == kTypeSoa && node.any == node.nodata)) node.any = idx;
      }
      node.types_end = static_cast<uint32_t>(snap->types_.size());
      view.names.emplace(name, node);
    }
  }
  snap->views_.push_back(std::move(view));
  return snap;
}

LookupResult Snapshot::lookup(uint32_t view_index, std::span<const uint8_t> lower_name, uint16_t qtype) const {
  const View& view = views_[view_index];
  std::string_view name(reinterpret_cast<const char*>(lower_name.data()), lower_name.size());
  if (auto it = view.names.find(name); it != view.names.end()) {
    const Node& node = it->second;
    if (qtype == kTypeAny) {
      const CompiledAnswer& a = answers_[node.any];
      return {node.any == node.nodata ? Lookup::NoData : Lookup::Hit, &a, node.zone};
    }
    for (uint32_t i = node.types_begin; i < node.types_end; ++i)
      if (types_[i].qtype == qtype) return {Lookup::Hit, &answers_[types_[i].answer], node.zone};
    return {Lookup::NoData, &answers_[node.nodata], node.zone};
  }
  // The closest enclosing zone: strip labels until an apex matches.
  size_t pos = 0;
  while (pos < name.size() && name[pos] != 0) {
    pos += 1 + static_cast<uint8_t>(name[pos]);
    if (auto z = view.apexes.find(name.substr(pos)); z != view.apexes.end())
      return {Lookup::NxDomain, &answers_[view.nxdomain[z->second]], z->second};
  }
  return {Lookup::Refused, nullptr, 0};
}

uint32_t Snapshot::view_for_client(const IpAddr&) const { return kPublicView; }

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
