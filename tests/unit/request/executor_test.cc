#include "core/request/executor.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"

namespace convgen {
namespace {

TEST(ExecutorTest, OneThreadRunsTasksInTheOrderSubmitted) {
  std::vector<int> order;
  {
    Executor executor(1, 1);
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
    Executor executor(2, 2);
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

TEST(ExecutorTest, AtLeastOneThread) { EXPECT_EQ(Executor(0, 0).threads(), 1); }

// Its threads run worker_nice steps nicer than the thread that made it.
TEST(ExecutorTest, WorkersRunAtTheirNiceValue) {
  const int caller = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  std::promise<int> seen;
  {
    Executor executor(1, 1, /*worker_nice=*/5);
    executor.Submit(
        [&] { seen.set_value(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()))); });
  }
  EXPECT_EQ(seen.get_future().get(), std::min(caller + 5, 19));
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())), caller);
}

// Tasks that block every thread do not queue the next one: the pool grows
// (up to its maximum), so a task submitted behind three blocked ones runs.
TEST(ExecutorTest, ThePoolGrowsWhileEveryThreadIsBusy) {
  std::mutex mutex;
  std::condition_variable changed;
  bool release = false;
  bool ran = false;
  {
    Executor executor(1, 8);
    for (int i = 0; i < 3; ++i) {
      executor.Submit([&] {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return release; });
      });
    }
    executor.Submit([&] {
      {
        std::lock_guard<std::mutex> lock(mutex);
        ran = true;
      }
      changed.notify_all();
    });
    std::unique_lock<std::mutex> lock(mutex);
    EXPECT_TRUE(changed.wait_for(lock, std::chrono::seconds(30), [&] { return ran; }))
        << "a task waited behind blocked ones";
    // At least one per task running; a thread just started may not yet count
    // as idle, so a submit can start one more than needed (never past 8).
    EXPECT_GE(executor.threads(), 4);
    EXPECT_LE(executor.threads(), 8);
    release = true;
    lock.unlock();
    changed.notify_all();
  }
  EXPECT_TRUE(ran);
}

// At the maximum, tasks wait for a thread, and all of them run.
TEST(ExecutorTest, AtTheMaximumTasksWaitAndAllRun) {
  std::atomic<int> done{0};
  {
    Executor executor(1, 2);
    for (int i = 0; i < 200; ++i) executor.Submit([&] { ++done; });
    EXPECT_LE(executor.threads(), 2);
  }
  EXPECT_EQ(done, 200);
}

}  // namespace
}  // namespace convgen
