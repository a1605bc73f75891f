// BpeTokenizer: a Tokenizer built from an added-token matcher, a normalizer,
// a pre-tokenizer and a BpeModel, the pipeline of Hugging Face's
// tokenizer.json for BPE models. The loaders (hf_tokenizer_json.h,
// tiktoken.h) assemble it. Immutable and thread-safe.
#ifndef CONVGEN_CORE_TOKENIZER_BPE_TOKENIZER_H_
#define CONVGEN_CORE_TOKENIZER_BPE_TOKENIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/added_tokens.h"
#include "core/tokenizer/bpe_model.h"
#include "core/tokenizer/pre_tokenizer.h"
#include "core/tokenizer/tokenizer.h"

namespace convgen {

class BpeTokenizer : public Tokenizer {
 public:
  enum class Normalizer { kNone, kNfc };

  struct Parts {
    std::unique_ptr<BpeModel> model;
    // Required for the byte alphabet; none for the SentencePiece alphabet.
    std::unique_ptr<PreTokenizer> pre_tokenizer;
    Normalizer normalizer = Normalizer::kNone;
    std::vector<AddedToken> added_tokens;
    std::string kind;  // for Describe(), e.g. "Hugging Face byte-level BPE"
  };

  explicit BpeTokenizer(Parts parts);

  std::string Normalize(absl::string_view text) const override;
  void Encode(absl::string_view text, std::vector<TokenId>* ids) const override;
  void EncodeWithOffsets(absl::string_view text, Encoding* encoding) const override;
  absl::string_view TokenBytes(TokenId id) const override;
  size_t vocab_size() const override { return token_bytes_.size(); }
  std::string Describe() const override;
  bool adds_prefix_space() const override { return sentencepiece_; }

 private:
  // Encodes normalized text; offsets and piece starts only if `encoding`.
  void EncodeNormalized(absl::string_view text, std::vector<TokenId>* ids,
                        Encoding* encoding) const;
  // Encodes text[begin, end), which holds no added token.
  void EncodeSegment(absl::string_view text, size_t begin, size_t end,
                     std::vector<TokenId>* ids, Encoding* encoding) const;

  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  Normalizer normalizer_;
  AddedTokenMatcher added_;
  std::string kind_;
  bool sentencepiece_;
  std::vector<std::string> token_bytes_;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_TOKENIZER_BPE_TOKENIZER_H_
