#include "core/conversation/conversation_planner.h"

#include <algorithm>

namespace convgen {

ConversationPlanner::ConversationPlanner(const GenerationSpec& spec, uint64_t seed)
    : spec_(spec), seed_(seed) {
  RandomStream stream({.seed = seed, .index = 0, .field = kFieldCommonPrefixTokens, .draw = 0});
  common_prefix_tokens_ = spec.common_prefix_num_tokens.Sample(stream);
}

ConversationPlan ConversationPlanner::Plan(uint64_t index) const {
  const auto draw = [&](const IntDistribution& d, uint64_t field, uint64_t k) {
    RandomStream stream({.seed = seed_, .index = index, .field = field, .draw = k});
    return d.Sample(stream);
  };
  ConversationPlan plan;
  plan.index = index;
  int64_t messages = std::min(draw(spec_.num_turns, kFieldNumTurns, 0), kMaxMessages);
  messages = std::max<int64_t>(messages, 2);
  messages += messages % 2;
  plan.num_messages = messages;
  plan.prefix_tokens = draw(spec_.prefix_num_tokens, kFieldPrefixTokens, 0);
  const int64_t turns = messages / 2;
  plan.user_tokens.reserve(turns);
  plan.assistant_tokens.reserve(turns);
  for (int64_t t = 0; t < turns; ++t) {
    plan.user_tokens.push_back(draw(spec_.input_num_tokens, kFieldUserTokens, t));
    plan.assistant_tokens.push_back(draw(spec_.output_num_tokens, kFieldAssistantTokens, t));
  }
  return plan;
}

}  // namespace convgen
