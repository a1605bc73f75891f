#include "core/distributions/mixture.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/distributions/int_distribution.h"
#include "core/distributions/registry.h"
#include "core/distributions/sampling.h"

namespace convgen {

MixtureParams MixtureParams::Make(std::vector<IntDistribution> components,
                                  const std::vector<double>& weights) {
  return MixtureParams{std::make_shared<const std::vector<IntDistribution>>(std::move(components)),
                       RunningSums(weights)};
}

int64_t MixtureParams::Sample(RandomStream& stream) const {
  return (*components)[PickByWeight(stream, *cumulative)].Sample(stream);
}

std::vector<int64_t> MixtureParams::SampleLikeVllm(int64_t count, int64_t cap,
                                                   NumpyRandomState& state) const {
  return SampleKeyedByNumpyWord(
      count, state, [&](RandomStream& stream) { return ApplyCap(Sample(stream), cap); });
}

std::string MixtureParams::ToString() const {
  std::string parts;
  for (const IntDistribution& c : *components) {
    absl::StrAppend(&parts, parts.empty() ? "" : " | ", c.ToString());
  }
  return absl::StrCat("mixture(", parts, ")");
}

namespace {

// The most components a mixture may list.
constexpr int kMaxMixtureComponents = 64;

// How deep mixtures may nest (a mixture inside a mixture is 2). Each level
// adds three to the depth of the config's JSON, so a typed config nested
// deeper normalizes to JSON past kMaxJsonDepth, which the reader refuses;
// at every distribution field this depth still reads back.
constexpr int kMaxMixtureNesting = 8;

// Returns how deep mixtures nest in `d` (0 for no mixture), looking no
// further than `stop_at` levels so that the walk is bounded.
int MixtureNesting(const v1::Distribution& d, int stop_at) {
  if (!d.has_mixture() || stop_at <= 0) return 0;
  int deepest = 0;
  for (const v1::MixtureComponent& c : d.mixture().components()) {
    deepest = std::max(deepest, MixtureNesting(c.distribution(), stop_at - 1));
  }
  return 1 + deepest;
}

bool HoldsMixture(const v1::Distribution& d) { return d.has_mixture(); }

void ReadComponent(const nlohmann::ordered_json& item, const std::string& path,
                   ConfigErrors& errors, v1::MixtureComponent& component) {
  if (!RequireObject(item, path, R"({"weight": 0.5, "distribution": {...}})", errors)) {
    return;
  }
  JsonObjectReader reader(item, path, errors);
  if (auto w = reader.Number("weight", true)) component.set_weight(*w);
  if (const nlohmann::ordered_json* d = reader.Required("distribution")) {
    ReadDistributionJson(*d, reader.PathOf("distribution"), errors,
                         *component.mutable_distribution());
  }
  reader.ReportUnknownKeys(" in a mixture component");
}

bool ReadMixture(JsonObjectReader& reader, v1::Distribution& out) {
  v1::MixtureDistribution& mixture = *out.mutable_mixture();
  ReadArray(reader, "components", true,
            [&](const nlohmann::ordered_json& item, const std::string& path) {
              ReadComponent(item, path, reader.errors(), *mixture.add_components());
            });
  return true;
}

void WriteMixture(const v1::Distribution& d, nlohmann::ordered_json& out) {
  out["components"] = nlohmann::ordered_json::array();
  for (const v1::MixtureComponent& c : d.mixture().components()) {
    nlohmann::ordered_json component = nlohmann::ordered_json::object();
    component["weight"] = NumberToJson(c.weight());
    component["distribution"] = DistributionToJson(c.distribution());
    out["components"].push_back(std::move(component));
  }
}

std::optional<IntDistribution> CheckMixture(const v1::Distribution& d, int64_t cap,
                                            RuleChecker& check) {
  const v1::MixtureDistribution& m = d.mixture();
  if (m.components_size() == 0 || m.components_size() > kMaxMixtureComponents) {
    check.Fail("components", absl::StrCat("must list 1 to ", kMaxMixtureComponents,
                                          " components (got ", m.components_size(), ")"));
    return std::nullopt;
  }
  // Before the components are checked, so that recursion stays bounded.
  if (MixtureNesting(d, kMaxMixtureNesting + 1) > kMaxMixtureNesting) {
    check.Fail("", absl::StrCat("mixtures may nest at most ", kMaxMixtureNesting,
                                " deep (a mixture in a mixture is 2); list the inner mixtures' "
                                "components in the outer one instead"));
    return std::nullopt;
  }
  std::vector<IntDistribution> components;
  std::vector<double> weights;
  for (int i = 0; i < m.components_size(); ++i) {
    const std::string component_path = IndexPath(JoinPath(check.path(), "components"), i);
    if (!m.components(i).has_distribution()) {
      check.Fail(IndexPath("components", i) + ".distribution", "missing required field");
      continue;
    }
    std::optional<IntDistribution> c = CheckDistribution(
        m.components(i).distribution(), JoinPath(component_path, "distribution"), check.errors());
    if (!c) {
      check.MarkFailed();  // the component reported at its own path
      continue;
    }
    components.push_back(*std::move(c));
    weights.push_back(m.components(i).weight());
  }
  CheckWeights(weights, check, [](size_t i) { return IndexPath("components", i) + ".weight"; });
  if (!check.ok()) return std::nullopt;
  return IntDistribution(MixtureParams::Make(std::move(components), weights), cap);
}

}  // namespace

const DistributionKind& MixtureKind() {
  static constexpr DistributionKind kKind = {"mixture",   /*takes_cap=*/true, HoldsMixture,
                                             ReadMixture, WriteMixture,       CheckMixture};
  return kKind;
}

}  // namespace convgen
