#include "core/files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace convgen {

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

}  // namespace convgen
