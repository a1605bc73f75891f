// Fuzz target: arbitrary bytes as a binary GenerateRequest, through the
// server's request path (proto -> spec, options, inline corpus) and, when
// that succeeds, the first conversation of the stream under tight limits.
// Invariants: no crash; a refusal carries a message; every built message
// has exactly its token count.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "convgen/v1/service.pb.h"
#include "core/conversation/conversation_stream.h"
#include "core/corpus/corpus.h"
#include "core/tokenizer/hf_tokenizer_json.h"
#include "server/proto_convert.h"

namespace {

std::shared_ptr<const convgen::Tokenizer> Qwen3() {
  static auto* tokenizer = new std::shared_ptr<const convgen::Tokenizer>(
      *convgen::LoadHfTokenizerFile(std::string(CONVGEN_SOURCE_DIR) +
                                    "/data/tokenizers/qwen3/tokenizer.json"));
  return *tokenizer;
}

std::shared_ptr<const convgen::TokenizedCorpus> SmallCorpus() {
  static auto* corpus = new std::shared_ptr<const convgen::TokenizedCorpus>(
      std::make_shared<const convgen::TokenizedCorpus>(
          *convgen::CorpusText::FromBytes(
              "small", "Call me Ishmael. Some years ago, never mind how long precisely, having "
                       "little or no money in my purse, and nothing particular to interest me on "
                       "shore, I thought I would sail about a little and see the watery part of "
                       "the world.\n"),
          *Qwen3()));
  return *corpus;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  convgen::v1::GenerateRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  convgen::ConfigErrors errors;
  convgen::v1::GenerationConfig config;
  const auto spec = convgen::SpecFromRequest(request, errors, &config);
  if (!spec) {
    if (errors.empty()) std::abort();
    return 0;
  }
  convgen::StreamOptions options = convgen::StreamOptionsFromRequest(request);
  options.max_message_tokens = 2048;
  options.max_messages_per_conversation = 16;
  options.max_numpy_legacy_draws = 1 << 20;
  std::shared_ptr<const convgen::TokenizedCorpus> corpus = SmallCorpus();
  const auto inline_texts = convgen::InlineTextsFromRequest(request);
  if (!inline_texts.empty()) {
    auto text = convgen::CorpusText::FromBytes(inline_texts[0].name, inline_texts[0].text);
    if (!text.ok()) return 0;
    corpus = std::make_shared<const convgen::TokenizedCorpus>(*text, *Qwen3());
  }
  auto stream = convgen::ConversationStream::Create(*spec, options, corpus, Qwen3());
  if (!stream.ok()) {
    if (stream.status().message().empty()) std::abort();
    return 0;
  }
  for (int i = 0; i < 16; ++i) {  // the first conversation at most
    auto turn = (*stream)->Next();
    if (!turn.ok()) {
      if (turn.status().message().empty()) std::abort();
      return 0;
    }
    if (*turn == nullptr) break;
    if (static_cast<int64_t>(Qwen3()->Count((*turn)->content)) != (*turn)->num_tokens) std::abort();
    if ((*turn)->turn_index + 1 == (*turn)->num_turns) break;
  }
  return 0;
}
