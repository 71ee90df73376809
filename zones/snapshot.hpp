// The immutable, precompiled answer set the DNS server reads (style.md "Immutable snapshots"). Every answer
// is rendered to wire bytes here, once; the query path only hashes the name and copies bytes.
#pragma once

#include <atomic>
#include <map>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "zones/model.hpp"
#include "zones/name_table.hpp"
#include "zones/records.hpp"

namespace vpced::zones {

enum class Lookup { Hit, NoData, NxDomain, Refused };
std::string_view to_string(Lookup l);

// The sections of a response after the question, as wire bytes. Compression pointers inside refer to the
// question name at offset 12 (which the server echoes with the same length) or to the tail itself.
struct CompiledAnswer {
  uint8_t rcode = 0;
  uint16_t ancount = 0, nscount = 0, arcount = 0;
  uint32_t offset = 0, length = 0;  // into Snapshot::arena_
};

struct LookupResult {
  Lookup kind = Lookup::Refused;
  const CompiledAnswer* answer = nullptr;  // null for Refused
  uint32_t zone_view = 0;                  // the view whose zone answered (a VPC's, or the public view)
  uint32_t zone = 0;                       // index into zones(zone_view)
  bool wildcard = false;                   // synthesized from a wildcard (RFC 4592)
};

// How a view was chosen, for `explain`.
struct ViewChoice {
  uint32_t view = 0;
  enum class By { Listener, ClientPrefix, Public } by = By::Public;
  Cidr prefix;  // the matching dns_clients prefix (By::ClientPrefix)
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using NameMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// Held by a shared_ptr (compile_snapshot): the IXFR history keeps the records of the live one without a copy.
class Snapshot : public std::enable_shared_from_this<Snapshot> {
 public:
  static constexpr uint32_t kPublicView = 0;

  // Looks up a lowercase, uncompressed wire-format name in a view: the view's private zones first (the most
  // specific zone wins, as in Route 53), then the public zone. Never allocates.
  LookupResult lookup(uint32_t view, std::span<const uint8_t> lower_name, uint16_t qtype) const;
  std::string_view bytes(const CompiledAnswer& a) const { return std::string_view(arena_).substr(a.offset, a.length); }

  // View by the client's address: the longest dns_clients prefix containing it, else the public view. Costs
  // one hash lookup per distinct prefix length in the config, whatever the number of VPCs.
  ViewChoice choose_view(const IpAddr& client) const;
  uint32_t view_for_client(const IpAddr& client) const { return choose_view(client).view; }
  // The view fixed by a VPC's dns_listen address, or -1.
  int32_t view_for_listener(const HostPort& local) const;
  // Whether EDNS Client Subnet from this source may pick the view (server.trust_ecs_from).
  bool trusts_ecs(const IpAddr& source) const;
  // The longest dns_clients prefix length of a family (0 when none): the ECS scope of a public answer.
  uint8_t longest_client_prefix(bool v6) const {
    const auto& l = v6 ? client_prefix_lengths_v6_ : client_prefix_lengths_;
    return l.empty() ? 0 : l.front();
  }
  bool has_forwarders() const { return !model_->config.server.forwarders.empty(); }
  size_t view_count() const { return views_.size(); }
  const std::string& view_name(uint32_t view) const { return views_.at(view).name; }
  // "public" or a VPC id → view index, or -1.
  int32_t view_index(std::string_view name) const;

  const Model& model() const { return *model_; }
  const std::shared_ptr<const Model>& model_ptr() const { return model_; }
  uint32_t serial() const { return serial_; }
  // Unique per snapshot built by this process (an address can be reused once a snapshot is freed; this is
  // not): what per-thread caches keyed by "the snapshot I last saw" compare.
  uint64_t id() const { return id_; }
  // The zones a view holds itself (for a VPC: its private zones; the public zone is view 0's).
  const std::vector<ZoneContent>& zones(uint32_t view) const { return views_.at(view).contents; }

 private:
  friend std::shared_ptr<const Snapshot> compile_snapshot(std::shared_ptr<const Model>, uint32_t,
                                                          std::vector<ViewZones>, bool, size_t);
  friend struct SnapshotBuilder;

  struct Node {
    uint32_t zone = 0;
    uint32_t types_begin = 0, types_end = 0;  // into types_
    uint32_t nodata = 0;                      // into answers_
    uint32_t any = 0;
  };
  struct TypeAnswer {
    uint16_t qtype;
    uint32_t answer;
  };
  struct Zone {
    uint32_t nxdomain = 0;            // into answers_: NXDOMAIN with this zone's SOA
    bool wildcard = false;            // `*.<apex>` exists
    uint32_t wildcard_a = 0;          // its A answer, owner compressed to the QNAME
    uint32_t wildcard_nodata = 0;     // NODATA with an uncompressed SOA: valid after any QNAME
  };
  struct View {
    std::string name;
    NameTable<Node> names;            // the first zone of the view that holds a name keeps it
    NameMap<uint32_t> apexes;         // apex wire name → zone
    std::vector<Zone> zones;
    std::vector<ZoneContent> contents;
  };
  LookupResult lookup_in(uint32_t view, std::string_view name, uint16_t qtype, bool& covered) const;

  std::shared_ptr<const Model> model_;
  uint32_t serial_ = 0;
  uint64_t id_ = 0;
  std::vector<View> views_;
  std::vector<uint8_t> client_prefix_lengths_;  // distinct dns_clients lengths, longest first (v4 and v6 apart)
  std::vector<uint8_t> client_prefix_lengths_v6_;
  NameMap<uint32_t> clients_;                   // prefix key → view
  std::map<HostPort, uint32_t> listeners_;      // VPC dns_listen address → view
  std::vector<TypeAnswer> types_;
  std::vector<CompiledAnswer> answers_;
  std::string arena_;
};

// Compiles the public view and one view per VPC of `model` with the given SOA serial. Throws std::runtime_error if ldns rejects a
// generated record (a bug, never user input: the config was validated).
std::shared_ptr<const Snapshot> compile_snapshot(std::shared_ptr<const Model> model, uint32_t serial);
// The same from zones already built with all_zones(*model, serial) (the load path builds them once). With
// keep_records false, zones(view) keeps only each zone's SOA once the answers are compiled (no transfers).
// A zone of at least `split_names` names has its answers compiled by two threads, each half of the names;
// the answers are the same bytes either way (tests compare both ways).
inline constexpr size_t kCompileSplitNames = 16384;
std::shared_ptr<const Snapshot> compile_snapshot(std::shared_ptr<const Model> model, uint32_t serial,
                                                 std::vector<ViewZones> zones, bool keep_records = true,
                                                 size_t split_names = kCompileSplitNames);

// Publishes snapshots to reader threads (PowerDNS sholder.hh): a mutex-guarded pointer plus an atomic
// generation. Readers keep a thread-local copy and take the mutex only when the generation moved.
class SnapshotHolder {
 public:
  void publish(std::shared_ptr<const Snapshot> s);
  std::shared_ptr<const Snapshot> get() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_;
  std::atomic<uint64_t> generation_{0};
};

class SnapshotReader {
 public:
  explicit SnapshotReader(const SnapshotHolder& holder) : holder_(holder) {}
  // The current snapshot; lock-free unless a new one was published since the last call.
  const Snapshot& current() {
    refresh();
    return *local_;
  }
  // Takes the newest snapshot if one was published, without using it: an idle reader that calls this when
  // told of a publication lets the previous snapshot go (a reader keeps what it last saw until then).
  void refresh() {
    uint64_t g = holder_.generation();
    if (g != seen_ || !local_) {
      local_ = holder_.get();
      seen_ = g;
    }
  }

 private:
  const SnapshotHolder& holder_;
  std::shared_ptr<const Snapshot> local_;
  uint64_t seen_ = 0;
};

}  // namespace vpced::zones
