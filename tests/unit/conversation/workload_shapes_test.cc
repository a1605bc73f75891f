// convgen's workload shapes beyond vLLM's: think time, prefix groups and
// first-turn sizes. Each stays exact, deterministic and shardable.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/conversations.h"
#include "tests/testing/goodness_of_fit.h"

namespace convgen {
namespace {

using testing::DefaultCorpus;
using testing::Generate;

nlohmann::json BaseConfig(int64_t conversations) {
  nlohmann::json config = nlohmann::json::parse(R"({
    "filetype": "generate_conversations", "num_conversations": 1, "text_files": ["moby-dick.txt"],
    "prompt_input": {"num_turns": {"distribution": "uniform", "min": 2, "max": 8},
                     "common_prefix_num_tokens": {"distribution": "constant", "value": 50},
                     "prefix_num_tokens": {"distribution": "uniform", "min": 10, "max": 60},
                     "num_tokens": {"distribution": "uniform", "min": 40, "max": 90}},
    "prompt_output": {"num_tokens": {"distribution": "uniform", "min": 20, "max": 60}}})");
  config["num_conversations"] = conversations;
  return config;
}

// Every field of a turn, think time and group included.
std::string SerializeAll(const Message& t) {
  return absl::StrCat(testing::Serialize(t), "\t", t.think_time_ms, "\t", t.prefix_group, "\n");
}

std::string SerializeAll(const std::vector<Message>& turns) {
  std::string out;
  for (const Message& t : turns) out += SerializeAll(t);
  return out;
}

TEST(WorkloadShapesTest, FirstTurnSizesReplaceTheFirstExchangeOnly) {
  nlohmann::json config = BaseConfig(30);
  config["prompt_input"]["first_turn_num_tokens"] = {{"distribution", "constant"}, {"value", 500}};
  config["prompt_output"]["first_turn_num_tokens"] = {{"distribution", "constant"}, {"value", 7}};
  const testing::Run run = Generate(testing::SpecFromJsonOrDie(config.dump()), {.seed = 4},
                                    DefaultCorpus("qwen3"), testing::SharedTestTokenizer("qwen3"));
  ASSERT_EQ(run.summary.conversations, 30);
  int64_t later = 0;
  for (size_t k = 0; k < run.messages.size(); ++k) {
    const Message& t = run.messages[k];
    if (t.message_index == 1) {
      EXPECT_EQ(t.num_tokens, 7);
    }
    if (t.message_index == 0) {
      // common 50 + unique prefix (10..60) + 500.
      EXPECT_GE(t.num_tokens, 560);
      EXPECT_LE(t.num_tokens, 610);
    }
    if (t.message_index >= 2) {
      ++later;
      EXPECT_LE(t.num_tokens, 90);
      EXPECT_GE(t.num_tokens, t.role == Role::kUser ? 40 : 20);
    }
  }
  EXPECT_GT(later, 30);
}

TEST(WorkloadShapesTest, ThinkTimeOnEveryUserTurnOnly) {
  nlohmann::json config = BaseConfig(40);
  config["prompt_input"]["think_time_ms"] = {
      {"distribution", "uniform"}, {"min", 100}, {"max", 2000}};
  const GenerationSpec spec = testing::SpecFromJsonOrDie(config.dump());
  const testing::Run run =
      Generate(spec, {.seed = 11}, DefaultCorpus("qwen3"), testing::SharedTestTokenizer("qwen3"));
  std::map<int64_t, int> distinct;
  for (const Message& t : run.messages) {
    if (t.role == Role::kAssistant) {
      EXPECT_EQ(t.think_time_ms, -1);
    } else {
      EXPECT_GE(t.think_time_ms, 100);
      EXPECT_LE(t.think_time_ms, 2000);
      distinct[t.think_time_ms]++;
    }
  }
  EXPECT_GT(distinct.size(), 50u);
  // Without the field, no turn has one.
  const testing::Run plain =
      Generate(testing::SpecFromJsonOrDie(BaseConfig(5).dump()), {.seed = 11},
               DefaultCorpus("qwen3"), testing::SharedTestTokenizer("qwen3"));
  for (const Message& t : plain.messages) EXPECT_EQ(t.think_time_ms, -1);
}

TEST(WorkloadShapesTest, PrefixGroupsShareTheirPrefixAndFollowPopularity) {
  nlohmann::json config = BaseConfig(1500);
  config["prompt_input"]["num_turns"] = {{"distribution", "constant"}, {"value", 2}};
  config["prompt_input"]["prefix_groups"] = {
      {"num_groups", 5},
      {"popularity", "zipf"},
      {"alpha", 1.2},
      {"prefix_num_tokens", {{"distribution", "uniform"}, {"min", 200}, {"max", 400}}}};
  const GenerationSpec spec = testing::SpecFromJsonOrDie(config.dump());
  const Tokenizer& qwen3 = testing::SharedTestTokenizer("qwen3");
  const testing::Run run = Generate(spec, {.seed = 2}, DefaultCorpus("qwen3"), qwen3);
  std::map<int64_t, int64_t> counts;
  std::map<int64_t, std::string> first_of_group;
  std::string common;
  for (const Message& t : run.messages) {
    ASSERT_GE(t.prefix_group, 0);
    ASSERT_LT(t.prefix_group, 5);
    EXPECT_EQ(static_cast<int64_t>(qwen3.Count(t.content)), t.num_tokens);
    if (t.message_index != 0) continue;
    counts[t.prefix_group]++;
    // The text before the header: common prefix then the group's prefix.
    const std::string before = t.content.substr(
        0, t.content.find(absl::StrCat(t.conversation_index, " is a nice number")));
    auto [it, inserted] = first_of_group.emplace(t.prefix_group, before);
    if (!inserted) {
      EXPECT_EQ(before, it->second) << t.conversation_id;
    }
  }
  ASSERT_EQ(first_of_group.size(), 5u);
  // Different groups, different prefixes; all start with the same common prefix.
  for (int64_t a = 0; a < 5; ++a) {
    for (int64_t b = a + 1; b < 5; ++b) EXPECT_NE(first_of_group[a], first_of_group[b]);
  }
  // Popularity: P(g) proportional to (g + 1)^-1.2, chi-square at 0.001.
  double zeta = 0;
  for (int g = 1; g <= 5; ++g) zeta += std::pow(g, -1.2);
  const testing::ChiSquareResult fit = testing::ChiSquare(
      counts, [&](int64_t g) { return g < 0 || g > 4 ? 0.0 : std::pow(g + 1, -1.2) / zeta; }, 0);
  EXPECT_GT(fit.p_value, 0.001) << fit.ToString();
  EXPECT_GT(counts[0], counts[4]);
}

TEST(WorkloadShapesTest, TokenIdsDecodeToTheContent) {
  const GenerationSpec spec = testing::SpecFromJsonOrDie(BaseConfig(8).dump());
  const Tokenizer& qwen3 = testing::SharedTestTokenizer("qwen3");
  const testing::Run run =
      Generate(spec, {.seed = 3, .include_token_ids = true}, DefaultCorpus("qwen3"), qwen3);
  ASSERT_FALSE(run.messages.empty());
  for (const Message& t : run.messages) {
    ASSERT_EQ(static_cast<int64_t>(t.token_ids.size()), t.num_tokens);
    EXPECT_EQ(qwen3.Decode(t.token_ids), t.content);
  }
  const testing::Run without = Generate(spec, {.seed = 3}, DefaultCorpus("qwen3"), qwen3);
  EXPECT_EQ(without.serialized, run.serialized);  // the text does not depend on it
  EXPECT_TRUE(without.messages[0].token_ids.empty());
}

TEST(WorkloadShapesTest, ShardsAndResumesStayByteIdenticalWithEveryShape) {
  for (const char* rng : {"philox", "numpy_legacy"}) {
    nlohmann::json config = BaseConfig(24);
    config["rng"] = rng;
    config["prompt_input"]["think_time_ms"] = {{"distribution", "exponential"}, {"mean", 800}};
    config["prompt_input"]["first_turn_num_tokens"] = {
        {"distribution", "mixture"},
        {"components",
         {{{"weight", 3},
           {"distribution",
            {{"distribution", "normal"}, {"mean", 300}, {"stddev", 50}, {"min", 100}}}},
          {{"weight", 1},
           {"distribution", {{"distribution", "empirical"}, {"values", {1000, 1500}}}}}}}};
    config["prompt_input"]["prefix_groups"] = {
        {"num_groups", 3},
        {"prefix_num_tokens",
         {{"distribution", "pareto"}, {"alpha", 2}, {"scale", 100}, {"max", 800}}}};
    const GenerationSpec spec = testing::SpecFromJsonOrDie(config.dump());
    const Tokenizer& qwen3 = testing::SharedTestTokenizer("qwen3");
    const testing::Run full = Generate(spec, {.seed = 8}, DefaultCorpus("qwen3"), qwen3);
    ASSERT_EQ(full.summary.conversations, 24) << rng;
    for (const Message& t : full.messages)
      EXPECT_EQ(static_cast<int64_t>(qwen3.Count(t.content)), t.num_tokens);
    std::map<uint64_t, std::string> by_index;
    for (uint64_t shard = 0; shard < 4; ++shard) {
      const testing::Run part = Generate(spec, {.seed = 8, .shard_index = shard, .shard_count = 4},
                                         DefaultCorpus("qwen3"), qwen3);
      for (const Message& t : part.messages) by_index[t.conversation_index] += SerializeAll(t);
    }
    std::string merged;
    for (const auto& [index, text] : by_index) merged += text;
    EXPECT_EQ(merged, SerializeAll(full.messages)) << rng;
    const testing::Run tail =
        Generate(spec, {.seed = 8, .start_index = 13}, DefaultCorpus("qwen3"), qwen3);
    std::vector<Message> expected;
    for (const Message& t : full.messages) {
      if (t.conversation_index >= 13) expected.push_back(t);
    }
    EXPECT_EQ(SerializeAll(tail.messages), SerializeAll(expected)) << rng;
  }
}

}  // namespace
}  // namespace convgen
