#include "core/corpus/corpus.h"

#include <thread>
#include <vector>

#include "core/random/random_stream.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/tokenizers.h"

namespace convgen {
namespace {

using ::testing::HasSubstr;

TEST(CorpusTextTest, InvalidUtf8IsAnErrorWithTheByteOffset) {
  const auto corpus = CorpusText::FromBytes("bad.txt", "good text\xC3\x28 more");
  ASSERT_FALSE(corpus.ok());
  EXPECT_EQ(corpus.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(corpus.status().message()),
              HasSubstr("corpus bad.txt: invalid UTF-8 at byte offset 9"));
}

TEST(CorpusTextTest, MissingFileNamesThePath) {
  const auto corpus = LoadCorpusFile("/no/such/corpus.txt");
  EXPECT_EQ(corpus.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(corpus.status().message()), HasSubstr("/no/such/corpus.txt"));
}

TEST(CorpusTextTest, DefaultCorpusHasItsPublishedChecksum) {
  const auto corpus =
      LoadCorpusFile(std::string(CONVGEN_SOURCE_DIR) + "/data/corpus/moby-dick.txt");
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  EXPECT_EQ(corpus->sha256(), "fe282a57094ed62e7144fb7c804a9748fc1c909bf3b49d06e7276015f9f67240");
  EXPECT_EQ(corpus->text().size(), 1204997u);
}

class TokenizedCorpusTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizedCorpusTest, OffsetsAndPiecesDescribeTheText) {
  const Tokenizer& tokenizer = testing::SharedTestTokenizer(GetParam());
  const auto text =
      CorpusText::FromBytes("moby-dick.txt", testing::ReadSourceFile("data/corpus/moby-dick.txt"));
  ASSERT_TRUE(text.ok());
  const TokenizedCorpus corpus(*text, tokenizer);
  ASSERT_EQ(corpus.offsets().size(), corpus.num_tokens());
  EXPECT_EQ(corpus.num_tokens(), tokenizer.Count(text->text()));
  for (size_t k = 1; k < corpus.num_tokens(); ++k) {
    ASSERT_LE(corpus.offsets()[k - 1], corpus.offsets()[k]) << k;
  }
  ASSERT_FALSE(corpus.piece_starts().empty());
  // The first word is a place to continue from, unless it got the
  // SentencePiece "▁" prefix (then the second word is the first).
  EXPECT_EQ(corpus.piece_starts()[0], tokenizer.adds_prefix_space() ? 1u : 0u);
  for (size_t p = 1; p < corpus.piece_starts().size(); ++p) {
    ASSERT_LT(corpus.piece_starts()[p - 1], corpus.piece_starts()[p]);
  }
  // The tokens between two piece starts are the tokens of the text between
  // their offsets, in most places (a cut can change how the pattern's
  // look-ahead or the SentencePiece prefix sees the edges).
  RandomStream stream({.seed = 5});
  const auto starts = corpus.piece_starts();
  int exact = 0;
  constexpr int kTrials = 2000;
  for (int trial = 0; trial < kTrials; ++trial) {
    const size_t a = stream.NextBelow(starts.size() - 50);
    const size_t b = a + 1 + stream.NextBelow(40);
    const uint32_t first = starts[a], last = starts[b];
    const std::string slice = corpus.text().substr(
        corpus.offsets()[first], corpus.offsets()[last] - corpus.offsets()[first]);
    Encoding encoding;
    tokenizer.EncodeWithOffsets(slice, /*continuation=*/true, &encoding);
    exact += encoding.ids ==
             std::vector<TokenId>(corpus.ids().begin() + first, corpus.ids().begin() + last);
  }
  EXPECT_GT(exact, kTrials * 9 / 10) << exact << " of " << kTrials;
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, TokenizedCorpusTest,
                         ::testing::Values("qwen3", "llama3", "mistral", "o200k"));

// The cut points a message builder needs are found once, with the
// encoding, and held (and budgeted) with the corpus: a builder per stream
// borrows them instead of scanning every piece start again.
TEST(TokenizedCorpusCutsTest, FoundOnceWithTheEncodingAndBudgeted) {
  const Tokenizer& tokenizer = testing::SharedTestTokenizer("qwen3");
  const auto text = *CorpusText::FromBytes(
      "t",
      "Call me Ishmael. Some years ago\u2014never mind how long precisely\u2014having "
      "little or no money in my purse, and nothing particular to interest me on shore.");
  MemoryBudget budget(0);
  const auto built = TokenizedCorpus::Build(text, tokenizer, budget, nullptr, nullptr);
  ASSERT_TRUE(built.ok()) << built.status();
  const TokenizedCorpus& corpus = **built;
  const TokenizedCorpus direct(text, tokenizer);
  ASSERT_EQ(std::vector<uint32_t>(corpus.cuts().begin(), corpus.cuts().end()),
            std::vector<uint32_t>(direct.cuts().begin(), direct.cuts().end()));
  // Byte-level BPE: the piece starts after the first at a non-space ASCII
  // character: punctuation; not " me" (a space) nor "\u2014never" (Qwen3's
  // pattern joins the dash to the word).
  std::vector<std::string> cut_text;
  for (uint32_t k : corpus.cuts()) {
    ASSERT_GT(k, 0u);
    const uint32_t end = k + 1 < corpus.num_tokens() ? corpus.offsets()[k + 1]
                                                     : static_cast<uint32_t>(corpus.text().size());
    cut_text.push_back(corpus.text().substr(corpus.offsets()[k], end - corpus.offsets()[k]));
  }
  EXPECT_EQ(cut_text, (std::vector<std::string>{".", ",", "."}));
  EXPECT_LT(corpus.cuts().size(), corpus.piece_starts().size());
  EXPECT_EQ(budget.reserved_bytes(), static_cast<int64_t>(corpus.memory_bytes()));
  EXPECT_GE(corpus.memory_bytes(), sizeof(corpus) + corpus.text().size() + corpus.num_tokens() * 8 +
                                       (corpus.piece_starts().size() + cut_text.size()) * 4);
}

TEST(CorpusCacheTest, SharesByContentAndTokenizerWithinTheBound) {
  const Tokenizer& tokenizer = testing::SharedTestTokenizer("qwen3");
  const auto a = *CorpusText::FromBytes("a", "the quick brown fox");
  const auto a_again = *CorpusText::FromBytes("other name", "the quick brown fox");
  const auto b = *CorpusText::FromBytes("b", std::string(40000, 'x'));
  CorpusCache cache(/*max_bytes=*/30000);
  const auto first = *cache.Get(a, "qwen3", tokenizer);
  EXPECT_EQ(*cache.Get(a_again, "qwen3", tokenizer), first);  // same content
  EXPECT_NE(*cache.Get(a, "other-tokenizer", tokenizer), first);
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(first->num_tokens(), 4u);
  EXPECT_LE(cache.size_bytes(), 30000u);
  // b alone exceeds the bound: everything older is dropped, b stays.
  const auto big = *cache.Get(b, "qwen3", tokenizer);
  EXPECT_GT(big->memory_bytes(), 30000u);
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(*cache.Get(b, "qwen3", tokenizer), big);
  // An evicted corpus held by a caller stays valid; asking again rebuilds it.
  EXPECT_EQ(first->text(), "the quick brown fox");
  const auto rebuilt = *cache.Get(a, "qwen3", tokenizer);
  EXPECT_NE(rebuilt, first);
  EXPECT_EQ(rebuilt->ids()[0], first->ids()[0]);
}

TEST(CorpusCacheTest, ConcurrentGetsAgree) {
  const Tokenizer& tokenizer = testing::SharedTestTokenizer("qwen3");
  const auto text =
      *CorpusText::FromBytes("t", "It was the best of times. " + std::string(200, 'a'));
  CorpusCache cache(1 << 20);
  std::vector<std::shared_ptr<const TokenizedCorpus>> results(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { results[i] = *cache.Get(text, "qwen3", tokenizer); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_EQ(r->ids().size(), results[0]->ids().size());
  EXPECT_EQ(cache.entries(), 1u);
}

}  // namespace
}  // namespace convgen
