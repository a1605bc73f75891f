// Sampling exactly as vLLM's multi-turn generator does (rng "numpy_legacy"):
// batches drawn from numpy's global legacy RandomState with numpy's legacy
// algorithms, so the same config and seed give vLLM's sizes value for value.
//   uniform    np.random.randint(min, max + 1): masked rejection on 32-bit
//              words (64-bit words above a 2^32 range)
//   lognormal  exp(mu + sigma * gauss) with the cached second Gaussian; by
//              average, mu and sigma as vLLM computes them and each batch
//              rescaled to mean `average` (numpy's pairwise mean), then
//              capped and rounded half to even
//   zipf       numpy's legacy rejection (draws above int64 rejected), capped
//   poisson    as PoissonDeviate, capped
//   constant   no draw
//   others     (convgen's own) one 64-bit word of numpy's generator per batch
//              keys the Philox streams the batch is drawn from
// Checked against numpy itself: tests/oracle/numpy_legacy_fixtures.py.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_NUMPY_LEGACY_H_
#define CONVGEN_CORE_DISTRIBUTIONS_NUMPY_LEGACY_H_

#include <cstdint>
#include <vector>

#include "core/distributions/int_distribution.h"
#include "core/random/numpy_random_state.h"

namespace convgen {

// Returns d.sample(count) of vLLM's Distribution classes. count >= 0.
std::vector<int64_t> SampleBatchLikeVllm(const IntDistribution& d, int64_t count,
                                         NumpyRandomState& state);

// The (mu, sigma) vLLM derives from a lognormal's average and median ratio:
// mu = log(average * ratio), sigma = sqrt(2 * log(average / (average * ratio))).
struct LognormalParameters {
  double mu;
  double sigma;
};
LognormalParameters VllmLognormalParameters(const IntDistribution::Lognormal& l);

// numpy's sum of a float64 array (pairwise, in blocks of 8 up to 128).
double NumpyPairwiseSum(const double* values, int64_t count);

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_NUMPY_LEGACY_H_
