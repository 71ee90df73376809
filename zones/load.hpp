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
};

// Returns null when `diags` holds errors (config, state file, identity). Throws only on I/O failures of
// the state directory (std::system_error). identity.json is read on a second thread as soon as the config has
// named its state_dir, while the rest of the config is read and checked (100,000 endpoints: ~0.4 s of JSON
// beside ~0.5 s of config work); that read is used if the file is unchanged once the directory is locked.
std::shared_ptr<const Snapshot> load_snapshot(const std::filesystem::path& config_file, const LoadOptions& options,
                                              Diagnostics& diags);

// Rebuilds from an already loaded model (health or verification changed): same identity, serial bumped and
// persisted when the zone content moved.
std::shared_ptr<const Snapshot> rebuild_snapshot(const Model& model, const LoadOptions& options, Diagnostics& diags);

}  // namespace vpced::zones
