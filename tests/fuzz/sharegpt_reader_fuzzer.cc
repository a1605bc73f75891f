// Fuzz target: arbitrary bytes as a ShareGPT file. Invariants: nothing
// crashes; a refusal says why; a shape read has at least one record, each an
// even number (>= 2) of messages with positive counts (the counter is the
// byte length, and empty values are dropped), within the bounds; the
// summary can be written.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "core/shape/shape.h"
#include "core/shape/sharegpt_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<convgen::Shape> shape = convgen::ReadShareGpt(
      text, [](absl::string_view value) { return static_cast<int64_t>(value.size()); });
  if (!shape.ok()) {
    if (shape.status().message().empty()) std::abort();
    return 0;
  }
  if (shape->records.empty()) std::abort();
  for (const convgen::ShapeRecord& r : shape->records) {
    const size_t n = r.message_tokens.size();
    if (n < 2 || n % 2 != 0 || n > static_cast<size_t>(convgen::kMaxShapeMessages)) std::abort();
    for (int64_t t : r.message_tokens) {
      if (t <= 0 || t > static_cast<int64_t>(size)) std::abort();
    }
  }
  if (convgen::DescribeShape(*shape, "fuzz").empty()) std::abort();
  (void)convgen::FitShape(*shape);
  return 0;
}
