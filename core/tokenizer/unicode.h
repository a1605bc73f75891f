// Unicode facts the tokenizers need: UTF-8 decoding and validation, the
// character classes of the pre-tokenizer patterns (\p{L}, \p{N}, \s as
// Oniguruma defines them, which is what Hugging Face tokenizers use), and NFC
// through utf8proc. Stateless and thread-safe.
#ifndef CONVGEN_CORE_TOKENIZER_UNICODE_H_
#define CONVGEN_CORE_TOKENIZER_UNICODE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace convgen::unicode {

// Decodes the character at text[pos]; returns its code point and sets
// *length. An invalid or truncated sequence yields kInvalid with length 1.
inline constexpr char32_t kInvalid = 0xFFFFFFFF;
char32_t DecodeUtf8(absl::string_view text, size_t pos, size_t* length);

// Returns the byte offset of the first invalid UTF-8 sequence, or nullopt if
// the text is valid UTF-8 (no surrogates, no overlongs, <= U+10FFFF).
std::optional<size_t> FindInvalidUtf8(absl::string_view text);

// Character classes of the pre-tokenizer patterns.
enum CharClass : uint8_t {
  kClassOther = 0,
  kClassLetter = 1,     // \p{L}
  kClassNumber = 2,     // \p{N}
  kClassSpace = 3,      // \s: Unicode White_Space (Oniguruma's \s)
};
CharClass ClassOf(char32_t c);

// Letter and mark subclasses used by the o200k pattern.
bool IsUpperOrTitleLike(char32_t c);  // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
bool IsLowerLike(char32_t c);         // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
bool IsMark(char32_t c);              // \p{M}

// Returns text in Unicode Normalization Form C. Runs of ASCII are copied
// as they are; only the spans around non-ASCII characters go through
// utf8proc. Invalid UTF-8 is copied unchanged.
std::string NormalizeNfc(absl::string_view text);

}  // namespace convgen::unicode

#endif  // CONVGEN_CORE_TOKENIZER_UNICODE_H_
