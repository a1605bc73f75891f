#include "core/distributions/poisson.h"

#include "absl/strings/str_cat.h"
#include "core/distributions/registry.h"

namespace convgen {

double LogGamma(double x) {
  // Stirling's series after shifting x up to >= 7 (numpy's random_loggam).
  static constexpr double kCoefficients[10] = {
      8.333333333333333e-02, -2.777777777777778e-03, 7.936507936507937e-04, -5.952380952380952e-04,
      8.417508417508418e-04, -1.917526917526918e-03, 6.410256410256410e-03, -2.955065359477124e-02,
      1.796443723688307e-01, -1.39243221690590e+00};
  if (x == 1.0 || x == 2.0) return 0.0;
  const int64_t shift = x < 7.0 ? static_cast<int64_t>(7 - x) : 0;
  double x0 = x + static_cast<double>(shift);
  const double x2 = (1.0 / x0) * (1.0 / x0);
  constexpr double kLog2Pi = 1.8378770664093453e+00;
  double series = kCoefficients[9];
  for (int k = 8; k >= 0; --k) series = series * x2 + kCoefficients[k];
  double result = series / x0 + 0.5 * kLog2Pi + (x0 - 0.5) * std::log(x0) - x0;
  for (int64_t k = 1; k <= shift; ++k) {
    result -= std::log(x0 - 1.0);
    x0 -= 1.0;
  }
  return result;
}

int64_t SamplePoisson(RandomStream& stream, double lambda) {
  return PoissonDeviate(stream, lambda);
}

int64_t PoissonParams::Sample(RandomStream& stream) const { return SamplePoisson(stream, lambda); }

std::vector<int64_t> PoissonParams::SampleLikeVllm(int64_t count, int64_t cap,
                                                   NumpyRandomState& state) const {
  std::vector<int64_t> out(static_cast<size_t>(count));
  for (int64_t& v : out) v = ApplyCap(PoissonDeviate(state, lambda), cap);
  return out;
}

std::string PoissonParams::ToString() const { return absl::StrCat("poisson(lambda=", lambda, ")"); }

namespace {

bool HoldsPoisson(const v1::Distribution& d) { return d.has_poisson(); }

bool ReadPoisson(JsonObjectReader& reader, v1::Distribution& out) {
  if (auto v = reader.Number("alpha", true)) {
    out.mutable_poisson()->set_alpha(*v);
  }
  return true;
}

void WritePoisson(const v1::Distribution& d, nlohmann::ordered_json& out) {
  out["alpha"] = NumberToJson(d.poisson().alpha());
}

std::optional<IntDistribution> CheckPoisson(const v1::Distribution& d, int64_t cap,
                                            RuleChecker& check) {
  check.CheckNumber(
      "alpha", d.poisson().alpha(), [](double v) { return v > 0 && v <= kMaxPoissonAlpha; },
      "> 0 and <= 1e15");
  return IntDistribution(PoissonParams{d.poisson().alpha()}, cap);
}

}  // namespace

const DistributionKind& PoissonKind() {
  static constexpr DistributionKind kKind = {"poisson",   /*takes_cap=*/true, HoldsPoisson,
                                             ReadPoisson, WritePoisson,       CheckPoisson};
  return kKind;
}

}  // namespace convgen
