#include "server/server_runner.h"

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/files.h"
#include "core/status_macros.h"
#include "grpcpp/ext/health_check_service_server_builder_option.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "prometheus/exposer.h"
#include "server/connection_limits.h"
#include "server/health_service.h"
#include "server/reflection_service.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace convgen {
namespace {

// After the drain deadline, how long stopped streams get to deliver their
// UNAVAILABLE status (behind the message already in flight) before Shutdown
// cancels the rest.
constexpr std::chrono::milliseconds kStopGrace(2000);

// Set when a gRPC listener has stopped accepting (connection_limits.h): the
// server drains as on SIGTERM, reports not live and exits 3.
std::atomic<bool> listener_dead{false};

// Signals are taken by a dedicated thread (sigwait), so they are blocked
// before any other thread exists.
sigset_t BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

void SetUpLogging(const ServerOptions& options) {
  // Logs go to stderr; stdout carries only the "listening on" lines.
  spdlog::set_default_logger(spdlog::stderr_color_mt("convgen"));
  if (options.log_format == "json") {
    spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","message":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  }
  spdlog::set_level(spdlog::level::from_str(options.log_level));
}

// Limits that make no sense, named by their flag.
absl::Status CheckOptions(const ServerOptions& options) {
  // Each numeric flag's range (NaN is in none); int64 values are compared
  // as doubles, exact at these magnitudes.
  struct Range {
    const char* flag;
    double value, min, max;
    const char* expected;
  };
  constexpr double kBig = 1e15;     // bytes or counts nobody means
  constexpr double kGiB = 1 << 30;  // gRPC's message sizes are 32-bit
  constexpr double kYear = 3.2e7;   // seconds
  const ServiceLimits& limits = options.limits;
  const Range ranges[] = {
      {"max-memory", static_cast<double>(options.max_memory_bytes), 0, kBig,
       "bytes, 0 (no limit) or more"},
      {"max-corpus-bytes", static_cast<double>(options.max_corpus_bytes), 1, kBig, "bytes > 0"},
      {"max-inline-corpus-bytes", static_cast<double>(limits.max_inline_corpus_bytes), 0, kGiB,
       "bytes from 0 to 1 GiB"},
      {"max-message-bytes", static_cast<double>(limits.max_message_bytes), 1, kGiB,
       "bytes from 1 to 1 GiB"},
      {"grpc-memory-bytes", static_cast<double>(options.grpc_memory_bytes), 0, kBig,
       "bytes (at least twice --max-inline-corpus-bytes + 1 MiB)"},
      {"max-conversations-per-request", static_cast<double>(limits.max_conversations_per_request),
       1, kBig, "a count > 0"},
      {"max-messages-per-conversation", static_cast<double>(limits.max_messages_per_conversation),
       1, kBig, "a count > 0"},
      {"max-concurrent-streams", static_cast<double>(limits.max_concurrent_streams), 1, kBig,
       "a count > 0"},
      {"max-watch-streams", static_cast<double>(options.max_watch_streams), 0, kBig,
       "a count >= 0"},
      {"max-build-cpu-seconds", limits.max_build_cpu_seconds, 0, kYear,
       "seconds between 0 (no limit) and 3.2e7"},
      {"max-stall-seconds", limits.max_stall_seconds, 0, kYear,
       "seconds between 0 (never) and 3.2e7"},
      {"drain-seconds", options.drain_seconds, 0, kYear, "seconds between 0 and 3.2e7"},
  };
  for (const Range& range : ranges) {
    if (!(range.value >= range.min && range.value <= range.max)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", range.flag, ": expected ", range.expected));
    }
  }
  return absl::OkStatus();
}

// glibc's malloc keeps freed memory for reuse: large blocks move from mmap
// to its heaps once a large block was freed (a dynamic threshold), and each
// of many threads gets its own arena. A server whose requests come and go in
// tens of MiB then holds far more than its requests do (a hostile run: RSS
// 400 MiB past what the memory budget had reserved). A fixed 1 MiB mmap
// threshold returns every large block to the system when it is freed, and
// few arenas bound what the heaps keep.
void ReturnFreedMemory() {
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_ARENA_MAX, 4);
}

// The bytes the process holds in memory now.
int64_t ResidentBytes() {
  long pages = 0, resident = 0;
  if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(statm);
  }
  return static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE);
}

// Every tokenizer is loaded and checked before the server listens.
absl::StatusOr<std::unique_ptr<Workspace>> MakeWorkspace(const ServerOptions& options) {
  WorkspaceOptions workspace_options;
  workspace_options.data_dir = options.data_dir;
  workspace_options.corpus_dir = options.corpus_dir;
  workspace_options.memory_budget_bytes = options.max_memory_bytes;
  workspace_options.max_corpus_bytes = options.max_corpus_bytes;
  if (options.max_memory_bytes > 0) {
    workspace_options.corpus_cache_bytes = static_cast<size_t>(options.max_memory_bytes / 4);
  }
  for (const std::string& flag : options.tokenizers) {
    const std::vector<std::string> parts = absl::StrSplit(flag, absl::MaxSplits('=', 1));
    if (parts.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat("--tokenizer ", flag, ": expected NAME=PATH"));
    }
    workspace_options.tokenizers.emplace_back(parts[0], parts[1]);
  }
  CONVGEN_ASSIGN_OR_RETURN(std::unique_ptr<Workspace> workspace,
                           Workspace::Create(workspace_options));
  CONVGEN_RETURN_IF_ERROR(workspace->LoadAllTokenizers());
  return workspace;
}

// What the process holds once its tokenizers are loaded, reserved for good
// in the memory budget, so that requests get the rest.
absl::StatusOr<MemoryBudget::Reservation> ReserveBaseline(Workspace& workspace,
                                                          const ServerOptions& options) {
  const int64_t resident = ResidentBytes();
  absl::StatusOr<MemoryBudget::Reservation> reserved =
      workspace.memory_budget().Reserve(resident, "the server's tokenizers and code");
  if (!reserved.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-memory ", options.max_memory_bytes, " is below what the server holds once its ",
        "tokenizers are loaded (", resident, " bytes); raise it (0: no limit)"));
  }
  spdlog::info("memory: {} MiB held at start, of --max-memory {} MiB", resident >> 20,
               options.max_memory_bytes >> 20);
  return reserved;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const ServerOptions& options) {
  if (options.tls_cert.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(
      options.tls_client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                    : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  CONVGEN_ASSIGN_OR_RETURN(std::string key, ReadFileToString(options.tls_key));
  CONVGEN_ASSIGN_OR_RETURN(std::string cert, ReadFileToString(options.tls_cert));
  ssl.pem_key_cert_pairs.push_back({std::move(key), std::move(cert)});
  if (!options.tls_client_ca.empty()) {
    CONVGEN_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadFileToString(options.tls_client_ca));
  }
  return grpc::SslServerCredentials(ssl);
}

// Returns the started server (null if an address cannot be bound), or
// InvalidArgument for a bad limit; `ports` receives the bound TCP ports (0 for
// unix sockets). `reflection` may be null.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const ServerOptions& options, std::shared_ptr<grpc::ServerCredentials> credentials,
    ConversationServiceImpl* service, ReflectionService* reflection, std::vector<int>& ports) {
  grpc::ServerBuilder builder;
  // gRPC's own health service and reflection plugin are unbounded (see
  // health_service.h, reflection_service.h); the server owns this one.
  grpc::EnableDefaultHealthCheckService(false);
  auto health = std::make_unique<HealthService>(options.max_watch_streams);
  builder.RegisterService(health.get());
  builder.SetOption(
      std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(std::move(health)));
  if (reflection != nullptr) builder.RegisterService(reflection);
  const std::vector<std::string>& listen = options.listen;
  ports.assign(listen.size(), 0);
  for (size_t i = 0; i < listen.size(); ++i) {
    builder.AddListeningPort(listen[i], credentials,
                             absl::StartsWith(listen[i], "unix:") ? nullptr : &ports[i]);
  }
  builder.RegisterService(service);
  const ServiceLimits& limits = options.limits;
  const int max_receive_bytes =
      static_cast<int>(std::min<int64_t>(limits.max_inline_corpus_bytes + (1 << 20), INT32_MAX));
  builder.SetMaxReceiveMessageSize(max_receive_bytes);
  if (absl::Status bounded = BoundReceivedBytes(max_receive_bytes, options.grpc_memory_bytes,
                                                options.accept_compressed_requests, builder);
      !bounded.ok()) {
    return bounded;
  }
  builder.SetMaxSendMessageSize(
      static_cast<int>(std::min<int64_t>(limits.max_message_bytes + (1 << 16), INT32_MAX)));
  // Drivers may ping every 10 s on long, slow streams.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // A port another process listens on is an error, not a shared port
  // (gRPC sets SO_REUSEPORT by default).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  return builder.BuildAndStart();
}

void PrintListening(const std::vector<std::string>& listen, const std::vector<int>& ports) {
  for (size_t i = 0; i < listen.size(); ++i) {
    const std::string address =
        absl::StartsWith(listen[i], "unix:")
            ? listen[i]
            : absl::StrCat(listen[i].substr(0, listen[i].rfind(':')), ":", ports[i]);
    std::printf("listening on %s\n", address.c_str());
    spdlog::info("listening on {}", address);
  }
  std::fflush(stdout);
}

// Waits for SIGTERM or SIGINT, then drains: not ready at once, new streams
// refused, open streams run up to drain_seconds, then are stopped and the
// server shut down.
void DrainOnSignal(sigset_t signals, double drain_seconds, ConversationServiceImpl& service,
                   grpc::Server& server) {
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("signal {}: not ready; draining {} open streams for up to {} s", signal_number,
               service.active_streams(), drain_seconds);
  grpc::HealthCheckServiceInterface* health = server.GetHealthCheckService();
  health->SetServingStatus("readiness", false);
  health->SetServingStatus("", false);
  if (listener_dead) {
    health->SetServingStatus("liveness", false);
    spdlog::error(
        "a listener stopped accepting connections (gRPC 1.51 gives up after one failed "
        "accept4, e.g. too many open files); draining and exiting 3 to be restarted");
  }
  service.StartDraining();
  // Open streams may finish until the deadline.
  const auto wait_for_streams = [&service](std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (service.active_streams() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  wait_for_streams(std::chrono::milliseconds(static_cast<int64_t>(drain_seconds * 1000)));
  spdlog::info("{} streams still open; stopping", service.active_streams());
  // Each stream ends with UNAVAILABLE and its resume index once its message
  // in flight is delivered; Watch streams hear NOT_SERVING and end. Shutdown
  // with a deadline (not now) sends GOAWAY and waits, up to the grace, for
  // the calls to end and the clients to hang up: an immediate Shutdown
  // closed connections whose trailers were still queued (the client saw a
  // reset instead of the resume index). A reader that is gone or stalled is
  // cancelled at the deadline.
  service.StopStreams();
  health->Shutdown();
  server.Shutdown(std::chrono::system_clock::now() + kStopGrace);
}

}  // namespace

int RunServer(const ServerOptions& options) {
  const sigset_t signals = BlockTerminationSignals();
  SetUpLogging(options);
  if (absl::StatusOr<FdLimit> fds = RaiseFdLimitToHard(); fds.ok()) {
    spdlog::info("open files limit {} (soft was {}, hard {})", fds->soft, fds->soft_before,
                 fds->hard);
  } else {
    spdlog::warn("{}", std::string(fds.status().message()));
  }
  WatchGrpcListeners([] {
    listener_dead = true;
    kill(getpid(), SIGTERM);  // wakes DrainOnSignal's sigwait
  });
  const auto fail = [](const absl::Status& status) {
    std::fprintf(stderr, "convgen-server: %s\n", std::string(status.message()).c_str());
    return 2;
  };
  if (absl::Status status = CheckOptions(options); !status.ok()) return fail(status);
  ReturnFreedMemory();
  absl::StatusOr<std::unique_ptr<Workspace>> workspace = MakeWorkspace(options);
  if (!workspace.ok()) return fail(workspace.status());
  absl::StatusOr<MemoryBudget::Reservation> baseline = ReserveBaseline(**workspace, options);
  if (!baseline.ok()) return fail(baseline.status());

  ServiceMetrics metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!options.metrics_listen.empty()) {
    // civetweb reports a port it cannot bind by throwing.
    try {
      exposer = std::make_unique<prometheus::Exposer>(MetricsServerOptions(options.metrics_listen));
    } catch (const std::exception& e) {
      return fail(absl::FailedPreconditionError(
          absl::StrCat("cannot serve metrics on --metrics-listen ", options.metrics_listen,
                       " (in use?): ", e.what())));
    }
    exposer->RegisterCollectable(metrics.registry());
    spdlog::info("metrics on http://{}/metrics", options.metrics_listen);
  }
  ConversationServiceImpl service(workspace->get(), options.limits, &metrics);

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = MakeCredentials(options);
  if (!credentials.ok()) return fail(credentials.status());
  std::vector<int> ports;
  std::unique_ptr<ReflectionService> reflection;
  if (options.reflection) {
    reflection = std::make_unique<ReflectionService>(std::vector<std::string>{
        v1::ConversationService::service_full_name(), grpc::health::v1::Health::service_full_name(),
        grpc::reflection::v1alpha::ServerReflection::service_full_name()});
  }
  absl::StatusOr<std::unique_ptr<grpc::Server>> started =
      StartServer(options, *credentials, &service, reflection.get(), ports);
  if (!started.ok()) return fail(started.status());
  std::unique_ptr<grpc::Server> server = std::move(*started);
  if (server == nullptr) {
    std::fprintf(stderr, "convgen-server: cannot listen on the given addresses\n");
    return 2;
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  for (const char* name : {"", "liveness", "readiness", "convgen.v1.ConversationService"}) {
    health->SetServingStatus(name, true);
  }
  PrintListening(options.listen, ports);

  std::thread signal_thread(
      [&] { DrainOnSignal(signals, options.drain_seconds, service, *server); });
  server->Wait();
  signal_thread.join();
  spdlog::info("stopped");
  return listener_dead ? 3 : 0;
}

}  // namespace convgen
