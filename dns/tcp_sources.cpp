// Per-source TCP connection counters: a seeded hash of the source's /32 or /64 picks an atomic counter.
#include "dns/tcp_sources.hpp"

namespace vpced::dns {

TcpSourceCounter::TcpSourceCounter(size_t slots, uint64_t seed)
    : table_(new std::atomic<uint32_t>[round_up_pow2(slots)]), mask_(round_up_pow2(slots) - 1), hash_(seed) {
  for (size_t i = 0; i <= mask_; ++i) table_[i].store(0, std::memory_order_relaxed);
}

size_t TcpSourceCounter::slot(const zones::IpAddr& source) const { return hash_(source, 32, 64) & mask_; }

bool TcpSourceCounter::try_acquire(size_t slot, uint32_t limit) {
  // Increment first, then look: concurrent acceptors see distinct previous values, so at most `limit` pass.
  const uint32_t before = table_[slot].fetch_add(1, std::memory_order_relaxed);
  if (limit != 0 && before >= limit) {
    table_[slot].fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void TcpSourceCounter::release(size_t slot) { table_[slot].fetch_sub(1, std::memory_order_relaxed); }

}  // namespace vpced::dns
