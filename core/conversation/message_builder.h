// MessageBuilder: message texts whose encoding has exactly a target number of
// tokens, made of a fixed part (header, instruction, prefixes) followed by
// corpus text.
//
// The corpus is tokenized once (TokenizedCorpus), so the tokens of a body cut
// from it are known without encoding it again. Only the joins are encoded:
// the fixed part with the body's first pre-tokens (up to a cut point where
// the split is provably the same as in the corpus), and the body's last,
// partial pre-token. A body cut at a corpus pre-token that starts with a
// non-space ASCII character is split the same way in the message as in the
// corpus, since the patterns look ahead at most through a whitespace run.
// When a cut cannot be made exact that way (short targets, wrapping around
// a small corpus), the builder searches with whole-message encodes.
//
// Thread-compatible: one builder per stream. The corpus and tokenizer are
// shared, immutable. The cancellation flag, if any, is read from the
// builder's thread and must outlive it.
#ifndef CONVGEN_CORE_CONVERSATION_MESSAGE_BUILDER_H_
#define CONVGEN_CORE_CONVERSATION_MESSAGE_BUILDER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/corpus/corpus.h"
#include "core/stop_signal.h"
#include "core/tokenizer/tokenizer.h"

namespace convgen {

// A piece of a message before its body: literal text, or the corpus tokens
// [begin, end) (begin a cut point), whose interior need not be encoded again.
struct MessagePart {
  std::string text;  // literal text (when !from_corpus)
  bool from_corpus = false;
  uint64_t begin = 0;
  uint64_t end = 0;
};

struct BuiltMessage {
  std::string text;
  int64_t num_tokens = 0;
  bool wrapped = false;  // the corpus ran out and restarted from its beginning
};

class MessageBuilder {
 public:
  // Fails if the corpus has no tokens.
  static absl::StatusOr<std::unique_ptr<MessageBuilder>> Create(
      std::shared_ptr<const TokenizedCorpus> corpus, std::shared_ptr<const Tokenizer> tokenizer);

  // From now on a long search for a cut ends (with stop's reason) once
  // stop->ShouldStop() (nullptr: never).
  void set_stop(const StopSignal* stop) { stop_ = stop; }

  // Returns a literal part holding text as the tokenizer normalizes it (a
  // Lowercase normalizer lowercases it), so that message text is already
  // normalized, as corpus text is.
  MessagePart Literal(std::string text) const {
    MessagePart part;
    part.text = tokenizer_->Normalize(text);
    return part;
  }

  // Returns the number of tokens of text.
  int64_t Count(absl::string_view text) const { return tokenizer_->Count(text); }
  void Encode(absl::string_view text, std::vector<TokenId>* ids) const {
    tokenizer_->Encode(text, ids);
  }

  // Returns the parts followed by corpus text starting near corpus token
  // `start`, encoding to exactly `target` tokens, valid UTF-8. Precondition:
  // target >= CountParts(parts). Fails (FailedPrecondition, naming the
  // corpus) if no exact cut was found within the search's budget: not seen
  // with natural text, possible with a degenerate corpus such as one long
  // run of punctuation; Internal if the text is not valid UTF-8 (a bug).
  absl::StatusOr<BuiltMessage> Build(const std::vector<MessagePart>& parts, int64_t target,
                                     uint64_t start) const;

  // Returns about `tokens` tokens of corpus from a cut point at or after
  // token `start`: a corpus part, or literal text when the corpus is too
  // short and repeats (then *wrapped is set).
  MessagePart CorpusPart(uint64_t start, int64_t tokens, bool* wrapped) const;

  // The text of parts, and its exact number of tokens (encoding only the
  // joins).
  std::string Render(const std::vector<MessagePart>& parts) const;
  int64_t CountParts(const std::vector<MessagePart>& parts) const;

  // Returns a start token for a body of `tokens` tokens drawn from `unit`
  // (uniform in [0, 1)): spread over the corpus, and where possible leaving
  // room for the body without wrapping.
  uint64_t PlaceBody(double unit, int64_t tokens) const;

  const TokenizedCorpus& corpus() const { return *corpus_; }

 private:
  MessageBuilder(std::shared_ptr<const TokenizedCorpus> corpus,
                 std::shared_ptr<const Tokenizer> tokenizer);

  bool Cancelled() const;
  absl::Status CancelledError() const;

  // Byte offset of corpus token k (the text's end for k == num_tokens).
  uint32_t Offset(uint64_t k) const;
  // Whether corpus token k starts at a character boundary (byte-level
  // tokens may start inside a multi-byte character).
  bool AtCharBoundary(uint64_t k) const;
  // The first token at or after k that starts at a character boundary (the
  // number of tokens if none); the same, but 0 instead of the end.
  uint64_t CharBoundaryAtOrAfter(uint64_t k) const;
  uint64_t ClampToCharBoundary(uint64_t k) const;
  // The cut points at or after token k, as an index into cuts_.
  size_t FirstCutAtOrAfter(uint64_t k) const;
  // Where body text starting at cut token k begins (SentencePiece cuts
  // start at a space, which the message does not repeat).
  uint32_t BodyStart(uint64_t k) const;

  // Appends the corpus text of `tokens` tokens from token *k, whose text
  // starts at byte *begin, starting over from the corpus's beginning when it
  // runs out; advances *k and *begin past them. Returns whether it started
  // over.
  bool AppendCircular(int64_t tokens, uint64_t* k, uint32_t* begin, std::string* out) const;
  // Corpus text of tokens [start, start + tokens), repeating the corpus.
  std::string Slice(uint64_t start, int64_t tokens, bool* wrapped) const;

  // Counts the parts up to a point from which the rest must be encoded:
  // *stable tokens before it, then the text *pending from it on; *at_cut
  // says the pending text starts at a cut inside the message.
  void CountThrough(const std::vector<MessagePart>& parts, std::string* pending, int64_t* stable,
                    bool* at_cut) const;
  // Splits *pending, text from a stable point on (read as a continuation
  // if *at_cut), at its last cut-like piece start that another piece
  // follows: the tokens before it go to *stable, the rest stays pending
  // (then at a cut), so that the joins with what follows encode only the
  // rest. The split of the last text seen is kept: a conversation's user
  // messages share one header and instruction.
  void SplitPending(std::string* pending, int64_t* stable, bool* at_cut) const;
  // Encodes `window` (message text from a stable point on) and returns the
  // tokens before byte `boundary` if a pre-token starts there, else -1.
  int64_t TokensBefore(absl::string_view window, bool at_cut, size_t boundary) const;
  // The count of a window that runs to the end of the message.
  int64_t CountWindow(absl::string_view window, bool at_cut) const;

  // Internal unless text is valid UTF-8, given that text[body_begin, end)
  // is one slice of the (checked) corpus: the part before it is scanned,
  // the slice's ends are checked.
  absl::Status CheckUtf8(const std::string& text, size_t body_begin) const;
  // The end byte of a tail of `rest` tokens from cut p, encoded alone, at a
  // character boundary; 0 if no such end gives exactly `rest` tokens.
  uint32_t TailEnd(uint64_t p, int64_t rest) const;
  // The fast path: returns false if it found no exact cut.
  bool BuildFast(const std::vector<MessagePart>& parts, const std::string& rendered, int64_t target,
                 size_t cut_index, BuiltMessage* out) const;
  // One start point of the slow path: searches for an exact cut of a body
  // that starts at corpus token k; returns whether it found one (then *out
  // is set). `more` says whether the budget allows another probe.
  struct Search;
  absl::StatusOr<bool> SearchFrom(uint64_t k, const std::function<bool()>& more, Search& search,
                                  BuiltMessage* out) const;
  // The slow path: whole-message encodes over a circular corpus, from the
  // cut points after `start` (at most 256 encodes), then from start points
  // spread over the corpus (at most 16 MiB encoded).
  absl::StatusOr<BuiltMessage> BuildBySearch(absl::string_view fixed, int64_t fixed_count,
                                             int64_t target, uint64_t start) const;

  std::shared_ptr<const TokenizedCorpus> corpus_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  const StopSignal* stop_ = nullptr;
  bool sentencepiece_;
  // The last split SplitPending made (offset 0: none), reused while the
  // same text comes again.
  struct PendingSplit {
    std::string text;
    bool at_cut = false;
    size_t offset = 0;
    int64_t tokens_before = 0;
  };
  mutable PendingSplit pending_split_;
  // Token indices where a body may start or end (see the class comment),
  // found once per corpus (TokenizedCorpus::cuts); borrowed from corpus_.
  absl::Span<const uint32_t> cuts_;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_CONVERSATION_MESSAGE_BUILDER_H_
