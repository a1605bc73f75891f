#include "core/random/random_stream.h"

namespace convgen {

RandomStream::RandomStream(const StreamKey& key)
    : key_{key.seed, key.index}, counter_{0, key.draw, key.field, 0} {}

uint64_t RandomStream::NextU64() {
  const uint64_t lane = position_ % 4;
  if (lane == 0) {
    counter_[0] = position_ / 4;
    block_ = Philox4x64(counter_, key_);
  }
  ++position_;
  return block_[lane];
}

double RandomStream::NextDouble() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

double RandomStream::NextDoubleNonZero() { return 1.0 - NextDouble(); }

uint64_t RandomStream::NextBelow(uint64_t bound) {
  // Lemire, "Fast Random Integer Generation in an Interval" (2019).
  unsigned __int128 product = static_cast<unsigned __int128>(NextU64()) * bound;
  uint64_t low = static_cast<uint64_t>(product);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      product = static_cast<unsigned __int128>(NextU64()) * bound;
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

}  // namespace convgen
