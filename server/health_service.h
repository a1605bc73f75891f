// HealthService: grpc.health.v1.Health (Check and Watch) with a cap on open
// Watch streams, in place of gRPC's default health service, which accepts
// any number of Watch streams (each holds memory for as long as its client
// keeps it open). It is also the server's HealthCheckServiceInterface, so
// Server::GetHealthCheckService() sets statuses as before: hand it to the
// builder with grpc::HealthCheckServiceServerBuilderOption (which owns it)
// and register it as a service. Watch streams hear every change of their
// service's status; Shutdown() sets every status NOT_SERVING, tells the
// watchers, then ends their streams. Thread-safe.
#ifndef CONVGEN_SERVER_HEALTH_SERVICE_H_
#define CONVGEN_SERVER_HEALTH_SERVICE_H_

#include <cstdint>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/health_check_service_interface.h"

namespace convgen {

class HealthService final : public grpc::HealthCheckServiceInterface,
                            public grpc::health::v1::Health::CallbackService {
 public:
  // Beyond max_watch_streams open Watch streams, Watch answers
  // RESOURCE_EXHAUSTED (naming --max-watch-streams).
  explicit HealthService(int64_t max_watch_streams);

  void SetServingStatus(const std::string& service_name, bool serving) override;
  void SetServingStatus(bool serving) override;  // every service named so far
  void Shutdown() override;                      // later changes are ignored

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

  // Open Watch streams; for tests and logs.
  int64_t watch_streams() const;

 private:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;
  class WatchReactor;

  ServingStatus StatusLocked(const std::string& service_name) const;
  void SetLocked(const std::string& service_name, ServingStatus status);

  const int64_t max_watch_streams_;
  mutable std::mutex mutex_;  // guards what follows and every WatchReactor's state
  absl::flat_hash_map<std::string, ServingStatus> statuses_;
  absl::flat_hash_set<WatchReactor*> watchers_;  // registered until they finish
  bool shut_down_ = false;
};

}  // namespace convgen

#endif  // CONVGEN_SERVER_HEALTH_SERVICE_H_
