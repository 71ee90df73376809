// The load pipeline from a config file to a published-ready snapshot.
#include "zones/load.hpp"

#include <malloc.h>
#include <sys/stat.h>

#include <future>
#include <optional>

#include "zones/atomic_file.hpp"
#include "zones/identity.hpp"
#include "zones/records.hpp"
#include "zones/verification_state.hpp"

namespace vpced::zones {

namespace {

// What tells one version of identity.json from another: it is only ever replaced by a rename, which gives it a
// new inode. A missing file has the all-zero stamp.
struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{};
  bool operator==(const FileStamp& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

FileStamp stamp_of(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return {};
  return {st.st_dev, st.st_ino, st.st_size, st.st_mtim};
}

// identity.json read ahead, on its own thread, while the rest of the config is read and checked.
struct EarlyIdentity {
  std::filesystem::path state_dir;
  FileStamp stamp;  // taken before the read: a file replaced during it fails the later comparison
  std::future<IdentityState> state;

  explicit EarlyIdentity(std::filesystem::path dir)
      : state_dir(std::move(dir)), stamp(stamp_of(state_dir / kIdentityFile)),
        state(std::async(std::launch::async, [d = state_dir] { return load_identity(d); })) {}

  // The state read ahead when it is the one to use now (call with the state directory locked), else null: the
  // file was replaced since (another process holding the lock in between), or `dir` is another directory.
  std::optional<IdentityState> take(const std::filesystem::path& dir) {
    if (dir != state_dir || stamp_of(dir / kIdentityFile) != stamp) return std::nullopt;
    return state.get();  // a corrupt file throws LoadError here, as load_identity would
  }
};

std::shared_ptr<const Snapshot> finish(Config config, const LoadOptions& options, Diagnostics& diags,
                                       EarlyIdentity* early = nullptr) {
  const auto state_dir = config.server.state_dir;
  std::optional<DirLock> lock;
  if (options.persist) lock.emplace(state_dir);
  IdentityState state;
  VerificationState verification;
  try {
    std::optional<IdentityState> ahead = early ? early->take(state_dir) : std::nullopt;
    state = ahead ? std::move(*ahead) : load_identity(state_dir);
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
  const std::string digest = content_digest(zones);
  // A state file from before the "2:" digest: if it describes this very content, it takes the new form and
  // the serial stays (an upgrade alone must not make secondaries transfer an unchanged zone).
  if (!state.zone_digest.empty() && !state.zone_digest.starts_with("2:") &&
      state.zone_digest == fnv_content_digest(zones)) {
    state.zone_digest = digest;
    identity_changed = true;
  }
  identity_changed |= update_serial(state, digest, options.now_unix);
  set_serial(zones, state.serial);
  if (options.persist && identity_changed) save_identity(state_dir, state);
  const bool keep_records = options.keep_zone_records || transfers_configured(model->config);
  // Stored digests serve NOTIFY planning at the next publish, which only runs with secondaries to notify (a
  // reload that adds them computes what is missing then: digest_of). The SOA serial is left out of a digest.
  if (keep_records && !model->config.transfer.secondaries.empty()) set_digests(zones);
  auto snap = compile_snapshot(std::move(model), state.serial, std::move(zones), keep_records);
  // The build's transient structures (config text, zone records as text, name tables) were freed: give
  // their pages back, or RSS keeps the build's peak for the life of the process.
  malloc_trim(0);
  return snap;
}

}  // namespace

std::shared_ptr<const Snapshot> load_snapshot(const std::filesystem::path& config_file, const LoadOptions& options,
                                              Diagnostics& diags) {
  std::optional<EarlyIdentity> early;
  auto config = load_config(config_file, diags, [&early](const std::filesystem::path& dir) { early.emplace(dir); });
  if (!config || diags.has_errors()) return nullptr;
  return finish(std::move(*config), options, diags, early ? &*early : nullptr);
}

std::shared_ptr<const Snapshot> rebuild_snapshot(const Model& model, const LoadOptions& options, Diagnostics& diags) {
  return finish(model.config, options, diags);
}

}  // namespace vpced::zones
