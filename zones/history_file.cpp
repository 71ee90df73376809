// The IXFR history as a bounded JSON file in state_dir: written atomically, read defensively.
#include "zones/history_file.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "zones/atomic_file.hpp"

namespace vpced::zones {

namespace {

using json = nlohmann::json;
constexpr int kFormat = 1;

json record_json(RecordRef r) { return json::array({r.owner, r.ttl, r.type, r.rdata}); }

Record record_of(const json& j) {
  if (!j.is_array() || j.size() != 4) throw std::runtime_error("a record is not [owner, ttl, type, rdata]");
  return Record{j[0].get<std::string>(), j[1].get<uint32_t>(), j[2].get<std::string>(), j[3].get<std::string>()};
}

// A RecordList or a std::vector<Record>.
template <class Records>
json records_json(const Records& rs) {
  json out = json::array();
  for (const RecordRef r : rs) out.push_back(record_json(r));
  return out;
}

template <class Records>
Records records_of(const json& j) {
  if (!j.is_array()) throw std::runtime_error("records are not an array");
  Records out;
  for (const auto& r : j) out.push_back(record_of(r));
  return out;
}

}  // namespace

std::string_view to_string(HistoryLoad r) {
  switch (r) {
    case HistoryLoad::Missing: return "missing";
    case HistoryLoad::Loaded: return "loaded";
    case HistoryLoad::Corrupt: return "corrupt";
  }
  return "unknown";
}

std::string encode_history(const ZoneHistory& h, size_t max_bytes) {
  if (!h.have_) return "{\"format\":1,\"serial\":null,\"content\":null,\"steps\":[]}\n";
  std::string head = "{\"format\":" + std::to_string(kFormat) + ",\"serial\":" + std::to_string(h.serial_) + ",\"content\":";
  std::string content = "null";
  size_t estimate = 0;  // a lower bound of the text, to skip rendering a zone that cannot fit
  for (const auto& [key, recs] : h.current_)
    for (const RecordRef r : *recs) estimate += r.owner.size() + r.type.size() + r.rdata.size() + 12;
  if (h.content_known_ && estimate <= max_bytes / 2) {
    json c = json::array();
    for (const auto& [key, recs] : h.current_) c.push_back({{"view", key.first}, {"apex", key.second}, {"records", records_json(*recs)}});
    std::string text = c.dump();
    if (text.size() <= max_bytes / 2) content = std::move(text);
  }
  // Newest steps first while they fit: the steps kept must end at serial_.
  size_t size = head.size() + content.size() + 32;
  std::vector<std::string> steps;
  for (auto it = h.steps_.rbegin(); it != h.steps_.rend(); ++it) {
    json zs = json::array();
    for (const auto& [key, d] : it->zones)
      zs.push_back({{"view", key.first}, {"apex", key.second}, {"old_soa", record_json(d.old_soa)},
                    {"new_soa", record_json(d.new_soa)}, {"removed", records_json(d.removed)},
                    {"added", records_json(d.added)}});
    std::string text = json{{"from", it->from}, {"to", it->to}, {"zones", zs}}.dump();
    if (size + text.size() + 2 > max_bytes) break;
    size += text.size() + 1;
    steps.push_back(std::move(text));
  }
  std::string out = std::move(head);
  out += content;
  out += ",\"steps\":[";
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (it != steps.rbegin()) out += ',';
    out += *it;
  }
  out += "]}\n";
  return out;
}

bool decode_history(std::string_view text, ZoneHistory& h, std::string& error) {
  ZoneHistory out(h.depth_);
  try {
    const json root = json::parse(text);
    if (!root.is_object() || !root.contains("format") || root["format"] != kFormat)
      throw std::runtime_error("unknown format version");
    if (root.at("serial").is_null()) {
      h = std::move(out);
      return true;
    }
    out.have_ = true;
    out.serial_ = root.at("serial").get<uint32_t>();
    const json& content = root.at("content");
    if (!content.is_null()) {
      if (!content.is_array()) throw std::runtime_error("content is not an array");
      for (const auto& z : content) {
        auto recs = records_of<RecordList>(z.at("records"));
        if (recs.empty() || recs.front().type != "SOA") throw std::runtime_error("a zone does not start with its SOA");
        // The IXFR difference reads both versions in order; a file edited by hand may not be.
        if (!std::is_sorted(recs.begin() + 1, recs.end())) recs.sort(1, recs.size());
        out.current_[{z.at("view").get<std::string>(), z.at("apex").get<std::string>()}] =
            std::make_shared<const RecordList>(std::move(recs));
      }
      out.content_known_ = true;
    }
    const json& steps = root.at("steps");
    if (!steps.is_array()) throw std::runtime_error("steps is not an array");
    for (const auto& s : steps) {
      ZoneHistory::Step step{s.at("from").get<uint32_t>(), s.at("to").get<uint32_t>(), {}};
      if (!out.steps_.empty() && out.steps_.back().to != step.from) throw std::runtime_error("steps do not chain");
      for (const auto& z : s.at("zones")) {
        ZoneDelta d{record_of(z.at("old_soa")), record_of(z.at("new_soa")), records_of<std::vector<Record>>(z.at("removed")),
                    records_of<std::vector<Record>>(z.at("added"))};
        if (d.old_soa.type != "SOA" || d.new_soa.type != "SOA") throw std::runtime_error("a step's SOA is not an SOA");
        step.zones.emplace(ZoneHistory::ZoneKey{z.at("view").get<std::string>(), z.at("apex").get<std::string>()},
                           std::move(d));
      }
      out.steps_.push_back(std::move(step));
    }
    if (!out.steps_.empty() && out.steps_.back().to != out.serial_)
      throw std::runtime_error("the last step does not end at the serial");
    while (out.steps_.size() > out.depth_) out.steps_.pop_front();
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
  h = std::move(out);
  return true;
}

void save_history(const std::filesystem::path& state_dir, const ZoneHistory& h, size_t max_bytes) {
  write_file_atomic(state_dir / kHistoryFile, encode_history(h, max_bytes));
}

HistoryLoad load_history(const std::filesystem::path& state_dir, ZoneHistory& h, std::string& problem,
                         size_t max_bytes) {
  const auto path = state_dir / kHistoryFile;
  const ZoneHistory empty(h.depth());
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    h = empty;
    return ec ? (problem = path.string() + ": " + ec.message(), HistoryLoad::Corrupt) : HistoryLoad::Missing;
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > max_bytes) {
    problem = path.string() + ": " + (ec ? ec.message() : "larger than " + std::to_string(max_bytes) + " bytes");
    h = empty;
    return HistoryLoad::Corrupt;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string error;
  if (!in || !decode_history(ss.str(), h, error)) {
    problem = path.string() + ": " + (error.empty() ? "cannot read it" : error);
    h = empty;
    return HistoryLoad::Corrupt;
  }
  return HistoryLoad::Loaded;
}

}  // namespace vpced::zones
