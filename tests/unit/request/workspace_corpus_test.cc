// A request's corpus is read, checked and hashed once: unchanged files are
// not read again, text whose hash is cached is not checked again, and an
// edited file is read again (issue 16).
#include <stdlib.h>
#include <time.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/request/workspace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/tokenizers.h"

namespace convgen {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

class WorkspaceCorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "convgen-corpus-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
    WorkspaceOptions options;
    options.data_dir = std::string(CONVGEN_SOURCE_DIR) + "/data";
    options.corpus_dir = dir_;
    auto workspace = Workspace::Create(options);
    ASSERT_TRUE(workspace.ok()) << workspace.status();
    workspace_ = *std::move(workspace);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes corpus files, then waits until the workspace may trust them by
  // their identity (see Workspace::CorpusFiles: changed over 2 s ago).
  void WriteSettledFiles(const std::vector<std::pair<std::string, std::string>>& files) {
    for (const auto& [name, text] : files) WriteFile(fs::path(dir_) / name, text);
    std::this_thread::sleep_for(std::chrono::milliseconds(3100));
  }

  absl::StatusOr<std::shared_ptr<const TokenizedCorpus>> Get(
      const std::vector<std::string>& files, const std::vector<InlineText>& inline_texts = {}) {
    return workspace_->GetCorpus(files, inline_texts, "qwen3",
                                 testing::SharedTestTokenizer("qwen3"), nullptr);
  }

  std::string dir_;
  std::unique_ptr<Workspace> workspace_;
};

TEST_F(WorkspaceCorpusTest, UnchangedFilesAreReadAndCheckedOnce) {
  WriteSettledFiles({{"settled.txt", "Call me Ishmael. Some years ago, never mind.\n"}});
  const auto first = Get({"settled.txt"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT((*first)->text(), HasSubstr("Ishmael"));
  EXPECT_EQ(workspace_->corpus_work().files_read, 1);
  EXPECT_EQ(workspace_->corpus_work().texts_checked, 1);
  for (int i = 0; i < 3; ++i) {
    const auto again = Get({"settled.txt"});
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->get(), first->get());
  }
  EXPECT_EQ(workspace_->corpus_work().files_read, 1);
  EXPECT_EQ(workspace_->corpus_work().texts_checked, 1);
  // The limits still hold for files already known.
  const auto repeated = Get({"settled.txt", "./settled.txt"});
  EXPECT_EQ(repeated.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(WorkspaceCorpusTest, AnEditedFileIsReadAgain) {
  WriteSettledFiles({{"edited.txt", "The old text of a file that is edited later.\n"}});
  const auto before = Get({"edited.txt"});
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_THAT((*before)->text(), HasSubstr("old text"));
  ASSERT_TRUE(Get({"edited.txt"}).ok());
  EXPECT_EQ(workspace_->corpus_work().files_read, 1);
  // The same size, at once: only the file's times (and inode) say it changed.
  WriteFile(fs::path(dir_) / "edited.txt", "The new text of a file that is edited later.\n");
  const auto after = Get({"edited.txt"});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT((*after)->text(), HasSubstr("new text"));
  EXPECT_THAT((*after)->text(), Not(HasSubstr("old text")));
  EXPECT_EQ(workspace_->corpus_work().files_read, 2);
  EXPECT_EQ(workspace_->corpus_work().texts_checked, 2);
  // Changed just now, it is read on every request until it settles (its
  // times could not show a second edit within their granularity), but its
  // text, cached by hash, is not checked again.
  WriteFile(fs::path(dir_) / "edited.txt", "The old text of a file that is edited later.\n");
  const auto reverted = Get({"edited.txt"});
  ASSERT_TRUE(reverted.ok()) << reverted.status();
  EXPECT_EQ(reverted->get(), before->get());
  EXPECT_EQ(workspace_->corpus_work().files_read, 3);
  EXPECT_EQ(workspace_->corpus_work().texts_checked, 2);
}

TEST_F(WorkspaceCorpusTest, InlineTextIsCheckedOncePerContent) {
  const std::string text = "An inline corpus, sent with each request.";
  const auto first = Get({"x.txt"}, {{"x.txt", text}});
  ASSERT_TRUE(first.ok()) << first.status();
  const auto again = Get({"x.txt"}, {{"x.txt", text}});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->get(), first->get());
  EXPECT_EQ(workspace_->corpus_work().texts_checked, 1);
  const auto other = Get({"x.txt"}, {{"x.txt", text + " More."}});
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(other->get(), first->get());
  EXPECT_EQ(workspace_->corpus_work().texts_checked, 2);
  EXPECT_EQ(workspace_->corpus_work().files_read, 0);
  // Invalid text is refused every time, never served from a cache.
  for (int i = 0; i < 2; ++i) {
    const auto bad = Get({"x.txt"}, {{"x.txt", "bad \xC3\x28 text"}});
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(bad.status().message()), HasSubstr("invalid UTF-8 at byte offset 4"));
  }
}

}  // namespace
}  // namespace convgen
