#include "core/tokenizer/tokenizer.h"

#include "core/scratch.h"

namespace convgen {
bool Tokenizer::EncodeCorpus(absl::string_view text, const EncodeProgress& progress,
                             Encoding* encoding) const {
  if (!progress(0)) return false;
  EncodeWithOffsets(text, /*continuation=*/false, encoding);
  return progress((encoding->ids.capacity() + encoding->offsets.capacity() +
                   encoding->piece_starts.capacity()) *
                  sizeof(uint32_t));
}

size_t Tokenizer::Count(absl::string_view text) const {
  thread_local std::vector<TokenId> ids;
  ids.clear();
  Encode(text, &ids);
  const size_t count = ids.size();
  ReleaseIfLarge(ids);
  return count;
}

size_t Tokenizer::CountContinuation(absl::string_view text) const {
  thread_local Encoding encoding;
  encoding.ids.clear();
  encoding.offsets.clear();
  encoding.piece_starts.clear();
  EncodeWithOffsets(text, /*continuation=*/true, &encoding);
  const size_t count = encoding.ids.size();
  ReleaseIfLarge(encoding.ids);
  ReleaseIfLarge(encoding.offsets);
  ReleaseIfLarge(encoding.piece_starts);
  return count;
}

std::string Tokenizer::Decode(absl::Span<const TokenId> ids) const {
  std::string text;
  for (TokenId id : ids) {
    const absl::string_view bytes = TokenBytes(id);
    text.append(bytes.data(), bytes.size());
  }
  if (adds_prefix_space() && !text.empty() && text[0] == ' ') text.erase(0, 1);
  return text;
}

}  // namespace convgen
