// The two long-lived threads that snapshot builds after the first alternate between (reloads and rebuilds).
// glibc gives each thread a malloc arena of its own. A build made where the live snapshot was made fills the
// holes between the live snapshot's allocations; once that snapshot is freed, pages still hold pieces of
// the new one and cannot go back to the kernel, so resident memory creeps up with every reload (100,000
// endpoints: 316 → 439 MB over 16 one-endpoint reloads). Built on the other thread, the new snapshot has an
// arena to itself and the old one's arena empties whole (338 MB after the second reload and every one after).
// The first load stays on the main thread: built on a build thread too, it cost 15 MB more at start (331 MB)
// for 12 MB less after reloads (docs/performance.md, "Reloads in two malloc arenas").
#pragma once

#include <functional>
#include <memory>
#include <mutex>

namespace vpced::zones {

class BuildThreads {
 public:
  BuildThreads();
  ~BuildThreads();  // waits for a job in progress, then joins both threads
  BuildThreads(const BuildThreads&) = delete;
  BuildThreads& operator=(const BuildThreads&) = delete;

  // Runs `job` on the next of the two threads (they take turns) and waits for it; rethrows what it threw.
  // Calls are serialised.
  void run(const std::function<void()>& job);
  // Which thread (0 or 1) the next run() uses.
  unsigned next() const { return next_; }

 private:
  class Worker;
  std::mutex run_mu_;
  std::unique_ptr<Worker> workers_[2];
  unsigned next_ = 0;
};

}  // namespace vpced::zones
