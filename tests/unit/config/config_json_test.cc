#include "core/config/config_json.h"

#include <cmath>
#include <string>

#include "core/json/config_errors.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/files.h"

namespace convgen {
namespace {

using google::protobuf::util::MessageDifferencer;
using testing::ReadSourceFile;

constexpr const char* kReferenceFiles[] = {
    "tests/fixtures/vllm/generate_multi_turn.json",
    "tests/fixtures/vllm/generate_multi_turn_mean_sigma.json",
};

TEST(ConfigJsonTest, ReferenceFilesRoundTrip) {
  for (const char* file : kReferenceFiles) {
    const std::string text = ReadSourceFile(file);
    ASSERT_FALSE(text.empty()) << file;
    ConfigErrors errors;
    const v1::GenerationConfig config = ConfigFromJson(text, errors);
    ASSERT_TRUE(errors.empty()) << file << ": " << errors.ToStatus();

    const std::string written = ConfigToJson(config);
    ConfigErrors errors2;
    const v1::GenerationConfig reread = ConfigFromJson(written, errors2);
    ASSERT_TRUE(errors2.empty()) << errors2.ToStatus();
    EXPECT_TRUE(MessageDifferencer::Equals(config, reread)) << config.DebugString() << "\nvs\n"
                                                            << reread.DebugString();
    // The written JSON is the same document vLLM's reader sees.
    EXPECT_EQ(nlohmann::json::parse(written), nlohmann::json::parse(text)) << file;
  }
}

TEST(ConfigJsonTest, ConvgensOwnFieldsRoundTrip) {
  // Every new distribution and field, as JSON -> proto -> JSON -> proto.
  const std::string text = ReadSourceFile("examples/workload_shapes.json");
  ConfigErrors errors;
  const v1::GenerationConfig config = ConfigFromJson(text, errors);
  ASSERT_TRUE(errors.empty()) << errors.ToStatus();
  EXPECT_EQ(config.prompt_input().num_tokens().mixture().components_size(), 2);
  EXPECT_EQ(config.prompt_input().num_turns().empirical().values_size(), 4);
  EXPECT_EQ(config.prompt_input().prefix_groups().popularity(), v1::POPULARITY_ZIPF);
  const std::string written = ConfigToJson(config);
  ConfigErrors errors2;
  const v1::GenerationConfig reread = ConfigFromJson(written, errors2);
  ASSERT_TRUE(errors2.empty()) << errors2.ToStatus();
  EXPECT_TRUE(MessageDifferencer::Equals(config, reread));
  EXPECT_EQ(nlohmann::json::parse(written), nlohmann::json::parse(text));
}

TEST(ConfigJsonTest, RngRoundTripsAndIsAbsentByDefault) {
  nlohmann::json doc =
      nlohmann::json::parse(ReadSourceFile("tests/fixtures/vllm/generate_multi_turn.json"));
  for (const char* rng : {"numpy_legacy", "philox"}) {
    doc["rng"] = rng;
    ConfigErrors errors;
    const v1::GenerationConfig config = ConfigFromJson(doc.dump(), errors);
    ASSERT_TRUE(errors.empty()) << errors.ToStatus();
    EXPECT_EQ(config.rng(), std::string(rng) == "philox" ? v1::RNG_PHILOX : v1::RNG_NUMPY_LEGACY);
    EXPECT_EQ(nlohmann::json::parse(ConfigToJson(config)), doc);
  }
  doc.erase("rng");
  ConfigErrors errors;
  const v1::GenerationConfig config = ConfigFromJson(doc.dump(), errors);
  EXPECT_FALSE(config.has_rng());
  EXPECT_FALSE(nlohmann::json::parse(ConfigToJson(config)).contains("rng"));
}

TEST(ConfigJsonTest, ReadsTheReferenceConfigIntoTypedFields) {
  ConfigErrors errors;
  const v1::GenerationConfig c =
      ConfigFromJson(ReadSourceFile("tests/fixtures/vllm/generate_multi_turn.json"), errors);
  ASSERT_TRUE(errors.empty()) << errors.ToStatus();
  EXPECT_EQ(c.filetype(), "generate_conversations");
  EXPECT_EQ(c.num_conversations(), 24);
  ASSERT_EQ(c.text_files_size(), 1);
  EXPECT_EQ(c.text_files(0), "pg1184.txt");
  ASSERT_TRUE(c.has_print_stats());
  EXPECT_FALSE(c.print_stats());
  const v1::PromptInput& in = c.prompt_input();
  EXPECT_EQ(in.num_turns().uniform().min(), 12);
  EXPECT_EQ(in.num_turns().uniform().max(), 18);
  EXPECT_FALSE(in.num_turns().has_max());
  EXPECT_EQ(in.common_prefix_num_tokens().constant().value(), 500);
  EXPECT_EQ(in.prefix_num_tokens().lognormal_average().average(), 1000);
  EXPECT_FALSE(in.prefix_num_tokens().lognormal_average().has_median_ratio());
  EXPECT_EQ(in.prefix_num_tokens().max(), 5000);
  EXPECT_EQ(in.num_tokens().uniform().min(), 120);
  EXPECT_EQ(c.prompt_output().num_tokens().uniform().max(), 120);
}

TEST(ConfigJsonTest, ReadsMeanSigmaZipfPoissonAndAbsentCommonPrefix) {
  ConfigErrors errors;
  const v1::GenerationConfig c = ConfigFromJson(
      ReadSourceFile("tests/fixtures/vllm/generate_multi_turn_mean_sigma.json"), errors);
  ASSERT_TRUE(errors.empty()) << errors.ToStatus();
  const v1::PromptInput& in = c.prompt_input();
  EXPECT_EQ(in.num_turns().zipf().alpha(), 1.5);
  EXPECT_EQ(in.num_turns().max(), 20);
  EXPECT_FALSE(in.has_common_prefix_num_tokens());
  EXPECT_EQ(in.prefix_num_tokens().lognormal_mean_sigma().mean(), 6.5);
  EXPECT_EQ(in.prefix_num_tokens().lognormal_mean_sigma().sigma(), 0.5);
  EXPECT_EQ(in.prefix_num_tokens().max(), 3000);
  EXPECT_EQ(in.num_tokens().poisson().alpha(), 140);
  EXPECT_EQ(in.num_tokens().max(), 400);
}

TEST(ConfigJsonTest, WritesVllmKeyOrderAndKeepsOptionalFieldsAsGiven) {
  v1::GenerationConfig c;
  c.set_filetype("generate_conversations");
  c.set_num_conversations(3);
  c.add_text_files("a.txt");
  v1::Distribution* turns = c.mutable_prompt_input()->mutable_num_turns();
  turns->mutable_poisson()->set_alpha(2.5);
  turns->set_max(0);  // explicitly "no cap": kept, not dropped
  c.mutable_prompt_input()->mutable_prefix_num_tokens()->mutable_constant()->set_value(0);
  auto* avg = c.mutable_prompt_input()->mutable_num_tokens()->mutable_lognormal_average();
  avg->set_average(100);
  avg->set_median_ratio(0.5);
  c.mutable_prompt_output()->mutable_num_tokens()->mutable_uniform()->set_min(1);
  c.mutable_prompt_output()->mutable_num_tokens()->mutable_uniform()->set_max(2);

  EXPECT_EQ(ConfigToJson(c), R"({
    "filetype": "generate_conversations",
    "num_conversations": 3,
    "text_files": [
        "a.txt"
    ],
    "prompt_input": {
        "num_turns": {
            "distribution": "poisson",
            "alpha": 2.5,
            "max": 0
        },
        "prefix_num_tokens": {
            "distribution": "constant",
            "value": 0
        },
        "num_tokens": {
            "distribution": "lognormal",
            "average": 100,
            "median_ratio": 0.5
        }
    },
    "prompt_output": {
        "num_tokens": {
            "distribution": "uniform",
            "min": 1,
            "max": 2
        }
    }
}
)");
  ConfigErrors errors;
  EXPECT_TRUE(MessageDifferencer::Equals(ConfigFromJson(ConfigToJson(c), errors), c));
  EXPECT_TRUE(errors.empty()) << errors.ToStatus();
}

// Found by the fuzzer: "sigma": -0.0 was written back as 0, which reads as
// +0.0, a different proto3 value.
TEST(ConfigJsonTest, NegativeZeroRoundTrips) {
  ConfigErrors errors;
  const v1::GenerationConfig c = ConfigFromJson(
      testing::ReadSourceFile("tests/fuzz/corpus/config_json_fuzzer/regression-negative-zero.json"),
      errors);
  ASSERT_TRUE(errors.empty()) << errors.ToStatus();
  EXPECT_TRUE(std::signbit(c.prompt_input().prefix_num_tokens().lognormal_mean_sigma().sigma()));
  ConfigErrors errors2;
  EXPECT_TRUE(MessageDifferencer::Equals(ConfigFromJson(ConfigToJson(c), errors2), c));
}

TEST(ConfigJsonTest, AcceptsIntegersWrittenAsFloats) {
  ConfigErrors errors;
  const v1::GenerationConfig c = ConfigFromJson(R"({
    "filetype": "generate_conversations", "num_conversations": 1e3,
    "text_files": ["a"],
    "prompt_input": {"num_turns": {"distribution": "constant", "value": 4.0},
                     "prefix_num_tokens": {"distribution": "zipf", "alpha": 2, "max": 1E2},
                     "num_tokens": {"distribution": "uniform", "min": 1, "max": 10}},
    "prompt_output": {"num_tokens": {"distribution": "constant", "value": 5}}})",
                                                errors);
  ASSERT_TRUE(errors.empty()) << errors.ToStatus();
  EXPECT_EQ(c.num_conversations(), 1000);
  EXPECT_EQ(c.prompt_input().num_turns().constant().value(), 4);
  EXPECT_EQ(c.prompt_input().prefix_num_tokens().max(), 100);
  EXPECT_EQ(c.prompt_input().prefix_num_tokens().zipf().alpha(), 2.0);
}

TEST(ConfigJsonTest, AcceptsUtf8FileNamesAndByteOrderMark) {
  ConfigErrors errors;
  const v1::GenerationConfig c = ConfigFromJson(
      "\xEF\xBB\xBF"
      R"({"filetype": "generate_conversations", "num_conversations": 1,
        "text_files": ["b\u00e9b\u00e9.txt", "日本.txt"],
        "prompt_input": {"num_turns": {"distribution": "constant", "value": 2},
                         "prefix_num_tokens": {"distribution": "constant", "value": 0},
                         "num_tokens": {"distribution": "constant", "value": 5}},
        "prompt_output": {"num_tokens": {"distribution": "constant", "value": 5}}})",
      errors);
  ASSERT_TRUE(errors.empty()) << errors.ToStatus();
  EXPECT_EQ(c.text_files(0),
            "b\xC3\xA9"
            "b\xC3\xA9.txt");
  EXPECT_EQ(c.text_files(1), "日本.txt");
}

}  // namespace
}  // namespace convgen
