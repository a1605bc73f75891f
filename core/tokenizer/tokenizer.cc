#include "core/tokenizer/tokenizer.h"

namespace convgen {

size_t Tokenizer::Count(absl::string_view text) const {
  thread_local std::vector<TokenId> ids;
  ids.clear();
  Encode(text, &ids);
  return ids.size();
}

size_t Tokenizer::CountContinuation(absl::string_view text) const {
  thread_local Encoding encoding;
  encoding.ids.clear();
  encoding.offsets.clear();
  encoding.piece_starts.clear();
  EncodeWithOffsets(text, /*continuation=*/true, &encoding);
  return encoding.ids.size();
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
