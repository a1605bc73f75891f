#include "client/conversation_writer.h"

#include "nlohmann/json.hpp"

namespace convgen {
namespace {

const char* RoleName(v1::Role role) { return role == v1::ROLE_ASSISTANT ? "assistant" : "user"; }

}  // namespace

void ConversationWriter::Add(const v1::TurnMessage& turn) {
  if (!pending_.empty() && pending_.front().conversation_index() != turn.conversation_index()) {
    pending_.clear();  // a conversation that never completed
  }
  pending_.push_back(turn);
  if (turn.turn_index() + 1 == turn.num_turns()) {
    WriteConversation();
    pending_.clear();
  }
}

void ConversationWriter::WriteConversation() {
  if (format_ == OutputFormat::kJsonl) {
    for (const v1::TurnMessage& t : pending_) {
      nlohmann::ordered_json line = {{"conversation_id", t.conversation_id()},
                                     {"conversation_index", t.conversation_index()},
                                     {"turn_index", t.turn_index()},
                                     {"role", RoleName(t.role())},
                                     {"content", t.content()},
                                     {"num_tokens", t.num_tokens()}};
      if (t.role() == v1::ROLE_ASSISTANT) line["max_tokens"] = t.max_tokens();
      out_ << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
  } else {
    nlohmann::ordered_json conversation = {{"id", pending_.front().conversation_id()},
                                           {"messages", nlohmann::ordered_json::array()}};
    for (const v1::TurnMessage& t : pending_) {
      conversation["messages"].push_back({{"role", RoleName(t.role())}, {"content", t.content()}});
    }
    out_ << (opened_ ? ",\n" : "[\n")
         << conversation.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    opened_ = true;
  }
  ++conversations_written_;
}

void ConversationWriter::Finish() {
  if (format_ == OutputFormat::kJson) out_ << (opened_ ? "\n]\n" : "[]\n");
  out_.flush();
}

}  // namespace convgen
