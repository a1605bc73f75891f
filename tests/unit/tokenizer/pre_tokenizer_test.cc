#include "core/tokenizer/pre_tokenizer.h"

#include <string>
#include <vector>

#include "core/random/random_stream.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/files.h"

namespace convgen {
namespace {

std::vector<std::string> SplitToStrings(const PreTokenizer& p, const std::string& text) {
  std::vector<Piece> pieces;
  p.Split(text, {0, static_cast<uint32_t>(text.size())}, &pieces);
  std::vector<std::string> out;
  for (const Piece& piece : pieces)
    out.push_back(text.substr(piece.begin, piece.end - piece.begin));
  return out;
}

TEST(PreTokenizerTest, Cl100kPiecesOfAKnownString) {
  auto scanner = MakeSplitPreTokenizer(kCl100kPattern, SplitBehavior::kIsolated);
  ASSERT_TRUE(scanner.ok());
  EXPECT_EQ(SplitToStrings(**scanner, "I'm here  now,\t12345 ok!\n\n  x"),
            (std::vector<std::string>{"I", "'m", " here", " ", " now", ",", "\t", "123", "45",
                                      " ok", "!\n\n", " ", " x"}));
}

TEST(PreTokenizerTest, QwenSplitsDigitsOneByOne) {
  auto scanner = MakeSplitPreTokenizer(kQwen2Pattern, SplitBehavior::kIsolated);
  ASSERT_TRUE(scanner.ok());
  EXPECT_EQ(SplitToStrings(**scanner, "x 2024"),
            (std::vector<std::string>{"x", " ", "2", "0", "2", "4"}));
}

TEST(PreTokenizerTest, O200kPiecesOfAKnownString) {
  // Words cut at a lower-to-upper change, contractions glued to their word
  // in any case, "/" and newlines after punctuation, a mark after a letter.
  auto scanner = MakeSplitPreTokenizer(kO200kPattern, SplitBehavior::kIsolated);
  ASSERT_TRUE(scanner.ok());
  EXPECT_EQ(SplitToStrings(**scanner,
                           "HelloWorld DON'T it's 12345 a!/\n/ ca\xCC\x81"
                           "fe\n\n  x"),
            (std::vector<std::string>{"Hello", "World", " DON'T", " it's", " ", "123", "45", " a",
                                      "!/\n/",
                                      " ca\xCC\x81"
                                      "fe",
                                      "\n\n", " ", " x"}));
}

TEST(PreTokenizerTest, BadRegexIsAnError) {
  auto bad = MakeSplitPreTokenizer("(unclosed", SplitBehavior::kIsolated);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("does not compile at offset 9"), std::string::npos)
      << bad.status();
}

// Characters that exercise every branch of the patterns.
const std::vector<std::string>& CharPool() {
  static const auto* pool = new std::vector<std::string>{
      "a", "Z", "é", "e\xCC\x81", "ß", "ſ", "s", "t", "r", "e", "v", "l", "m", "d", "L", "D", "R",
      "E", "中", "ア", "한", "ж", "ع", "क", "ि", "0", "7", "٣", "१", "½", "Ⅻ", " ", " ", "  ", "\t",
      "\n", "\r", "\r\n", "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\xA8", "\xE1\xA0\x8E", "\xC2\x85",
      "\x0B", "\x0C", "'", "'", "’", ".", ",", "!", "?", "-", "/", "#", "$", "😀", "👍🏽",
      "\xE2\x80\x8D", "\xCC\x81", "\xEE\x80\x80", "_", "\"", "(", "<", ">", "|",
      // o200k: upper-case contractions,
      // title case (Lt), modifier (Lm),
      // spacing (Mc) and enclosing (Me)
      // marks, non-BMP upper and lower
      // letters, digit runs.
      "S", "T", "M", "V", "'S", "'LL", "'Re", "\xC7\x85", "\xCA\xB0", "\xE0\xA4\xBE",
      "\xE2\x83\x9D", "\xF0\x9D\x90\x80", "\xF0\x9D\x90\x9A", "\xF0\x90\x90\x80",
      "\xF0\x90\x90\xA8", "Hello", "DON'T", "12345", "/\r\n"};
  return *pool;
}

std::string RandomText(RandomStream& stream, int max_chars) {
  const auto& pool = CharPool();
  const int n = 1 + static_cast<int>(stream.NextBelow(max_chars));
  std::string text;
  for (int i = 0; i < n; ++i) text += pool[stream.NextBelow(pool.size())];
  return text;
}

struct PatternCase {
  const char* name;
  const char* pattern;
};

class ScannerMatchesRegexTest : public ::testing::TestWithParam<PatternCase> {};

// The hand-written scanner must give exactly PCRE2's pieces.
TEST_P(ScannerMatchesRegexTest, OnRandomHardTextAndTheFixtures) {
  auto scanner = MakeSplitPreTokenizer(GetParam().pattern, SplitBehavior::kIsolated);
  auto regex = MakeSplitPreTokenizer(GetParam().pattern, SplitBehavior::kIsolated,
                                     /*force_regex=*/true);
  ASSERT_TRUE(scanner.ok() && regex.ok());
  std::vector<std::string> texts;
  for (const auto& text :
       nlohmann::json::parse(testing::ReadSourceFile("tests/oracle/hard_strings.json"))) {
    texts.push_back(text.get<std::string>());
  }
  RandomStream stream({.seed = 2026, .field = 1});
  for (int i = 0; i < 20000; ++i) texts.push_back(RandomText(stream, 24));
  texts.push_back(testing::ReadSourceFile("data/corpus/moby-dick.txt"));
  int mismatches = 0;
  for (const std::string& text : texts) {
    const auto expected = SplitToStrings(**regex, text);
    const auto actual = SplitToStrings(**scanner, text);
    if (actual != expected && ++mismatches <= 5) {
      ADD_FAILURE() << "text " << nlohmann::json(text).dump() << ": scanner "
                    << nlohmann::json(actual).dump() << " regex "
                    << nlohmann::json(expected).dump();
    }
  }
  EXPECT_EQ(mismatches, 0);
}

INSTANTIATE_TEST_SUITE_P(Patterns, ScannerMatchesRegexTest,
                         ::testing::Values(PatternCase{"cl100k", kCl100kPattern},
                                           PatternCase{"qwen2", kQwen2Pattern},
                                           PatternCase{"o200k", kO200kPattern}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(PreTokenizerTest, SplitRespectsTheRange) {
  // (?!\S) sees the end of the range as the end of the text, as HF does on
  // each split of its input.
  for (bool force_regex : {false, true}) {
    auto p = MakeSplitPreTokenizer(kCl100kPattern, SplitBehavior::kIsolated, force_regex);
    ASSERT_TRUE(p.ok());
    const std::string text = "ab  cd";
    std::vector<Piece> pieces;
    (*p)->Split(text, {0, 4}, &pieces);
    ASSERT_EQ(pieces.size(), 2u);
    EXPECT_EQ(pieces[1].begin, 2u);
    EXPECT_EQ(pieces[1].end, 4u);  // "  " whole: followed by the range end
  }
}

}  // namespace
}  // namespace convgen
