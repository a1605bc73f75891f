// Executor: a fixed pool of threads that runs submitted tasks in the order
// they were submitted. The gRPC service runs the slow part of each request
// here (preparing it, building conversations), so that gRPC's own threads
// only start writes and hand off.
//
// The queue is unbounded here; its callers bound it: a stream has at most
// one task queued or running, and streams are limited in number.
// Thread-safe. The destructor runs the tasks still queued, then joins.
#ifndef CONVGEN_CORE_REQUEST_EXECUTOR_H_
#define CONVGEN_CORE_REQUEST_EXECUTOR_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace convgen {

class Executor {
 public:
  // Starts `threads` threads (at least 1).
  explicit Executor(int threads);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `task`; one of the threads runs it.
  void Submit(std::function<void()> task);

  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  void Work();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_REQUEST_EXECUTOR_H_
