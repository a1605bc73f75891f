#include "core/tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/scratch.h"
#include "core/stop_signal.h"
#include "core/tokenizer/unicode.h"

namespace convgen {
namespace {

// EncodeSegment's scratch: the pieces of a segment, the tokens of a word.
thread_local std::vector<Piece> pieces_scratch;
thread_local std::vector<WordToken> tokens_scratch;

// How often (in pieces and added tokens) EncodeCorpus reports its
// progress: well under a millisecond of work.
constexpr size_t kPiecesPerProgress = 4096;
thread_local size_t pieces_until_progress = 0;

// Words longer than this are reported to EncodeCorpus's progress with the
// scratch their merging needs (symbols, links, a heap of candidates).
constexpr uint32_t kLongWordBytes = 64 << 10;
constexpr size_t kScratchPerLongWordByte = 48;

size_t BytesHeld(const Encoding& encoding) {
  return (encoding.ids.capacity() + encoding.offsets.capacity() +
          encoding.piece_starts.capacity()) *
             sizeof(uint32_t) +
         pieces_scratch.capacity() * sizeof(Piece);
}

// Counts one piece; every kPiecesPerProgress, asks `progress` (if any)
// whether to go on, and otherwise whether the thread's work was stopped (see
// ScopedStop: its owner then discards what this encoding returns).
bool KeepGoing(const EncodeProgress* progress, const Encoding* encoding) {
  if (pieces_until_progress-- > 0) return true;
  pieces_until_progress = kPiecesPerProgress;
  return progress != nullptr ? (*progress)(BytesHeld(*encoding)) : !ThisThreadShouldStop();
}

bool IsAscii(absl::string_view text) {
  unsigned char any = 0;
  for (char c : text) any |= static_cast<unsigned char>(c);
  return any < 0x80;
}

// The decoded bytes of a SentencePiece token: "▁" is a space and <0xXX> is
// the byte XX.
std::string SentencePieceBytes(absl::string_view text) {
  if (text.size() == 6 && text.substr(0, 3) == "<0x" && text[5] == '>') {
    const auto hex = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    return std::string(1, static_cast<char>(hex(text[3]) * 16 + hex(text[4])));
  }
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    if (text.substr(pos, kSentencePieceSpace.size()) == kSentencePieceSpace) {
      out.push_back(' ');
      pos += kSentencePieceSpace.size();
    } else {
      out.push_back(text[pos++]);
    }
  }
  return out;
}

}  // namespace

BpeTokenizer::BpeTokenizer(Parts parts)
    : model_(std::move(parts.model)),
      pre_tokenizer_(std::move(parts.pre_tokenizer)),
      normalizers_(std::move(parts.normalizers)),
      space_prefix_(parts.space_prefix),
      split_at_spaces_(parts.split_at_spaces),
      added_(std::move(parts.added_tokens)),
      kind_(std::move(parts.kind)),
      sentencepiece_(model_->options().alphabet == BpeModel::Alphabet::kSentencePiece),
      lowercase_(std::any_of(normalizers_.begin(), normalizers_.end(), [](const auto& step) {
        return step.kind == NormalizerStep::Kind::kLowercase;
      })) {
  size_t size = model_->vocab_size();
  for (const AddedToken& t : added_.tokens()) size = std::max<size_t>(size, t.id + 1);
  token_bytes_.resize(size);
  for (TokenId id = 0; id < model_->vocab_size(); ++id) {
    const absl::string_view text = model_->TokenText(id);
    token_bytes_[id] = sentencepiece_ ? SentencePieceBytes(text) : std::string(text);
  }
  // HF decodes added tokens through the decoder too ("▁" reads as a space).
  for (const AddedToken& t : added_.tokens()) {
    token_bytes_[t.id] = sentencepiece_ ? SentencePieceBytes(t.content) : t.content;
  }
}

std::string BpeTokenizer::NormalizeSegment(absl::string_view segment) const {
  std::string text;
  absl::string_view current = segment;  // the input of the next step
  for (const NormalizerStep& step : normalizers_) {
    if (step.kind == NormalizerStep::Kind::kLowercase) {
      text = unicode::Lowercase(current);
    } else if (!IsAscii(current)) {  // ASCII is stable under every form
      text = unicode::Normalize(current, step.form);
    } else {
      continue;
    }
    current = text;
  }
  return current.data() == text.data() ? text : std::string(current);
}

template <class OnSegment, class OnAddedToken>
void BpeTokenizer::ForEachSegment(absl::string_view text, OnSegment on_segment,
                                  OnAddedToken on_added_token) const {
  size_t pos = 0;
  while (pos < text.size()) {
    const AddedTokenMatcher::Match match = added_.Find(text, pos);
    if (match.begin > pos) on_segment(pos, match.begin);
    if (match.begin == text.size()) break;
    on_added_token(match);
    pos = match.end;
  }
}

std::string BpeTokenizer::Normalize(absl::string_view text) const {
  if (normalizers_.empty() || (!lowercase_ && IsAscii(text))) return std::string(text);
  // HF normalizes each segment between added tokens on its own.
  std::string out;
  out.reserve(text.size());
  ForEachSegment(
      text,
      [&](size_t begin, size_t end) {
        out.append(NormalizeSegment(text.substr(begin, end - begin)));
      },
      [&](const AddedTokenMatcher::Match& match) {
        out.append(text.data() + match.begin, match.end - match.begin);
      });
  return out;
}

void BpeTokenizer::Encode(absl::string_view text, std::vector<TokenId>* ids) const {
  // ASCII is stable under every normalization form (not under Lowercase).
  if (normalizers_.empty() || (!lowercase_ && IsAscii(text))) {
    EncodeNormalized(text, /*continuation=*/false, ids, nullptr);
    return;
  }
  // As HF: added tokens are found in the raw text, then each segment is
  // normalized and encoded (so a normalized segment that happens to read
  // like an added token is still encoded as text).
  ForEachSegment(
      text,
      [&](size_t begin, size_t end) {
        const std::string segment = NormalizeSegment(text.substr(begin, end - begin));
        if (segment.empty()) return;
        const bool prefix = sentencepiece_ && SegmentGetsPrefix(segment, 0, begin == 0, false);
        EncodeSegment(segment, 0, segment.size(), prefix, ids, nullptr, nullptr);
      },
      [&](const AddedTokenMatcher::Match& match) { ids->push_back(match.id); });
}

size_t BpeTokenizer::CountContinuation(absl::string_view text) const {
  thread_local std::vector<TokenId> ids;
  ids.clear();
  EncodeNormalized(text, /*continuation=*/true, &ids, nullptr);
  const size_t count = ids.size();
  ReleaseIfLarge(ids);
  return count;
}

void BpeTokenizer::EncodeWithOffsets(absl::string_view text, bool continuation,
                                     Encoding* encoding) const {
  EncodeNormalized(text, continuation, &encoding->ids, encoding);
}

bool BpeTokenizer::EncodeCorpus(absl::string_view text, const EncodeProgress& progress,
                                Encoding* encoding) const {
  pieces_until_progress = 0;
  const bool complete =
      EncodeNormalized(text, /*continuation=*/false, &encoding->ids, encoding, &progress);
  ReleaseIfLarge(pieces_scratch);
  ReleaseIfLarge(tokens_scratch);
  return complete;
}

bool BpeTokenizer::SegmentGetsPrefix(absl::string_view text, size_t begin, bool at_text_start,
                                     bool continuation) const {
  if (continuation) return false;
  switch (space_prefix_) {
    case SpacePrefix::kNone:
      return false;
    case SpacePrefix::kAlways:
      return true;
    case SpacePrefix::kUnlessSpace:
      return SpaceLikeLength(text, begin, text.size()) == 0;
    case SpacePrefix::kFirstUnlessSpace:
      return at_text_start && SpaceLikeLength(text, begin, text.size()) == 0;
  }
  return false;
}

bool BpeTokenizer::EncodeNormalized(absl::string_view text, bool continuation,
                                    std::vector<TokenId>* ids, Encoding* encoding,
                                    const EncodeProgress* progress) const {
  bool complete = true;
  ForEachSegment(
      text,
      [&](size_t begin, size_t end) {
        // Only the first segment of a continuation continues a segment.
        const bool prefix = sentencepiece_ &&
                            SegmentGetsPrefix(text, begin, begin == 0, continuation && begin == 0);
        complete = complete && EncodeSegment(text, begin, end, prefix, ids, encoding, progress);
      },
      [&](const AddedTokenMatcher::Match& match) {
        complete = complete && KeepGoing(progress, encoding);
        if (!complete) return;
        if (encoding != nullptr) {
          encoding->piece_starts.push_back(static_cast<uint32_t>(ids->size()));
          encoding->offsets.push_back(static_cast<uint32_t>(match.begin));
        }
        ids->push_back(match.id);
      });
  return complete;
}

void BpeTokenizer::SplitSentencePieceWords(absl::string_view text, size_t begin, size_t end,
                                           std::vector<Piece>* pieces) const {
  // Cut before a space (or "▁") that follows another character, where the
  // model allows it or Metaspace's split asks for it. Only the character
  // before a space is ever decoded.
  size_t start = begin;
  size_t pos = begin;
  bool after_space = false;  // the previous character is space-like
  while (pos < end) {
    const size_t space = SpaceLikeLength(text, pos, end);
    if (space == 0) {
      after_space = false;
      ++pos;
      continue;
    }
    if (pos > start) {
      bool cut = split_at_spaces_;
      if (!cut && !after_space) {
        const auto last = static_cast<unsigned char>(text[pos - 1]);
        if (last < 0x80) {  // the common case, without decoding
          cut = model_->CanSplitBeforeSpaceAfter(last);
        } else {
          size_t prev = pos - 1;
          while (prev > start && (static_cast<unsigned char>(text[prev]) & 0xC0) == 0x80) --prev;
          size_t length;
          cut = model_->CanSplitBeforeSpaceAfter(unicode::DecodeUtf8(text, prev, &length));
        }
      }
      if (cut) {
        pieces->push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(pos)});
        start = pos;
      }
    }
    after_space = true;
    pos += space;
  }
  pieces->push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(end)});
}

bool BpeTokenizer::EncodeSegment(absl::string_view text, size_t begin, size_t end, bool prefix,
                                 std::vector<TokenId>* ids, Encoding* encoding,
                                 const EncodeProgress* progress) const {
  std::vector<Piece>& pieces = pieces_scratch;
  std::vector<WordToken>& tokens = tokens_scratch;
  pieces.clear();
  if (pre_tokenizer_ != nullptr) {
    pre_tokenizer_->Split(text, {static_cast<uint32_t>(begin), static_cast<uint32_t>(end)},
                          &pieces);
  } else if (sentencepiece_) {
    SplitSentencePieceWords(text, begin, end, &pieces);
  } else {
    pieces.push_back({static_cast<uint32_t>(begin), static_cast<uint32_t>(end)});
  }
  // Words are looked up a few ahead of their encoding, so that their cache
  // slots load meanwhile (the lookup was mostly waiting for memory).
  constexpr size_t kPrefetchAhead = 4;
  const auto prefetch = [&](size_t p) {
    if (p < pieces.size()) {
      model_->PrefetchWord(text.substr(pieces[p].begin, pieces[p].end - pieces[p].begin));
    }
  };
  for (size_t p = 0; p < kPrefetchAhead; ++p) prefetch(p);
  for (size_t p = 0; p < pieces.size(); ++p) {
    if (!KeepGoing(progress, encoding)) return false;
    prefetch(p + kPrefetchAhead);
    const Piece& piece = pieces[p];
    // A long word (a run of one character) needs scratch of tens of bytes per
    // byte while it is merged, and may be cut short by a stop.
    if (piece.end - piece.begin > kLongWordBytes) {
      if (progress != nullptr &&
          !(*progress)(BytesHeld(*encoding) +
                       kScratchPerLongWordByte * (piece.end - piece.begin))) {
        return false;
      }
      if (ThisThreadShouldStop()) return false;
    }
    const absl::string_view word = text.substr(piece.begin, piece.end - piece.begin);
    const bool virtual_prefix = prefix && p == 0;
    tokens.clear();
    model_->EncodeWord(word, virtual_prefix, &tokens);
    if (encoding == nullptr) {
      for (const WordToken& t : tokens) ids->push_back(t.id);
      continue;
    }
    // A word behind a virtual prefix is no place to continue from.
    if (!virtual_prefix) encoding->piece_starts.push_back(static_cast<uint32_t>(ids->size()));
    uint32_t offset = piece.begin;
    for (const WordToken& t : tokens) {
      ids->push_back(t.id);
      encoding->offsets.push_back(offset);
      offset += t.source_length;
    }
  }
  return true;
}

absl::string_view BpeTokenizer::TokenBytes(TokenId id) const {
  return id < token_bytes_.size() ? absl::string_view(token_bytes_[id]) : absl::string_view();
}

std::string BpeTokenizer::Describe() const {
  return absl::StrCat(kind_, ", ", token_bytes_.size(), " ids, ", added_.tokens().size(),
                      " added tokens");
}

}  // namespace convgen
