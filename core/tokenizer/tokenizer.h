// Tokenizer: the interface every tokenizer implements, with the semantics of
// Hugging Face's `encode(text, add_special_tokens=False)`: added tokens
// (e.g. <|im_start|>) found in the text are split out and encoded as their
// ids; nothing is added around the text.
//
// Implementations are immutable after loading and thread-safe; share them as
// shared_ptr<const Tokenizer>.
#ifndef CONVGEN_CORE_TOKENIZER_TOKENIZER_H_
#define CONVGEN_CORE_TOKENIZER_TOKENIZER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace convgen {

using TokenId = uint32_t;

// Tokens of a text with their positions, for cutting text at token and
// pre-token boundaries.
struct Encoding {
  std::vector<TokenId> ids;
  // offsets[k]: byte offset in the (normalized) text where token k starts.
  std::vector<uint32_t> offsets;
  // Indices of the tokens that start a pre-token (or an added token) from
  // which the rest of the segment encodes the same as a continuation (see
  // Tokenizer::EncodeWithOffsets): text cut just before such a token is
  // usually encoded the same on both sides. The first word of a segment
  // that got a SentencePiece "▁" prefix is not one.
  std::vector<uint32_t> piece_starts;
};

// Called by Tokenizer::EncodeCorpus every few thousand pre-tokens with the
// bytes its encoding and scratch space hold so far; returning false stops
// the encoding (which is then incomplete).
using EncodeProgress = std::function<bool(size_t bytes_held)>;

// U+2581, which stands for a space in SentencePiece vocabularies.
inline constexpr absl::string_view kSentencePieceSpace = "\xE2\x96\x81";

// The bytes of the character at text[pos] (before `end`) if it is one that
// SentencePiece-style tokenizers read as "▁": 1 for a space, 3 for a
// literal "▁"; 0 for any other character.
inline size_t SpaceLikeLength(absl::string_view text, size_t pos, size_t end) {
  if (text[pos] == ' ') return 1;
  if (static_cast<unsigned char>(text[pos]) == 0xE2 && end - pos >= 3 &&
      text.substr(pos, 3) == kSentencePieceSpace) {
    return 3;
  }
  return 0;
}

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Returns text as the model sees it (e.g. NFC). Encoding text and
  // encoding Normalize(text) give the same ids; Normalize is idempotent.
  virtual std::string Normalize(absl::string_view text) const = 0;

  // Appends the ids of text to *ids. Text should be valid UTF-8; invalid
  // bytes are encoded as the byte-level model sees them, never a crash.
  virtual void Encode(absl::string_view text, std::vector<TokenId>* ids) const = 0;

  // Encodes already-normalized text with the positions of its tokens
  // (appending to *encoding; offsets are relative to `text`). With
  // `continuation`, text is the rest of a longer text from a pre-token
  // boundary inside a segment on: what only the start of a text or of a
  // segment gets (SentencePiece's "▁" prefix) is not applied to its first
  // segment.
  virtual void EncodeWithOffsets(absl::string_view text, bool continuation,
                                 Encoding* encoding) const = 0;

  // Encodes a whole corpus (normalized) as EncodeWithOffsets(text, false,
  // encoding) does, calling `progress` as it goes so that the caller can
  // bound its memory and CPU; returns false if progress stopped it. Scratch
  // space grown for it is given back.
  virtual bool EncodeCorpus(absl::string_view text, const EncodeProgress& progress,
                            Encoding* encoding) const;

  // Returns the number of tokens of text.
  size_t Count(absl::string_view text) const;
  // Returns the number of tokens of normalized text read as a continuation
  // (see EncodeWithOffsets).
  virtual size_t CountContinuation(absl::string_view text) const;

  // Returns the bytes a token stands for in decoded text ("" for unknown
  // ids). Decode(ids) is their concatenation, but for the leading space a
  // SentencePiece decoder strips.
  virtual absl::string_view TokenBytes(TokenId id) const = 0;

  // Returns the text of ids, as HF's decode(ids) without cleanup.
  virtual std::string Decode(absl::Span<const TokenId> ids) const;

  // Number of ids, including added tokens.
  virtual size_t vocab_size() const = 0;

  // A short description, e.g. "byte-level BPE, 151669 tokens".
  virtual std::string Describe() const = 0;

  // True iff encoding reads a space before the text (SentencePiece's
  // "▁" prefix) and Decode strips it again. Text cut from a longer text just
  // before a space should then start after that space, which the prefix
  // stands in for.
  virtual bool adds_prefix_space() const { return false; }

  // True iff words start at spaces (SentencePiece style: a space, or a
  // literal "▁", reads as "▁" and begins the next word) rather than being
  // cut by a pre-tokenizer pattern.
  virtual bool sentencepiece_style() const { return false; }
};

}  // namespace convgen

#endif  // CONVGEN_CORE_TOKENIZER_TOKENIZER_H_
