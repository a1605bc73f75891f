#include "core/conversation/conversation_stream.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace convgen {

uint64_t FirstIndexOfShard(uint64_t start, uint64_t shard_index, uint64_t shard_count) {
  const uint64_t remainder = start % shard_count;
  return start - remainder + shard_index + (shard_index < remainder ? shard_count : 0);
}

absl::StatusOr<std::unique_ptr<ConversationStream>> ConversationStream::Create(
    const GenerationSpec& spec, const StreamOptions& options,
    std::shared_ptr<const TokenizedCorpus> corpus, std::shared_ptr<const Tokenizer> tokenizer) {
  if (options.shard_count == 0 || options.shard_index >= options.shard_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shard ", options.shard_index, "/", options.shard_count,
        ": the shard index must be below the shard count (e.g. 0/4 .. 3/4)"));
  }
  RETURN_IF_ERROR(ConversationPlanner::CheckSeed(spec, options.seed));
  // Built once: with numpy_legacy it draws every turn count of the request.
  ConversationPlanner planner(spec, options.seed);
  if (planner.numpy_legacy_draws() > options.max_numpy_legacy_draws) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "rng \"numpy_legacy\" would draw ", planner.numpy_legacy_draws(),
        " sizes for this request (as vLLM, one input and one output size per message of every "
        "conversation), over the limit of ", options.max_numpy_legacy_draws,
        "; lower num_conversations or prompt_input.num_turns, or use rng \"philox\""));
  }
  // The common prefix is built with the stream: check its size first.
  const int64_t common = planner.common_prefix_tokens();
  if (options.max_message_tokens > 0 && common > options.max_message_tokens) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the request asks for ", common, " tokens of common prefix in the first message, over "
        "the limit of ", options.max_message_tokens, " tokens per message; lower "
        "prompt_input.common_prefix_num_tokens"));
  }
  ASSIGN_OR_RETURN(auto builder, MessageBuilder::Create(std::move(corpus), std::move(tokenizer)));
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
      next_index_(FirstIndexOfShard(options.start_index, options.shard_index,
                                    options.shard_count)) {
  const int64_t common = planner_.common_prefix_tokens();
  if (common > 0) common_prefix_ = builder_->CorpusPart(0, common, &common_prefix_wrapped_);
  summary_.common_prefix_tokens = common;
}

absl::StatusOr<const Turn*> ConversationStream::Next() {
  if (next_turn_ == turns_.size()) {
    if (next_index_ >= static_cast<uint64_t>(spec_.num_conversations)) return nullptr;
    RETURN_IF_ERROR(BuildConversation(next_index_));
    next_index_ += options_.shard_count;
    next_turn_ = 0;
  }
  return &turns_[next_turn_++];
}

absl::Status ConversationStream::CheckLimits(const ConversationPlan& plan) const {
  const std::string id = absl::StrCat("CONV_ID_", plan.index);
  if (options_.max_messages_per_conversation > 0 &&
      plan.num_messages > options_.max_messages_per_conversation) {
    return absl::ResourceExhaustedError(absl::StrCat(
        id, " has ", plan.num_messages, " messages (prompt_input.num_turns), over the limit of ",
        options_.max_messages_per_conversation, "; give num_turns a smaller max"));
  }
  if (options_.max_message_tokens <= 0) return absl::OkStatus();
  const auto over = [&](int64_t tokens, absl::string_view what) {
    return absl::ResourceExhaustedError(absl::StrCat(
        id, " asks for ", tokens, " tokens in ", what, ", over the limit of ",
        options_.max_message_tokens, " tokens per message; lower that size (or its max)"));
  };
  // The first user message holds the common prefix, the unique prefix and
  // its own tokens; saturating sums keep 10^18-token sizes from overflowing.
  const int64_t limit = options_.max_message_tokens;
  const int64_t first_prefixes = std::min(planner_.common_prefix_tokens(), limit + 1) +
                                 std::min(plan.group_prefix_tokens, limit + 1) +
                                 std::min(plan.prefix_tokens, limit + 1);
  if (first_prefixes > limit) {
    return over(planner_.common_prefix_tokens() + plan.group_prefix_tokens + plan.prefix_tokens,
                "the first message (common_prefix_num_tokens + the group's prefix_num_tokens + "
                "prefix_num_tokens)");
  }
  for (size_t t = 0; t < plan.user_tokens.size(); ++t) {
    const int64_t tokens = plan.user_tokens[t] + (t == 0 ? first_prefixes : 0);
    if (plan.user_tokens[t] > limit || tokens > limit) {
      return over(tokens, "a user message (prompt_input.num_tokens)");
    }
    if (plan.assistant_tokens[t] > limit) {
      return over(plan.assistant_tokens[t], "an assistant message (prompt_output.num_tokens)");
    }
  }
  return absl::OkStatus();
}

absl::Status ConversationStream::CheckMessage(const Turn& turn) const {
  // The builder makes valid (it checks that), exact text by construction;
  // this is the last guard before a message leaves the core, so that a bug
  // ends the stream with an error naming the message instead of sending a
  // wrong count.
  const auto bug = [&](const std::string& what) {
    return absl::InternalError(absl::StrCat(
        turn.conversation_id, " message ", turn.turn_index, ": ", what,
        "; this is a bug in convgen: please report it with the request"));
  };
  if (options_.include_token_ids &&
      static_cast<int64_t>(turn.token_ids.size()) != turn.num_tokens) {
    return bug(absl::StrCat("the text encodes to ", turn.token_ids.size(),
                            " tokens, not the ", turn.num_tokens, " built"));
  }
  return absl::OkStatus();
}

absl::Status ConversationStream::BuildConversation(uint64_t index) {
  ASSIGN_OR_RETURN(const ConversationPlan plan, planner_.Plan(index));
  RETURN_IF_ERROR(CheckLimits(plan));
  const std::string header = absl::StrCat(index, " is a nice number... ");
  const MessagePart user_fixed = builder_->Literal(absl::StrCat(header, kInstruction));
  const int64_t min_user = builder_->Count(user_fixed.text);
  const auto unit = [&](uint64_t field, uint64_t draw) {
    RandomStream stream({.seed = options_.seed, .index = index, .field = field, .draw = draw});
    return stream.NextDouble();
  };

  turns_.clear();
  turns_.reserve(plan.num_messages);
  int64_t user_sum = 0, assistant_sum = 0, history = 0;
  for (int64_t m = 0; m < plan.num_messages; ++m) {
    const int64_t turn = m / 2;
    const bool is_user = m % 2 == 0;
    Turn t;
    t.conversation_index = index;
    t.conversation_id = absl::StrCat("CONV_ID_", index);
    t.turn_index = m;
    t.num_turns = plan.num_messages;
    t.role = is_user ? Role::kUser : Role::kAssistant;
    t.prefix_group = plan.prefix_group;
    if (is_user && !plan.think_time_ms.empty()) t.think_time_ms = plan.think_time_ms[turn];

    std::vector<MessagePart> fixed;
    int64_t target;
    int64_t fixed_count = 0;
    if (is_user) {
      int64_t tokens = plan.user_tokens[turn];
      if (tokens < min_user) {
        tokens = min_user;
        ++summary_.raised_targets;
      }
      if (turn == 0) {
        // Common prefix, group prefix, header, unique prefix, instruction.
        // The unique prefix is shortened if the joins make the fixed part
        // overshoot the target.
        target = planner_.common_prefix_tokens() + plan.group_prefix_tokens +
                 plan.prefix_tokens + tokens;
        MessagePart group_part;
        if (plan.group_prefix_tokens > 0) {
          RandomStream group_stream({.seed = options_.seed,
                                     .index = static_cast<uint64_t>(plan.prefix_group),
                                     .field = kFieldGroupPrefixOffset,
                                     .draw = 0});
          const uint64_t group_start =
              builder_->PlaceBody(group_stream.NextDouble(), plan.group_prefix_tokens);
          bool group_wrapped = false;
          group_part = builder_->CorpusPart(group_start, plan.group_prefix_tokens, &group_wrapped);
          summary_.corpus_wraps += group_wrapped;
        }
        int64_t prefix = plan.prefix_tokens;
        const uint64_t prefix_start = builder_->PlaceBody(unit(kFieldPrefixOffset, 0), prefix);
        const MessagePart header_part = builder_->Literal(header);
        const MessagePart instruction_part = builder_->Literal(std::string(kInstruction));
        for (int attempt = 0;; ++attempt) {
          bool wrapped = false;
          fixed = {common_prefix_, group_part, header_part,
                   builder_->CorpusPart(prefix_start, prefix, &wrapped), instruction_part};
          fixed_count = builder_->CountParts(fixed);
          if (fixed_count <= target || prefix == 0 || attempt == 8) {
            summary_.corpus_wraps += wrapped;
            break;
          }
          prefix = std::max<int64_t>(0, prefix - (fixed_count - target));
        }
        if (fixed_count > target) {
          target = fixed_count;
          ++summary_.raised_targets;
        }
        if (common_prefix_wrapped_) ++summary_.corpus_wraps;
      } else {
        fixed = {user_fixed};
        fixed_count = min_user;
        target = tokens;
      }
    } else {
      target = plan.assistant_tokens[turn];
      if (target < 1) {
        target = 1;
        ++summary_.raised_targets;
      }
    }
    const uint64_t start = builder_->PlaceBody(unit(kFieldBodyOffset, m), target - fixed_count);
    absl::StatusOr<BuiltMessage> built = builder_->Build(fixed, target, start);
    if (!built.ok()) {
      return absl::Status(built.status().code(), absl::StrCat(t.conversation_id, " message ", m,
                                                              ": ", built.status().message()));
    }
    BuiltMessage message = *std::move(built);
    summary_.corpus_wraps += message.wrapped;
    t.content = std::move(message.text);
    t.num_tokens = message.num_tokens;
    if (options_.include_token_ids) builder_->Encode(t.content, &t.token_ids);
    RETURN_IF_ERROR(CheckMessage(t));
    if (is_user) {
      user_sum += t.num_tokens;
      history += t.num_tokens;
      summary_.request_tokens.Add(static_cast<double>(history));
      summary_.user_tokens += t.num_tokens;
    } else {
      t.max_tokens = t.num_tokens;
      assistant_sum += t.num_tokens;
      history += t.num_tokens;
      summary_.assistant_tokens += t.num_tokens;
    }
    turns_.push_back(std::move(t));
  }
  const double turns = static_cast<double>(plan.num_messages / 2);
  ++summary_.conversations;
  summary_.messages += plan.num_messages;
  summary_.turns.Add(static_cast<double>(plan.num_messages));
  summary_.mean_user_tokens.Add(static_cast<double>(user_sum) / turns);
  summary_.mean_assistant_tokens.Add(static_cast<double>(assistant_sum) / turns);
  return absl::OkStatus();
}

}  // namespace convgen
