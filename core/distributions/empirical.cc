#include "core/distributions/empirical.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/distributions/registry.h"
#include "core/distributions/sampling.h"

namespace convgen {

EmpiricalParams EmpiricalParams::Make(std::vector<int64_t> values,
                                      const std::vector<double>& weights) {
  const std::vector<double> w = weights.empty() ? std::vector<double>(values.size(), 1.0) : weights;
  return EmpiricalParams{std::make_shared<const std::vector<int64_t>>(std::move(values)),
                         RunningSums(w)};
}

int64_t EmpiricalParams::Sample(RandomStream& stream) const {
  return (*values)[PickByWeight(stream, *cumulative)];
}

std::vector<int64_t> EmpiricalParams::SampleLikeVllm(int64_t count, int64_t cap,
                                                     NumpyRandomState& state) const {
  return SampleKeyedByNumpyWord(
      count, state, [&](RandomStream& stream) { return ApplyCap(Sample(stream), cap); });
}

std::string EmpiricalParams::ToString() const {
  return absl::StrCat("empirical(", values->size(), " values)");
}

namespace {

// The most values a config may list.
constexpr int kMaxEmpiricalValues = 100000;

bool HoldsEmpirical(const v1::Distribution& d) { return d.has_empirical(); }

bool IsIntegral(const nlohmann::ordered_json& item) {
  return item.is_number_integer() ||
         (item.is_number_float() && item.get<double>() == std::floor(item.get<double>()) &&
          std::fabs(item.get<double>()) < 0x1.0p63);
}

bool ReadEmpirical(JsonObjectReader& reader, v1::Distribution& out) {
  v1::EmpiricalDistribution& empirical = *out.mutable_empirical();
  ConfigErrors& errors = reader.errors();
  ReadArray(
      reader, "values", true, [&](const nlohmann::ordered_json& item, const std::string& path) {
        if (IsIntegral(item)) {
          empirical.add_values(item.is_number_integer() ? item.get<int64_t>()
                                                        : static_cast<int64_t>(item.get<double>()));
        } else {
          errors.Add(path, absl::StrCat("must be an integer (got ", JsonForMessage(item), ")"));
        }
      });
  ReadArray(reader, "weights", false,
            [&](const nlohmann::ordered_json& item, const std::string& path) {
              if (item.is_number()) {
                empirical.add_weights(item.get<double>());
              } else {
                errors.Add(path, absl::StrCat("must be a number (got ", JsonForMessage(item), ")"));
              }
            });
  return true;
}

void WriteEmpirical(const v1::Distribution& d, nlohmann::ordered_json& out) {
  out["values"] = nlohmann::ordered_json::array();
  for (int64_t v : d.empirical().values()) out["values"].push_back(v);
  if (d.empirical().weights_size() > 0) {
    out["weights"] = nlohmann::ordered_json::array();
    for (double w : d.empirical().weights()) {
      out["weights"].push_back(NumberToJson(w));
    }
  }
}

std::optional<IntDistribution> CheckEmpirical(const v1::Distribution& d, int64_t cap,
                                              RuleChecker& check) {
  const v1::EmpiricalDistribution& e = d.empirical();
  if (e.values_size() == 0 || e.values_size() > kMaxEmpiricalValues) {
    check.Fail("values", absl::StrCat("must list 1 to ", kMaxEmpiricalValues, " values (got ",
                                      e.values_size(), ")"));
    return std::nullopt;
  }
  for (int i = 0; i < e.values_size(); ++i) {
    CheckSampleValue(IndexPath("values", i), e.values(i), 0, check);
  }
  if (e.weights_size() != 0 && e.weights_size() != e.values_size()) {
    check.Fail("weights", absl::StrCat("must give one weight per value (", e.weights_size(),
                                       " weights, ", e.values_size(), " values) or be left out"));
  }
  const std::vector<double> weights(e.weights().begin(), e.weights().end());
  CheckWeights(weights, check, [](size_t i) { return IndexPath("weights", i); });
  if (!check.ok()) return std::nullopt;
  return IntDistribution(
      EmpiricalParams::Make(std::vector<int64_t>(e.values().begin(), e.values().end()), weights),
      0);
}

}  // namespace

const DistributionKind& EmpiricalKind() {
  static constexpr DistributionKind kKind = {"empirical",   /*takes_cap=*/false, HoldsEmpirical,
                                             ReadEmpirical, WriteEmpirical,      CheckEmpirical};
  return kKind;
}

}  // namespace convgen
