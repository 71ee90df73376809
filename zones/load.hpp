// The one load path shared by `run`, reload, `check`, `describe` and `zone`: config → identity → model →
// snapshot. Knot's single load_module for check and reload is the model: the checker cannot disagree.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "zones/diagnostics.hpp"
#include "zones/model.hpp"
#include "zones/snapshot.hpp"

namespace vpced::zones {

struct LoadOptions {
  // Write generated identity and a moved serial to state_dir (under its lock). `check` passes false.
  bool persist = true;
  uint32_t now_unix = 0;  // the serial floor when the zone changed; zones/ has no clock
  RuntimeInputs runtime;
  // Keep every zone record (presentation form) in the snapshot. They serve zone transfers, NOTIFY planning
  // and `vpced zone`; false (the daemon) keeps only each zone's SOA when no transfer can be allowed.
  bool keep_zone_records = true;
  // The state_dir the config is expected to name (a reload: the running config's). identity.json is then read
  // on a second thread while the config is parsed (100,000 endpoints: ~0.4 s of JSON beside ~0.9 s of TOML),
  // and that read is used when the config does name this directory and the file is unchanged once the state
  // directory is locked; otherwise it is read again. Empty: read after the config.
  std::filesystem::path expected_state_dir;
};

// Returns null when `diags` holds errors (config, state file, identity). Throws only on I/O failures of
// the state directory (std::system_error).
std::shared_ptr<const Snapshot> load_snapshot(const std::filesystem::path& config_file, const LoadOptions& options,
                                              Diagnostics& diags);

// Rebuilds from an already loaded model (health or verification changed): same identity, serial bumped and
// persisted when the zone content moved.
std::shared_ptr<const Snapshot> rebuild_snapshot(const Model& model, const LoadOptions& options, Diagnostics& diags);

}  // namespace vpced::zones
