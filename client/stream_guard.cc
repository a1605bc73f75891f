#include "client/stream_guard.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace convgen {
namespace {

// The write end of the current guard's pipe; the handler's only state.
std::atomic<int> g_wake_fd{-1};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

extern "C" void OnStopSignal(int signo) {
  const int saved = errno;
  const unsigned char byte = static_cast<unsigned char>(signo);
  const int fd = g_wake_fd.load();
  if (fd >= 0) (void)!write(fd, &byte, 1);
  // A second Ctrl-C stops the client at once.
  signal(signo, SIG_DFL);
  errno = saved;
}

}  // namespace

StreamGuard::StreamGuard(grpc::ClientContext* context, double idle_seconds)
    : context_(context),
      idle_ns_(static_cast<int64_t>(idle_seconds * 1e9)),
      waiting_since_ns_(NowNs()) {
  if (pipe2(pipe_, O_CLOEXEC) != 0) {
    // No descriptors left: an inert guard (signals act as by default, no
    // idle limit) rather than a thread that could not be woken.
    pipe_[0] = pipe_[1] = -1;
    return;
  }
  fcntl(pipe_[1], F_SETFL, O_NONBLOCK);
  g_wake_fd.store(pipe_[1]);
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, &old_int_);
  sigaction(SIGTERM, &action, &old_term_);
  thread_ = std::thread([this] { Watch(); });
}

StreamGuard::~StreamGuard() {
  if (!thread_.joinable()) return;
  const unsigned char stop = 0;
  (void)!write(pipe_[1], &stop, 1);
  thread_.join();
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
  g_wake_fd.store(-1);
  close(pipe_[0]);
  close(pipe_[1]);
}

void StreamGuard::Waiting() { waiting_since_ns_.store(NowNs(), std::memory_order_relaxed); }

void StreamGuard::Handling() { waiting_since_ns_.store(kHandling, std::memory_order_relaxed); }

void StreamGuard::Watch() {
  while (true) {
    int timeout_ms = -1;
    const int64_t since = waiting_since_ns_.load(std::memory_order_relaxed);
    if (idle_ns_ > 0 && since == kHandling) {
      timeout_ms = static_cast<int>(std::min<int64_t>(idle_ns_ / 1000000 + 1, 1000000));
    } else if (idle_ns_ > 0) {
      const int64_t left = since + idle_ns_ - NowNs();
      if (left <= 0) {
        idle_.store(true);
        context_->TryCancel();
        return;
      }
      // Rounded up, so that the wait ends after the limit, not before it.
      timeout_ms = static_cast<int>(std::min<int64_t>(left / 1000000 + 1, 1000000));
    }
    pollfd p = {pipe_[0], POLLIN, 0};
    const int ready = poll(&p, 1, timeout_ms);
    if (ready < 0 && errno != EINTR) return;
    if (ready <= 0) continue;
    unsigned char byte = 0;
    if (read(pipe_[0], &byte, 1) != 1) continue;
    if (byte == 0) return;  // the destructor
    signal_.store(byte);
    context_->TryCancel();
    return;
  }
}

}  // namespace convgen
