// GenerationSpec: a config that passed every rule, with its distributions
// built and defaults filled in (what the conversation core consumes), and
// the functions that produce it from a proto or from vLLM's JSON text.
// Values are immutable after construction and safe to share across threads.
#ifndef CONVGEN_CORE_CONFIG_GENERATION_SPEC_H_
#define CONVGEN_CORE_CONFIG_GENERATION_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "convgen/v1/config.pb.h"
#include "core/distributions/int_distribution.h"
#include "core/json/config_errors.h"

namespace convgen {

inline constexpr absl::string_view kConversationsFiletype = "generate_conversations";

// How sizes are sampled: keyed Philox streams (convgen's own, random access),
// or numpy's legacy RandomState in vLLM's draw order (to reproduce vLLM).
enum class SizeRng { kPhilox, kNumpyLegacy };
// numpy_legacy draws every turn count up front, as vLLM: this bounds that.
inline constexpr int64_t kMaxNumpyLegacyConversations = 10'000'000;

// Where sizes come from instead of the size distributions (see
// ShapeSource in config.proto and core/shape/).
struct ShapeSourceSpec {
  v1::ShapeFormat format = v1::SHAPE_FORMAT_SHAREGPT;
  std::string path;          // a text_files-like name
  bool fit = false;          // mode "fit"; else "replay"
  int64_t block_size = 512;  // mooncake: tokens per hash_ids block
};
inline constexpr int64_t kDefaultShapeBlockSize = 512;
inline constexpr int64_t kMaxShapeBlockSize = 65536;

struct GenerationSpec {
  int64_t num_conversations = 0;
  SizeRng rng = SizeRng::kPhilox;
  std::vector<std::string> text_files;
  bool print_stats = false;
  IntDistribution num_turns = IntDistribution::MakeConstant(2);
  IntDistribution common_prefix_num_tokens = IntDistribution::MakeConstant(0);
  IntDistribution prefix_num_tokens = IntDistribution::MakeConstant(0);
  IntDistribution input_num_tokens = IntDistribution::MakeConstant(0);
  IntDistribution output_num_tokens = IntDistribution::MakeConstant(0);
  // convgen's additions, absent unless configured.
  std::optional<IntDistribution> think_time_ms;
  std::optional<IntDistribution> first_turn_input_num_tokens;
  std::optional<IntDistribution> first_turn_output_num_tokens;
  struct PrefixGroups {
    int64_t num_groups;
    IntDistribution group;  // values 0 .. num_groups-1, by popularity
    IntDistribution prefix_num_tokens;
  };
  std::optional<PrefixGroups> prefix_groups;
  // With a shape_source, turns and message sizes are the source's:
  // num_turns, every *num_tokens field and prefix_groups are refused, the
  // distributions above keep their defaults (and are not used), and
  // think_time_ms is the only size field allowed.
  std::optional<ShapeSourceSpec> shape_source;
};

inline constexpr int64_t kMaxPrefixGroups = 100000;

// Checks every rule of `config`, adding each violation to `errors` at its
// JSON path. Returns the spec iff there were no errors before or during.
std::optional<GenerationSpec> SpecFromConfig(const v1::GenerationConfig& config,
                                             ConfigErrors& errors);

// Returns the spec of a typed config, or InvalidArgument listing every problem.
absl::StatusOr<GenerationSpec> LoadSpec(const v1::GenerationConfig& config);

// Reads vLLM JSON text (config_json.h) and checks every rule, adding all
// problems of both steps to `errors`. Returns the spec iff there were none;
// `config_out` (if given) receives the proto that was read.
std::optional<GenerationSpec> SpecFromJson(absl::string_view json, ConfigErrors& errors,
                                           v1::GenerationConfig* config_out = nullptr);

// SpecFromJson, with the problems as one InvalidArgument status.
absl::StatusOr<GenerationSpec> LoadSpecFromJson(absl::string_view json,
                                                v1::GenerationConfig* config_out = nullptr);

}  // namespace convgen

#endif  // CONVGEN_CORE_CONFIG_GENERATION_SPEC_H_
