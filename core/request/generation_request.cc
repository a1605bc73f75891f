#include "core/request/generation_request.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/config/config_json.h"
#include "core/json/config_errors.h"
#include "core/status_macros.h"

namespace convgen {
namespace {

// Reads the request's config (typed or JSON) with the rng override applied;
// every problem goes to errors. *config receives the config read.
std::optional<GenerationSpec> ReadConfig(const GenerationRequest& request, ConfigErrors& errors,
                                         v1::GenerationConfig* config) {
  if (request.config.has_value()) {
    *config = *request.config;
  } else if (request.config_json.empty()) {
    errors.Add("", "the request has no config: set config (typed) or config_json (vLLM's JSON)");
    return std::nullopt;
  } else {
    *config = ConfigFromJson(request.config_json, errors);
    errors.BeginStage();
  }
  // The request's rng wins over the config's; the rules see the result.
  if (request.rng != v1::RNG_UNSPECIFIED) config->set_rng(request.rng);
  return SpecFromConfig(*config, errors);
}

// The conversations a request produces: those of its shard from its start
// index on.
int64_t ConversationsOf(const GenerationSpec& spec, uint64_t shard_index, uint64_t shard_count,
                        uint64_t start_index) {
  const uint64_t first = FirstIndexOfShard(start_index, shard_index, shard_count);
  const auto total = static_cast<uint64_t>(spec.num_conversations);
  return first >= total ? 0 : static_cast<int64_t>((total - first - 1) / shard_count + 1);
}

// The request's own fields against the config and the limits.
absl::Status CheckRequest(const GenerationSpec& spec, const GenerationRequest& request,
                          const RequestLimits& limits) {
  CONVGEN_RETURN_IF_ERROR(ConversationPlanner::CheckSeed(spec, request.seed));
  const uint64_t shard_count = request.shard_count == 0 ? 1 : request.shard_count;
  if (request.shard_index >= shard_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard ", request.shard_index, "/", shard_count,
                     ": the shard index must be below the shard count"));
  }
  // Past the last conversation there is nothing to resume; an index beyond
  // it would report a next_conversation_index above num_conversations.
  if (request.start_index > static_cast<uint64_t>(spec.num_conversations)) {
    return absl::InvalidArgumentError(
        absl::StrCat("start_index ", request.start_index, " is beyond num_conversations ",
                     spec.num_conversations, " (resume at most from the end)"));
  }
  // The limit is on what this request produces (its shard, from its start
  // index), so that splitting a workload as the message says succeeds.
  const int64_t produced =
      ConversationsOf(spec, request.shard_index, shard_count, request.start_index);
  if (produced > limits.max_conversations_per_request) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "num_conversations ", spec.num_conversations, " is over this server's limit of ",
        limits.max_conversations_per_request, " per request (this request would produce ", produced,
        "); split the workload into several requests with start_index, or shards"));
  }
  // The shape file sent with the request counts as inline text too.
  auto inline_bytes = static_cast<int64_t>(request.inline_shape.text.size());
  for (const InlineText& text : request.inline_texts) {
    inline_bytes += static_cast<int64_t>(text.text.size());
  }
  if (inline_bytes > limits.max_inline_corpus_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the inline corpus has ", inline_bytes, " bytes, over this server's limit of ",
        limits.max_inline_corpus_bytes, "; put the file in the server's corpus directory"));
  }
  return absl::OkStatus();
}

// What the planner drew for the whole request against the limits.
absl::Status CheckPlanner(const ConversationPlanner& planner, const RequestLimits& limits) {
  if (planner.numpy_legacy_draws() > limits.max_numpy_legacy_draws) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "rng \"numpy_legacy\" would draw %d sizes for this request (as vLLM, one input and one "
        "output size per message of every conversation), over the limit of %d; lower "
        "num_conversations or prompt_input.num_turns, or use rng \"philox\"",
        planner.numpy_legacy_draws(), limits.max_numpy_legacy_draws));
  }
  // The common prefix is built with the stream: check its size first.
  const int64_t common = planner.common_prefix_tokens();
  if (limits.max_message_bytes > 0 && common > limits.max_message_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the request asks for ", common,
                     " tokens of common prefix in the first message, over "
                     "the limit of ",
                     limits.max_message_bytes,
                     " tokens per message; lower "
                     "prompt_input.common_prefix_num_tokens"));
  }
  return absl::OkStatus();
}

StreamOptions OptionsOf(const GenerationRequest& request, const RequestLimits& limits,
                        MemoryBudget* budget) {
  StreamOptions options;
  options.seed = request.seed;
  options.shard_index = request.shard_index;
  options.shard_count = request.shard_count == 0 ? 1 : request.shard_count;
  options.start_index = request.start_index;
  options.include_token_ids = request.include_token_ids;
  options.max_message_tokens = limits.max_message_bytes;
  options.max_message_bytes = limits.max_message_bytes;
  options.max_messages_per_conversation = limits.max_messages_per_conversation;
  options.budget = budget;
  return options;
}

}  // namespace

int64_t GenerationJob::conversations() const {
  return ConversationsOf(spec_, options_.shard_index, options_.shard_count, options_.start_index);
}

std::string GenerationJob::normalized_config_json() const { return ConfigToJson(config_); }

absl::StatusOr<std::unique_ptr<ConversationStream>> GenerationJob::OpenStream(StopSignal* stop) {
  if (stream_ == nullptr) {
    return absl::FailedPreconditionError("GenerationJob::OpenStream called twice");
  }
  stream_->set_stop(stop);
  return std::move(stream_);
}

absl::StatusOr<std::unique_ptr<GenerationJob>> PrepareGeneration(
    Workspace& workspace, const GenerationRequest& request, const RequestLimits& limits,
    std::vector<ConfigError>* problems) {
  if (request.stop != nullptr) request.stop->StartWork();
  // Tokenizing is cut short once stopped; GetCorpus then fails.
  const ScopedStop scoped_stop(request.stop);
  std::unique_ptr<GenerationJob> job(new GenerationJob());
  ConfigErrors errors;
  std::optional<GenerationSpec> spec = ReadConfig(request, errors, &job->config_);
  if (!spec.has_value()) {
    if (problems != nullptr) {
      problems->insert(problems->end(), errors.errors().begin(), errors.errors().end());
    }
    return errors.ToStatus();
  }
  job->spec_ = *std::move(spec);
  CONVGEN_RETURN_IF_ERROR(CheckRequest(job->spec_, request, limits));
  job->options_ = OptionsOf(request, limits, &workspace.memory_budget());
  CONVGEN_ASSIGN_OR_RETURN(ResolvedTokenizer resolved,
                           workspace.ResolveTokenizer(request.tokenizer, request.tokenizer_json));
  job->tokenizer_name_ = resolved.name;
  std::shared_ptr<const Tokenizer> tokenizer = std::move(resolved.tokenizer);
  CONVGEN_ASSIGN_OR_RETURN(std::shared_ptr<const TokenizedCorpus> corpus,
                           workspace.GetCorpus(job->spec_.text_files, request.inline_texts,
                                               resolved.cache_key, *tokenizer, request.stop));
  job->corpus_tokens_ = static_cast<int64_t>(corpus->num_tokens());
  std::shared_ptr<const Shape> shape;
  if (job->spec_.shape_source) {
    CONVGEN_ASSIGN_OR_RETURN(shape,
                             workspace.GetShape(*job->spec_.shape_source, request.inline_shape,
                                                resolved.cache_key, *tokenizer, request.stop));
    job->shape_summary_ = DescribeShape(*shape, job->spec_.shape_source->path);
  } else if (!request.inline_shape.name.empty() || !request.inline_shape.text.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the request sends a shape file (inline_shape ", QuoteForMessage(request.inline_shape.name),
        ") but its config has no shape_source; add one, or do not send it"));
  }
  // Built once: with numpy_legacy it draws every turn count of the request.
  ConversationPlanner planner(job->spec_, job->options_.seed, std::move(shape));
  CONVGEN_RETURN_IF_ERROR(CheckPlanner(planner, limits));
  if (job->spec_.shape_source) {
    if (absl::Status s = planner.CheckArrivals(static_cast<uint64_t>(job->spec_.num_conversations));
        !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shape_source ", QuoteForMessage(job->spec_.shape_source->path), ": ", s.message()));
    }
  }
  job->common_prefix_tokens_ = planner.common_prefix_tokens();
  CONVGEN_ASSIGN_OR_RETURN(job->stream_,
                           ConversationStream::Create(job->spec_, job->options_, std::move(planner),
                                                      std::move(corpus), std::move(tokenizer)));
  if (request.stop != nullptr && request.stop->ShouldStop()) {
    return request.stop->Reason("preparing the request");
  }
  // The common prefix is always stated in the normalized config (a shape
  // source refuses it).
  if (job->spec_.shape_source) return job;
  auto* prompt_input = job->config_.mutable_prompt_input();
  if (!prompt_input->has_common_prefix_num_tokens()) {
    prompt_input->mutable_common_prefix_num_tokens()->mutable_constant()->set_value(0);
  }
  return job;
}

}  // namespace convgen
