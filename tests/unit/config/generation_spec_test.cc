#include "core/config/generation_spec.h"

#include <cmath>
#include <string>
#include <variant>

#include "gtest/gtest.h"
#include "tests/testing/files.h"

namespace convgen {
namespace {

using testing::ReadSourceFile;

TEST(GenerationSpecTest, ReferenceConfigBecomesTheExpectedDistributions) {
  v1::GenerationConfig config;
  const absl::StatusOr<GenerationSpec> spec =
      LoadSpecFromJson(ReadSourceFile("tests/fixtures/vllm/generate_multi_turn.json"), &config);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(config.num_conversations(), 24);
  EXPECT_EQ(spec->num_conversations, 24);
  EXPECT_EQ(spec->text_files, std::vector<std::string>{"pg1184.txt"});
  EXPECT_FALSE(spec->print_stats);

  const auto& turns = std::get<IntDistribution::Uniform>(spec->num_turns.params());
  EXPECT_EQ(turns.min, 12);
  EXPECT_EQ(turns.max, 18);
  EXPECT_EQ(std::get<IntDistribution::Constant>(spec->common_prefix_num_tokens.params()).value,
            500);
  // average 1000 with the default median ratio 0.85.
  const auto& prefix = std::get<IntDistribution::Lognormal>(spec->prefix_num_tokens.params());
  EXPECT_DOUBLE_EQ(prefix.mu, std::log(850.0));
  EXPECT_DOUBLE_EQ(prefix.sigma, std::sqrt(2 * std::log(1 / 0.85)));
  EXPECT_EQ(spec->prefix_num_tokens.cap(), 5000);
  EXPECT_EQ(std::get<IntDistribution::Uniform>(spec->input_num_tokens.params()).min, 120);
  EXPECT_EQ(std::get<IntDistribution::Uniform>(spec->output_num_tokens.params()).max, 120);
}

TEST(GenerationSpecTest, EveryExampleConfigLoads) {
  for (const char* file :
       {"generate_multi_turn.json", "lognormal_mean_sigma.json", "chat_short.json",
        "long_context.json", "constant_smoke.json", "numpy_legacy.json", "workload_shapes.json"}) {
    const std::string text = ReadSourceFile(std::string("examples/") + file);
    ASSERT_FALSE(text.empty()) << file;
    const absl::StatusOr<GenerationSpec> spec = LoadSpecFromJson(text);
    EXPECT_TRUE(spec.ok()) << file << ": " << spec.status();
    if (spec.ok()) {
      EXPECT_EQ(spec->text_files, std::vector<std::string>{"moby-dick.txt"});
      EXPECT_EQ(spec->rng, std::string(file) == "numpy_legacy.json" ? SizeRng::kNumpyLegacy
                                                                    : SizeRng::kPhilox);
    }
  }
}

TEST(GenerationSpecTest, MissingCommonPrefixIsConstantZero) {
  const absl::StatusOr<GenerationSpec> spec =
      LoadSpecFromJson(ReadSourceFile("tests/fixtures/vllm/generate_multi_turn_mean_sigma.json"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(std::get<IntDistribution::Constant>(spec->common_prefix_num_tokens.params()).value, 0);
  const auto& prefix = std::get<IntDistribution::Lognormal>(spec->prefix_num_tokens.params());
  EXPECT_EQ(prefix.mu, 6.5);
  EXPECT_EQ(prefix.sigma, 0.5);
  EXPECT_EQ(std::get<IntDistribution::Zipf>(spec->num_turns.params()).alpha, 1.5);
  EXPECT_EQ(spec->num_turns.cap(), 20);
  EXPECT_EQ(std::get<IntDistribution::Poisson>(spec->input_num_tokens.params()).lambda, 140);
  EXPECT_EQ(spec->input_num_tokens.cap(), 400);
}

TEST(GenerationSpecTest, CapZeroMeansNoCapAsInVllm) {
  const absl::StatusOr<GenerationSpec> spec = LoadSpecFromJson(R"({
    "filetype": "generate_conversations", "num_conversations": 2, "text_files": ["a"],
    "print_stats": true,
    "prompt_input": {"num_turns": {"distribution": "zipf", "alpha": 2, "max": 0},
                     "prefix_num_tokens": {"distribution": "poisson", "alpha": 5},
                     "num_tokens": {"distribution": "lognormal", "average": 10, "max": 0}},
    "prompt_output": {"num_tokens": {"distribution": "constant", "value": 0}}})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->print_stats);
  EXPECT_EQ(spec->num_turns.cap(), 0);
  EXPECT_EQ(spec->prefix_num_tokens.cap(), 0);
  EXPECT_EQ(spec->input_num_tokens.cap(), 0);
}

TEST(GenerationSpecTest, ReportsEveryProblemInOneAnswer) {
  const absl::StatusOr<GenerationSpec> spec = LoadSpecFromJson(R"({
    "filetype": "generate_conversations", "num_conversations": 0, "text_files": [],
    "prompt_input": {"num_turns": {"distribution": "uniform", "min": 12, "max": 10},
                     "prefix_num_tokens": {"distribution": "zipf", "alpha": 1},
                     "num_tokens": {"distribution": "gauss", "mu": 1}},
    "prompt_output": {"num_tokens": {"distribution": "poisson", "alpha": -3}},
    "extra": 1})");
  ASSERT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(),
            "invalid config (7 problems):\n"
            "prompt_input.num_tokens.distribution: unknown distribution \"gauss\"; "
            "expected one of constant, uniform, lognormal, zipf, poisson, normal, exponential, "
            "pareto, empirical, mixture\n"
            "extra: unknown field; expected one of filetype, num_conversations, "
            "text_files, print_stats, prompt_input, prompt_output, rng, shape_source\n"
            "num_conversations: must be > 0 (got 0)\n"
            "text_files: must list at least one file\n"
            "prompt_input.num_turns: uniform max must be >= min (10 < 12)\n"
            "prompt_input.prefix_num_tokens.alpha: must be > 1 and <= 1000 (got 1)\n"
            "prompt_output.num_tokens.alpha: must be > 0 and <= 1e15 (got -3)");
}

TEST(GenerationSpecTest, TypedConfigGetsTheSameRules) {
  v1::GenerationConfig config;
  config.set_filetype("generate_conversations");
  config.set_num_conversations(1);
  config.add_text_files("a.txt");
  v1::PromptInput& in = *config.mutable_prompt_input();
  in.mutable_num_turns()->mutable_constant()->set_value(4);
  in.mutable_num_turns()->set_max(3);  // constants take no cap
  in.mutable_prefix_num_tokens();      // no kind set
  in.mutable_num_tokens()->mutable_lognormal_average()->set_average(100);
  in.mutable_num_tokens()->mutable_lognormal_average()->set_median_ratio(1.0);
  // prompt_output missing entirely.
  const absl::StatusOr<GenerationSpec> spec = LoadSpec(config);
  ASSERT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(),
            "invalid config (4 problems):\n"
            "prompt_input.num_turns.max: constant, uniform and empirical take no cap\n"
            "prompt_input.prefix_num_tokens: no distribution kind set; use one of "
            "constant, uniform, lognormal, zipf, poisson, normal, exponential, pareto, "
            "empirical, mixture\n"
            "prompt_input.num_tokens.median_ratio: must be in (0, 1), exclusive "
            "(got 1)\n"
            "prompt_output: missing required field");
}

TEST(GenerationSpecTest, ValidTypedConfigLoads) {
  v1::GenerationConfig config;
  config.set_filetype("generate_conversations");
  config.set_num_conversations(5);
  config.add_text_files("a.txt");
  v1::PromptInput& in = *config.mutable_prompt_input();
  in.mutable_num_turns()->mutable_uniform()->set_min(2);
  in.mutable_num_turns()->mutable_uniform()->set_max(4);
  in.mutable_prefix_num_tokens()->mutable_poisson()->set_alpha(1e6);
  in.mutable_num_tokens()->mutable_lognormal_mean_sigma()->set_mean(5);
  in.mutable_num_tokens()->mutable_lognormal_mean_sigma()->set_sigma(0);
  config.mutable_prompt_output()->mutable_num_tokens()->mutable_zipf()->set_alpha(3);
  const absl::StatusOr<GenerationSpec> spec = LoadSpec(config);
  ASSERT_TRUE(spec.ok()) << spec.status();
  // sigma 0: every sample is exp(5) rounded.
  RandomStream stream({.seed = 1});
  EXPECT_EQ(spec->input_num_tokens.Sample(stream), 148);
}

}  // namespace
}  // namespace convgen
