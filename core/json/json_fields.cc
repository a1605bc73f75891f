#include "core/json/json_fields.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_join.h"

namespace convgen {

using Json = nlohmann::ordered_json;

const Json* JsonObjectReader::Required(absl::string_view key, absl::string_view hint) {
  const Json* value = Optional(key);
  if (value == nullptr) {
    errors_.Add(PathOf(key), absl::StrCat("missing required field", hint));
  }
  return value;
}

const Json* JsonObjectReader::Optional(absl::string_view key) {
  known_.emplace_back(key);
  const auto it = object_.find(std::string(key));
  return it == object_.end() ? nullptr : &*it;
}

std::optional<int64_t> JsonObjectReader::Int(absl::string_view key, bool required) {
  const Json* value = required ? Required(key) : Optional(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_number_integer()) return value->get<int64_t>();
  if (value->is_number_float()) {
    // 1e3 and 12.0 are integers written as floats; 1.5 is not.
    const double d = value->get<double>();
    if (d == std::floor(d) && std::fabs(d) < 0x1.0p63) {
      return static_cast<int64_t>(d);
    }
  }
  errors_.Add(PathOf(key), absl::StrCat("must be an integer (got ", JsonForMessage(*value), ")"));
  return std::nullopt;
}

std::optional<double> JsonObjectReader::Number(absl::string_view key, bool required) {
  const Json* value = required ? Required(key) : Optional(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_number()) return value->get<double>();
  errors_.Add(PathOf(key), absl::StrCat("must be a number (got ", JsonForMessage(*value), ")"));
  return std::nullopt;
}

void JsonObjectReader::ReportUnknownKeys(absl::string_view context) {
  for (const auto& [key, value] : object_.items()) {
    bool is_known = false;
    for (const std::string& known : known_) is_known |= (known == key);
    if (!is_known) {
      errors_.Add(PathOf(key), absl::StrCat("unknown field", context, "; expected one of ",
                                            absl::StrJoin(known_, ", ")));
    }
  }
}

bool RequireObject(const Json& value, const std::string& path, absl::string_view example,
                   ConfigErrors& errors) {
  if (value.is_object()) return true;
  errors.Add(path, absl::StrCat("must be an object such as ", example, " (got ",
                                JsonForMessage(value), ")"));
  return false;
}

Json NumberToJson(double value) {
  // -0.0 stays a float: as the integer 0 it would read back as +0.0, which
  // proto3 treats as a different (unset) value.
  if (value == std::floor(value) && std::fabs(value) < 0x1.0p53 &&
      !(value == 0 && std::signbit(value))) {
    return static_cast<int64_t>(value);
  }
  return value;
}

}  // namespace convgen
