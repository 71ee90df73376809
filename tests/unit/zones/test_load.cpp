// The load path's read-ahead of identity.json (LoadOptions::expected_state_dir): used only where the config
// keeps its state, never another directory's identity; a corrupt file still stops the load.
#include <catch2/catch.hpp>
#include <fstream>
#include <regex>

#include "../fixture.hpp"
#include "zones/identity.hpp"
#include "zones/load.hpp"
#include "zones/naming.hpp"

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

std::shared_ptr<const Snapshot> load(const std::filesystem::path& dir, const std::filesystem::path& expected = {}) {
  LoadOptions options;
  options.now_unix = 1'800'000'000;
  options.expected_state_dir = expected;
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

TEST_CASE("identity read ahead from the expected state directory is the identity on disk", "[load]") {
  auto a = config_dir();
  const auto first = endpoint_ids(*load(a));  // generates and saves a/state/identity.json
  REQUIRE(first.size() == 3);
  CHECK(endpoint_ids(*load(a, a / "state")) == first);
  // Replaced on disk (a restore): the next load sees the new file, read ahead or not.
  auto state = load_identity(a / "state");
  state.endpoints.begin()->second.id = "vpce-0123456789abcdef0";
  save_identity(a / "state", state);
  const auto after = endpoint_ids(*load(a, a / "state"));
  CHECK(std::count(after.begin(), after.end(), "vpce-0123456789abcdef0") == 1);
  std::filesystem::remove_all(a);
}

TEST_CASE("identity read ahead from another directory is not used", "[load]") {
  auto a = config_dir(), b = config_dir();
  const auto ids_a = endpoint_ids(*load(a));
  const auto ids_b = endpoint_ids(*load(b));
  REQUIRE(ids_a != ids_b);  // generated independently
  // The config in `a` keeps its state in a/state: b/state, read ahead, must not leak into it.
  CHECK(endpoint_ids(*load(a, b / "state")) == ids_a);
  std::filesystem::remove_all(a);
  std::filesystem::remove_all(b);
}

TEST_CASE("a corrupt identity file read ahead stops the load with its error", "[load]") {
  auto a = config_dir();
  load(a);
  std::ofstream(a / "state" / "identity.json", std::ios::trunc) << "{ not json";
  LoadOptions options;
  options.expected_state_dir = a / "state";
  Diagnostics diags;
  CHECK_FALSE(load_snapshot(a / "vpced.toml", options, diags));
  REQUIRE(diags.has_errors());
  CHECK_THAT(diags.format(), Catch::Contains("corrupt state file"));
  std::filesystem::remove_all(a);
}
