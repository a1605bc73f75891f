#include "core/shape/mooncake_reader.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
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

// `text` with every byte that is not part of well-formed UTF-8 written as
// \xNN: a parse error quotes the line's bytes, and an error message must
// stay text.
std::string EscapeInvalidUtf8(absl::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = lead < 0x80                     ? 1
                    : (lead >= 0xC2 && lead < 0xE0) ? 2
                    : (lead >= 0xE0 && lead < 0xF0) ? 3
                    : (lead >= 0xF0 && lead < 0xF5) ? 4
                                                    : 0;
    if (length > text.size() - i) length = 0;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      const bool low = k == 1 && ((lead == 0xE0 && next < 0xA0) || (lead == 0xED && next > 0x9F) ||
                                  (lead == 0xF0 && next < 0x90) || (lead == 0xF4 && next > 0x8F));
      if ((next & 0xC0) != 0x80 || low) length = 0;
    }
    if (length == 0) {
      absl::StrAppend(&out, "\\x", absl::Hex(lead, absl::kZeroPad2));
      ++i;
    } else {
      out.append(text.data() + i, length);
      i += length;
    }
  }
  return out;
}

// An integer value as a config takes one (1e3 and 12.0 are integers
// written as floats; 1.5 is not); past int64 it is int64's largest, which
// every bound refuses. nullopt when not an integer.
std::optional<int64_t> IntegerOf(const Json& value) {
  if (value.is_number_unsigned()) {
    return static_cast<int64_t>(
        std::min<uint64_t>(value.get<uint64_t>(), std::numeric_limits<int64_t>::max()));
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (d == std::floor(d) && std::fabs(d) < 0x1.0p63) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

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
    // Milliseconds; a fractional one (some traces) is rounded down. An
    // integer is bounded exactly; a float compares exactly with 2^53 too.
    const std::optional<int64_t> whole = IntegerOf(*t);
    const double ms = t->is_number() ? t->get<double>() : -1;
    if (!t->is_number()) {
      errors.Add("timestamp",
                 absl::StrCat("must be a number of milliseconds (got ", JsonForMessage(*t), ")"));
    } else if (whole ? (*whole < 0 || *whole > kMaxShapeTimestampMs)
                     : !(ms >= 0 && ms <= static_cast<double>(kMaxShapeTimestampMs))) {
      errors.Add("timestamp", absl::StrCat("must be 0 to ", kMaxShapeTimestampMs, " ms (got ",
                                           JsonForMessage(*t), ")"));
    } else {
      record->timestamp_ms = whole ? *whole : static_cast<int64_t>(std::floor(ms));
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
      record->hash_ids.reserve(ids->size());
      for (size_t k = 0; k < ids->size(); ++k) {
        const Json& id = (*ids)[k];
        const std::optional<int64_t> value = IntegerOf(id);
        if (!value || *value < 0) {
          errors.Add(IndexPath("hash_ids", k),
                     absl::StrCat("must be an integer >= 0 (got ", JsonForMessage(id), ")"));
          break;
        }
        record->hash_ids.push_back(*value);
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
          "line ", line_number, ": ", EscapeInvalidUtf8(e.ToString()),
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
  shape.records.shrink_to_fit();  // kept while cached: no growth slack
  if (shape.records.empty()) {
    return absl::InvalidArgumentError(
        "the trace has no request; each line is {\"timestamp\": ms, \"input_length\": n, "
        "\"output_length\": n, \"hash_ids\": [...]}");
  }
  if (shape.has_timestamps()) {
    // Arrivals count from the trace's first request.
    int64_t first = shape.records.front().timestamp_ms;
    for (const ShapeRecord& r : shape.records) first = std::min(first, r.timestamp_ms);
    for (ShapeRecord& r : shape.records) r.timestamp_ms -= first;
    shape.timestamp_offset_ms = first;
  }
  return shape;
}

}  // namespace convgen
