// A Transport in front of another that keeps at most N queries in flight and queues the rest in order,
// so checking many services at once never floods the resolvers or the authoritative servers.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>

#include "verify/transport.hpp"

namespace vpced::verify {

class QueryLimiter : public Transport, public std::enable_shared_from_this<QueryLimiter> {
 public:
  // Create with std::make_shared: completions hold the limiter alive. `inner` must outlive every query
  // sent before stop().
  QueryLimiter(Transport& inner, size_t max_in_flight);

  void send(const std::vector<zones::HostPort>& servers, std::span<const uint8_t> query, Done done) override;

  // Drops the queue and swallows the completions of queries already sent: after stop(), no `done` given
  // to send() runs and `inner` receives nothing more.
  void stop();

  size_t in_flight() const { return in_flight_; }
  size_t queued() const { return queue_.size(); }
  size_t peak_in_flight() const { return peak_; }

 private:
  struct Pending {
    std::vector<zones::HostPort> servers;
    std::vector<uint8_t> query;
    Done done;
  };
  void launch(Pending p);

  Transport& inner_;
  size_t max_in_flight_;
  size_t in_flight_ = 0;
  size_t peak_ = 0;
  bool stopped_ = false;
  std::deque<Pending> queue_;
};

}  // namespace vpced::verify
