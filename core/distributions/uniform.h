// The uniform distribution: integers in [min, max], both inclusive, each
// equally likely. JSON {"distribution": "uniform", "min": 1, "max": 10};
// proto UniformDistribution. Its "max" is its own bound, not a cap.
// Immutable; sampling is thread-safe.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_UNIFORM_H_
#define CONVGEN_CORE_DISTRIBUTIONS_UNIFORM_H_

#include <cstdint>
#include <string>
#include <vector>

namespace convgen {

class NumpyRandomState;
class RandomStream;
struct DistributionKind;

struct UniformParams {
  int64_t min;  // > 0
  int64_t max;  // >= min

  // Returns one sample (Lemire's unbiased bounded integer).
  int64_t Sample(RandomStream& stream) const;
  // Returns np.random.randint(min, max + 1, size=count): masked rejection
  // on 32-bit words (64-bit words above a 2^32 range).
  std::vector<int64_t> SampleLikeVllm(int64_t count, int64_t cap, NumpyRandomState& state) const;
  // Returns e.g. "uniform(1..10)".
  std::string ToString() const;
};

// The kind's JSON names, rules and proto conversion (registry.h).
const DistributionKind& UniformKind();

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_UNIFORM_H_
