#include "core/tokenizer/added_tokens.h"

#include <algorithm>
#include <utility>

namespace convgen {

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens)
    : tokens_(std::move(tokens)), by_first_byte_(256) {
  std::stable_sort(tokens_.begin(), tokens_.end(), [](const AddedToken& a, const AddedToken& b) {
    return a.content.size() > b.content.size();
  });
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].content.empty()) continue;
    const auto first = static_cast<unsigned char>(tokens_[i].content[0]);
    by_first_byte_[first].push_back(i);
    first_bytes_.set(first);
  }
}

AddedTokenMatcher::Match AddedTokenMatcher::Find(absl::string_view text, size_t from) const {
  if (first_bytes_.any()) {
    for (size_t pos = from; pos < text.size(); ++pos) {
      const auto b = static_cast<unsigned char>(text[pos]);
      if (!first_bytes_.test(b)) continue;
      for (size_t index : by_first_byte_[b]) {
        const std::string& content = tokens_[index].content;
        if (text.compare(pos, content.size(), content) == 0) {
          return {pos, pos + content.size(), tokens_[index].id};
        }
      }
    }
  }
  return {text.size(), text.size(), 0};
}

}  // namespace convgen
