// The server's listen addresses (--listen, --metrics-listen), parsed and
// checked before gRPC or civetweb see them: both accept what they cannot use
// (gRPC takes "50051" as a host name and dumps its resolver's error tree;
// port 99999 becomes 34463) and report a port in use by logging internals or
// throwing. Each error here names the flag, the address and the reason in one
// line. Stateless; thread-safe.
#ifndef CONVGEN_SERVER_LISTEN_ADDRESS_H_
#define CONVGEN_SERVER_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convgen {

struct ListenAddress {
  std::string text;       // as given
  std::string unix_path;  // set for unix:/path, else empty
  std::string host;       // without brackets ("::" for "[::]:1"); empty for unix
  int port = 0;           // 0 for unix, or "pick a free port" for TCP
};

// Parses `address` given to `--flag`: HOST:PORT ([V6]:PORT for IPv6) with a
// port from 0 (any free port, only when `allow_port_zero`) to 65535, or, when
// `allow_unix`, unix:/path. InvalidArgument naming the flag, the address and
// the rule otherwise.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view flag, absl::string_view address,
                                                 bool allow_unix, bool allow_port_zero);

// Checks that `address` can be bound by this process alone, the way gRPC and
// civetweb bind it (SO_REUSEADDR, never SO_REUSEPORT), by binding it and
// letting it go: FailedPrecondition "cannot `purpose` --flag ADDRESS: address
// in use (...)" (or the OS's reason, or an unknown host) otherwise; purpose is
// e.g. "listen on" or "serve metrics on". For a
// unix socket: its directory must be writable, the path must be free (bound
// and removed again) or a socket no process is accepting on (gRPC would
// unlink the socket file and take the path over), not a directory or another
// file. A relative path is kept (from the working directory). Port 0 is
// not probed. Another process may still take the port before the server
// binds it; gRPC's own bind (without SO_REUSEPORT) then fails.
absl::Status ProbeListenAddress(absl::string_view purpose, absl::string_view flag,
                                const ListenAddress& address);

}  // namespace convgen

#endif  // CONVGEN_SERVER_LISTEN_ADDRESS_H_
