// A bounded history of zone versions for IXFR (RFC 1995): per zone and serial change, the records removed and
// added. Pure data, no locks: the DNS side guards it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "zones/records.hpp"

namespace vpced::zones {

class Snapshot;

// One zone's change from one serial to the next (SOA records excluded from removed/added).
struct ZoneDelta {
  Record old_soa, new_soa;
  std::vector<Record> removed, added;
};

class ZoneHistory {
 public:
  using ZoneKey = std::pair<std::string, std::string>;  // (view name, apex)
  explicit ZoneHistory(size_t depth = 16) : depth_(depth) {}

  // Records every zone of every view of `snap`; a serial different from the last one appends one version.
  void record(const Snapshot& snap);
  // The deltas taking `zone` from `serial` to the latest recorded serial, oldest first; empty when `serial`
  // is the latest; nullopt when `serial` is not in the history (or the zone did not exist all along).
  std::optional<std::vector<ZoneDelta>> since(const ZoneKey& zone, uint32_t serial) const;
  size_t versions() const { return steps_.size(); }

 private:
  struct Step {
    uint32_t from = 0, to = 0;
    std::map<ZoneKey, ZoneDelta> zones;
  };
  size_t depth_;
  bool have_ = false;
  uint32_t serial_ = 0;
  std::map<ZoneKey, std::vector<Record>> current_;  // sorted, SOA first
  std::deque<Step> steps_;
};

}  // namespace vpced::zones
