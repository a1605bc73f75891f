// Conversation generation speed: the reference config scaled to 10,000
// conversations, single thread, default tokenizer (Qwen3) and corpus, in
// tokens of exact text per second; the tokenizer's raw encode speed on the
// same corpus in the same run for comparison; and a million conversations
// streamed to show that memory stays flat.
//   build/release/bench/conversation_bench
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <variant>

#include "benchmark/benchmark.h"
#include "core/config/generation_spec.h"
#include "core/conversation/conversation_stream.h"
#include "core/corpus/corpus.h"
#include "core/files.h"
#include "core/tokenizer/hf_tokenizer_json.h"

namespace convgen {
namespace {

std::string Source(const std::string& path) {
  return *ReadFileToString(std::string(CONVGEN_SOURCE_DIR) + "/" + path);
}

std::shared_ptr<const Tokenizer> Qwen3() {
  static auto* tokenizer = new std::shared_ptr<const Tokenizer>(*LoadHfTokenizerFile(
      std::string(CONVGEN_SOURCE_DIR) + "/data/tokenizers/qwen3/tokenizer.json"));
  return *tokenizer;
}

std::shared_ptr<const TokenizedCorpus> Corpus() {
  static auto* corpus =
      new std::shared_ptr<const TokenizedCorpus>(std::make_shared<const TokenizedCorpus>(
          *CorpusText::FromBytes("moby-dick.txt", Source("data/corpus/moby-dick.txt")), *Qwen3()));
  return *corpus;
}

// Resident and peak resident memory of this process, in MiB.
double StatusMiB(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::strlen(field))) / 1024.0;
  }
  return 0;
}

GenerationSpec ReferenceSpec(int64_t conversations) {
  std::string json = Source("tests/fixtures/vllm/generate_multi_turn.json");
  json.replace(json.find("\"num_conversations\": 24"), 23,
               "\"num_conversations\": " + std::to_string(conversations));
  return *LoadSpecFromJson(json);
}

void BM_GenerateReference(benchmark::State& state) {
  const GenerationSpec spec = ReferenceSpec(state.range(0));
  const auto corpus = Corpus();
  int64_t tokens = 0, bytes = 0, turns = 0;
  for (auto _ : state) {
    const StreamOptions options{.seed = 1, .include_token_ids = state.range(1) == 1};
    auto stream =
        *ConversationStream::Create(spec, options, ConversationPlanner(spec, 1), corpus, Qwen3());
    while (const StreamEvent* event = *stream->Next()) {
      const auto* turn = std::get_if<Message>(event);
      if (turn == nullptr) continue;
      tokens += turn->num_tokens;
      bytes += static_cast<int64_t>(turn->content.size());
      ++turns;
    }
  }
  state.SetBytesProcessed(bytes);
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  state.counters["turns_per_s"] =
      benchmark::Counter(static_cast<double>(turns), benchmark::Counter::kIsRate);
  state.counters["peak_rss_MiB"] = StatusMiB("VmHWM:");
}
// Arg 1: with each message's token ids (one more encoding per message).
BENCHMARK(BM_GenerateReference)
    ->Args({10000, 0})
    ->Args({10000, 1})
    ->Unit(benchmark::kSecond)
    ->Iterations(1);

// Small messages: bench/e2e/small_4x50.json (a million conversations of
// 4 messages of 50 tokens), the config bench/e2e/run streams end to end, so
// that its end-to-end tokens/s compares with the core's on the same work.
void BM_SmallConversations(benchmark::State& state) {
  const GenerationSpec spec = *LoadSpecFromJson(Source("bench/e2e/small_4x50.json"));
  const auto corpus = Corpus();
  int64_t tokens = 0, turns = 0;
  for (auto _ : state) {
    auto stream = *ConversationStream::Create(spec, {.seed = 1}, ConversationPlanner(spec, 1),
                                              corpus, Qwen3());
    while (const StreamEvent* event = *stream->Next()) {
      const auto* turn = std::get_if<Message>(event);
      if (turn == nullptr) continue;
      tokens += turn->num_tokens;
      ++turns;
    }
  }
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  state.counters["turns_per_s"] =
      benchmark::Counter(static_cast<double>(turns), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SmallConversations)->Unit(benchmark::kSecond)->Iterations(1);

// Sizes only: what a shard or a resumed stream pays per conversation it
// skips. Arg 0: rng philox (a skipped conversation costs nothing: shards
// jump straight to their own); arg 1: numpy_legacy (vLLM's draws replayed).
void BM_PlanReference(benchmark::State& state) {
  GenerationSpec spec = ReferenceSpec(100000);
  if (state.range(0) == 1) spec.rng = SizeRng::kNumpyLegacy;
  int64_t planned = 0;
  for (auto _ : state) {
    ConversationPlanner planner(spec, 1);
    for (int64_t i = 0; i < spec.num_conversations; ++i) {
      benchmark::DoNotOptimize(*planner.Plan(static_cast<uint64_t>(i)));
      ++planned;
    }
  }
  state.SetLabel(state.range(0) == 1 ? "numpy_legacy" : "philox");
  state.counters["conversations_per_s"] =
      benchmark::Counter(static_cast<double>(planned), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PlanReference)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The tokenizer alone on the corpus (word cache warm), for comparison.
void BM_TokenizerEncode(benchmark::State& state) {
  const auto tokenizer = Qwen3();
  const std::string text = Corpus()->text();
  std::vector<TokenId> ids;
  tokenizer->Encode(text, &ids);
  int64_t tokens = 0;
  for (auto _ : state) {
    ids.clear();
    tokenizer->Encode(text, &ids);
    tokens += static_cast<int64_t>(ids.size());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TokenizerEncode)->Unit(benchmark::kMillisecond);

// A million small conversations: resident memory must not grow with them.
void BM_MillionConversationsFlatMemory(benchmark::State& state) {
  const GenerationSpec spec = *LoadSpecFromJson(R"({
      "filetype": "generate_conversations", "num_conversations": 1000000, "text_files": ["c"],
      "prompt_input": {"num_turns": {"distribution": "uniform", "min": 2, "max": 4},
                       "prefix_num_tokens": {"distribution": "constant", "value": 0},
                       "num_tokens": {"distribution": "uniform", "min": 20, "max": 40}},
      "prompt_output": {"num_tokens": {"distribution": "uniform", "min": 5, "max": 20}}})");
  const auto corpus = Corpus();
  double rss_after_first = 0, rss_max = 0;
  int64_t conversations = 0;
  for (auto _ : state) {
    auto stream = *ConversationStream::Create(spec, {.seed = 2}, ConversationPlanner(spec, 2),
                                              corpus, Qwen3());
    uint64_t last = UINT64_MAX;
    while (const StreamEvent* event = *stream->Next()) {
      const auto* turn = std::get_if<Message>(event);
      if (turn == nullptr) continue;
      if (turn->conversation_index != last) {
        last = turn->conversation_index;
        ++conversations;
        if (conversations == 1000) rss_after_first = StatusMiB("VmRSS:");
        if (conversations % 100000 == 0) rss_max = std::max(rss_max, StatusMiB("VmRSS:"));
      }
    }
  }
  state.counters["conversations"] = static_cast<double>(conversations);
  state.counters["rss_at_1k_MiB"] = rss_after_first;
  state.counters["rss_max_MiB"] = rss_max;
  state.counters["rss_growth_MiB"] = rss_max - rss_after_first;
}
BENCHMARK(BM_MillionConversationsFlatMemory)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace
}  // namespace convgen
