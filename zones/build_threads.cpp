// Snapshot builds on two alternating threads (build_threads.hpp).
#include "zones/build_threads.hpp"

#include <pthread.h>

#include <condition_variable>
#include <exception>
#include <string>
#include <thread>

namespace vpced::zones {

class BuildThreads::Worker {
 public:
  explicit Worker(unsigned index) : thread_([this, index] {
    pthread_setname_np(pthread_self(), ("build/" + std::to_string(index)).c_str());
    loop();
  }) {}
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
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

BuildThreads::BuildThreads() {
  workers_[0] = std::make_unique<Worker>(0);
  workers_[1] = std::make_unique<Worker>(1);
}

BuildThreads::~BuildThreads() = default;

void BuildThreads::run(const std::function<void()>& job) {
  std::lock_guard lk(run_mu_);
  Worker& w = *workers_[next_];
  next_ ^= 1;
  w.run(job);
}

}  // namespace vpced::zones
