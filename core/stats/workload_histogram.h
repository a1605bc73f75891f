// The shape of a workload as its conversations arrive, for the workload
// report (--report, --stats-json): exact counts of every integer quantity
// (turns, tokens per message, request tokens, think time, prefix groups),
// binned for charts, and the summary --print-stats prints, computed by the
// same function the server uses (AddConversationToSummary), so that the two
// agree to the last bit.
//
// Memory: no conversation is kept, only per-quantity maps value -> count.
// The values are integers (token counts, message counts, milliseconds,
// group indices), so a map is exact, needs no range known in advance (a
// fixed-resolution grid would, or would lose resolution), bins at any width
// afterwards, and holds at most one entry per distinct value: bounded by the
// largest value (request tokens: the largest context, e.g. 128k entries,
// ~6 MB at worst; a typical run a few thousand entries), never by the number
// of conversations. Quantiles in the tables come from SummaryStatistic (the
// one quantile definition, --print-stats'), fed the same values in the same
// order. Not thread-safe.
#ifndef CONVGEN_CORE_STATS_WORKLOAD_HISTOGRAM_H_
#define CONVGEN_CORE_STATS_WORKLOAD_HISTOGRAM_H_

#include <cstdint>
#include <map>
#include <vector>

#include "core/stats/summary_stats.h"

namespace convgen {

// The integers lo..hi (inclusive) and how many values fell there.
struct HistogramBin {
  int64_t lo = 0;
  int64_t hi = 0;
  int64_t count = 0;
};

// Bins `counts` (value -> count; values outside [lo, hi] are ignored) into
// at most `max_bins` bins of equal integer width covering [lo, hi]. The
// width is the smallest of 1, 2, 5, 10, 20, 50, ... that fits, and bins
// start at a multiple of it, so edges are round numbers. Empty if lo > hi.
std::vector<HistogramBin> BinCounts(const std::map<int64_t, int64_t>& counts, int64_t lo,
                                    int64_t hi, int max_bins);

// Exact counts of integer values, and their SummaryStatistic.
class IntegerHistogram {
 public:
  void Add(int64_t value);

  int64_t count() const { return statistic_.count(); }
  const std::map<int64_t, int64_t>& counts() const { return counts_; }
  const SummaryStatistic& statistic() const { return statistic_; }
  // BinCounts over [smallest, largest value]; empty if there are none.
  std::vector<HistogramBin> Bins(int max_bins) const;

 private:
  std::map<int64_t, int64_t> counts_;
  SummaryStatistic statistic_;
};

// Collects a stream of conversations: Begin, AddMessage per message in
// order, End. Only conversations that ended count (a stream that breaks
// mid-conversation leaves that one out, as the output file does).
class WorkloadCollector {
 public:
  void BeginConversation();
  // think_time_ms and prefix_group: -1 when the message has none.
  void AddMessage(bool is_user, int64_t num_tokens, int64_t think_time_ms, int64_t prefix_group);
  void EndConversation();

  // Of the conversations that ended: what --print-stats prints.
  const GenerationSummary& summary() const { return summary_; }
  const IntegerHistogram& turns() const { return turns_; }
  const IntegerHistogram& user_tokens_per_message() const { return user_tokens_; }
  const IntegerHistogram& assistant_tokens_per_message() const { return assistant_tokens_; }
  const IntegerHistogram& request_tokens() const { return request_tokens_; }
  const IntegerHistogram& think_time_ms() const { return think_time_ms_; }
  // Prefix group -> conversations (groups with none are absent).
  const std::map<int64_t, int64_t>& prefix_groups() const { return prefix_groups_; }
  // Whether a conversation had begun and not ended (the stream broke in it).
  bool in_conversation() const { return in_conversation_; }

 private:
  struct Pending {
    bool is_user;
    int64_t num_tokens;
    int64_t think_time_ms;
  };
  GenerationSummary summary_;
  IntegerHistogram turns_, user_tokens_, assistant_tokens_, request_tokens_, think_time_ms_;
  std::map<int64_t, int64_t> prefix_groups_;
  std::vector<Pending> pending_;  // the current conversation's messages
  int64_t pending_group_ = -1;
  bool in_conversation_ = false;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_STATS_WORKLOAD_HISTOGRAM_H_
