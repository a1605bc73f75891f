// ConversationStream: a request's conversations as a stream of events:
// for each conversation a start, its messages, an end; then one summary.
//
// Conversation i (global index, id CONV_ID_<i>) is built from its plan and
// the corpus when its start is pulled; memory is bounded by one
// conversation, not by the request. Options select a shard (the indices with
// i % shard_count == shard_index) and a start index; every selection yields
// byte-identical messages to the same conversations of the full run.
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
// With a shape source (spec.shape_source) the sizes are the source's and
// every message holds exactly its count: there are no prefixes; a user
// message shorter than the header and instruction is corpus text alone; a
// trace's first user message with hash_ids starts with one block of text
// per id (the text of id h depends only on the seed, h and the corpus:
// equal leading ids give byte-identical leading text), the rest after it,
// without header.
//
// Words: a message is one user or assistant text; an exchange is a user
// message and its answer; a conversation has num_messages = 2 x exchanges
// messages. (The wire calls a message a "turn": TurnMessage, turn_index,
// num_turns.)
//
// Not thread-safe: one stream per request, used by one thread at a time.
// A cancellation flag, if given, must outlive the stream; it is read from
// inside long builds, which then end with Cancelled.
#ifndef CONVGEN_CORE_CONVERSATION_CONVERSATION_STREAM_H_
#define CONVGEN_CORE_CONVERSATION_CONVERSATION_STREAM_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config/generation_spec.h"
#include "core/conversation/conversation_planner.h"
#include "core/conversation/message_builder.h"
#include "core/corpus/corpus.h"
#include "core/memory_budget.h"
#include "core/stats/summary_stats.h"
#include "core/stop_signal.h"
#include "core/tokenizer/tokenizer.h"

namespace convgen {

inline constexpr absl::string_view kInstruction =
    "Please rewrite the following text and add more content: ";

enum class Role { kUser, kAssistant };

// One message of a conversation.
struct Message {
  uint64_t conversation_index = 0;
  std::string conversation_id;  // CONV_ID_<index>
  int64_t message_index = 0;    // 0-based, in the conversation
  int64_t num_messages = 0;     // messages in the conversation
  Role role = Role::kUser;
  std::string content;
  int64_t num_tokens = 0;
  // Assistant messages: the target a driver sends as max_tokens and
  // min_tokens.
  int64_t max_tokens = 0;
  // User messages, with prompt_input.think_time_ms: how long a driver waits
  // before sending this message; -1 when not configured.
  int64_t think_time_ms = -1;
  // With prompt_input.prefix_groups: the conversation's group; -1 otherwise.
  int64_t prefix_group = -1;
  // With StreamOptions::include_token_ids: the ids content encodes to.
  std::vector<TokenId> token_ids;
};

struct ConversationStart {
  uint64_t conversation_index = 0;
  std::string conversation_id;
  int64_t num_messages = 0;
  // With a Mooncake-style shape source: milliseconds after the first
  // conversation at which a driver starts this one; -1 otherwise.
  int64_t arrival_ms = -1;
};

struct ConversationEnd {
  uint64_t conversation_index = 0;
  std::string conversation_id;
  int64_t num_tokens = 0;  // of all its messages
};

// The last event of a stream.
struct StreamSummary {
  GenerationSummary stats;
  // Where the next request would go on (num_conversations or more here).
  uint64_t next_conversation_index = 0;
};

using StreamEvent = std::variant<ConversationStart, Message, ConversationEnd, StreamSummary>;

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
  // Checked on each built message's text (ResourceExhausted); 0 means none.
  int64_t max_message_bytes = 0;
  // Fill Message::token_ids (one more encoding of every message).
  bool include_token_ids = false;
  // Where the conversation being built and sent reserves its memory
  // (nullptr: nowhere).
  MemoryBudget* budget = nullptr;
};

class ConversationStream {
 public:
  // `planner` was made for spec and options.seed; the request's checks
  // (shard, seed, limits: see PrepareGeneration) have passed. Fails if the
  // corpus is empty.
  static absl::StatusOr<std::unique_ptr<ConversationStream>> Create(
      const GenerationSpec& spec, const StreamOptions& options, ConversationPlanner planner,
      std::shared_ptr<const TokenizedCorpus> corpus, std::shared_ptr<const Tokenizer> tokenizer);

  // From now on a long build ends (with stop's reason) once
  // stop->ShouldStop(); each conversation's build is one piece of work for
  // the stop's CPU limit.
  void set_stop(StopSignal* stop) {
    stop_ = stop;
    builder_->set_stop(stop);
  }

  // The common prefix's size, drawn once per request.
  int64_t common_prefix_tokens() const { return planner_.common_prefix_tokens(); }

  // Returns the next event, or nullptr after the summary. The event stays
  // valid until the next call. An error ends the stream.
  absl::StatusOr<const StreamEvent*> Next();

  // Whether the next Next() returns without building a conversation (the
  // current one's events, the summary, the end): cheap enough for a thread
  // that must not block.
  bool NextIsReady() const;

  // The tokens the conversation the next Next() builds is planned to hold
  // (messages and prefixes): how long that build may take, for a caller
  // deciding whether to send what it holds first. 0 when Next() builds
  // nothing or the plan failed (Next() returns the error). The conversation
  // is planned once: the build uses this plan.
  double NextBuildTokens();

  // The first conversation of the stream whose end has not been returned:
  // where to resume after an interruption.
  uint64_t resume_index() const { return resume_index_; }

 private:
  ConversationStream(const GenerationSpec& spec, const StreamOptions& options,
                     ConversationPlanner planner, std::unique_ptr<MessageBuilder> builder);

  absl::Status CheckLimits(const ConversationPlan& plan) const;
  // Checks a built message (its size; as many token ids as num_tokens: the
  // builder checks UTF-8); Internal, naming the message, for a bug.
  absl::Status CheckMessage(const Message& message) const;
  // The fixed parts of the first user message (prefixes, header,
  // instruction), their token count, and the message's target, raised if
  // the fixed parts exceed it.
  std::vector<MessagePart> FirstUserParts(const ConversationPlan& plan, const std::string& header,
                                          int64_t* target, int64_t* count);
  // Builds conversation `index` into events_.
  absl::Status BuildConversation(uint64_t index);
  // Reserves what building the planned conversation may hold.
  absl::Status ReserveMemory(const ConversationPlan& plan);
  // Tokens of `plan`'s messages and prefixes (an estimate: may pass int64).
  double PlannedTokens(const ConversationPlan& plan) const;
  absl::StatusOr<Message> BuildMessage(const ConversationPlan& plan, int64_t m,
                                       const std::string& header, const MessagePart& user_fixed,
                                       int64_t min_user);
  void AddToSummary(const std::vector<StreamEvent>& events, int64_t num_messages);
  // A shape source's user message: its fixed parts (header and instruction
  // if they fit in *target tokens, a trace's blocks) and where its body
  // starts.
  std::vector<MessagePart> ShapedUserParts(const ConversationPlan& plan, int64_t m,
                                           const MessagePart& user_fixed, int64_t min_user,
                                           int64_t target, int64_t* fixed_count, uint64_t* start);
  // The text of a trace's block `id`: exactly block_size tokens alone,
  // starting at the corpus token keyed by (seed, id).
  absl::StatusOr<MessagePart> BlockPart(int64_t id);
  uint64_t BlockStart(int64_t id) const;

  GenerationSpec spec_;
  StreamOptions options_;
  ConversationPlanner planner_;
  std::unique_ptr<MessageBuilder> builder_;
  StopSignal* stop_ = nullptr;
  MemoryBudget::Reservation memory_;  // the current conversation's
  MessagePart common_prefix_;
  bool common_prefix_wrapped_ = false;
  // Block texts built so far (bounded: cleared when full).
  std::map<int64_t, MessagePart> blocks_;

  // The plan of conversation planned_index_, made ahead by NextBuildTokens.
  std::optional<absl::StatusOr<ConversationPlan>> planned_;
  uint64_t planned_index_ = 0;
  uint64_t next_index_;              // the next conversation to build
  uint64_t resume_index_;            // see resume_index()
  std::vector<StreamEvent> events_;  // the current conversation's
  size_t next_event_ = 0;
  bool summary_returned_ = false;
  StreamEvent summary_;
  GenerationSummary stats_;
};

// The first global index >= start that belongs to the shard.
uint64_t FirstIndexOfShard(uint64_t start, uint64_t shard_index, uint64_t shard_count);

}  // namespace convgen

#endif  // CONVGEN_CORE_CONVERSATION_CONVERSATION_STREAM_H_
