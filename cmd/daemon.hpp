// The running daemon: owns the snapshot holder, the DNS server, the admin API and the control loop
// (signals, reloads) on the main thread, which is the one "control strand" of the process.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cmd/log.hpp"
#include "zones/metrics.hpp"

namespace vpced::cmd {

struct DaemonOptions {
  std::string config;
  unsigned threads = 0;        // DNS workers; 0 = one per CPU
  unsigned relay_threads = 0;  // relay io threads; 0 = one per CPU
  bool query_log = false;
};

struct NotFound {
  std::string message;
};
struct BadRequest {
  std::string message;
};

struct ReloadResult {
  bool ok = false;
  std::vector<std::string> errors;
  uint32_t serial = 0;
  uint64_t generation = 0;
  bool changed = false;
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions options);
  ~Daemon();

  // Loads, binds, serves until SIGTERM/SIGINT; returns the process exit code.
  int run();

  // Control-thread API, used by signal handlers and the admin API.
  ReloadResult reload(std::string_view trigger);
  nlohmann::json status() const;
  nlohmann::json describe() const;
  std::string describe_text() const;
  nlohmann::json explain(const std::string& name, const std::string& from, const std::string& type) const;
  // The verification of a service's private DNS name (by config name or service ID), optionally checking
  // it now (`vpcectl verify start`). Throws NotFound or BadRequest.
  nlohmann::json verification(const std::string& service, bool check_now);
  // Runs `done` (on the control thread) when the next check of `service` has finished.
  void on_next_check(const std::string& service, std::function<void()> done);
  std::string metrics() const;
  bool ready(std::vector<std::string>& reasons) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpced::cmd
