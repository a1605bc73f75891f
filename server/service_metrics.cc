#include "server/service_metrics.h"

namespace convgen {
namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
  return *buckets;
}

}  // namespace

ServiceMetrics::ServiceMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  started_ = &prometheus::BuildCounter()
                  .Name("convgen_rpcs_started_total")
                  .Help("RPCs started, by method")
                  .Register(*registry_);
  handled_ = &prometheus::BuildCounter()
                  .Name("convgen_rpcs_handled_total")
                  .Help("RPCs finished, by method and gRPC status code")
                  .Register(*registry_);
  handling_seconds_ = &prometheus::BuildHistogram()
                           .Name("convgen_rpc_handling_seconds")
                           .Help("Time from an RPC's start to its finish, by method")
                           .Register(*registry_);
  first_message_ = &prometheus::BuildHistogram()
                        .Name("convgen_time_to_first_message_seconds")
                        .Help("Time from a Generate call to its first streamed message")
                        .Register(*registry_)
                        .Add({}, LatencyBuckets());
  messages_sent_ = &prometheus::BuildCounter()
                        .Name("convgen_stream_messages_sent_total")
                        .Help("Messages written on Generate streams")
                        .Register(*registry_)
                        .Add({});
  conversations_ = &prometheus::BuildCounter()
                        .Name("convgen_conversations_generated_total")
                        .Help("Conversations generated")
                        .Register(*registry_)
                        .Add({});
  tokens_ = &prometheus::BuildCounter()
                 .Name("convgen_tokens_generated_total")
                 .Help("Tokens of generated message text")
                 .Register(*registry_)
                 .Add({});
  active_streams_ = &prometheus::BuildGauge()
                         .Name("convgen_active_streams")
                         .Help("Generate streams in progress")
                         .Register(*registry_)
                         .Add({});
  auto& request_tokenizers = prometheus::BuildCounter()
                                 .Name("convgen_request_tokenizers_total")
                                 .Help(
                                     "Request tokenizers (sent, or from the Hugging Face cache "
                                     "on demand) by result: loaded, or found cached")
                                 .Register(*registry_);
  request_tokenizer_loads_ = &request_tokenizers.Add({{"result", "loaded"}});
  request_tokenizer_hits_ = &request_tokenizers.Add({{"result", "cached"}});
  request_tokenizers_cached_ = &prometheus::BuildGauge()
                                    .Name("convgen_request_tokenizers_cached")
                                    .Help("Request tokenizers kept loaded now")
                                    .Register(*registry_)
                                    .Add({});
}

void ServiceMetrics::RpcStarted(const std::string& method) {
  started_->Add({{"method", method}}).Increment();
}

void ServiceMetrics::RpcHandled(const std::string& method, const std::string& code,
                                double seconds) {
  handled_->Add({{"method", method}, {"code", code}}).Increment();
  handling_seconds_->Add({{"method", method}}, LatencyBuckets()).Observe(seconds);
}

}  // namespace convgen
