// StopSignal: tells long work (tokenizing a corpus, searching for an exact
// cut) when to give up: once its owner stops it (the client went away, the
// deadline passed), or once the work has used more CPU than its budget
// (--max-build-cpu-seconds), measured on the thread doing it.
//
// Stop() may be called from any thread; StartWork and ShouldStop are called
// by the thread doing the work, which checks ShouldStop often (every few
// milliseconds of work) so that a stopped request ends within a few
// milliseconds of CPU.
#ifndef CONVGEN_CORE_STOP_SIGNAL_H_
#define CONVGEN_CORE_STOP_SIGNAL_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace convgen {

class StopSignal {
 public:
  // cpu_seconds_per_work: the CPU one piece of work (started by StartWork)
  // may use; 0 for no limit.
  explicit StopSignal(double cpu_seconds_per_work = 0) : cpu_limit_(cpu_seconds_per_work) {}

  // From now on ShouldStop is true.
  void Stop() { stopped_.store(true, std::memory_order_relaxed); }
  bool stopped() const { return stopped_.load(std::memory_order_relaxed); }

  // Starts the CPU budget of a piece of work on the calling thread (e.g.
  // preparing a request, building one conversation).
  void StartWork();
  // True once stopped, or once the calling thread has used the budget since
  // StartWork.
  bool ShouldStop() const;
  // Why ShouldStop is true, for the error that ends the work: Cancelled, or
  // ResourceExhausted naming the CPU used, `work` and the flag.
  absl::Status Reason(absl::string_view work) const;
  // The CPU seconds allowed per piece of work (0: no limit).
  double cpu_limit() const { return cpu_limit_; }

  // The CPU the calling thread has used, in seconds (the clock of the limit).
  static double ThreadCpuSeconds();

  // How stale the CPU clock of ShouldStop may be, in wall time: reading a
  // thread's CPU clock is a system call (~2 us on a paravirtualized VM, as
  // much as building a small conversation), so StartWork and ShouldStop
  // reuse the calling thread's last reading while it is younger than this.
  // The limit then holds to within about a millisecond of CPU.
  static constexpr int64_t kCpuClockRefreshNanos = 1000000;

 private:
  const double cpu_limit_;
  std::atomic<bool> stopped_{false};
  // The thread's CPU time, at most kCpuClockRefreshNanos old.
  double CpuSeconds() const;

  // The thread's CPU time at StartWork; read by that thread only.
  double work_start_cpu_ = 0;
  // The last reading of the CPU clock: when (monotonic), on which thread.
  mutable double cpu_reading_ = 0;
  mutable int64_t cpu_read_at_ = 0;
  mutable std::thread::id cpu_read_by_;
};

// The stop of the work running on this thread, for loops too deep to be
// handed one (a tokenizer encoding a huge message): ScopedStop sets it for a
// scope, and such a loop gives up early when ThisThreadShouldStop(). What it
// returns is then incomplete: whoever set the scope must check its
// StopSignal (which stays stopped) before using any result.
class ScopedStop {
 public:
  explicit ScopedStop(const StopSignal* stop);
  ~ScopedStop();
  ScopedStop(const ScopedStop&) = delete;
  ScopedStop& operator=(const ScopedStop&) = delete;

 private:
  const StopSignal* outer_;
};

bool ThisThreadShouldStop();

}  // namespace convgen

#endif  // CONVGEN_CORE_STOP_SIGNAL_H_
