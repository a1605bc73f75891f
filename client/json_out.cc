#include "client/json_out.h"

#include <array>
#include <bit>
#include <cstring>

namespace convgen {
namespace {

constexpr uint8_t kAccept = 0;
constexpr uint8_t kReject = 1;

// Hoehrmann's UTF-8 automaton as nlohmann 3.11's serializer has it: byte
// classes (0..255), then transitions (state * 16 + class).
constexpr std::array<uint8_t, 400> kUtf8 = {
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    // 00..0F
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    // 10..1F
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    // 20..2F
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    // 30..3F
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    // 40..4F
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    // 50..5F
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    // 60..6F
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    // 70..7F
    1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,    // 80..8F
    9,   9,   9,   9,   9,   9,   9,   9,   9,   9,   9,   9,   9,   9,   9,   9,    // 90..9F
    7,   7,   7,   7,   7,   7,   7,   7,   7,   7,   7,   7,   7,   7,   7,   7,    // A0..AF
    7,   7,   7,   7,   7,   7,   7,   7,   7,   7,   7,   7,   7,   7,   7,   7,    // B0..BF
    8,   8,   2,   2,   2,   2,   2,   2,   2,   2,   2,   2,   2,   2,   2,   2,    // C0..CF
    2,   2,   2,   2,   2,   2,   2,   2,   2,   2,   2,   2,   2,   2,   2,   2,    // D0..DF
    0xA, 0x3, 0x3, 0x3, 0x3, 0x3, 0x3, 0x3, 0x3, 0x3, 0x3, 0x3, 0x3, 0x4, 0x3, 0x3,  // E0..EF
    0xB, 0x6, 0x6, 0x6, 0x5, 0x8, 0x8, 0x8, 0x8, 0x8, 0x8, 0x8, 0x8, 0x8, 0x8, 0x8,  // F0..FF
    0x0, 0x1, 0x2, 0x3, 0x5, 0x8, 0x7, 0x1, 0x1, 0x1, 0x4, 0x6, 0x1, 0x1, 0x1, 0x1,  // s0
    1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,    // s1
    1,   0,   1,   1,   1,   1,   1,   0,   1,   0,   1,   1,   1,   1,   1,   1,    // s2
    1,   2,   1,   1,   1,   1,   1,   2,   1,   2,   1,   1,   1,   1,   1,   1,    // s3
    1,   1,   1,   1,   1,   1,   1,   2,   1,   1,   1,   1,   1,   1,   1,   1,    // s4
    1,   2,   1,   1,   1,   1,   1,   1,   1,   2,   1,   1,   1,   1,   1,   1,    // s5
    1,   1,   1,   1,   1,   1,   1,   3,   1,   3,   1,   1,   1,   1,   1,   1,    // s6
    1,   3,   1,   1,   1,   1,   1,   3,   1,   3,   1,   1,   1,   1,   1,   1,    // s7
    1,   3,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,    // s8
};

constexpr char kReplacement[] = "\xEF\xBF\xBD";

// Whether byte c needs more than a copy: a control byte, '"', '\\' or a
// non-ASCII byte.
constexpr bool Special(unsigned char c) { return c < 0x20 || c == '"' || c == '\\' || c >= 0x80; }

// A word with the high bit of each byte of `w` that is Special (exact for
// the lowest such byte, which is all the caller uses: a borrow can only
// mark bytes above a marked one).
inline uint64_t SpecialBytes(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const uint64_t quote = w ^ (kOnes * '"');
  const uint64_t backslash = w ^ (kOnes * '\\');
  const uint64_t control = (w - kOnes * 0x20) & ~w;
  const uint64_t is_quote = (quote - kOnes) & ~quote;
  const uint64_t is_backslash = (backslash - kOnes) & ~backslash;
  return (control | is_quote | is_backslash | w) & kHigh;
}

// The index of the first Special byte of s[i, n), or n.
inline size_t NextSpecial(const unsigned char* s, size_t i, size_t n) {
  if constexpr (std::endian::native == std::endian::little) {
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      const uint64_t special = SpecialBytes(w);
      if (special != 0) return i + static_cast<size_t>(std::countr_zero(special)) / 8;
      i += 8;
    }
  }
  while (i < n && !Special(s[i])) ++i;
  return i;
}

void AppendControl(std::string& out, unsigned char c) {
  switch (c) {
    case '\b':
      out.append("\\b", 2);
      return;
    case '\t':
      out.append("\\t", 2);
      return;
    case '\n':
      out.append("\\n", 2);
      return;
    case '\f':
      out.append("\\f", 2);
      return;
    case '\r':
      out.append("\\r", 2);
      return;
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      const char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out.append(escaped, 6);
    }
  }
}

// Appends the UTF-8 sequence starting at s[i] (a byte >= 0x80), or U+FFFD
// for an invalid one, and returns where the next one starts (see the
// header for nlohmann's extent of an invalid sequence).
size_t AppendNonAscii(std::string& out, const unsigned char* s, size_t i, size_t n) {
  uint8_t state = kAccept;
  for (size_t j = i; j < n; ++j) {
    state = kUtf8[256 + state * 16 + kUtf8[s[j]]];
    if (state == kAccept) {
      out.append(reinterpret_cast<const char*>(s + i), j + 1 - i);
      return j + 1;
    }
    if (state == kReject) {
      out.append(kReplacement, 3);
      // A byte that broke a started sequence starts the next one.
      return j == i ? j + 1 : j;
    }
  }
  out.append(kReplacement, 3);  // cut by the end of the string
  return n;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  out.reserve(out.size() + n + 2);
  out.push_back('"');
  size_t i = 0;
  while (i < n) {
    const size_t run_end = NextSpecial(s, i, n);
    out.append(reinterpret_cast<const char*>(s + i), run_end - i);
    i = run_end;
    if (i == n) break;
    const unsigned char c = s[i];
    if (c >= 0x80) {
      i = AppendNonAscii(out, s, i, n);
      continue;
    }
    if (c == '"') {
      out.append("\\\"", 2);
    } else if (c == '\\') {
      out.append("\\\\", 2);
    } else {
      AppendControl(out, c);
    }
    ++i;
  }
  out.push_back('"');
}

}  // namespace convgen
