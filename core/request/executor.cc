#include "core/request/executor.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace convgen {

Executor::Executor(int min_threads, int max_threads, int worker_nice)
    : max_threads_(std::max({min_threads, max_threads, 1})),
      worker_nice_(std::clamp(worker_nice, 0, 19)) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (int i = 0; i < std::max(min_threads, 1); ++i) threads_.emplace_back([this] { Work(); });
}

Executor::~Executor() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  // No thread is started once stopping_ is set, so threads_ no longer changes.
  for (std::thread& thread : threads_) thread.join();
}

int Executor::threads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(threads_.size());
}

void Executor::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back(std::move(task));
    // Every thread is busy (or already claimed by a queued task): one more.
    if (static_cast<size_t>(idle_) < tasks_.size() &&
        static_cast<int>(threads_.size()) < max_threads_ && !stopping_) {
      threads_.emplace_back([this] { Work(); });
    }
  }
  ready_.notify_one();
}

void Executor::Work() {
  // Linux gives each thread its own nice value. Lowering one's own priority
  // needs no privilege; a failure only leaves the thread as it was.
  if (worker_nice_ > 0) {
    const int now = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), now + worker_nice_);
  }
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    ++idle_;
    ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    --idle_;
    if (tasks_.empty()) return;  // stopping, and nothing left to run
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace convgen
