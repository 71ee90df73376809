// Test driver for the relay until the daemon runs it: loads a config through zones::load_snapshot, runs a
// proxy::Relay on it and wires health changes back into the snapshot the way vpced will.
//
//   relay_driver -c CONFIG --status FILE [--threads N] [--idle-timeout-ms N] [--connect-timeout-ms N]
//                [--health-interval-ms N] [--health-timeout-ms N]
//
// SIGHUP reloads the config, SIGTERM/SIGINT stop. Every 100 ms (and at exit) FILE is replaced atomically with
// {"relay": Relay::status(), "unhealthy": [...], "serial": N, "regional": {endpoint: [addresses]},
//  "metrics": "<Prometheus text>", "reloads": N}.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "proxy/relay.hpp"
#include "zones/load.hpp"
#include "zones/metrics.hpp"

using namespace vpced;

namespace {

std::atomic<bool> health_moved{false};

void log_line(std::string_view s) {
  std::string line(s);
  line += '\n';
  std::fputs(line.c_str(), stderr);
}

zones::LoadOptions load_options(const proxy::Relay& relay) {
  zones::LoadOptions lo;
  lo.persist = true;
  lo.now_unix = static_cast<uint32_t>(std::time(nullptr));
  lo.runtime.unhealthy_targets = relay.unhealthy_targets();
  return lo;
}

void write_status(const std::string& path, const proxy::Relay& relay, const zones::Snapshot& snap, int reloads) {
  nlohmann::json unhealthy = nlohmann::json::array();
  for (const auto& [service, target] : relay.unhealthy_targets())
    unhealthy.push_back({{"service", service}, {"target", zones::to_string(target)}});
  nlohmann::json regional = nlohmann::json::object();
  for (const auto& e : snap.model().endpoints) {
    nlohmann::json addrs = nlohmann::json::array();
    for (auto a : e.regional_addresses) addrs.push_back(zones::to_string(a));
    regional[e.id] = addrs;
  }
  zones::MetricsWriter w;
  relay.collect(w);
  nlohmann::json j = {{"relay", relay.status()}, {"unhealthy", unhealthy}, {"serial", snap.serial()},
                      {"regional", regional},    {"metrics", w.text()},    {"reloads", reloads}};
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(1) << "\n";
  }
  std::filesystem::rename(tmp, path);
}

unsigned number(const char* s) { return static_cast<unsigned>(std::strtoul(s, nullptr, 10)); }

}  // namespace

int main(int argc, char** argv) {
  std::string config, status;
  proxy::RelayOptions options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "-c") config = v;
    else if (k == "--status") status = v;
    else if (k == "--threads") options.threads = number(v);
    else if (k == "--idle-timeout-ms") options.idle_timeout_ms = number(v);
    else if (k == "--connect-timeout-ms") options.connect_timeout_ms = number(v);
    else if (k == "--health-interval-ms") options.health_interval_ms = number(v);
    else if (k == "--health-timeout-ms") options.health_timeout_ms = number(v);
    else {
      std::cerr << "relay_driver: unknown option " << k << "\n";
      return 2;
    }
  }
  if (config.empty() || status.empty()) {
    std::cerr << "usage: relay_driver -c CONFIG --status FILE [options]\n";
    return 2;
  }

  // Signals are taken synchronously on this thread; the relay's threads inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  proxy::RelayCallbacks callbacks;
  callbacks.log = log_line;
  // On a relay thread: only note it; the control loop below rebuilds the snapshot.
  callbacks.health_changed = [](const std::string&, const zones::HostPort&, bool) { health_moved = true; };
  proxy::Relay relay(options, callbacks);

  zones::Diagnostics diags;
  std::shared_ptr<const zones::Snapshot> snap;
  try {
    snap = zones::load_snapshot(config, load_options(relay), diags);
  } catch (const std::exception& e) {
    std::cerr << "relay_driver: " << e.what() << "\n";
    return 1;
  }
  if (!snap) {
    std::cerr << diags.format();
    return 1;
  }
  relay.start();
  for (const auto& e : relay.update(snap)) std::cerr << "relay_driver: " << e << "\n";
  int reloads = 0;
  write_status(status, relay, *snap, reloads);
  std::cerr << "relay_driver: ready\n";

  for (;;) {
    timespec tick{0, 100 * 1000 * 1000};
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGHUP) {
      zones::Diagnostics d2;
      auto next = zones::load_snapshot(config, load_options(relay), d2);
      if (next) {
        snap = next;
        for (const auto& e : relay.update(snap)) std::cerr << "relay_driver: " << e << "\n";
        ++reloads;
        std::cerr << "relay_driver: reloaded, serial " << snap->serial() << "\n";
      } else {
        std::cerr << d2.format();
      }
    }
    if (health_moved.exchange(false)) {
      // What vpced's control thread does: the DNS regional answer follows target health (design §5).
      zones::Diagnostics d2;
      auto next = zones::rebuild_snapshot(snap->model(), load_options(relay), d2);
      if (next) {
        snap = next;
        relay.update(snap);
        std::cerr << "relay_driver: health changed, snapshot serial " << snap->serial() << "\n";
      }
    }
    write_status(status, relay, *snap, reloads);
  }
  relay.stop();
  write_status(status, relay, *snap, reloads);
  std::cerr << "relay_driver: stopped\n";
  return 0;
}
