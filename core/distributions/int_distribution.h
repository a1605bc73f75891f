// IntDistribution: one validated, sampleable integer distribution of the
// config (constant, uniform, lognormal, zipf, poisson, with an optional cap).
//
// Construction takes parameters that core/config validation has already
// checked; each factory states its preconditions. Sampling reads only the
// bits of a RandomStream, so a value is a pure function of its stream key.
// Immutable and thread-safe.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_INT_DISTRIBUTION_H_
#define CONVGEN_CORE_DISTRIBUTIONS_INT_DISTRIBUTION_H_

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <variant>

#include "core/random/random_stream.h"

namespace convgen {

// Every sample is at most this (2^62): larger draws of the unbounded
// distributions saturate here, so a value always fits int64 and converts
// exactly to double. Workload limits are far below.
inline constexpr int64_t kMaxSampleValue = int64_t{1} << 62;

class IntDistribution {
 public:
  struct Constant {
    int64_t value;
  };
  struct Uniform {
    int64_t min;
    int64_t max;
  };
  // exp(Normal(mu, sigma)), rounded to the nearest integer, ties to even
  // (numpy's round).
  struct Lognormal {
    double mu;
    double sigma;
    // By average: the config's average and median ratio (vLLM rescales each
    // batch to `average`, see numpy_legacy.h); 0 when given by mean/sigma.
    double average = 0;
    double median_ratio = 0;
  };
  struct Zipf {
    double alpha;
  };
  struct Poisson {
    double lambda;
  };
  // mean + stddev * Normal(0, 1), rounded, clamped to [min, cap] (cap 0: no
  // upper clamp).
  struct Normal {
    double mean;
    double stddev;
    int64_t min;
  };
  // Exponential with the given mean, rounded.
  struct Exponential {
    double mean;
  };
  // Pareto (type I): scale * U^(-1/alpha), rounded; P(X > x) = (scale/x)^alpha.
  struct Pareto {
    double alpha;
    double scale;
  };
  // One of `values` with probability proportional to its weight.
  struct Empirical {
    std::shared_ptr<const std::vector<int64_t>> values;
    std::shared_ptr<const std::vector<double>> cumulative;  // running weight sums
  };
  // A component chosen by weight, then sampled (from the same stream).
  struct Mixture {
    std::shared_ptr<const std::vector<IntDistribution>> components;
    std::shared_ptr<const std::vector<double>> cumulative;
  };
  using Params = std::variant<Constant, Uniform, Lognormal, Zipf, Poisson, Normal, Exponential,
                              Pareto, Empirical, Mixture>;

  // value >= 0.
  static IntDistribution MakeConstant(int64_t value);
  // 0 < min <= max.
  static IntDistribution MakeUniform(int64_t min, int64_t max);
  // mu finite, sigma finite and >= 0. cap >= 0; 0 means none.
  static IntDistribution MakeLognormal(double mu, double sigma, int64_t cap);
  // The lognormal whose mean is `average` and whose median is
  // average * median_ratio. average >= 1, 0 < median_ratio < 1.
  static IntDistribution MakeLognormalByAverage(double average,
                                                double median_ratio,
                                                int64_t cap);
  // 1 < alpha <= 1000.
  static IntDistribution MakeZipf(double alpha, int64_t cap);
  // 0 < lambda <= 1e15.
  static IntDistribution MakePoisson(double lambda, int64_t cap);
  // mean finite, stddev finite and >= 0, 0 <= min, cap 0 or >= min.
  static IntDistribution MakeNormal(double mean, double stddev, int64_t min, int64_t cap);
  // 0 < mean <= 1e15.
  static IntDistribution MakeExponential(double mean, int64_t cap);
  // 0 < alpha <= 1000, 0 < scale <= 1e15.
  static IntDistribution MakePareto(double alpha, double scale, int64_t cap);
  // values non-empty, each >= 0; weights empty (equal) or one per value,
  // each finite and >= 0, with a positive sum.
  static IntDistribution MakeEmpirical(std::vector<int64_t> values, const std::vector<double>& weights);
  // components non-empty; weights one per component, finite, >= 0, positive sum.
  static IntDistribution MakeMixture(std::vector<IntDistribution> components,
                                     const std::vector<double>& weights, int64_t cap);

  // Returns one sample, in [0, kMaxSampleValue], at most cap() if capped.
  int64_t Sample(RandomStream& stream) const;

  const Params& params() const { return params_; }
  // Returns the cap, 0 if none.
  int64_t cap() const { return cap_; }

  // Returns a short human-readable form, e.g. "zipf(alpha=1.5, max=20)".
  std::string ToString() const;

 private:
  IntDistribution(Params params, int64_t cap) : params_(params), cap_(cap) {}

  Params params_;
  int64_t cap_;
};

// Samplers on a RandomStream's bits, exposed for tests and for the
// distributions above. Each consumes a variable number of words.

// Returns a standard normal deviate (Marsaglia's polar method; the second
// deviate of each pair is discarded so every call is self-contained).
double SampleStandardNormal(RandomStream& stream);
// Returns numpy.random.zipf's value (Devroye's rejection), saturated at
// kMaxSampleValue.
int64_t SampleZipf(RandomStream& stream, double alpha);
// Returns a Poisson deviate: multiplication for lambda < 10, Hoermann's PTRS
// transformed rejection above (as numpy), exact for large lambda.
int64_t SamplePoisson(RandomStream& stream, double lambda);
// Returns log(Gamma(x)) for x >= 1 by numpy's series (deterministic, no libm
// lgamma).
double LogGamma(double x);

// Converts a non-negative double draw to an integer sample, saturating at
// kMaxSampleValue (NaN too).
int64_t SaturateToInt(double value);

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

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_INT_DISTRIBUTION_H_
