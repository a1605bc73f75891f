// Every message of 2,000 conversations per tokenizer, across configs using
// every distribution, encodes to exactly its target.
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/conversations.h"

namespace convgen {
namespace {

// Four configs, 500 conversations each, covering all five distributions.
const char* const kConfigs[] = {
    R"({"filetype": "generate_conversations", "num_conversations": 500, "text_files": ["moby-dick.txt"],
        "prompt_input": {"num_turns": {"distribution": "uniform", "min": 2, "max": 8},
                         "common_prefix_num_tokens": {"distribution": "constant", "value": 50},
                         "prefix_num_tokens": {"distribution": "lognormal", "average": 200, "max": 600},
                         "num_tokens": {"distribution": "uniform", "min": 20, "max": 80}},
        "prompt_output": {"num_tokens": {"distribution": "uniform", "min": 10, "max": 60}}})",
    R"({"filetype": "generate_conversations", "num_conversations": 500, "text_files": ["moby-dick.txt"],
        "prompt_input": {"num_turns": {"distribution": "zipf", "alpha": 2.0, "max": 10},
                         "prefix_num_tokens": {"distribution": "poisson", "alpha": 100},
                         "num_tokens": {"distribution": "lognormal", "mean": 4.0, "sigma": 0.5}},
        "prompt_output": {"num_tokens": {"distribution": "zipf", "alpha": 1.5, "max": 200}}})",
    R"({"filetype": "generate_conversations", "num_conversations": 500, "text_files": ["moby-dick.txt"],
        "prompt_input": {"num_turns": {"distribution": "constant", "value": 4},
                         "prefix_num_tokens": {"distribution": "constant", "value": 0},
                         "num_tokens": {"distribution": "constant", "value": 1}},
        "prompt_output": {"num_tokens": {"distribution": "constant", "value": 1}}})",
    R"({"filetype": "generate_conversations", "num_conversations": 500, "text_files": ["moby-dick.txt"],
        "prompt_input": {"num_turns": {"distribution": "poisson", "alpha": 5},
                         "common_prefix_num_tokens": {"distribution": "uniform", "min": 5, "max": 30},
                         "prefix_num_tokens": {"distribution": "lognormal", "mean": 3.5, "sigma": 1.0, "max": 400},
                         "num_tokens": {"distribution": "poisson", "alpha": 60}},
        "prompt_output": {"num_tokens": {"distribution": "lognormal", "average": 40, "median_ratio": 0.6}}})",
};

class ExactnessTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ExactnessTest, EveryMessageHasExactlyItsTargetTokens) {
  const Tokenizer& tokenizer = testing::SharedTestTokenizer(GetParam());
  const auto corpus = testing::DefaultCorpus(GetParam());
  int64_t conversations = 0, messages = 0, wrong = 0;
  for (const char* config : kConfigs) {
    const GenerationSpec spec = testing::SpecFromJsonOrDie(config);
    const testing::Run run = testing::Generate(spec, {.seed = 7}, corpus, tokenizer);
    conversations += run.summary.conversations;
    for (const Message& turn : run.messages) {
      ++messages;
      const auto count = static_cast<int64_t>(tokenizer.Count(turn.content));
      if (count != turn.num_tokens && ++wrong <= 5) {
        ADD_FAILURE() << turn.conversation_id << " turn " << turn.message_index << ": " << count
                      << " tokens, target " << turn.num_tokens;
      }
      if (turn.role == Role::kAssistant) {
        EXPECT_EQ(turn.max_tokens, turn.num_tokens);
      }
    }
  }
  EXPECT_EQ(conversations, 2000);
  EXPECT_EQ(wrong, 0) << "of " << messages << " messages";
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, ExactnessTest,
                         ::testing::Values("qwen3", "llama3", "mistral", "cl100k", "o200k"));

}  // namespace
}  // namespace convgen
