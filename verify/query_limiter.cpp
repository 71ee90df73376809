// Bounded in-flight queries with a FIFO queue.
#include "verify/query_limiter.hpp"

#include <algorithm>

namespace vpced::verify {

QueryLimiter::QueryLimiter(Transport& inner, size_t max_in_flight)
    : inner_(inner), max_in_flight_(std::max<size_t>(1, max_in_flight)) {}

void QueryLimiter::send(const std::vector<zones::HostPort>& servers, std::span<const uint8_t> query, Done done) {
  if (stopped_) return;
  Pending p{servers, std::vector<uint8_t>(query.begin(), query.end()), std::move(done)};
  if (in_flight_ >= max_in_flight_) {
    queue_.push_back(std::move(p));
    return;
  }
  launch(std::move(p));
}

void QueryLimiter::launch(Pending p) {
  ++in_flight_;
  peak_ = std::max(peak_, in_flight_);
  auto self = shared_from_this();
  // The transport calls back later, never inside send(), so starting the next query from the callback
  // cannot recurse.
  inner_.send(p.servers, p.query, [self, done = std::move(p.done)](std::span<const uint8_t> response) {
    --self->in_flight_;
    if (self->stopped_) return;
    if (!self->queue_.empty() && self->in_flight_ < self->max_in_flight_) {
      Pending next = std::move(self->queue_.front());
      self->queue_.pop_front();
      self->launch(std::move(next));
    }
    done(response);
  });
}

void QueryLimiter::stop() {
  stopped_ = true;
  queue_.clear();
}

}  // namespace vpced::verify
