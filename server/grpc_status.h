// The one place absl::Status becomes grpc::Status.
#ifndef CONVGEN_SERVER_GRPC_STATUS_H_
#define CONVGEN_SERVER_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace convgen {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace convgen

#endif  // CONVGEN_SERVER_GRPC_STATUS_H_
