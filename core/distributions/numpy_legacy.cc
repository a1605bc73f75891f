#include "core/distributions/numpy_legacy.h"

#include <algorithm>
#include <variant>

namespace convgen {

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

std::vector<int64_t> SampleBatchLikeVllm(const IntDistribution& d, int64_t count,
                                         NumpyRandomState& state) {
  return std::visit(
      [&](const auto& params) { return params.SampleLikeVllm(count, d.cap(), state); }, d.params());
}

}  // namespace convgen
