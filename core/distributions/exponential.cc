#include "core/distributions/exponential.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/distributions/registry.h"
#include "core/distributions/sampling.h"

namespace convgen {

int64_t ExponentialParams::Sample(RandomStream& stream) const {
  return SaturateToInt(std::nearbyint(-mean * std::log1p(-stream.NextDouble())));
}

std::vector<int64_t> ExponentialParams::SampleLikeVllm(int64_t count, int64_t cap,
                                                       NumpyRandomState& state) const {
  return SampleKeyedByNumpyWord(
      count, state, [&](RandomStream& stream) { return ApplyCap(Sample(stream), cap); });
}

std::string ExponentialParams::ToString() const {
  return absl::StrCat("exponential(mean=", mean, ")");
}

namespace {

bool HoldsExponential(const v1::Distribution& d) { return d.has_exponential(); }

bool ReadExponential(JsonObjectReader& reader, v1::Distribution& out) {
  if (auto v = reader.Number("mean", true)) {
    out.mutable_exponential()->set_mean(*v);
  }
  return true;
}

void WriteExponential(const v1::Distribution& d, nlohmann::ordered_json& out) {
  out["mean"] = NumberToJson(d.exponential().mean());
}

std::optional<IntDistribution> CheckExponential(const v1::Distribution& d, int64_t cap,
                                                RuleChecker& check) {
  check.CheckNumber(
      "mean", d.exponential().mean(), [](double v) { return v > 0 && v <= kMaxScale; },
      "> 0 and <= 1e15");
  return IntDistribution(ExponentialParams{d.exponential().mean()}, cap);
}

}  // namespace

const DistributionKind& ExponentialKind() {
  static constexpr DistributionKind kKind = {"exponential",   /*takes_cap=*/true, HoldsExponential,
                                             ReadExponential, WriteExponential,   CheckExponential};
  return kKind;
}

}  // namespace convgen
