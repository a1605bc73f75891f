#ifndef CONVGEN_SERVER_FREE_MEMORY_H_
#define CONVGEN_SERVER_FREE_MEMORY_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace convgen {

// The server allocates with tcmalloc (server/CMakeLists.txt), which keeps
// the pages a finished stream freed for later allocations instead of giving
// them back: after a few streams of 14 MB messages a server held 609 MB
// while idle, past what --max-memory-bytes accounts for. While it lives,
// a FreeMemoryReleaser gives back every second what tcmalloc holds free
// beyond `keep_bytes`. Without tcmalloc (sanitizer builds) it does nothing.
class FreeMemoryReleaser {
 public:
  explicit FreeMemoryReleaser(int64_t keep_bytes);
  ~FreeMemoryReleaser();
  FreeMemoryReleaser(const FreeMemoryReleaser&) = delete;
  FreeMemoryReleaser& operator=(const FreeMemoryReleaser&) = delete;

 private:
  void Run();

  const int64_t keep_bytes_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace convgen

#endif  // CONVGEN_SERVER_FREE_MEMORY_H_
