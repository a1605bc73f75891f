#include "client/conversation_writer.h"

#include "client/json_out.h"

// The JSON is written by hand (client/json_out.h) into one buffer per
// conversation, written to the stream at once; the bytes are those of the
// nlohmann::ordered_json objects this writer used to dump (the reference:
// tests/testing/nlohmann_conversation_writer.h, compared in
// tests/unit/client/json_out_test.cc).
namespace convgen {
namespace {

const char* RoleName(v1::Role role) { return role == v1::ROLE_ASSISTANT ? "assistant" : "user"; }

// Appends `"key":` (keys are literals without escapes).
void Key(std::string& out, std::string_view key) {
  out.push_back('"');
  out.append(key);
  out.append("\":", 2);
}

// Appends `"key":"text"` (text escaped).
void StringField(std::string& out, std::string_view key, std::string_view text) {
  Key(out, key);
  AppendJsonString(out, text);
}

template <typename Int>
void IntField(std::string& out, std::string_view key, Int value) {
  Key(out, key);
  AppendJsonInt(out, value);
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
  std::string& b = buffer_;
  for (const v1::TurnMessage& t : pending_) {
    b.push_back('{');
    StringField(b, "conversation_id", t.conversation_id());
    b.push_back(',');
    IntField(b, "conversation_index", t.conversation_index());
    if (current_->has_arrival_ms()) {
      b.push_back(',');
      IntField(b, "arrival_ms", current_->arrival_ms());
    }
    b.push_back(',');
    IntField(b, "turn_index", t.turn_index());
    b.push_back(',');
    StringField(b, "role", RoleName(t.role()));
    b.push_back(',');
    StringField(b, "content", t.content());
    b.push_back(',');
    IntField(b, "num_tokens", t.num_tokens());
    if (t.role() == v1::ROLE_ASSISTANT) {
      b.push_back(',');
      IntField(b, "max_tokens", t.max_tokens());
    }
    if (t.has_think_time_ms()) {
      b.push_back(',');
      IntField(b, "think_time_ms", t.think_time_ms());
    }
    if (t.has_prefix_group()) {
      b.push_back(',');
      IntField(b, "prefix_group", t.prefix_group());
    }
    if (t.token_ids_size() > 0) {
      b.push_back(',');
      Key(b, "token_ids");
      b.push_back('[');
      for (int k = 0; k < t.token_ids_size(); ++k) {
        if (k > 0) b.push_back(',');
        AppendJsonInt(b, t.token_ids(k));
      }
      b.push_back(']');
    }
    b.append("}\n", 2);
  }
}

void ConversationWriter::WriteOpenAiJsonl() {
  std::string& b = buffer_;
  // The messages so far, each {"role":...,"content":...}, comma-separated.
  std::string& history = history_;
  history.clear();
  for (size_t k = 0; k + 1 < pending_.size(); k += 2) {
    const v1::TurnMessage& user = pending_[k];
    const v1::TurnMessage& answer = pending_[k + 1];
    if (!history.empty()) history.push_back(',');
    history.push_back('{');
    StringField(history, "role", "user");
    history.push_back(',');
    StringField(history, "content", user.content());
    history.push_back('}');
    b.push_back('{');
    if (!openai_.model.empty()) {
      StringField(b, "model", openai_.model);
      b.push_back(',');
    }
    Key(b, "messages");
    b.push_back('[');
    b.append(history);
    b.append("],", 2);
    IntField(b, "max_tokens", answer.max_tokens());
    if (openai_.min_tokens) {
      b.push_back(',');
      IntField(b, "min_tokens", answer.max_tokens());
    }
    if (openai_.ignore_eos) b.append(",\"ignore_eos\":true");
    if (openai_.stream) b.append(",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    b.push_back(',');
    Key(b, "metadata");
    b.push_back('{');
    StringField(b, "conversation_id", user.conversation_id());
    b.append(",\"turn_index\":\"");
    AppendJsonInt(b, user.turn_index());
    b.push_back('"');
    if (user.has_think_time_ms()) {
      b.append(",\"think_time_ms\":\"");
      AppendJsonInt(b, user.think_time_ms());
      b.push_back('"');
    }
    if (current_->has_arrival_ms()) {
      b.append(",\"arrival_ms\":\"");
      AppendJsonInt(b, current_->arrival_ms());
      b.push_back('"');
    }
    b.append("}}\n", 3);
    history.push_back(',');
    history.push_back('{');
    StringField(history, "role", "assistant");
    history.push_back(',');
    StringField(history, "content", answer.content());
    history.push_back('}');
  }
}

// Writes {"id":...,"<list>":[{"<role_key>":...,"<text_key>":...}...]} as the
// next element of the JSON list; `role_name` names each message's speaker.
void ConversationWriter::WriteListConversation(std::string_view list, std::string_view role_key,
                                               std::string_view text_key,
                                               const char* (*role_name)(v1::Role)) {
  std::string& b = buffer_;
  b.append(opened_ ? ",\n" : "[\n", 2);
  opened_ = true;
  b.push_back('{');
  StringField(b, "id", current_->conversation_id());
  if (current_->has_arrival_ms()) {
    b.push_back(',');
    IntField(b, "arrival_ms", current_->arrival_ms());
  }
  b.push_back(',');
  Key(b, list);
  b.push_back('[');
  for (size_t k = 0; k < pending_.size(); ++k) {
    const v1::TurnMessage& t = pending_[k];
    if (k > 0) b.push_back(',');
    b.push_back('{');
    StringField(b, role_key, role_name(t.role()));
    b.push_back(',');
    StringField(b, text_key, t.content());
    b.push_back('}');
  }
  b.append("]}", 2);
}

void ConversationWriter::WriteConversation() {
  buffer_.clear();
  if (format_ == OutputFormat::kJsonl) {
    WriteJsonl();
  } else if (format_ == OutputFormat::kOpenAiJsonl) {
    WriteOpenAiJsonl();
  } else if (format_ == OutputFormat::kShareGpt) {
    // The ShareGPT dataset's speaker names.
    WriteListConversation("conversations", "from", "value", [](v1::Role role) {
      return role == v1::ROLE_ASSISTANT ? "gpt" : "human";
    });
  } else {
    WriteListConversation("messages", "role", "content", RoleName);
  }
  out_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
  ++conversations_written_;
}

void ConversationWriter::Finish() {
  if (format_ == OutputFormat::kJson || format_ == OutputFormat::kShareGpt) {
    out_ << (opened_ ? "\n]\n" : "[]\n");
  }
  out_.flush();
}

}  // namespace convgen
