// Progress on an injected clock: redraws are throttled to one per 0.1 s
// whatever the stream's rate, the last conversation is always drawn, and the
// line's rate and ETA are the counts over the clock's seconds.
#include "client/progress.h"

#include <string>

#include "gtest/gtest.h"

namespace convgen {
namespace {

TEST(ProgressTest, ThreeThousandConversationsInOneSecondDrawAboutTenLines) {
  double now = 100;
  Progress progress(3000, [&now] { return now; });
  int drawn = 0;
  size_t bytes = 0;
  for (int done = 1; done <= 3000; ++done) {
    now += 1.0 / 3000;
    progress.AddTokens(100);
    const std::string line = progress.Update(done);
    if (!line.empty()) ++drawn;
    bytes += line.size();
  }
  // The first, one per 0.1 s over 1 s, and the last.
  EXPECT_GE(drawn, 10);
  EXPECT_LE(drawn, 12);
  EXPECT_LT(bytes, 12 * 120u);
}

TEST(ProgressTest, ASlowStreamDrawsEveryConversation) {
  double now = 0;
  Progress progress(5, [&now] { return now; });
  for (int done = 1; done <= 5; ++done) {
    now += 0.5;
    EXPECT_NE(progress.Update(done), "") << done;
  }
}

TEST(ProgressTest, TheLastConversationIsDrawnEvenWithinTheThrottle) {
  double now = 0;
  Progress progress(3, [&now] { return now; });
  EXPECT_NE(progress.Update(1), "");
  EXPECT_EQ(progress.Update(2), "");
  EXPECT_NE(progress.Update(3), "");
}

TEST(ProgressTest, TheLineShowsCountsRateAndTimeLeft) {
  double now = 10;
  Progress progress(100, [&now] { return now; });
  now = 12;  // 25 conversations and 5,000 tokens in 2 s: 6 s left
  progress.AddTokens(5000);
  EXPECT_EQ(progress.Update(25),
            "\r[#######                       ] 25/100 conversations, 2500 tokens/s, ETA 6s\x1b[K");
  now = 20;
  EXPECT_EQ(progress.Summary(),
            "convgen: 25 conversations, 5000 tokens in 10.0 s (500 tokens/s)\n");
}

TEST(ProgressTest, AnUnknownTotalShowsTheCountOnly) {
  double now = 0;
  Progress progress(0, [&now] { return now; });
  now = 1;
  progress.AddTokens(10);
  EXPECT_EQ(progress.Update(3), "\r3 conversations, 10 tokens/s\x1b[K");
}

TEST(ProgressTest, LongEtasReadInMinutesAndHours) {
  double now = 0;
  Progress progress(100000, [&now] { return now; });
  now = 100;
  EXPECT_NE(progress.Update(1000).find("ETA 2h45m"), std::string::npos);
  now = 200;  // 9,000 more in the last 100 s: 90,000 left at 50/s overall = 1,800 s
  const std::string line = progress.Update(10000);
  EXPECT_NE(line.find("ETA 30m00s"), std::string::npos) << line;
}

}  // namespace
}  // namespace convgen
