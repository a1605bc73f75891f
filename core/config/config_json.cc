#include "core/config/config_json.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/distributions/registry.h"
#include "core/json/json_fields.h"
#include "core/json/strict_json.h"

namespace convgen {
namespace {

using Json = nlohmann::ordered_json;

void ReadPrefixGroups(const Json& value, const std::string& path, ConfigErrors& errors,
                      v1::PrefixGroups& out) {
  if (!RequireObject(
          value, path,
          R"({"num_groups": 16, "prefix_num_tokens": {"distribution": "constant", ...}})",
          errors)) {
    return;
  }
  JsonObjectReader reader(value, path, errors);
  if (auto v = reader.Int("num_groups", true)) out.set_num_groups(*v);
  if (const Json* v = reader.Optional("popularity")) {
    if (v->is_string() && v->get<std::string>() == "uniform") {
      out.set_popularity(v1::POPULARITY_UNIFORM);
    } else if (v->is_string() && v->get<std::string>() == "zipf") {
      out.set_popularity(v1::POPULARITY_ZIPF);
    } else {
      errors.Add(reader.PathOf("popularity"),
                 absl::StrCat("must be \"uniform\" or \"zipf\" (got ", JsonForMessage(*v), ")"));
    }
  }
  if (auto v = reader.Number("alpha", false)) out.set_alpha(*v);
  if (const Json* v = reader.Required("prefix_num_tokens")) {
    ReadDistributionJson(*v, reader.PathOf("prefix_num_tokens"), errors,
                         *out.mutable_prefix_num_tokens());
  }
  reader.ReportUnknownKeys(" in prefix_groups");
}

// With a shape_source the sizes are the source's: the size fields are then
// optional here (and refused by the rules, generation_spec.cc).
const Json* SizeField(JsonObjectReader& reader, absl::string_view key, bool shaped) {
  return shaped ? reader.Optional(key) : reader.Required(key);
}

void ReadPromptInput(const Json& value, const std::string& path, bool shaped, ConfigErrors& errors,
                     v1::PromptInput& out) {
  if (!RequireObject(value, path, R"({"num_turns": {...}, "num_tokens": {...}})", errors)) {
    return;
  }
  JsonObjectReader reader(value, path, errors);
  if (const Json* v = SizeField(reader, "num_turns", shaped)) {
    ReadDistributionJson(*v, reader.PathOf("num_turns"), errors, *out.mutable_num_turns());
  }
  if (const Json* v = reader.Optional("common_prefix_num_tokens")) {
    ReadDistributionJson(*v, reader.PathOf("common_prefix_num_tokens"), errors,
                         *out.mutable_common_prefix_num_tokens());
  }
  if (const Json* v = SizeField(reader, "prefix_num_tokens", shaped)) {
    ReadDistributionJson(*v, reader.PathOf("prefix_num_tokens"), errors,
                         *out.mutable_prefix_num_tokens());
  }
  if (const Json* v = SizeField(reader, "num_tokens", shaped)) {
    ReadDistributionJson(*v, reader.PathOf("num_tokens"), errors, *out.mutable_num_tokens());
  }
  if (const Json* v = reader.Optional("think_time_ms")) {
    ReadDistributionJson(*v, reader.PathOf("think_time_ms"), errors, *out.mutable_think_time_ms());
  }
  if (const Json* v = reader.Optional("prefix_groups")) {
    ReadPrefixGroups(*v, reader.PathOf("prefix_groups"), errors, *out.mutable_prefix_groups());
  }
  if (const Json* v = reader.Optional("first_turn_num_tokens")) {
    ReadDistributionJson(*v, reader.PathOf("first_turn_num_tokens"), errors,
                         *out.mutable_first_turn_num_tokens());
  }
  reader.ReportUnknownKeys(" in prompt_input");
}

void ReadPromptOutput(const Json& value, const std::string& path, bool shaped, ConfigErrors& errors,
                      v1::PromptOutput& out) {
  if (!RequireObject(value, path, R"({"num_tokens": {...}})", errors)) return;
  JsonObjectReader reader(value, path, errors);
  if (const Json* v = SizeField(reader, "num_tokens", shaped)) {
    ReadDistributionJson(*v, reader.PathOf("num_tokens"), errors, *out.mutable_num_tokens());
  }
  if (const Json* v = reader.Optional("first_turn_num_tokens")) {
    ReadDistributionJson(*v, reader.PathOf("first_turn_num_tokens"), errors,
                         *out.mutable_first_turn_num_tokens());
  }
  reader.ReportUnknownKeys(" in prompt_output");
}

void ReadShapeSource(const Json& value, ConfigErrors& errors, v1::ShapeSource& out) {
  if (!RequireObject(value, "shape_source",
                     R"({"format": "sharegpt", "path": "chats.json", "mode": "replay"})", errors)) {
    return;
  }
  JsonObjectReader reader(value, "shape_source", errors);
  if (const Json* v = reader.Required("format", " (\"sharegpt\" or \"mooncake\")")) {
    if (v->is_string() && v->get<std::string>() == "sharegpt") {
      out.set_format(v1::SHAPE_FORMAT_SHAREGPT);
    } else if (v->is_string() && v->get<std::string>() == "mooncake") {
      out.set_format(v1::SHAPE_FORMAT_MOONCAKE);
    } else {
      errors.Add(reader.PathOf("format"), absl::StrCat("must be \"sharegpt\" or \"mooncake\" (got ",
                                                       JsonForMessage(*v), ")"));
    }
  }
  if (const Json* v = reader.Required("path")) {
    if (v->is_string()) {
      out.set_path(v->get<std::string>());
    } else {
      errors.Add(reader.PathOf("path"),
                 absl::StrCat("must be a file name string (got ", JsonForMessage(*v), ")"));
    }
  }
  if (const Json* v = reader.Optional("mode")) {
    if (v->is_string() && v->get<std::string>() == "replay") {
      out.set_mode(v1::SHAPE_MODE_REPLAY);
    } else if (v->is_string() && v->get<std::string>() == "fit") {
      out.set_mode(v1::SHAPE_MODE_FIT);
    } else {
      errors.Add(reader.PathOf("mode"),
                 absl::StrCat("must be \"replay\" or \"fit\" (got ", JsonForMessage(*v), ")"));
    }
  }
  if (auto v = reader.Int("block_size", false)) out.set_block_size(*v);
  reader.ReportUnknownKeys(" in shape_source");
}

void ReadTextFiles(const Json& value, ConfigErrors& errors, v1::GenerationConfig& out) {
  if (!value.is_array()) {
    errors.Add("text_files",
               absl::StrCat("must be a list of file names (got ", JsonForMessage(value), ")"));
    return;
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const Json& file = value[i];
    if (file.is_string()) {
      out.add_text_files(file.get<std::string>());
    } else {
      errors.Add(IndexPath("text_files", i),
                 absl::StrCat("must be a file name string (got ", JsonForMessage(file), ")"));
    }
  }
}

void ReadConfig(const Json& root, ConfigErrors& errors, v1::GenerationConfig& out) {
  if (!root.is_object()) {
    errors.Add("", absl::StrCat("a config must be a JSON object (got ", JsonForMessage(root), ")"));
    return;
  }
  JsonObjectReader reader(root, "", errors);
  if (const Json* v = reader.Required("filetype")) {
    if (v->is_string()) {
      out.set_filetype(v->get<std::string>());
    } else {
      errors.Add("filetype", absl::StrCat("must be the string \"generate_conversations\" (got ",
                                          JsonForMessage(*v), ")"));
    }
  }
  if (auto v = reader.Int("num_conversations", true)) {
    out.set_num_conversations(*v);
  }
  if (const Json* v = reader.Required("text_files")) {
    ReadTextFiles(*v, errors, out);
  }
  if (const Json* v = reader.Optional("print_stats")) {
    if (v->is_boolean()) {
      out.set_print_stats(v->get<bool>());
    } else {
      errors.Add("print_stats",
                 absl::StrCat("must be true or false (got ", JsonForMessage(*v), ")"));
    }
  }
  const bool shaped = reader.Has("shape_source");
  if (const Json* v = SizeField(reader, "prompt_input", shaped)) {
    ReadPromptInput(*v, "prompt_input", shaped, errors, *out.mutable_prompt_input());
  }
  if (const Json* v = SizeField(reader, "prompt_output", shaped)) {
    ReadPromptOutput(*v, "prompt_output", shaped, errors, *out.mutable_prompt_output());
  }
  if (const Json* v = reader.Optional("rng")) {
    if (v->is_string() && v->get<std::string>() == "philox") {
      out.set_rng(v1::RNG_PHILOX);
    } else if (v->is_string() && v->get<std::string>() == "numpy_legacy") {
      out.set_rng(v1::RNG_NUMPY_LEGACY);
    } else {
      errors.Add("rng", absl::StrCat("must be \"philox\" or \"numpy_legacy\" (got ",
                                     JsonForMessage(*v), ")"));
    }
  }
  if (const Json* v = reader.Optional("shape_source")) {
    ReadShapeSource(*v, errors, *out.mutable_shape_source());
  }
  reader.ReportUnknownKeys("");
}

Json PromptInputToJson(const v1::PromptInput& in) {
  Json json_in = Json::object();
  if (in.has_num_turns()) json_in["num_turns"] = DistributionToJson(in.num_turns());
  if (in.has_common_prefix_num_tokens()) {
    json_in["common_prefix_num_tokens"] = DistributionToJson(in.common_prefix_num_tokens());
  }
  if (in.has_prefix_num_tokens()) {
    json_in["prefix_num_tokens"] = DistributionToJson(in.prefix_num_tokens());
  }
  if (in.has_num_tokens()) json_in["num_tokens"] = DistributionToJson(in.num_tokens());
  if (in.has_think_time_ms()) json_in["think_time_ms"] = DistributionToJson(in.think_time_ms());
  if (in.has_prefix_groups()) {
    const v1::PrefixGroups& g = in.prefix_groups();
    Json groups = Json::object();
    groups["num_groups"] = g.num_groups();
    groups["popularity"] = g.popularity() == v1::POPULARITY_ZIPF ? "zipf" : "uniform";
    if (g.has_alpha()) groups["alpha"] = NumberToJson(g.alpha());
    if (g.has_prefix_num_tokens()) {
      groups["prefix_num_tokens"] = DistributionToJson(g.prefix_num_tokens());
    }
    json_in["prefix_groups"] = std::move(groups);
  }
  if (in.has_first_turn_num_tokens()) {
    json_in["first_turn_num_tokens"] = DistributionToJson(in.first_turn_num_tokens());
  }
  return json_in;
}

}  // namespace

v1::GenerationConfig ConfigFromJson(absl::string_view json, ConfigErrors& errors) {
  v1::GenerationConfig config;
  if (std::optional<Json> root = ParseStrictJson(json, errors)) {
    ReadConfig(*root, errors, config);
  }
  return config;
}

std::string ConfigToJson(const v1::GenerationConfig& config) {
  Json out = Json::object();
  out["filetype"] = config.filetype();
  out["num_conversations"] = config.num_conversations();
  out["text_files"] = Json::array();
  for (const std::string& file : config.text_files()) {
    out["text_files"].push_back(file);
  }
  if (config.has_print_stats()) out["print_stats"] = config.print_stats();
  if (config.has_rng() && config.rng() != v1::RNG_UNSPECIFIED) {
    out["rng"] = config.rng() == v1::RNG_NUMPY_LEGACY ? "numpy_legacy" : "philox";
  }
  if (config.has_prompt_input()) {
    out["prompt_input"] = PromptInputToJson(config.prompt_input());
  }
  if (config.has_prompt_output()) {
    Json& json_out = out["prompt_output"] = Json::object();
    if (config.prompt_output().has_num_tokens()) {
      json_out["num_tokens"] = DistributionToJson(config.prompt_output().num_tokens());
    }
    if (config.prompt_output().has_first_turn_num_tokens()) {
      json_out["first_turn_num_tokens"] =
          DistributionToJson(config.prompt_output().first_turn_num_tokens());
    }
  }
  if (config.has_shape_source()) {
    const v1::ShapeSource& shape = config.shape_source();
    Json& json_shape = out["shape_source"] = Json::object();
    json_shape["format"] = shape.format() == v1::SHAPE_FORMAT_SHAREGPT   ? "sharegpt"
                           : shape.format() == v1::SHAPE_FORMAT_MOONCAKE ? "mooncake"
                                                                         : "unspecified";
    json_shape["path"] = shape.path();
    json_shape["mode"] = shape.mode() == v1::SHAPE_MODE_FIT ? "fit" : "replay";
    if (shape.has_block_size()) json_shape["block_size"] = shape.block_size();
  }
  return out.dump(4, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace) + "\n";
}

}  // namespace convgen
