#include "zones/build_threads.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

using vpced::zones::BuildThreads;

TEST_CASE("builds take turns on two threads of their own and the caller waits for each", "[build_threads]") {
  BuildThreads builders;
  std::vector<std::thread::id> ran_on;
  for (int i = 0; i < 6; ++i) {
    CHECK(builders.next() == static_cast<unsigned>(i % 2));
    int result = 0;
    builders.run([&] {
      ran_on.push_back(std::this_thread::get_id());
      result = i + 1;
    });
    CHECK(result == i + 1);  // run() returned after the job, its effects visible
  }
  REQUIRE(ran_on.size() == 6);
  CHECK(ran_on[0] != ran_on[1]);
  for (size_t i = 0; i < ran_on.size(); ++i) {
    CHECK(ran_on[i] != std::this_thread::get_id());
    CHECK(ran_on[i] == ran_on[i % 2]);  // the same two threads all along
  }
}

TEST_CASE("a build's exception reaches the caller and the thread goes on", "[build_threads]") {
  BuildThreads builders;
  CHECK_THROWS_WITH(builders.run([] { throw std::runtime_error("bad config"); }), "bad config");
  bool ran = false;
  builders.run([&] { ran = true; });
  CHECK(ran);
  builders.run([&] { ran = false; });  // the thread that threw, its turn again
  CHECK_FALSE(ran);
}
