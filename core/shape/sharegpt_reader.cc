#include "core/shape/sharegpt_reader.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/json/config_errors.h"
#include "nlohmann/json.hpp"

namespace convgen {
namespace {

using Json = nlohmann::json;

enum class Role { kUser, kAssistant, kSystem, kUnknown };

Role RoleOf(const std::string& from) {
  if (from == "human" || from == "user") return Role::kUser;
  if (from == "gpt" || from == "assistant" || from == "chatgpt" || from == "bing" ||
      from == "bard" || from == "model") {
    return Role::kAssistant;
  }
  if (from == "system") return Role::kSystem;
  return Role::kUnknown;
}

// Reads the records from nlohmann's SAX events without building a tree:
// the containers it does not need are skipped as they stream by.
class ShareGptHandler : public nlohmann::json_sax<Json> {
 public:
  explicit ShareGptHandler(const TokenCounter& count) : count_(count) {}

  Shape TakeShape() { return std::move(shape_); }
  const absl::Status& status() const { return status_; }

  bool null() override { return Scalar("null"); }
  bool boolean(bool) override { return Scalar("a boolean"); }
  bool number_integer(number_integer_t) override { return Scalar("a number"); }
  bool number_unsigned(number_unsigned_t) override { return Scalar("a number"); }
  bool number_float(number_float_t, const string_t&) override { return Scalar("a number"); }
  bool binary(binary_t&) override { return Scalar("binary"); }
  bool string(string_t& value) override {
    if (Top() == Ctx::kMessage && (key_ == "from" || key_ == "value")) {
      (key_ == "from" ? from_ : value_) = std::move(value);
      (key_ == "from" ? has_from_ : has_value_) = true;
      return true;
    }
    return Scalar("a string");
  }
  bool key(string_t& key) override {
    key_ = std::move(key);
    return true;
  }
  bool start_object(std::size_t) override { return Open(true); }
  bool start_array(std::size_t) override { return Open(false); }
  bool end_object() override { return Close(); }
  bool end_array() override { return Close(); }

  bool parse_error(std::size_t position, const std::string&,
                   const Json::exception& error) override {
    std::string what = error.what();
    if (const size_t cut = what.find("] "); cut != std::string::npos) what.erase(0, cut + 2);
    return Fail(absl::StrCat("invalid JSON at byte ", position, ": ", what,
                             "; a ShareGPT file is a JSON list of {\"conversations\": [...]}"));
  }

 private:
  enum class Ctx { kTop, kRecord, kConversations, kMessage, kSkip };

  Ctx Top() const { return stack_.empty() ? Ctx::kSkip : stack_.back(); }

  std::string RecordPath() const { return absl::StrCat("record ", record_index_); }
  // Where a value that is not the expected object stands.
  std::string NextRecordPath() const { return absl::StrCat("record ", record_index_ + 1); }
  std::string NextMessagePath() const {
    return absl::StrCat(RecordPath(), " conversations[", message_index_ + 1, "]");
  }
  std::string MessagePath() const {
    return absl::StrCat(RecordPath(), " conversations[", message_index_, "]");
  }

  bool Fail(std::string message) {
    status_ = absl::InvalidArgumentError(std::move(message));
    return false;
  }

  // A scalar where the reader is: fine inside skipped values and for
  // record/message keys it ignores; else a type error.
  bool Scalar(const char* what) {
    if (stack_.empty()) {
      return Fail(absl::StrCat("a ShareGPT file is a JSON list of conversations (got ", what, ")"));
    }
    switch (Top()) {
      case Ctx::kSkip:
        return true;
      case Ctx::kTop:
        return Fail(absl::StrCat(
            NextRecordPath(), ": must be an object {\"conversations\": [...]} (got ", what, ")"));
      case Ctx::kRecord:
        if (key_ == "conversations") {
          return Fail(absl::StrCat(RecordPath(),
                                   ".conversations: must be a list of {\"from\", \"value\"} (got ",
                                   what, ")"));
        }
        return true;
      case Ctx::kConversations:
        return Fail(absl::StrCat(
            NextMessagePath(),
            ": must be an object {\"from\": \"human\", \"value\": \"...\"} (got ", what, ")"));
      case Ctx::kMessage:
        if (key_ == "from" || key_ == "value") {
          return Fail(
              absl::StrCat(MessagePath(), ".", key_, ": must be a string (got ", what, ")"));
        }
        return true;
    }
    return true;
  }

  bool Open(bool object) {
    if (stack_.empty()) {
      if (object) {
        return Fail(
            "a ShareGPT file is a JSON list of conversations [{\"conversations\": [...]}, ...] "
            "(got an object)");
      }
      stack_.push_back(Ctx::kTop);
      return true;
    }
    if (stack_.size() > 64) return Fail(absl::StrCat(RecordPath(), ": nesting is too deep"));
    switch (Top()) {
      case Ctx::kSkip:
        stack_.push_back(Ctx::kSkip);
        return true;
      case Ctx::kTop:
        if (!object) return Scalar("a list");
        if (record_index_ + 1 > kMaxShapeRecords) {
          status_ = absl::ResourceExhaustedError(absl::StrCat("the ShareGPT file has more than ",
                                                              kMaxShapeRecords,
                                                              " records; use a sample of it"));
          return false;
        }
        ++record_index_;
        has_conversations_ = false;
        messages_.clear();
        message_index_ = -1;
        stack_.push_back(Ctx::kRecord);
        return true;
      case Ctx::kRecord:
        if (key_ == "conversations") {
          if (object) return Scalar("an object");
          has_conversations_ = true;
          stack_.push_back(Ctx::kConversations);
        } else {
          stack_.push_back(Ctx::kSkip);
        }
        return true;
      case Ctx::kConversations:
        if (!object) return Scalar("a list");
        ++message_index_;
        if (message_index_ >= kMaxShapeMessages) {
          status_ = absl::ResourceExhaustedError(
              absl::StrCat(RecordPath(), " has more than ", kMaxShapeMessages,
                           " messages; split it or leave it out"));
          return false;
        }
        has_from_ = has_value_ = false;
        stack_.push_back(Ctx::kMessage);
        return true;
      case Ctx::kMessage:
        if (key_ == "from" || key_ == "value") return Scalar(object ? "an object" : "a list");
        stack_.push_back(Ctx::kSkip);
        return true;
    }
    return true;
  }

  bool Close() {
    const Ctx closing = Top();
    stack_.pop_back();
    if (closing == Ctx::kMessage) return EndMessage();
    if (closing == Ctx::kRecord) return EndRecord();
    return true;
  }

  bool EndMessage() {
    if (!has_from_ || !has_value_) {
      return Fail(absl::StrCat(MessagePath(), ": missing \"", has_from_ ? "value" : "from",
                               "\"; each message is {\"from\": \"human\"|\"gpt\", \"value\": "
                               "\"...\"}"));
    }
    const Role role = RoleOf(from_);
    if (role == Role::kUnknown) {
      return Fail(absl::StrCat(MessagePath(), ".from: unknown role ", QuoteForMessage(from_, 40),
                               "; expected \"human\" or \"user\", \"gpt\" or \"assistant\", or "
                               "\"system\""));
    }
    if (role == Role::kSystem) {
      ++shape_.notes.system_dropped;
    } else if (value_.empty()) {
      ++shape_.notes.empty_dropped;
    } else {
      messages_.push_back({role == Role::kUser, count_(value_)});
    }
    value_.clear();
    return true;
  }

  bool EndRecord() {
    ++shape_.notes.records_read;
    if (!has_conversations_) {
      return Fail(
          absl::StrCat(RecordPath(), ": missing \"conversations\" (the list of its messages)"));
    }
    ShapeRecord record;
    bool last_user = false;
    for (const auto& [user, tokens] : messages_) {
      if (record.message_tokens.empty() && !user) {
        ++shape_.notes.leading_dropped;
        continue;
      }
      if (!record.message_tokens.empty() && user == last_user) {
        record.message_tokens.back() += tokens;
        ++shape_.notes.merged;
        continue;
      }
      record.message_tokens.push_back(tokens);
      last_user = user;
    }
    if (record.message_tokens.size() % 2 == 1) {
      record.message_tokens.pop_back();
      ++shape_.notes.trailing_dropped;
    }
    if (record.message_tokens.size() < 2) {
      ++shape_.notes.records_skipped;
    } else {
      shape_.records.push_back(std::move(record));
    }
    return true;
  }

  const TokenCounter& count_;
  Shape shape_;
  absl::Status status_;
  std::vector<Ctx> stack_;
  std::string key_;
  int64_t record_index_ = -1;
  int64_t message_index_ = -1;
  bool has_conversations_ = false;
  std::vector<std::pair<bool, int64_t>> messages_;  // the record's (user, tokens)
  std::string from_, value_;
  bool has_from_ = false, has_value_ = false;
};

}  // namespace

absl::StatusOr<Shape> ReadShareGpt(absl::string_view json, const TokenCounter& count) {
  ShareGptHandler handler(count);
  const bool ok = Json::sax_parse(json.begin(), json.end(), &handler, Json::input_format_t::json,
                                  /*strict=*/true);
  if (!handler.status().ok()) return handler.status();
  if (!ok) return absl::InvalidArgumentError("invalid JSON in the ShareGPT file");
  Shape shape = handler.TakeShape();
  shape.kind = ShapeKind::kShareGpt;
  if (shape.records.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the ShareGPT file has no conversation with a user message and its answer (",
        shape.notes.records_read, " records read, ", shape.notes.records_skipped,
        " skipped); each record needs {\"conversations\": [{\"from\": \"human\", ...}, "
        "{\"from\": \"gpt\", ...}]}"));
  }
  return shape;
}

}  // namespace convgen
