// BpeModel: byte-pair encoding of one pre-token ("word"), with the exact merge
// order of Hugging Face's BPE (Word::merge_all: repeatedly merge the adjacent
// pair of lowest rank, leftmost first), in two alphabets:
//  - byte level (GPT-2, Llama 3, Qwen, tiktoken): a word starts as its bytes;
//  - SentencePiece style (Llama 2, Mistral): a word starts as its characters,
//    spaces read as U+2581 ("▁"), optionally after a virtual leading "▁";
//    characters missing from the vocabulary become <0xXX> byte tokens
//    (byte_fallback) or the unknown token.
//
// The model is immutable after Create and thread-safe. Encoded words are
// memoised in a per-thread cache, bounded in size, so that the common words
// of a text cost one hash lookup.
#ifndef CONVGEN_CORE_TOKENIZER_BPE_MODEL_H_
#define CONVGEN_CORE_TOKENIZER_BPE_MODEL_H_

#include <bitset>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/tokenizer/tokenizer.h"

namespace convgen {

// One token of an encoded word and how many bytes of the source text it
// covers (0 for the virtual leading "▁").
struct WordToken {
  TokenId id;
  uint32_t source_length;
};

class BpeModel {
 public:
  enum class Alphabet { kBytes, kSentencePiece };

  struct Options {
    Alphabet alphabet = Alphabet::kBytes;
    // HF ignore_merges: a word that is itself a vocabulary token is emitted
    // as that token without merging.
    bool ignore_merges = false;
    bool byte_fallback = false;
    // The unknown token's text; empty for none (or if not in the vocabulary).
    std::string unk_text;
    bool fuse_unk = false;
  };

  // One merge rule: left + right -> merged. Lower ranks merge first; among
  // equal ranks, the leftmost pair.
  struct Merge {
    TokenId left;
    TokenId right;
    TokenId merged;
    uint32_t rank;
  };

  // Computes the merge rules; called once the vocabulary is indexed, so it
  // may use Find().
  using MergeSource = std::function<absl::StatusOr<std::vector<Merge>>(const BpeModel& model)>;

  // `tokens[id]` is the text of token id in the model's alphabet (raw bytes
  // for kBytes; UTF-8 with "▁" for kSentencePiece); empty for unused ids.
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(std::vector<std::string> tokens,
                                                          const MergeSource& merges,
                                                          const Options& options);

  // Appends the tokens of `word` (source text: spaces are still spaces in the
  // SentencePiece alphabet). `virtual_prefix` adds the leading "▁" that the
  // SentencePiece normalizer prepends.
  void EncodeWord(absl::string_view word, bool virtual_prefix, std::vector<WordToken>* out) const;

  // Hints that EncodeWord(word, false, ...) comes soon on this thread: starts
  // loading the part of the word cache it will read, which is otherwise a
  // cache miss per word on a large vocabulary of words.
  void PrefetchWord(absl::string_view word) const;

  // Returns the id of the token whose model text is `text`, if any.
  std::optional<TokenId> Find(absl::string_view text) const;

  // Returns the model text of a token ("" for ids out of range).
  absl::string_view TokenText(TokenId id) const;
  size_t vocab_size() const { return tokens_.size(); }
  const Options& options() const { return options_; }

  // True iff no vocabulary token holds character `c` (not "▁") followed by
  // "▁": then a SentencePiece word can be cut between `c` and a following
  // space (or literal "▁"), and the two parts encoded alone give the same
  // tokens, since no merge, whose results are all vocabulary tokens, can
  // cross the cut.
  bool CanSplitBeforeSpaceAfter(char32_t c) const {
    return c < 128 ? !ascii_before_space_[c] : !before_space_.contains(c);
  }

 private:
  struct MergeResult {
    uint32_t rank;
    TokenId merged;
  };

  BpeModel(std::vector<std::string> tokens, const Options& options);

  // The uncached encoding.
  void EncodeWordUncached(absl::string_view word, bool virtual_prefix,
                          std::vector<WordToken>* out) const;
  void InitialSymbols(absl::string_view word, bool virtual_prefix,
                      std::vector<WordToken>* symbols) const;
  void MergeAll(std::vector<WordToken>* symbols) const;
  // byte_fallback is on and every byte of text has its <0xXX> token.
  bool HasFallbackBytes(absl::string_view text) const;

  static uint64_t PairKey(TokenId left, TokenId right) {
    return (static_cast<uint64_t>(left) << 32) | right;
  }

  std::vector<std::string> tokens_;
  absl::flat_hash_map<std::string, TokenId> ids_;
  absl::flat_hash_map<uint64_t, MergeResult> merges_;
  Options options_;
  TokenId byte_ids_[256];                     // kBytes: the token of each byte
  std::optional<TokenId> fallback_ids_[256];  // kSentencePiece: <0xXX>
  std::optional<TokenId> space_id_;           // kSentencePiece: "▁"
  std::optional<TokenId> unk_id_;
  // kSentencePiece: the characters that some token holds just before "▁".
  std::bitset<128> ascii_before_space_;
  absl::flat_hash_set<char32_t> before_space_;
  uint64_t serial_;  // distinguishes models in the per-thread caches
};

}  // namespace convgen

#endif  // CONVGEN_CORE_TOKENIZER_BPE_MODEL_H_
