#include "server/conversation_service.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"
#include "server/proto_convert.h"

namespace convgen {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// gRPC and absl share the canonical codes and their names.
std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
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
      service_->executor_.Submit([this] { Prepare(); });
    }
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    if (first_write_) {
      first_write_ = false;
      service_->metrics_->FirstMessage(SecondsSince(start_));
    }
    service_->metrics_->MessageSent();
    if (stream_->NextIsReady()) {
      Step();
    } else {
      service_->executor_.Submit([this] { Step(); });
    }
  }

  void OnCancel() override { stop_.Stop(); }

  void OnDone() override {
    service_->active_streams_--;
    service_->metrics_->active_streams().Decrement();
    service_->metrics_->RpcHandled("Generate", CodeName(final_code_), SecondsSince(start_));
    delete this;
  }

 private:
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
    absl::StatusOr<const StreamEvent*> event = stream_->Next();
    if (!event.ok()) {
      FinishOnce(ToGrpcStatus(event.status()));
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
    StartWrite(&response_);
  }

  // Finishes the call if it was cancelled (also by its deadline).
  bool Cancelled() {
    if (!stop_.stopped() && !context_->IsCancelled()) return false;
    FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    return true;
  }

  void FinishOnce(const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) return;
    finished_ = true;
    final_code_ = status.error_code();
    Finish(status);
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
  bool finished_ = false;
  grpc::StatusCode final_code_ = grpc::StatusCode::OK;
};

ConversationServiceImpl::ConversationServiceImpl(Workspace* workspace, ServiceLimits limits,
                                                 ServiceMetrics* metrics)
    : workspace_(workspace),
      limits_(limits),
      metrics_(metrics),
      executor_(limits.worker_threads > 0
                    ? limits.worker_threads
                    : std::max(2, static_cast<int>(std::thread::hardware_concurrency())),
                limits.max_worker_threads) {}

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
  metrics_->RpcHandled("Describe", "OK", SecondsSince(start));
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace convgen
