// Keeping the gRPC listeners alive under a connection flood: the process's
// file-descriptor limit, and a watch that notices when gRPC 1.51 has stopped
// accepting for good.
//
// gRPC 1.51's tcp_server_posix.cc stops re-arming a listener after any
// accept4() error other than EINTR/EAGAIN (EMFILE included) and only logs
// "Failed accept4"; the port stays bound, so clients connect into the backlog
// and wait forever. 1.51 has no channel argument that caps incoming
// connections (GRPC_ARG_MAX_ALLOWED_INCOMING_CONNECTIONS came later), so the
// server raises its fd limit and, should a listener still die, says so and
// exits non-zero for its supervisor to restart it.
#ifndef CONVGEN_SERVER_CONNECTION_LIMITS_H_
#define CONVGEN_SERVER_CONNECTION_LIMITS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/server_builder.h"

namespace convgen {

struct FdLimit {
  uint64_t soft_before = 0;
  uint64_t soft = 0;  // after raising
  uint64_t hard = 0;
};

// Raises RLIMIT_NOFILE's soft limit to its hard limit.
absl::StatusOr<FdLimit> RaiseFdLimitToHard();

// Routes gRPC's own log lines (gpr_log) to spdlog and calls `on_listener_dead`
// once, from the gRPC thread that logged it, when a listener has stopped
// accepting. `on_listener_dead` must return at once and must not call into
// gRPC (it runs under the listener's lock). Call once, before the server
// starts; the hook stays for the life of the process.
void WatchGrpcListeners(std::function<void()> on_listener_dead);

// While quiet, gRPC's error lines are logged at debug level: around
// BuildAndStart, whose failure to bind logs a resolver's error tree of ~1 KB
// that the server replaces with one line of its own.
void QuietGrpcErrors(bool quiet);

// What gRPC may hold of received bytes, set on `builder` before it starts.
// gRPC 1.51 buffers a whole message before comparing its size with the
// maximum (a 1,000 MiB request took +930 MB), so a memory quota shared by all
// connections bounds the total instead: past it, gRPC resets the streams
// (RESOURCE_EXHAUSTED, "RST_STREAM with error code 11"). gRPC 1.51 also
// inflates a compressed message without any bound before checking its size
// (1 MB of gzip becomes 1 GiB, in memory the quota does not count), so unless
// `accept_compressed` the server accepts only uncompressed requests (a
// compressed one ends UNIMPLEMENTED before it is inflated).
// InvalidArgument, naming the flag, when `memory_bytes` cannot hold one
// message of `max_receive_bytes`.
absl::Status BoundReceivedBytes(int64_t max_receive_bytes, int64_t memory_bytes,
                                bool accept_compressed, grpc::ServerBuilder& builder);

// civetweb options for prometheus::Exposer on `listen` (host:port). Its
// defaults (2 threads, a 30 s wait for a request) let two idle sockets block
// /metrics for 30 s: a worker per socket, held until the request arrives.
std::vector<std::string> MetricsServerOptions(const std::string& listen);

}  // namespace convgen

#endif  // CONVGEN_SERVER_CONNECTION_LIMITS_H_
