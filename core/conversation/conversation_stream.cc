#include "core/conversation/conversation_stream.h"

#include <algorithm>
#include <utility>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/random/random_stream.h"
#include "core/status_macros.h"

namespace convgen {

uint64_t FirstIndexOfShard(uint64_t start, uint64_t shard_index, uint64_t shard_count) {
  const uint64_t remainder = start % shard_count;
  return start - remainder + shard_index + (shard_index < remainder ? shard_count : 0);
}

absl::StatusOr<std::unique_ptr<ConversationStream>> ConversationStream::Create(
    const GenerationSpec& spec, const StreamOptions& options, ConversationPlanner planner,
    std::shared_ptr<const TokenizedCorpus> corpus, std::shared_ptr<const Tokenizer> tokenizer) {
  CONVGEN_ASSIGN_OR_RETURN(auto builder,
                           MessageBuilder::Create(std::move(corpus), std::move(tokenizer)));
  return std::unique_ptr<ConversationStream>(
      new ConversationStream(spec, options, std::move(planner), std::move(builder)));
}

ConversationStream::ConversationStream(const GenerationSpec& spec, const StreamOptions& options,
                                       ConversationPlanner planner,
                                       std::unique_ptr<MessageBuilder> builder)
    : spec_(spec),
      options_(options),
      planner_(std::move(planner)),
      builder_(std::move(builder)),
      next_index_(FirstIndexOfShard(options.start_index, options.shard_index, options.shard_count)),
      resume_index_(next_index_) {
  const int64_t common = planner_.common_prefix_tokens();
  if (common > 0) common_prefix_ = builder_->CorpusPart(0, common, &common_prefix_wrapped_);
  stats_.common_prefix_tokens = common;
}

bool ConversationStream::NextIsReady() const {
  return next_event_ < events_.size() || summary_returned_ ||
         next_index_ >= static_cast<uint64_t>(spec_.num_conversations);
}

absl::StatusOr<const StreamEvent*> ConversationStream::Next() {
  if (next_event_ < events_.size()) {
    const StreamEvent& event = events_[next_event_++];
    if (std::holds_alternative<ConversationEnd>(event)) resume_index_ = next_index_;
    return &event;
  }
  if (next_index_ < static_cast<uint64_t>(spec_.num_conversations)) {
    CONVGEN_RETURN_IF_ERROR(BuildConversation(next_index_));
    next_index_ += options_.shard_count;
    next_event_ = 0;
    return &events_[next_event_++];
  }
  if (summary_returned_) return nullptr;
  summary_returned_ = true;
  events_.clear();
  memory_.Release();
  summary_ = StreamSummary{stats_, next_index_};
  return &summary_;
}

double ConversationStream::NextBuildTokens() {
  if (NextIsReady() || next_index_ >= static_cast<uint64_t>(spec_.num_conversations)) return 0;
  if (!planned_ || planned_index_ != next_index_) {
    planned_ = planner_.Plan(next_index_);
    planned_index_ = next_index_;
  }
  return planned_->ok() ? PlannedTokens(**planned_) : 0;
}

double ConversationStream::PlannedTokens(const ConversationPlan& plan) const {
  // Summed as doubles: without a per-message limit the sizes (each up to
  // 2^62) can pass int64 together, and an estimate needs no exactness.
  double tokens = static_cast<double>(planner_.common_prefix_tokens()) +
                  static_cast<double>(plan.group_prefix_tokens) +
                  static_cast<double>(plan.prefix_tokens);
  for (size_t t = 0; t < plan.user_tokens.size(); ++t) {
    tokens +=
        static_cast<double>(plan.user_tokens[t]) + static_cast<double>(plan.assistant_tokens[t]);
  }
  return tokens;
}

absl::Status ConversationStream::CheckLimits(const ConversationPlan& plan) const {
  const std::string id = absl::StrCat("CONV_ID_", plan.index);
  if (options_.max_messages_per_conversation > 0 &&
      plan.requested_messages > options_.max_messages_per_conversation) {
    return absl::ResourceExhaustedError(
        absl::StrCat(id, " has ", plan.requested_messages,
                     " messages (prompt_input.num_turns), over the limit of ",
                     options_.max_messages_per_conversation, "; give num_turns a smaller max"));
  }
  if (options_.max_message_tokens <= 0) return absl::OkStatus();
  const auto over = [&](absl::int128 tokens, absl::string_view what) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "%s asks for %d tokens in %s, over the limit of %d tokens per message; lower that size "
        "(or its max)",
        id, tokens, what, options_.max_message_tokens));
  };
  // The first user message holds the common prefix, the unique prefix and
  // its own tokens. Each size is at most 2^62 but four of them can pass
  // 2^63: 128-bit sums keep the message's number the true one.
  const int64_t limit = options_.max_message_tokens;
  const absl::int128 first_prefixes =
      absl::int128(planner_.common_prefix_tokens()) + plan.group_prefix_tokens + plan.prefix_tokens;
  if (first_prefixes > limit) {
    return over(first_prefixes,
                "the first message (common_prefix_num_tokens + the group's prefix_num_tokens + "
                "prefix_num_tokens)");
  }
  for (size_t t = 0; t < plan.user_tokens.size(); ++t) {
    const absl::int128 tokens = plan.user_tokens[t] + (t == 0 ? first_prefixes : 0);
    // A shape source's sizes are its records': the message names the source.
    if (tokens > limit) {
      return over(tokens, plan.shaped ? "a user message (its shape_source record)"
                                      : "a user message (prompt_input.num_tokens)");
    }
    if (plan.assistant_tokens[t] > limit) {
      return over(plan.assistant_tokens[t],
                  plan.shaped ? "an assistant message (its shape_source record)"
                              : "an assistant message (prompt_output.num_tokens)");
    }
  }
  return absl::OkStatus();
}

absl::Status ConversationStream::CheckMessage(const Message& message) const {
  const auto size = static_cast<int64_t>(message.content.size());
  if (options_.max_message_bytes > 0 && size > options_.max_message_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(message.conversation_id, " message ", message.message_index, " has ", size,
                     " bytes, over the limit of ", options_.max_message_bytes,
                     " bytes per message (--max-message-bytes); lower the token targets"));
  }
  // The builder makes valid (it checks that), exact text by construction;
  // this is the last guard before a message leaves the core, so that a bug
  // ends the stream with an error naming the message instead of sending a
  // wrong count.
  if (options_.include_token_ids &&
      static_cast<int64_t>(message.token_ids.size()) != message.num_tokens) {
    return absl::InternalError(absl::StrCat(
        message.conversation_id, " message ", message.message_index, ": the text encodes to ",
        message.token_ids.size(), " tokens, not the ", message.num_tokens,
        " built; this is a bug in convgen: please report it with the request"));
  }
  return absl::OkStatus();
}

std::vector<MessagePart> ConversationStream::FirstUserParts(const ConversationPlan& plan,
                                                            const std::string& header,
                                                            int64_t* target, int64_t* count) {
  MessagePart group_part;
  if (plan.group_prefix_tokens > 0) {
    const uint64_t group_start =
        builder_->PlaceBody(plan.group_prefix_offset, plan.group_prefix_tokens);
    bool group_wrapped = false;
    group_part = builder_->CorpusPart(group_start, plan.group_prefix_tokens, &group_wrapped);
    stats_.corpus_wraps += group_wrapped;
  }
  // The unique prefix is shortened if the joins make the fixed part
  // overshoot the target.
  int64_t prefix = plan.prefix_tokens;
  const uint64_t prefix_start = builder_->PlaceBody(plan.prefix_offset, prefix);
  const MessagePart header_part = builder_->Literal(header);
  const MessagePart instruction_part = builder_->Literal(std::string(kInstruction));
  std::vector<MessagePart> fixed;
  for (int attempt = 0;; ++attempt) {
    bool wrapped = false;
    fixed = {common_prefix_, group_part, header_part,
             builder_->CorpusPart(prefix_start, prefix, &wrapped), instruction_part};
    *count = builder_->CountParts(fixed);
    if (*count <= *target || prefix == 0 || attempt == 8) {
      stats_.corpus_wraps += wrapped;
      if (*count > *target) {
        *target = *count;
        ++stats_.raised_targets;
      }
      break;
    }
    prefix = std::max<int64_t>(0, prefix - (*count - *target));
  }
  if (common_prefix_wrapped_) ++stats_.corpus_wraps;
  return fixed;
}

absl::StatusOr<Message> ConversationStream::BuildMessage(const ConversationPlan& plan, int64_t m,
                                                         const std::string& header,
                                                         const MessagePart& user_fixed,
                                                         int64_t min_user) {
  const int64_t exchange = m / 2;
  const bool is_user = m % 2 == 0;
  Message message;
  message.conversation_index = plan.index;
  message.conversation_id = absl::StrCat("CONV_ID_", plan.index);
  message.message_index = m;
  message.num_messages = plan.num_messages;
  message.role = is_user ? Role::kUser : Role::kAssistant;
  message.prefix_group = plan.prefix_group;
  if (is_user && !plan.think_time_ms.empty()) message.think_time_ms = plan.think_time_ms[exchange];

  std::vector<MessagePart> fixed;
  int64_t target;
  int64_t fixed_count = 0;
  uint64_t start = 0;
  bool placed = false;
  if (is_user && plan.shaped) {
    // Exactly the source's count (>= 1: the readers keep no empty message).
    target = std::max<int64_t>(plan.user_tokens[exchange], 1);
    fixed = ShapedUserParts(plan, m, user_fixed, min_user, target, &fixed_count, &start);
    placed = true;
  } else if (is_user) {
    target = plan.user_tokens[exchange];
    if (target < min_user) {
      target = min_user;
      ++stats_.raised_targets;
    }
    if (exchange == 0) {
      // Common prefix, group prefix, header, unique prefix, instruction.
      target += planner_.common_prefix_tokens() + plan.group_prefix_tokens + plan.prefix_tokens;
      fixed = FirstUserParts(plan, header, &target, &fixed_count);
    } else {
      fixed = {user_fixed};
      fixed_count = min_user;
    }
  } else {
    target = plan.assistant_tokens[exchange];
    if (target < 1) {
      target = 1;
      ++stats_.raised_targets;
    }
  }
  if (!placed) start = builder_->PlaceBody(plan.body_offsets[m], target - fixed_count);
  absl::StatusOr<BuiltMessage> built = builder_->Build(fixed, target, start);
  if (!built.ok()) {
    return absl::Status(built.status().code(), absl::StrCat(message.conversation_id, " message ", m,
                                                            ": ", built.status().message()));
  }
  stats_.corpus_wraps += built->wrapped;
  message.content = std::move(built->text);
  message.num_tokens = built->num_tokens;
  if (!is_user) message.max_tokens = message.num_tokens;
  if (options_.include_token_ids) builder_->Encode(message.content, &message.token_ids);
  // A stopped build's encodings may have been cut short (see ScopedStop):
  // nothing it made is used.
  if (stop_ != nullptr && stop_->ShouldStop()) {
    return stop_->Reason(absl::StrCat("building ", message.conversation_id, " message ", m));
  }
  CONVGEN_RETURN_IF_ERROR(CheckMessage(message));
  return message;
}

// Blocks are built once per stream; a trace names at most a few thousand
// distinct ids in a window, and a repeat after a clear rebuilds the same text.
constexpr size_t kMaxCachedBlocks = 4096;

uint64_t ConversationStream::BlockStart(int64_t id) const {
  RandomStream stream({.seed = options_.seed,
                       .index = static_cast<uint64_t>(id),
                       .field = kFieldBlockOffset,
                       .draw = 0});
  return builder_->PlaceBody(stream.NextDouble(), spec_.shape_source->block_size);
}

absl::StatusOr<MessagePart> ConversationStream::BlockPart(int64_t id) {
  if (const auto found = blocks_.find(id); found != blocks_.end()) return found->second;
  absl::StatusOr<BuiltMessage> built =
      builder_->Build({}, spec_.shape_source->block_size, BlockStart(id));
  if (!built.ok()) return built.status();
  stats_.corpus_wraps += built->wrapped;
  if (blocks_.size() >= kMaxCachedBlocks) blocks_.clear();
  MessagePart part;
  part.text = std::move(built->text);
  return blocks_[id] = std::move(part);
}

std::vector<MessagePart> ConversationStream::ShapedUserParts(
    const ConversationPlan& plan, int64_t m, const MessagePart& user_fixed, int64_t min_user,
    int64_t target, int64_t* fixed_count, uint64_t* start) {
  std::vector<MessagePart> fixed;
  if (m == 0 && !plan.hash_ids.empty()) {
    // The blocks wholly inside the input, then a body that continues the
    // next block's text (a partial last block, cut to the exact count) or,
    // past the last block, text of the conversation's own.
    const int64_t block = spec_.shape_source->block_size;
    const auto ids = static_cast<int64_t>(plan.hash_ids.size());
    int64_t whole = std::min(ids, target / block);
    // The body must hold at least a token: the last whole block is then the
    // body, from the same start, so its text is still the block's.
    if (whole == ids && whole * block == target) --whole;
    std::vector<int64_t> used(plan.hash_ids.begin(), plan.hash_ids.begin() + whole);
    for (int64_t id : used) {
      absl::StatusOr<MessagePart> part = BlockPart(id);
      if (!part.ok()) break;  // that block's cut failed: the body covers the rest
      fixed.push_back(*std::move(part));
    }
    // Joins between blocks can merge tokens either way: blocks that leave
    // no room for a body go to the body.
    *fixed_count = fixed.empty() ? 0 : builder_->CountParts(fixed);
    while (!fixed.empty() && *fixed_count >= target) {
      fixed.pop_back();
      *fixed_count = fixed.empty() ? 0 : builder_->CountParts(fixed);
    }
    const auto next = static_cast<int64_t>(fixed.size());
    *start = next < ids ? BlockStart(plan.hash_ids[next])
                        : builder_->PlaceBody(plan.body_offsets[m], target - *fixed_count);
    return fixed;
  }
  if (target >= min_user) {
    fixed = {user_fixed};
    *fixed_count = min_user;
  }
  *start = builder_->PlaceBody(plan.body_offsets[m], target - *fixed_count);
  return fixed;
}

absl::Status ConversationStream::ReserveMemory(const ConversationPlan& plan) {
  if (options_.budget == nullptr) return absl::OkStatus();
  const double tokens = PlannedTokens(plan);
  // Per token: the text at twice the corpus's bytes per token (cut text can
  // be denser than the average), once kept and once more while it is built
  // and sent, and an encoding while it is checked (about 25 bytes per token
  // for English); the ids if asked for; and each message's fixed cost.
  const TokenizedCorpus& corpus = builder_->corpus();
  const double text_per_token =
      2.0 * static_cast<double>(corpus.text().size()) / static_cast<double>(corpus.num_tokens());
  const double bytes_per_token = 2.0 * text_per_token + 2.0 * sizeof(TokenId) +
                                 (options_.include_token_ids ? sizeof(TokenId) : 0);
  const double bytes = tokens * bytes_per_token + 512.0 * static_cast<double>(plan.num_messages);
  memory_.Release();
  absl::StatusOr<MemoryBudget::Reservation> reserved =
      options_.budget->Reserve(static_cast<int64_t>(std::min(bytes, 1e18)),
                               absl::StrFormat("building CONV_ID_%d (%.0f tokens in %d messages)",
                                               plan.index, tokens, plan.num_messages));
  if (!reserved.ok()) {
    return absl::ResourceExhaustedError(
        absl::StrCat(reserved.status().message(), "; resume with start_index ", plan.index));
  }
  memory_ = *std::move(reserved);
  return absl::OkStatus();
}

absl::Status ConversationStream::BuildConversation(uint64_t index) {
  if (stop_ != nullptr) stop_->StartWork();
  const ScopedStop scoped_stop(stop_);
  // Planned ahead by NextBuildTokens, or now.
  absl::StatusOr<ConversationPlan> planned =
      planned_ && planned_index_ == index ? *std::move(planned_) : planner_.Plan(index);
  planned_.reset();
  CONVGEN_ASSIGN_OR_RETURN(const ConversationPlan plan, std::move(planned));
  CONVGEN_RETURN_IF_ERROR(CheckLimits(plan));
  events_.clear();
  CONVGEN_RETURN_IF_ERROR(ReserveMemory(plan));
  const std::string header = absl::StrCat(index, " is a nice number... ");
  const MessagePart user_fixed = builder_->Literal(absl::StrCat(header, kInstruction));
  const int64_t min_user = builder_->Count(user_fixed.text);

  events_.reserve(plan.num_messages + 2);
  const std::string id = absl::StrCat("CONV_ID_", index);
  events_.emplace_back(ConversationStart{index, id, plan.num_messages, plan.arrival_ms});
  int64_t tokens = 0;
  for (int64_t m = 0; m < plan.num_messages; ++m) {
    CONVGEN_ASSIGN_OR_RETURN(Message message, BuildMessage(plan, m, header, user_fixed, min_user));
    tokens += message.num_tokens;
    events_.emplace_back(std::move(message));
  }
  events_.emplace_back(ConversationEnd{index, id, tokens});
  AddToSummary(events_, plan.num_messages);
  return absl::OkStatus();
}

void ConversationStream::AddToSummary(const std::vector<StreamEvent>& events,
                                      int64_t num_messages) {
  std::vector<MessageSize> sizes;
  sizes.reserve(static_cast<size_t>(num_messages));
  for (const StreamEvent& event : events) {
    const Message* message = std::get_if<Message>(&event);
    if (message == nullptr) continue;
    sizes.push_back({message->role == Role::kUser, message->num_tokens});
  }
  AddConversationToSummary(sizes, &stats_);
}

}  // namespace convgen
