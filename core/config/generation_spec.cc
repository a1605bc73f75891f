#include "core/config/generation_spec.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/config/config_json.h"
#include "core/distributions/registry.h"
#include "core/json/config_errors.h"
#include "core/json/rule_checker.h"

namespace convgen {
namespace {

std::optional<GenerationSpec::PrefixGroups> CheckPrefixGroups(const v1::PrefixGroups& g,
                                                              const std::string& path,
                                                              ConfigErrors& errors) {
  RuleChecker check(path, errors);
  if (g.num_groups() < 1 || g.num_groups() > kMaxPrefixGroups) {
    check.Fail("num_groups",
               absl::StrCat("must be 1 to ", kMaxPrefixGroups, " (got ", g.num_groups(), ")"));
  }
  const double alpha = g.has_alpha() ? g.alpha() : 1.0;
  if (g.popularity() == v1::POPULARITY_ZIPF) {
    check.CheckNumber(
        "alpha", alpha, [](double v) { return v > 0 && v <= kMaxZipfAlpha; }, "> 0 and <= 1000");
  } else if (g.popularity() != v1::POPULARITY_UNIFORM) {
    check.Fail("popularity", absl::StrCat("must be POPULARITY_UNIFORM or POPULARITY_ZIPF (got ",
                                          static_cast<int>(g.popularity()), ")"));
  } else if (g.has_alpha()) {
    check.Fail("alpha", "only zipf popularity takes alpha");
  }
  std::optional<IntDistribution> size;
  if (!g.has_prefix_num_tokens()) {
    check.Fail("prefix_num_tokens", "missing required field");
  } else {
    size = CheckDistribution(g.prefix_num_tokens(), JoinPath(path, "prefix_num_tokens"), errors);
    if (!size) check.MarkFailed();
  }
  if (!check.ok()) return std::nullopt;
  std::vector<int64_t> groups(static_cast<size_t>(g.num_groups()));
  std::vector<double> weights(groups.size(), 1.0);
  for (size_t k = 0; k < groups.size(); ++k) {
    groups[k] = static_cast<int64_t>(k);
    if (g.popularity() == v1::POPULARITY_ZIPF)
      weights[k] = std::pow(static_cast<double>(k + 1), -alpha);
  }
  return GenerationSpec::PrefixGroups{
      g.num_groups(), IntDistribution::MakeEmpirical(std::move(groups), weights), *size};
}

// Checks the distribution `field` of a message; `present` says whether it
// is set. A missing optional field yields `fallback`.
std::optional<IntDistribution> CheckField(bool present, const v1::Distribution& d,
                                          const std::string& path,
                                          std::optional<IntDistribution> fallback,
                                          ConfigErrors& errors) {
  if (!present) {
    if (fallback) return fallback;
    errors.Add(path, "missing required field");
    return std::nullopt;
  }
  return CheckDistribution(d, path, errors);
}

// Checks the fields outside prompt_input and prompt_output into `spec`.
void CheckTopLevel(const v1::GenerationConfig& config, ConfigErrors& errors, GenerationSpec& spec) {
  if (config.filetype() != kConversationsFiletype) {
    errors.Add("filetype", absl::StrCat("must be \"", kConversationsFiletype, "\" (got ",
                                        QuoteForMessage(config.filetype()), ")"));
  }
  if (config.num_conversations() <= 0) {
    errors.Add("num_conversations",
               absl::StrCat("must be > 0 (got ", config.num_conversations(), ")"));
  }
  spec.num_conversations = config.num_conversations();
  if (config.text_files().empty()) {
    errors.Add("text_files", "must list at least one file");
  }
  for (int i = 0; i < config.text_files_size(); ++i) {
    if (config.text_files(i).empty()) {
      errors.Add(IndexPath("text_files", i), "must be a non-empty file name");
    }
    spec.text_files.push_back(config.text_files(i));
  }
  spec.print_stats = config.print_stats();
  switch (config.rng()) {
    case v1::RNG_UNSPECIFIED:
    case v1::RNG_PHILOX:
      break;
    case v1::RNG_NUMPY_LEGACY:
      spec.rng = SizeRng::kNumpyLegacy;
      if (config.num_conversations() > kMaxNumpyLegacyConversations) {
        errors.Add("num_conversations",
                   absl::StrCat("must be <= ", kMaxNumpyLegacyConversations,
                                " with rng \"numpy_legacy\", which draws every turn count up "
                                "front as vLLM does (got ",
                                config.num_conversations(),
                                "); split the workload or use rng \"philox\""));
      }
      break;
    default:
      errors.Add("rng", absl::StrCat("must be RNG_PHILOX or RNG_NUMPY_LEGACY (got ",
                                     static_cast<int>(config.rng()), ")"));
  }
}

// The distributions every spec has; set iff they passed their checks.
struct RequiredSizes {
  std::optional<IntDistribution> num_turns, common_prefix, prefix, input, output;
};

void CheckPromptInput(const v1::PromptInput& in, ConfigErrors& errors, GenerationSpec& spec,
                      RequiredSizes& sizes) {
  sizes.num_turns = CheckField(in.has_num_turns(), in.num_turns(), "prompt_input.num_turns",
                               std::nullopt, errors);
  sizes.common_prefix =
      CheckField(in.has_common_prefix_num_tokens(), in.common_prefix_num_tokens(),
                 "prompt_input.common_prefix_num_tokens", IntDistribution::MakeConstant(0), errors);
  sizes.prefix = CheckField(in.has_prefix_num_tokens(), in.prefix_num_tokens(),
                            "prompt_input.prefix_num_tokens", std::nullopt, errors);
  sizes.input = CheckField(in.has_num_tokens(), in.num_tokens(), "prompt_input.num_tokens",
                           std::nullopt, errors);
  if (in.has_think_time_ms()) {
    spec.think_time_ms =
        CheckDistribution(in.think_time_ms(), "prompt_input.think_time_ms", errors);
  }
  if (in.has_first_turn_num_tokens()) {
    spec.first_turn_input_num_tokens =
        CheckDistribution(in.first_turn_num_tokens(), "prompt_input.first_turn_num_tokens", errors);
  }
  if (in.has_prefix_groups()) {
    spec.prefix_groups =
        CheckPrefixGroups(in.prefix_groups(), "prompt_input.prefix_groups", errors);
  }
}

void CheckPromptOutput(const v1::PromptOutput& out, ConfigErrors& errors, GenerationSpec& spec,
                       RequiredSizes& sizes) {
  sizes.output = CheckField(out.has_num_tokens(), out.num_tokens(), "prompt_output.num_tokens",
                            std::nullopt, errors);
  if (out.has_first_turn_num_tokens()) {
    spec.first_turn_output_num_tokens = CheckDistribution(
        out.first_turn_num_tokens(), "prompt_output.first_turn_num_tokens", errors);
  }
}

// A path as text_files takes it (the workspace checks it again when it
// resolves it): relative, without "..", printable.
bool SafeFileName(const std::string& name) {
  if (name.empty() || name[0] == '/' || name == ".." || name.rfind("../", 0) == 0 ||
      name.find("/../") != std::string::npos ||
      (name.size() >= 3 && name.compare(name.size() - 3, 3, "/..") == 0)) {
    return false;
  }
  return std::none_of(name.begin(), name.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; });
}

std::optional<ShapeSourceSpec> CheckShapeSource(const v1::ShapeSource& in, ConfigErrors& errors) {
  RuleChecker check("shape_source", errors);
  ShapeSourceSpec out;
  if (in.format() != v1::SHAPE_FORMAT_SHAREGPT && in.format() != v1::SHAPE_FORMAT_MOONCAKE) {
    check.Fail("format", in.format() == v1::SHAPE_FORMAT_UNSPECIFIED
                             ? "missing required field (\"sharegpt\" or \"mooncake\")"
                             : absl::StrCat("must be SHAPE_FORMAT_SHAREGPT or "
                                            "SHAPE_FORMAT_MOONCAKE (got ",
                                            static_cast<int>(in.format()), ")"));
  }
  out.format = in.format();
  if (!SafeFileName(in.path())) {
    check.Fail("path", absl::StrCat("must be a file name next to the config or in the server's "
                                    "corpus directory, without \"..\", a leading \"/\" or control "
                                    "characters (got ",
                                    QuoteForMessage(in.path(), 80), ")"));
  }
  out.path = in.path();
  if (in.mode() != v1::SHAPE_MODE_REPLAY && in.mode() != v1::SHAPE_MODE_FIT) {
    check.Fail("mode", absl::StrCat("must be SHAPE_MODE_REPLAY or SHAPE_MODE_FIT (got ",
                                    static_cast<int>(in.mode()), ")"));
  }
  out.fit = in.mode() == v1::SHAPE_MODE_FIT;
  if (in.has_block_size()) {
    if (in.format() != v1::SHAPE_FORMAT_MOONCAKE) {
      check.Fail("block_size", "only a mooncake trace has blocks (hash_ids); remove block_size");
    } else if (in.block_size() < 1 || in.block_size() > kMaxShapeBlockSize) {
      check.Fail("block_size",
                 absl::StrCat("must be 1 to ", kMaxShapeBlockSize,
                              " tokens per hash_ids block (got ", in.block_size(), ")"));
    }
    out.block_size = in.block_size();
  }
  if (!check.ok()) return std::nullopt;
  return out;
}

// With a shape source, the size fields would be ignored: each one present
// is refused, so that nothing in a config is silently without effect.
void RefuseSizeFields(const v1::GenerationConfig& config, ConfigErrors& errors) {
  const char* const why =
      "shape_source supplies the turns and every message's size; remove this field "
      "(prompt_input.think_time_ms is the only one that applies)";
  const v1::PromptInput& in = config.prompt_input();
  const std::pair<bool, const char*> fields[] = {
      {in.has_num_turns(), "prompt_input.num_turns"},
      {in.has_common_prefix_num_tokens(), "prompt_input.common_prefix_num_tokens"},
      {in.has_prefix_num_tokens(), "prompt_input.prefix_num_tokens"},
      {in.has_num_tokens(), "prompt_input.num_tokens"},
      {in.has_first_turn_num_tokens(), "prompt_input.first_turn_num_tokens"},
      {in.has_prefix_groups(), "prompt_input.prefix_groups"},
      {config.prompt_output().has_num_tokens(), "prompt_output.num_tokens"},
      {config.prompt_output().has_first_turn_num_tokens(), "prompt_output.first_turn_num_tokens"},
  };
  for (const auto& [present, path] : fields) {
    if (present) errors.Add(path, why);
  }
  if (config.rng() == v1::RNG_NUMPY_LEGACY) {
    errors.Add("rng",
               "\"numpy_legacy\" reproduces vLLM's sampled sizes, but shape_source supplies the "
               "sizes; remove one of them");
  }
}

}  // namespace

std::optional<GenerationSpec> SpecFromConfig(const v1::GenerationConfig& config,
                                             ConfigErrors& errors) {
  GenerationSpec spec;
  CheckTopLevel(config, errors, spec);
  if (config.has_shape_source()) {
    spec.shape_source = CheckShapeSource(config.shape_source(), errors);
    RefuseSizeFields(config, errors);
    if (config.prompt_input().has_think_time_ms()) {
      spec.think_time_ms = CheckDistribution(config.prompt_input().think_time_ms(),
                                             "prompt_input.think_time_ms", errors);
    }
    if (!errors.empty()) return std::nullopt;
    return spec;
  }
  RequiredSizes sizes;
  if (!config.has_prompt_input()) {
    errors.Add("prompt_input", "missing required field");
  } else {
    CheckPromptInput(config.prompt_input(), errors, spec, sizes);
  }
  if (!config.has_prompt_output()) {
    errors.Add("prompt_output", "missing required field");
  } else {
    CheckPromptOutput(config.prompt_output(), errors, spec, sizes);
  }
  if (!errors.empty()) return std::nullopt;
  spec.num_turns = *sizes.num_turns;
  spec.common_prefix_num_tokens = *sizes.common_prefix;
  spec.prefix_num_tokens = *sizes.prefix;
  spec.input_num_tokens = *sizes.input;
  spec.output_num_tokens = *sizes.output;
  return spec;
}

absl::StatusOr<GenerationSpec> LoadSpec(const v1::GenerationConfig& config) {
  ConfigErrors errors;
  std::optional<GenerationSpec> spec = SpecFromConfig(config, errors);
  if (!spec) return errors.ToStatus();
  return *std::move(spec);
}

std::optional<GenerationSpec> SpecFromJson(absl::string_view json, ConfigErrors& errors,
                                           v1::GenerationConfig* config_out) {
  v1::GenerationConfig config = ConfigFromJson(json, errors);
  errors.BeginStage();
  std::optional<GenerationSpec> spec = SpecFromConfig(config, errors);
  if (config_out != nullptr) *config_out = std::move(config);
  return spec;
}

absl::StatusOr<GenerationSpec> LoadSpecFromJson(absl::string_view json,
                                                v1::GenerationConfig* config_out) {
  ConfigErrors errors;
  std::optional<GenerationSpec> spec = SpecFromJson(json, errors, config_out);
  if (!spec) return errors.ToStatus();
  return *std::move(spec);
}

}  // namespace convgen
