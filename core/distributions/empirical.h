// The empirical distribution (convgen's addition): one of `values`, with
// probability proportional to its weight (a measured length histogram).
// JSON {"distribution": "empirical", "values": [128, 512], "weights": [3,
// 1]}; proto EmpiricalDistribution. Takes no cap. Immutable (the tables are
// shared, not copied); sampling is thread-safe.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_EMPIRICAL_H_
#define CONVGEN_CORE_DISTRIBUTIONS_EMPIRICAL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace convgen {

class NumpyRandomState;
class RandomStream;
struct DistributionKind;

struct EmpiricalParams {
  std::shared_ptr<const std::vector<int64_t>> values;
  std::shared_ptr<const std::vector<double>> cumulative;  // running weight sums

  // values non-empty, each >= 0; weights empty (equal) or one per value,
  // each finite and >= 0, with a positive sum.
  static EmpiricalParams Make(std::vector<int64_t> values, const std::vector<double>& weights);

  // Returns one value, chosen by weight (one uniform draw).
  int64_t Sample(RandomStream& stream) const;
  // vLLM has no empirical: SampleKeyedByNumpyWord.
  std::vector<int64_t> SampleLikeVllm(int64_t count, int64_t cap, NumpyRandomState& state) const;
  // Returns e.g. "empirical(4 values)".
  std::string ToString() const;
};

// The kind's JSON names, rules and proto conversion (registry.h).
const DistributionKind& EmpiricalKind();

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_EMPIRICAL_H_
