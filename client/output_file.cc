#include "client/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace convgen {

bool OutputFile::FdBuffer::Drain() {
  const char* p = pbase();
  while (error_ == 0 && p < pptr()) {
    const ssize_t n = write(fd_, p, pptr() - p);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error_ = errno;
    if (n == 0) error_ = EIO;
    if (n > 0) p += n;
  }
  setp(buffer_.data(), buffer_.data() + buffer_.size());
  return error_ == 0;
}

OutputFile::FdBuffer::int_type OutputFile::FdBuffer::overflow(int_type c) {
  if (!Drain()) return traits_type::eof();
  if (!traits_type::eq_int_type(c, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(c);
    pbump(1);
  }
  return traits_type::not_eof(c);
}

int OutputFile::FdBuffer::sync() { return Drain() ? 0 : -1; }

absl::StatusOr<std::unique_ptr<OutputFile>> OutputFile::Open(const std::string& path) {
  if (path == "-") {
    return std::unique_ptr<OutputFile>(new OutputFile(path, "stdout", STDOUT_FILENO, false));
  }
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    // A device or a pipe: nothing to rename, and no file to put beside it.
    const int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return absl::InvalidArgumentError(absl::StrCat(path, ": ", std::strerror(errno)));
    return std::unique_ptr<OutputFile>(new OutputFile(path, path, fd, false));
  }
  const std::string partial = path + ".partial";
  // A left-over PATH.partial (a killed run) is replaced, and never followed
  // if it is a link.
  unlink(partial.c_str());
  const int fd = open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    return absl::InvalidArgumentError(absl::StrCat(partial, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<OutputFile>(new OutputFile(path, partial, fd, true));
}

OutputFile::OutputFile(std::string path, std::string writing, int fd, bool renames)
    : path_(std::move(path)),
      writing_(std::move(writing)),
      renames_(renames),
      buffer_(fd),
      stream_(&buffer_) {}

OutputFile::~OutputFile() {
  if (!closed_) Discard();
}

absl::Status OutputFile::status() const {
  if (buffer_.error() == 0) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(path_ == "-" ? "stdout" : path_, ": ", std::strerror(buffer_.error())));
}

absl::Status OutputFile::Close() {
  closed_ = true;
  stream_.flush();
  absl::Status status = this->status();
  if (path_ == "-") return status;  // stdout stays open, and was flushed
  if (close(buffer_.fd()) != 0 && status.ok()) {
    status = absl::InternalError(absl::StrCat(path_, ": ", std::strerror(errno)));
  }
  return status;
}

absl::Status OutputFile::Commit() {
  absl::Status status = Close();
  if (!renames_) return status;
  if (status.ok() && rename(writing_.c_str(), path_.c_str()) != 0) {
    status = absl::InternalError(absl::StrCat(path_, ": ", std::strerror(errno)));
  }
  if (!status.ok()) unlink(writing_.c_str());
  return status;
}

absl::StatusOr<std::string> OutputFile::KeepPartial(const std::string& suffix) {
  if (const absl::Status status = Close(); !status.ok()) {
    if (renames_) unlink(writing_.c_str());
    return status;
  }
  if (!renames_) return writing_;
  const std::string kept = path_ + suffix;
  if (rename(writing_.c_str(), kept.c_str()) != 0) {
    return absl::InternalError(absl::StrCat(kept, ": ", std::strerror(errno)));
  }
  return kept;
}

void OutputFile::Discard() {
  if (!closed_) {
    closed_ = true;
    if (path_ != "-") close(buffer_.fd());
  }
  if (renames_) unlink(writing_.c_str());
}

}  // namespace convgen
