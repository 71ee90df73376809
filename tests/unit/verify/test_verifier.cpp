// The whole Verifier on an io_context with the fake transport and an injected clock: the clock is
// advanced by hand and the context run (bounded) until the expected state appears.
#include <catch2/catch.hpp>

#include <memory>

#include "fake_dns.hpp"
#include "verify/verifier.hpp"

using namespace vpced::verify;
using namespace vpced::verify::testing;
using vpced::zones::DnsNameState;
using vpced::zones::format_timestamp;
using vpced::zones::VerificationRecord;
using vpced::zones::VerificationState;
using std::chrono::seconds;
using TP = std::chrono::system_clock::time_point;

namespace {

constexpr const char* kName = "_6e86v84tqgqubxbwii1m";
constexpr const char* kValue = "vpce:l6p0ERxlTt45jevFwOCp";
constexpr const char* kServer = "127.0.0.1:5399";
const TP kT0 = std::chrono::sys_days{std::chrono::year{2026} / 1 / 2};

Target target(const std::string& service = "orders", const std::string& name = "api.example.com",
              const std::string& token_name = kName, const std::string& value = kValue) {
  return Target{service, name, {name, token_name, value}};
}

struct Env {
  boost::asio::io_context ctx;
  FakeDns dns{ctx};
  TP now = kT0;
  vpced::zones::VerifyConfig cfg;
  std::vector<VerificationState> changes;
  std::unique_ptr<Verifier> v;

  Env() {
    cfg.nameservers["example.com"] = {hp(kServer)};
    cfg.interval = seconds{60};
    cfg.give_up_after = seconds{300};
    cfg.recheck_every = seconds{3600};
  }

  void make(VerificationState initial = {}, size_t max_in_flight = 64,
            std::chrono::milliseconds notify_gap = std::chrono::milliseconds(2000)) {
    v = std::make_unique<Verifier>(
        ctx, dns, cfg, std::move(initial), [this](const VerificationState& s) { changes.push_back(s); },
        [this] { return now; }, VerifierOptions{max_in_flight, std::chrono::milliseconds(1), notify_gap});
  }

  // Runs the io_context in short slices until `done` holds; false after ~1 s of trying.
  template <class Pred>
  bool run_until(Pred done, int rounds = 500) {
    for (int i = 0; i < rounds; ++i) {
      if (done()) return true;
      ctx.restart();
      ctx.run_for(std::chrono::milliseconds(2));
    }
    return done();
  }
  void run_a_little() {
    for (int i = 0; i < 10; ++i) {
      ctx.restart();
      ctx.run_for(std::chrono::milliseconds(2));
    }
  }

  const VerificationRecord* rec(const std::string& service = "orders") const {
    auto it = v->state().services.find(service);
    return it == v->state().services.end() ? nullptr : &it->second;
  }
  bool checked_now(const std::string& service = "orders") const {
    return rec(service) && rec(service)->last_check == format_timestamp(now);
  }
  bool in_state(DnsNameState s, const std::string& service = "orders") const {
    return rec(service) && rec(service)->state == s;
  }
  void publish(const std::string& domain = "api.example.com", const std::string& value = kValue) {
    dns.txt(kServer, std::string(kName) + "." + domain, {value});
  }
  void unpublish(const std::string& domain = "api.example.com") {
    dns.erase(kServer, std::string(kName) + "." + domain, kTypeTxt);
  }
};

bool has(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines)
    if (l.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("verifier: pending → verified → stops matching → failed → check_now → pending") {
  Env env;
  env.make();
  env.v->set_targets({target()}, env.cfg);
  CHECK(env.changes.empty());  // never called from inside a method
  REQUIRE(env.rec());
  CHECK(env.rec()->state == DnsNameState::PendingVerification);

  // Checked at once; nothing published yet.
  REQUIRE(env.run_until([&] { return env.checked_now(); }));
  CHECK(env.in_state(DnsNameState::PendingVerification));
  CHECK(has(env.rec()->reasons, "NXDOMAIN"));
  CHECK(env.rec()->next_check == format_timestamp(kT0 + seconds{60}));
  REQUIRE(env.run_until([&] { return !env.changes.empty(); }));
  CHECK(env.changes.back().services.at("orders").last_check == format_timestamp(kT0));

  // Not checked again before the interval.
  const size_t sent = env.dns.sent.size();
  env.now += seconds{30};
  env.run_a_little();
  CHECK(env.dns.sent.size() == sent);

  // Published: verified at the next check.
  env.publish();
  env.now += seconds{30};
  REQUIRE(env.run_until([&] { return env.in_state(DnsNameState::Verified); }));
  CHECK(env.rec()->since == format_timestamp(kT0 + seconds{60}));
  CHECK(env.rec()->matched_record == std::string(kName) + ".api.example.com");
  REQUIRE(env.run_until([&] { return env.changes.back().services.at("orders").state == DnsNameState::Verified; }));

  // Re-checked only after recheck_every.
  const size_t before_recheck = env.dns.sent.size();
  env.now += seconds{3599};
  env.run_a_little();
  CHECK(env.dns.sent.size() == before_recheck);

  // The record disappears: still verified, checked every interval, failed after give_up_after.
  env.unpublish();
  env.now += seconds{1};
  const TP broke = env.now;
  REQUIRE(env.run_until([&] { return env.checked_now(); }));
  CHECK(env.in_state(DnsNameState::Verified));
  CHECK(env.rec()->unmatched_since == format_timestamp(broke));
  for (int s = 60; s < 300; s += 60) {
    env.now = broke + seconds{s};
    REQUIRE(env.run_until([&] { return env.checked_now(); }));
    CHECK(env.in_state(DnsNameState::Verified));
  }
  env.now = broke + seconds{300};
  REQUIRE(env.run_until([&] { return env.in_state(DnsNameState::Failed); }));
  CHECK(env.rec()->next_check.empty());

  // Failed: no more automatic checks.
  const size_t after_fail = env.dns.sent.size();
  env.now += seconds{7200};
  env.run_a_little();
  CHECK(env.dns.sent.size() == after_fail);

  // check_now: back to pending with a fresh clock, checked at once.
  CHECK_FALSE(env.v->check_now("nope"));
  CHECK(env.v->check_now("orders"));
  CHECK(env.in_state(DnsNameState::PendingVerification));
  CHECK(env.rec()->pending_since == format_timestamp(env.now));
  REQUIRE(env.run_until([&] { return env.checked_now(); }));
  CHECK(env.dns.sent.size() > after_fail);
  env.publish();
  CHECK(env.v->check_now("orders"));
  REQUIRE(env.run_until([&] { return env.in_state(DnsNameState::Verified); }));
}

TEST_CASE("verifier: timeouts produce a timeout line and do not wedge the schedule") {
  Env env;
  env.dns.timeout(kServer, std::string(kName) + ".api.example.com", kTypeTxt);
  env.dns.timeout(kServer, std::string(kName) + ".example.com", kTypeTxt);
  env.dns.timeout(kServer, "api.example.com", kTypeTxt);
  env.dns.timeout(kServer, "example.com", kTypeTxt);
  env.make();
  env.v->set_targets({target()}, env.cfg);
  REQUIRE(env.run_until([&] { return env.checked_now(); }));
  CHECK(has(env.rec()->reasons, "timeout"));
  CHECK(env.v->checks_in_flight() == 0);
  CHECK(env.v->queries_in_flight() == 0);
  env.now += seconds{60};
  REQUIRE(env.run_until([&] { return env.checked_now(); }));  // the next check still happens
  env.dns.erase(kServer, std::string(kName) + ".api.example.com", kTypeTxt);
  env.publish();
  env.now += seconds{60};
  REQUIRE(env.run_until([&] { return env.in_state(DnsNameState::Verified); }));
}

TEST_CASE("verifier: a new name or token starts over; removed services are dropped") {
  Env env;
  env.publish();
  env.make();
  env.v->set_targets({target(), target("billing", "billing.example.com", "_bbbbbbbbbbbbbbbbbbbb")}, env.cfg);
  REQUIRE(env.run_until([&] { return env.in_state(DnsNameState::Verified); }));

  env.now += seconds{10};
  env.v->set_targets({target("orders", "www.example.com", "_cccccccccccccccccccc", "vpce:CCCCCCCCCCCCCCCCCCCC")},
                     env.cfg);
  REQUIRE(env.rec());
  CHECK(env.rec()->state == DnsNameState::PendingVerification);
  CHECK(env.rec()->name == "www.example.com");
  CHECK(env.rec()->pending_since == format_timestamp(env.now));
  CHECK_FALSE(env.rec("billing"));
  REQUIRE(env.run_until([&] { return env.checked_now(); }));
  CHECK(env.in_state(DnsNameState::PendingVerification));
  REQUIRE(env.run_until([&] { return !env.changes.empty() && !env.changes.back().services.count("billing"); }));
}

TEST_CASE("verifier: a result for an old token is discarded") {
  Env env;
  env.publish();  // the old token's value is published, the new one's is not
  env.make();
  env.v->set_targets({target()}, env.cfg);
  // Run until the first query is out, but stop before its answer is handled.
  for (int i = 0; i < 1000 && env.dns.sent.empty(); ++i) {
    env.ctx.restart();
    env.ctx.run_one_for(std::chrono::milliseconds(2));
  }
  REQUIRE_FALSE(env.dns.sent.empty());
  env.v->set_targets({target("orders", "api.example.com", "_dddddddddddddddddddd", "vpce:DDDDDDDDDDDDDDDDDDDD")},
                     env.cfg);
  REQUIRE(env.run_until([&] { return env.checked_now() && env.v->checks_in_flight() == 0; }));
  CHECK(env.in_state(DnsNameState::PendingVerification));
  CHECK(env.rec()->token_name == "_dddddddddddddddddddd");
}

TEST_CASE("verifier: at start, pending names are checked at once and verified ones keep their schedule") {
  Env env;
  VerificationState initial;
  VerificationRecord verified;
  verified.name = "api.example.com";
  verified.token_name = kName;
  verified.token_value = kValue;
  verified.state = DnsNameState::Verified;
  verified.last_check = verified.since = format_timestamp(kT0 - seconds{10});
  initial.services["orders"] = verified;
  VerificationRecord pending;
  pending.name = "billing.example.com";
  pending.token_name = "_bbbbbbbbbbbbbbbbbbbb";
  pending.token_value = kValue;
  pending.last_check = format_timestamp(kT0 - seconds{10});
  pending.since = pending.pending_since = format_timestamp(kT0 - seconds{100});
  initial.services["billing"] = pending;
  initial.services["gone"] = pending;
  env.make(initial);
  env.v->set_targets({target(), target("billing", "billing.example.com", "_bbbbbbbbbbbbbbbbbbbb")}, env.cfg);
  CHECK_FALSE(env.rec("gone"));
  REQUIRE(env.run_until([&] { return env.checked_now("billing"); }));
  env.run_a_little();
  CHECK(env.dns.count(std::string(kName) + ".api.example.com") == 0);  // verified: due at last_check + 1h
  CHECK(env.rec("billing")->pending_since == format_timestamp(kT0 - seconds{100}));  // the clock survived
  env.now += seconds{3590};
  REQUIRE(env.run_until([&] { return env.checked_now("orders"); }));
}

TEST_CASE("verifier: many services are checked concurrently within the in-flight bound") {
  Env env;
  std::vector<Target> targets;
  for (int i = 0; i < 200; ++i) {
    std::string label = std::to_string(i);
    std::string token = "_";  // built with += : GCC 12's -Wrestrict false positive on "…" + string (PR 105329)
    token += std::string(20 - label.size(), 't');
    token += label;
    std::string service = "svc";
    service += label;
    const std::string name = service + ".example.com";
    targets.push_back(target(service, name, token));
    env.dns.txt(kServer, token + "." + name, {kValue});
  }
  env.make({}, 16);
  env.v->set_targets(targets, env.cfg);
  REQUIRE(env.run_until(
      [&] {
        for (const auto& t : targets)
          if (!env.in_state(DnsNameState::Verified, t.service)) return false;
        return true;
      },
      2000));
  CHECK(env.dns.peak_in_flight <= 16);
  CHECK(env.v->peak_queries_in_flight() == 16);
  CHECK(env.v->queries_queued() == 0);
}

TEST_CASE("verifier: stop ends checking and notifications") {
  Env env;
  env.make();
  env.v->set_targets({target()}, env.cfg);
  env.v->stop();
  env.run_a_little();
  CHECK(env.dns.sent.empty());
  CHECK(env.changes.empty());
  CHECK_FALSE(env.v->check_now("orders"));
}

TEST_CASE("verifier: on_check_done fires after the next check, once the owner has seen its result") {
  Env env;
  env.make();
  env.v->set_targets({target()}, env.cfg);
  REQUIRE(env.run_until([&] { return env.checked_now(); }));
  REQUIRE(env.run_until([&] { return !env.changes.empty(); }));

  // Published, then "check now": the waiter fires after that check, with the owner already told "verified".
  env.publish();
  env.now += seconds{1};
  bool fired = false;
  DnsNameState seen_by_owner = DnsNameState::PendingVerification;
  env.v->check_now("orders");
  env.v->on_check_done("orders", [&] {
    fired = true;
    seen_by_owner = env.changes.back().services.at("orders").state;
  });
  CHECK_FALSE(fired);  // never inside the call
  REQUIRE(env.run_until([&] { return fired; }));
  CHECK(seen_by_owner == DnsNameState::Verified);

  // An unknown service: the waiter runs at once (on the io_context), nothing to wait for.
  bool unknown = false;
  env.v->on_check_done("nope", [&] { unknown = true; });
  CHECK_FALSE(unknown);
  REQUIRE(env.run_until([&] { return unknown; }));

  // stop() releases waiters instead of leaving them hanging.
  bool released = false;
  env.v->on_check_done("orders", [&] { released = true; });
  env.v->stop();
  REQUIRE(env.run_until([&] { return released; }));
}

TEST_CASE("verifier: the changes of one cycle reach the owner together, the last result at once") {
  Env env;
  std::vector<Target> targets;
  for (int i = 0; i < 100; ++i) {
    std::string label = std::to_string(i);
    std::string token = "_";
    token += std::string(20 - label.size(), 't');
    token += label;
    std::string service = "svc";
    service += label;
    const std::string name = service + ".example.com";
    targets.push_back(target(service, name, token));
    env.dns.txt(kServer, token + "." + name, {kValue});
  }
  // A gap far longer than the test: every report after the first one waits for the last check.
  env.make({}, 4, std::chrono::milliseconds(60000));
  env.v->set_targets(targets, env.cfg);
  bool fired = false;
  DnsNameState seen_by_owner = DnsNameState::PendingVerification;
  env.v->on_check_done("svc0", [&] {
    fired = true;
    seen_by_owner = env.changes.back().services.at("svc0").state;
  });
  REQUIRE(env.run_until(
      [&] {
        for (const auto& t : targets)
          if (!env.in_state(DnsNameState::Verified, t.service)) return false;
        return true;
      },
      2000));
  REQUIRE(env.run_until([&] { return env.changes.size() == 2; }));
  env.run_a_little();
  CHECK(env.changes.size() == 2);  // the new records at once, then one report for the 100 results
  CHECK(env.changes.front().services.at("svc0").state == DnsNameState::PendingVerification);
  for (const auto& t : targets) CHECK(env.changes.back().services.at(t.service).state == DnsNameState::Verified);
  // svc0's check finished first, but its waiter ran only after the owner had seen the result.
  CHECK(fired);
  CHECK(seen_by_owner == DnsNameState::Verified);
}

TEST_CASE("verifier: with a short gap, changes during a long cycle are reported before it ends") {
  Env env;
  std::vector<Target> targets;
  for (int i = 0; i < 2; ++i) targets.push_back(target("svc" + std::to_string(i), "svc" + std::to_string(i) + ".example.com"));
  env.dns.txt(kServer, std::string(kName) + ".svc0.example.com", {kValue});
  env.dns.hold = {".svc1.example.com"};  // svc1's check stays in flight
  env.make({}, 64, std::chrono::milliseconds(1));
  env.v->set_targets(targets, env.cfg);
  REQUIRE(env.run_until([&] { return env.in_state(DnsNameState::Verified, "svc0"); }));
  REQUIRE(env.run_until([&] {
    return !env.changes.empty() && env.changes.back().services.at("svc0").state == DnsNameState::Verified;
  }));
  CHECK(env.v->checks_in_flight() == 1);
  env.dns.release();
  REQUIRE(env.run_until([&] { return env.v->checks_in_flight() == 0; }));
}
