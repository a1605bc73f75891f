// Reading and writing the fields of one object of a config's JSON, shared by
// the config reader (config_json.cc) and the distribution kinds
// (core/distributions/registry.h): every problem is added to a ConfigErrors
// at the field's JSON path. Not thread-safe; a reader borrows its object and
// its ConfigErrors, which must outlive it.
#ifndef CONVGEN_CORE_JSON_JSON_FIELDS_H_
#define CONVGEN_CORE_JSON_JSON_FIELDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/json/config_errors.h"
#include "core/json/strict_json.h"
#include "nlohmann/json.hpp"

namespace convgen {

// Reads the fields of one JSON object, remembering which keys were asked
// for so that the rest can be reported as unknown.
class JsonObjectReader {
 public:
  using Json = nlohmann::ordered_json;

  JsonObjectReader(const Json& object, std::string path, ConfigErrors& errors)
      : object_(object), path_(std::move(path)), errors_(errors) {}

  const std::string& path() const { return path_; }
  ConfigErrors& errors() { return errors_; }
  std::string PathOf(absl::string_view key) const { return JoinPath(path_, key); }

  // Returns the value at `key`, or null after reporting it missing (`hint`
  // is appended to "missing required field").
  const Json* Required(absl::string_view key, absl::string_view hint = "");
  // Returns the value at `key`, or null if absent.
  const Json* Optional(absl::string_view key);
  // Returns true iff the object has `key` (without marking it known).
  bool Has(absl::string_view key) const { return object_.contains(std::string(key)); }

  // Returns the integer at `key`; 1e3 and 12.0 count, 1.5 does not.
  std::optional<int64_t> Int(absl::string_view key, bool required);
  // Returns the number at `key`.
  std::optional<double> Number(absl::string_view key, bool required);

  // Reports every key that no accessor asked for; `context` follows
  // "unknown field" in the message.
  void ReportUnknownKeys(absl::string_view context);

 private:
  const Json& object_;
  std::string path_;
  ConfigErrors& errors_;
  std::vector<std::string> known_;
};

// Returns true iff `value` is an object; else reports it at `path` with an
// example of what is expected.
bool RequireObject(const nlohmann::ordered_json& value, const std::string& path,
                   absl::string_view example, ConfigErrors& errors);

// Reads the JSON array at `key`, calling read_item(item, item_path) for each
// item; reports a non-array. Returns false if the key is absent or not an
// array.
template <typename ReadItem>
bool ReadArray(JsonObjectReader& reader, absl::string_view key, bool required, ReadItem read_item) {
  const nlohmann::ordered_json* v = required ? reader.Required(key) : reader.Optional(key);
  if (v == nullptr) return false;
  if (!v->is_array()) {
    reader.errors().Add(reader.PathOf(key),
                        absl::StrCat("must be a list (got ", JsonForMessage(*v), ")"));
    return false;
  }
  for (size_t i = 0; i < v->size(); ++i) {
    read_item((*v)[i], IndexPath(reader.PathOf(key), i));
  }
  return true;
}

// Returns a double as a JSON integer when it is one, so 1000 stays 1000.
nlohmann::ordered_json NumberToJson(double value);

}  // namespace convgen

#endif  // CONVGEN_CORE_JSON_JSON_FIELDS_H_
