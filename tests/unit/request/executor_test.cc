#include "core/request/executor.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"

namespace convgen {
namespace {

TEST(ExecutorTest, OneThreadRunsTasksInTheOrderSubmitted) {
  std::vector<int> order;
  {
    Executor executor(1);
    for (int i = 0; i < 100; ++i) executor.Submit([&order, i] { order.push_back(i); });
  }  // the destructor runs what is queued, then joins
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

// A task that blocks one thread leaves the others to the rest: the point of
// the executor (one slow request must not hold back another).
TEST(ExecutorTest, ABlockedTaskDoesNotHoldBackTheOtherThreads) {
  std::mutex mutex;
  std::condition_variable changed;
  bool release = false;
  std::atomic<int> done{0};
  {
    Executor executor(2);
    EXPECT_EQ(executor.threads(), 2);
    executor.Submit([&] {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] { return release; });
    });
    for (int i = 0; i < 50; ++i) {
      executor.Submit([&] {
        {
          std::lock_guard<std::mutex> lock(mutex);
          ++done;
        }
        changed.notify_all();
      });
    }
    std::unique_lock<std::mutex> lock(mutex);
    const bool all_done =
        changed.wait_for(lock, std::chrono::seconds(30), [&] { return done == 50; });
    EXPECT_TRUE(all_done) << done << " of 50 ran while one task blocked";
    release = true;
    lock.unlock();
    changed.notify_all();
  }
  EXPECT_EQ(done, 50);
}

TEST(ExecutorTest, AtLeastOneThread) { EXPECT_EQ(Executor(0).threads(), 1); }

}  // namespace
}  // namespace convgen
