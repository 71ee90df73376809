// Response rate limiting (RRL) for UDP: a token bucket per source prefix, in a fixed table the workers share.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "dns/source_hash.hpp"
#include "dns/zeroed.hpp"
#include "zones/config.hpp"
#include "zones/net.hpp"

namespace vpced::dns {

// What happens to one UDP response (Knot's and NSD's RRL): sent, not sent, or sent truncated (TC=1) so that a
// real client behind a limited prefix retries over TCP, which a spoofed source cannot do.
enum class RrlAction : uint8_t { Pass, Drop, Slip };
std::string_view to_string(RrlAction a);

// The bucket table. Each bucket is one 64-bit word: a 16-bit tag of the prefix and the GCRA "theoretical
// arrival time" (48 bits of microseconds), updated with a relaxed compare-and-swap: no lock, no allocation
// after construction. GCRA with emission interval 1/rate and tolerance (rate - 1)/rate is a token bucket of
// `rate` tokens refilled at `rate` per second. A prefix that lands on a bucket held by another tag takes it
// over with a full bucket; the hash is seeded per process so a sender cannot aim collisions at a victim.
class RateLimiter {
 public:
  static constexpr size_t kDefaultBuckets = 65536;  // 512 KiB

  // `buckets` is rounded up to a power of two. `seed` 0: a random seed.
  explicit RateLimiter(size_t buckets = kDefaultBuckets, uint64_t seed = 0);

  // Whether one more response to `source` fits its prefix's rate at `now_us` (a monotonic clock in
  // microseconds, below 2^48). Thread-safe. `config.rate` must be > 0.
  bool allow(const zones::IpAddr& source, const zones::RrlConfig& config, uint64_t now_us);

  size_t buckets() const { return mask_ + 1; }

 private:
  // Fresh zero pages (dns/zeroed.hpp): with RRL off, or few sources, most of it is never touched and costs no
  // resident memory. Buckets are read and written through std::atomic_ref.
  Zeroed<uint64_t[]> table_;
  size_t mask_;
  SourceHash hash_;
};

// The whole decision for one UDP response: Pass when RRL is off, the source is exempt or within its rate;
// else Drop or Slip. `limited_count` belongs to the calling worker: every `slip`-th limited response it
// sees slips (slip 1: all, 0: none).
RrlAction rrl_decide(RateLimiter& limiter, const zones::RrlConfig& config, const zones::IpAddr& source,
                     uint64_t now_us, uint32_t& limited_count);

// The slipped response to `query`: its header and question with QR and TC set and no records (RFC 2181
// §9: the client retries over TCP). Written to `out`; returns its size, 0 when `query` is shorter than a header.
size_t slip_response(std::span<const uint8_t> query, std::span<uint8_t> out);

}  // namespace vpced::dns
