// Conversions between the wire messages and core types, in one file: a
// request into core's GenerationRequest, core's answers and events into
// responses.
#ifndef CONVGEN_SERVER_PROTO_CONVERT_H_
#define CONVGEN_SERVER_PROTO_CONVERT_H_

#include <vector>

#include "convgen/v1/service.pb.h"
#include "core/conversation/conversation_stream.h"
#include "core/json/config_errors.h"
#include "core/request/generation_request.h"

namespace convgen {

// The request in core's terms. Inline texts borrow from `request`, which
// must outlive the result.
GenerationRequest RequestFromProto(const v1::GenerateRequest& request);

// Validate's answer for a prepared job, or for config problems.
void JobToProto(const GenerationJob& job, v1::ValidateResponse* out);
void ProblemsToProto(const std::vector<ConfigError>& problems, v1::ValidateResponse* out);

void EventToProto(const StreamEvent& event, v1::GenerateResponse* out);

}  // namespace convgen

#endif  // CONVGEN_SERVER_PROTO_CONVERT_H_
