// GenerationRequest and PrepareGeneration: the one boundary between a caller
// (the gRPC server, a test, a benchmark) and the core. A request is checked
// in one place, PrepareGeneration: config (every problem at its JSON path),
// rng override, seed, shard, limits, tokenizer and corpus; the GenerationJob
// it returns answers Validate's questions and opens the event stream.
//
// PrepareGeneration may take long (a corpus is tokenized on first use): run
// it off threads that must not block. Thread-safe (the workspace is); a job
// is used by one thread at a time.
#ifndef CONVGEN_CORE_REQUEST_GENERATION_REQUEST_H_
#define CONVGEN_CORE_REQUEST_GENERATION_REQUEST_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "convgen/v1/config.pb.h"
#include "core/config/generation_spec.h"
#include "core/conversation/conversation_stream.h"
#include "core/json/config_errors.h"
#include "core/request/workspace.h"
#include "core/stop_signal.h"

namespace convgen {

// What a caller asks for. Inline texts are borrowed: they must outlive the
// PrepareGeneration call.
struct GenerationRequest {
  // The config: typed if set, else vLLM's JSON.
  std::optional<v1::GenerationConfig> config;
  std::string config_json;
  // Overrides the config's rng when not RNG_UNSPECIFIED.
  v1::Rng rng = v1::RNG_UNSPECIFIED;
  uint64_t seed = 0;
  uint64_t shard_index = 0;
  uint64_t shard_count = 1;  // 0 means 1
  uint64_t start_index = 0;
  std::string tokenizer;  // "" for the default
  // A tokenizer.json sent with the request (borrowed, like inline texts),
  // used instead of `tokenizer`; empty: none.
  absl::string_view tokenizer_json;
  std::vector<InlineText> inline_texts;
  // The config's shape_source file sent with the request (borrowed), used
  // instead of the server's file of that name; empty name: none.
  InlineText inline_shape;
  bool include_token_ids = false;
  // The caller's signal to give up (client gone, CPU limit), if any:
  // preparing the request is one piece of work for its CPU limit.
  StopSignal* stop = nullptr;
};

// Limits a server puts on each request (0: none, where noted).
struct RequestLimits {
  int64_t max_conversations_per_request = 1000000;
  int64_t max_inline_corpus_bytes = 64 << 20;
  // Largest message text, in bytes; a token is at least a byte, so token
  // targets above it are refused before building.
  int64_t max_message_bytes = 16 << 20;
  int64_t max_messages_per_conversation = 65536;
  // rng numpy_legacy: the most sizes a request may draw (vLLM draws one per
  // message of every conversation, and a shard replays the draws before it).
  int64_t max_numpy_legacy_draws = int64_t{1} << 30;
};

// A checked request, resolved against a workspace; nothing built yet.
class GenerationJob {
 public:
  GenerationJob(const GenerationJob&) = delete;
  GenerationJob& operator=(const GenerationJob&) = delete;

  // The config as read, with the request's rng and defaults filled in.
  const v1::GenerationConfig& normalized_config() const { return config_; }
  std::string normalized_config_json() const;
  const std::string& tokenizer_name() const { return tokenizer_name_; }
  int64_t corpus_tokens() const { return corpus_tokens_; }
  // Conversations the stream will produce (of the shard, from the start
  // index).
  int64_t conversations() const;
  int64_t common_prefix_tokens() const { return common_prefix_tokens_; }
  // With a shape_source: the shape as read, for describe-shape; else empty.
  const std::string& shape_summary() const { return shape_summary_; }

  // Hands over the event stream; call once. *stop, if given, must outlive
  // the stream (see ConversationStream::set_stop).
  absl::StatusOr<std::unique_ptr<ConversationStream>> OpenStream(StopSignal* stop = nullptr);

 private:
  friend absl::StatusOr<std::unique_ptr<GenerationJob>> PrepareGeneration(
      Workspace&, const GenerationRequest&, const RequestLimits&, std::vector<ConfigError>*);
  GenerationJob() = default;

  v1::GenerationConfig config_;
  GenerationSpec spec_;
  StreamOptions options_;
  std::string tokenizer_name_;
  int64_t corpus_tokens_ = 0;
  int64_t common_prefix_tokens_ = 0;
  std::string shape_summary_;
  // Made by PrepareGeneration, so that every check it makes (an empty
  // corpus too) is made before Validate answers; nothing is built yet.
  std::unique_ptr<ConversationStream> stream_;
};

// Checks and resolves a request. Config problems are InvalidArgument
// listing them all, and are also appended to *problems when given (one per
// JSON path); other failures name the field and how to fix it.
absl::StatusOr<std::unique_ptr<GenerationJob>> PrepareGeneration(
    Workspace& workspace, const GenerationRequest& request, const RequestLimits& limits,
    std::vector<ConfigError>* problems = nullptr);

}  // namespace convgen

#endif  // CONVGEN_CORE_REQUEST_GENERATION_REQUEST_H_
