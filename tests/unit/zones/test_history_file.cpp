// The IXFR history file: round trip, the size bound, corrupt and missing files, a restart whose zones moved.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "../fixture.hpp"
#include "zones/history_file.hpp"

using namespace vpced;
using namespace vpced::zones;

namespace {

const std::string kApex = "us-east-1.vpce.amazonaws.com.";

std::string with_ttl(uint32_t ttl) {
  std::string t = testing::kSmallConfig;
  t.replace(t.find("ttl = 60"), 8, "ttl = " + std::to_string(ttl));
  return t;
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("vpced-test-history-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("history file: what was saved is what is loaded") {
  TempDir dir;
  ZoneHistory h;
  CHECK(h.record(*testing::snapshot_of(with_ttl(60), 100)) == HistoryRecord::First);
  CHECK(h.record(*testing::snapshot_of(with_ttl(61), 101)) == HistoryRecord::Appended);
  CHECK(h.record(*testing::snapshot_of(with_ttl(62), 102)) == HistoryRecord::Appended);
  save_history(dir.path, h);

  ZoneHistory back;
  std::string problem;
  REQUIRE(load_history(dir.path, back, problem) == HistoryLoad::Loaded);
  CHECK(problem.empty());
  CHECK(back.versions() == 2);
  CHECK(back.serial() == std::optional<uint32_t>(102));
  for (uint32_t from : {100u, 101u, 102u}) {
    auto a = h.since({"public", kApex}, from);
    auto b = back.since({"public", kApex}, from);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a == *b);
  }
  CHECK_FALSE(back.since({"public", kApex}, 99));
  // The loaded history goes on: a new version appends a step computed from the saved records.
  CHECK(back.record(*testing::snapshot_of(with_ttl(63), 103)) == HistoryRecord::Appended);
  auto d = back.since({"public", kApex}, 100);
  REQUIRE(d);
  CHECK(d->size() == 3);
}

TEST_CASE("history file: bounded; without the latest records a moved zone restarts the history") {
  TempDir dir;
  ZoneHistory h;
  h.record(*testing::snapshot_of(with_ttl(60), 100));
  h.record(*testing::snapshot_of(with_ttl(61), 101));
  h.record(*testing::snapshot_of(with_ttl(62), 102));
  const std::string full = encode_history(h, kHistoryFileMax);
  const std::string small = encode_history(h, full.size() / 2);
  CHECK(small.size() <= full.size() / 2);
  ZoneHistory back;
  std::string error;
  REQUIRE(decode_history(small, back, error));
  CHECK(back.serial() == std::optional<uint32_t>(102));
  CHECK(back.versions() < 2);
  // A bound too small for the latest records and any step: the serial alone.
  const std::string tiny = encode_history(h, 256);
  CHECK(tiny.size() <= 256);
  REQUIRE(decode_history(tiny, back, error));
  CHECK(back.serial() == std::optional<uint32_t>(102));
  CHECK(back.versions() == 0);

  SECTION("same serial at start: the history goes on") {
    CHECK(back.record(*testing::snapshot_of(with_ttl(62), 102)) == HistoryRecord::Same);
    CHECK(back.record(*testing::snapshot_of(with_ttl(63), 103)) == HistoryRecord::Appended);
    CHECK(back.since({"public", kApex}, 102));
  }
  SECTION("another serial at start: the steps cannot reach it") {
    CHECK(back.record(*testing::snapshot_of(with_ttl(63), 103)) == HistoryRecord::Restarted);
    CHECK(back.versions() == 0);
    CHECK_FALSE(back.since({"public", kApex}, 101));
    CHECK(back.since({"public", kApex}, 103));  // up to date
  }
}

TEST_CASE("history file: missing or corrupt → empty history, never a throw") {
  TempDir dir;
  ZoneHistory h;
  h.record(*testing::snapshot_of(with_ttl(60), 100));
  std::string problem;
  CHECK(load_history(dir.path, h, problem) == HistoryLoad::Missing);
  CHECK_FALSE(h.serial());

  const auto path = dir.path / std::string(kHistoryFile);
  ZoneHistory good;
  good.record(*testing::snapshot_of(with_ttl(60), 100));
  good.record(*testing::snapshot_of(with_ttl(61), 101));
  const std::string text = encode_history(good, kHistoryFileMax);
  const std::vector<std::string> bad = {
      "",
      "not json",
      text.substr(0, text.size() / 2),                          // torn
      "{\"format\":2,\"serial\":1,\"content\":null,\"steps\":[]}",  // unknown format
      "{\"format\":1,\"serial\":\"x\",\"content\":null,\"steps\":[]}",
      "{\"format\":1,\"serial\":5,\"content\":null,\"steps\":[{\"from\":1,\"to\":2,\"zones\":[]}]}",  // does not end at 5
      "{\"format\":1,\"serial\":5,\"content\":[{\"view\":\"public\",\"apex\":\"a.\",\"records\":[[\"a.\",1,\"A\"]]}],\"steps\":[]}",
      "[1,2,3]",
  };
  for (const auto& b : bad) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << b;
    ZoneHistory loaded;
    loaded.record(*testing::snapshot_of(with_ttl(60), 100));
    problem.clear();
    CHECK(load_history(dir.path, loaded, problem) == HistoryLoad::Corrupt);
    CHECK_FALSE(problem.empty());
    CHECK_FALSE(loaded.serial());
  }
  // Larger than the bound: not even parsed.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  ZoneHistory loaded;
  CHECK(load_history(dir.path, loaded, problem, text.size() - 1) == HistoryLoad::Corrupt);
  CHECK(load_history(dir.path, loaded, problem) == HistoryLoad::Loaded);
  CHECK(loaded.versions() == 1);
}
