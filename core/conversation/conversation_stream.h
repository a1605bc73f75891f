// ConversationStream: a request's conversations, pulled one turn at a time.
//
// Conversation i (global index, id CONV_ID_<i>) is built from its plan and
// the corpus when its first turn is pulled; memory is bounded by one
// conversation, not by the request. Options select a shard (the indices with
// i % shard_count == shard_index) and a start index; every selection yields
// byte-identical turns to the same conversations of the full run.
//
// Message text has vLLM's structure: every user message starts with the
// header "{i} is a nice number... ", then the instruction
// "Please rewrite the following text and add more content: ", then corpus
// text; the first user message starts with the request's common prefix and
// carries the unique prefix between header and instruction; assistant
// messages are corpus text. With prefix groups, the first user message has
// its group's prefix right after the common prefix. Every message encodes to
// exactly its target.
//
// Not thread-safe: one stream per request.
#ifndef CONVGEN_CORE_CONVERSATION_CONVERSATION_STREAM_H_
#define CONVGEN_CORE_CONVERSATION_CONVERSATION_STREAM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config/generation_spec.h"
#include "core/conversation/conversation_planner.h"
#include "core/conversation/message_builder.h"
#include "core/corpus/corpus.h"
#include "core/stats/summary_stats.h"
#include "core/tokenizer/tokenizer.h"

namespace convgen {

inline constexpr absl::string_view kInstruction =
    "Please rewrite the following text and add more content: ";

enum class Role { kUser, kAssistant };

struct Turn {
  uint64_t conversation_index = 0;
  std::string conversation_id;  // CONV_ID_<index>
  int64_t turn_index = 0;       // 0-based message index in the conversation
  int64_t num_turns = 0;        // messages in the conversation
  Role role = Role::kUser;
  std::string content;
  int64_t num_tokens = 0;
  // Assistant turns: the target a driver sends as max_tokens and min_tokens.
  int64_t max_tokens = 0;
  // User turns, with prompt_input.think_time_ms: how long a driver waits
  // before sending this message; -1 when not configured.
  int64_t think_time_ms = -1;
  // With prompt_input.prefix_groups: the conversation's group; -1 otherwise.
  int64_t prefix_group = -1;
  // With StreamOptions::include_token_ids: the ids content encodes to.
  std::vector<TokenId> token_ids;
};

struct StreamOptions {
  uint64_t seed = 0;
  uint64_t shard_index = 0;
  uint64_t shard_count = 1;
  uint64_t start_index = 0;  // first global index considered
  // Limits checked on each conversation's plan before any text is built
  // (ResourceExhausted); 0 means none. A sampled size can be enormous
  // (zipf tails, 10^12-token constants), and memory is one conversation.
  int64_t max_message_tokens = 0;
  int64_t max_messages_per_conversation = 0;
  // rng numpy_legacy: the most sizes a request may draw (vLLM draws one per
  // message of every conversation, and a shard replays the draws before it).
  int64_t max_numpy_legacy_draws = int64_t{1} << 30;
  // Fill Turn::token_ids (one more encoding of every message).
  bool include_token_ids = false;
};

class ConversationStream {
 public:
  // Fails if the options are out of range or the corpus is empty.
  static absl::StatusOr<std::unique_ptr<ConversationStream>> Create(
      const GenerationSpec& spec, const StreamOptions& options,
      std::shared_ptr<const TokenizedCorpus> corpus,
      std::shared_ptr<const Tokenizer> tokenizer);

  // Returns the next turn, or nullptr after the last one. The turn stays
  // valid until the next call.
  absl::StatusOr<const Turn*> Next();

  // The index the next conversation would have: where to resume after an
  // interruption (num_conversations at the end).
  uint64_t next_conversation_index() const { return next_index_; }

  // Statistics of the conversations built so far.
  const GenerationSummary& summary() const { return summary_; }

 private:
  ConversationStream(const GenerationSpec& spec, const StreamOptions& options,
                     ConversationPlanner planner,
                     std::unique_ptr<MessageBuilder> builder);

  absl::Status CheckLimits(const ConversationPlan& plan) const;
  // Checks a built message (as many token ids as num_tokens; the builder
  // checks UTF-8): Internal, naming the message, if not.
  absl::Status CheckMessage(const Turn& turn) const;
  absl::Status BuildConversation(uint64_t index);

  GenerationSpec spec_;
  StreamOptions options_;
  ConversationPlanner planner_;
  std::unique_ptr<MessageBuilder> builder_;
  MessagePart common_prefix_;
  bool common_prefix_wrapped_ = false;

  uint64_t next_index_;
  std::vector<Turn> turns_;  // the current conversation
  size_t next_turn_ = 0;
  GenerationSummary summary_;
};

// The first global index >= start that belongs to the shard.
uint64_t FirstIndexOfShard(uint64_t start, uint64_t shard_index, uint64_t shard_count);

}  // namespace convgen

#endif  // CONVGEN_CORE_CONVERSATION_CONVERSATION_STREAM_H_
