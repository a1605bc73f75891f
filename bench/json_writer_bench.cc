// The client's JSON writer (issue 16: it capped the whole pipeline): the
// ConversationWriter against the nlohmann writer it replaced
// (tests/testing/nlohmann_conversation_writer.h), in the same run, on
// 10-message conversations of ~500-byte chunks of the default corpus
// (Moby-Dick: newlines, quotes and some non-ASCII UTF-8), written to a
// stream that discards; MB/s of output.
//   build/release/bench/json_writer_bench
#include <streambuf>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "client/conversation_writer.h"
#include "core/files.h"
#include "tests/testing/nlohmann_conversation_writer.h"

namespace convgen {
namespace {

// Counts what is written and keeps nothing.
class NullBuffer : public std::streambuf {
 public:
  int64_t written = 0;

 protected:
  int overflow(int c) override {
    ++written;
    return c;
  }
  std::streamsize xsputn(const char*, std::streamsize n) override {
    written += n;
    return n;
  }
};

// 100 conversations of 10 messages, each a ~500-byte chunk of the corpus.
const std::vector<v1::GenerateResponse>& Events() {
  static const std::vector<v1::GenerateResponse> events = [] {
    const std::string corpus =
        *ReadFileToString(std::string(CONVGEN_SOURCE_DIR) + "/data/corpus/moby-dick.txt");
    std::vector<v1::GenerateResponse> all;
    size_t offset = 20000;
    for (uint64_t index = 0; index < 100; ++index) {
      const std::string id = "CONV_ID_" + std::to_string(index);
      v1::GenerateResponse start;
      start.mutable_conversation_start()->set_conversation_index(index);
      start.mutable_conversation_start()->set_conversation_id(id);
      start.mutable_conversation_start()->set_num_turns(10);
      all.push_back(start);
      for (int turn = 0; turn < 10; ++turn) {
        v1::GenerateResponse message;
        v1::TurnMessage& t = *message.mutable_turn();
        t.set_conversation_index(index);
        t.set_conversation_id(id);
        t.set_turn_index(turn);
        t.set_num_turns(10);
        t.set_role(turn % 2 == 0 ? v1::ROLE_USER : v1::ROLE_ASSISTANT);
        // Cut at a space so the chunk stays valid UTF-8, as generated text is.
        size_t end = corpus.find(' ', offset + 500);
        if (end == std::string::npos) end = offset + 500;
        t.set_content(corpus.substr(offset, end - offset));
        offset = end % (corpus.size() - 1000);
        t.set_num_tokens(120);
        if (turn % 2 == 1) t.set_max_tokens(120);
        if (turn % 2 == 0 && turn > 0) t.set_think_time_ms(1500);
        all.push_back(message);
      }
      v1::GenerateResponse end;
      end.mutable_conversation_end()->set_conversation_index(index);
      end.mutable_conversation_end()->set_conversation_id(id);
      all.push_back(end);
    }
    return all;
  }();
  return events;
}

template <typename Writer>
void BM_Write(benchmark::State& state, OutputFormat format) {
  const std::vector<v1::GenerateResponse>& events = Events();
  NullBuffer buffer;
  std::ostream out(&buffer);
  for (auto _ : state) {
    Writer writer(out, format, {});
    for (const v1::GenerateResponse& e : events) {
      if (e.has_conversation_start()) writer.Begin(e.conversation_start());
      if (e.has_turn()) writer.Add(e.turn());
      if (e.has_conversation_end()) writer.End(e.conversation_end());
    }
    writer.Finish();
  }
  state.SetBytesProcessed(buffer.written);
}

void BM_New(benchmark::State& state, OutputFormat format) {
  BM_Write<ConversationWriter>(state, format);
}
void BM_Nlohmann(benchmark::State& state, OutputFormat format) {
  BM_Write<NlohmannConversationWriter>(state, format);
}

BENCHMARK_CAPTURE(BM_New, json, OutputFormat::kJson);
BENCHMARK_CAPTURE(BM_Nlohmann, json, OutputFormat::kJson);
BENCHMARK_CAPTURE(BM_New, jsonl, OutputFormat::kJsonl);
BENCHMARK_CAPTURE(BM_Nlohmann, jsonl, OutputFormat::kJsonl);
BENCHMARK_CAPTURE(BM_New, openai_jsonl, OutputFormat::kOpenAiJsonl);
BENCHMARK_CAPTURE(BM_Nlohmann, openai_jsonl, OutputFormat::kOpenAiJsonl);

}  // namespace
}  // namespace convgen
