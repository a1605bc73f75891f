// StreamGuard on a real ClientContext (no call: TryCancel before a call is
// allowed): the idle limit counts only the time spent waiting for a message,
// and SIGINT/SIGTERM are caught, recorded and undone with the guard.
#include "client/stream_guard.h"

#include <signal.h>

#include <chrono>
#include <thread>

#include "gtest/gtest.h"

namespace convgen {
namespace {

using std::chrono::milliseconds;

// Polls `predicate` for up to 10 s (a loaded CI machine), then answers it.
template <class P>
bool Eventually(P predicate) {
  for (int i = 0; i < 1000 && !predicate(); ++i) std::this_thread::sleep_for(milliseconds(10));
  return predicate();
}

TEST(StreamGuardTest, WaitingLongerThanTheLimitCancels) {
  grpc::ClientContext context;
  StreamGuard guard(&context, 0.2);
  guard.Waiting();
  EXPECT_TRUE(Eventually([&] { return guard.idle(); }));
  EXPECT_EQ(guard.signal(), 0);
}

TEST(StreamGuardTest, HandlingAMessageDoesNotCountAsIdle) {
  grpc::ClientContext context;
  StreamGuard guard(&context, 0.2);
  guard.Handling();  // e.g. blocked writing to a slow pipe
  std::this_thread::sleep_for(milliseconds(1000));
  EXPECT_FALSE(guard.idle());
  guard.Waiting();
  EXPECT_TRUE(Eventually([&] { return guard.idle(); }));
}

TEST(StreamGuardTest, ZeroMeansNoLimit) {
  grpc::ClientContext context;
  StreamGuard guard(&context, 0);
  guard.Waiting();
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_FALSE(guard.idle());
}

TEST(StreamGuardTest, SigintAndSigtermAreCaughtAndTheHandlersRestored) {
  for (const int signo : {SIGINT, SIGTERM}) {
    struct sigaction before;
    sigaction(signo, nullptr, &before);
    {
      grpc::ClientContext context;
      StreamGuard guard(&context, 0);
      raise(signo);
      EXPECT_TRUE(Eventually([&] { return guard.signal() == signo; })) << signo;
      EXPECT_FALSE(guard.idle());
    }
    struct sigaction after;
    sigaction(signo, nullptr, &after);
    EXPECT_EQ(after.sa_handler, before.sa_handler) << signo;
  }
}

}  // namespace
}  // namespace convgen
