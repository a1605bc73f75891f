// RuleChecker: collects the problems of one config object (a distribution,
// prefix_groups) at its JSON path, and remembers whether there were any.
// Not thread-safe; borrows a ConfigErrors that must outlive it.
#ifndef CONVGEN_CORE_JSON_RULE_CHECKER_H_
#define CONVGEN_CORE_JSON_RULE_CHECKER_H_

#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/json/config_errors.h"

namespace convgen {

class RuleChecker {
 public:
  RuleChecker(std::string path, ConfigErrors& errors) : path_(std::move(path)), errors_(errors) {}

  // Returns true iff no problem was reported (nor marked) so far.
  bool ok() const { return ok_; }
  // The JSON path of the object being checked.
  const std::string& path() const { return path_; }
  // Where problems go; for parts that report at their own paths.
  ConfigErrors& errors() { return errors_; }

  // Reports a problem at `field` of the object, or at the object itself
  // when `field` is empty.
  void Fail(absl::string_view field, std::string message) {
    errors_.Add(field.empty() ? path_ : JoinPath(path_, field), std::move(message));
    ok_ = false;
  }

  // A part failed and reported its own problems (a mixture's component).
  void MarkFailed() { ok_ = false; }

  // Checks that `value` is finite and lies in the range the predicate holds.
  template <class Predicate>
  void CheckNumber(absl::string_view field, double value, Predicate in_range,
                   absl::string_view rule) {
    if (!std::isfinite(value) || !in_range(value)) {
      Fail(field, absl::StrCat("must be ", rule, " (got ", value, ")"));
    }
  }

 private:
  std::string path_;
  ConfigErrors& errors_;
  bool ok_ = true;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_JSON_RULE_CHECKER_H_
