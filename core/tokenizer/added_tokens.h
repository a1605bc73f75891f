// AddedTokenMatcher: finds added tokens (<|im_start|>, <s>, ...) in text the
// way Hugging Face's AddedVocabulary does for tokens without lstrip, rstrip
// or single_word: leftmost match first, the longest at that position.
// Immutable and thread-safe.
#ifndef CONVGEN_CORE_TOKENIZER_ADDED_TOKENS_H_
#define CONVGEN_CORE_TOKENIZER_ADDED_TOKENS_H_

#include <bitset>
#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/tokenizer/tokenizer.h"

namespace convgen {

struct AddedToken {
  std::string content;
  TokenId id;
};

class AddedTokenMatcher {
 public:
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  struct Match {
    size_t begin;  // text.size() when there is none
    size_t end;
    TokenId id;
  };
  // Returns the leftmost-longest match starting at or after `from`.
  Match Find(absl::string_view text, size_t from) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;                  // longest first
  std::vector<std::vector<size_t>> by_first_byte_;  // indices into tokens_
  std::bitset<256> first_bytes_;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_TOKENIZER_ADDED_TOKENS_H_
