// ConversationWriter: writes streamed turns in the client's output formats.
//  - kJson: exactly what vLLM's benchmark_serving_multi_turn.py --input-file
//    reads: [{"id": "CONV_ID_<i>", "messages": [{"role", "content"}...]}...],
//    written one conversation at a time (memory: one conversation).
//  - kJsonl: one object per turn with conversation id and index, turn index,
//    role, content, num_tokens, and max_tokens for assistant turns.
// Only complete conversations are written, so after a broken stream the
// output holds exactly the conversations before the resume index.
// Not thread-safe.
#ifndef CONVGEN_CLIENT_CONVERSATION_WRITER_H_
#define CONVGEN_CLIENT_CONVERSATION_WRITER_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "convgen/v1/service.pb.h"

namespace convgen {

enum class OutputFormat { kJson, kJsonl };

class ConversationWriter {
 public:
  ConversationWriter(std::ostream& out, OutputFormat format) : out_(out), format_(format) {}

  // Takes one turn; writes its conversation when the last turn arrives.
  void Add(const v1::TurnMessage& turn);
  // Closes the output (the JSON list's bracket). Incomplete conversations
  // are dropped.
  void Finish();

  int64_t conversations_written() const { return conversations_written_; }

 private:
  void WriteConversation();

  std::ostream& out_;
  OutputFormat format_;
  std::vector<v1::TurnMessage> pending_;  // the current conversation
  int64_t conversations_written_ = 0;
  bool opened_ = false;
};

}  // namespace convgen

#endif  // CONVGEN_CLIENT_CONVERSATION_WRITER_H_
