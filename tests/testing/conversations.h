// Helpers for conversation tests: building streams over the default corpus
// and serializing turns for digests and comparisons.
#ifndef CONVGEN_TESTS_TESTING_CONVERSATIONS_H_
#define CONVGEN_TESTS_TESTING_CONVERSATIONS_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/config/generation_spec.h"
#include "core/conversation/conversation_planner.h"
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

// One line per message; the digest of all lines pins a whole run.
inline std::string Serialize(const Message& m) {
  return absl::StrCat(m.conversation_id, "\t", m.message_index, "/", m.num_messages, "\t",
                      m.role == Role::kUser ? "user" : "assistant", "\t", m.num_tokens, "\t",
                      m.max_tokens, "\t", m.content, "\n");
}

// A stream over a corpus and tokenizer without a workspace; the request's
// checks (PrepareGeneration) are the caller's business.
inline absl::StatusOr<std::unique_ptr<ConversationStream>> OpenStream(
    const GenerationSpec& spec, const StreamOptions& options,
    std::shared_ptr<const TokenizedCorpus> corpus, std::shared_ptr<const Tokenizer> tokenizer,
    StopSignal* stop = nullptr) {
  auto stream = ConversationStream::Create(spec, options, ConversationPlanner(spec, options.seed),
                                           std::move(corpus), std::move(tokenizer));
  if (stream.ok()) (*stream)->set_stop(stop);
  return stream;
}

struct Run {
  std::vector<Message> messages;
  std::vector<StreamEvent> events;  // every event, the summary last
  GenerationSummary summary;
  std::string serialized;
  absl::Status status;  // the stream's error, if it ended with one
};

// Pulls a stream to its end (or its first error).
inline Run Drain(ConversationStream& stream) {
  Run run;
  while (true) {
    absl::StatusOr<const StreamEvent*> event = stream.Next();
    if (!event.ok()) {
      run.status = event.status();
      break;
    }
    if (*event == nullptr) break;
    run.events.push_back(**event);
    if (const auto* m = std::get_if<Message>(*event)) {
      run.messages.push_back(*m);
      run.serialized += Serialize(*m);
    }
    if (const auto* s = std::get_if<StreamSummary>(*event)) run.summary = s->stats;
  }
  return run;
}

inline Run Generate(const GenerationSpec& spec, const StreamOptions& options,
                    std::shared_ptr<const TokenizedCorpus> corpus, const Tokenizer& tokenizer) {
  auto stream = OpenStream(spec, options, std::move(corpus), Borrow(tokenizer));
  EXPECT_TRUE(stream.ok()) << stream.status();
  if (!stream.ok()) return Run{};
  Run run = Drain(**stream);
  EXPECT_TRUE(run.status.ok()) << run.status;
  return run;
}

}  // namespace convgen::testing

#endif  // CONVGEN_TESTS_TESTING_CONVERSATIONS_H_
