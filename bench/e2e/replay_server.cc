// The limit for the end-to-end benchmark: a ConversationService whose
// Generate streams responses built before the first request (the same
// conversations convgen-server would generate for the given config and
// seed), through the same callback API with one write in flight. What the
// real server adds on top of this is the cost of generating.
//   replay_server --listen 127.0.0.1:0 --config CONFIG --seed N
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "convgen/v1/service.grpc.pb.h"
#include "core/config/generation_spec.h"
#include "core/conversation/conversation_stream.h"
#include "core/files.h"
#include "core/request/workspace.h"
#include "grpcpp/grpcpp.h"
#include "server/proto_convert.h"

namespace convgen {
namespace {

class ReplayService final : public v1::ConversationService::CallbackService {
 public:
  explicit ReplayService(std::vector<v1::GenerateResponse> responses)
      : responses_(std::move(responses)) {}

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(grpc::CallbackServerContext*,
                                                           const v1::GenerateRequest*) override {
    class Reactor : public grpc::ServerWriteReactor<v1::GenerateResponse> {
     public:
      explicit Reactor(const std::vector<v1::GenerateResponse>& r) : responses_(r) { Next(); }
      void OnWriteDone(bool ok) override {
        if (!ok) {
          Finish(grpc::Status::CANCELLED);
          return;
        }
        Next();
      }
      void OnDone() override { delete this; }

     private:
      void Next() {
        if (next_ == responses_.size()) {
          Finish(grpc::Status::OK);
          return;
        }
        StartWrite(&responses_[next_++]);
      }
      const std::vector<v1::GenerateResponse>& responses_;
      size_t next_ = 0;
    };
    return new Reactor(responses_);
  }

 private:
  std::vector<v1::GenerateResponse> responses_;
};

}  // namespace
}  // namespace convgen

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0", config_path, data_dir = CONVGEN_DEFAULT_DATA_DIR;
  uint64_t seed = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--listen") listen = argv[i + 1];
    if (flag == "--config") config_path = argv[i + 1];
    if (flag == "--seed") seed = std::stoull(argv[i + 1]);
  }
  using namespace convgen;
  auto spec = LoadSpecFromJson(*ReadFileToString(config_path));
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", std::string(spec.status().message()).c_str());
    return 2;
  }
  WorkspaceOptions workspace_options;
  workspace_options.data_dir = data_dir;
  auto workspace = *Workspace::Create(workspace_options);
  auto tokenizer = *workspace->GetTokenizer("");
  auto corpus = *workspace->GetCorpus(spec->text_files, {}, "", *tokenizer, nullptr);
  auto stream = *ConversationStream::Create(*spec, {.seed = seed}, ConversationPlanner(*spec, seed),
                                            corpus, tokenizer);
  std::vector<v1::GenerateResponse> responses;
  while (const StreamEvent* event = *stream->Next()) {
    EventToProto(*event, &responses.emplace_back());
  }
  ReplayService service(std::move(responses));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  std::printf("listening on %s:%d\n", listen.substr(0, listen.rfind(':')).c_str(), port);
  std::fflush(stdout);
  server->Wait();
  return 0;
}
