// The exponential distribution (convgen's addition) with mean `mean`,
// rounded, optionally capped. JSON {"distribution": "exponential", "mean":
// 200}; proto ExponentialDistribution. Immutable; sampling is thread-safe.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_EXPONENTIAL_H_
#define CONVGEN_CORE_DISTRIBUTIONS_EXPONENTIAL_H_

#include <cstdint>
#include <string>
#include <vector>

namespace convgen {

class NumpyRandomState;
class RandomStream;
struct DistributionKind;

struct ExponentialParams {
  double mean;  // 0 < mean <= kMaxScale

  // Returns one sample, uncapped (inversion of one uniform).
  int64_t Sample(RandomStream& stream) const;
  // vLLM has no exponential: SampleKeyedByNumpyWord, capped.
  std::vector<int64_t> SampleLikeVllm(int64_t count, int64_t cap, NumpyRandomState& state) const;
  // Returns e.g. "exponential(mean=200)".
  std::string ToString() const;
};

// The kind's JSON names, rules and proto conversion (registry.h).
const DistributionKind& ExponentialKind();

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_EXPONENTIAL_H_
