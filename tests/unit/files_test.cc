// ReadFileToString and ReadRegularFile: the bytes of a file, or a status
// naming the path and why.
#include "core/files.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
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

// A fresh directory for one test's files.
std::string TestDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/files_test_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  std::fwrite(bytes.data(), 1, bytes.size(), file);
  std::fclose(file);
}

TEST(ReadRegularFileTest, ReadsARegularFileUpToTheLimitAndThroughASymlink) {
  const std::string dir = TestDir("regular");
  WriteFile(dir + "/a.txt", "hello");
  std::filesystem::create_symlink(dir + "/a.txt", dir + "/link.txt");
  for (const std::string& path : {dir + "/a.txt", dir + "/link.txt"}) {
    const absl::StatusOr<std::string> read = ReadRegularFile(path, 5);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(*read, "hello");
  }
  const absl::StatusOr<std::string> empty = ReadRegularFile("/dev/null", 5);
  EXPECT_EQ(empty.status().message(), "/dev/null: is a character device, not a regular file");
}

TEST(ReadRegularFileTest, RefusesAFileOverTheLimitBeforeReadingIt) {
  const std::string dir = TestDir("big");
  WriteFile(dir + "/six.txt", "123456");
  const absl::StatusOr<std::string> read = ReadRegularFile(dir + "/six.txt", 5);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(read.status().message(), dir + "/six.txt: has 6 bytes, over the limit of 5 bytes");
}

TEST(ReadRegularFileTest, StopsAtTheLimitWhenTheFileGrowsPastItsStatSize) {
  // /proc files are regular files of size 0 whose reads return more: a file
  // that grew between the stat and the read, as far as the reader can tell.
  struct stat st;
  ASSERT_EQ(::stat("/proc/self/status", &st), 0);
  ASSERT_EQ(st.st_size, 0);
  const absl::StatusOr<std::string> read = ReadRegularFile("/proc/self/status", 16);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(read.status().message(), "/proc/self/status: grew past the limit of 16 bytes");
  const absl::StatusOr<std::string> whole = ReadRegularFile("/proc/self/status", 1 << 20);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_NE(whole->find("Name:"), std::string::npos);
}

TEST(ReadRegularFileTest, RefusesAFifoWithoutWaitingForAWriter) {
  const std::string dir = TestDir("fifo");
  ASSERT_EQ(::mkfifo((dir + "/fifo").c_str(), 0600), 0) << std::strerror(errno);
  // Without a writer, an open for reading would block this test forever.
  const absl::StatusOr<std::string> read = ReadRegularFile(dir + "/fifo", 1 << 20);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(read.status().message(), dir + "/fifo: is a FIFO, not a regular file");
}

TEST(ReadRegularFileTest, RefusesASymlinkToDevZeroWithoutReadingIt) {
  const std::string dir = TestDir("zero");
  std::filesystem::create_symlink("/dev/zero", dir + "/zero.txt");
  const absl::StatusOr<std::string> read = ReadRegularFile(dir + "/zero.txt", int64_t{1} << 40);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(read.status().message(), dir + "/zero.txt: is a character device, not a regular file");
}

TEST(ReadRegularFileTest, RefusesADirectoryASocketAndAMissingFile) {
  const std::string dir = TestDir("other");
  EXPECT_EQ(ReadRegularFile(dir, 100).status().message(),
            dir + ": is a directory, not a regular file");
  const absl::StatusOr<std::string> missing = ReadRegularFile(dir + "/none.txt", 100);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), dir + "/none.txt: No such file or directory");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string socket_path = dir + "/sock";
  ASSERT_LT(socket_path.size(), sizeof(address.sun_path));
  std::strcpy(address.sun_path, socket_path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(ReadRegularFile(socket_path, 100).status().message(),
            socket_path + ": is a socket, not a regular file");
  ::close(fd);
}

}  // namespace
}  // namespace convgen
