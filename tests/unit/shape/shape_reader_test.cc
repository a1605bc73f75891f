// The ShareGPT and Mooncake readers: what they keep of good files, the
// rules that make a ShareGPT record a conversation, and the error each kind
// of bad input gets (naming the record or line and the field).
#include <malloc.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/shape/mooncake_reader.h"
#include "core/shape/shape.h"
#include "core/shape/sharegpt_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// In ASan's and TSan's runtimes; GCC 12 ships no header declaring it.
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace convgen {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// One "token" per byte: counts a reader keeps are then easy to see.
int64_t Bytes(absl::string_view text) { return static_cast<int64_t>(text.size()); }

absl::Status ShareGptError(const std::string& json) {
  absl::StatusOr<Shape> shape = ReadShareGpt(json, Bytes);
  EXPECT_FALSE(shape.ok()) << json;
  return shape.status();
}

TEST(ShareGptReaderTest, KeepsEveryMessageCountInOrder) {
  const std::string json = R"([
    {"id": "a", "conversations": [{"from": "human", "value": "hello"},
                                  {"from": "gpt", "value": "hi there"},
                                  {"from": "human", "value": "xyz"},
                                  {"from": "gpt", "value": "ok", "markdown": {"x": [1, 2]}}]},
    {"conversations": [{"from": "user", "value": "ab"}, {"from": "assistant", "value": "abcd"}],
     "model": "x"}])";
  absl::StatusOr<Shape> shape = ReadShareGpt(json, Bytes);
  ASSERT_TRUE(shape.ok()) << shape.status();
  ASSERT_EQ(shape->records.size(), 2u);
  EXPECT_THAT(shape->records[0].message_tokens, ElementsAre(5, 8, 3, 2));
  EXPECT_THAT(shape->records[1].message_tokens, ElementsAre(2, 4));
  EXPECT_EQ(shape->records[0].timestamp_ms, -1);
  EXPECT_EQ(shape->notes.records_read, 2);
  EXPECT_EQ(shape->notes.records_skipped, 0);
}

TEST(ShareGptReaderTest, MakesAlternatingConversations) {
  // system dropped, leading gpt dropped, two humans merged (3 + 4), empty
  // value dropped, the unanswered last human dropped.
  const std::string json = R"([
    {"conversations": [{"from": "system", "value": "be nice"},
                       {"from": "gpt", "value": "welcome"},
                       {"from": "human", "value": "abc"},
                       {"from": "human", "value": "defg"},
                       {"from": "gpt", "value": ""},
                       {"from": "gpt", "value": "12"},
                       {"from": "human", "value": "unanswered"}]},
    {"conversations": [{"from": "human", "value": "alone"}]},
    {"conversations": []}])";
  absl::StatusOr<Shape> shape = ReadShareGpt(json, Bytes);
  ASSERT_TRUE(shape.ok()) << shape.status();
  ASSERT_EQ(shape->records.size(), 1u);
  EXPECT_THAT(shape->records[0].message_tokens, ElementsAre(7, 2));
  const ShapeNotes& n = shape->notes;
  EXPECT_EQ(n.records_read, 3);
  EXPECT_EQ(n.records_skipped, 2);
  EXPECT_EQ(n.system_dropped, 1);
  EXPECT_EQ(n.leading_dropped, 1);
  EXPECT_EQ(n.merged, 1);
  EXPECT_EQ(n.empty_dropped, 1);
  EXPECT_EQ(n.trailing_dropped, 2);  // "unanswered", and "alone"
}

TEST(ShareGptReaderTest, CountsWithTheCallersCounter) {
  absl::StatusOr<Shape> shape =
      ReadShareGpt(R"([{"conversations": [{"from": "human", "value": "a b c"},
                                           {"from": "gpt", "value": "Grüße"}]}])",
                   [](absl::string_view text) { return static_cast<int64_t>(text.size()) * 10; });
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_THAT(shape->records[0].message_tokens, ElementsAre(50, 70));  // "Grüße" is 7 bytes
}

TEST(ShareGptReaderTest, NamesTheRecordAndFieldOfEachProblem) {
  EXPECT_THAT(ShareGptError(R"({"conversations": []})").message(), HasSubstr("JSON list"));
  EXPECT_THAT(ShareGptError(R"(42)").message(), HasSubstr("JSON list"));
  EXPECT_THAT(ShareGptError(R"([1])").message(), HasSubstr("record 0: must be an object"));
  EXPECT_THAT(ShareGptError(R"([{"id": 1}])").message(),
              HasSubstr("record 0: missing \"conversations\""));
  EXPECT_THAT(ShareGptError(R"([{"conversations": {}}])").message(),
              HasSubstr("record 0.conversations: must be a list"));
  EXPECT_THAT(ShareGptError(R"([{"conversations": "x"}])").message(),
              HasSubstr("record 0.conversations: must be a list"));
  EXPECT_THAT(ShareGptError(R"([{"conversations": [[]]}])").message(),
              HasSubstr("record 0 conversations[0]: must be an object"));
  const std::string ok =
      R"({"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]})";
  EXPECT_THAT(
      ShareGptError("[" + ok +
                    R"(, {"conversations": [{"from": "human", "value": "a"}, {"value": "b"}]}])")
          .message(),
      HasSubstr("record 1 conversations[1]: missing \"from\""));
  EXPECT_THAT(ShareGptError(R"([{"conversations": [{"from": "human"}]}])").message(),
              HasSubstr("record 0 conversations[0]: missing \"value\""));
  EXPECT_THAT(ShareGptError(R"([{"conversations": [{"from": "human", "value": 3}]}])").message(),
              HasSubstr("record 0 conversations[0].value: must be a string"));
  EXPECT_THAT(ShareGptError(R"([{"conversations": [{"from": ["x"], "value": "a"}]}])").message(),
              HasSubstr("record 0 conversations[0].from: must be a string"));
  EXPECT_THAT(ShareGptError(R"([{"conversations": [{"from": "robot", "value": "a"}]}])").message(),
              HasSubstr("record 0 conversations[0].from: unknown role \"robot\""));
  EXPECT_THAT(ShareGptError(R"([{"conversations": [)").message(), HasSubstr("invalid JSON"));
  EXPECT_THAT(ShareGptError("[{\"conversations\": [{\"from\": \"human\", \"value\": \"\xff\"}]}]")
                  .message(),
              HasSubstr("invalid JSON"));
  EXPECT_THAT(ShareGptError(R"([])").message(), HasSubstr("no conversation"));
  EXPECT_THAT(ShareGptError(R"([{"conversations": [{"from": "gpt", "value": "a"}]}])").message(),
              HasSubstr("no conversation"));
  EXPECT_THAT(ShareGptError("").message(), HasSubstr("invalid JSON"));
}

TEST(ShareGptReaderTest, BoundsMessagesPerRecord) {
  std::string json = R"([{"conversations": [)";
  for (int64_t m = 0; m <= kMaxShapeMessages; ++m) {
    json += m == 0 ? "" : ",";
    json += m % 2 == 0 ? R"({"from":"human","value":"a"})" : R"({"from":"gpt","value":"b"})";
  }
  json += "]}]";
  const absl::Status status = ShareGptError(json);
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("record 0 has more than 65536 messages"));
}

TEST(ShareGptReaderTest, SkipsDeepValuesItDoesNotNeed) {
  std::string deep(50, '[');
  deep += std::string(50, ']');
  absl::StatusOr<Shape> shape = ReadShareGpt(
      R"([{"extra": )" + deep +
          R"(, "conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}])",
      Bytes);
  ASSERT_TRUE(shape.ok()) << shape.status();
  std::string deeper(100, '[');
  deeper += std::string(100, ']');
  EXPECT_THAT(ShareGptError(R"([{"extra": )" + deeper + "}]").message(), HasSubstr("too deep"));
}

absl::Status TraceError(const std::string& jsonl) {
  absl::StatusOr<Shape> shape = ReadMooncakeTrace(jsonl);
  EXPECT_FALSE(shape.ok()) << jsonl;
  return shape.status();
}

TEST(MooncakeReaderTest, ReadsEachLineAsATwoMessageRecord) {
  absl::StatusOr<Shape> shape = ReadMooncakeTrace(
      "{\"timestamp\": 0, \"input_length\": 655, \"output_length\": 52, \"hash_ids\": [46, 47]}\n"
      "\n"
      "{\"timestamp\": 10535.7, \"input_length\": 672, \"output_length\": 26, \"hash_ids\": [46, "
      "47], \"session\": \"s1\"}\r\n"
      "{\"timestamp\": 27482, \"input_length\": 12, \"output_length\": 1, \"hash_ids\": []}");
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(shape->kind, ShapeKind::kMooncake);
  ASSERT_EQ(shape->records.size(), 3u);
  EXPECT_THAT(shape->records[0].message_tokens, ElementsAre(655, 52));
  EXPECT_THAT(shape->records[0].hash_ids, ElementsAre(46, 47));
  EXPECT_EQ(shape->records[1].timestamp_ms, 10535);
  EXPECT_EQ(shape->records[2].timestamp_ms, 27482);
  EXPECT_TRUE(shape->records[2].hash_ids.empty());
  EXPECT_TRUE(shape->has_timestamps());
}

TEST(MooncakeReaderTest, TimestampsAreOptionalButAllOrNone) {
  absl::StatusOr<Shape> shape = ReadMooncakeTrace(R"({"input_length": 5, "output_length": 2})");
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_FALSE(shape->has_timestamps());
  EXPECT_THAT(TraceError("{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 2}\n"
                         "{\"input_length\": 5, \"output_length\": 2}")
                  .message(),
              HasSubstr("line 2: timestamp is set on some requests (line 1) and not on others"));
}

TEST(MooncakeReaderTest, NamesTheLineAndFieldOfEachProblem) {
  const std::string good = "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 2}\n";
  EXPECT_THAT(TraceError(good + "{\"timestamp\": 0, \"output_length\": 2}").message(),
              HasSubstr("line 2: input_length: missing required field"));
  EXPECT_THAT(TraceError(good + "\n{\"input_length\": 0, \"output_length\": 2, \"timestamp\": 1}")
                  .message(),
              HasSubstr("line 3: input_length: must be 1 to 1000000000 (got 0)"));
  EXPECT_THAT(TraceError(R"({"input_length": 3, "output_length": 1.5})").message(),
              HasSubstr("line 1: output_length: must be an integer"));
  EXPECT_THAT(TraceError(R"({"input_length": 3, "output_length": 1, "timestamp": -4})").message(),
              HasSubstr("line 1: timestamp: must be 0 to"));
  EXPECT_THAT(
      TraceError(R"({"input_length": 3, "output_length": 1, "timestamp": "now"})").message(),
      HasSubstr("line 1: timestamp: must be a number of milliseconds"));
  EXPECT_THAT(
      TraceError(R"({"input_length": 3, "output_length": 1, "hash_ids": [1, -2]})").message(),
      HasSubstr("line 1: hash_ids[1]: must be an integer >= 0"));
  EXPECT_THAT(TraceError(R"({"input_length": 3, "output_length": 1, "hash_ids": 7})").message(),
              HasSubstr("line 1: hash_ids: must be a list"));
  EXPECT_THAT(
      TraceError(R"({"input_length": 3, "output_length": 1, "hash_ids": [1e30]})").message(),
      HasSubstr("line 1: hash_ids[0]: must be an integer"));
  EXPECT_THAT(TraceError("[1, 2]").message(), HasSubstr("line 1: "));
  EXPECT_THAT(TraceError("{\"input_length\": 3,").message(), HasSubstr("line 1: invalid JSON"));
  EXPECT_THAT(TraceError(R"({"input_length": 3, "input_length": 4, "output_length": 1})").message(),
              HasSubstr("line 1: input_length: duplicate key"));
  EXPECT_THAT(TraceError("\n \n").message(), HasSubstr("no request"));
  EXPECT_THAT(TraceError(R"({"input_length": 99999999999999999999, "output_length": 1})").message(),
              HasSubstr("line 1: "));
}

TEST(ShapeSummaryTest, QuantilesAreNearestRank) {
  std::vector<int64_t> values;
  for (int64_t v = 100; v >= 1; --v) values.push_back(v);
  const SizeSummary s = Summarize(values);
  EXPECT_EQ(s.count, 100);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  EXPECT_EQ(s.p50, 50);
  EXPECT_EQ(s.p90, 90);
  EXPECT_EQ(s.p99, 99);
  EXPECT_EQ(s.max, 100);
  const SizeSummary one = Summarize({7});
  EXPECT_EQ(one.p50, 7);
  EXPECT_EQ(one.p99, 7);
  EXPECT_EQ(Summarize({}).count, 0);
}

TEST(ShapeSummaryTest, DescribesTheSizesOfAFile) {
  absl::StatusOr<Shape> shape = ReadShareGpt(
      R"([{"conversations": [{"from": "human", "value": "aaaa"}, {"from": "gpt", "value": "bb"},
                             {"from": "human", "value": "cccccc"}, {"from": "gpt", "value": "d"}]},
          {"conversations": [{"from": "human", "value": "aa"}, {"from": "gpt", "value": "bbbbbbb"}]}])",
      Bytes);
  ASSERT_TRUE(shape.ok()) << shape.status();
  const std::string text = DescribeShape(*shape, "chats.json");
  EXPECT_THAT(text, HasSubstr("sharegpt file chats.json: 2 conversations"));
  // first user: 4 and 2 -> mean 3.0, p50 2, max 4; assistants 2, 1, 7.
  EXPECT_THAT(
      text,
      HasSubstr(
          "first user tokens                 2        3.0        2        4        4        4"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "assistant tokens                  3        3.3        2        7        7        7"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "messages per conversation         2        3.0        2        4        4        4"));
}

TEST(MooncakeReaderTest, NumbersAreReadAsAConfigReadsThem) {
  // The timestamp bound is exact for integers; integers may be written as
  // floats (12.0, 1e0) in every field; a fractional timestamp is rounded down.
  EXPECT_THAT(
      TraceError(R"({"input_length": 3, "output_length": 1, "timestamp": 9007199254740993})")
          .message(),
      HasSubstr("timestamp: must be 0 to 9007199254740992 ms (got 9007199254740993)"));
  EXPECT_THAT(
      TraceError(R"({"input_length": 3, "output_length": 1, "timestamp": 1e300})").message(),
      HasSubstr("timestamp: must be 0 to 9007199254740992 ms"));
  absl::StatusOr<Shape> shape = ReadMooncakeTrace(
      "{\"timestamp\": 0, \"input_length\": 50.0, \"output_length\": 1, \"hash_ids\": [1.0, "
      "2e0]}\n"
      "{\"timestamp\": 999.9, \"input_length\": 5, \"output_length\": 2}\n"
      "{\"timestamp\": 9007199254740992, \"input_length\": 5, \"output_length\": 2}\n");
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_THAT(shape->records[0].message_tokens, ElementsAre(50, 1));
  EXPECT_THAT(shape->records[0].hash_ids, ElementsAre(1, 2));
  EXPECT_EQ(shape->records[1].timestamp_ms, 999);
  EXPECT_EQ(shape->records[2].timestamp_ms, int64_t{1} << 53);
}

TEST(ShapeSummaryTest, AOneInstantTraceReplaysOneLapAMillisecond) {
  absl::StatusOr<Shape> shape =
      ReadMooncakeTrace("{\"timestamp\": 100, \"input_length\": 5, \"output_length\": 2}\n");
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(shape->records[0].timestamp_ms, 0);
  EXPECT_EQ(ReplayPeriodMs(*shape), 1);
  EXPECT_EQ(FitShape(*shape).span_ms, 1);
  EXPECT_EQ(FitShape(*shape).gaps, 1);
}

TEST(MooncakeReaderTest, InvalidUtf8IsEscapedInTheError) {
  const std::string message = std::string(
      TraceError("{\"input_length\": 5, \"output_length\": 2, \"x\": \"\xff\xfe\"}\n").message());
  EXPECT_THAT(message, HasSubstr("line 1: invalid JSON"));
  EXPECT_THAT(message, HasSubstr("\\xff"));
  EXPECT_EQ(message.find('\xff'), std::string::npos) << message;
}

// Bytes the process holds on the heap. Under ASan and TSan the sanitizer's
// allocator serves every allocation, glibc's mallinfo2 reports nothing, and
// the sanitizer counts the bytes asked for without glibc's chunk headers, so
// only the lower bound below applies there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kGlibcMalloc = false;
size_t HeapInUse() { return __sanitizer_get_current_allocated_bytes(); }
#else
constexpr bool kGlibcMalloc = true;
size_t HeapInUse() { return mallinfo2().uordblks; }
#endif

TEST(ShapeBytesTest, CoverWhatTheParsedTraceTakesOnTheHeap) {
  // 20000 lines of a Mooncake-like trace: many ids, some none.
  std::string trace;
  for (int i = 0; i < 20000; ++i) {
    absl::StrAppend(&trace, "{\"timestamp\": ", i * 7, ", \"input_length\": ", 100 + i % 900,
                    ", \"output_length\": 5, \"hash_ids\": [");
    for (int k = 0; k < i % 25; ++k) absl::StrAppend(&trace, k == 0 ? "" : ", ", i * 31 + k);
    absl::StrAppend(&trace, "]}\n");
  }
  const size_t before = HeapInUse();
  int64_t heap = 0, counted = 0;
  {
    absl::StatusOr<Shape> shape = ReadMooncakeTrace(trace);
    ASSERT_TRUE(shape.ok()) << shape.status();
    heap = static_cast<int64_t>(HeapInUse() - before);
    counted = ShapeBytes(*shape);
    // The reservation made before reading covers the parsed shape too.
    EXPECT_GE(static_cast<int64_t>(trace.size()) * kShapeBytesPerTextByte, counted);
  }
  EXPECT_GE(counted, heap) << "ShapeBytes " << counted << " < heap " << heap;
  if (kGlibcMalloc) {
    EXPECT_LE(counted, heap + heap / 4) << "ShapeBytes " << counted << " vs heap " << heap;
  }
}

TEST(ShapeSummaryTest, ReplayPeriodIsSpanPlusMeanGap) {
  absl::StatusOr<Shape> shape = ReadMooncakeTrace(
      "{\"timestamp\": 100, \"input_length\": 5, \"output_length\": 2}\n"
      "{\"timestamp\": 400, \"input_length\": 5, \"output_length\": 2}\n"
      "{\"timestamp\": 700, \"input_length\": 5, \"output_length\": 2}\n");
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(ReplayPeriodMs(*shape), 900);  // span 600 + mean gap 300
  EXPECT_EQ(FitShape(*shape).span_ms, 600);
  EXPECT_EQ(FitShape(*shape).gaps, 2);
  const std::string text = DescribeShape(*shape, "t.jsonl");
  EXPECT_THAT(text, HasSubstr("mooncake trace t.jsonl: 3 requests"));
  EXPECT_THAT(text, HasSubstr("timestamps 0 .. 600 ms (the file's first timestamp, 100, "
                              "subtracted from every one)"));
  EXPECT_EQ(shape->timestamp_offset_ms, 100);
  EXPECT_EQ(shape->records[0].timestamp_ms, 0);
  EXPECT_EQ(shape->records[2].timestamp_ms, 600);
}

TEST(ShapeSummaryTest, TheSampleTracesSummaryIsTheReadmes) {
  absl::StatusOr<Shape> shape =
      ReadMooncakeTrace(testing::ReadSourceFile("examples/shapes/mooncake_sample.jsonl"));
  ASSERT_TRUE(shape.ok()) << shape.status();
  const std::string text = DescribeShape(*shape, "mooncake_sample.jsonl");
  const std::string readme = testing::ReadSourceFile("README.md");
  EXPECT_THAT(readme, HasSubstr(text)) << text;
  EXPECT_THAT(text,
              HasSubstr("  input tokens                     80      222.0      223      336      "
                        "373      373\n"));
}

}  // namespace
}  // namespace convgen
