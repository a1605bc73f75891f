#include "core/json/config_errors.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace convgen {
namespace {

// True iff `ancestor` is `path` or a path above it (on a '.' or '[' boundary).
bool IsSameOrAncestor(absl::string_view ancestor, absl::string_view path) {
  if (ancestor.empty()) return true;
  if (path.substr(0, ancestor.size()) != ancestor) return false;
  if (path.size() == ancestor.size()) return true;
  const char next = path[ancestor.size()];
  return next == '.' || next == '[';
}

}  // namespace

std::string ConfigError::ToString() const {
  return path.empty() ? message : absl::StrCat(path, ": ", message);
}

void ConfigErrors::Add(std::string path, std::string message) {
  for (size_t i = 0; i < stage_start_; ++i) {
    const std::string& earlier = errors_[i].path;
    if (IsSameOrAncestor(earlier, path) || IsSameOrAncestor(path, earlier)) {
      return;
    }
  }
  errors_.push_back({std::move(path), std::move(message)});
}

absl::Status ConfigErrors::ToStatus() const {
  if (errors_.empty()) return absl::OkStatus();
  std::vector<std::string> lines;
  lines.reserve(errors_.size());
  for (const ConfigError& error : errors_) lines.push_back(error.ToString());
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid config (", errors_.size(), errors_.size() == 1 ? " problem):\n" : " problems):\n",
      absl::StrJoin(lines, "\n")));
}

std::string JoinPath(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

std::string IndexPath(absl::string_view parent, size_t index) {
  return absl::StrCat(parent, "[", index, "]");
}

}  // namespace convgen
