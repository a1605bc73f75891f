#include "core/tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/tokenizer/unicode.h"

namespace convgen {
namespace {

bool IsAscii(absl::string_view text) {
  unsigned char any = 0;
  for (char c : text) any |= static_cast<unsigned char>(c);
  return any < 0x80;
}

// The decoded bytes of a SentencePiece token: "▁" is a space and <0xXX> is
// the byte XX.
std::string SentencePieceBytes(absl::string_view text) {
  if (text.size() == 6 && text.substr(0, 3) == "<0x" && text[5] == '>') {
    const auto hex = [](char c) {
      return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    };
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
      normalizer_(parts.normalizer),
      added_(std::move(parts.added_tokens)),
      kind_(std::move(parts.kind)),
      sentencepiece_(model_->options().alphabet == BpeModel::Alphabet::kSentencePiece) {
  size_t size = model_->vocab_size();
  for (const AddedToken& t : added_.tokens()) size = std::max<size_t>(size, t.id + 1);
  token_bytes_.resize(size);
  for (TokenId id = 0; id < model_->vocab_size(); ++id) {
    const absl::string_view text = model_->TokenText(id);
    token_bytes_[id] = sentencepiece_ ? SentencePieceBytes(text) : std::string(text);
  }
  for (const AddedToken& t : added_.tokens()) token_bytes_[t.id] = t.content;
}

std::string BpeTokenizer::Normalize(absl::string_view text) const {
  if (normalizer_ == Normalizer::kNfc && !IsAscii(text)) {
    return unicode::NormalizeNfc(text);
  }
  return std::string(text);
}

void BpeTokenizer::Encode(absl::string_view text, std::vector<TokenId>* ids) const {
  if (normalizer_ == Normalizer::kNfc && !IsAscii(text)) {
    const std::string normalized = unicode::NormalizeNfc(text);
    EncodeNormalized(normalized, ids, nullptr);
  } else {
    EncodeNormalized(text, ids, nullptr);
  }
}

void BpeTokenizer::EncodeWithOffsets(absl::string_view text, Encoding* encoding) const {
  EncodeNormalized(text, &encoding->ids, encoding);
}

void BpeTokenizer::EncodeNormalized(absl::string_view text, std::vector<TokenId>* ids,
                                    Encoding* encoding) const {
  size_t pos = 0;
  while (pos < text.size()) {
    const AddedTokenMatcher::Match match = added_.Find(text, pos);
    if (match.begin > pos) EncodeSegment(text, pos, match.begin, ids, encoding);
    if (match.begin == text.size()) break;
    if (encoding != nullptr) {
      encoding->piece_starts.push_back(static_cast<uint32_t>(ids->size()));
      encoding->offsets.push_back(static_cast<uint32_t>(match.begin));
    }
    ids->push_back(match.id);
    pos = match.end;
  }
}

void BpeTokenizer::EncodeSegment(absl::string_view text, size_t begin, size_t end,
                                 std::vector<TokenId>* ids, Encoding* encoding) const {
  thread_local std::vector<Piece> pieces;
  thread_local std::vector<WordToken> tokens;
  pieces.clear();
  if (pre_tokenizer_ != nullptr) {
    pre_tokenizer_->Split(text, {static_cast<uint32_t>(begin), static_cast<uint32_t>(end)},
                          &pieces);
  } else if (model_->spaces_start_tokens()) {
    // SentencePiece text cut before each space that follows a non-space.
    size_t start = begin;
    for (size_t i = begin + 1; i < end; ++i) {
      if (text[i] == ' ' && text[i - 1] != ' ') {
        pieces.push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(i)});
        start = i;
      }
    }
    pieces.push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(end)});
  } else {
    pieces.push_back({static_cast<uint32_t>(begin), static_cast<uint32_t>(end)});
  }
  for (size_t p = 0; p < pieces.size(); ++p) {
    const Piece& piece = pieces[p];
    const absl::string_view word = text.substr(piece.begin, piece.end - piece.begin);
    // The SentencePiece normalizer prepends "▁" to each non-empty segment.
    const bool virtual_prefix = sentencepiece_ && p == 0;
    if (encoding == nullptr) {
      tokens.clear();
      model_->EncodeWord(word, virtual_prefix, &tokens);
      for (const WordToken& t : tokens) ids->push_back(t.id);
      continue;
    }
    tokens.clear();
    model_->EncodeWord(word, virtual_prefix, &tokens);
    encoding->piece_starts.push_back(static_cast<uint32_t>(ids->size()));
    uint32_t offset = piece.begin;
    for (const WordToken& t : tokens) {
      ids->push_back(t.id);
      encoding->offsets.push_back(offset);
      offset += t.source_length;
    }
  }
}

absl::string_view BpeTokenizer::TokenBytes(TokenId id) const {
  return id < token_bytes_.size() ? absl::string_view(token_bytes_[id])
                                  : absl::string_view();
}

std::string BpeTokenizer::Describe() const {
  return absl::StrCat(kind_, ", ", token_bytes_.size(), " ids, ",
                      added_.tokens().size(), " added tokens");
}

}  // namespace convgen
