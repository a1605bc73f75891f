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
//    metadata (conversation_id, turn_index, think_time_ms) as strings; with
//    OpenAiOptions, "stream" and "stream_options" {"include_usage"},
//    "min_tokens" equal to max_tokens, and "ignore_eos" (vLLM's extensions).
//  - kShareGpt: the ShareGPT list that vLLM's ShareGPTDataset (`vllm bench
//    serve --dataset-name sharegpt`) and SGLang's bench_serving read:
//    [{"id": "CONV_ID_<i>", "conversations": [{"from": "human"|"gpt",
//    "value"}...]}...], written one conversation at a time like kJson.
// A conversation whose ConversationStart carries arrival_ms (a trace-shaped
// workload: when a driver starts it) has it in every format: "arrival_ms"
// after "conversation_index" on each kJsonl line, after "id" in kJson and
// kShareGpt (their readers ignore other keys), and as a string in each
// kOpenAiJsonl body's metadata; without it the output is unchanged.
// A conversation is written when its ConversationEnd arrives, so after a
// broken stream the output holds exactly the conversations before
// next_index().
// Not thread-safe.
#ifndef CONVGEN_CLIENT_CONVERSATION_WRITER_H_
#define CONVGEN_CLIENT_CONVERSATION_WRITER_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "convgen/v1/service.pb.h"

namespace convgen {

enum class OutputFormat { kJson, kJsonl, kOpenAiJsonl, kShareGpt };

// What each kOpenAiJsonl body carries besides messages, max_tokens and
// metadata.
struct OpenAiOptions {
  std::string model;        // "model", when not empty
  bool stream = false;      // "stream": true, "stream_options": {"include_usage": true}
  bool min_tokens = false;  // "min_tokens": the answer's max_tokens (vLLM)
  bool ignore_eos = false;  // "ignore_eos": true (vLLM)
};

class ConversationWriter {
 public:
  ConversationWriter(std::ostream& out, OutputFormat format, OpenAiOptions openai = {})
      : out_(out), format_(format), openai_(std::move(openai)) {}

  // Opens a conversation; one still open (its end never came) is dropped.
  void Begin(const v1::ConversationStart& start);
  // Takes a message of the open conversation; others are ignored.
  void Add(const v1::TurnMessage& turn);
  // Writes the open conversation if `end` closes it.
  void End(const v1::ConversationEnd& end);
  // Closes the output (the JSON list's bracket of kJson and kShareGpt). An
  // open conversation is dropped.
  void Finish();

  int64_t conversations_written() const { return conversations_written_; }
  // The index after the last conversation written (where a resumed run
  // starts), or nullopt if none was.
  std::optional<uint64_t> next_index() const { return next_index_; }

 private:
  void WriteConversation();
  void WriteJsonl();
  void WriteOpenAiJsonl();
  void WriteListConversation(std::string_view list, std::string_view role_key,
                             std::string_view text_key, const char* (*role_name)(v1::Role));

  std::ostream& out_;
  OutputFormat format_;
  OpenAiOptions openai_;
  // The conversation begun and not yet ended, and its messages so far.
  std::optional<v1::ConversationStart> current_;
  std::vector<v1::TurnMessage> pending_;
  int64_t conversations_written_ = 0;
  std::optional<uint64_t> next_index_;
  bool opened_ = false;
  // The conversation's JSON before it is written (reused).
  std::string buffer_;
  // kOpenAiJsonl: the messages so far as JSON (reused).
  std::string history_;
};

}  // namespace convgen

#endif  // CONVGEN_CLIENT_CONVERSATION_WRITER_H_
