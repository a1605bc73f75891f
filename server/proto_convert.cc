#include "server/proto_convert.h"

#include "core/overloaded.h"

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

void MessageToProto(const Message& message, v1::TurnMessage* out) {
  out->set_conversation_index(message.conversation_index);
  out->set_conversation_id(message.conversation_id);
  out->set_turn_index(message.message_index);
  out->set_num_turns(message.num_messages);
  out->set_role(message.role == Role::kUser ? v1::ROLE_USER : v1::ROLE_ASSISTANT);
  out->set_content(message.content);
  out->set_num_tokens(message.num_tokens);
  out->set_max_tokens(message.max_tokens);
  if (message.think_time_ms >= 0) out->set_think_time_ms(message.think_time_ms);
  if (message.prefix_group >= 0) out->set_prefix_group(message.prefix_group);
  out->mutable_token_ids()->Assign(message.token_ids.begin(), message.token_ids.end());
}

void SummaryToProto(const StreamSummary& summary, v1::Summary* out) {
  const GenerationSummary& s = summary.stats;
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
  out->set_next_conversation_index(summary.next_conversation_index);
}

}  // namespace

GenerationRequest RequestFromProto(const v1::GenerateRequest& request) {
  GenerationRequest out;
  if (request.has_config()) out.config = request.config();
  out.config_json = request.config_json();
  out.rng = request.rng();
  out.seed = request.seed();
  out.shard_index = request.shard().index();
  out.shard_count = request.shard().count();
  out.start_index = request.start_index();
  out.tokenizer = request.tokenizer();
  out.tokenizer_json = request.tokenizer_json();
  for (const v1::InlineCorpus& c : request.inline_corpus()) {
    out.inline_texts.push_back({c.name(), c.text()});
  }
  if (request.has_inline_shape()) {
    out.inline_shape = {request.inline_shape().name(), request.inline_shape().text()};
  }
  out.include_token_ids = request.include_token_ids();
  return out;
}

void JobToProto(const GenerationJob& job, v1::ValidateResponse* out) {
  out->set_valid(true);
  *out->mutable_normalized_config() = job.normalized_config();
  out->set_normalized_config_json(job.normalized_config_json());
  out->set_tokenizer(job.tokenizer_name());
  out->set_corpus_tokens(job.corpus_tokens());
  out->set_conversations(job.conversations());
  out->set_common_prefix_tokens(job.common_prefix_tokens());
  out->set_shape_summary(job.shape_summary());
}

void ProblemsToProto(const std::vector<ConfigError>& problems, v1::ValidateResponse* out) {
  // Config problems are an answer, not a failure: valid = false.
  out->set_valid(false);
  for (const ConfigError& e : problems) {
    auto* problem = out->add_problems();
    problem->set_path(e.path);
    problem->set_message(e.message);
  }
}

void EventToProto(const StreamEvent& event, v1::GenerateResponse* out) {
  std::visit(
      Overloaded{
          [&](const ConversationStart& start) {
            auto* s = out->mutable_conversation_start();
            s->set_conversation_index(start.conversation_index);
            s->set_conversation_id(start.conversation_id);
            s->set_num_turns(start.num_messages);
            if (start.arrival_ms >= 0) s->set_arrival_ms(start.arrival_ms);
          },
          [&](const Message& message) { MessageToProto(message, out->mutable_turn()); },
          [&](const ConversationEnd& end) {
            auto* e = out->mutable_conversation_end();
            e->set_conversation_index(end.conversation_index);
            e->set_conversation_id(end.conversation_id);
          },
          [&](const StreamSummary& summary) { SummaryToProto(summary, out->mutable_summary()); },
      },
      event);
}

}  // namespace convgen
