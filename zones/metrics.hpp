// A Prometheus text-format registry (exposition format 0.0.4). Subsystems register collectors that read
// their own counters at scrape time; nothing here runs on a query path.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vpced::zones {

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

class MetricsWriter {
 public:
  // Starts a metric family: `# HELP` and `# TYPE` lines. type: "counter" or "gauge".
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, double value);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

class MetricsRegistry {
 public:
  using Collector = std::function<void(MetricsWriter&)>;
  void add(Collector c);
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::vector<Collector> collectors_;
};

// A counter written by one thread and read by others: a relaxed load and store, cheaper than a locked add.
template <typename Atomic>
inline void bump(Atomic& a, typename Atomic::value_type n = 1) {
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace vpced::zones
