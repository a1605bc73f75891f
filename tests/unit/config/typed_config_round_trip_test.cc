// A typed GenerationConfig and its normalized JSON must agree: for every
// typed config the rules accept, ConfigToJson(config) reads back (JSON
// reader and rules) to an equal config. Otherwise Validate would answer a
// normalized_config_json that the same server refuses as config_json.
//
// The configs: one per distribution kind at every distribution field, then
// every scalar field of each set, one at a time, to edge values (NaN,
// infinities, -0.0, denormals, 2^53 + 1, 2^62, int64's ends, empty and
// non-UTF-8 strings, enum values no name has), found by reflection so a new
// field is covered without editing this file.
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/config/config_json.h"
#include "core/config/generation_spec.h"
#include "core/json/config_errors.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace convgen {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::util::MessageDifferencer;

constexpr char kBase[] = R"({
    "filetype": "generate_conversations", "num_conversations": 3, "text_files": ["a.txt"],
    "print_stats": true, "rng": "philox",
    "prompt_input": {
        "num_turns": {"distribution": "constant", "value": 4},
        "common_prefix_num_tokens": {"distribution": "constant", "value": 3},
        "prefix_num_tokens": {"distribution": "constant", "value": 5},
        "num_tokens": {"distribution": "constant", "value": 7},
        "think_time_ms": {"distribution": "constant", "value": 10},
        "prefix_groups": {"num_groups": 4, "popularity": "zipf", "alpha": 1.5,
                          "prefix_num_tokens": {"distribution": "constant", "value": 9}},
        "first_turn_num_tokens": {"distribution": "constant", "value": 11}},
    "prompt_output": {"num_tokens": {"distribution": "constant", "value": 8},
                      "first_turn_num_tokens": {"distribution": "constant", "value": 12}}})";

// One valid distribution of each kind, with every optional field set.
const char* const kKinds[] = {
    R"({"distribution": "constant", "value": 6})",
    R"({"distribution": "uniform", "min": 2, "max": 9})",
    R"({"distribution": "lognormal", "average": 40, "median_ratio": 0.5, "max": 99})",
    R"({"distribution": "lognormal", "mean": 3, "sigma": 0.5, "max": 99})",
    R"({"distribution": "zipf", "alpha": 2.5, "max": 50})",
    R"({"distribution": "poisson", "alpha": 4.5, "max": 50})",
    R"({"distribution": "normal", "mean": 30, "stddev": 5, "min": 2, "max": 60})",
    R"({"distribution": "exponential", "mean": 20, "max": 80})",
    R"({"distribution": "pareto", "alpha": 1.5, "scale": 10, "max": 80})",
    R"({"distribution": "empirical", "values": [1, 5, 9], "weights": [1, 2.5, 0]})",
    R"({"distribution": "mixture", "components": [
        {"weight": 0.25, "distribution": {"distribution": "constant", "value": 3}},
        {"weight": 0.75, "distribution": {"distribution": "uniform", "min": 4, "max": 8}}],
        "max": 7})",
};

// The configs to mutate: kBase with each kind at each distribution field.
std::vector<v1::GenerationConfig> BaseConfigs() {
  ConfigErrors errors;
  const v1::GenerationConfig base = ConfigFromJson(kBase, errors);
  EXPECT_TRUE(errors.empty()) << errors.ToStatus();
  std::vector<v1::GenerationConfig> configs = {base};
  const std::vector<std::function<v1::Distribution*(v1::GenerationConfig&)>> fields = {
      [](auto& c) { return c.mutable_prompt_input()->mutable_num_turns(); },
      [](auto& c) { return c.mutable_prompt_input()->mutable_num_tokens(); },
      [](auto& c) {
        return c.mutable_prompt_input()->mutable_prefix_groups()->mutable_prefix_num_tokens();
      },
      [](auto& c) { return c.mutable_prompt_output()->mutable_first_turn_num_tokens(); },
  };
  for (const char* kind : kKinds) {
    const std::string json = std::string(R"({"filetype": "generate_conversations",
        "num_conversations": 1, "text_files": ["a"],
        "prompt_input": {"num_turns": )") +
                             kind + R"(, "prefix_num_tokens": )" + kind + R"(, "num_tokens": )" +
                             kind + R"(}, "prompt_output": {"num_tokens": )" + kind + "}}";
    ConfigErrors kind_errors;
    const v1::GenerationConfig holder = ConfigFromJson(json, kind_errors);
    EXPECT_TRUE(kind_errors.empty()) << kind << ": " << kind_errors.ToStatus();
    for (const auto& field : fields) {
      v1::GenerationConfig config = base;
      *field(config) = holder.prompt_input().num_tokens();
      configs.push_back(config);
    }
  }
  return configs;
}

// Edge values per scalar type.
const double kDoubles[] = {std::nan(""),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           -0.0,
                           0.0,
                           5e-324,
                           0.1,
                           0.30000000000000004,
                           1e15,
                           9007199254740993.0,
                           1e300,
                           std::numeric_limits<double>::max(),
                           -1.0};
const int64_t kInts[] = {std::numeric_limits<int64_t>::min(),
                         -1,
                         0,
                         1,
                         2,
                         9007199254740993,
                         int64_t{1} << 62,
                         (int64_t{1} << 62) + 1,
                         std::numeric_limits<int64_t>::max()};
// No invalid UTF-8: JSON cannot carry it, and protobuf refuses it in a
// proto3 string while parsing a request, before any config is read (the
// server's bad_input test sends one).
const std::string kStrings[] = {
    "", "a.txt", std::string("nul\0x", 5), "\x01\x1f\x7f", "b\xC3\xA9", "\xF0\x9F\x98\x80"};
const int kEnums[] = {0, 1, 2, 3, -1, 1000};

// Sets each scalar field below `message` (the first element of a repeated
// one) to each edge value in turn, calls `visit` with the message so
// changed, and restores it.
void ForEachMutation(Message* message, const std::function<void()>& visit) {
  const Reflection* reflection = message->GetReflection();
  const auto* descriptor = message->GetDescriptor();
  for (int f = 0; f < descriptor->field_count(); ++f) {
    const FieldDescriptor* field = descriptor->field(f);
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
          ForEachMutation(reflection->MutableRepeatedMessage(message, field, i), visit);
        }
      } else if (reflection->HasField(*message, field)) {
        ForEachMutation(reflection->MutableMessage(message, field), visit);
      }
      continue;
    }
    // A oneof member other than the set one would switch the kind: the
    // base configs cover every kind already.
    if (field->containing_oneof() != nullptr && !field->containing_oneof()->is_synthetic() &&
        !reflection->HasField(*message, field)) {
      continue;
    }
    const bool repeated = field->is_repeated();
    if (repeated && reflection->FieldSize(*message, field) == 0) continue;
    const auto with = [&](const std::function<void()>& set) {
      std::unique_ptr<Message> saved(message->New());
      saved->CopyFrom(*message);
      set();
      visit();
      message->CopyFrom(*saved);
    };
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_DOUBLE:
        for (double v : kDoubles) {
          with([&] {
            repeated ? reflection->SetRepeatedDouble(message, field, 0, v)
                     : reflection->SetDouble(message, field, v);
          });
        }
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        for (int64_t v : kInts) {
          with([&] {
            repeated ? reflection->SetRepeatedInt64(message, field, 0, v)
                     : reflection->SetInt64(message, field, v);
          });
        }
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        for (const std::string& v : kStrings) {
          with([&] {
            repeated ? reflection->SetRepeatedString(message, field, 0, v)
                     : reflection->SetString(message, field, v);
          });
        }
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        for (int v : kEnums) {
          with([&] {
            repeated ? reflection->SetRepeatedEnumValue(message, field, 0, v)
                     : reflection->SetEnumValue(message, field, v);
          });
        }
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        for (bool v : {false, true}) {
          with([&] {
            repeated ? reflection->SetRepeatedBool(message, field, 0, v)
                     : reflection->SetBool(message, field, v);
          });
        }
        break;
      default:
        ADD_FAILURE() << "no edge values for " << field->full_name();
    }
  }
}

// The property, for one typed config: refused, or its JSON reads back equal.
// rng set to RNG_UNSPECIFIED is written as no rng, which means the same.
void ExpectRefusedOrRoundTrips(const v1::GenerationConfig& config) {
  ConfigErrors errors;
  if (!SpecFromConfig(config, errors).has_value()) return;
  const std::string json = ConfigToJson(config);
  ConfigErrors reread_errors;
  v1::GenerationConfig reread = ConfigFromJson(json, reread_errors);
  reread_errors.BeginStage();
  const bool accepted = SpecFromConfig(reread, reread_errors).has_value();
  ASSERT_TRUE(accepted && reread_errors.empty())
      << "accepted typed config:\n"
      << config.DebugString() << "normalizes to JSON the reader refuses:\n"
      << json << reread_errors.ToStatus();
  v1::GenerationConfig expected = config;
  if (expected.has_rng() && expected.rng() == v1::RNG_UNSPECIFIED) expected.clear_rng();
  EXPECT_TRUE(MessageDifferencer::Equals(expected, reread))
      << "typed:\n"
      << config.DebugString() << "reads back from its JSON as:\n"
      << reread.DebugString() << "JSON:\n"
      << json;
}

TEST(TypedConfigRoundTripTest, EveryAcceptedEdgeValueRoundTripsThroughJson) {
  int visited = 0;
  for (const v1::GenerationConfig& base : BaseConfigs()) {
    ExpectRefusedOrRoundTrips(base);
    v1::GenerationConfig config = base;
    ForEachMutation(&config, [&] {
      ++visited;
      ExpectRefusedOrRoundTrips(config);
    });
    if (HasFailure()) return;  // one config's report is enough to read
  }
  // 45 base configs, each with dozens of fields and ~10 values per field.
  EXPECT_GT(visited, 10000);
}

// Mixtures may nest, but a typed config must not nest deeper than its JSON
// can be read: 10 nested mixtures at prompt_input.prefix_groups were
// accepted typed and refused as JSON ("nesting is deeper than 32 levels").
TEST(TypedConfigRoundTripTest, NestedMixturesAreRefusedOrRoundTrip) {
  ConfigErrors errors;
  const v1::GenerationConfig base = ConfigFromJson(kBase, errors);
  ASSERT_TRUE(errors.empty()) << errors.ToStatus();
  int deepest_accepted = 0;
  for (int depth = 1; depth <= 40; ++depth) {
    v1::GenerationConfig config = base;
    v1::Distribution* d =
        config.mutable_prompt_input()->mutable_prefix_groups()->mutable_prefix_num_tokens();
    for (int level = 0; level < depth; ++level) {
      v1::MixtureComponent* component = d->mutable_mixture()->add_components();
      component->set_weight(1);
      d = component->mutable_distribution();
    }
    d->mutable_constant()->set_value(3);
    ConfigErrors depth_errors;
    if (SpecFromConfig(config, depth_errors).has_value()) deepest_accepted = depth;
    if (depth == 9) {
      ASSERT_FALSE(depth_errors.empty()) << "9 nested mixtures were accepted";
      EXPECT_EQ(depth_errors.errors().front().path, "prompt_input.prefix_groups.prefix_num_tokens");
      EXPECT_THAT(depth_errors.errors().front().message,
                  ::testing::HasSubstr("mixtures may nest at most 8 deep"));
    }
    ExpectRefusedOrRoundTrips(config);
  }
  EXPECT_EQ(deepest_accepted, 8);
}

}  // namespace
}  // namespace convgen
