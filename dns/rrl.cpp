// Response rate limiting: GCRA buckets keyed by a seeded hash of the source prefix, and the slip answer.
#include "dns/rrl.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include "dns/wire.hpp"

namespace vpced::dns {

namespace {

constexpr uint64_t kTimeMask = (uint64_t{1} << 48) - 1;

// splitmix64's finaliser: every input bit moves every output bit.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::string_view to_string(RrlAction a) {
  switch (a) {
    case RrlAction::Pass: return "pass";
    case RrlAction::Drop: return "drop";
    case RrlAction::Slip: return "slip";
  }
  return "?";
}

RateLimiter::RateLimiter(size_t buckets, uint64_t seed) {
  size_t n = 1;
  while (n < buckets) n <<= 1;
  table_.reset(new std::atomic<uint64_t>[n]);
  for (size_t i = 0; i < n; ++i) table_[i].store(0, std::memory_order_relaxed);
  mask_ = n - 1;
  if (seed == 0) {
    std::random_device rd;
    seed = (uint64_t{rd()} << 32) | rd();
  }
  seed_ = seed;
}

uint64_t RateLimiter::bucket_hash(const zones::IpAddr& source, const zones::RrlConfig& config) const {
  if (!source.v6) {
    uint32_t a = 0;
    for (int i = 0; i < 4; ++i) a = (a << 8) | source.bytes[i];
    const unsigned len = std::min<unsigned>(config.ipv4_prefix, 32);
    const uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
    return mix((uint64_t{a & mask} | (uint64_t{1} << 32)) ^ seed_);
  }
  uint64_t a = 0;
  for (int i = 0; i < 8; ++i) a = (a << 8) | source.bytes[i];
  const unsigned len = std::min<unsigned>(config.ipv6_prefix, 64);
  const uint64_t mask = len == 0 ? 0 : ~uint64_t{0} << (64 - len);
  return mix(mix(a & mask) ^ seed_);  // a second round keeps IPv6 keys apart from IPv4's
}

bool RateLimiter::allow(const zones::IpAddr& source, const zones::RrlConfig& config, uint64_t now_us) {
  const uint64_t h = bucket_hash(source, config);
  std::atomic<uint64_t>& bucket = table_[h & mask_];
  const uint64_t tag = h >> 48;
  const uint64_t rate = std::max<uint32_t>(config.rate, 1);
  const uint64_t interval = std::max<uint64_t>(1000000 / rate, 1);  // µs per token
  const uint64_t tolerance = interval * (rate - 1);                  // a full bucket: `rate` at once
  now_us &= kTimeMask;
  uint64_t old = bucket.load(std::memory_order_relaxed);
  // A failed exchange means another worker updated this bucket (lock-free: some thread always progresses);
  // `old` now holds its value, so the decision is made again on the new state.
  for (;;) {
    uint64_t tat = (old >> 48) == tag ? (old & kTimeMask) : 0;  // another prefix's bucket: start full
    if (tat < now_us) tat = now_us;
    if (tat - now_us > tolerance) return false;  // GCRA rejects without changing the state
    const uint64_t next = (tag << 48) | ((tat + interval) & kTimeMask);
    if (bucket.compare_exchange_weak(old, next, std::memory_order_relaxed)) return true;
  }
}

RrlAction rrl_decide(RateLimiter& limiter, const zones::RrlConfig& config, const zones::IpAddr& source,
                     uint64_t now_us, uint32_t& limited_count) {
  if (config.rate == 0) return RrlAction::Pass;
  for (const zones::Cidr& c : config.exempt)
    if (c.contains(source)) return RrlAction::Pass;
  if (limiter.allow(source, config, now_us)) return RrlAction::Pass;
  if (config.slip == 0) return RrlAction::Drop;
  if (++limited_count >= config.slip) {
    limited_count = 0;
    return RrlAction::Slip;
  }
  return RrlAction::Drop;
}

size_t slip_response(std::span<const uint8_t> query, std::span<uint8_t> out) {
  if (query.size() < kHeaderSize || out.size() < kHeaderSize) return 0;
  Query q;
  size_t end = kHeaderSize;
  bool question = parse_query(query, q) == ParseResult::Ok && q.question_end <= out.size();
  if (question) end = q.question_end;
  std::memcpy(out.data(), query.data(), end);
  out[2] = static_cast<uint8_t>(kFlagQr | kFlagTc | (query[2] & 0x79));  // keep OPCODE and RD
  out[3] = 0;
  write_u16(&out[4], question ? 1 : 0);
  write_u16(&out[6], 0);
  write_u16(&out[8], 0);
  write_u16(&out[10], 0);
  return end;
}

}  // namespace vpced::dns
