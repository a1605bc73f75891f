// Fuzz target: arbitrary bytes encoded by each tokenizer kind: the embedded
// Qwen3 (byte-level BPE, hand-written pre-tokenizer, NFC), and when the test
// data is there Mistral (SentencePiece BPE, byte fallback) and o200k from its
// tiktoken file (PCRE2 pre-tokenizer); with Qwen3 also as a corpus,
// tokenized with offsets. Invariants: no crash on any bytes; for valid
// UTF-8, Decode(Encode(x)) == Normalize(x) for byte-level kinds, the corpus
// path gives the same ids, and offsets ascend within the text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/corpus/corpus.h"
#include "core/tokenizer/hf_tokenizer_json.h"
#include "core/tokenizer/tiktoken.h"
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

// The test-only tokenizers, or null where scripts/fetch-npm-files has not run.
const convgen::Tokenizer* TestTokenizer(bool sentencepiece) {
  static const convgen::Tokenizer* mistral = [] {
    auto t = convgen::LoadHfTokenizerFile(std::string(CONVGEN_TEST_DATA_DIR) +
                                          "/mistral/tokenizer.json");
    return t.ok() ? t->release() : nullptr;
  }();
  static const convgen::Tokenizer* o200k = [] {
    auto t = convgen::LoadTiktokenFile(std::string(CONVGEN_TEST_DATA_DIR) +
                                       "/tiktoken/o200k_base.tiktoken");
    return t.ok() ? t->release() : nullptr;
  }();
  return sentencepiece ? mistral : o200k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const convgen::Tokenizer& tokenizer = Qwen3();
  std::vector<convgen::TokenId> ids;
  tokenizer.Encode(text, &ids);
  const bool valid = !convgen::unicode::FindInvalidUtf8(text).has_value();
  for (const bool sentencepiece : {true, false}) {
    if (const convgen::Tokenizer* other = TestTokenizer(sentencepiece)) {
      std::vector<convgen::TokenId> other_ids;
      other->Encode(text, &other_ids);
      if (valid && !sentencepiece && other->Decode(other_ids) != text) std::abort();
    }
  }
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
