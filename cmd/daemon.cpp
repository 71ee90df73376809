// The daemon's control loop: initial load, signals, reloads, status and metrics of the process.
#include "cmd/daemon.hpp"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <ctime>
#include <algorithm>
#include <map>
#include <thread>

#include "cmd/admin.hpp"
#include "cmd/explain.hpp"
#include "cmd/sd_notify.hpp"
#include "cmd/verify_transport.hpp"
#include "dns/asio.hpp"
#include "dns/notify.hpp"
#include "dns/transfer.hpp"
#include "dns/tsig.hpp"
#include "dns/server.hpp"
#include "proxy/relay.hpp"
#include "verify/candidates.hpp"
#include "verify/verifier.hpp"
#include "zones/atomic_file.hpp"
#include "zones/build_threads.hpp"
#include "zones/describe.hpp"
#include "zones/verification_state.hpp"
#include "zones/load.hpp"

#ifndef VPCED_VERSION
#define VPCED_VERSION "0.0.0"
#endif

namespace vpced::cmd {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Every address the DNS server listens on: server.dns_listen, then each VPC's dedicated addresses (queries
// arriving there see that VPC's view).
std::vector<zones::HostPort> dns_addresses(const zones::Config& c) {
  std::vector<zones::HostPort> out = c.server.dns_listen;
  for (const auto& v : c.vpcs)
    for (const auto& hp : v.dns_listen)
      if (std::find(out.begin(), out.end(), hp) == out.end()) out.push_back(hp);
  return out;
}

}  // namespace

struct Daemon::Impl {
  bool health_rebuild_pending = false;  // control thread only: one rebuild for a burst of health changes
  DaemonOptions options;
  asio::io_context ctx{1};
  zones::SnapshotHolder holder;
  dns::DnsMetrics dns_metrics;
  zones::MetricsRegistry registry;
  std::unique_ptr<dns::DnsServer> server;
  std::unique_ptr<AdminServer> admin;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  double start_unix = static_cast<double>(std::time(nullptr));
  bool serving = false;
  uint64_t reloads_ok = 0, reloads_failed = 0;
  double last_build_seconds = 0;
  std::optional<json> last_reload;  // {"time","ok","errors"}
  zones::RuntimeInputs runtime;     // what the daemon learned at run time (target health)
  std::unique_ptr<ForwarderTransport> transport;
  std::unique_ptr<verify::Verifier> verifier;
  std::unique_ptr<proxy::Relay> relay;
  uint64_t verification_writes = 0;     // verification.json writes since start
  uint64_t verifier_checks_before = 0, verifier_queries_before = 0;  // of verifiers replaced by a reload
  zones::VerificationState last_saved;  // what the daemon last wrote to (or read from) the state file
  dns::TransferContext transfer;        // TSIG keys and IXFR history for the DNS workers
  std::shared_ptr<const std::vector<dns::TsigKey>> staged_keys;  // read by the last successful load
  std::unique_ptr<dns::Notifier> notifier;
  // Snapshots replaced by a publish. The control thread keeps a reference to each until it is the last holder
  // (a DNS thread that has not looked again yet, a TCP session or a transfer finishing with the one it started
  // on) and then frees it itself (release_retired): never on a DNS thread, where tearing down a
  // 100,000-endpoint snapshot would hold up queries, and after the reload's answer has gone out.
  std::vector<std::shared_ptr<const zones::Snapshot>> retired;
  asio::steady_timer retired_timer{ctx};

  // Reads the TSIG secrets of transfer.keys (docs/secondaries.md): an unreadable or malformed file fails the
  // load; a file readable by group or others is a warning.
  std::shared_ptr<const std::vector<dns::TsigKey>> load_keys(const zones::Config& c, std::vector<std::string>& errors) {
    auto keys = std::make_shared<std::vector<dns::TsigKey>>();
    for (const auto& k : c.transfer.keys) {
      std::string error, warning;
      auto secret = dns::read_tsig_secret(k.secret_file, error, warning);
      if (!warning.empty()) log(Level::Warn, warning);
      if (!secret) {
        errors.push_back(zones::format_diagnostic({k.pos, "transfer.keys: " + error}));
        continue;
      }
      std::string name = k.name;
      if (!name.empty() && name.back() == '.') name.pop_back();
      keys->push_back({name, dns::name_to_wire(name), k.algorithm, std::move(*secret), k.view});
    }
    return keys;
  }

  static std::vector<verify::Target> targets_of(const zones::Model& m) {
    std::vector<verify::Target> out;
    for (const auto& s : m.services)
      if (s.config->private_dns_name && s.token) out.push_back({s.config->name, *s.config->private_dns_name, *s.token});
    return out;
  }

  // Publishes a snapshot to the DNS workers and makes the relay follow it (listeners, health checks).
  void publish(std::shared_ptr<const zones::Snapshot> snap) {
    auto before = holder.get();
    holder.publish(snap);
    if (server) server->snapshot_published();
    const auto& state_dir = snap->model().config.server.state_dir;
    if (!zones::transfers_configured(snap->model().config)) {
      // No secondary and no ACL or key: every transfer is refused, so an IXFR history would only cost memory
      // (a copy of every record when restored) and a file write per change. A stale file is removed: turning
      // transfers on later starts a new history (IXFR from older serials falls back to AXFR).
      transfer.forget_history(staged_keys);
      std::error_code ec;
      std::filesystem::remove(state_dir / zones::kHistoryFile, ec);
    } else {
      const auto recorded = transfer.update(*snap, staged_keys);
      if (recorded == zones::HistoryRecord::Restarted)
        log(Level::Info, "IXFR history: the zones changed while vpced was stopped and the older records were not "
                         "kept; IXFR from older serials is answered with the whole zone");
      // The IXFR history follows every serial change to state_dir, so that a restart keeps it.
      if (!before || recorded != zones::HistoryRecord::Same) {
        try {
          transfer.save_history(state_dir);
        } catch (const std::exception& e) {
          log(Level::Warn, std::string("IXFR history: cannot save it: ") + e.what());
        }
      }
    }
    // NOTIFY (RFC 1996) the secondaries of every zone whose content changed; at start, of every zone. A
    // secondary with a key hears of its key's view only, signed (dns/notify.hpp).
    if (notifier && (!before || before->serial() != snap->serial())) {
      const auto keys = transfer.keys();
      auto jobs = dns::plan_notify(before.get(), *snap, *keys);
      if (!jobs.empty()) notifier->notify(jobs);
    }
    if (relay)
      for (const auto& e : relay->update(snap)) log(Level::Warn, "relay: " + e);
    if (before) retired.push_back(std::move(before));
    // Posted: the caller (a reload) answers first, the old snapshot's teardown comes after.
    asio::post(ctx, [this] { release_retired(); });
  }

  // Frees the replaced snapshots nobody else holds any more. A snapshot is freed in the middle of the heap,
  // where free() returns nothing to the kernel: without malloc_trim, RSS after a reload would keep both
  // snapshots' pages for the life of the process. Checks when posted by a publish, then every 100 ms while one
  // is still held elsewhere. Once only this list holds one, nothing else can take it again (the holder has
  // the new one), so a use count of 1 stays 1.
  void release_retired() {
    const size_t before = retired.size();
    std::erase_if(retired, [](const auto& s) { return s.use_count() == 1; });
    if (retired.size() != before) malloc_trim(0);
    if (retired.empty()) return;
    retired_timer.expires_after(std::chrono::milliseconds(100));
    retired_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) release_retired();
    });
  }

  // Rebuilds the snapshot from the live config with fresh run-time inputs (verification, health) and
  // publishes it; the config file is not re-read.
  // How the daemon loads and rebuilds: identity and serial persisted, the live run-time inputs, zone records
  // kept only where a transfer can be allowed.
  zones::LoadOptions load_options() const {
    zones::LoadOptions lo;
    lo.persist = true;
    lo.now_unix = static_cast<uint32_t>(std::time(nullptr));
    lo.runtime = runtime;
    lo.keep_zone_records = false;
    return lo;
  }

  void rebuild(std::string_view why) {
    auto current = holder.get();
    zones::Diagnostics diags;
    const zones::LoadOptions lo = load_options();
    std::shared_ptr<const zones::Snapshot> next;
    unsigned built_on = 0;
    try {
      built_on = builders.run([&] { next = zones::rebuild_snapshot(current->model(), lo, diags); });
    } catch (const std::exception& e) {
      diags.error({options.config, 0, 0}, e.what());
    }
    if (!next) {
      for (const auto& d : diags.items()) log(Level::Error, zones::format_diagnostic(d));
      log(Level::Warn, "rebuild after " + std::string(why) + " failed; still serving serial " + std::to_string(current->serial()));
      return;
    }
    publish(next);
    builders.published(built_on);
    log(Level::Info, "republished after " + std::string(why) + ": serial " + std::to_string(next->serial()) +
                         ", generation " + std::to_string(holder.generation()));
  }

  // Starts the verifier from the state file, or hands it the new targets. The file is re-read when it no
  // longer holds what the daemon last wrote (restored from a backup, or seeded by a test); otherwise the
  // running verifier keeps its schedule and the checks in flight.
  void start_verifier(const zones::Snapshot& snap) {
    const auto& c = snap.model().config;
    auto on_disk = zones::load_verification(c.server.state_dir);
    if (!verifier || on_disk != last_saved) {
      if (verifier) {
        verifier->stop();
        verifier_checks_before += verifier->checks_done();
        verifier_queries_before += verifier->queries_sent();
      }
      last_saved = on_disk;
      verifier = std::make_unique<verify::Verifier>(ctx, *transport, c.verify, on_disk,
                                                    [this](const zones::VerificationState& st) { on_verification(st); });
    }
    verifier->set_targets(targets_of(snap.model()), c.verify);
  }

  void on_verification(const zones::VerificationState& st) {
    const auto state_dir = holder.get()->model().config.server.state_dir;
    const auto before = last_saved;
    {
      zones::DirLock lock(state_dir);  // the lock `vpced describe` takes too
      zones::save_verification(state_dir, st);
    }
    ++verification_writes;
    last_saved = st;

    bool moved = false;
    for (const auto& [service, rec] : st.services) {
      auto old = before.services.find(service);
      if (old == before.services.end() || old->second.state != rec.state) {
        log(Level::Info, "verification: service '" + service + "' " + rec.name + ": " +
                             std::string(old == before.services.end() ? "new" : zones::to_string(old->second.state)) +
                             " -> " + std::string(zones::to_string(rec.state)));
        moved = true;
      }
    }
    if (moved || before.services.size() != st.services.size()) rebuild("a verification change");
  }

  std::shared_ptr<const zones::Snapshot> load(std::vector<std::string>& errors, double& seconds) {
    const auto t0 = std::chrono::steady_clock::now();
    zones::Diagnostics diags;
    const zones::LoadOptions lo = load_options();
    std::shared_ptr<const zones::Snapshot> snap;
    try {
      snap = zones::load_snapshot(options.config, lo, diags);
    } catch (const std::exception& e) {
      diags.error({options.config, 0, 0}, e.what());
    }
    for (const auto& d : diags.items()) errors.push_back(zones::format_diagnostic(d));
    if (snap && errors.empty()) {
      auto keys = load_keys(snap->model().config, errors);
      if (errors.empty()) staged_keys = std::move(keys);
    }
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return errors.empty() ? snap : nullptr;
  }

  void register_metrics() {
    registry.add([this](zones::MetricsWriter& w) { dns_metrics.collect(w); });
    registry.add([this](zones::MetricsWriter& w) {
      if (relay) relay->collect(w);
    });
    registry.add([this](zones::MetricsWriter& w) {
      w.family("vpced_config_reloads_total", "counter", "Config reloads, by result.");
      w.sample("vpced_config_reloads_total", {{"result", "success"}}, double(reloads_ok));
      w.sample("vpced_config_reloads_total", {{"result", "failure"}}, double(reloads_failed));
      w.family("vpced_config_last_reload_successful", "gauge", "1 if the last reload succeeded (or none happened).");
      w.sample("vpced_config_last_reload_successful", {},
               last_reload && !(*last_reload)["ok"].get<bool>() ? 0.0 : 1.0);
      w.family("vpced_snapshot_generation", "gauge", "Generation of the published snapshot.");
      w.sample("vpced_snapshot_generation", {}, double(holder.generation()));
      w.family("vpced_snapshot_build_seconds", "gauge", "Seconds the last successful snapshot build took.");
      w.sample("vpced_snapshot_build_seconds", {}, last_build_seconds);
      w.family("vpced_snapshots_retained", "gauge",
               "Snapshots replaced by a later one and still in memory (held by a TCP session or a transfer in "
               "progress); 0 once they are freed.");
      w.sample("vpced_snapshots_retained", {},
               double(std::count_if(retired.begin(), retired.end(), [](const auto& r) { return r.use_count() > 1; })));
      auto snap = holder.get();
      if (snap) {
        w.family("vpced_zone_serial", "gauge", "SOA serial of the public zone.");
        w.sample("vpced_zone_serial", {}, double(snap->serial()));
        std::map<std::string_view, int> states = {{"available", 0}, {"pendingAcceptance", 0}, {"rejected", 0}};
        for (const auto& e : snap->model().endpoints) ++states[zones::to_string(e.state)];
        w.family("vpced_endpoints", "gauge", "Interface endpoints, by state.");
        for (const auto& [s, n] : states) w.sample("vpced_endpoints", {{"state", s}}, double(n));
      }
      if (snap) {
        std::map<std::string_view, int> names = {{"pendingVerification", 0}, {"verified", 0}, {"failed", 0}};
        for (const auto& s : snap->model().services)
          if (s.config->private_dns_name) ++names[zones::to_string(s.dns_name_state)];
        w.family("vpced_private_dns_names", "gauge", "Private DNS names of services, by verification state, as served.");
        for (const auto& [s, n] : names) w.sample("vpced_private_dns_names", {{"state", s}}, double(n));
      }
      w.family("vpced_verify_checks_total", "counter", "Verification checks finished.");
      w.sample("vpced_verify_checks_total", {},
               double(verifier_checks_before + (verifier ? verifier->checks_done() : 0)));
      w.family("vpced_verify_queries_total", "counter", "DNS queries sent by verification checks.");
      w.sample("vpced_verify_queries_total", {},
               double(verifier_queries_before + (verifier ? verifier->queries_sent() : 0)));
      w.family("vpced_verify_checks_in_flight", "gauge", "Verification checks running now.");
      w.sample("vpced_verify_checks_in_flight", {}, double(verifier ? verifier->checks_in_flight() : 0));
      w.family("vpced_verify_state_writes_total", "counter", "Writes of state_dir/verification.json.");
      w.sample("vpced_verify_state_writes_total", {}, double(verification_writes));
      w.family("vpced_build_info", "gauge", "Always 1; the version is a label.");
      w.sample("vpced_build_info", {{"version", VPCED_VERSION}}, 1);
      w.family("vpced_start_time_seconds", "gauge", "Unix time the process started.");
      w.sample("vpced_start_time_seconds", {}, start_unix);
    });
  }

  // Reloads and rebuilds after the first load run here, taking turns (zones/build_threads.hpp). Last, so
  // destroyed first: its threads end before anything a build could touch goes.
  zones::BuildThreads builders;
};

// Every ENI address × listener port costs one fd per relay thread and every relayed connection two: lift the
// soft RLIMIT_NOFILE to the hard limit, as nginx and HAProxy do, and say how many that is.
static void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  }
  log(Level::Info, "open file limit " + std::to_string(rl.rlim_cur));
}

Daemon::Daemon(DaemonOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->register_metrics();
}

Daemon::~Daemon() = default;

int Daemon::run() {
  Impl& d = *impl_;
  std::signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();
  std::vector<std::string> errors;
  auto snap = d.load(errors, d.last_build_seconds);
  if (!snap) {
    for (const auto& e : errors) log(Level::Error, e);
    return 1;
  }
  proxy::RelayCallbacks callbacks;
  callbacks.log = [](std::string_view line) { log(Level::Warn, line); };  // lines start with "relay: "
  callbacks.health_changed = [&d](const std::string& service, const zones::HostPort& target, bool healthy) {
    // On the relay's health-check thread: the rebuild belongs to the control thread.
    // Each change is logged, but changes that arrive together (a thousand targets failing their first checks
    // at once) share one rebuild: the control thread must stay free for reloads and signals.
    asio::post(d.ctx, [&d, service, target, healthy] {
      log(healthy ? Level::Info : Level::Warn, "health: target " + zones::to_string(target) + " of service '" +
                                                   service + "' is " + (healthy ? "healthy" : "unhealthy"));
      if (d.health_rebuild_pending) return;
      d.health_rebuild_pending = true;
      asio::post(d.ctx, [&d] {
        d.health_rebuild_pending = false;
        d.runtime.unhealthy_targets = d.relay->unhealthy_targets();
        d.rebuild("a target health change");
      });
    });
  };
  proxy::RelayOptions ro;
  ro.threads = d.options.relay_threads ? d.options.relay_threads : 1;
  d.relay = std::make_unique<proxy::Relay>(ro, callbacks);
  d.relay->start();
  d.notifier = std::make_unique<dns::Notifier>(d.ctx, [](std::string_view line) { log(Level::Warn, line); });
  if (zones::transfers_configured(snap->model().config)) {
    std::string problem;
    const auto& state_dir = snap->model().config.server.state_dir;
    const auto loaded = d.transfer.restore_history(state_dir, problem);
    if (loaded == zones::HistoryLoad::Corrupt)
      log(Level::Warn, "IXFR history: " + problem + "; starting with an empty history");
    else if (loaded == zones::HistoryLoad::Loaded)
      log(Level::Info, "IXFR history: " + std::to_string(d.transfer.history_versions()) + " version(s) loaded from " +
                           (state_dir / zones::kHistoryFile).string());
  }
  d.publish(snap);
  const auto& server_cfg = snap->model().config.server;

  d.admin = std::make_unique<AdminServer>(d.ctx, *this);
  d.admin->set_timeouts(server_cfg.admin_read_timeout, server_cfg.admin_write_timeout);
  dns::ServerOptions so;
  so.threads = d.options.threads;
  so.transfer = &d.transfer;
  if (d.options.query_log) so.query_log = [](std::string_view line) { log(Level::Info, line); };
  d.server = std::make_unique<dns::DnsServer>(d.holder, d.dns_metrics, so);
  try {
    d.admin->listen(server_cfg.admin_listen);
    d.server->start();
    d.server->set_listeners(dns_addresses(snap->model().config));
    d.server->set_forwarders(server_cfg.forwarders);
  } catch (const std::exception& e) {
    log(Level::Error, e.what());
    return 1;
  }
  try {
    d.transport = std::make_unique<ForwarderTransport>(d.ctx);
    d.start_verifier(*snap);
  } catch (const std::exception& e) {
    log(Level::Error, std::string("cannot start the verifier: ") + e.what());
    return 1;
  }
  d.serving = true;
  std::string listen;
  for (const auto& hp : d.server->listeners()) listen += (listen.empty() ? "" : ", ") + zones::to_string(hp);
  log(Level::Info, "serving zone " + snap->model().zone_apex + " serial " + std::to_string(snap->serial()) + " on " +
                       listen + " (udp, tcp); admin on http://" + zones::to_string(server_cfg.admin_listen));
  sd_notify("READY=1");
  // The holder has it: kept here, the first snapshot (model and config with it) would outlive every reload.
  snap.reset();
  // What start-up allocated after the load's own trim and has freed since (the relay's update tables, the
  // servers' set-up) lies in the middle of the heap: give those pages back now, and once more a second later,
  // when the relay threads have taken their listeners from the update and freed its hand-over lists
  // (bench config: RSS 31.1 → 28.4 → 27.1 MB).
  malloc_trim(0);
  asio::steady_timer settle(d.ctx, std::chrono::seconds(1));
  settle.async_wait([](const boost::system::error_code& ec) {
    if (!ec) malloc_trim(0);
  });

  asio::signal_set signals(d.ctx, SIGHUP, SIGTERM, SIGINT);
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec,
                                                                             int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      reload("SIGHUP");
      signals.async_wait(on_signal);
      return;
    }
    log(Level::Info, std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    sd_notify("STOPPING=1");
    d.serving = false;
    d.verifier->stop();
    d.admin->close();
    d.server->stop();
    d.relay->stop();
    d.ctx.stop();
  };
  signals.async_wait(on_signal);
  d.ctx.run();
  log(Level::Info, "stopped");
  return 0;
}

ReloadResult Daemon::reload(std::string_view trigger) {
  Impl& d = *impl_;
  sd_notify("RELOADING=1");
  ReloadResult r;
  double seconds = 0;
  auto old = d.holder.get();
  // On a build thread (zones/build_threads.hpp): the new snapshot in another malloc arena than the live one.
  std::shared_ptr<const zones::Snapshot> next;
  const unsigned built_on = d.builders.run([&] { next = d.load(r.errors, seconds); });
  if (next) {
    try {
      d.server->set_listeners(dns_addresses(next->model().config));
    } catch (const std::exception& e) {
      r.errors.push_back(e.what());
      next = nullptr;
    }
  }
  if (!next) {
    ++d.reloads_failed;
    d.last_reload = json{{"time", utc_now()}, {"ok", false}, {"errors", r.errors}};
    for (const auto& e : r.errors) log(Level::Error, e);
    log(Level::Warn, "reload (" + std::string(trigger) + ") failed with " + std::to_string(r.errors.size()) +
                         " error(s); still serving serial " + std::to_string(old->serial()));
    r.serial = old->serial();
    r.generation = d.holder.generation();
    sd_notify("READY=1");
    return r;
  }
  const auto& new_admin = next->model().config.server.admin_listen;
  if (new_admin != d.admin->address()) {
    try {
      d.admin->listen(new_admin);
    } catch (const std::exception& e) {
      log(Level::Warn, std::string(e.what()) + "; the admin API stays on " + zones::to_string(d.admin->address()));
    }
  }
  d.admin->set_timeouts(next->model().config.server.admin_read_timeout,
                        next->model().config.server.admin_write_timeout);
  // The same config text gives the same `describe` (identity comes from the state file, which only a config
  // change moves; a change of zone content moves the serial): the comparison of both documents — 2 s at
  // 100,000 endpoints — is made only when the text changed and the serial did not.
  const auto& nc = next->model().config;
  const auto& oc = old->model().config;
  const bool same_text = nc.text_hash == oc.text_hash && nc.file == oc.file;
  r.changed = next->serial() != old->serial() ||
              (!same_text && zones::describe_json(next->model()) != zones::describe_json(old->model())) ||
              dns_addresses(nc) != dns_addresses(oc);
  d.server->set_forwarders(next->model().config.server.forwarders);
  d.publish(next);
  d.builders.published(built_on);
  // A reload also re-reads the verification state file (restored from a backup, or edited while testing):
  // the verifier starts over from what the file says.
  try {
    d.start_verifier(*next);
  } catch (const std::exception& e) {
    log(Level::Error, std::string("verifier: ") + e.what());
  }
  ++d.reloads_ok;
  d.last_build_seconds = seconds;
  d.last_reload = json{{"time", utc_now()}, {"ok", true}, {"errors", json::array()}};
  r.ok = true;
  r.serial = next->serial();
  r.generation = d.holder.generation();
  log(Level::Info, "reloaded: serial " + std::to_string(r.serial) + ", generation " + std::to_string(r.generation) +
                       (r.changed ? "" : ", no change") + " (" + std::string(trigger) + ")");
  sd_notify("READY=1");
  return r;
}

json Daemon::status() const {
  const Impl& d = *impl_;
  auto snap = d.holder.get();
  const auto& m = snap->model();
  json listen = json::array();
  for (const auto& hp : d.server->listeners()) listen.push_back(zones::to_string(hp));
  json states = {{"available", 0}, {"pendingAcceptance", 0}, {"rejected", 0}};
  for (const auto& e : m.endpoints) states[std::string(zones::to_string(e.state))] = states[std::string(zones::to_string(e.state))].get<int>() + 1;
  return {{"version", VPCED_VERSION},
          {"pid", ::getpid()},
          {"config", std::filesystem::absolute(d.options.config).lexically_normal().string()},
          {"uptime_seconds",
           std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - d.started).count()},
          {"zone", m.zone_apex},
          {"serial", snap->serial()},
          {"generation", d.holder.generation()},
          {"dns_listen", listen},
          {"services", m.services.size()},
          {"vpcs", m.config.vpcs.size()},
          {"endpoints", states},
          {"last_reload", d.last_reload ? *d.last_reload : json(nullptr)},
          {"relay", d.relay ? d.relay->status() : json(nullptr)}};
}

json Daemon::describe() const { return zones::describe_json(impl_->holder.get()->model()); }

std::string Daemon::describe_text() const { return zones::describe_text(impl_->holder.get()->model()); }

json Daemon::explain(const std::string& name, const std::string& from, const std::string& type) const {
  auto ip = zones::parse_ip(from);
  if (!ip) throw ExplainError{"'" + from + "' is not an IP address"};
  return cmd::explain(*impl_->holder.get(), name, *ip, type);
}

json Daemon::verification(const std::string& service, bool check_now) {
  Impl& d = *impl_;
  auto snap = d.holder.get();
  const auto& m = snap->model();
  const zones::ServiceModel* svc = nullptr;
  for (const auto& s : m.services)
    if (s.config->name == service || s.id == service) svc = &s;
  if (!svc) throw NotFound{"no service '" + service + "' (give its name from the config or its ID)"};
  if (!svc->config->private_dns_name || !svc->token)
    throw BadRequest{"service '" + svc->config->name + "' has no private_dns_name: nothing to verify"};
  if (check_now) d.verifier->check_now(svc->config->name);
  const auto& st = d.verifier->state();
  auto rec = st.services.find(svc->config->name);
  const std::string& name = *svc->config->private_dns_name;
  const std::string domain = verify::candidate_domains(name).front();
  const std::string record = svc->token->name + "." + domain;
  // A ready dig: at the pinned name server when the config pins one (the longest matching key, as the
  // verifier chooses), else at the domain's own servers.
  std::string server = "<an authoritative server of " + domain + ">";
  size_t best = 0;
  for (const auto& [pinned, servers] : m.config.verify.nameservers)
    if (!servers.empty() && pinned.size() > best && (domain == pinned || domain.ends_with("." + pinned))) {
      server = zones::to_string(servers.front().addr) + " -p " + std::to_string(servers.front().port);
      best = pinned.size();
    }
  json j = {{"service", svc->config->name},
            {"service_id", svc->id},
            {"private_dns_name", name},
            {"domain", domain},
            {"state", zones::to_string(svc->dns_name_state)},
            {"record", {{"name", record}, {"type", "TXT"}, {"value", svc->token->value}}},
            {"zone_file_line", record + ". 300 IN TXT \"" + svc->token->value + "\""},
            {"dig", "dig +norec @" + server + " " + record + " TXT"}};
  if (rec != st.services.end()) {
    const auto& r = rec->second;
    j["state"] = zones::to_string(r.state);
    j["since"] = r.since;
    j["last_check"] = r.last_check;
    j["next_check"] = r.next_check;
    j["last_match"] = r.last_match;
    j["matched_record"] = r.matched_record;
    j["reasons"] = r.reasons;
  }
  return j;
}

void Daemon::on_next_check(const std::string& service, std::function<void()> done) {
  // The admin API names a service by name or ID; waiters are keyed by name.
  for (const auto& s : impl_->holder.get()->model().services)
    if (s.config->name == service || s.id == service) {
      impl_->verifier->on_check_done(s.config->name, std::move(done));
      return;
    }
  done();
}

std::string Daemon::metrics() const { return impl_->registry.render(); }

bool Daemon::ready(std::vector<std::string>& reasons) const {
  const Impl& d = *impl_;
  if (!d.holder.get()) reasons.push_back("no snapshot published yet");
  if (!d.serving) reasons.push_back("DNS listeners are not bound");
  return reasons.empty();
}

}  // namespace vpced::cmd
