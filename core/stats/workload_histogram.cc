#include "core/stats/workload_histogram.h"

#include <algorithm>
#include <limits>

namespace convgen {
namespace {

// floor(a / b) for b > 0.
int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// Bins of `width` starting at a multiple of it that cover [lo, hi].
int64_t BinsOfWidth(int64_t lo, int64_t hi, int64_t width) {
  const int64_t first = FloorDiv(lo, width);
  const int64_t last = FloorDiv(hi, width);
  return last - first + 1;
}

}  // namespace

std::vector<HistogramBin> BinCounts(const std::map<int64_t, int64_t>& counts, int64_t lo,
                                    int64_t hi, int max_bins) {
  std::vector<HistogramBin> bins;
  if (lo > hi) return bins;
  max_bins = std::max(max_bins, 1);
  // 1, 2, 5, 10, 20, 50, ...: the first that fits (the loop ends: at a
  // width past hi - lo two bins cover the range, and max_bins >= 1 is met
  // once the width reaches 2^62, beyond any range of values seen).
  int64_t width = 1;
  for (int64_t decade = 1;; decade *= 10) {
    bool found = false;
    for (const int64_t step : {1, 2, 5}) {
      width = step * decade;
      if (BinsOfWidth(lo, hi, width) <= max_bins) {
        found = true;
        break;
      }
    }
    if (found || decade > std::numeric_limits<int64_t>::max() / 100) break;
  }
  const int64_t first = FloorDiv(lo, width) * width;
  const int64_t n = BinsOfWidth(lo, hi, width);
  bins.reserve(static_cast<size_t>(n));
  for (int64_t b = 0; b < n; ++b) {
    const int64_t bin_lo = first + b * width;
    bins.push_back({bin_lo, bin_lo + width - 1, 0});
  }
  for (auto it = counts.lower_bound(lo); it != counts.end() && it->first <= hi; ++it) {
    bins[static_cast<size_t>((it->first - first) / width)].count += it->second;
  }
  return bins;
}

void IntegerHistogram::Add(int64_t value) {
  ++counts_[value];
  statistic_.Add(static_cast<double>(value));
}

std::vector<HistogramBin> IntegerHistogram::Bins(int max_bins) const {
  if (counts_.empty()) return {};
  return BinCounts(counts_, counts_.begin()->first, counts_.rbegin()->first, max_bins);
}

void WorkloadCollector::BeginConversation() {
  pending_.clear();
  pending_group_ = -1;
  in_conversation_ = true;
}

void WorkloadCollector::AddMessage(bool is_user, int64_t num_tokens, int64_t think_time_ms,
                                   int64_t prefix_group) {
  if (!in_conversation_) return;
  pending_.push_back({is_user, num_tokens, think_time_ms});
  if (prefix_group >= 0) pending_group_ = prefix_group;
}

void WorkloadCollector::EndConversation() {
  if (!in_conversation_) return;
  in_conversation_ = false;
  std::vector<MessageSize> sizes;
  sizes.reserve(pending_.size());
  int64_t history = 0;
  for (const Pending& m : pending_) {
    sizes.push_back({m.is_user, m.num_tokens});
    history += m.num_tokens;
    if (m.is_user) {
      user_tokens_.Add(m.num_tokens);
      request_tokens_.Add(history);
      if (m.think_time_ms >= 0) think_time_ms_.Add(m.think_time_ms);
    } else {
      assistant_tokens_.Add(m.num_tokens);
    }
  }
  turns_.Add(static_cast<int64_t>(pending_.size()));
  if (pending_group_ >= 0) ++prefix_groups_[pending_group_];
  AddConversationToSummary(sizes, &summary_);
  pending_.clear();
}

}  // namespace convgen
