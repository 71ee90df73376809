// Runs one verify::Verifier with the daemon's own transport (cmd::ForwarderTransport: c-ares driven from
// Asio) against hostile servers for a bounded time, built with AddressSanitizer and UBSan (see
// tests/integration/CMakeLists.txt): the verifier, its parser and the transport must neither crash, read out
// of bounds nor leak (LeakSanitizer runs at exit) whatever the servers send or withhold.
//
// usage: verify_driver SECONDS STATE-DIR SILENT-ADDR GARBAGE-ADDR
//   example.com is pinned to both servers, example.net to the garbage one, example.org to the silent one.
//   Three services check api.orders.example.com, api.orders.example.net and *.orders.example.org every
//   second; `check_now` is called every 300 ms on one of them (often during a check); halfway through, the
//   example.net service gets a new token (its check in flight becomes stale), is dropped and added back; at
//   the end the verifier is stopped and destroyed with queries in flight, then the transport.
// Every state change is saved to STATE-DIR and read back (the hostile values must round-trip through the
// state file). Prints a summary; exits 0 when the expected findings were seen, 1 otherwise, 2 on usage.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cmd/verify_transport.hpp"
#include "dns/asio.hpp"
#include "verify/verifier.hpp"
#include "zones/verification_state.hpp"

namespace asio = boost::asio;
using namespace vpced;

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    std::cout << "FAIL: " << what << "\n";
    ++failures;
  }
}

zones::HostPort host_port(const char* text) {
  auto hp = zones::parse_host_port(text);
  if (!hp) {
    std::cerr << "not an IP:PORT: " << text << "\n";
    std::exit(2);
  }
  return *hp;
}

verify::Target target(const std::string& service, const std::string& name, char fill) {
  // Token shapes of design §6: "_" + 20 of [a-z0-9], "vpce:" + 20 of [A-Za-z0-9].
  return {service, name, {name, "_" + std::string(20, fill), "vpce:" + std::string(10, fill) + "AbCdE01234"}};
}

// Reasons are for logs and terminals: no raw control bytes from the network may reach them.
bool printable(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

// The silent server keeps a check in flight all the time, so the verifier gathers changes between reports
// (docs/verification.md, "Gathered changes"). A short gap lets this run see most finished checks on their
// own, as the counts below expect; the gathering itself is covered by unit_verify and make bench-verify.
verify::VerifierOptions driver_options() {
  verify::VerifierOptions o;
  o.notify_gap = std::chrono::milliseconds(200);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: verify_driver SECONDS STATE-DIR SILENT-ADDR GARBAGE-ADDR\n";
    return 2;
  }
  const auto seconds = std::chrono::seconds(std::stoi(argv[1]));
  const std::filesystem::path state_dir = argv[2];
  const zones::HostPort silent = host_port(argv[3]), garbage = host_port(argv[4]);

  zones::VerifyConfig config;
  config.nameservers["example.com"] = {silent, garbage};
  config.nameservers["example.net"] = {garbage};
  config.nameservers["example.org"] = {silent};
  config.interval = std::chrono::seconds(1);
  config.give_up_after = std::chrono::seconds(3600);
  config.recheck_every = std::chrono::seconds(3600);

  std::vector<verify::Target> targets = {target("both", "api.orders.example.com", 'a'),
                                         target("garbage", "api.orders.example.net", 'b'),
                                         target("silent", "*.orders.example.org", 'c')};

  asio::io_context ctx{1};
  auto transport = std::make_unique<cmd::ForwarderTransport>(ctx);

  size_t changes = 0, saves = 0;
  std::map<std::string, std::set<std::string>> results;  // service → every detail result seen
  std::map<std::string, size_t> checks;                   // service → finished checks seen (last_check moves)
  std::map<std::string, std::string> last_check;
  bool truncated_value_seen = false;
  auto verifier = std::make_unique<verify::Verifier>(
      ctx, *transport, config, zones::VerificationState{}, [&](const zones::VerificationState& st) {
        ++changes;
        for (const auto& [service, rec] : st.services) {
          for (const auto& d : rec.details) {
            results[service].insert(d.result);
            for (const auto& v : d.values) {
              expect(printable(v), "a value of " + service + " has raw control bytes: " + v);
              if (v.ends_with("…")) truncated_value_seen = true;
            }
          }
          for (const auto& r : rec.reasons) expect(printable(r), "a reason of " + service + " has raw control bytes: " + r);
          expect(rec.reasons.size() <= 200 && rec.details.size() <= 200, "more than 200 reasons or details");
          if (!rec.last_check.empty() && rec.last_check != last_check[service]) ++checks[service];
          last_check[service] = rec.last_check;
          expect(rec.state == zones::DnsNameState::PendingVerification,
                 service + " left pendingVerification: " + std::string(zones::to_string(rec.state)));
        }
        zones::save_verification(state_dir, st);
        expect(zones::load_verification(state_dir) == st, "the state file does not read back as written");
        ++saves;
      },
      [] { return std::chrono::system_clock::now(); }, driver_options());
  verifier->set_targets(targets, config);

  // check_now every 300 ms, round robin; halfway, a new token for "garbage", which is dropped and added back.
  const auto start = std::chrono::steady_clock::now();
  asio::steady_timer poke(ctx), end(ctx);
  size_t pokes = 0;
  bool reshuffled = false;
  std::function<void(const boost::system::error_code&)> on_poke = [&](const boost::system::error_code& ec) {
    if (ec || !verifier) return;
    verifier->check_now(targets[pokes++ % targets.size()].service);
    if (!reshuffled && std::chrono::steady_clock::now() - start >= seconds / 2) {
      reshuffled = true;
      targets[1] = target("garbage", "api.orders.example.net", 'd');
      verifier->set_targets(targets, config);
      auto without = targets;
      without.erase(without.begin() + 1);
      verifier->set_targets(without, config);
      verifier->set_targets(targets, config);
    }
    poke.expires_after(std::chrono::milliseconds(300));
    poke.async_wait(on_poke);
  };
  poke.expires_after(std::chrono::milliseconds(300));
  poke.async_wait(on_poke);

  size_t in_flight_at_stop = 0, queued_at_stop = 0, peak = 0;
  end.expires_after(seconds);
  end.async_wait([&](const boost::system::error_code&) {
    in_flight_at_stop = verifier->queries_in_flight();
    queued_at_stop = verifier->queries_queued();
    peak = verifier->peak_queries_in_flight();
    poke.cancel();
    verifier->stop();
    verifier.reset();   // with queries in flight in the transport
    transport.reset();  // cancels them: their callbacks are posted, and run below
  });
  ctx.run();
  // Anything posted by the destructors (and nothing else) is left: it must run out quickly.
  ctx.restart();
  const size_t left = ctx.run_for(std::chrono::seconds(5));

  std::cout << "changes " << changes << ", saves " << saves << ", check_now calls " << pokes << "\n";
  std::cout << "queries in flight at stop " << in_flight_at_stop << ", queued " << queued_at_stop << ", peak "
            << peak << ", handlers left after run " << left << "\n";
  for (const auto& [service, set] : results) {
    std::cout << service << ": " << checks[service] << " checks; results:";
    for (const auto& r : set) std::cout << " " << r;
    std::cout << "\n";
  }
  auto seen = [&](const std::string& service, const std::string& result) { return results[service].count(result) > 0; };
  expect(changes >= 2, "fewer than 2 state changes");
  expect(seen("both", "timeout"), "example.com: no timeout from the silent server");
  expect(seen("both", "malformed"), "example.com: no malformed answer from the garbage server");
  expect(seen("garbage", "malformed"), "example.net: no malformed answer");
  expect(seen("garbage", "different"), "example.net: the huge TXT answers were not seen as values");
  expect(seen("garbage", "not-authoritative") || seen("garbage", "SERVFAIL") || seen("garbage", "REFUSED") ||
             seen("garbage", "error"),
         "example.net: no referral or error RCODE finding");
  expect(truncated_value_seen, "no value shown truncated (…) although 65 KB TXT records were served");
  expect(checks["garbage"] >= 2, "example.net: fewer than 2 finished checks");
  expect(left == 0, "handlers were still queued after the io_context ran out of work");
  expect(seen("silent", "timeout"), "example.org: no timeout");
  std::cout << (failures ? "FAILED" : "OK") << "\n";
  return failures ? 1 : 0;
}
