// Loads a Hugging Face tokenizer.json holding a BPE model: byte-level (GPT-2,
// Llama 3, Qwen2/3, DeepSeek, tiktoken conversions) or SentencePiece style
// (Llama 2, Mistral: Prepend/Replace "▁" normalizer, byte_fallback, no
// pre-tokenizer). Any feature the encoding would need that convgen does not
// implement is refused with an error naming it, never silently ignored.
#ifndef CONVGEN_CORE_TOKENIZER_HF_TOKENIZER_JSON_H_
#define CONVGEN_CORE_TOKENIZER_HF_TOKENIZER_JSON_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/tokenizer/tokenizer.h"

namespace convgen {

struct HfTokenizerOptions {
  // Use the PCRE2 splitter even for patterns with a hand-written scanner
  // (for checking one against the other).
  bool force_regex = false;
};

// Parses tokenizer.json text.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizerJson(
    absl::string_view json, const HfTokenizerOptions& options = {});

// Reads and parses a tokenizer.json file; errors name the path.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizerFile(
    const std::string& path, const HfTokenizerOptions& options = {});

}  // namespace convgen

#endif  // CONVGEN_CORE_TOKENIZER_HF_TOKENIZER_JSON_H_
