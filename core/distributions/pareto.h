// The Pareto (type I) distribution (convgen's addition): scale *
// U^(-1/alpha), rounded, optionally capped; P(X > x) = (scale / x)^alpha.
// JSON {"distribution": "pareto", "alpha": 3, "scale": 100}; proto
// ParetoDistribution. Immutable; sampling is thread-safe.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_PARETO_H_
#define CONVGEN_CORE_DISTRIBUTIONS_PARETO_H_

#include <cstdint>
#include <string>
#include <vector>

namespace convgen {

class NumpyRandomState;
class RandomStream;
struct DistributionKind;

struct ParetoParams {
  double alpha;  // 0 < alpha <= 1000
  double scale;  // 0 < scale <= kMaxScale

  // Returns one sample, uncapped (inversion of one uniform).
  int64_t Sample(RandomStream& stream) const;
  // vLLM has no Pareto: SampleKeyedByNumpyWord, capped.
  std::vector<int64_t> SampleLikeVllm(int64_t count, int64_t cap, NumpyRandomState& state) const;
  // Returns e.g. "pareto(alpha=3, scale=100)".
  std::string ToString() const;
};

// The kind's JSON names, rules and proto conversion (registry.h).
const DistributionKind& ParetoKind();

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_PARETO_H_
