// Fuzz target: arbitrary bytes through the whole config path (strict JSON,
// JSON -> proto, rules -> spec), then the proto back to JSON and again.
// Invariants: nothing crashes; a config that loads round-trips to an equal
// proto; a spec's distributions can be sampled.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "core/config/config_json.h"
#include "core/config/generation_spec.h"
#include "google/protobuf/util/message_differencer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  convgen::v1::GenerationConfig config;
  convgen::ConfigErrors errors;
  std::optional<convgen::GenerationSpec> spec = convgen::SpecFromJson(text, errors, &config);
  if (!spec) {
    if (errors.empty()) std::abort();  // a refusal must say why
    return 0;
  }
  convgen::ConfigErrors reread_errors;
  const convgen::v1::GenerationConfig reread =
      convgen::ConfigFromJson(convgen::ConfigToJson(config), reread_errors);
  if (!reread_errors.empty() ||
      !google::protobuf::util::MessageDifferencer::Equals(config, reread)) {
    std::abort();
  }
  convgen::RandomStream stream({.seed = size});
  for (const convgen::IntDistribution* d :
       {&spec->num_turns, &spec->common_prefix_num_tokens, &spec->prefix_num_tokens,
        &spec->input_num_tokens, &spec->output_num_tokens}) {
    const int64_t value = d->Sample(stream);
    if (value < 0 || value > convgen::kMaxSampleValue) std::abort();
    if (d->cap() > 0 && value > d->cap()) std::abort();
  }
  return 0;
}
