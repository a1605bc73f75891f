#include "core/distributions/pareto.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/distributions/registry.h"
#include "core/distributions/sampling.h"

namespace convgen {
namespace {

// Upper bound on alpha: beyond it every sample is `scale`.
constexpr double kMaxParetoAlpha = 1000.0;

}  // namespace

int64_t ParetoParams::Sample(RandomStream& stream) const {
  // 1 - U is in (0, 1]: the power is finite.
  return SaturateToInt(std::nearbyint(scale * std::pow(1.0 - stream.NextDouble(), -1.0 / alpha)));
}

std::vector<int64_t> ParetoParams::SampleLikeVllm(int64_t count, int64_t cap,
                                                  NumpyRandomState& state) const {
  return SampleKeyedByNumpyWord(
      count, state, [&](RandomStream& stream) { return ApplyCap(Sample(stream), cap); });
}

std::string ParetoParams::ToString() const {
  return absl::StrCat("pareto(alpha=", alpha, ", scale=", scale, ")");
}

namespace {

bool HoldsPareto(const v1::Distribution& d) { return d.has_pareto(); }

bool ReadPareto(JsonObjectReader& reader, v1::Distribution& out) {
  v1::ParetoDistribution& pareto = *out.mutable_pareto();
  if (auto v = reader.Number("alpha", true)) pareto.set_alpha(*v);
  if (auto v = reader.Number("scale", false)) pareto.set_scale(*v);
  return true;
}

void WritePareto(const v1::Distribution& d, nlohmann::ordered_json& out) {
  out["alpha"] = NumberToJson(d.pareto().alpha());
  if (d.pareto().has_scale()) out["scale"] = NumberToJson(d.pareto().scale());
}

std::optional<IntDistribution> CheckPareto(const v1::Distribution& d, int64_t cap,
                                           RuleChecker& check) {
  const double scale = d.pareto().has_scale() ? d.pareto().scale() : 1.0;
  check.CheckNumber(
      "alpha", d.pareto().alpha(), [](double v) { return v > 0 && v <= kMaxParetoAlpha; },
      "> 0 and <= 1000");
  check.CheckNumber(
      "scale", scale, [](double v) { return v > 0 && v <= kMaxScale; }, "> 0 and <= 1e15");
  return IntDistribution(ParetoParams{d.pareto().alpha(), scale}, cap);
}

}  // namespace

const DistributionKind& ParetoKind() {
  static constexpr DistributionKind kKind = {"pareto",   /*takes_cap=*/true, HoldsPareto,
                                             ReadPareto, WritePareto,        CheckPareto};
  return kKind;
}

}  // namespace convgen
