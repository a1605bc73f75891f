// Philox4x64-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3", SC'11): a counter-based generator. The block for (counter, key) is a
// pure function, so any position of any stream is computed directly.
// Bit-identical to Random123's philox4x64_10 and numpy.random.Philox.
#ifndef CONVGEN_CORE_RANDOM_PHILOX_H_
#define CONVGEN_CORE_RANDOM_PHILOX_H_

#include <array>
#include <cstdint>

namespace convgen {

using PhiloxCounter = std::array<uint64_t, 4>;
using PhiloxKey = std::array<uint64_t, 2>;
using PhiloxBlock = std::array<uint64_t, 4>;

// Returns the four 64-bit words of Philox4x64-10 at `counter` under `key`.
inline PhiloxBlock Philox4x64(PhiloxCounter counter, PhiloxKey key) {
  constexpr uint64_t kMul0 = 0xD2E7470EE14C6C93ULL;
  constexpr uint64_t kMul1 = 0xCA5A826395121157ULL;
  constexpr uint64_t kWeyl0 = 0x9E3779B97F4A7C15ULL;
  constexpr uint64_t kWeyl1 = 0xBB67AE8584CAA73BULL;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += kWeyl0;
      key[1] += kWeyl1;
    }
    const unsigned __int128 p0 = static_cast<unsigned __int128>(kMul0) * counter[0];
    const unsigned __int128 p1 = static_cast<unsigned __int128>(kMul1) * counter[2];
    const uint64_t hi0 = static_cast<uint64_t>(p0 >> 64);
    const uint64_t lo0 = static_cast<uint64_t>(p0);
    const uint64_t hi1 = static_cast<uint64_t>(p1 >> 64);
    const uint64_t lo1 = static_cast<uint64_t>(p1);
    counter = {hi1 ^ counter[1] ^ key[0], lo1, hi0 ^ counter[3] ^ key[1], lo0};
  }
  return counter;
}

}  // namespace convgen

#endif  // CONVGEN_CORE_RANDOM_PHILOX_H_
