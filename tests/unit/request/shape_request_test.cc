// A request with a shape_source: the file sent with it or found in the
// corpus directory, its summary in the job, the shape kept for the next
// request, and the errors a person can act on.
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/request/generation_request.h"
#include "core/stop_signal.h"
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

  // A sent file without a name is not silently replaced by the server's.
  request.config_json = Config("mooncake", "mooncake_sample.jsonl");
  request.inline_shape = {"", "{\"input_length\": 3, \"output_length\": 1}\n"};
  status = Refusal(request, *workspace);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(),
              HasSubstr("inline_shape.name is empty but inline_shape holds 40 bytes; set "
                        "inline_shape.name to the shape_source.path, \"mooncake_sample.jsonl\""));

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

// A request whose shape is `trace` (sent), `n` conversations, in `mode`.
GenerationRequest TraceRequest(const std::string& trace, int64_t n, const std::string& mode) {
  GenerationRequest request;
  request.config_json =
      R"({"filetype": "generate_conversations", "num_conversations": )" + std::to_string(n) +
      R"(, "text_files": ["moby-dick.txt"], "shape_source": {"format": "mooncake", "path": )"
      R"("t.jsonl", "mode": ")" +
      mode + R"("}})";
  request.inline_shape = {"t.jsonl", trace};
  return request;
}

std::vector<int64_t> Arrivals(const GenerationRequest& request) {
  auto job = PrepareGeneration(ShapeWorkspace(), request, RequestLimits());
  EXPECT_TRUE(job.ok()) << job.status();
  if (!job.ok()) return {};
  auto stream = (*job)->OpenStream();
  EXPECT_TRUE(stream.ok());
  const testing::Run run = testing::Drain(**stream);
  EXPECT_TRUE(run.status.ok()) << run.status;
  std::vector<int64_t> out;
  for (const auto& event : run.events) {
    if (const auto* start = std::get_if<ConversationStart>(&event))
      out.push_back(start->arrival_ms);
  }
  return out;
}

TEST(ShapeRequestTest, ArrivalsPast2To53AreRefusedNotSaturated) {
  // Replay: the second lap would start at 2^54.
  const std::string trace =
      "{\"timestamp\": 0, \"input_length\": 3, \"output_length\": 1}\n"
      "{\"timestamp\": 9007199254740992, \"input_length\": 3, \"output_length\": 1}\n";
  EXPECT_THAT(Arrivals(TraceRequest(trace, 2, "replay")),
              ::testing::ElementsAre(0, int64_t{1} << 53));
  for (const char* mode : {"replay", "fit"}) {
    const absl::Status status =
        Refusal(TraceRequest(trace, mode == std::string("fit") ? 3 : 2000, mode), ShapeWorkspace());
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
    EXPECT_THAT(status.message(), HasSubstr("shape_source \"t.jsonl\": "));
    EXPECT_THAT(status.message(), HasSubstr("past 2^53 ms"));
    EXPECT_THAT(status.message(),
                HasSubstr("ask for fewer conversations or use a trace spanning less time"));
  }
}

TEST(ShapeRequestTest, ArrivalsCountFromTheTracesFirstTimestamp) {
  // Epoch milliseconds, out of order: the smallest becomes 0.
  const std::string trace =
      "{\"timestamp\": 1733100000500, \"input_length\": 3, \"output_length\": 1}\n"
      "{\"timestamp\": 1733100000000, \"input_length\": 3, \"output_length\": 1}\n"
      "{\"timestamp\": 1733100001000, \"input_length\": 3, \"output_length\": 1}\n";
  const GenerationRequest request = TraceRequest(trace, 4, "replay");
  EXPECT_THAT(Arrivals(request), ::testing::ElementsAre(500, 0, 1000, 2000));
  auto job = PrepareGeneration(ShapeWorkspace(), request, RequestLimits());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_THAT((*job)->shape_summary(),
              HasSubstr("timestamps 0 .. 1000 ms (the file's first timestamp, 1733100000000, "
                        "subtracted from every one)"));
}

TEST(ShapeRequestTest, AOneInstantTraceArrivesOneLapAMillisecondInBothModes) {
  const std::string one = "{\"timestamp\": 100, \"input_length\": 3, \"output_length\": 1}\n";
  EXPECT_THAT(Arrivals(TraceRequest(one, 3, "replay")), ::testing::ElementsAre(0, 1, 2));
  EXPECT_THAT(Arrivals(TraceRequest(one, 3, "fit")), ::testing::ElementsAre(0, 1, 2));
  const std::string burst = one + one;
  EXPECT_THAT(Arrivals(TraceRequest(burst, 5, "replay")), ::testing::ElementsAre(0, 0, 1, 1, 2));
  EXPECT_THAT(Arrivals(TraceRequest(burst, 5, "fit")), ::testing::ElementsAre(0, 0, 1, 1, 2));
}

TEST(ShapeRequestTest, AShapeOverTheCpuLimitGetsAShapesAdvice) {
  Workspace& workspace = ShapeWorkspace();
  auto tokenizer = workspace.ResolveTokenizer("", "");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  // A limit already used up when the read ends (the CPU clock is read at
  // most once a ms of wall time: burn 10 ms of CPU first).
  StopSignal stop(1e-6);
  stop.StartWork();
  const double start = StopSignal::ThreadCpuSeconds();
  while (StopSignal::ThreadCpuSeconds() - start < 0.01) {
  }
  ShapeSourceSpec source;
  source.format = v1::SHAPE_FORMAT_MOONCAKE;
  source.path = "cpu.jsonl";
  const std::string trace = "{\"input_length\": 13, \"output_length\": 11}\n";
  auto shape = workspace.GetShape(source, {"cpu.jsonl", trace}, tokenizer->cache_key,
                                  *tokenizer->tokenizer, &stop);
  ASSERT_FALSE(shape.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(shape.status())) << shape.status();
  EXPECT_THAT(shape.status().message(),
              HasSubstr("reading shape_source \"cpu.jsonl\" took more than 1e-06 CPU seconds"));
  EXPECT_THAT(shape.status().message(), HasSubstr("split the file or raise the limit"));
  EXPECT_THAT(shape.status().message(), ::testing::Not(HasSubstr("long runs")));
}

TEST(ShapeRequestTest, ACachedShapeHoldsItsBytesInTheBudgetUntilEvicted) {
  Workspace& workspace = ShapeWorkspace();
  auto tokenizer = workspace.ResolveTokenizer("", "");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  ShapeSourceSpec source;
  source.format = v1::SHAPE_FORMAT_MOONCAKE;
  source.path = "held.jsonl";
  std::vector<std::string> traces;
  std::vector<int64_t> bytes;
  const auto read = [&](int n) {
    std::string& trace = traces.emplace_back();
    for (int i = 0; i < 200 * (n + 1); ++i) {
      trace += "{\"input_length\": " + std::to_string(n + 1) +
               ", \"output_length\": 1, \"hash_ids\": [1, 2, 3]}\n";
    }
    auto shape = workspace.GetShape(source, {"held.jsonl", trace}, tokenizer->cache_key,
                                    *tokenizer->tokenizer, nullptr);
    EXPECT_TRUE(shape.ok()) << shape.status();
    bytes.push_back(shape.ok() ? ShapeBytes(**shape) : 0);
  };
  // Four fresh shapes fill the cache (evicting any other test's).
  for (int n = 0; n < 4; ++n) read(n);
  const int64_t held = workspace.memory_budget().reserved_bytes();
  read(4);  // evicts the first
  EXPECT_GT(bytes[4], 200 * 5 * 56);
  EXPECT_EQ(workspace.memory_budget().reserved_bytes() - held, bytes[4] - bytes[0]);
}

}  // namespace
}  // namespace convgen
