#include "server/grpc_status.h"

#include <string>

namespace convgen {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  // absl and gRPC share the canonical code numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace convgen
