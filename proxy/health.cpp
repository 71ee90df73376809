// Health checks: the threshold state machine and the TCP connect check loop.
#include "proxy/health.hpp"

#include <map>
#include <utility>

#include "proxy/asio.hpp"
#include "proxy/proxy_v2.hpp"

namespace vpced::proxy {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

bool HealthState::observe(bool ok, const HealthThresholds& t) {
  if (ok) {
    consecutive_fail = 0;
    if (consecutive_ok < UINT32_MAX) ++consecutive_ok;
    if (!healthy && consecutive_ok >= t.healthy) {
      healthy = true;
      return true;
    }
  } else {
    consecutive_ok = 0;
    if (consecutive_fail < UINT32_MAX) ++consecutive_fail;
    if (healthy && consecutive_fail >= t.unhealthy) {
      healthy = false;
      return true;
    }
  }
  return false;
}

namespace {

tcp::endpoint to_endpoint(const zones::HostPort& hp) {
  if (hp.addr.v6) {
    asio::ip::address_v6::bytes_type b;
    std::copy(hp.addr.bytes.begin(), hp.addr.bytes.end(), b.begin());
    return {asio::ip::address_v6(b), hp.port};
  }
  return {asio::ip::address_v4(hp.addr.v4()->value), hp.port};
}

using Key = std::pair<std::string, zones::HostPort>;

// One target's loop state, shared by the loop coroutine and the checker.
struct Check {
  explicit Check(asio::io_context& ctx) : timer(ctx), socket(ctx), deadline(ctx) {}
  HealthCheckSpec spec;
  HealthState state;
  asio::steady_timer timer;     // the wait between checks
  tcp::socket socket;           // the check connection
  asio::steady_timer deadline;  // the check's timeout
  uint64_t attempt = 0;         // numbers checks, so a late timeout handler cannot hit the next one
  bool timed_out = false;
  bool stopped = false;
};

}  // namespace

struct HealthChecker::Impl : std::enable_shared_from_this<HealthChecker::Impl> {
  asio::io_context& ctx;
  Callback on_change;
  std::map<Key, std::shared_ptr<Check>> checks;

  Impl(asio::io_context& c, Callback cb) : ctx(c), on_change(std::move(cb)) {}

  // One check: connect within the timeout; with PROXY v2 the LOCAL header goes out before the close, so a
  // receiver that requires the header (haproxy accept-proxy) sees a well-formed health check.
  static awaitable<bool> probe(std::shared_ptr<Check> c) {
    boost::system::error_code ec;
    c->socket = tcp::socket(c->socket.get_executor());
    const uint64_t attempt = ++c->attempt;
    c->timed_out = false;
    c->deadline.expires_after(c->spec.timeout);
    c->deadline.async_wait([c, attempt](const boost::system::error_code& e) {
      if (e || c->attempt != attempt) return;  // cancelled, or a late handler of an earlier check
      c->timed_out = true;
      boost::system::error_code ignored;
      c->socket.cancel(ignored);
    });
    co_await c->socket.async_connect(to_endpoint(c->spec.target), asio::redirect_error(use_awaitable, ec));
    bool ok = !ec && !c->timed_out;
    if (ok && c->spec.proxy_protocol_v2) {
      static const std::vector<uint8_t> local = encode_proxy_v2_local();
      co_await asio::async_write(c->socket, asio::buffer(local), asio::redirect_error(use_awaitable, ec));
      ok = !ec && !c->timed_out;
    }
    c->deadline.cancel();
    boost::system::error_code ignored;
    c->socket.shutdown(tcp::socket::shutdown_both, ignored);
    c->socket.close(ignored);
    co_return ok;
  }

  static awaitable<void> loop(std::shared_ptr<Impl> self, std::shared_ptr<Check> c) {
    while (!c->stopped) {
      const auto started = std::chrono::steady_clock::now();
      const bool ok = co_await probe(c);
      if (c->stopped) break;
      if (c->state.observe(ok, c->spec.thresholds) && self->on_change)
        self->on_change(c->spec.service, c->spec.target, c->state.healthy);
      c->timer.expires_at(started + c->spec.interval);
      boost::system::error_code ec;
      co_await c->timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }

  static void halt(Check& c) {
    c.stopped = true;
    boost::system::error_code ignored;
    c.timer.cancel();
    c.socket.cancel(ignored);
  }
};

HealthChecker::HealthChecker(asio::io_context& ctx, Callback on_change)
    : impl_(std::make_shared<Impl>(ctx, std::move(on_change))) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::set_targets(const std::vector<HealthCheckSpec>& specs) {
  std::map<Key, const HealthCheckSpec*> wanted;
  for (const auto& s : specs) wanted.emplace(Key{s.service, s.target}, &s);
  for (auto it = impl_->checks.begin(); it != impl_->checks.end();) {
    if (!wanted.contains(it->first)) {
      Impl::halt(*it->second);
      it = impl_->checks.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [key, spec] : wanted) {
    auto& slot = impl_->checks[key];
    if (slot) {
      slot->spec = *spec;  // used from the next check on
      continue;
    }
    slot = std::make_shared<Check>(impl_->ctx);
    slot->spec = *spec;
    asio::co_spawn(impl_->ctx, Impl::loop(impl_, slot), asio::detached);
  }
}

std::optional<HealthState> HealthChecker::state(const std::string& service, const zones::HostPort& target) const {
  auto it = impl_->checks.find(Key{service, target});
  if (it == impl_->checks.end()) return std::nullopt;
  return it->second->state;
}

void HealthChecker::stop() {
  if (!impl_) return;
  for (auto& [key, c] : impl_->checks) Impl::halt(*c);
  impl_->checks.clear();
}

}  // namespace vpced::proxy
