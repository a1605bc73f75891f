#include "core/json/config_errors.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
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
  // The first problems are enough to act on; a config with thousands of
  // unknown fields must not produce a status larger than gRPC's metadata.
  constexpr size_t kMaxListed = 10;
  std::vector<std::string> lines;
  for (size_t i = 0; i < errors_.size() && i < kMaxListed; ++i) {
    lines.push_back(errors_[i].ToString());
  }
  if (errors_.size() > kMaxListed) {
    lines.push_back(absl::StrCat("... and ", errors_.size() - kMaxListed, " more"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid config (", errors_.size(), errors_.size() == 1 ? " problem):\n" : " problems):\n",
      absl::StrJoin(lines, "\n")));
}

std::string QuoteForMessage(absl::string_view text, size_t max_bytes) {
  size_t cut = std::min(text.size(), max_bytes);
  while (cut > 0 && cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;  // back off to a UTF-8 character boundary
  }
  std::string out = "\"";
  for (const char c : text.substr(0, cut)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F || c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\x", absl::Hex(byte, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  if (cut < text.size()) absl::StrAppend(&out, "…(", text.size(), " bytes)");
  return out;
}

std::string JoinPath(absl::string_view parent, absl::string_view key) {
  // Keys are the client's: an unknown one may be long or hold anything.
  const bool plain =
      key.size() <= 64 && std::all_of(key.begin(), key.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.' || c == '[' || c == ']';
      });
  const std::string shown = plain ? std::string(key) : QuoteForMessage(key, 64);
  return parent.empty() ? shown : absl::StrCat(parent, ".", shown);
}

std::string IndexPath(absl::string_view parent, size_t index) {
  return absl::StrCat(parent, "[", index, "]");
}

}  // namespace convgen
