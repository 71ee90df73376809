// DNS counters: one block per worker thread, written only by that thread, summed at scrape time.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "zones/metrics.hpp"

namespace vpced::dns {

inline constexpr size_t kMaxViewSlots = 1024;  // views beyond this share the last slot ("other")
inline constexpr size_t kQtypeBuckets = 12;
inline constexpr size_t kRcodeBuckets = 8;
inline constexpr size_t kTransports = 2;

size_t qtype_bucket(uint16_t qtype);
size_t rcode_bucket(uint16_t rcode);

struct ViewCounters {
  std::array<std::array<std::atomic<uint64_t>, kQtypeBuckets>, kTransports> queries{};
  std::array<std::array<std::atomic<uint64_t>, kRcodeBuckets>, kTransports> responses{};
  std::array<std::atomic<uint64_t>, kTransports> truncated{};
  std::atomic<uint64_t> forwarded{0};
};

struct WorkerCounters {
  std::array<ViewCounters, kMaxViewSlots> views;  // slot 0: queries that never reached a view ("none")
  std::array<std::atomic<uint64_t>, kTransports> dropped{};
  std::atomic<uint64_t> rrl_dropped{0};  // UDP responses withheld by response rate limiting
  std::atomic<uint64_t> rrl_slipped{0};  // ... and sent truncated instead (slip)
  std::atomic<uint64_t> tcp_refused_total{0};       // TCP connections closed at accept: the worker's cap was full
  std::atomic<uint64_t> tcp_refused_per_source{0};  // ... the source held server.tcp_max_connections_per_source
  std::atomic<uint64_t> tcp_idle_timeouts{0};       // TCP connections closed waiting for a query
  std::atomic<uint64_t> tcp_write_timeouts{0};      // ... waiting for the client to take an answer (slow reader)
};

class DnsMetrics {
 public:
  // The counter slot of a view name; stable for the process lifetime. Called when a worker sees a new
  // snapshot, never per query.
  uint16_t slot(std::string_view view_name);
  WorkerCounters& add_worker();
  void collect(zones::MetricsWriter& w) const;

  std::atomic<int64_t> tcp_connections{0};

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint16_t, std::less<>> slots_;
  std::vector<std::string> slot_names_{"none"};
  std::vector<std::unique_ptr<WorkerCounters>> workers_;
};

}  // namespace vpced::dns
