// Cost of one sample of each distribution, including creating its keyed
// stream (what the conversation planner pays per draw).
#include <cstdint>

#include "benchmark/benchmark.h"
#include "core/distributions/int_distribution.h"
#include "core/random/random_stream.h"

namespace convgen {
namespace {

void SampleLoop(benchmark::State& state, const IntDistribution& d) {
  uint64_t index = 0;
  int64_t sink = 0;
  for (auto _ : state) {
    RandomStream stream({.seed = 1, .index = index++, .field = 1, .draw = 0});
    sink += d.Sample(stream);
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
}

void BM_RawWord(benchmark::State& state) {
  RandomStream stream({.seed = 1});
  uint64_t sink = 0;
  for (auto _ : state) sink ^= stream.NextU64();
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawWord);

void BM_Uniform(benchmark::State& state) {
  SampleLoop(state, IntDistribution::MakeUniform(120, 160));
}
BENCHMARK(BM_Uniform);

void BM_LognormalByAverage(benchmark::State& state) {
  SampleLoop(state, IntDistribution::MakeLognormalByAverage(1000, 0.85, 5000));
}
BENCHMARK(BM_LognormalByAverage);

void BM_Zipf(benchmark::State& state) { SampleLoop(state, IntDistribution::MakeZipf(1.5, 20)); }
BENCHMARK(BM_Zipf);

void BM_Poisson(benchmark::State& state) {
  SampleLoop(state, IntDistribution::MakePoisson(state.range(0), 0));
}
BENCHMARK(BM_Poisson)->Arg(4)->Arg(140)->Arg(1000000);

}  // namespace
}  // namespace convgen
