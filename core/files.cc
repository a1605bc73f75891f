#include "core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace convgen {
namespace {

absl::Status OpenError(const std::string& path, int error) {
  const std::string message = absl::StrCat(path, ": ", std::strerror(error));
  if (error == ENOENT || error == ENOTDIR) return absl::NotFoundError(message);
  if (error == EACCES) return absl::PermissionDeniedError(message);
  return absl::FailedPreconditionError(message);
}

// What a file that is not a regular file is, for messages.
const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

absl::Status NotRegular(const std::string& path, mode_t mode) {
  return absl::FailedPreconditionError(
      absl::StrCat(path, ": is ", KindOf(mode), ", not a regular file"));
}

absl::Status TooBig(const std::string& path, int64_t size, int64_t max_bytes, bool grew) {
  return absl::ResourceExhaustedError(absl::StrCat(path, ": ", grew ? "grew past " : "has ",
                                                   grew ? "" : absl::StrCat(size, " bytes, over "),
                                                   "the limit of ", max_bytes, " bytes"));
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  // fopen opens a directory on Linux; only the read would fail, with EISDIR.
  if (std::error_code error; std::filesystem::is_directory(path, error)) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": is a directory, not a file"));
  }
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (file == nullptr) {
    const int error = errno;
    const std::string message = absl::StrCat(path, ": ", std::strerror(error));
    if (error == ENOENT) return absl::NotFoundError(message);
    if (error == EACCES) return absl::PermissionDeniedError(message);
    return absl::FailedPreconditionError(message);
  }
  std::string bytes;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    bytes.append(buffer, n);
  }
  if (std::ferror(file.get())) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": read failed: ", std::strerror(errno)));
  }
  return bytes;
}

absl::StatusOr<std::string> ReadRegularFile(const std::string& path, int64_t max_bytes) {
  // stat first, so that a FIFO is never opened (opening one for reading
  // without O_NONBLOCK waits for a writer).
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return OpenError(path, errno);
  if (!S_ISREG(st.st_mode)) return NotRegular(path, st.st_mode);
  if (st.st_size > max_bytes) return TooBig(path, st.st_size, max_bytes, false);
  // O_NONBLOCK: the path may have become a FIFO since the stat.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return OpenError(path, errno);
  std::unique_ptr<int, void (*)(int*)> closer(new int(fd), [](int* f) {
    ::close(*f);
    delete f;
  });
  if (::fstat(fd, &st) != 0) return OpenError(path, errno);
  if (!S_ISREG(st.st_mode)) return NotRegular(path, st.st_mode);
  if (st.st_size > max_bytes) return TooBig(path, st.st_size, max_bytes, false);
  std::string bytes;
  bytes.reserve(static_cast<size_t>(st.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": read failed: ", std::strerror(errno)));
    }
    if (n == 0) break;
    // A file that grows while read stops at the limit.
    if (static_cast<int64_t>(bytes.size()) + n > max_bytes) {
      return TooBig(path, 0, max_bytes, true);
    }
    bytes.append(buffer, static_cast<size_t>(n));
  }
  return bytes;
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::Status CheckRegularFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    struct stat link;
    if (error == ENOENT && ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
      std::error_code ignored;
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": is a symbolic link to nothing (",
                       std::filesystem::read_symlink(path, ignored).string(), ")"));
    }
    return OpenError(path, error);
  }
  if (!S_ISREG(st.st_mode)) return NotRegular(path, st.st_mode);
  return absl::OkStatus();
}

}  // namespace convgen
