#include "core/random/random_stream.h"

#include <cstdint>
#include <vector>

#include "core/random/philox.h"
#include "gtest/gtest.h"

namespace convgen {
namespace {

// numpy.random.Philox generates the block at counter + 1 on its first call,
// so these were produced with (numpy 1.24.2, Debian's python3-numpy):
//   /usr/bin/python3 -c "import numpy as np; g = np.random.Philox(key=0,
//     counter=0); print([hex(x) for x in g.random_raw(4)])"
// and key = 7 + (123 << 64), counter = 4 + (9 << 64) + (3 << 128), 8 words.
TEST(PhiloxTest, MatchesNumpyPhilox) {
  EXPECT_EQ(Philox4x64({1, 0, 0, 0}, {0, 0}),
            (PhiloxBlock{0x02f4ba6408e4d89bULL, 0x3dd62b0b9ca8c5b2ULL, 0x1c8667a55d902e79ULL,
                         0x907d7a052fd5b4dcULL}));
  EXPECT_EQ(Philox4x64({5, 9, 3, 0}, {7, 123}),
            (PhiloxBlock{0x20e8bf80e517b845ULL, 0x23bc1e8bb2852115ULL, 0x5b1a368242267c6cULL,
                         0x53b78be719c9c05fULL}));
  EXPECT_EQ(Philox4x64({6, 9, 3, 0}, {7, 123}),
            (PhiloxBlock{0x8e8c54ca27a6d700ULL, 0xbf3431dcee39cadbULL, 0x6bb62e895ffa7fbeULL,
                         0x2137ee6d5649f978ULL}));
}

// Known-answer vector of Random123's kat_vectors for philox4x64_10.
TEST(PhiloxTest, MatchesRandom123KnownAnswer) {
  EXPECT_EQ(Philox4x64({0, 0, 0, 0}, {0, 0}),
            (PhiloxBlock{0x16554d9eca36314cULL, 0xdb20fe9d672d0fdcULL, 0xd7e772cee186176bULL,
                         0x7e68b68aec7ba23bULL}));
}

TEST(RandomStreamTest, WordsAreThePhiloxBlocksOfTheKey) {
  RandomStream stream({.seed = 7, .index = 123, .field = 3, .draw = 9});
  const PhiloxBlock block0 = Philox4x64({0, 9, 3, 0}, {7, 123});
  const PhiloxBlock block1 = Philox4x64({1, 9, 3, 0}, {7, 123});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(stream.NextU64(), block0[i]);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(stream.NextU64(), block1[i]);
  EXPECT_EQ(stream.words_consumed(), 8u);
}

// Golden values: if any of these change, every workload generated so far
// changes. They pin the key layout ({seed, index} key, {block, draw, field, 0}
// counter) and the conversion of bits to doubles and bounded integers.
// Computed with numpy, independently of this code:
//   def ph(seed, index, field, draw): return np.random.Philox(
//       key=seed + (index << 64), counter=(draw << 64) + (field << 128) - 1)
//   ph(42, 0, 1, 0).random_raw()                       -> 0xc2a29154709dfc27
//   np.random.Generator(ph(42, 1000, 2, 5)).random()   -> 0.3539267272307416
//   (ph(1, 2, 3, 4).random_raw() * 1000) >> 64         -> 490
TEST(RandomStreamTest, GoldenValues) {
  RandomStream stream({.seed = 42, .index = 0, .field = 1, .draw = 0});
  EXPECT_EQ(stream.NextU64(), 0xc2a29154709dfc27ULL);
  RandomStream doubles({.seed = 42, .index = 1000, .field = 2, .draw = 5});
  EXPECT_EQ(doubles.NextDouble(), 0.3539267272307416);
  RandomStream below({.seed = 1, .index = 2, .field = 3, .draw = 4});
  EXPECT_EQ(below.NextBelow(1000), 490u);
}

TEST(RandomStreamTest, DrawDoesNotDependOnOtherDraws) {
  // Draw k of stream (s, i, f) read directly equals draw k read after
  // consuming other fields, other draws and other conversations first.
  const StreamKey target{.seed = 99, .index = 17, .field = 4, .draw = 3};
  RandomStream direct(target);
  const uint64_t expected = direct.NextU64();

  for (uint64_t draw = 0; draw < 3; ++draw) {
    RandomStream other({.seed = 99, .index = 17, .field = 4, .draw = draw});
    for (int i = 0; i < 37; ++i) other.NextU64();
  }
  RandomStream neighbour({.seed = 99, .index = 16, .field = 4, .draw = 3});
  neighbour.NextU64();
  RandomStream again(target);
  EXPECT_EQ(again.NextU64(), expected);
}

TEST(RandomStreamTest, EveryKeyComponentChangesTheStream) {
  const StreamKey base{.seed = 5, .index = 6, .field = 7, .draw = 8};
  const uint64_t word = RandomStream(base).NextU64();
  StreamKey k = base;
  k.seed++;
  EXPECT_NE(RandomStream(k).NextU64(), word);
  k = base;
  k.index++;
  EXPECT_NE(RandomStream(k).NextU64(), word);
  k = base;
  k.field++;
  EXPECT_NE(RandomStream(k).NextU64(), word);
  k = base;
  k.draw++;
  EXPECT_NE(RandomStream(k).NextU64(), word);
}

TEST(RandomStreamTest, NextDoubleIsInUnitInterval) {
  RandomStream stream({.seed = 3});
  double min = 1, max = 0, sum = 0;
  constexpr int kDraws = 100000;
  for (int i = 0; i < kDraws; ++i) {
    const double d = stream.NextDouble();
    ASSERT_GE(d, 0.0);
    ASSERT_LT(d, 1.0);
    const double nz = stream.NextDoubleNonZero();
    ASSERT_GT(nz, 0.0);
    ASSERT_LE(nz, 1.0);
    min = std::min(min, d);
    max = std::max(max, d);
    sum += d;
  }
  // Mean of U(0,1) has standard error 1/sqrt(12 n) = 0.0009; allow 5 sigma.
  EXPECT_NEAR(sum / kDraws, 0.5, 0.0046);
  EXPECT_LT(min, 0.001);
  EXPECT_GT(max, 0.999);
}

TEST(RandomStreamTest, NextBelowCoversTheRangeEvenly) {
  RandomStream stream({.seed = 11});
  std::vector<int> counts(7, 0);
  constexpr int kDraws = 70000;
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t v = stream.NextBelow(7);
    ASSERT_LT(v, 7u);
    counts[v]++;
  }
  // Each count is Binomial(70000, 1/7): sd = 92.6; allow 5 sd.
  for (int c : counts) EXPECT_NEAR(c, 10000, 463);
  EXPECT_EQ(stream.NextBelow(1), 0u);
  // The full 64-bit range is allowed.
  RandomStream wide({.seed = 12});
  EXPECT_LT(wide.NextBelow(UINT64_MAX), UINT64_MAX);
}

}  // namespace
}  // namespace convgen
