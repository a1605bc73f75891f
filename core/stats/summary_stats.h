// Streaming statistics for the summary vLLM's print_conv_stats prints:
// count, mean, std, min, p25, p50, p75, p90, p99, max, in one pass and
// bounded memory.
//
// Quantiles come from a log-linear histogram: values are bucketed by their
// binary exponent and top 8 mantissa bits, so integers below 512 are exact
// and any other value is off by at most 0.4% (relative). Quantiles
// interpolate linearly between order statistics, as pandas does. Memory is
// bounded by the number of buckets (a few thousand), not by the count.
// Not thread-safe.
#ifndef CONVGEN_CORE_STATS_SUMMARY_STATS_H_
#define CONVGEN_CORE_STATS_SUMMARY_STATS_H_

#include <cstdint>
#include <map>
#include <vector>

namespace convgen {

class SummaryStatistic {
 public:
  // Adds a value >= 0.
  void Add(double value);

  int64_t count() const { return count_; }
  double mean() const { return count_ > 0 ? mean_ : 0; }
  // Sample standard deviation (ddof = 1, as pandas); 0 for fewer than 2.
  double std() const;
  double min() const { return count_ > 0 ? min_ : 0; }
  double max() const { return count_ > 0 ? max_ : 0; }
  // q in [0, 1].
  double Quantile(double q) const;

 private:
  // The k-th smallest value (0-based), as its bucket's representative.
  double OrderStatistic(int64_t k) const;

  int64_t count_ = 0;
  double mean_ = 0;
  double m2_ = 0;  // Welford's sum of squared deviations
  double min_ = 0;
  double max_ = 0;
  std::map<int64_t, int64_t> buckets_;
};

// The statistics of a generation run (or one shard of it).
struct GenerationSummary {
  int64_t conversations = 0;
  int64_t messages = 0;
  int64_t user_tokens = 0;
  int64_t assistant_tokens = 0;
  // Targets below the unavoidable minimum of their message, raised to it.
  int64_t raised_targets = 0;
  // Messages whose corpus text ran past the end of the corpus and restarted.
  int64_t corpus_wraps = 0;
  int64_t common_prefix_tokens = 0;

  SummaryStatistic turns;                  // messages per conversation
  SummaryStatistic mean_user_tokens;       // per conversation
  SummaryStatistic mean_assistant_tokens;  // per conversation
  SummaryStatistic request_tokens;         // history + new user message
};

// One message of a conversation, as the summary counts it.
struct MessageSize {
  bool is_user = false;
  int64_t num_tokens = 0;
};

// Adds one conversation, its messages in order, to `summary` as vLLM's
// print_conv_stats counts it: its turns, its mean user and assistant tokens
// per exchange (messages / 2), and for each user message the request it
// makes (the history before it plus itself). The one definition the
// server's summary and the client's report (WorkloadCollector) share.
void AddConversationToSummary(const std::vector<MessageSize>& messages, GenerationSummary* summary);

}  // namespace convgen

#endif  // CONVGEN_CORE_STATS_SUMMARY_STATS_H_
