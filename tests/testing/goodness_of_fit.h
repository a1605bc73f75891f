// Statistical checks for the distribution tests: Pearson's chi-square test of
// a sample of integers against an exact probability mass function, and the
// moments of that pmf. Header-only test helper; uses libm freely (unlike the
// samplers, which must not depend on it for their bits).
#ifndef CONVGEN_TESTS_TESTING_GOODNESS_OF_FIT_H_
#define CONVGEN_TESTS_TESTING_GOODNESS_OF_FIT_H_

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace convgen::testing {

// Regularized upper incomplete gamma Q(a, x) (Numerical Recipes 6.2).
inline double UpperIncompleteGammaQ(double a, double x) {
  if (x <= 0) return 1.0;
  const double log_prefix = -x + a * std::log(x) - std::lgamma(a);
  if (x < a + 1) {  // series for P, then Q = 1 - P
    double term = 1.0 / a, sum = term;
    for (int n = 1; n < 10000 && std::fabs(term) > std::fabs(sum) * 1e-16; ++n) {
      term *= x / (a + n);
      sum += term;
    }
    return 1.0 - sum * std::exp(log_prefix);
  }
  // Lentz's continued fraction for Q.
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-16) break;
  }
  return std::exp(log_prefix) * h;
}

struct ChiSquareResult {
  double statistic = 0;
  int degrees_of_freedom = 0;
  double p_value = 0;
  std::string ToString() const {
    return absl::StrCat("chi2=", statistic, " df=", degrees_of_freedom, " p=", p_value);
  }
};

// Pearson's chi-square of `counts` (value -> occurrences, n in total) against
// `pmf` on the integers >= support_min. Consecutive values are pooled until
// each bin expects >= 20 samples; the last bin holds the whole upper tail.
inline ChiSquareResult ChiSquare(const std::map<int64_t, int64_t>& counts,
                                 const std::function<double(int64_t)>& pmf, int64_t support_min) {
  int64_t n = 0;
  for (const auto& [value, count] : counts) n += count;
  constexpr double kMinExpected = 20;
  std::vector<double> expected, observed;
  double bin_expected = 0, bin_observed = 0, cumulative = 0;
  int64_t k = support_min;
  auto it = counts.begin();
  // Values below the support count against the first bin (expected 0 there).
  double below = 0;
  while (it != counts.end() && it->first < support_min) below += (it++)->second;
  bin_observed = below;
  while ((1.0 - cumulative) * n >= 2 * kMinExpected) {
    const double p = pmf(k);
    cumulative += p;
    bin_expected += p * n;
    while (it != counts.end() && it->first == k) bin_observed += (it++)->second;
    if (bin_expected >= kMinExpected) {
      expected.push_back(bin_expected);
      observed.push_back(bin_observed);
      bin_expected = bin_observed = 0;
    }
    ++k;
  }
  // Upper tail: everything from k on, plus any partial bin.
  double tail_observed = bin_observed;
  while (it != counts.end()) tail_observed += (it++)->second;
  const double tail_expected = bin_expected + std::max(0.0, 1.0 - cumulative) * n;
  if (tail_expected >= kMinExpected || expected.empty()) {
    expected.push_back(tail_expected);
    observed.push_back(tail_observed);
  } else {
    expected.back() += tail_expected;
    observed.back() += tail_observed;
  }
  ChiSquareResult result;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double diff = observed[i] - expected[i];
    result.statistic += diff * diff / expected[i];
  }
  result.degrees_of_freedom = static_cast<int>(expected.size()) - 1;
  result.p_value =
      result.degrees_of_freedom > 0
          ? UpperIncompleteGammaQ(result.degrees_of_freedom / 2.0, result.statistic / 2.0)
          : 1.0;
  return result;
}

struct Moments {
  double mean = 0;
  double variance = 0;
  double fourth_central = 0;  // for the standard error of the variance
};

// Moments of `pmf` over [support_min, support_max], where the mass outside
// must be negligible.
inline Moments PmfMoments(const std::function<double(int64_t)>& pmf, int64_t support_min,
                          int64_t support_max) {
  Moments m;
  std::vector<double> p;
  for (int64_t k = support_min; k <= support_max; ++k) p.push_back(pmf(k));
  for (size_t i = 0; i < p.size(); ++i) m.mean += p[i] * (support_min + i);
  for (size_t i = 0; i < p.size(); ++i) {
    const double d = support_min + static_cast<double>(i) - m.mean;
    m.variance += p[i] * d * d;
    m.fourth_central += p[i] * d * d * d * d;
  }
  return m;
}

// Standard normal CDF.
inline double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

}  // namespace convgen::testing

#endif  // CONVGEN_TESTS_TESTING_GOODNESS_OF_FIT_H_
