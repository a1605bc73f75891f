// Reading whole files, with errors that name the path and the reason.
#ifndef CONVGEN_CORE_FILES_H_
#define CONVGEN_CORE_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace convgen {

// Returns the bytes of the file at path; NotFound, PermissionDenied or
// FailedPrecondition (e.g. a directory) otherwise, with a message
// "PATH: reason". The one file reader of core, the server and the client.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace convgen

#endif  // CONVGEN_CORE_FILES_H_
