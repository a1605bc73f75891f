// ConversationPlanner: every sampled value of conversation i: its sizes and
// where its text starts in the corpus.
// With rng philox (the default) they are a pure function of (spec, seed, i):
// every value comes from its own keyed RandomStream, so no conversation
// depends on another; the common prefix size is drawn once per request from a
// stream keyed by the seed alone.
// With rng numpy_legacy they are vLLM's: numpy's legacy RandomState in vLLM's
// draw order (all turn counts, all prefix sizes, the common prefix size, then
// per conversation its input and output sizes, each a batch of num_turns).
// Conversations must then be planned in increasing index order; the draws of
// the ones skipped (other shards, before start_index) are replayed, not built.
// Not thread-safe (numpy_legacy keeps the generator's state).
#ifndef CONVGEN_CORE_CONVERSATION_CONVERSATION_PLANNER_H_
#define CONVGEN_CORE_CONVERSATION_CONVERSATION_PLANNER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/config/generation_spec.h"
#include "core/shape/shape.h"

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
  kFieldThinkTime = 8,  // draw = user turn number
  kFieldPrefixGroup = 9,
  kFieldFirstUserTokens = 10,
  kFieldFirstAssistantTokens = 11,
  // Keyed by group (index = group number), not by conversation.
  kFieldGroupPrefixTokens = 12,
  kFieldGroupPrefixOffset = 13,
  // Keyed by a trace's hash id (index = the id), not by conversation: where
  // that block's text starts in the corpus.
  kFieldBlockOffset = 14,
};

struct ConversationPlan {
  uint64_t index = 0;
  int64_t num_messages = 0;  // even, >= 2
  // num_turns as sampled (even, >= 2), before the kMaxMessages cap: what
  // limits and their messages are about.
  int64_t requested_messages = 0;
  int64_t prefix_tokens = 0;              // unique prefix of the first message
  std::vector<int64_t> user_tokens;       // per user turn, before clamping
  std::vector<int64_t> assistant_tokens;  // per assistant turn, before clamping
  // convgen's additions (empty / -1 / 0 unless configured):
  std::vector<int64_t> think_time_ms;  // per user turn
  int64_t prefix_group = -1;           // the conversation's group
  int64_t group_prefix_tokens = 0;     // that group's prefix size
  // Where each piece of corpus text starts, as a unit in [0, 1) that
  // MessageBuilder::PlaceBody turns into a corpus token:
  std::vector<double> body_offsets;  // per message, its body
  double prefix_offset = 0;          // the unique prefix
  double group_prefix_offset = 0;    // the group's prefix (keyed by group)
  // With a shape source: the sizes are the source's (no prefixes; user
  // messages hold exactly their count, see ConversationStream), the
  // conversation's arrival (ms, -1: none) and a trace's prefix blocks.
  bool shaped = false;
  int64_t arrival_ms = -1;
  std::vector<int64_t> hash_ids;
};

class ConversationPlanner {
 public:
  // Returns InvalidArgument if `seed` does not suit the spec's rng
  // (numpy_legacy: numpy takes seeds below 2^32).
  static absl::Status CheckSeed(const GenerationSpec& spec, uint64_t seed);

  // `seed` passed CheckSeed. With spec.shape_source, `shape` is the source
  // as read (non-null): replay gives conversation i the sizes of record
  // i mod N, fit samples them from the source's empirical distributions.
  ConversationPlanner(const GenerationSpec& spec, uint64_t seed,
                      std::shared_ptr<const Shape> shape = nullptr);
  ConversationPlanner(ConversationPlanner&&);
  ~ConversationPlanner();

  // With a trace's timestamps: InvalidArgument if the arrival of some
  // conversation below `num_conversations` would exceed kMaxArrivalMs
  // (2^53), the largest integer JSON consumers hold exactly.
  absl::Status CheckArrivals(uint64_t num_conversations) const;

  // The common prefix size of the whole request.
  int64_t common_prefix_tokens() const { return common_prefix_tokens_; }

  // rng numpy_legacy: how many sizes the whole request draws (2 per message
  // of every conversation, exact: it can pass 2^63); 0 with philox.
  absl::uint128 numpy_legacy_draws() const { return numpy_legacy_draws_; }

  // Sizes of conversation `index`. num_messages is clamped to >= 2 and
  // rounded up to even, as vLLM does; a sample above kMaxMessages is capped
  // there (see below). With numpy_legacy, `index` must exceed the last one
  // planned, and a conversation to replay with more than kMaxMessages
  // messages is an error (its draws cannot be replayed in bounded time).
  absl::StatusOr<ConversationPlan> Plan(uint64_t index);

  // Messages per conversation are capped: a zipf tail can ask for 2^62.
  static constexpr int64_t kMaxMessages = 1 << 20;

 private:
  struct NumpyLegacyDraws;

  ConversationPlan PlanPhilox(uint64_t index) const;
  ConversationPlan PlanShape(uint64_t index) const;
  // Conversation `index`'s arrival (ms) with a shape, exact; -1 if none.
  absl::int128 ArrivalMs(uint64_t index) const;
  absl::StatusOr<ConversationPlan> PlanNumpyLegacy(uint64_t index);
  // Draws convgen's own fields (think time, group, first-turn sizes, corpus
  // offsets) from keyed streams, in either mode: vLLM has nothing to
  // reproduce there.
  void AddConvgenFields(ConversationPlan& plan) const;
  void AddOffsets(ConversationPlan& plan) const;
  int64_t Draw(const IntDistribution& d, uint64_t index, uint64_t field, uint64_t k) const;
  double Unit(uint64_t index, uint64_t field, uint64_t k) const;

  GenerationSpec spec_;
  uint64_t seed_;
  int64_t common_prefix_tokens_;
  absl::uint128 numpy_legacy_draws_ = 0;
  std::unique_ptr<NumpyLegacyDraws> numpy_;  // with rng numpy_legacy
  std::shared_ptr<const Shape> shape_;       // with a shape source
  std::optional<FittedShape> fitted_;        // in mode fit
  int64_t replay_period_ms_ = 0;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_CONVERSATION_CONVERSATION_PLANNER_H_
