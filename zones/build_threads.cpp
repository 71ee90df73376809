// Snapshot builds on two alternating threads (build_threads.hpp).
#include "zones/build_threads.hpp"

#include <pthread.h>

#include <condition_variable>
#include <exception>
#include <memory>
#include <string>
#include <thread>

namespace vpced::zones {

namespace {
constexpr unsigned kNotABuildThread = 2;
thread_local unsigned this_build_thread = kNotABuildThread;
}  // namespace

class BuildThreads::Worker {
 public:
  // Returns once the thread has allocated: glibc binds a thread to an arena at its first allocation, which is
  // then made while the daemon has few threads, so the two get arenas of their own.
  explicit Worker(unsigned index)
      : thread_([this, index] {
          pthread_setname_np(pthread_self(), ("build/" + std::to_string(index)).c_str());
          this_build_thread = index;
          {
            auto first = std::make_unique<std::string>(64, 'x');  // the thread's first allocation
            std::lock_guard lk(mu_);
            started_ = !first->empty();
          }
          cv_.notify_all();
          loop();
        }) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return started_; });
  }
  ~Worker() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void run(const std::function<void()>& job) {
    std::unique_lock lk(mu_);
    job_ = &job;
    error_ = nullptr;
    cv_.notify_all();
    cv_.wait(lk, [&] { return job_ == nullptr; });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void loop() {
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || job_ != nullptr; });
      if (job_ == nullptr) return;  // stopping with nothing to do
      const std::function<void()>* job = job_;
      lk.unlock();
      std::exception_ptr error;
      try {
        (*job)();
      } catch (...) {
        error = std::current_exception();
      }
      lk.lock();
      error_ = error;
      job_ = nullptr;
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void()>* job_ = nullptr;  // set by run(), cleared by the thread when done
  std::exception_ptr error_;
  bool stop_ = false, started_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

BuildThreads::BuildThreads() {
  workers_[0] = std::make_unique<Worker>(0);
  workers_[1] = std::make_unique<Worker>(1);
}

BuildThreads::~BuildThreads() = default;

unsigned BuildThreads::run(const std::function<void()>& job) {
  if (this_build_thread != kNotABuildThread) {  // a job's own job: waiting for a build thread would never end
    job();
    return this_build_thread;
  }
  std::lock_guard lk(run_mu_);
  const unsigned index = next_;
  workers_[index]->run(job);
  return index;
}

void BuildThreads::published(unsigned index) {
  std::lock_guard lk(run_mu_);
  next_ = (index & 1) ^ 1;
}

unsigned BuildThreads::next() const {
  std::lock_guard lk(run_mu_);
  return next_;
}

}  // namespace vpced::zones
