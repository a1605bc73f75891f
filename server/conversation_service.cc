#include "server/conversation_service.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"
#include "server/proto_convert.h"
#include "spdlog/spdlog.h"

namespace convgen {
namespace {

using Clock = std::chrono::steady_clock;

// Executor threads run 5 nice steps below gRPC's, so that health checks and
// new connections are answered at once while builds keep the cores busy.
constexpr int kWorkerNice = 5;

// How long the trailers of a stalled stream may wait for its client to read
// before the call is cancelled (a client that resumes reading within it gets
// the status and its resume index; one that does not gets CANCELLED).
constexpr Clock::duration kStallGrace = std::chrono::seconds(5);

// How much later than the client's deadline the server's copy may expire
// (the request's transit and queueing; see CancelledCode).
constexpr std::chrono::milliseconds kDeadlineSlack(1000);

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// gRPC and absl share the canonical codes and their names.
std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// Where in the stream `event` is, for an error: "conversation CONV_ID_3 turn
// 1", "... start", "... end" or "the summary".
std::string EventPosition(const StreamEvent& event) {
  if (const auto* message = std::get_if<Message>(&event)) {
    return absl::StrCat("conversation ", message->conversation_id, " turn ",
                        message->message_index);
  }
  if (const auto* start = std::get_if<ConversationStart>(&event)) {
    return absl::StrCat("conversation ", start->conversation_id, " start");
  }
  if (const auto* end = std::get_if<ConversationEnd>(&event)) {
    return absl::StrCat("conversation ", end->conversation_id, " end");
  }
  return "the summary";
}

}  // namespace

// One Generate stream: refused at once, or prepared on the executor; then
// one event at a time, each when the previous write completed (see the
// threading model in the header).
class GenerateReactor : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  GenerateReactor(ConversationServiceImpl* service, grpc::CallbackServerContext* context,
                  const v1::GenerateRequest* request)
      : service_(service),
        context_(context),
        request_(request),
        start_(Clock::now()),
        stop_(service->limits_.max_build_cpu_seconds) {
    service_->metrics_->RpcStarted("Generate");
    ++service_->active_streams_;
    service_->metrics_->active_streams().Increment();
    service_->AddStream(this);
  }

  // Refuses the call, or hands its preparation to the executor.
  void Begin() {
    if (service_->draining_) {
      FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "this server is shutting down; retry on another replica (with "
                              "start_index to resume)"));
    } else if (service_->active_streams_ > service_->limits_.max_concurrent_streams) {
      FinishOnce(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("this server already serves ", service_->limits_.max_concurrent_streams,
                       " streams (--max-concurrent-streams); retry later or use another "
                       "replica")));
    } else {
      service_->executor_.Submit([this] { Guarded([this] { Prepare(); }); });
    }
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      write_started_ = Clock::time_point();
      // The stall watchdog finished the call while this write was stuck.
      if (finished_) return;
    }
    if (!ok) {
      FinishOnce(grpc::Status(CancelledCode(), "the client went away"));
      return;
    }
    if (first_write_) {
      first_write_ = false;
      service_->metrics_->FirstMessage(SecondsSince(start_));
    }
    service_->metrics_->MessageSent();
    if (stream_->NextIsReady()) {
      Guarded([this] { Step(); });
    } else {
      service_->executor_.Submit([this] { Guarded([this] { Step(); }); });
    }
  }

  void OnCancel() override { stop_.Stop(); }

  void OnDone() override {
    // After this the watchdog no longer sees the reactor.
    service_->RemoveStream(this);
    service_->active_streams_--;
    service_->metrics_->active_streams().Decrement();
    service_->metrics_->RpcHandled("Generate", CodeName(final_code_), SecondsSince(start_));
    delete this;
  }

 private:
  friend class ConversationServiceImpl;  // its watchdog calls CheckStall

  // On the watchdog thread, under the service's streams_mutex_ (so OnDone
  // waits). A write in flight for max_stall_seconds means the client stopped
  // reading: the call finishes with RESOURCE_EXHAUSTED naming the index to
  // resume from. Those trailers queue behind the stuck message, so if the
  // client still does not read within kStallGrace the call is cancelled,
  // which releases the slot and the stream's memory.
  void CheckStall(Clock::time_point now, Clock::duration limit) {
    if (stalled_at_ != Clock::time_point()) {
      if (!cancel_sent_ && now - stalled_at_ >= kStallGrace) {
        cancel_sent_ = true;
        context_->TryCancel();
      }
      return;
    }
    grpc::Status status;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (write_started_ == Clock::time_point() || now - write_started_ < limit) return;
      stalled_at_ = now;
      if (finished_) return;  // its trailers are stuck too: cancel after the grace
      status = grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("the client read nothing for ", service_->limits_.max_stall_seconds,
                       " s (--max-stall-seconds); resume with start_index ",
                       resume_index_before_write_));
      ClaimFinishLocked(status.error_code());
    }
    Finish(status);
  }

  // On the executor: the request into a stream, then its first event.
  void Prepare() {
    if (Cancelled()) return;
    GenerationRequest request = RequestFromProto(*request_);
    request.stop = &stop_;
    absl::StatusOr<std::unique_ptr<GenerationJob>> job =
        PrepareGeneration(*service_->workspace_, request, service_->limits_);
    if (!job.ok()) {
      FinishOnce(ToGrpcStatus(job.status()));
      return;
    }
    absl::StatusOr<std::unique_ptr<ConversationStream>> stream = (*job)->OpenStream(&stop_);
    if (!stream.ok()) {
      FinishOnce(ToGrpcStatus(stream.status()));
      return;
    }
    stream_ = *std::move(stream);
    Step();
  }

  // Writes the next event, or finishes the call.
  void Step() {
    if (Cancelled()) return;
    if (service_->stopping_) {
      FinishOnce(grpc::Status(
          grpc::StatusCode::UNAVAILABLE,
          absl::StrCat("the server stopped at the end of its drain; resume on another replica "
                       "with start_index ",
                       stream_->resume_index())));
      return;
    }
    // Every conversation ended before this event was written: the stall
    // message's resume index must not count the event still in flight.
    const uint64_t resume_index = stream_->resume_index();
    absl::StatusOr<const StreamEvent*> event = stream_->Next();
    if (!event.ok()) {
      // Core's errors name their conversation; one that does not gets the
      // conversation being built.
      grpc::Status status = ToGrpcStatus(event.status());
      if (!absl::StrContains(status.error_message(), "CONV_ID_")) {
        status = grpc::Status(status.error_code(),
                              absl::StrCat("conversation CONV_ID_", stream_->resume_index(), ": ",
                                           status.error_message()));
      }
      FinishOnce(status);
      return;
    }
    if (*event == nullptr) {  // the summary was written
      FinishOnce(grpc::Status::OK);
      return;
    }
    if (std::holds_alternative<ConversationStart>(**event)) service_->conversations_generated_++;
    if (const auto* end = std::get_if<ConversationEnd>(*event)) {
      service_->metrics_->ConversationGenerated(static_cast<double>(end->num_tokens));
    }
    response_.Clear();
    EventToProto(**event, &response_);
    if (grpc::Status sendable = CheckSendable(**event, resume_index); !sendable.ok()) {
      FinishOnce(sendable);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) return;
    write_started_ = Clock::now();
    resume_index_before_write_ = resume_index;
    // gRPC runs OnWriteDone on another thread, never inline.
    StartWrite(&response_);
  }

  // OK, or INTERNAL naming where when response_ (made of `event`) cannot
  // go out: gRPC would end the call without saying where for a message over
  // its max send size, and abort the process for one that fails to
  // serialize (for proto3 messages, only one over 2 GiB can).
  grpc::Status CheckSendable(const StreamEvent& event, uint64_t resume_index) {
    const size_t bytes = response_.ByteSizeLong();
    const int64_t limit = service_->limits_.max_send_message_bytes;
    if (bytes <= static_cast<size_t>(INT_MAX) &&
        (limit <= 0 || bytes <= static_cast<size_t>(limit))) {
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        absl::StrCat(EventPosition(event), ": its message of ", bytes,
                                     " bytes cannot be sent (over the server's max send size of ",
                                     limit > 0 ? std::min<int64_t>(limit, INT_MAX) : INT_MAX,
                                     " bytes); resume with start_index ", resume_index));
  }

  // Runs a step of the stream; an exception escaping it (none of convgen's
  // code throws, but the standard library may, e.g. bad_alloc) ends the
  // stream with INTERNAL instead of terminating the server or leaving the
  // stream without a next step for ever.
  template <typename Step>
  void Guarded(Step step) {
    try {
      step();
    } catch (const std::exception& e) {
      FinishOnce(grpc::Status(
          grpc::StatusCode::INTERNAL,
          absl::StrCat(stream_ ? absl::StrCat("conversation CONV_ID_", stream_->resume_index())
                               : std::string("preparing the request"),
                       ": unexpected error: ", e.what())));
    }
  }

  // The code of a call that ended early, for the metrics: DEADLINE_EXCEEDED
  // once its deadline has (about) passed, else CANCELLED. The server's copy
  // of the deadline is the client's timeout counted from the call's arrival,
  // so it expires a little after the client's: a client at its deadline
  // cancels the call (RST_STREAM) first, which looks like any cancel.
  grpc::StatusCode CancelledCode() const {
    return context_->deadline() <= std::chrono::system_clock::now() + kDeadlineSlack
               ? grpc::StatusCode::DEADLINE_EXCEEDED
               : grpc::StatusCode::CANCELLED;
  }

  // Finishes the call if it was cancelled (also by its deadline).
  bool Cancelled() {
    if (!stop_.stopped() && !context_->IsCancelled()) return false;
    FinishOnce(grpc::Status(CancelledCode(), "cancelled"));
    return true;
  }

  // Finish is called outside the lock: OnDone may run (and delete this) as
  // soon as it is called. The caller must not touch this afterwards.
  void FinishOnce(const grpc::Status& status) {
    // A cancelled call (by its client or its deadline) counts as such in the
    // metrics, whichever step noticed it (a preparation or a build stops
    // with an error of its own).
    const grpc::StatusCode code = context_->IsCancelled() ? CancelledCode() : status.error_code();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!ClaimFinishLocked(code)) return;
    }
    // A bug of the server's, not the request's: the operator hears of it too.
    if (code == grpc::StatusCode::INTERNAL) spdlog::error("Generate: {}", status.error_message());
    Finish(status);
  }

  // Returns true iff the caller is the one to call Finish.
  bool ClaimFinishLocked(grpc::StatusCode code) {
    if (finished_) return false;
    finished_ = true;
    final_code_ = code;
    return true;
  }

  ConversationServiceImpl* service_;
  grpc::CallbackServerContext* context_;
  const v1::GenerateRequest* request_;  // gRPC's, valid until OnDone
  Clock::time_point start_;
  std::unique_ptr<ConversationStream> stream_;
  v1::GenerateResponse response_;
  bool first_write_ = true;
  StopSignal stop_;  // set by OnCancel; the CPU limit of each build
  std::mutex mutex_;
  bool finished_ = false;                               // guarded by mutex_
  grpc::StatusCode final_code_ = grpc::StatusCode::OK;  // guarded by mutex_
  Clock::time_point write_started_;                     // guarded by mutex_; none: epoch
  uint64_t resume_index_before_write_ = 0;              // guarded by mutex_
  // The watchdog's own (only it touches them).
  Clock::time_point stalled_at_;
  bool cancel_sent_ = false;
};

void ConversationServiceImpl::AddStream(GenerateReactor* reactor) {
  if (limits_.max_stall_seconds <= 0) return;
  std::lock_guard<std::mutex> lock(streams_mutex_);
  streams_.insert(reactor);
}

void ConversationServiceImpl::RemoveStream(GenerateReactor* reactor) {
  if (limits_.max_stall_seconds <= 0) return;
  std::lock_guard<std::mutex> lock(streams_mutex_);
  streams_.erase(reactor);
}

void ConversationServiceImpl::WatchStalls() {
  const auto limit = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(limits_.max_stall_seconds));
  // A stall is seen at most a tenth of the limit (and 1 s) late.
  const auto period = std::clamp<Clock::duration>(limit / 10, std::chrono::milliseconds(10),
                                                  std::chrono::seconds(1));
  std::unique_lock<std::mutex> lock(streams_mutex_);
  while (!watchdog_wake_.wait_for(lock, period, [this] { return watchdog_stop_; })) {
    const Clock::time_point now = Clock::now();
    for (GenerateReactor* reactor : streams_) reactor->CheckStall(now, limit);
  }
}

ConversationServiceImpl::ConversationServiceImpl(Workspace* workspace, ServiceLimits limits,
                                                 ServiceMetrics* metrics)
    : workspace_(workspace),
      limits_(limits),
      metrics_(metrics),
      executor_(limits.worker_threads > 0
                    ? limits.worker_threads
                    : std::max(2, static_cast<int>(std::thread::hardware_concurrency())),
                limits.max_worker_threads, kWorkerNice) {
  if (limits_.max_stall_seconds > 0) watchdog_ = std::thread([this] { WatchStalls(); });
  workspace_->SetRequestTokenizerObserver([metrics = metrics_](bool loaded, size_t cached) {
    metrics->RequestTokenizer(loaded, cached);
  });
}

ConversationServiceImpl::~ConversationServiceImpl() {
  workspace_->SetRequestTokenizerObserver(nullptr);
  {
    std::lock_guard<std::mutex> lock(streams_mutex_);
    watchdog_stop_ = true;
  }
  watchdog_wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

grpc::ServerWriteReactor<v1::GenerateResponse>* ConversationServiceImpl::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* request) {
  auto* reactor = new GenerateReactor(this, context, request);
  reactor->Begin();
  return reactor;
}

grpc::ServerUnaryReactor* ConversationServiceImpl::Validate(grpc::CallbackServerContext* context,
                                                            const v1::GenerateRequest* request,
                                                            v1::ValidateResponse* response) {
  const auto start = Clock::now();
  metrics_->RpcStarted("Validate");
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  executor_.Submit([this, start, request, response, reactor] {
    std::vector<ConfigError> problems;
    StopSignal stop(limits_.max_build_cpu_seconds);
    GenerationRequest generation = RequestFromProto(*request);
    generation.stop = &stop;
    absl::StatusOr<std::unique_ptr<GenerationJob>> job =
        PrepareGeneration(*workspace_, generation, limits_, &problems);
    grpc::Status status = grpc::Status::OK;
    if (job.ok()) {
      JobToProto(**job, response);
    } else if (!problems.empty()) {
      ProblemsToProto(problems, response);
    } else {
      status = ToGrpcStatus(job.status());
    }
    metrics_->RpcHandled("Validate", CodeName(status.error_code()), SecondsSince(start));
    reactor->Finish(status);
  });
  return reactor;
}

grpc::ServerUnaryReactor* ConversationServiceImpl::Describe(grpc::CallbackServerContext* context,
                                                            const v1::DescribeRequest*,
                                                            v1::DescribeResponse* response) {
  const auto start = Clock::now();
  metrics_->RpcStarted("Describe");
  response->set_version(CONVGEN_VERSION);
  for (const auto& [name, description] : workspace_->DescribeTokenizers()) {
    auto* t = response->add_tokenizers();
    t->set_name(name);
    t->set_description(description);
    t->set_is_default(name == kDefaultTokenizer);
  }
  for (const std::string& name : workspace_->CorpusNames()) response->add_corpora(name);
  auto* limits = response->mutable_limits();
  limits->set_max_conversations_per_request(limits_.max_conversations_per_request);
  limits->set_max_concurrent_streams(limits_.max_concurrent_streams);
  limits->set_max_inline_corpus_bytes(limits_.max_inline_corpus_bytes);
  limits->set_max_message_bytes(limits_.max_message_bytes);
  limits->set_max_messages_per_conversation(limits_.max_messages_per_conversation);
  limits->set_max_numpy_legacy_draws(limits_.max_numpy_legacy_draws);
  limits->set_max_build_cpu_seconds(limits_.max_build_cpu_seconds);
  limits->set_max_stall_seconds(limits_.max_stall_seconds);
  limits->set_max_send_message_bytes(limits_.max_send_message_bytes);
  const ServerWideLimits& server = limits_.server_wide;
  limits->set_max_memory_bytes(server.max_memory_bytes);
  limits->set_max_corpus_bytes(server.max_corpus_bytes);
  limits->set_max_text_files(server.max_text_files);
  limits->set_max_watch_streams(server.max_watch_streams);
  limits->set_grpc_memory_bytes(server.grpc_memory_bytes);
  limits->set_max_receive_message_bytes(server.max_receive_message_bytes);
  limits->set_accept_compressed_requests(server.accept_compressed_requests);
  limits->set_drain_seconds(server.drain_seconds);
  limits->set_max_request_tokenizer_bytes(server.max_request_tokenizer_bytes);
  limits->set_request_tokenizer_cache(server.request_tokenizer_cache);
  metrics_->RpcHandled("Describe", "OK", SecondsSince(start));
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace convgen
