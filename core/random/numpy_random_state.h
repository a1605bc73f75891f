// NumpyRandomState: numpy's legacy RandomState as np.random.seed(seed) leaves
// it (MT19937 seeded by Knuth's linear recurrence, not by init_by_array), with
// its double and its cached second Gaussian. It exists to reproduce workloads
// sampled by vLLM's generator bit for bit (rng "numpy_legacy"); everything
// else uses RandomStream. Mutable: one per sequential sampling run.
#ifndef CONVGEN_CORE_RANDOM_NUMPY_RANDOM_STATE_H_
#define CONVGEN_CORE_RANDOM_NUMPY_RANDOM_STATE_H_

#include <array>
#include <cstdint>

namespace convgen {

class NumpyRandomState {
 public:
  // As np.random.seed(seed) for an integer seed (numpy accepts 0 .. 2^32-1).
  explicit NumpyRandomState(uint32_t seed);

  uint32_t NextUint32();
  // Two words, high first, as numpy's mt19937 next_uint64.
  uint64_t NextUint64();
  // A double in [0, 1) from 53 bits of two words (numpy's random_sample).
  double NextDouble();
  // A standard normal deviate by the polar method; each pair's second value
  // is cached and returned by the next call (numpy's legacy_gauss).
  double Gauss();

 private:
  static constexpr int kStateWords = 624;
  void Regenerate();

  std::array<uint32_t, kStateWords> key_;
  int position_ = kStateWords;
  bool has_gauss_ = false;
  double gauss_ = 0;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_RANDOM_NUMPY_RANDOM_STATE_H_
