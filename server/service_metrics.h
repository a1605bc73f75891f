// ServiceMetrics: the server's Prometheus metrics (prometheus-cpp), served in
// text format on their own port. Thread-safe (prometheus-cpp's metrics are).
#ifndef CONVGEN_SERVER_SERVICE_METRICS_H_
#define CONVGEN_SERVER_SERVICE_METRICS_H_

#include <memory>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace convgen {

class ServiceMetrics {
 public:
  ServiceMetrics();

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  void RpcStarted(const std::string& method);
  // code: the gRPC status code name, e.g. "OK", "CANCELLED".
  void RpcHandled(const std::string& method, const std::string& code, double seconds);
  void FirstMessage(double seconds) { first_message_->Observe(seconds); }
  void MessageSent() { messages_sent_->Increment(); }
  void ConversationGenerated(double tokens) {
    conversations_->Increment();
    tokens_->Increment(tokens);
  }
  prometheus::Gauge& active_streams() { return *active_streams_; }
  // A request's tokenizer (sent, or from the hub cache on demand): loaded
  // now, or found in the server's cache; `cached`: entries cached now.
  void RequestTokenizer(bool loaded, size_t cached) {
    (loaded ? request_tokenizer_loads_ : request_tokenizer_hits_)->Increment();
    request_tokenizers_cached_->Set(static_cast<double>(cached));
  }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* started_;
  prometheus::Family<prometheus::Counter>* handled_;
  prometheus::Family<prometheus::Histogram>* handling_seconds_;
  prometheus::Histogram* first_message_;
  prometheus::Counter* messages_sent_;
  prometheus::Counter* conversations_;
  prometheus::Counter* tokens_;
  prometheus::Gauge* active_streams_;
  prometheus::Counter* request_tokenizer_loads_;
  prometheus::Counter* request_tokenizer_hits_;
  prometheus::Gauge* request_tokenizers_cached_;
};

}  // namespace convgen

#endif  // CONVGEN_SERVER_SERVICE_METRICS_H_
