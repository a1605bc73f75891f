// Executor: a pool of threads that runs submitted tasks in the order they
// were submitted. The gRPC service runs the slow part of each request here
// (preparing it, building conversations), so that gRPC's own threads only
// start writes and hand off.
//
// The pool starts with `min_threads` and grows by one whenever a task is
// submitted while no thread is idle, up to `max_threads`: a task that runs
// for seconds (a degenerate corpus) then holds a thread, not the queue, and
// the operating system shares the cores among the running tasks, so one
// slow request slows the others by its share of the CPU instead of blocking
// them. Only past max_threads running tasks do new ones wait.
//
// Its threads may run at a lower priority than the rest of the process
// (`worker_nice`), so that the threads that must answer at once (gRPC's:
// health checks, new connections, writes) get a core first when requests
// keep every core busy.
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
  // Starts min_threads threads (at least 1); grows to max_threads (at least
  // min_threads) as described above. Each thread adds worker_nice (0-19) to
  // its nice value.
  Executor(int min_threads, int max_threads, int worker_nice = 0);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `task`; one of the threads runs it.
  void Submit(std::function<void()> task);

  // The threads started so far.
  int threads() const;

 private:
  void Work();

  const int max_threads_;
  const int worker_nice_;
  mutable std::mutex mutex_;
  int idle_ = 0;  // threads waiting for a task
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_REQUEST_EXECUTOR_H_
