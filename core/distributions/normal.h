// The normal distribution (convgen's addition): mean + stddev * N(0, 1),
// rounded, clamped to [min, cap]. JSON {"distribution": "normal", "mean":
// 500, "stddev": 100, "min": 1, "max": 1000}; proto NormalDistribution.
// Immutable; sampling is thread-safe.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_NORMAL_H_
#define CONVGEN_CORE_DISTRIBUTIONS_NORMAL_H_

#include <cstdint>
#include <string>
#include <vector>

namespace convgen {

class NumpyRandomState;
class RandomStream;
struct DistributionKind;

struct NormalParams {
  double mean;    // finite
  double stddev;  // finite, >= 0
  int64_t min;    // >= 0; the upper clamp is the cap (0: none)

  // Returns one sample, clamped below at min, uncapped.
  int64_t Sample(RandomStream& stream) const;
  // vLLM has no normal: SampleKeyedByNumpyWord, capped.
  std::vector<int64_t> SampleLikeVllm(int64_t count, int64_t cap, NumpyRandomState& state) const;
  // Returns e.g. "normal(mean=500, stddev=100, min=0)".
  std::string ToString() const;
};

// The kind's JSON names, rules and proto conversion (registry.h).
const DistributionKind& NormalKind();

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_NORMAL_H_
