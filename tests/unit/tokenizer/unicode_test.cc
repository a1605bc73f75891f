#include "core/tokenizer/unicode.h"

#include "gtest/gtest.h"

namespace convgen::unicode {
namespace {

TEST(UnicodeTest, FindsTheFirstInvalidByte) {
  EXPECT_EQ(FindInvalidUtf8("plain ascii"), std::nullopt);
  EXPECT_EQ(FindInvalidUtf8("caf\xC3\xA9 \xF0\x9F\x98\x80"), std::nullopt);
  EXPECT_EQ(FindInvalidUtf8("ab\xC3"), 2u);              // truncated
  EXPECT_EQ(FindInvalidUtf8("abc\x80"), 3u);             // stray continuation
  EXPECT_EQ(FindInvalidUtf8("\xC0\xAF"), 0u);            // overlong
  EXPECT_EQ(FindInvalidUtf8("x\xED\xA0\x80"), 1u);       // surrogate
  EXPECT_EQ(FindInvalidUtf8("xy\xF4\x90\x80\x80"), 2u);  // > U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("\xE2\x82"), 0u);
}

// The validator decodes inline for speed; it must agree with DecodeUtf8,
// byte for byte, on random text near the edges of every sequence length.
TEST(UnicodeTest, FindInvalidUtf8AgreesWithDecodeUtf8) {
  const auto reference = [](absl::string_view text) -> std::optional<size_t> {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t length;
      if (DecodeUtf8(text, pos, &length) == kInvalid) return pos;
      pos += length;
    }
    return std::nullopt;
  };
  // Bytes that matter: ASCII, continuations, every lead byte class and the
  // second-byte limits of E0, ED, F0, F4.
  const unsigned char kBytes[] = {'a',  0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                  0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED,
                                  0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
  uint64_t state = 88172645463325252ULL;  // xorshift64
  const auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int trial = 0; trial < 200000; ++trial) {
    std::string text(next() % 14, 'x');
    for (char& c : text) c = static_cast<char>(kBytes[next() % sizeof(kBytes)]);
    ASSERT_EQ(FindInvalidUtf8(text), reference(text)) << ::testing::PrintToString(text);
  }
}

TEST(UnicodeTest, ClassesFollowOniguruma) {
  EXPECT_EQ(ClassOf('a'), kClassLetter);
  EXPECT_EQ(ClassOf(U'ß'), kClassLetter);
  EXPECT_EQ(ClassOf(U'中'), kClassLetter);
  EXPECT_EQ(ClassOf('7'), kClassNumber);
  EXPECT_EQ(ClassOf(U'½'), kClassNumber);
  EXPECT_EQ(ClassOf(U'Ⅻ'), kClassNumber);
  EXPECT_EQ(ClassOf(' '), kClassSpace);
  EXPECT_EQ(ClassOf(0x3000), kClassSpace);
  EXPECT_EQ(ClassOf(0x85), kClassSpace);
  EXPECT_EQ(ClassOf(0x180E), kClassOther);  // not White_Space since Unicode 6.3
  EXPECT_EQ(ClassOf(0x200B), kClassOther);  // zero width space is Cf
  EXPECT_EQ(ClassOf(0x0301), kClassOther);  // a mark is not \p{L}
  EXPECT_EQ(ClassOf(kInvalid), kClassOther);
}

TEST(UnicodeTest, NfcComposesAroundAscii) {
  EXPECT_EQ(NormalizeNfc("e\xCC\x81"), "\xC3\xA9");
  EXPECT_EQ(NormalizeNfc("Ame\xCC\x81lie"), "Am\xC3\xA9lie");
  EXPECT_EQ(NormalizeNfc("\xE2\x84\xA6"), "\xCE\xA9");      // ohm sign -> omega
  EXPECT_EQ(NormalizeNfc("\xEF\xAC\x81"), "\xEF\xAC\x81");  // fi ligature stays (NFKC only)
  EXPECT_EQ(NormalizeNfc("plain"), "plain");
  EXPECT_EQ(NormalizeNfc("\xE1\x84\x80\xE1\x85\xA1"), "\xEA\xB0\x80");  // conjoining jamo
  EXPECT_EQ(NormalizeNfc("a\xFF"
                         "b"),
            "a\xFF"
            "b");  // invalid bytes kept
}

}  // namespace
}  // namespace convgen::unicode
