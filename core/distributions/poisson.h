// The poisson distribution with mean `alpha` (lambda), as
// numpy.random.poisson(lam=alpha), optionally capped. JSON {"distribution":
// "poisson", "alpha": 140}; proto PoissonDistribution. Immutable; sampling
// is thread-safe.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_POISSON_H_
#define CONVGEN_CORE_DISTRIBUTIONS_POISSON_H_

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/distributions/sampling.h"

namespace convgen {

struct DistributionKind;

// Upper bound on lambda that keeps the sampler exact and terminating.
inline constexpr double kMaxPoissonAlpha = 1e15;

struct PoissonParams {
  double lambda;  // 0 < lambda <= kMaxPoissonAlpha

  // Returns one sample, uncapped (SamplePoisson).
  int64_t Sample(RandomStream& stream) const;
  // Returns numpy's batch (PoissonDeviate on numpy's doubles), capped.
  std::vector<int64_t> SampleLikeVllm(int64_t count, int64_t cap, NumpyRandomState& state) const;
  // Returns e.g. "poisson(lambda=140)".
  std::string ToString() const;
};

// Returns a Poisson deviate: multiplication for lambda < 10, Hoermann's PTRS
// transformed rejection above (as numpy), exact for large lambda.
int64_t SamplePoisson(RandomStream& stream, double lambda);
// Returns log(Gamma(x)) for x >= 1 by numpy's series (deterministic, no libm
// lgamma).
double LogGamma(double x);

// The Poisson algorithm of SamplePoisson on any source of uniform doubles in
// [0, 1) (`bits.NextDouble()`): RandomStream, or numpy's state to reproduce
// numpy.random.poisson draw for draw.
template <typename Bits>
int64_t PoissonDeviate(Bits& bits, double lambda) {
  if (lambda < 10.0) {
    // Multiply uniforms until the product drops below exp(-lambda).
    const double threshold = std::exp(-lambda);
    int64_t count = 0;
    double product = bits.NextDouble();
    while (product > threshold) {
      ++count;
      product *= bits.NextDouble();
    }
    return count;
  }
  // Hoermann, "The transformed rejection method for generating Poisson
  // random variables" (1993), algorithm PTRS.
  const double sqrt_lambda = std::sqrt(lambda);
  const double log_lambda = std::log(lambda);
  const double b = 0.931 + 2.53 * sqrt_lambda;
  const double a = -0.059 + 0.02483 * b;
  const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
  const double v_r = 0.9277 - 3.6224 / (b - 2);
  while (true) {
    const double u = bits.NextDouble() - 0.5;
    const double v = bits.NextDouble();
    const double us = 0.5 - std::fabs(u);
    const double k = std::floor((2 * a / us + b) * u + lambda + 0.43);
    if (us >= 0.07 && v <= v_r) return SaturateToInt(k);
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (std::log(v) + std::log(inv_alpha) - std::log(a / (us * us) + b) <=
        -lambda + k * log_lambda - LogGamma(k + 1)) {
      return SaturateToInt(k);
    }
  }
}

// The kind's JSON names, rules and proto conversion (registry.h).
const DistributionKind& PoissonKind();

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_POISSON_H_
