#include "core/stats/summary_stats.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random/random_stream.h"
#include "gtest/gtest.h"

namespace convgen {
namespace {

// pandas' describe(): linear interpolation between order statistics.
double PandasQuantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

TEST(SummaryStatisticTest, SmallIntegersAreExact) {
  SummaryStatistic s;
  std::vector<double> values;
  RandomStream stream({.seed = 1});
  for (int i = 0; i < 10001; ++i) {
    const double v = static_cast<double>(stream.NextBelow(500));
    values.push_back(v);
    s.Add(v);
  }
  for (double q : {0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0}) {
    EXPECT_DOUBLE_EQ(s.Quantile(q), PandasQuantile(values, q)) << q;
  }
  double mean = 0;
  for (double v : values) mean += v;
  mean /= values.size();
  double m2 = 0;
  for (double v : values) m2 += (v - mean) * (v - mean);
  EXPECT_NEAR(s.mean(), mean, 1e-9);
  EXPECT_NEAR(s.std(), std::sqrt(m2 / (values.size() - 1)), 1e-9);
  EXPECT_EQ(s.min(), *std::min_element(values.begin(), values.end()));
  EXPECT_EQ(s.max(), *std::max_element(values.begin(), values.end()));
}

TEST(SummaryStatisticTest, LargeValuesWithinTheDocumentedError) {
  SummaryStatistic s;
  std::vector<double> values;
  RandomStream stream({.seed = 2});
  for (int i = 0; i < 20000; ++i) {
    const double v = 1000 + stream.NextDouble() * 1e6;
    values.push_back(v);
    s.Add(v);
  }
  for (double q : {0.25, 0.5, 0.75, 0.9, 0.99}) {
    const double exact = PandasQuantile(values, q);
    EXPECT_NEAR(s.Quantile(q), exact, exact * 0.004) << q;
  }
}

TEST(SummaryStatisticTest, EmptyAndSingle) {
  SummaryStatistic s;
  EXPECT_EQ(s.count(), 0);
  EXPECT_EQ(s.Quantile(0.5), 0);
  s.Add(7);
  EXPECT_EQ(s.Quantile(0.5), 7);
  EXPECT_EQ(s.std(), 0);
}

}  // namespace
}  // namespace convgen
