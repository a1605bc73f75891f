#include "core/distributions/zipf.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/distributions/registry.h"
#include "core/distributions/sampling.h"

namespace convgen {
namespace {

constexpr double kMaxSampleDouble = static_cast<double>(kMaxSampleValue);

// numpy's legacy_random_zipf.
int64_t LegacyZipf(NumpyRandomState& state, double alpha) {
  const double am1 = alpha - 1.0;
  const double b = std::pow(2.0, am1);
  while (true) {
    const double u = 1.0 - state.NextDouble();
    const double v = state.NextDouble();
    const double x = std::floor(std::pow(u, -1.0 / am1));
    if (x > static_cast<double>(std::numeric_limits<int64_t>::max()) || x < 1.0) {
      continue;
    }
    const double t = std::pow(1.0 + 1.0 / x, am1);
    if (v * x * (t - 1.0) / (b - 1.0) <= t / b) return SaturateToInt(x);
  }
}

}  // namespace

int64_t SampleZipf(RandomStream& stream, double alpha) {
  // Devroye, "Non-Uniform Random Variate Generation", p. 551, as numpy's
  // random_zipf. numpy rejects draws beyond int64; here they saturate at
  // kMaxSampleValue instead (the acceptance test is run at that value), so
  // an alpha close to 1 cannot loop for long.
  const double am1 = alpha - 1.0;
  const double b = std::pow(2.0, am1);
  while (true) {
    const double u = stream.NextDoubleNonZero();
    const double v = stream.NextDouble();
    const double x = std::min(std::floor(std::pow(u, -1.0 / am1)), kMaxSampleDouble);
    const double t = std::pow(1.0 + 1.0 / x, am1);
    if (v * x * (t - 1.0) / (b - 1.0) <= t / b) return SaturateToInt(x);
  }
}

int64_t ZipfParams::Sample(RandomStream& stream) const { return SampleZipf(stream, alpha); }

std::vector<int64_t> ZipfParams::SampleLikeVllm(int64_t count, int64_t cap,
                                                NumpyRandomState& state) const {
  std::vector<int64_t> out(static_cast<size_t>(count));
  for (int64_t& v : out) v = ApplyCap(LegacyZipf(state, alpha), cap);
  return out;
}

std::string ZipfParams::ToString() const { return absl::StrCat("zipf(alpha=", alpha, ")"); }

namespace {

bool HoldsZipf(const v1::Distribution& d) { return d.has_zipf(); }

bool ReadZipf(JsonObjectReader& reader, v1::Distribution& out) {
  if (auto v = reader.Number("alpha", true)) out.mutable_zipf()->set_alpha(*v);
  return true;
}

void WriteZipf(const v1::Distribution& d, nlohmann::ordered_json& out) {
  out["alpha"] = NumberToJson(d.zipf().alpha());
}

std::optional<IntDistribution> CheckZipf(const v1::Distribution& d, int64_t cap,
                                         RuleChecker& check) {
  check.CheckNumber(
      "alpha", d.zipf().alpha(), [](double v) { return v > 1 && v <= kMaxZipfAlpha; },
      "> 1 and <= 1000");
  return IntDistribution(ZipfParams{d.zipf().alpha()}, cap);
}

}  // namespace

const DistributionKind& ZipfKind() {
  static constexpr DistributionKind kKind = {"zipf",   /*takes_cap=*/true, HoldsZipf,
                                             ReadZipf, WriteZipf,          CheckZipf};
  return kKind;
}

}  // namespace convgen
