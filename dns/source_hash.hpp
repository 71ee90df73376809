// A seeded hash of a source address's prefix (an IPv4 /N or an IPv6 /M), shared by response rate limiting
// (dns/rrl) and the per-source TCP connection counters (dns/tcp_sources): both index a fixed table of atomics
// with it, and the per-process seed keeps a sender from aiming its prefixes at a chosen slot.
#pragma once

#include <cstddef>
#include <cstdint>

#include "zones/net.hpp"

namespace vpced::dns {

class SourceHash {
 public:
  explicit SourceHash(uint64_t seed = 0);  // 0: a random seed from std::random_device

  // The hash of `source`'s first `v4_prefix` bits (IPv4, ≤ 32) or `v6_prefix` bits (IPv6, ≤ 64); IPv4 and
  // IPv6 keys never collide by construction (the IPv4 key carries bit 32, IPv6 takes a second round).
  uint64_t operator()(const zones::IpAddr& source, unsigned v4_prefix, unsigned v6_prefix) const;

 private:
  uint64_t seed_;
};

// The smallest power of two ≥ n (≥ 1): table sizes, so that `hash & (size - 1)` picks a slot.
size_t round_up_pow2(size_t n);

}  // namespace vpced::dns
