// Response rate limiting: GCRA buckets keyed by a seeded hash of the source prefix, and the slip answer.
#include "dns/rrl.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "dns/wire.hpp"

namespace vpced::dns {

namespace {

constexpr uint64_t kTimeMask = (uint64_t{1} << 48) - 1;


}  // namespace

std::string_view to_string(RrlAction a) {
  switch (a) {
    case RrlAction::Pass: return "pass";
    case RrlAction::Drop: return "drop";
    case RrlAction::Slip: return "slip";
  }
  return "?";
}

RateLimiter::RateLimiter(size_t buckets, uint64_t seed)
    : table_(zeroed_array<uint64_t>(round_up_pow2(buckets))), mask_(round_up_pow2(buckets) - 1), hash_(seed) {}

bool RateLimiter::allow(const zones::IpAddr& source, const zones::RrlConfig& config, uint64_t now_us) {
  const uint64_t h = hash_(source, config.ipv4_prefix, config.ipv6_prefix);
  std::atomic_ref<uint64_t> bucket(table_[h & mask_]);
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
