// The distribution registry: every kind of the proto is registered exactly
// once, and the messages built from the table read as they did when the
// kinds were listed by hand.
#include "core/distributions/registry.h"

#include <set>
#include <string>

#include "convgen/v1/config.pb.h"
#include "gtest/gtest.h"

namespace convgen {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::OneofDescriptor;

TEST(DistributionRegistryTest, EveryProtoKindHasExactlyOneRegisteredKind) {
  const OneofDescriptor* oneof = v1::Distribution::descriptor()->FindOneofByName("kind");
  ASSERT_NE(oneof, nullptr);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const FieldDescriptor* field = oneof->field(i);
    SCOPED_TRACE(field->name());
    v1::Distribution d;
    d.GetReflection()->MutableMessage(&d, field);  // sets the oneof case
    int holders = 0;
    for (const DistributionKind* kind : DistributionKinds()) {
      holders += kind->holds(d) ? 1 : 0;
    }
    EXPECT_EQ(holders, 1);
    EXPECT_NE(KindOf(d), nullptr);
  }
  EXPECT_EQ(KindOf(v1::Distribution()), nullptr);
}

TEST(DistributionRegistryTest, JsonNamesAreUniqueInTheDocumentedOrder) {
  std::string names;
  std::set<std::string> seen;
  for (const DistributionKind* kind : DistributionKinds()) {
    EXPECT_TRUE(seen.insert(std::string(kind->json_name)).second) << kind->json_name;
    names += (names.empty() ? "" : ", ") + std::string(kind->json_name);
  }
  EXPECT_EQ(names,
            "constant, uniform, lognormal, zipf, poisson, normal, exponential, "
            "pareto, empirical, mixture");
}

TEST(DistributionRegistryTest, MessagesListTheKindsFromTheTable) {
  ConfigErrors errors;
  v1::Distribution d;
  ReadDistributionJson(nlohmann::ordered_json::parse(R"({"distribution": "gamma", "alpha": 2})"),
                       "prompt_input.num_tokens", errors, d);
  ASSERT_EQ(errors.errors().size(), 1u);
  EXPECT_EQ(errors.errors()[0].ToString(),
            "prompt_input.num_tokens.distribution: unknown distribution "
            "\"gamma\"; expected one of constant, uniform, lognormal, zipf, "
            "poisson, normal, exponential, pareto, empirical, mixture");

  ConfigErrors cap_errors;
  v1::Distribution capped;
  capped.mutable_empirical()->add_values(3);
  capped.set_max(2);
  EXPECT_FALSE(CheckDistribution(capped, "x", cap_errors).has_value());
  ASSERT_EQ(cap_errors.errors().size(), 1u);
  EXPECT_EQ(cap_errors.errors()[0].ToString(),
            "x.max: constant, uniform and empirical take no cap");
}

TEST(DistributionRegistryTest, WritesDistributionFirstAndTheCapLast) {
  v1::Distribution d;
  d.mutable_pareto()->set_alpha(1.5);
  d.mutable_pareto()->set_scale(10);
  d.set_max(5000);
  EXPECT_EQ(DistributionToJson(d).dump(),
            R"({"distribution":"pareto","alpha":1.5,"scale":10,"max":5000})");
}

}  // namespace
}  // namespace convgen
