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

#include "dns/zeroed.hpp"
#include "zones/metrics.hpp"

namespace vpced::dns {

inline constexpr size_t kMaxViewSlots = 1024;  // views beyond this share the last slot ("other")
inline constexpr size_t kQtypeBuckets = 12;
inline constexpr size_t kRcodeBuckets = 8;
inline constexpr size_t kTransports = 2;

size_t qtype_bucket(uint16_t qtype);
size_t rcode_bucket(uint16_t rcode);

// A counter written by one thread and read by others (zones::bump), through std::atomic_ref. A trivial type:
// nothing writes it on construction, so a block of counters mapped as fresh zero pages costs
// resident memory only in the pages whose counters moved — a worker's block has room for 1,024 views.
// (dns/zeroed.hpp)
struct Counter {
  using value_type = uint64_t;
  uint64_t value;
  uint64_t load(std::memory_order order = std::memory_order_relaxed) const {
    return std::atomic_ref<uint64_t>(const_cast<uint64_t&>(value)).load(order);
  }
  void store(uint64_t v, std::memory_order order = std::memory_order_relaxed) {
    std::atomic_ref<uint64_t>(value).store(v, order);
  }
};
static_assert(std::atomic_ref<uint64_t>::required_alignment <= alignof(uint64_t));

struct ViewCounters {
  std::array<std::array<Counter, kQtypeBuckets>, kTransports> queries;
  std::array<std::array<Counter, kRcodeBuckets>, kTransports> responses;
  std::array<Counter, kTransports> truncated;
  Counter forwarded;
};

// Made by DnsMetrics::add_worker in zeroed pages (zeroed_object); every field is a Counter.
struct WorkerCounters {
  std::array<ViewCounters, kMaxViewSlots> views;  // slot 0: queries that never reached a view ("none")
  std::array<Counter, kTransports> dropped;
  Counter rrl_dropped;  // UDP responses withheld by response rate limiting
  Counter rrl_slipped;  // ... and sent truncated instead (slip)
  Counter tcp_refused_total;       // TCP connections closed at accept: the worker's cap was full
  Counter tcp_refused_per_source;  // ... the source held server.tcp_max_connections_per_source
  Counter tcp_idle_timeouts;       // TCP connections closed waiting for a query
  Counter tcp_write_timeouts;      // ... waiting for the client to take an answer (slow reader)
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
  std::vector<Zeroed<WorkerCounters>> workers_;
};

}  // namespace vpced::dns
