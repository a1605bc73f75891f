// The client's flag types, the checks across flags, and the hints for
// failed calls.
#include "client/command_options.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/commands.h"
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
  for (const char* name : {"json", "jsonl", "jsonl-ids", "openai-jsonl", "sharegpt"}) {
    Format format;
    std::string error;
    ASSERT_TRUE(AbslParseFlag(name, &format, &error)) << name;
    EXPECT_EQ(AbslUnparseFlag(format), name);
  }
  Format format;
  std::string error;
  EXPECT_FALSE(AbslParseFlag("csv", &format, &error));
  EXPECT_EQ(error, "must be json, jsonl, jsonl-ids, openai-jsonl or sharegpt");
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

TEST(CheckOptionsTest, ChecksTheServerAddressWithItsRule) {
  struct Case {
    const char* server;
    const char* error;  // "" if accepted
  };
  const Case cases[] = {
      {"localhost:50051", ""},
      {"10.0.0.1:1", ""},
      {"[::1]:65535", ""},
      {"unix:/tmp/convgen.sock", ""},
      {"unix-abstract:convgen", ""},
      {"dns:///convgen.svc:50051", ""},
      {"ipv4:127.0.0.1:50051", ""},
      {"ipv6:[::1]:50051", ""},
      {"", "--server is empty: give host:port or unix:/path"},
      {"http://localhost:8000",
       "--server \"http://localhost:8000\": drop the scheme: --server host:port (gRPC, not HTTP)"},
      {"HTTPS://vllm:443",
       "--server \"HTTPS://vllm:443\": drop the scheme: --server host:port (gRPC, not HTTP)"},
      {"grpc://h:1",
       "--server \"grpc://h:1\": unknown scheme; use host:port, unix:/path or a "
       "gRPC dns:/ipv4:/ipv6: target"},
      {"unix:", "--server \"unix:\": nothing after unix:"},
      {"localhost", "--server \"localhost\": needs a port: host:port, e.g. localhost:50051"},
      {":50051", "--server \":50051\": needs a host before the port: host:port"},
      {"::1:50051", "--server \"::1:50051\": an IPv6 address goes in brackets: [::1]:50051"},
      {"[::1:50051", "--server \"[::1:50051\": an IPv6 address goes in brackets: [::1]:50051"},
      {"h:99999", "--server \"h:99999\": the port must be a number from 1 to 65535"},
      {"h:65536", "--server \"h:65536\": the port must be a number from 1 to 65535"},
      {"h:0", "--server \"h:0\": the port must be a number from 1 to 65535"},
      {"h:", "--server \"h:\": the port must be a number from 1 to 65535"},
      {"h:-1", "--server \"h:-1\": the port must be a number from 1 to 65535"},
      {"h:+80", "--server \"h:+80\": the port must be a number from 1 to 65535"},
      {"h:0000080", "--server \"h:0000080\": the port must be a number from 1 to 65535"},
  };
  for (const Case& c : cases) {
    CommandOptions o;
    o.command = "describe";
    o.server = c.server;
    const absl::Status status = CheckOptions(o);
    EXPECT_EQ(std::string(status.message()), c.error) << c.server;
    EXPECT_EQ(status.ok(), std::string(c.error).empty()) << c.server;
  }
}

TEST(CheckOptionsTest, DurationsAreZeroOrFromAMillisecondToAYear) {
  const std::string rule = ": must be 0 (none) or seconds from 0.001 (1 ms) to 31536000 (a year)";
  struct Case {
    double seconds;
    const char* shown;  // "" if accepted
  };
  const Case cases[] = {
      {0, ""},
      {0.001, ""},
      {2.5, ""},
      {31536000, ""},
      {-1, "-1"},
      {std::nan(""), "nan"},
      {std::numeric_limits<double>::infinity(), "inf"},
      {-std::numeric_limits<double>::infinity(), "-inf"},
      {1e-300, "1e-300"},
      {0.0009, "0.0009"},
      {31536001, "31536001"},
      {1e308, "1e+308"},
  };
  for (const Case& c : cases) {
    for (const char* flag : {"timeout", "wait-for-server"}) {
      CommandOptions o;
      o.command = "health";
      (std::string(flag) == "timeout" ? o.timeout_seconds : o.wait_for_server_seconds) = c.seconds;
      const absl::Status status = CheckOptions(o);
      if (std::string(c.shown).empty()) {
        EXPECT_TRUE(status.ok()) << flag << " " << c.seconds << ": " << status;
      } else {
        EXPECT_EQ(std::string(status.message()), absl::StrCat("--", flag, " ", c.shown, rule))
            << flag << " " << c.seconds;
      }
    }
  }
}

TEST(CheckOptionsTest, OpenAiJsonlFlagsWithAnotherFormatAreAUsageError) {
  CommandOptions o;
  o.command = "generate";
  o.input_file = "config.json";
  o.format = Format::kOpenAiJsonl;
  o.model = "m";
  o.stream = o.min_tokens = o.ignore_eos = true;
  EXPECT_TRUE(CheckOptions(o).ok());
  o.format = Format::kShareGpt;
  EXPECT_EQ(CheckOptions(o).message(),
            "--model shapes openai-jsonl request bodies; --format is sharegpt (add --format "
            "openai-jsonl)");
  o.model.clear();
  EXPECT_THAT(CheckOptions(o).message(), HasSubstr("--stream shapes openai-jsonl"));
  o.stream = false;
  o.format = Format::kJson;
  EXPECT_THAT(CheckOptions(o).message(), HasSubstr("--min-tokens shapes openai-jsonl"));
  o.min_tokens = false;
  o.format = Format::kJsonlIds;
  EXPECT_EQ(CheckOptions(o).message(),
            "--ignore-eos shapes openai-jsonl request bodies; --format is jsonl-ids (add "
            "--format openai-jsonl)");
  o.ignore_eos = false;
  EXPECT_TRUE(CheckOptions(o).ok());
}

TEST(ModelOfTest, ModelOrElseTheTokenizersModelId) {
  CommandOptions o;
  EXPECT_EQ(ModelOf(o), "");
  o.tokenizer = "qwen3";  // a server tokenizer's name is no model id
  EXPECT_EQ(ModelOf(o), "");
  o.tokenizer = "Qwen/Qwen3-8B";
  EXPECT_EQ(ModelOf(o), "Qwen/Qwen3-8B");
  o.tokenizer = "Qwen/Qwen3-8B@0123abc";
  EXPECT_EQ(ModelOf(o), "Qwen/Qwen3-8B");
  o.tokenizer = "a/b/c";  // a server name with slashes is no ORG/NAME
  EXPECT_EQ(ModelOf(o), "");
  o.tokenizer = "../x";
  EXPECT_EQ(ModelOf(o), "");
  o.model = "served-name";
  EXPECT_EQ(ModelOf(o), "served-name");
}

TEST(CommandHelpTest, EachCommandListsItsOwnFlags) {
  const CommandHelp* generate = FindCommandHelp("generate");
  ASSERT_NE(generate, nullptr);
  EXPECT_THAT(generate->flags, ::testing::IsSupersetOf({"server", "input_file", "output", "format",
                                                        "model", "stream", "min_tokens",
                                                        "ignore_eos", "allow_outside_files"}));
  const CommandHelp* describe = FindCommandHelp("describe");
  ASSERT_NE(describe, nullptr);
  EXPECT_THAT(describe->flags, ::testing::Not(::testing::Contains("input_file")));
  const CommandHelp* health = FindCommandHelp("health");
  ASSERT_NE(health, nullptr);
  EXPECT_THAT(health->flags, ::testing::Contains("service"));
  EXPECT_EQ(FindCommandHelp("frobnicate"), nullptr);
}

TEST(CommandHelpTest, DescribeShapeReadsAConfigAndTakesNoGenerationFlags) {
  const CommandHelp* shape = FindCommandHelp("describe-shape");
  ASSERT_NE(shape, nullptr);
  EXPECT_THAT(shape->flags, ::testing::IsSupersetOf({"server", "input_file", "tokenizer",
                                                     "tokenizer_file", "allow_outside_files"}));
  for (const char* flag : {"output", "format", "shard", "start_index"}) {
    EXPECT_THAT(shape->flags, ::testing::Not(::testing::Contains(flag))) << flag;
  }
  EXPECT_THAT(CheckFlagsOfCommand("describe-shape", {"format"}).message(),
              HasSubstr("--format is not a flag of describe-shape"));
  CommandOptions o;
  o.command = "describe-shape";
  EXPECT_THAT(CheckOptions(o).message(), HasSubstr("describe-shape needs --input-file CONFIG"));
  o.input_file = "config.json";
  EXPECT_TRUE(CheckOptions(o).ok());
  EXPECT_THAT(std::string(kUsage), HasSubstr("convgen describe-shape --server ADDR --input-file"));
}

TEST(HintForTest, AConnectFailureIsMarkedSoThatNoResumeIndexIsPrinted) {
  CommandOptions o;
  o.server = "127.0.0.1:1";
  o.input_file = "configs/a.json";
  // gRPC 1.51's messages, as the e2e test (cli_test.py) sees them.
  const std::string prefix = "failed to connect to all addresses; last error: ";
  struct Case {
    grpc::Status status;
    bool connect_failure;
    const char* hint;
  };
  const Case cases[] = {
      {{grpc::StatusCode::UNAVAILABLE,
        prefix + "UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to remote host: Connection refused"},
       true,
       "is convgen-server running at 127.0.0.1:1?"},
      {{grpc::StatusCode::UNAVAILABLE,
        prefix + "UNAVAILABLE: ipv4:127.0.0.1:1: Failed parsing HTTP/2"},
       true,
       "127.0.0.1:1 is an HTTP server"},
      {{grpc::StatusCode::UNAVAILABLE, prefix + "UNAVAILABLE: ipv4:127.0.0.1:1: Socket closed"},
       true,
       "pass --tls-ca"},
      {{grpc::StatusCode::NOT_FOUND, "text_files[0] \"x.txt\": no such corpus; this server has: "},
       false,
       "text_files not found next to the config (in configs)"},
      {{grpc::StatusCode::NOT_FOUND,
        "shape_source.path \"t.jsonl\": no such corpus; this server has: moby-dick.txt"},
       false,
       "shape_source.path is sent when it is a file next to the config (in configs)"},
      // A stream that broke after it started: a resume index applies.
      {{grpc::StatusCode::UNAVAILABLE, "Socket closed"}, false, ""},
      {{grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"}, false, ""},
  };
  for (const Case& c : cases) {
    const ConnectionHint hint = HintFor(c.status, o);
    EXPECT_EQ(hint.connect_failure, c.connect_failure) << c.status.error_message();
    EXPECT_THAT(hint.text, HasSubstr(c.hint)) << c.status.error_message();
    EXPECT_EQ(hint.text.empty(), std::string(c.hint).empty()) << c.status.error_message();
    // Only a missing shape file is the config's error (exit 2).
    EXPECT_EQ(hint.config_error, absl::StrContains(c.hint, "shape_source"))
        << c.status.error_message();
  }
}

}  // namespace
}  // namespace convgen
