// The load pipeline from a config file to a published-ready snapshot.
#include "zones/load.hpp"

#include <malloc.h>

#include "zones/atomic_file.hpp"
#include "zones/identity.hpp"
#include "zones/records.hpp"
#include "zones/verification_state.hpp"

namespace vpced::zones {

namespace {

std::shared_ptr<const Snapshot> finish(Config config, const LoadOptions& options, Diagnostics& diags) {
  const auto state_dir = config.server.state_dir;
  std::optional<DirLock> lock;
  if (options.persist) lock.emplace(state_dir);
  IdentityState state;
  VerificationState verification;
  try {
    state = load_identity(state_dir);
    verification = load_verification(state_dir);
  } catch (LoadError& e) {
    for (const auto& d : e.diags.items()) diags.error(d.pos, d.message);
    return nullptr;
  }
  bool identity_changed = assign_identity(config, state, diags);
  if (diags.has_errors()) return nullptr;
  RuntimeInputs runtime = options.runtime;
  for (const auto& [service, st] : effective_states(config, state, verification)) runtime.verification.emplace(service, st);
  auto model = build_model(std::move(config), state, runtime);
  // The zones are built once, with serial 0: the digest leaves the serial out, then it is set.
  auto zones = all_zones(*model, 0);
  identity_changed |= update_serial(state, content_digest(zones), options.now_unix);
  set_serial(zones, state.serial);
  if (options.persist && identity_changed) save_identity(state_dir, state);
  const bool keep_records = options.keep_zone_records || transfers_configured(model->config);
  if (keep_records) set_digests(zones);  // the SOA serial is left out of a digest: no need to redo it
  auto snap = compile_snapshot(std::move(model), state.serial, std::move(zones), keep_records);
  // The build's transient structures (config text, zone records as text, name tables) were freed: give
  // their pages back, or RSS keeps the build's peak for the life of the process.
  malloc_trim(0);
  return snap;
}

}  // namespace

std::shared_ptr<const Snapshot> load_snapshot(const std::filesystem::path& config_file, const LoadOptions& options,
                                              Diagnostics& diags) {
  auto config = load_config(config_file, diags);
  if (!config || diags.has_errors()) return nullptr;
  return finish(std::move(*config), options, diags);
}

std::shared_ptr<const Snapshot> rebuild_snapshot(const Model& model, const LoadOptions& options, Diagnostics& diags) {
  return finish(model.config, options, diags);
}

}  // namespace vpced::zones
