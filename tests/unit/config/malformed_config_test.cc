// Malformed configs, each with the exact JSON path and message it
// must be refused with. Every case goes through the whole JSON -> proto ->
// spec path; none may crash (the suite runs under ASan+UBSan in CI).
#include <functional>
#include <string>
#include <vector>

#include "core/config/generation_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/files.h"

namespace convgen {
namespace {

using Json = nlohmann::ordered_json;

struct MalformedCase {
  std::string name;
  std::string json;
  std::string path;     // the path of the first (or only) error
  std::string message;  // that error's exact message
};

void PrintTo(const MalformedCase& c, std::ostream* os) { *os << c.name; }

Json Reference() {
  return Json::parse(testing::ReadSourceFile("tests/fixtures/vllm/generate_multi_turn.json"));
}

// The reference config with one edit applied.
std::string Edited(const std::function<void(Json&)>& edit) {
  Json config = Reference();
  edit(config);
  return config.dump();
}

std::string WithDistribution(const std::string& field, const Json& value) {
  return Edited([&](Json& c) { c["prompt_input"][field] = value; });
}

std::vector<MalformedCase> Cases() {
  const std::string kKinds =
      "constant, uniform, lognormal, zipf, poisson, normal, exponential, pareto, empirical, "
      "mixture";
  const std::string kIn = "prompt_input.";
  std::vector<MalformedCase> cases = {
      // Not JSON, or not the JSON a config must be.
      {"empty_text", "", "",
       "invalid JSON: parse error at line 1, column 1: syntax error while "
       "parsing value - unexpected end of input; expected '[', '{', or a literal"},
      {"not_json", "hello", "",
       "invalid JSON: parse error at line 1, column 1: syntax error while "
       "parsing value - invalid literal; last read: 'h'"},
      {"array_root", "[1, 2]", "", "a config must be a JSON object (got [1,2])"},
      {"string_root", "\"generate\"", "", "a config must be a JSON object (got \"generate\")"},
      {"trailing_garbage", Reference().dump() + " x", "",
       "invalid JSON: parse error at line 1, column " +
           std::to_string(Reference().dump().size() + 2) +
           ": syntax error while parsing value - invalid literal; last read: "
           "'120}}} x'; expected end of input"},
      {"trailing_second_object", Reference().dump() + "{}", "",
       "invalid JSON: parse error at line 1, column " +
           std::to_string(Reference().dump().size() + 1) +
           ": syntax error while parsing value - unexpected '{'; expected end of "
           "input"},
      {"truncated", Reference().dump().substr(0, 40), "",
       "invalid JSON: parse error at line 1, column 41: syntax error while "
       "parsing object key - invalid string: missing closing quote; last read: "
       "'\"nu'; expected string literal"},
      {"nan_literal", R"({"filetype": "generate_conversations", "num_conversations": NaN})", "",
       "invalid JSON: parse error at line 1, column 61: syntax error while "
       "parsing value - invalid literal; last read: '\"num_conversations\": N'"},
      {"infinity_literal",
       R"({"filetype": "generate_conversations", "num_conversations": Infinity})", "",
       "invalid JSON: parse error at line 1, column 61: syntax error while "
       "parsing value - invalid literal; last read: '\"num_conversations\": I'"},
      {"invalid_utf8_in_string", std::string(R"({"filetype": "generate_)") + "\xC3\x28" + R"("})",
       "",
       "invalid JSON: parse error at line 1, column 25: syntax error while "
       "parsing value - invalid string: ill-formed UTF-8 byte; last read: "
       "'\"generate_\xC3\x28'"},
      {"overlong_utf8", std::string(R"({"text_files": [")") + "\xC0\xAF" + R"("]})", "",
       "invalid JSON: parse error at line 1, column 18: syntax error while "
       "parsing value - invalid string: ill-formed UTF-8 byte; last read: "
       "'\"\xC0'"},
      {"deep_nesting", std::string(40, '[') + std::string(40, ']'),
       "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
       "[0][0][0][0][0][0][0][0]",
       "nesting is deeper than 32 levels"},
      {"duplicate_key", R"({"filetype": "generate_conversations", "filetype": "x"})", "filetype",
       "duplicate key; each field may appear once"},
      // Checking 40,000 unknown keys for duplicates one by one took 40 s of CPU.
      {"too_many_fields", Edited([](Json& c) {
         for (int i = 0; i < 2000; ++i) c["unknown" + std::to_string(i)] = i;
       }),
       "", "an object with more than 1024 fields; a config needs a few dozen"},
      {"integer_beyond_int64",
       Edited([](Json& c) { c["num_conversations"] = 1; })
           .replace(
               Edited([](Json& c) { c["num_conversations"] = 1; }).find("\"num_conversations\":1"),
               21, "\"num_conversations\":99999999999999999999"),
       "num_conversations", "integer 99999999999999999999 is beyond the int64 range"},
      {"unsigned_beyond_int64",
       Edited([](Json& c) { c["num_conversations"] = 9223372036854775808ULL; }),
       "num_conversations", "integer 9223372036854775808 is beyond the int64 range"},
      {"float_beyond_double",
       Edited([](Json& c) { c["num_conversations"] = 1; })
           .replace(
               Edited([](Json& c) { c["num_conversations"] = 1; }).find("\"num_conversations\":1"),
               21, "\"num_conversations\":1e999"),
       "", "invalid JSON: number overflow parsing '1e999'"},

      // Top-level fields.
      {"unknown_top_level_field", Edited([](Json& c) { c["seed"] = 3; }), "seed",
       "unknown field; expected one of filetype, num_conversations, text_files, "
       "print_stats, prompt_input, prompt_output, rng, shape_source"},
      {"missing_filetype", Edited([](Json& c) { c.erase("filetype"); }), "filetype",
       "missing required field"},
      {"unknown_rng", Edited([](Json& c) { c["rng"] = "mt19937"; }), "rng",
       "must be \"philox\" or \"numpy_legacy\" (got \"mt19937\")"},
      {"rng_not_string", Edited([](Json& c) { c["rng"] = 2; }), "rng",
       "must be \"philox\" or \"numpy_legacy\" (got 2)"},
      {"numpy_legacy_too_many_conversations", Edited([](Json& c) {
         c["rng"] = "numpy_legacy";
         c["num_conversations"] = 10000001;
       }),
       "num_conversations",
       "must be <= 10000000 with rng \"numpy_legacy\", which draws every turn count up front as "
       "vLLM does (got 10000001); split the workload or use rng \"philox\""},
      {"wrong_filetype", Edited([](Json& c) { c["filetype"] = "sharegpt"; }), "filetype",
       "must be \"generate_conversations\" (got \"sharegpt\")"},
      {"filetype_not_string", Edited([](Json& c) { c["filetype"] = 1; }), "filetype",
       "must be the string \"generate_conversations\" (got 1)"},
      {"missing_num_conversations", Edited([](Json& c) { c.erase("num_conversations"); }),
       "num_conversations", "missing required field"},
      {"zero_conversations", Edited([](Json& c) { c["num_conversations"] = 0; }),
       "num_conversations", "must be > 0 (got 0)"},
      {"negative_conversations", Edited([](Json& c) { c["num_conversations"] = -5; }),
       "num_conversations", "must be > 0 (got -5)"},
      {"fractional_conversations", Edited([](Json& c) { c["num_conversations"] = 2.5; }),
       "num_conversations", "must be an integer (got 2.5)"},
      {"conversations_as_string", Edited([](Json& c) { c["num_conversations"] = "24"; }),
       "num_conversations", "must be an integer (got \"24\")"},
      {"conversations_as_bool", Edited([](Json& c) { c["num_conversations"] = true; }),
       "num_conversations", "must be an integer (got true)"},
      {"text_files_not_list", Edited([](Json& c) { c["text_files"] = "a.txt"; }), "text_files",
       "must be a list of file names (got \"a.txt\")"},
      {"text_files_empty", Edited([](Json& c) { c["text_files"] = Json::array(); }), "text_files",
       "must list at least one file"},
      {"text_file_not_string", Edited([](Json& c) {
         c["text_files"] = Json::array({"a", 7});
       }),
       "text_files[1]", "must be a file name string (got 7)"},
      {"text_file_empty_name", Edited([](Json& c) { c["text_files"] = Json::array({""}); }),
       "text_files[0]", "must be a non-empty file name"},
      {"print_stats_not_bool", Edited([](Json& c) { c["print_stats"] = "yes"; }), "print_stats",
       "must be true or false (got \"yes\")"},
      {"missing_prompt_input", Edited([](Json& c) { c.erase("prompt_input"); }), "prompt_input",
       "missing required field"},
      {"prompt_output_not_object", Edited([](Json& c) { c["prompt_output"] = 5; }), "prompt_output",
       "must be an object such as {\"num_tokens\": {...}} (got 5)"},
      {"missing_output_tokens", Edited([](Json& c) { c["prompt_output"].erase("num_tokens"); }),
       "prompt_output.num_tokens", "missing required field"},
      {"unknown_prompt_input_field", Edited([](Json& c) { c["prompt_input"]["num_token"] = 5; }),
       "prompt_input.num_token",
       "unknown field in prompt_input; expected one of num_turns, "
       "common_prefix_num_tokens, prefix_num_tokens, num_tokens, think_time_ms, prefix_groups, "
       "first_turn_num_tokens"},
      {"missing_num_turns", Edited([](Json& c) { c["prompt_input"].erase("num_turns"); }),
       "prompt_input.num_turns", "missing required field"},
      {"missing_prefix", Edited([](Json& c) { c["prompt_input"].erase("prefix_num_tokens"); }),
       "prompt_input.prefix_num_tokens", "missing required field"},

      // Distributions.
      {"distribution_not_object", WithDistribution("num_turns", 12), kIn + "num_turns",
       "must be an object such as {\"distribution\": \"uniform\", \"min\": 1, "
       "\"max\": 10} (got 12)"},
      {"missing_distribution_kind", WithDistribution("num_turns", {{"value", 4}}),
       kIn + "num_turns.distribution", "missing required field; one of " + kKinds},
      {"distribution_kind_not_string", WithDistribution("num_turns", {{"distribution", 3}}),
       kIn + "num_turns.distribution", "must be a string, one of " + kKinds + " (got 3)"},
      {"unknown_distribution",
       WithDistribution("num_turns", {{"distribution", "gamma"}, {"shape", 3}}),
       kIn + "num_turns.distribution", "unknown distribution \"gamma\"; expected one of " + kKinds},
      // convgen's own distributions.
      {"normal_without_stddev",
       WithDistribution("num_turns", {{"distribution", "normal"}, {"mean", 3}}),
       kIn + "num_turns.stddev", "missing required field"},
      {"normal_negative_stddev",
       WithDistribution("num_tokens", {{"distribution", "normal"}, {"mean", 300}, {"stddev", -1}}),
       kIn + "num_tokens.stddev", "must be >= 0 and <= 1e15 (got -1)"},
      {"normal_max_below_min",
       WithDistribution(
           "num_tokens",
           {{"distribution", "normal"}, {"mean", 300}, {"stddev", 10}, {"min", 50}, {"max", 40}}),
       kIn + "num_tokens.max", "must be >= min (40 < 50)"},
      {"exponential_zero_mean",
       WithDistribution("num_tokens", {{"distribution", "exponential"}, {"mean", 0}}),
       kIn + "num_tokens.mean", "must be > 0 and <= 1e15 (got 0)"},
      {"pareto_zero_scale",
       WithDistribution("num_tokens", {{"distribution", "pareto"}, {"alpha", 2}, {"scale", 0}}),
       kIn + "num_tokens.scale", "must be > 0 and <= 1e15 (got 0)"},
      {"empirical_no_values",
       WithDistribution("num_tokens", {{"distribution", "empirical"}, {"values", Json::array()}}),
       kIn + "num_tokens.values", "must list 1 to 100000 values (got 0)"},
      {"empirical_weights_mismatch",
       WithDistribution("num_tokens",
                        {{"distribution", "empirical"}, {"values", {1, 2}}, {"weights", {1}}}),
       kIn + "num_tokens.weights",
       "must give one weight per value (1 weights, 2 values) or be left out"},
      {"empirical_negative_value",
       WithDistribution("num_tokens", {{"distribution", "empirical"}, {"values", {5, -2}}}),
       kIn + "num_tokens.values[1]", "must be >= 0 and <= 2^62 (got -2)"},
      {"empirical_zero_weights",
       WithDistribution("num_tokens",
                        {{"distribution", "empirical"}, {"values", {5, 6}}, {"weights", {0, 0}}}),
       kIn + "num_tokens", "the weights must have a positive, finite sum"},
      {"empirical_takes_no_cap",
       WithDistribution("num_tokens", {{"distribution", "empirical"}, {"values", {5}}, {"max", 3}}),
       kIn + "num_tokens.max",
       "unknown field for the empirical distribution; expected one of distribution, values, "
       "weights"},
      {"mixture_without_components", WithDistribution("num_tokens", {{"distribution", "mixture"}}),
       kIn + "num_tokens.components", "missing required field"},
      {"mixture_component_bad",
       WithDistribution(
           "num_tokens",
           {{"distribution", "mixture"},
            {"components",
             {{{"weight", 1}, {"distribution", {{"distribution", "zipf"}, {"alpha", 0.5}}}}}}}),
       kIn + "num_tokens.components[0].distribution.alpha", "must be > 1 and <= 1000 (got 0.5)"},
      {"mixture_negative_weight",
       WithDistribution(
           "num_tokens",
           {{"distribution", "mixture"},
            {"components",
             {{{"weight", -1}, {"distribution", {{"distribution", "constant"}, {"value", 3}}}}}}}),
       kIn + "num_tokens.components[0].weight", "must be >= 0 (got -1)"},
      {"mixture_component_unknown_field",
       WithDistribution(
           "num_tokens",
           {{"distribution", "mixture"},
            {"components",
             {{{"weight", 1}, {"dist", {{"distribution", "constant"}, {"value", 3}}}}}}}),
       kIn + "num_tokens.components[0].distribution", "missing required field"},
      {"distribution_kind_wrong_case",
       WithDistribution("num_turns", {{"distribution", "Uniform"}, {"min", 1}, {"max", 2}}),
       kIn + "num_turns.distribution",
       "unknown distribution \"Uniform\"; expected one of " + kKinds},
      {"uniform_max_below_min",
       WithDistribution("num_turns", {{"distribution", "uniform"}, {"min", 12}, {"max", 10}}),
       kIn + "num_turns", "uniform max must be >= min (10 < 12)"},
      {"uniform_min_zero",
       WithDistribution("num_tokens", {{"distribution", "uniform"}, {"min", 0}, {"max", 10}}),
       kIn + "num_tokens.min", "must be > 0 (got 0)"},
      {"uniform_min_negative",
       WithDistribution("num_tokens", {{"distribution", "uniform"}, {"min", -3}, {"max", 10}}),
       kIn + "num_tokens.min", "must be > 0 (got -3)"},
      {"uniform_fractional_bound",
       WithDistribution("num_tokens", {{"distribution", "uniform"}, {"min", 1.5}, {"max", 10}}),
       kIn + "num_tokens.min", "must be an integer (got 1.5)"},
      {"uniform_missing_max",
       WithDistribution("num_tokens", {{"distribution", "uniform"}, {"min", 1}}),
       kIn + "num_tokens.max", "missing required field"},
      {"uniform_extra_field",
       WithDistribution("num_tokens",
                        {{"distribution", "uniform"}, {"min", 1}, {"max", 3}, {"alpha", 2}}),
       kIn + "num_tokens.alpha",
       "unknown field for the uniform distribution; expected one of distribution, "
       "min, max"},
      {"constant_negative",
       WithDistribution("common_prefix_num_tokens", {{"distribution", "constant"}, {"value", -1}}),
       kIn + "common_prefix_num_tokens.value", "must be >= 0 and <= 2^62 (got -1)"},
      // Sizes above 2^62 would break "every sample fits int64 with room for a
      // sum" and came back as negative numbers in later messages.
      {"constant_near_2_63",
       WithDistribution("num_tokens",
                        {{"distribution", "constant"}, {"value", INT64_C(9223372036854775807)}}),
       kIn + "num_tokens.value", "must be >= 0 and <= 2^62 (got 9223372036854775807)"},
      {"uniform_max_over_2_62",
       WithDistribution(
           "num_tokens",
           {{"distribution", "uniform"}, {"min", 1}, {"max", INT64_C(4611686018427387905)}}),
       kIn + "num_tokens.max", "must be >= 1 and <= 2^62 (got 4611686018427387905)"},
      {"normal_min_over_2_62",
       WithDistribution("num_tokens", {{"distribution", "normal"},
                                       {"mean", 3},
                                       {"stddev", 1},
                                       {"min", INT64_C(4611686018427387905)}}),
       kIn + "num_tokens.min", "must be >= 0 and <= 2^62 (got 4611686018427387905)"},
      {"constant_fractional",
       WithDistribution("num_turns", {{"distribution", "constant"}, {"value", 2.5}}),
       kIn + "num_turns.value", "must be an integer (got 2.5)"},
      {"constant_with_cap",
       WithDistribution("num_turns", {{"distribution", "constant"}, {"value", 2}, {"max", 4}}),
       kIn + "num_turns.max",
       "unknown field for the constant distribution; expected one of distribution, "
       "value"},
      {"constant_missing_value", WithDistribution("num_turns", {{"distribution", "constant"}}),
       kIn + "num_turns.value", "missing required field"},
      {"lognormal_both_forms",
       WithDistribution("prefix_num_tokens",
                        {{"distribution", "lognormal"}, {"average", 100}, {"mean", 3}}),
       kIn + "prefix_num_tokens",
       "lognormal takes either average (with optional median_ratio) or mean and "
       "sigma, not both"},
      {"lognormal_median_ratio_one",
       WithDistribution("prefix_num_tokens",
                        {{"distribution", "lognormal"}, {"average", 100}, {"median_ratio", 1}}),
       kIn + "prefix_num_tokens.median_ratio", "must be in (0, 1), exclusive (got 1)"},
      {"lognormal_median_ratio_zero",
       WithDistribution("prefix_num_tokens",
                        {{"distribution", "lognormal"}, {"average", 100}, {"median_ratio", 0}}),
       kIn + "prefix_num_tokens.median_ratio", "must be in (0, 1), exclusive (got 0)"},
      {"lognormal_median_ratio_without_average",
       WithDistribution(
           "prefix_num_tokens",
           {{"distribution", "lognormal"}, {"mean", 3}, {"sigma", 1}, {"median_ratio", 0.5}}),
       kIn + "prefix_num_tokens.median_ratio",
       "median_ratio needs average; with mean and sigma leave it out"},
      {"lognormal_average_below_one",
       WithDistribution("prefix_num_tokens", {{"distribution", "lognormal"}, {"average", 0.5}}),
       kIn + "prefix_num_tokens.average", "must be >= 1 (got 0.5)"},
      {"lognormal_average_string",
       WithDistribution("prefix_num_tokens", {{"distribution", "lognormal"}, {"average", "1k"}}),
       kIn + "prefix_num_tokens.average", "must be a number (got \"1k\")"},
      {"lognormal_missing_sigma",
       WithDistribution("prefix_num_tokens", {{"distribution", "lognormal"}, {"mean", 3}}),
       kIn + "prefix_num_tokens.sigma", "missing required field"},
      {"lognormal_mean_zero",
       WithDistribution("prefix_num_tokens",
                        {{"distribution", "lognormal"}, {"mean", 0}, {"sigma", 1}}),
       kIn + "prefix_num_tokens.mean", "must be > 0 (got 0)"},
      {"lognormal_negative_sigma",
       WithDistribution("prefix_num_tokens",
                        {{"distribution", "lognormal"}, {"mean", 3}, {"sigma", -0.1}}),
       kIn + "prefix_num_tokens.sigma", "must be >= 0 (got -0.1)"},
      {"lognormal_negative_cap",
       WithDistribution("prefix_num_tokens",
                        {{"distribution", "lognormal"}, {"average", 10}, {"max", -1}}),
       kIn + "prefix_num_tokens.max", "must be >= 0; 0 means no cap (got -1)"},
      {"lognormal_fractional_cap",
       WithDistribution("prefix_num_tokens",
                        {{"distribution", "lognormal"}, {"average", 10}, {"max", 10.5}}),
       kIn + "prefix_num_tokens.max", "must be an integer (got 10.5)"},
      {"zipf_alpha_one", WithDistribution("num_turns", {{"distribution", "zipf"}, {"alpha", 1}}),
       kIn + "num_turns.alpha", "must be > 1 and <= 1000 (got 1)"},
      {"zipf_alpha_below_one",
       WithDistribution("num_turns", {{"distribution", "zipf"}, {"alpha", 0.5}}),
       kIn + "num_turns.alpha", "must be > 1 and <= 1000 (got 0.5)"},
      {"zipf_alpha_huge", WithDistribution("num_turns", {{"distribution", "zipf"}, {"alpha", 1e6}}),
       kIn + "num_turns.alpha", "must be > 1 and <= 1000 (got 1e+06)"},
      {"zipf_missing_alpha", WithDistribution("num_turns", {{"distribution", "zipf"}}),
       kIn + "num_turns.alpha", "missing required field"},
      {"zipf_alpha_null",
       WithDistribution("num_turns", {{"distribution", "zipf"}, {"alpha", nullptr}}),
       kIn + "num_turns.alpha", "must be a number (got null)"},
      {"poisson_alpha_zero",
       WithDistribution("num_tokens", {{"distribution", "poisson"}, {"alpha", 0}}),
       kIn + "num_tokens.alpha", "must be > 0 and <= 1e15 (got 0)"},
      {"poisson_alpha_negative",
       WithDistribution("num_tokens", {{"distribution", "poisson"}, {"alpha", -140}}),
       kIn + "num_tokens.alpha", "must be > 0 and <= 1e15 (got -140)"},
      {"poisson_alpha_too_large",
       WithDistribution("num_tokens", {{"distribution", "poisson"}, {"alpha", 1e300}}),
       kIn + "num_tokens.alpha", "must be > 0 and <= 1e15 (got 1e+300)"},
      {"poisson_cap_as_array",
       WithDistribution("num_tokens",
                        {{"distribution", "poisson"}, {"alpha", 3}, {"max", Json::array({1})}}),
       kIn + "num_tokens.max", "must be an integer (got [1])"},
      {"output_unknown_field", Edited([](Json& c) { c["prompt_output"]["num_turns"] = 3; }),
       "prompt_output.num_turns",
       "unknown field in prompt_output; expected one of num_tokens, first_turn_num_tokens"},
      {"prefix_groups_zero", Edited([](Json& c) {
         c["prompt_input"]["prefix_groups"] = {
             {"num_groups", 0},
             {"prefix_num_tokens", {{"distribution", "constant"}, {"value", 9}}}};
       }),
       "prompt_input.prefix_groups.num_groups", "must be 1 to 100000 (got 0)"},
      {"prefix_groups_bad_popularity", Edited([](Json& c) {
         c["prompt_input"]["prefix_groups"] = {
             {"num_groups", 4},
             {"popularity", "pareto"},
             {"prefix_num_tokens", {{"distribution", "constant"}, {"value", 9}}}};
       }),
       "prompt_input.prefix_groups.popularity", "must be \"uniform\" or \"zipf\" (got \"pareto\")"},
      {"prefix_groups_alpha_without_zipf", Edited([](Json& c) {
         c["prompt_input"]["prefix_groups"] = {
             {"num_groups", 4},
             {"alpha", 1.2},
             {"prefix_num_tokens", {{"distribution", "constant"}, {"value", 9}}}};
       }),
       "prompt_input.prefix_groups.alpha", "only zipf popularity takes alpha"},
      {"prefix_groups_without_size", Edited([](Json& c) {
         c["prompt_input"]["prefix_groups"] = {{"num_groups", 4}};
       }),
       "prompt_input.prefix_groups.prefix_num_tokens", "missing required field"},
      {"think_time_bad", Edited([](Json& c) {
         c["prompt_input"]["think_time_ms"] = {{"distribution", "exponential"}, {"mean", -5}};
       }),
       "prompt_input.think_time_ms.mean", "must be > 0 and <= 1e15 (got -5)"},
      {"first_turn_output_bad", Edited([](Json& c) {
         c["prompt_output"]["first_turn_num_tokens"] = {
             {"distribution", "uniform"}, {"min", 0}, {"max", 3}};
       }),
       "prompt_output.first_turn_num_tokens.min", "must be > 0 (got 0)"},
  };
  return cases;
}

class MalformedConfigTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedConfigTest, RefusedWithExactPathAndMessage) {
  const MalformedCase& c = GetParam();
  ConfigErrors errors;
  const std::optional<GenerationSpec> spec = SpecFromJson(c.json, errors);
  EXPECT_FALSE(spec.has_value());
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors.errors()[0].path, c.path);
  EXPECT_EQ(errors.errors()[0].message, c.message);
  // The status carries the same text.
  const absl::Status status = LoadSpecFromJson(c.json).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr(errors.errors()[0].ToString()));
}

INSTANTIATE_TEST_SUITE_P(Configs, MalformedConfigTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

// The control for every case above: the reference config they edit loads, with
// the values its file gives, so each case is refused for its own edit.
TEST(MalformedConfigBaseTest, TheUneditedReferenceLoads) {
  const absl::StatusOr<GenerationSpec> spec = LoadSpecFromJson(Reference().dump());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->num_conversations, 24);
  EXPECT_EQ(spec->text_files, std::vector<std::string>{"pg1184.txt"});
  RandomStream stream({.seed = 1});
  EXPECT_EQ(spec->common_prefix_num_tokens.Sample(stream), 500);
  for (int i = 0; i < 100; ++i) {
    const int64_t turns = spec->num_turns.Sample(stream);
    EXPECT_TRUE(turns >= 12 && turns <= 18) << turns;
  }
}

}  // namespace
}  // namespace convgen
