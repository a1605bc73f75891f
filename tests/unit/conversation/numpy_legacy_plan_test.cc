// rng "numpy_legacy": the planner gives the sizes vLLM samples (fixtures
// written by numpy itself, tests/oracle/numpy_legacy_fixtures.py), and the
// stream stays exact, shardable and resumable.
#include <map>
#include <string>
#include <vector>

#include "core/conversation/conversation_planner.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/conversations.h"

namespace convgen {
namespace {

using testing::DefaultCorpus;
using testing::Generate;

struct Expected {
  std::vector<int64_t> messages, prefix;
  int64_t common = 0;
  std::vector<std::vector<int64_t>> user, assistant;  // vLLM's inputs at even, outputs at odd
};

Expected FromRun(const nlohmann::json& run) {
  Expected e;
  e.messages = run["num_turns"].get<std::vector<int64_t>>();
  e.prefix = run["prefix_num_tokens"].get<std::vector<int64_t>>();
  e.common = run["common_prefix_num_tokens"].get<int64_t>();
  for (const auto& c : run["conversations"]) {
    const auto input = c["input"].get<std::vector<int64_t>>();
    const auto output = c["output"].get<std::vector<int64_t>>();
    e.user.emplace_back();
    e.assistant.emplace_back();
    for (size_t m = 0; m + 1 < input.size(); m += 2) {
      e.user.back().push_back(input[m]);
      e.assistant.back().push_back(output[m + 1]);
    }
  }
  return e;
}

GenerationSpec NumpyLegacySpec(nlohmann::json config) {
  config["rng"] = "numpy_legacy";
  return testing::SpecFromJsonOrDie(config.dump());
}

class NumpyLegacyPlanTest : public ::testing::TestWithParam<std::string> {};

TEST_P(NumpyLegacyPlanTest, SizesEqualVllmsForEverySeed) {
  const nlohmann::json fixture = nlohmann::json::parse(
      testing::ReadSourceFile("tests/fixtures/numpy_legacy/" + GetParam() + ".json"));
  const GenerationSpec spec = NumpyLegacySpec(fixture["config"]);
  int64_t compared = 0;
  ASSERT_GE(fixture["runs"].size(), 20u);
  for (const auto& run : fixture["runs"]) {
    const uint64_t seed = run["seed"].get<uint64_t>();
    SCOPED_TRACE(seed);
    ASSERT_TRUE(ConversationPlanner::CheckSeed(spec, seed).ok());
    const Expected e = FromRun(run);
    ConversationPlanner planner(spec, seed);
    EXPECT_EQ(planner.common_prefix_tokens(), e.common);
    for (size_t i = 0; i < e.messages.size(); ++i) {
      absl::StatusOr<ConversationPlan> plan = planner.Plan(i);
      ASSERT_TRUE(plan.ok()) << plan.status();
      ASSERT_EQ(plan->num_messages, e.messages[i]) << i;
      ASSERT_EQ(plan->prefix_tokens, e.prefix[i]) << i;
      ASSERT_EQ(plan->user_tokens, e.user[i]) << i;
      ASSERT_EQ(plan->assistant_tokens, e.assistant[i]) << i;
      compared += 2 + 2 * static_cast<int64_t>(e.user[i].size());
    }
    // Skipping conversations (another shard, a resume) replays their draws.
    ConversationPlanner skipping(spec, seed);
    for (size_t i = 3; i < e.messages.size(); i += 5) {
      absl::StatusOr<ConversationPlan> plan = skipping.Plan(i);
      ASSERT_TRUE(plan.ok()) << plan.status();
      ASSERT_EQ(plan->user_tokens, e.user[i]) << i;
      ASSERT_EQ(plan->assistant_tokens, e.assistant[i]) << i;
    }
    EXPECT_FALSE(skipping.Plan(0).ok());  // backwards is a programming error
  }
  EXPECT_GT(compared, 2000);
}

INSTANTIATE_TEST_SUITE_P(ReferenceConfigs, NumpyLegacyPlanTest,
                         ::testing::Values("generate_multi_turn",
                                           "generate_multi_turn_mean_sigma"));

TEST(NumpyLegacyStreamTest, SeedsAboveNumpysRangeAreRefused) {
  nlohmann::json config = nlohmann::json::parse(
      testing::ReadSourceFile("tests/fixtures/vllm/generate_multi_turn.json"));
  const GenerationSpec spec = NumpyLegacySpec(config);
  EXPECT_TRUE(ConversationPlanner::CheckSeed(spec, 4294967295u).ok());
  const absl::Status status = ConversationPlanner::CheckSeed(spec, 4294967296u);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "seed 4294967296 is over 4294967295: rng \"numpy_legacy\" seeds numpy as "
            "np.random.seed(seed), which takes seeds below 2^32");
}

TEST(NumpyLegacyStreamTest, ReplayIsBounded) {
  nlohmann::json config = nlohmann::json::parse(
      testing::ReadSourceFile("tests/fixtures/vllm/generate_multi_turn.json"));
  config["num_conversations"] = 1000;
  config["prompt_input"]["num_turns"] = {{"distribution", "constant"}, {"value", 1000}};
  const GenerationSpec spec = NumpyLegacySpec(config);
  // (A request refuses this many draws: generation_request_test.)
  EXPECT_EQ(ConversationPlanner(spec, 1).numpy_legacy_draws(), 2'000'000);
  // A conversation too long to replay is an error, not a hang.
  config["prompt_input"]["num_turns"] = {{"distribution", "constant"}, {"value", 1 << 21}};
  ConversationPlanner planner(NumpyLegacySpec(config), 1);
  const absl::StatusOr<ConversationPlan> plan = planner.Plan(5);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(plan.status().message()),
              ::testing::HasSubstr("CONV_ID_0 has 2097152 messages"));
}

TEST(NumpyLegacyStreamTest, ExactShardableResumableWithVllmsSizes) {
  const nlohmann::json fixture = nlohmann::json::parse(
      testing::ReadSourceFile("tests/fixtures/numpy_legacy/generate_multi_turn.json"));
  const GenerationSpec spec = NumpyLegacySpec(fixture["config"]);
  const nlohmann::json& run = fixture["runs"][5];
  const uint64_t seed = run["seed"].get<uint64_t>();
  const Expected e = FromRun(run);
  const Tokenizer& qwen3 = testing::SharedTestTokenizer("qwen3");
  const testing::Run full = Generate(spec, {.seed = seed}, DefaultCorpus("qwen3"), qwen3);
  ASSERT_EQ(full.summary.conversations, static_cast<int64_t>(e.messages.size()));
  for (const Message& t : full.messages) {
    const size_t i = t.conversation_index;
    ASSERT_EQ(t.num_messages, e.messages[i]);
    EXPECT_EQ(static_cast<int64_t>(qwen3.Count(t.content)), t.num_tokens);
    const int64_t turn = t.message_index / 2;
    if (t.role == Role::kAssistant) {
      EXPECT_EQ(t.num_tokens, e.assistant[i][turn]);
      EXPECT_EQ(t.max_tokens, e.assistant[i][turn]);
    } else if (turn == 0) {
      EXPECT_EQ(t.num_tokens, e.common + e.prefix[i] + e.user[i][0]);
    } else {
      EXPECT_EQ(t.num_tokens, e.user[i][turn]);  // 120..160: above the header's minimum
    }
  }
  std::map<uint64_t, std::string> by_index;
  for (uint64_t shard = 0; shard < 3; ++shard) {
    const testing::Run part = Generate(spec, {.seed = seed, .shard_index = shard, .shard_count = 3},
                                       DefaultCorpus("qwen3"), qwen3);
    for (const Message& t : part.messages) by_index[t.conversation_index] += testing::Serialize(t);
  }
  std::string merged;
  for (const auto& [index, text] : by_index) merged += text;
  EXPECT_EQ(merged, full.serialized);
  const testing::Run tail =
      Generate(spec, {.seed = seed, .start_index = 17}, DefaultCorpus("qwen3"), qwen3);
  std::string expected_tail;
  for (const Message& t : full.messages) {
    if (t.conversation_index >= 17) expected_tail += testing::Serialize(t);
  }
  EXPECT_EQ(tail.serialized, expected_tail);
}

}  // namespace
}  // namespace convgen
