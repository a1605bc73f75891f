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
  kClassLetter = 1,  // \p{L}
  kClassNumber = 2,  // \p{N}
  kClassSpace = 3,   // \s: Unicode White_Space (Oniguruma's \s)
};
CharClass ClassOf(char32_t c);

// Letter and mark subclasses used by the o200k pattern.
bool IsUpperOrTitleLike(char32_t c);  // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
bool IsLowerLike(char32_t c);         // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
bool IsMark(char32_t c);              // \p{M}

// The Unicode normalization forms of Hugging Face's NFC, NFD, NFKC and NFKD
// normalizers.
enum class NormalizationForm { kNfc, kNfd, kNfkc, kNfkd };

// Returns text in the given normalization form. Runs of ASCII are copied
// as they are (ASCII is stable under every form); only the spans around
// non-ASCII characters go through utf8proc. Invalid UTF-8 is copied
// unchanged.
std::string Normalize(absl::string_view text, NormalizationForm form);
inline std::string NormalizeNfc(absl::string_view text) {
  return Normalize(text, NormalizationForm::kNfc);
}

// Returns text with every character replaced by its full lowercase mapping,
// character by character, as Rust's char::to_lowercase (Hugging Face's
// Lowercase normalizer): no context-dependent rules (a final sigma is σ),
// and U+0130 becomes "i" + U+0307. Invalid UTF-8 is copied unchanged.
std::string Lowercase(absl::string_view text);

}  // namespace convgen::unicode

#endif  // CONVGEN_CORE_TOKENIZER_UNICODE_H_
