// The lognormal distribution: exp(Normal(mu, sigma)), rounded to the nearest
// integer, ties to even (numpy's round), optionally capped. Two JSON forms:
// {"distribution": "lognormal", "average": 1000, "median_ratio": 0.85}
// (proto LognormalByAverage) or {..., "mean": 6.5, "sigma": 0.5} (proto
// LognormalByMeanSigma). Immutable; sampling is thread-safe.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_LOGNORMAL_H_
#define CONVGEN_CORE_DISTRIBUTIONS_LOGNORMAL_H_

#include <cstdint>
#include <string>
#include <vector>

namespace convgen {

class NumpyRandomState;
class RandomStream;
struct DistributionKind;

// vLLM's default median/mean ratio for lognormal-by-average.
inline constexpr double kDefaultMedianRatio = 0.85;

struct LognormalParams {
  double mu;
  double sigma;
  // By average: the config's average and median ratio (vLLM rescales each
  // batch to `average`, see SampleLikeVllm); 0 when given by mean/sigma.
  double average = 0;
  double median_ratio = 0;

  // The lognormal whose mean is `average` and whose median is
  // average * median_ratio. average >= 1, 0 < median_ratio < 1.
  static LognormalParams ByAverage(double average, double median_ratio);

  // Returns one sample, uncapped.
  int64_t Sample(RandomStream& stream) const;
  // Returns vLLM's batch: exp(mu + sigma * gauss) with numpy's cached second
  // Gaussian; by average, mu and sigma as vLLM computes them and the batch
  // rescaled to mean `average` (numpy's pairwise mean); then capped and
  // rounded half to even.
  std::vector<int64_t> SampleLikeVllm(int64_t count, int64_t cap, NumpyRandomState& state) const;
  // Returns e.g. "lognormal(mu=6.5, sigma=0.5)".
  std::string ToString() const;
};

// The (mu, sigma) vLLM derives from a lognormal's average and median ratio:
// mu = log(average * ratio), sigma = sqrt(2 * log(average / (average *
// ratio))).
struct LognormalParameters {
  double mu;
  double sigma;
};
LognormalParameters VllmLognormalParameters(const LognormalParams& l);

// The kind's JSON names, rules and proto conversion (registry.h).
const DistributionKind& LognormalKind();

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_LOGNORMAL_H_
