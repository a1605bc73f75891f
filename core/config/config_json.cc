#include "core/config/config_json.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/config/strict_json.h"

namespace convgen {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kDistributionKinds =
    "constant, uniform, lognormal, zipf, poisson, normal, exponential, pareto, empirical, mixture";

// Reads the fields of one JSON object, remembering which keys were asked
// for so that the rest can be reported as unknown.
class ObjectReader {
 public:
  ObjectReader(const Json& object, std::string path, ConfigErrors& errors)
      : object_(object), path_(std::move(path)), errors_(errors) {}

  const std::string& path() const { return path_; }
  std::string PathOf(absl::string_view key) const { return JoinPath(path_, key); }

  // Returns the value at `key`, or null after reporting it missing.
  const Json* Required(absl::string_view key, absl::string_view hint = "") {
    const Json* value = Optional(key);
    if (value == nullptr) {
      errors_.Add(PathOf(key), absl::StrCat("missing required field", hint));
    }
    return value;
  }

  // Returns the value at `key`, or null if absent.
  const Json* Optional(absl::string_view key) {
    known_.emplace_back(key);
    const auto it = object_.find(std::string(key));
    return it == object_.end() ? nullptr : &*it;
  }

  bool Has(absl::string_view key) const {
    return object_.contains(std::string(key));
  }

  std::optional<int64_t> Int(absl::string_view key, bool required) {
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
    errors_.Add(PathOf(key), absl::StrCat("must be an integer (got ",
                                          JsonForMessage(*value), ")"));
    return std::nullopt;
  }

  std::optional<double> Number(absl::string_view key, bool required) {
    const Json* value = required ? Required(key) : Optional(key);
    if (value == nullptr) return std::nullopt;
    if (value->is_number()) return value->get<double>();
    errors_.Add(PathOf(key), absl::StrCat("must be a number (got ",
                                          JsonForMessage(*value), ")"));
    return std::nullopt;
  }

  // Reports every key that no accessor asked for.
  void ReportUnknownKeys(absl::string_view context) {
    for (const auto& [key, value] : object_.items()) {
      bool is_known = false;
      for (const std::string& known : known_) is_known |= (known == key);
      if (!is_known) {
        errors_.Add(PathOf(key),
                    absl::StrCat("unknown field", context, "; expected one of ",
                                 absl::StrJoin(known_, ", ")));
      }
    }
  }

 private:
  const Json& object_;
  std::string path_;
  ConfigErrors& errors_;
  std::vector<std::string> known_;
};

bool RequireObject(const Json& value, const std::string& path,
                   absl::string_view example, ConfigErrors& errors) {
  if (value.is_object()) return true;
  errors.Add(path, absl::StrCat("must be an object such as ", example,
                                " (got ", JsonForMessage(value), ")"));
  return false;
}

// Reads the optional cap shared by lognormal, zipf and poisson.
void ReadCap(ObjectReader& reader, v1::Distribution& out) {
  if (std::optional<int64_t> cap = reader.Int("max", /*required=*/false)) {
    out.set_max(*cap);
  }
}

void ReadDistribution(const Json& value, const std::string& path,
                      ConfigErrors& errors, v1::Distribution& out);

// Reads a JSON array at `key` whose items `read_item` takes; reports a
// non-array. Returns false if the key is absent or not an array.
template <typename ReadItem>
bool ReadArray(ObjectReader& reader, absl::string_view key, bool required, ConfigErrors& errors,
               ReadItem read_item) {
  const Json* v = required ? reader.Required(key) : reader.Optional(key);
  if (v == nullptr) return false;
  if (!v->is_array()) {
    errors.Add(reader.PathOf(key), absl::StrCat("must be a list (got ", JsonForMessage(*v), ")"));
    return false;
  }
  for (size_t i = 0; i < v->size(); ++i) read_item((*v)[i], IndexPath(reader.PathOf(key), i));
  return true;
}

void ReadEmpirical(ObjectReader& reader, ConfigErrors& errors, v1::EmpiricalDistribution& out) {
  ReadArray(reader, "values", true, errors, [&](const Json& item, const std::string& path) {
    if (item.is_number_integer() ||
        (item.is_number_float() && item.get<double>() == std::floor(item.get<double>()) &&
         std::fabs(item.get<double>()) < 0x1.0p63)) {
      out.add_values(item.is_number_integer() ? item.get<int64_t>()
                                              : static_cast<int64_t>(item.get<double>()));
    } else {
      errors.Add(path, absl::StrCat("must be an integer (got ", JsonForMessage(item), ")"));
    }
  });
  ReadArray(reader, "weights", false, errors, [&](const Json& item, const std::string& path) {
    if (item.is_number()) {
      out.add_weights(item.get<double>());
    } else {
      errors.Add(path, absl::StrCat("must be a number (got ", JsonForMessage(item), ")"));
    }
  });
}

void ReadMixture(ObjectReader& reader, ConfigErrors& errors, v1::MixtureDistribution& out) {
  ReadArray(reader, "components", true, errors, [&](const Json& item, const std::string& path) {
    v1::MixtureComponent& component = *out.add_components();
    if (!RequireObject(item, path, R"({"weight": 0.5, "distribution": {...}})", errors)) return;
    ObjectReader component_reader(item, path, errors);
    if (auto w = component_reader.Number("weight", true)) component.set_weight(*w);
    if (const Json* d = component_reader.Required("distribution")) {
      ReadDistribution(*d, component_reader.PathOf("distribution"), errors,
                       *component.mutable_distribution());
    }
    component_reader.ReportUnknownKeys(" in a mixture component");
  });
}

void ReadDistribution(const Json& value, const std::string& path,
                      ConfigErrors& errors, v1::Distribution& out) {
  if (!RequireObject(value, path,
                     R"({"distribution": "uniform", "min": 1, "max": 10})",
                     errors)) {
    return;
  }
  ObjectReader reader(value, path, errors);
  const Json* kind_json =
      reader.Required("distribution", absl::StrCat("; one of ", kDistributionKinds));
  if (kind_json == nullptr) return;
  if (!kind_json->is_string()) {
    errors.Add(reader.PathOf("distribution"),
               absl::StrCat("must be a string, one of ", kDistributionKinds,
                            " (got ", JsonForMessage(*kind_json), ")"));
    return;
  }
  const std::string kind = kind_json->get<std::string>();
  if (kind == "constant") {
    v1::ConstantDistribution& constant = *out.mutable_constant();
    if (auto v = reader.Int("value", true)) constant.set_value(*v);
  } else if (kind == "uniform") {
    v1::UniformDistribution& uniform = *out.mutable_uniform();
    if (auto v = reader.Int("min", true)) uniform.set_min(*v);
    if (auto v = reader.Int("max", true)) uniform.set_max(*v);
  } else if (kind == "lognormal") {
    if (reader.Has("average")) {
      if (reader.Has("mean") || reader.Has("sigma")) {
        errors.Add(path,
                   "lognormal takes either average (with optional "
                   "median_ratio) or mean and sigma, not both");
        return;
      }
      v1::LognormalByAverage& lognormal = *out.mutable_lognormal_average();
      if (auto v = reader.Number("average", true)) lognormal.set_average(*v);
      if (auto v = reader.Number("median_ratio", false)) {
        lognormal.set_median_ratio(*v);
      }
    } else {
      if (reader.Has("median_ratio")) {
        errors.Add(reader.PathOf("median_ratio"),
                   "median_ratio needs average; with mean and sigma leave it out");
        return;
      }
      v1::LognormalByMeanSigma& lognormal = *out.mutable_lognormal_mean_sigma();
      if (auto v = reader.Number("mean", true)) lognormal.set_mean(*v);
      if (auto v = reader.Number("sigma", true)) lognormal.set_sigma(*v);
    }
    ReadCap(reader, out);
  } else if (kind == "zipf") {
    if (auto v = reader.Number("alpha", true)) out.mutable_zipf()->set_alpha(*v);
    ReadCap(reader, out);
  } else if (kind == "poisson") {
    if (auto v = reader.Number("alpha", true)) {
      out.mutable_poisson()->set_alpha(*v);
    }
    ReadCap(reader, out);
  } else if (kind == "normal") {
    v1::NormalDistribution& normal = *out.mutable_normal();
    if (auto v = reader.Number("mean", true)) normal.set_mean(*v);
    if (auto v = reader.Number("stddev", true)) normal.set_stddev(*v);
    if (auto v = reader.Int("min", false)) normal.set_min(*v);
    ReadCap(reader, out);
  } else if (kind == "exponential") {
    if (auto v = reader.Number("mean", true)) out.mutable_exponential()->set_mean(*v);
    ReadCap(reader, out);
  } else if (kind == "pareto") {
    v1::ParetoDistribution& pareto = *out.mutable_pareto();
    if (auto v = reader.Number("alpha", true)) pareto.set_alpha(*v);
    if (auto v = reader.Number("scale", false)) pareto.set_scale(*v);
    ReadCap(reader, out);
  } else if (kind == "empirical") {
    ReadEmpirical(reader, errors, *out.mutable_empirical());
  } else if (kind == "mixture") {
    ReadMixture(reader, errors, *out.mutable_mixture());
    ReadCap(reader, out);
  } else {
    errors.Add(reader.PathOf("distribution"),
               absl::StrCat("unknown distribution \"", kind, "\"; expected one of ",
                            kDistributionKinds));
    return;
  }
  reader.ReportUnknownKeys(absl::StrCat(" for the ", kind, " distribution"));
}


void ReadPrefixGroups(const Json& value, const std::string& path, ConfigErrors& errors,
                      v1::PrefixGroups& out) {
  if (!RequireObject(value, path,
                     R"({"num_groups": 16, "prefix_num_tokens": {"distribution": "constant", ...}})",
                     errors)) {
    return;
  }
  ObjectReader reader(value, path, errors);
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
    ReadDistribution(*v, reader.PathOf("prefix_num_tokens"), errors,
                     *out.mutable_prefix_num_tokens());
  }
  reader.ReportUnknownKeys(" in prefix_groups");
}

void ReadPromptInput(const Json& value, const std::string& path,
                     ConfigErrors& errors, v1::PromptInput& out) {
  if (!RequireObject(value, path, R"({"num_turns": {...}, "num_tokens": {...}})",
                     errors)) {
    return;
  }
  ObjectReader reader(value, path, errors);
  if (const Json* v = reader.Required("num_turns")) {
    ReadDistribution(*v, reader.PathOf("num_turns"), errors,
                     *out.mutable_num_turns());
  }
  if (const Json* v = reader.Optional("common_prefix_num_tokens")) {
    ReadDistribution(*v, reader.PathOf("common_prefix_num_tokens"), errors,
                     *out.mutable_common_prefix_num_tokens());
  }
  if (const Json* v = reader.Required("prefix_num_tokens")) {
    ReadDistribution(*v, reader.PathOf("prefix_num_tokens"), errors,
                     *out.mutable_prefix_num_tokens());
  }
  if (const Json* v = reader.Required("num_tokens")) {
    ReadDistribution(*v, reader.PathOf("num_tokens"), errors,
                     *out.mutable_num_tokens());
  }
  if (const Json* v = reader.Optional("think_time_ms")) {
    ReadDistribution(*v, reader.PathOf("think_time_ms"), errors, *out.mutable_think_time_ms());
  }
  if (const Json* v = reader.Optional("prefix_groups")) {
    ReadPrefixGroups(*v, reader.PathOf("prefix_groups"), errors, *out.mutable_prefix_groups());
  }
  if (const Json* v = reader.Optional("first_turn_num_tokens")) {
    ReadDistribution(*v, reader.PathOf("first_turn_num_tokens"), errors,
                     *out.mutable_first_turn_num_tokens());
  }
  reader.ReportUnknownKeys(" in prompt_input");
}

void ReadPromptOutput(const Json& value, const std::string& path,
                      ConfigErrors& errors, v1::PromptOutput& out) {
  if (!RequireObject(value, path, R"({"num_tokens": {...}})", errors)) return;
  ObjectReader reader(value, path, errors);
  if (const Json* v = reader.Required("num_tokens")) {
    ReadDistribution(*v, reader.PathOf("num_tokens"), errors,
                     *out.mutable_num_tokens());
  }
  if (const Json* v = reader.Optional("first_turn_num_tokens")) {
    ReadDistribution(*v, reader.PathOf("first_turn_num_tokens"), errors,
                     *out.mutable_first_turn_num_tokens());
  }
  reader.ReportUnknownKeys(" in prompt_output");
}

void ReadConfig(const Json& root, ConfigErrors& errors,
                v1::GenerationConfig& out) {
  if (!root.is_object()) {
    errors.Add("", absl::StrCat("a config must be a JSON object (got ",
                                JsonForMessage(root), ")"));
    return;
  }
  ObjectReader reader(root, "", errors);
  if (const Json* v = reader.Required("filetype")) {
    if (v->is_string()) {
      out.set_filetype(v->get<std::string>());
    } else {
      errors.Add("filetype", absl::StrCat(
                                 "must be the string \"generate_conversations\" (got ",
                                 JsonForMessage(*v), ")"));
    }
  }
  if (auto v = reader.Int("num_conversations", true)) {
    out.set_num_conversations(*v);
  }
  if (const Json* v = reader.Required("text_files")) {
    if (!v->is_array()) {
      errors.Add("text_files", absl::StrCat("must be a list of file names (got ",
                                            JsonForMessage(*v), ")"));
    } else {
      for (size_t i = 0; i < v->size(); ++i) {
        const Json& file = (*v)[i];
        if (file.is_string()) {
          out.add_text_files(file.get<std::string>());
        } else {
          errors.Add(IndexPath("text_files", i),
                     absl::StrCat("must be a file name string (got ",
                                  JsonForMessage(file), ")"));
        }
      }
    }
  }
  if (const Json* v = reader.Optional("print_stats")) {
    if (v->is_boolean()) {
      out.set_print_stats(v->get<bool>());
    } else {
      errors.Add("print_stats", absl::StrCat("must be true or false (got ",
                                             JsonForMessage(*v), ")"));
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

// Writes a double as a JSON integer when it is one, so 1000 stays 1000.
Json NumberToJson(double value) {
  // -0.0 stays a float: as the integer 0 it would read back as +0.0, which
  // proto3 treats as a different (unset) value.
  if (value == std::floor(value) && std::fabs(value) < 0x1.0p53 &&
      !(value == 0 && std::signbit(value))) {
    return static_cast<int64_t>(value);
  }
  return value;
}

Json DistributionToJson(const v1::Distribution& d) {
  Json out = Json::object();
  bool takes_cap = true;
  switch (d.kind_case()) {
    case v1::Distribution::kConstant:
      out["distribution"] = "constant";
      out["value"] = d.constant().value();
      takes_cap = false;
      break;
    case v1::Distribution::kUniform:
      out["distribution"] = "uniform";
      out["min"] = d.uniform().min();
      out["max"] = d.uniform().max();
      takes_cap = false;
      break;
    case v1::Distribution::kLognormalAverage:
      out["distribution"] = "lognormal";
      out["average"] = NumberToJson(d.lognormal_average().average());
      if (d.lognormal_average().has_median_ratio()) {
        out["median_ratio"] = NumberToJson(d.lognormal_average().median_ratio());
      }
      break;
    case v1::Distribution::kLognormalMeanSigma:
      out["distribution"] = "lognormal";
      out["mean"] = NumberToJson(d.lognormal_mean_sigma().mean());
      out["sigma"] = NumberToJson(d.lognormal_mean_sigma().sigma());
      break;
    case v1::Distribution::kZipf:
      out["distribution"] = "zipf";
      out["alpha"] = NumberToJson(d.zipf().alpha());
      break;
    case v1::Distribution::kPoisson:
      out["distribution"] = "poisson";
      out["alpha"] = NumberToJson(d.poisson().alpha());
      break;
    case v1::Distribution::kNormal:
      out["distribution"] = "normal";
      out["mean"] = NumberToJson(d.normal().mean());
      out["stddev"] = NumberToJson(d.normal().stddev());
      if (d.normal().has_min()) out["min"] = d.normal().min();
      break;
    case v1::Distribution::kExponential:
      out["distribution"] = "exponential";
      out["mean"] = NumberToJson(d.exponential().mean());
      break;
    case v1::Distribution::kPareto:
      out["distribution"] = "pareto";
      out["alpha"] = NumberToJson(d.pareto().alpha());
      if (d.pareto().has_scale()) out["scale"] = NumberToJson(d.pareto().scale());
      break;
    case v1::Distribution::kEmpirical: {
      out["distribution"] = "empirical";
      out["values"] = Json::array();
      for (int64_t v : d.empirical().values()) out["values"].push_back(v);
      if (d.empirical().weights_size() > 0) {
        out["weights"] = Json::array();
        for (double w : d.empirical().weights()) out["weights"].push_back(NumberToJson(w));
      }
      takes_cap = false;
      break;
    }
    case v1::Distribution::kMixture:
      out["distribution"] = "mixture";
      out["components"] = Json::array();
      for (const v1::MixtureComponent& c : d.mixture().components()) {
        Json component = Json::object();
        component["weight"] = NumberToJson(c.weight());
        component["distribution"] = DistributionToJson(c.distribution());
        out["components"].push_back(std::move(component));
      }
      break;
    case v1::Distribution::KIND_NOT_SET:
      break;
  }
  if (takes_cap && d.has_max()) out["max"] = d.max();
  return out;
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
    const v1::PromptInput& in = config.prompt_input();
    Json& json_in = out["prompt_input"] = Json::object();
    if (in.has_num_turns()) json_in["num_turns"] = DistributionToJson(in.num_turns());
    if (in.has_common_prefix_num_tokens()) {
      json_in["common_prefix_num_tokens"] =
          DistributionToJson(in.common_prefix_num_tokens());
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
  return out.dump(4, ' ', /*ensure_ascii=*/false,
                  Json::error_handler_t::replace) +
         "\n";
}

}  // namespace convgen
