// Conversions between the wire messages and core types, in one file.
#ifndef CONVGEN_SERVER_PROTO_CONVERT_H_
#define CONVGEN_SERVER_PROTO_CONVERT_H_

#include <vector>

#include "convgen/v1/service.pb.h"
#include "core/config/config_errors.h"
#include "core/config/generation_spec.h"
#include "core/conversation/conversation_stream.h"
#include "core/request/workspace.h"
#include "core/stats/summary_stats.h"

namespace convgen {

// Reads the request's config (typed or JSON), adding every problem to
// errors; `config` receives the proto read.
std::optional<GenerationSpec> SpecFromRequest(const v1::GenerateRequest& request,
                                              ConfigErrors& errors, v1::GenerationConfig* config);

StreamOptions StreamOptionsFromRequest(const v1::GenerateRequest& request);
std::vector<InlineText> InlineTextsFromRequest(const v1::GenerateRequest& request);

void TurnToProto(const Turn& turn, v1::TurnMessage* out);
void SummaryToProto(const GenerationSummary& summary, v1::Summary* out);

}  // namespace convgen

#endif  // CONVGEN_SERVER_PROTO_CONVERT_H_
