#include "core/stop_signal.h"

#include <time.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace convgen {
namespace {

thread_local const StopSignal* this_thread_stop = nullptr;

}  // namespace

ScopedStop::ScopedStop(const StopSignal* stop) : outer_(this_thread_stop) {
  this_thread_stop = stop;
}

ScopedStop::~ScopedStop() { this_thread_stop = outer_; }

bool ThisThreadShouldStop() {
  return this_thread_stop != nullptr && this_thread_stop->ShouldStop();
}

double StopSignal::ThreadCpuSeconds() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

double StopSignal::CpuSeconds() const {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);  // in the vDSO: no system call
  const int64_t nanos = int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
  const std::thread::id self = std::this_thread::get_id();
  if (self != cpu_read_by_ || nanos - cpu_read_at_ >= kCpuClockRefreshNanos) {
    cpu_reading_ = ThreadCpuSeconds();
    cpu_read_at_ = nanos;
    cpu_read_by_ = self;
  }
  return cpu_reading_;
}

void StopSignal::StartWork() {
  if (cpu_limit_ > 0) work_start_cpu_ = CpuSeconds();
}

bool StopSignal::ShouldStop() const {
  if (stopped()) return true;
  return cpu_limit_ > 0 && CpuSeconds() - work_start_cpu_ > cpu_limit_;
}

absl::Status StopSignal::Reason(absl::string_view work) const {
  if (stopped()) return absl::CancelledError(absl::StrCat("cancelled while ", work));
  return absl::ResourceExhaustedError(absl::StrFormat(
      "stopped %s after %g CPU seconds, this server's limit per piece of work "
      "(--max-build-cpu-seconds); use more varied text (long runs of one character are slow to "
      "encode), smaller token counts, or raise the limit",
      work, cpu_limit_));
}

}  // namespace convgen
