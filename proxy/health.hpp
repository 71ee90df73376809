// Target health (design §7): the pure per-target state machine and the Asio driver that runs TCP connect
// checks on an io_context and reports state changes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "zones/net.hpp"

namespace boost::asio {
class io_context;
}

namespace vpced::proxy {

struct HealthThresholds {
  uint32_t healthy = 5;    // consecutive successes that bring an unhealthy target back (ELBv2 default 5)
  uint32_t unhealthy = 2;  // consecutive failures that take a healthy target out (ELBv2 default 2)
};

// One target's health. A target starts healthy: vpced's DNS answers with every ENI until a check says
// otherwise (RuntimeInputs defaults to "every target healthy"), and a restart must not withdraw addresses
// before the first check ran. An NLB starts targets in "initial"; we skip that state on purpose.
struct HealthState {
  bool healthy = true;
  uint32_t consecutive_ok = 0;
  uint32_t consecutive_fail = 0;

  // Records one check; returns true when `healthy` flipped.
  bool observe(bool ok, const HealthThresholds& t);
};

struct HealthCheckSpec {
  std::string service;  // the service's config name (RuntimeInputs.unhealthy_targets uses it)
  zones::HostPort target;
  std::chrono::milliseconds interval{30000};
  std::chrono::milliseconds timeout{10000};
  HealthThresholds thresholds;
  bool proxy_protocol_v2 = false;  // send a PROXY v2 LOCAL header on each check connection, as the NLB does
};

// Checks every (service, target) on `ctx`: every `interval` (from the start of one check to the start of the
// next) a TCP connect bounded by `timeout` (with proxy_protocol_v2, the LOCAL header is written before the
// close). One timer drives the schedule; a target holds a socket only while its check is in flight. Every
// method must be called on the thread that runs `ctx`, and the callback runs there too.
class HealthChecker {
 public:
  using Callback = std::function<void(const std::string& service, const zones::HostPort& target, bool healthy)>;

  HealthChecker(boost::asio::io_context& ctx, Callback on_change);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Makes the checked set exactly `specs`. A (service, target) that stays keeps its state and picks up the new
  // interval, timeout and thresholds at its next check; new ones start healthy and are checked at once;
  // removed ones stop without a callback.
  void set_targets(const std::vector<HealthCheckSpec>& specs);
  std::optional<HealthState> state(const std::string& service, const zones::HostPort& target) const;
  // Stops every loop (pending connects are cancelled).
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vpced::proxy
