// Per-source TCP connection counters: a seeded hash of the source's /32 or /64 picks an atomic counter.
#include "dns/tcp_sources.hpp"

#include <random>

namespace vpced::dns {

namespace {

// splitmix64's finaliser: every input bit moves every output bit.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

TcpSourceCounter::TcpSourceCounter(size_t slots, uint64_t seed) {
  size_t n = 1;
  while (n < slots) n <<= 1;
  table_.reset(new std::atomic<uint32_t>[n]);
  for (size_t i = 0; i < n; ++i) table_[i].store(0, std::memory_order_relaxed);
  mask_ = n - 1;
  if (seed == 0) {
    std::random_device rd;
    seed = (uint64_t{rd()} << 32) | rd();
  }
  seed_ = seed;
}

size_t TcpSourceCounter::slot(const zones::IpAddr& source) const {
  if (!source.v6) {
    uint64_t a = 0;
    for (int i = 0; i < 4; ++i) a = (a << 8) | source.bytes[i];
    return mix((a | (uint64_t{1} << 32)) ^ seed_) & mask_;
  }
  uint64_t a = 0;
  for (int i = 0; i < 8; ++i) a = (a << 8) | source.bytes[i];  // the /64
  return mix(mix(a) ^ seed_) & mask_;  // a second round keeps IPv6 keys apart from IPv4's
}

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
