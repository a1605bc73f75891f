// The mixture distribution (convgen's addition): a component chosen by
// weight, then sampled from the same stream; optionally capped. Components
// may be any distribution, mixtures included. JSON {"distribution":
// "mixture", "components": [{"weight": 0.8, "distribution": {...}}, ...],
// "max": 4000}; proto MixtureDistribution. Immutable (the tables are shared,
// not copied); sampling is thread-safe.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_MIXTURE_H_
#define CONVGEN_CORE_DISTRIBUTIONS_MIXTURE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace convgen {

class IntDistribution;
class NumpyRandomState;
class RandomStream;
struct DistributionKind;

struct MixtureParams {
  std::shared_ptr<const std::vector<IntDistribution>> components;
  std::shared_ptr<const std::vector<double>> cumulative;  // running weight sums

  // components non-empty; weights one per component, finite, >= 0, with a
  // positive sum.
  static MixtureParams Make(std::vector<IntDistribution> components,
                            const std::vector<double>& weights);

  // Returns a sample of a component chosen by weight (its own cap applied),
  // uncapped by the mixture's.
  int64_t Sample(RandomStream& stream) const;
  // vLLM has no mixture: SampleKeyedByNumpyWord, capped.
  std::vector<int64_t> SampleLikeVllm(int64_t count, int64_t cap, NumpyRandomState& state) const;
  // Returns e.g. "mixture(uniform(1..50) | poisson(lambda=150))".
  std::string ToString() const;
};

// The kind's JSON names, rules and proto conversion (registry.h).
const DistributionKind& MixtureKind();

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_MIXTURE_H_
