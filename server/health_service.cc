#include "server/health_service.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace convgen {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream: the current status, then each change, one write in
// flight (a status that changes again while a write is in flight is sent
// once that write is done, only its latest value). Its state is guarded by
// the service's mutex; the service's watcher set holds it from the first
// write until Finish, and OnDone (after Finish) deletes it.
class HealthService::WatchReactor : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  WatchReactor(HealthService* service, std::string service_name)
      : service_(service), service_name_(std::move(service_name)) {}

  const std::string& service_name() const { return service_name_; }

  // Sends `status` unless it is the last one sent; after Shutdown, then ends
  // the stream.
  void SendLocked(ServingStatus status) {
    if (finished_) return;
    if (writing_) {
      pending_ = status;
      return;
    }
    if (sent_any_ && status == last_sent_) {
      EndIfShutDownLocked();
      return;
    }
    writing_ = true;
    sent_any_ = true;
    last_sent_ = status;
    response_.set_status(status);
    StartWrite(&response_);
  }

  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    service_->watchers_.erase(this);
    Finish(status);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(service_->mutex_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    } else if (pending_.has_value()) {
      const ServingStatus next = *pending_;
      pending_.reset();
      SendLocked(next);
    } else {
      EndIfShutDownLocked();
    }
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(service_->mutex_);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override { delete this; }

 private:
  void EndIfShutDownLocked() {
    if (!service_->shut_down_) return;
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  }

  HealthService* service_;
  const std::string service_name_;
  HealthCheckResponse response_;
  bool writing_ = false;
  bool sent_any_ = false;
  ServingStatus last_sent_ = HealthCheckResponse::UNKNOWN;
  std::optional<ServingStatus> pending_;
  bool finished_ = false;
};

HealthService::HealthService(int64_t max_watch_streams) : max_watch_streams_(max_watch_streams) {}

HealthService::ServingStatus HealthService::StatusLocked(const std::string& service_name) const {
  const auto it = statuses_.find(service_name);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
}

void HealthService::SetLocked(const std::string& service_name, ServingStatus status) {
  statuses_[service_name] = status;
  for (WatchReactor* watcher : watchers_) {
    if (watcher->service_name() == service_name) watcher->SendLocked(status);
  }
}

void HealthService::SetServingStatus(const std::string& service_name, bool serving) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (shut_down_) return;
  SetLocked(service_name,
            serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
}

void HealthService::SetServingStatus(bool serving) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (shut_down_) return;
  for (auto& [name, status] : statuses_) {
    SetLocked(name, serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
  }
}

void HealthService::Shutdown() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (shut_down_) return;
  shut_down_ = true;
  for (auto& [name, status] : statuses_) status = HealthCheckResponse::NOT_SERVING;
  // SendLocked may finish a watcher, which leaves the set: iterate a copy.
  const absl::flat_hash_set<WatchReactor*> watchers = watchers_;
  for (WatchReactor* watcher : watchers) {
    watcher->SendLocked(StatusLocked(watcher->service_name()));
  }
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context,
                                               const HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = statuses_.find(request->service());
  if (it == statuses_.end()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service name"));
  } else {
    response->set_status(it->second);
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext*, const HealthCheckRequest* request) {
  auto* reactor = new WatchReactor(this, request->service());
  std::lock_guard<std::mutex> lock(mutex_);
  if (static_cast<int64_t>(watchers_.size()) >= max_watch_streams_) {
    reactor->FinishLocked(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("this server already has ", max_watch_streams_,
                     " Watch streams open (--max-watch-streams); use Check, or retry later")));
    return reactor;
  }
  watchers_.insert(reactor);
  reactor->SendLocked(StatusLocked(request->service()));
  return reactor;
}

int64_t HealthService::watch_streams() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(watchers_.size());
}

}  // namespace convgen
