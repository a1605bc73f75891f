// SHA-256 of a byte string (OpenSSL), as 64 lowercase hex digits.
#ifndef CONVGEN_CORE_SHA256_H_
#define CONVGEN_CORE_SHA256_H_

#include <string>

#include "absl/strings/string_view.h"

namespace convgen {

std::string Sha256Hex(absl::string_view bytes);

}  // namespace convgen

#endif  // CONVGEN_CORE_SHA256_H_
