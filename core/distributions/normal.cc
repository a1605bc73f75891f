#include "core/distributions/normal.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/distributions/registry.h"
#include "core/distributions/sampling.h"

namespace convgen {

int64_t NormalParams::Sample(RandomStream& stream) const {
  const double x = std::nearbyint(mean + stddev * SampleStandardNormal(stream));
  return std::max(min, SaturateToInt(x));
}

std::vector<int64_t> NormalParams::SampleLikeVllm(int64_t count, int64_t cap,
                                                  NumpyRandomState& state) const {
  return SampleKeyedByNumpyWord(
      count, state, [&](RandomStream& stream) { return ApplyCap(Sample(stream), cap); });
}

std::string NormalParams::ToString() const {
  return absl::StrCat("normal(mean=", mean, ", stddev=", stddev, ", min=", min, ")");
}

namespace {

bool HoldsNormal(const v1::Distribution& d) { return d.has_normal(); }

bool ReadNormal(JsonObjectReader& reader, v1::Distribution& out) {
  v1::NormalDistribution& normal = *out.mutable_normal();
  if (auto v = reader.Number("mean", true)) normal.set_mean(*v);
  if (auto v = reader.Number("stddev", true)) normal.set_stddev(*v);
  if (auto v = reader.Int("min", false)) normal.set_min(*v);
  return true;
}

void WriteNormal(const v1::Distribution& d, nlohmann::ordered_json& out) {
  out["mean"] = NumberToJson(d.normal().mean());
  out["stddev"] = NumberToJson(d.normal().stddev());
  if (d.normal().has_min()) out["min"] = d.normal().min();
}

std::optional<IntDistribution> CheckNormal(const v1::Distribution& d, int64_t cap,
                                           RuleChecker& check) {
  const v1::NormalDistribution& n = d.normal();
  check.CheckNumber(
      "mean", n.mean(), [](double v) { return std::fabs(v) <= kMaxScale; },
      "finite, |mean| <= 1e15");
  check.CheckNumber(
      "stddev", n.stddev(), [](double v) { return v >= 0 && v <= kMaxScale; }, ">= 0 and <= 1e15");
  const int64_t min = n.min();
  CheckSampleValue("min", min, 0, check);
  if (cap > 0 && cap < min) {
    check.Fail("max", absl::StrCat("must be >= min (", cap, " < ", min, ")"));
  }
  return IntDistribution(NormalParams{n.mean(), n.stddev(), std::max<int64_t>(min, 0)}, cap);
}

}  // namespace

const DistributionKind& NormalKind() {
  static constexpr DistributionKind kKind = {"normal",   /*takes_cap=*/true, HoldsNormal,
                                             ReadNormal, WriteNormal,        CheckNormal};
  return kKind;
}

}  // namespace convgen
