// Helpers for conversation tests: building streams over the default corpus
// and serializing turns for digests and comparisons.
#ifndef CONVGEN_TESTS_TESTING_CONVERSATIONS_H_
#define CONVGEN_TESTS_TESTING_CONVERSATIONS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/config/generation_spec.h"
#include "core/conversation/conversation_stream.h"
#include "core/corpus/corpus.h"
#include "core/sha256.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/tokenizers.h"

namespace convgen::testing {

// A non-owning shared_ptr to a tokenizer that outlives the test.
inline std::shared_ptr<const Tokenizer> Borrow(const Tokenizer& tokenizer) {
  return std::shared_ptr<const Tokenizer>(&tokenizer, [](const Tokenizer*) {});
}

inline std::shared_ptr<const TokenizedCorpus> Tokenize(const std::string& text,
                                                       const Tokenizer& tokenizer,
                                                       const std::string& name = "test") {
  auto corpus = CorpusText::FromBytes(name, text);
  EXPECT_TRUE(corpus.ok()) << corpus.status();
  return std::make_shared<const TokenizedCorpus>(*corpus, tokenizer);
}

// The default corpus tokenized by the named test tokenizer (cached).
inline std::shared_ptr<const TokenizedCorpus> DefaultCorpus(const std::string& tokenizer) {
  static auto* cache = new std::map<std::string, std::shared_ptr<const TokenizedCorpus>>();
  auto& slot = (*cache)[tokenizer];
  if (!slot) {
    slot = Tokenize(ReadSourceFile("data/corpus/moby-dick.txt"), SharedTestTokenizer(tokenizer),
                    "moby-dick.txt");
  }
  return slot;
}

inline GenerationSpec SpecFromJsonOrDie(const std::string& json) {
  auto spec = LoadSpecFromJson(json);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

// One line per turn; the digest of all lines pins a whole run.
inline std::string Serialize(const Turn& t) {
  return absl::StrCat(t.conversation_id, "\t", t.turn_index, "/", t.num_turns, "\t",
                      t.role == Role::kUser ? "user" : "assistant", "\t", t.num_tokens, "\t",
                      t.max_tokens, "\t", t.content, "\n");
}

struct Run {
  std::vector<Turn> turns;
  GenerationSummary summary;
  std::string serialized;
};

inline Run Generate(const GenerationSpec& spec, const StreamOptions& options,
                    std::shared_ptr<const TokenizedCorpus> corpus, const Tokenizer& tokenizer) {
  Run run;
  auto stream = ConversationStream::Create(spec, options, std::move(corpus), Borrow(tokenizer));
  EXPECT_TRUE(stream.ok()) << stream.status();
  if (!stream.ok()) return run;
  while (true) {
    auto turn = (*stream)->Next();
    EXPECT_TRUE(turn.ok()) << turn.status();
    if (!turn.ok() || *turn == nullptr) break;
    run.turns.push_back(**turn);
    run.serialized += Serialize(**turn);
  }
  run.summary = (*stream)->summary();
  return run;
}

}  // namespace convgen::testing

#endif  // CONVGEN_TESTS_TESTING_CONVERSATIONS_H_
