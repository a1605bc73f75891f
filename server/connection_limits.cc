#include "server/connection_limits.h"

#include <sys/resource.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc/compression.h"
#include "grpc/support/log.h"
#include "grpcpp/resource_quota.h"
#include "spdlog/spdlog.h"

namespace convgen {
namespace {

// Written once before the server starts, read from gRPC threads.
std::function<void()>* listener_dead_handler = nullptr;
std::atomic<bool> listener_dead_reported{false};
std::atomic<bool> grpc_errors_quiet{false};

void LogGrpcLine(gpr_log_func_args* args) {
  const spdlog::level::level_enum level =
      args->severity == GPR_LOG_SEVERITY_ERROR && !grpc_errors_quiet ? spdlog::level::err
      : args->severity == GPR_LOG_SEVERITY_INFO                      ? spdlog::level::info
                                                                     : spdlog::level::debug;
  spdlog::log(level, "grpc {}:{} {}", args->file, args->line, args->message);
  // The only line gRPC 1.51 writes when on_read() gives up on a listener
  // (tcp_server_posix.cc; it is silent only once the server is shutting down).
  if (absl::StartsWith(args->message, "Failed accept4") &&
      absl::StrContains(args->file, "tcp_server_posix") && !listener_dead_reported.exchange(true) &&
      listener_dead_handler != nullptr) {
    (*listener_dead_handler)();
  }
}

// More workers than a handful of idle sockets (each holds one until it sends a
// request or times out), and a request timeout a scraper never comes near (it
// sends its request at once; the reply is a few KB): with more idle sockets
// than threads, /metrics waits about one timeout per kMetricsThreads of them.
constexpr int kMetricsThreads = 32;
constexpr int kMetricsRequestTimeoutMs = 1000;

}  // namespace

absl::Status BoundReceivedBytes(int64_t max_receive_bytes, int64_t memory_bytes,
                                bool accept_compressed, grpc::ServerBuilder& builder) {
  // Room for one largest message and the other connections' buffers.
  if (memory_bytes < 2 * max_receive_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--grpc-memory-bytes ", memory_bytes, ": must be at least twice the largest request (",
        2 * max_receive_bytes, " with this --max-inline-corpus-bytes)"));
  }
  // Kept for the life of the process: the server refers to it.
  static auto* quota = new grpc::ResourceQuota("convgen-server");
  quota->Resize(static_cast<size_t>(memory_bytes));
  builder.SetResourceQuota(*quota);
  if (!accept_compressed) {
    builder.AddChannelArgument(GRPC_COMPRESSION_CHANNEL_ENABLED_ALGORITHMS_BITSET,
                               1 << GRPC_COMPRESS_NONE);
  }
  return absl::OkStatus();
}

std::vector<std::string> MetricsServerOptions(const std::string& listen) {
  return {"listening_ports", listen, "num_threads", std::to_string(kMetricsThreads),
          "request_timeout_ms", std::to_string(kMetricsRequestTimeoutMs),
          // A kept-alive connection would hold its worker between scrapes.
          "enable_keep_alive", "no"};
}

absl::StatusOr<FdLimit> RaiseFdLimitToHard() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("getrlimit(RLIMIT_NOFILE): ", std::strerror(errno)));
  }
  FdLimit result{limit.rlim_cur, limit.rlim_cur, limit.rlim_max};
  if (limit.rlim_cur == limit.rlim_max) return result;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(
        absl::StrCat("setrlimit(RLIMIT_NOFILE, ", limit.rlim_max, "): ", std::strerror(errno)));
  }
  result.soft = limit.rlim_max;
  return result;
}

void QuietGrpcErrors(bool quiet) { grpc_errors_quiet = quiet; }

void WatchGrpcListeners(std::function<void()> on_listener_dead) {
  listener_dead_handler = new std::function<void()>(std::move(on_listener_dead));
  gpr_set_log_function(LogGrpcLine);
}

}  // namespace convgen
