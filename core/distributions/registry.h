// The distribution registry: one DistributionKind per kind of sampled
// integer field (constant, uniform, lognormal, ...), each defined in its own
// file beside this one, and the functions that read, write and check a
// distribution by dispatching on the kinds instead of switching on them.
//
// A kind's file holds everything about it: its parameters and samplers (the
// IntDistribution side, see int_distribution.h), its JSON fields, its rules
// and its proto conversion (the DistributionKind below). Adding a kind: its
// file, its proto message in config.proto, one line in the table in
// registry.cc (and in IntDistribution::Params), and a README row.
//
// The table is immutable; every function here is thread-safe.
#ifndef CONVGEN_CORE_DISTRIBUTIONS_REGISTRY_H_
#define CONVGEN_CORE_DISTRIBUTIONS_REGISTRY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "convgen/v1/config.pb.h"
#include "core/distributions/int_distribution.h"
#include "core/json/config_errors.h"
#include "core/json/json_fields.h"
#include "core/json/rule_checker.h"
#include "nlohmann/json.hpp"

namespace convgen {

// The config half of one kind: how it reads from and writes to vLLM's JSON,
// which proto oneof case(s) hold it, and its rules. Plain function pointers,
// so a kind is a constant that needs no initialization order.
struct DistributionKind {
  // The JSON "distribution" value, e.g. "uniform".
  absl::string_view json_name;
  // Whether the object's optional "max" (Distribution.max) caps the samples.
  // Kinds that take none report a "max" there (uniform reads its own).
  bool takes_cap;
  // Returns true iff `d`'s oneof holds this kind.
  bool (*holds)(const v1::Distribution& d);
  // Reads the kind's fields (not "distribution", not the cap) into `out`.
  // Returns false after a problem that leaves the other keys meaningless:
  // then they are not reported as unknown.
  bool (*read_json)(JsonObjectReader& reader, v1::Distribution& out);
  // Writes the kind's fields (not "distribution", not the cap) to `out`.
  void (*write_json)(const v1::Distribution& d, nlohmann::ordered_json& out);
  // Checks the kind's rules, reporting each problem through `check`, and
  // returns the distribution (cap: the checked cap, 0 if none). The result
  // is used only if check.ok().
  std::optional<IntDistribution> (*check)(const v1::Distribution& d, int64_t cap,
                                          RuleChecker& check);
};

// Every kind, in the order error messages list them.
absl::Span<const DistributionKind* const> DistributionKinds();

// Returns the kind `d` holds, or null if its oneof is unset.
const DistributionKind* KindOf(const v1::Distribution& d);

// Reads the distribution object `value` at JSON path `path` into `out`,
// adding every problem (syntax, types, field names) to `errors`.
void ReadDistributionJson(const nlohmann::ordered_json& value, const std::string& path,
                          ConfigErrors& errors, v1::Distribution& out);

// Returns `d` as vLLM's JSON object ("distribution" first, "max" last).
nlohmann::ordered_json DistributionToJson(const v1::Distribution& d);

// Checks every rule of `d` (at JSON path `path`), adding each problem to
// `errors`. Returns the distribution iff there were none.
std::optional<IntDistribution> CheckDistribution(const v1::Distribution& d, const std::string& path,
                                                 ConfigErrors& errors);

// For a size a kind can return as it is (a constant, uniform's bounds, an
// empirical value): checks that it is >= `lowest` and <= kMaxSampleValue
// (2^62), so every sample fits the contract of IntDistribution::Sample and
// sums of a few sizes cannot overflow. Reports at `field`, naming the value.
void CheckSampleValue(absl::string_view field, int64_t value, int64_t lowest, RuleChecker& check);

// For kinds with weights (empirical, mixture): checks that each is finite
// and >= 0 (reported at field_of(i)) and that their sum is positive.
void CheckWeights(const std::vector<double>& weights, RuleChecker& check,
                  const std::function<std::string(size_t)>& field_of);

}  // namespace convgen

#endif  // CONVGEN_CORE_DISTRIBUTIONS_REGISTRY_H_
