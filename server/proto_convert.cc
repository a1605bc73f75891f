#include "server/proto_convert.h"

#include "core/config/config_json.h"

namespace convgen {
namespace {

void StatisticToProto(const SummaryStatistic& s, v1::Statistic* out) {
  out->set_count(s.count());
  out->set_mean(s.mean());
  out->set_std(s.std());
  out->set_min(s.min());
  out->set_p25(s.Quantile(0.25));
  out->set_p50(s.Quantile(0.5));
  out->set_p75(s.Quantile(0.75));
  out->set_p90(s.Quantile(0.9));
  out->set_p99(s.Quantile(0.99));
  out->set_max(s.max());
}

}  // namespace

std::optional<GenerationSpec> SpecFromRequest(const v1::GenerateRequest& request,
                                              ConfigErrors& errors, v1::GenerationConfig* config) {
  if (request.has_config()) {
    *config = request.config();
  } else if (request.config_json().empty()) {
    errors.Add("", "the request has no config: set config (typed) or config_json (vLLM's JSON)");
    return std::nullopt;
  } else {
    *config = ConfigFromJson(request.config_json(), errors);
    errors.BeginStage();
  }
  // The request's rng wins over the config's; the rules see the result.
  if (request.rng() != v1::RNG_UNSPECIFIED) config->set_rng(request.rng());
  return SpecFromConfig(*config, errors);
}

StreamOptions StreamOptionsFromRequest(const v1::GenerateRequest& request) {
  StreamOptions options;
  options.seed = request.seed();
  options.shard_count = request.shard().count() == 0 ? 1 : request.shard().count();
  options.shard_index = request.shard().index();
  options.start_index = request.start_index();
  options.include_token_ids = request.include_token_ids();
  return options;
}

std::vector<InlineText> InlineTextsFromRequest(const v1::GenerateRequest& request) {
  std::vector<InlineText> texts;
  for (const v1::InlineCorpus& c : request.inline_corpus()) texts.push_back({c.name(), c.text()});
  return texts;
}

void TurnToProto(const Turn& turn, v1::TurnMessage* out) {
  out->set_conversation_index(turn.conversation_index);
  out->set_conversation_id(turn.conversation_id);
  out->set_turn_index(turn.turn_index);
  out->set_num_turns(turn.num_turns);
  out->set_role(turn.role == Role::kUser ? v1::ROLE_USER : v1::ROLE_ASSISTANT);
  out->set_content(turn.content);
  out->set_num_tokens(turn.num_tokens);
  out->set_max_tokens(turn.max_tokens);
  if (turn.think_time_ms >= 0) out->set_think_time_ms(turn.think_time_ms);
  if (turn.prefix_group >= 0) out->set_prefix_group(turn.prefix_group);
  out->mutable_token_ids()->Assign(turn.token_ids.begin(), turn.token_ids.end());
}

void SummaryToProto(const GenerationSummary& s, v1::Summary* out) {
  out->set_conversations(s.conversations);
  out->set_messages(s.messages);
  out->set_user_tokens(s.user_tokens);
  out->set_assistant_tokens(s.assistant_tokens);
  out->set_common_prefix_tokens(s.common_prefix_tokens);
  out->set_raised_targets(s.raised_targets);
  out->set_corpus_wraps(s.corpus_wraps);
  StatisticToProto(s.turns, out->mutable_turns());
  StatisticToProto(s.mean_user_tokens, out->mutable_user_tokens_per_conversation());
  StatisticToProto(s.mean_assistant_tokens, out->mutable_assistant_tokens_per_conversation());
  StatisticToProto(s.request_tokens, out->mutable_request_tokens());
}

}  // namespace convgen
