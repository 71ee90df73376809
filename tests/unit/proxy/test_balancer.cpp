// Target choice: AZ affinity, cross-zone, fail-open, the connection limit and spread over flow hashes.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <vector>

#include "proxy/balancer.hpp"

using namespace vpced;
using namespace vpced::proxy;

namespace {

// Targets 0,1 in az1; 2 in az2; 3 in az4.
std::vector<Candidate> fleet(std::vector<bool> healthy, std::vector<uint32_t> active = {0, 0, 0, 0}) {
  return {{"use1-az1", healthy[0], active[0]},
          {"use1-az1", healthy[1], active[1]},
          {"use1-az2", healthy[2], active[2]},
          {"use1-az4", healthy[3], active[3]}};
}

std::set<size_t> as_set(const std::vector<size_t>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("choose_targets: which targets are in reach", "[balancer]") {
  struct Case {
    const char* what;
    std::vector<bool> healthy;
    std::vector<uint32_t> active;
    const char* eni_az;
    bool cross_zone;
    uint32_t limit;
    ChoiceOutcome outcome;
    std::set<size_t> targets;
  };
  const Case cases[] = {
      {"AZ affinity: only the ENI's AZ", {true, true, true, true}, {0, 0, 0, 0}, "use1-az1", false, 10, ChoiceOutcome::Ok, {0, 1}},
      {"AZ affinity: another AZ", {true, true, true, true}, {0, 0, 0, 0}, "use1-az2", false, 10, ChoiceOutcome::Ok, {2}},
      {"unhealthy target in the AZ skipped", {false, true, true, true}, {0, 0, 0, 0}, "use1-az1", false, 10, ChoiceOutcome::Ok, {1}},
      {"same-AZ targets down, cross-zone off: refused", {false, false, true, true}, {0, 0, 0, 0}, "use1-az1", false, 10,
       ChoiceOutcome::NoHealthyTarget, {}},
      {"AZ without targets, cross-zone off: refused", {true, true, true, true}, {0, 0, 0, 0}, "use1-az3", false, 10,
       ChoiceOutcome::NoHealthyTarget, {}},
      {"cross-zone: every healthy target", {true, true, true, true}, {0, 0, 0, 0}, "use1-az1", true, 10, ChoiceOutcome::Ok, {0, 1, 2, 3}},
      {"cross-zone: same-AZ targets down reach the others", {false, false, true, true}, {0, 0, 0, 0}, "use1-az1", true, 10,
       ChoiceOutcome::Ok, {2, 3}},
      {"cross-zone: AZ without targets", {true, false, false, true}, {0, 0, 0, 0}, "use1-az3", true, 10, ChoiceOutcome::Ok, {0, 3}},
      {"fail open: none healthy → every target", {false, false, false, false}, {0, 0, 0, 0}, "use1-az2", false, 10,
       ChoiceOutcome::FailOpen, {0, 1, 2, 3}},
      {"fail open with cross-zone", {false, false, false, false}, {0, 0, 0, 0}, "use1-az1", true, 10, ChoiceOutcome::FailOpen,
       {0, 1, 2, 3}},
      {"limit: a full target is skipped", {true, true, true, true}, {10, 3, 0, 0}, "use1-az1", false, 10, ChoiceOutcome::Ok, {1}},
      {"limit: every in-reach target full", {true, true, true, true}, {10, 10, 0, 0}, "use1-az1", false, 10,
       ChoiceOutcome::LimitReached, {}},
      {"limit: cross-zone spills to other AZs", {true, true, true, true}, {10, 10, 0, 0}, "use1-az1", true, 10, ChoiceOutcome::Ok,
       {2, 3}},
      {"limit applies when failing open", {false, false, false, false}, {1, 0, 1, 1}, "use1-az1", false, 1, ChoiceOutcome::FailOpen,
       {1}},
      {"fail open, all full", {false, false, false, false}, {1, 1, 1, 1}, "use1-az1", false, 1, ChoiceOutcome::LimitReached, {}},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    auto cands = fleet(c.healthy, c.active);
    for (uint64_t hash : {0ULL, 1ULL, 7ULL, 0xFFFFFFFFFFFFFFFFULL}) {
      Choice ch = choose_targets(cands, c.eni_az, c.cross_zone, c.limit, hash);
      CHECK(ch.outcome == c.outcome);
      CHECK(ch.order.size() == c.targets.size());  // each target at most once
      CHECK(as_set(ch.order) == c.targets);
    }
  }
}

TEST_CASE("choose_targets: the order starts at the flow hash and wraps", "[balancer]") {
  auto cands = fleet({true, true, true, true});
  CHECK(choose_targets(cands, "use1-az1", true, 10, 0).order == std::vector<size_t>{0, 1, 2, 3});
  CHECK(choose_targets(cands, "use1-az1", true, 10, 2).order == std::vector<size_t>{2, 3, 0, 1});
  CHECK(choose_targets(cands, "use1-az1", true, 10, 7).order == std::vector<size_t>{3, 0, 1, 2});
  CHECK(choose_targets(cands, "use1-az1", false, 10, 3).order == std::vector<size_t>{1, 0});
}

TEST_CASE("choose_targets: failing open tries the ENI's AZ first", "[balancer]") {
  auto cands = fleet({false, false, false, false});
  for (uint64_t hash = 0; hash < 8; ++hash) {
    Choice ch = choose_targets(cands, "use1-az2", false, 10, hash);
    REQUIRE(ch.order.size() == 4);
    CHECK(ch.order[0] == 2);  // the only az2 target, then the rest
    CHECK(as_set({ch.order.begin() + 1, ch.order.end()}) == std::set<size_t>{0, 1, 3});
  }
}

TEST_CASE("choose_targets: no candidates", "[balancer]") {
  std::vector<Candidate> none;
  CHECK(choose_targets(none, "use1-az1", true, 10, 5).outcome == ChoiceOutcome::NoHealthyTarget);
}

TEST_CASE("flow_hash spreads flows over the targets", "[balancer]") {
  auto cands = fleet({true, true, true, true});
  const auto src = *zones::parse_ip("127.16.0.5"), dst = *zones::parse_ip("127.16.1.46");
  std::map<size_t, int> first;
  const int flows = 4000;
  // One client, one destination: only the source port and the per-connection random value change.
  for (int i = 0; i < flows; ++i) {
    uint64_t h = flow_hash(src, static_cast<uint16_t>(40000 + i % 50), dst, 443, static_cast<uint64_t>(i) * 0x9E3779B9);
    ++first[choose_targets(cands, "use1-az1", true, 10, h).order.front()];
  }
  REQUIRE(first.size() == 4);
  for (const auto& [target, n] : first) {
    INFO("target " << target << " first for " << n << " flows");
    CHECK(n > flows / 4 * 8 / 10);  // within 20 % of an even share
    CHECK(n < flows / 4 * 12 / 10);
  }
  SECTION("the same flow and random value hash alike; another random value moves it") {
    CHECK(flow_hash(src, 40000, dst, 443, 1) == flow_hash(src, 40000, dst, 443, 1));
    CHECK(flow_hash(src, 40000, dst, 443, 1) != flow_hash(src, 40000, dst, 443, 2));
    CHECK(flow_hash(src, 40000, dst, 443, 1) != flow_hash(src, 40001, dst, 443, 1));
  }
}

TEST_CASE("to_string names every outcome", "[balancer]") {
  CHECK(to_string(ChoiceOutcome::Ok) == "ok");
  CHECK(to_string(ChoiceOutcome::FailOpen) == "fail-open");
  CHECK(to_string(ChoiceOutcome::NoHealthyTarget) == "no-healthy-target");
  CHECK(to_string(ChoiceOutcome::LimitReached) == "limit-reached");
}
