// OutputFile in a temporary directory: --output appears only on Commit; a
// kept partial file is named after its range; nothing is left by Discard;
// write errors are reported (a full device), not lost.
#include "client/output_file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace convgen {
namespace {

namespace fs = std::filesystem;

class OutputFileTest : public testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/convgen-output-XXXXXX";
    ASSERT_NE(mkdtemp(name), nullptr);
    dir_ = name;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Read(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path dir_;
};

TEST_F(OutputFileTest, CommitRenamesThePartialFileToTheOutput) {
  const fs::path out = dir_ / "out.json";
  auto file = OutputFile::Open(out.string());
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->writing_path(), out.string() + ".partial");
  (*file)->stream() << "[1]\n";
  EXPECT_FALSE(fs::exists(out));
  ASSERT_TRUE((*file)->Commit().ok());
  EXPECT_EQ(Read(out), "[1]\n");
  EXPECT_FALSE(fs::exists(out.string() + ".partial"));
}

TEST_F(OutputFileTest, KeepPartialNamesTheRangeAndLeavesTheOutputAlone) {
  const fs::path out = dir_ / "out.json";
  std::ofstream(out) << "previous run\n";
  auto file = OutputFile::Open(out.string());
  ASSERT_TRUE(file.ok()) << file.status();
  (*file)->stream() << "[2]\n";
  const absl::StatusOr<std::string> kept = (*file)->KeepPartial(".0-1.partial");
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(*kept, out.string() + ".0-1.partial");
  EXPECT_EQ(Read(*kept), "[2]\n");
  EXPECT_EQ(Read(out), "previous run\n");
}

TEST_F(OutputFileTest, DiscardAndDestructionLeaveNothing) {
  const fs::path out = dir_ / "out.json";
  {
    auto file = OutputFile::Open(out.string());
    ASSERT_TRUE(file.ok()) << file.status();
    (*file)->stream() << "[]\n";
    (*file)->Discard();
  }
  {
    auto file = OutputFile::Open(out.string());
    ASSERT_TRUE(file.ok()) << file.status();
  }
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(OutputFileTest, ALeftOverLinkAtThePartialNameIsReplacedNotFollowed) {
  const fs::path out = dir_ / "out.json";
  const fs::path target = dir_ / "precious";
  std::ofstream(target) << "keep me\n";
  fs::create_symlink(target, out.string() + ".partial");
  auto file = OutputFile::Open(out.string());
  ASSERT_TRUE(file.ok()) << file.status();
  (*file)->stream() << "[]\n";
  ASSERT_TRUE((*file)->Commit().ok());
  EXPECT_EQ(Read(target), "keep me\n");
  EXPECT_EQ(Read(out), "[]\n");
}

TEST_F(OutputFileTest, AFullDeviceIsAnErrorNamingIt) {
  auto file = OutputFile::Open("/dev/full");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->writing_path(), "/dev/full");
  (*file)->stream() << std::string(100000, 'x');  // more than the buffer
  EXPECT_EQ((*file)->status().message(), "/dev/full: No space left on device");
  EXPECT_FALSE((*file)->Commit().ok());
}

TEST_F(OutputFileTest, AFullDeviceIsReportedAtCommitForASmallWrite) {
  auto file = OutputFile::Open("/dev/full");
  ASSERT_TRUE(file.ok()) << file.status();
  (*file)->stream() << "[]\n";
  EXPECT_TRUE((*file)->status().ok());  // still buffered
  const absl::Status committed = (*file)->Commit();
  EXPECT_EQ(committed.message(), "/dev/full: No space left on device");
}

TEST_F(OutputFileTest, AMissingDirectoryIsRefusedAtOpen) {
  auto file = OutputFile::Open((dir_ / "no" / "out.json").string());
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find("No such file or directory"), std::string::npos);
}

}  // namespace
}  // namespace convgen
