// Shape: the sizes of real traffic, read from a ShareGPT file or a
// Mooncake-style trace, without its text: per record (a conversation, or a
// trace's request) every message's token count, and for traces the arrival
// time and the prefix blocks (hash_ids). The readers (sharegpt_reader.h,
// mooncake_reader.h) make one; the planner replays it (record i mod N) or
// samples from it (FitShape). Immutable once made; shared across requests
// (ShapeCache) and threads.
#ifndef CONVGEN_CORE_SHAPE_SHAPE_H_
#define CONVGEN_CORE_SHAPE_SHAPE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/distributions/int_distribution.h"

namespace convgen {

enum class ShapeKind { kShareGpt, kMooncake };

// Bounds on what a shape file may hold (beyond its byte size, which the
// request's corpus limits bound).
inline constexpr int64_t kMaxShapeRecords = 1'000'000;
// Messages of one ShareGPT conversation, as the file lists them.
inline constexpr int64_t kMaxShapeMessages = 65536;
// A trace's lengths and hash_ids per request.
inline constexpr int64_t kMaxShapeLength = 1'000'000'000;
inline constexpr int64_t kMaxShapeHashIds = 65536;
// A trace's timestamps, in ms (about 285 years).
inline constexpr int64_t kMaxShapeTimestampMs = int64_t{1} << 53;

struct ShapeRecord {
  // User, assistant, user, ... : even, at least 2.
  std::vector<int64_t> message_tokens;
  // Mooncake: the request's timestamp (ms), -1 when the trace has none;
  // relative to the trace's first (smallest) timestamp, so the earliest
  // request is at 0 (see Shape::timestamp_offset_ms).
  int64_t timestamp_ms = -1;
  // Mooncake: its prefix blocks, each block_size tokens.
  std::vector<int64_t> hash_ids;
};

// What reading a ShareGPT file changed to make conversations of it (see
// sharegpt_reader.h), for the summary.
struct ShapeNotes {
  int64_t records_read = 0;      // records in the file
  int64_t records_skipped = 0;   // fewer than 2 messages after the rules
  int64_t system_dropped = 0;    // "system" messages
  int64_t empty_dropped = 0;     // messages with an empty value
  int64_t leading_dropped = 0;   // assistant messages before the first user one
  int64_t merged = 0;            // messages merged into the one before (same role)
  int64_t trailing_dropped = 0;  // a last user message without an answer
};

struct Shape {
  ShapeKind kind = ShapeKind::kShareGpt;
  std::vector<ShapeRecord> records;  // at least one
  ShapeNotes notes;
  // Traces: the smallest timestamp of the file, subtracted from every
  // record's (a trace cut from a longer one, or with epoch times, starts at 0).
  int64_t timestamp_offset_ms = 0;

  // Whether every record has a timestamp (traces only).
  bool has_timestamps() const { return !records.empty() && records.front().timestamp_ms >= 0; }
};

// The size distributions of a shape, for mode "fit": each the empirical
// distribution of the values the source holds (weights = how often).
struct FittedShape {
  IntDistribution messages = IntDistribution::MakeConstant(2);  // per conversation
  IntDistribution first_user = IntDistribution::MakeConstant(1);
  // User messages after the first (absent when no record has any).
  std::optional<IntDistribution> later_user;
  IntDistribution assistant = IntDistribution::MakeConstant(1);
  // Traces with timestamps: conversation i arrives at i * span_ms / gaps
  // (span_ms -1 when the trace has none): the span of the arrivals over the
  // gaps in it (records - 1), the trace's mean rate; a trace whose arrivals
  // all fall on one ms (one record, or equal timestamps) arrives as it
  // replays, its N records at once each ms (span 1, gaps N).
  int64_t span_ms = -1;
  int64_t gaps = 0;
};

FittedShape FitShape(const Shape& shape);

// The heap bytes a shape takes: its vectors' capacities, each allocation
// rounded up as glibc's malloc does (16-byte steps, 8 bytes of header, 32 at
// least). What a cached shape holds in the memory budget.
int64_t ShapeBytes(const Shape& shape);
// What reading a trace may take in records per byte of its text, for the
// reservation made before reading it (then resized to ShapeBytes): a short
// trace line ({"input_length":1,"output_length":1}, 37 bytes) makes a
// 56-byte record, a 32-byte allocation and vector slack; a hash id takes 8
// bytes for 2 or more of text.
inline constexpr int64_t kShapeBytesPerTextByte = 4;
// A ShareGPT message is 8 bytes of count for at least ~30 of JSON.
inline constexpr int64_t kShareGptShapeBytesPerTextByte = 1;

// The spacing of arrivals when a trace of N records is replayed past its end:
// conversation i arrives at timestamp(i mod N) + (i / N) * period, where the
// period is the trace's span (last - first timestamp) plus its mean gap, so
// that the repeats follow each other at the trace's own rate; at least 1 ms,
// so that the laps of a one-record trace (or of one whose timestamps are all
// equal) come one ms after each other rather than all at once. 0 without
// timestamps.
int64_t ReplayPeriodMs(const Shape& shape);

// Arrivals are exact integers in JSON only up to 2^53 (what a JSON consumer
// holds as a double).
inline constexpr int64_t kMaxArrivalMs = int64_t{1} << 53;

// One size's statistics over the records.
struct SizeSummary {
  int64_t count = 0;
  double mean = 0;
  int64_t p50 = 0, p90 = 0, p99 = 0, max = 0;
};
// Nearest-rank quantiles of values (unsorted); all zero when empty.
SizeSummary Summarize(std::vector<int64_t> values);

// The shape as `convgen describe-shape` prints it: the records, what the
// reader changed, and per size (messages per conversation, first user,
// later user, assistant; traces: input, output, hash_ids, gaps) its count,
// mean, p50, p90, p99 and max. `source` names the file.
std::string DescribeShape(const Shape& shape, const std::string& source);

}  // namespace convgen

#endif  // CONVGEN_CORE_SHAPE_SHAPE_H_
