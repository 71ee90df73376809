// A bounded history of zone versions for IXFR (RFC 1995): per zone and serial change, the records removed and
// added. Pure data, no locks: the DNS side guards it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zones/records.hpp"

namespace vpced::zones {

class Snapshot;

// One zone's change from one serial to the next (SOA records excluded from removed/added).
struct ZoneDelta {
  Record old_soa, new_soa;
  std::vector<Record> removed, added;
  bool operator==(const ZoneDelta&) const = default;
};

// The records of `was` that `now` lacks (removed) and those of `now` that `was` lacks (added), both lists
// sorted after their SOA, which is not compared: one merge, each pair compared once; what
// std::set_difference gives each way, duplicates included.
void differences(const RecordList& was, const RecordList& now, std::vector<Record>& removed, std::vector<Record>& added);

// What recording a snapshot did to the history.
enum class HistoryRecord {
  First,      // the first version: nothing to compare with
  Same,       // same serial as the latest version
  Appended,   // one more step
  Restarted,  // the latest version's records were unknown (history loaded without them): steps dropped
};
std::string_view to_string(HistoryRecord r);

class ZoneHistory;
// zones/history_file.cpp: the history as text for state_dir, and back.
std::string encode_history(const ZoneHistory& h, size_t max_bytes);
bool decode_history(std::string_view text, ZoneHistory& h, std::string& error);

class ZoneHistory {
 public:
  using ZoneKey = std::pair<std::string, std::string>;  // (view name, apex)
  explicit ZoneHistory(size_t depth = 16) : depth_(depth) {}

  // Records every zone of every view of `snap`; a serial different from the last one appends one version.
  HistoryRecord record(const Snapshot& snap);
  // The deltas taking `zone` from `serial` to the latest recorded serial, oldest first; empty when `serial`
  // is the latest; nullopt when `serial` is not in the history (or the zone did not exist all along).
  std::optional<std::vector<ZoneDelta>> since(const ZoneKey& zone, uint32_t serial) const;
  size_t versions() const { return steps_.size(); }
  size_t depth() const { return depth_; }
  // The latest recorded serial (nullopt before the first record or load).
  std::optional<uint32_t> serial() const { return have_ ? std::optional<uint32_t>(serial_) : std::nullopt; }

 private:
  friend std::string encode_history(const ZoneHistory& h, size_t max_bytes);
  friend bool decode_history(std::string_view text, ZoneHistory& h, std::string& error);

  struct Step {
    uint32_t from = 0, to = 0;
    std::map<ZoneKey, ZoneDelta> zones;
  };
  size_t depth_;
  bool have_ = false;
  bool content_known_ = false;  // current_ holds the records of serial_ (false after a load without them)
  uint32_t serial_ = 0;
  // Sorted, SOA first. Normally the records of the recorded snapshot itself (an aliasing pointer that keeps
  // that snapshot, which is the live one, alive): a second copy of a 600,000-record zone costs ~130 MB.
  std::map<ZoneKey, std::shared_ptr<const RecordList>> current_;
  std::deque<Step> steps_;
};

}  // namespace vpced::zones
