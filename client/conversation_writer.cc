#include "client/conversation_writer.h"

#include "nlohmann/json.hpp"

namespace convgen {
namespace {

const char* RoleName(v1::Role role) { return role == v1::ROLE_ASSISTANT ? "assistant" : "user"; }

std::string Dump(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void ConversationWriter::Begin(const v1::ConversationStart& start) {
  current_ = start;
  pending_.clear();
}

void ConversationWriter::Add(const v1::TurnMessage& turn) {
  if (current_ && current_->conversation_index() == turn.conversation_index()) {
    pending_.push_back(turn);
  }
}

void ConversationWriter::End(const v1::ConversationEnd& end) {
  if (!current_ || current_->conversation_index() != end.conversation_index()) {
    return;
  }
  WriteConversation();
  next_index_ = end.conversation_index() + 1;
  current_.reset();
  pending_.clear();
}

void ConversationWriter::WriteJsonl() {
  for (const v1::TurnMessage& t : pending_) {
    nlohmann::ordered_json line = {{"conversation_id", t.conversation_id()},
                                   {"conversation_index", t.conversation_index()},
                                   {"turn_index", t.turn_index()},
                                   {"role", RoleName(t.role())},
                                   {"content", t.content()},
                                   {"num_tokens", t.num_tokens()}};
    if (t.role() == v1::ROLE_ASSISTANT) line["max_tokens"] = t.max_tokens();
    if (t.has_think_time_ms()) line["think_time_ms"] = t.think_time_ms();
    if (t.has_prefix_group()) line["prefix_group"] = t.prefix_group();
    if (t.token_ids_size() > 0) {
      line["token_ids"] = std::vector<uint32_t>(t.token_ids().begin(), t.token_ids().end());
    }
    out_ << Dump(line) << "\n";
  }
}

void ConversationWriter::WriteOpenAiJsonl() {
  nlohmann::ordered_json history = nlohmann::ordered_json::array();
  for (size_t k = 0; k + 1 < pending_.size(); k += 2) {
    const v1::TurnMessage& user = pending_[k];
    const v1::TurnMessage& answer = pending_[k + 1];
    history.push_back({{"role", "user"}, {"content", user.content()}});
    nlohmann::ordered_json body = nlohmann::ordered_json::object();
    if (!openai_.model.empty()) body["model"] = openai_.model;
    body["messages"] = history;
    body["max_tokens"] = answer.max_tokens();
    if (openai_.min_tokens) body["min_tokens"] = answer.max_tokens();
    if (openai_.ignore_eos) body["ignore_eos"] = true;
    if (openai_.stream) {
      body["stream"] = true;
      body["stream_options"] = {{"include_usage", true}};
    }
    nlohmann::ordered_json metadata = {{"conversation_id", user.conversation_id()},
                                       {"turn_index", std::to_string(user.turn_index())}};
    if (user.has_think_time_ms()) metadata["think_time_ms"] = std::to_string(user.think_time_ms());
    body["metadata"] = std::move(metadata);
    out_ << Dump(body) << "\n";
    history.push_back({{"role", "assistant"}, {"content", answer.content()}});
  }
}

void ConversationWriter::WriteConversation() {
  if (format_ == OutputFormat::kJsonl) {
    WriteJsonl();
  } else if (format_ == OutputFormat::kOpenAiJsonl) {
    WriteOpenAiJsonl();
  } else if (format_ == OutputFormat::kShareGpt) {
    // The ShareGPT dataset's speaker names.
    nlohmann::ordered_json conversation = {{"id", current_->conversation_id()},
                                           {"conversations", nlohmann::ordered_json::array()}};
    for (const v1::TurnMessage& t : pending_) {
      conversation["conversations"].push_back(
          {{"from", t.role() == v1::ROLE_ASSISTANT ? "gpt" : "human"}, {"value", t.content()}});
    }
    WriteListElement(Dump(conversation));
  } else {
    nlohmann::ordered_json conversation = {{"id", current_->conversation_id()},
                                           {"messages", nlohmann::ordered_json::array()}};
    for (const v1::TurnMessage& t : pending_) {
      conversation["messages"].push_back({{"role", RoleName(t.role())}, {"content", t.content()}});
    }
    WriteListElement(Dump(conversation));
  }
  ++conversations_written_;
}

void ConversationWriter::WriteListElement(const std::string& conversation) {
  out_ << (opened_ ? ",\n" : "[\n") << conversation;
  opened_ = true;
}

void ConversationWriter::Finish() {
  if (format_ == OutputFormat::kJson || format_ == OutputFormat::kShareGpt) {
    out_ << (opened_ ? "\n]\n" : "[]\n");
  }
  out_.flush();
}

}  // namespace convgen
