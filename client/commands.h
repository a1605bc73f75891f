// The convgen CLI's commands, over the generated gRPC stub. main.cc only
// parses flags into CommandOptions and calls RunCommand.
#ifndef CONVGEN_CLIENT_COMMANDS_H_
#define CONVGEN_CLIENT_COMMANDS_H_

#include <cstdint>
#include <string>

#include "client/command_options.h"
#include "grpcpp/support/status.h"

namespace convgen {

// The most text the client sends inline (its text_files together): the
// server's default --max-inline-corpus-bytes.
inline constexpr int64_t kMaxInlineTextBytes = int64_t{64} << 20;
// The most a config file (--input-file) may hold: configs are small, and the
// server refuses a request over 65 MiB with gRPC's own message.
inline constexpr int64_t kMaxConfigBytes = int64_t{16} << 20;

// What a failed call's status suggests the user do.
struct ConnectionHint {
  std::string text;  // empty: no hint
  // The call never reached a convgen server (nothing listening, an HTTP
  // server, a TLS mismatch): nothing was generated, so there is no resume
  // index to print.
  bool connect_failure = false;
  // The server did not find the config's shape_source file: a config error
  // (exit 2), fixed in the config or its directory like a malformed one.
  bool config_error = false;
};

// The hint for `status` of a call made with options `o`.
ConnectionHint HintFor(const grpc::Status& status, const CommandOptions& o);

// Runs options.command, which CheckOptions accepted. Exit status: 0 success,
// 2 usage or config error, 1 server error.
int RunCommand(const CommandOptions& options);

}  // namespace convgen

#endif  // CONVGEN_CLIENT_COMMANDS_H_
