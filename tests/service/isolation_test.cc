// One slow request must not delay another: the server over a real loopback
// TCP socket, a request whose preparation (a large inline corpus to
// tokenize) or whose conversation build (a corpus of one repeated
// character, where exact cuts need long searches) takes seconds, and a small
// request whose time to first message is measured while it runs. Before the
// executor, both ran on gRPC's callback threads and the small request
// waited behind them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/conversation_service.h"
#include "tests/testing/files.h"

namespace convgen {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kSmall[] = R"({"filetype": "generate_conversations", "num_conversations": 1,
    "text_files": ["moby-dick.txt"],
    "prompt_input": {"num_turns": {"distribution": "constant", "value": 2},
                     "prefix_num_tokens": {"distribution": "constant", "value": 0},
                     "num_tokens": {"distribution": "constant", "value": 40}},
    "prompt_output": {"num_tokens": {"distribution": "constant", "value": 20}}})";

class IsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WorkspaceOptions options;
    options.data_dir = std::string(CONVGEN_SOURCE_DIR) + "/data";
    workspace_ = *Workspace::Create(options);
    ServiceLimits limits;
    limits.worker_threads = 2;
    service_ = std::make_unique<ConversationServiceImpl>(workspace_.get(), limits, &metrics_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    builder.SetMaxReceiveMessageSize(64 << 20);
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(-1);
    channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                         grpc::InsecureChannelCredentials(), args);
    stub_ = v1::ConversationService::NewStub(channel_);
    // Warm up: the default corpus is tokenized once, on first use.
    EXPECT_GT(TimeToFirstMessage(), 0);
  }

  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now()); }

  // Seconds from sending the small request to its first message.
  double TimeToFirstMessage() {
    v1::GenerateRequest request;
    request.set_config_json(kSmall);
    grpc::ClientContext context;
    const auto start = Clock::now();
    auto reader = stub_->Generate(&context, request);
    v1::GenerateResponse response;
    const bool got = reader->Read(&response);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_TRUE(got);
    context.TryCancel();
    while (reader->Read(&response)) {
    }
    reader->Finish();
    return got ? seconds : -1;
  }

  double MedianTimeToFirstMessage(int samples) {
    std::vector<double> times;
    for (int i = 0; i < samples; ++i) times.push_back(TimeToFirstMessage());
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
  }

  // Runs `request` on its own thread until it ends or is cancelled.
  struct Background {
    grpc::ClientContext context;
    grpc::Status status;
    std::atomic<int64_t> responses{0};
    std::atomic<bool> done{false};
    std::thread thread;
  };
  std::unique_ptr<Background> StartInBackground(v1::GenerateRequest request) {
    auto background = std::make_unique<Background>();
    Background* b = background.get();
    b->thread = std::thread([this, b, request] {
      auto reader = stub_->Generate(&b->context, request);
      v1::GenerateResponse response;
      while (reader->Read(&response)) ++b->responses;
      b->status = reader->Finish();
      b->done = true;
    });
    return background;
  }

  // The slow request is still running after the measurement, and ends
  // promptly (CANCELLED) when its client cancels it.
  void CheckStillRunningThenCancel(Background& slow) {
    EXPECT_FALSE(slow.done) << "the slow request ended before the measurement";
    const auto cancelled_at = Clock::now();
    slow.context.TryCancel();
    slow.thread.join();
    EXPECT_EQ(slow.status.error_code(), grpc::StatusCode::CANCELLED) << slow.status.error_message();
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - cancelled_at).count(), 5.0);
  }

  // Sleeps until the slow request has been running for a moment.
  void LetItStart() { std::this_thread::sleep_for(std::chrono::milliseconds(300)); }

  ServiceMetrics metrics_;
  std::unique_ptr<Workspace> workspace_;
  std::unique_ptr<ConversationServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ConversationService::Stub> stub_;
};

// The bound: 2x the idle median, plus 20 ms for the scheduling noise of a
// 2-core machine at millisecond times (the idle median is a few ms).
void ExpectWithinTwice(double loaded, double idle) {
  std::printf("time to first message: idle %.1f ms, loaded %.1f ms\n", idle * 1e3, loaded * 1e3);
  EXPECT_LE(loaded, 2 * idle + 0.020) << "idle " << idle << " s, loaded " << loaded << " s";
}

// A request whose first message needs a long search for an exact cut.
v1::GenerateRequest SlowBuild() {
  v1::GenerateRequest slow;
  slow.set_config_json(R"({"filetype": "generate_conversations", "num_conversations": 1,
    "text_files": ["bangs.txt"],
      "prompt_input": {"num_turns": {"distribution": "constant", "value": 2},
                       "prefix_num_tokens": {"distribution": "constant", "value": 0},
                       "num_tokens": {"distribution": "constant", "value": 30001}},
      "prompt_output": {"num_tokens": {"distribution": "constant", "value": 1}}})");
  auto* corpus = slow.add_inline_corpus();
  corpus->set_name("bangs.txt");
  corpus->set_text(std::string(200000, '!'));
  return slow;
}

TEST_F(IsolationTest, ASlowConversationBuildDoesNotDelayAnotherStream) {
  const double idle = MedianTimeToFirstMessage(9);
  auto background = StartInBackground(SlowBuild());
  LetItStart();
  const double loaded = MedianTimeToFirstMessage(9);
  ExpectWithinTwice(loaded, idle);
  EXPECT_EQ(background->responses, 0) << "the slow request was not slow";
  CheckStillRunningThenCancel(*background);
}

// More slow requests than the pool's first threads (2): the pool grows, so
// the small request shares the cores with them instead of waiting for one
// to end (it would wait for seconds: they end only when cancelled).
TEST_F(IsolationTest, MoreSlowRequestsThanThreadsDoNotBlockAnotherStream) {
  std::vector<std::unique_ptr<Background>> slow;
  for (int i = 0; i < 3; ++i) slow.push_back(StartInBackground(SlowBuild()));
  LetItStart();
  const double loaded = MedianTimeToFirstMessage(5);
  std::printf("time to first message beside 3 slow requests: %.1f ms\n", loaded * 1e3);
  EXPECT_LT(loaded, 2.0);
  for (auto& background : slow) {
    EXPECT_FALSE(background->done) << "a slow request ended before the measurement";
    background->context.TryCancel();
  }
  for (auto& background : slow) {
    background->thread.join();
    EXPECT_EQ(background->status.error_code(), grpc::StatusCode::CANCELLED);
  }
}

TEST_F(IsolationTest, ASlowPreparationDoesNotDelayAnotherStream) {
  const double idle = MedianTimeToFirstMessage(9);
  // 8 MB of varied text (the default corpus, renumbered per copy so that
  // no cache can help): seconds of tokenization.
  const std::string moby = testing::ReadSourceFile("data/corpus/moby-dick.txt");
  std::string text;
  for (int copy = 0; text.size() < (8u << 20); ++copy) absl::StrAppend(&text, copy, " ", moby);
  v1::GenerateRequest slow;
  slow.set_config_json(kSmall);
  auto* corpus = slow.add_inline_corpus();
  corpus->set_name("big.txt");
  corpus->set_text(std::move(text));
  auto background = StartInBackground(slow);
  LetItStart();
  const double loaded = MedianTimeToFirstMessage(9);
  ExpectWithinTwice(loaded, idle);
  EXPECT_EQ(background->responses, 0) << "the slow request was not slow";
  background->thread.join();  // tokenization is not cancellable yet: let it end
  EXPECT_TRUE(background->status.ok()) << background->status.error_message();
}

}  // namespace
}  // namespace convgen
