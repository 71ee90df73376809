// The two long-lived threads that snapshot builds after the first alternate between (reloads and rebuilds).
// glibc gives each thread a malloc arena of its own. A build made where the live snapshot was made fills the
// holes between the live snapshot's allocations; once that snapshot is freed, pages still hold pieces of
// the new one and cannot go back to the kernel, so resident memory creeps up with every reload (100,000
// endpoints: 316 → 439 MB over 16 one-endpoint reloads). Built on the other thread, the new snapshot has an
// arena to itself and the old one's arena empties whole (338 MB after the second reload and every one after).
// The first load stays on the main thread: built on a build thread too, it cost 15 MB more at start (331 MB)
// for 12 MB less after reloads (docs/performance.md, "Reloads in two malloc arenas").
// Limits: each thread takes its arena at start (before the DNS and relay threads exist), but glibc has at
// most 8 arenas per core, so with many threads two may still share one; and the helper threads a build
// starts (the identity read-ahead, the two-thread zone and compile) allocate in arenas of their own, so an
// old snapshot's arena empties nearly, not exactly, whole.
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

  // Runs `job` on the thread whose arena does not hold the live snapshot and waits for it; rethrows what it
  // threw. Returns the thread's index, for published(). Calls are serialised; called from a job, it runs the
  // inner job in place.
  unsigned run(const std::function<void()>& job);
  // What thread `index` built is now live: the next build goes to the other one. A build that fails or is
  // not published leaves the turn where it was, so the live snapshot's arena is never built in.
  void published(unsigned index);
  // Which thread (0 or 1) the next run() uses.
  unsigned next() const;

 private:
  class Worker;
  mutable std::mutex run_mu_;
  std::unique_ptr<Worker> workers_[2];
  unsigned next_ = 0;
};

}  // namespace vpced::zones
