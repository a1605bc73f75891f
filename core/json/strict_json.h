// ParseStrictJson: RFC 8259 JSON into an ordered nlohmann::json tree, refusing
// what a config must never silently contain: invalid UTF-8, NaN/Infinity,
// trailing data, duplicate keys, integers beyond int64, and nesting deeper
// than kMaxJsonDepth. Errors go to a ConfigErrors with the JSON path (or the
// line and column for syntax errors). Never throws. Thread-compatible.
#ifndef CONVGEN_CORE_JSON_STRICT_JSON_H_
#define CONVGEN_CORE_JSON_STRICT_JSON_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "core/json/config_errors.h"
#include "nlohmann/json.hpp"

namespace convgen {

inline constexpr int kMaxJsonDepth = 32;
// A config's objects have a few dozen fields; an object's keys are checked
// for duplicates one by one, so tens of thousands of them took minutes.
inline constexpr size_t kMaxJsonObjectFields = 1024;

// Returns the document, or nullopt after adding at least one error.
std::optional<nlohmann::ordered_json> ParseStrictJson(absl::string_view text, ConfigErrors& errors);

// Returns a JSON value as compact text for error messages, cut to about
// 60 characters.
std::string JsonForMessage(const nlohmann::ordered_json& value);

}  // namespace convgen

#endif  // CONVGEN_CORE_JSON_STRICT_JSON_H_
