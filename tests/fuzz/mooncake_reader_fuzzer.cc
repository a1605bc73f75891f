// Fuzz target: arbitrary bytes as a Mooncake-style JSONL trace. Invariants:
// nothing crashes; a refusal names a line; a shape read has records of two
// messages with lengths and ids in range, timestamps all or none; its
// summary and fit can be made.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "core/shape/mooncake_reader.h"
#include "core/shape/shape.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<convgen::Shape> shape = convgen::ReadMooncakeTrace(text);
  if (!shape.ok()) {
    const absl::string_view message = shape.status().message();
    if (!absl::StartsWith(message, "line ") && !absl::StrContains(message, "no request")) {
      std::abort();
    }
    return 0;
  }
  if (shape->records.empty()) std::abort();
  const bool timed = shape->records.front().timestamp_ms >= 0;
  for (const convgen::ShapeRecord& r : shape->records) {
    if (r.message_tokens.size() != 2) std::abort();
    for (int64_t t : r.message_tokens) {
      if (t < 1 || t > convgen::kMaxShapeLength) std::abort();
    }
    if ((r.timestamp_ms >= 0) != timed || r.timestamp_ms > convgen::kMaxShapeTimestampMs) {
      std::abort();
    }
    for (int64_t id : r.hash_ids) {
      if (id < 0) std::abort();
    }
  }
  if (convgen::ReplayPeriodMs(*shape) < 0) std::abort();
  if (convgen::DescribeShape(*shape, "fuzz").empty()) std::abort();
  (void)convgen::FitShape(*shape);
  return 0;
}
