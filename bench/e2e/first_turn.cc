// Time to first turn as a C++ gRPC client sees it: REQUESTS Generate calls
// of one config on one warm channel, one after the other, each timed from
// the call's start to the arrival of its first TurnMessage (then the call
// is cancelled). Prints "p50_ms P50 p99_ms P99 n N" on one line. The calls
// ask for batches of up to --max-batch-bytes (0: none), as convgen's client
// does (64 KiB).
//   first_turn --server ADDR --config CONFIG [--requests 200] [--seed 1]
//              [--max-batch-bytes 65536]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "convgen/v1/service.grpc.pb.h"
#include "core/files.h"
#include "grpcpp/grpcpp.h"

int main(int argc, char** argv) {
  std::string server, config_path;
  int requests = 200;
  uint64_t seed = 1;
  uint32_t max_batch_bytes = 64 << 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--server") server = argv[i + 1];
    if (flag == "--config") config_path = argv[i + 1];
    if (flag == "--requests") requests = std::stoi(argv[i + 1]);
    if (flag == "--seed") seed = std::stoull(argv[i + 1]);
    if (flag == "--max-batch-bytes") max_batch_bytes = std::stoul(argv[i + 1]);
  }
  const auto config = convgen::ReadFileToString(config_path);
  if (server.empty() || !config.ok() || requests < 1) {
    std::fprintf(stderr, "usage: first_turn --server ADDR --config CONFIG [--requests N]\n");
    return 2;
  }
  convgen::v1::GenerateRequest request;
  request.set_config_json(*config);
  request.set_seed(seed);
  request.set_max_batch_bytes(max_batch_bytes);
  auto stub = convgen::v1::ConversationService::NewStub(
      grpc::CreateChannel(server, grpc::InsecureChannelCredentials()));

  // Returns the milliseconds to the first turn, or a negative number if the
  // stream ended without one.
  auto time_first_turn = [&]() {
    grpc::ClientContext context;
    const auto started = std::chrono::steady_clock::now();
    auto reader = stub->Generate(&context, request);
    convgen::v1::GenerateResponse response;
    double ms = -1;
    while (reader->Read(&response)) {
      if (response.has_turn() ||
          (response.has_batch() &&
           std::any_of(response.batch().events().begin(), response.batch().events().end(),
                       [](const auto& event) { return event.has_turn(); }))) {
        ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                 .count();
        context.TryCancel();
        break;
      }
    }
    reader->Finish();
    return ms;
  };

  if (time_first_turn() < 0) {  // warms the channel and the server's caches
    std::fprintf(stderr, "first_turn: the stream from %s had no turn\n", server.c_str());
    return 1;
  }
  std::vector<double> latencies;
  for (int i = 0; i < requests; ++i) latencies.push_back(time_first_turn());
  std::sort(latencies.begin(), latencies.end());
  std::printf("p50_ms %.3f p99_ms %.3f n %d\n", latencies[latencies.size() / 2],
              latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)], requests);
  return 0;
}
