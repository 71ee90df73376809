// The TCP relay (design §7): listens on every ENI address × listener port of every available endpoint and
// carries each connection to a target of the endpoint's service, with health checks, PROXY v2, half-close,
// idle timeout and the per-target connection limit. Runs on its own threads: one epoll loop per relay thread
// for the listeners and connections, one Asio thread for the health checks.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zones/metrics.hpp"
#include "zones/net.hpp"
#include "zones/snapshot.hpp"

namespace vpced::proxy {

// Why a consumer's connection was reset before it reached a target.
enum class RelayError { NoHealthyTarget, LimitReached, ConnectFailed, EndpointLimit };
std::string_view to_string(RelayError e);

struct RelayOptions {
  unsigned threads = 1;              // relay threads (an epoll loop each); listeners use SO_REUSEPORT so each has its own
  size_t buffer_size = 16384;        // bytes of a pooled copy buffer, held by a flow only while bytes are in flight
  bool splice = true;                // bulk flows (a read filled the buffer) splice(2) through pooled pipes (buffers when no pipe can be had)
  unsigned drain_timeout_ms = 2000;  // stop(): how long open connections may go on before they are reset
  unsigned accept_backoff_ms = 100;  // accept errors (EMFILE…) pause the listener instead of spinning
};

struct RelayCallbacks {
  // A target's health flipped. Runs on the health-check thread: post to the control thread, which rebuilds the
  // snapshot with RuntimeInputs.unhealthy_targets = Relay::unhealthy_targets() and publishes it.
  std::function<void(const std::string& service, const zones::HostPort& target, bool healthy)> health_changed;
  // Operational messages (a listener that cannot bind, accept errors). Runs on any thread.
  std::function<void(std::string_view)> log;
};

class Relay {
 public:
  Relay(RelayOptions options, RelayCallbacks callbacks);
  ~Relay();  // stop()
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Starts the worker threads. update() may come before or after.
  void start();

  // Makes the relay match `snapshot` (call from the control thread on every publish, the first included):
  // listens on every ENI address × listener port of every available endpoint; closes the listeners of
  // endpoints that left `available` (or lost that ENI) and resets their open connections; new connections
  // of a kept listener use the new service settings while open ones keep theirs; health checks follow each
  // service's target set, keeping the state of targets that stay. Binding happens here, synchronously; the
  // returned strings name listeners that could not be bound (the rest run; they are retried on the next
  // update). Everything else is posted to the relay threads.
  std::vector<std::string> update(std::shared_ptr<const zones::Snapshot> snapshot);

  // Graceful stop: closes the listeners and health checks, lets open connections finish for up to
  // drain_timeout_ms, resets the rest and joins the threads. Idempotent.
  void stop();

  // Prometheus families vpced_relay_* (thread-safe; register with MetricsRegistry::add).
  void collect(zones::MetricsWriter& w) const;
  // {"endpoints": [...], "targets": [...], "listener_errors": [...]} for the admin API (thread-safe).
  nlohmann::json status() const;
  // (service name, target) pairs whose health checks failed: RuntimeInputs.unhealthy_targets (thread-safe).
  std::set<std::pair<std::string, zones::HostPort>> unhealthy_targets() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpced::proxy
