// BpeTokenizer: a Tokenizer built from an added-token matcher, normalizers,
// a pre-tokenizer and a BpeModel, the pipeline of Hugging Face's
// tokenizer.json for BPE models. The loaders (hf_tokenizer_json.h,
// tiktoken.h) assemble it. Immutable and thread-safe.
//
// Two shapes of pipeline are implemented, by the model's alphabet:
//  - byte level (GPT-2, Llama 3, Qwen, DeepSeek, tiktoken): normalizers,
//    then a pre-tokenizer (Split regexes, Digits, ByteLevel) cuts each
//    segment into words;
//  - SentencePiece style (Llama 2, Mistral, Gemma, Baichuan, Yi, ...):
//    normalizers, then spaces read as "▁" (the Replace normalizer or the
//    Metaspace pre-tokenizer), an optional "▁" before a segment (the
//    Prepend normalizer or Metaspace's prepend_scheme), and words cut at
//    spaces where that provably gives the same tokens (or where Metaspace's
//    split says so).
// A segment is the text between two added tokens, as in HF's
// AddedVocabulary: added tokens are matched first, on the raw text.
#ifndef CONVGEN_CORE_TOKENIZER_BPE_TOKENIZER_H_
#define CONVGEN_CORE_TOKENIZER_BPE_TOKENIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/added_tokens.h"
#include "core/tokenizer/bpe_model.h"
#include "core/tokenizer/pre_tokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/unicode.h"

namespace convgen {

class BpeTokenizer : public Tokenizer {
 public:
  // One step of the normalizer: a Unicode normalization form or lowercasing.
  struct NormalizerStep {
    enum class Kind { kForm, kLowercase } kind = Kind::kForm;
    unicode::NormalizationForm form = unicode::NormalizationForm::kNfc;
  };

  // When a SentencePiece-style segment gets a "▁" in front of it.
  enum class SpacePrefix {
    kNone,              // Replace(" ", "▁") alone (Gemma, Yi); Metaspace "never"
    kAlways,            // the Prepend("▁") normalizer: every segment, even " x" -> "▁▁x"
    kUnlessSpace,       // Metaspace "always": a segment that does not start with a space
    kFirstUnlessSpace,  // Metaspace "first": the same, only at the start of the text
  };

  struct Parts {
    std::unique_ptr<BpeModel> model;
    // Byte alphabet: required. SentencePiece alphabet: none.
    std::unique_ptr<PreTokenizer> pre_tokenizer;
    std::vector<NormalizerStep> normalizers;        // applied in order
    SpacePrefix space_prefix = SpacePrefix::kNone;  // SentencePiece alphabet
    bool split_at_spaces = false;                   // Metaspace split: each "▁" starts a word
    std::vector<AddedToken> added_tokens;
    std::string kind;  // for Describe(), e.g. "Hugging Face byte-level BPE"
  };

  explicit BpeTokenizer(Parts parts);

  std::string Normalize(absl::string_view text) const override;
  void Encode(absl::string_view text, std::vector<TokenId>* ids) const override;
  void EncodeWithOffsets(absl::string_view text, bool continuation,
                         Encoding* encoding) const override;
  bool EncodeCorpus(absl::string_view text, const EncodeProgress& progress,
                    Encoding* encoding) const override;
  size_t CountContinuation(absl::string_view text) const override;
  absl::string_view TokenBytes(TokenId id) const override;
  size_t vocab_size() const override { return token_bytes_.size(); }
  std::string Describe() const override;
  bool adds_prefix_space() const override {
    return sentencepiece_ && space_prefix_ != SpacePrefix::kNone;
  }
  bool sentencepiece_style() const override { return sentencepiece_; }

 private:
  // Calls on_segment(begin, end) for each stretch of text between added
  // tokens and on_added_token(match) for each added token, in order, as
  // HF's AddedVocabulary splits text.
  template <class OnSegment, class OnAddedToken>
  void ForEachSegment(absl::string_view text, OnSegment on_segment,
                      OnAddedToken on_added_token) const;
  // Applies the normalizer steps to one segment.
  std::string NormalizeSegment(absl::string_view segment) const;
  // Encodes normalized text; offsets and piece starts only if `encoding`.
  // Returns false if `progress` (when given) stopped it.
  bool EncodeNormalized(absl::string_view text, bool continuation, std::vector<TokenId>* ids,
                        Encoding* encoding, const EncodeProgress* progress = nullptr) const;
  // Encodes text[begin, end), which holds no added token. `prefix`: the
  // segment gets SentencePiece's "▁" in front. Returns false if `progress`
  // stopped it.
  bool EncodeSegment(absl::string_view text, size_t begin, size_t end, bool prefix,
                     std::vector<TokenId>* ids, Encoding* encoding,
                     const EncodeProgress* progress) const;
  // SentencePiece alphabet: the words of text[begin, end).
  void SplitSentencePieceWords(absl::string_view text, size_t begin, size_t end,
                               std::vector<Piece>* pieces) const;
  // Whether a SentencePiece segment starting at text[begin] gets the "▁"
  // prefix (`at_text_start`: the segment starts the text).
  bool SegmentGetsPrefix(absl::string_view text, size_t begin, bool at_text_start,
                         bool continuation) const;

  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::vector<NormalizerStep> normalizers_;
  SpacePrefix space_prefix_;
  bool split_at_spaces_;
  AddedTokenMatcher added_;
  std::string kind_;
  bool sentencepiece_;
  bool lowercase_;  // a Lowercase step, which changes ASCII too
  std::vector<std::string> token_bytes_;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_TOKENIZER_BPE_TOKENIZER_H_
