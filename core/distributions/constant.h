// The constant distribution: always `value`. JSON {"distribution":
// "constant", "value": 500}; proto ConstantDistribution. Takes no cap.
// Immutable; sampling is thread-safe.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_CONSTANT_H_
#define CONVGEN_CORE_DISTRIBUTIONS_CONSTANT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace convgen {

class NumpyRandomState;
class RandomStream;
struct DistributionKind;

struct ConstantParams {
  int64_t value;  // >= 0

  // Returns `value`; draws nothing.
  int64_t Sample(RandomStream& stream) const;
  // Returns `count` copies of `value`; draws nothing (as vLLM).
  std::vector<int64_t> SampleLikeVllm(int64_t count, int64_t cap, NumpyRandomState& state) const;
  // Returns e.g. "constant(500)".
  std::string ToString() const;
};

// The kind's JSON names, rules and proto conversion (registry.h).
const DistributionKind& ConstantKind();

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_CONSTANT_H_
