// ConversationPlanner: the sampled sizes of conversation i, a pure function
// of (spec, seed, i). Every value comes from its own keyed RandomStream, so
// no conversation depends on another; the common prefix size is drawn once
// per request from a stream keyed by the seed alone. Immutable, thread-safe.
#ifndef CONVGEN_CORE_CONVERSATION_CONVERSATION_PLANNER_H_
#define CONVGEN_CORE_CONVERSATION_CONVERSATION_PLANNER_H_

#include <cstdint>
#include <vector>

#include "core/config/generation_spec.h"

namespace convgen {

// Stream field ids. Values are part of the output's definition: changing one
// changes every workload generated with it.
enum StreamField : uint64_t {
  kFieldNumTurns = 1,
  kFieldPrefixTokens = 2,
  kFieldCommonPrefixTokens = 3,  // request level: index 0
  kFieldUserTokens = 4,          // draw = user turn number
  kFieldAssistantTokens = 5,     // draw = assistant turn number
  kFieldBodyOffset = 6,          // draw = message index
  kFieldPrefixOffset = 7,
};

struct ConversationPlan {
  uint64_t index = 0;
  int64_t num_messages = 0;          // even, >= 2
  int64_t prefix_tokens = 0;         // unique prefix of the first message
  std::vector<int64_t> user_tokens;       // per user turn, before clamping
  std::vector<int64_t> assistant_tokens;  // per assistant turn, before clamping
};

class ConversationPlanner {
 public:
  ConversationPlanner(const GenerationSpec& spec, uint64_t seed);

  // The common prefix size of the whole request.
  int64_t common_prefix_tokens() const { return common_prefix_tokens_; }

  // Sizes of conversation `index`. num_messages is clamped to >= 2 and
  // rounded up to even, as vLLM does; a sample above kMaxMessages is capped
  // there (see below).
  ConversationPlan Plan(uint64_t index) const;

  // Messages per conversation are capped: a zipf tail can ask for 2^62.
  static constexpr int64_t kMaxMessages = 1 << 20;

 private:
  GenerationSpec spec_;
  uint64_t seed_;
  int64_t common_prefix_tokens_;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_CONVERSATION_CONVERSATION_PLANNER_H_
