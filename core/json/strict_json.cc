#include "core/json/strict_json.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/json/tree_builder.h"

namespace convgen {
namespace {

using Json = nlohmann::ordered_json;

// Builds the tree from nlohmann's SAX events, tracking the path of the value
// being built so that every problem names where it is.
class StrictBuilder : public nlohmann::json_sax<Json> {
 public:
  explicit StrictBuilder(ConfigErrors& errors) : errors_(errors), tree_(root_) {}

  Json TakeRoot() { return std::move(root_); }
  bool failed() const { return failed_; }

  bool null() override { return Put(nullptr); }
  bool boolean(bool value) override { return Put(value); }
  bool number_integer(number_integer_t value) override { return Put(value); }
  bool number_unsigned(number_unsigned_t value) override {
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Fail(CurrentPath(), absl::StrCat("integer ", value, " is beyond the int64 range"));
    }
    return Put(static_cast<int64_t>(value));
  }
  bool number_float(number_float_t value, const string_t& raw) override {
    if (raw.find_first_of(".eE") == std::string::npos) {
      return Fail(CurrentPath(),
                  absl::StrCat("integer ", raw.substr(0, 40), " is beyond the int64 range"));
    }
    if (!std::isfinite(value)) {
      return Fail(CurrentPath(),
                  absl::StrCat("number ", raw.substr(0, 40), " is out of the double range"));
    }
    return Put(value);
  }
  bool string(string_t& value) override { return Put(std::move(value)); }
  bool binary(binary_t& value) override { return Put(Json::binary(value)); }

  bool start_object(std::size_t) override { return Open(Json::object()); }
  bool key(string_t& key) override {
    if (tree_.open()->size() >= kMaxJsonObjectFields) {
      return Fail(paths_.back(), absl::StrCat("an object with more than ", kMaxJsonObjectFields,
                                              " fields; a config needs a few dozen"));
    }
    if (tree_.open()->contains(key)) {
      return Fail(JoinPath(paths_.back(), key), "duplicate key; each field may appear once");
    }
    tree_.SetKey(std::move(key));
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(Json::array()); }
  bool end_array() override { return Close(); }

  bool parse_error(std::size_t position, const std::string& last_token,
                   const Json::exception& error) override {
    // nlohmann's message starts with "[json.exception.parse_error.101] ".
    std::string what = error.what();
    if (const size_t cut = what.find("] "); cut != std::string::npos) {
      what.erase(0, cut + 2);
    }
    return Fail("", absl::StrCat("invalid JSON: ", what));
  }

 private:
  // The path of the value the parser is at.
  std::string CurrentPath() const {
    const Json* open = tree_.open();
    if (open == nullptr) return "";
    return open->is_array() ? IndexPath(paths_.back(), open->size())
                            : JoinPath(paths_.back(), tree_.key());
  }

  bool Put(Json value) {
    tree_.Store(std::move(value));
    return true;
  }

  bool Open(Json empty) {
    if (static_cast<int>(tree_.depth()) >= kMaxJsonDepth) {
      return Fail(CurrentPath(), absl::StrCat("nesting is deeper than ", kMaxJsonDepth, " levels"));
    }
    paths_.push_back(CurrentPath());
    tree_.Open(std::move(empty));
    return true;
  }

  bool Close() {
    tree_.Close();
    paths_.pop_back();
    return true;
  }

  bool Fail(std::string path, std::string message) {
    errors_.Add(std::move(path), std::move(message));
    failed_ = true;
    return false;
  }

  ConfigErrors& errors_;
  Json root_;
  JsonTreeBuilder<Json> tree_;
  std::vector<std::string> paths_;  // of each open container
  bool failed_ = false;
};

}  // namespace

std::optional<nlohmann::ordered_json> ParseStrictJson(absl::string_view text,
                                                      ConfigErrors& errors) {
  StrictBuilder builder(errors);
  const bool ok = Json::sax_parse(text.begin(), text.end(), &builder, Json::input_format_t::json,
                                  /*strict=*/true);
  if (!ok || builder.failed()) {
    if (!builder.failed()) errors.Add("", "invalid JSON");
    return std::nullopt;
  }
  return builder.TakeRoot();
}

std::string JsonForMessage(const nlohmann::ordered_json& value) {
  std::string text =
      value.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::ordered_json::error_handler_t::replace);
  constexpr size_t kMaxChars = 60;
  if (text.size() > kMaxChars) {
    size_t cut = kMaxChars;  // back off to a UTF-8 character boundary
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    text.resize(cut);
    absl::StrAppend(&text, "...");
  }
  return text;
}

}  // namespace convgen
