// The zipf distribution: integers >= 1 with P(k) proportional to k^-alpha,
// as numpy.random.zipf(alpha), optionally capped. JSON {"distribution":
// "zipf", "alpha": 1.5, "max": 20}; proto ZipfDistribution. Immutable;
// sampling is thread-safe.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_ZIPF_H_
#define CONVGEN_CORE_DISTRIBUTIONS_ZIPF_H_

#include <cstdint>
#include <string>
#include <vector>

namespace convgen {

class NumpyRandomState;
class RandomStream;
struct DistributionKind;

// Upper bound on alpha that keeps the sampler exact and terminating (also
// the bound of zipf-popular prefix groups).
inline constexpr double kMaxZipfAlpha = 1000.0;

struct ZipfParams {
  double alpha;  // 1 < alpha <= kMaxZipfAlpha

  // Returns one sample, uncapped (SampleZipf).
  int64_t Sample(RandomStream& stream) const;
  // Returns numpy's legacy_random_zipf batch (draws above int64 rejected),
  // capped.
  std::vector<int64_t> SampleLikeVllm(int64_t count, int64_t cap, NumpyRandomState& state) const;
  // Returns e.g. "zipf(alpha=1.5)".
  std::string ToString() const;
};

// Returns numpy.random.zipf's value (Devroye's rejection), saturated at
// kMaxSampleValue.
int64_t SampleZipf(RandomStream& stream, double alpha);

// The kind's JSON names, rules and proto conversion (registry.h).
const DistributionKind& ZipfKind();

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_ZIPF_H_
