// NlohmannConversationWriter: the client's ConversationWriter as it was
// before its hand-written JSON output (issue 16): every object built as a
// nlohmann::ordered_json and dumped with error_handler_t::replace. Kept,
// unchanged, as the reference the writer's output must equal byte for byte
// (tests/unit/client/json_out_test.cc) and as the "before" of
// bench/json_writer_bench.cc. Not compiled into the client.
#ifndef CONVGEN_TESTS_TESTING_NLOHMANN_CONVERSATION_WRITER_H_
#define CONVGEN_TESTS_TESTING_NLOHMANN_CONVERSATION_WRITER_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "client/conversation_writer.h"
#include "convgen/v1/service.pb.h"
#include "nlohmann/json.hpp"

namespace convgen {

class NlohmannConversationWriter {
 public:
  NlohmannConversationWriter(std::ostream& out, OutputFormat format, OpenAiOptions openai = {})
      : out_(out), format_(format), openai_(std::move(openai)) {}
  void Begin(const v1::ConversationStart& start);
  void Add(const v1::TurnMessage& turn);
  void End(const v1::ConversationEnd& end);
  void Finish();

 private:
  void WriteConversation();
  void WriteJsonl();
  void WriteOpenAiJsonl();
  void WriteListElement(const std::string& conversation);

  std::ostream& out_;
  OutputFormat format_;
  OpenAiOptions openai_;
  std::optional<v1::ConversationStart> current_;
  std::vector<v1::TurnMessage> pending_;
  int64_t conversations_written_ = 0;
  std::optional<uint64_t> next_index_;
  bool opened_ = false;
};

// Helpers of the reference writer below.
namespace nlohmann_writer_detail {

inline const char* RoleName(v1::Role role) {
  return role == v1::ROLE_ASSISTANT ? "assistant" : "user";
}

inline std::string Dump(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace nlohmann_writer_detail

inline void NlohmannConversationWriter::Begin(const v1::ConversationStart& start) {
  current_ = start;
  pending_.clear();
}

inline void NlohmannConversationWriter::Add(const v1::TurnMessage& turn) {
  if (current_ && current_->conversation_index() == turn.conversation_index()) {
    pending_.push_back(turn);
  }
}

inline void NlohmannConversationWriter::End(const v1::ConversationEnd& end) {
  if (!current_ || current_->conversation_index() != end.conversation_index()) {
    return;
  }
  WriteConversation();
  next_index_ = end.conversation_index() + 1;
  current_.reset();
  pending_.clear();
}

inline void NlohmannConversationWriter::WriteJsonl() {
  for (const v1::TurnMessage& t : pending_) {
    nlohmann::ordered_json line = {{"conversation_id", t.conversation_id()},
                                   {"conversation_index", t.conversation_index()},
                                   {"turn_index", t.turn_index()},
                                   {"role", nlohmann_writer_detail::RoleName(t.role())},
                                   {"content", t.content()},
                                   {"num_tokens", t.num_tokens()}};
    if (t.role() == v1::ROLE_ASSISTANT) line["max_tokens"] = t.max_tokens();
    if (t.has_think_time_ms()) line["think_time_ms"] = t.think_time_ms();
    if (t.has_prefix_group()) line["prefix_group"] = t.prefix_group();
    if (t.token_ids_size() > 0) {
      line["token_ids"] = std::vector<uint32_t>(t.token_ids().begin(), t.token_ids().end());
    }
    out_ << nlohmann_writer_detail::Dump(line) << "\n";
  }
}

inline void NlohmannConversationWriter::WriteOpenAiJsonl() {
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
    out_ << nlohmann_writer_detail::Dump(body) << "\n";
    history.push_back({{"role", "assistant"}, {"content", answer.content()}});
  }
}

inline void NlohmannConversationWriter::WriteConversation() {
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
    WriteListElement(nlohmann_writer_detail::Dump(conversation));
  } else {
    nlohmann::ordered_json conversation = {{"id", current_->conversation_id()},
                                           {"messages", nlohmann::ordered_json::array()}};
    for (const v1::TurnMessage& t : pending_) {
      conversation["messages"].push_back(
          {{"role", nlohmann_writer_detail::RoleName(t.role())}, {"content", t.content()}});
    }
    WriteListElement(nlohmann_writer_detail::Dump(conversation));
  }
  ++conversations_written_;
}

inline void NlohmannConversationWriter::WriteListElement(const std::string& conversation) {
  out_ << (opened_ ? ",\n" : "[\n") << conversation;
  opened_ = true;
}

inline void NlohmannConversationWriter::Finish() {
  if (format_ == OutputFormat::kJson || format_ == OutputFormat::kShareGpt) {
    out_ << (opened_ ? "\n]\n" : "[]\n");
  }
  out_.flush();
}

}  // namespace convgen

#endif  // CONVGEN_TESTS_TESTING_NLOHMANN_CONVERSATION_WRITER_H_
