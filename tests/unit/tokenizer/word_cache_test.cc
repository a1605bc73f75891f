// The per-thread word cache of BpeModel: a word's tokens are the same
// whether they come from the merges or from the cache, across the cache's
// growth and its start-over when full, for words that differ only in their
// last bytes (inline keys of 1-16 bytes) and for longer ones (keys in the
// arena).
#include <string>
#include <vector>

#include "core/random/random_stream.h"
#include "core/tokenizer/hf_tokenizer_json.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"

namespace convgen {
namespace {

TEST(WordCacheTest, CachedWordsEncodeAsTheirFirstEncoding) {
  auto tokenizer =
      LoadHfTokenizerJson(testing::ReadSourceFile("data/tokenizers/qwen3/tokenizer.json"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  // 80,000 distinct words (more than the 65,536 a cache holds before it
  // starts over), 1 to 28 bytes, many sharing all but their last byte.
  RandomStream stream({.seed = 16, .field = 3});
  std::vector<std::string> words;
  for (int i = 0; i < 80000; ++i) {
    const int length = 1 + static_cast<int>(stream.NextBelow(28));
    std::string word = " ";
    for (int j = 1; j < length; ++j) word.push_back("etaoinshrdlu"[stream.NextBelow(12)]);
    word += std::to_string(i % 7);  // a digit: its own word under Qwen's pattern
    words.push_back(word);
  }
  // Each word's first encoding comes from the merges (the words are
  // distinct); the next, right after, from the cache, and the last, after
  // the cache has grown and started over, from either.
  std::vector<std::vector<TokenId>> first;
  int mismatches = 0;
  const auto check = [&](size_t i, const char* when) {
    std::vector<TokenId> ids;
    (*tokenizer)->Encode(words[i], &ids);
    if (ids != first[i] && ++mismatches <= 5) {
      ADD_FAILURE() << "word \"" << words[i] << "\" encodes differently " << when;
    }
  };
  for (size_t i = 0; i < words.size(); ++i) {
    std::vector<TokenId> ids;
    (*tokenizer)->Encode(words[i], &ids);
    ASSERT_FALSE(ids.empty());
    first.push_back(ids);
    check(i, "from the cache");
  }
  for (size_t i = 0; i < words.size(); ++i) check(i, "on the second pass");
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace convgen
