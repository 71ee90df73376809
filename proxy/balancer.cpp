// Target choice: which targets a new connection may use, and in which order to try them.
#include "proxy/balancer.hpp"

namespace vpced::proxy {

namespace {

// Appends `eligible` rotated to start at hash % size.
void append_rotated(const std::vector<size_t>& eligible, uint64_t hash, std::vector<size_t>& out) {
  const size_t n = eligible.size();
  if (n == 0) return;
  const size_t start = static_cast<size_t>(hash % n);
  for (size_t k = 0; k < n; ++k) out.push_back(eligible[(start + k) % n]);
}

// splitmix64's finalizer: every input bit moves every output bit, so hash % n spreads for small n.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::string_view to_string(ChoiceOutcome o) {
  switch (o) {
    case ChoiceOutcome::Ok: return "ok";
    case ChoiceOutcome::FailOpen: return "fail-open";
    case ChoiceOutcome::NoHealthyTarget: return "no-healthy-target";
    case ChoiceOutcome::LimitReached: return "limit-reached";
  }
  return "?";
}

Choice choose_targets(std::span<const Candidate> candidates, std::string_view eni_az_id, bool cross_zone,
                      uint32_t max_connections_per_target, uint64_t flow_hash) {
  Choice c;
  bool any_healthy = false;
  for (const auto& t : candidates) any_healthy = any_healthy || t.healthy;

  if (any_healthy) {
    std::vector<size_t> eligible;
    bool in_reach = false;
    for (size_t i = 0; i < candidates.size(); ++i) {
      const auto& t = candidates[i];
      if (!t.healthy || (!cross_zone && t.az_id != eni_az_id)) continue;
      in_reach = true;
      if (t.active >= max_connections_per_target) continue;
      eligible.push_back(i);
    }
    // Cross-zone off: the NLB node of the ENI's AZ sees only its own targets; an AZ without a healthy one
    // refuses although another AZ could serve (AWS: "an empty AZ counts as unhealthy").
    if (!in_reach) return c;
    if (eligible.empty()) {
      c.outcome = ChoiceOutcome::LimitReached;
      return c;
    }
    c.outcome = ChoiceOutcome::Ok;
    append_rotated(eligible, flow_hash, c.order);
    return c;
  }

  // Fail open: no healthy target anywhere.
  std::vector<size_t> local, remote;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const auto& t = candidates[i];
    if (t.active >= max_connections_per_target) continue;
    (cross_zone || t.az_id == eni_az_id ? local : remote).push_back(i);
  }
  if (local.empty() && remote.empty()) {
    c.outcome = candidates.empty() ? ChoiceOutcome::NoHealthyTarget : ChoiceOutcome::LimitReached;
    return c;
  }
  c.outcome = ChoiceOutcome::FailOpen;
  append_rotated(local, flow_hash, c.order);
  append_rotated(remote, flow_hash, c.order);
  return c;
}

uint64_t flow_hash(const zones::IpAddr& src, uint16_t src_port, const zones::IpAddr& dst, uint16_t dst_port,
                   uint64_t per_connection_random) {
  uint64_t h = mix(per_connection_random ^ 0x6a09e667f3bcc908ULL);
  auto absorb = [&h](const zones::IpAddr& a) {
    uint64_t hi = 0, lo = 0;
    for (size_t i = 0; i < 8; ++i) hi = hi << 8 | a.bytes[i];
    for (size_t i = 8; i < 16; ++i) lo = lo << 8 | a.bytes[i];
    h = mix(h ^ hi ^ (a.v6 ? 1 : 0));
    h = mix(h ^ lo);
  };
  absorb(src);
  absorb(dst);
  h = mix(h ^ (uint64_t{src_port} << 16 | dst_port));
  return h;
}

}  // namespace vpced::proxy
