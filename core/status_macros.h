// CONVGEN_RETURN_IF_ERROR and CONVGEN_ASSIGN_OR_RETURN for absl::Status /
// absl::StatusOr, which absl 20220623 does not provide. Prefixed, so that
// they cannot clash with another library's macros of the same name.
#ifndef CONVGEN_CORE_STATUS_MACROS_H_
#define CONVGEN_CORE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns the status of `expr` from the enclosing function unless it is OK.
#define CONVGEN_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::absl::Status convgen_status_ = (expr);           \
    if (!convgen_status_.ok()) return convgen_status_; \
  } while (false)

#define CONVGEN_CONCAT_INNER_(a, b) a##b
#define CONVGEN_CONCAT_(a, b) CONVGEN_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (a StatusOr); returns its status if not OK, otherwise
// moves its value into `lhs` (which may be a declaration).
#define CONVGEN_ASSIGN_OR_RETURN(lhs, rexpr) \
  CONVGEN_ASSIGN_OR_RETURN_IMPL_(CONVGEN_CONCAT_(convgen_statusor_, __LINE__), lhs, rexpr)

#define CONVGEN_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();   \
  lhs = *std::move(statusor)

#endif  // CONVGEN_CORE_STATUS_MACROS_H_
