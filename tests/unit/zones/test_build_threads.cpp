#include "zones/build_threads.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

using vpced::zones::BuildThreads;

TEST_CASE("a published build sends the next one to the other thread; the caller waits for each", "[build_threads]") {
  BuildThreads builders;
  std::vector<std::thread::id> ran_on;
  for (int i = 0; i < 6; ++i) {
    CHECK(builders.next() == static_cast<unsigned>(i % 2));
    int result = 0;
    const unsigned index = builders.run([&] {
      ran_on.push_back(std::this_thread::get_id());
      result = i + 1;
    });
    CHECK(result == i + 1);  // run() returned after the job, its effects visible
    CHECK(index == static_cast<unsigned>(i % 2));
    builders.published(index);
  }
  REQUIRE(ran_on.size() == 6);
  CHECK(ran_on[0] != ran_on[1]);
  for (size_t i = 0; i < ran_on.size(); ++i) {
    CHECK(ran_on[i] != std::this_thread::get_id());
    CHECK(ran_on[i] == ran_on[i % 2]);  // the same two threads all along
  }
}

TEST_CASE("a build that is not published leaves the turn where it was", "[build_threads]") {
  BuildThreads builders;
  std::thread::id first, second, third;
  builders.published(builders.run([&] { first = std::this_thread::get_id(); }));  // live: built on 0
  const unsigned failed = builders.run([&] { second = std::this_thread::get_id(); });  // say it failed
  CHECK(failed == 1);
  CHECK(builders.next() == 1);  // still not the live snapshot's thread
  builders.run([&] { third = std::this_thread::get_id(); });
  CHECK(second != first);
  CHECK(third == second);
}

TEST_CASE("a build's exception reaches the caller and the thread goes on", "[build_threads]") {
  BuildThreads builders;
  CHECK_THROWS_WITH(builders.run([] { throw std::runtime_error("bad config"); }), "bad config");
  CHECK(builders.next() == 0);
  bool ran = false;
  builders.run([&] { ran = true; });
  CHECK(ran);
}

TEST_CASE("a job that runs a job runs it in place", "[build_threads]") {
  BuildThreads builders;
  std::thread::id outer, inner;
  unsigned inner_index = 9;
  const unsigned index = builders.run([&] {
    outer = std::this_thread::get_id();
    inner_index = builders.run([&] { inner = std::this_thread::get_id(); });
  });
  CHECK(inner == outer);
  CHECK(inner_index == index);
}
