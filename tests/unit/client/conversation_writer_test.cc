// ConversationWriter on streams cut at each kind of event: a conversation is
// written when its end arrives, and next_index() is where a resumed run
// starts, so the file and the index always agree.
#include "client/conversation_writer.h"

#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace convgen {
namespace {

// The events of two 2-message conversations, 4 and 7 (as in a shard), in
// stream order: start, user, assistant, end.
std::vector<v1::GenerateResponse> TwoConversations() {
  std::vector<v1::GenerateResponse> events;
  for (const uint64_t index : {4, 7}) {
    const std::string id = "CONV_ID_" + std::to_string(index);
    v1::GenerateResponse start;
    start.mutable_conversation_start()->set_conversation_index(index);
    start.mutable_conversation_start()->set_conversation_id(id);
    start.mutable_conversation_start()->set_num_turns(2);
    events.push_back(start);
    for (int turn = 0; turn < 2; ++turn) {
      v1::GenerateResponse message;
      v1::TurnMessage& t = *message.mutable_turn();
      t.set_conversation_index(index);
      t.set_conversation_id(id);
      t.set_turn_index(turn);
      t.set_num_turns(2);
      t.set_role(turn == 0 ? v1::ROLE_USER : v1::ROLE_ASSISTANT);
      t.set_content((turn == 0 ? "question " : "answer ") + std::to_string(index));
      t.set_num_tokens(2);
      if (turn == 1) t.set_max_tokens(2);
      events.push_back(message);
    }
    v1::GenerateResponse end;
    end.mutable_conversation_end()->set_conversation_index(index);
    end.mutable_conversation_end()->set_conversation_id(id);
    events.push_back(end);
  }
  return events;
}

struct Written {
  std::string text;
  int64_t conversations;
  std::optional<uint64_t> next_index;
};

// Feeds `events` (the first `count` of them) to a writer, then finishes it.
Written Write(const std::vector<v1::GenerateResponse>& events, size_t count, OutputFormat format,
              const OpenAiOptions& openai = {}) {
  std::ostringstream out;
  ConversationWriter writer(out, format, openai);
  for (size_t i = 0; i < count; ++i) {
    const v1::GenerateResponse& e = events[i];
    if (e.has_conversation_start()) writer.Begin(e.conversation_start());
    if (e.has_turn()) writer.Add(e.turn());
    if (e.has_conversation_end()) writer.End(e.conversation_end());
  }
  writer.Finish();
  return {out.str(), writer.conversations_written(), writer.next_index()};
}

Written WriteFirst(size_t count, OutputFormat format = OutputFormat::kJson,
                   const OpenAiOptions& openai = {}) {
  return Write(TwoConversations(), count, format, openai);
}

constexpr char kFirst[] = R"({"id":"CONV_ID_4","messages":[{"role":"user","content":"question 4"},)"
                          R"({"role":"assistant","content":"answer 4"}]})";
constexpr char kSecond[] =
    R"({"id":"CONV_ID_7","messages":[{"role":"user","content":"question 7"},)"
    R"({"role":"assistant","content":"answer 7"}]})";

TEST(ConversationWriterTest, CutAfterAnEndHoldsEveryEndedConversation) {
  const Written both = WriteFirst(8);
  EXPECT_EQ(both.text, std::string("[\n") + kFirst + ",\n" + kSecond + "\n]\n");
  EXPECT_EQ(both.conversations, 2);
  EXPECT_EQ(both.next_index, 8u);

  const Written first = WriteFirst(4);
  EXPECT_EQ(first.text, std::string("[\n") + kFirst + "\n]\n");
  EXPECT_EQ(first.next_index, 5u);
}

TEST(ConversationWriterTest, CutAfterAStartDropsTheStartedConversation) {
  const Written written = WriteFirst(5);
  EXPECT_EQ(written.text, std::string("[\n") + kFirst + "\n]\n");
  EXPECT_EQ(written.conversations, 1);
  EXPECT_EQ(written.next_index, 5u);
}

TEST(ConversationWriterTest, CutAfterATurnDropsItsConversation) {
  // After conversation 7's first message, and after its last one: without
  // its end a conversation is not written, even when every message came.
  for (const size_t count : {6, 7}) {
    const Written written = WriteFirst(count);
    EXPECT_EQ(written.text, std::string("[\n") + kFirst + "\n]\n") << count;
    EXPECT_EQ(written.next_index, 5u) << count;
  }
}

TEST(ConversationWriterTest, NothingEndedWritesAnEmptyListAndNoIndex) {
  for (const size_t count : {0, 1, 3}) {
    const Written written = WriteFirst(count);
    EXPECT_EQ(written.text, "[]\n") << count;
    EXPECT_EQ(written.conversations, 0) << count;
    EXPECT_EQ(written.next_index, std::nullopt) << count;
  }
}

TEST(ConversationWriterTest, JsonlCutAfterATurnHoldsTheEndedConversationsMessages) {
  const Written written = WriteFirst(6, OutputFormat::kJsonl);
  EXPECT_EQ(written.text,
            R"({"conversation_id":"CONV_ID_4","conversation_index":4,"turn_index":0,)"
            R"("role":"user","content":"question 4","num_tokens":2})"
            "\n"
            R"({"conversation_id":"CONV_ID_4","conversation_index":4,"turn_index":1,)"
            R"("role":"assistant","content":"answer 4","num_tokens":2,"max_tokens":2})"
            "\n");
  EXPECT_EQ(written.next_index, 5u);
}

TEST(ConversationWriterTest, OpenAiJsonlCutAfterATurnHoldsTheEndedConversationsBodies) {
  // Conversation 7's user message and its answer came, not its end: no body
  // of it, though one could be built.
  const Written written = WriteFirst(7, OutputFormat::kOpenAiJsonl);
  EXPECT_EQ(written.text, R"({"messages":[{"role":"user","content":"question 4"}],"max_tokens":2,)"
                          R"("metadata":{"conversation_id":"CONV_ID_4","turn_index":"0"}})"
                          "\n");
  EXPECT_EQ(written.conversations, 1);
  EXPECT_EQ(written.next_index, 5u);
}

TEST(ConversationWriterTest, AMessageOfAnotherConversationIsIgnored) {
  std::ostringstream out;
  ConversationWriter writer(out, OutputFormat::kJson);
  const std::vector<v1::GenerateResponse> events = TwoConversations();
  writer.Begin(events[0].conversation_start());
  writer.Add(events[5].turn());  // conversation 7's message
  writer.Add(events[1].turn());
  writer.Add(events[2].turn());
  writer.End(events[7].conversation_end());  // not the open conversation
  EXPECT_EQ(writer.conversations_written(), 0);
  writer.End(events[3].conversation_end());
  writer.Finish();
  EXPECT_EQ(out.str(), std::string("[\n") + kFirst + "\n]\n");
}

TEST(ConversationWriterTest, ShareGptWritesTheListVllmAndSglangRead) {
  const Written both = WriteFirst(8, OutputFormat::kShareGpt);
  EXPECT_EQ(both.text,
            "[\n"
            R"({"id":"CONV_ID_4","conversations":[{"from":"human","value":"question 4"},)"
            R"({"from":"gpt","value":"answer 4"}]},)"
            "\n"
            R"({"id":"CONV_ID_7","conversations":[{"from":"human","value":"question 7"},)"
            R"({"from":"gpt","value":"answer 7"}]})"
            "\n]\n");
  EXPECT_EQ(both.conversations, 2);
  EXPECT_EQ(both.next_index, 8u);
}

TEST(ConversationWriterTest, ShareGptCutMidConversationIsAValidListOfTheEndedOnes) {
  const Written cut = WriteFirst(6, OutputFormat::kShareGpt);
  EXPECT_EQ(cut.text,
            "[\n"
            R"({"id":"CONV_ID_4","conversations":[{"from":"human","value":"question 4"},)"
            R"({"from":"gpt","value":"answer 4"}]})"
            "\n]\n");
  EXPECT_EQ(cut.next_index, 5u);
  EXPECT_EQ(WriteFirst(3, OutputFormat::kShareGpt).text, "[]\n");
}

TEST(ConversationWriterTest, OpenAiJsonlOptionsAddStreamMinTokensIgnoreEosAndModel) {
  OpenAiOptions all;
  all.model = "Qwen/Qwen3-8B";
  all.stream = all.min_tokens = all.ignore_eos = true;
  EXPECT_EQ(WriteFirst(4, OutputFormat::kOpenAiJsonl, all).text,
            R"({"model":"Qwen/Qwen3-8B","messages":[{"role":"user","content":"question 4"}],)"
            R"("max_tokens":2,"min_tokens":2,"ignore_eos":true,"stream":true,)"
            R"("stream_options":{"include_usage":true},)"
            R"("metadata":{"conversation_id":"CONV_ID_4","turn_index":"0"}})"
            "\n");
  OpenAiOptions stream;
  stream.stream = true;
  EXPECT_EQ(WriteFirst(4, OutputFormat::kOpenAiJsonl, stream).text,
            R"({"messages":[{"role":"user","content":"question 4"}],"max_tokens":2,)"
            R"("stream":true,"stream_options":{"include_usage":true},)"
            R"("metadata":{"conversation_id":"CONV_ID_4","turn_index":"0"}})"
            "\n");
  OpenAiOptions min_tokens;
  min_tokens.min_tokens = true;
  EXPECT_EQ(WriteFirst(4, OutputFormat::kOpenAiJsonl, min_tokens).text,
            R"({"messages":[{"role":"user","content":"question 4"}],"max_tokens":2,)"
            R"("min_tokens":2,"metadata":{"conversation_id":"CONV_ID_4","turn_index":"0"}})"
            "\n");
}

TEST(ConversationWriterTest, OpenAiJsonlMinTokensIsEachAnswersMaxTokens) {
  // Two exchanges with different answer lengths: each body gets its own.
  std::vector<v1::GenerateResponse> events(1);
  events[0].mutable_conversation_start()->set_conversation_index(0);
  events[0].mutable_conversation_start()->set_conversation_id("CONV_ID_0");
  for (int turn = 0; turn < 4; ++turn) {
    v1::TurnMessage& t = *events.emplace_back().mutable_turn();
    t.set_conversation_id("CONV_ID_0");
    t.set_turn_index(turn);
    t.set_role(turn % 2 == 0 ? v1::ROLE_USER : v1::ROLE_ASSISTANT);
    t.set_content(std::string(1, static_cast<char>('a' + turn)));
    if (turn % 2 == 1) t.set_max_tokens(turn == 1 ? 17 : 250);
  }
  events.emplace_back().mutable_conversation_end()->set_conversation_id("CONV_ID_0");
  OpenAiOptions options;
  options.min_tokens = options.ignore_eos = true;
  EXPECT_EQ(Write(events, events.size(), OutputFormat::kOpenAiJsonl, options).text,
            R"({"messages":[{"role":"user","content":"a"}],"max_tokens":17,"min_tokens":17,)"
            R"("ignore_eos":true,"metadata":{"conversation_id":"CONV_ID_0","turn_index":"0"}})"
            "\n"
            R"({"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},)"
            R"({"role":"user","content":"c"}],"max_tokens":250,"min_tokens":250,)"
            R"("ignore_eos":true,"metadata":{"conversation_id":"CONV_ID_0","turn_index":"2"}})"
            "\n");
}

// A conversation whose texts hold what JSON must escape: quotes,
// backslashes, control characters (NUL included), DEL, a non-BMP character
// (U+1F600, written as its UTF-8 bytes), and an invalid byte (replaced by
// U+FFFD: the output stays UTF-8).
std::vector<v1::GenerateResponse> HostileConversation() {
  std::vector<v1::GenerateResponse> events(1);
  events[0].mutable_conversation_start()->set_conversation_id("CONV_ID_0");
  const std::string texts[] = {std::string("say \"hi\" \\ \\n\n\t\r\b\f\x01\x1f\0!", 22),
                               "\x7f \xF0\x9F\x98\x80 \xff end"};
  for (int turn = 0; turn < 2; ++turn) {
    v1::TurnMessage& t = *events.emplace_back().mutable_turn();
    t.set_conversation_id("CONV_ID_0");
    t.set_turn_index(turn);
    t.set_role(turn == 0 ? v1::ROLE_USER : v1::ROLE_ASSISTANT);
    t.set_content(texts[turn]);
    t.set_num_tokens(3);
    if (turn == 1) t.set_max_tokens(3);
  }
  events.emplace_back().mutable_conversation_end()->set_conversation_id("CONV_ID_0");
  return events;
}

constexpr char kHostileUser[] = R"(say \"hi\" \\ \\n\n\t\r\b\f\u0001\u001f\u0000!)";
constexpr char kHostileAnswer[] = "\x7f \xF0\x9F\x98\x80 \xEF\xBF\xBD end";

TEST(ConversationWriterTest, HostileTextIsEscapedTheSameWayInEveryFormat) {
  const std::vector<v1::GenerateResponse> events = HostileConversation();
  const std::string user = kHostileUser, answer = kHostileAnswer;
  EXPECT_EQ(Write(events, events.size(), OutputFormat::kShareGpt).text,
            R"([
{"id":"CONV_ID_0","conversations":[{"from":"human","value":")" +
                user + R"("},{"from":"gpt","value":")" + answer + "\"}]}\n]\n");
  EXPECT_EQ(Write(events, events.size(), OutputFormat::kJson).text,
            R"([
{"id":"CONV_ID_0","messages":[{"role":"user","content":")" +
                user + R"("},{"role":"assistant","content":")" + answer + "\"}]}\n]\n");
  EXPECT_EQ(Write(events, events.size(), OutputFormat::kOpenAiJsonl).text,
            R"({"messages":[{"role":"user","content":")" + user +
                R"("}],"max_tokens":3,"metadata":{"conversation_id":"CONV_ID_0","turn_index":"0"}})"
                "\n");
  EXPECT_EQ(Write(events, events.size(), OutputFormat::kJsonl).text,
            R"({"conversation_id":"CONV_ID_0","conversation_index":0,"turn_index":0,)"
            R"("role":"user","content":")" +
                user + R"(","num_tokens":3})" + "\n" +
                R"({"conversation_id":"CONV_ID_0","conversation_index":0,"turn_index":1,)"
                R"("role":"assistant","content":")" +
                answer + R"(","num_tokens":3,"max_tokens":3})" + "\n");
}

// Conversation 4 arrives at 0 ms and 7 at 1500 ms (a Mooncake trace's
// timestamps): each format carries its conversation's arrival_ms.
std::vector<v1::GenerateResponse> TwoArrivals() {
  std::vector<v1::GenerateResponse> events = TwoConversations();
  events[0].mutable_conversation_start()->set_arrival_ms(0);
  events[4].mutable_conversation_start()->set_arrival_ms(1500);
  return events;
}

TEST(ConversationWriterTest, ArrivalMsIsInEveryFormatWhenTheStartCarriesIt) {
  const std::vector<v1::GenerateResponse> events = TwoArrivals();
  EXPECT_EQ(Write(events, events.size(), OutputFormat::kJson).text,
            "[\n"
            R"({"id":"CONV_ID_4","arrival_ms":0,"messages":[{"role":"user",)"
            R"("content":"question 4"},{"role":"assistant","content":"answer 4"}]},)"
            "\n"
            R"({"id":"CONV_ID_7","arrival_ms":1500,"messages":[{"role":"user",)"
            R"("content":"question 7"},{"role":"assistant","content":"answer 7"}]})"
            "\n]\n");
  EXPECT_EQ(Write(events, 4, OutputFormat::kShareGpt).text,
            "[\n"
            R"({"id":"CONV_ID_4","arrival_ms":0,"conversations":[{"from":"human",)"
            R"("value":"question 4"},{"from":"gpt","value":"answer 4"}]})"
            "\n]\n");
  EXPECT_EQ(Write(events, events.size(), OutputFormat::kJsonl).text,
            R"({"conversation_id":"CONV_ID_4","conversation_index":4,"arrival_ms":0,)"
            R"("turn_index":0,"role":"user","content":"question 4","num_tokens":2})"
            "\n"
            R"({"conversation_id":"CONV_ID_4","conversation_index":4,"arrival_ms":0,)"
            R"("turn_index":1,"role":"assistant","content":"answer 4","num_tokens":2,)"
            R"("max_tokens":2})"
            "\n"
            R"({"conversation_id":"CONV_ID_7","conversation_index":7,"arrival_ms":1500,)"
            R"("turn_index":0,"role":"user","content":"question 7","num_tokens":2})"
            "\n"
            R"({"conversation_id":"CONV_ID_7","conversation_index":7,"arrival_ms":1500,)"
            R"("turn_index":1,"role":"assistant","content":"answer 7","num_tokens":2,)"
            R"("max_tokens":2})"
            "\n");
  EXPECT_EQ(Write(events, events.size(), OutputFormat::kOpenAiJsonl).text,
            R"({"messages":[{"role":"user","content":"question 4"}],"max_tokens":2,)"
            R"("metadata":{"conversation_id":"CONV_ID_4","turn_index":"0","arrival_ms":"0"}})"
            "\n"
            R"({"messages":[{"role":"user","content":"question 7"}],"max_tokens":2,)"
            R"("metadata":{"conversation_id":"CONV_ID_7","turn_index":"0","arrival_ms":"1500"}})"
            "\n");
}

TEST(ConversationWriterTest, ArrivalMsOfOneConversationDoesNotLeakIntoTheNext) {
  // Only conversation 4 has one: 7's objects are as without arrival times.
  std::vector<v1::GenerateResponse> events = TwoConversations();
  events[0].mutable_conversation_start()->set_arrival_ms(250);
  const std::string json = Write(events, events.size(), OutputFormat::kJson).text;
  EXPECT_NE(json.find(R"({"id":"CONV_ID_4","arrival_ms":250,"messages")"), std::string::npos);
  EXPECT_NE(json.find(kSecond), std::string::npos);
  EXPECT_EQ(Write(TwoConversations(), 8, OutputFormat::kJson).text.find("arrival_ms"),
            std::string::npos);
}

}  // namespace
}  // namespace convgen
