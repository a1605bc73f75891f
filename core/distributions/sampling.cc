#include "core/distributions/sampling.h"

#include <cmath>

namespace convgen {
namespace {

constexpr double kMaxSampleDouble = static_cast<double>(kMaxSampleValue);

}  // namespace

int64_t SaturateToInt(double value) {
  if (!(value < kMaxSampleDouble)) return kMaxSampleValue;  // also NaN
  if (value <= 0) return 0;
  return static_cast<int64_t>(value);
}

double SampleStandardNormal(RandomStream& stream) {
  double x1, x2, r2;
  do {
    x1 = 2.0 * stream.NextDouble() - 1.0;
    x2 = 2.0 * stream.NextDouble() - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  return x2 * std::sqrt(-2.0 * std::log(r2) / r2);
}

std::shared_ptr<const std::vector<double>> RunningSums(const std::vector<double>& weights) {
  auto sums = std::make_shared<std::vector<double>>();
  double total = 0;
  for (double w : weights) sums->push_back(total += w);
  return sums;
}

size_t PickByWeight(RandomStream& stream, const std::vector<double>& cumulative) {
  const double target = stream.NextDouble() * cumulative.back();
  const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), target);
  return std::min(static_cast<size_t>(it - cumulative.begin()), cumulative.size() - 1);
}

}  // namespace convgen
