// Conversations shaped by a source: replay gives conversation i exactly the
// sizes of record i mod N (every message's count is the source's and the
// tokenizer's count of the text), shards and resumes are unchanged, a
// trace's equal leading hash_ids give byte-identical leading text, and fit
// samples sizes whose distribution matches the source's (KS test).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "core/shape/mooncake_reader.h"
#include "core/shape/shape.h"
#include "core/shape/sharegpt_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/conversations.h"
#include "tests/testing/files.h"
#include "tests/testing/tokenizers.h"

namespace convgen {
namespace {

std::shared_ptr<const Shape> ShareGptShape(
    const Tokenizer& tokenizer,
    const std::string& json = testing::ReadSourceFile("examples/shapes/sharegpt_sample.json")) {
  absl::StatusOr<Shape> shape = ReadShareGpt(
      json, [&](absl::string_view text) { return static_cast<int64_t>(tokenizer.Count(text)); });
  EXPECT_TRUE(shape.ok()) << shape.status();
  return std::make_shared<const Shape>(*std::move(shape));
}

std::shared_ptr<const Shape> TraceShape(const std::string& jsonl) {
  absl::StatusOr<Shape> shape = ReadMooncakeTrace(jsonl);
  EXPECT_TRUE(shape.ok()) << shape.status();
  return std::make_shared<const Shape>(*std::move(shape));
}

GenerationSpec ShapedSpec(int64_t conversations, const std::string& source) {
  return testing::SpecFromJsonOrDie(
      R"({"filetype": "generate_conversations", "num_conversations": )" +
      std::to_string(conversations) + R"(, "text_files": ["moby-dick.txt"], "shape_source": )" +
      source + "}");
}

testing::Run Shaped(const GenerationSpec& spec, std::shared_ptr<const Shape> shape,
                    const StreamOptions& options, const std::string& tokenizer) {
  auto stream = ConversationStream::Create(
      spec, options, ConversationPlanner(spec, options.seed, std::move(shape)),
      testing::DefaultCorpus(tokenizer), testing::Borrow(testing::SharedTestTokenizer(tokenizer)));
  EXPECT_TRUE(stream.ok()) << stream.status();
  if (!stream.ok()) return {};
  testing::Run run = testing::Drain(**stream);
  EXPECT_TRUE(run.status.ok()) << run.status;
  return run;
}

std::vector<ConversationStart> Starts(const testing::Run& run) {
  std::vector<ConversationStart> starts;
  for (const StreamEvent& e : run.events) {
    if (const auto* s = std::get_if<ConversationStart>(&e)) starts.push_back(*s);
  }
  return starts;
}

class ShareGptReplayTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ShareGptReplayTest, EveryMessageHasTheSourcesCount) {
  const Tokenizer& tokenizer = testing::SharedTestTokenizer(GetParam());
  const auto shape = ShareGptShape(tokenizer);
  const size_t n = shape->records.size();
  ASSERT_EQ(n, 30u);
  // Twice around the file: conversation i is record i mod 30.
  const GenerationSpec spec = ShapedSpec(60, R"({"format": "sharegpt", "path": "s.json"})");
  const testing::Run run = Shaped(spec, shape, {.seed = 3}, GetParam());
  ASSERT_EQ(run.summary.conversations, 60);
  int64_t checked = 0, short_user = 0;
  for (const Message& m : run.messages) {
    const ShapeRecord& record = shape->records[m.conversation_index % n];
    ASSERT_EQ(m.num_messages, static_cast<int64_t>(record.message_tokens.size()));
    const int64_t source = record.message_tokens[m.message_index];
    EXPECT_EQ(m.num_tokens, source) << m.conversation_id << " message " << m.message_index;
    EXPECT_EQ(static_cast<int64_t>(tokenizer.Count(m.content)), source)
        << m.conversation_id << " message " << m.message_index;
    if (m.role == Role::kUser) {
      const bool has_header = absl::StartsWith(
          m.content, std::to_string(m.conversation_index) + " is a nice number... ");
      short_user += !has_header;
    }
    ++checked;
  }
  EXPECT_GT(checked, 200);
  // Some sample user messages are shorter than header + instruction: they
  // are corpus text alone, still exact, and nothing is raised.
  EXPECT_GT(short_user, 0);
  EXPECT_EQ(run.summary.raised_targets, 0);
  for (const ConversationStart& s : Starts(run)) EXPECT_EQ(s.arrival_ms, -1);
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, ShareGptReplayTest, ::testing::Values("qwen3", "llama3"));

TEST(ShapeReplayTest, ShardsAndResumesAreTheFullRunsConversations) {
  const auto shape = ShareGptShape(testing::SharedTestTokenizer("qwen3"));
  const GenerationSpec spec = ShapedSpec(45, R"({"format": "sharegpt", "path": "s.json"})");
  const testing::Run full = Shaped(spec, shape, {.seed = 11}, "qwen3");
  std::map<uint64_t, std::string> by_conversation;
  for (const Message& m : full.messages)
    by_conversation[m.conversation_index] += testing::Serialize(m);
  std::map<uint64_t, std::string> sharded;
  for (uint64_t k = 0; k < 3; ++k) {
    const testing::Run shard =
        Shaped(spec, shape, {.seed = 11, .shard_index = k, .shard_count = 3}, "qwen3");
    for (const Message& m : shard.messages) {
      EXPECT_EQ(m.conversation_index % 3, k);
      sharded[m.conversation_index] += testing::Serialize(m);
    }
  }
  EXPECT_EQ(sharded, by_conversation);
  const testing::Run tail = Shaped(spec, shape, {.seed = 11, .start_index = 31}, "qwen3");
  std::string expected;
  for (const auto& [index, text] : by_conversation) {
    if (index >= 31) expected += text;
  }
  EXPECT_EQ(tail.serialized, expected);
  EXPECT_FALSE(tail.serialized.empty());
}

constexpr char kTrace[] =
    R"({"timestamp": 0, "input_length": 140, "output_length": 20, "hash_ids": [1, 2, 3]}
{"timestamp": 40, "input_length": 140, "output_length": 21, "hash_ids": [1, 2, 4]}
{"timestamp": 40, "input_length": 140, "output_length": 22, "hash_ids": [5, 2, 3]}
{"timestamp": 90, "input_length": 64, "output_length": 5, "hash_ids": [1]}
{"timestamp": 90, "input_length": 64, "output_length": 5, "hash_ids": [2]}
{"timestamp": 100, "input_length": 300, "output_length": 7, "hash_ids": [1, 2]}
{"timestamp": 120, "input_length": 30, "output_length": 9, "hash_ids": [1, 2, 3, 4]}
{"timestamp": 150, "input_length": 45, "output_length": 3}
)";

class MooncakeReplayTest : public ::testing::TestWithParam<std::string> {};

TEST_P(MooncakeReplayTest, EqualLeadingHashIdsShareTheirText) {
  const Tokenizer& tokenizer = testing::SharedTestTokenizer(GetParam());
  const auto shape = TraceShape(kTrace);
  const GenerationSpec spec =
      ShapedSpec(16, R"({"format": "mooncake", "path": "t.jsonl", "block_size": 64})");
  const testing::Run run = Shaped(spec, shape, {.seed = 5}, GetParam());
  ASSERT_EQ(run.summary.conversations, 16);
  std::vector<std::string> user(16);
  for (const Message& m : run.messages) {
    const ShapeRecord& record = shape->records[m.conversation_index % 8];
    EXPECT_EQ(m.num_tokens, record.message_tokens[m.message_index]);
    EXPECT_EQ(static_cast<int64_t>(tokenizer.Count(m.content)), m.num_tokens)
        << m.conversation_id << " message " << m.message_index;
    if (m.role == Role::kUser) user[m.conversation_index] = m.content;
    if (m.role == Role::kAssistant) {
      EXPECT_EQ(m.max_tokens, record.message_tokens[1]);
    }
  }
  // Requests 3 and 4 are blocks 1 and 2 alone (64 tokens each).
  const std::string block1 = user[3], block2 = user[4];
  ASSERT_FALSE(block1.empty());
  EXPECT_NE(block1.substr(0, 20), block2.substr(0, 20));
  // Each block is exactly 64 tokens alone; joined, a token may merge across
  // the join, no more.
  const auto joined = static_cast<int64_t>(tokenizer.Count(block1 + block2));
  EXPECT_GE(joined, 127);
  EXPECT_LE(joined, 129);
  // [1, 2, 3] and [1, 2, 4] both start with blocks 1 and 2, byte for byte;
  // so does [1, 2] with more input after its blocks.
  for (int r : {0, 1, 5}) {
    EXPECT_TRUE(absl::StartsWith(user[r], block1 + block2)) << "request " << r;
  }
  // [5, 2, 3] differs from the start; block 3 (the partial third block of
  // request 0) is not block 4 (request 1's).
  EXPECT_NE(user[2].substr(0, 20), block1.substr(0, 20));
  EXPECT_NE(user[0].substr((block1 + block2).size(), 20),
            user[1].substr((block1 + block2).size(), 20));
  // [1, 2, 3, 4] with 30 tokens: the start of block 1 only.
  EXPECT_EQ(user[6].substr(0, 40), block1.substr(0, 40));
  // The second time around the same records start with the same blocks
  // (the text past them is the conversation's own), one period later (span
  // 150 + mean gap 150/7 = 21).
  EXPECT_EQ(user[8 + 3], block1);
  EXPECT_EQ(user[8 + 4], block2);
  for (int r : {0, 1, 5}) EXPECT_TRUE(absl::StartsWith(user[8 + r], block1 + block2));
  EXPECT_NE(user[8 + 5], user[5]);
  const std::vector<ConversationStart> starts = Starts(run);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(starts[i].arrival_ms, shape->records[i].timestamp_ms);
    EXPECT_EQ(starts[i + 8].arrival_ms, shape->records[i].timestamp_ms + 171);
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, MooncakeReplayTest, ::testing::Values("qwen3", "llama3"));

TEST(MooncakeReplayTest, TheSampleTraceIsExact) {
  const Tokenizer& tokenizer = testing::SharedTestTokenizer("qwen3");
  const auto shape = TraceShape(testing::ReadSourceFile("examples/shapes/mooncake_sample.jsonl"));
  ASSERT_EQ(shape->records.size(), 80u);
  const GenerationSpec spec =
      ShapedSpec(80, R"({"format": "mooncake", "path": "t.jsonl", "block_size": 64})");
  const testing::Run run = Shaped(spec, shape, {.seed = 9}, "qwen3");
  int64_t wrong = 0;
  for (const Message& m : run.messages) {
    const ShapeRecord& record = shape->records[m.conversation_index];
    if (m.num_tokens != record.message_tokens[m.message_index] ||
        static_cast<int64_t>(tokenizer.Count(m.content)) != m.num_tokens) {
      ++wrong;
    }
  }
  EXPECT_EQ(run.messages.size(), 160u);
  EXPECT_EQ(wrong, 0);
}

// The two-sample Kolmogorov-Smirnov statistic of a and b.
double KsStatistic(std::vector<int64_t> a, std::vector<int64_t> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  size_t i = 0, j = 0;
  double d = 0;
  while (i < a.size() && j < b.size()) {
    const int64_t x = std::min(a[i], b[j]);
    while (i < a.size() && a[i] == x) ++i;
    while (j < b.size() && b[j] == x) ++j;
    d = std::max(d,
                 std::fabs(static_cast<double>(i) / a.size() - static_cast<double>(j) / b.size()));
  }
  return d;
}

// The KS critical value at significance alpha for samples of n and m.
double KsCritical(double alpha, size_t n, size_t m) {
  return std::sqrt(-0.5 * std::log(alpha / 2)) *
         std::sqrt(static_cast<double>(n + m) / static_cast<double>(n * m));
}

TEST(ShapeFitTest, SampledSizesMatchTheSourcesAtKsFivePercent) {
  const auto shape = ShareGptShape(testing::SharedTestTokenizer("qwen3"));
  const GenerationSpec spec =
      ShapedSpec(1500, R"({"format": "sharegpt", "path": "s.json", "mode": "fit"})");
  ConversationPlanner planner(spec, 21, shape);
  std::vector<int64_t> messages, first_user, assistant;
  for (uint64_t i = 0; i < 1500; ++i) {
    absl::StatusOr<ConversationPlan> plan = planner.Plan(i);
    ASSERT_TRUE(plan.ok());
    messages.push_back(plan->num_messages);
    first_user.push_back(plan->user_tokens[0]);
    for (int64_t a : plan->assistant_tokens) assistant.push_back(a);
    EXPECT_EQ(plan->arrival_ms, -1);
  }
  std::vector<int64_t> source_messages, source_first, source_assistant, shifted;
  for (const ShapeRecord& r : shape->records) {
    source_messages.push_back(static_cast<int64_t>(r.message_tokens.size()));
    source_first.push_back(r.message_tokens[0]);
    shifted.push_back(r.message_tokens[0] + 8);
    for (size_t m = 1; m < r.message_tokens.size(); m += 2) {
      source_assistant.push_back(r.message_tokens[m]);
    }
  }
  // With the source's sizes as the reference sample, 5% significance. The
  // discrete values make the test conservative.
  const auto check = [](const std::vector<int64_t>& sampled, const std::vector<int64_t>& source) {
    return KsStatistic(sampled, source) < KsCritical(0.05, sampled.size(), source.size());
  };
  EXPECT_TRUE(check(messages, source_messages));
  EXPECT_TRUE(check(first_user, source_first));
  EXPECT_TRUE(check(assistant, source_assistant));
  // The same test refuses sizes shifted by 8 tokens.
  EXPECT_FALSE(check(first_user, shifted));
  // Every sampled size is one the source has.
  for (int64_t v : first_user) {
    EXPECT_NE(std::find(source_first.begin(), source_first.end(), v), source_first.end());
  }
}

TEST(ShapeFitTest, FitConversationsAreExactAndTracesArriveAtTheirMeanRate) {
  const auto shape = TraceShape(kTrace);
  const GenerationSpec spec = ShapedSpec(
      40, R"({"format": "mooncake", "path": "t.jsonl", "mode": "fit", "block_size": 64})");
  const testing::Run run = Shaped(spec, shape, {.seed = 2}, "qwen3");
  const Tokenizer& tokenizer = testing::SharedTestTokenizer("qwen3");
  for (const Message& m : run.messages) {
    EXPECT_EQ(static_cast<int64_t>(tokenizer.Count(m.content)), m.num_tokens);
  }
  const std::vector<ConversationStart> starts = Starts(run);
  ASSERT_EQ(starts.size(), 40u);
  // Mean gap 150 / 7 ms: conversation i at floor(i * 150 / 7).
  EXPECT_EQ(starts[7].arrival_ms, 150);
  EXPECT_EQ(starts[14].arrival_ms, 300);
  EXPECT_EQ(starts[1].arrival_ms, 21);
}

}  // namespace
}  // namespace convgen
