// The client's hand-written JSON output equals nlohmann's, byte for byte: the
// string escaper on hostile strings (control bytes, quotes, backslashes,
// valid and invalid UTF-8 of every kind), and the whole ConversationWriter
// against the nlohmann writer it replaced, in every format and option.
#include "client/json_out.h"

#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "client/conversation_writer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/nlohmann_conversation_writer.h"

namespace convgen {
namespace {

std::string Nlohmann(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Ours(const std::string& s) {
  std::string out = "prefix";
  AppendJsonString(out, s);
  return out.substr(6);
}

TEST(JsonOutTest, EscapesAsDocumented) {
  EXPECT_EQ(Ours(""), "\"\"");
  EXPECT_EQ(Ours("a\"b\\c/d\x7f"), "\"a\\\"b\\\\c/d\x7f\"");
  EXPECT_EQ(Ours("\b\f\n\r\t\x01\x1f"), "\"\\b\\f\\n\\r\\t\\u0001\\u001f\"");
  EXPECT_EQ(Ours("\xC3\xA9 \xF0\x9F\x98\x80"), "\"\xC3\xA9 \xF0\x9F\x98\x80\"");
  // A lone continuation byte, a truncated sequence at the end, an overlong
  // (E0 80: the E0 and the 80 each), a surrogate (ED A0 80), F5.
  EXPECT_EQ(Ours("\x80"), "\"\xEF\xBF\xBD\"");
  EXPECT_EQ(Ours("a\xE2\x82"), "\"a\xEF\xBF\xBD\"");
  EXPECT_EQ(Ours("\xE0\x80"
                 "a"),
            "\"\xEF\xBF\xBD\xEF\xBF\xBD"
            "a\"");
  EXPECT_EQ(Ours("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(Ours("\xF5z"), "\"\xEF\xBF\xBDz\"");
  // A broken sequence followed by a quote: the quote is read again.
  EXPECT_EQ(Ours("\xC3\""), "\"\xEF\xBF\xBD\\\"\"");
}

TEST(JsonOutTest, IntegersAsNlohmann) {
  for (const int64_t v : {int64_t{0}, int64_t{-1}, int64_t{42}, INT64_MIN, INT64_MAX}) {
    std::string out;
    AppendJsonInt(out, v);
    EXPECT_EQ(out, nlohmann::json(v).dump());
  }
  std::string out;
  AppendJsonInt(out, UINT64_MAX);
  EXPECT_EQ(out, nlohmann::json(UINT64_MAX).dump());
}

// Pieces hostile strings are made of.
const std::vector<std::string>& Pieces() {
  static const std::vector<std::string> pieces = [] {
    std::vector<std::string> p = {
        "a", "Call me Ishmael. ", "\"", "\\", "/", "\x7f", " ",
        // valid 2-, 3-, 4-byte and boundary code points
        "\xC2\x80", "\xC3\xA9", "\xDF\xBF", "\xE0\xA0\x80", "\xE2\x82\xAC", "\xEF\xBF\xBF",
        "\xED\x9F\xBF", "\xEE\x80\x80", "\xF0\x90\x80\x80", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF",
        // invalid: continuation bytes, overlongs, surrogates, too large, F5..FF
        "\x80", "\xBF", "\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF", "\xED\xA0\x80",
        "\xED\xBF\xBF", "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xF5", "\xF8",
        "\xFE", "\xFF",
        // truncated sequences
        "\xC3", "\xE2", "\xE2\x82", "\xF0", "\xF0\x9F", "\xF0\x9F\x98"};
    for (int c = 0; c < 0x20; ++c) p.push_back(std::string(1, static_cast<char>(c)));
    return p;
  }();
  return pieces;
}

std::string HostileString(std::mt19937_64& rng) {
  std::string s;
  const int parts = static_cast<int>(rng() % 24);
  for (int k = 0; k < parts; ++k) {
    if (rng() % 4 == 0) {
      s.push_back(static_cast<char>(rng() % 256));  // any byte
    } else {
      s += Pieces()[rng() % Pieces().size()];
    }
  }
  return s;
}

TEST(JsonOutTest, EqualsNlohmannOnHostileStrings) {
  std::mt19937_64 rng(16);
  for (int i = 0; i < 20000; ++i) {
    const std::string s = HostileString(rng);
    ASSERT_EQ(Ours(s), Nlohmann(s)) << "case " << i;
  }
}

TEST(JsonOutTest, EqualsNlohmannOnEveryShortByteString) {
  // Every 1- and 2-byte string, and 3-byte strings from the bytes where
  // UTF-8's decisions are made.
  std::string s;
  for (int a = 0; a < 256; ++a) {
    s.assign(1, static_cast<char>(a));
    ASSERT_EQ(Ours(s), Nlohmann(s));
    for (int b = 0; b < 256; ++b) {
      s.assign({static_cast<char>(a), static_cast<char>(b)});
      ASSERT_EQ(Ours(s), Nlohmann(s));
    }
  }
  const std::vector<int> edges = {0x00, 0x22, 0x41, 0x5C, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                  0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
  for (const int a : edges) {
    for (const int b : edges) {
      for (const int c : edges) {
        for (const int d : edges) {
          s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                    static_cast<char>(d)});
          ASSERT_EQ(Ours(s), Nlohmann(s));
        }
      }
    }
  }
}

// Random conversations, some dropped (no end) and some with an odd number
// of messages, with hostile contents and ids and every optional field.
std::vector<v1::GenerateResponse> RandomEvents(std::mt19937_64& rng) {
  std::vector<v1::GenerateResponse> events;
  for (uint64_t index = 0; index < 12; ++index) {
    const std::string id = rng() % 5 == 0 ? HostileString(rng) : "CONV_ID_" + std::to_string(index);
    v1::GenerateResponse start;
    start.mutable_conversation_start()->set_conversation_index(index);
    start.mutable_conversation_start()->set_conversation_id(id);
    events.push_back(start);
    const int turns = static_cast<int>(rng() % 7);
    for (int turn = 0; turn < turns; ++turn) {
      v1::GenerateResponse message;
      v1::TurnMessage& t = *message.mutable_turn();
      t.set_conversation_index(index);
      t.set_conversation_id(id);
      t.set_turn_index(turn);
      t.set_num_turns(turns);
      t.set_role(turn % 2 == 0 ? v1::ROLE_USER : v1::ROLE_ASSISTANT);
      t.set_content(HostileString(rng));
      t.set_num_tokens(static_cast<int64_t>(rng() % 5000));
      if (turn % 2 == 1) t.set_max_tokens(static_cast<int64_t>(rng() % 5000));
      if (rng() % 2 == 0) t.set_think_time_ms(static_cast<int64_t>(rng() % 100000) - 10);
      if (rng() % 3 == 0) t.set_prefix_group(static_cast<int64_t>(rng() % 10));
      if (rng() % 3 == 0) {
        for (uint64_t k = rng() % 6; k > 0; --k) t.add_token_ids(static_cast<uint32_t>(rng()));
      }
      events.push_back(message);
    }
    if (rng() % 6 != 0) {
      v1::GenerateResponse end;
      end.mutable_conversation_end()->set_conversation_index(index);
      end.mutable_conversation_end()->set_conversation_id(id);
      events.push_back(end);
    }
  }
  return events;
}

template <typename Writer>
std::string WriteAll(const std::vector<v1::GenerateResponse>& events, OutputFormat format,
                     const OpenAiOptions& openai) {
  std::ostringstream out;
  Writer writer(out, format, openai);
  for (const v1::GenerateResponse& e : events) {
    if (e.has_conversation_start()) writer.Begin(e.conversation_start());
    if (e.has_turn()) writer.Add(e.turn());
    if (e.has_conversation_end()) writer.End(e.conversation_end());
  }
  writer.Finish();
  return out.str();
}

TEST(JsonOutTest, WriterEqualsNlohmannWriterInEveryFormat) {
  std::mt19937_64 rng(1616);
  for (int round = 0; round < 60; ++round) {
    const std::vector<v1::GenerateResponse> events = RandomEvents(rng);
    for (const OutputFormat format : {OutputFormat::kJson, OutputFormat::kJsonl,
                                      OutputFormat::kOpenAiJsonl, OutputFormat::kShareGpt}) {
      OpenAiOptions openai;
      if (rng() % 2 == 0) openai.model = rng() % 2 == 0 ? "Qwen/Qwen3-8B" : HostileString(rng);
      openai.stream = rng() % 2 == 0;
      openai.min_tokens = rng() % 2 == 0;
      openai.ignore_eos = rng() % 2 == 0;
      const std::string ours = WriteAll<ConversationWriter>(events, format, openai);
      ASSERT_EQ(ours, WriteAll<NlohmannConversationWriter>(events, format, openai))
          << "round " << round << " format " << static_cast<int>(format);
      ASSERT_GT(ours.size(), 2u);
    }
  }
  // No conversation at all.
  for (const OutputFormat format : {OutputFormat::kJson, OutputFormat::kJsonl,
                                    OutputFormat::kOpenAiJsonl, OutputFormat::kShareGpt}) {
    EXPECT_EQ(WriteAll<ConversationWriter>({}, format, {}),
              WriteAll<NlohmannConversationWriter>({}, format, {}));
  }
}

}  // namespace
}  // namespace convgen
