#include "core/conversation/conversation_planner.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/distributions/numpy_legacy.h"
#include "core/random/numpy_random_state.h"
#include "core/random/random_stream.h"
#include "core/status_macros.h"

namespace convgen {
namespace {

// vLLM's rule: at least one exchange, and every user message answered.
// Samples are at most kMaxSampleValue (2^62), so rounding up cannot overflow.
int64_t EvenMessages(int64_t sampled) {
  const int64_t messages = std::max<int64_t>(sampled, 2);
  return messages + messages % 2;
}

}  // namespace

// vLLM's draws: the per-request batches, and the generator positioned at the
// input sizes of conversation `next`.
struct ConversationPlanner::NumpyLegacyDraws {
  explicit NumpyLegacyDraws(uint32_t seed) : state(seed) {}
  NumpyRandomState state;
  std::vector<int64_t> messages;  // per conversation, before kMaxMessages
  std::vector<int64_t> prefix_tokens;
  uint64_t next = 0;
};

absl::Status ConversationPlanner::CheckSeed(const GenerationSpec& spec, uint64_t seed) {
  if (spec.rng == SizeRng::kNumpyLegacy && seed > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("seed ", seed,
                     " is over 4294967295: rng \"numpy_legacy\" seeds numpy as "
                     "np.random.seed(seed), which takes seeds below 2^32"));
  }
  return absl::OkStatus();
}

ConversationPlanner::ConversationPlanner(const GenerationSpec& spec, uint64_t seed,
                                         std::shared_ptr<const Shape> shape)
    : spec_(spec), seed_(seed), shape_(std::move(shape)) {
  if (shape_ != nullptr) {
    common_prefix_tokens_ = 0;
    replay_period_ms_ = ReplayPeriodMs(*shape_);
    if (spec.shape_source && spec.shape_source->fit) fitted_ = FitShape(*shape_);
    return;
  }
  if (spec.rng == SizeRng::kPhilox) {
    RandomStream stream({.seed = seed, .index = 0, .field = kFieldCommonPrefixTokens, .draw = 0});
    common_prefix_tokens_ = spec.common_prefix_num_tokens.Sample(stream);
    return;
  }
  numpy_ = std::make_unique<NumpyLegacyDraws>(static_cast<uint32_t>(seed));
  NumpyRandomState& state = numpy_->state;
  numpy_->messages = SampleBatchLikeVllm(spec.num_turns, spec.num_conversations, state);
  for (int64_t& m : numpy_->messages) {
    m = EvenMessages(m);
    numpy_legacy_draws_ += 2 * absl::uint128(static_cast<uint64_t>(m));
  }
  numpy_->prefix_tokens =
      SampleBatchLikeVllm(spec.prefix_num_tokens, spec.num_conversations, state);
  common_prefix_tokens_ = SampleBatchLikeVllm(spec.common_prefix_num_tokens, 1, state)[0];
}

ConversationPlanner::ConversationPlanner(ConversationPlanner&&) = default;
ConversationPlanner::~ConversationPlanner() = default;

absl::StatusOr<ConversationPlan> ConversationPlanner::Plan(uint64_t index) {
  ConversationPlan plan;
  if (shape_ != nullptr) {
    plan = PlanShape(index);
  } else if (numpy_ == nullptr) {
    plan = PlanPhilox(index);
  } else {
    CONVGEN_ASSIGN_OR_RETURN(plan, PlanNumpyLegacy(index));
  }
  AddConvgenFields(plan);
  AddOffsets(plan);
  return plan;
}

int64_t ConversationPlanner::Draw(const IntDistribution& d, uint64_t index, uint64_t field,
                                  uint64_t k) const {
  RandomStream stream({.seed = seed_, .index = index, .field = field, .draw = k});
  return d.Sample(stream);
}

double ConversationPlanner::Unit(uint64_t index, uint64_t field, uint64_t k) const {
  RandomStream stream({.seed = seed_, .index = index, .field = field, .draw = k});
  return stream.NextDouble();
}

void ConversationPlanner::AddOffsets(ConversationPlan& plan) const {
  plan.body_offsets.reserve(plan.num_messages);
  for (int64_t m = 0; m < plan.num_messages; ++m) {
    plan.body_offsets.push_back(Unit(plan.index, kFieldBodyOffset, m));
  }
  plan.prefix_offset = Unit(plan.index, kFieldPrefixOffset, 0);
  if (plan.prefix_group >= 0) {
    plan.group_prefix_offset =
        Unit(static_cast<uint64_t>(plan.prefix_group), kFieldGroupPrefixOffset, 0);
  }
}

void ConversationPlanner::AddConvgenFields(ConversationPlan& plan) const {
  const uint64_t index = plan.index;
  if (spec_.first_turn_input_num_tokens && !plan.user_tokens.empty()) {
    plan.user_tokens[0] = Draw(*spec_.first_turn_input_num_tokens, index, kFieldFirstUserTokens, 0);
  }
  if (spec_.first_turn_output_num_tokens && !plan.assistant_tokens.empty()) {
    plan.assistant_tokens[0] =
        Draw(*spec_.first_turn_output_num_tokens, index, kFieldFirstAssistantTokens, 0);
  }
  if (spec_.think_time_ms) {
    for (size_t t = 0; t < plan.user_tokens.size(); ++t) {
      plan.think_time_ms.push_back(Draw(*spec_.think_time_ms, index, kFieldThinkTime, t));
    }
  }
  if (spec_.prefix_groups) {
    plan.prefix_group = Draw(spec_.prefix_groups->group, index, kFieldPrefixGroup, 0);
    plan.group_prefix_tokens =
        Draw(spec_.prefix_groups->prefix_num_tokens, static_cast<uint64_t>(plan.prefix_group),
             kFieldGroupPrefixTokens, 0);
  }
}

ConversationPlan ConversationPlanner::PlanPhilox(uint64_t index) const {
  const auto draw = [&](const IntDistribution& d, uint64_t field, uint64_t k) {
    return Draw(d, index, field, k);
  };
  ConversationPlan plan;
  plan.index = index;
  plan.requested_messages = EvenMessages(draw(spec_.num_turns, kFieldNumTurns, 0));
  plan.num_messages = std::min(plan.requested_messages, kMaxMessages);
  plan.prefix_tokens = draw(spec_.prefix_num_tokens, kFieldPrefixTokens, 0);
  const int64_t turns = plan.num_messages / 2;
  plan.user_tokens.reserve(turns);
  plan.assistant_tokens.reserve(turns);
  for (int64_t t = 0; t < turns; ++t) {
    plan.user_tokens.push_back(draw(spec_.input_num_tokens, kFieldUserTokens, t));
    plan.assistant_tokens.push_back(draw(spec_.output_num_tokens, kFieldAssistantTokens, t));
  }
  return plan;
}

absl::int128 ConversationPlanner::ArrivalMs(uint64_t index) const {
  if (fitted_) {
    const FittedShape& f = *fitted_;
    if (f.span_ms < 0 || f.gaps <= 0) return -1;
    return absl::int128(index) * f.span_ms / f.gaps;
  }
  const uint64_t records = shape_->records.size();
  const ShapeRecord& record = shape_->records[index % records];
  if (record.timestamp_ms < 0) return -1;
  return absl::int128(record.timestamp_ms) +
         absl::int128(index / records) * absl::int128(replay_period_ms_);
}

absl::Status ConversationPlanner::CheckArrivals(uint64_t num_conversations) const {
  if (shape_ == nullptr || num_conversations == 0) return absl::OkStatus();
  // Fit: arrivals grow with the index. Replay: a lap's arrivals are its
  // start plus the records' timestamps, each lap later than the one before
  // (the period is at least the span): the last lap's start plus the
  // largest timestamp bounds them.
  const uint64_t last = num_conversations - 1;
  absl::int128 largest = ArrivalMs(last);
  if (!fitted_ && largest >= 0) {
    int64_t span = 0;
    for (const ShapeRecord& r : shape_->records) span = std::max(span, r.timestamp_ms);
    largest = absl::int128(last / shape_->records.size()) * absl::int128(replay_period_ms_) + span;
  }
  if (largest <= kMaxArrivalMs) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      num_conversations, " conversations would arrive up to ",
      absl::Int128High64(largest) == 0 ? absl::StrCat(absl::Int128Low64(largest))
                                       : std::string("past 2^64"),
      " ms into the run, past 2^53 ms (arrival_ms must stay an exact JSON integer); ask for fewer "
      "conversations or use a trace spanning less time"));
}

ConversationPlan ConversationPlanner::PlanShape(uint64_t index) const {
  ConversationPlan plan;
  plan.index = index;
  plan.shaped = true;
  const uint64_t records = shape_->records.size();
  if (!fitted_) {
    // Replay: record i mod N, and past the trace's end its arrivals again,
    // one period later per repeat (ReplayPeriodMs).
    const ShapeRecord& record = shape_->records[index % records];
    plan.num_messages = static_cast<int64_t>(record.message_tokens.size());
    for (size_t m = 0; m + 1 < record.message_tokens.size(); m += 2) {
      plan.user_tokens.push_back(record.message_tokens[m]);
      plan.assistant_tokens.push_back(record.message_tokens[m + 1]);
    }
    plan.hash_ids = record.hash_ids;
    plan.arrival_ms = static_cast<int64_t>(
        std::min<absl::int128>(ArrivalMs(index), std::numeric_limits<int64_t>::max()));
  } else {
    // Fit: every size from its empirical distribution, in the fields the
    // parametric sizes use; a trace's arrivals evenly at its mean rate
    // (a pure function of i, as every value here must be).
    const FittedShape& f = *fitted_;
    plan.num_messages = EvenMessages(Draw(f.messages, index, kFieldNumTurns, 0));
    const int64_t turns = plan.num_messages / 2;
    for (int64_t t = 0; t < turns; ++t) {
      plan.user_tokens.push_back(t == 0 || !f.later_user
                                     ? Draw(f.first_user, index, kFieldFirstUserTokens, t)
                                     : Draw(*f.later_user, index, kFieldUserTokens, t));
      plan.assistant_tokens.push_back(Draw(f.assistant, index, kFieldAssistantTokens, t));
    }
    plan.arrival_ms = static_cast<int64_t>(
        std::min<absl::int128>(ArrivalMs(index), std::numeric_limits<int64_t>::max()));
  }
  plan.requested_messages = plan.num_messages;
  return plan;
}

absl::StatusOr<ConversationPlan> ConversationPlanner::PlanNumpyLegacy(uint64_t index) {
  NumpyLegacyDraws& d = *numpy_;
  if (index < d.next || index >= d.messages.size()) {
    return absl::InternalError(absl::StrCat("numpy_legacy plans conversations in order: ", index,
                                            " asked after ", d.next));
  }
  for (;; ++d.next) {
    const int64_t messages = d.messages[d.next];
    if (messages > kMaxMessages) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "CONV_ID_", d.next, " has ", messages,
          " messages (prompt_input.num_turns); rng "
          "\"numpy_legacy\" replays the draws of every conversation before the ones produced "
          "and cannot replay over ",
          kMaxMessages, "; give num_turns a smaller max"));
    }
    // vLLM samples a size for every message of the conversation and uses the
    // inputs at even positions, the outputs at odd ones.
    std::vector<int64_t> input = SampleBatchLikeVllm(spec_.input_num_tokens, messages, d.state);
    std::vector<int64_t> output = SampleBatchLikeVllm(spec_.output_num_tokens, messages, d.state);
    if (d.next < index) continue;
    ConversationPlan plan;
    plan.index = index;
    plan.num_messages = messages;
    plan.requested_messages = messages;
    plan.prefix_tokens = d.prefix_tokens[index];
    for (int64_t m = 0; m + 1 < messages; m += 2) {
      plan.user_tokens.push_back(input[m]);
      plan.assistant_tokens.push_back(output[m + 1]);
    }
    ++d.next;
    return plan;
  }
}

}  // namespace convgen
