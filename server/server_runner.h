// RunServer: convgen-server's process wiring (workspace, metrics exposer,
// TLS credentials, gRPC server with health and reflection, and the
// SIGTERM/SIGINT drain), so that server/main.cc only parses flags.
// Call once, from main, before any other thread exists: it blocks the
// termination signals for the whole process and waits for them.
#ifndef CONVGEN_SERVER_SERVER_RUNNER_H_
#define CONVGEN_SERVER_SERVER_RUNNER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer_locator.h"
#include "server/conversation_service.h"

namespace convgen {

struct ServerOptions {
  // host:port (port 0 picks one) or unix:/path; each chosen address is
  // printed on stdout as "listening on ...".
  std::vector<std::string> listen = {"0.0.0.0:50051"};
  // NAME=PATH, or a Hugging Face model id (ORG/NAME[@REVISION]) in the hub
  // cache; loaded and checked before listening.
  std::vector<std::string> tokenizers;
  std::string tokenizer_dir;  // see ListTokenizerDir; empty: none
  // Where the hub cache is (read from the environment by the flags).
  HfCacheEnvironment hf_cache_environment;
  int64_t max_request_tokenizer_bytes = int64_t{32} << 20;  // a request's tokenizer_json
  int64_t request_tokenizer_cache = 4;                      // loaded request tokenizers kept
  std::string data_dir;                                     // the embedded tokenizer and corpus
  std::string corpus_dir;                                   // empty: only the embedded corpus
  std::string metrics_listen;                               // empty: no metrics endpoint
  ServiceLimits limits;
  // What the process may hold (0: no limit): what it holds once its
  // tokenizers are loaded counts against it, the rest is the requests'
  // budget (see MemoryBudget); a quarter of the limit keeps tokenized
  // corpora for later requests. The default leaves room under the
  // manifests' 1 GiB for gRPC's buffers and the allocator.
  int64_t max_memory_bytes = int64_t{640} << 20;
  int64_t max_corpus_bytes = int64_t{64} << 20;    // per request, files or inline
  int64_t grpc_memory_bytes = int64_t{256} << 20;  // gRPC's resource quota
  bool accept_compressed_requests = false;         // see BoundReceivedBytes
  double drain_seconds = 25;
  bool reflection = true;           // serve grpc.reflection.v1alpha
  int64_t max_watch_streams = 100;  // open grpc.health.v1 Watch streams
  std::string log_format = "text";  // text or json
  std::string log_level = "info";
  std::string tls_cert, tls_key;  // PEM files; TLS when tls_cert is set
  std::string tls_client_ca;      // PEM; clients must present a certificate (mTLS)
};

// Runs the server until SIGTERM or SIGINT has drained it. Returns the exit
// status: 0 after a drain, 2 when it cannot start (the reason on stderr), 3
// after a drain forced by a listener that stopped accepting.
int RunServer(const ServerOptions& options);

}  // namespace convgen

#endif  // CONVGEN_SERVER_SERVER_RUNNER_H_
