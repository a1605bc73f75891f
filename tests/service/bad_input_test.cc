// Malformed or hostile requests against the service (real gRPC, in-process),
// each with the status code and message it must get; after each of them the
// server still serves a valid request and no stream is left open.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/config/config_json.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/conversation_service.h"
#include "tests/testing/files.h"

namespace convgen {
namespace {

using Json = nlohmann::ordered_json;

Json Base() {
  return Json::parse(R"({"filetype": "generate_conversations", "num_conversations": 3,
      "text_files": ["moby-dick.txt"],
      "prompt_input": {"num_turns": {"distribution": "uniform", "min": 2, "max": 4},
                       "prefix_num_tokens": {"distribution": "constant", "value": 10},
                       "num_tokens": {"distribution": "uniform", "min": 20, "max": 30}},
      "prompt_output": {"num_tokens": {"distribution": "constant", "value": 15}}})");
}

v1::GenerateRequest JsonRequest(const std::string& text) {
  v1::GenerateRequest request;
  request.set_config_json(text);
  return request;
}

v1::GenerateRequest Edited(const std::function<void(Json&)>& edit) {
  Json config = Base();
  edit(config);
  return JsonRequest(config.dump());
}

v1::GenerateRequest WithFiles(Json files) {
  return Edited([&](Json& c) { c["text_files"] = files; });
}

struct BadCase {
  std::string name;
  std::function<v1::GenerateRequest()> request;
  grpc::StatusCode code;
  std::string message;  // a substring of the status message
};

std::vector<BadCase> Cases() {
  using C = grpc::StatusCode;
  const auto in = [](const char* field, Json value) {
    return [=] { return Edited([&](Json& c) { c["prompt_input"][field] = value; }); };
  };
  std::vector<BadCase> cases = {
      {"no_config", [] { return v1::GenerateRequest(); }, C::INVALID_ARGUMENT,
       "the request has no config"},
      {"not_json", [] { return JsonRequest("generate please"); }, C::INVALID_ARGUMENT,
       "invalid JSON: parse error at line 1, column 1"},
      {"json_array", [] { return JsonRequest("[1]"); }, C::INVALID_ARGUMENT,
       "a config must be a JSON object"},
      {"trailing_garbage", [] { return JsonRequest(Base().dump() + "}"); }, C::INVALID_ARGUMENT,
       "expected end of input"},
      {"nan", [] { return JsonRequest(R"({"num_conversations": NaN})"); }, C::INVALID_ARGUMENT,
       "invalid literal"},
      {"deep_nesting", [] { return JsonRequest(std::string(5000, '[') + std::string(5000, ']')); },
       C::INVALID_ARGUMENT, "nesting is deeper than 32 levels"},
      {"unknown_field", [] { return Edited([](Json& c) { c["temperature"] = 1; }); },
       C::INVALID_ARGUMENT, "temperature: unknown field"},
      {"missing_prompt_input", [] { return Edited([](Json& c) { c.erase("prompt_input"); }); },
       C::INVALID_ARGUMENT, "prompt_input: missing required field"},
      {"zero_conversations", [] { return Edited([](Json& c) { c["num_conversations"] = 0; }); },
       C::INVALID_ARGUMENT, "num_conversations: must be > 0 (got 0)"},
      {"negative_conversations",
       [] { return Edited([](Json& c) { c["num_conversations"] = -7; }); }, C::INVALID_ARGUMENT,
       "num_conversations: must be > 0 (got -7)"},
      {"conversations_string",
       [] { return Edited([](Json& c) { c["num_conversations"] = "lots"; }); }, C::INVALID_ARGUMENT,
       "num_conversations: must be an integer (got \"lots\")"},
      {"conversations_overflow",
       [] { return JsonRequest(R"({"num_conversations": 99999999999999999999})"); },
       C::INVALID_ARGUMENT, "is beyond the int64 range"},
      {"conversations_float_overflow",
       [] { return JsonRequest(R"({"num_conversations": 1e400})"); }, C::INVALID_ARGUMENT,
       "number overflow"},
      {"wrong_filetype", [] { return Edited([](Json& c) { c["filetype"] = "sharegpt"; }); },
       C::INVALID_ARGUMENT, "filetype: must be \"generate_conversations\""},
      {"empty_text_files", [] { return WithFiles(Json::array()); }, C::INVALID_ARGUMENT,
       "text_files: must list at least one file"},
      {"text_files_string", [] { return Edited([](Json& c) { c["text_files"] = "a.txt"; }); },
       C::INVALID_ARGUMENT, "text_files: must be a list of file names"},
      {"unknown_distribution", in("num_turns", {{"distribution", "gaussian"}}), C::INVALID_ARGUMENT,
       "unknown distribution \"gaussian\""},
      {"uniform_inverted", in("num_turns", {{"distribution", "uniform"}, {"min", 9}, {"max", 3}}),
       C::INVALID_ARGUMENT, "prompt_input.num_turns: uniform max must be >= min (3 < 9)"},
      {"zipf_alpha_one", in("num_turns", {{"distribution", "zipf"}, {"alpha", 1}}),
       C::INVALID_ARGUMENT, "prompt_input.num_turns.alpha: must be > 1"},
      {"poisson_alpha_zero", in("num_tokens", {{"distribution", "poisson"}, {"alpha", 0}}),
       C::INVALID_ARGUMENT, "prompt_input.num_tokens.alpha: must be > 0"},
      {"median_ratio_two",
       in("prefix_num_tokens",
          {{"distribution", "lognormal"}, {"average", 9}, {"median_ratio", 2}}),
       C::INVALID_ARGUMENT, "median_ratio: must be in (0, 1)"},
      {"negative_sigma",
       in("prefix_num_tokens", {{"distribution", "lognormal"}, {"mean", 3}, {"sigma", -1}}),
       C::INVALID_ARGUMENT, "sigma: must be >= 0 (got -1)"},
      {"negative_cap", in("num_tokens", {{"distribution", "zipf"}, {"alpha", 2}, {"max", -1}}),
       C::INVALID_ARGUMENT, "max: must be >= 0"},
      {"constant_with_cap",
       in("num_tokens", {{"distribution", "constant"}, {"value", 5}, {"max", 4}}),
       C::INVALID_ARGUMENT, "unknown field for the constant distribution"},
      {"duplicate_key",
       [] { return JsonRequest(R"({"filetype": "generate_conversations", "filetype": "x"})"); },
       C::INVALID_ARGUMENT, "filetype: duplicate key"},
      {"typed_missing_kind",
       [] {
         v1::GenerateRequest r;
         ConfigErrors errors;
         *r.mutable_config() = ConfigFromJson(Base().dump(), errors);
         r.mutable_config()->mutable_prompt_input()->mutable_num_turns()->Clear();
         return r;
       },
       C::INVALID_ARGUMENT, "prompt_input.num_turns: no distribution kind set"},
      {"typed_bad_filetype",
       [] {
         v1::GenerateRequest r;
         ConfigErrors errors;
         *r.mutable_config() = ConfigFromJson(Base().dump(), errors);
         r.mutable_config()->set_filetype("");
         return r;
       },
       C::INVALID_ARGUMENT, "filetype: must be \"generate_conversations\" (got \"\")"},
      {"shard_out_of_range",
       [] {
         auto r = JsonRequest(Base().dump());
         r.mutable_shard()->set_index(4);
         r.mutable_shard()->set_count(4);
         return r;
       },
       C::INVALID_ARGUMENT, "shard 4/4: the shard index must be below the shard count"},
      {"unknown_tokenizer",
       [] {
         auto r = JsonRequest(Base().dump());
         r.set_tokenizer("llama-9");
         return r;
       },
       C::NOT_FOUND, "unknown tokenizer \"llama-9\"; this server has: qwen3"},
      {"tokenizer_path",
       [] {
         auto r = JsonRequest(Base().dump());
         r.set_tokenizer("../../etc/passwd");
         return r;
       },
       C::NOT_FOUND, "unknown tokenizer \"../../etc/passwd\""},
      {"text_file_dotdot", [] { return WithFiles({"../moby-dick.txt"}); }, C::INVALID_ARGUMENT,
       "relative to the server's corpus directory"},
      {"text_file_absolute", [] { return WithFiles({"/etc/passwd"}); }, C::INVALID_ARGUMENT,
       "relative to the server's corpus directory"},
      {"text_file_inner_dotdot", [] { return WithFiles({"a/../../b.txt"}); }, C::INVALID_ARGUMENT,
       "relative to the server's corpus directory"},
      {"text_file_just_dotdot", [] { return WithFiles({".."}); }, C::INVALID_ARGUMENT,
       "relative to the server's corpus directory"},
      {"text_file_missing", [] { return WithFiles({"war-and-peace.txt"}); }, C::NOT_FOUND,
       "no such corpus; this server has: "},
      {"text_file_symlink_out", [] { return WithFiles({"escape.txt"}); }, C::INVALID_ARGUMENT,
       "leads outside the corpus directory"},
      {"text_file_directory", [] { return WithFiles({"subdir"}); }, C::NOT_FOUND, "no such corpus"},
      {"text_file_empty_name", [] { return WithFiles({""}); }, C::INVALID_ARGUMENT,
       "text_files[0]: must be a non-empty file name"},
      {"second_text_file_bad",
       [] {
         return WithFiles({"moby-dick.txt", "../x"});
       },
       C::INVALID_ARGUMENT, "text_files[1] \"../x\""},
      {"inline_not_utf8",
       [] {
         auto r = JsonRequest(Base().dump());
         r.add_inline_corpus()->set_text("ok \xFF\xFE bad");
         return r;
       },
       C::INVALID_ARGUMENT, "invalid UTF-8 at byte offset 3"},
      {"inline_empty",
       [] {
         auto r = JsonRequest(Base().dump());
         auto* c = r.add_inline_corpus();
         c->set_name("nothing.txt");
         return r;
       },
       C::FAILED_PRECONDITION, "corpus nothing.txt is empty"},
      {"inline_too_big",
       [] {
         auto r = JsonRequest(Base().dump());
         r.add_inline_corpus()->set_text(std::string(300000, 'a'));
         return r;
       },
       C::RESOURCE_EXHAUSTED, "inline corpus has 300000 bytes, over this server's limit"},
      {"hundred_megabyte_request",
       [] {
         auto r = JsonRequest(Base().dump());
         r.add_inline_corpus()->set_text(std::string(100 << 20, 'a'));
         return r;
       },
       C::RESOURCE_EXHAUSTED, ""},
      {"two_to_the_31_conversations",
       [] { return Edited([](Json& c) { c["num_conversations"] = int64_t{1} << 31; }); },
       C::RESOURCE_EXHAUSTED, "num_conversations 2147483648 is over this server's limit"},
      {"trillion_token_user_messages",
       in("num_tokens", {{"distribution", "constant"}, {"value", 1000000000000}}),
       C::RESOURCE_EXHAUSTED, "tokens in a user message (prompt_input.num_tokens)"},
      {"trillion_token_assistant_messages",
       [] {
         return Edited([](Json& c) {
           c["prompt_output"]["num_tokens"] = {{"distribution", "constant"},
                                               {"value", 1000000000000}};
         });
       },
       C::RESOURCE_EXHAUSTED, "tokens in an assistant message"},
      {"trillion_token_prefix",
       in("prefix_num_tokens", {{"distribution", "constant"}, {"value", 1000000000000}}),
       C::RESOURCE_EXHAUSTED, "in the first message"},
      {"trillion_token_common_prefix",
       in("common_prefix_num_tokens", {{"distribution", "constant"}, {"value", 1000000000000}}),
       C::RESOURCE_EXHAUSTED, "1000000000000 tokens of common prefix"},
      {"huge_poisson_output",
       [] {
         return Edited([](Json& c) {
           c["prompt_output"]["num_tokens"] = {{"distribution", "poisson"}, {"alpha", 1e15}};
         });
       },
       C::RESOURCE_EXHAUSTED, "tokens in an assistant message"},
      {"zipf_turns_without_cap", in("num_turns", {{"distribution", "zipf"}, {"alpha", 1.0001}}),
       C::RESOURCE_EXHAUSTED, "messages (prompt_input.num_turns), over the limit"},
      {"lognormal_huge_sigma",
       in("num_tokens", {{"distribution", "lognormal"}, {"mean", 50}, {"sigma", 1e10}}),
       C::RESOURCE_EXHAUSTED, "tokens in a user message"},
      // Issue 14: input is echoed bounded, so the status still reaches the
      // client (a 100 KB echo exceeded gRPC's 8 KiB metadata limit).
      {"huge_tokenizer_name",
       [] {
         auto r = JsonRequest(Base().dump());
         r.set_tokenizer(std::string(100000, 't'));
         return r;
       },
       C::NOT_FOUND, "\u2026(100000 bytes); this server has: qwen3"},
      {"huge_corpus_name", [] { return WithFiles({std::string(100000, 'c')}); }, C::NOT_FOUND,
       "\u2026(100000 bytes): no such corpus"},
      {"huge_unknown_field",
       [] { return Edited([](Json& c) { c[std::string(100000, 'k')] = 1; }); }, C::INVALID_ARGUMENT,
       "\u2026(100000 bytes): unknown field"},
      {"huge_filetype",
       [] { return Edited([](Json& c) { c["filetype"] = std::string(100000, 'f'); }); },
       C::INVALID_ARGUMENT, "\u2026(100000 bytes))"},
      {"huge_distribution_name", in("num_turns", {{"distribution", std::string(100000, 'd')}}),
       C::INVALID_ARGUMENT, "\u2026(100000 bytes); expected one of"},
      {"a_thousand_unknown_fields",
       [] {
         return Edited([](Json& c) {
           for (int i = 0; i < 1000; ++i) c["unknown_" + std::to_string(i)] = i;
         });
       },
       C::INVALID_ARGUMENT, "... and 990 more"},
      {"ten_thousand_unknown_fields",
       [] {
         return Edited([](Json& c) {
           for (int i = 0; i < 10000; ++i) c["unknown_" + std::to_string(i)] = i;
         });
       },
       C::INVALID_ARGUMENT, "an object with more than 1024 fields; a config needs a few dozen"},
      {"text_file_nul", [] { return WithFiles({std::string("moby-dick.txt\0.png", 18)}); },
       C::INVALID_ARGUMENT,
       "text_files[0] \"moby-dick.txt\\x00.png\": a corpus file name cannot contain a NUL"},
      {"text_file_newline", [] { return WithFiles({"moby-dick.txt\n"}); }, C::INVALID_ARGUMENT,
       "cannot contain a NUL or control character"},
      {"start_index_beyond_the_end",
       [] {
         auto r = JsonRequest(Base().dump());
         r.set_start_index(UINT64_MAX);
         return r;
       },
       C::INVALID_ARGUMENT, "start_index 18446744073709551615 is beyond num_conversations 3"},
      {"huge_turn_constant", in("num_turns", {{"distribution", "constant"}, {"value", 1000000000}}),
       C::RESOURCE_EXHAUSTED, "messages (prompt_input.num_turns), over the limit of 1000;"},
  };
  return cases;
}

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadInputTest : public ::testing::TestWithParam<BadCase> {
 protected:
  static void SetUpTestSuite() {
    // A corpus directory with a file, a subdirectory and a symlink out.
    dir_ = new std::string(::testing::TempDir() + "/convgen-bad-input-" + std::to_string(getpid()));
    ::mkdir(dir_->c_str(), 0755);
    ::mkdir((*dir_ + "/subdir").c_str(), 0755);
    ::symlink("/etc/hostname", (*dir_ + "/escape.txt").c_str());
    WorkspaceOptions options;
    options.data_dir = std::string(CONVGEN_SOURCE_DIR) + "/data";
    options.corpus_dir = *dir_;
    workspace_ = Workspace::Create(options)->release();
    ServiceLimits limits;
    limits.max_conversations_per_request = 1000000;
    limits.max_inline_corpus_bytes = 200000;
    limits.max_message_bytes = 1 << 20;
    limits.max_messages_per_conversation = 1000;
    metrics_ = new ServiceMetrics();
    service_ = new ConversationServiceImpl(workspace_, limits, metrics_);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_);
    builder.SetMaxReceiveMessageSize(limits.max_inline_corpus_bytes + (1 << 20));
    server_ = builder.BuildAndStart().release();
    stub_ = v1::ConversationService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()))
                .release();
  }

  static grpc::Status Run(const v1::GenerateRequest& request, int* turns = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto reader = stub_->Generate(&context, request);
    v1::GenerateResponse response;
    int n = 0;
    while (reader->Read(&response)) n += response.has_turn();
    if (turns != nullptr) *turns = n;
    return reader->Finish();
  }

  static std::string* dir_;
  static Workspace* workspace_;
  static ServiceMetrics* metrics_;
  static ConversationServiceImpl* service_;
  static grpc::Server* server_;
  static v1::ConversationService::Stub* stub_;
};

std::string* BadInputTest::dir_;
Workspace* BadInputTest::workspace_;
ServiceMetrics* BadInputTest::metrics_;
ConversationServiceImpl* BadInputTest::service_;
grpc::Server* BadInputTest::server_;
v1::ConversationService::Stub* BadInputTest::stub_;

TEST_P(BadInputTest, RefusedWithTheRightCodeAndMessageAndTheServerGoesOn) {
  const BadCase& c = GetParam();
  const grpc::Status status = Run(c.request());
  EXPECT_EQ(status.error_code(), c.code) << status.error_message();
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr(c.message));
  // Bounded: the grpc-message trailer must fit gRPC's metadata limit.
  EXPECT_LE(status.error_message().size(), 2100u);
  // The server still serves.
  int turns = 0;
  EXPECT_TRUE(Run(JsonRequest(Base().dump()), &turns).ok());
  EXPECT_GE(turns, 6);
  // OnDone runs just after the client sees the status: wait for it.
  for (int i = 0; i < 200 && service_->active_streams() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(service_->active_streams(), 0);
}

// Describe lists only the corpora a request may name: not a symlink out of
// the corpus directory (escape.txt), not a directory.
TEST_F(BadInputTest, DescribeListsOnlyUsableCorpora) {
  grpc::ClientContext context;
  v1::DescribeResponse response;
  ASSERT_TRUE(stub_->Describe(&context, v1::DescribeRequest(), &response).ok());
  EXPECT_THAT(response.corpora(), ::testing::ElementsAre("moby-dick.txt"));
}

// A resume exactly at the end is legal: no conversation, then the summary.
TEST_F(BadInputTest, StartIndexAtTheEndGivesOnlyTheSummary) {
  auto request = JsonRequest(Base().dump());
  request.set_start_index(3);
  int turns = -1;
  EXPECT_TRUE(Run(request, &turns).ok());
  EXPECT_EQ(turns, 0);
}

INSTANTIATE_TEST_SUITE_P(Requests, BadInputTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace convgen
