// ParseFlags over flags defined here: dashed and underscored names, values
// after = or in the next argument, bools, repeated flags gathered, and every
// usage error named.
#include "core/cli/flags.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::vector<std::string>, cli_test_listen, {"default:1"}, "repeatable");
ABSL_FLAG(int64_t, cli_test_count, 1, "a number");
ABSL_FLAG(bool, cli_test_switch, false, "a bool");
ABSL_FLAG(std::string, cli_test_name, "", "a string");

namespace convgen::cli {
namespace {

using ::testing::ElementsAre;

class ParseFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::SetFlag(&FLAGS_cli_test_listen, {"default:1"});
    absl::SetFlag(&FLAGS_cli_test_count, 1);
    absl::SetFlag(&FLAGS_cli_test_switch, false);
    absl::SetFlag(&FLAGS_cli_test_name, "");
  }

  absl::StatusOr<CommandLine> Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "program");
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    return ParseFlags(static_cast<int>(argv.size()), argv.data(),
                      /*max_positional=*/2, {"cli_test_listen"});
  }
};

TEST(UnderscoreFlagNameTest, RewritesTheNameOnly) {
  EXPECT_EQ(UnderscoreFlagName("--metrics-listen=a-b:1"), "--metrics_listen=a-b:1");
  EXPECT_EQ(UnderscoreFlagName("-start-index"), "-start_index");
  EXPECT_EQ(UnderscoreFlagName("--print-stats"), "--print_stats");
  EXPECT_EQ(UnderscoreFlagName("not-a-flag"), "not-a-flag");
  EXPECT_EQ(UnderscoreFlagName("-"), "-");
  EXPECT_EQ(UnderscoreFlagName("--"), "--");
}

TEST_F(ParseFlagsTest, TakesBothSpellingsAndBothValueForms) {
  const auto parsed = Parse(
      {"generate", "--cli-test-count", "7", "--cli_test_name=x-y", "--cli-test-switch", "extra"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(parsed->positional, ElementsAre("generate", "extra"));
  EXPECT_FALSE(parsed->help);
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_count), 7);
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_name), "x-y");
  EXPECT_TRUE(absl::GetFlag(FLAGS_cli_test_switch));
  EXPECT_THAT(parsed->given, ElementsAre("cli_test_count", "cli_test_name", "cli_test_switch"));
  ASSERT_TRUE(Parse({"--nocli-test-switch"}).ok());
  EXPECT_FALSE(absl::GetFlag(FLAGS_cli_test_switch));
}

TEST_F(ParseFlagsTest, GathersRepeatedOccurrencesAndCommaLists) {
  ASSERT_TRUE(Parse({"--cli-test-listen", "a:1", "--cli-test-listen=b:2,c:3"}).ok());
  EXPECT_THAT(absl::GetFlag(FLAGS_cli_test_listen), ElementsAre("a:1", "b:2", "c:3"));
  ASSERT_TRUE(Parse({}).ok());
  EXPECT_THAT(absl::GetFlag(FLAGS_cli_test_listen), ElementsAre("a:1", "b:2", "c:3"));
  SetUp();
  ASSERT_TRUE(Parse({"--cli-test-name", "n"}).ok());
  EXPECT_THAT(absl::GetFlag(FLAGS_cli_test_listen), ElementsAre("default:1"));
}

TEST_F(ParseFlagsTest, DoubleDashEndsTheFlags) {
  const auto parsed = Parse({"--cli-test-count=2", "--", "--cli-test-count=3", "-x"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(parsed->positional, ElementsAre("--cli-test-count=3", "-x"));
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_count), 2);
}

TEST_F(ParseFlagsTest, HelpIsReportedNotHandled) {
  for (const char* help : {"--help", "-h", "--helpfull"}) {
    const auto parsed = Parse({"generate", help});
    ASSERT_TRUE(parsed.ok()) << help;
    EXPECT_TRUE(parsed->help) << help;
  }
}

TEST_F(ParseFlagsTest, NamesTheFlagOfEveryUsageError) {
  EXPECT_EQ(Parse({"--no-such-flag=1"}).status().message(), "unknown flag --no-such-flag");
  EXPECT_EQ(Parse({"--nocli-test-count"}).status().message(), "unknown flag --nocli-test-count");
  EXPECT_EQ(Parse({"--cli-test-count"}).status().message(), "--cli-test-count needs a value");
  EXPECT_EQ(Parse({"--cli-test-count", "many"}).status().message(),
            "invalid value \"many\" for --cli-test-count");
  EXPECT_EQ(Parse({"--cli-test-switch=maybe"}).status().message(),
            "invalid value \"maybe\" for --cli-test-switch");
  EXPECT_EQ(Parse({"a", "b", "c"}).status().message(), "unexpected argument c");
  EXPECT_EQ(Parse({"--cli-test-count=1"}).status().code(), absl::StatusCode::kOk);
}

TEST(FlagsHelpTest, ListsThisFilesFlagsByDashedName) {
  const std::string help = FlagsHelp("unit/cli/flags_test.cc");
  EXPECT_EQ(help,
            "  --cli-test-count: a number (default: 1)\n"
            "  --cli-test-listen: repeatable (default: default:1)\n"
            "  --cli-test-name: a string\n"
            "  --cli-test-switch: a bool\n");
}

TEST(FlagsHelpTest, ListsOnlyTheNamedFlags) {
  const absl::string_view names[] = {"cli_test_switch", "cli_test_count", "not_a_flag"};
  EXPECT_EQ(FlagsHelp("unit/cli/flags_test.cc", names),
            "  --cli-test-count: a number (default: 1)\n"
            "  --cli-test-switch: a bool\n");
}

}  // namespace
}  // namespace convgen::cli
