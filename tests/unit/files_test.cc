// ReadFileToString: the bytes of a file, or a status naming the path and why.
#include "core/files.h"

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace convgen {
namespace {

TEST(ReadFileToStringTest, ReadsEveryByte) {
  const std::string path = ::testing::TempDir() + "/files_test.bin";
  const std::string bytes("a\0b\r\n\xff", 6);
  std::FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), file);
  std::fclose(file);
  const absl::StatusOr<std::string> read = ReadFileToString(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, bytes);
}

TEST(ReadFileToStringTest, NamesThePathAndTheReason) {
  const absl::StatusOr<std::string> missing = ReadFileToString("/nonexistent/file");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "/nonexistent/file: No such file or directory");
  const absl::StatusOr<std::string> directory = ReadFileToString("/tmp");
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(directory.status().message(), "/tmp: is a directory, not a file");
}

}  // namespace
}  // namespace convgen
