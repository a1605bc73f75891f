// Per-thread scratch buffers (thread_local vectors reused between calls)
// keep the capacity of the largest text they ever held; ReleaseIfLarge gives
// a large one back after use, so that each of a server's threads does not
// keep the largest request it ever saw.
#ifndef CONVGEN_CORE_SCRATCH_H_
#define CONVGEN_CORE_SCRATCH_H_

#include <cstddef>
#include <vector>

namespace convgen {

inline constexpr size_t kLargeScratchBytes = size_t{1} << 20;

template <class T>
void ReleaseIfLarge(std::vector<T>& scratch) {
  if (scratch.capacity() * sizeof(T) > kLargeScratchBytes) std::vector<T>().swap(scratch);
}

}  // namespace convgen

#endif  // CONVGEN_CORE_SCRATCH_H_
