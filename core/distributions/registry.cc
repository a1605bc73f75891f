#include "core/distributions/registry.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/distributions/constant.h"
#include "core/distributions/empirical.h"
#include "core/distributions/exponential.h"
#include "core/distributions/lognormal.h"
#include "core/distributions/mixture.h"
#include "core/distributions/normal.h"
#include "core/distributions/pareto.h"
#include "core/distributions/poisson.h"
#include "core/distributions/sampling.h"
#include "core/distributions/uniform.h"
#include "core/distributions/zipf.h"
#include "core/json/config_errors.h"

namespace convgen {
namespace {

using Json = nlohmann::ordered_json;

// "constant, uniform, ...": the kinds as error messages list them.
std::string KindNames() {
  return absl::StrJoin(DistributionKinds(), ", ",
                       [](std::string* out, const DistributionKind* kind) {
                         absl::StrAppend(out, kind->json_name);
                       });
}

// "constant, uniform and empirical take no cap".
std::string NoCapMessage() {
  std::vector<absl::string_view> names;
  for (const DistributionKind* kind : DistributionKinds()) {
    if (!kind->takes_cap) names.push_back(kind->json_name);
  }
  if (names.size() == 1) return absl::StrCat(names[0], " takes no cap");
  const absl::string_view last = names.back();
  names.pop_back();
  return absl::StrCat(absl::StrJoin(names, ", "), " and ", last, " take no cap");
}

const DistributionKind* KindNamed(absl::string_view json_name) {
  for (const DistributionKind* kind : DistributionKinds()) {
    if (kind->json_name == json_name) return kind;
  }
  return nullptr;
}

// Reads the "distribution" key: returns the kind, or null after reporting a
// missing, non-string or unknown name.
const DistributionKind* ReadKind(JsonObjectReader& reader) {
  const Json* name_json = reader.Required("distribution", absl::StrCat("; one of ", KindNames()));
  if (name_json == nullptr) return nullptr;
  if (!name_json->is_string()) {
    reader.errors().Add(reader.PathOf("distribution"),
                        absl::StrCat("must be a string, one of ", KindNames(), " (got ",
                                     JsonForMessage(*name_json), ")"));
    return nullptr;
  }
  const std::string name = name_json->get<std::string>();
  const DistributionKind* kind = KindNamed(name);
  if (kind == nullptr) {
    reader.errors().Add(reader.PathOf("distribution"),
                        absl::StrCat("unknown distribution ", QuoteForMessage(name),
                                     "; expected one of ", KindNames()));
  }
  return kind;
}

// Checks Distribution.max; returns the cap, 0 if none or invalid.
int64_t CheckCap(const v1::Distribution& d, const DistributionKind* kind, RuleChecker& check) {
  if (!d.has_max()) return 0;
  if (kind != nullptr && !kind->takes_cap) {
    check.Fail("max", NoCapMessage());
  } else if (d.max() < 0) {
    check.Fail("max", absl::StrCat("must be >= 0; 0 means no cap (got ", d.max(), ")"));
  } else {
    return d.max();
  }
  return 0;
}

}  // namespace

absl::Span<const DistributionKind* const> DistributionKinds() {
  // The one list of kinds. Calling each kind's function (rather than
  // self-registration from static initializers) keeps every kind's object
  // file linked from the static library.
  static const DistributionKind* const kKinds[] = {
      &ConstantKind(), &UniformKind(),     &LognormalKind(), &ZipfKind(),      &PoissonKind(),
      &NormalKind(),   &ExponentialKind(), &ParetoKind(),    &EmpiricalKind(), &MixtureKind(),
  };
  return kKinds;
}

const DistributionKind* KindOf(const v1::Distribution& d) {
  for (const DistributionKind* kind : DistributionKinds()) {
    if (kind->holds(d)) return kind;
  }
  return nullptr;
}

void ReadDistributionJson(const Json& value, const std::string& path, ConfigErrors& errors,
                          v1::Distribution& out) {
  if (!RequireObject(value, path, R"({"distribution": "uniform", "min": 1, "max": 10})", errors)) {
    return;
  }
  JsonObjectReader reader(value, path, errors);
  const DistributionKind* kind = ReadKind(reader);
  if (kind == nullptr) return;
  if (!kind->read_json(reader, out)) return;
  if (kind->takes_cap) {
    if (std::optional<int64_t> cap = reader.Int("max", /*required=*/false)) {
      out.set_max(*cap);
    }
  }
  reader.ReportUnknownKeys(absl::StrCat(" for the ", kind->json_name, " distribution"));
}

Json DistributionToJson(const v1::Distribution& d) {
  Json out = Json::object();
  const DistributionKind* kind = KindOf(d);
  if (kind != nullptr) {
    out["distribution"] = std::string(kind->json_name);
    kind->write_json(d, out);
  }
  if ((kind == nullptr || kind->takes_cap) && d.has_max()) {
    out["max"] = d.max();
  }
  return out;
}

std::optional<IntDistribution> CheckDistribution(const v1::Distribution& d, const std::string& path,
                                                 ConfigErrors& errors) {
  RuleChecker check(path, errors);
  const DistributionKind* kind = KindOf(d);
  const int64_t cap = CheckCap(d, kind, check);
  if (kind == nullptr) {
    check.Fail("", absl::StrCat("no distribution kind set; use one of ", KindNames()));
    return std::nullopt;
  }
  std::optional<IntDistribution> result = kind->check(d, cap, check);
  if (!check.ok()) return std::nullopt;
  return result;
}

void CheckSampleValue(absl::string_view field, int64_t value, int64_t lowest, RuleChecker& check) {
  if (value < lowest || value > kMaxSampleValue) {
    check.Fail(field, absl::StrCat("must be >= ", lowest, " and <= 2^62 (got ", value, ")"));
  }
}

void CheckWeights(const std::vector<double>& weights, RuleChecker& check,
                  const std::function<std::string(size_t)>& field_of) {
  double sum = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    check.CheckNumber(
        field_of(i), weights[i], [](double v) { return v >= 0; }, ">= 0");
    if (std::isfinite(weights[i]) && weights[i] > 0) sum += weights[i];
  }
  if (!weights.empty() && !(sum > 0 && std::isfinite(sum))) {
    check.Fail("", "the weights must have a positive, finite sum");
  }
}

}  // namespace convgen
