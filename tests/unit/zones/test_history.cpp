#include "zones/history.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <iterator>
#include <random>
#include <string>
#include <vector>

using vpced::zones::differences;
using vpced::zones::Record;
using vpced::zones::RecordList;

namespace {

// An SOA, then `n` records sorted, drawn from a small set so that the two versions share most and repeat some.
std::vector<Record> version(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Record> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back({std::string(1, 'n').append(std::to_string(rng() % 40)).append(".example."), 60, rng() % 4 ? "A" : "AAAA",
                   "10.0.0." + std::to_string(rng() % 3)});
  std::sort(out.begin(), out.end());
  out.insert(out.begin(), Record{"example.", 60, "SOA", "ns1.example. hostmaster.example. " + std::to_string(seed) + " 1 1 1 1"});
  return out;
}

RecordList list_of(const std::vector<Record>& rs) {
  RecordList l;
  for (const Record& r : rs) l.push_back(r);
  return l;
}

}  // namespace

TEST_CASE("IXFR differences are the two set differences of the versions after their SOA", "[history]") {
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    const auto was = version(seed % 7 == 0 ? 0 : 60, seed), now = version(seed % 5 == 0 ? 0 : 60, seed + 1000);
    std::vector<Record> want_removed, want_added;
    std::set_difference(was.begin() + 1, was.end(), now.begin() + 1, now.end(), std::back_inserter(want_removed));
    std::set_difference(now.begin() + 1, now.end(), was.begin() + 1, was.end(), std::back_inserter(want_added));
    std::vector<Record> removed, added;
    differences(list_of(was), list_of(now), removed, added);
    CHECK(removed == want_removed);
    CHECK(added == want_added);
  }
  // One record changed among equal ones; and two empty lists.
  auto a = version(30, 7), b = a;
  b[5].rdata = "10.9.9.9";
  std::sort(b.begin() + 1, b.end());
  std::vector<Record> removed, added;
  differences(list_of(a), list_of(b), removed, added);
  REQUIRE(removed.size() == 1);
  REQUIRE(added.size() == 1);
  CHECK(removed[0] == a[5]);
  CHECK(added[0].rdata == "10.9.9.9");
  removed.clear();
  added.clear();
  differences(RecordList{}, RecordList{}, removed, added);
  CHECK(removed.empty());
  CHECK(added.empty());
}
