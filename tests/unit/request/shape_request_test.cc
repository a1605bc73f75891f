// A request with a shape_source: the file sent with it or found in the
// corpus directory, its summary in the job, the shape kept for the next
// request, and the errors a person can act on.
#include <memory>
#include <string>

#include "core/request/generation_request.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/conversations.h"
#include "tests/testing/files.h"

namespace convgen {
namespace {

using ::testing::HasSubstr;

// One workspace for the file's tests: the corpus is tokenized once.
Workspace& ShapeWorkspace() {
  static Workspace* const workspace = [] {
    WorkspaceOptions options;
    options.data_dir = std::string(CONVGEN_SOURCE_DIR) + "/data";
    options.corpus_dir = std::string(CONVGEN_SOURCE_DIR) + "/examples/shapes";
    auto created = Workspace::Create(options);
    EXPECT_TRUE(created.ok()) << created.status();
    return created->release();
  }();
  return *workspace;
}

std::string Config(const std::string& format, const std::string& path, int64_t n = 5) {
  return R"({"filetype": "generate_conversations", "num_conversations": )" + std::to_string(n) +
         R"(, "text_files": ["moby-dick.txt"], "shape_source": {"format": ")" + format +
         R"(", "path": ")" + path + R"("}})";
}

TEST(ShapeRequestTest, ReadsTheServersFileOnceAndSummarizesIt) {
  Workspace* workspace = &ShapeWorkspace();
  GenerationRequest request;
  request.config_json = Config("sharegpt", "sharegpt_sample.json");
  const int64_t reads = workspace->shapes_read();
  auto job = PrepareGeneration(*workspace, request, RequestLimits());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_THAT((*job)->shape_summary(),
              HasSubstr("sharegpt file sharegpt_sample.json: 30 conversations"));
  EXPECT_THAT((*job)->shape_summary(), HasSubstr("dropped 3 system"));
  EXPECT_THAT((*job)->normalized_config_json(), HasSubstr("\"shape_source\""));
  EXPECT_THAT((*job)->normalized_config_json(), ::testing::Not(HasSubstr("prompt_input")));
  EXPECT_EQ(workspace->shapes_read(), reads + 1);
  auto stream = (*job)->OpenStream();
  ASSERT_TRUE(stream.ok());
  const testing::Run run = testing::Drain(**stream);
  ASSERT_TRUE(run.status.ok()) << run.status;
  EXPECT_EQ(run.summary.conversations, 5);

  // The same file and tokenizer: measured once.
  auto again = PrepareGeneration(*workspace, request, RequestLimits());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(workspace->shapes_read(), reads + 1);
  EXPECT_EQ((*again)->shape_summary(), (*job)->shape_summary());
}

TEST(ShapeRequestTest, ASentFileWinsOverTheServersAndIsKeyedByContent) {
  Workspace* workspace = &ShapeWorkspace();
  const std::string trace =
      "{\"timestamp\": 0, \"input_length\": 30, \"output_length\": 4, \"hash_ids\": [7]}\n"
      "{\"timestamp\": 500, \"input_length\": 20, \"output_length\": 6}\n";
  GenerationRequest request;
  request.config_json = Config("mooncake", "mooncake_sample.jsonl", 4);
  request.inline_shape = {"mooncake_sample.jsonl", trace};
  auto job = PrepareGeneration(*workspace, request, RequestLimits());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_THAT((*job)->shape_summary(), HasSubstr("mooncake_sample.jsonl: 2 requests"));
  auto stream = (*job)->OpenStream();
  ASSERT_TRUE(stream.ok());
  const testing::Run run = testing::Drain(**stream);
  ASSERT_TRUE(run.status.ok()) << run.status;
  ASSERT_EQ(run.messages.size(), 8u);
  EXPECT_EQ(run.messages[0].num_tokens, 30);
  EXPECT_EQ(run.messages[3].num_tokens, 6);
  EXPECT_EQ(std::get<ConversationStart>(run.events[4]).arrival_ms, 500);
  // Past the end: one period (span 500 + mean gap 500) later.
  EXPECT_EQ(std::get<ConversationStart>(run.events[8]).arrival_ms, 1000);
  EXPECT_EQ(std::get<ConversationStart>(run.events[12]).arrival_ms, 1500);
}

absl::Status Refusal(const GenerationRequest& request, Workspace& workspace) {
  auto job = PrepareGeneration(workspace, request, RequestLimits());
  EXPECT_FALSE(job.ok());
  return job.ok() ? absl::OkStatus() : job.status();
}

TEST(ShapeRequestTest, BadFilesAndNamesAreRefusedWithTheirPlace) {
  Workspace* workspace = &ShapeWorkspace();
  GenerationRequest request;
  request.config_json = Config("mooncake", "missing.jsonl");
  absl::Status status = Refusal(request, *workspace);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("shape_source.path \"missing.jsonl\": no such corpus"));

  request.inline_shape = {"other.jsonl", "{}"};
  status = Refusal(request, *workspace);
  EXPECT_THAT(status.message(), HasSubstr("inline_shape is named \"other.jsonl\""));

  request.inline_shape = {"missing.jsonl", "{\"input_length\": 3}\n"};
  status = Refusal(request, *workspace);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(),
              HasSubstr("shape_source.path \"missing.jsonl\": line 1: output_length: missing"));

  // A ShareGPT reader given a trace.
  request.config_json = Config("sharegpt", "mooncake_sample.jsonl");
  request.inline_shape = {};
  status = Refusal(request, *workspace);
  EXPECT_THAT(status.message(), HasSubstr("shape_source.path \"mooncake_sample.jsonl\": "));

  // A shape file without a shape_source.
  request.config_json =
      R"({"filetype": "generate_conversations", "num_conversations": 1, "text_files": ["moby-dick.txt"],
          "prompt_input": {"num_turns": {"distribution": "constant", "value": 2},
                           "prefix_num_tokens": {"distribution": "constant", "value": 0},
                           "num_tokens": {"distribution": "constant", "value": 5}},
          "prompt_output": {"num_tokens": {"distribution": "constant", "value": 5}}})";
  request.inline_shape = {"a.jsonl", "x"};
  status = Refusal(request, *workspace);
  EXPECT_THAT(status.message(), HasSubstr("no shape_source"));
}

TEST(ShapeRequestTest, SizesOverTheServersLimitsAreRefusedBeforeBuilding) {
  Workspace* workspace = &ShapeWorkspace();
  GenerationRequest request;
  request.config_json = Config("mooncake", "big.jsonl", 1);
  request.inline_shape = {"big.jsonl", "{\"input_length\": 900000000, \"output_length\": 1}"};
  auto job = PrepareGeneration(*workspace, request, RequestLimits());
  ASSERT_TRUE(job.ok()) << job.status();
  auto stream = (*job)->OpenStream();
  ASSERT_TRUE(stream.ok());
  const testing::Run run = testing::Drain(**stream);
  EXPECT_TRUE(absl::IsResourceExhausted(run.status)) << run.status;
  EXPECT_THAT(run.status.message(),
              HasSubstr("CONV_ID_0 asks for 900000000 tokens in a user message (its shape_source "
                        "record)"));
}

}  // namespace
}  // namespace convgen
