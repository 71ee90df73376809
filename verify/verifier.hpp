// The verifier: checks every service's private DNS name on its schedule over a Transport, on one
// io_context (the daemon's control thread), and reports state changes to its owner, which persists them
// and rebuilds the DNS snapshot (design §6).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "verify/target.hpp"
#include "verify/transport.hpp"
#include "zones/config.hpp"
#include "zones/verification_state.hpp"

namespace boost::asio {
class io_context;
}

namespace vpced::verify {

struct VerifierOptions {
  size_t max_in_flight = 64;  // DNS queries in flight over all checks; the rest wait in order
  // Longest timer wait. Due times are wall-clock (they survive restarts in the state file) while the
  // timer is monotonic, so the verifier looks at the clock at least this often: a wall-clock step is
  // noticed within it, and tests with an injected clock use a short one.
  std::chrono::milliseconds max_sleep{1000};
  // The owner's on_change writes the state file and rebuilds the DNS snapshot: work in the number of names,
  // not in the number of changes. So while checks are in flight, changes are gathered and reported at most
  // once per max(notify_gap, twice as long as the previous on_change took), counted from its return; a
  // cycle of 10,000 checks costs a few rebuilds instead of 10,000. When no check is in flight any more
  // (the end of a cycle, or a single check), the gathered changes are reported at once.
  std::chrono::milliseconds notify_gap{2000};
};

class Verifier {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  using OnChange = std::function<void(const zones::VerificationState&)>;

  // Nothing is checked before the first set_targets(). `on_change` runs on the io_context after the state
  // changed (a check finished, a record was added, dropped or restarted); changes within one turn of the
  // io_context are reported once, and changes while other checks are in flight are gathered (see
  // VerifierOptions::notify_gap). It is never called from inside a Verifier method.
  Verifier(boost::asio::io_context& ctx, Transport& transport, zones::VerifyConfig config,
           zones::VerificationState initial, OnChange on_change,
           Clock clock = [] { return std::chrono::system_clock::now(); }, VerifierOptions options = {});
  // Stops (see stop()).
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // At start and on every reload: the services with a private DNS name and their tokens. Records of
  // services not listed are dropped; a record whose name or token differs starts over at
  // pendingVerification (a result still in flight for the old token is discarded). New and pending names
  // are checked at once; verified ones on their schedule (last_check + recheck_every), failed ones not at all.
  void set_targets(std::vector<Target> targets, zones::VerifyConfig config);

  // `vpcectl verify start`: checks at once (right after the running check, if one is in flight); a failed
  // name goes back to pendingVerification with a fresh give-up clock. False when the service is not a
  // target (it has no private DNS name).
  bool check_now(const std::string& service);

  // Runs `done` on the io_context when the next check of `service` started from now on has finished (after
  // on_change has seen its result), or at once when there is no such target or the verifier stopped.
  void on_check_done(const std::string& service, std::function<void()> done);

  const zones::VerificationState& state() const;

  // Cancels the timer and drops queued queries; results of queries in flight are ignored and on_change
  // is not called again. The transport may be destroyed after stop() (it must still run or cancel the
  // callbacks it holds; they only touch memory the verifier keeps alive for them).
  void stop();

  size_t checks_in_flight() const;
  size_t queries_in_flight() const;
  size_t queries_queued() const;
  size_t peak_queries_in_flight() const;
  uint64_t checks_done() const;   // checks finished since construction (stale results included)
  uint64_t queries_sent() const;  // DNS queries those checks sent

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vpced::verify
