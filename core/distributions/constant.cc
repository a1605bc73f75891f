#include "core/distributions/constant.h"

#include "absl/strings/str_cat.h"
#include "core/distributions/registry.h"

namespace convgen {

int64_t ConstantParams::Sample(RandomStream& stream) const { return value; }

std::vector<int64_t> ConstantParams::SampleLikeVllm(int64_t count, int64_t cap,
                                                    NumpyRandomState& state) const {
  return std::vector<int64_t>(static_cast<size_t>(count), value);
}

std::string ConstantParams::ToString() const { return absl::StrCat("constant(", value, ")"); }

namespace {

bool HoldsConstant(const v1::Distribution& d) { return d.has_constant(); }

bool ReadConstant(JsonObjectReader& reader, v1::Distribution& out) {
  v1::ConstantDistribution& constant = *out.mutable_constant();
  if (auto v = reader.Int("value", true)) constant.set_value(*v);
  return true;
}

void WriteConstant(const v1::Distribution& d, nlohmann::ordered_json& out) {
  out["value"] = d.constant().value();
}

std::optional<IntDistribution> CheckConstant(const v1::Distribution& d, int64_t cap,
                                             RuleChecker& check) {
  const int64_t value = d.constant().value();
  CheckSampleValue("value", value, 0, check);
  return IntDistribution(ConstantParams{value}, 0);
}

}  // namespace

const DistributionKind& ConstantKind() {
  static constexpr DistributionKind kKind = {"constant",   /*takes_cap=*/false, HoldsConstant,
                                             ReadConstant, WriteConstant,       CheckConstant};
  return kKind;
}

}  // namespace convgen
