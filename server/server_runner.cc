#include "server/server_runner.h"

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/files.h"
#include "core/status_macros.h"
#include "core/tls_files.h"
#include "grpcpp/ext/health_check_service_server_builder_option.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "nlohmann/json.hpp"
#include "prometheus/exposer.h"
#include "server/connection_limits.h"
#include "server/health_service.h"
#include "server/listen_address.h"
#include "server/reflection_service.h"
#include "spdlog/pattern_formatter.h"
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

// The message of a log line as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD, so that each
// line of --log-format json parses whatever was logged (a quote in a
// request's error, gRPC's own lines).
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string quoted = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(quoted.data(), quoted.data() + quoted.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

constexpr const char* kLogLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};

// --log-format and --log-level, which spdlog would not refuse (an unknown
// level turns logging off).
absl::Status CheckLogOptions(const ServerOptions& options) {
  if (options.log_format != "text" && options.log_format != "json") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-format \"", options.log_format, "\": expected text or json"));
  }
  if (std::find(std::begin(kLogLevels), std::end(kLogLevels), options.log_level) ==
      std::end(kLogLevels)) {
    return absl::InvalidArgumentError(absl::StrCat("--log-level \"", options.log_level,
                                                   "\": expected one of ",
                                                   absl::StrJoin(kLogLevels, ", ")));
  }
  return absl::OkStatus();
}

// After CheckLogOptions.
void SetUpLogging(const ServerOptions& options) {
  // Logs go to stderr; stdout carries only the "listening on" lines.
  spdlog::set_default_logger(spdlog::stderr_color_mt("convgen"));
  if (options.log_format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","message":%*})");
    spdlog::set_formatter(std::move(formatter));
  } else {
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  }
  spdlog::set_level(spdlog::level::from_str(options.log_level));
}

// The largest request gRPC accepts: an inline corpus and 1 MiB for the
// rest. A request's tokenizer_json shares it with the inline corpus (so that
// enabling it changes no memory bound an operator has set).
int64_t LargestRequestBytes(const ServerOptions& options) {
  return std::min<int64_t>(options.limits.max_inline_corpus_bytes + (1 << 20), INT32_MAX);
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
       "bytes (at least twice (--max-inline-corpus-bytes + 1 MiB))"},
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
      {"max-batch-bytes", static_cast<double>(limits.max_batch_bytes), 0, kGiB,
       "bytes from 0 (never batches) to 1 GiB"},
      {"drain-seconds", options.drain_seconds, 0, kYear, "seconds between 0 and 3.2e7"},
      {"max-request-tokenizer-bytes", static_cast<double>(options.max_request_tokenizer_bytes), 0,
       kGiB, "bytes from 0 to 1 GiB"},
      {"request-tokenizer-cache", static_cast<double>(options.request_tokenizer_cache), 1, 1000,
       "a count from 1 to 1000"},
  };
  for (const Range& range : ranges) {
    if (!(range.value >= range.min && range.value <= range.max)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", range.flag, ": expected ", range.expected));
    }
  }
  // Room for one largest request (an inline corpus and 1 MiB for the rest of
  // it) and the other connections' buffers; BoundReceivedBytes needs it.
  const int64_t largest_request = LargestRequestBytes(options);
  if (options.grpc_memory_bytes < 2 * largest_request) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--grpc-memory-bytes ", options.grpc_memory_bytes,
        ": must be at least twice (--max-inline-corpus-bytes + 1 MiB), ", 2 * largest_request));
  }
  if (!options.corpus_dir.empty()) {
    struct stat st {};
    if (stat(options.corpus_dir.c_str(), &st) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--corpus-dir ", options.corpus_dir, ": ", std::strerror(errno)));
    }
    if (!S_ISDIR(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--corpus-dir ", options.corpus_dir, ": not a directory"));
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

// The largest tokenizer file the server reads (the largest known are tens
// of MiB).
constexpr int64_t kMaxTokenizerFileBytes = int64_t{1} << 30;

// A tokenizer file the server will read: a readable regular file, checked
// before the slow loading, so that a typo fails at once. `flag` names it.
absl::Status CheckTokenizerFile(const std::string& flag, const std::string& path) {
  // stat, not open: opening a FIFO blocks until a writer comes.
  struct stat st {};
  const auto cannot = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path, ": ", why));
  };
  if (stat(path.c_str(), &st) != 0) return cannot(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) {
    return cannot(S_ISDIR(st.st_mode)    ? "is a directory, not a regular file"
                  : S_ISFIFO(st.st_mode) ? "is a FIFO, not a regular file"
                                         : "not a regular file");
  }
  if (st.st_size > kMaxTokenizerFileBytes) {
    return cannot(absl::StrCat(st.st_size, " bytes, over the 1 GiB a tokenizer file may have"));
  }
  if (access(path.c_str(), R_OK) != 0) return cannot(std::strerror(errno));
  return absl::OkStatus();
}

// The --tokenizer and --tokenizer-dir flags as (name, path): NAME=PATH as
// given, a model id resolved in the hub cache, a directory's files by name.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> TokenizerFlags(
    const ServerOptions& options) {
  std::vector<std::pair<std::string, std::string>> tokenizers;
  std::vector<std::string> flags;  // as given, for errors
  const auto add = [&](const std::string& name, const std::string& path,
                       const std::string& flag) -> absl::Status {
    CONVGEN_RETURN_IF_ERROR(CheckTokenizerFile(flag, path));
    for (size_t i = 0; i < tokenizers.size(); ++i) {
      if (tokenizers[i].first == name || name == kDefaultTokenizer) {
        return absl::InvalidArgumentError(
            absl::StrCat(name == kDefaultTokenizer ? "the embedded tokenizer" : flags[i], " and ",
                         flag, ": the same name twice"));
      }
    }
    tokenizers.emplace_back(name, path);
    flags.push_back(flag);
    return absl::OkStatus();
  };
  const HfCacheDir cache = HfHubCacheDir(options.hf_cache_environment);
  for (const std::string& flag : options.tokenizers) {
    const std::vector<std::string> parts = absl::StrSplit(flag, absl::MaxSplits('=', 1));
    if (parts.size() == 2) {
      if (parts[0].empty() || parts[1].empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--tokenizer \"", flag, "\": expected NAME=PATH or a model id"));
      }
      CONVGEN_RETURN_IF_ERROR(add(parts[0], parts[1], absl::StrCat("--tokenizer ", flag)));
      continue;
    }
    if (!LooksLikeHfModelId(flag)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tokenizer \"", flag,
                       "\": expected NAME=PATH of a tokenizer file, or a Hugging Face model id "
                       "(ORG/NAME or ORG/NAME@REVISION)"));
    }
    absl::StatusOr<std::string> path = FindInHfCache(cache.path, flag);
    if (!path.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--tokenizer ", flag, ": ",
                                                     path.status().message(), " (cache from ",
                                                     cache.source, "), or give NAME=PATH"));
    }
    CONVGEN_RETURN_IF_ERROR(add(flag, *path, absl::StrCat("--tokenizer ", flag)));
  }
  if (!options.tokenizer_dir.empty()) {
    CONVGEN_ASSIGN_OR_RETURN(auto listed, ListTokenizerDir(options.tokenizer_dir));
    if (listed.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tokenizer-dir ", options.tokenizer_dir,
          ": no tokenizers in it (expected NAME.json, NAME.tiktoken, NAME/tokenizer.json or "
          "ORG/NAME/tokenizer.json)"));
    }
    for (const auto& [name, path] : listed) {
      CONVGEN_RETURN_IF_ERROR(add(name, path, absl::StrCat("--tokenizer-dir file ", path)));
    }
  }
  return tokenizers;
}

// Every tokenizer is loaded and checked before the server listens.
absl::StatusOr<std::unique_ptr<Workspace>> MakeWorkspace(
    const ServerOptions& options, std::vector<std::pair<std::string, std::string>> tokenizers) {
  WorkspaceOptions workspace_options;
  workspace_options.data_dir = options.data_dir;
  workspace_options.corpus_dir = options.corpus_dir;
  workspace_options.memory_budget_bytes = options.max_memory_bytes;
  workspace_options.max_corpus_bytes = options.max_corpus_bytes;
  if (options.max_memory_bytes > 0) {
    workspace_options.corpus_cache_bytes = static_cast<size_t>(options.max_memory_bytes / 4);
  }
  workspace_options.tokenizers = std::move(tokenizers);
  const HfCacheDir cache = HfHubCacheDir(options.hf_cache_environment);
  workspace_options.hf_cache_dir = cache.path;
  workspace_options.hf_cache_source = cache.source;
  workspace_options.max_request_tokenizer_bytes = options.max_request_tokenizer_bytes;
  workspace_options.request_tokenizer_cache_entries =
      static_cast<int>(options.request_tokenizer_cache);
  CONVGEN_ASSIGN_OR_RETURN(std::unique_ptr<Workspace> workspace,
                           Workspace::Create(workspace_options));
  CONVGEN_RETURN_IF_ERROR(workspace->LoadAllTokenizers());
  return workspace;
}

// Whether two TCP addresses bind the same port on a shared interface (the
// same host, or either every interface); host names are not resolved.
bool SameTcpPort(const ListenAddress& a, const ListenAddress& b) {
  const auto every = [](const std::string& host) { return host == "0.0.0.0" || host == "::"; };
  return a.unix_path.empty() && b.unix_path.empty() && a.port != 0 && a.port == b.port &&
         (a.host == b.host || every(a.host) || every(b.host));
}

// Every --listen and --metrics-listen address parsed, and bindable by this
// server alone, before the slow start (see listen_address.h).
absl::Status CheckListenAddresses(const ServerOptions& options) {
  if (options.listen.empty())
    return absl::InvalidArgumentError("--listen: empty; give HOST:PORT or unix:/path");
  std::vector<ListenAddress> listen;
  for (const std::string& address : options.listen) {
    CONVGEN_ASSIGN_OR_RETURN(ListenAddress parsed,
                             ParseListenAddress("listen", address, /*allow_unix=*/true,
                                                /*allow_port_zero=*/true));
    // Each probe binds and lets go: a second --listen of the same address
    // (or the same port) would pass it and fail in gRPC.
    for (const ListenAddress& earlier : listen) {
      const bool same = earlier.unix_path.empty() ? SameTcpPort(parsed, earlier)
                                                  : parsed.unix_path == earlier.unix_path;
      if (same) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--listen ", parsed.text, ": ",
            parsed.text == earlier.text ? "given twice"
                                        : absl::StrCat("the port of --listen ", earlier.text)));
      }
    }
    CONVGEN_RETURN_IF_ERROR(ProbeListenAddress("listen on", "listen", parsed));
    listen.push_back(std::move(parsed));
  }
  if (!options.metrics_listen.empty()) {
    CONVGEN_ASSIGN_OR_RETURN(ListenAddress parsed,
                             ParseListenAddress("metrics-listen", options.metrics_listen,
                                                /*allow_unix=*/false, /*allow_port_zero=*/false));
    // civetweb as packaged (Debian's libcivetweb 1.15) is built without IPv6.
    if (absl::StrContains(parsed.host, ':')) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metrics-listen \"", parsed.text,
                       "\": no IPv6 for metrics (civetweb is built without it); use e.g. "
                       "0.0.0.0:",
                       parsed.port, " or 127.0.0.1:", parsed.port));
    }
    for (const ListenAddress& address : listen) {
      if (SameTcpPort(parsed, address)) {
        return absl::InvalidArgumentError(absl::StrCat("--metrics-listen ", parsed.text,
                                                       ": the port of --listen ", address.text));
      }
    }
    CONVGEN_RETURN_IF_ERROR(ProbeListenAddress("serve metrics on", "metrics-listen", parsed));
  }
  return absl::OkStatus();
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

// The TLS files are read and checked before the slow start.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const ServerOptions& options) {
  if (options.tls_cert.empty()) {
    if (!options.tls_key.empty() || !options.tls_client_ca.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          options.tls_key.empty() ? "--tls-client-ca" : "--tls-key", " needs --tls-cert"));
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.tls_key.empty()) return absl::InvalidArgumentError("--tls-cert needs --tls-key");
  grpc::SslServerCredentialsOptions ssl(
      options.tls_client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                    : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  CONVGEN_ASSIGN_OR_RETURN(PemFile cert,
                           ReadPemFile("--tls-cert", options.tls_cert, "CERTIFICATE"));
  CONVGEN_ASSIGN_OR_RETURN(PemFile key, ReadPemFile("--tls-key", options.tls_key, "PRIVATE KEY"));
  CONVGEN_RETURN_IF_ERROR(CheckKeyPair(cert, key));
  if (!options.tls_client_ca.empty()) {
    CONVGEN_ASSIGN_OR_RETURN(PemFile ca,
                             ReadPemFile("--tls-client-ca", options.tls_client_ca, "CERTIFICATE"));
    CONVGEN_RETURN_IF_ERROR(CheckCertificates(ca));
    ssl.pem_root_certs = std::move(ca.text);
  }
  ssl.pem_key_cert_pairs.push_back({std::move(key.text), std::move(cert.text)});
  return grpc::SslServerCredentials(ssl);
}

// Returns the started server (null if an address cannot be bound), or
// InvalidArgument for a bad limit; `ports` receives the bound TCP ports (0 for
// unix sockets). `reflection` may be null.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const ServerOptions& options, std::shared_ptr<grpc::ServerCredentials> credentials,
    const ServiceLimits& limits, ConversationServiceImpl* service, ReflectionService* reflection,
    std::vector<int>& ports) {
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
  const int max_receive_bytes = static_cast<int>(limits.server_wide.max_receive_message_bytes);
  builder.SetMaxReceiveMessageSize(max_receive_bytes);
  if (absl::Status bounded = BoundReceivedBytes(max_receive_bytes, options.grpc_memory_bytes,
                                                options.accept_compressed_requests, builder);
      !bounded.ok()) {
    return bounded;
  }
  builder.SetMaxSendMessageSize(static_cast<int>(limits.max_send_message_bytes));
  // Drivers may ping every 10 s on long, slow streams.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // A port another process listens on is an error, not a shared port
  // (gRPC sets SO_REUSEPORT by default).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Addresses were checked (CheckListenAddresses); should gRPC still fail to
  // bind, the server says so in one line rather than with gRPC's error tree.
  QuietGrpcErrors(true);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  QuietGrpcErrors(false);
  return server;
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
  if (absl::Status status = CheckLogOptions(options); !status.ok()) {
    if (options.log_format == "json") {  // the level is wrong: say so in JSON
      ServerOptions valid = options;
      valid.log_level = "info";
      SetUpLogging(valid);
      spdlog::critical("convgen-server: {}", std::string(status.message()));
    } else {
      std::fprintf(stderr, "convgen-server: %s\n", std::string(status.message()).c_str());
    }
    return 2;
  }
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
  // One line naming the flag and the reason; a JSON log line with
  // --log-format json, so that every line of stderr parses.
  const bool json_logs = options.log_format == "json";
  const auto fail = [json_logs](const absl::Status& status) {
    const std::string message(status.message());
    if (json_logs) {
      spdlog::critical("convgen-server: {}", message);
    } else {
      std::fprintf(stderr, "convgen-server: %s\n", message.c_str());
    }
    return 2;
  };
  // What can be checked at once is, before the tokenizers load (seconds).
  if (absl::Status status = CheckOptions(options); !status.ok()) return fail(status);
  if (absl::Status status = CheckListenAddresses(options); !status.ok()) return fail(status);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = MakeCredentials(options);
  if (!credentials.ok()) return fail(credentials.status());
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> tokenizers =
      TokenizerFlags(options);
  if (!tokenizers.ok()) return fail(tokenizers.status());

  ReturnFreedMemory();
  absl::StatusOr<std::unique_ptr<Workspace>> workspace =
      MakeWorkspace(options, *std::move(tokenizers));
  if (!workspace.ok()) return fail(workspace.status());
  absl::StatusOr<MemoryBudget::Reservation> baseline = ReserveBaseline(**workspace, options);
  if (!baseline.ok()) return fail(baseline.status());

  ServiceMetrics metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!options.metrics_listen.empty()) {
    // civetweb reports a port it cannot bind by throwing (the address was
    // checked, but another process may have taken it since).
    try {
      exposer = std::make_unique<prometheus::Exposer>(MetricsServerOptions(options.metrics_listen));
    } catch (const std::exception& e) {
      return fail(absl::FailedPreconditionError(
          absl::StrCat("cannot serve metrics on --metrics-listen ", options.metrics_listen,
                       ": civetweb could not start it (", e.what(), ")")));
    }
    exposer->RegisterCollectable(metrics.registry());
    spdlog::info("metrics on http://{}/metrics", options.metrics_listen);
  }
  ServiceLimits limits = options.limits;
  limits.max_send_message_bytes =
      std::min<int64_t>(limits.max_message_bytes + (1 << 16), INT32_MAX);
  ServerWideLimits& server_wide = limits.server_wide;
  server_wide.max_memory_bytes = options.max_memory_bytes;
  server_wide.max_corpus_bytes = options.max_corpus_bytes;
  server_wide.max_text_files = WorkspaceOptions().max_text_files;  // no flag sets it
  server_wide.grpc_memory_bytes = options.grpc_memory_bytes;
  server_wide.max_receive_message_bytes = LargestRequestBytes(options);
  server_wide.max_request_tokenizer_bytes = options.max_request_tokenizer_bytes;
  server_wide.request_tokenizer_cache = options.request_tokenizer_cache;
  server_wide.max_watch_streams = options.max_watch_streams;
  server_wide.accept_compressed_requests = options.accept_compressed_requests;
  server_wide.drain_seconds = options.drain_seconds;
  ConversationServiceImpl service(workspace->get(), limits, &metrics);

  std::vector<int> ports;
  std::unique_ptr<ReflectionService> reflection;
  if (options.reflection) {
    reflection = std::make_unique<ReflectionService>(std::vector<std::string>{
        v1::ConversationService::service_full_name(), grpc::health::v1::Health::service_full_name(),
        grpc::reflection::v1alpha::ServerReflection::service_full_name()});
  }
  absl::StatusOr<std::unique_ptr<grpc::Server>> started =
      StartServer(options, *credentials, limits, &service, reflection.get(), ports);
  if (!started.ok()) return fail(started.status());
  std::unique_ptr<grpc::Server> server = std::move(*started);
  if (server == nullptr) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("cannot listen on --listen ", absl::StrJoin(options.listen, ","),
                     ": gRPC could not bind it (--log-level debug shows gRPC's reason)")));
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
