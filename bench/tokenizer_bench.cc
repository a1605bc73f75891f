// Tokenizer speed on the default corpus (Moby Dick, 1.2 MB): single-thread
// encode throughput of every tokenizer, warm (the per-thread word cache
// filled, as in a running server) and cold (a freshly loaded tokenizer's
// first pass), and the load time of each tokenizer file.
//   build/release/bench/tokenizer_bench
// bench/run-tokenizer-bench also times Hugging Face's implementation on the
// same text and prints the ratios.
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/files.h"
#include "core/tokenizer/hf_tokenizer_json.h"
#include "core/tokenizer/tiktoken.h"

namespace convgen {
namespace {

const std::string& Corpus() {
  static const auto* corpus = new std::string(
      *ReadFileToString(std::string(CONVGEN_SOURCE_DIR) + "/data/corpus/moby-dick.txt"));
  return *corpus;
}

std::string PathOf(const std::string& name) {
  if (name == "qwen3")
    return std::string(CONVGEN_SOURCE_DIR) + "/data/tokenizers/qwen3/tokenizer.json";
  const std::string dir = CONVGEN_TEST_DATA_DIR;
  if (name == "cl100k_tiktoken") return dir + "/tiktoken/cl100k_base.tiktoken";
  if (name == "o200k_tiktoken") return dir + "/tiktoken/o200k_base.tiktoken";
  return dir + "/" + name + "/tokenizer.json";
}

std::unique_ptr<Tokenizer> Load(const std::string& name, benchmark::State& state) {
  const std::string path = PathOf(name);
  auto tokenizer = path.find(".tiktoken") != std::string::npos ? LoadTiktokenFile(path)
                                                               : LoadHfTokenizerFile(path);
  if (!tokenizer.ok()) {
    state.SkipWithError(std::string(tokenizer.status().message()).c_str());
    return nullptr;
  }
  return *std::move(tokenizer);
}

void BM_EncodeWarm(benchmark::State& state, const std::string& name) {
  const auto tokenizer = Load(name, state);
  if (!tokenizer) return;
  std::vector<TokenId> ids;
  tokenizer->Encode(Corpus(), &ids);  // fills the word cache
  for (auto _ : state) {
    ids.clear();
    tokenizer->Encode(Corpus(), &ids);
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(state.iterations() * Corpus().size());
  state.counters["tokens"] = static_cast<double>(ids.size());
}

void BM_EncodeCold(benchmark::State& state, const std::string& name) {
  std::vector<TokenId> ids;
  for (auto _ : state) {
    state.PauseTiming();
    const auto tokenizer = Load(name, state);  // a new model starts a new cache
    if (!tokenizer) return;
    ids.clear();
    state.ResumeTiming();
    tokenizer->Encode(Corpus(), &ids);
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(state.iterations() * Corpus().size());
}

void BM_Load(benchmark::State& state, const std::string& name) {
  for (auto _ : state) {
    auto tokenizer = Load(name, state);
    benchmark::DoNotOptimize(tokenizer.get());
  }
}

const char* const kTokenizers[] = {"qwen3", "llama3",          "mistral",       "cl100k",
                                   "o200k", "cl100k_tiktoken", "o200k_tiktoken"};

[[maybe_unused]] const bool registered = [] {
  for (const char* name : kTokenizers) {
    benchmark::RegisterBenchmark((std::string("BM_EncodeWarm/") + name).c_str(), BM_EncodeWarm,
                                 std::string(name))
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("BM_EncodeCold/") + name).c_str(), BM_EncodeCold,
                                 std::string(name))
        ->Unit(benchmark::kMillisecond)
        ->Iterations(3);
    benchmark::RegisterBenchmark((std::string("BM_Load/") + name).c_str(), BM_Load,
                                 std::string(name))
        ->Unit(benchmark::kMillisecond)
        ->Iterations(5);
  }
  return true;
}();

}  // namespace
}  // namespace convgen
