// Fuzz target: arbitrary bytes as a binary GenerateRequest, through the
// server's request path (proto -> GenerationRequest -> PrepareGeneration,
// with the embedded tokenizer and corpus) and, when that succeeds, the
// first conversation of the stream under tight limits.
// Invariants: no crash; a refusal carries a message; config problems come
// with their list; every built message has exactly its token count.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "convgen/v1/service.pb.h"
#include "core/request/generation_request.h"
#include "server/proto_convert.h"

namespace {

convgen::Workspace& TheWorkspace() {
  static convgen::Workspace* workspace = [] {
    convgen::WorkspaceOptions options;
    options.data_dir = std::string(CONVGEN_SOURCE_DIR) + "/data";
    options.corpus_cache_bytes = 64 << 20;
    return convgen::Workspace::Create(options)->release();
  }();
  return *workspace;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  convgen::v1::GenerateRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  convgen::RequestLimits limits;
  limits.max_message_bytes = 2048;
  limits.max_messages_per_conversation = 16;
  limits.max_numpy_legacy_draws = 1 << 20;
  limits.max_inline_corpus_bytes = 1 << 16;
  std::vector<convgen::ConfigError> problems;
  auto job = convgen::PrepareGeneration(TheWorkspace(), convgen::RequestFromProto(request), limits,
                                        &problems);
  if (!job.ok()) {
    if (job.status().message().empty()) std::abort();
    return 0;
  }
  if (!problems.empty()) std::abort();  // problems only come with a refusal
  auto stream = (*job)->OpenStream();
  if (!stream.ok()) {
    if (stream.status().message().empty()) std::abort();
    return 0;
  }
  // The request's own tokenizer: a name, or a tokenizer.json it sent.
  const auto resolved =
      TheWorkspace().ResolveTokenizer(request.tokenizer(), request.tokenizer_json());
  if (!resolved.ok()) std::abort();  // PrepareGeneration resolved it
  const auto tokenizer = &resolved->tokenizer;
  for (int i = 0; i < 20; ++i) {  // the first conversation at most
    auto event = (*stream)->Next();
    if (!event.ok()) {
      if (event.status().message().empty()) std::abort();
      return 0;
    }
    if (*event == nullptr || std::holds_alternative<convgen::ConversationEnd>(**event)) break;
    const auto* message = std::get_if<convgen::Message>(*event);
    if (message != nullptr &&
        static_cast<int64_t>((*tokenizer)->Count(message->content)) != message->num_tokens) {
      std::abort();
    }
  }
  return 0;
}
