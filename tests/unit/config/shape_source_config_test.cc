// shape_source in a config: read from JSON and written back, its rules, and
// the size fields it makes refused.
#include <string>

#include "core/config/config_json.h"
#include "core/config/generation_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"

namespace convgen {
namespace {

using ::testing::HasSubstr;

std::string Config(const std::string& shape, const std::string& rest = "") {
  return R"({"filetype": "generate_conversations", "num_conversations": 10,
             "text_files": ["moby-dick.txt"], "shape_source": )" +
         shape + rest + "}";
}

TEST(ShapeSourceConfigTest, ReadsAndWritesBack) {
  v1::GenerationConfig config;
  absl::StatusOr<GenerationSpec> spec = LoadSpecFromJson(
      Config(R"({"format": "mooncake", "path": "traces/t.jsonl", "mode": "fit", "block_size": 16})",
             R"(, "prompt_input": {"think_time_ms": {"distribution": "constant", "value": 5}})"),
      &config);
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(spec->shape_source.has_value());
  EXPECT_EQ(spec->shape_source->format, v1::SHAPE_FORMAT_MOONCAKE);
  EXPECT_EQ(spec->shape_source->path, "traces/t.jsonl");
  EXPECT_TRUE(spec->shape_source->fit);
  EXPECT_EQ(spec->shape_source->block_size, 16);
  ASSERT_TRUE(spec->think_time_ms.has_value());
  EXPECT_EQ(config.shape_source().block_size(), 16);

  const std::string json = ConfigToJson(config);
  EXPECT_THAT(json, HasSubstr(R"("format": "mooncake")"));
  EXPECT_THAT(json, HasSubstr(R"("mode": "fit")"));
  v1::GenerationConfig reread;
  ASSERT_TRUE(LoadSpecFromJson(json, &reread).ok()) << json;
  EXPECT_EQ(reread.SerializeAsString(), config.SerializeAsString());
}

TEST(ShapeSourceConfigTest, DefaultsToReplayAnd512TokenBlocks) {
  absl::StatusOr<GenerationSpec> spec =
      LoadSpecFromJson(Config(R"({"format": "sharegpt", "path": "chats.json"})"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(spec->shape_source->fit);
  EXPECT_EQ(spec->shape_source->format, v1::SHAPE_FORMAT_SHAREGPT);
  EXPECT_EQ(spec->shape_source->block_size, 512);
}

TEST(ShapeSourceConfigTest, WithoutShapeSourceSizesAreStillRequired) {
  absl::StatusOr<GenerationSpec> spec = LoadSpecFromJson(
      R"({"filetype": "generate_conversations", "num_conversations": 10, "text_files": ["a"]})");
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(), HasSubstr("prompt_input: missing required field"));
  EXPECT_THAT(spec.status().message(), HasSubstr("prompt_output: missing required field"));
}

std::string Errors(const std::string& json) {
  absl::StatusOr<GenerationSpec> spec = LoadSpecFromJson(json);
  EXPECT_FALSE(spec.ok()) << json;
  return std::string(spec.status().message());
}

TEST(ShapeSourceConfigTest, ReportsEachBadFieldAtItsPath) {
  EXPECT_THAT(Errors(Config(R"({"path": "a.json"})")),
              HasSubstr("shape_source.format: missing required field"));
  EXPECT_THAT(Errors(Config(R"({"format": "csv", "path": "a.json"})")),
              HasSubstr("shape_source.format: must be \"sharegpt\" or \"mooncake\" (got \"csv\")"));
  EXPECT_THAT(Errors(Config(R"({"format": "sharegpt"})")),
              HasSubstr("shape_source.path: missing required field"));
  EXPECT_THAT(Errors(Config(R"({"format": "sharegpt", "path": 3})")),
              HasSubstr("shape_source.path: must be a file name string"));
  for (const char* path : {"", "/etc/passwd", "../x.json", "a/../../x", "a\nb"}) {
    EXPECT_THAT(Errors(Config(R"({"format": "sharegpt", "path": ")" +
                              std::string(path == std::string("a\nb") ? "a\\nb" : path) + "\"}")),
                HasSubstr("shape_source.path: must be a file name next to the config"))
        << path;
  }
  EXPECT_THAT(Errors(Config(R"({"format": "sharegpt", "path": "a", "mode": "resample"})")),
              HasSubstr("shape_source.mode: must be \"replay\" or \"fit\""));
  EXPECT_THAT(Errors(Config(R"({"format": "sharegpt", "path": "a", "block_size": 64})")),
              HasSubstr("shape_source.block_size: only a mooncake trace has blocks"));
  EXPECT_THAT(Errors(Config(R"({"format": "mooncake", "path": "a", "block_size": 0})")),
              HasSubstr("shape_source.block_size: must be 1 to 65536"));
  EXPECT_THAT(Errors(Config(R"({"format": "mooncake", "path": "a", "block_size": 70000})")),
              HasSubstr("shape_source.block_size: must be 1 to 65536"));
  EXPECT_THAT(Errors(Config(R"({"format": "mooncake", "path": "a", "blocks": 1})")),
              HasSubstr("shape_source.blocks: unknown field"));
  EXPECT_THAT(Errors(Config(R"("chats.json")")), HasSubstr("shape_source: must be"));
}

TEST(ShapeSourceConfigTest, RefusesTheSizeFieldsItReplaces) {
  const std::string message = Errors(Config(R"({"format": "sharegpt", "path": "a.json"})",
                                            R"(, "rng": "numpy_legacy",
         "prompt_input": {"num_turns": {"distribution": "constant", "value": 2},
                          "prefix_num_tokens": {"distribution": "constant", "value": 0},
                          "num_tokens": {"distribution": "constant", "value": 5}},
         "prompt_output": {"num_tokens": {"distribution": "constant", "value": 5}})"));
  for (const char* path : {"prompt_input.num_turns", "prompt_input.prefix_num_tokens",
                           "prompt_input.num_tokens", "prompt_output.num_tokens"}) {
    EXPECT_THAT(message, HasSubstr(std::string(path) + ": shape_source supplies the turns"));
  }
  EXPECT_THAT(message, HasSubstr("rng: \"numpy_legacy\" reproduces vLLM's sampled sizes"));
}

}  // namespace
}  // namespace convgen

namespace convgen {
namespace {

TEST(ShapeSourceConfigTest, EveryShapeExampleLoads) {
  for (const char* file : {"sharegpt_replay.json", "sharegpt_fit.json", "mooncake_replay.json"}) {
    const std::string text = testing::ReadSourceFile(std::string("examples/shapes/") + file);
    ASSERT_FALSE(text.empty()) << file;
    const absl::StatusOr<GenerationSpec> spec = LoadSpecFromJson(text);
    ASSERT_TRUE(spec.ok()) << file << ": " << spec.status();
    EXPECT_TRUE(spec->shape_source.has_value()) << file;
  }
}

}  // namespace
}  // namespace convgen
