// Golden runs: the reference configs with the default tokenizer and corpus,
// pinned in tests/fixtures/golden/ as readable text (the whole run's sha256,
// then one line per message). A change to any of them changes every workload
// users have generated with these seeds; a failure prints the diff, and
// CONVGEN_UPDATE_GOLDEN=1 rewrites the files (see tests/testing/golden.h).
#include "tests/testing/golden.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/testing/conversations.h"
#include "tests/testing/files.h"

namespace convgen {
namespace {

struct GoldenCase {
  std::string config;  // under tests/fixtures/vllm/
  uint64_t seed;
  std::string golden;  // under tests/fixtures/golden/
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.golden; }

// The reference config with the embedded corpus in place of pg1184.txt.
std::string Reference(const std::string& file) {
  std::string json = testing::ReadSourceFile("tests/fixtures/vllm/" + file);
  const std::string from = "pg1184.txt";
  const size_t at = json.find(from);
  if (at != std::string::npos) json.replace(at, from.size(), "moby-dick.txt");
  return json;
}

class GoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenTest, ReferenceConfigRunEqualsItsGoldenFile) {
  const GoldenCase& c = GetParam();
  const Tokenizer& qwen3 = testing::SharedTestTokenizer("qwen3");
  const testing::Run run =
      testing::Generate(testing::SpecFromJsonOrDie(Reference(c.config)), {.seed = c.seed},
                        testing::DefaultCorpus("qwen3"), qwen3);
  ASSERT_FALSE(run.serialized.empty());
  // The per-message lines describe exactly the run's messages.
  std::string rejoined;
  for (const testing::SerializedMessage& m : testing::ParseSerializedRun(run.serialized)) {
    absl::StrAppend(&rejoined, absl::StrJoin(m.fields, "\t"), "\t", m.content, "\n");
  }
  EXPECT_EQ(rejoined, run.serialized);
  const std::string text = testing::DescribeSerializedRun(
      absl::StrCat("tests/fixtures/vllm/", c.config, " (text_files: moby-dick.txt), seed ", c.seed,
                   ", tokenizer qwen3"),
      run.serialized);
  EXPECT_TRUE(testing::MatchesGoldenFile("tests/fixtures/golden/" + c.golden, text));
}

INSTANTIATE_TEST_SUITE_P(
    ReferenceConfigs, GoldenTest,
    ::testing::Values(GoldenCase{"generate_multi_turn.json", 0, "generate_multi_turn.seed0.txt"},
                      GoldenCase{"generate_multi_turn.json", 42, "generate_multi_turn.seed42.txt"},
                      GoldenCase{"generate_multi_turn_mean_sigma.json", 42,
                                 "generate_multi_turn_mean_sigma.seed42.txt"}),
    [](const auto& info) {
      std::string name = info.param.golden.substr(0, info.param.golden.size() - 4);
      for (char& ch : name) {
        if (ch == '.') ch = '_';
      }
      return name;
    });

// The golden machinery itself: a difference is shown as a diff, not a digest.
TEST(GoldenDiffTest, ShowsTheChangedLinesWithContext) {
  const std::string diff =
      testing::UnifiedDiff("a\nb\nc\nd\ne\n", "a\nb\nC\nd\ne\n", "tests/fixtures/golden/x.txt");
  EXPECT_NE(diff.find("-c\n+C\n"), std::string::npos) << diff;
  EXPECT_NE(diff.find("--- tests/fixtures/golden/x.txt (golden)"), std::string::npos) << diff;
  const std::string fallback =
      testing::LineDiff("a\nb\nc\nd\ne\nf\ng\nh\n", "a\nb\nc\nd\nE\nf\ng\nh\n");
  EXPECT_EQ(fallback, "@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n");
}

TEST(GoldenDiffTest, ParsesSerializedMessagesWithMultilineContent) {
  const std::string serialized =
      "CONV_ID_0\t0/2\tuser\t5\t0\tline one\nline\ttwo\n\n"
      "CONV_ID_0\t1/2\tassistant\t3\t3\tend\n";
  const auto messages = testing::ParseSerializedRun(serialized);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].content, "line one\nline\ttwo\n");
  EXPECT_EQ(messages[1].fields[2], "assistant");
  EXPECT_EQ(messages[1].content, "end");
  EXPECT_EQ(testing::QuotedPrefix("a\"b\\c\nd\xC3\xA9"
                                  "f",
                                  8),
            "\"a\\\"b\\\\c\\nd\xC3\xA9\"...");
}

}  // namespace
}  // namespace convgen
