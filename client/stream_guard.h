// StreamGuard: ends a streaming call that must not go on: on SIGINT or
// SIGTERM (the user stops the client), or when no message arrived for
// `idle_seconds`. Either cancels the call's context, so that the blocked
// Read returns and the caller writes out what it has. Its thread waits on a
// pipe the signal handler writes to (the only thing a handler may safely
// do). One guard at a time per process; all calls from the thread that made
// it.
#ifndef CONVGEN_CLIENT_STREAM_GUARD_H_
#define CONVGEN_CLIENT_STREAM_GUARD_H_

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "grpcpp/client_context.h"

namespace convgen {

class StreamGuard {
 public:
  // `context` must outlive the guard. idle_seconds 0: no idle limit.
  StreamGuard(grpc::ClientContext* context, double idle_seconds);
  ~StreamGuard();  // stops the thread and restores the signal handlers
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

  // The caller waits for the next message: the idle clock starts.
  void Waiting();
  // A message arrived: the idle clock stops while the caller handles it (a
  // slow reader of the output is not an idle server).
  void Handling();
  // The signal that cancelled the call (SIGINT, SIGTERM), or 0.
  int signal() const { return signal_.load(); }
  // True if the call was cancelled for being idle.
  bool idle() const { return idle_.load(); }

 private:
  void Watch();

  grpc::ClientContext* context_;
  int64_t idle_ns_;
  // When the caller began to wait for a message; kHandling while it is not
  // waiting.
  static constexpr int64_t kHandling = -1;
  std::atomic<int64_t> waiting_since_ns_;
  std::atomic<int> signal_{0};
  std::atomic<bool> idle_{false};
  int pipe_[2] = {-1, -1};
  struct sigaction old_int_, old_term_;
  std::thread thread_;
};

}  // namespace convgen

#endif  // CONVGEN_CLIENT_STREAM_GUARD_H_
