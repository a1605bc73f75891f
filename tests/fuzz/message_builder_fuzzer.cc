// Fuzz target: arbitrary text as a corpus, through the message builder of
// each tokenizer family. The first byte picks the tokenizer, the next two
// the message sizes; the rest is the corpus (only valid UTF-8 is a corpus:
// the server refuses the rest before this point). Invariants: no crash, no
// stream error other than the builder's documented refusal of a corpus it
// cannot cut exactly (FailedPrecondition), and every message valid UTF-8
// whose count equals num_tokens and its number of token ids.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <variant>

#include "absl/strings/str_cat.h"
#include "core/config/generation_spec.h"
#include "core/conversation/conversation_stream.h"
#include "core/corpus/corpus.h"
#include "core/tokenizer/hf_tokenizer_json.h"
#include "core/tokenizer/tiktoken.h"
#include "core/tokenizer/unicode.h"

namespace {

// One tokenizer of each family; the test-only ones are skipped (the embedded
// Qwen3 is used instead) where scripts/fetch-npm-files has not run.
std::shared_ptr<const convgen::Tokenizer> TokenizerOf(uint8_t selector) {
  static const char* const kFiles[] = {
      "qwen3",           // byte-level, hand-written splitter, NFC
      "mistral",         // SentencePiece: Prepend + Replace, byte fallback
      "gemma3",          // SentencePiece: Replace alone, a token merging ">▁"
      "o200k_tiktoken",  // tiktoken, hand-written o200k splitter
      "deepseek_v3",     // byte-level, three Split regexes (PCRE2), unreachable vocab
      "claude",          // byte-level, NFKC
      "command_r_plus",  // byte-level, Digits
  };
  static auto* cache = new std::map<int, std::shared_ptr<const convgen::Tokenizer>>();
  const int which = selector % (sizeof(kFiles) / sizeof(kFiles[0]));
  auto& slot = (*cache)[which];
  if (slot == nullptr) {
    const std::string name = kFiles[which];
    absl::StatusOr<std::unique_ptr<convgen::Tokenizer>> loaded =
        name == "qwen3"            ? convgen::LoadHfTokenizerFile(std::string(CONVGEN_SOURCE_DIR) +
                                                                  "/data/tokenizers/qwen3/tokenizer.json")
        : name == "o200k_tiktoken" ? convgen::LoadTiktokenFile(std::string(CONVGEN_TEST_DATA_DIR) +
                                                               "/tiktoken/o200k_base.tiktoken")
                                   : convgen::LoadHfTokenizerFile(absl::StrCat(
                                         CONVGEN_TEST_DATA_DIR, "/", name, "/tokenizer.json"));
    slot = loaded.ok() ? std::shared_ptr<const convgen::Tokenizer>(*std::move(loaded))
                       : TokenizerOf(0);
  }
  return slot;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const auto tokenizer = TokenizerOf(data[0]);
  // Targets of 1..64 tokens and a common prefix of 0..255: short targets
  // are where exact cuts are scarce.
  const int user = 1 + data[1] % 64, assistant = 1 + data[2] % 64, common = data[3];
  auto text = convgen::CorpusText::FromBytes(
      "fuzz", std::string(reinterpret_cast<const char*>(data) + 4, size - 4));
  if (!text.ok()) return 0;
  auto corpus = std::make_shared<const convgen::TokenizedCorpus>(*text, *tokenizer);
  if (corpus->num_tokens() == 0) return 0;
  auto spec = convgen::LoadSpecFromJson(absl::StrCat(
      R"({"filetype": "generate_conversations", "num_conversations": 3, "text_files": ["f"],
          "prompt_input": {"num_turns": {"distribution": "constant", "value": 4},
                           "common_prefix_num_tokens": {"distribution": "constant", "value": )",
      common, R"(}, "prefix_num_tokens": {"distribution": "constant", "value": 5},
                           "num_tokens": {"distribution": "constant", "value": )",
      user, R"(}}, "prompt_output": {"num_tokens": {"distribution": "constant", "value": )",
      assistant, "}}}"));
  if (!spec.ok()) std::abort();
  convgen::StreamOptions options;
  options.seed = data[0];
  options.include_token_ids = true;
  auto stream = convgen::ConversationStream::Create(
      *spec, options, convgen::ConversationPlanner(*spec, options.seed), corpus, tokenizer);
  if (!stream.ok()) std::abort();
  while (true) {
    auto event = (*stream)->Next();
    if (!event.ok()) {
      // The documented refusal: no exact cut within the search's budget.
      if (event.status().code() == absl::StatusCode::kFailedPrecondition) return 0;
      std::abort();  // Internal: a message was invalid or inexact
    }
    if (*event == nullptr) break;
    const auto* message = std::get_if<convgen::Message>(*event);
    if (message == nullptr) continue;
    const convgen::Message& t = *message;
    if (convgen::unicode::FindInvalidUtf8(t.content).has_value()) std::abort();
    if (static_cast<int64_t>(tokenizer->Count(t.content)) != t.num_tokens) std::abort();
    if (static_cast<int64_t>(t.token_ids.size()) != t.num_tokens) std::abort();
  }
  return 0;
}
