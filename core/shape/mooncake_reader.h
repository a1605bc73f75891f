// Reads a Mooncake-style trace as aiperf and Dynamo read it: JSON Lines, one
// request per line, {"timestamp": ms, "input_length": tokens, "output_length":
// tokens, "hash_ids": [block ids]}; timestamps are made relative to the
// smallest one (Shape::timestamp_offset_ms). Blank lines are
// skipped and other keys ignored (traces carry extra fields). timestamp is
// optional but all-or-none: arrival times need every request's. Each request
// becomes a two-message record. Stateless and thread-safe.
#ifndef CONVGEN_CORE_SHAPE_MOONCAKE_READER_H_
#define CONVGEN_CORE_SHAPE_MOONCAKE_READER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/shape/shape.h"

namespace convgen {

// InvalidArgument naming the line (1-based) and field for a malformed line
// ("line 3: input_length: must be 1 to 1000000000 (got 0)"), or a trace with
// no request; ResourceExhausted past kMaxShapeRecords requests.
absl::StatusOr<Shape> ReadMooncakeTrace(absl::string_view jsonl);

}  // namespace convgen

#endif  // CONVGEN_CORE_SHAPE_MOONCAKE_READER_H_
