// Health checks: the threshold state machine and the TCP connect check loop.
#include "proxy/health.hpp"

#include <algorithm>
#include <functional>
#include <tuple>
#include <utility>

#include "proxy/asio.hpp"
#include "proxy/proxy_v2.hpp"

namespace vpced::proxy {

namespace asio = boost::asio;
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

using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

tcp::endpoint to_endpoint(const zones::HostPort& hp) {
  if (hp.addr.v6) {
    asio::ip::address_v6::bytes_type b;
    std::copy(hp.addr.bytes.begin(), hp.addr.bytes.end(), b.begin());
    return {asio::ip::address_v6(b), hp.port};
  }
  return {asio::ip::address_v4(hp.addr.v4()->value), hp.port};
}

struct Probe;

// One (service, target) while it is configured: its settings and state, and nothing that holds a socket or
// a timer between checks. Kept alive past its removal by the probe or schedule entry that still names it.
struct Check {
  HealthCheckSpec spec;
  HealthState state;
  Probe* probe = nullptr;  // the check connection in flight, if any
  bool removed = false;
};

// One check connection in flight: it exists from the connect to the outcome only, so a thousand targets
// checked every 30 s hold a socket and a timer each for milliseconds, not for the whole interval.
struct Probe {
  Probe(asio::io_context& ctx, std::shared_ptr<Check> c) : socket(ctx), timeout(ctx), check(std::move(c)) {}
  tcp::socket socket;
  asio::steady_timer timeout;
  std::shared_ptr<Check> check;
  Clock::time_point started;
  bool timed_out = false;  // the timeout fired: whatever completes after it is a failure
  bool done = false;
};

// When a check is next due. The schedule is a min-heap of these, driven by one timer.
struct Due {
  Clock::time_point at;
  std::shared_ptr<Check> check;
  bool operator>(const Due& o) const { return at > o.at; }
};

// Checks are kept and matched by (service, target).
bool spec_less(const HealthCheckSpec& a, const HealthCheckSpec& b) {
  return std::tie(a.service, a.target) < std::tie(b.service, b.target);
}

const std::vector<uint8_t>& local_header() {
  static const std::vector<uint8_t> local = encode_proxy_v2_local();
  return local;
}

}  // namespace

// The checks of every target share one timer: it wakes at the earliest due check, starts the checks that
// are due, and sleeps until the next. Each check connection is started with callbacks, not a coroutine, so
// an idle target costs its Check and one schedule entry (~300 bytes) instead of a suspended coroutine frame,
// a socket and two timers (~2.5 KB).
struct HealthChecker::Impl : std::enable_shared_from_this<HealthChecker::Impl> {
  asio::io_context& ctx;
  Callback on_change;
  std::vector<std::shared_ptr<Check>> checks;  // sorted by spec_less: one pointer a target, the key in its spec
  std::vector<Due> due;  // a min-heap on `at`
  asio::steady_timer wake;
  Clock::time_point armed = Clock::time_point::max();  // when `wake` fires; max: not waiting
  bool stopped = false;

  Impl(asio::io_context& c, Callback cb) : ctx(c), on_change(std::move(cb)), wake(c) {}

  void schedule(std::shared_ptr<Check> c, Clock::time_point at) {
    due.push_back({at, std::move(c)});
    std::push_heap(due.begin(), due.end(), std::greater<>{});
    if (at < armed) arm(at);
  }

  // Re-arming cancels the wait before; a handler that had already fired runs on_wake early, which only
  // re-arms for what is due.
  void arm(Clock::time_point at) {
    armed = at;
    wake.expires_at(at);
    wake.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->on_wake();
    });
  }

  // Starts at most kBurst due checks, then waits kBurstGap before the next ones: a reload that adds a thousand
  // targets (all due at once) opens their sockets a few dozen at a time, as HAProxy spreads its first checks,
  // instead of a thousand sockets and connect operations at the same moment (whose memory stays with the
  // heap afterwards). A slow target does not hold the others back: the limit is on starts, not on checks
  // in flight.
  static constexpr size_t kBurst = 64;
  static constexpr std::chrono::milliseconds kBurstGap{10};

  void on_wake() {
    armed = Clock::time_point::max();
    if (stopped) return;
    const auto now = Clock::now();
    size_t started = 0;
    while (!due.empty() && due.front().at <= now && started < kBurst) {
      std::pop_heap(due.begin(), due.end(), std::greater<>{});
      std::shared_ptr<Check> c = std::move(due.back().check);
      due.pop_back();
      if (c->removed || c->probe) continue;
      start(std::move(c), now);
      ++started;
    }
    if (!due.empty()) arm(std::max(due.front().at, started == kBurst ? now + kBurstGap : now));
  }

  // One check: connect within the timeout; with PROXY v2 the LOCAL header goes out before the close, so a
  // receiver that requires the header (haproxy accept-proxy) sees a well-formed health check.
  void start(std::shared_ptr<Check> c, Clock::time_point now) {
    auto p = std::make_shared<Probe>(ctx, std::move(c));
    Check& check = *p->check;
    check.probe = p.get();
    p->started = now;
    const tcp::endpoint to = to_endpoint(check.spec.target);
    error_code ec;
    p->socket.open(to.protocol(), ec);
    if (ec) {  // EMFILE and friends count as a failed check
      finish(p, false);
      return;
    }
    p->timeout.expires_after(check.spec.timeout);
    p->timeout.async_wait([p](const error_code& e) {
      if (e || p->done) return;
      p->timed_out = true;  // a connect whose handler is already queued still counts as failed
      error_code ignored;
      p->socket.cancel(ignored);  // the connect or the write ends with operation_aborted: a failure
    });
    p->socket.async_connect(to, [self = shared_from_this(), p](const error_code& e) {
      const bool ok = !e && !p->timed_out;
      if (!ok || p->done || !p->check->spec.proxy_protocol_v2) {
        self->finish(p, ok);
        return;
      }
      asio::async_write(p->socket, asio::buffer(local_header()),
                        [self, p](const error_code& e2, size_t) { self->finish(p, !e2 && !p->timed_out); });
    });
  }

  void finish(const std::shared_ptr<Probe>& p, bool ok) {
    if (p->done) return;
    p->done = true;
    error_code ignored;
    p->timeout.cancel();
    p->socket.shutdown(tcp::socket::shutdown_both, ignored);
    p->socket.close(ignored);
    Check& c = *p->check;
    c.probe = nullptr;
    if (c.removed || stopped) return;
    if (c.state.observe(ok, c.spec.thresholds) && on_change) on_change(c.spec.service, c.spec.target, c.state.healthy);
    if (!c.removed && !stopped) schedule(p->check, p->started + c.spec.interval);
  }

  static void halt(Check& c) {
    c.removed = true;
    if (!c.probe) return;
    error_code ignored;
    c.probe->timeout.cancel();
    c.probe->socket.cancel(ignored);
  }
};

HealthChecker::HealthChecker(asio::io_context& ctx, Callback on_change)
    : impl_(std::make_shared<Impl>(ctx, std::move(on_change))) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::set_targets(const std::vector<HealthCheckSpec>& specs) {
  Impl& d = *impl_;
  if (d.stopped) return;
  // The wanted specs in key order (the first of a key listed twice), merged with the checks in one pass.
  std::vector<const HealthCheckSpec*> wanted;
  wanted.reserve(specs.size());
  for (const auto& s : specs) wanted.push_back(&s);
  std::stable_sort(wanted.begin(), wanted.end(), [](const auto* a, const auto* b) { return spec_less(*a, *b); });
  wanted.erase(std::unique(wanted.begin(), wanted.end(),
                           [](const auto* a, const auto* b) { return !spec_less(*a, *b) && !spec_less(*b, *a); }),
               wanted.end());
  std::vector<std::shared_ptr<Check>> next;
  next.reserve(wanted.size());
  const auto now = Clock::now();
  auto old = d.checks.begin();
  for (const HealthCheckSpec* spec : wanted) {
    for (; old != d.checks.end() && spec_less((*old)->spec, *spec); ++old) Impl::halt(**old);
    if (old != d.checks.end() && !spec_less(*spec, (*old)->spec)) {
      (*old)->spec = *spec;  // used from the next check on
      next.push_back(std::move(*old++));
      continue;
    }
    auto c = std::make_shared<Check>();
    c->spec = *spec;
    d.schedule(c, now);  // checked at once
    next.push_back(std::move(c));
  }
  for (; old != d.checks.end(); ++old) Impl::halt(**old);
  d.checks = std::move(next);
  // Entries of removed checks leave the schedule now rather than at their due time (a reload that drops
  // many targets would otherwise keep their Check objects alive for an interval).
  if (std::erase_if(d.due, [](const Due& e) { return e.check->removed; }) > 0)
    std::make_heap(d.due.begin(), d.due.end(), std::greater<>{});
}

std::optional<HealthState> HealthChecker::state(const std::string& service, const zones::HostPort& target) const {
  const auto& checks = impl_->checks;
  auto it = std::lower_bound(checks.begin(), checks.end(), std::tie(service, target), [](const auto& c, const auto& key) {
    return std::tie(c->spec.service, c->spec.target) < key;
  });
  if (it == checks.end() || (*it)->spec.service != service || (*it)->spec.target != target) return std::nullopt;
  return (*it)->state;
}

void HealthChecker::stop() {
  if (!impl_) return;
  Impl& d = *impl_;
  d.stopped = true;
  for (auto& c : d.checks) Impl::halt(*c);
  d.checks.clear();
  d.due.clear();
  d.wake.cancel();
}

}  // namespace vpced::proxy
