// A request's tokenizer: a model id in a Hugging Face cache layout around the
// embedded Qwen3, and a tokenizer.json sent with the request, kept by content
// hash in a bounded LRU.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/request/generation_request.h"
#include "core/request/workspace.h"
#include "core/tokenizer/hf_tokenizer_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/files.h"

namespace convgen {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";

const std::string& Qwen3Path() {
  static const std::string* path =
      new std::string(std::string(CONVGEN_SOURCE_DIR) + "/data/tokenizers/qwen3/tokenizer.json");
  return *path;
}

// A byte-level tokenizer.json whose tokens are the 256 bytes, plus the merges
// given (each "x y" of two printable ASCII letters): without merges a text
// has as many tokens as bytes. `tag` changes the file, not the encoding.
std::string ByteTokenizer(const std::vector<std::string>& merges = {},
                          const std::string& tag = "<|end|>") {
  nlohmann::json vocab = nlohmann::json::object();
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable =
        (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const int c = printable ? b : 256 + next++;
    std::string utf8 = c < 0x80 ? std::string(1, static_cast<char>(c))
                                : std::string{static_cast<char>(0xC0 | (c >> 6)),
                                              static_cast<char>(0x80 | (c & 0x3F))};
    vocab[utf8] = b;
  }
  int id = 256;
  for (const std::string& m : merges) vocab[std::string{m[0], m[2]}] = id++;
  return nlohmann::json{
      {"added_tokens", {{{"id", id}, {"content", tag}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"decoder", nullptr},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
  }
      .dump();
}

class WorkspaceTokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "convgen-ws-XXXXXX").string();
    cache_ = ::mkdtemp(pattern.data());
    // The layout huggingface_hub writes: the file in blobs/, a relative
    // symlink from the snapshot, refs/main naming the snapshot.
    const fs::path repo = fs::path(cache_) / "models--Qwen--Qwen3-8B";
    fs::create_directories(repo / "blobs");
    fs::copy_file(Qwen3Path(), repo / "blobs" / "9d4c3b");
    fs::create_directories(repo / "snapshots" / kCommit);
    fs::create_symlink("../../blobs/9d4c3b", repo / "snapshots" / kCommit / "tokenizer.json");
    fs::create_directories(repo / "refs");
    std::ofstream(repo / "refs" / "main") << kCommit;
  }
  void TearDown() override { fs::remove_all(cache_); }

  std::unique_ptr<Workspace> MakeWorkspace(int cache_entries = 4,
                                           int64_t max_bytes = int64_t{32} << 20) {
    WorkspaceOptions options;
    options.data_dir = std::string(CONVGEN_SOURCE_DIR) + "/data";
    options.hf_cache_dir = cache_;
    options.hf_cache_source = "HF_HUB_CACHE";
    options.request_tokenizer_cache_entries = cache_entries;
    options.max_request_tokenizer_bytes = max_bytes;
    auto workspace = Workspace::Create(options);
    EXPECT_TRUE(workspace.ok()) << workspace.status();
    return *std::move(workspace);
  }

  std::string cache_;
};

constexpr char kText[] = "Call me Ishmael. Some years ago, never mind how long precisely";

TEST_F(WorkspaceTokenizerTest, AModelIdInTheCacheIsTheSameTokenizerAsItsFile) {
  auto workspace = MakeWorkspace();
  auto resolved = workspace->ResolveTokenizer("Qwen/Qwen3-8B", "");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->name, "Qwen/Qwen3-8B");
  EXPECT_TRUE(resolved->request_cached);
  EXPECT_TRUE(resolved->loaded_now);
  auto by_path = LoadHfTokenizerFile(Qwen3Path());
  ASSERT_TRUE(by_path.ok());
  std::vector<TokenId> ids, expected;
  resolved->tokenizer->Encode(kText, &ids);
  (*by_path)->Encode(kText, &expected);
  EXPECT_EQ(ids, expected);
  EXPECT_GT(ids.size(), 10u);  // not two empty encodings
  // The second request finds it loaded.
  auto again = workspace->ResolveTokenizer("Qwen/Qwen3-8B", "");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->loaded_now);
  EXPECT_EQ(again->tokenizer, resolved->tokenizer);
  EXPECT_EQ(again->cache_key, resolved->cache_key);
  bool listed = false;
  for (const auto& [name, description] : workspace->DescribeTokenizers()) {
    if (name == "Qwen/Qwen3-8B") {
      listed = true;
      EXPECT_THAT(description, HasSubstr("from the Hugging Face cache"));
    }
  }
  EXPECT_TRUE(listed);
}

// Peak resident memory of this process, in MiB.
double PeakRssMiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024;
  }
  return 0;
}

TEST_F(WorkspaceTokenizerTest, AHubTokenizerOverTheBudgetIsRefusedBeforeItIsRead) {
  // A 400 MB (sparse) tokenizer.json and a 64 MiB budget: naming the id must
  // not make the server read it.
  const fs::path snapshot = fs::path(cache_) / "models--Big--tok" / "snapshots" / kCommit;
  fs::create_directories(snapshot);
  fs::resize_file((std::ofstream(snapshot / "tokenizer.json"), snapshot / "tokenizer.json"),
                  400 << 20);
  WorkspaceOptions options;
  options.data_dir = std::string(CONVGEN_SOURCE_DIR) + "/data";
  options.hf_cache_dir = cache_;
  options.memory_budget_bytes = int64_t{64} << 20;
  auto workspace = Workspace::Create(options);
  ASSERT_TRUE(workspace.ok()) << workspace.status();
  const double peak_before = PeakRssMiB();
  auto refused = (*workspace)->ResolveTokenizer("Big/tok@" + std::string(kCommit), "");
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("loading tokenizer \"Big/tok@"));
  EXPECT_LT(PeakRssMiB() - peak_before, 100) << "the file was read";
}

TEST_F(WorkspaceTokenizerTest, TheDefaultsAndSentNamesCannotBeTakenByAFile) {
  for (const std::string name : {"qwen3", "sha256:0123456789abcdef"}) {
    WorkspaceOptions options;
    options.data_dir = std::string(CONVGEN_SOURCE_DIR) + "/data";
    options.tokenizers = {{name, Qwen3Path()}};
    auto refused = Workspace::Create(options);
    ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(refused.status().message(), HasSubstr("give this file another name"));
  }
}

TEST_F(WorkspaceTokenizerTest, AMissingIdSaysWhereItLooked) {
  auto workspace = MakeWorkspace();
  auto missing = workspace->ResolveTokenizer("Qwen/Qwen3-32B", "");
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("(no " + cache_ + "/models--Qwen--Qwen3-32B)"));
  auto no_revision = workspace->ResolveTokenizer("Qwen/Qwen3-8B@v2", "");
  ASSERT_EQ(no_revision.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_revision.status().message(),
              HasSubstr(cache_ + "/models--Qwen--Qwen3-8B/snapshots/v2/tokenizer.json"));
  EXPECT_THAT(missing.status().message(), HasSubstr("HF_HUB_CACHE"));
  EXPECT_THAT(missing.status().message(), HasSubstr("this server has: qwen3"));
  // Not an id at all: the names there are.
  auto unknown = workspace->ResolveTokenizer("../../etc/passwd", "");
  ASSERT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown tokenizer"));
}

TEST_F(WorkspaceTokenizerTest, ASentTokenizerIsUsedAndLoadedOnce) {
  auto workspace = MakeWorkspace();
  const std::string json = ByteTokenizer();
  auto sent = workspace->ResolveTokenizer("", json);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_TRUE(sent->loaded_now);
  EXPECT_EQ(sent->name.rfind("sha256:", 0), 0u);
  EXPECT_EQ(sent->name.size(), 7u + 16u);
  EXPECT_EQ(sent->tokenizer->Count(kText), std::string(kText).size());  // a token per byte
  auto again = workspace->ResolveTokenizer("", json);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->loaded_now);
  EXPECT_EQ(again->tokenizer, sent->tokenizer);
  // By its name, while cached.
  auto by_name = workspace->ResolveTokenizer(sent->name, "");
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ(by_name->tokenizer, sent->tokenizer);
  EXPECT_EQ(by_name->cache_key, sent->cache_key);
  const auto described = workspace->DescribeTokenizers();
  ASSERT_EQ(described.back().first, sent->name);
  EXPECT_THAT(described.back().second, HasSubstr("sent in a request"));
}

TEST_F(WorkspaceTokenizerTest, TheLruKeepsItsBound) {
  auto workspace = MakeWorkspace(/*cache_entries=*/2);
  const std::string a = ByteTokenizer({}, "<|a|>"), b = ByteTokenizer({}, "<|b|>"),
                    c = ByteTokenizer({}, "<|c|>");
  EXPECT_TRUE(workspace->ResolveTokenizer("", a)->loaded_now);
  EXPECT_TRUE(workspace->ResolveTokenizer("", b)->loaded_now);
  EXPECT_FALSE(workspace->ResolveTokenizer("", a)->loaded_now);  // a is now the most recent
  auto third = workspace->ResolveTokenizer("", c);               // evicts b
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->loaded_now);
  EXPECT_EQ(workspace->CachedRequestTokenizers(), 2u);
  EXPECT_FALSE(workspace->ResolveTokenizer("", a)->loaded_now);
  EXPECT_TRUE(workspace->ResolveTokenizer("", b)->loaded_now);  // evicts c
  EXPECT_EQ(workspace->CachedRequestTokenizers(), 2u);
  auto evicted = workspace->ResolveTokenizer(third->name, "");
  ASSERT_EQ(evicted.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(evicted.status().message(), HasSubstr("send its tokenizer.json again"));
  // A request still holding an evicted tokenizer keeps it alive.
  EXPECT_EQ(third->tokenizer->Count("abc"), 3u);
}

TEST_F(WorkspaceTokenizerTest, BadSentTokenizersAreRefusedClearly) {
  auto workspace = MakeWorkspace(4, /*max_bytes=*/1000);
  auto large = workspace->ResolveTokenizer("", ByteTokenizer());
  ASSERT_EQ(large.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(large.status().message(), HasSubstr("--max-request-tokenizer-bytes"));
  auto corrupt = workspace->ResolveTokenizer("", "{\"model\": ");
  ASSERT_EQ(corrupt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(corrupt.status().message(), HasSubstr("tokenizer_json"));
  auto wordpiece = workspace->ResolveTokenizer("", R"({"model": {"type": "WordPiece"}})");
  ASSERT_EQ(wordpiece.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wordpiece.status().message(), HasSubstr("WordPiece"));
  auto both = workspace->ResolveTokenizer("qwen3", "{}");
  ASSERT_EQ(both.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(both.status().message(), HasSubstr("both set"));
  EXPECT_EQ(workspace->CachedRequestTokenizers(), 0u);
}

// Two sent tokenizers never share a tokenized corpus: the corpus cache is
// keyed by the tokenizer's content hash.
TEST_F(WorkspaceTokenizerTest, EachSentTokenizerGetsItsOwnTokenizedCorpus) {
  auto workspace = MakeWorkspace();
  const std::string corpus = "abab abab abab cd";
  const std::string bytes_only = ByteTokenizer(), with_merge = ByteTokenizer({"a b"});
  int64_t tokens[2];
  for (int i = 0; i < 2; ++i) {
    GenerationRequest request;
    request.config_json =
        R"({"filetype": "generate_conversations", "num_conversations": 1, "text_files": ["t"],
        "prompt_input": {"num_turns": {"distribution": "constant", "value": 2},
                         "prefix_num_tokens": {"distribution": "constant", "value": 0},
                         "num_tokens": {"distribution": "constant", "value": 3}},
        "prompt_output": {"num_tokens": {"distribution": "constant", "value": 3}}})";
    request.inline_texts = {{"t", corpus}};
    request.tokenizer_json = i == 0 ? bytes_only : with_merge;
    auto job = PrepareGeneration(*workspace, request, RequestLimits());
    ASSERT_TRUE(job.ok()) << job.status();
    tokens[i] = (*job)->corpus_tokens();
    EXPECT_EQ((*job)->tokenizer_name().rfind("sha256:", 0), 0u);
  }
  EXPECT_EQ(tokens[0], static_cast<int64_t>(corpus.size()));
  EXPECT_EQ(tokens[1], static_cast<int64_t>(corpus.size()) - 6);  // six "ab" merged
}

}  // namespace
}  // namespace convgen
