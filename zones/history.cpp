// Zone history for IXFR: the difference between consecutive versions of every zone, last `depth` serials.
#include "zones/history.hpp"

#include <algorithm>

#include "zones/snapshot.hpp"

namespace vpced::zones {

std::string_view to_string(HistoryRecord r) {
  switch (r) {
    case HistoryRecord::First: return "first";
    case HistoryRecord::Same: return "same";
    case HistoryRecord::Appended: return "appended";
    case HistoryRecord::Restarted: return "restarted";
  }
  return "unknown";
}

void differences(const RecordList& was, const RecordList& now, std::vector<Record>& removed, std::vector<Record>& added) {
  auto i = was.begin() + (was.empty() ? 0 : 1), j = now.begin() + (now.empty() ? 0 : 1);
  while (i != was.end() && j != now.end()) {
    const auto order = *i <=> *j;
    if (order < 0) {
      removed.push_back((*i++).copy());
    } else if (order > 0) {
      added.push_back((*j++).copy());
    } else {
      ++i;
      ++j;
    }
  }
  for (; i != was.end(); ++i) removed.push_back((*i).copy());
  for (; j != now.end(); ++j) added.push_back((*j).copy());
}

HistoryRecord ZoneHistory::record(const Snapshot& snap) {
  std::map<ZoneKey, std::shared_ptr<const RecordList>> next;
  const auto owner = snap.weak_from_this().lock();  // null for a snapshot not held by a shared_ptr
  for (uint32_t v = 0; v < snap.view_count(); ++v)
    for (const auto& z : snap.zones(v)) {
      const auto first = z.records.begin() + (z.records.empty() ? 0 : 1);  // SOA stays first
      std::shared_ptr<const RecordList> recs;
      if (owner && std::is_sorted(first, z.records.end())) {
        recs = std::shared_ptr<const RecordList>(owner, &z.records);
      } else {
        auto copy = std::make_shared<RecordList>(z.records);
        copy->sort(copy->empty() ? 0 : 1, copy->size());
        recs = std::move(copy);
      }
      next[{snap.view_name(v), z.apex}] = std::move(recs);
    }
  HistoryRecord result = HistoryRecord::First;
  if (have_ && snap.serial() == serial_) {
    current_ = std::move(next);
    content_known_ = true;
    return HistoryRecord::Same;
  }
  if (have_ && !content_known_) {
    // Loaded from state_dir without the latest version's records, and the zones moved since: the step to
    // this serial cannot be computed, so no older serial can be brought up to date (RFC 1995 §4: AXFR).
    steps_.clear();
    result = HistoryRecord::Restarted;
  } else if (have_) {
    Step step{serial_, snap.serial(), {}};
    for (const auto& [key, recs] : next) {
      auto old = current_.find(key);
      if (old == current_.end() || old->second->empty() || recs->empty()) continue;  // new zone: no delta
      const RecordList& was = *old->second;
      const RecordList& now = *recs;
      ZoneDelta d{was.front().copy(), now.front().copy(), {}, {}};
      differences(was, now, d.removed, d.added);
      step.zones.emplace(key, std::move(d));
    }
    steps_.push_back(std::move(step));
    while (steps_.size() > depth_) steps_.pop_front();
    result = HistoryRecord::Appended;
  }
  have_ = true;
  content_known_ = true;
  serial_ = snap.serial();
  current_ = std::move(next);
  return result;
}

std::optional<std::vector<ZoneDelta>> ZoneHistory::since(const ZoneKey& zone, uint32_t serial) const {
  if (!have_) return std::nullopt;
  if (serial == serial_) return std::vector<ZoneDelta>{};
  auto it = std::find_if(steps_.begin(), steps_.end(), [&](const Step& s) { return s.from == serial; });
  if (it == steps_.end()) return std::nullopt;
  std::vector<ZoneDelta> out;
  for (; it != steps_.end(); ++it) {
    auto z = it->zones.find(zone);
    if (z == it->zones.end()) return std::nullopt;
    out.push_back(z->second);
  }
  return out;
}

}  // namespace vpced::zones
