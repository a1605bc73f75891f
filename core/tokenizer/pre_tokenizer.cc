#include "core/tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/tokenizer/unicode.h"

namespace convgen {

const char kGpt2Pattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char kCl100kPattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char kQwen2Pattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char kO200kPattern[] =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

using unicode::CharClass;

// The code point at pos of text[0, end) and its length in bytes.
char32_t CodePointAt(absl::string_view text, size_t end, size_t pos, size_t* length) {
  const auto b = static_cast<unsigned char>(text[pos]);
  if (b < 0x80) {
    *length = 1;
    return b;
  }
  return unicode::DecodeUtf8(text.substr(0, end), pos, length);
}

// Length of a contraction at pos of text[0, end), as cl100k's and o200k's
// (?i:'s|'t|'re|'ve|'m|'ll|'d) matches it; 0 if there is none.
size_t ContractionLength(absl::string_view text, size_t end, size_t pos) {
  if (pos + 1 >= end || text[pos] != '\'') return 0;
  size_t a_length = 0;
  const char32_t a = CodePointAt(text, end, pos + 1, &a_length);
  const char32_t lower = a < 0x80 ? (a | 0x20) : a;
  // Under (?i), U+017F (long s) folds to s.
  if (lower == 's' || lower == 't' || lower == 'm' || lower == 'd' || a == 0x017F) {
    return 1 + a_length;
  }
  const size_t second = pos + 1 + a_length;
  if ((lower == 'r' || lower == 'v' || lower == 'l') && second < end) {
    size_t b_length = 0;
    const char32_t b = CodePointAt(text, end, second, &b_length);
    const char32_t lower_b = b < 0x80 ? (b | 0x20) : b;
    if ((lower != 'l' && lower_b == 'e') || (lower == 'l' && lower_b == 'l')) {
      return 1 + a_length + b_length;
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------
// PCRE2 JIT splitter.

class RegexPreTokenizer : public PreTokenizer {
 public:
  RegexPreTokenizer(pcre2_code* code, SplitBehavior behavior) : code_(code), behavior_(behavior) {}
  ~RegexPreTokenizer() override { pcre2_code_free(code_); }

  void Split(absl::string_view text, Piece range, std::vector<Piece>* pieces) const override {
    pcre2_match_data* match = pcre2_match_data_create_from_pattern(code_, nullptr);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    // The subject ends at the range's end: HF matches each split of its
    // input on its own, so (?!\S) sees the end of the range as the end.
    const PCRE2_SIZE end = range.end;
    PCRE2_SIZE pos = range.begin;
    uint32_t gap_start = range.begin;
    while (pos < end) {
      const int rc = pcre2_match(code_, subject, end, pos, 0, match, nullptr);
      if (rc < 0) break;
      const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
      const auto m_begin = static_cast<uint32_t>(ovector[0]);
      const auto m_end = static_cast<uint32_t>(ovector[1]);
      if (m_end == m_begin) {  // empty match: step over one character
        size_t length;
        unicode::DecodeUtf8(text, m_begin, &length);
        pos = m_begin + length;
        continue;
      }
      if (behavior_ == SplitBehavior::kIsolated && m_begin > gap_start) {
        pieces->push_back({gap_start, m_begin});
      }
      pieces->push_back({m_begin, m_end});
      gap_start = m_end;
      pos = m_end;
    }
    if (behavior_ == SplitBehavior::kIsolated && gap_start < range.end) {
      pieces->push_back({gap_start, range.end});
    }
    pcre2_match_data_free(match);
  }

 private:
  pcre2_code* code_;
  SplitBehavior behavior_;
};

// ---------------------------------------------------------------------------
// Hand-written scanner for
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,K}|
//   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// with K = 3 (cl100k, Llama 3) or 1 (Qwen2/3). Every character is a letter,
// a number, white space or other, so the alternatives cover all text and the
// scanner emits consecutive pieces. Each branch below follows the regex's
// leftmost-first, greedy-with-backtracking semantics.

class Cl100kPreTokenizer : public PreTokenizer {
 public:
  explicit Cl100kPreTokenizer(int max_digits) : max_digits_(max_digits) {}

  void Split(absl::string_view text, Piece range, std::vector<Piece>* pieces) const override {
    Scanner s{text, range.end};
    size_t i = range.begin;
    while (i < range.end) {
      const size_t end = s.MatchAt(i, max_digits_);
      pieces->push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(end)});
      i = end;
    }
  }

 private:
  struct Char {
    char32_t c;
    size_t length;
    CharClass cls;
  };

  struct Scanner {
    absl::string_view text;
    size_t end;

    Char At(size_t pos) const {
      Char ch;
      ch.c = CodePointAt(text, end, pos, &ch.length);
      ch.cls = ch.c < 0x80 ? kAsciiClass[ch.c] : unicode::ClassOf(ch.c);
      return ch;
    }

    size_t SkipClass(size_t pos, CharClass cls) const {
      while (pos < end) {
        const Char ch = At(pos);
        if (ch.cls != cls) break;
        pos += ch.length;
      }
      return pos;
    }

    size_t ContractionAt(size_t pos) const { return ContractionLength(text, end, pos); }

    // Returns the end of the piece starting at i.
    size_t MatchAt(size_t i, int max_digits) const {
      const Char first = At(i);
      if (first.c == '\'') {
        if (const size_t n = ContractionAt(i)) return i + n;
      }
      const bool is_crlf = first.c == '\r' || first.c == '\n';
      // [^\r\n\p{L}\p{N}]?\p{L}+
      if (first.cls == unicode::kClassLetter) {
        return SkipClass(i + first.length, unicode::kClassLetter);
      }
      const size_t next = i + first.length;
      if (first.cls != unicode::kClassNumber && !is_crlf && next < end &&
          At(next).cls == unicode::kClassLetter) {
        return SkipClass(next, unicode::kClassLetter);
      }
      // \p{N}{1,K}
      if (first.cls == unicode::kClassNumber) {
        size_t pos = next;
        for (int k = 1; k < max_digits && pos < end; ++k) {
          const Char ch = At(pos);
          if (ch.cls != unicode::kClassNumber) break;
          pos += ch.length;
        }
        return pos;
      }
      //  ?[^\s\p{L}\p{N}]+[\r\n]*
      size_t other_start = i;
      if (first.c == ' ' && next < end && At(next).cls == unicode::kClassOther) {
        other_start = next;
      }
      if (At(other_start).cls == unicode::kClassOther) {
        size_t pos = SkipClass(other_start, unicode::kClassOther);
        while (pos < end && (text[pos] == '\r' || text[pos] == '\n')) ++pos;
        return pos;
      }
      // White space: \s*[\r\n]+ | \s+(?!\S) | \s+
      size_t run_end = i;
      size_t last_newline_end = 0;  // end of the last \r or \n in the run
      size_t last_char_start = i;
      while (run_end < end) {
        const Char ch = At(run_end);
        if (ch.cls != unicode::kClassSpace) break;
        last_char_start = run_end;
        run_end += ch.length;
        if (ch.c == '\r' || ch.c == '\n') last_newline_end = run_end;
      }
      if (last_newline_end != 0) return last_newline_end;
      if (run_end == end) return run_end;  // (?!\S) holds at the end
      if (last_char_start > i) return last_char_start;
      return run_end;
    }
  };

  static const std::array<CharClass, 128> kAsciiClass;
  int max_digits_;
};

const std::array<CharClass, 128> Cl100kPreTokenizer::kAsciiClass = [] {
  std::array<CharClass, 128> table{};
  for (char32_t c = 0; c < 128; ++c) table[c] = unicode::ClassOf(c);
  return table;
}();

// ---------------------------------------------------------------------------
// Hand-written scanner for o200k's pattern
//   A: [^\r\n\p{L}\p{N}]?UP*LO+C?   B: [^\r\n\p{L}\p{N}]?UP+LO*C?
//   \p{N}{1,3} | ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
// with UP = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], LO = [\p{Ll}\p{Lm}\p{Lo}\p{M}]
// and C the case-insensitive contractions. Lm, Lo and marks are in both UP
// and LO, and marks, not being \p{L}, may also be the optional first
// character and the "other" of the fourth branch: so each character carries
// the set of the pattern's classes it is in. A and B are tried with the
// first character as the optional prefix, then without, as the regex's
// backtracking does; the rest is the cl100k scanner's.

class O200kPreTokenizer : public PreTokenizer {
 public:
  void Split(absl::string_view text, Piece range, std::vector<Piece>* pieces) const override {
    Scanner s{text, range.end};
    size_t i = range.begin;
    while (i < range.end) {
      const size_t end = s.MatchAt(i);
      pieces->push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(end)});
      i = end;
    }
  }

 private:
  enum Flags : uint8_t {
    kUp = 1,         // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
    kLo = 2,         // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
    kPrefix = 4,     // [^\r\n\p{L}\p{N}]
    kOther = 8,      // [^\s\p{L}\p{N}]
    kNumber = 16,    // \p{N}
    kSpace = 32,     // \s
    kSlashOrNl = 64  // [\r\n/]
  };

  static uint8_t FlagsOf(char32_t c) {
    const CharClass cls = unicode::ClassOf(c);
    uint8_t flags = 0;
    switch (cls) {
      case unicode::kClassLetter:
        if (unicode::IsUpperOrTitleLike(c)) flags |= kUp;
        if (unicode::IsLowerLike(c)) flags |= kLo;
        break;
      case unicode::kClassNumber:
        flags |= kNumber;
        break;
      case unicode::kClassSpace:
        flags |= kSpace;
        if (c != '\r' && c != '\n') flags |= kPrefix;
        break;
      case unicode::kClassOther:
        flags |= kOther | kPrefix;
        if (unicode::IsMark(c)) flags |= kUp | kLo;
        break;
    }
    if (c == '\r' || c == '\n' || c == '/') flags |= kSlashOrNl;
    return flags;
  }

  struct Char {
    char32_t c;
    size_t length;
    uint8_t flags;
  };

  struct Scanner {
    absl::string_view text;
    size_t end;

    Char At(size_t pos) const {
      Char ch;
      ch.c = CodePointAt(text, end, pos, &ch.length);
      ch.flags = ch.c < 0x80 ? kAsciiFlags[ch.c] : FlagsOf(ch.c);
      return ch;
    }

    // Skips characters having any of `flags`.
    size_t Skip(size_t pos, uint8_t flags) const {
      while (pos < end) {
        const Char ch = At(pos);
        if ((ch.flags & flags) == 0) break;
        pos += ch.length;
      }
      return pos;
    }

    size_t ContractionAt(size_t pos) const { return ContractionLength(text, end, pos); }

    // Branch A from `start` (after the prefix, if taken): UP*LO+C?.
    // Returns its end, or 0 if it does not match.
    size_t UpperLowerWord(size_t start) const {
      size_t pos = start;
      size_t last_both_end = 0;  // end of the last UP run character also in LO
      while (pos < end) {
        const Char ch = At(pos);
        if ((ch.flags & kUp) == 0) break;
        pos += ch.length;
        if (ch.flags & kLo) last_both_end = pos;
      }
      if (pos < end && (At(pos).flags & kLo)) {
        const size_t word_end = Skip(pos, kLo);
        return word_end + ContractionAt(word_end);
      }
      // UP* gives back characters until LO+ can take one: the last one that
      // is in both classes; LO+ then stops at the UP-only one after it.
      if (last_both_end == 0) return 0;
      return last_both_end + (last_both_end == pos ? ContractionAt(pos) : 0);
    }

    // Branch B from `start`: UP+LO*C?. Returns its end, or 0.
    size_t UpperWord(size_t start) const {
      const size_t upper_end = Skip(start, kUp);
      if (upper_end == start) return 0;
      const size_t word_end = Skip(upper_end, kLo);
      return word_end + ContractionAt(word_end);
    }

    // Returns the end of the piece starting at i.
    size_t MatchAt(size_t i) const {
      const Char first = At(i);
      const size_t next = i + first.length;
      const bool prefix = (first.flags & kPrefix) && next < end;
      if (first.flags & (kPrefix | kUp | kLo)) {
        if (prefix) {
          if (const size_t e = UpperLowerWord(next)) return e;
        }
        if (first.flags & (kUp | kLo)) {
          if (const size_t e = UpperLowerWord(i)) return e;
        }
        if (prefix) {
          if (const size_t e = UpperWord(next)) return e;
        }
        if (first.flags & kUp) {
          if (const size_t e = UpperWord(i)) return e;
        }
      }
      // \p{N}{1,3}
      if (first.flags & kNumber) {
        size_t pos = next;
        for (int k = 1; k < 3 && pos < end; ++k) {
          const Char ch = At(pos);
          if ((ch.flags & kNumber) == 0) break;
          pos += ch.length;
        }
        return pos;
      }
      //  ?[^\s\p{L}\p{N}]+[\r\n/]*
      size_t other_start = i;
      if (first.c == ' ' && next < end && (At(next).flags & kOther)) other_start = next;
      if (At(other_start).flags & kOther) {
        return Skip(Skip(other_start, kOther), kSlashOrNl);
      }
      // White space: \s*[\r\n]+ | \s+(?!\S) | \s+
      size_t run_end = i;
      size_t last_newline_end = 0;  // end of the last \r or \n in the run
      size_t last_char_start = i;
      while (run_end < end) {
        const Char ch = At(run_end);
        if ((ch.flags & kSpace) == 0) break;
        last_char_start = run_end;
        run_end += ch.length;
        if (ch.c == '\r' || ch.c == '\n') last_newline_end = run_end;
      }
      if (last_newline_end != 0) return last_newline_end;
      if (run_end == end) return run_end;  // (?!\S) holds at the end
      if (last_char_start > i) return last_char_start;
      if (run_end > i) return run_end;
      return next;  // not reached: every character is in some branch
    }
  };

  static const std::array<uint8_t, 128> kAsciiFlags;
};

const std::array<uint8_t, 128> O200kPreTokenizer::kAsciiFlags = [] {
  std::array<uint8_t, 128> table{};
  for (char32_t c = 0; c < 128; ++c) table[c] = FlagsOf(c);
  return table;
}();

class DigitsPreTokenizer : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}

  void Split(absl::string_view text, Piece range, std::vector<Piece>* pieces) const override {
    uint32_t start = range.begin;
    bool in_digits = false;
    uint32_t pos = range.begin;
    while (pos < range.end) {
      size_t length;
      const auto b = static_cast<unsigned char>(text[pos]);
      bool digit;
      if (b < 0x80) {
        length = 1;
        digit = b >= '0' && b <= '9';
      } else {
        const char32_t c = unicode::DecodeUtf8(text.substr(0, range.end), pos, &length);
        digit = unicode::ClassOf(c) == unicode::kClassNumber;
      }
      // A piece ends before a change between digits and the rest, and
      // between two digits when each stands alone.
      if (pos > start && (digit != in_digits || (digit && individual_))) {
        pieces->push_back({start, pos});
        start = pos;
      }
      in_digits = digit;
      pos += static_cast<uint32_t>(length);
    }
    if (start < range.end) pieces->push_back({start, range.end});
  }

 private:
  bool individual_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}

  void Split(absl::string_view text, Piece range, std::vector<Piece>* pieces) const override {
    std::vector<Piece> current{range};
    std::vector<Piece> next;
    for (const auto& step : steps_) {
      next.clear();
      for (const Piece& piece : current) step->Split(text, piece, &next);
      current.swap(next);
    }
    pieces->insert(pieces->end(), current.begin(), current.end());
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

// Rewrites \s and \S as the Unicode White_Space set, which Oniguruma (HF)
// and Rust's regex (tiktoken) match; PCRE2's \s also matches U+180E.
absl::StatusOr<std::string> TranslateToPcre2(const std::string& pattern) {
  constexpr absl::string_view kWhiteSpace =
      "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
      "\\x{202F}\\x{205F}\\x{3000}";
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[++i];
      if (next == 's') {
        absl::StrAppend(&out, in_class ? "" : "[", kWhiteSpace, in_class ? "" : "]");
      } else if (next == 'S') {
        if (in_class) {
          return absl::InvalidArgumentError(
              "pre-tokenizer regex: \\S inside a character class is not supported");
        }
        absl::StrAppend(&out, "[^", kWhiteSpace, "]");
      } else {
        out.push_back(c);
        out.push_back(next);
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out.push_back(c);
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out.push_back(pattern[++i]);
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out.push_back(pattern[++i]);
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeSplitPreTokenizer(const std::string& pattern,
                                                                    SplitBehavior behavior,
                                                                    bool force_regex) {
  if (!force_regex) {
    // These patterns match every character, so both behaviors are the same.
    if (pattern == kCl100kPattern) return std::make_unique<Cl100kPreTokenizer>(3);
    if (pattern == kQwen2Pattern) return std::make_unique<Cl100kPreTokenizer>(1);
    if (pattern == kO200kPattern) return std::make_unique<O200kPreTokenizer>();
  }
  CONVGEN_ASSIGN_OR_RETURN(const std::string translated, TranslateToPcre2(pattern));
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(
      reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    return absl::InvalidArgumentError(
        absl::StrCat("pre-tokenizer regex does not compile at offset ", error_offset, ": ",
                     reinterpret_cast<const char*>(message)));
  }
  if (pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) != 0) {
    // Without JIT the interpreter still gives the same pieces, only slower.
  }
  return std::make_unique<RegexPreTokenizer>(code, behavior);
}

std::unique_ptr<PreTokenizer> MakeDigitsPreTokenizer(bool individual_digits) {
  return std::make_unique<DigitsPreTokenizer>(individual_digits);
}

std::unique_ptr<PreTokenizer> MakeSequencePreTokenizer(
    std::vector<std::unique_ptr<PreTokenizer>> steps) {
  if (steps.size() == 1) return std::move(steps[0]);
  return std::make_unique<SequencePreTokenizer>(std::move(steps));
}

}  // namespace convgen
