#include "core/shape/shape.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace convgen {
namespace {

// The empirical distribution of values (weights: how often each occurs).
IntDistribution EmpiricalOf(const std::vector<int64_t>& values) {
  std::map<int64_t, double> counts;
  for (int64_t v : values) counts[v] += 1;
  std::vector<int64_t> distinct;
  std::vector<double> weights;
  for (const auto& [value, count] : counts) {
    distinct.push_back(value);
    weights.push_back(count);
  }
  return IntDistribution::MakeEmpirical(std::move(distinct), weights);
}

struct Sizes {
  std::vector<int64_t> messages, first_user, later_user, assistant, hash_ids, gaps;
};

Sizes CollectSizes(const Shape& shape) {
  Sizes s;
  for (const ShapeRecord& r : shape.records) {
    s.messages.push_back(static_cast<int64_t>(r.message_tokens.size()));
    for (size_t m = 0; m < r.message_tokens.size(); ++m) {
      if (m % 2 == 1) {
        s.assistant.push_back(r.message_tokens[m]);
      } else if (m == 0) {
        s.first_user.push_back(r.message_tokens[m]);
      } else {
        s.later_user.push_back(r.message_tokens[m]);
      }
    }
    s.hash_ids.push_back(static_cast<int64_t>(r.hash_ids.size()));
  }
  if (shape.has_timestamps()) {
    std::vector<int64_t> times;
    for (const ShapeRecord& r : shape.records) times.push_back(r.timestamp_ms);
    std::sort(times.begin(), times.end());
    for (size_t k = 1; k < times.size(); ++k) s.gaps.push_back(times[k] - times[k - 1]);
  }
  return s;
}

std::pair<int64_t, int64_t> TimeRange(const Shape& shape) {
  int64_t first = shape.records.front().timestamp_ms, last = first;
  for (const ShapeRecord& r : shape.records) {
    first = std::min(first, r.timestamp_ms);
    last = std::max(last, r.timestamp_ms);
  }
  return {first, last};
}

}  // namespace

FittedShape FitShape(const Shape& shape) {
  const Sizes s = CollectSizes(shape);
  FittedShape fitted;
  fitted.messages = EmpiricalOf(s.messages);
  fitted.first_user = EmpiricalOf(s.first_user);
  if (!s.later_user.empty()) fitted.later_user = EmpiricalOf(s.later_user);
  fitted.assistant = EmpiricalOf(s.assistant);
  if (shape.has_timestamps()) {
    const auto [first, last] = TimeRange(shape);
    if (last > first) {
      fitted.span_ms = last - first;
      fitted.gaps = static_cast<int64_t>(shape.records.size() - 1);
    } else {
      fitted.span_ms = 1;
      fitted.gaps = static_cast<int64_t>(shape.records.size());
    }
  }
  return fitted;
}

namespace {
int64_t MallocBytes(size_t bytes) {
  if (bytes == 0) return 0;
  return std::max<int64_t>(32, (static_cast<int64_t>(bytes) + 8 + 15) & ~int64_t{15});
}
}  // namespace

int64_t ShapeBytes(const Shape& shape) {
  // 4 KiB more for the small allocations around it (measured: ~250 bytes).
  int64_t total = static_cast<int64_t>(sizeof(Shape)) + 4096 +
                  MallocBytes(shape.records.capacity() * sizeof(ShapeRecord));
  for (const ShapeRecord& r : shape.records) {
    total += MallocBytes(r.message_tokens.capacity() * sizeof(int64_t)) +
             MallocBytes(r.hash_ids.capacity() * sizeof(int64_t));
  }
  return total;
}

int64_t ReplayPeriodMs(const Shape& shape) {
  if (!shape.has_timestamps()) return 0;
  const auto [first, last] = TimeRange(shape);
  const int64_t span = last - first;
  const auto n = static_cast<int64_t>(shape.records.size());
  return std::max<int64_t>(1, n > 1 ? span + span / (n - 1) : 0);
}

SizeSummary Summarize(std::vector<int64_t> values) {
  SizeSummary out;
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  out.count = static_cast<int64_t>(values.size());
  double sum = 0;
  for (int64_t v : values) sum += static_cast<double>(v);
  out.mean = sum / static_cast<double>(values.size());
  const auto rank = [&](double q) {
    // Nearest rank: the smallest value with at least q of the values at or
    // below it.
    const auto k = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
    return values[std::max<size_t>(k, 1) - 1];
  };
  out.p50 = rank(0.50);
  out.p90 = rank(0.90);
  out.p99 = rank(0.99);
  out.max = values.back();
  return out;
}

std::string DescribeShape(const Shape& shape, const std::string& source) {
  const Sizes s = CollectSizes(shape);
  const bool trace = shape.kind == ShapeKind::kMooncake;
  std::string out = absl::StrCat(trace ? "mooncake trace " : "sharegpt file ", source, ": ",
                                 shape.records.size(), trace ? " requests\n" : " conversations\n");
  const ShapeNotes& n = shape.notes;
  if (!trace) {
    absl::StrAppend(&out, "  read ", n.records_read, " records; skipped ", n.records_skipped,
                    " (fewer than 2 messages left); dropped ", n.system_dropped, " system, ",
                    n.empty_dropped, " empty, ", n.leading_dropped, " leading assistant, ",
                    n.trailing_dropped, " unanswered last user messages; merged ", n.merged,
                    " into the message before\n");
  }
  absl::StrAppend(&out, absl::StrFormat("  %-26s %8s %10s %8s %8s %8s %8s\n", "size", "count",
                                        "mean", "p50", "p90", "p99", "max"));
  const auto row = [&](const char* name, const std::vector<int64_t>& values) {
    const SizeSummary x = Summarize(values);
    absl::StrAppend(&out, absl::StrFormat("  %-26s %8d %10.1f %8d %8d %8d %8d\n", name, x.count,
                                          x.mean, x.p50, x.p90, x.p99, x.max));
  };
  if (trace) {
    row("input tokens", s.first_user);
    row("output tokens", s.assistant);
    row("hash_ids per request", s.hash_ids);
    if (shape.has_timestamps()) {
      row("arrival gap ms", s.gaps);
      const auto [first, last] = TimeRange(shape);
      absl::StrAppend(&out, "  timestamps ", first, " .. ", last, " ms");
      if (shape.timestamp_offset_ms != 0) {
        absl::StrAppend(&out, " (the file's first timestamp, ", shape.timestamp_offset_ms,
                        ", subtracted from every one)");
      }
      absl::StrAppend(&out, "\n");
    } else {
      absl::StrAppend(&out, "  no timestamps\n");
    }
  } else {
    row("messages per conversation", s.messages);
    row("first user tokens", s.first_user);
    row("later user tokens", s.later_user);
    row("assistant tokens", s.assistant);
  }
  return out;
}

}  // namespace convgen
