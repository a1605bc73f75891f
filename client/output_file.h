// OutputFile: where `convgen generate` writes, so that --output only ever
// holds a complete run. A regular (or new) file is written as PATH.partial
// beside it and renamed to PATH by Commit(); a broken run's file is kept by
// KeepPartial() under a name that says which conversations it holds; a run
// that wrote nothing leaves nothing (Discard()). "-" is stdout; a device or
// FIFO (/dev/null, /dev/full, a pipe) is written in place. Every write, flush
// and close is checked: the first error is kept and reported. Not
// thread-safe.
#ifndef CONVGEN_CLIENT_OUTPUT_FILE_H_
#define CONVGEN_CLIENT_OUTPUT_FILE_H_

#include <memory>
#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace convgen {

class OutputFile {
 public:
  // Opens `path` ("-": stdout). The error says why ("PATH: reason").
  static absl::StatusOr<std::unique_ptr<OutputFile>> Open(const std::string& path);

  ~OutputFile();  // an open partial file is discarded

  std::ostream& stream() { return stream_; }
  // OK until a write failed; then "PATH: reason" (e.g. No space left on
  // device).
  absl::Status status() const;
  // What is being written: PATH.partial, PATH itself, or "stdout".
  const std::string& writing_path() const { return writing_; }

  // Flushes and closes; the file becomes PATH.
  absl::Status Commit();
  // Flushes and closes; a PATH.partial file is renamed to PATH + `suffix`
  // (e.g. ".0-233.partial"). Returns where the output now is (the new name,
  // the device's path, or "stdout").
  absl::StatusOr<std::string> KeepPartial(const std::string& suffix);
  // Closes and removes a PATH.partial file (stdout or a device keep what
  // was written).
  void Discard();

 private:
  // A streambuf over a file descriptor that keeps the errno of the first
  // failed write.
  class FdBuffer : public std::streambuf {
   public:
    explicit FdBuffer(int fd) : fd_(fd), buffer_(1 << 16) {
      setp(buffer_.data(), buffer_.data() + buffer_.size());
    }
    int error() const { return error_; }
    int fd() const { return fd_; }

   protected:
    int_type overflow(int_type c) override;
    int sync() override;

   private:
    bool Drain();
    int fd_;
    std::vector<char> buffer_;
    int error_ = 0;
  };

  OutputFile(std::string path, std::string writing, int fd, bool renames);
  absl::Status Close();

  std::string path_;     // as given; "-" is stdout
  std::string writing_;  // what is open
  bool renames_;         // writing_ is PATH.partial
  bool closed_ = false;
  FdBuffer buffer_;
  std::ostream stream_;
};

}  // namespace convgen

#endif  // CONVGEN_CLIENT_OUTPUT_FILE_H_
