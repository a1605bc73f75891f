// Sampling exactly as vLLM's multi-turn generator does (rng "numpy_legacy"):
// batches drawn from numpy's global legacy RandomState with numpy's legacy
// algorithms, so the same config and seed give vLLM's sizes value for value.
// Each kind's SampleLikeVllm holds its algorithm (uniform: randint's masked
// rejection; lognormal: vLLM's batch rescaling; zipf, poisson: numpy's
// legacy samplers; constant: no draw); convgen's own kinds, which vLLM has
// not, draw from Philox streams keyed by one word of numpy's generator
// (SampleKeyedByNumpyWord). Checked against numpy itself:
// tests/oracle/numpy_legacy_fixtures.py. Stateless functions; the
// NumpyRandomState is the caller's, one per sequential run.
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

// numpy's sum of a float64 array (pairwise, in blocks of 8 up to 128).
double NumpyPairwiseSum(const double* values, int64_t count);

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_NUMPY_LEGACY_H_
