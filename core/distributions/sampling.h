// Building blocks the distribution kinds share: saturation and caps, a
// standard normal deviate and weighted choice on a RandomStream's bits, and
// the numpy_legacy batch of a kind vLLM does not have. Stateless functions;
// thread-safe.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_SAMPLING_H_
#define CONVGEN_CORE_DISTRIBUTIONS_SAMPLING_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/random/numpy_random_state.h"
#include "core/random/random_stream.h"

namespace convgen {

// Every sample is at most this (2^62): larger draws of the unbounded
// distributions saturate here, so a value always fits int64 and converts
// exactly to double. Workload limits are far below.
inline constexpr int64_t kMaxSampleValue = int64_t{1} << 62;

// Upper bound on the scale parameters of convgen's own kinds (a mean, a
// standard deviation, a Pareto scale).
inline constexpr double kMaxScale = 1e15;

// Converts a non-negative double draw to an integer sample, saturating at
// kMaxSampleValue (NaN too).
int64_t SaturateToInt(double value);

// Returns min(value, cap), or value when cap is 0 (no cap).
inline int64_t ApplyCap(int64_t value, int64_t cap) {
  return cap > 0 ? std::min(value, cap) : value;
}

// Returns a standard normal deviate (Marsaglia's polar method; the second
// deviate of each pair is discarded so every call is self-contained).
double SampleStandardNormal(RandomStream& stream);

// Returns the running sums of `weights` (the table PickByWeight reads).
std::shared_ptr<const std::vector<double>> RunningSums(const std::vector<double>& weights);

// Returns the index whose weight interval holds u * total: one uniform draw.
size_t PickByWeight(RandomStream& stream, const std::vector<double>& cumulative);

// The numpy_legacy batch of one of convgen's own kinds (vLLM has none to
// reproduce): one 64-bit word of numpy's generator keys the Philox streams
// the batch is drawn from, sample i = sample_one(stream (key, i, 0, 0)), so
// the sequence stays deterministic.
template <typename SampleOne>
std::vector<int64_t> SampleKeyedByNumpyWord(int64_t count, NumpyRandomState& state,
                                            SampleOne sample_one) {
  std::vector<int64_t> out(static_cast<size_t>(count));
  const uint64_t key = state.NextUint64();
  for (size_t i = 0; i < out.size(); ++i) {
    RandomStream stream({.seed = key, .index = i, .field = 0, .draw = 0});
    out[i] = sample_one(stream);
  }
  return out;
}

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_SAMPLING_H_
