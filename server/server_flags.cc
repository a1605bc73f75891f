// convgen-server's flags, and the ServerOptions they make (see
// server/server_flags.h).
#include "server/server_flags.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"

ABSL_FLAG(std::vector<std::string>, listen, {"0.0.0.0:50051"},
          "host:port (port 0 picks one) or unix:/path (a relative path is from the working "
          "directory); repeat the flag or "
          "give a comma-separated list to listen on several");
ABSL_FLAG(std::vector<std::string>, tokenizer, {},
          "NAME=PATH of a tokenizer.json or <encoding>.tiktoken file, or a Hugging Face model id "
          "(ORG/NAME[@REVISION]) found in the local hub cache ($HF_HUB_CACHE, else $HF_HOME/hub, "
          "else ~/.cache/huggingface/hub; never downloaded); repeat the flag or give a "
          "comma-separated list for several (default: none; the embedded qwen3 is always there)");
ABSL_FLAG(std::string, tokenizer_dir, "",
          "A directory of tokenizers, each named after its file: NAME.json, NAME.tiktoken, "
          "NAME/tokenizer.json, ORG/NAME/tokenizer.json (default: none)");
ABSL_FLAG(int64_t, max_request_tokenizer_bytes, int64_t{32} << 20,
          "Largest tokenizer.json a request may send (tokenizer_json; 0: none accepted)");
ABSL_FLAG(int64_t, request_tokenizer_cache, 4,
          "Tokenizers sent in requests or loaded from the hub cache on a request's demand that "
          "are kept loaded (least recently used go first)");
ABSL_FLAG(std::string, corpus_dir, "",
          "Files requests may name in text_files (default: none; the embedded moby-dick.txt is "
          "always there)");
ABSL_FLAG(std::string, data_dir, "",
          "convgen's data/ directory (embedded tokenizer and corpus); default: "
          "$CONVGEN_DATA_DIR, else the build's source tree");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port of Prometheus /metrics, IPv4 only, e.g. 0.0.0.0:9090 (default: off)");
ABSL_FLAG(int64_t, max_conversations_per_request, 1000000, "Limit per request");
ABSL_FLAG(int64_t, max_concurrent_streams, 256, "Generate streams at once");
ABSL_FLAG(int64_t, max_inline_corpus_bytes, 64 << 20, "Largest inline corpus per request");
ABSL_FLAG(int64_t, max_message_bytes, 16 << 20,
          "Largest message text; larger token targets are refused up front");
ABSL_FLAG(int64_t, max_messages_per_conversation, 65536, "Messages (num_turns) per conversation");
ABSL_FLAG(int64_t, max_memory, int64_t{640} << 20,
          "Bytes the server may hold (0: no limit); requests that would exceed it are refused "
          "with RESOURCE_EXHAUSTED before the work");
ABSL_FLAG(int64_t, max_corpus_bytes, int64_t{64} << 20,
          "Largest corpus per request (its text_files, or its inline texts, together)");
ABSL_FLAG(double, max_build_cpu_seconds, 10,
          "CPU seconds one piece of a request's work may use: preparing it (tokenizing its "
          "corpus) or building one conversation (0: no limit)");
ABSL_FLAG(int64_t, grpc_memory_bytes, int64_t{256} << 20,
          "What gRPC may buffer over all connections (its resource quota); at least twice "
          "(--max-inline-corpus-bytes + 1 MiB)");
ABSL_FLAG(bool, accept_compressed_requests, false,
          "Accept gzip/deflate requests (gRPC 1.51 inflates them unbounded before any size check) "
          "(default: false)");
ABSL_FLAG(double, drain_seconds, 25, "On SIGTERM/SIGINT, how long open streams may finish");
ABSL_FLAG(double, max_stall_seconds, 60,
          "A Generate stream whose client reads nothing for this long ends RESOURCE_EXHAUSTED "
          "with its resume start_index (0: never)");
ABSL_FLAG(int64_t, max_batch_bytes, 64 << 10,
          "Largest message of events a Generate stream that asks for batches "
          "(GenerateRequest.max_batch_bytes) gets (0: never batches)");
ABSL_FLAG(bool, reflection, true,
          "Serve gRPC server reflection (grpc.reflection.v1alpha), e.g. for grpcurl (default: "
          "true; --reflection=false turns it off)");
ABSL_FLAG(int64_t, max_watch_streams, 100,
          "grpc.health.v1 Watch streams open at once; more are refused (RESOURCE_EXHAUSTED)");
ABSL_FLAG(std::string, log_format, "text", "text or json");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off");
ABSL_FLAG(std::string, tls_cert, "", "PEM server certificate (enables TLS; default: off)");
ABSL_FLAG(std::string, tls_key, "", "PEM server private key, unencrypted (default: none)");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA that client certificates must chain to (mTLS; default: off)");
ABSL_FLAG(bool, version, false, "Print the version and exit");

namespace convgen {

bool VersionRequested() { return absl::GetFlag(FLAGS_version); }

ServerOptions ServerOptionsFromFlags() {
  ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.tokenizers = absl::GetFlag(FLAGS_tokenizer);
  options.tokenizer_dir = absl::GetFlag(FLAGS_tokenizer_dir);
  options.max_request_tokenizer_bytes = absl::GetFlag(FLAGS_max_request_tokenizer_bytes);
  options.request_tokenizer_cache = absl::GetFlag(FLAGS_request_tokenizer_cache);
  // Read once, here: the rest of the server gets them as values.
  const auto env = [](const char* name) {
    const char* value = std::getenv(name);
    return std::string(value != nullptr ? value : "");
  };
  options.hf_cache_environment.hf_hub_cache = env("HF_HUB_CACHE");
  options.hf_cache_environment.huggingface_hub_cache = env("HUGGINGFACE_HUB_CACHE");
  options.hf_cache_environment.hf_home = env("HF_HOME");
  options.hf_cache_environment.xdg_cache_home = env("XDG_CACHE_HOME");
  options.hf_cache_environment.home = env("HOME");
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
  options.max_memory_bytes = absl::GetFlag(FLAGS_max_memory);
  options.max_corpus_bytes = absl::GetFlag(FLAGS_max_corpus_bytes);
  options.limits.max_build_cpu_seconds = absl::GetFlag(FLAGS_max_build_cpu_seconds);
  options.grpc_memory_bytes = absl::GetFlag(FLAGS_grpc_memory_bytes);
  options.accept_compressed_requests = absl::GetFlag(FLAGS_accept_compressed_requests);
  options.drain_seconds = absl::GetFlag(FLAGS_drain_seconds);
  options.limits.max_stall_seconds = absl::GetFlag(FLAGS_max_stall_seconds);
  options.limits.max_batch_bytes = absl::GetFlag(FLAGS_max_batch_bytes);
  options.reflection = absl::GetFlag(FLAGS_reflection);
  options.max_watch_streams = absl::GetFlag(FLAGS_max_watch_streams);
  options.log_format = absl::GetFlag(FLAGS_log_format);
  options.log_level = absl::GetFlag(FLAGS_log_level);
  options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  return options;
}

}  // namespace convgen
