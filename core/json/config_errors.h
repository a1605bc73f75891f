// ConfigErrors: every problem found in a config, each at a JSON path such as
// `prompt_input.num_turns.max`, so one answer lists them all.
//
// Checks run in stages (JSON syntax and types, then value rules); a later
// stage does not repeat a problem at a path an earlier stage already
// reported, or at one of its ancestors or descendants. Not thread-safe.
#ifndef CONVGEN_CORE_JSON_CONFIG_ERRORS_H_
#define CONVGEN_CORE_JSON_CONFIG_ERRORS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace convgen {

struct ConfigError {
  std::string path;  // JSON path; empty for the document as a whole
  std::string message;

  // Returns "path: message", or the message alone for the whole document.
  std::string ToString() const;
};

class ConfigErrors {
 public:
  // Records a problem at `path`, unless an earlier stage reported one at a
  // related path.
  void Add(std::string path, std::string message);

  // Starts a new stage: problems recorded so far suppress related ones.
  void BeginStage() { stage_start_ = errors_.size(); }

  bool empty() const { return errors_.empty(); }
  const std::vector<ConfigError>& errors() const { return errors_; }

  // Returns OK if there are no problems, else InvalidArgument listing all of
  // them, one per line.
  absl::Status ToStatus() const;

 private:
  std::vector<ConfigError> errors_;
  size_t stage_start_ = 0;
};

// Returns `text` for an error message: in double quotes, control characters,
// '"' and '\\' as \\xNN, and, when longer than max_bytes, cut at a UTF-8
// boundary and followed by "…(N bytes)", so that no input is echoed whole.
std::string QuoteForMessage(absl::string_view text, size_t max_bytes = 200);

// Returns `parent.key`, or `key` when parent is the document root.
std::string JoinPath(absl::string_view parent, absl::string_view key);
// Returns `parent[index]`.
std::string IndexPath(absl::string_view parent, size_t index);

}  // namespace convgen

#endif  // CONVGEN_CORE_JSON_CONFIG_ERRORS_H_
