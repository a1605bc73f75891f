#include "core/config/generation_spec.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/config/config_json.h"

namespace convgen {
namespace {

// Collects the problems of one distribution; `path` is its JSON path.
class DistributionChecker {
 public:
  DistributionChecker(std::string path, ConfigErrors& errors)
      : path_(std::move(path)), errors_(errors) {}

  bool ok() const { return ok_; }

  void Fail(absl::string_view field, std::string message) {
    errors_.Add(field.empty() ? path_ : JoinPath(path_, field), std::move(message));
    ok_ = false;
  }

  // A part failed and reported its own problems (a mixture's component).
  void MarkFailed() { ok_ = false; }

  // Checks that `value` is finite and lies in the range the predicate holds.
  template <class Predicate>
  void CheckNumber(absl::string_view field, double value, Predicate in_range,
                   absl::string_view rule) {
    if (!std::isfinite(value) || !in_range(value)) {
      Fail(field, absl::StrCat("must be ", rule, " (got ", value, ")"));
    }
  }

 private:
  std::string path_;
  ConfigErrors& errors_;
  bool ok_ = true;
};

// Sizes of the tables a config may hold.
constexpr int kMaxEmpiricalValues = 100000;
constexpr int kMaxMixtureComponents = 64;
constexpr double kMaxScale = 1e15;

std::optional<IntDistribution> CheckDistribution(const v1::Distribution& d,
                                                 const std::string& path,
                                                 ConfigErrors& errors);

// Checks weights (finite, >= 0, positive sum) at path.weights / path.components[i].weight.
void CheckWeights(const std::vector<double>& weights, DistributionChecker& check,
                  const std::function<std::string(size_t)>& field_of) {
  double sum = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    check.CheckNumber(field_of(i), weights[i], [](double v) { return v >= 0; }, ">= 0");
    if (std::isfinite(weights[i]) && weights[i] > 0) sum += weights[i];
  }
  if (!weights.empty() && !(sum > 0 && std::isfinite(sum))) {
    check.Fail("", "the weights must have a positive, finite sum");
  }
}

std::optional<IntDistribution> CheckEmpirical(const v1::EmpiricalDistribution& e,
                                              DistributionChecker& check) {
  if (e.values_size() == 0 || e.values_size() > kMaxEmpiricalValues) {
    check.Fail("values", absl::StrCat("must list 1 to ", kMaxEmpiricalValues, " values (got ",
                                      e.values_size(), ")"));
    return std::nullopt;
  }
  for (int i = 0; i < e.values_size(); ++i) {
    if (e.values(i) < 0 || e.values(i) > kMaxSampleValue) {
      check.Fail(IndexPath("values", i),
                 absl::StrCat("must be >= 0 and <= 2^62 (got ", e.values(i), ")"));
    }
  }
  if (e.weights_size() != 0 && e.weights_size() != e.values_size()) {
    check.Fail("weights", absl::StrCat("must give one weight per value (", e.weights_size(),
                                       " weights, ", e.values_size(), " values) or be left out"));
  }
  const std::vector<double> weights(e.weights().begin(), e.weights().end());
  CheckWeights(weights, check, [](size_t i) { return IndexPath("weights", i); });
  if (!check.ok()) return std::nullopt;
  return IntDistribution::MakeEmpirical(std::vector<int64_t>(e.values().begin(), e.values().end()),
                                        weights);
}

std::optional<IntDistribution> CheckMixture(const v1::MixtureDistribution& m, int64_t cap,
                                            const std::string& path, DistributionChecker& check,
                                            ConfigErrors& errors) {
  if (m.components_size() == 0 || m.components_size() > kMaxMixtureComponents) {
    check.Fail("components", absl::StrCat("must list 1 to ", kMaxMixtureComponents,
                                          " components (got ", m.components_size(), ")"));
    return std::nullopt;
  }
  std::vector<IntDistribution> components;
  std::vector<double> weights;
  for (int i = 0; i < m.components_size(); ++i) {
    const std::string component_path = IndexPath(JoinPath(path, "components"), i);
    if (!m.components(i).has_distribution()) {
      check.Fail(IndexPath("components", i) + ".distribution", "missing required field");
      continue;
    }
    std::optional<IntDistribution> c =
        CheckDistribution(m.components(i).distribution(), JoinPath(component_path, "distribution"),
                          errors);
    if (!c) {
      check.MarkFailed();  // the component reported its problems at its own path
      continue;
    }
    components.push_back(*std::move(c));
    weights.push_back(m.components(i).weight());
  }
  CheckWeights(weights, check, [](size_t i) { return IndexPath("components", i) + ".weight"; });
  if (!check.ok()) return std::nullopt;
  return IntDistribution::MakeMixture(std::move(components), weights, cap);
}

std::optional<IntDistribution> CheckDistribution(const v1::Distribution& d,
                                                 const std::string& path,
                                                 ConfigErrors& errors) {
  DistributionChecker check(path, errors);
  const bool takes_cap = !d.has_constant() && !d.has_uniform() && !d.has_empirical();
  int64_t cap = 0;
  if (d.has_max()) {
    if (!takes_cap) {
      check.Fail("max", "constant, uniform and empirical take no cap");
    } else if (d.max() < 0) {
      check.Fail("max", absl::StrCat("must be >= 0; 0 means no cap (got ",
                                     d.max(), ")"));
    } else {
      cap = d.max();
    }
  }
  std::optional<IntDistribution> result;
  switch (d.kind_case()) {
    case v1::Distribution::kConstant: {
      const int64_t value = d.constant().value();
      if (value < 0) {
        check.Fail("value", absl::StrCat("must be >= 0 (got ", value, ")"));
      }
      result = IntDistribution::MakeConstant(value);
      break;
    }
    case v1::Distribution::kUniform: {
      const int64_t min = d.uniform().min();
      const int64_t max = d.uniform().max();
      if (min <= 0) {
        check.Fail("min", absl::StrCat("must be > 0 (got ", min, ")"));
      } else if (max < min) {
        check.Fail("", absl::StrCat("uniform max must be >= min (", max, " < ",
                                    min, ")"));
      }
      result = IntDistribution::MakeUniform(min, max);
      break;
    }
    case v1::Distribution::kLognormalAverage: {
      const v1::LognormalByAverage& l = d.lognormal_average();
      check.CheckNumber("average", l.average(), [](double v) { return v >= 1; },
                        ">= 1");
      const double ratio =
          l.has_median_ratio() ? l.median_ratio() : kDefaultMedianRatio;
      check.CheckNumber("median_ratio", ratio,
                        [](double v) { return v > 0 && v < 1; },
                        "in (0, 1), exclusive");
      if (check.ok()) {
        result = IntDistribution::MakeLognormalByAverage(l.average(), ratio, cap);
      }
      break;
    }
    case v1::Distribution::kLognormalMeanSigma: {
      const v1::LognormalByMeanSigma& l = d.lognormal_mean_sigma();
      check.CheckNumber("mean", l.mean(), [](double v) { return v > 0; }, "> 0");
      check.CheckNumber("sigma", l.sigma(), [](double v) { return v >= 0; },
                        ">= 0");
      result = IntDistribution::MakeLognormal(l.mean(), l.sigma(), cap);
      break;
    }
    case v1::Distribution::kZipf:
      check.CheckNumber("alpha", d.zipf().alpha(),
                        [](double v) { return v > 1 && v <= kMaxZipfAlpha; },
                        "> 1 and <= 1000");
      result = IntDistribution::MakeZipf(d.zipf().alpha(), cap);
      break;
    case v1::Distribution::kPoisson:
      check.CheckNumber("alpha", d.poisson().alpha(),
                        [](double v) { return v > 0 && v <= kMaxPoissonAlpha; },
                        "> 0 and <= 1e15");
      result = IntDistribution::MakePoisson(d.poisson().alpha(), cap);
      break;
    case v1::Distribution::kNormal: {
      const v1::NormalDistribution& n = d.normal();
      check.CheckNumber("mean", n.mean(), [](double v) { return std::fabs(v) <= kMaxScale; },
                        "finite, |mean| <= 1e15");
      check.CheckNumber("stddev", n.stddev(), [](double v) { return v >= 0 && v <= kMaxScale; },
                        ">= 0 and <= 1e15");
      const int64_t min = n.min();
      if (min < 0) check.Fail("min", absl::StrCat("must be >= 0 (got ", min, ")"));
      if (cap > 0 && cap < min) {
        check.Fail("max", absl::StrCat("must be >= min (", cap, " < ", min, ")"));
      }
      result = IntDistribution::MakeNormal(n.mean(), n.stddev(), std::max<int64_t>(min, 0), cap);
      break;
    }
    case v1::Distribution::kExponential:
      check.CheckNumber("mean", d.exponential().mean(),
                        [](double v) { return v > 0 && v <= kMaxScale; }, "> 0 and <= 1e15");
      result = IntDistribution::MakeExponential(d.exponential().mean(), cap);
      break;
    case v1::Distribution::kPareto: {
      const double scale = d.pareto().has_scale() ? d.pareto().scale() : 1.0;
      check.CheckNumber("alpha", d.pareto().alpha(),
                        [](double v) { return v > 0 && v <= kMaxZipfAlpha; }, "> 0 and <= 1000");
      check.CheckNumber("scale", scale, [](double v) { return v > 0 && v <= kMaxScale; },
                        "> 0 and <= 1e15");
      result = IntDistribution::MakePareto(d.pareto().alpha(), scale, cap);
      break;
    }
    case v1::Distribution::kEmpirical:
      result = CheckEmpirical(d.empirical(), check);
      break;
    case v1::Distribution::kMixture:
      result = CheckMixture(d.mixture(), cap, path, check, errors);
      break;
    case v1::Distribution::KIND_NOT_SET:
      check.Fail("", "no distribution kind set; use one of constant, uniform, lognormal, zipf, "
                     "poisson, normal, exponential, pareto, empirical, mixture");
      break;
  }
  if (!check.ok()) return std::nullopt;
  return result;
}

std::optional<GenerationSpec::PrefixGroups> CheckPrefixGroups(const v1::PrefixGroups& g,
                                                              const std::string& path,
                                                              ConfigErrors& errors) {
  DistributionChecker check(path, errors);
  if (g.num_groups() < 1 || g.num_groups() > kMaxPrefixGroups) {
    check.Fail("num_groups", absl::StrCat("must be 1 to ", kMaxPrefixGroups, " (got ",
                                          g.num_groups(), ")"));
  }
  const double alpha = g.has_alpha() ? g.alpha() : 1.0;
  if (g.popularity() == v1::POPULARITY_ZIPF) {
    check.CheckNumber("alpha", alpha, [](double v) { return v > 0 && v <= kMaxZipfAlpha; },
                      "> 0 and <= 1000");
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
    if (g.popularity() == v1::POPULARITY_ZIPF) weights[k] = std::pow(static_cast<double>(k + 1), -alpha);
  }
  return GenerationSpec::PrefixGroups{g.num_groups(),
                                      IntDistribution::MakeEmpirical(std::move(groups), weights),
                                      *size};
}

// Checks the distribution `field` of a message; `present` says whether it
// is set. A missing optional field yields `fallback`.
std::optional<IntDistribution> CheckField(
    bool present, const v1::Distribution& d, const std::string& path,
    std::optional<IntDistribution> fallback, ConfigErrors& errors) {
  if (!present) {
    if (fallback) return fallback;
    errors.Add(path, "missing required field");
    return std::nullopt;
  }
  return CheckDistribution(d, path, errors);
}

}  // namespace

std::optional<GenerationSpec> SpecFromConfig(const v1::GenerationConfig& config,
                                             ConfigErrors& errors) {
  GenerationSpec spec;
  if (config.filetype() != kConversationsFiletype) {
    errors.Add("filetype", absl::StrCat("must be \"", kConversationsFiletype,
                                        "\" (got \"", config.filetype(), "\")"));
  }
  if (config.num_conversations() <= 0) {
    errors.Add("num_conversations", absl::StrCat("must be > 0 (got ",
                                                 config.num_conversations(), ")"));
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
                                "front as vLLM does (got ", config.num_conversations(),
                                "); split the workload or use rng \"philox\""));
      }
      break;
    default:
      errors.Add("rng", absl::StrCat("must be RNG_PHILOX or RNG_NUMPY_LEGACY (got ",
                                     static_cast<int>(config.rng()), ")"));
  }

  std::optional<IntDistribution> num_turns, common_prefix, prefix, input, output;
  if (!config.has_prompt_input()) {
    errors.Add("prompt_input", "missing required field");
  } else {
    const v1::PromptInput& in = config.prompt_input();
    num_turns = CheckField(in.has_num_turns(), in.num_turns(),
                           "prompt_input.num_turns", std::nullopt, errors);
    common_prefix = CheckField(
        in.has_common_prefix_num_tokens(), in.common_prefix_num_tokens(),
        "prompt_input.common_prefix_num_tokens",
        IntDistribution::MakeConstant(0), errors);
    prefix = CheckField(in.has_prefix_num_tokens(), in.prefix_num_tokens(),
                        "prompt_input.prefix_num_tokens", std::nullopt, errors);
    input = CheckField(in.has_num_tokens(), in.num_tokens(),
                       "prompt_input.num_tokens", std::nullopt, errors);
    if (in.has_think_time_ms()) {
      spec.think_time_ms = CheckDistribution(in.think_time_ms(), "prompt_input.think_time_ms", errors);
    }
    if (in.has_first_turn_num_tokens()) {
      spec.first_turn_input_num_tokens = CheckDistribution(
          in.first_turn_num_tokens(), "prompt_input.first_turn_num_tokens", errors);
    }
    if (in.has_prefix_groups()) {
      spec.prefix_groups =
          CheckPrefixGroups(in.prefix_groups(), "prompt_input.prefix_groups", errors);
    }
  }
  if (!config.has_prompt_output()) {
    errors.Add("prompt_output", "missing required field");
  } else {
    const v1::PromptOutput& out = config.prompt_output();
    output = CheckField(out.has_num_tokens(), out.num_tokens(),
                        "prompt_output.num_tokens", std::nullopt, errors);
    if (out.has_first_turn_num_tokens()) {
      spec.first_turn_output_num_tokens = CheckDistribution(
          out.first_turn_num_tokens(), "prompt_output.first_turn_num_tokens", errors);
    }
  }
  if (!errors.empty()) return std::nullopt;
  spec.num_turns = *num_turns;
  spec.common_prefix_num_tokens = *common_prefix;
  spec.prefix_num_tokens = *prefix;
  spec.input_num_tokens = *input;
  spec.output_num_tokens = *output;
  return spec;
}

absl::StatusOr<GenerationSpec> LoadSpec(const v1::GenerationConfig& config) {
  ConfigErrors errors;
  std::optional<GenerationSpec> spec = SpecFromConfig(config, errors);
  if (!spec) return errors.ToStatus();
  return *std::move(spec);
}

std::optional<GenerationSpec> SpecFromJson(absl::string_view json,
                                           ConfigErrors& errors,
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
