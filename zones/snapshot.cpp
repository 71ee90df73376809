// Compiling zone content into wire answers, lookup on the query path, and snapshot publication.
#include "zones/snapshot.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

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

constexpr uint16_t kTypeA = 1, kTypeNs = 2, kTypeSoa = 6, kTypeAaaa = 28, kTypeAny = 255;
constexpr uint16_t kClassIn = 1;
constexpr uint8_t kRcodeNxDomain = 3;
constexpr size_t kMaxPointer = 0x4000;  // RFC 1035 §4.1.4: a pointer holds a 14-bit offset

char lower(char ch) { return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch; }

// The wire form of an absolute presentation name. Every name reaching a zone was generated or validated
// (config.cpp: hostname labels, `*` first), so there are no escapes to decode. Throws on a label over 63.
// Appends the wire form of `name` (absolute or not; at most name.size() + 2 bytes) to `w`.
void append_wire(std::string& w, std::string_view name, bool lowercase) {
  const size_t base = w.size();
  w.resize(base + name.size() + 2);  // the most it can take; written through a pointer, not a byte at a time
  char* out = w.data() + base;
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const size_t len = dot - start;
    if (len == 0 || len > 63) {
      w.resize(base);
      throw std::runtime_error("cannot compile name: " + std::string(name));
    }
    *out++ = static_cast<char>(len);
    for (size_t i = start; i < dot; ++i) *out++ = lowercase ? lower(name[i]) : name[i];
    start = dot + 1;
  }
  *out++ = '\0';
  w.resize(static_cast<size_t>(out - w.data()));
}

std::string to_wire(std::string_view name, bool lowercase) {
  std::string w;
  w.reserve(name.size() + 1);
  append_wire(w, name, lowercase);
  return w;
}

std::string to_wire_lower(std::string wire) {
  for (auto& ch : wire) ch = lower(ch);
  return wire;
}

// Case-insensitive equality of wire names (RFC 4343). Length bytes are at most 63, below 'A', so comparing
// whole wire names byte by byte folds letters only.
bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

void put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}
void put32(std::string& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v & 0xffff));
}

// One record of a zone, parsed once from its presentation form (records.hpp) into wire parts. Names in the
// rdata (NS target, SOA mname and rname) stay apart from the fixed bytes so that they can be compressed.
// No string of its own (600,000 of them at 100,000 endpoints): the rare rdata names live in a per-zone store.
struct WireRr {
  std::string_view owner;         // lowercase wire name, in the zone's name buffer
  std::string_view name1, name2;  // NS: target; SOA: mname, rname (wire, as written), in an RdataNames
  uint32_t ttl = 0;
  uint16_t type = 0;
  uint8_t fixed_len = 0;
  std::array<char, 20> fixed_bytes{};  // A, AAAA: the address; SOA: serial..minimum
  std::string_view fixed() const { return {fixed_bytes.data(), fixed_len}; }
};
// Stable storage for the names in NS and SOA rdata (a deque never moves what it holds).
using RdataNames = std::deque<std::string>;

uint16_t type_code(std::string_view t) {
  if (t == "A") return kTypeA;
  if (t == "NS") return kTypeNs;
  if (t == "SOA") return kTypeSoa;
  if (t == "AAAA") return kTypeAaaa;
  throw std::runtime_error("cannot compile record type: " + std::string(t));
}

// The rdata of `r` into `rr` (RFC 1035 §3.3.11, §3.3.13, §3.4.1; RFC 3596 §2.2).
void parse_rdata(RecordRef r, WireRr& rr, RdataNames& store) {
  // inet_pton and sscanf read a C string: a copy on the stack, or on the heap for a long one (an SOA's two
  // names can reach 2 × 255 characters).
  char buf[256];
  std::string long_copy;
  const char* text = buf;
  if (r.rdata.size() < sizeof buf) {
    r.rdata.copy(buf, r.rdata.size());
    buf[r.rdata.size()] = '\0';
  } else {
    long_copy.assign(r.rdata);
    text = long_copy.c_str();
  }
  const std::string_view d = r.rdata;
  switch (rr.type) {
    case kTypeA: {
      in_addr a{};
      if (inet_pton(AF_INET, text, &a) != 1) throw std::runtime_error("cannot compile A rdata: " + std::string(d));
      std::memcpy(rr.fixed_bytes.data(), &a, 4);
      rr.fixed_len = 4;
      return;
    }
    case kTypeAaaa: {
      in6_addr a{};
      if (inet_pton(AF_INET6, text, &a) != 1) throw std::runtime_error("cannot compile AAAA rdata: " + std::string(d));
      std::memcpy(rr.fixed_bytes.data(), &a, 16);
      rr.fixed_len = 16;
      return;
    }
    case kTypeNs: rr.name1 = store.emplace_back(to_wire(d, false)); return;
    case kTypeSoa: {
      char mname[300], rname[300];
      unsigned long v[5];
      if (std::sscanf(text, "%299s %299s %lu %lu %lu %lu %lu", mname, rname, &v[0], &v[1], &v[2], &v[3], &v[4]) != 7)
        throw std::runtime_error("cannot compile SOA rdata: " + std::string(d));
      rr.name1 = store.emplace_back(to_wire(mname, false));
      rr.name2 = store.emplace_back(to_wire(rname, false));
      std::string fixed;
      for (unsigned long x : v) put32(fixed, static_cast<uint32_t>(x));
      fixed.copy(rr.fixed_bytes.data(), fixed.size());
      rr.fixed_len = static_cast<uint8_t>(fixed.size());
      return;
    }
  }
}

// A response packet written the way ldns_pkt2wire writes it (RFC 1035 §4.1.4 compression: the longest
// suffix already written becomes a pointer; owners and the names in NS and SOA rdata are compressed), so
// that the compiled bytes are the ones the ldns rendering produced.
class PacketWriter {
 public:
  // `table` is the compression table's storage, cleared here: a compiler reuses one for all its packets
  // instead of growing a new one for each of ~800,000 (100,000 endpoints).
  using Table = std::vector<std::pair<std::string_view, uint16_t>>;
  PacketWriter(std::string& buf, Table& table) : buf_(buf), table_(table) {
    buf_.assign(12, '\0');
    table_.clear();
  }

  void name(std::string_view wire) {
    for (size_t pos = 0; pos < wire.size(); pos += 1 + static_cast<uint8_t>(wire[pos])) {
      if (wire[pos] == 0) break;
      const std::string_view suffix = wire.substr(pos);
      for (const auto& [known, offset] : table_)
        if (same_name(known, suffix)) {
          put16(buf_, static_cast<uint16_t>(0xC000 | offset));
          return;
        }
      if (buf_.size() < kMaxPointer) table_.emplace_back(suffix, static_cast<uint16_t>(buf_.size()));
      buf_.append(wire.substr(pos, 1 + static_cast<uint8_t>(wire[pos])));
    }
    buf_.push_back('\0');
  }
  void question(std::string_view owner, uint16_t qtype) {
    name(owner);
    put16(buf_, qtype);
    put16(buf_, kClassIn);
  }
  void rr(const WireRr& r) {
    name(r.owner);
    put16(buf_, r.type);
    put16(buf_, kClassIn);
    put32(buf_, r.ttl);
    const size_t at = buf_.size();
    put16(buf_, 0);
    if (!r.name1.empty()) name(r.name1);
    if (!r.name2.empty()) name(r.name2);
    buf_ += r.fixed();
    const size_t rdlength = buf_.size() - at - 2;
    buf_[at] = static_cast<char>(rdlength >> 8);
    buf_[at + 1] = static_cast<char>(rdlength & 0xff);
  }

 private:
  std::string& buf_;
  Table& table_;
};

// A record without compression (ldns_rr2wire).
void plain_rr(std::string& out, const WireRr& r) {
  out += r.owner;
  put16(out, r.type);
  put16(out, kClassIn);
  put32(out, r.ttl);
  put16(out, static_cast<uint16_t>(r.name1.size() + r.name2.size() + r.fixed_len));
  out += r.name1;
  out += r.name2;
  out += r.fixed();
}

class Compiler {
 public:
  Compiler(std::string& arena, std::vector<CompiledAnswer>& answers) : arena_(arena), answers_(answers) {}

  // Renders a response to (owner, qtype) holding `answer`, `authority` and `additional`, and keeps the bytes
  // after the question. `shared`: the bytes may be identical to an earlier answer's (NODATA with the same
  // distance from the QNAME to the apex); such answers are stored once.
  uint32_t packet(std::string_view owner, uint16_t qtype, uint8_t rcode, const std::vector<const WireRr*>& answer,
                  const std::vector<const WireRr*>& authority, const std::vector<const WireRr*>& additional,
                  bool shared = false) {
    PacketWriter w(scratch_, table_);
    w.question(owner, qtype);
    const size_t skip = scratch_.size();
    for (auto* rr : answer) w.rr(*rr);
    for (auto* rr : authority) w.rr(*rr);
    for (auto* rr : additional) w.rr(*rr);
    CompiledAnswer a;
    a.rcode = rcode;
    a.ancount = static_cast<uint16_t>(answer.size());
    a.nscount = static_cast<uint16_t>(authority.size());
    a.arcount = static_cast<uint16_t>(additional.size());
    return keep(a, std::string_view(scratch_).substr(skip), shared);
  }

  // An authority section with the SOA, its names uncompressed: it follows any question name.
  uint32_t uncompressed_soa(const WireRr& soa, uint8_t rcode) {
    scratch_.clear();
    plain_rr(scratch_, soa);
    CompiledAnswer a;
    a.rcode = rcode;
    a.nscount = 1;
    return keep(a, scratch_, false);
  }

  // Appends another compiler's answers (built into `arena` and `answers`) after this one's; returns the index
  // its first answer now has.
  uint32_t append(const std::string& arena, const std::vector<CompiledAnswer>& answers) {
    const auto base = static_cast<uint32_t>(answers_.size());
    const auto offset = static_cast<uint32_t>(arena_.size());
    arena_ += arena;
    for (CompiledAnswer a : answers) {
      a.offset += offset;
      answers_.push_back(a);
    }
    return base;
  }

 private:
  uint32_t keep(CompiledAnswer a, std::string_view bytes, bool shared) {
    size_t h = 0;
    if (shared) {
      h = std::hash<std::string_view>{}(bytes) ^ (size_t{a.rcode} << 48) ^ (size_t{a.ancount} << 32) ^
          (size_t{a.nscount} << 16) ^ a.arcount;
      if (auto it = shared_.find(h); it != shared_.end()) {
        const CompiledAnswer& b = answers_[it->second];
        if (b.rcode == a.rcode && b.ancount == a.ancount && b.nscount == a.nscount && b.arcount == a.arcount &&
            std::string_view(arena_).substr(b.offset, b.length) == bytes)
          return it->second;
      }
    }
    a.offset = static_cast<uint32_t>(arena_.size());
    a.length = static_cast<uint32_t>(bytes.size());
    arena_.append(bytes);
    answers_.push_back(a);
    const auto index = static_cast<uint32_t>(answers_.size() - 1);
    if (shared) shared_.emplace(h, index);
    return index;
  }

  std::string& arena_;
  std::vector<CompiledAnswer>& answers_;
  std::string scratch_;
  PacketWriter::Table table_;
  std::unordered_map<size_t, uint32_t> shared_;
};

// The names of one zone while it is compiled: wire names (views into the zone's name buffer), each with its
// records as a list, in the order they were added, found through an open-addressing table of indexes that
// keeps each name's hash. One allocation for the table and one for the names, instead of a node per name.
class BuildNames {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Entry {
    std::string_view name;
    size_t hash;
    uint32_t first = kNone, last = kNone;  // the name's records, a list threaded through the compile's `next`
  };

  explicit BuildNames(size_t expected) {
    entries_.reserve(expected);
    resize(expected);
  }

  // The index of `name`'s entry, added if there was none; `added` says which.
  uint32_t emplace(std::string_view name, bool& added) {
    const size_t h = std::hash<std::string_view>{}(name);
    size_t i = h & mask_;
    for (; slots_[i] != kNone; i = (i + 1) & mask_) {
      const Entry& e = entries_[slots_[i]];
      if (e.hash == h && e.name == name) {
        added = false;
        return slots_[i];
      }
    }
    added = true;
    const auto index = static_cast<uint32_t>(entries_.size());
    entries_.push_back({name, h});
    if (entries_.size() * 2 > slots_.size()) {
      resize(entries_.size());  // places every entry, the new one too
    } else {
      slots_[i] = index;
    }
    return index;
  }

  const Entry* find(std::string_view name) const {
    const size_t h = std::hash<std::string_view>{}(name);
    for (size_t i = h & mask_; slots_[i] != kNone; i = (i + 1) & mask_) {
      const Entry& e = entries_[slots_[i]];
      if (e.hash == h && e.name == name) return &e;
    }
    return nullptr;
  }

  Entry& operator[](uint32_t i) { return entries_[i]; }
  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

 private:
  // At most half full: slots for twice `count` names, rounded up to a power of two.
  void resize(size_t count) {
    size_t n = 16;
    while (n < count * 2) n <<= 1;
    slots_.assign(n, kNone);
    mask_ = n - 1;
    for (uint32_t k = 0; k < entries_.size(); ++k) {
      size_t i = entries_[k].hash & mask_;
      while (slots_[i] != kNone) i = (i + 1) & mask_;
      slots_[i] = k;
    }
  }

  std::vector<Entry> entries_;
  std::vector<uint32_t> slots_;
  size_t mask_ = 0;
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
struct SnapshotBuilder {
  static void compile_zone(Compiler& compiler, Snapshot::View& view, uint32_t zi,
                           std::vector<Snapshot::TypeAnswer>& types, size_t split_names);
};

void SnapshotBuilder::compile_zone(Compiler& compiler, Snapshot::View& view, uint32_t zi,
                                   std::vector<Snapshot::TypeAnswer>& types, size_t split_names) {
  const ZoneContent& zone = view.contents[zi];
  // The zone's names in wire form, one buffer for all of them (sized first, so it never moves: the names
  // below are views into it), each with its records in zone order as a list threaded through `next`.
  constexpr uint32_t kNone = BuildNames::kNone;
  size_t wire_bytes = 0;
  for (size_t i = 0; i < zone.records.size(); ++i)
    if (i == 0 || zone.records[i].owner != zone.records[i - 1].owner) wire_bytes += zone.records[i].owner.size() + 2;
  std::string wire_names;
  wire_names.reserve(wire_bytes);
  BuildNames names(zone.records.size());
  std::vector<WireRr> rrs(zone.records.size());
  RdataNames rdata_names;
  std::vector<uint32_t> next(zone.records.size(), kNone);
  const WireRr* soa = nullptr;
  std::string_view last_text;
  uint32_t last = kNone;
  for (size_t i = 0; i < zone.records.size(); ++i) {
    const RecordRef r = zone.records[i];
    WireRr& rr = rrs[i];
    // Records come sorted by owner: the previous owner's entry is reused without a lookup.
    // (An owner shared with the previous record is the same view: equal without comparing the text.)
    const bool same_view = last_text.data() == r.owner.data() && last_text.size() == r.owner.size();
    if (last == kNone || (!same_view && last_text != r.owner)) {
      const size_t at = wire_names.size();
      append_wire(wire_names, r.owner, true);
      bool added;
      last = names.emplace(std::string_view(wire_names).substr(at), added);
      if (!added) wire_names.resize(at);  // seen before (the apex's NS)
      last_text = r.owner;
    }
    BuildNames::Entry& n = names[last];
    rr.owner = n.name;
    rr.type = type_code(r.type);
    rr.ttl = r.ttl;
    parse_rdata(r, rr, rdata_names);
    const auto idx = static_cast<uint32_t>(i);
    if (n.last == kNone)
      n.first = idx;
    else
      next[n.last] = idx;
    n.last = idx;
    if (rr.type == kTypeSoa && !soa) soa = &rr;
  }
  if (!soa) throw std::runtime_error("zone without SOA: " + zone.apex);
  const std::string apex(soa->owner);
  view.apexes.emplace(apex, zi);
  Snapshot::Zone compiled;
  compiled.nxdomain = compiler.uncompressed_soa(*soa, kRcodeNxDomain);

  // Empty non-terminals exist (RFC 8020: NODATA, not NXDOMAIN). An ancestor is a suffix of the wire name
  // that starts at a label, so it is a view into the same buffer, added once as a name without records (its
  // own ancestors are the name's too, so the walk covers the names there were before it).
  const size_t named = names.size();
  for (size_t k = 0; k < named; ++k) {
    std::string_view rest = names[static_cast<uint32_t>(k)].name;
    while (!rest.empty() && rest[0] != 0) {
      rest.remove_prefix(1 + static_cast<uint8_t>(rest[0]));
      if (rest.size() <= apex.size()) break;
      bool added;
      names.emplace(rest, added);
      if (!added) break;  // there already, and so are its ancestors (a name's or an earlier walk's)
    }
  }

  const std::string wildcard = std::string("\x01*", 2) + apex;
  const std::vector<const WireRr*> authority{soa};
  using Entry = BuildNames::Entry;
  // The answers of a run of names: their nodes (answer and type indices into `c` and `out_types`), and the
  // wildcard's A answer if the run holds `*.<apex>`. Reads only what is above, so two runs can go at once.
  struct Run {
    std::vector<std::pair<std::string_view, Snapshot::Node>> nodes;
    std::optional<uint32_t> wildcard_a;
  };
  auto compile_run = [&](Compiler& c, std::vector<Snapshot::TypeAnswer>& out_types, const Entry* begin,
                         const Entry* end, Run& run) {
    std::vector<const WireRr*> set, additional;
    std::vector<uint16_t> order;
    run.nodes.reserve(static_cast<size_t>(end - begin));
    for (const Entry* e = begin; e != end; ++e) {
      const Entry& n = *e;
      const std::string_view name = n.name;
      Snapshot::Node node;
      node.zone = zi;
      node.types_begin = static_cast<uint32_t>(out_types.size());
      node.nodata = c.packet(name, kTypeA, 0, {}, authority, {}, true);
      node.any = node.nodata;
      // One answer per type, in type order; the RRset in zone order.
      order.clear();
      for (uint32_t i = n.first; i != kNone; i = next[i])
        if (std::find(order.begin(), order.end(), rrs[i].type) == order.end()) order.push_back(rrs[i].type);
      std::sort(order.begin(), order.end());
      for (uint16_t type : order) {
        set.clear();
        for (uint32_t i = n.first; i != kNone; i = next[i])
          if (rrs[i].type == type) set.push_back(&rrs[i]);
        additional.clear();
        if (type == kTypeNs && name == apex) {
          // Glue for in-zone name servers.
          for (const auto* ns : set) {
            if (const Entry* host = names.find(to_wire_lower(std::string(ns->name1))))
              for (uint16_t glue : {kTypeA, kTypeAaaa})
                for (uint32_t i = host->first; i != kNone; i = next[i])
                  if (rrs[i].type == glue) additional.push_back(&rrs[i]);
          }
        }
        uint32_t idx = c.packet(name, type, 0, set, {}, additional);
        out_types.push_back({type, idx});
        // ANY gets one RRset (RFC 8482): the A set where there is one, else the SOA at the apex.
        if (type == kTypeA || (type == kTypeSoa && node.any == node.nodata)) node.any = idx;
        // The wildcard's A answer: its owner compresses to the QNAME pointer, so it serves any name it covers.
        if (type == kTypeA && name == wildcard) run.wildcard_a = idx;
      }
      node.types_end = static_cast<uint32_t>(out_types.size());
      run.nodes.emplace_back(name, node);
    }
  };
  const std::vector<Entry>& entries = names.entries();  // complete: no name is added from here on
  // A large zone (the public zone of a big config) is compiled in two halves at once: a helper thread compiles
  // one into a compiler of its own, whose bytes are then appended to this one's, its indices moved by what
  // comes before them.
  const Entry* const all_begin = entries.data();
  const Entry* const all_end = all_begin + entries.size();
  const Entry* const mid = entries.size() >= split_names ? all_begin + entries.size() / 2 : all_end;
  Run own, helped;
  std::string helped_arena;
  std::vector<CompiledAnswer> helped_answers;
  std::vector<Snapshot::TypeAnswer> helped_types;
  std::future<void> helper;
  // The helper takes the second half: names are in record order, a zone's wildcard after its apex, so in a
  // small zone split in two (as the tests split every zone) the wildcard's answer goes through the index
  // shifting below.
  if (mid != all_end)
    helper = std::async(std::launch::async, [&] {
      Compiler c(helped_arena, helped_answers);
      compile_run(c, helped_types, mid, all_end, helped);
    });
  compile_run(compiler, types, all_begin, mid, own);
  if (helper.valid()) helper.get();  // rethrows what the helper threw
  const uint32_t answer_base = compiler.append(helped_arena, helped_answers);
  const auto type_base = static_cast<uint32_t>(types.size());
  for (auto t : helped_types) {
    t.answer += answer_base;
    types.push_back(t);
  }
  for (auto& [name, node] : helped.nodes) {
    node.types_begin += type_base;
    node.types_end += type_base;
    node.nodata += answer_base;
    node.any += answer_base;
  }
  if (helped.wildcard_a) helped.wildcard_a = *helped.wildcard_a + answer_base;
  view.names.reserve(view.names.size() + own.nodes.size() + helped.nodes.size());
  for (const Run* run : {&own, &helped}) {
    for (const auto& [name, node] : run->nodes) view.names.insert(name, node);  // the first zone of a view keeps a name
    if (run->wildcard_a) {
      compiled.wildcard = true;
      compiled.wildcard_a = *run->wildcard_a;
    }
  }
  if (compiled.wildcard) compiled.wildcard_nodata = compiler.uncompressed_soa(*soa, 0);
  view.zones.push_back(compiled);
}

std::shared_ptr<const Snapshot> compile_snapshot(std::shared_ptr<const Model> model, uint32_t serial) {
  auto zones = all_zones(*model, serial);
  return compile_snapshot(std::move(model), serial, std::move(zones));
}

std::shared_ptr<const Snapshot> compile_snapshot(std::shared_ptr<const Model> model, uint32_t serial,
                                                 std::vector<ViewZones> zones, bool keep_records, size_t split_names) {
  static std::atomic<uint64_t> next_id{1};
  auto snap = std::make_shared<Snapshot>();
  snap->id_ = next_id.fetch_add(1, std::memory_order_relaxed);
  snap->model_ = model;
  snap->serial_ = serial;
  Compiler compiler(snap->arena_, snap->answers_);
  const Config& c = model->config;
  snap->views_.reserve(zones.size());
  std::set<uint8_t> v4_lengths, v6_lengths;
  for (size_t v = 0; v < zones.size(); ++v) {
    Snapshot::View view;
    view.name = std::move(zones[v].name);
    view.contents = std::move(zones[v].zones);
    for (uint32_t zi = 0; zi < view.contents.size(); ++zi)
      SnapshotBuilder::compile_zone(compiler, view, zi, snap->types_, split_names);
    view.names.shrink_to_fit();
    if (!keep_records)
      for (auto& z : view.contents) {
        z.records.truncate(1);  // the SOA (compile_zone found one)
      }
    const auto index = static_cast<uint32_t>(snap->views_.size());
    snap->views_.push_back(std::move(view));
    if (v == 0) continue;  // the public view
    const VpcConfig& vpc = c.vpcs[v - 1];
    for (const auto& cidr : vpc.dns_clients) {
      char key[18];
      size_t n = prefix_key(cidr.addr, cidr.length, key);
      snap->clients_.emplace(std::string(key, n), index);
      (cidr.addr.v6 ? v6_lengths : v4_lengths).insert(cidr.length);
    }
    for (const auto& hp : vpc.dns_listen) snap->listeners_.emplace(hp, index);
  }
  snap->client_prefix_lengths_.assign(v4_lengths.rbegin(), v4_lengths.rend());
  snap->client_prefix_lengths_v6_.assign(v6_lengths.rbegin(), v6_lengths.rend());
  // The build's transient bytes: the arena may have grown past its size.
  snap->arena_.shrink_to_fit();
  snap->answers_.shrink_to_fit();
  snap->types_.shrink_to_fit();
  return snap;
}

LookupResult Snapshot::lookup_in(uint32_t view_index, std::string_view name, uint16_t qtype, bool& covered) const {
  const View& view = views_[view_index];
  covered = true;
  if (const Node* found = view.names.find(name)) {
    const Node& node = *found;
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
    if (const Node* closer = view.names.find(suffix))  // a closer encloser below the apex
      return {Lookup::NxDomain, &answers_[view.zones[closer->zone].nxdomain], view_index, closer->zone, false};
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
