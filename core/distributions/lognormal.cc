#include "core/distributions/lognormal.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/distributions/numpy_legacy.h"
#include "core/distributions/registry.h"
#include "core/distributions/sampling.h"

namespace convgen {

LognormalParams LognormalParams::ByAverage(double average, double median_ratio) {
  // mean = exp(mu + sigma^2 / 2) and median = exp(mu), so
  // median / mean = exp(-sigma^2 / 2).
  const double mu = std::log(average * median_ratio);
  const double sigma = std::sqrt(2.0 * std::log(1.0 / median_ratio));
  return LognormalParams{mu, sigma, average, median_ratio};
}

int64_t LognormalParams::Sample(RandomStream& stream) const {
  const double x = std::exp(mu + sigma * SampleStandardNormal(stream));
  return SaturateToInt(std::nearbyint(x));
}

std::vector<int64_t> LognormalParams::SampleLikeVllm(int64_t count, int64_t cap,
                                                     NumpyRandomState& state) const {
  std::vector<int64_t> out(static_cast<size_t>(count));
  const LognormalParameters p = VllmLognormalParameters(*this);
  std::vector<double> x(out.size());
  for (double& v : x) v = std::exp(p.mu + p.sigma * state.Gauss());
  if (average > 0 && count > 0) {
    const double mean = NumpyPairwiseSum(x.data(), count) / static_cast<double>(count);
    const double factor = average / mean;
    for (double& v : x) v *= factor;
  }
  for (size_t i = 0; i < x.size(); ++i) {
    const double capped = cap > 0 ? std::min(x[i], static_cast<double>(cap)) : x[i];
    out[i] = SaturateToInt(std::nearbyint(capped));
  }
  return out;
}

std::string LognormalParams::ToString() const {
  return absl::StrCat("lognormal(mu=", mu, ", sigma=", sigma, ")");
}

LognormalParameters VllmLognormalParameters(const LognormalParams& l) {
  if (l.average <= 0) return {l.mu, l.sigma};
  const double median = l.average * l.median_ratio;
  return {std::log(median), std::sqrt(2 * std::log(l.average / median))};
}

namespace {

bool HoldsLognormal(const v1::Distribution& d) {
  return d.has_lognormal_average() || d.has_lognormal_mean_sigma();
}

bool ReadLognormal(JsonObjectReader& reader, v1::Distribution& out) {
  if (reader.Has("average")) {
    if (reader.Has("mean") || reader.Has("sigma")) {
      reader.errors().Add(reader.path(),
                          "lognormal takes either average (with optional "
                          "median_ratio) or mean and sigma, not both");
      return false;
    }
    v1::LognormalByAverage& lognormal = *out.mutable_lognormal_average();
    if (auto v = reader.Number("average", true)) lognormal.set_average(*v);
    if (auto v = reader.Number("median_ratio", false)) {
      lognormal.set_median_ratio(*v);
    }
    return true;
  }
  if (reader.Has("median_ratio")) {
    reader.errors().Add(reader.PathOf("median_ratio"),
                        "median_ratio needs average; with mean and sigma leave it out");
    return false;
  }
  v1::LognormalByMeanSigma& lognormal = *out.mutable_lognormal_mean_sigma();
  if (auto v = reader.Number("mean", true)) lognormal.set_mean(*v);
  if (auto v = reader.Number("sigma", true)) lognormal.set_sigma(*v);
  return true;
}

void WriteLognormal(const v1::Distribution& d, nlohmann::ordered_json& out) {
  if (d.has_lognormal_average()) {
    out["average"] = NumberToJson(d.lognormal_average().average());
    if (d.lognormal_average().has_median_ratio()) {
      out["median_ratio"] = NumberToJson(d.lognormal_average().median_ratio());
    }
  } else {
    out["mean"] = NumberToJson(d.lognormal_mean_sigma().mean());
    out["sigma"] = NumberToJson(d.lognormal_mean_sigma().sigma());
  }
}

std::optional<IntDistribution> CheckLognormal(const v1::Distribution& d, int64_t cap,
                                              RuleChecker& check) {
  if (d.has_lognormal_mean_sigma()) {
    const v1::LognormalByMeanSigma& l = d.lognormal_mean_sigma();
    check.CheckNumber(
        "mean", l.mean(), [](double v) { return v > 0; }, "> 0");
    check.CheckNumber(
        "sigma", l.sigma(), [](double v) { return v >= 0; }, ">= 0");
    return IntDistribution(LognormalParams{l.mean(), l.sigma()}, cap);
  }
  const v1::LognormalByAverage& l = d.lognormal_average();
  check.CheckNumber(
      "average", l.average(), [](double v) { return v >= 1; }, ">= 1");
  const double ratio = l.has_median_ratio() ? l.median_ratio() : kDefaultMedianRatio;
  check.CheckNumber(
      "median_ratio", ratio, [](double v) { return v > 0 && v < 1; }, "in (0, 1), exclusive");
  if (!check.ok()) return std::nullopt;
  return IntDistribution(LognormalParams::ByAverage(l.average(), ratio), cap);
}

}  // namespace

const DistributionKind& LognormalKind() {
  static constexpr DistributionKind kKind = {"lognormal",   /*takes_cap=*/true, HoldsLognormal,
                                             ReadLognormal, WriteLognormal,     CheckLognormal};
  return kKind;
}

}  // namespace convgen
