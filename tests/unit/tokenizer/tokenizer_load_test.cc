// Loading tokenizer files: what is refused, and with which message.
#include <string>

#include "core/tokenizer/hf_tokenizer_json.h"
#include "core/tokenizer/tiktoken.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/files.h"

namespace convgen {
namespace {

using ::testing::HasSubstr;

// A tiny valid byte-level tokenizer.json: the 256 byte tokens and one merge.
nlohmann::json TinyByteLevel() {
  nlohmann::json vocab = nlohmann::json::object();
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable =
        (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const int c = printable ? b : 256 + next++;
    std::string utf8;
    if (c < 0x80) {
      utf8 = std::string(1, static_cast<char>(c));
    } else {
      utf8 = {static_cast<char>(0xC0 | (c >> 6)), static_cast<char>(0x80 | (c & 0x3F))};
    }
    vocab[utf8] = b;
  }
  vocab["ab"] = 256;
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       {{{"id", 257},
         {"content", "<|end|>"},
         {"single_word", false},
         {"lstrip", false},
         {"rstrip", false},
         {"normalized", false},
         {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "ByteLevel"},
        {"add_prefix_space", false},
        {"trim_offsets", true},
        {"use_regex", true}}},
      {"post_processor", nullptr},
      {"decoder", nullptr},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"vocab", vocab},
        {"merges", {"a b"}}}},
  };
}

TEST(TokenizerLoadTest, TinyByteLevelTokenizerWorks) {
  auto tokenizer = LoadHfTokenizerJson(TinyByteLevel().dump());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  std::vector<TokenId> ids;
  (*tokenizer)->Encode("ab<|end|>ba a", &ids);
  EXPECT_EQ(ids, (std::vector<TokenId>{256, 257, 'b', 'a', ' ', 'a'}));
  EXPECT_EQ((*tokenizer)->Decode(ids), "ab<|end|>ba a");
  EXPECT_EQ((*tokenizer)->vocab_size(), 258u);
}

// DeepSeek-V3 and Command-R list tokens that bytes can never make (an added
// token's text, a lone U+200D): HF loads them and never produces them.
TEST(TokenizerLoadTest, VocabTokenOutsideTheByteAlphabetIsNeverProduced) {
  nlohmann::json t = TinyByteLevel();
  t["model"]["vocab"]["\xE4\xB8\xAD"] = 300;  // 中, not in the byte alphabet
  t["model"]["vocab"]
   ["\xE4\xB8\xAD"
    "a"] = 301;
  t["model"]["merges"] = {"a b", "\xE4\xB8\xAD a"};
  auto tokenizer = LoadHfTokenizerJson(t.dump());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  std::vector<TokenId> ids;
  (*tokenizer)
      ->Encode(
          "\xE4\xB8\xAD"
          "ab",
          &ids);
  // The three bytes of 中 (0xE4 0xB8 0xAD are ids 228, 184, 173 here), then "ab".
  EXPECT_THAT(ids, ::testing::ElementsAre(228, 184, 173, 256));
}

TEST(TokenizerLoadTest, MergesAsPairsWork) {
  nlohmann::json t = TinyByteLevel();
  t["model"]["merges"] = nlohmann::json::array({nlohmann::json::array({"a", "b"})});
  auto tokenizer = LoadHfTokenizerJson(t.dump());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->Count("abab"), 2u);
}

struct RefusalCase {
  std::string name;
  std::function<void(nlohmann::json&)> edit;
  std::string message;
};

void PrintTo(const RefusalCase& c, std::ostream* os) { *os << c.name; }

class TokenizerRefusalTest : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(TokenizerRefusalTest, RefusedWithAMessageNamingTheFeature) {
  nlohmann::json t = TinyByteLevel();
  GetParam().edit(t);
  auto tokenizer = LoadHfTokenizerJson(t.dump());
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Features, TokenizerRefusalTest,
    ::testing::Values(
        RefusalCase{"wordpiece", [](auto& t) { t["model"]["type"] = "WordPiece"; },
                    "model type \"WordPiece\" is not supported by convgen, which implements "
                    "BPE models only"},
        RefusalCase{"unigram", [](auto& t) { t["model"]["type"] = "Unigram"; },
                    "model type \"Unigram\""},
        // A real Unigram file's vocabulary is a list of [token, score] pairs:
        // the refusal still names the model type, not a malformed vocab.
        RefusalCase{"unigram_vocab_list",
                    [](auto& t) {
                      t["model"] = {
                          {"type", "Unigram"},
                          {"unk_id", 0},
                          {"vocab", nlohmann::json::array({nlohmann::json::array({"<unk>", 0.0}),
                                                           nlohmann::json::array({"a", -1.5})})}};
                    },
                    "model type \"Unigram\" is not supported by convgen"},
        RefusalCase{"strip_normalizer",
                    [](auto& t) {
                      t["normalizer"] = {{"type", "Strip"}, {"left", true}};
                    },
                    "normalizer {\"left\":true,\"type\":\"Strip\"} is not supported"},
        RefusalCase{"bert_normalizer_in_sequence",
                    [](auto& t) {
                      t["normalizer"] = {{"type", "Sequence"},
                                         {"normalizers", {{{"type", "BertNormalizer"}}}}};
                    },
                    "normalizer {\"type\":\"BertNormalizer\"} is not supported"},
        RefusalCase{
            "nfkc_after_replace",
            [](auto& t) {
              t["normalizer"] = {
                  {"type", "Sequence"},
                  {"normalizers",
                   {{{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}},
                    {{"type", "NFKC"}}}}};
            },
            "normalizer NFKC after the SentencePiece Prepend/Replace steps"},
        RefusalCase{"metaspace_then_byte_level",
                    [](auto& t) {
                      t["pre_tokenizer"] = {{"type", "Sequence"},
                                            {"pretokenizers",
                                             {{{"type", "Metaspace"}, {"replacement", "\u2581"}},
                                              {{"type", "ByteLevel"}}}}};
                    },
                    "a pre-tokenizer step after Metaspace"},
        RefusalCase{"metaspace_other_replacement",
                    [](auto& t) {
                      t["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "_"}};
                    },
                    "Metaspace pre-tokenizer with replacement \"_\""},
        RefusalCase{"whitespace_pre_tokenizer",
                    [](auto& t) {
                      t["pre_tokenizer"] = {{"type", "Whitespace"}};
                    },
                    "pre-tokenizer type \"Whitespace\" is not supported"},
        RefusalCase{"digits_alone",
                    [](auto& t) {
                      t["pre_tokenizer"] = {{"type", "Sequence"},
                                            {"pretokenizers", {{{"type", "Digits"}}}}};
                    },
                    "neither byte-level"},
        RefusalCase{"split_merged_with_previous",
                    [](auto& t) {
                      t["pre_tokenizer"] = {{"type", "Sequence"},
                                            {"pretokenizers",
                                             {{{"type", "Split"},
                                               {"pattern", {{"Regex", "\\s+"}}},
                                               {"behavior", "MergedWithPrevious"},
                                               {"invert", false}},
                                              {{"type", "ByteLevel"}, {"use_regex", false}}}}};
                    },
                    "Split pre-tokenizer behavior \"MergedWithPrevious\" with invert false"},
        RefusalCase{"split_string_pattern",
                    [](auto& t) {
                      t["pre_tokenizer"] = {{"type", "Split"},
                                            {"pattern", {{"String", " "}}},
                                            {"behavior", "Isolated"},
                                            {"invert", false}};
                    },
                    "Split pre-tokenizer pattern {\"String\":\" \"}"},
        RefusalCase{"bad_regex",
                    [](auto& t) {
                      t["pre_tokenizer"] = {{"type", "Split"},
                                            {"pattern", {{"Regex", "(["}}},
                                            {"behavior", "Isolated"},
                                            {"invert", false}};
                    },
                    "pre-tokenizer regex does not compile"},
        RefusalCase{"add_prefix_space",
                    [](auto& t) { t["pre_tokenizer"]["add_prefix_space"] = true; },
                    "ByteLevel pre-tokenizer with add_prefix_space is not supported"},
        RefusalCase{"lstrip_added_token", [](auto& t) { t["added_tokens"][0]["lstrip"] = true; },
                    "added token \"<|end|>\" with lstrip is not supported"},
        RefusalCase{"single_word_added_token",
                    [](auto& t) { t["added_tokens"][0]["single_word"] = true; },
                    "added token \"<|end|>\" with single_word"},
        RefusalCase{"truncation",
                    [](auto& t) {
                      t["truncation"] = {{"max_length", 512}};
                    },
                    "\"truncation\" (it would change the encoding) is not supported"},
        RefusalCase{"padding",
                    [](auto& t) {
                      t["padding"] = {{"strategy", "BatchLongest"}};
                    },
                    "\"padding\""},
        RefusalCase{"dropout", [](auto& t) { t["model"]["dropout"] = 0.1; },
                    "BPE dropout (it makes encoding random)"},
        RefusalCase{"subword_prefix",
                    [](auto& t) { t["model"]["continuing_subword_prefix"] = "##"; },
                    "BPE continuing_subword_prefix"},
        RefusalCase{"no_byte_level_nor_sentencepiece",
                    [](auto& t) { t["pre_tokenizer"] = nullptr; }, "neither byte-level"},
        RefusalCase{"merge_of_unknown_token", [](auto& t) { t["model"]["merges"] = {"a q"}; },
                    "merge \"a q\" uses or makes a token missing from the vocab"},
        RefusalCase{"merge_with_three_parts", [](auto& t) { t["model"]["merges"] = {"a b c"}; },
                    "merge \"a b c\" is not two tokens"},
        // A merge may only name a token outside the byte alphabet that the
        // vocabulary lists (then it never fires).
        RefusalCase{"merge_char_outside_byte_alphabet",
                    [](auto& t) { t["model"]["merges"] = {"\xE4\xB8\xAD a"}; },
                    "has a character outside the byte alphabet"},
        RefusalCase{"missing_byte_token",
                    [](auto& t) {
                      t["model"]["vocab"].erase("a");
                      t["model"]["merges"] = nlohmann::json::array();
                    },
                    "byte-level vocabulary has no token for byte 0x61"},
        RefusalCase{"vocab_not_object",
                    [](auto& t) {
                      t["model"]["vocab"] = {1, 2};
                    },
                    "model.vocab must be an object"},
        // Found by the fuzzer: nlohmann's value() threw on a type mismatch.
        RefusalCase{"ignore_merges_number", [](auto& t) { t["model"]["ignore_merges"] = 3; },
                    "\"ignore_merges\" must be true or false, not 3"},
        // Found by a hostile tester: 2^33 wrapped to id 0 (HF refuses it).
        RefusalCase{"added_token_id_beyond_32_bits",
                    [](auto& t) { t["added_tokens"][0]["id"] = uint64_t{1} << 33; },
                    "added token \"<|end|>\" has id 8589934592, beyond the 32-bit ids"},
        RefusalCase{"two_vocab_entries_with_one_id",
                    [](auto& t) { t["model"]["vocab"]["zz"] = 256; },
                    "has id 256, which another entry has too"},
        RefusalCase{"added_token_without_id", [](auto& t) { t["added_tokens"][0].erase("id"); },
                    "needs id and content"}),
    [](const auto& info) { return info.param.name; });

TEST(TokenizerLoadTest, CorruptJsonIsRefused) {
  for (const std::string& text : {std::string("{"), std::string("not json"),
                                  TinyByteLevel().dump().substr(0, 500), std::string("[1]")}) {
    auto tokenizer = LoadHfTokenizerJson(text);
    ASSERT_FALSE(tokenizer.ok());
    EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr("tokenizer.json: "));
  }
}

TEST(TokenizerLoadTest, MissingFileNamesThePath) {
  auto tokenizer = LoadHfTokenizerFile("/nonexistent/tokenizer.json");
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(tokenizer.status().message()),
              HasSubstr("/nonexistent/tokenizer.json: No such file or directory"));
}

TEST(TokenizerLoadTest, TiktokenErrors) {
  EXPECT_THAT(std::string(LoadTiktoken("IQ== 0\n", "p50k_base").status().message()),
              HasSubstr("unknown tiktoken encoding \"p50k_base\""));
  EXPECT_THAT(
      std::string(LoadTiktoken("IQ== 0\n!!!notbase64 1\n", "cl100k_base").status().message()),
      HasSubstr("tiktoken line 2: expected \"<base64 token> <rank>\""));
  EXPECT_THAT(std::string(LoadTiktoken("", "cl100k_base").status().message()),
              HasSubstr("tiktoken file has no tokens"));
  // Ranks without all 256 bytes cannot encode arbitrary text.
  EXPECT_THAT(std::string(LoadTiktoken("IQ== 0\n", "cl100k_base").status().message()),
              HasSubstr("has no token for byte 0x00"));
  // Found by a hostile tester: a rank given twice was reported as a
  // missing byte token.
  EXPECT_THAT(std::string(LoadTiktoken("IQ== 0\nIg== 0\n", "cl100k_base").status().message()),
              HasSubstr("tiktoken line 2: rank 0 is given to an earlier token too"));
  EXPECT_THAT(std::string(LoadTiktokenFile("/tmp/ranks.txt").status().message()),
              HasSubstr("No such file"));
}

}  // namespace
}  // namespace convgen
