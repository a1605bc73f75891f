// Fuzz target: arbitrary bytes encoded by the embedded Qwen3 tokenizer (a
// byte-level BPE through the hand-written pre-tokenizer) and, as a corpus,
// tokenized with offsets. Invariants: no crash on any bytes; for valid UTF-8,
// Decode(Encode(x)) == Normalize(x), the corpus path gives the same ids, and
// offsets ascend within the text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/corpus/corpus.h"
#include "core/tokenizer/hf_tokenizer_json.h"
#include "core/tokenizer/unicode.h"

namespace {

const convgen::Tokenizer& Qwen3() {
  static const convgen::Tokenizer* tokenizer = [] {
    auto loaded = convgen::LoadHfTokenizerFile(std::string(CONVGEN_SOURCE_DIR) +
                                               "/data/tokenizers/qwen3/tokenizer.json");
    if (!loaded.ok()) std::abort();
    return loaded->release();
  }();
  return *tokenizer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const convgen::Tokenizer& tokenizer = Qwen3();
  std::vector<convgen::TokenId> ids;
  tokenizer.Encode(text, &ids);
  auto corpus = convgen::CorpusText::FromBytes("fuzz", text);
  if (convgen::unicode::FindInvalidUtf8(text).has_value()) {
    if (corpus.ok()) std::abort();  // invalid UTF-8 must be refused
    return 0;
  }
  if (!corpus.ok()) std::abort();
  const std::string normalized = tokenizer.Normalize(text);
  if (tokenizer.Decode(ids) != normalized) std::abort();
  const convgen::TokenizedCorpus tokenized(*corpus, tokenizer);
  if (std::vector<convgen::TokenId>(tokenized.ids().begin(), tokenized.ids().end()) != ids) {
    std::abort();
  }
  for (size_t k = 0; k < tokenized.offsets().size(); ++k) {
    if (tokenized.offsets()[k] >= normalized.size()) std::abort();
    if (k > 0 && tokenized.offsets()[k] <= tokenized.offsets()[k - 1]) std::abort();
  }
  return 0;
}
