// Conversion between vLLM's multi-turn JSON config format and the
// convgen.v1.GenerationConfig proto. Both directions are lossless: a config
// read from JSON and written back reads to an equal proto.
//
// Reading checks syntax, types and field names only; value rules (ranges,
// min <= max, ...) are checked by SpecFromConfig (generation_spec.h), so
// typed proto requests get the same checks. Stateless and thread-safe.
#ifndef CONVGEN_CORE_CONFIG_CONFIG_JSON_H_
#define CONVGEN_CORE_CONFIG_CONFIG_JSON_H_

#include <string>

#include "absl/strings/string_view.h"
#include "convgen/v1/config.pb.h"
#include "core/json/config_errors.h"

namespace convgen {

// Reads a config from JSON text. Adds every problem found to `errors`; the
// returned proto holds whatever could be read.
v1::GenerationConfig ConfigFromJson(absl::string_view json, ConfigErrors& errors);

// Writes a config in vLLM's JSON format (4-space indent, vLLM's key order).
std::string ConfigToJson(const v1::GenerationConfig& config);

}  // namespace convgen

#endif  // CONVGEN_CORE_CONFIG_CONFIG_JSON_H_
