// The service in-process: real gRPC over an in-process channel, real
// tokenizer and corpus.
#include "server/conversation_service.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/config/config_json.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/conversations.h"

namespace convgen {
namespace {

using ::testing::HasSubstr;

const char kConfig[] = R"({"filetype": "generate_conversations", "num_conversations": 12,
    "text_files": ["moby-dick.txt"],
    "prompt_input": {"num_turns": {"distribution": "uniform", "min": 2, "max": 6},
                     "common_prefix_num_tokens": {"distribution": "constant", "value": 20},
                     "prefix_num_tokens": {"distribution": "lognormal", "average": 40},
                     "num_tokens": {"distribution": "uniform", "min": 20, "max": 40}},
    "prompt_output": {"num_tokens": {"distribution": "uniform", "min": 10, "max": 30}}})";

std::string WithConversations(int64_t n) {
  std::string json = kConfig;
  json.replace(json.find("\"num_conversations\": 12"), 23,
               "\"num_conversations\": " + std::to_string(n));
  return json;
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(ServiceLimits{}); }

  void Start(ServiceLimits limits) {
    server_.reset();
    service_.reset();  // before the workspace it borrows
    WorkspaceOptions options;
    options.data_dir = std::string(CONVGEN_SOURCE_DIR) + "/data";
    options.corpus_dir = std::string(CONVGEN_SOURCE_DIR) + "/tests/fixtures/vllm";
    workspace_ = *Workspace::Create(options);
    service_ = std::make_unique<ConversationServiceImpl>(workspace_.get(), limits, &metrics_);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    stub_ = v1::ConversationService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  v1::GenerateRequest Request(const std::string& json, uint64_t seed = 3) {
    v1::GenerateRequest request;
    request.set_config_json(json);
    request.set_seed(seed);
    return request;
  }

  // Reads a whole stream; returns its status.
  grpc::Status ReadAll(const v1::GenerateRequest& request, std::vector<v1::GenerateResponse>* out) {
    grpc::ClientContext context;
    auto reader = stub_->Generate(&context, request);
    v1::GenerateResponse response;
    while (reader->Read(&response)) out->push_back(response);
    return reader->Finish();
  }

  ServiceMetrics metrics_;
  std::unique_ptr<Workspace> workspace_;
  std::unique_ptr<ConversationServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ConversationService::Stub> stub_;
};

TEST_F(ServiceTest, FullStreamEqualsTheCoresOutput) {
  std::vector<v1::GenerateResponse> responses;
  ASSERT_TRUE(ReadAll(Request(kConfig), &responses).ok());
  const Tokenizer& qwen3 = testing::SharedTestTokenizer("qwen3");
  const testing::Run core = testing::Generate(testing::SpecFromJsonOrDie(kConfig), {.seed = 3},
                                              testing::DefaultCorpus("qwen3"), qwen3);
  size_t turn = 0, starts = 0, ends = 0;
  for (const auto& r : responses) {
    if (r.has_conversation_start()) {
      ++starts;
      EXPECT_EQ(r.conversation_start().conversation_id(), core.messages[turn].conversation_id);
    } else if (r.has_turn()) {
      ASSERT_LT(turn, core.messages.size());
      const Message& expected = core.messages[turn++];
      EXPECT_EQ(r.turn().content(), expected.content);
      EXPECT_EQ(r.turn().num_tokens(), expected.num_tokens);
      EXPECT_EQ(r.turn().turn_index(), expected.message_index);
      EXPECT_EQ(r.turn().max_tokens(), expected.max_tokens);
      EXPECT_EQ(r.turn().role(), expected.role == Role::kUser ? v1::ROLE_USER : v1::ROLE_ASSISTANT);
    } else if (r.has_conversation_end()) {
      ++ends;
    }
  }
  EXPECT_EQ(turn, core.messages.size());
  EXPECT_EQ(starts, 12u);
  EXPECT_EQ(ends, 12u);
  ASSERT_TRUE(responses.back().has_summary());
  EXPECT_EQ(responses.back().summary().conversations(), 12);
  EXPECT_EQ(responses.back().summary().user_tokens(), core.summary.user_tokens);
  EXPECT_EQ(responses.back().summary().next_conversation_index(), 12u);
}

TEST_F(ServiceTest, RequestRngNumpyLegacyGivesVllmsSizes) {
  // vLLM's sizes for the reference config and seed 42, from numpy itself.
  const auto fixture = nlohmann::json::parse(
      testing::ReadSourceFile("tests/fixtures/numpy_legacy/generate_multi_turn.json"));
  const nlohmann::json* run = nullptr;
  for (const auto& r : fixture["runs"]) {
    if (r["seed"] == 42) run = &r;
  }
  ASSERT_NE(run, nullptr);
  nlohmann::json config = fixture["config"];
  config["text_files"] = {"moby-dick.txt"};
  v1::GenerateRequest request = Request(config.dump(), 42);
  request.set_rng(v1::RNG_NUMPY_LEGACY);
  std::vector<v1::GenerateResponse> responses;
  ASSERT_TRUE(ReadAll(request, &responses).ok());
  int64_t assistant_turns = 0;
  for (const auto& r : responses) {
    if (!r.has_turn() || r.turn().role() != v1::ROLE_ASSISTANT) continue;
    const auto& t = r.turn();
    const auto& output = (*run)["conversations"][t.conversation_index()]["output"];
    EXPECT_EQ(t.num_turns(), (*run)["num_turns"][t.conversation_index()].get<int64_t>());
    EXPECT_EQ(t.max_tokens(), output[t.turn_index()].get<int64_t>());
    ++assistant_turns;
  }
  EXPECT_GT(assistant_turns, 100);
  // The same through the config's own field; a seed numpy cannot take is refused.
  config["rng"] = "numpy_legacy";
  std::vector<v1::GenerateResponse> again;
  ASSERT_TRUE(ReadAll(Request(config.dump(), 42), &again).ok());
  ASSERT_EQ(again.size(), responses.size());
  for (size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].SerializeAsString(), responses[i].SerializeAsString());
  }
  std::vector<v1::GenerateResponse> none;
  const grpc::Status status = ReadAll(Request(config.dump(), 1ull << 32), &none);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("takes seeds below 2^32"));
}

TEST_F(ServiceTest, ValidateReportsConvgensOwnFields) {
  nlohmann::json config = nlohmann::json::parse(kConfig);
  config["rng"] = "numpy_legacy";
  config["prompt_input"]["think_time_ms"] = {{"distribution", "exponential"}, {"mean", 900}};
  config["prompt_input"]["prefix_groups"] = {
      {"num_groups", 3}, {"prefix_num_tokens", {{"distribution", "constant"}, {"value", 64}}}};
  config["prompt_output"]["first_turn_num_tokens"] = {
      {"distribution", "empirical"}, {"values", {5, 9}}, {"weights", {1, 3}}};
  grpc::ClientContext context;
  v1::ValidateResponse response;
  ASSERT_TRUE(stub_->Validate(&context, Request(config.dump()), &response).ok());
  ASSERT_TRUE(response.valid());
  EXPECT_EQ(response.normalized_config().rng(), v1::RNG_NUMPY_LEGACY);
  EXPECT_EQ(response.normalized_config().prompt_input().prefix_groups().num_groups(), 3);
  const nlohmann::json normalized = nlohmann::json::parse(response.normalized_config_json());
  EXPECT_EQ(normalized["rng"], "numpy_legacy");
  EXPECT_EQ(normalized["prompt_input"]["think_time_ms"], config["prompt_input"]["think_time_ms"]);
  EXPECT_EQ(normalized["prompt_input"]["prefix_groups"]["popularity"], "uniform");
  EXPECT_EQ(normalized["prompt_output"]["first_turn_num_tokens"],
            config["prompt_output"]["first_turn_num_tokens"]);
}

TEST_F(ServiceTest, TypedConfigAndInlineCorpus) {
  v1::GenerateRequest request;
  ConfigErrors errors;
  *request.mutable_config() = ConfigFromJson(kConfig, errors);
  auto* corpus = request.add_inline_corpus();
  corpus->set_name("mine.txt");
  corpus->set_text(testing::ReadSourceFile("data/corpus/moby-dick.txt").substr(0, 50000));
  std::vector<v1::GenerateResponse> responses;
  ASSERT_TRUE(ReadAll(request, &responses).ok());
  const Tokenizer& qwen3 = testing::SharedTestTokenizer("qwen3");
  int turns = 0;
  for (const auto& r : responses) {
    if (!r.has_turn()) continue;
    ++turns;
    EXPECT_EQ(static_cast<int64_t>(qwen3.Count(r.turn().content())), r.turn().num_tokens());
  }
  EXPECT_GT(turns, 24);
}

TEST_F(ServiceTest, ValidateAnswersWithSizesOrEveryProblem) {
  grpc::ClientContext context;
  v1::ValidateResponse response;
  v1::GenerateRequest request = Request(kConfig);
  request.mutable_shard()->set_index(1);
  request.mutable_shard()->set_count(5);
  ASSERT_TRUE(stub_->Validate(&context, request, &response).ok());
  EXPECT_TRUE(response.valid());
  EXPECT_EQ(response.conversations(), 3);  // 1, 6, 11
  EXPECT_EQ(response.common_prefix_tokens(), 20);
  EXPECT_EQ(response.tokenizer(), "qwen3");
  EXPECT_EQ(response.corpus_tokens(), 299011);
  EXPECT_THAT(response.normalized_config_json(), HasSubstr("\"common_prefix_num_tokens\""));

  grpc::ClientContext bad_context;
  v1::ValidateResponse bad;
  std::string json = kConfig;
  json.replace(json.find("\"min\": 2, \"max\": 6"), 18, "\"min\": 6, \"max\": 2");
  json.replace(json.find("\"num_conversations\": 12"), 23, "\"num_conversations\": -1");
  ASSERT_TRUE(stub_->Validate(&bad_context, Request(json), &bad).ok());
  EXPECT_FALSE(bad.valid());
  ASSERT_EQ(bad.problems_size(), 2);
  EXPECT_EQ(bad.problems(0).path(), "num_conversations");
  EXPECT_EQ(bad.problems(1).path(), "prompt_input.num_turns");
  EXPECT_EQ(bad.problems(1).message(), "uniform max must be >= min (2 < 6)");
}

TEST_F(ServiceTest, BadConfigIsInvalidArgumentWithPaths) {
  std::vector<v1::GenerateResponse> responses;
  const grpc::Status status = ReadAll(Request(R"({"filetype": "x"})"), &responses);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("num_conversations: missing required field"));
  EXPECT_THAT(status.error_message(), HasSubstr("filetype: must be \"generate_conversations\""));
}

TEST_F(ServiceTest, UnknownTokenizerAndCorpusAreNotFoundListingWhatExists) {
  v1::GenerateRequest request = Request(kConfig);
  request.set_tokenizer("gpt-5");
  std::vector<v1::GenerateResponse> responses;
  grpc::Status status = ReadAll(request, &responses);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(),
              HasSubstr("unknown tokenizer \"gpt-5\"; this server has: qwen3"));

  std::string json = kConfig;
  json.replace(json.find("moby-dick.txt"), 13, "war-and-peace.txt");
  status = ReadAll(Request(json), &responses);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(),
              HasSubstr("text_files[0] \"war-and-peace.txt\": no such corpus"));
  EXPECT_THAT(status.error_message(), HasSubstr("generate_multi_turn.json, "));
}

TEST_F(ServiceTest, PathsOutsideTheCorpusDirectoryAreRefused) {
  for (const char* name : {"../vllm/generate_multi_turn.json", "/etc/passwd", "a/../../b"}) {
    std::string json = kConfig;
    json.replace(json.find("moby-dick.txt"), 13, name);
    std::vector<v1::GenerateResponse> responses;
    const grpc::Status status = ReadAll(Request(json), &responses);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name;
    EXPECT_THAT(status.error_message(), HasSubstr("relative to the server's corpus directory"));
  }
}

TEST_F(ServiceTest, LimitsAreResourceExhausted) {
  ServiceLimits limits;
  limits.max_conversations_per_request = 5;
  limits.max_inline_corpus_bytes = 100;
  Start(limits);
  std::vector<v1::GenerateResponse> responses;
  grpc::Status status = ReadAll(Request(kConfig), &responses);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              HasSubstr("num_conversations 12 is over this server's limit of 5"));

  v1::GenerateRequest request = Request(WithConversations(2));
  request.add_inline_corpus()->set_text(std::string(200, 'a'));
  status = ReadAll(request, &responses);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("inline corpus has 200 bytes"));
}

TEST_F(ServiceTest, NonUtf8InlineCorpusIsRefusedWithTheByteOffset) {
  v1::GenerateRequest request = Request(kConfig);
  auto* corpus = request.add_inline_corpus();
  corpus->set_name("latin1.txt");
  corpus->set_text("caf\xE9 au lait");
  std::vector<v1::GenerateResponse> responses;
  const grpc::Status status = ReadAll(request, &responses);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("corpus latin1.txt: invalid UTF-8 at byte offset 3"));
}

TEST_F(ServiceTest, CancelledStreamStopsGenerating) {
  const int64_t before = service_->conversations_generated();
  grpc::ClientContext context;
  auto reader = stub_->Generate(&context, Request(WithConversations(100000)));
  v1::GenerateResponse response;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(reader->Read(&response));
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // Give the server a moment: nothing more may be generated.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const int64_t generated = service_->conversations_generated() - before;
  EXPECT_LT(generated, 20) << "the server went on generating after the cancel";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(service_->conversations_generated() - before, generated);
  EXPECT_EQ(service_->active_streams(), 0);
}

TEST_F(ServiceTest, DeadlineEndsTheStream) {
  {  // Warm the corpus cache, so that the deadline falls mid-stream.
    grpc::ClientContext warm;
    v1::ValidateResponse response;
    ASSERT_TRUE(stub_->Validate(&warm, Request(kConfig), &response).ok());
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  auto reader = stub_->Generate(&context, Request(WithConversations(1000000)));
  v1::GenerateResponse response;
  int64_t read = 0;
  while (reader->Read(&response)) ++read;
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_GT(read, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int64_t after = service_->conversations_generated();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(service_->conversations_generated(), after);
  EXPECT_LT(after, 1000000);
}

// The events of a stream's messages, a batch's in order, serialized.
std::vector<std::string> Events(const std::vector<v1::GenerateResponse>& messages) {
  std::vector<std::string> events;
  for (const auto& m : messages) {
    if (m.has_batch()) {
      for (const auto& e : m.batch().events()) events.push_back(e.SerializeAsString());
    } else {
      events.push_back(m.SerializeAsString());
    }
  }
  return events;
}

TEST_F(ServiceTest, BatchedStreamCarriesTheUnbatchedEventsInOrder) {
  std::vector<v1::GenerateResponse> plain;
  ASSERT_TRUE(ReadAll(Request(WithConversations(60)), &plain).ok());
  v1::GenerateRequest request = Request(WithConversations(60));
  request.set_max_batch_bytes(4096);
  // A reader that pauses: events pile up while a write is in flight.
  grpc::ClientContext context;
  auto reader = stub_->Generate(&context, request);
  std::vector<v1::GenerateResponse> batched;
  v1::GenerateResponse response;
  while (reader->Read(&response)) {
    batched.push_back(response);
    if (batched.size() % 8 == 1) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(reader->Finish().ok());
  int batches = 0;
  for (const auto& m : plain) EXPECT_FALSE(m.has_batch());
  for (const auto& m : batched) {
    if (!m.has_batch()) continue;
    ++batches;
    EXPECT_GE(m.batch().events_size(), 2);
    EXPECT_LE(m.ByteSizeLong(), 4096u);
  }
  EXPECT_GT(batches, 0);
  EXPECT_EQ(Events(batched), Events(plain));
}

TEST_F(ServiceTest, CancelledBatchedStreamEnds) {
  v1::GenerateRequest request = Request(WithConversations(100000));
  request.set_max_batch_bytes(65536);
  grpc::ClientContext context;
  auto reader = stub_->Generate(&context, request);
  v1::GenerateResponse response;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(reader->Read(&response));
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  for (int i = 0; i < 100 && service_->active_streams() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(service_->active_streams(), 0);
  const int64_t generated = service_->conversations_generated();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(service_->conversations_generated(), generated);
}

TEST_F(ServiceTest, DescribeListsTokenizersCorporaAndLimits) {
  grpc::ClientContext context;
  v1::DescribeResponse response;
  ASSERT_TRUE(stub_->Describe(&context, v1::DescribeRequest(), &response).ok());
  ASSERT_EQ(response.tokenizers_size(), 1);
  EXPECT_EQ(response.tokenizers(0).name(), "qwen3");
  EXPECT_TRUE(response.tokenizers(0).is_default());
  EXPECT_THAT(std::vector<std::string>(response.corpora().begin(), response.corpora().end()),
              ::testing::Contains("moby-dick.txt"));
  EXPECT_EQ(response.limits().max_concurrent_streams(), 256);
  EXPECT_EQ(response.limits().max_batch_bytes(), 65536);
}

}  // namespace
}  // namespace convgen
