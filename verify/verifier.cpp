// The verifier's schedule on Asio: one steady_timer, due times from schedule.hpp, checks from checker.hpp.
#include "verify/verifier.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "verify/asio.hpp"
#include "verify/checker.hpp"
#include "verify/query_limiter.hpp"
#include "verify/schedule.hpp"

namespace vpced::verify {

namespace asio = boost::asio;

struct Verifier::Impl : std::enable_shared_from_this<Impl> {
  struct Entry {
    Target target;
    std::optional<TimePoint> due;  // none: not scheduled (failed, or a check in flight)
    bool in_flight = false;
    bool again = false;            // check_now during a check: check once more right after it
    uint64_t generation = 0;       // results of another generation are stale
  };

  Impl(asio::io_context& ctx, Transport& transport, zones::VerifyConfig config, zones::VerificationState initial,
       OnChange on_change, Clock clock, VerifierOptions options)
      : ctx(ctx),
        limiter(std::make_shared<QueryLimiter>(transport, options.max_in_flight)),
        config(std::move(config)),
        state(std::move(initial)),
        on_change(std::move(on_change)),
        clock(std::move(clock)),
        options(options),
        timer(ctx),
        notify_timer(ctx) {}

  asio::io_context& ctx;
  std::shared_ptr<QueryLimiter> limiter;
  zones::VerifyConfig config;
  zones::VerificationState state;
  OnChange on_change;
  Clock clock;
  VerifierOptions options;
  asio::steady_timer timer;
  std::optional<std::chrono::steady_clock::time_point> timer_expiry;  // when the armed poll runs, if armed
  asio::steady_timer notify_timer;  // a gathered on_change, waiting for its gap
  std::map<std::string, Entry> entries;
  uint64_t next_generation = 1;
  size_t checks_in_flight = 0;
  uint64_t checks_done = 0;
  uint64_t queries_sent = 0;
  bool stopped = false;
  bool notify_posted = false;     // an on_change is posted, or waits on notify_timer
  bool notify_deferred = false;   // ... on notify_timer
  std::chrono::steady_clock::time_point notify_next{};  // no on_change before this while checks are in flight
  std::multimap<std::string, std::function<void()>> waiters;  // on_check_done callbacks per service
  std::vector<std::function<void()>> after_notify;  // waiters whose check finished: run after the next on_change

  static bool same_timing(const zones::VerifyConfig& a, const zones::VerifyConfig& b) {
    return a.interval == b.interval && a.give_up_after == b.give_up_after && a.recheck_every == b.recheck_every;
  }

  void set_targets(std::vector<Target> targets, zones::VerifyConfig cfg) {
    if (stopped) return;
    const bool timing_changed = !same_timing(config, cfg);
    config = std::move(cfg);
    const TimePoint now = clock();
    std::map<std::string, Target> wanted;
    for (auto& t : targets)
      if (!t.private_dns_name.empty()) wanted[t.service] = std::move(t);
    bool changed = false;
    for (auto it = entries.begin(); it != entries.end();) it = wanted.count(it->first) ? std::next(it) : entries.erase(it);
    for (auto it = state.services.begin(); it != state.services.end();) {
      if (wanted.count(it->first)) {
        ++it;
      } else {
        it = state.services.erase(it);
        changed = true;
      }
    }
    for (auto& [service, target] : wanted) {
      auto rec = state.services.find(service);
      auto [entry, fresh] = entries.try_emplace(service);
      Entry& e = entry->second;
      if (rec == state.services.end() || !record_matches(rec->second, target)) {
        // A new name, or a new token: start over. A check in flight for the old one is now stale.
        zones::VerificationRecord r = new_record(target, now);
        r.next_check = zones::format_timestamp(now);
        state.services[service] = std::move(r);
        changed = true;
        e = Entry{target, now, false, false, next_generation++};
        continue;
      }
      e.target = target;
      if (fresh) {
        e.generation = next_generation++;
        // On start, pending names are checked at once; the others keep the schedule the file recorded.
        e.due = rec->second.state == zones::DnsNameState::PendingVerification
                    ? std::optional<TimePoint>(now)
                    : next_check_due(rec->second, now, config);
      } else if (timing_changed && !e.in_flight) {
        e.due = next_check_due(rec->second, now, config);
      }
    }
    if (changed) notify();
    wake();
  }

  bool check_now(const std::string& service) {
    auto it = entries.find(service);
    if (stopped || it == entries.end()) return false;
    Entry& e = it->second;
    auto& rec = state.services[service];
    if (restart(rec, clock()) == Transition::Restarted) notify();
    if (e.in_flight) {
      e.again = true;
    } else {
      e.due = clock();
    }
    wake();
    return true;
  }

  // Runs poll() from the io_context soon: never inside a public method, so callers are not re-entered.
  void wake() { arm(std::chrono::milliseconds(0)); }

  void arm(std::chrono::steady_clock::duration wait) {
    if (stopped) return;
    timer_expiry = std::chrono::steady_clock::now() + wait;
    timer.expires_after(wait);  // cancels the previous wait, whose handler sees operation_aborted
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        self->timer_expiry.reset();
        self->poll();
      }
    });
  }

  // Makes sure poll() runs by `due` (the verifier's clock). A finished check needs no poll of its own when
  // the armed one comes first: with 10,000 checks in flight, a poll per result would walk every entry
  // 10,000 times.
  void wake_by(TimePoint due) {
    const auto wait = std::max<std::chrono::steady_clock::duration>(due - clock(), {});
    if (timer_expiry && *timer_expiry <= std::chrono::steady_clock::now() + wait) return;
    arm(std::min<std::chrono::steady_clock::duration>(wait, options.max_sleep));
  }

  void poll() {
    if (stopped) return;
    TimePoint now = clock();
    for (auto& [service, e] : entries)
      if (!e.in_flight && e.due && *e.due <= now) start_check(service, e);
    now = clock();
    std::optional<TimePoint> earliest;
    for (const auto& [service, e] : entries)
      if (!e.in_flight && e.due && (!earliest || *e.due < *earliest)) earliest = *e.due;
    std::chrono::steady_clock::duration wait = options.max_sleep;
    if (earliest) wait = std::clamp<std::chrono::steady_clock::duration>(*earliest - now, {}, options.max_sleep);
    arm(wait);
  }

  void start_check(const std::string& service, Entry& e) {
    e.in_flight = true;
    e.again = false;
    e.due.reset();
    ++checks_in_flight;
    run_check(*limiter, e.target, config,
              [weak = weak_from_this(), service, generation = e.generation](CheckReport report) {
                if (auto self = weak.lock()) self->on_report(service, generation, std::move(report));
              });
  }

  void on_report(const std::string& service, uint64_t generation, CheckReport report) {
    --checks_in_flight;
    ++checks_done;
    queries_sent += report.queries;
    if (stopped) return;
    auto it = entries.find(service);
    if (it == entries.end() || it->second.generation != generation) return;  // dropped or started over
    Entry& e = it->second;
    e.in_flight = false;
    const bool again = e.again;
    auto rec_it = state.services.find(service);
    if (rec_it == state.services.end()) return;
    auto& rec = rec_it->second;
    const TimePoint now = clock();
    rec.reasons = report.reasons(e.target);
    rec.details = report.details();
    rec.matched_record = report.matched ? report.matched_record : "";
    record_check(rec, report.matched, now, config);
    e.due = next_check_due(rec, now, config);
    if (e.again && rec.state != zones::DnsNameState::Failed) e.due = now;
    e.again = false;
    rec.next_check = e.due ? zones::format_timestamp(*e.due) : "";
    // Waiters want the check that began after they asked: with `again` set, that one is still to come.
    // They run right after the on_change that reports this result, so the owner has seen the new state.
    if (!again) {
      auto [first, end] = waiters.equal_range(service);
      for (auto w = first; w != end; ++w) after_notify.push_back(std::move(w->second));
      waiters.erase(first, end);
    }
    notify();
    if (e.due) wake_by(*e.due);
  }

  // Reports the state to the owner on a later turn: at once when no check is in flight, otherwise once the
  // gap after the previous report has passed (VerifierOptions::notify_gap).
  void notify() {
    if (stopped) return;
    const auto now = std::chrono::steady_clock::now();
    const bool gather = checks_in_flight > 0 && now < notify_next;
    if (notify_posted) {
      if (!notify_deferred || gather) return;
      notify_timer.cancel();  // the last check finished: report what was gathered now
    }
    notify_posted = true;
    notify_deferred = gather;
    auto report = [weak = weak_from_this()] {
      auto self = weak.lock();
      if (!self || !self->notify_posted) return;
      self->notify_posted = self->notify_deferred = false;
      if (self->stopped) return;
      const auto t0 = std::chrono::steady_clock::now();
      if (self->on_change) self->on_change(self->state);
      const auto t1 = std::chrono::steady_clock::now();
      self->notify_next = t1 + std::max<std::chrono::steady_clock::duration>(self->options.notify_gap, 2 * (t1 - t0));
      for (auto& w : self->after_notify) asio::post(self->ctx, std::move(w));
      self->after_notify.clear();
    };
    if (!gather) {
      asio::post(ctx, std::move(report));
      return;
    }
    notify_timer.expires_at(notify_next);
    notify_timer.async_wait([report = std::move(report)](const boost::system::error_code& ec) {
      if (!ec) report();
    });
  }

  void stop() {
    stopped = true;
    for (auto& [service, w] : waiters) asio::post(ctx, std::move(w));
    waiters.clear();
    for (auto& w : after_notify) asio::post(ctx, std::move(w));
    after_notify.clear();
    timer.cancel();
    notify_timer.cancel();
    limiter->stop();
  }
};

Verifier::Verifier(asio::io_context& ctx, Transport& transport, zones::VerifyConfig config,
                   zones::VerificationState initial, OnChange on_change, Clock clock, VerifierOptions options)
    : impl_(std::make_shared<Impl>(ctx, transport, std::move(config), std::move(initial), std::move(on_change),
                                   std::move(clock), options)) {}

Verifier::~Verifier() { impl_->stop(); }

void Verifier::set_targets(std::vector<Target> targets, zones::VerifyConfig config) {
  impl_->set_targets(std::move(targets), std::move(config));
}

bool Verifier::check_now(const std::string& service) { return impl_->check_now(service); }

const zones::VerificationState& Verifier::state() const { return impl_->state; }

void Verifier::stop() { impl_->stop(); }

void Verifier::on_check_done(const std::string& service, std::function<void()> done) {
  if (impl_->stopped || !impl_->entries.contains(service)) {
    asio::post(impl_->ctx, std::move(done));
    return;
  }
  impl_->waiters.emplace(service, std::move(done));
}

size_t Verifier::checks_in_flight() const { return impl_->checks_in_flight; }
size_t Verifier::queries_in_flight() const { return impl_->limiter->in_flight(); }
size_t Verifier::queries_queued() const { return impl_->limiter->queued(); }
size_t Verifier::peak_queries_in_flight() const { return impl_->limiter->peak_in_flight(); }
uint64_t Verifier::checks_done() const { return impl_->checks_done; }
uint64_t Verifier::queries_sent() const { return impl_->queries_sent; }

}  // namespace vpced::verify
