#include "core/request/generation_request.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/conversations.h"
#include "tests/testing/files.h"

namespace convgen {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Workspace> TestWorkspace() {
  WorkspaceOptions options;
  options.data_dir = std::string(CONVGEN_SOURCE_DIR) + "/data";
  auto workspace = Workspace::Create(options);
  EXPECT_TRUE(workspace.ok()) << workspace.status();
  return *std::move(workspace);
}

constexpr char kConfig[] =
    R"({"filetype": "generate_conversations", "num_conversations": 10, "text_files": ["moby-dick.txt"],
    "prompt_input": {"num_turns": {"distribution": "constant", "value": 4},
                     "prefix_num_tokens": {"distribution": "constant", "value": 5},
                     "common_prefix_num_tokens": {"distribution": "constant", "value": 25},
                     "num_tokens": {"distribution": "uniform", "min": 30, "max": 60}},
    "prompt_output": {"num_tokens": {"distribution": "constant", "value": 20}}})";

GenerationRequest Request(std::string json = kConfig) {
  GenerationRequest request;
  request.config_json = std::move(json);
  return request;
}

TEST(GenerationRequestTest, AJobAnswersValidatesQuestionsAndStreamsTheSameRun) {
  auto workspace = TestWorkspace();
  GenerationRequest request = Request();
  request.seed = 7;
  request.shard_index = 1;
  request.shard_count = 4;
  request.start_index = 3;
  auto job = PrepareGeneration(*workspace, request, RequestLimits());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ((*job)->conversations(), 2);  // 5 and 9
  EXPECT_EQ((*job)->common_prefix_tokens(), 25);
  EXPECT_EQ((*job)->tokenizer_name(), "qwen3");
  EXPECT_GT((*job)->corpus_tokens(), 100000);
  EXPECT_THAT((*job)->normalized_config_json(), HasSubstr("\"common_prefix_num_tokens\""));

  auto stream = (*job)->OpenStream();
  ASSERT_TRUE(stream.ok()) << stream.status();
  const testing::Run run = testing::Drain(**stream);
  ASSERT_TRUE(run.status.ok()) << run.status;
  ASSERT_EQ(run.messages.size(), 8u);
  EXPECT_EQ(run.messages.front().conversation_id, "CONV_ID_5");
  EXPECT_EQ(run.messages.back().conversation_id, "CONV_ID_9");
  // The same conversations as a stream made without the request boundary.
  const GenerationSpec spec = testing::SpecFromJsonOrDie(kConfig);
  const testing::Run direct =
      testing::Generate(spec, {.seed = 7, .shard_index = 1, .shard_count = 4, .start_index = 3},
                        testing::DefaultCorpus("qwen3"), testing::SharedTestTokenizer("qwen3"));
  EXPECT_EQ(run.serialized, direct.serialized);

  EXPECT_EQ((*job)->OpenStream().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*job)->common_prefix_tokens(), 25);  // still answers after the stream left
  EXPECT_EQ((*job)->conversations(), 2);
}

TEST(GenerationRequestTest, ConfigProblemsAreListedWithTheirPaths) {
  auto workspace = TestWorkspace();
  std::vector<ConfigError> problems;
  auto job = PrepareGeneration(*workspace, Request(R"({"num_conversations": -1,
      "prompt_input": {"num_turns": {"distribution": "uniform", "min": 9, "max": 3}}})"),
                               RequestLimits(), &problems);
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> paths;
  for (const ConfigError& e : problems) paths.push_back(e.path);
  EXPECT_THAT(paths, ::testing::IsSupersetOf({"num_conversations", "prompt_input.num_turns"}));

  problems.clear();
  EXPECT_FALSE(PrepareGeneration(*workspace, GenerationRequest(), RequestLimits(), &problems).ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].message, HasSubstr("the request has no config"));
}

// Each check of the request's own fields, in one place, with its message.
TEST(GenerationRequestTest, ShardSeedAndLimitsAreCheckedWithClearErrors) {
  auto workspace = TestWorkspace();
  const auto error = [&](GenerationRequest request, RequestLimits limits = RequestLimits()) {
    auto job = PrepareGeneration(*workspace, request, limits);
    EXPECT_FALSE(job.ok());
    return job.status();
  };
  GenerationRequest bad_shard = Request();
  bad_shard.shard_index = 3;
  bad_shard.shard_count = 3;
  EXPECT_EQ(std::string(error(bad_shard).message()),
            "shard 3/3: the shard index must be below the shard count");

  GenerationRequest big_seed = Request();
  big_seed.rng = v1::RNG_NUMPY_LEGACY;
  big_seed.seed = uint64_t{1} << 32;
  EXPECT_EQ(error(big_seed).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(error(big_seed).message()), HasSubstr("is over 4294967295"));

  RequestLimits few;
  few.max_conversations_per_request = 9;
  EXPECT_EQ(error(Request(), few).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(error(Request(), few).message()),
              HasSubstr("num_conversations 10 is over this server's limit of 9 per request (this "
                        "request would produce 10)"));
  // The limit counts what the request produces: split as the message says,
  // the same workload is served.
  GenerationRequest half = Request();
  half.shard_count = 2;
  EXPECT_TRUE(PrepareGeneration(*workspace, half, few).ok());
  GenerationRequest tail = Request();
  tail.start_index = 5;
  EXPECT_TRUE(PrepareGeneration(*workspace, tail, few).ok());

  RequestLimits small_inline;
  small_inline.max_inline_corpus_bytes = 3;
  GenerationRequest with_inline = Request();
  with_inline.inline_texts.push_back({"a.txt", "four"});
  EXPECT_THAT(std::string(error(with_inline, small_inline).message()),
              HasSubstr("the inline corpus has 4 bytes, over this server's limit of 3"));

  RequestLimits short_messages;
  short_messages.max_message_bytes = 24;
  EXPECT_THAT(std::string(error(Request(), short_messages).message()),
              HasSubstr("25 tokens of common prefix in the first message, over the limit of 24"));

  RequestLimits few_draws;
  few_draws.max_numpy_legacy_draws = 79;
  GenerationRequest legacy = Request();
  legacy.rng = v1::RNG_NUMPY_LEGACY;
  EXPECT_THAT(std::string(error(legacy, few_draws).message()),
              HasSubstr("would draw 80 sizes for this request"));

  GenerationRequest unknown = Request();
  unknown.tokenizer = "nope";
  EXPECT_EQ(error(unknown).code(), absl::StatusCode::kNotFound);
}

// Sizes near the int64 range: every limit message states the size the
// config asked for, never a wrapped (negative) sum or the internal cap.
TEST(GenerationRequestTest, LimitMessagesStateTheTrueRequestedSizes) {
  auto workspace = TestWorkspace();
  const auto stream_error = [&](const std::string& json) -> std::string {
    auto job = PrepareGeneration(*workspace, Request(json), RequestLimits());
    if (!job.ok()) return std::string(job.status().message());
    auto stream = (*job)->OpenStream();
    if (!stream.ok()) return std::string(stream.status().message());
    const testing::Run run = testing::Drain(**stream);
    EXPECT_EQ(run.status.code(), absl::StatusCode::kResourceExhausted) << run.status;
    return std::string(run.status.message());
  };
  const auto config = [](const std::string& prompt_input, const std::string& rng = "philox") {
    return absl::StrCat(
        R"({"filetype": "generate_conversations", "num_conversations": 10, "rng": ")", rng,
        R"(", "text_files": ["moby-dick.txt"], "prompt_input": {)", prompt_input,
        R"(}, "prompt_output": {"num_tokens": {"distribution": "constant", "value": 20}}})");
  };
  // num_turns above the internal cap of 2^20 messages.
  EXPECT_THAT(
      stream_error(config(R"("num_turns": {"distribution": "constant", "value": 1099511627776},
      "prefix_num_tokens": {"distribution": "constant", "value": 5},
      "num_tokens": {"distribution": "constant", "value": 30})")),
      HasSubstr("CONV_ID_0 has 1099511627776 messages (prompt_input.num_turns), over the "
                "limit of 65536"));
  // Two prefixes of 2^62 tokens: their sum, 2^63 + 25, passes int64.
  EXPECT_THAT(stream_error(config(R"("num_turns": {"distribution": "constant", "value": 2},
      "common_prefix_num_tokens": {"distribution": "constant", "value": 25},
      "prefix_num_tokens": {"distribution": "constant", "value": 4611686018427387904},
      "prefix_groups": {"num_groups": 2, "prefix_num_tokens":
                        {"distribution": "constant", "value": 4611686018427387904}},
      "num_tokens": {"distribution": "constant", "value": 30})")),
              HasSubstr("CONV_ID_0 asks for 9223372036854775833 tokens in the first message"));
  // A user message of 2^62 tokens after a small first-message prefix.
  EXPECT_THAT(stream_error(config(R"("num_turns": {"distribution": "constant", "value": 2},
      "prefix_num_tokens": {"distribution": "constant", "value": 5},
      "num_tokens": {"distribution": "constant", "value": 4611686018427387904})")),
              HasSubstr("CONV_ID_0 asks for 4611686018427387909 tokens in a user message"));
  // numpy_legacy: 10 conversations of 2^62 messages draw 10 * 2 * 2^62 sizes.
  EXPECT_THAT(stream_error(
                  config(R"("num_turns": {"distribution": "constant", "value": 4611686018427387904},
      "prefix_num_tokens": {"distribution": "constant", "value": 5},
      "num_tokens": {"distribution": "constant", "value": 30})",
                         "numpy_legacy")),
              HasSubstr("would draw 92233720368547758080 sizes for this request"));
}

TEST(GenerationRequestTest, TheRequestsRngOverridesTheConfigs) {
  auto workspace = TestWorkspace();
  GenerationRequest request = Request();
  request.rng = v1::RNG_NUMPY_LEGACY;
  auto job = PrepareGeneration(*workspace, request, RequestLimits());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ((*job)->normalized_config().rng(), v1::RNG_NUMPY_LEGACY);
}

TEST(GenerationRequestTest, InlineTextsNamedInTextFilesMixWithTheServersFiles) {
  auto workspace = TestWorkspace();
  // text_files lists a client's local file and a server corpus: the client
  // sends the first inline by its name and the second by name only.
  std::string json = kConfig;
  const std::string one_file = R"("text_files": ["moby-dick.txt"])";
  json.replace(json.find(one_file), one_file.size(),
               R"("text_files": ["local.txt", "moby-dick.txt"])");
  const std::string local = "Call me Ishmael, said the local file.";
  GenerationRequest mixed = Request(json);
  mixed.inline_texts.push_back({"local.txt", local});
  auto job = PrepareGeneration(*workspace, mixed, RequestLimits());
  ASSERT_TRUE(job.ok()) << job.status();
  // The same corpus as both texts sent inline, in text_files' order.
  const std::string moby = testing::ReadSourceFile("data/corpus/moby-dick.txt");
  ASSERT_FALSE(moby.empty());
  GenerationRequest all_inline = Request(json);
  all_inline.inline_texts.push_back({"local.txt", local});
  all_inline.inline_texts.push_back({"moby-dick.txt", moby});
  auto expected = PrepareGeneration(*workspace, all_inline, RequestLimits());
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ((*job)->corpus_tokens(), (*expected)->corpus_tokens());
  auto stream = (*job)->OpenStream();
  auto expected_stream = (*expected)->OpenStream();
  ASSERT_TRUE(stream.ok() && expected_stream.ok());
  EXPECT_EQ(testing::Drain(**stream).serialized, testing::Drain(**expected_stream).serialized);

  // A name that is neither sent nor on the server is still named.
  std::string missing_json = json;
  missing_json.replace(missing_json.find("moby-dick.txt"), 13, "nope.txt");
  GenerationRequest missing = Request(missing_json);
  missing.inline_texts.push_back({"local.txt", local});
  const auto refused = PrepareGeneration(*workspace, missing, RequestLimits());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("text_files[1] \"nope.txt\": no such corpus"));
}

}  // namespace
}  // namespace convgen
