#include "core/distributions/numpy_legacy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <variant>

#include "core/overloaded.h"

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
    if (range == 0xffffffffu) return low + static_cast<int64_t>(state.NextUint32());
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

// numpy's legacy_random_zipf.
int64_t LegacyZipf(NumpyRandomState& state, double alpha) {
  const double am1 = alpha - 1.0;
  const double b = std::pow(2.0, am1);
  while (true) {
    const double u = 1.0 - state.NextDouble();
    const double v = state.NextDouble();
    const double x = std::floor(std::pow(u, -1.0 / am1));
    if (x > static_cast<double>(std::numeric_limits<int64_t>::max()) || x < 1.0) continue;
    const double t = std::pow(1.0 + 1.0 / x, am1);
    if (v * x * (t - 1.0) / (b - 1.0) <= t / b) return SaturateToInt(x);
  }
}

int64_t Capped(int64_t value, int64_t cap) { return cap > 0 ? std::min(value, cap) : value; }

}  // namespace

double NumpyPairwiseSum(const double* values, int64_t count) {
  constexpr int64_t kBlock = 128;
  if (count < 8) {
    double sum = 0.;
    for (int64_t i = 0; i < count; ++i) sum += values[i];
    return sum;
  }
  if (count <= kBlock) {
    double r[8];
    std::copy(values, values + 8, r);
    int64_t i = 8;
    for (; i < count - count % 8; i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += values[i + j];
    }
    double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < count; ++i) sum += values[i];
    return sum;
  }
  int64_t half = count / 2;
  half -= half % 8;
  return NumpyPairwiseSum(values, half) + NumpyPairwiseSum(values + half, count - half);
}

LognormalParameters VllmLognormalParameters(const IntDistribution::Lognormal& l) {
  if (l.average <= 0) return {l.mu, l.sigma};
  const double median = l.average * l.median_ratio;
  return {std::log(median), std::sqrt(2 * std::log(l.average / median))};
}

std::vector<int64_t> SampleBatchLikeVllm(const IntDistribution& d, int64_t count,
                                         NumpyRandomState& state) {
  std::vector<int64_t> out(static_cast<size_t>(count));
  const int64_t cap = d.cap();
  std::visit(
      Overloaded{
          [&](const IntDistribution::Constant& c) { std::fill(out.begin(), out.end(), c.value); },
          [&](const IntDistribution::Uniform& u) {
            const uint64_t range = static_cast<uint64_t>(u.max) - static_cast<uint64_t>(u.min);
            const uint64_t mask = MaskFor(range);
            for (int64_t& v : out) v = BoundedInteger(state, u.min, range, mask);
          },
          [&](const IntDistribution::Zipf& z) {
            for (int64_t& v : out) v = Capped(LegacyZipf(state, z.alpha), cap);
          },
          [&](const IntDistribution::Poisson& p) {
            for (int64_t& v : out) v = Capped(PoissonDeviate(state, p.lambda), cap);
          },
          [&](const IntDistribution::Lognormal& l) {
            const LognormalParameters p = VllmLognormalParameters(l);
            std::vector<double> x(out.size());
            for (double& v : x) v = std::exp(p.mu + p.sigma * state.Gauss());
            if (l.average > 0 && count > 0) {
              const double mean = NumpyPairwiseSum(x.data(), count) / static_cast<double>(count);
              const double factor = l.average / mean;
              for (double& v : x) v *= factor;
            }
            for (size_t i = 0; i < x.size(); ++i) {
              const double capped = cap > 0 ? std::min(x[i], static_cast<double>(cap)) : x[i];
              out[i] = SaturateToInt(std::nearbyint(capped));
            }
          },
          [&](const auto&) {
            // convgen's own distributions (vLLM has none to reproduce): one
            // 64-bit word of numpy's generator keys the Philox stream they
            // are drawn from, so the sequence stays deterministic.
            const uint64_t key = state.NextUint64();
            for (size_t i = 0; i < out.size(); ++i) {
              RandomStream stream({.seed = key, .index = i, .field = 0, .draw = 0});
              out[i] = d.Sample(stream);
            }
          },
      },
      d.params());
  return out;
}

}  // namespace convgen
