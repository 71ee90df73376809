// Concurrent DNS-over-TCP connections per source address, counted in a fixed table the workers share.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "dns/source_hash.hpp"
#include "zones/net.hpp"

namespace vpced::dns {

// One counter per source key (an IPv4 /32 or an IPv6 /64: a site normally gets a whole /64, so counting
// single IPv6 addresses would let one host take as many slots as it has addresses). The key picks a slot by
// a hash seeded per process; sources that land on one slot share its counter, which can only refuse early,
// never admit more than the limit. Relaxed atomics: no lock and no allocation after construction.
class TcpSourceCounter {
 public:
  static constexpr size_t kDefaultSlots = 16384;  // 64 KiB; far more than 512 connections × workers

  // `slots` is rounded up to a power of two. `seed` 0: a random seed.
  explicit TcpSourceCounter(size_t slots = kDefaultSlots, uint64_t seed = 0);

  // The slot of `source`.
  size_t slot(const zones::IpAddr& source) const;
  // Takes one connection of `slot` if fewer than `limit` are held; `limit` 0 always admits (and counts, so a
  // limit set by a reload sees the connections already open). Thread-safe.
  bool try_acquire(size_t slot, uint32_t limit);
  // Gives back a connection try_acquire admitted.
  void release(size_t slot);
  uint32_t held(size_t slot) const { return table_[slot].load(std::memory_order_relaxed); }

 private:
  std::unique_ptr<std::atomic<uint32_t>[]> table_;
  size_t mask_;
  SourceHash hash_;
};

}  // namespace vpced::dns
