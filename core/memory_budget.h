// MemoryBudget: the bytes a server lets its requests hold at once (its
// --max-memory less what it holds at start), so that admission control
// refuses work that would not fit instead of the kernel killing the process.
//
// Work reserves what it will hold before holding it (a corpus while it is
// read and tokenized, and for as long as it is kept; a conversation while it
// is built and sent), grows the reservation as it learns more, and gives it
// back by destroying the Reservation. A reservation that does not fit is
// refused with ResourceExhausted naming the need, what is free and the flag.
// Thread-safe; a Reservation is used by one thread at a time.
#ifndef CONVGEN_CORE_MEMORY_BUDGET_H_
#define CONVGEN_CORE_MEMORY_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convgen {

class MemoryBudget {
 public:
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept { *this = std::move(other); }
    Reservation& operator=(Reservation&& other) noexcept;
    ~Reservation() { Release(); }

    // Grows or shrinks the reservation to `bytes`; growing fails (and keeps
    // the reservation as it was) when the budget has not enough free.
    absl::Status Resize(int64_t bytes, absl::string_view what);
    int64_t bytes() const { return bytes_; }
    void Release();

   private:
    friend class MemoryBudget;
    MemoryBudget* budget_ = nullptr;
    int64_t bytes_ = 0;
  };

  // limit_bytes: 0 for no limit (reservations are still counted).
  explicit MemoryBudget(int64_t limit_bytes) : limit_(limit_bytes) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Reserves `bytes` for `what` (e.g. "tokenizing corpus x.txt"), or
  // ResourceExhausted.
  absl::StatusOr<Reservation> Reserve(int64_t bytes, absl::string_view what);

  int64_t limit_bytes() const { return limit_; }
  int64_t reserved_bytes() const { return reserved_.load(std::memory_order_relaxed); }

 private:
  bool TryAdd(int64_t bytes);
  absl::Status Refusal(int64_t bytes, absl::string_view what) const;

  const int64_t limit_;
  std::atomic<int64_t> reserved_{0};
};

}  // namespace convgen

#endif  // CONVGEN_CORE_MEMORY_BUDGET_H_
