// RandomStream: the reproducible source of every random draw in convgen.
//
// A stream is keyed by (seed, conversation index, field, draw number) and
// yields an unbounded sequence of 64-bit words: word w of a stream is
// Philox4x64-10 with key {seed, index} at counter {w / 4, draw, field, 0}.
// Any draw of any conversation is therefore computed without computing any
// other, which is what makes sharding and resuming exact. Samplers read only
// these bits (never std::*_distribution), so the values are the same with
// every compiler and standard library.
//
// A RandomStream is a small value; it is not thread-safe, but streams are
// cheap to create, so each thread makes its own.
#ifndef CONVGEN_CORE_RANDOM_RANDOM_STREAM_H_
#define CONVGEN_CORE_RANDOM_RANDOM_STREAM_H_

#include <cstdint>

#include "core/random/philox.h"

namespace convgen {

// Identifies one stream. `field` says what is being drawn (the conversation
// planner assigns the ids); `draw` numbers the values of one field of one
// conversation (e.g. the turn). Values drawn once per request use index 0
// and a field reserved for them.
struct StreamKey {
  uint64_t seed = 0;
  uint64_t index = 0;
  uint64_t field = 0;
  uint64_t draw = 0;
};

class RandomStream {
 public:
  explicit RandomStream(const StreamKey& key);

  // Returns the next uniformly distributed 64-bit word.
  uint64_t NextU64();

  // Returns a double uniform in [0, 1) on a 2^-53 grid (numpy's next_double).
  double NextDouble();

  // Returns a double uniform in (0, 1]: 1 - NextDouble(), safe for log().
  double NextDoubleNonZero();

  // Returns an integer uniform in [0, bound); bound > 0. Unbiased (Lemire's
  // multiply-and-reject), consuming one word except on rare rejections.
  uint64_t NextBelow(uint64_t bound);

  // Returns how many words have been consumed so far.
  uint64_t words_consumed() const { return position_; }

 private:
  PhiloxKey key_;
  PhiloxCounter counter_;
  PhiloxBlock block_{};
  uint64_t position_ = 0;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_RANDOM_RANDOM_STREAM_H_
