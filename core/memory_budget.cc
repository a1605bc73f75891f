#include "core/memory_budget.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"

namespace convgen {
namespace {

double MiB(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

}  // namespace

MemoryBudget::Reservation& MemoryBudget::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

absl::Status MemoryBudget::Reservation::Resize(int64_t bytes, absl::string_view what) {
  if (budget_ == nullptr) return absl::FailedPreconditionError("resizing an empty reservation");
  if (bytes <= bytes_) {
    budget_->reserved_.fetch_sub(bytes_ - bytes, std::memory_order_relaxed);
  } else if (!budget_->TryAdd(bytes - bytes_)) {
    return budget_->Refusal(bytes - bytes_, what);
  }
  bytes_ = bytes;
  return absl::OkStatus();
}

void MemoryBudget::Reservation::Release() {
  if (budget_ != nullptr) budget_->reserved_.fetch_sub(bytes_, std::memory_order_relaxed);
  budget_ = nullptr;
  bytes_ = 0;
}

absl::StatusOr<MemoryBudget::Reservation> MemoryBudget::Reserve(int64_t bytes,
                                                                absl::string_view what) {
  if (!TryAdd(bytes)) return Refusal(bytes, what);
  Reservation reservation;
  reservation.budget_ = this;
  reservation.bytes_ = bytes;
  return reservation;
}

bool MemoryBudget::TryAdd(int64_t bytes) {
  int64_t reserved = reserved_.load(std::memory_order_relaxed);
  do {
    if (limit_ > 0 && (bytes > limit_ || reserved > limit_ - bytes)) return false;
  } while (!reserved_.compare_exchange_weak(reserved, reserved + bytes, std::memory_order_relaxed));
  return true;
}

absl::Status MemoryBudget::Refusal(int64_t bytes, absl::string_view what) const {
  const int64_t free = std::max<int64_t>(0, limit_ - reserved_bytes());
  return absl::ResourceExhaustedError(absl::StrFormat(
      "%s needs %.1f MiB more, and this server's memory budget (--max-memory %.0f MiB) has "
      "%.1f MiB free; retry later, on another replica, or with a smaller corpus or token counts",
      what, MiB(bytes), MiB(limit_), MiB(free)));
}

}  // namespace convgen
