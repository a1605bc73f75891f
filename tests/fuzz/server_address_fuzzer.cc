// Fuzz target: arbitrary bytes as the client's --server address and, as 8
// bytes, as a --timeout. Invariants: nothing crashes; a refusal says why;
// http:// and https:// are always refused; an accepted address without a
// gRPC scheme ends in :PORT with PORT in 1..65535; a duration is accepted
// iff it is 0 or finite in [0.001, a year].
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "client/command_options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view address(reinterpret_cast<const char*>(data), size);
  const absl::Status checked = convgen::CheckServerAddress(address);
  if (!checked.ok() && checked.message().empty()) std::abort();
  const std::string lower = absl::AsciiStrToLower(address);
  if (checked.ok()) {
    if (absl::StartsWith(lower, "http://") || absl::StartsWith(lower, "https://")) std::abort();
    bool scheme = false;
    for (const char* s : {"dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:"}) {
      scheme = scheme || absl::StartsWith(lower, s);
    }
    if (!scheme) {
      const size_t colon = address.rfind(':');
      int port = 0;
      if (colon == absl::string_view::npos || colon == 0 ||
          !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 || port > 65535) {
        std::abort();
      }
    }
  }
  if (size == sizeof(double)) {
    double seconds;
    std::memcpy(&seconds, data, sizeof(seconds));
    const bool accepted = convgen::CheckSeconds("timeout", seconds).ok();
    const bool expected =
        seconds == 0 || (std::isfinite(seconds) && seconds >= 0.001 && seconds <= 31536000);
    if (accepted != expected) std::abort();
  }
  return 0;
}
