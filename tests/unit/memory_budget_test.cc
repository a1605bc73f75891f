#include "core/memory_budget.h"

#include <atomic>
#include <thread>
#include <vector>

#include "core/stop_signal.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace convgen {
namespace {

using ::testing::HasSubstr;

TEST(MemoryBudgetTest, ReservesWithinTheLimitAndRefusesPastIt) {
  MemoryBudget budget(1000);
  auto a = budget.Reserve(600, "a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(budget.reserved_bytes(), 600);
  auto b = budget.Reserve(500, "building CONV_ID_3");
  ASSERT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(b.status().message()),
              HasSubstr("building CONV_ID_3 needs 0.0 MiB more, and this server's memory budget "
                        "(--max-memory 0 MiB) has 0.0 MiB free"));
  EXPECT_EQ(budget.reserved_bytes(), 600);  // a refusal holds nothing
  a->Release();
  EXPECT_EQ(budget.reserved_bytes(), 0);
  EXPECT_TRUE(budget.Reserve(1000, "all").ok());  // released again at once
  EXPECT_EQ(budget.reserved_bytes(), 0);
}

TEST(MemoryBudgetTest, ResizeGrowsOnlyWithinTheLimitAndMovesKeepOneOwner) {
  MemoryBudget budget(1000);
  auto reserved = budget.Reserve(100, "x");
  ASSERT_TRUE(reserved.ok());
  MemoryBudget::Reservation r = *std::move(reserved);
  ASSERT_TRUE(r.Resize(900, "x").ok());
  EXPECT_EQ(budget.reserved_bytes(), 900);
  EXPECT_EQ(r.Resize(1001, "x").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(r.bytes(), 900);  // unchanged by the refusal
  ASSERT_TRUE(r.Resize(10, "x").ok());
  EXPECT_EQ(budget.reserved_bytes(), 10);
  MemoryBudget::Reservation moved = std::move(r);
  EXPECT_EQ(r.bytes(), 0);
  moved = MemoryBudget::Reservation();  // releases
  EXPECT_EQ(budget.reserved_bytes(), 0);
}

// Many threads reserving at once never hold more than the limit together.
TEST(MemoryBudgetTest, ConcurrentReservationsStayWithinTheLimit) {
  MemoryBudget budget(10000);
  std::atomic<int64_t> held{0}, peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto r = budget.Reserve(3000, "x");
        if (!r.ok()) continue;
        const int64_t now = held += 3000;
        int64_t seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        held -= 3000;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(peak.load(), 9000);
  EXPECT_EQ(budget.reserved_bytes(), 0);
}

TEST(MemoryBudgetTest, NoLimitStillCounts) {
  MemoryBudget budget(0);
  auto r = budget.Reserve(int64_t{1} << 40, "x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(budget.reserved_bytes(), int64_t{1} << 40);
}

TEST(StopSignalTest, StopsWhenToldWithCancelled) {
  StopSignal stop;
  stop.StartWork();
  EXPECT_FALSE(stop.ShouldStop());  // no CPU limit
  stop.Stop();
  EXPECT_TRUE(stop.ShouldStop());
  EXPECT_EQ(stop.Reason("tokenizing corpus x").code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(stop.Reason("tokenizing corpus x").message(), "cancelled while tokenizing corpus x");
}

// The CPU limit counts the calling thread's CPU from StartWork, and starts
// again with each piece of work, on whichever thread does it.
TEST(StopSignalTest, StopsAfterTheCpuLimitOfEachPieceOfWork) {
  StopSignal stop(0.02);
  for (int piece = 0; piece < 2; ++piece) {
    // Read before StartWork, so that `used` covers all the work measured.
    const double start = StopSignal::ThreadCpuSeconds();
    stop.StartWork();
    // ShouldStop is opaque to the compiler: the loop stays.
    while (!stop.ShouldStop()) {
    }
    const double used = StopSignal::ThreadCpuSeconds() - start;
    // The CPU clock is read at most every kCpuClockRefreshNanos of wall
    // time: the start may be that much early, the end that much late.
    const double slack = StopSignal::kCpuClockRefreshNanos * 1e-9;
    EXPECT_GE(used, 0.02 - slack);
    EXPECT_LT(used, 0.2);
  }
  // A piece of work started on another thread counts that thread's CPU,
  // not a reading left by this one.
  std::thread([&stop] {
    const double start = StopSignal::ThreadCpuSeconds();
    stop.StartWork();
    while (!stop.ShouldStop()) {
    }
    EXPECT_GE(StopSignal::ThreadCpuSeconds() - start, 0.02 - 0.001);
  }).join();
  const absl::Status reason = stop.Reason("building CONV_ID_1");
  EXPECT_EQ(reason.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(reason.message()),
              HasSubstr("stopped building CONV_ID_1 after 0.02 CPU seconds"));
}

}  // namespace
}  // namespace convgen
