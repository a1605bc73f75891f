#include "core/distributions/int_distribution.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/random/random_stream.h"
#include "gtest/gtest.h"
#include "tests/testing/goodness_of_fit.h"

namespace convgen {
namespace {

using Pmf = std::function<double(int64_t)>;
using testing::ChiSquare;
using testing::NormalCdf;
using testing::PmfMoments;

constexpr int kDraws = 200000;
// Goodness-of-fit significance level, as the issue sets it.
constexpr double kAlpha = 0.001;

// Draws n samples, sample i from stream (seed, i, field 1, draw 0): one
// independent stream per conversation, as the planner uses them.
std::vector<int64_t> Draw(const IntDistribution& d, uint64_t seed, int n = kDraws) {
  std::vector<int64_t> samples;
  samples.reserve(n);
  for (int i = 0; i < n; ++i) {
    RandomStream stream({.seed = seed, .index = static_cast<uint64_t>(i), .field = 1, .draw = 0});
    samples.push_back(d.Sample(stream));
  }
  return samples;
}

std::map<int64_t, int64_t> Histogram(const std::vector<int64_t>& samples) {
  std::map<int64_t, int64_t> counts;
  for (int64_t s : samples) counts[s]++;
  return counts;
}

Pmf UniformPmf(int64_t min, int64_t max) {
  return [=](int64_t k) {
    return k >= min && k <= max ? 1.0 / static_cast<double>(max - min + 1) : 0.0;
  };
}

Pmf PoissonPmf(double lambda) {
  return [=](int64_t k) {
    return k < 0
               ? 0.0
               : std::exp(k * std::log(lambda) - lambda - std::lgamma(static_cast<double>(k) + 1));
  };
}

double RiemannZeta(double a) {
  // Direct sum plus the Euler-Maclaurin tail from N on.
  constexpr int kN = 1000;
  double sum = 0;
  for (int k = 1; k < kN; ++k) sum += std::pow(k, -a);
  const double n = kN;
  return sum + std::pow(n, 1 - a) / (a - 1) + std::pow(n, -a) / 2 + a * std::pow(n, -a - 1) / 12 -
         a * (a + 1) * (a + 2) * std::pow(n, -a - 3) / 720;
}

Pmf ZipfPmf(double alpha) {
  const double zeta = RiemannZeta(alpha);
  return [=](int64_t k) { return k < 1 ? 0.0 : std::pow(k, -alpha) / zeta; };
}

// exp(Normal(mu, sigma)) rounded to the nearest integer.
Pmf RoundedLognormalPmf(double mu, double sigma) {
  return [=](int64_t k) {
    if (k < 0) return 0.0;
    const auto cdf = [&](double x) { return x <= 0 ? 0.0 : NormalCdf((std::log(x) - mu) / sigma); };
    return cdf(k + 0.5) - cdf(k - 0.5);
  };
}

// The pmf of a continuous distribution with cdf F rounded to the nearest
// integer (ties have measure zero), for integers >= support_min.
Pmf RoundedPmf(std::function<double(double)> cdf) {
  return [=](int64_t k) { return cdf(k + 0.5) - cdf(k - 0.5); };
}

// Normal(mean, stddev) rounded, then clamped to [min, max].
Pmf ClampedNormalPmf(double mean, double stddev, int64_t min, int64_t max) {
  const auto cdf = [=](double x) { return NormalCdf((x - mean) / stddev); };
  return [=](int64_t k) {
    if (k < min || k > max) return 0.0;
    if (k == min) return cdf(min + 0.5);
    if (k == max) return 1.0 - cdf(max - 0.5);
    return cdf(k + 0.5) - cdf(k - 0.5);
  };
}

Pmf ExponentialPmf(double mean) {
  return RoundedPmf([=](double x) { return x <= 0 ? 0.0 : 1.0 - std::exp(-x / mean); });
}

Pmf ParetoPmf(double alpha, double scale) {
  return RoundedPmf([=](double x) { return x <= scale ? 0.0 : 1.0 - std::pow(scale / x, alpha); });
}

Pmf MixturePmf(std::vector<std::pair<double, Pmf>> parts) {
  double total = 0;
  for (const auto& [w, pmf] : parts) total += w;
  return [=](int64_t k) {
    double p = 0;
    for (const auto& [w, pmf] : parts) p += w / total * pmf(k);
    return p;
  };
}

// The pmf of min(X, cap).
Pmf Capped(const Pmf& pmf, int64_t support_min, int64_t cap) {
  double below = 0;
  for (int64_t k = support_min; k < cap; ++k) below += pmf(k);
  const double at_cap = 1.0 - below;
  return [=](int64_t k) { return k < cap ? pmf(k) : k == cap ? at_cap : 0.0; };
}

struct FitCase {
  std::string name;
  IntDistribution distribution;
  Pmf pmf;
  int64_t support_min;
  // Range that holds all but a negligible mass, for the moments; empty
  // (max < min) when a moment is infinite.
  int64_t moments_min;
  int64_t moments_max;
  bool check_variance;
};

void PrintTo(const FitCase& c, std::ostream* os) { *os << c.name; }

class GoodnessOfFitTest : public ::testing::TestWithParam<FitCase> {};

TEST_P(GoodnessOfFitTest, ChiSquareAndMoments) {
  const FitCase& c = GetParam();
  const std::vector<int64_t> samples = Draw(c.distribution, /*seed=*/20261125);

  const testing::ChiSquareResult fit = ChiSquare(Histogram(samples), c.pmf, c.support_min);
  EXPECT_GT(fit.p_value, kAlpha) << c.name << ": " << fit.ToString();
  EXPECT_GT(fit.degrees_of_freedom, 0);

  if (c.moments_max < c.moments_min) return;
  const testing::Moments m = PmfMoments(c.pmf, c.moments_min, c.moments_max);
  double mean = 0;
  for (int64_t s : samples) mean += static_cast<double>(s);
  mean /= samples.size();
  double variance = 0;
  for (int64_t s : samples) variance += (s - mean) * (s - mean);
  variance /= samples.size() - 1;
  // Tolerances: 5 standard errors of the sample mean and sample variance.
  const double n = samples.size();
  EXPECT_NEAR(mean, m.mean, 5 * std::sqrt(m.variance / n)) << c.name;
  if (c.check_variance) {
    const double variance_se = std::sqrt((m.fourth_central - m.variance * m.variance) / n);
    EXPECT_NEAR(variance, m.variance, 5 * variance_se + 1e-12) << c.name;
  }
}

double LognormalMu(double average, double ratio) { return std::log(average * ratio); }
double LognormalSigma(double ratio) { return std::sqrt(2 * std::log(1 / ratio)); }

std::vector<FitCase> FitCases() {
  std::vector<FitCase> cases;
  cases.push_back(
      {"uniform_1_10", IntDistribution::MakeUniform(1, 10), UniformPmf(1, 10), 1, 1, 10, true});
  cases.push_back({"uniform_120_160", IntDistribution::MakeUniform(120, 160), UniformPmf(120, 160),
                   120, 120, 160, true});
  cases.push_back({"lognormal_mean6.5_sigma0.5", IntDistribution::MakeLognormal(6.5, 0.5, 0),
                   RoundedLognormalPmf(6.5, 0.5), 0, 0, 40000, true});
  cases.push_back({"lognormal_mean2_sigma1", IntDistribution::MakeLognormal(2.0, 1.0, 0),
                   RoundedLognormalPmf(2.0, 1.0), 0, 0, 60000, true});
  cases.push_back({"lognormal_average1000", IntDistribution::MakeLognormalByAverage(1000, 0.85, 0),
                   RoundedLognormalPmf(LognormalMu(1000, 0.85), LognormalSigma(0.85)), 0, 0, 100000,
                   true});
  cases.push_back(
      {"lognormal_average200_ratio0.5", IntDistribution::MakeLognormalByAverage(200, 0.5, 0),
       RoundedLognormalPmf(LognormalMu(200, 0.5), LognormalSigma(0.5)), 0, 0, 2000000, true});
  cases.push_back({"lognormal_mean6.5_sigma0.5_cap800",
                   IntDistribution::MakeLognormal(6.5, 0.5, 800),
                   Capped(RoundedLognormalPmf(6.5, 0.5), 0, 800), 0, 0, 800, true});
  cases.push_back({"zipf_1.5_cap20", IntDistribution::MakeZipf(1.5, 20),
                   Capped(ZipfPmf(1.5), 1, 20), 1, 1, 20, true});
  // Mean finite, variance infinite: fit only.
  cases.push_back({"zipf_2.5", IntDistribution::MakeZipf(2.5, 0), ZipfPmf(2.5), 1, 1, 0, false});
  cases.push_back(
      {"zipf_4", IntDistribution::MakeZipf(4.0, 0), ZipfPmf(4.0), 1, 1, 1000000, false});
  cases.push_back(
      {"poisson_3.5", IntDistribution::MakePoisson(3.5, 0), PoissonPmf(3.5), 0, 0, 100, true});
  cases.push_back(
      {"poisson_140", IntDistribution::MakePoisson(140, 0), PoissonPmf(140), 0, 0, 1000, true});
  cases.push_back({"poisson_140_cap130", IntDistribution::MakePoisson(140, 130),
                   Capped(PoissonPmf(140), 0, 130), 0, 0, 130, true});
  cases.push_back({"poisson_1e6", IntDistribution::MakePoisson(1e6, 0), PoissonPmf(1e6), 0,
                   1000000 - 40000, 1000000 + 40000, true});
  // convgen's own distributions.
  cases.push_back({"normal_500_100", IntDistribution::MakeNormal(500, 100, 0, 0),
                   ClampedNormalPmf(500, 100, 0, 1 << 30), 0, 0, 2000, true});
  cases.push_back({"normal_clamped_100_200", IntDistribution::MakeNormal(150, 40, 100, 200),
                   ClampedNormalPmf(150, 40, 100, 200), 100, 100, 200, true});
  cases.push_back({"exponential_200", IntDistribution::MakeExponential(200, 0), ExponentialPmf(200),
                   0, 0, 20000, true});
  cases.push_back({"exponential_50_cap100", IntDistribution::MakeExponential(50, 100),
                   Capped(ExponentialPmf(50), 0, 100), 0, 0, 100, true});
  cases.push_back({"pareto_3_scale100", IntDistribution::MakePareto(3, 100, 0), ParetoPmf(3, 100),
                   100, 100, 0, false});
  cases.push_back({"pareto_1.2_scale10_cap5000", IntDistribution::MakePareto(1.2, 10, 5000),
                   Capped(ParetoPmf(1.2, 10), 10, 5000), 10, 10, 5000, true});
  cases.push_back(
      {"empirical_weighted",
       IntDistribution::MakeEmpirical({128, 256, 512, 2048}, {0.4, 0.3, 0.2, 0.1}),
       [](int64_t k) {
         return k == 128 ? 0.4 : k == 256 ? 0.3 : k == 512 ? 0.2 : k == 2048 ? 0.1 : 0.0;
       },
       128, 128, 2048, true});
  cases.push_back({"empirical_equal", IntDistribution::MakeEmpirical({3, 5, 7}, {}),
                   [](int64_t k) { return k == 3 || k == 5 || k == 7 ? 1.0 / 3 : 0.0; }, 3, 3, 7,
                   true});
  cases.push_back({"mixture_uniform_poisson_cap200",
                   IntDistribution::MakeMixture(
                       {IntDistribution::MakeUniform(1, 50), IntDistribution::MakePoisson(150, 0)},
                       {3, 7}, 200),
                   Capped(MixturePmf({{3, UniformPmf(1, 50)}, {7, PoissonPmf(150)}}), 1, 200), 1, 1,
                   200, true});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Distributions, GoodnessOfFitTest, ::testing::ValuesIn(FitCases()),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

TEST(IntDistributionTest, ConstantAlwaysReturnsItsValue) {
  for (int64_t value : {int64_t{0}, int64_t{1}, int64_t{12345}}) {
    const std::vector<int64_t> samples = Draw(IntDistribution::MakeConstant(value), 7, 1000);
    EXPECT_TRUE(std::all_of(samples.begin(), samples.end(), [&](int64_t s) { return s == value; }));
  }
}

TEST(IntDistributionTest, UniformCoversTheWholeInt64Span) {
  const int64_t max = INT64_MAX;
  const std::vector<int64_t> samples = Draw(IntDistribution::MakeUniform(1, max), 8, 10000);
  int64_t above_half = 0;
  for (int64_t s : samples) {
    ASSERT_GE(s, 1);
    above_half += s > max / 2;
  }
  EXPECT_NEAR(above_half, 5000, 250);  // Binomial sd 50
}

TEST(IntDistributionTest, LognormalByAverageHasRequestedMeanAndMedianRatio) {
  for (const auto& [average, ratio] :
       std::vector<std::pair<double, double>>{{1000, 0.85}, {300, 0.6}}) {
    std::vector<int64_t> samples =
        Draw(IntDistribution::MakeLognormalByAverage(average, ratio, 0), 9);
    double sum = 0;
    for (int64_t s : samples) sum += static_cast<double>(s);
    const double mean = sum / samples.size();
    // The sd of the lognormal is average * sqrt(1/ratio^2 - 1); 5 standard
    // errors of the mean.
    const double sd = average * std::sqrt(1 / (ratio * ratio) - 1);
    EXPECT_NEAR(mean, average, 5 * sd / std::sqrt(samples.size())) << average << " " << ratio;
    std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
    const double median = samples[samples.size() / 2];
    // Median's standard error is about 1.2533 sd_log * median / sqrt(n): < 0.4%
    // here; allow 1.5% of the ratio.
    EXPECT_NEAR(median / average, ratio, 0.015 * ratio) << average << " " << ratio;
  }
}

TEST(IntDistributionTest, CapsHold) {
  const std::vector<IntDistribution> capped = {
      IntDistribution::MakeLognormal(6.5, 2.0, 100), IntDistribution::MakeZipf(1.2, 5),
      IntDistribution::MakePoisson(1e6, 999000),
      IntDistribution::MakeLognormalByAverage(5000, 0.3, 4000)};
  for (const IntDistribution& d : capped) {
    const std::vector<int64_t> samples = Draw(d, 10, 20000);
    const int64_t max = *std::max_element(samples.begin(), samples.end());
    EXPECT_EQ(max, d.cap()) << d.ToString();  // reached, never exceeded
  }
}

TEST(IntDistributionTest, HeavyTailsSaturateInsteadOfOverflowing) {
  // alpha barely above 1: most raw draws exceed int64; they saturate.
  const std::vector<int64_t> zipf = Draw(IntDistribution::MakeZipf(1.0001, 0), 11, 2000);
  for (int64_t s : zipf) {
    ASSERT_GE(s, 1);
    ASSERT_LE(s, kMaxSampleValue);
  }
  EXPECT_EQ(*std::max_element(zipf.begin(), zipf.end()), kMaxSampleValue);
  const std::vector<int64_t> lognormal =
      Draw(IntDistribution::MakeLognormal(1.0, 1e300, 0), 12, 2000);
  for (int64_t s : lognormal) {
    ASSERT_GE(s, 0);
    ASSERT_LE(s, kMaxSampleValue);
  }
  const std::vector<int64_t> poisson = Draw(IntDistribution::MakePoisson(1e15, 0), 13, 100);
  for (int64_t s : poisson) EXPECT_NEAR(static_cast<double>(s), 1e15, 6 * std::sqrt(1e15));
}

TEST(IntDistributionTest, ZipfWithLargeAlphaIsAlmostAlwaysOne) {
  const std::vector<int64_t> samples = Draw(IntDistribution::MakeZipf(1000, 0), 14, 1000);
  EXPECT_TRUE(std::all_of(samples.begin(), samples.end(), [](int64_t s) { return s == 1; }));
}

TEST(LogGammaTest, MatchesLibm) {
  for (double x : {1.0, 1.5, 2.0, 3.0, 6.5, 7.0, 10.0, 101.0, 1e6 + 1, 1e15}) {
    EXPECT_NEAR(LogGamma(x), std::lgamma(x), 1e-9 * std::max(1.0, std::fabs(std::lgamma(x)))) << x;
  }
}

// Golden samples: pinned so that a change to any sampler, or to how it reads
// the stream, fails here before it silently changes users' workloads.
TEST(IntDistributionTest, GoldenSamples) {
  const auto first_five = [](const IntDistribution& d) { return Draw(d, /*seed=*/42, 5); };
  EXPECT_EQ(first_five(IntDistribution::MakeUniform(12, 18)),
            (std::vector<int64_t>{17, 12, 12, 18, 14}));
  EXPECT_EQ(first_five(IntDistribution::MakeLognormalByAverage(1000, 0.85, 5000)),
            (std::vector<int64_t>{715, 836, 731, 915, 1386}));
  EXPECT_EQ(first_five(IntDistribution::MakeLognormal(6.5, 0.5, 3000)),
            (std::vector<int64_t>{572, 655, 583, 709, 1021}));
  EXPECT_EQ(first_five(IntDistribution::MakeZipf(1.5, 20)),
            (std::vector<int64_t>{17, 1, 1, 20, 2}));
  EXPECT_EQ(first_five(IntDistribution::MakePoisson(140, 400)),
            (std::vector<int64_t>{150, 128, 123, 168, 133}));
  EXPECT_EQ(first_five(IntDistribution::MakePoisson(3.5, 0)),
            (std::vector<int64_t>{3, 1, 1, 2, 4}));
}

}  // namespace
}  // namespace convgen
