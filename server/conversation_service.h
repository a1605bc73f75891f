// ConversationServiceImpl: convgen.v1.ConversationService on gRPC's callback
// API, a thin adapter over core (Workspace, ConversationStream).
//
// Generate runs one reactor per stream with one write in flight: the next
// message is generated only when the last one was written, so HTTP/2 flow
// control paces generation and a slow reader never grows memory.
// Cancellation and deadlines end the stream at the next write completion.
// Thread-safe.
#ifndef CONVGEN_SERVER_CONVERSATION_SERVICE_H_
#define CONVGEN_SERVER_CONVERSATION_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "convgen/v1/service.grpc.pb.h"
#include "core/conversation/conversation_stream.h"
#include "core/request/workspace.h"
#include "server/service_metrics.h"

namespace convgen {

struct ServiceLimits {
  int64_t max_conversations_per_request = 1000000;
  int64_t max_concurrent_streams = 256;
  int64_t max_inline_corpus_bytes = 64 << 20;
  // Largest message text a stream may produce, in bytes; a token is at
  // least a byte, so token targets above it are refused before building.
  int64_t max_message_bytes = 16 << 20;
  int64_t max_messages_per_conversation = 65536;
};

class ConversationServiceImpl final : public v1::ConversationService::CallbackService {
 public:
  // Borrows workspace and metrics, which must outlive the service.
  ConversationServiceImpl(Workspace* workspace, ServiceLimits limits, ServiceMetrics* metrics);

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Validate(grpc::CallbackServerContext* context,
                                     const v1::GenerateRequest* request,
                                     v1::ValidateResponse* response) override;
  grpc::ServerUnaryReactor* Describe(grpc::CallbackServerContext* context,
                                     const v1::DescribeRequest* request,
                                     v1::DescribeResponse* response) override;

  // From now on new Generate calls are refused (UNAVAILABLE) while open
  // streams go on; for a graceful shutdown.
  void StartDraining() { draining_ = true; }
  // Ends every open stream at its next message with UNAVAILABLE, naming the
  // index to resume from; for the end of a drain.
  void StopStreams() { stopping_ = true; }

  // Counters for tests and logs.
  int64_t active_streams() const { return active_streams_.load(); }
  int64_t conversations_generated() const { return conversations_generated_.load(); }

 private:
  friend class GenerateReactor;

  struct Prepared {
    GenerationSpec spec;
    v1::GenerationConfig config;
    StreamOptions options;
    std::string tokenizer_name;
    std::shared_ptr<const Tokenizer> tokenizer;
    std::shared_ptr<const TokenizedCorpus> corpus;
  };

  // Resolves a request: config, limits, tokenizer, corpus. Config problems
  // go to `problems` (if given) as well as into the status.
  absl::StatusOr<Prepared> Prepare(const v1::GenerateRequest& request,
                                   v1::ValidateResponse* problems);

  Workspace* workspace_;
  ServiceLimits limits_;
  ServiceMetrics* metrics_;
  std::atomic<int64_t> active_streams_{0};
  std::atomic<int64_t> conversations_generated_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopping_{false};
};

}  // namespace convgen

#endif  // CONVGEN_SERVER_CONVERSATION_SERVICE_H_
