// ReflectionService: grpc.reflection.v1alpha.ServerReflection (what grpcurl
// and other reflection clients use), answered from the generated descriptor
// pool. It replaces gRPC 1.51's reflection plugin, whose stream handler keeps
// one response message for the whole stream and appends each answer to it,
// so that reply k carries the answers to requests 1..k (replies grow with
// the square of the requests). Here each reply is built afresh, one read or
// one write is in flight per stream, and names are bounded, so a stream's
// memory and bytes out grow with what it asks, never more.
// Thread-safe; the answers are cheap lookups made on gRPC's callback threads.
#ifndef CONVGEN_SERVER_REFLECTION_SERVICE_H_
#define CONVGEN_SERVER_REFLECTION_SERVICE_H_

#include <string>
#include <vector>

#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace convgen {

class ReflectionService final
    : public grpc::reflection::v1alpha::ServerReflection::CallbackService {
 public:
  // Longest file, symbol or host name a request may carry; longer ones are
  // answered with INVALID_ARGUMENT and are not echoed back.
  static constexpr size_t kMaxNameBytes = 1024;

  // `services`: the full names list_services answers (those the server
  // registered, this one included).
  explicit ReflectionService(std::vector<std::string> services);

  grpc::ServerBidiReactor<grpc::reflection::v1alpha::ServerReflectionRequest,
                          grpc::reflection::v1alpha::ServerReflectionResponse>*
  ServerReflectionInfo(grpc::CallbackServerContext* context) override;

  // Fills `response` (which the caller has cleared) with the answer to
  // `request`; for tests.
  void Answer(const grpc::reflection::v1alpha::ServerReflectionRequest& request,
              grpc::reflection::v1alpha::ServerReflectionResponse* response) const;

 private:
  const std::vector<std::string> services_;
};

}  // namespace convgen

#endif  // CONVGEN_SERVER_REFLECTION_SERVICE_H_
