#include "server/free_memory.h"

#include <pthread.h>
#include <signal.h>

#include <chrono>

#ifdef CONVGEN_TCMALLOC
#include <gperftools/malloc_extension.h>
#endif

namespace convgen {

FreeMemoryReleaser::FreeMemoryReleaser(int64_t keep_bytes) : keep_bytes_(keep_bytes) {
#ifdef CONVGEN_TCMALLOC
  // Signals stay with the threads that wait for them (SIGTERM's drain).
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  thread_ = std::thread([this] { Run(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
#endif
}

FreeMemoryReleaser::~FreeMemoryReleaser() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void FreeMemoryReleaser::Run() {
#ifdef CONVGEN_TCMALLOC
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
    size_t free_bytes = 0;
    MallocExtension* malloc = MallocExtension::instance();
    if (malloc->GetNumericProperty("tcmalloc.pageheap_free_bytes", &free_bytes) &&
        free_bytes > static_cast<size_t>(keep_bytes_)) {
      malloc->ReleaseToSystem(free_bytes - static_cast<size_t>(keep_bytes_));
    }
  }
#endif
}

}  // namespace convgen
