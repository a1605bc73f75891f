#include "core/distributions/int_distribution.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/overloaded.h"

namespace convgen {
namespace {

constexpr double kMaxSampleDouble = static_cast<double>(kMaxSampleValue);

int64_t ApplyCap(int64_t value, int64_t cap) {
  return cap > 0 ? std::min(value, cap) : value;
}

}  // namespace

int64_t SaturateToInt(double value) {
  if (!(value < kMaxSampleDouble)) return kMaxSampleValue;  // also NaN
  if (value <= 0) return 0;
  return static_cast<int64_t>(value);
}

IntDistribution IntDistribution::MakeConstant(int64_t value) {
  return IntDistribution(Constant{value}, 0);
}

IntDistribution IntDistribution::MakeUniform(int64_t min, int64_t max) {
  return IntDistribution(Uniform{min, max}, 0);
}

IntDistribution IntDistribution::MakeLognormal(double mu, double sigma,
                                               int64_t cap) {
  return IntDistribution(Lognormal{mu, sigma}, cap);
}

IntDistribution IntDistribution::MakeLognormalByAverage(double average,
                                                        double median_ratio,
                                                        int64_t cap) {
  // mean = exp(mu + sigma^2 / 2) and median = exp(mu), so
  // median / mean = exp(-sigma^2 / 2).
  const double mu = std::log(average * median_ratio);
  const double sigma = std::sqrt(2.0 * std::log(1.0 / median_ratio));
  return IntDistribution(Lognormal{mu, sigma, average, median_ratio}, cap);
}

IntDistribution IntDistribution::MakeZipf(double alpha, int64_t cap) {
  return IntDistribution(Zipf{alpha}, cap);
}

IntDistribution IntDistribution::MakePoisson(double lambda, int64_t cap) {
  return IntDistribution(Poisson{lambda}, cap);
}

IntDistribution IntDistribution::MakeNormal(double mean, double stddev, int64_t min, int64_t cap) {
  return IntDistribution(Normal{mean, stddev, min}, cap);
}

IntDistribution IntDistribution::MakeExponential(double mean, int64_t cap) {
  return IntDistribution(Exponential{mean}, cap);
}

IntDistribution IntDistribution::MakePareto(double alpha, double scale, int64_t cap) {
  return IntDistribution(Pareto{alpha, scale}, cap);
}

namespace {

std::shared_ptr<const std::vector<double>> RunningSums(const std::vector<double>& weights) {
  auto sums = std::make_shared<std::vector<double>>();
  double total = 0;
  for (double w : weights) sums->push_back(total += w);
  return sums;
}

// The index whose weight interval holds u * total: one uniform draw.
size_t PickByWeight(RandomStream& stream, const std::vector<double>& cumulative) {
  const double target = stream.NextDouble() * cumulative.back();
  const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), target);
  return std::min(static_cast<size_t>(it - cumulative.begin()), cumulative.size() - 1);
}

}  // namespace

IntDistribution IntDistribution::MakeEmpirical(std::vector<int64_t> values,
                                               const std::vector<double>& weights) {
  const std::vector<double> w = weights.empty() ? std::vector<double>(values.size(), 1.0) : weights;
  return IntDistribution(
      Empirical{std::make_shared<const std::vector<int64_t>>(std::move(values)), RunningSums(w)}, 0);
}

IntDistribution IntDistribution::MakeMixture(std::vector<IntDistribution> components,
                                             const std::vector<double>& weights, int64_t cap) {
  return IntDistribution(
      Mixture{std::make_shared<const std::vector<IntDistribution>>(std::move(components)),
              RunningSums(weights)},
      cap);
}

int64_t IntDistribution::Sample(RandomStream& stream) const {
  const int64_t value = std::visit(
      Overloaded{
          [](const Constant& c) { return c.value; },
          [&](const Uniform& u) {
            const auto span = static_cast<uint64_t>(u.max - u.min) + 1;
            return u.min + static_cast<int64_t>(stream.NextBelow(span));
          },
          [&](const Lognormal& l) {
            const double x =
                std::exp(l.mu + l.sigma * SampleStandardNormal(stream));
            return SaturateToInt(std::nearbyint(x));
          },
          [&](const Zipf& z) { return SampleZipf(stream, z.alpha); },
          [&](const Poisson& p) { return SamplePoisson(stream, p.lambda); },
          [&](const Normal& n) {
            const double x = std::nearbyint(n.mean + n.stddev * SampleStandardNormal(stream));
            return std::max(n.min, SaturateToInt(x));
          },
          [&](const Exponential& e) {
            return SaturateToInt(std::nearbyint(-e.mean * std::log1p(-stream.NextDouble())));
          },
          [&](const Pareto& p) {
            // 1 - U is in (0, 1]: the power is finite.
            return SaturateToInt(
                std::nearbyint(p.scale * std::pow(1.0 - stream.NextDouble(), -1.0 / p.alpha)));
          },
          [&](const Empirical& e) { return (*e.values)[PickByWeight(stream, *e.cumulative)]; },
          [&](const Mixture& m) {
            return (*m.components)[PickByWeight(stream, *m.cumulative)].Sample(stream);
          },
      },
      params_);
  return ApplyCap(value, cap_);
}

std::string IntDistribution::ToString() const {
  std::string text = std::visit(
      Overloaded{
          [](const Constant& c) { return absl::StrCat("constant(", c.value, ")"); },
          [](const Uniform& u) {
            return absl::StrCat("uniform(", u.min, "..", u.max, ")");
          },
          [](const Lognormal& l) {
            return absl::StrCat("lognormal(mu=", l.mu, ", sigma=", l.sigma, ")");
          },
          [](const Zipf& z) { return absl::StrCat("zipf(alpha=", z.alpha, ")"); },
          [](const Poisson& p) {
            return absl::StrCat("poisson(lambda=", p.lambda, ")");
          },
          [](const Normal& n) {
            return absl::StrCat("normal(mean=", n.mean, ", stddev=", n.stddev, ", min=", n.min, ")");
          },
          [](const Exponential& e) { return absl::StrCat("exponential(mean=", e.mean, ")"); },
          [](const Pareto& p) {
            return absl::StrCat("pareto(alpha=", p.alpha, ", scale=", p.scale, ")");
          },
          [](const Empirical& e) {
            return absl::StrCat("empirical(", e.values->size(), " values)");
          },
          [](const Mixture& m) {
            std::string parts;
            for (const IntDistribution& c : *m.components) {
              absl::StrAppend(&parts, parts.empty() ? "" : " | ", c.ToString());
            }
            return absl::StrCat("mixture(", parts, ")");
          },
      },
      params_);
  if (cap_ > 0) absl::StrAppend(&text, " capped at ", cap_);
  return text;
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

int64_t SampleZipf(RandomStream& stream, double alpha) {
  // Devroye, "Non-Uniform Random Variate Generation", p. 551, as numpy's
  // random_zipf. numpy rejects draws beyond int64; here they saturate at
  // kMaxSampleValue instead (the acceptance test is run at that value), so
  // an alpha close to 1 cannot loop for long.
  const double am1 = alpha - 1.0;
  const double b = std::pow(2.0, am1);
  while (true) {
    const double u = stream.NextDoubleNonZero();
    const double v = stream.NextDouble();
    const double x = std::min(std::floor(std::pow(u, -1.0 / am1)), kMaxSampleDouble);
    const double t = std::pow(1.0 + 1.0 / x, am1);
    if (v * x * (t - 1.0) / (b - 1.0) <= t / b) return SaturateToInt(x);
  }
}

double LogGamma(double x) {
  // Stirling's series after shifting x up to >= 7 (numpy's random_loggam).
  static constexpr double kCoefficients[10] = {
      8.333333333333333e-02, -2.777777777777778e-03, 7.936507936507937e-04,
      -5.952380952380952e-04, 8.417508417508418e-04, -1.917526917526918e-03,
      6.410256410256410e-03, -2.955065359477124e-02, 1.796443723688307e-01,
      -1.39243221690590e+00};
  if (x == 1.0 || x == 2.0) return 0.0;
  const int64_t shift = x < 7.0 ? static_cast<int64_t>(7 - x) : 0;
  double x0 = x + static_cast<double>(shift);
  const double x2 = (1.0 / x0) * (1.0 / x0);
  constexpr double kLog2Pi = 1.8378770664093453e+00;
  double series = kCoefficients[9];
  for (int k = 8; k >= 0; --k) series = series * x2 + kCoefficients[k];
  double result = series / x0 + 0.5 * kLog2Pi + (x0 - 0.5) * std::log(x0) - x0;
  for (int64_t k = 1; k <= shift; ++k) {
    result -= std::log(x0 - 1.0);
    x0 -= 1.0;
  }
  return result;
}

int64_t SamplePoisson(RandomStream& stream, double lambda) {
  return PoissonDeviate(stream, lambda);
}

}  // namespace convgen
