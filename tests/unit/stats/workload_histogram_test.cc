#include "core/stats/workload_histogram.h"

#include <cstdint>
#include <map>
#include <vector>

#include "core/random/random_stream.h"
#include "core/stats/summary_stats.h"
#include "gtest/gtest.h"

namespace convgen {
namespace {

int64_t Total(const std::vector<HistogramBin>& bins) {
  int64_t total = 0;
  for (const HistogramBin& bin : bins) total += bin.count;
  return total;
}

TEST(BinCountsTest, NarrowRangeGetsOneBinPerValue) {
  const std::map<int64_t, int64_t> counts = {{3, 2}, {5, 1}, {10, 4}};
  const std::vector<HistogramBin> bins = BinCounts(counts, 3, 10, 40);
  ASSERT_EQ(bins.size(), 8u);
  EXPECT_EQ(bins[0].lo, 3);
  EXPECT_EQ(bins[0].hi, 3);
  EXPECT_EQ(bins[0].count, 2);
  EXPECT_EQ(bins[1].count, 0);  // 4: none
  EXPECT_EQ(bins[2].count, 1);  // 5
  EXPECT_EQ(bins[7].lo, 10);
  EXPECT_EQ(bins[7].count, 4);
}

TEST(BinCountsTest, WideRangeGetsRoundWidthsAlignedToThem) {
  // 13..1013 is 1001 values: width 20 would take bins 0..50 (51 > 40), so 50:
  // bins [0, 49] .. [1000, 1049], 21 of them.
  const std::map<int64_t, int64_t> counts = {{13, 1}, {49, 2}, {50, 3}, {999, 4}, {1013, 5}};
  const std::vector<HistogramBin> bins = BinCounts(counts, 13, 1013, 40);
  ASSERT_EQ(bins.size(), 21u);
  EXPECT_EQ(bins.front().lo, 0);
  EXPECT_EQ(bins.front().hi, 49);
  EXPECT_EQ(bins.front().count, 3);  // 13 and 49 (x2)
  EXPECT_EQ(bins[1].lo, 50);
  EXPECT_EQ(bins[1].count, 3);
  EXPECT_EQ(bins[19].lo, 950);
  EXPECT_EQ(bins[19].count, 4);
  EXPECT_EQ(bins.back().lo, 1000);
  EXPECT_EQ(bins.back().hi, 1049);
  EXPECT_EQ(bins.back().count, 5);
  for (size_t b = 1; b < bins.size(); ++b) EXPECT_EQ(bins[b].lo, bins[b - 1].hi + 1);
}

TEST(BinCountsTest, WidthIsTheSmallestRoundOneThatFits) {
  const std::map<int64_t, int64_t> counts = {{0, 1}, {99, 1}};
  // 0..39 fits in 40 bins of 1; 0..40 needs width 2; 0..99 width 5 (20 bins).
  EXPECT_EQ(BinCounts(counts, 0, 39, 40).size(), 40u);
  EXPECT_EQ(BinCounts(counts, 0, 40, 40).front().hi, 1);
  const std::vector<HistogramBin> bins = BinCounts(counts, 0, 99, 40);
  ASSERT_EQ(bins.size(), 20u);
  EXPECT_EQ(bins.front().hi, 4);
  EXPECT_EQ(Total(bins), 2);
}

TEST(BinCountsTest, ValuesOutsideTheRangeAndEmptyRanges) {
  const std::map<int64_t, int64_t> counts = {{1, 1}, {5, 1}, {9, 1}};
  EXPECT_EQ(Total(BinCounts(counts, 2, 8, 40)), 1);
  EXPECT_TRUE(BinCounts(counts, 8, 2, 40).empty());
  EXPECT_EQ(BinCounts(counts, 5, 5, 40).size(), 1u);
}

TEST(BinCountsTest, HugeRangesStayWithinTheBinLimit) {
  const std::map<int64_t, int64_t> counts = {{0, 1}, {int64_t{1} << 60, 1}};
  const std::vector<HistogramBin> bins = BinCounts(counts, 0, int64_t{1} << 60, 40);
  EXPECT_LE(bins.size(), 40u);
  EXPECT_EQ(Total(bins), 2);
}

TEST(IntegerHistogramTest, CountsAreExactBoundedByDistinctValuesAndBinsSumToTheCount) {
  IntegerHistogram h;
  SummaryStatistic direct;
  RandomStream stream({.seed = 7});
  for (int i = 0; i < 100000; ++i) {
    const auto v = static_cast<int64_t>(200 + stream.NextBelow(3000));
    h.Add(v);
    direct.Add(static_cast<double>(v));
  }
  EXPECT_EQ(h.count(), 100000);
  EXPECT_LE(h.counts().size(), 3000u);  // one entry per distinct value
  const std::vector<HistogramBin> bins = h.Bins(40);
  EXPECT_LE(bins.size(), 40u);
  EXPECT_EQ(Total(bins), 100000);
  // The table's quantiles are SummaryStatistic's, bit for bit.
  for (const double q : {0.25, 0.5, 0.75, 0.9, 0.99}) {
    EXPECT_EQ(h.statistic().Quantile(q), direct.Quantile(q)) << q;
  }
  EXPECT_EQ(h.statistic().mean(), direct.mean());
  EXPECT_EQ(h.statistic().std(), direct.std());
}

TEST(WorkloadCollectorTest, AWorkedConversation) {
  WorkloadCollector c;
  // user 10 (think 300 ms, group 2), assistant 20, user 5 (think 100),
  // assistant 7: requests of 10 and 10+20+5 = 35 tokens.
  c.BeginConversation();
  c.AddMessage(true, 10, 300, 2);
  c.AddMessage(false, 20, -1, 2);
  c.AddMessage(true, 5, 100, 2);
  c.AddMessage(false, 7, -1, 2);
  c.EndConversation();
  const GenerationSummary& s = c.summary();
  EXPECT_EQ(s.conversations, 1);
  EXPECT_EQ(s.messages, 4);
  EXPECT_EQ(s.user_tokens, 15);
  EXPECT_EQ(s.assistant_tokens, 27);
  EXPECT_EQ(s.turns.mean(), 4);
  EXPECT_EQ(s.mean_user_tokens.mean(), 7.5);  // 15 tokens over 2 exchanges
  EXPECT_EQ(s.mean_assistant_tokens.mean(), 13.5);
  EXPECT_EQ(s.request_tokens.min(), 10);
  EXPECT_EQ(s.request_tokens.max(), 35);
  EXPECT_EQ(c.request_tokens().counts(), (std::map<int64_t, int64_t>{{10, 1}, {35, 1}}));
  EXPECT_EQ(c.user_tokens_per_message().counts(), (std::map<int64_t, int64_t>{{5, 1}, {10, 1}}));
  EXPECT_EQ(c.assistant_tokens_per_message().counts(),
            (std::map<int64_t, int64_t>{{7, 1}, {20, 1}}));
  EXPECT_EQ(c.think_time_ms().counts(), (std::map<int64_t, int64_t>{{100, 1}, {300, 1}}));
  EXPECT_EQ(c.turns().counts(), (std::map<int64_t, int64_t>{{4, 1}}));
  EXPECT_EQ(c.prefix_groups(), (std::map<int64_t, int64_t>{{2, 1}}));
}

TEST(WorkloadCollectorTest, AConversationThatNeverEndedIsLeftOut) {
  WorkloadCollector c;
  c.BeginConversation();
  c.AddMessage(true, 10, -1, -1);
  c.AddMessage(false, 20, -1, -1);
  c.EndConversation();
  c.BeginConversation();  // the stream breaks in this one
  c.AddMessage(true, 99, -1, 1);
  EXPECT_TRUE(c.in_conversation());
  EXPECT_EQ(c.summary().conversations, 1);
  EXPECT_EQ(c.user_tokens_per_message().count(), 1);
  EXPECT_EQ(c.request_tokens().count(), 1);
  EXPECT_TRUE(c.prefix_groups().empty());
  EXPECT_EQ(c.think_time_ms().count(), 0);
}

TEST(WorkloadCollectorTest, SummaryIsTheServersForTheSameConversations) {
  // The server adds each conversation with AddConversationToSummary; the
  // collector, fed message by message, must reach the same bits.
  GenerationSummary server;
  WorkloadCollector c;
  RandomStream stream({.seed = 3});
  for (int conversation = 0; conversation < 500; ++conversation) {
    const int messages = 2 * static_cast<int>(1 + stream.NextBelow(6));
    std::vector<MessageSize> sizes;
    c.BeginConversation();
    for (int m = 0; m < messages; ++m) {
      const auto tokens = static_cast<int64_t>(1 + stream.NextBelow(2000));
      sizes.push_back({m % 2 == 0, tokens});
      c.AddMessage(m % 2 == 0, tokens, -1, -1);
    }
    c.EndConversation();
    AddConversationToSummary(sizes, &server);
  }
  const GenerationSummary& s = c.summary();
  for (const auto& [mine, theirs] :
       {std::pair<const SummaryStatistic*, const SummaryStatistic*>{&s.turns, &server.turns},
        {&s.mean_user_tokens, &server.mean_user_tokens},
        {&s.mean_assistant_tokens, &server.mean_assistant_tokens},
        {&s.request_tokens, &server.request_tokens}}) {
    EXPECT_EQ(mine->count(), theirs->count());
    EXPECT_EQ(mine->mean(), theirs->mean());
    EXPECT_EQ(mine->std(), theirs->std());
    EXPECT_EQ(mine->Quantile(0.99), theirs->Quantile(0.99));
  }
  EXPECT_EQ(c.request_tokens().count(), s.request_tokens.count());
}

}  // namespace
}  // namespace convgen
