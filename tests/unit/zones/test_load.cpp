// The load path's read-ahead of identity.json (on a second thread while the config is checked): the identity
// used is the one on disk once the state directory is locked; a corrupt file still stops the load.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <regex>
#include <thread>

#include "../fixture.hpp"
#include "zones/atomic_file.hpp"
#include "zones/identity.hpp"
#include "zones/load.hpp"
#include "zones/naming.hpp"
#include "zones/records.hpp"

using namespace vpced::zones;
using vpced::testing::kSmallConfig;

namespace {

// A directory holding the small config without pinned IDs (all generated), its state in `<dir>/state`.
std::filesystem::path config_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("vpced-load-" + new_dns_suffix());
  std::filesystem::create_directories(dir);
  std::string text = std::regex_replace(kSmallConfig, std::regex("\nid = \"vpce-[0-9a-f]+\""), "");
  std::ofstream(dir / "vpced.toml") << text;
  return dir;
}

std::shared_ptr<const Snapshot> load(const std::filesystem::path& dir) {
  LoadOptions options;
  options.now_unix = 1'800'000'000;
  Diagnostics diags;
  auto snap = load_snapshot(dir / "vpced.toml", options, diags);
  INFO(diags.format());
  REQUIRE(snap);
  return snap;
}

std::vector<std::string> endpoint_ids(const Snapshot& snap) {
  std::vector<std::string> ids;
  for (const auto& e : snap.model().endpoints) ids.push_back(e.id);
  return ids;
}

}  // namespace

TEST_CASE("identity read ahead is the identity on disk", "[load]") {
  auto a = config_dir();
  const auto first = endpoint_ids(*load(a));  // generates and saves a/state/identity.json
  REQUIRE(first.size() == 3);
  CHECK(endpoint_ids(*load(a)) == first);
  // Replaced on disk (a restore): the next load sees the new file, read ahead or not.
  auto state = load_identity(a / "state");
  state.endpoints.begin()->second.id = "vpce-0123456789abcdef0";
  save_identity(a / "state", state);
  const auto after = endpoint_ids(*load(a));
  CHECK(std::count(after.begin(), after.end(), "vpce-0123456789abcdef0") == 1);
  std::filesystem::remove_all(a);
}

TEST_CASE("identity.json replaced while a load waits for the state lock is read again", "[load]") {
  auto a = config_dir();
  const auto before = endpoint_ids(*load(a));
  const auto lock_file = a / "state" / "lock";
  struct stat st {};
  REQUIRE(::stat(lock_file.c_str(), &st) == 0);
  // Another holder of the state directory (a second process would hold it the same way).
  auto held = std::make_unique<DirLock>(a / "state");
  // The load reads identity.json ahead while parsing the config, then waits for the lock. No Catch2
  // assertion runs on its thread.
  auto loaded = std::async(std::launch::async, [&a] {
    LoadOptions options;
    options.now_unix = 1'800'000'000;
    Diagnostics diags;
    return load_snapshot(a / "vpced.toml", options, diags);
  });
  // Waiting shows in /proc/locks as "N: -> FLOCK ... MAJ:MIN:INODE ..." for the lock file.
  const std::string inode = ":" + std::to_string(st.st_ino) + " ";
  bool waiting = false;
  for (int i = 0; i < 1000 && !waiting; ++i) {
    std::ifstream locks("/proc/locks");
    for (std::string line; std::getline(locks, line);)
      if (line.find("->") != std::string::npos && line.find(inode) != std::string::npos) waiting = true;
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(waiting);
  // Meanwhile the holder replaces the file (as every writer does: a new file renamed over it).
  auto state = load_identity(a / "state");
  const std::string moved = "vpce-0123456789abcdef0";
  REQUIRE(std::find(before.begin(), before.end(), moved) == before.end());
  state.endpoints.begin()->second.id = moved;
  save_identity(a / "state", state);
  held.reset();
  auto snap = loaded.get();
  REQUIRE(snap);
  const auto after = endpoint_ids(*snap);
  CHECK(std::count(after.begin(), after.end(), moved) == 1);
  std::filesystem::remove_all(a);
}

TEST_CASE("a corrupt identity file read ahead stops the load with its error", "[load]") {
  auto a = config_dir();
  load(a);
  std::ofstream(a / "state" / "identity.json", std::ios::trunc) << "{ not json";
  LoadOptions options;
  Diagnostics diags;
  CHECK_FALSE(load_snapshot(a / "vpced.toml", options, diags));
  REQUIRE(diags.has_errors());
  CHECK_THAT(diags.format(), Catch::Contains("corrupt state file"));
  std::filesystem::remove_all(a);
}

TEST_CASE("a state file with the older digest form keeps its serial while the content is the same", "[load]") {
  auto a = config_dir();
  const uint32_t serial = load(a)->serial();  // generates identity, digest in the "2:" form
  auto state = load_identity(a / "state");
  REQUIRE(state.zone_digest.starts_with("2:"));
  REQUIRE(state.serial == serial);
  const std::string current = state.zone_digest;

  // What an older vpced wrote: the FNV-1a form, for the same content.
  auto snap = load(a);
  std::vector<ViewZones> zones = all_zones(snap->model(), 0);
  state.zone_digest = fnv_content_digest(zones);
  REQUIRE(state.zone_digest.size() == 16);
  save_identity(a / "state", state);
  CHECK(load(a)->serial() == serial);
  CHECK(load_identity(a / "state").zone_digest == current);  // rewritten in the new form

  // An older digest of other content: the serial moves.
  state.zone_digest = "0123456789abcdef";
  save_identity(a / "state", state);
  CHECK(load(a)->serial() > serial);
  CHECK(load_identity(a / "state").zone_digest == current);
}
