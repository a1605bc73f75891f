// The convgen CLI's commands, over the generated gRPC stub. main.cc only
// parses arguments into CommandOptions and calls Run.
#ifndef CONVGEN_CLIENT_COMMANDS_H_
#define CONVGEN_CLIENT_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <string>

namespace convgen {

struct CommandOptions {
  std::string command;  // generate, validate, describe, health
  std::string server = "localhost:50051";
  std::string input_file;
  std::string output = "-";
  uint64_t seed = 0;
  uint64_t shard_index = 0;
  uint64_t shard_count = 1;
  uint64_t start_index = 0;
  std::string tokenizer;
  std::string rng;  // "", "philox" or "numpy_legacy": overrides the config's
  std::string format = "json";  // json, jsonl, jsonl-ids, openai-jsonl
  std::string model;             // for openai-jsonl bodies
  bool print_stats = false;
  std::string health_service;  // for health
  std::string tls_ca, tls_cert, tls_key;
  double timeout_seconds = 0;  // 0: no deadline
  double wait_for_server_seconds = 0;  // how long to wait for the server to be reachable
};

// Exit status: 0 success, 2 usage or config error, 1 server error.
int RunCommand(const CommandOptions& options);

// Parses argv; returns nullopt (after printing why) on a usage error.
std::optional<CommandOptions> ParseCommandLine(int argc, char** argv);

}  // namespace convgen

#endif  // CONVGEN_CLIENT_COMMANDS_H_
