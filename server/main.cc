// convgen-server: parses flags into ServerOptions and runs the server. All
// logic lives in the libraries the tests link (server/server_runner.h).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "core/cli/flags.h"
#include "grpcpp/grpcpp.h"
#include "server/server_runner.h"

ABSL_FLAG(std::vector<std::string>, listen, {"0.0.0.0:50051"},
          "host:port (port 0 picks one) or unix:/path; repeat the flag or "
          "give a comma-separated list to listen on several");
ABSL_FLAG(std::vector<std::string>, tokenizer, {},
          "NAME=PATH of a tokenizer.json or <encoding>.tiktoken file; repeat "
          "the flag or give a comma-separated list for several");
ABSL_FLAG(std::string, corpus_dir, "", "Files requests may name in text_files");
ABSL_FLAG(std::string, data_dir, "",
          "convgen's data/ directory (embedded tokenizer and corpus); default: "
          "$CONVGEN_DATA_DIR, else the build's source tree");
ABSL_FLAG(std::string, metrics_listen, "", "host:port of Prometheus /metrics");
ABSL_FLAG(int64_t, max_conversations_per_request, 1000000, "Limit per request");
ABSL_FLAG(int64_t, max_concurrent_streams, 256, "Generate streams at once");
ABSL_FLAG(int64_t, max_inline_corpus_bytes, 64 << 20, "Largest inline corpus per request");
ABSL_FLAG(int64_t, max_message_bytes, 16 << 20,
          "Largest message text; larger token targets are refused up front");
ABSL_FLAG(int64_t, max_messages_per_conversation, 65536, "Messages (num_turns) per conversation");
ABSL_FLAG(double, max_stall_seconds, 60,
          "A Generate stream whose client reads nothing for this long ends "
          "RESOURCE_EXHAUSTED with its resume start_index; 0: never");
ABSL_FLAG(double, drain_seconds, 25, "On SIGTERM/SIGINT, how long open streams may finish");
ABSL_FLAG(std::string, log_format, "text", "text or json");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error");
ABSL_FLAG(std::string, tls_cert, "", "PEM server certificate (enables TLS)");
ABSL_FLAG(std::string, tls_key, "", "PEM server private key");
ABSL_FLAG(std::string, tls_client_ca, "", "PEM CA that client certificates must chain to (mTLS)");
ABSL_FLAG(bool, version, false, "Print the version and exit");

namespace {

constexpr char kUsage[] =
    "usage: convgen-server [--listen ADDR]... [--tokenizer NAME=PATH]...\n"
    "  [--corpus-dir DIR] [--metrics-listen ADDR] [limits] [--drain-seconds "
    "S]\n";

}  // namespace

int main(int argc, char** argv) {
  const auto command_line =
      convgen::cli::ParseFlags(argc, argv, /*max_positional=*/0, {"listen", "tokenizer"});
  if (!command_line.ok()) {
    std::fprintf(stderr, "convgen-server: %s\n%s",
                 std::string(command_line.status().message()).c_str(), kUsage);
    return 2;
  }
  if (command_line->help) {
    std::printf("%sflags:\n%s", kUsage, convgen::cli::FlagsHelp("server/main.cc").c_str());
    return 0;
  }
  if (absl::GetFlag(FLAGS_version)) {
    std::printf("convgen-server %s (gRPC %s)\n", CONVGEN_VERSION, grpc::Version().c_str());
    return 0;
  }

  convgen::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.tokenizers = absl::GetFlag(FLAGS_tokenizer);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (options.data_dir.empty()) {
    const char* env = std::getenv("CONVGEN_DATA_DIR");
    options.data_dir = env != nullptr ? env : CONVGEN_DEFAULT_DATA_DIR;
  }
  options.corpus_dir = absl::GetFlag(FLAGS_corpus_dir);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.limits.max_conversations_per_request = absl::GetFlag(FLAGS_max_conversations_per_request);
  options.limits.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  options.limits.max_inline_corpus_bytes = absl::GetFlag(FLAGS_max_inline_corpus_bytes);
  options.limits.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.limits.max_messages_per_conversation = absl::GetFlag(FLAGS_max_messages_per_conversation);
  options.limits.max_stall_seconds = absl::GetFlag(FLAGS_max_stall_seconds);
  // The upper bound keeps the watchdog's clock arithmetic finite (a year).
  if (!(options.limits.max_stall_seconds >= 0 && options.limits.max_stall_seconds <= 3.2e7)) {
    std::fprintf(stderr,
                 "convgen-server: invalid value for --max-stall-seconds: must be between 0 "
                 "(never) and 3.2e7\n%s",
                 kUsage);
    return 2;
  }
  options.drain_seconds = absl::GetFlag(FLAGS_drain_seconds);
  options.log_format = absl::GetFlag(FLAGS_log_format);
  options.log_level = absl::GetFlag(FLAGS_log_level);
  options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  return convgen::RunServer(options);
}
