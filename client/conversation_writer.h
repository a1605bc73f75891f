// ConversationWriter: writes streamed turns in the client's output formats.
//  - kJson: exactly what vLLM's benchmark_serving_multi_turn.py --input-file
//    reads: [{"id": "CONV_ID_<i>", "messages": [{"role", "content"}...]}...],
//    written one conversation at a time (memory: one conversation).
//  - kJsonl: one object per turn with conversation id and index, turn index,
//    role, content, num_tokens, max_tokens for assistant turns, and
//    think_time_ms / prefix_group / token_ids when the turn has them.
//  - kOpenAiJsonl: one OpenAI Chat Completions request body per user turn:
//    the conversation so far (generated assistant messages as history) and
//    the user message, max_tokens of the answer, the model if given, and
//    metadata (conversation_id, turn_index, think_time_ms) as strings.
// Only complete conversations are written, so after a broken stream the
// output holds exactly the conversations before the resume index.
// Not thread-safe.
#ifndef CONVGEN_CLIENT_CONVERSATION_WRITER_H_
#define CONVGEN_CLIENT_CONVERSATION_WRITER_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "convgen/v1/service.pb.h"

namespace convgen {

enum class OutputFormat { kJson, kJsonl, kOpenAiJsonl };

class ConversationWriter {
 public:
  // `model` goes into each kOpenAiJsonl body when not empty.
  ConversationWriter(std::ostream& out, OutputFormat format, std::string model = "")
      : out_(out), format_(format), model_(std::move(model)) {}

  // Takes one turn; writes its conversation when the last turn arrives.
  void Add(const v1::TurnMessage& turn);
  // Closes the output (the JSON list's bracket). Incomplete conversations
  // are dropped.
  void Finish();

  int64_t conversations_written() const { return conversations_written_; }

 private:
  void WriteConversation();
  void WriteJsonl();
  void WriteOpenAiJsonl();

  std::ostream& out_;
  OutputFormat format_;
  std::string model_;
  std::vector<v1::TurnMessage> pending_;  // the current conversation
  int64_t conversations_written_ = 0;
  bool opened_ = false;
};

}  // namespace convgen

#endif  // CONVGEN_CLIENT_CONVERSATION_WRITER_H_
