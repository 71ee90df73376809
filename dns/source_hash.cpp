#include "dns/source_hash.hpp"

#include <algorithm>
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

SourceHash::SourceHash(uint64_t seed) : seed_(seed) {
  if (seed_ == 0) {
    std::random_device rd;
    seed_ = (uint64_t{rd()} << 32) | rd();
  }
}

uint64_t SourceHash::operator()(const zones::IpAddr& source, unsigned v4_prefix, unsigned v6_prefix) const {
  if (!source.v6) {
    uint32_t a = 0;
    for (int i = 0; i < 4; ++i) a = (a << 8) | source.bytes[i];
    const unsigned len = std::min(v4_prefix, 32u);
    const uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
    return mix((uint64_t{a & mask} | (uint64_t{1} << 32)) ^ seed_);
  }
  uint64_t a = 0;
  for (int i = 0; i < 8; ++i) a = (a << 8) | source.bytes[i];
  const unsigned len = std::min(v6_prefix, 64u);
  const uint64_t mask = len == 0 ? 0 : ~uint64_t{0} << (64 - len);
  return mix(mix(a & mask) ^ seed_);  // a second round keeps IPv6 keys apart from IPv4's
}

size_t round_up_pow2(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace vpced::dns
