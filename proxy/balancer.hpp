// Target choice for one relayed connection (design §7, NLB behaviour): AZ affinity, cross-zone, fail-open,
// the per-target connection limit and a per-flow hash. Pure: the relay passes a snapshot of target state.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "zones/net.hpp"

namespace vpced::proxy {

struct Candidate {
  std::string_view az_id;  // the target's AZ ID ("use1-az1")
  bool healthy = true;
  uint32_t active = 0;     // connections open to it now
};

enum class ChoiceOutcome {
  Ok,               // healthy targets in reach, not all at their limit
  FailOpen,         // no healthy target in any AZ: every target, as the NLB does
  NoHealthyTarget,  // cross-zone off and the ENI's AZ has no healthy target while another AZ has one
  LimitReached,     // every target in reach holds max_connections_per_target connections
};
std::string_view to_string(ChoiceOutcome o);

struct Choice {
  ChoiceOutcome outcome = ChoiceOutcome::NoHealthyTarget;
  std::vector<size_t> order;  // indices into the candidates, in the order to try; empty unless Ok/FailOpen
};

// Healthy targets in the ENI's AZ (every AZ when cross_zone), skipping targets at the connection limit, in an
// order that starts at flow_hash % n and wraps round, so distinct flows spread and a failed connect moves on
// to the next target.
//
// When no target is healthy in any AZ the NLB "fails open" and routes to all targets: the order is then every
// target under the limit, those of the ENI's AZ first when cross_zone is off (what an AZ-local NLB node would
// try), then the others, so an ENI whose AZ has no target still reaches one — as the fail-open DNS answer
// (every ENI) promises.
Choice choose_targets(std::span<const Candidate> candidates, std::string_view eni_az_id, bool cross_zone,
                      uint32_t max_connections_per_target, uint64_t flow_hash);

// The NLB hashes protocol, source and destination address and port and the TCP sequence number, so two
// connections of one client may reach different targets. We hash the 4-tuple with a per-connection random
// value in place of the sequence number.
uint64_t flow_hash(const zones::IpAddr& src, uint16_t src_port, const zones::IpAddr& dst, uint16_t dst_port,
                   uint64_t per_connection_random);

}  // namespace vpced::proxy
