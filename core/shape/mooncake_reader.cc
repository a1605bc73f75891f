#include "core/shape/mooncake_reader.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/json/config_errors.h"
#include "core/json/json_fields.h"
#include "core/json/strict_json.h"

namespace convgen {
namespace {

using Json = nlohmann::ordered_json;

// Reads one line's request into *record; problems go to errors at their
// field's path.
void ReadRequest(const Json& root, ConfigErrors& errors, ShapeRecord* record) {
  if (!RequireObject(
          root, "",
          R"({"timestamp": 0, "input_length": 655, "output_length": 52, "hash_ids": [46, 47]})",
          errors)) {
    return;
  }
  JsonObjectReader reader(root, "", errors);
  const auto in_range = [&](const char* key, std::optional<int64_t> v, int64_t min, int64_t max) {
    if (!v) return std::optional<int64_t>();
    if (*v < min || *v > max) {
      errors.Add(key, absl::StrCat("must be ", min, " to ", max, " (got ", *v, ")"));
      return std::optional<int64_t>();
    }
    return v;
  };
  if (const Json* t = reader.Optional("timestamp")) {
    // Milliseconds; a fractional one (some traces) is rounded down.
    if (!t->is_number()) {
      errors.Add("timestamp",
                 absl::StrCat("must be a number of milliseconds (got ", JsonForMessage(*t), ")"));
    } else if (const double ms = t->get<double>();
               !(ms >= 0 && ms <= static_cast<double>(kMaxShapeTimestampMs))) {
      errors.Add("timestamp",
                 absl::StrCat("must be 0 to ", kMaxShapeTimestampMs,
                              " ms since the first request (got ", JsonForMessage(*t), ")"));
    } else {
      record->timestamp_ms = t->is_number_integer() ? t->get<int64_t>() : static_cast<int64_t>(ms);
    }
  }
  const auto input = in_range("input_length", reader.Int("input_length", true), 1, kMaxShapeLength);
  const auto output =
      in_range("output_length", reader.Int("output_length", true), 1, kMaxShapeLength);
  if (input && output) record->message_tokens = {*input, *output};
  if (const Json* ids = reader.Optional("hash_ids")) {
    if (!ids->is_array()) {
      errors.Add("hash_ids", absl::StrCat("must be a list of integer block ids (got ",
                                          JsonForMessage(*ids), ")"));
    } else if (static_cast<int64_t>(ids->size()) > kMaxShapeHashIds) {
      errors.Add("hash_ids",
                 absl::StrCat("has ", ids->size(), " ids, over the limit of ", kMaxShapeHashIds));
    } else {
      for (size_t k = 0; k < ids->size(); ++k) {
        const Json& id = (*ids)[k];
        if (!id.is_number_integer() || id.get<int64_t>() < 0) {
          errors.Add(IndexPath("hash_ids", k),
                     absl::StrCat("must be an integer >= 0 (got ", JsonForMessage(id), ")"));
          break;
        }
        record->hash_ids.push_back(id.get<int64_t>());
      }
    }
  }
}

}  // namespace

absl::StatusOr<Shape> ReadMooncakeTrace(absl::string_view jsonl) {
  Shape shape;
  shape.kind = ShapeKind::kMooncake;
  int64_t line_number = 0;
  int64_t first_without_time = 0, first_with_time = 0;
  while (!jsonl.empty()) {
    ++line_number;
    const size_t end = jsonl.find('\n');
    absl::string_view line = jsonl.substr(0, end);
    jsonl.remove_prefix(end == absl::string_view::npos ? jsonl.size() : end + 1);
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    if (static_cast<int64_t>(shape.records.size()) >= kMaxShapeRecords) {
      return absl::ResourceExhaustedError(absl::StrCat("the trace has more than ", kMaxShapeRecords,
                                                       " requests; use a part of it"));
    }
    ConfigErrors errors;
    ShapeRecord record;
    if (std::optional<Json> root = ParseStrictJson(line, errors)) {
      ReadRequest(*root, errors, &record);
    }
    if (!errors.empty()) {
      const ConfigError& e = errors.errors().front();
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", line_number, ": ", e.ToString(),
          "; each line is {\"timestamp\": ms, \"input_length\": n, \"output_length\": n, "
          "\"hash_ids\": [...]}"));
    }
    int64_t& first = record.timestamp_ms >= 0 ? first_with_time : first_without_time;
    if (first == 0) first = line_number;
    if (first_with_time != 0 && first_without_time != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", std::max(first_with_time, first_without_time),
                       ": timestamp is set on some requests (line ", first_with_time,
                       ") and not on others (line ", first_without_time,
                       "); give every request a timestamp, or none"));
    }
    shape.records.push_back(std::move(record));
  }
  shape.notes.records_read = static_cast<int64_t>(shape.records.size());
  if (shape.records.empty()) {
    return absl::InvalidArgumentError(
        "the trace has no request; each line is {\"timestamp\": ms, \"input_length\": n, "
        "\"output_length\": n, \"hash_ids\": [...]}");
  }
  return shape;
}

}  // namespace convgen
