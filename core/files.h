// Reading whole files, with errors that name the path and the reason.
#ifndef CONVGEN_CORE_FILES_H_
#define CONVGEN_CORE_FILES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace convgen {

// Returns the bytes of the file at path; NotFound, PermissionDenied or
// FailedPrecondition (e.g. a directory) otherwise, with a message
// "PATH: reason". The one file reader of core, the server and the client.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Returns the bytes of the regular file at path (symlinks followed), of at
// most max_bytes. Never blocks on a FIFO or a device and never reads more
// than max_bytes + 1 bytes: a FIFO, a device (/dev/zero), a directory or a
// socket is FailedPrecondition ("PATH: is a FIFO, not a regular file"), a
// file over max_bytes (or grown over it while read) ResourceExhausted;
// NotFound and PermissionDenied as ReadFileToString. For files a less
// trusted party names (a config's text_files).
absl::StatusOr<std::string> ReadRegularFile(const std::string& path, int64_t max_bytes);

// Whether path is a regular file / a directory, symlinks followed (an HF
// snapshot's tokenizer.json -> ../../blobs/<sha>); false when it cannot be
// stat'ed.
bool IsRegularFile(const std::string& path);
bool IsDirectory(const std::string& path);

// OK if path is a regular file (symlinks followed); otherwise NotFound
// ("PATH: No such file or directory") when nothing is there, or
// FailedPrecondition saying what is there instead ("PATH: is a FIFO, not a
// regular file", "PATH: is a symbolic link to nothing (TARGET)", "PATH: Too
// many levels of symbolic links").
absl::Status CheckRegularFile(const std::string& path);

}  // namespace convgen

#endif  // CONVGEN_CORE_FILES_H_
