#include "core/tokenizer/unicode.h"

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "utf8proc.h"

namespace convgen::unicode {

char32_t DecodeUtf8(absl::string_view text, size_t pos, size_t* length) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  const unsigned char b0 = s[pos];
  *length = 1;
  if (b0 < 0x80) return b0;
  size_t need;
  char32_t c;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    need = 1, c = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    need = 2, c = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    need = 3, c = b0 & 0x07, min = 0x10000;
  } else {
    return kInvalid;
  }
  if (pos + need >= n) return kInvalid;
  for (size_t i = 1; i <= need; ++i) {
    const unsigned char b = s[pos + i];
    if ((b & 0xC0) != 0x80) return kInvalid;
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return kInvalid;
  *length = need + 1;
  return c;
}

std::optional<size_t> FindInvalidUtf8(absl::string_view text) {
  // RFC 3629's well-formed sequences, decoded inline: every message is
  // checked before it leaves the core, so this is on the hot path.
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  const auto continuation = [&](size_t i) { return i < n && (s[i] & 0xC0) == 0x80; };
  size_t pos = 0;
  while (pos < n) {
    // Runs of ASCII 32 bytes at a time, then 8: text is mostly ASCII.
    while (pos + 32 <= n) {
      uint64_t words[4];
      std::memcpy(words, s + pos, sizeof(words));
      if (((words[0] | words[1] | words[2] | words[3]) & 0x8080808080808080ULL) != 0) break;
      pos += 32;
    }
    while (pos + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, s + pos, sizeof(word));
      if ((word & 0x8080808080808080ULL) != 0) break;
      pos += 8;
    }
    if (pos == n) break;
    const unsigned char b0 = s[pos];
    if (b0 < 0x80) {
      ++pos;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      if (!continuation(pos + 1)) return pos;
      pos += 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      if (!continuation(pos + 1) || !continuation(pos + 2)) return pos;
      const unsigned char b1 = s[pos + 1];
      if ((b0 == 0xE0 && b1 < 0xA0) || (b0 == 0xED && b1 >= 0xA0))
        return pos;  // overlong, surrogate
      pos += 3;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      if (!continuation(pos + 1) || !continuation(pos + 2) || !continuation(pos + 3)) return pos;
      const unsigned char b1 = s[pos + 1];
      if ((b0 == 0xF0 && b1 < 0x90) || (b0 == 0xF4 && b1 >= 0x90))
        return pos;  // overlong, > U+10FFFF
      pos += 4;
    } else {
      return pos;
    }
  }
  return std::nullopt;
}

namespace {

bool IsWhiteSpace(char32_t c) {
  // The Unicode White_Space property (PropList.txt), which Oniguruma's \s
  // matches in Unicode mode.
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

utf8proc_category_t CategoryOf(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

}  // namespace

CharClass ClassOf(char32_t c) {
  if (c == kInvalid) return kClassOther;
  if (IsWhiteSpace(c)) return kClassSpace;
  switch (CategoryOf(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return kClassLetter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return kClassNumber;
    default:
      return kClassOther;
  }
}

bool IsMark(char32_t c) {
  if (c == kInvalid) return false;
  const utf8proc_category_t cat = CategoryOf(c);
  return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME;
}

bool IsUpperOrTitleLike(char32_t c) {
  if (c == kInvalid) return false;
  const utf8proc_category_t cat = CategoryOf(c);
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT ||
         cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_LO || IsMark(c);
}

bool IsLowerLike(char32_t c) {
  if (c == kInvalid) return false;
  const utf8proc_category_t cat = CategoryOf(c);
  return cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LM ||
         cat == UTF8PROC_CATEGORY_LO || IsMark(c);
}

std::string Normalize(absl::string_view text, NormalizationForm form) {
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalizationForm::kNfc:
      options |= UTF8PROC_COMPOSE;
      break;
    case NormalizationForm::kNfd:
      options |= UTF8PROC_DECOMPOSE;
      break;
    case NormalizationForm::kNfkc:
      options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
      break;
    case NormalizationForm::kNfkd:
      options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
      break;
  }
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    // Copy the ASCII run, keeping its last character back: it may be a
    // starter that composes with a following combining mark.
    size_t run_end = pos;
    while (run_end < text.size() && static_cast<unsigned char>(text[run_end]) < 0x80) {
      ++run_end;
    }
    if (run_end == text.size()) {
      absl::StrAppend(&out, text.substr(pos));
      break;
    }
    size_t span_start = run_end > pos ? run_end - 1 : run_end;
    absl::StrAppend(&out, text.substr(pos, span_start - pos));
    // The span ends before the next ASCII character: ASCII characters are
    // starters that never compose with what precedes them.
    size_t span_end = run_end;
    while (span_end < text.size() && static_cast<unsigned char>(text[span_end]) >= 0x80) {
      ++span_end;
    }
    const absl::string_view span = text.substr(span_start, span_end - span_start);
    utf8proc_uint8_t* mapped = nullptr;
    const utf8proc_ssize_t length =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(span.data()),
                     static_cast<utf8proc_ssize_t>(span.size()), &mapped,
                     static_cast<utf8proc_option_t>(options));
    if (length < 0) {
      absl::StrAppend(&out, span);  // invalid UTF-8: left as it is
    } else {
      out.append(reinterpret_cast<const char*>(mapped), static_cast<size_t>(length));
    }
    std::free(mapped);
    pos = span_end;
  }
  return out;
}

std::string Lowercase(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const auto b = static_cast<unsigned char>(text[pos]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b));
      ++pos;
      continue;
    }
    size_t length;
    const char32_t c = DecodeUtf8(text, pos, &length);
    if (c == kInvalid) {
      out.push_back(text[pos++]);
      continue;
    }
    // utf8proc has the simple mappings; U+0130 is the one character whose
    // unconditional full mapping (SpecialCasing.txt) differs from them.
    if (c == 0x130) {
      out.append("i\xCC\x87");
    } else {
      utf8proc_uint8_t buffer[4];
      const utf8proc_ssize_t n =
          utf8proc_encode_char(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)), buffer);
      out.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
    }
    pos += length;
  }
  return out;
}

}  // namespace convgen::unicode
