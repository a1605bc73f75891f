// ConversationServiceImpl: convgen.v1.ConversationService on gRPC's callback
// API, a thin adapter over core: a request goes to PrepareGeneration once
// (server/proto_convert.h), events come back from the ConversationStream.
//
// Threading model. gRPC's callback threads (the "reactions": Generate,
// Validate, Describe, OnWriteDone, OnCancel) never do slow work: preparing a
// request (which may tokenize a corpus) and building a conversation (which
// may search long) run on the service's Executor, which then starts the
// write or finishes the call (the pool grows while every thread is busy, so
// slow requests share the cores rather than queue the others). A reaction
// runs the next step itself only
// when it is cheap (the next event of a conversation already built). A
// Generate stream has one write in flight at a time and one generator
// (preparing the request, then making events) that runs ahead of the wire
// by a bounded amount: an event made while no write is in flight goes out
// at once; events made during a write wait in one pending message (one
// event, or with GenerateRequest.max_batch_bytes an EventBatch of up to
// that many bytes) and go out when the write completes; then the generator
// waits. So HTTP/2 flow control paces generation and a slow reader never
// grows memory. Cancellation and deadlines are seen between events and
// inside long searches (the stream reads the reactor's cancelled flag).
//
// Stalls. A reader that stops reading leaves one write in flight for ever
// (flow control) and would hold its slot and memory: with
// max_stall_seconds > 0 one watchdog thread ends such a stream (see
// GenerateReactor::CheckStall). The watchdog touches a reactor only under
// streams_mutex_, and a reactor leaves streams_ in OnDone before deleting
// itself; gRPC runs OnDone on its own threads (never inline in Finish or
// TryCancel), so the watchdog may call into gRPC while holding the mutex.
// Thread-safe.
#ifndef CONVGEN_SERVER_CONVERSATION_SERVICE_H_
#define CONVGEN_SERVER_CONVERSATION_SERVICE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "convgen/v1/service.grpc.pb.h"
#include "core/request/executor.h"
#include "core/request/generation_request.h"
#include "core/request/workspace.h"
#include "server/service_metrics.h"

namespace convgen {

// Limits enforced around the service (by the workspace, gRPC, the server's
// runner), which the service only reports in Describe.
struct ServerWideLimits {
  int64_t max_memory_bytes = 0;
  int64_t max_corpus_bytes = 0;
  int64_t max_text_files = 0;
  int64_t grpc_memory_bytes = 0;
  int64_t max_receive_message_bytes = 0;
  int64_t max_watch_streams = 0;
  int64_t max_request_tokenizer_bytes = 0;
  int64_t request_tokenizer_cache = 0;
  bool accept_compressed_requests = false;
  double drain_seconds = 0;
};

struct ServiceLimits : RequestLimits {
  int64_t max_concurrent_streams = 256;
  // Threads that prepare requests and build conversations (see Executor):
  // at first worker_threads (0: one per core, at least 2), growing while
  // tasks wait up to max_worker_threads, so that slow requests share the
  // cores with the others instead of holding them back.
  int worker_threads = 0;
  int max_worker_threads = 64;
  // CPU one piece of a request's work may use (preparing it, which may
  // tokenize its corpus; building one conversation); 0: no limit.
  double max_build_cpu_seconds = 10;
  // A stream whose write has not completed for this long (its client stopped
  // reading) ends with RESOURCE_EXHAUSTED naming the resume index; 0: never.
  double max_stall_seconds = 60;
  // The server's gRPC max send message size: a message larger than this (or
  // one that cannot be serialized) ends its stream with INTERNAL naming the
  // conversation and turn, instead of reaching gRPC (which would fail the
  // call without saying where, or abort on a serialization failure). 0: only
  // protobuf's own 2 GiB limit.
  int64_t max_send_message_bytes = 0;
  // The largest EventBatch message a request that asks for batches
  // (GenerateRequest.max_batch_bytes) gets; 0: never batches. 64 KiB
  // amortizes gRPC's per-message cost (about 17 us of CPU) over hundreds of
  // short events, is HTTP/2's default flow-control window (so a batch is
  // not held back by the window more than a single event is), and bounds a
  // stream's buffers (the message in flight and one pending batch) to a
  // few hundred KiB.
  int64_t max_batch_bytes = 64 << 10;
  // Reported by Describe, with the limits above.
  ServerWideLimits server_wide;
};

class GenerateReactor;

class ConversationServiceImpl final : public v1::ConversationService::CallbackService {
 public:
  // Borrows workspace and metrics, which must outlive the service.
  ConversationServiceImpl(Workspace* workspace, ServiceLimits limits, ServiceMetrics* metrics);
  ~ConversationServiceImpl() override;

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

  // The stall watchdog's thread: checks every open stream a few times per
  // max_stall_seconds.
  void WatchStalls();
  void AddStream(GenerateReactor* reactor);
  void RemoveStream(GenerateReactor* reactor);

  Workspace* workspace_;
  ServiceLimits limits_;
  ServiceMetrics* metrics_;
  std::atomic<int64_t> active_streams_{0};
  std::atomic<int64_t> conversations_generated_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopping_{false};
  std::mutex streams_mutex_;
  std::condition_variable watchdog_wake_;
  std::unordered_set<GenerateReactor*> streams_;  // guarded by streams_mutex_
  bool watchdog_stop_ = false;                    // guarded by streams_mutex_
  std::thread watchdog_;                          // runs when max_stall_seconds > 0
  // Last: destroyed first, so its threads finish before the rest goes.
  Executor executor_;
};

}  // namespace convgen

#endif  // CONVGEN_SERVER_CONVERSATION_SERVICE_H_
