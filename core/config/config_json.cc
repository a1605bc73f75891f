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

void ReadPromptInput(const Json& value, const std::string& path, ConfigErrors& errors,
                     v1::PromptInput& out) {
  if (!RequireObject(value, path, R"({"num_turns": {...}, "num_tokens": {...}})", errors)) {
    return;
  }
  JsonObjectReader reader(value, path, errors);
  if (const Json* v = reader.Required("num_turns")) {
    ReadDistributionJson(*v, reader.PathOf("num_turns"), errors, *out.mutable_num_turns());
  }
  if (const Json* v = reader.Optional("common_prefix_num_tokens")) {
    ReadDistributionJson(*v, reader.PathOf("common_prefix_num_tokens"), errors,
                         *out.mutable_common_prefix_num_tokens());
  }
  if (const Json* v = reader.Required("prefix_num_tokens")) {
    ReadDistributionJson(*v, reader.PathOf("prefix_num_tokens"), errors,
                         *out.mutable_prefix_num_tokens());
  }
  if (const Json* v = reader.Required("num_tokens")) {
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

void ReadPromptOutput(const Json& value, const std::string& path, ConfigErrors& errors,
                      v1::PromptOutput& out) {
  if (!RequireObject(value, path, R"({"num_tokens": {...}})", errors)) return;
  JsonObjectReader reader(value, path, errors);
  if (const Json* v = reader.Required("num_tokens")) {
    ReadDistributionJson(*v, reader.PathOf("num_tokens"), errors, *out.mutable_num_tokens());
  }
  if (const Json* v = reader.Optional("first_turn_num_tokens")) {
    ReadDistributionJson(*v, reader.PathOf("first_turn_num_tokens"), errors,
                         *out.mutable_first_turn_num_tokens());
  }
  reader.ReportUnknownKeys(" in prompt_output");
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
  if (const Json* v = reader.Required("prompt_input")) {
    ReadPromptInput(*v, "prompt_input", errors, *out.mutable_prompt_input());
  }
  if (const Json* v = reader.Required("prompt_output")) {
    ReadPromptOutput(*v, "prompt_output", errors, *out.mutable_prompt_output());
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
  return out.dump(4, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace) + "\n";
}

}  // namespace convgen
