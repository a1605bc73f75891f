// A Generate stream that cannot go on ends with a status naming where, never
// a hang: the server over a real loopback TCP socket, with a max send size
// (the server's, as server_runner sets it from --max-message-bytes) that
// some turn of the stream exceeds, and a limit the core refuses mid-stream.
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/conversation_service.h"

namespace convgen {
namespace {

using ::testing::HasSubstr;

// Messages of varied sizes (a few tokens to 1,500).
constexpr char kConfig[] = R"({"filetype": "generate_conversations", "num_conversations": 50,
    "text_files": ["moby-dick.txt"],
    "prompt_input": {"num_turns": {"distribution": "uniform", "min": 2, "max": 8},
                     "prefix_num_tokens": {"distribution": "constant", "value": 0},
                     "num_tokens": {"distribution": "uniform", "min": 20, "max": 1500}},
    "prompt_output": {"num_tokens": {"distribution": "uniform", "min": 10, "max": 40}}})";

// A turn as the client read it: "conversation CONV_ID_i turn t", its
// conversation's index and the response's size.
struct TurnRead {
  std::string position;
  uint64_t conversation_index = 0;
  size_t bytes = 0;
};

class StreamFailureTest : public ::testing::Test {
 protected:
  void Start(ServiceLimits limits) {
    TearDown();
    if (workspace_ == nullptr) {  // kept: its tokenized corpus serves each server
      WorkspaceOptions options;
      options.data_dir = std::string(CONVGEN_SOURCE_DIR) + "/data";
      workspace_ = *Workspace::Create(options);
    }
    service_ = std::make_unique<ConversationServiceImpl>(workspace_.get(), limits, &metrics_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    if (limits.max_send_message_bytes > 0) {
      builder.SetMaxSendMessageSize(static_cast<int>(limits.max_send_message_bytes));
    }
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = v1::ConversationService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
  }

  // Reads the stream to its end, with a deadline far beyond what it needs
  // (a hang shows as DEADLINE_EXCEEDED); `turns` receives the turns read.
  grpc::Status ReadAll(std::vector<TurnRead>* turns) {
    v1::GenerateRequest request;
    request.set_config_json(kConfig);
    request.set_seed(7);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto reader = stub_->Generate(&context, request);
    v1::GenerateResponse response;
    while (reader->Read(&response)) {
      if (!response.has_turn()) continue;
      const v1::TurnMessage& turn = response.turn();
      turns->push_back(
          {absl::StrCat("conversation ", turn.conversation_id(), " turn ", turn.turn_index()),
           turn.conversation_index(), response.ByteSizeLong()});
    }
    return reader->Finish();
  }

  ServiceMetrics metrics_;
  std::unique_ptr<Workspace> workspace_;
  std::unique_ptr<ConversationServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ConversationService::Stub> stub_;
};

TEST_F(StreamFailureTest, ATurnOverTheMaxSendSizeEndsTheStreamNamingIt) {
  // The whole stream, unlimited; then a send limit that its first turns fit
  // and a later one does not.
  Start(ServiceLimits{});
  std::vector<TurnRead> all;
  ASSERT_TRUE(ReadAll(&all).ok());
  ASSERT_GT(all.size(), 10u);
  size_t limit = 0;
  for (size_t i = 0; i < 4; ++i) limit = std::max(limit, all[i].bytes);
  const auto too_large =
      std::find_if(all.begin(), all.end(), [limit](const TurnRead& t) { return t.bytes > limit; });
  ASSERT_NE(too_large, all.end()) << "no turn larger than the first ones; change the seed";

  ServiceLimits limits;
  limits.max_send_message_bytes = static_cast<int64_t>(limit);
  Start(limits);
  std::vector<TurnRead> read;
  const grpc::Status status = ReadAll(&read);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL) << status.error_message();
  // Every turn before the too large one, then a status naming it.
  EXPECT_EQ(read.size(), static_cast<size_t>(too_large - all.begin()));
  EXPECT_THAT(
      status.error_message(),
      HasSubstr(absl::StrCat(too_large->position, ": its message of ", too_large->bytes,
                             " bytes cannot be sent (over the server's max send size of ", limit,
                             " bytes); resume with start_index ", too_large->conversation_index)));
}

TEST_F(StreamFailureTest, ACoreErrorMidStreamEndsTheStreamNamingTheConversation) {
  ServiceLimits limits;
  limits.max_messages_per_conversation = 6;  // some conversations have 8
  Start(limits);
  std::vector<TurnRead> read;
  const grpc::Status status = ReadAll(&read);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_FALSE(read.empty());  // mid-stream, not refused up front
  EXPECT_THAT(status.error_message(), HasSubstr("CONV_ID_"));
  EXPECT_THAT(status.error_message(), HasSubstr("over the limit of 6"));
}

}  // namespace
}  // namespace convgen
