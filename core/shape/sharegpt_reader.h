// Reads a ShareGPT file (as ShareGPT_V3_unfiltered_cleaned_split.json has
// it): a JSON list of records {"id"?, "conversations": [{"from": ROLE,
// "value": TEXT}, ...]}, other keys ignored. Only the shape is kept: each
// message's token count (the caller's counter, the request's tokenizer);
// no text is held, so memory is a few integers per message.
//
// Roles: "human"/"user" are user messages; "gpt"/"assistant" (and
// "chatgpt", "bing", "bard", "model", which some dumps use) are assistant
// messages. convgen's conversations alternate user/assistant from a user
// message, so each record is made one (vLLM's and SGLang's readers keep
// only the first exchange; this keeps them all):
//   - "system" messages and messages with an empty value are dropped;
//   - assistant messages before the first user message are dropped;
//   - consecutive messages of one role are merged into one whose count is
//     the sum of theirs;
//   - a last user message without an answer is dropped;
//   - a record left with fewer than 2 messages is skipped.
// Every change is counted in Shape::notes. Any other role, a missing or
// non-string field, or a file that is not such a list is an error naming
// the record (its index in the list) and the field.
// Stateless and thread-safe.
#ifndef CONVGEN_CORE_SHAPE_SHAREGPT_READER_H_
#define CONVGEN_CORE_SHAPE_SHAREGPT_READER_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/shape/shape.h"

namespace convgen {

// Returns the number of tokens of a message's text.
using TokenCounter = std::function<int64_t(absl::string_view)>;

// InvalidArgument naming the record and field for a malformed file, or a
// file with no usable conversation; ResourceExhausted past kMaxShapeRecords
// records or kMaxShapeMessages messages in one record.
absl::StatusOr<Shape> ReadShareGpt(absl::string_view json, const TokenCounter& count);

}  // namespace convgen

#endif  // CONVGEN_CORE_SHAPE_SHAREGPT_READER_H_
