// The client's flag types and the checks across flags.
#include "client/command_options.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace convgen {
namespace {

using ::testing::HasSubstr;

TEST(ShardFlagTest, ParsesKOfN) {
  Shard shard;
  std::string error;
  ASSERT_TRUE(AbslParseFlag("3/4", &shard, &error)) << error;
  EXPECT_EQ(shard.index, 3u);
  EXPECT_EQ(shard.count, 4u);
  EXPECT_EQ(AbslUnparseFlag(shard), "3/4");
}

TEST(ShardFlagTest, RefusesWhatIsNotZeroToNMinusOneOfN) {
  for (const char* text : {"4/4", "0/0", "1", "1/2/3", "-1/4", "a/4", "1/b", "", "/"}) {
    Shard shard{1, 2};
    std::string error;
    EXPECT_FALSE(AbslParseFlag(text, &shard, &error)) << text;
    EXPECT_EQ(error, "must be K/N with 0 <= K < N, e.g. 0/4") << text;
    EXPECT_EQ(shard.index, 1u) << text;  // unchanged
  }
}

TEST(FormatFlagTest, RoundTripsEveryFormatAndNamesThemOnError) {
  for (const char* name : {"json", "jsonl", "jsonl-ids", "openai-jsonl"}) {
    Format format;
    std::string error;
    ASSERT_TRUE(AbslParseFlag(name, &format, &error)) << name;
    EXPECT_EQ(AbslUnparseFlag(format), name);
  }
  Format format;
  std::string error;
  EXPECT_FALSE(AbslParseFlag("csv", &format, &error));
  EXPECT_EQ(error, "must be json, jsonl, jsonl-ids or openai-jsonl");
}

TEST(RngFlagTest, ParsesBothGeneratorsAndRefusesOthers) {
  RngChoice rng;
  std::string error;
  ASSERT_TRUE(AbslParseFlag("numpy_legacy", &rng, &error));
  EXPECT_EQ(rng, RngChoice::kNumpyLegacy);
  ASSERT_TRUE(AbslParseFlag("philox", &rng, &error));
  EXPECT_EQ(rng, RngChoice::kPhilox);
  EXPECT_FALSE(AbslParseFlag("mt19937", &rng, &error));
  EXPECT_EQ(error, "must be philox or numpy_legacy");
}

TEST(CheckOptionsTest, NamesWhatIsMissingOrWrong) {
  CommandOptions o;
  EXPECT_THAT(CheckOptions(o).message(), HasSubstr("no command"));
  o.command = "frobnicate";
  EXPECT_THAT(CheckOptions(o).message(), HasSubstr("unknown command \"frobnicate\""));
  o.command = "generate";
  EXPECT_THAT(CheckOptions(o).message(), HasSubstr("generate needs --input-file CONFIG"));
  o.input_file = "config.json";
  EXPECT_TRUE(CheckOptions(o).ok());
  o.tls_cert = "client.pem";
  EXPECT_THAT(CheckOptions(o).message(), HasSubstr("--tls-cert and --tls-key go together"));
  o.tls_cert.clear();
  o.tls_ca = "/nonexistent/ca.pem";
  EXPECT_EQ(CheckOptions(o).message(),
            "cannot read --tls-ca /nonexistent/ca.pem: No such file or directory");
  o.tls_ca.clear();
  o.command = "describe";
  o.input_file.clear();
  EXPECT_TRUE(CheckOptions(o).ok());
}

}  // namespace
}  // namespace convgen
