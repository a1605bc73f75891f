#include "core/distributions/int_distribution.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace convgen {

IntDistribution IntDistribution::MakeConstant(int64_t value) {
  return IntDistribution(ConstantParams{value}, 0);
}

IntDistribution IntDistribution::MakeUniform(int64_t min, int64_t max) {
  return IntDistribution(UniformParams{min, max}, 0);
}

IntDistribution IntDistribution::MakeLognormal(double mu, double sigma, int64_t cap) {
  return IntDistribution(LognormalParams{mu, sigma}, cap);
}

IntDistribution IntDistribution::MakeLognormalByAverage(double average, double median_ratio,
                                                        int64_t cap) {
  return IntDistribution(LognormalParams::ByAverage(average, median_ratio), cap);
}

IntDistribution IntDistribution::MakeZipf(double alpha, int64_t cap) {
  return IntDistribution(ZipfParams{alpha}, cap);
}

IntDistribution IntDistribution::MakePoisson(double lambda, int64_t cap) {
  return IntDistribution(PoissonParams{lambda}, cap);
}

IntDistribution IntDistribution::MakeNormal(double mean, double stddev, int64_t min, int64_t cap) {
  return IntDistribution(NormalParams{mean, stddev, min}, cap);
}

IntDistribution IntDistribution::MakeExponential(double mean, int64_t cap) {
  return IntDistribution(ExponentialParams{mean}, cap);
}

IntDistribution IntDistribution::MakePareto(double alpha, double scale, int64_t cap) {
  return IntDistribution(ParetoParams{alpha, scale}, cap);
}

IntDistribution IntDistribution::MakeEmpirical(std::vector<int64_t> values,
                                               const std::vector<double>& weights) {
  return IntDistribution(EmpiricalParams::Make(std::move(values), weights), 0);
}

IntDistribution IntDistribution::MakeMixture(std::vector<IntDistribution> components,
                                             const std::vector<double>& weights, int64_t cap) {
  return IntDistribution(MixtureParams::Make(std::move(components), weights), cap);
}

int64_t IntDistribution::Sample(RandomStream& stream) const {
  const int64_t value =
      std::visit([&](const auto& params) { return params.Sample(stream); }, params_);
  return ApplyCap(value, cap_);
}

std::string IntDistribution::ToString() const {
  std::string text = std::visit([](const auto& params) { return params.ToString(); }, params_);
  if (cap_ > 0) absl::StrAppend(&text, " capped at ", cap_);
  return text;
}

}  // namespace convgen
