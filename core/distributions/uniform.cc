#include "core/distributions/uniform.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "core/distributions/registry.h"
#include "core/random/numpy_random_state.h"
#include "core/random/random_stream.h"

namespace convgen {
namespace {

// The smallest all-ones mask covering `range`.
uint64_t MaskFor(uint64_t range) {
  uint64_t mask = range;
  for (int shift = 1; shift < 64; shift <<= 1) mask |= mask >> shift;
  return mask;
}

// numpy's random_bounded_uint64_fill with the masked method (legacy randint).
int64_t BoundedInteger(NumpyRandomState& state, int64_t low, uint64_t range, uint64_t mask) {
  if (range == 0) return low;
  uint64_t value;
  if (range <= 0xffffffffu) {
    if (range == 0xffffffffu) {
      return low + static_cast<int64_t>(state.NextUint32());
    }
    while ((value = state.NextUint32() & mask) > range) {
    }
  } else {
    if (range == std::numeric_limits<uint64_t>::max()) {
      return static_cast<int64_t>(static_cast<uint64_t>(low) + state.NextUint64());
    }
    while ((value = state.NextUint64() & mask) > range) {
    }
  }
  return low + static_cast<int64_t>(value);
}

}  // namespace

int64_t UniformParams::Sample(RandomStream& stream) const {
  const auto span = static_cast<uint64_t>(max - min) + 1;
  return min + static_cast<int64_t>(stream.NextBelow(span));
}

std::vector<int64_t> UniformParams::SampleLikeVllm(int64_t count, int64_t cap,
                                                   NumpyRandomState& state) const {
  std::vector<int64_t> out(static_cast<size_t>(count));
  const uint64_t range = static_cast<uint64_t>(max) - static_cast<uint64_t>(min);
  const uint64_t mask = MaskFor(range);
  for (int64_t& v : out) v = BoundedInteger(state, min, range, mask);
  return out;
}

std::string UniformParams::ToString() const {
  return absl::StrCat("uniform(", min, "..", max, ")");
}

namespace {

bool HoldsUniform(const v1::Distribution& d) { return d.has_uniform(); }

bool ReadUniform(JsonObjectReader& reader, v1::Distribution& out) {
  v1::UniformDistribution& uniform = *out.mutable_uniform();
  if (auto v = reader.Int("min", true)) uniform.set_min(*v);
  if (auto v = reader.Int("max", true)) uniform.set_max(*v);
  return true;
}

void WriteUniform(const v1::Distribution& d, nlohmann::ordered_json& out) {
  out["min"] = d.uniform().min();
  out["max"] = d.uniform().max();
}

std::optional<IntDistribution> CheckUniform(const v1::Distribution& d, int64_t cap,
                                            RuleChecker& check) {
  const int64_t min = d.uniform().min();
  const int64_t max = d.uniform().max();
  if (min <= 0) {
    check.Fail("min", absl::StrCat("must be > 0 (got ", min, ")"));
  } else if (max < min) {
    check.Fail("", absl::StrCat("uniform max must be >= min (", max, " < ", min, ")"));
  } else {
    CheckSampleValue("max", max, 1, check);
  }
  return IntDistribution(UniformParams{min, max}, 0);
}

}  // namespace

const DistributionKind& UniformKind() {
  static constexpr DistributionKind kKind = {"uniform",   /*takes_cap=*/false, HoldsUniform,
                                             ReadUniform, WriteUniform,        CheckUniform};
  return kKind;
}

}  // namespace convgen
