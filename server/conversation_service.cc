#include "server/conversation_service.h"

#include <chrono>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/config/config_json.h"
#include "core/status_macros.h"
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

// One Generate stream. Events are produced one at a time, each when the
// previous write completed: conversation start, its turns, its end, ...,
// then the summary.
class GenerateReactor : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  GenerateReactor(ConversationServiceImpl* service, grpc::CallbackServerContext* context)
      : service_(service), context_(context), start_(Clock::now()) {
    service_->metrics_->RpcStarted("Generate");
  }

  // Starts the stream, or finishes it at once with `status`.
  void Start(absl::StatusOr<std::unique_ptr<ConversationStream>> stream, bool counted) {
    counted_ = counted;
    if (counted_) service_->metrics_->active_streams().Increment();
    if (!stream.ok()) {
      FinishOnce(ToGrpcStatus(stream.status()));
      return;
    }
    stream_ = *std::move(stream);
    resume_index_ = stream_->next_conversation_index();
    NextWrite();
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
    if (summary_sent_) {
      FinishOnce(grpc::Status::OK);
      return;
    }
    NextWrite();
  }

  void OnCancel() override { cancelled_ = true; }

  void OnDone() override {
    if (counted_) {
      service_->active_streams_--;
      service_->metrics_->active_streams().Decrement();
    }
    service_->metrics_->RpcHandled("Generate", CodeName(final_code_), SecondsSince(start_));
    delete this;
  }

 private:
  void NextWrite() {
    if (cancelled_ || context_->IsCancelled()) {
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      return;
    }
    if (service_->stopping_) {
      FinishOnce(grpc::Status(
          grpc::StatusCode::UNAVAILABLE,
          absl::StrCat("the server stopped at the end of its drain; resume on another replica "
                       "with start_index ", resume_index_)));
      return;
    }
    response_.Clear();
    if (end_pending_) {
      end_pending_ = false;
      resume_index_ = stream_->next_conversation_index();
      service_->metrics_->ConversationGenerated(static_cast<double>(conversation_tokens_));
      conversation_tokens_ = 0;
      auto* end = response_.mutable_conversation_end();
      end->set_conversation_index(turn_.conversation_index);
      end->set_conversation_id(turn_.conversation_id);
      StartWrite(&response_);
      return;
    }
    if (turn_pending_) {
      turn_pending_ = false;
      TurnToProto(turn_, response_.mutable_turn());
      end_pending_ = turn_.turn_index + 1 == turn_.num_turns;
      StartWrite(&response_);
      return;
    }
    absl::StatusOr<const Turn*> next = stream_->Next();
    if (!next.ok()) {
      FinishOnce(ToGrpcStatus(next.status()));
      return;
    }
    if (*next == nullptr) {
      SummaryToProto(stream_->summary(), response_.mutable_summary());
      response_.mutable_summary()->set_next_conversation_index(stream_->next_conversation_index());
      summary_sent_ = true;
      StartWrite(&response_);
      return;
    }
    turn_ = **next;
    conversation_tokens_ += turn_.num_tokens;
    if (static_cast<int64_t>(turn_.content.size()) > service_->limits_.max_message_bytes) {
      FinishOnce(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat(turn_.conversation_id, " turn ", turn_.turn_index, " has ",
                       turn_.content.size(), " bytes, over the server's --max-message-bytes (",
                       service_->limits_.max_message_bytes, "); lower the token targets")));
      return;
    }
    if (turn_.turn_index == 0) {
      // A new conversation: announce it, then send the turn.
      auto* start = response_.mutable_conversation_start();
      start->set_conversation_index(turn_.conversation_index);
      start->set_conversation_id(turn_.conversation_id);
      start->set_num_turns(turn_.num_turns);
      turn_pending_ = true;
      service_->conversations_generated_++;
      StartWrite(&response_);
      return;
    }
    TurnToProto(turn_, response_.mutable_turn());
    end_pending_ = turn_.turn_index + 1 == turn_.num_turns;
    StartWrite(&response_);
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
  Clock::time_point start_;
  std::unique_ptr<ConversationStream> stream_;
  v1::GenerateResponse response_;
  Turn turn_;
  int64_t conversation_tokens_ = 0;
  uint64_t resume_index_ = 0;  // the first conversation not fully sent
  bool turn_pending_ = false;
  bool end_pending_ = false;
  bool summary_sent_ = false;
  bool first_write_ = true;
  bool counted_ = false;
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;
  bool finished_ = false;
  grpc::StatusCode final_code_ = grpc::StatusCode::OK;
};

ConversationServiceImpl::ConversationServiceImpl(Workspace* workspace, ServiceLimits limits,
                                                 ServiceMetrics* metrics)
    : workspace_(workspace), limits_(limits), metrics_(metrics) {}

absl::StatusOr<ConversationServiceImpl::Prepared> ConversationServiceImpl::Prepare(
    const v1::GenerateRequest& request, v1::ValidateResponse* problems) {
  Prepared p;
  ConfigErrors errors;
  std::optional<GenerationSpec> spec = SpecFromRequest(request, errors, &p.config);
  if (!spec) {
    if (problems != nullptr) {
      for (const ConfigError& e : errors.errors()) {
        auto* problem = problems->add_problems();
        problem->set_path(e.path);
        problem->set_message(e.message);
      }
    }
    return errors.ToStatus();
  }
  p.spec = *std::move(spec);
  p.options = StreamOptionsFromRequest(request);
  p.options.max_message_tokens = limits_.max_message_bytes;
  p.options.max_messages_per_conversation = limits_.max_messages_per_conversation;
  RETURN_IF_ERROR(ConversationPlanner::CheckSeed(p.spec, p.options.seed));
  if (p.options.shard_index >= p.options.shard_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shard ", p.options.shard_index, "/", p.options.shard_count,
        ": the shard index must be below the shard count"));
  }
  if (p.spec.num_conversations > limits_.max_conversations_per_request) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "num_conversations ", p.spec.num_conversations, " is over this server's limit of ",
        limits_.max_conversations_per_request,
        " per request; split the workload into several requests with start_index, or shards"));
  }
  int64_t inline_bytes = 0;
  for (const auto& c : request.inline_corpus()) inline_bytes += static_cast<int64_t>(c.text().size());
  if (inline_bytes > limits_.max_inline_corpus_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the inline corpus has ", inline_bytes, " bytes, over this server's limit of ",
        limits_.max_inline_corpus_bytes, "; put the file in the server's corpus directory"));
  }
  p.tokenizer_name = Workspace::TokenizerName(request.tokenizer());
  ASSIGN_OR_RETURN(p.tokenizer, workspace_->GetTokenizer(p.tokenizer_name));
  ASSIGN_OR_RETURN(p.corpus, workspace_->GetCorpus(p.spec.text_files, InlineTextsFromRequest(request),
                                                   p.tokenizer_name, *p.tokenizer));
  return p;
}

grpc::ServerWriteReactor<v1::GenerateResponse>* ConversationServiceImpl::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* request) {
  auto* reactor = new GenerateReactor(this, context);
  if (draining_) {
    ++active_streams_;
    reactor->Start(absl::UnavailableError("this server is shutting down; retry on another "
                                          "replica (with start_index to resume)"),
                   /*counted=*/true);
    return reactor;
  }
  if (++active_streams_ > limits_.max_concurrent_streams) {
    reactor->Start(absl::ResourceExhaustedError(absl::StrCat(
                       "this server already serves ", limits_.max_concurrent_streams,
                       " streams (--max-concurrent-streams); retry later or use another replica")),
                   /*counted=*/true);
    return reactor;
  }
  absl::StatusOr<Prepared> prepared = Prepare(*request, nullptr);
  if (!prepared.ok()) {
    reactor->Start(prepared.status(), true);
    return reactor;
  }
  reactor->Start(ConversationStream::Create(prepared->spec, prepared->options, prepared->corpus,
                                            prepared->tokenizer),
                 true);
  return reactor;
}

grpc::ServerUnaryReactor* ConversationServiceImpl::Validate(grpc::CallbackServerContext* context,
                                                            const v1::GenerateRequest* request,
                                                            v1::ValidateResponse* response) {
  const auto start = Clock::now();
  metrics_->RpcStarted("Validate");
  auto* reactor = context->DefaultReactor();
  absl::StatusOr<Prepared> prepared = Prepare(*request, response);
  if (!prepared.ok()) {
    if (response->problems_size() == 0) {
      metrics_->RpcHandled("Validate", CodeName(static_cast<grpc::StatusCode>(prepared.status().code())),
                           SecondsSince(start));
      reactor->Finish(ToGrpcStatus(prepared.status()));
      return reactor;
    }
    // Config problems are an answer, not a failure: valid = false.
    response->set_valid(false);
  } else {
    response->set_valid(true);
    *response->mutable_normalized_config() = prepared->config;
    if (!response->normalized_config().prompt_input().has_common_prefix_num_tokens()) {
      response->mutable_normalized_config()
          ->mutable_prompt_input()
          ->mutable_common_prefix_num_tokens()
          ->mutable_constant()
          ->set_value(0);
    }
    response->set_normalized_config_json(ConfigToJson(response->normalized_config()));
    response->set_tokenizer(prepared->tokenizer_name);
    response->set_corpus_tokens(static_cast<int64_t>(prepared->corpus->num_tokens()));
    const StreamOptions& o = prepared->options;
    const uint64_t first = FirstIndexOfShard(o.start_index, o.shard_index, o.shard_count);
    const auto total = static_cast<uint64_t>(prepared->spec.num_conversations);
    response->set_conversations(first >= total ? 0 : static_cast<int64_t>((total - first - 1) / o.shard_count + 1));
    response->set_common_prefix_tokens(
        ConversationPlanner(prepared->spec, o.seed).common_prefix_tokens());
  }
  metrics_->RpcHandled("Validate", "OK", SecondsSince(start));
  reactor->Finish(grpc::Status::OK);
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
