// A request's corpus and conversations within the server's limits: too many
// or repeated text_files and too many bytes are refused before reading, the
// memory budget is held while tokenizing and building and refused past its
// limit, and a stop (client gone, CPU limit) ends the tokenization.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/request/generation_request.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/conversations.h"

namespace convgen {
namespace {

using ::testing::HasSubstr;

// A corpus directory of its own, removed afterwards.
class CorpusDir {
 public:
  CorpusDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("convgen-limits-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~CorpusDir() { std::filesystem::remove_all(path_); }
  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
  }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

std::unique_ptr<Workspace> MakeWorkspace(const std::string& corpus_dir, int64_t budget,
                                         int64_t max_corpus_bytes = int64_t{64} << 20) {
  WorkspaceOptions options;
  options.data_dir = std::string(CONVGEN_SOURCE_DIR) + "/data";
  options.corpus_dir = corpus_dir;
  options.memory_budget_bytes = budget;
  options.max_corpus_bytes = max_corpus_bytes;
  auto workspace = Workspace::Create(options);
  EXPECT_TRUE(workspace.ok()) << workspace.status();
  return *std::move(workspace);
}

std::string ConfigFor(const std::string& text_files, int64_t tokens = 40, int turns = 2) {
  return R"({"filetype": "generate_conversations", "num_conversations": 3, "text_files": [)" +
         text_files + R"(],
    "prompt_input": {"num_turns": {"distribution": "constant", "value": )" +
         std::to_string(turns) + R"(},
                     "prefix_num_tokens": {"distribution": "constant", "value": 0},
                     "num_tokens": {"distribution": "constant", "value": )" +
         std::to_string(tokens) + R"(}},
    "prompt_output": {"num_tokens": {"distribution": "constant", "value": )" +
         std::to_string(tokens) + R"(}}})";
}

absl::Status Prepare(Workspace& workspace, const std::string& config, StopSignal* stop = nullptr) {
  GenerationRequest request;
  request.config_json = config;
  request.stop = stop;
  return PrepareGeneration(workspace, request, RequestLimits()).status();
}

// Varied text: about 4 bytes per token.
std::string Prose(size_t bytes) {
  std::string text;
  for (int i = 0; text.size() < bytes; ++i) {
    text += "The whale number " + std::to_string(i) + " swam past the ship at dawn; ";
  }
  return text;
}

// Too many files, a file listed twice, and too many bytes are refused
// before anything is read, holding nothing.
TEST(ResourceLimitsTest, FilesAreCheckedBeforeReading) {
  CorpusDir dir;
  dir.Write("a.txt", Prose(6000));
  dir.Write("b.txt", Prose(6000));
  std::string names;
  for (int i = 0; i < 257; ++i) {
    dir.Write("f" + std::to_string(i), "text\n");
    names += (i ? ", \"f" : "\"f") + std::to_string(i) + "\"";
  }
  auto workspace = MakeWorkspace(dir.path(), int64_t{64} << 20, /*max_corpus_bytes=*/10000);
  ASSERT_TRUE(Prepare(*workspace, ConfigFor(R"("a.txt")")).ok());
  const int64_t held = workspace->memory_budget().reserved_bytes();

  absl::Status status = Prepare(*workspace, ConfigFor(R"("a.txt", "moby-dick.txt", "a.txt")"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("text_files[2] \"a.txt\" is listed before, as text_files[0]; list each "
                        "file once"));

  // Another spelling of the same file is the same file.
  status = Prepare(*workspace, ConfigFor(R"("a.txt", "./a.txt")"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("text_files[1] \"./a.txt\" is listed before, as text_files[0]"));

  status = Prepare(*workspace, ConfigFor(names));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("text_files lists 257 files, over this server's limit of 256"));

  status = Prepare(*workspace, ConfigFor(R"("a.txt", "b.txt")"));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("over this server's limit of 10000 bytes per corpus (--max-corpus-bytes)"));
  EXPECT_EQ(workspace->memory_budget().reserved_bytes(), held);
}

// A tokenized corpus holds its memory in the budget while it is cached; a
// corpus that does not fit beside it drops it from the cache (nobody holds
// it) instead of being refused; one that does not fit at all is refused
// naming the flag, and gives back what it held.
TEST(ResourceLimitsTest, CorporaAreTokenizedWithinTheBudget) {
  CorpusDir dir;
  dir.Write("a.txt", Prose(100000));
  dir.Write("b.txt", Prose(100001));
  dir.Write("big.txt", Prose(900000));
  auto workspace = MakeWorkspace(dir.path(), int64_t{2} << 20);
  const MemoryBudget& budget = workspace->memory_budget();
  const absl::Status a = Prepare(*workspace, ConfigFor(R"("a.txt")"));
  ASSERT_TRUE(a.ok()) << a;
  const int64_t a_bytes = budget.reserved_bytes();
  // Text, ids, offsets, piece starts and cut points: about 3-5 bytes per
  // text byte (this prose's digits and semicolons are all cut points).
  EXPECT_GT(a_bytes, 100000 * 2);
  EXPECT_LT(a_bytes, 100000 * 6);
  ASSERT_TRUE(Prepare(*workspace, ConfigFor(R"("b.txt")")).ok());
  EXPECT_LE(budget.reserved_bytes(), budget.limit_bytes());
  const absl::Status status = Prepare(*workspace, ConfigFor(R"("big.txt")"));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("corpus big.txt needs"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("(--max-memory 2 MiB)"));
  EXPECT_LE(budget.reserved_bytes(), 2 * a_bytes);
}

// A conversation reserves its text before it is built; one that cannot
// says where to resume.
TEST(ResourceLimitsTest, AConversationTooLargeForTheBudgetIsRefusedWithItsIndex) {
  CorpusDir dir;
  dir.Write("a.txt", Prose(100000));
  auto workspace = MakeWorkspace(dir.path(), int64_t{4} << 20);
  GenerationRequest request;
  request.config_json = ConfigFor(R"("a.txt")", /*tokens=*/1000000, /*turns=*/4);
  auto job = PrepareGeneration(*workspace, request, RequestLimits());
  ASSERT_TRUE(job.ok()) << job.status();
  auto stream = (*job)->OpenStream();
  ASSERT_TRUE(stream.ok());
  const testing::Run run = testing::Drain(**stream);
  EXPECT_EQ(run.status.code(), absl::StatusCode::kResourceExhausted) << run.status;
  EXPECT_THAT(std::string(run.status.message()),
              HasSubstr("building CONV_ID_0 (4000000 tokens in 4 messages) needs"));
  EXPECT_THAT(std::string(run.status.message()), HasSubstr("resume with start_index 0"));
  EXPECT_TRUE(run.messages.empty());
}

// A stopped request, or one past its CPU limit, stops tokenizing its corpus
// soon (a hostile corpus: one token per byte) and holds nothing after.
TEST(ResourceLimitsTest, TokenizingACorpusStopsWhenTold) {
  CorpusDir dir;
  dir.Write("bangs.txt", std::string(1 << 20, '!') + "\n" + Prose(100));
  auto workspace = MakeWorkspace(dir.path(), 0);
  StopSignal cancelled;
  cancelled.Stop();
  absl::Status status = Prepare(*workspace, ConfigFor(R"("bangs.txt")"), &cancelled);
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_EQ(status.message(), "cancelled while tokenizing corpus bangs.txt");

  StopSignal limited(/*cpu_seconds_per_work=*/0.01);
  const double start = StopSignal::ThreadCpuSeconds();
  status = Prepare(*workspace, ConfigFor(R"("bangs.txt")"), &limited);
  const double used = StopSignal::ThreadCpuSeconds() - start;
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("stopped tokenizing corpus bangs.txt after 0.01 CPU seconds"));
  std::printf("CPU used by a request stopped after 0.01 s: %.3f s\n", used);
  EXPECT_LT(used, 0.5);  // reading and splitting 1 MiB happen before the first check
  EXPECT_EQ(workspace->memory_budget().reserved_bytes(), 0);
}

}  // namespace
}  // namespace convgen
