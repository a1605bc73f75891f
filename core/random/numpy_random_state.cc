#include "core/random/numpy_random_state.h"

#include <cmath>

namespace convgen {

NumpyRandomState::NumpyRandomState(uint32_t seed) {
  for (int i = 0; i < kStateWords; ++i) {
    key_[i] = seed;
    seed = 1812433253u * (seed ^ (seed >> 30)) + static_cast<uint32_t>(i + 1);
  }
}

void NumpyRandomState::Regenerate() {
  constexpr int kShift = 397;
  constexpr uint32_t kMatrixA = 0x9908b0dfu, kUpper = 0x80000000u, kLower = 0x7fffffffu;
  for (int i = 0; i < kStateWords; ++i) {
    const uint32_t y = (key_[i] & kUpper) | (key_[(i + 1) % kStateWords] & kLower);
    key_[i] = key_[(i + kShift) % kStateWords] ^ (y >> 1) ^ ((y & 1u) != 0 ? kMatrixA : 0u);
  }
  position_ = 0;
}

uint32_t NumpyRandomState::NextUint32() {
  if (position_ == kStateWords) Regenerate();
  uint32_t y = key_[position_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

uint64_t NumpyRandomState::NextUint64() {
  const uint64_t high = NextUint32();
  return (high << 32) | NextUint32();
}

double NumpyRandomState::NextDouble() {
  const uint32_t a = NextUint32() >> 5, b = NextUint32() >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

double NumpyRandomState::Gauss() {
  if (has_gauss_) {
    has_gauss_ = false;
    return gauss_;
  }
  double x1, x2, r2;
  do {
    x1 = 2.0 * NextDouble() - 1.0;
    x2 = 2.0 * NextDouble() - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  const double f = std::sqrt(-2.0 * std::log(r2) / r2);
  gauss_ = f * x1;
  has_gauss_ = true;
  return f * x2;
}

}  // namespace convgen
