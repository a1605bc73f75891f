#include "core/stats/summary_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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

void AddConversationToSummary(const std::vector<MessageSize>& messages,
                              GenerationSummary* summary) {
  int64_t user_sum = 0, assistant_sum = 0, history = 0;
  for (const MessageSize& message : messages) {
    history += message.num_tokens;
    if (message.is_user) {
      user_sum += message.num_tokens;
      summary->request_tokens.Add(static_cast<double>(history));
      summary->user_tokens += message.num_tokens;
    } else {
      assistant_sum += message.num_tokens;
      summary->assistant_tokens += message.num_tokens;
    }
  }
  const auto num_messages = static_cast<int64_t>(messages.size());
  const double exchanges = static_cast<double>(num_messages / 2);
  ++summary->conversations;
  summary->messages += num_messages;
  summary->turns.Add(static_cast<double>(num_messages));
  summary->mean_user_tokens.Add(static_cast<double>(user_sum) / exchanges);
  summary->mean_assistant_tokens.Add(static_cast<double>(assistant_sum) / exchanges);
}

}  // namespace convgen
