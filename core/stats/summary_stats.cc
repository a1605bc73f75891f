#include "core/stats/summary_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace convgen {
namespace {

// Bucket of a value >= 0: its double's bits without the low 44 mantissa
// bits, i.e. exponent and 8 mantissa bits; monotone in the value.
int64_t BucketOf(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return static_cast<int64_t>(bits >> 44);
}

// The middle of a bucket (its exact value when the bucket holds one integer).
double BucketValue(int64_t bucket) {
  const uint64_t low = static_cast<uint64_t>(bucket) << 44;
  const uint64_t high = low | ((uint64_t{1} << 44) - 1);
  double lo, hi;
  std::memcpy(&lo, &low, sizeof(lo));
  std::memcpy(&hi, &high, sizeof(hi));
  if (lo == std::floor(lo) && hi - lo < 1) return lo;  // one integer in it
  return (lo + hi) / 2;
}

}  // namespace

void SummaryStatistic::Add(double value) {
  value = std::max(value, 0.0);
  ++count_;
  const double delta = value - mean_;
  mean_ += delta / static_cast<double>(count_);
  m2_ += delta * (value - mean_);
  min_ = count_ == 1 ? value : std::min(min_, value);
  max_ = count_ == 1 ? value : std::max(max_, value);
  buckets_[BucketOf(value)]++;
}

double SummaryStatistic::std() const {
  return count_ > 1 ? std::sqrt(m2_ / static_cast<double>(count_ - 1)) : 0;
}

double SummaryStatistic::OrderStatistic(int64_t k) const {
  int64_t seen = 0;
  for (const auto& [bucket, n] : buckets_) {
    seen += n;
    if (k < seen) return std::clamp(BucketValue(bucket), min_, max_);
  }
  return max_;
}

double SummaryStatistic::Quantile(double q) const {
  if (count_ == 0) return 0;
  const double position = q * static_cast<double>(count_ - 1);
  const auto below = static_cast<int64_t>(std::floor(position));
  const double fraction = position - static_cast<double>(below);
  const double lo = OrderStatistic(below);
  if (fraction == 0) return lo;
  return lo + fraction * (OrderStatistic(below + 1) - lo);
}

std::string GenerationSummary::ToTable() const {
  const auto row = [](const char* name, const SummaryStatistic& s) {
    return absl::StrFormat("%-22s %8d %9.2f %9.2f %8.0f %8.2f %8.2f %8.2f %8.2f %8.2f %8.0f\n",
                           name, s.count(), s.mean(), s.std(), s.min(), s.Quantile(0.25),
                           s.Quantile(0.5), s.Quantile(0.75), s.Quantile(0.9),
                           s.Quantile(0.99), s.max());
  };
  const std::string header = absl::StrFormat(
      "%-22s %8s %9s %9s %8s %8s %8s %8s %8s %8s %8s\n", "", "count", "mean", "std", "min",
      "25%", "50%", "75%", "90%", "99%", "max");
  std::string out = "Conversations statistics:\n" + header;
  out += row("conversation_turns", turns);
  out += row("user_tokens", mean_user_tokens);
  out += row("assistant_tokens", mean_assistant_tokens);
  out += "Request statistics:\n" + header;
  out += row("request_tokens", request_tokens);
  absl::StrAppend(&out, "conversations ", conversations, ", messages ", messages,
                  ", user tokens ", user_tokens, ", assistant tokens ", assistant_tokens,
                  ", common prefix tokens ", common_prefix_tokens, ", raised targets ",
                  raised_targets, ", corpus wraps ", corpus_wraps, "\n");
  return out;
}

}  // namespace convgen
