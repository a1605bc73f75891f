#include "core/conversation/conversation_stream.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/conversations.h"

namespace convgen {
namespace {

using testing::DefaultCorpus;
using testing::Generate;
using testing::SharedTestTokenizer;
using testing::SpecFromJsonOrDie;

// The reference configs with the embedded corpus in place of pg1184.txt.
std::string Reference(const std::string& file) {
  std::string json = testing::ReadSourceFile("tests/fixtures/vllm/" + file);
  const std::string from = "pg1184.txt";
  json.replace(json.find(from), from.size(), "moby-dick.txt");
  return json;
}

const char kSmall[] = R"({"filetype": "generate_conversations", "num_conversations": 40,
    "text_files": ["moby-dick.txt"],
    "prompt_input": {"num_turns": {"distribution": "uniform", "min": 2, "max": 10},
                     "common_prefix_num_tokens": {"distribution": "constant", "value": 30},
                     "prefix_num_tokens": {"distribution": "lognormal", "average": 60},
                     "num_tokens": {"distribution": "uniform", "min": 20, "max": 50}},
    "prompt_output": {"num_tokens": {"distribution": "poisson", "alpha": 30}}})";

TEST(ConversationStreamTest, SeedsChangeTheRun) {
  const Tokenizer& qwen3 = SharedTestTokenizer("qwen3");
  const GenerationSpec spec = SpecFromJsonOrDie(kSmall);
  EXPECT_NE(Generate(spec, {.seed = 1}, DefaultCorpus("qwen3"), qwen3).serialized,
            Generate(spec, {.seed = 2}, DefaultCorpus("qwen3"), qwen3).serialized);
}

TEST(ConversationStreamTest, ShardUnionsEqualTheFullRun) {
  const Tokenizer& qwen3 = SharedTestTokenizer("qwen3");
  const GenerationSpec spec = SpecFromJsonOrDie(kSmall);
  const testing::Run full = Generate(spec, {.seed = 9}, DefaultCorpus("qwen3"), qwen3);
  ASSERT_EQ(full.summary.conversations, 40);
  for (uint64_t count : {1, 2, 3, 7}) {
    std::map<uint64_t, std::string> by_index;
    for (uint64_t shard = 0; shard < count; ++shard) {
      const testing::Run part =
          Generate(spec, {.seed = 9, .shard_index = shard, .shard_count = count},
                   DefaultCorpus("qwen3"), qwen3);
      for (const Message& t : part.messages) {
        EXPECT_EQ(t.conversation_index % count, shard);
        by_index[t.conversation_index] += testing::Serialize(t);
      }
    }
    std::string merged;
    for (const auto& [index, text] : by_index) merged += text;
    EXPECT_EQ(merged, full.serialized) << count << " shards";
  }
}

TEST(ConversationStreamTest, ResumingEqualsTheTailOfTheFullRun) {
  const Tokenizer& qwen3 = SharedTestTokenizer("qwen3");
  const GenerationSpec spec = SpecFromJsonOrDie(kSmall);
  const testing::Run full = Generate(spec, {.seed = 9}, DefaultCorpus("qwen3"), qwen3);
  for (uint64_t start : {1, 17, 39, 40, 100}) {
    const testing::Run tail =
        Generate(spec, {.seed = 9, .start_index = start}, DefaultCorpus("qwen3"), qwen3);
    std::string expected;
    for (const Message& t : full.messages) {
      if (t.conversation_index >= start) expected += testing::Serialize(t);
    }
    EXPECT_EQ(tail.serialized, expected) << "start " << start;
  }
  // A shard resumed mid-way.
  const testing::Run shard_tail =
      Generate(spec, {.seed = 9, .shard_index = 2, .shard_count = 3, .start_index = 10},
               DefaultCorpus("qwen3"), qwen3);
  ASSERT_FALSE(shard_tail.messages.empty());
  EXPECT_EQ(shard_tail.messages.front().conversation_index, 11u);
}

TEST(ConversationStreamTest, StructureFollowsVllm) {
  const Tokenizer& qwen3 = SharedTestTokenizer("qwen3");
  const testing::Run run = Generate(SpecFromJsonOrDie(Reference("generate_multi_turn.json")),
                                    {.seed = 5}, DefaultCorpus("qwen3"), qwen3);
  ASSERT_EQ(run.summary.conversations, 24);
  EXPECT_EQ(run.summary.common_prefix_tokens, 500);
  std::map<uint64_t, std::vector<const Message*>> conversations;
  for (const Message& t : run.messages) conversations[t.conversation_index].push_back(&t);
  ASSERT_EQ(conversations.size(), 24u);
  // The common prefix: the longest common start of all first messages.
  std::string common = conversations.begin()->second[0]->content;
  for (const auto& [index, turns] : conversations) {
    const std::string& first = turns[0]->content;
    size_t n = 0;
    while (n < common.size() && n < first.size() && common[n] == first[n]) ++n;
    common.resize(n);
  }
  EXPECT_GE(qwen3.Count(common), 450u);  // about 500 tokens, shared by all
  std::set<std::vector<TokenId>> starts;
  for (const auto& [index, turns] : conversations) {
    const int64_t n = turns[0]->num_messages;
    EXPECT_EQ(n % 2, 0);
    EXPECT_GE(n, 12);
    EXPECT_LE(n, 18);
    ASSERT_EQ(static_cast<int64_t>(turns.size()), n);
    for (int64_t m = 0; m < n; ++m) {
      EXPECT_EQ(turns[m]->message_index, m);
      EXPECT_EQ(turns[m]->role, m % 2 == 0 ? Role::kUser : Role::kAssistant);
      EXPECT_EQ(turns[m]->conversation_id, "CONV_ID_" + std::to_string(index));
      if (m % 2 == 0) {
        // The header opens every user message, right after the common
        // prefix in the first one.
        const std::string header = std::to_string(index) + " is a nice number... ";
        const std::string& content = turns[m]->content;
        const size_t at = m == 0 ? common.size() : 0;
        EXPECT_EQ(content.compare(at, header.size(), header), 0) << content.substr(0, 80);
        EXPECT_NE(content.find(std::string(kInstruction)), std::string::npos);
      }
    }
    // No two conversations share their first 32 tokens once the common
    // prefix is removed.
    std::vector<TokenId> ids;
    qwen3.Encode(turns[0]->content.substr(common.size()), &ids);
    ids.resize(std::min<size_t>(ids.size(), 32));
    EXPECT_TRUE(starts.insert(ids).second) << "conversation " << index;
  }
}

TEST(ConversationStreamTest, TinyTargetsAreRaisedAndCounted) {
  const Tokenizer& qwen3 = SharedTestTokenizer("qwen3");
  const testing::Run run = Generate(SpecFromJsonOrDie(R"({
      "filetype": "generate_conversations", "num_conversations": 5, "text_files": ["c"],
      "prompt_input": {"num_turns": {"distribution": "constant", "value": 4},
                       "prefix_num_tokens": {"distribution": "constant", "value": 0},
                       "num_tokens": {"distribution": "constant", "value": 1}},
      "prompt_output": {"num_tokens": {"distribution": "constant", "value": 0}}})"),
                                    {.seed = 3}, DefaultCorpus("qwen3"), qwen3);
  // Every user target (1) is below header + instruction, every assistant
  // target (0) below 1: 5 conversations x 4 messages raised.
  EXPECT_EQ(run.summary.raised_targets, 20);
  for (const Message& t : run.messages) {
    EXPECT_EQ(static_cast<int64_t>(qwen3.Count(t.content)), t.num_tokens);
    if (t.role == Role::kAssistant) {
      EXPECT_EQ(t.num_tokens, 1);
    }
    if (t.role == Role::kUser) {
      const std::string fixed = std::to_string(t.conversation_index) + " is a nice number... " +
                                std::string(kInstruction);
      // Exactly the unavoidable minimum: header and instruction.
      EXPECT_EQ(t.content.rfind(fixed, 0), 0u);
      EXPECT_EQ(t.num_tokens, static_cast<int64_t>(qwen3.Count(fixed)));
    }
  }
}

TEST(ConversationStreamTest, SmallCorpusWrapsAndStaysExact) {
  for (const char* name : {"qwen3", "mistral"}) {
    const Tokenizer& tokenizer = SharedTestTokenizer(name);
    // About 50 tokens of text.
    const auto corpus = testing::Tokenize(
        "Call me Ishmael. Some years ago, never mind how long precisely, having little "
        "or no money in my purse, and nothing particular to interest me on shore, I "
        "thought I would sail about a little and see the watery part of the world.",
        tokenizer, "tiny.txt");
    ASSERT_LT(corpus->num_tokens(), 60u);
    const testing::Run run = Generate(SpecFromJsonOrDie(kSmall), {.seed = 4}, corpus, tokenizer);
    EXPECT_EQ(run.summary.conversations, 40);
    EXPECT_GT(run.summary.corpus_wraps, 0);
    for (const Message& t : run.messages) {
      ASSERT_EQ(static_cast<int64_t>(tokenizer.Count(t.content)), t.num_tokens)
          << name << " " << t.conversation_id << " " << t.message_index;
    }
  }
}

// Found by the generate_request fuzzer: a corpus that is one run of
// punctuation. Repeated, its copies join into one pre-token that encodes far
// more densely than the corpus did alone, so a body source sized by corpus
// tokens stayed below the target and every whole-message search failed
// (after ~1,200 encodes of a 20 KB word). The source now grows until the
// message reaches the target.
TEST(ConversationStreamTest, CorpusDenserWhenRepeatedStaysExact) {
  const Tokenizer& qwen3 = SharedTestTokenizer("qwen3");
  const std::string text = std::string(63, '%') + "'" + std::string(3, '%') + "\x1e" +
                           std::string(163, '%') + "\x1b" + std::string(33, '%');
  const auto corpus = testing::Tokenize(text, qwen3, "inline.txt");
  const testing::Run run = Generate(SpecFromJsonOrDie(R"({
      "filetype": "generate_conversations", "num_conversations": 2, "text_files": ["c"],
      "prompt_input": {"num_turns": {"distribution": "constant", "value": 7},
                       "common_prefix_num_tokens": {"distribution": "constant", "value": 805},
                       "prefix_num_tokens": {"distribution": "constant", "value": 200},
                       "num_tokens": {"distribution": "constant", "value": 63}},
      "prompt_output": {"num_tokens": {"distribution": "constant", "value": 32}}})"),
                                    {.seed = 1, .shard_index = 1, .shard_count = 2}, corpus, qwen3);
  ASSERT_EQ(run.messages.size(), 8u);  // 7 turns rounded up to whole pairs
  EXPECT_GT(run.summary.corpus_wraps, 0);
  for (const Message& t : run.messages) {
    EXPECT_EQ(static_cast<int64_t>(qwen3.Count(t.content)), t.num_tokens) << t.message_index;
  }
  EXPECT_EQ(run.messages[0].num_tokens, 805 + 200 + 63);
}

TEST(ConversationStreamTest, EdgeCases) {
  const Tokenizer& qwen3 = SharedTestTokenizer("qwen3");
  const auto run_of = [&](const char* json) {
    return Generate(SpecFromJsonOrDie(json), {.seed = 11}, DefaultCorpus("qwen3"), qwen3);
  };
  // One conversation, no common prefix, huge caps that are never reached.
  const testing::Run one = run_of(R"({
      "filetype": "generate_conversations", "num_conversations": 1, "text_files": ["c"],
      "prompt_input": {"num_turns": {"distribution": "zipf", "alpha": 3, "max": 1000000},
                       "prefix_num_tokens": {"distribution": "lognormal", "average": 50, "max": 1000000000},
                       "num_tokens": {"distribution": "poisson", "alpha": 40, "max": 4000000000}},
      "prompt_output": {"num_tokens": {"distribution": "uniform", "min": 1, "max": 3}}})");
  EXPECT_EQ(one.summary.conversations, 1);
  EXPECT_EQ(one.summary.common_prefix_tokens, 0);
  ASSERT_FALSE(one.messages.empty());
  EXPECT_EQ(one.messages[0].content.rfind("0 is a nice number... ", 0), 0u);
  for (const Message& t : one.messages) {
    EXPECT_EQ(static_cast<int64_t>(qwen3.Count(t.content)), t.num_tokens);
  }
  // A long message (larger than a tenth of the corpus).
  const testing::Run long_run = run_of(R"({
      "filetype": "generate_conversations", "num_conversations": 1, "text_files": ["c"],
      "prompt_input": {"num_turns": {"distribution": "constant", "value": 2},
                       "prefix_num_tokens": {"distribution": "constant", "value": 0},
                       "num_tokens": {"distribution": "constant", "value": 40000}},
      "prompt_output": {"num_tokens": {"distribution": "constant", "value": 20000}}})");
  ASSERT_EQ(long_run.messages.size(), 2u);
  EXPECT_EQ(static_cast<int64_t>(qwen3.Count(long_run.messages[0].content)), 40000);
  EXPECT_EQ(static_cast<int64_t>(qwen3.Count(long_run.messages[1].content)), 20000);
}

TEST(ConversationStreamTest, EmptyCorpusIsAnErrorNamingIt) {
  const Tokenizer& qwen3 = SharedTestTokenizer("qwen3");
  auto stream =
      testing::OpenStream(SpecFromJsonOrDie(kSmall), {}, testing::Tokenize("", qwen3, "empty.txt"),
                          testing::Borrow(qwen3));
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(stream.status().message()),
              ::testing::HasSubstr("corpus empty.txt is empty"));
}

TEST(ConversationStreamTest, SummaryMatchesTheTurns) {
  const Tokenizer& qwen3 = SharedTestTokenizer("qwen3");
  const testing::Run run =
      Generate(SpecFromJsonOrDie(kSmall), {.seed = 21}, DefaultCorpus("qwen3"), qwen3);
  int64_t user = 0, assistant = 0;
  std::map<uint64_t, int64_t> turns;
  std::vector<double> requests;
  int64_t history = 0;
  uint64_t current = UINT64_MAX;
  for (const Message& t : run.messages) {
    if (t.conversation_index != current) history = 0, current = t.conversation_index;
    turns[t.conversation_index]++;
    history += t.num_tokens;
    if (t.role == Role::kUser) {
      user += t.num_tokens;
      requests.push_back(static_cast<double>(history));
    } else {
      assistant += t.num_tokens;
    }
  }
  EXPECT_EQ(run.summary.user_tokens, user);
  EXPECT_EQ(run.summary.assistant_tokens, assistant);
  EXPECT_EQ(run.summary.messages, static_cast<int64_t>(run.messages.size()));
  EXPECT_EQ(run.summary.request_tokens.count(), static_cast<int64_t>(requests.size()));
  double sum = 0;
  for (double r : requests) sum += r;
  EXPECT_NEAR(run.summary.request_tokens.mean(), sum / requests.size(), 1e-9);
  std::sort(requests.begin(), requests.end());
  EXPECT_EQ(run.summary.request_tokens.min(), requests.front());
  EXPECT_EQ(run.summary.request_tokens.max(), requests.back());
  EXPECT_EQ(run.summary.turns.count(), 40);
}

// The stream's events frame each conversation: start, its messages in
// order, end; the summary last, then nothing. The resume index moves past a
// conversation only when its end has been returned.
TEST(ConversationStreamTest, EventsFrameEachConversationAndTheSummaryComesLast) {
  const Tokenizer& qwen3 = SharedTestTokenizer("qwen3");
  auto stream = testing::OpenStream(SpecFromJsonOrDie(kSmall),
                                    {.seed = 4, .shard_index = 1, .shard_count = 3},
                                    DefaultCorpus("qwen3"), testing::Borrow(qwen3));
  ASSERT_TRUE(stream.ok()) << stream.status();
  ConversationStream& s = **stream;
  EXPECT_EQ(s.resume_index(), 1u);
  EXPECT_FALSE(s.NextIsReady());  // the first pull builds conversation 1
  uint64_t expected_index = 1;
  int64_t conversations = 0;
  while (true) {
    absl::StatusOr<const StreamEvent*> event = s.Next();
    ASSERT_TRUE(event.ok()) << event.status();
    ASSERT_NE(*event, nullptr);
    if (std::holds_alternative<StreamSummary>(**event)) {
      const auto& summary = std::get<StreamSummary>(**event);
      EXPECT_EQ(summary.stats.conversations, conversations);
      EXPECT_EQ(summary.next_conversation_index, 40u);  // 1 + 3 * 13, past the 40
      break;
    }
    const auto* start = std::get_if<ConversationStart>(*event);
    ASSERT_NE(start, nullptr) << "a conversation must open with its start";
    EXPECT_EQ(start->conversation_index, expected_index);
    EXPECT_EQ(start->conversation_id, absl::StrCat("CONV_ID_", expected_index));
    int64_t tokens = 0;
    for (int64_t m = 0; m < start->num_messages; ++m) {
      EXPECT_TRUE(s.NextIsReady());
      absl::StatusOr<const StreamEvent*> next = s.Next();
      ASSERT_TRUE(next.ok()) << next.status();
      const auto* message = std::get_if<Message>(*next);
      ASSERT_NE(message, nullptr) << "message " << m << " of " << start->conversation_id;
      EXPECT_EQ(message->message_index, m);
      EXPECT_EQ(message->conversation_index, expected_index);
      tokens += message->num_tokens;
      EXPECT_EQ(s.resume_index(), expected_index);  // not past it before its end
    }
    absl::StatusOr<const StreamEvent*> end_event = s.Next();
    ASSERT_TRUE(end_event.ok()) << end_event.status();
    const auto* end = std::get_if<ConversationEnd>(*end_event);
    ASSERT_NE(end, nullptr);
    EXPECT_EQ(end->conversation_index, expected_index);
    EXPECT_EQ(end->num_tokens, tokens);
    EXPECT_EQ(s.resume_index(), expected_index + 3);
    expected_index += 3;
    ++conversations;
  }
  EXPECT_EQ(conversations, 13);
  EXPECT_TRUE(s.NextIsReady());
  const absl::StatusOr<const StreamEvent*> after = s.Next();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, nullptr);
}

// NextBuildTokens plans the next conversation ahead (the server's batching
// asks before each build); the build uses that plan, so the run is the same
// with or without it, numpy_legacy's sequential draws included. The planned
// tokens are the conversation's (kSmall raises no target).
TEST(ConversationStreamTest, PlanningAheadChangesNothing) {
  for (const char* rng : {"philox", "numpy_legacy"}) {
    std::string json = kSmall;
    json.replace(json.find("{\"filetype\""), 1, absl::StrCat("{\"rng\": \"", rng, "\", "));
    const GenerationSpec spec = SpecFromJsonOrDie(json);
    std::vector<std::string> events[2];
    for (int ahead = 0; ahead < 2; ++ahead) {
      auto stream = testing::OpenStream(spec, {.seed = 9}, DefaultCorpus("qwen3"),
                                        testing::Borrow(SharedTestTokenizer("qwen3")));
      ASSERT_TRUE(stream.ok()) << stream.status();
      double planned = 0;
      while (true) {
        if (ahead == 1 && !(*stream)->NextIsReady()) {
          planned = (*stream)->NextBuildTokens();
          EXPECT_EQ((*stream)->NextBuildTokens(), planned);  // planned once
        }
        absl::StatusOr<const StreamEvent*> event = (*stream)->Next();
        ASSERT_TRUE(event.ok()) << event.status();
        if (*event == nullptr) break;
        if (const auto* message = std::get_if<Message>(*event)) {
          events[ahead].push_back(absl::StrCat(message->conversation_id, " ", message->content));
        } else if (const auto* end = std::get_if<ConversationEnd>(*event); end && ahead == 1) {
          EXPECT_EQ(planned, static_cast<double>(end->num_tokens))
              << rng << " " << end->conversation_id;
        }
      }
    }
    EXPECT_GT(events[0].size(), 80u) << rng;
    EXPECT_EQ(events[0], events[1]) << rng;
  }
}

// A long search for an exact cut: a corpus of one repeated character.
constexpr char kLongSearch[] = R"({"filetype": "generate_conversations", "num_conversations": 1,
      "text_files": ["bangs.txt"],
      "prompt_input": {"num_turns": {"distribution": "constant", "value": 2},
                       "prefix_num_tokens": {"distribution": "constant", "value": 0},
                       "num_tokens": {"distribution": "constant", "value": 30001}},
      "prompt_output": {"num_tokens": {"distribution": "constant", "value": 1}}})";

// It ends with Cancelled once the stop is set, instead of running to its
// budget.
TEST(ConversationStreamTest, CancellationEndsALongSearch) {
  const Tokenizer& qwen3 = SharedTestTokenizer("qwen3");
  const auto corpus = testing::Tokenize(std::string(200000, '!'), qwen3, "bangs.txt");
  StopSignal stop;
  stop.Stop();
  auto stream = testing::OpenStream(SpecFromJsonOrDie(kLongSearch), {}, corpus,
                                    testing::Borrow(qwen3), &stop);
  ASSERT_TRUE(stream.ok()) << stream.status();
  const absl::Status status = testing::Drain(**stream).status;
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_THAT(std::string(status.message()),
              ::testing::StartsWith("CONV_ID_0 message 0: cancelled"));
}

// With a CPU limit per conversation, it ends with ResourceExhausted naming
// the flag, after about that much CPU.
TEST(ConversationStreamTest, CpuLimitEndsALongSearch) {
  const Tokenizer& qwen3 = SharedTestTokenizer("qwen3");
  const auto corpus = testing::Tokenize(std::string(200000, '!'), qwen3, "bangs.txt");
  StopSignal stop(/*cpu_seconds_per_work=*/0.05);
  auto stream = testing::OpenStream(SpecFromJsonOrDie(kLongSearch), {}, corpus,
                                    testing::Borrow(qwen3), &stop);
  ASSERT_TRUE(stream.ok()) << stream.status();
  const absl::Status status = testing::Drain(**stream).status;
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(std::string(status.message()),
              ::testing::HasSubstr("after 0.05 CPU seconds, this server's limit per piece of work "
                                   "(--max-build-cpu-seconds)"));
}

}  // namespace
}  // namespace convgen
