// IntDistribution: one validated, sampleable integer distribution of the
// config: the parameters of one kind (constant, uniform, lognormal, ...;
// each kind's file beside this one defines its parameters and samplers)
// and an optional cap.
//
// Construction takes parameters that the kind's checks (registry.h) have
// already validated; each factory states its preconditions. Sampling reads
// only the bits of a RandomStream, so a value is a pure function of its
// stream key. Immutable and thread-safe.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_INT_DISTRIBUTION_H_
#define CONVGEN_CORE_DISTRIBUTIONS_INT_DISTRIBUTION_H_

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/distributions/constant.h"
#include "core/distributions/empirical.h"
#include "core/distributions/exponential.h"
#include "core/distributions/lognormal.h"
#include "core/distributions/mixture.h"
#include "core/distributions/normal.h"
#include "core/distributions/pareto.h"
#include "core/distributions/poisson.h"
#include "core/distributions/sampling.h"
#include "core/distributions/uniform.h"
#include "core/distributions/zipf.h"
#include "core/random/random_stream.h"

namespace convgen {

class IntDistribution {
 public:
  // Every kind's parameters. Each type has Sample(RandomStream&) (uncapped),
  // SampleLikeVllm(count, cap, NumpyRandomState&) and ToString(); sampling
  // visits the variant, so no code switches on the kind.
  using Params =
      std::variant<ConstantParams, UniformParams, LognormalParams, ZipfParams, PoissonParams,
                   NormalParams, ExponentialParams, ParetoParams, EmpiricalParams, MixtureParams>;

  // The built-in kinds' parameters by their short names (kept for callers
  // and tests; a new kind needs none).
  using Constant = ConstantParams;
  using Uniform = UniformParams;
  using Lognormal = LognormalParams;
  using Zipf = ZipfParams;
  using Poisson = PoissonParams;
  using Normal = NormalParams;
  using Exponential = ExponentialParams;
  using Pareto = ParetoParams;
  using Empirical = EmpiricalParams;
  using Mixture = MixtureParams;

  // `params` as the kind's checks accept them; cap >= 0, 0 means none.
  IntDistribution(Params params, int64_t cap) : params_(std::move(params)), cap_(cap) {}

  // Factories of the built-in kinds, for tests and benchmarks (the config
  // builds distributions through registry.h).
  // value >= 0.
  static IntDistribution MakeConstant(int64_t value);
  // 0 < min <= max.
  static IntDistribution MakeUniform(int64_t min, int64_t max);
  // mu finite, sigma finite and >= 0. cap >= 0; 0 means none.
  static IntDistribution MakeLognormal(double mu, double sigma, int64_t cap);
  // LognormalParams::ByAverage. average >= 1, 0 < median_ratio < 1.
  static IntDistribution MakeLognormalByAverage(double average, double median_ratio, int64_t cap);
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
  // EmpiricalParams::Make's preconditions.
  static IntDistribution MakeEmpirical(std::vector<int64_t> values,
                                       const std::vector<double>& weights);
  // MixtureParams::Make's preconditions.
  static IntDistribution MakeMixture(std::vector<IntDistribution> components,
                                     const std::vector<double>& weights, int64_t cap);

  // Returns one sample, in [0, kMaxSampleValue], at most cap() if capped.
  int64_t Sample(RandomStream& stream) const;

  const Params& params() const { return params_; }
  // Returns the cap, 0 if none.
  int64_t cap() const { return cap_; }

  // Returns a short human-readable form, e.g. "zipf(alpha=1.5) capped at
  // 20".
  std::string ToString() const;

 private:
  Params params_;
  int64_t cap_;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_INT_DISTRIBUTION_H_
