// Bucketing of query types and rcodes, and summing the per-worker counters into metric families.
#include "dns/metrics.hpp"

#include "dns/wire.hpp"

namespace vpced::dns {

namespace {

constexpr std::array<std::string_view, kQtypeBuckets> kQtypeNames = {"A",   "NS",  "SOA",  "PTR",  "MX",   "TXT",
                                                                     "AAAA", "SRV", "AXFR", "IXFR", "ANY", "other"};
constexpr std::array<std::string_view, kRcodeBuckets> kRcodeNames = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                                                     "NOTIMP",  "REFUSED", "BADVERS",  "other"};
constexpr std::array<std::string_view, kTransports> kTransportNames = {"udp", "tcp"};

}  // namespace

size_t qtype_bucket(uint16_t qtype) {
  switch (qtype) {
    case 1: return 0;
    case 2: return 1;
    case 6: return 2;
    case 12: return 3;
    case 15: return 4;
    case 16: return 5;
    case 28: return 6;
    case 33: return 7;
    case kTypeAxfr: return 8;
    case kTypeIxfr: return 9;
    case kTypeAny: return 10;
    default: return 11;
  }
}

size_t rcode_bucket(uint16_t rcode) {
  if (rcode <= 5) return rcode;
  if (rcode == kRcodeBadVers) return 6;
  return 7;
}

uint16_t DnsMetrics::slot(std::string_view view_name) {
  std::lock_guard lock(mu_);
  if (auto it = slots_.find(view_name); it != slots_.end()) return it->second;
  if (slot_names_.size() >= kMaxViewSlots) return static_cast<uint16_t>(kMaxViewSlots - 1);
  auto s = static_cast<uint16_t>(slot_names_.size());
  slot_names_.emplace_back(view_name);
  if (slot_names_.size() == kMaxViewSlots) slot_names_.back() = "other";
  slots_.emplace(std::string(view_name), s);
  return s;
}

WorkerCounters& DnsMetrics::add_worker() {
  std::lock_guard lock(mu_);
  workers_.push_back(zeroed_object<WorkerCounters>());  // zero is every counter's start value
  return *workers_.back();
}

void DnsMetrics::collect(zones::MetricsWriter& w) const {
  std::lock_guard lock(mu_);
  auto sum = [&](auto get) {
    uint64_t total = 0;
    for (const auto& wc : workers_) total += get(*wc).load(std::memory_order_relaxed);
    return total;
  };
  const size_t slots = slot_names_.size();
  w.family("vpced_dns_queries_total", "counter", "DNS queries received, by view, transport and query type.");
  for (size_t v = 0; v < slots; ++v)
    for (size_t t = 0; t < kTransports; ++t)
      for (size_t q = 0; q < kQtypeBuckets; ++q) {
        uint64_t n = sum([&](const WorkerCounters& c) -> const auto& { return c.views[v].queries[t][q]; });
        if (n) w.sample("vpced_dns_queries_total", {{"view", slot_names_[v]}, {"transport", kTransportNames[t]}, {"qtype", kQtypeNames[q]}}, double(n));
      }
  w.family("vpced_dns_responses_total", "counter", "DNS responses sent, by view, transport and rcode.");
  for (size_t v = 0; v < slots; ++v)
    for (size_t t = 0; t < kTransports; ++t)
      for (size_t r = 0; r < kRcodeBuckets; ++r) {
        uint64_t n = sum([&](const WorkerCounters& c) -> const auto& { return c.views[v].responses[t][r]; });
        if (n) w.sample("vpced_dns_responses_total", {{"view", slot_names_[v]}, {"transport", kTransportNames[t]}, {"rcode", kRcodeNames[r]}}, double(n));
      }
  w.family("vpced_dns_truncated_total", "counter", "UDP responses sent with TC=1 because the answer did not fit.");
  for (size_t v = 0; v < slots; ++v)
    for (size_t t = 0; t < kTransports; ++t) {
      uint64_t n = sum([&](const WorkerCounters& c) -> const auto& { return c.views[v].truncated[t]; });
      if (n) w.sample("vpced_dns_truncated_total", {{"view", slot_names_[v]}, {"transport", kTransportNames[t]}}, double(n));
    }
  w.family("vpced_dns_forwarded_total", "counter", "Queries forwarded to server.forwarders, by view.");
  for (size_t v = 0; v < slots; ++v) {
    uint64_t n = sum([&](const WorkerCounters& c) -> const auto& { return c.views[v].forwarded; });
    if (n) w.sample("vpced_dns_forwarded_total", {{"view", slot_names_[v]}}, double(n));
  }
  w.family("vpced_dns_dropped_total", "counter", "Queries dropped without an answer (too short, or not a query).");
  for (size_t t = 0; t < kTransports; ++t)
    w.sample("vpced_dns_dropped_total", {{"transport", kTransportNames[t]}},
             double(sum([&](const WorkerCounters& c) -> const auto& { return c.dropped[t]; })));
  w.family("vpced_rrl_dropped_total", "counter", "UDP responses not sent because their source prefix exceeded server.rrl.rate.");
  w.sample("vpced_rrl_dropped_total", {}, double(sum([](const WorkerCounters& c) -> const auto& { return c.rrl_dropped; })));
  w.family("vpced_rrl_slipped_total", "counter", "Rate-limited UDP responses sent truncated (TC=1) instead (server.rrl.slip).");
  w.sample("vpced_rrl_slipped_total", {}, double(sum([](const WorkerCounters& c) -> const auto& { return c.rrl_slipped; })));
  w.family("vpced_dns_tcp_refused_total", "counter",
           "DNS-over-TCP connections closed at accept: the worker's total cap or the source's limit was reached.");
  w.sample("vpced_dns_tcp_refused_total", {{"reason", "total"}},
           double(sum([](const WorkerCounters& c) -> const auto& { return c.tcp_refused_total; })));
  w.sample("vpced_dns_tcp_refused_total", {{"reason", "per_source"}},
           double(sum([](const WorkerCounters& c) -> const auto& { return c.tcp_refused_per_source; })));
  w.family("vpced_dns_tcp_timeouts_total", "counter",
           "DNS-over-TCP connections closed by the timeout, waiting for a query (idle) or for the client to read (write).");
  w.sample("vpced_dns_tcp_timeouts_total", {{"reason", "idle"}},
           double(sum([](const WorkerCounters& c) -> const auto& { return c.tcp_idle_timeouts; })));
  w.sample("vpced_dns_tcp_timeouts_total", {{"reason", "write"}},
           double(sum([](const WorkerCounters& c) -> const auto& { return c.tcp_write_timeouts; })));
  w.family("vpced_dns_tcp_connections", "gauge", "Open DNS-over-TCP connections.");
  w.sample("vpced_dns_tcp_connections", {}, double(tcp_connections.load(std::memory_order_relaxed)));
}

}  // namespace vpced::dns
